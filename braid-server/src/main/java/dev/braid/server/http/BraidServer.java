package dev.braid.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.Braid;
import dev.braid.view.EngineOptions;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.Faults;
import dev.braid.Status;
import dev.braid.UnavailableException;
import dev.braid.UnknownNameException;
import dev.braid.ViewResult;
import dev.braid.log.LogWriteException;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Braid behind HTTP: the embedded engine ({@link Braid}) served with Javalin on one port, with JSON
 * bodies, RFC 9457 problems for every error, Prometheus metrics and a health check.
 *
 * <p>Start-up binds the port first and opens the engine in the background (the log replay into the
 * speed layer can take a while); until it is open, every {@code /v1} request gets {@code 503} and
 * {@code /health} says {@code starting}. A second server on the same data directory is refused
 * before it binds anything ({@link DataDirLock}).
 *
 * <p>Shutdown ({@link #close}) stops accepting requests, lets in-flight ones finish (Jetty's
 * graceful stop), then closes the engine, which flushes the log.
 */
public final class BraidServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(BraidServer.class);
  private static final String JSON = "application/json";
  private static final String PROBLEM = "application/problem+json";

  /** Server settings. */
  /**
   * How the server runs.
   *
   * @param checkpointEvery how often every view's Delta is checkpointed (see
   *     {@link EngineOptions#withCheckpointEvery}); {@link java.time.Duration#ZERO} only on shutdown
   */
  /**
   * @param selectors Jetty selector threads. Point reads are answered on the selector thread that
   *     read the request, so these are the threads that serve reads; 0 means one per CPU, at most
   *     {@value #MAX_DEFAULT_SELECTORS}. Jetty's own default is one per two CPUs, so a single
   *     selector thread on a 2-CPU machine. That thread then runs at about 60 % of a core at 28 k
   *     reads/s, and each millisecond it loses to another thread queues every connection behind it
   *     (docs/PERFORMANCE.md, "Two selector threads").
   * @param stopTimeout how long a stop waits for requests in flight to finish before it closes their
   *     connections and goes on to close the engine (30 s by default)
   */
  public record Config(String bind, int port, long maxBodyBytes, long batchWaitMillis,
      java.time.Duration checkpointEvery, int selectors, java.time.Duration stopTimeout) {

    /** The most selector threads the default ({@code selectors} 0) takes. */
    public static final int MAX_DEFAULT_SELECTORS = 4;

    public Config {
      if (maxBodyBytes < 1) {
        throw new IllegalArgumentException("maxBodyBytes must be at least 1, got " + maxBodyBytes);
      }
      if (selectors < 0) {
        throw new IllegalArgumentException("selectors must be 0 (one per CPU) or more, got " + selectors);
      }
      java.util.Objects.requireNonNull(stopTimeout, "stopTimeout");
    }

    public static Config defaults() {
      return new Config("127.0.0.1", 8080, 16L << 20, 60_000, EngineOptions.DEFAULT_CHECKPOINT_EVERY, 0, STOP_TIMEOUT);
    }

    public Config withPort(int p) {
      return new Config(bind, p, maxBodyBytes, batchWaitMillis, checkpointEvery, selectors, stopTimeout);
    }

    public Config withBind(String b) {
      return new Config(b, port, maxBodyBytes, batchWaitMillis, checkpointEvery, selectors, stopTimeout);
    }

    public Config withMaxBodyBytes(long m) {
      return new Config(bind, port, m, batchWaitMillis, checkpointEvery, selectors, stopTimeout);
    }

    public Config withBatchWaitMillis(long w) {
      return new Config(bind, port, maxBodyBytes, w, checkpointEvery, selectors, stopTimeout);
    }

    public Config withCheckpointEvery(java.time.Duration every) {
      return new Config(bind, port, maxBodyBytes, batchWaitMillis, every, selectors, stopTimeout);
    }

    public Config withSelectors(int n) {
      return new Config(bind, port, maxBodyBytes, batchWaitMillis, checkpointEvery, n, stopTimeout);
    }

    /** How long a stop waits for requests in flight before it closes their connections and the engine. */
    public Config withStopTimeout(java.time.Duration t) {
      return new Config(bind, port, maxBodyBytes, batchWaitMillis, checkpointEvery, selectors, t);
    }

    /** The selector threads to run: {@link #selectors}, or one per CPU up to {@value #MAX_DEFAULT_SELECTORS}. */
    public int selectorThreads() {
      return selectors > 0 ? selectors
          : Math.max(1, Math.min(MAX_DEFAULT_SELECTORS, Runtime.getRuntime().availableProcessors()));
    }
  }

  private final Config config;
  private final PipelineSpec spec;
  private final Path dataDir;
  private final DataDirLock lock;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Open changes streams get a keep-alive comment every 15 s (see {@link ChangesHandler}); tests set less. */
  final ChangesHandler changes = new ChangesHandler(Long.getLong("braid.changes.keepAliveMillis", 15_000));
  /** How long a stop waits for the requests in flight to finish. */
  static final java.time.Duration STOP_TIMEOUT = java.time.Duration.ofSeconds(30);
  private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final ExecutorService background = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "braid-server-background");
    t.setDaemon(true);
    return t;
  });
  private final long startedAt = System.currentTimeMillis();
  private final PointReadHandler pointReads = new PointReadHandler(() -> this.braid, metrics);
  /** The {@code keys:batchGet} latency timers by view, registered once. */
  private final java.util.concurrent.ConcurrentHashMap<String, Timer> batchReadTimers =
      new java.util.concurrent.ConcurrentHashMap<>();
  private volatile Braid braid;
  private volatile Throwable startFailure;
  private Javalin app;

  private BraidServer(PipelineSpec spec, Path dataDir, Config config, DataDirLock lock) {
    this.spec = spec;
    this.dataDir = dataDir;
    this.config = config;
    this.lock = lock;
  }

  /**
   * Locks the data directory, binds the port and opens the engine in the background. Throws
   * {@link IllegalStateException} when the directory is in use by another server.
   */
  public static BraidServer start(PipelineSpec spec, Path dataDir, Config config) throws IOException {
    return start(spec, dataDir, config, null);
  }

  /** As {@link #start}, but opens the engine only once {@code hold} is counted down (tests of start-up). */
  static BraidServer start(PipelineSpec spec, Path dataDir, Config config, java.util.concurrent.CountDownLatch hold)
      throws IOException {
    boolean fresh = !java.nio.file.Files.exists(dataDir);
    DataDirLock lock = DataDirLock.acquire(dataDir);
    BraidServer s = new BraidServer(spec, dataDir, config, lock);
    try {
      s.app = s.createApp().start(config.bind(), config.port());
    } catch (RuntimeException e) {
      s.changes.closeAll(); // its keep-alive thread
      lock.close();
      if (fresh) { // the lock made the directory: a start that never began leaves nothing behind
        java.nio.file.Files.deleteIfExists(dataDir.resolve("server.lock"));
        java.nio.file.Files.deleteIfExists(dataDir);
      }
      throw e;
    }
    s.background.submit(() -> {
      if (hold != null) {
        try {
          hold.await();
        } catch (InterruptedException e) {
          return;
        }
      }
      s.openEngine();
    });
    return s;
  }

  /** Waits until the engine is open; throws what made opening fail. */
  public BraidServer awaitReady(long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    while (braid == null) {
      if (startFailure != null) {
        throw new IllegalStateException("Braid could not start: " + startFailure.getMessage(), startFailure);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("Braid did not start within " + unit.toSeconds(timeout) + " s");
      }
      Thread.sleep(5);
    }
    return this;
  }

  public int port() {
    return app.port();
  }

  public String url() {
    return httpUrl(config.bind(), port());
  }

  /** The URL of {@code host} and {@code port}, an IPv6 address in brackets ({@code http://[::1]:8080}). */
  static String httpUrl(String host, int port) {
    return "http://" + (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
  }

  /** The engine, or null while starting. */
  public Braid braid() {
    return braid;
  }

  private void openEngine() {
    try {
      long t0 = System.nanoTime();
      Braid b = Braid.open(dataDir, spec, EngineOptions.defaults().withCheckpointEvery(config.checkpointEvery()));
      registerGauges(b);
      braid = b;
      LOG.info("Braid is ready on {} ({}, {}{}, data in {}, opened in {} ms)", url(),
          counted(spec.streams().size(), "stream"), counted(spec.views().size(), "view"),
          spec.tables().isEmpty() ? "" : ", " + counted(spec.tables().size(), "table"),
          dataDir.toAbsolutePath().normalize(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    } catch (Throwable e) {
      startFailure = e;
      LOG.error("Braid could not open data directory {}: {}", dataDir, e.getMessage());
    }
  }

  /** The status the gauges of the scrape in progress read (see {@link #scrapeStatus}). */
  private volatile Status scrapeStatus;

  /** Whether ingest into {@code stream} deduplicates by the events' own ids (the stream names an {@code id} field). */
  private boolean hasIdField(String stream) {
    dev.braid.spec.StreamSpec s = spec.streams().get(stream);
    return s != null && s.id() != null;
  }

  /** The counter of appends to {@code stream} refused by a storage fault of {@code kind}. */
  private Counter appendFailures(String stream, LogWriteException.Kind kind) {
    return Counter.builder("braid_log_append_failures_total").description("appends refused by a storage fault")
        .tag("stream", stream).tag("kind", kind.name().toLowerCase(Locale.ROOT).replace('_', '-')).register(metrics);
  }

  /** The JVM's garbage collections, for /metrics; closed with the server (it listens to the JVM's notifications). */
  private volatile io.micrometer.core.instrument.binder.jvm.JvmGcMetrics gcMetrics;

  /**
   * The process's and the JVM's own series, which an operator alerts on beside Braid's: heap and
   * other memory pools, garbage collections and their pauses, threads, classes, CPU, uptime and the
   * process's start time ({@code jvm_*}, {@code process_*}, {@code system_*}).
   */
  private synchronized void registerJvmMetrics() {
    if (closed.get()) {
      return; // closed while the engine opened: the GC binder's listeners would never be removed
    }
    new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(metrics);
    gcMetrics = new io.micrometer.core.instrument.binder.jvm.JvmGcMetrics();
    gcMetrics.bindTo(metrics);
    new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(metrics);
    new io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics().bindTo(metrics);
    new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(metrics);
    new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(metrics);
  }

  private void registerGauges(Braid b) {
    registerJvmMetrics();
    for (String stream : spec.streams().keySet()) { // at 0 from the start, so that rate() sees the first fault
      for (LogWriteException.Kind kind : LogWriteException.Kind.values()) {
        appendFailures(stream, kind);
      }
    }
    for (String view : spec.views().keySet()) {
      Gauge.builder("braid_view_lag_events", b, x -> lag(x, view)).tag("view", view)
          .description("events in the log that the view's speed layer has not folded yet").register(metrics);
      Gauge.builder("braid_view_skipped_events", b, x -> viewStatus(x, view).skippedEvents()).tag("view", view)
          .description("events up to the current version's position that it left out because an expression or "
              + "an aggregation failed on them").register(metrics);
      Gauge.builder("braid_view_events_without_key", b, x -> viewStatus(x, view).eventsWithoutKey()).tag("view", view)
          .description("events up to the current version's position that it left out for having no group_by value")
          .register(metrics);
      Gauge.builder("braid_view_unavailable", b, x -> x.faults().unavailable().containsKey(view) ? 1 : 0)
          .tag("view", view).description("1 while the view's reads are refused (a damaged Base, a stopped speed "
              + "layer: see /health), else 0").register(metrics);
      io.micrometer.core.instrument.FunctionCounter.builder("braid_view_checkpoint_failures", b,
              x -> viewStatus(x, view).checkpoints().failures()).tag("view", view)
          .description("checkpoints of the view that could not be written since the server started")
          .register(metrics);
      Gauge.builder("braid_view_checkpoint_age_seconds", b, x -> {
            long at = viewStatus(x, view).checkpoints().currentAtMillis();
            return at == 0 ? Double.NaN : Math.max(0, System.currentTimeMillis() - at) / 1000.0;
          }).tag("view", view)
          .description("seconds since the current version's newest checkpoint last held its Delta as it is (written, "
              + "or found unchanged by a later checkpoint): about what a crash now would replay; NaN while the "
              + "current version has none (after a swap, until its first; see braid_view_checkpoint_failures)")
          .register(metrics);
      Gauge.builder("braid_batch_last_success_timestamp_seconds", b, x -> {
            long at = viewStatus(x, view).lastBatchAtMillis();
            return at == 0 ? Double.NaN : at / 1000.0;
          }).tag("view", view)
          .description("epoch seconds when the view's last batch cycle that succeeded ended, before a restart too "
              + "(when none is recorded: when the current version was created); NaN while the current version has no "
              + "Base: a kappa view's, or a lambda view's before its first good cycle (see braid_batch_failures)")
          .register(metrics);
      // Every batch cycle, scheduled or asked for over HTTP, as counted by the engine.
      FunctionTimer.builder("braid_batch_duration", b, x -> viewStatus(x, view).batchCycles(),
              x -> viewStatus(x, view).batchSeconds(), TimeUnit.SECONDS)
          .tag("view", view).description("batch cycles that built a version, and their duration").register(metrics);
      io.micrometer.core.instrument.FunctionCounter.builder("braid_batch_failures", b,
              x -> viewStatus(x, view).batchFailures()).tag("view", view)
          .description("batch cycles that failed since the server started (the versions list says why)")
          .register(metrics);
      if (spec.views().get(view).window() != null) {
        Gauge.builder("braid_view_late_events", b, x -> {
              dev.braid.Status.Lateness l = viewStatus(x, view).lateness();
              return l == null ? 0 : l.lateEvents();
            }).tag("view", view)
            .description("events the serving definition's speed layer has ever left out for arriving after their "
                + "window closed plus allowed_lateness, as recorded in the stream's late log; a count of that record, "
                + "which does not go down when a lambda view's batch cycle folds them into its Base")
            .register(metrics);
        io.micrometer.core.instrument.FunctionCounter.builder("braid_view_evicted_windows", b, x -> {
              dev.braid.Status.Retention r = viewStatus(x, view).retention();
              return r == null ? 0 : r.evictedWindows();
            }).tag("view", view)
            .description("(key, window) groups that retain evicted since the server started").register(metrics);
      }
    }
    for (String stream : spec.streams().keySet()) {
      Gauge.builder("braid_stream_events", b, x -> events(x, stream)).tag("stream", stream)
          .description("events held in the stream's log").register(metrics);
      Gauge.builder("braid_stream_recovered_partitions", b, x -> recoveredPartitions(x, stream)).tag("stream", stream)
          .description("partitions whose torn or damaged tail opening the log cut, of the stream and of the logs "
              + "kept beside it (dead letters, late events, its views' changes; see /v1/status)").register(metrics);
      for (String outcome : List.of("accepted", "duplicate", "rejected")) {
        ingestCounter(stream, outcome); // at 0 from the start, so a rate over a restart has both ends
      }
    }
  }

  /**
   * Starts a reprocess with the spec's definition of every view whose spec file definition differs
   * from the version serving it ({@code braid server --reprocess-changed}); returns the started
   * version per view. Call once the engine is ready.
   */
  public java.util.Map<String, Long> reprocessChangedViews() {
    Braid b = ready();
    java.util.Map<String, Long> started = new java.util.LinkedHashMap<>();
    for (dev.braid.Status.ViewStatus v : b.status().views()) {
      if (v.specDiffers()) {
        try {
          started.put(v.name(), b.reprocess(v.name(), spec.view(v.name()), dev.braid.ReprocessOptions.defaults()));
        } catch (IllegalStateException e) { // a reprocess or rollback that the restart resumed is building
          String file = spec.view(v.name()).definition();
          dev.braid.VersionInfo building = b.versions(v.name()).stream()
              .filter(x -> x.state() == dev.braid.VersionState.BUILDING).findFirst().orElse(null);
          if (building != null && building.definition().equals(file)) {
            LOG.info("view '{}': not reprocessed: version {}, which is building (a reprocess or a rollback), has the "
                + "spec file's definition already; the view serves it once it is current", v.name(), building.id());
          } else {
            LOG.warn("view '{}': not reprocessed with the spec file's definition, because {}; once that version is "
                + "current, run `braid reprocess {} --spec <file>` or restart with --reprocess-changed", v.name(),
                e.getMessage(), v.name());
          }
        }
      }
    }
    return started;
  }

  /**
   * The status that the gauges of one scrape read: built by the first gauge of a scrape (the
   * {@code /metrics} route clears it first), not once per gauge, which for N views would build the
   * status of every view about 5N times.
   */
  private Status scrapeStatus(Braid b) {
    Status s = scrapeStatus;
    if (s == null) {
      s = b.status();
      scrapeStatus = s;
    }
    return s;
  }

  private Status.ViewStatus viewStatus(Braid b, String view) {
    return scrapeStatus(b).views().stream().filter(v -> v.name().equals(view)).findFirst().orElseThrow();
  }

  private double lag(Braid b, String view) {
    return viewStatus(b, view).lag();
  }

  private double events(Braid b, String stream) {
    return scrapeStatus(b).streams().stream().filter(s -> s.name().equals(stream)).mapToLong(s -> s.events())
        .findFirst().orElse(0);
  }

  private double recoveredPartitions(Braid b, String stream) {
    return scrapeStatus(b).streams().stream().filter(s -> s.name().equals(stream)).mapToInt(s -> s.recovered().size())
        .findFirst().orElse(0);
  }

  // ---------------------------------------------------------------------------------------------
  // Routes
  // ---------------------------------------------------------------------------------------------

  private Javalin createApp() {
    return Javalin.create(cfg -> {
      cfg.http.maxRequestSize = config.maxBodyBytes() + 1; // BraidServer enforces the limit itself
      cfg.http.prefer405over404 = true; // a known path with another method: 405, not "no endpoint"
      cfg.startup.showJavalinBanner = false;
      // point reads skip the servlet layer; Javalin puts its servlet context inside this wrapper
      cfg.jetty.modifyServer(server -> {
        // Stopping lets requests in flight finish (up to STOP_TIMEOUT) before the connections close:
        // a batch cycle or an ingest that completes during the stop still gets its answer.
        GracefulHandler graceful = new GracefulHandler();
        graceful.setHandler(pointReads);
        server.setHandler(graceful);
        server.setStopTimeout(config.stopTimeout().toMillis());
        server.setErrorHandler(new ProblemErrorHandler(metrics)); // errors raised before the routes: problem+json too
      });
      // Javalin adds its default connector only when none was added; this one differs from it in
      // its selector threads (see Config#selectors).
      cfg.jetty.addConnector((server, http) -> {
        ServerConnector c = new ServerConnector(server, -1, config.selectorThreads(), new HttpConnectionFactory(http));
        c.setHost(config.bind());
        c.setPort(config.port());
        return c;
      });
      cfg.requestLogger.http((ctx, ms) -> countResponse(ctx));
      cfg.routes.before(BraidServer::refuseMalformedQuery);
      cfg.routes.before(BraidServer::refuseSlashAfterKey);
      getAndHead(cfg.routes, "/health", this::health);
      getAndHead(cfg.routes, "/metrics", ctx -> {
        scrapeStatus = null; // a scrape reads the status as it is now, once for all its gauges
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
      });
      // each route names the query parameters it takes: any other is a 400 naming it (a typo such as
      // ?hodl=true must not start a reprocess that is not held); /health and /metrics take any
      getAndHead(cfg.routes, "/v1/streams/{stream}", params(this::describeStream));
      cfg.routes.post("/v1/streams/{stream}/events", params(this::ingest));
      getAndHead(cfg.routes, "/v1/streams/{stream}/dead-letters", params(this::deadLetters, "from", "limit"));
      getAndHead(cfg.routes, "/v1/streams/{stream}/late", params(this::lateEvents, "from", "limit"));
      getAndHead(cfg.routes, "/v1/views/{view}/keys/{key}", params(this::getKey, "from", "to"));
      cfg.routes.post("/v1/views/{view}/keys:batchGet", params(this::batchGet, "from", "to"));
      getAndHead(cfg.routes, "/v1/views/{view}/versions", params(this::versions));
      getAndHead(cfg.routes, "/v1/views/{view}/changes", params(ctx -> changes.handle(ctx, ready()), "key", "from",
          "limit"));
      cfg.routes.post("/v1/views/{view}/batch", params(this::batch, "wait"));
      cfg.routes.post("/v1/views/{view}/reprocess", params(this::reprocess, "hold", "from"));
      cfg.routes.post("/v1/views/{view}/versions/{id}/activate", params(this::activate));
      cfg.routes.delete("/v1/views/{view}/versions/{id}", params(this::discard));
      getAndHead(cfg.routes, "/v1/views/{view}", params(this::describeView));
      cfg.routes.delete("/v1/views/{view}", params(this::dropView));
      cfg.routes.delete("/v1/tables/{table}", params(this::dropTable));
      getAndHead(cfg.routes, "/v1/status", params(this::status));
      cfg.routes.post("/v1/views/{view}/repair", params(this::repair, "wait"));
      new TableRoutes(spec, this::ready, this::readBody, closed::get).register(cfg.routes);
      cfg.routes.exception(Problem.class, (e, ctx) -> problem(ctx, e));
      cfg.routes.exception(LogWriteException.class, (e, ctx) -> problem(ctx, storageProblem(e,
          ctx.header(IDEMPOTENCY_KEY) != null || hasIdField(e.stream()))));
      cfg.routes.exception(UnavailableException.class, (e, ctx) -> problem(ctx, unavailable(e)));
      cfg.routes.exception(dev.braid.IdempotencyConflictException.class, (e, ctx) -> problem(ctx,
          new Problem(422, "idempotency-key-reused", "Idempotency key reused", e.getMessage())));
      cfg.routes.exception(UnknownNameException.class,
          (e, ctx) -> problem(ctx, Problem.notFound("unknown-" + e.kind(), e.getMessage() + otherKindHint(e, ctx))));
      cfg.routes.exception(dev.braid.log.CorruptLogException.class, (e, ctx) -> {
        LOG.error("{} {} failed: {}", ctx.method(), ctx.path(), e.getMessage());
        problem(ctx, new Problem(500, "damaged-file", "Damaged data file", ctx.method() + " " + ctx.path()
            + " could not read a file of the data directory: " + e.getMessage() + "; restore " + e.file()
            + " from a backup (what is already served keeps serving)"));
      });
      cfg.routes.exception(Exception.class, (e, ctx) -> {
        LOG.error("{} {} failed", ctx.method(), ctx.path(), e);
        String what = e.getMessage() != null && !e.getMessage().isBlank() ? e.getMessage()
            : e.getClass().getSimpleName();
        problem(ctx, new Problem(500, "internal", "Internal error", ctx.method() + " " + ctx.path()
            + " failed inside the server: " + what + "; the server log has the details"));
      });
      cfg.routes.error(404, this::notFoundRoute);
      // Javalin finds the methods the path takes and throws them in this exception's details
      cfg.routes.exception(io.javalin.http.MethodNotAllowedResponse.class, (e, ctx) -> {
        String allowed = e.getDetails().values().stream().findFirst().orElse("");
        if (!allowed.isBlank()) {
          ctx.header("Allow", allowed);
        }
        ctx.status(405);
      });
      cfg.routes.error(405, ctx -> {
        String allowed = ctx.res().getHeader("Allow");
        problem(ctx, new Problem(405, "method-not-allowed", "Method not allowed", ctx.method() + " is not allowed on "
            + ctx.path() + (allowed == null || allowed.isBlank() ? "" : "; it takes " + allowed)));
      });
    });
  }

  /**
   * Refuses a query string with a percent-escape that is not {@code %} and two hex digits. The
   * servlet layer drops such a parameter silently, so {@code ?from=%zz} would read every window and
   * {@code ?wait=%zz} wait for the default: a parameter that was sent must be read or refused.
   */
  static void refuseMalformedQuery(Context ctx) {
    String q = ctx.queryString();
    if (q == null) {
      return;
    }
    for (int i = q.indexOf('%'); i >= 0; i = q.indexOf('%', i + 1)) {
      if (i + 2 >= q.length() || Character.digit(q.charAt(i + 1), 16) < 0 || Character.digit(q.charAt(i + 2), 16) < 0) {
        int start = q.lastIndexOf('&', i) + 1;
        int end = q.indexOf('&', i);
        throw Problem.badRequest("bad-query", String.format("the query parameter '%s' has a malformed percent-escape: "
            + "%% must be followed by two hex digits (send a literal %% as %%25)", q.substring(start,
            end < 0 ? q.length() : end)));
      }
    }
  }

  /** A view's key or a table's row key in a path, with what follows it (a '/' on). */
  private static final java.util.regex.Pattern KEY_PATH =
      java.util.regex.Pattern.compile("/v1/(views/[^/]+/keys|tables/[^/]+/rows)/([^/]+)(/.*)");

  /**
   * Refuses a key path with a '/' after a key ({@code /keys/u1/}, {@code /rows/a/b}): the router
   * ignores a trailing '/', so {@code u1/} was read, and written, as {@code u1}; a key that holds a
   * '/' is sent percent-encoded.
   */
  static void refuseSlashAfterKey(Context ctx) {
    java.util.regex.Matcher m = KEY_PATH.matcher(ctx.path());
    if (m.matches()) {
      String raw = m.group(2) + m.group(3);
      throw Problem.badRequest("slash-in-key-path", "the path has a '/' after the key '" + decoded(m.group(2))
          + "': a key holding '/' is sent percent-encoded, as " + raw.replace("/", "%2F") + " for the key '"
          + decoded(raw) + "'; nothing was read or written");
    }
  }

  /** A path segment's percent-escapes decoded ({@code +} stays), or the text as it came when one is malformed. */
  private static String decoded(String segment) {
    try {
      return java.net.URLDecoder.decode(segment.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return segment;
    }
  }

  /**
   * Counts a response that Javalin sent in {@code braid_http_responses_total}, by the route template
   * that took the request ("unmatched" when none did: an unknown path or a method the path lacks).
   */
  private void countResponse(Context ctx) {
    io.javalin.router.Endpoint e = ctx.endpoints().matchedHttpEndpoint();
    PointReadHandler.responses(metrics, ctx.method().name(), e == null ? "unmatched" : e.path, ctx.statusCode())
        .increment();
  }

  private void notFoundRoute(Context ctx) {
    if (ctx.attribute("braid.problem") != null) {
      return; // a handler already answered 404 with a problem
    }
    // A path cannot carry an empty key (GET /v1/views/v/keys/): say how to read one instead.
    String hint = ctx.path().matches("/v1/views/[^/]+/keys/|/v1/tables/[^/]+/rows/") ? "; the key is empty, which a path "
        + "cannot carry: read it with POST " + ctx.path().substring(0, ctx.path().length() - 1) + ":batchGet and "
        + "{\"keys\": [\"\"]}" : "; see the HTTP API in README.md";
    problem(ctx, Problem.notFound("no-route", "no endpoint at " + ctx.method() + " " + ctx.path() + hint));
  }

  // ---------------------------------------------------------------------------------------------
  // Storage faults and damaged files
  // ---------------------------------------------------------------------------------------------

  /** Seconds a client is asked to wait before retrying an ingest refused by a storage fault. */
  static final int STORAGE_RETRY_AFTER_SECONDS = 5;

  /**
   * A failed append as a problem: {@code 507 Insufficient Storage} for a full disk, {@code 503}
   * with {@code Retry-After} for an unwritable data directory or an I/O error; the detail names the
   * stream, partition, file and the operating system's reason. Counted in
   * {@code braid_log_append_failures_total}.
   */
  private Problem storageProblem(LogWriteException e, boolean dedups) {
    String kind = e.kind().name().toLowerCase(Locale.ROOT).replace('_', '-');
    appendFailures(e.stream(), e.kind()).increment();
    int in = e.appended();
    LOG.warn("ingest refused: {}{}", e.getMessage(), in == 0 ? "" : String.format(" (%,d %s of the request in the "
        + "stream all the same)", in, in == 1 ? "event is" : "events are"));
    // Each partition is appended on its own: the partitions before the failing one have their events, and the failing
    // one too when only its fsync failed (its records were written and published): LogWriteException.appended.
    String detail = e.getMessage() + (in == 0
        ? "; nothing of this request was appended; retry once the fault is fixed"
        : String.format("; %,d of this request's events are in the stream all the same (the views count them): "
            + "appended to partitions before the failing one, or written to it before an fsync that failed (those "
            + "may not survive a power loss)", in) + (dedups
            ? "; retry once the fault is fixed: a retry with the same Idempotency-Key (or the events' ids) skips them"
            : "; sending the whole request again appends them twice: send requests with an Idempotency-Key, whose "
                + "retry skips what is in the stream"))
        + " (reads keep working)";
    if (e.kind() == LogWriteException.Kind.STORAGE_FULL || e.kind() == LogWriteException.Kind.FILE_SIZE_LIMIT) {
      return insufficientStorage(e.kind(), detail);
    }
    return new Problem(503, "storage-" + kind, "Service unavailable", detail)
        .withHeader("Retry-After", Integer.toString(STORAGE_RETRY_AFTER_SECONDS));
  }

  private static Problem unavailable(UnavailableException e) {
    return new Problem(503, e.kind() + "-unavailable", "Service unavailable", e.getMessage());
  }

  /**
   * {@code POST /v1/views/{view}/repair}: rebuilds a view whose Base is damaged from the log (see
   * {@link Braid#repair}); answers like a batch cycle, 409 when there is nothing to repair.
   */
  private void repair(Context ctx) throws InterruptedException {
    Braid b = ready();
    String view = ctx.pathParam("view");
    long wait = cycleWaitMillis(ctx); // a malformed request is a 400 before anything is looked at or recorded
    List<dev.braid.VersionInfo> versions = b.versions(view); // 404 for an unknown view, 503 for a refused stream
    if (!b.faults().unavailable().containsKey(view)) { // refused now, not after a 202 of ?wait=0
      long serving = versions.stream().filter(v -> v.state() == dev.braid.VersionState.CURRENT)
          .mapToLong(dev.braid.VersionInfo::id).findFirst().orElse(-1);
      throw refusedCycle(view, "repair",
          new Problem(409, "nothing-to-repair", "Conflict", dev.braid.Faults.notDamaged(view, serving)));
    }
    runCycle(ctx, b, wait, view, "repair", () -> new dev.braid.BatchCycle(b.repair(view), true));
  }

  private void problem(Context ctx, Problem p) {
    ctx.attribute("braid.problem", Boolean.TRUE);
    p.headers().forEach(ctx::header);
    ctx.status(p.status()).contentType(PROBLEM).result(write(Json.problem(p, ctx.path())));
  }

  static byte[] write(JsonNode node) {
    try {
      return Json.MAPPER.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static void ok(Context ctx, JsonNode body) {
    ctx.status(200).contentType(JSON).result(write(body));
  }

  private Braid ready() {
    Braid b = braid;
    if (b == null) {
      if (startFailure != null) {
        throw new Problem(503, "failed", "Service unavailable", "Braid could not open its data directory: "
            + startFailure.getMessage());
      }
      throw new Problem(503, "starting", "Service unavailable",
          "Braid is starting (opening the log, rebuilding the dedup indexes of streams with ids, loading "
              + "checkpoints and replaying the log after them; the server log says each step); retry in a moment")
          .withHeader("Retry-After", "1");
    }
    return b;
  }

  private void health(Context ctx) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    Braid b = braid;
    if (b != null) {
      Faults f = b.faults();
      // reads keep working while ingest fails or a view is refused: degraded, not down
      o.put("status", f.none() ? "ok" : "degraded");
      putFaults(o, f);
      ok(ctx, o);
    } else {
      o.put("status", startFailure == null ? "starting" : "failed");
      if (startFailure != null) {
        o.put("detail", startFailure.getMessage());
      } else {
        ctx.header("Retry-After", "1"); // as every other route answers while starting
      }
      ctx.status(503).contentType(JSON).result(write(o));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Ingest
  // ---------------------------------------------------------------------------------------------

  /** The request header that makes an ingest request idempotent. */
  public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
  /** Test-only: halt the process after an ingest's append, before its answer is written. */
  private static final boolean HALT_AFTER_APPEND = Boolean.getBoolean("braid.test.haltAfterAppend");
  /** The exit status of that halt. */
  public static final int HALT_STATUS = 86;

  private void ingest(Context ctx) throws IOException {
    Braid b = ready();
    String stream = ctx.pathParam("stream");
    if (!spec.streams().containsKey(stream)) {
      throw new UnknownNameException("stream", stream, spec.streams().keySet());
    }
    String type = mediaType(ctx);
    boolean ndjson = type.equals("application/x-ndjson") || type.equals("application/jsonl")
        || type.equals("application/ndjson");
    if (!ndjson && !type.equals(JSON)) {
      throw new Problem(415, "unsupported-media-type", "Unsupported media type", "send events as "
          + "application/json (an array of objects) or application/x-ndjson (one object per line), not '"
          + (type.isEmpty() ? "(no Content-Type)" : type) + "'");
    }
    String idempotencyKey = idempotencyKey(ctx);
    if (idempotencyKey != null) {
      String bad = dev.braid.ingest.Ingestor.checkIdempotencyKey(idempotencyKey);
      if (bad != null) {
        throw Problem.badRequest("bad-idempotency-key", "header " + IDEMPOTENCY_KEY + " " + bad
            + " (use 1 to " + dev.braid.ingest.Ingestor.MAX_IDEMPOTENCY_KEY_LENGTH
            + " printable ASCII characters); nothing was ingested");
      }
    }
    byte[] body = readBody(ctx);
    String text = decodeUtf8(body);
    IngestResult result;
    int[] lines = null;
    if (ndjson) {
      List<String> events = new ArrayList<>();
      List<Integer> lineNumbers = new ArrayList<>();
      int line = 1;
      int start = 0;
      while (start <= text.length()) {
        int i = text.indexOf('\n', start); // a vectorized scan: a loop of charAt was 13 % of a request
        if (i < 0) {
          i = text.length();
        }
        // only the end is stripped (a \r of CRLF, trailing blanks): leading blanks stay, so that a
        // syntax error's column is the column in the line as sent
        String l = text.substring(start, i).stripTrailing();
        if (!l.isEmpty()) {
          events.add(l);
          lineNumbers.add(line);
        }
        line++;
        start = i + 1;
      }
      if (events.isEmpty()) { // as for an empty JSON body: a client that sends nothing has a bug to hear of
        throw Problem.badRequest("empty-body", "the body " + (text.isEmpty() ? "is empty" : "holds only blank lines")
            + ": send one JSON event object per line");
      }
      lines = lineNumbers.stream().mapToInt(Integer::intValue).toArray();
      result = b.ingestText(stream, events, lines, idempotencyKey);
    } else {
      JsonNode root = Json.parseEvents(body, "; nothing was ingested");
      List<JsonNode> events = new ArrayList<>();
      if (root == null || root.isMissingNode()) {
        throw Problem.badRequest("empty-body", "the body is empty: send a JSON array of events");
      } else if (root.isArray()) {
        if (root.isEmpty()) { // as for an NDJSON body of blank lines
          throw Problem.badRequest("empty-body", "the body is an empty JSON array: send at least one event");
        }
        root.forEach(events::add);
      } else if (root.isObject()) {
        events.add(root);
      } else {
        throw Problem.badRequest("malformed-json", "the body must be a JSON array of event objects (or one object), "
            + "not " + root.getNodeType().name().toLowerCase(Locale.ROOT));
      }
      result = b.ingestJson(stream, events, idempotencyKey);
    }
    if (HALT_AFTER_APPEND) {
      // test hook (IdempotentIngestCrashTest): die between the append and the answer, like a crash
      Runtime.getRuntime().halt(HALT_STATUS);
    }
    countIngest(stream, result);
    ok(ctx, Json.ingest(result, lines));
  }

  /**
   * Ingests {@code events} (JSON text, one event each) into {@code stream} from inside the server's
   * process (the demo's generator), counted in {@code braid_ingest_events_total} as the ingest
   * endpoint counts its events.
   */
  public dev.braid.IngestResult ingestText(String stream, List<String> events) {
    dev.braid.IngestResult result = ready().ingestText(stream, events, null);
    countIngest(stream, result);
    return result;
  }

  private void countIngest(String stream, dev.braid.IngestResult result) {
    ingestCounter(stream, "accepted").increment(result.accepted() - result.duplicates());
    ingestCounter(stream, "duplicate").increment(result.duplicates());
    // a retry's rejections were counted, and dead-lettered, with its first request
    ingestCounter(stream, "rejected").increment(result.rejections().size() - result.rejectedBefore());
  }

  /**
   * The count of {@code stream}'s ingested events of one outcome: {@code accepted} (appended by the
   * request), {@code duplicate} (acknowledged with the position of an earlier append of the same
   * id, so not appended again) or {@code rejected}.
   */
  private Counter ingestCounter(String stream, String outcome) {
    return Counter.builder("braid_ingest_events_total").tag("stream", stream).tag("outcome", outcome)
        .description("events sent to the stream's ingest endpoint (or by the demo's generator), by outcome: "
            + "accepted (appended), duplicate "
            + "(an id already appended, acknowledged again), rejected (answered with a reason; dead-lettered when "
            + "first sent, so a retry of the same request counts its rejections again)")
        .register(metrics);
  }

  /**
   * The request's media type, lower case and without parameters ({@code ""} when there is no
   * {@code Content-Type}). Bodies are read as UTF-8 only, so a {@code charset} parameter naming
   * another encoding is a 415 naming it: read as UTF-8, Latin-1 text would fail as "not valid UTF-8"
   * or, worse, be stored misread.
   */
  /**
   * The request's {@value #IDEMPOTENCY_KEY}, or null; given twice with two values it is a 400: which
   * key names the request is a guess, and a wrong one appends a retry twice or refuses it.
   */
  static String idempotencyKey(Context ctx) {
    return oneHeader(ctx, IDEMPOTENCY_KEY, "conflicting-idempotency-key", "nothing was ingested");
  }

  /**
   * Header {@code name} of the request, or null; given twice with two values it is a 400 of problem
   * type {@code type}, whose detail ends with {@code consequence}: which one the client meant is a
   * guess.
   */
  static String oneHeader(Context ctx, String name, String type, String consequence) {
    java.util.Enumeration<String> given = ctx.req().getHeaders(name);
    String value = given != null && given.hasMoreElements() ? given.nextElement() : null;
    while (value != null && given.hasMoreElements()) {
      String other = given.nextElement();
      if (!other.equals(value)) {
        throw Problem.badRequest(type, name + " is given twice, as " + UnknownNameException.quoted(value) + " and "
            + UnknownNameException.quoted(other) + ": send it once; " + consequence);
      }
    }
    return value;
  }

  static String mediaType(Context ctx) {
    java.util.Enumeration<String> given = ctx.req().getHeaders("Content-Type");
    String ct = given != null && given.hasMoreElements() ? given.nextElement() : null;
    if (ct == null) {
      return "";
    }
    while (given.hasMoreElements()) { // a body has one type: which of two was meant is a guess
      String other = given.nextElement();
      if (!other.strip().equalsIgnoreCase(ct.strip())) {
        throw Problem.badRequest("conflicting-content-type", "Content-Type is given twice, as '" + ct + "' and '"
            + other + "': send it once; nothing was read");
      }
    }
    String[] parts = ct.split(";");
    for (int i = 1; i < parts.length; i++) {
      int eq = parts[i].indexOf('=');
      if (eq > 0 && parts[i].substring(0, eq).strip().equalsIgnoreCase("charset")) {
        String charset = parts[i].substring(eq + 1).strip();
        if (charset.length() >= 2 && charset.startsWith("\"") && charset.endsWith("\"")) {
          charset = charset.substring(1, charset.length() - 1);
        }
        if (!UTF8_NAMES.contains(charset.toLowerCase(Locale.ROOT))) {
          throw new Problem(415, "unsupported-charset", "Unsupported charset", "charset '" + charset
              + "' is not supported: send the body as UTF-8 (charset=utf-8, or no charset); nothing was read");
        }
      }
    }
    return parts.length == 0 ? "" : parts[0].strip().toLowerCase(Locale.ROOT);
  }

  /** The charsets a body is read in: UTF-8, and US-ASCII, which is a part of it. */
  private static final java.util.Set<String> UTF8_NAMES = java.util.Set.of("utf-8", "utf8", "us-ascii", "ascii");

  private byte[] readBody(Context ctx) throws IOException {
    refuseContentEncoding(ctx);
    mediaType(ctx); // a charset other than UTF-8 is a 415, also on routes that take any media type
    long max = config.maxBodyBytes();
    String declared = ctx.header("Content-Length");
    if (declared != null) {
      long length;
      try {
        length = Long.parseLong(declared.strip());
      } catch (NumberFormatException e) {
        throw Problem.badRequest("bad-content-length", "Content-Length is not a number: " + declared);
      }
      if (length > max) {
        drain(ctx, length);
        throw tooLarge(max);
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[64 << 10];
    try (InputStream in = ctx.req().getInputStream()) {
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
        if (out.size() > max) {
          drain(ctx, 4 * max);
          throw tooLarge(max);
        }
      }
    } catch (IOException e) { // Jetty says only "Early EOF", or times out a body that stalls
      throw closed.get() ? stopping("the server began to stop while the request body was arriving (" + out.size()
          + " bytes read)") : bodyNotRead(e, out.size(), declared);
    }
    return out.toByteArray();
  }

  /** How long a client waits before it sends a request that a stopping server refused again. */
  static final int STOPPING_RETRY_AFTER_SECONDS = 5;

  /**
   * A 503 for a request that a stopping server could not finish ({@code what}): nothing of it was
   * used, and a restarted server takes it.
   */
  static Problem stopping(String what) {
    return new Problem(503, "stopping", "Service unavailable", what + "; nothing of it was used: send it again "
        + "once the server is up (a restart replays the log first)")
        .withHeader("Retry-After", Integer.toString(STOPPING_RETRY_AFTER_SECONDS));
  }

  /**
   * A 400 for a body that ended before its {@code Content-Length} or its last chunk (the client
   * closed its side, or sent a malformed chunk), or a 408 for one that stalled past the server's
   * idle timeout; nothing of it was used.
   */
  static Problem bodyNotRead(IOException e, long read, String declared) {
    String of = declared == null ? "" : " of the " + declared.strip() + " its Content-Length declares";
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.util.concurrent.TimeoutException) {
        return new Problem(408, "body-timeout", "Request Timeout", String.format("the request body stalled after %,d "
            + "bytes%s: no more came within the server's idle timeout; nothing of it was used, send it again", read, of));
      }
    }
    return Problem.badRequest("body-cut-off", String.format("the request body ended after %,d bytes%s (%s): the "
        + "client closed its side early, or a chunk of a chunked body is malformed; nothing of it was used, send it "
        + "again", read, of, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
  }

  /**
   * Reads and discards a refused body when it is not much over the limit, so the client, which is
   * usually still sending, reads the 413 instead of a reset connection. Far larger bodies are cut off.
   */
  private void drain(Context ctx, long length) {
    if (length > 4 * config.maxBodyBytes()) {
      return;
    }
    byte[] buf = new byte[64 << 10];
    try (InputStream in = ctx.req().getInputStream()) {
      long left = length;
      int n;
      while (left > 0 && (n = in.read(buf)) > 0) {
        left -= n;
      }
    } catch (IOException e) {
      LOG.debug("could not drain a refused body", e);
    }
  }

  /**
   * A 415 for a body sent compressed ({@code Content-Encoding} other than {@code identity}): the
   * server reads bodies as they are, and compressed bytes would otherwise be refused as "not valid
   * UTF-8", which names the wrong problem.
   */
  static void refuseContentEncoding(Context ctx) {
    String encoding = ctx.header("Content-Encoding");
    if (encoding != null && !encoding.isBlank() && !encoding.strip().equalsIgnoreCase("identity")) {
      throw new Problem(415, "unsupported-content-encoding", "Unsupported content encoding", "Content-Encoding '"
          + encoding.strip() + "' is not supported: send the body uncompressed; nothing was read");
    }
  }

  private static Problem tooLarge(long max) {
    return new Problem(413, "body-too-large", "Content too large", String.format("the body is over the limit of %d "
        + "bytes; split it into smaller requests (the limit is the server's --max-body)", max));
  }

  /** The body as UTF-8 text, without a leading byte-order mark; invalid UTF-8 is a 400 naming the first bad byte. */
  private static String decodeUtf8(byte[] body) {
    return decodeUtf8(body, "nothing was ingested");
  }

  /** {@code body} as UTF-8 text; a 400 saying where it is not, then {@code unused} (what was not done). */
  private static String decodeUtf8(byte[] body, String unused) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(body);
    try {
      CharBuffer chars = d.decode(in);
      if (chars.length() > 0 && chars.charAt(0) == '\uFEFF') {
        chars.position(1); // a byte-order mark, as some editors and spreadsheets write: not part of the first event
      }
      return chars.toString();
    } catch (CharacterCodingException e) {
      throw Problem.badRequest("invalid-utf8", "the body is not valid UTF-8 (first bad byte at offset " + in.position()
          + "); " + unused);
    }
  }

  /** The stream's schema, so clients can type values (e.g. CSV cells) before they send them. */
  private void describeStream(Context ctx) {
    String name = ctx.pathParam("stream");
    dev.braid.spec.StreamSpec s = spec.stream(name);
    if (s == null) {
      throw new UnknownNameException("stream", name, spec.streams().keySet());
    }
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("name", s.name());
    o.put("partitions", s.partitions());
    o.put("key", s.key());
    o.put("time", s.time() == null ? "ingest" : s.time());
    o.put("durability", s.durability().toString());
    ObjectNode fields = o.putObject("fields");
    s.fields().forEach((f, t) -> fields.put(f, t.specName()));
    ArrayNode rules = o.putArray("rules");
    s.rules().forEach(rules::add);
    if (s.id() != null) {
      o.put("id", s.id());
    }
    o.put("dedupWindow", dev.braid.spec.Durations.format(s.dedupWindow()));
    ok(ctx, o);
  }

  /**
   * {@code GET /v1/views/{view}}: the definition the view's current version computes (as under
   * {@code views:} in a spec), its current version, and whether the spec file defines it otherwise.
   */
  private void describeView(Context ctx) {
    Braid b = ready();
    String name = ctx.pathParam("view");
    dev.braid.spec.ViewSpec serving = b.servingDefinition(name); // 404 for an unknown (or retired) view
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("name", name);
    try {
      o.set("definition", Json.MAPPER.readTree(dev.braid.spec.PipelineSpec.viewDocument(serving)));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e); // a document Braid wrote
    }
    Status.ViewStatus vs = b.status().views().stream().filter(v -> v.name().equals(name)).findFirst().orElse(null);
    if (vs != null) {
      o.put("currentVersion", vs.currentVersion());
      o.put("specChanged", vs.specChanged());
    }
    ok(ctx, o);
  }

  /** A page of a stream's dead letters or late events: an unknown stream stays a 404, a {@code from} past the end is a 400. */
  private static <T> List<T> page(java.util.function.Supplier<List<T>> read) {
    try {
      return read.get();
    } catch (UnknownNameException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-from", e.getMessage());
    }
  }

  private void deadLetters(Context ctx) {
    Braid b = ready();
    String stream = ctx.pathParam("stream");
    long from = offsetParam(ctx, "from");
    int limit = limitParam(ctx);
    List<DeadLetter> letters = page(() -> b.deadLetters(stream, from, limit));
    long next = letters.isEmpty() ? from : letters.get(letters.size() - 1).offset() + 1;
    ok(ctx, Json.deadLetters(stream, letters, next));
  }

  private void lateEvents(Context ctx) {
    Braid b = ready();
    String stream = ctx.pathParam("stream");
    long from = offsetParam(ctx, "from");
    int limit = limitParam(ctx);
    List<dev.braid.LateEvent> events = page(() -> b.lateEvents(stream, from, limit));
    long next = events.isEmpty() ? from : events.get(events.size() - 1).offset() + 1;
    ok(ctx, Json.lateEvents(stream, events, next));
  }

  // ---------------------------------------------------------------------------------------------
  // Reads, versions, batch, status
  // ---------------------------------------------------------------------------------------------

  private void getKey(Context ctx) {
    Braid b = ready();
    String view = ctx.pathParam("view");
    String key = ctx.pathParam("key");
    long from = timeParam(ctx, "from", Long.MIN_VALUE);
    long to = timeParam(ctx, "to", Long.MAX_VALUE);
    refuseReversed(view, ctx.queryParam("from"), ctx.queryParam("to"), from, to);
    long t0 = System.nanoTime();
    ViewResult r;
    try {
      r = from == Long.MIN_VALUE && to == Long.MAX_VALUE ? b.get(view, key) : b.get(view, key, from, to);
    } catch (UnknownNameException e) {
      throw e;
    } catch (dev.braid.BadKeyException e) {
      throw Problem.badRequest("bad-key", e.getMessage() + "; nothing was read");
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-parameter", e.getMessage()); // a time range on a view without windows
    }
    if (ctx.method() == io.javalin.http.HandlerType.GET) { // the timer is of GET reads, as its description says
      pointReads.timer(view).record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    }
    ctx.status(200).contentType(JSON).result(Json.resultBytes(r));
  }

  private void batchGet(Context ctx) throws IOException {
    Braid b = ready();
    String view = ctx.pathParam("view");
    if (!mediaType(ctx).equals(JSON)) {
      throw new Problem(415, "unsupported-media-type", "Unsupported media type",
          "send {\"keys\": [...]} as application/json");
    }
    JsonNode root = Json.parse(readBody(ctx), "");
    // before the keys: a misspelt "kyes" is named, not answered as keys missing
    for (java.util.Iterator<String> names = root == null ? java.util.Collections.emptyIterator() : root.fieldNames();
        names.hasNext(); ) {
      String name = names.next();
      if (!name.equals("keys") && !name.equals("from") && !name.equals("to")) {
        throw Problem.badRequest("unknown-field", "unknown field '" + name + "' in the body; a batchGet takes "
            + "{\"keys\": [...]} and, for a windowed view, \"from\" and \"to\" (epoch millis or ISO-8601)");
      }
    }
    List<String> list = keys(root);
    long from = rangeBound(ctx, root, "from", Long.MIN_VALUE);
    long to = rangeBound(ctx, root, "to", Long.MAX_VALUE);
    refuseReversed(view, rangeText(ctx, root, "from"), rangeText(ctx, root, "to"), from, to);
    List<ViewResult> got;
    long t0 = System.nanoTime();
    try {
      got = b.getAll(view, list, from, to);
    } catch (UnknownNameException e) {
      throw e;
    } catch (dev.braid.BadKeyException e) {
      throw Problem.badRequest("bad-key", e.getMessage() + "; nothing was read");
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-parameter", e.getMessage()); // a range on a view without windows, or reversed
    }
    batchReadTimers.computeIfAbsent(view, v -> pointReads.readTimer("braid_batch_read_latency", v,
        "keys:batchGet reads of the view (POST /v1/views/{view}/keys:batchGet): all keys of one request, "
            + "timed in the server")).record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    ObjectNode o = Json.MAPPER.createObjectNode();
    ArrayNode results = o.putArray("results");
    for (ViewResult r : got) {
      results.add(Json.result(r));
    }
    ok(ctx, o);
  }

  /**
   * A batchGet's bound {@code name}: the body's field of that name (epoch millis or an ISO-8601
   * string) or the query parameter, not both; {@code def} when neither is given.
   */
  private static long rangeBound(Context ctx, JsonNode body, String name, long def) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return timeParam(ctx, name, def);
    }
    if (ctx.queryParam(name) != null) {
      throw Problem.badRequest("bad-parameter", "'" + name + "' is both in the body and a query parameter; give it once");
    }
    if (v.isIntegralNumber() && v.canConvertToLong()) {
      return v.longValue();
    }
    if (v.isTextual()) {
      return time("field '" + name + "' of the body", v.asText(), def);
    }
    throw Problem.badRequest("bad-parameter", "field '" + name + "' of the body must be epoch millis or ISO-8601 "
        + "like 2026-11-22T10:00:00Z, got " + v);
  }

  /** A batchGet's bound {@code name} as given, in the body or as a query parameter; null when left out. */
  private static String rangeText(Context ctx, JsonNode body, String name) {
    JsonNode v = body.get(name);
    return v == null || v.isNull() ? ctx.queryParam(name) : v.asText();
  }

  /** The keys of a batchGet body {@code {"keys": [...]}}, at most 10000, strings or numbers. */
  static List<String> keys(JsonNode root) {
    JsonNode keys = root == null ? null : root.get("keys");
    if (keys == null || !keys.isArray()) {
      throw Problem.badRequest("missing-keys", "the body must be {\"keys\": [\"k1\", \"k2\", ...]}");
    }
    if (keys.size() > 10_000) {
      throw Problem.badRequest("too-many-keys", "at most 10000 keys per batchGet, got " + keys.size());
    }
    List<String> list = new ArrayList<>();
    for (JsonNode k : keys) {
      if (!k.isTextual() && !k.isIntegralNumber()) {
        String at = "keys[" + list.size() + "]";
        throw Problem.badRequest("bad-key", k.isNumber() ? at + " is a number with a fraction or an exponent (read as "
            + k + "), whose text JSON does not keep: send it as a string" : at + " must be a string or a whole number, "
            + "got " + (k.toString().length() > 100 ? k.toString().substring(0, 100) + "..." : k));
      }
      list.add(k.asText());
    }
    return list;
  }

  private void versions(Context ctx) {
    Braid b = ready();
    String view = ctx.pathParam("view");
    ObjectNode o = Json.versions(view, b.versions(view));
    ViewSpec v = spec.views().get(view);
    if (v != null) { // kappa: no version has a Base; each counts from its replay start (its cut)
      o.put("mode", v.mode().name().toLowerCase(Locale.ROOT));
    }
    ObjectNode batch = batchState(b, view);
    if (batch != null) {
      o.set("batch", batch);
    }
    ok(ctx, o);
  }

  /**
   * The last batch cycle (or repair) of a view asked for over HTTP, kept until the next one: a
   * cycle has no version in the catalog until it has built one, and one that fails before that
   * leaves none, so without this a client sent to the versions list by a {@code 202} could not tell
   * "still running" from "failed". Its fields are written once by the cycle's thread.
   */
  private static final class Cycle {
    final String what;
    final long startedAt = System.currentTimeMillis();
    volatile long finishedAt;
    volatile long built = -1;
    /**
     * Whether the cycle built no version: no events came since the current version's cut (that
     * version may have been built by another request's cycle, which this one waited for).
     */
    volatile boolean unchanged;
    volatile String failure;
    /** Whether {@link #failure} is a refusal (a repair of a view that is not damaged), not a failure. */
    volatile boolean refused;

    Cycle(String what) {
      this.what = what;
    }
  }

  /** The last cycle asked for over HTTP, by view. */
  private final java.util.concurrent.ConcurrentHashMap<String, Cycle> cycles =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * The view's batch cycle for the versions list: {@code running} with its progress while one runs
   * (asked for or scheduled), else the last one asked for over HTTP as {@code done} with the
   * version it built or {@code failed} with the reason; null when there is nothing to tell.
   */
  private ObjectNode batchState(Braid b, String view) {
    Cycle c = cycles.get(view);
    Status.ViewStatus vs = b.status().views().stream().filter(x -> x.name().equals(view)).findFirst().orElse(null);
    boolean scheduled = vs != null && vs.batchRunning();
    boolean asked = c != null && c.finishedAt == 0;
    if (c == null && !scheduled) {
      return null;
    }
    ObjectNode o = Json.MAPPER.createObjectNode();
    if (asked || scheduled) {
      o.put("state", "running");
      if (asked) {
        o.put("what", c.what);
        o.put("startedAt", Json.instant(c.startedAt));
      }
      if (scheduled) {
        o.put("eventsRead", vs.batchEventsRead());
        o.put("eventsTotal", vs.batchEventsTotal());
      }
      return o;
    }
    o.put("state", c.refused ? "refused" : c.failure != null ? "failed" : "done");
    o.put("what", c.what);
    o.put("startedAt", Json.instant(c.startedAt));
    o.put("finishedAt", Json.instant(c.finishedAt));
    if (c.failure != null) {
      o.put(c.refused ? "reason" : "failure", c.failure);
    } else {
      o.put("built", c.built);
      if (c.unchanged) {
        o.put("unchanged", true); // no events since the cut: the version it names was current already
      }
    }
    return o;
  }

  private void batch(Context ctx) throws InterruptedException {
    Braid b = ready();
    String view = ctx.pathParam("view");
    long wait = cycleWaitMillis(ctx);
    b.versions(view); // 404 for an unknown view before starting anything
    if (b.servingDefinition(view).mode() == dev.braid.spec.ViewSpec.Mode.KAPPA) { // refused now, not after a 202
      throw refusedCycle(view, "batch cycle", Problem.badRequest("batch-not-possible",
          dev.braid.Faults.noBatchLayer(view)));
    }
    runCycle(ctx, b, wait, view, "batch cycle", () -> b.runBatchCycle(view));
  }

  /**
   * Records a batch cycle or repair refused before it started as the view's last cycle asked for
   * (the versions' {@code batch} field: {@code refused}, with the reason: nothing ran), as one
   * refused in the background is; returns the problem to answer. A cycle asked for that still runs
   * keeps its record: a client that follows its {@code 202} learns how it ended.
   */
  private Problem refusedCycle(String view, String what, Problem p) {
    Cycle state = new Cycle(what);
    state.refused = true;
    state.failure = p.detail();
    state.finishedAt = System.currentTimeMillis();
    cycles.compute(view, (v, last) -> last != null && last.finishedAt == 0 ? last : state);
    return p;
  }

  /** The longest {@code ?wait=} of a batch cycle or repair: a day. */
  public static final long MAX_WAIT_SECONDS = 86_400;

  /** A batch cycle's or repair's {@code ?wait=}, in milliseconds. */
  private long cycleWaitMillis(Context ctx) {
    long waitSeconds = longParam(ctx, "wait", config.batchWaitMillis() / 1000);
    if (waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
      throw Problem.badRequest("bad-parameter", "query parameter 'wait' must be 0 to " + MAX_WAIT_SECONDS
          + " seconds (0 answers 202 at once), got " + waitSeconds);
    }
    return waitSeconds * 1000;
  }

  /**
   * Runs a batch cycle (or a repair, which is one) in the background and answers with the view's
   * versions once it is done, or {@code 202} if it outlasts {@code wait} milliseconds.
   */
  private void runCycle(Context ctx, Braid b, long wait, String view, String what,
      java.util.concurrent.Callable<dev.braid.BatchCycle> run)
      throws InterruptedException {
    Cycle state = new Cycle(what);
    cycles.put(view, state);
    Future<dev.braid.BatchCycle> cycle = background.submit(() -> {
      try {
        dev.braid.BatchCycle done = run.call();
        state.unchanged = !done.built(); // no events since the cut: it answers with the current version's id
        state.built = done.version();
        return done;
      } catch (Exception e) {
        Problem p = cycleProblem(view, what, e);
        state.refused = p.status() == 409; // nothing to repair: the repair did not run, nothing failed
        state.failure = p.detail();
        if (!state.refused) { // the request may have been answered 202 long ago: said in the log too
          if (closed.get()) {
            LOG.info("the {} of view '{}' asked for over HTTP stopped with the server: {}", what, view, p.detail());
          } else {
            LOG.warn("the {} of view '{}' asked for over HTTP failed: {}", what, view, p.detail());
          }
        }
        throw e;
      } finally {
        state.finishedAt = System.currentTimeMillis();
      }
    });
    try {
      long id = cycle.get(wait, TimeUnit.MILLISECONDS).version();
      ObjectNode o = Json.versions(view, b.versions(view));
      o.put("built", id);
      ObjectNode batch = batchState(b, view); // its startedAt and finishedAt: how long it took
      if (batch != null) {
        o.set("batch", batch);
      }
      if (state.unchanged) {
        o.put("unchanged", true);
        o.put("detail", "no events since version " + id + "'s cut: it stays current, and this request built no new "
            + "version");
      }
      ok(ctx, o);
    } catch (TimeoutException e) {
      ObjectNode o = Json.MAPPER.createObjectNode();
      o.put("view", view);
      o.put("status", "running");
      o.put("detail", "the " + what + " is still running; follow it at the Location URL: its \"batch\" field says "
          + "running (with events read of total), done (with the version built), failed or refused (with the reason)");
      ctx.status(202).header("Location", "/v1/views/" + view + "/versions").contentType(JSON).result(write(o));
    } catch (ExecutionException e) {
      throw cycleProblem(view, what, e.getCause());
    }
  }

  /**
   * {@code 507} for a failure whose cause is a full disk ({@link LogWriteException.Kind#STORAGE_FULL})
   * or a file at the process's file size limit ({@link LogWriteException.Kind#FILE_SIZE_LIMIT}), with
   * {@code detail}; null for any other failure.
   */
  static Problem storageFull(Throwable c, String detail) {
    for (Throwable t = c; t != null; t = t.getCause()) {
      LogWriteException.Kind kind = t instanceof IOException io ? LogWriteException.classify(io) : null;
      if (kind == LogWriteException.Kind.STORAGE_FULL || kind == LogWriteException.Kind.FILE_SIZE_LIMIT) {
        return insufficientStorage(kind, detail);
      }
    }
    return null;
  }

  /** The {@code 507} of a full disk, or of a file at the file size limit (its own type: free space does not help). */
  private static Problem insufficientStorage(LogWriteException.Kind kind, String detail) {
    return kind == LogWriteException.Kind.FILE_SIZE_LIMIT
        ? new Problem(507, "file-size-limit", "File size limit reached", detail.contains(
            dev.braid.log.LogException.FILE_SIZE_LIMIT_ADVICE) ? detail : detail + " ("
            + dev.braid.log.LogException.FILE_SIZE_LIMIT_ADVICE + ")")
        : new Problem(507, "insufficient-storage", "Insufficient storage", detail);
  }

  /** Why a batch cycle (or repair) of {@code view} failed, as the problem its request answers. */
  private static Problem cycleProblem(String view, String what, Throwable c) {
    if (c instanceof IllegalArgumentException) {
      return Problem.badRequest("batch-not-possible", c.getMessage());
    }
    if (c instanceof IllegalStateException && what.equals("repair")) {
      return new Problem(409, "nothing-to-repair", "Conflict", c.getMessage());
    }
    if (c instanceof UnavailableException u) {
      return unavailable(u);
    }
    String own = "view '" + view + "': "; // said once
    String message = c.getMessage() != null && c.getMessage().startsWith(own) ? c.getMessage().substring(own.length())
        : c.getMessage();
    String detail = "the " + what + " of view '" + view + "' failed: " + message + "; the current version is unchanged";
    Problem full = storageFull(c, detail);
    if (full != null) {
      return full;
    }
    for (Throwable t = c; t != null; t = t.getCause()) {
      if (t instanceof dev.braid.log.CorruptLogException d) {
        return new Problem(500, "damaged-file", "Damaged data file", "the " + what + " of view '" + view
            + "' failed: " + d.getMessage() + "; restore " + d.file() + " from a backup, then run it again; the "
            + "current version is unchanged and serves");
      }
    }
    return new Problem(500, "batch-failed", "Batch cycle failed", detail);
  }

  /**
   * Starts a reprocess with the definition in the body (the view as under {@code views:}, or a
   * whole spec, in JSON or YAML); answers 202 with the new version's id at once.
   */
  /** {@code ?from=start} (the default), {@code end} (the log's end now) or a cut such as {@code [120,98]}. */
  private static dev.braid.log.Cut replayFrom(Context ctx, Braid b, String view) {
    String from = ctx.queryParam("from");
    if (from == null || from.isBlank() || from.strip().equals("start")) {
      return null;
    }
    if (from.strip().equals("end")) {
      return b.log().stream(b.spec().views().get(view).from()).end();
    }
    try {
      return dev.braid.log.Cut.parseWithOrWithoutBrackets(from);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-parameter", "query parameter 'from' must be start, end or a cut like [120,98]: "
          + e.getMessage());
    }
  }

  private void reprocess(Context ctx) throws IOException {
    Braid b = ready();
    String view = ctx.pathParam("view");
    b.versions(view); // 404 for an unknown view before reading the body
    String type = mediaType(ctx);
    if (!type.isEmpty() && !type.equals(JSON) && !type.equals("application/yaml") && !type.equals("application/x-yaml")
        && !type.equals("text/yaml") && !type.equals("text/plain")) {
      throw new Problem(415, "unsupported-media-type", "Unsupported media type", "send the view's new definition "
          + "as application/json or YAML (application/yaml, text/yaml or text/plain), not '" + type + "'");
    }
    String text = decodeUtf8(readBody(ctx), "send the view's new definition as UTF-8 text (YAML or JSON); "
        + "nothing was reprocessed");
    if (text.isBlank()) {
      throw Problem.badRequest("empty-body", "the body is empty: send the view's new definition, e.g. "
          + "{\"from\": \"...\", \"group_by\": \"...\", \"aggregate\": {\"n\": \"count\"}}");
    }
    boolean hold = boolParam(ctx, "hold");
    dev.braid.log.Cut from = replayFrom(ctx, b, view);
    long id;
    try {
      // without `mode:` or `keep:` those of the definition serving now (a reprocess cannot change the mode)
      dev.braid.spec.ViewSpec definition = spec.parseView(view, text, "request body", b.servingDefinition(view));
      id = b.reprocess(view, definition, new dev.braid.ReprocessOptions(hold, from));
    } catch (dev.braid.spec.SpecException e) {
      dev.braid.spec.SpecError first = e.errors().get(0);
      if (first.message().startsWith("not valid YAML")) {
        // the whole body failed to parse: its line and column say where; the path is only the parser's
        // last node, maybe in another view of a whole spec
        throw Problem.badRequest("invalid-definition", "the definition sent to reprocess view '" + view + "' is "
            + first.message());
      }
      throw Problem.badRequest("invalid-definition", "invalid definition of view '" + view + "': "
          + e.errors().stream().map(x -> (x.path().isEmpty() ? "" : x.path() + ": ") + x.message())
              .collect(java.util.stream.Collectors.joining("; ")));
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-replay-start", e.getMessage());
    } catch (IllegalStateException e) {
      throw new Problem(409, "reprocess-conflict", "Conflict", e.getMessage());
    }
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("view", view);
    o.put("version", id);
    o.put("state", "building");
    o.put("hold", hold);
    o.put("detail", hold ? "version " + id + " is building; once it has caught up, activate it with POST /v1/views/"
        + view + "/versions/" + id + "/activate" : "version " + id + " is building; it becomes current once it has "
        + "caught up");
    ctx.status(202).header("Location", "/v1/views/" + view + "/versions").contentType(JSON).result(write(o));
  }

  /** Makes a version current (a held reprocess, or a rollback to a backup); answers once it is. */
  /** The {@code {id}} of a version's path, a 400 when it is not a whole number. */
  static long versionId(Context ctx) {
    String raw = ctx.pathParam("id");
    try {
      return Long.parseLong(raw);
    } catch (NumberFormatException e) {
      throw Problem.badRequest("bad-version", notAWholeNumber("the version id", raw));
    }
  }

  /**
   * Why {@code raw}, which {@code Long.parseLong} refused, is not a value of {@code what}: a whole
   * number too large for one (digits only) is out of range, anything else is not a whole number.
   */
  static String notAWholeNumber(String what, String raw) {
    String t = raw == null ? "" : raw.strip();
    if (t.matches("[-+]?[0-9]+")) {
      return what + " " + t + " is out of range: it must be between " + Long.MIN_VALUE + " and " + Long.MAX_VALUE;
    }
    return what + " must be a whole number, got '" + raw + "'";
  }

  private void discard(Context ctx) {
    onVersion(ctx, "discard", "discarded", (b, view, id) -> b.discard(view, id));
  }

  /** {@code DELETE /v1/views/{view}}: drops a retired view (see {@link Braid#dropView}). */
  private void dropView(Context ctx) {
    drop(ctx, "view", Braid::dropView);
  }

  /** {@code DELETE /v1/tables/{table}}: drops a retired table (see {@link Braid#dropTable}). */
  private void dropTable(Context ctx) {
    drop(ctx, "table", Braid::dropTable);
  }

  /** Drops the retired view or table ({@code kind}) the path names; answers how many versions went. */
  private void drop(Context ctx, String kind, java.util.function.ToIntBiFunction<Braid, String> drop) {
    Braid b = ready();
    String name = ctx.pathParam(kind);
    int versions;
    try {
      versions = drop.applyAsInt(b, name);
    } catch (UnknownNameException e) {
      throw Problem.notFound("unknown-retired-" + kind, e.getMessage());
    } catch (IllegalStateException e) {
      throw new Problem(409, "cannot-drop", "Conflict", e.getMessage());
    } catch (dev.braid.log.LogException e) { // the catalog could not be written: nothing was dropped
      Problem full = storageFull(e, e.getMessage());
      throw full != null ? full : new Problem(500, "drop-failed", "Drop failed", e.getMessage());
    }
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put(kind, name);
    o.put("droppedVersions", versions);
    ok(ctx, o);
  }

  private void activate(Context ctx) {
    onVersion(ctx, "activate", "activated", (b, view, id) -> b.activate(view, id));
  }

  /** What a version endpoint does to version {@code id} of {@code view}. */
  private interface VersionAction {
    void apply(Braid b, String view, long id);
  }

  /**
   * Applies {@code action} to the version named by the path; a state that does not allow it is a
   * 409 that says why; answers the view's versions with {@code done: id}.
   */
  private void onVersion(Context ctx, String verb, String done, VersionAction action) {
    Braid b = ready();
    String view = ctx.pathParam("view");
    List<dev.braid.VersionInfo> before = b.versions(view); // 404 for an unknown view first
    long id = versionId(ctx);
    boolean wasCurrent = isCurrent(before, id);
    try {
      action.apply(b, view, id);
    } catch (IllegalStateException e) {
      Problem full = storageFull(e, e.getMessage()); // an activation whose switch the catalog could not record
      if (full != null) { // held again
        throw full;
      }
      throw new Problem(409, "cannot-" + verb, "Conflict", e.getMessage());
    } catch (dev.braid.view.CatalogWriteException e) { // a rollback whose start the catalog could not record
      throw activationNotRecorded("view", view, id, e);
    }
    ObjectNode o = Json.versions(view, b.versions(view));
    o.put(done, id);
    if (verb.equals("activate")) {
      o.put("alreadyCurrent", wasCurrent);
    }
    ok(ctx, o);
  }

  /**
   * The answer to an activation of a backup that the catalog could not record (so it did not start,
   * or did not switch): a 507 on a full disk, else a 500 that says nothing changed.
   */
  static Problem activationNotRecorded(String kind, String name, long id, dev.braid.view.CatalogWriteException e) {
    String detail = "version " + id + " of " + kind + " '" + name + "' was not activated: " + e.getMessage()
        + "; the current version is unchanged and serves, and version " + id + " is still a backup";
    Problem full = storageFull(e, detail);
    return full != null ? full : new Problem(500, "activation-not-recorded", "Activation not recorded", detail);
  }

  /** Whether version {@code id} is the current one among {@code versions}. */
  static boolean isCurrent(List<dev.braid.VersionInfo> versions, long id) {
    return versions.stream().anyMatch(v -> v.id() == id && v.state() == dev.braid.VersionState.CURRENT);
  }

  private static boolean boolParam(Context ctx, String name) {
    return boolParam(ctx, name, false);
  }

  /** A true/false query parameter, {@code def} when absent. */
  static boolean boolParam(Context ctx, String name, boolean def) {
    String v = ctx.queryParam(name);
    if (v == null) {
      return def;
    }
    String s = v.strip().toLowerCase(Locale.ROOT);
    if (s.isEmpty() || s.equals("true") || s.equals("1")) {
      return true;
    }
    if (s.equals("false") || s.equals("0")) {
      return false;
    }
    throw Problem.badRequest("bad-parameter", "query parameter '" + name + "' must be true or false (1 or 0; given "
        + "without a value, ?" + name + ", it is true), got '" + v + "'");
  }

  private void status(Context ctx) {
    Braid b = ready();
    ObjectNode o = Json.status(b.status());
    com.fasterxml.jackson.databind.node.ArrayNode retired = o.putArray("retiredViews");
    for (Status.RetiredView r : b.retiredViews()) {
      ObjectNode ro = retired.addObject();
      ro.put("name", r.name());
      ro.put("stream", r.stream());
      ro.put("mode", r.mode());
      ro.put("versions", r.versions());
    }
    com.fasterxml.jackson.databind.node.ArrayNode retiredTables = o.putArray("retiredTables");
    b.retiredTables().forEach(retiredTables::add);
    putFaults(o, b.faults());
    o.put("uptimeSeconds", (System.currentTimeMillis() - startedAt) / 1000);
    o.put("dataDirectory", dataDir.toString());
    ok(ctx, o);
  }

  /** {@code "ingest": {"stream": "failing: ..."}} and {@code "unavailable": {"view": "..."}}, when not empty. */
  private static void putFaults(ObjectNode o, Faults f) {
    if (!f.ingest().isEmpty()) {
      ObjectNode i = o.putObject("ingest");
      new java.util.TreeMap<>(f.ingest()).forEach(i::put);
    }
    if (!f.unavailable().isEmpty()) {
      ObjectNode u = o.putObject("unavailable");
      new java.util.TreeMap<>(f.unavailable()).forEach(u::put);
    }
    if (!f.damaged().isEmpty()) {
      ObjectNode d = o.putObject("damaged");
      new java.util.TreeMap<>(f.damaged()).forEach(d::put);
    }
    if (!f.checkpoints().isEmpty()) {
      ObjectNode c = o.putObject("checkpoints");
      new java.util.TreeMap<>(f.checkpoints()).forEach(c::put);
    }
  }

  /** {@code handler}, after refusing any query parameter but {@code names} (see {@link #onlyParams}). */
  static io.javalin.http.Handler params(io.javalin.http.Handler handler, String... names) {
    return ctx -> {
      onlyParams(ctx, names);
      handler.handle(ctx);
    };
  }

  /**
   * Refuses a query parameter the endpoint does not take (a misspelt {@code ?frm=} would otherwise
   * be ignored and the answer look like one for the whole range), naming those it takes.
   */
  private static void onlyParams(Context ctx, String... names) {
    for (Map.Entry<String, List<String>> given : ctx.queryParamMap().entrySet()) {
      if (!List.of(names).contains(given.getKey())) {
        throw Problem.badRequest("unknown-parameter", "unknown query parameter '" + given.getKey()
            + "'; this endpoint takes " + (names.length == 0 ? "none" : String.join(", ", names)));
      }
      if (given.getValue().size() > 1) { // every parameter takes one value: which one was meant?
        throw Problem.badRequest("bad-parameter", "query parameter '" + given.getKey() + "' is given "
            + given.getValue().size() + " times (" + String.join(", ", given.getValue()) + "); give it once");
      }
    }
  }

  /** The page size {@code ?limit=}: 1 to {@value #MAX_PAGE} entries, {@value #DEFAULT_PAGE} when absent. */
  static int limitParam(Context ctx) {
    long limit = longParam(ctx, "limit", DEFAULT_PAGE);
    if (limit < 1 || limit > MAX_PAGE) {
      throw Problem.badRequest("bad-parameter", "query parameter 'limit' must be 1 to " + MAX_PAGE + ", got " + limit);
    }
    return (int) limit;
  }

  private static final int DEFAULT_PAGE = 100;
  private static final int MAX_PAGE = 1000;

  private static long longParam(Context ctx, String name, long def) {
    String v = ctx.queryParam(name);
    if (v == null) {
      return def;
    }
    if (v.isBlank()) {
      throw Problem.badRequest("bad-parameter", "query parameter '" + name + "' is empty; give a whole number, or "
          + "leave it out");
    }
    try {
      return Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      throw Problem.badRequest("bad-parameter", notAWholeNumber("query parameter '" + name + "'", v));
    }
  }

  /** A log offset to page from: a whole number >= 0, 0 when left out. */
  private static long offsetParam(Context ctx, String name) {
    long v = longParam(ctx, name, 0);
    if (v < 0) {
      throw Problem.badRequest("bad-parameter", "query parameter '" + name + "' is an offset in the log: 0 or more, "
          + "got " + v);
    }
    return v;
  }

  /** A time as epoch millis or ISO-8601 text. */
  private static long timeParam(Context ctx, String name, long def) {
    return time("query parameter '" + name + "'", ctx.queryParam(name), def);
  }

  /**
   * A bound of a window range ({@code from}, {@code to}) given as epoch millis or ISO-8601 text;
   * {@code def} when left out; 400 naming {@code what} when blank or not a time. A fraction of a
   * millisecond rounds up: windows start at whole milliseconds, so the one starting at
   * {@code 10:00:00.000} starts before {@code 10:00:00.0001}, as it does before {@code 10:00:00.001}.
   */
  private static long time(String what, String v, long def) {
    if (v == null) {
      return def;
    }
    if (v.isBlank()) {
      throw Problem.badRequest("bad-parameter", what + " is empty; give epoch millis or ISO-8601 like "
          + "2026-11-22T10:00:00Z, or leave it out");
    }
    long t = epochMillis("bad-parameter", what, v);
    return parseInstant(v).getNano() % 1_000_000 == 0 || t == Long.MAX_VALUE ? t : t + 1;
  }

  /**
   * A 400 for a range whose {@code from} is after its {@code to} (as given: {@code fromText},
   * {@code toText}) while both round up to the same millisecond ({@code 10:00:00.0002} and
   * {@code 10:00:00.0001}): it ends before it starts, however finely written. Rounded apart, the
   * read refuses it itself.
   */
  private static void refuseReversed(String view, String fromText, String toText, long from, long to) {
    if (from != to || fromText == null || toText == null) {
      return;
    }
    Instant f = parseInstant(fromText);
    Instant t = parseInstant(toText);
    if (f != null && t != null && f.isAfter(t)) {
      throw Problem.badRequest("bad-parameter", "the range [from, to) of view '" + view + "' ends before it starts: "
          + "from is " + f + ", to is " + t);
    }
  }

  /**
   * {@code v} (not blank) as epoch millis, given so or as ISO-8601 text; a 400 of problem type
   * {@code type} naming {@code what} when it is neither, or beyond what a long holds.
   */
  static long epochMillis(String type, String what, String v) {
    try {
      Long t = parseTime(v);
      if (t == null) {
        throw Problem.badRequest(type, what + " must be epoch millis or ISO-8601 like 2026-11-22T10:00:00Z (or "
            + "2026-11-22T11:00:00+01:00, or a date, 2026-11-22, its midnight UTC), got '" + v + "'");
      }
      return t;
    } catch (ArithmeticException e) {
      throw Problem.badRequest(type, what + " '" + v + "' is out of range: epoch milliseconds must fit in a long");
    }
  }

  /**
   * {@code v} as epoch millis: a whole number of them, an ISO-8601 instant ({@code
   * 2026-11-22T10:00:00Z}), one with an offset ({@code 2026-11-22T11:00:00+01:00}) or a date
   * ({@code 2026-11-22}, its midnight UTC); null when it is none of these. A fraction of a
   * millisecond is dropped (see {@link #parseInstant} for the time as given).
   *
   * @throws ArithmeticException when it is a time beyond what a long of milliseconds holds
   */
  public static Long parseTime(String v) {
    Instant t = parseInstant(v);
    return t == null ? null : t.toEpochMilli();
  }

  /** {@code v} read as {@link #parseTime} reads it, to the nanosecond it gives; null when it is not a time. */
  static Instant parseInstant(String v) {
    String s = v.strip();
    try {
      return Instant.ofEpochMilli(Long.parseLong(s));
    } catch (NumberFormatException e) {
      // not a number of milliseconds: a time
    }
    try {
      return Instant.parse(s);
    } catch (DateTimeParseException e) {
      // not an instant in UTC: one with an offset, or a date
    }
    try {
      return java.time.OffsetDateTime.parse(s).toInstant();
    } catch (DateTimeParseException e) {
      // not one with an offset
    }
    try {
      return java.time.LocalDate.parse(s).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
    } catch (DateTimeParseException e) {
      return null;
    } catch (java.time.DateTimeException e) {
      throw new ArithmeticException(e.getMessage()); // a date past what an instant holds
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** {@code 1 stream}, {@code 2 streams}. */
  private static String counted(int n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  /**
   * Serves {@code path} to GET and to HEAD with the same handler (Jetty sends a HEAD answer's headers
   * only). Without its own HEAD route Javalin answers any HEAD of a GET route with an empty 200, even
   * for an unknown view or key.
   */
  static void getAndHead(io.javalin.config.RoutesConfig routes, String path, io.javalin.http.Handler handler) {
    routes.get(path, handler);
    routes.head(path, handler);
  }

  /**
   * A hint when an unknown view is a table, or an unknown table a view: on the versions routes, where
   * the command line's {@code versions} and {@code activate} tell them apart by {@code --table}; on
   * other routes the name of the other kind's reads.
   */
  private String otherKindHint(UnknownNameException e, Context ctx) {
    boolean versions = ctx.path().contains("/versions");
    if (e.kind().equals("view") && spec.tables().containsKey(e.name())) {
      return "; '" + e.name() + "' is a table" + (versions ? ": its versions are under /v1/tables/" + e.name()
          + " (on the command line, add --table)" : ": read its rows with GET /v1/tables/" + e.name()
          + "/rows/{key} (braid row)");
    }
    if (e.kind().equals("stream") && spec.tables().containsKey(e.name())) {
      return "; '" + e.name() + "' is a table: write its rows with PUT /v1/tables/" + e.name() + "/rows/{key}, or "
          + "load many with a push (braid push " + e.name() + " FILE; --incremental applies them as writes)";
    }
    if (e.kind().equals("table") && spec.views().containsKey(e.name())) {
      return "; '" + e.name() + "' is a view" + (versions ? ": its versions are under /v1/views/" + e.name()
          + " (on the command line, leave out --table)" : ": read it with GET /v1/views/" + e.name()
          + "/keys/{key} (braid query)");
    }
    if (e.kind().equals("table") && spec.streams().containsKey(e.name())) {
      return "; '" + e.name() + "' is a stream: send its events with POST /v1/streams/" + e.name() + "/events "
          + "(braid ingest " + e.name() + " FILE)";
    }
    if (e.kind().equals("stream") && spec.views().containsKey(e.name())) {
      return "; '" + e.name() + "' is a view: read it with GET /v1/views/" + e.name() + "/keys/{key} (braid query); "
          + "its events' dead letters are those of its stream, '" + spec.views().get(e.name()).from() + "'";
    }
    return "";
  }

  /**
   * Stops taking requests, finishes those in flight, closes the engine (flushing the log) and
   * releases the data directory. A second call does nothing.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    changes.closeAll(); // a changes stream never ends by itself, and the stop waits for requests in flight
    if (braid instanceof dev.braid.view.Engine e) {
      e.stopSchedules(); // no batch cycle starts while requests in flight finish
    }
    if (app != null) {
      try {
        app.stop();
      } catch (RuntimeException e) { // most likely requests still running after the stop timeout, closed under them
        boolean timedOut = e.getCause() instanceof java.util.concurrent.TimeoutException;
        LOG.warn("the HTTP server did not stop cleanly ({}); closing the engine anyway", timedOut
            ? "requests were still running " + dev.braid.spec.Durations.format(config.stopTimeout())
                + " after the stop began" : e.getCause() != null ? e.getCause().toString() : e.toString());
      }
    }
    synchronized (this) { // after closed is set: registerJvmMetrics binds nothing from now on
      if (gcMetrics != null) {
        gcMetrics.close();
      }
    }
    // Not interrupted before the engine closes: an interrupt closed the Base channel of a batch cycle asked for
    // over HTTP, which then failed its version for good (catalog and log: ClosedByInterruptException). The close
    // stops a running cycle as "Braid is closing", records nothing, and the tasks then end.
    background.shutdown();
    Braid b = braid;
    braid = null;
    try {
      if (b != null) {
        b.close();
      }
    } finally {
      background.shutdownNow(); // what is left after the close (a task waiting on nothing the close ended)
      try {
        // a cycle the close stopped waiting for must not write in the directory once its lock is released
        if (!background.awaitTermination(10, TimeUnit.SECONDS)) {
          LOG.warn("a task of the server (a batch cycle asked for over HTTP) still runs 10 s after the engine closed; "
              + "releasing the data directory anyway");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        lock.close();
      } catch (IOException e) {
        LOG.warn("releasing the data directory lock failed", e);
      }
    }
    LOG.info("Braid stopped");
  }
}
