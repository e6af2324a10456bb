package dev.braid.server.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The retail example behind {@code braid demo}: its spec ({@code examples/retail/braid.yaml},
 * bundled in the jar), a history load, a live feed of both streams at a steady rate, and the guided
 * tour — real HTTP requests against the running server, shown as the {@code curl} commands they are.
 *
 * <p>Two thirds of the events are sales, one third card transactions. The history spreads its event
 * times over the 24 hours before now; the live feed stamps events near the wall clock.
 */
public final class RetailDemo implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RetailDemo.class);
  public static final String SPEC_RESOURCE = "/examples/retail/braid.yaml";
  public static final String SPEC_NAME = "examples/retail/braid.yaml";
  static final int BATCH = 1000;

  private final Braid braid;
  private final java.util.function.BiFunction<String, List<String>, IngestResult> ingest;
  private final long seed;
  private final AtomicLong sent = new AtomicLong();
  private volatile boolean running;
  private Thread feeder;

  public RetailDemo(Braid braid, long seed) {
    this(braid, seed, (stream, events) -> braid.ingestText(stream, events, null));
  }

  /**
   * A demo that sends its events through {@code ingest} (stream, NDJSON lines), e.g. a server's,
   * which counts them in its metrics as it counts those of its ingest endpoint.
   */
  public RetailDemo(Braid braid, long seed, java.util.function.BiFunction<String, List<String>, IngestResult> ingest) {
    this.braid = braid;
    this.ingest = ingest;
    this.seed = seed;
  }

  /** The bundled spec. */
  public static PipelineSpec spec() {
    try (InputStream in = RetailDemo.class.getResourceAsStream(SPEC_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the bundled example " + SPEC_RESOURCE + " is missing from the class path");
      }
      return PipelineSpec.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), SPEC_NAME);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Both generators of one feed; {@code sales} gets two events of every three. Event time starts
   * at {@code startMillis} and advances by {@code 1000 / ratePerSecond} ms per event on average.
   */
  static final class Feed {
    final SalesEventGenerator sales;
    final TransactionGenerator transactions;
    private long n;

    Feed(long seed, long startMillis, double ratePerSecond) {
      this(seed, startMillis, ratePerSecond, Long.MAX_VALUE);
    }

    /** As above, with no event time past {@code endMillis}. */
    Feed(long seed, long startMillis, double ratePerSecond, long endMillis) {
      double meanGap = ratePerSecond > 0 ? 1000.0 / ratePerSecond : 0;
      this.sales = new SalesEventGenerator(seed, startMillis, meanGap * 1.5).endingAt(endMillis);
      this.transactions = new TransactionGenerator(seed + 1, startMillis, meanGap * 3).endingAt(endMillis);
    }

    /** Fills the two lists with the next {@code count} events of the feed. */
    void next(int count, List<String> salesOut, List<String> transactionsOut) {
      for (int i = 0; i < count; i++, n++) {
        if (n % 3 == 2) {
          transactionsOut.add(transactions.next());
        } else {
          salesOut.add(sales.nextLine());
        }
      }
    }
  }

  /**
   * Ingests {@code events} events whose event times spread over the 24 hours before {@code now},
   * reporting progress (events done) to {@code progress}; stops early when {@code stop} says so.
   * Returns the events loaded.
   */
  public long loadHistory(long events, long now, LongConsumer progress, BooleanSupplier stop) {
    long span = TimeUnit.HOURS.toMillis(24);
    Feed feed = new Feed(seed, now - span, events == 0 ? 0 : events * 1000.0 / span, now);
    List<String> s = new ArrayList<>(BATCH);
    List<String> t = new ArrayList<>(BATCH);
    long done = 0;
    while (done < events && !stop.getAsBoolean()) {
      int n = (int) Math.min(BATCH, events - done);
      s.clear();
      t.clear();
      feed.next(n, s, t);
      sent.addAndGet(n); // before the append: see sent()
      ingest(s, t);
      done += n;
      progress.accept(done);
    }
    return done;
  }

  /** Starts feeding about {@code rate} events per second, stamped near the wall clock, until {@link #close()}. */
  public synchronized void startLive(int rate, long now) {
    if (feeder != null) {
      throw new IllegalStateException("the live feed is already running");
    }
    if (rate <= 0) {
      throw new IllegalArgumentException("the live rate must be at least 1 event/s, got " + rate);
    }
    running = true;
    Feed feed = new Feed(seed + 1000, now, rate);
    feeder = new Thread(() -> feed(feed, rate), "braid-demo-feed");
    feeder.setDaemon(true);
    feeder.start();
  }

  /**
   * Events sent so far (history and live), counted as each batch is handed to the log, before it
   * is appended: a status read before this call never holds more of the demo's events than it
   * says. Counted after, a status line could show more in the log than sent, from the batch being
   * appended while it was read.
   */
  public long sent() {
    return sent.get();
  }

  private void ingest(List<String> sales, List<String> transactions) {
    check(ingest.apply("sales", sales));
    check(ingest.apply("transactions", transactions));
  }

  private static void check(IngestResult r) {
    if (!r.rejections().isEmpty()) {
      // The generators only make valid events: a rejection is a bug in the demo, say so loudly.
      throw new IllegalStateException("the demo generator made an event that stream '" + r.stream()
          + "' rejects: " + r.rejections().get(0).reason());
    }
  }

  private void feed(Feed feed, int rate) {
    long tickNanos = TimeUnit.MILLISECONDS.toNanos(20);
    double perTick = rate / 50.0;
    double owed = 0;
    List<String> s = new ArrayList<>();
    List<String> t = new ArrayList<>();
    long next = System.nanoTime();
    while (running) {
      owed += perTick;
      int n = (int) owed;
      owed -= n;
      if (n > 0) {
        s.clear();
        t.clear();
        feed.next(n, s, t);
        try {
          sent.addAndGet(n); // before the append: see sent()
          ingest(s, t);
        } catch (RuntimeException e) {
          if (running) {
            LOG.warn("demo feed stopped: {}", e.getMessage());
          }
          return;
        }
      }
      next += tickNanos;
      long wait = next - System.nanoTime();
      if (wait > 0) {
        try {
          TimeUnit.NANOSECONDS.sleep(wait);
        } catch (InterruptedException e) {
          return;
        }
      } else if (wait < -TimeUnit.SECONDS.toNanos(1)) {
        next = System.nanoTime(); // far behind (a pause): do not catch up in a burst
      }
    }
  }

  /** What one batch cycle of one view did. */
  public record BatchRun(String view, long version, long millis) {}

  /** Runs a batch cycle of every Lambda view, one after the other, so reads have a real Base. */
  public List<BatchRun> batchAll() {
    List<BatchRun> runs = new ArrayList<>();
    for (ViewSpec v : braid.spec().views().values()) {
      if (v.mode() == ViewSpec.Mode.LAMBDA) {
        long t0 = System.nanoTime();
        long version = braid.runBatch(v.name());
        runs.add(new BatchRun(v.name(), version, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)));
      }
    }
    return runs;
  }

  @Override
  public void close() {
    Thread f;
    synchronized (this) {
      running = false;
      f = feeder;
    }
    if (f != null) {
      try {
        f.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The tour: real HTTP requests, each with the curl command a person would type.

  /** One request of the tour: the curl command, the HTTP status and the answer. */
  public record Call(String curl, int status, JsonNode answer) {}

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** {@code GET baseUrl + path}, as {@code curl -s URL} would. */
  public static Call get(String baseUrl, String path) {
    String url = baseUrl + path;
    return send(HttpRequest.newBuilder(URI.create(url)).GET(), "curl -s " + quoteIfNeeded(url));
  }

  /** {@code POST baseUrl + path} with no body, as {@code curl -s -X POST URL} would. */
  public static Call post(String baseUrl, String path) {
    String url = baseUrl + path;
    return send(HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.noBody()),
        "curl -s -X POST " + quoteIfNeeded(url));
  }

  private static Call send(HttpRequest.Builder request, String curl) {
    try {
      HttpResponse<String> r = HTTP.send(request.timeout(Duration.ofMinutes(5)).build(),
          HttpResponse.BodyHandlers.ofString());
      return new Call(curl, r.statusCode(), JSON.readTree(r.body()));
    } catch (IOException e) {
      throw new UncheckedIOException("the tour's request failed: " + curl, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted during " + curl, e);
    }
  }

  private static String quoteIfNeeded(String url) {
    return url.contains("?") || url.contains("&") ? "'" + url + "'" : url;
  }
}
