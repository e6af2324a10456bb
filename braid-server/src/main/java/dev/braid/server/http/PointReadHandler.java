package dev.braid.server.http;

import dev.braid.Braid;
import dev.braid.ViewResult;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.PreEncodedHttpField;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The hot read, {@code GET /v1/views/{view}/keys/{key}} without query parameters, answered on
 * Jetty's own request API in front of Javalin; every other request, and every read that is not the
 * plain found-or-not case, passes through to Javalin unchanged.
 *
 * <p>Why: through Javalin a point read costs the servlet layer (request and response wrappers, the
 * session handler, the filter chain), Javalin's routing with regex path matching and its
 * response copy through an input stream, and a JSON tree per result: together several times the
 * cost of the read itself, which on the 2-core goal machine caps reads far below the goal (see
 * docs/PERFORMANCE.md, "HTTP"). Here a read parses the path by hand, asks the engine, writes the
 * JSON straight to bytes ({@link Json#resultBytes}) and hands them to Jetty with pre-encoded
 * headers.
 *
 * <p>The answer is byte for byte the one Javalin's route gives (same body, {@code Content-Type},
 * status). Anything else goes to Javalin: a key or view that needs percent-decoding, a query
 * string, a server that is still starting (503), an unknown view (404) or an engine failure (500,
 * logged there), so errors keep one code path and one problem format.
 *
 * <p>Threading: a point read runs on the Jetty selector thread that parsed it ({@link
 * #getInvocationType}), so the engine's {@code get} must stay short and never wait on I/O; it reads
 * memory and the page-cached Base file. Thread-safe: no state but the per-view timers, created once.
 */
final class PointReadHandler extends Handler.Wrapper {

  private static final String PREFIX = "/v1/views/";
  private static final String KEYS = "/keys/";
  private static final HttpField CONTENT_TYPE = new PreEncodedHttpField(HttpHeader.CONTENT_TYPE, "application/json");

  /** The route template of the reads answered here, as Javalin names the same route. */
  static final String ROUTE = "/v1/views/{view}/keys/{key}";

  /**
   * The buckets of the read-latency histograms, from the engine's few microseconds to a second, so
   * that Prometheus can compute a p99 ({@code histogram_quantile}) where count, sum and max could
   * not. Fixed boundaries: recording stays a search and an increment, and the series per view stay
   * few. Micrometer's percentile histogram for timers starts at a millisecond, where every read
   * would fall in the first bucket.
   */
  private static final Duration[] READ_BUCKETS = {Duration.ofNanos(2_500), Duration.ofNanos(5_000),
      Duration.ofNanos(10_000), Duration.ofNanos(25_000), Duration.ofNanos(50_000), Duration.ofNanos(100_000),
      Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofNanos(2_500_000),
      Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
      Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofSeconds(1)};

  /** The methods that get their own {@code method} tag; any other is counted as "other". */
  private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

  private final Supplier<Braid> braid;
  private final MeterRegistry metrics;
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
  /** The responses of this fast path, registered once: a read pays one increment, not a registry look-up. */
  private final Counter answered;

  PointReadHandler(Supplier<Braid> braid, MeterRegistry metrics) {
    this.braid = braid;
    this.metrics = metrics;
    this.answered = responses(metrics, "GET", ROUTE, 200);
  }

  /** The read-latency timer of {@code view}, registered once (Javalin's route uses it too). */
  Timer timer(String view) {
    return timers.computeIfAbsent(view, v -> readTimer("braid_read_latency", v,
        "point reads of the view (GET /v1/views/{view}/keys/{key}): the merged read of Base and Delta, "
            + "timed in the server"));
  }

  /** A read-latency timer of {@code view} with the {@link #READ_BUCKETS} histogram. */
  Timer readTimer(String name, String view, String description) {
    return Timer.builder(name).tag("view", view).description(description).serviceLevelObjectives(READ_BUCKETS)
        .register(metrics);
  }

  /**
   * The counter of HTTP responses to {@code method} on {@code route} with {@code status}. The route
   * is a template ({@code /v1/views/{view}/keys/{key}}), never the path as sent, and an unusual
   * method counts as "other": a client cannot grow the number of series.
   */
  static Counter responses(MeterRegistry metrics, String method, String route, int status) {
    return Counter.builder("braid_http_responses_total")
        .description("HTTP responses by method, route template and status")
        .tag("method", method != null && METHODS.contains(method) ? method : "other").tag("route", route)
        .tag("status", Integer.toString(status)).register(metrics);
  }

  /**
   * Non-blocking, so Jetty runs a point read on the thread that read the request (no hand-off to a
   * pool thread per request); everything else is handed to a pool thread by {@link #dispatch}, as
   * Javalin's handlers block (bodies, fsync, batch waits).
   */
  @Override
  public InvocationType getInvocationType() {
    return InvocationType.NON_BLOCKING;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    Braid b = braid.get();
    if (b == null || !"GET".equals(request.getMethod()) || request.getHttpURI().getQuery() != null) {
      return dispatch(request, response, callback);
    }
    String path = request.getHttpURI().getPath();
    if (path == null || !path.startsWith(PREFIX)) {
      return dispatch(request, response, callback);
    }
    int keys = path.indexOf(KEYS, PREFIX.length());
    int keyStart = keys + KEYS.length();
    if (keys <= PREFIX.length() || keyStart >= path.length() || !plain(path, PREFIX.length(), keys)
        || !plain(path, keyStart, path.length())) {
      return dispatch(request, response, callback);
    }
    String view = path.substring(PREFIX.length(), keys);
    String key = path.substring(keyStart);
    ViewResult r;
    long t0 = System.nanoTime();
    try {
      r = b.get(view, key);
    } catch (RuntimeException e) {
      // an unknown view (404) or a failure (500, logged there): Javalin asks again and answers the problem
      return dispatch(request, response, callback);
    }
    timer(view).record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
    byte[] body = Json.resultBytes(r);
    response.setStatus(200);
    response.getHeaders().put(CONTENT_TYPE);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    answered.increment(); // before the answer leaves, as ProblemErrorHandler counts
    response.write(true, ByteBuffer.wrap(body), callback);
    return true;
  }

  /** Runs the rest of the handlers (Javalin) on a pool thread, where they may block. */
  private boolean dispatch(Request request, Response response, Callback callback) {
    getServer().getThreadPool().execute(() -> {
      try {
        if (!super.handle(request, response, callback)) {
          Response.writeError(request, response, callback, 404);
        }
      } catch (Throwable e) {
        Response.writeError(request, response, callback, e);
      }
    });
    return true;
  }

  /** Whether {@code s[from, to)} is one path segment that needs no decoding. */
  private static boolean plain(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c == '/' || c == '%' || c == '+' || c == ';') {
        return false;
      }
    }
    return true;
  }
}
