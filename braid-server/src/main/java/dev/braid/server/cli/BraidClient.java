package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The command line's HTTP client of a Braid server. A problem answer (RFC 9457) becomes a
 * {@link BraidCli.CommandFailedException} carrying the server's {@code detail}, so every client
 * command fails the same way: one line, exit code 1.
 */
final class BraidClient {

  static final ObjectMapper JSON = new ObjectMapper();
  private final String base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** How long a request waits for its answer: reads, and requests that wait for the server's work. */
  private final Duration timeout;

  BraidClient(String url) {
    this(url, Duration.ofSeconds(ClientOptions.DEFAULT_TIMEOUT_SECONDS));
  }

  BraidClient(String url, Duration timeout) {
    this.timeout = timeout;
    this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    URI u;
    try {
      u = new URI(base);
    } catch (java.net.URISyntaxException e) {
      throw badUrl(url);
    }
    if (u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http") || u.getScheme().equalsIgnoreCase("https"))
        || u.getHost() == null || u.getPort() > 65535) {
      throw badUrl(url);
    }
  }

  private static BraidCli.CommandFailedException badUrl(String url) {
    // without --url the address is the environment's BRAID_URL: name what the user has to fix
    String from = url.equals(System.getenv("BRAID_URL")) ? "BRAID_URL (the default of --url)" : "--url";
    return new BraidCli.CommandFailedException(from + " must be the server's http:// or https:// address, such as "
        + "http://127.0.0.1:8080, got '" + url + "'", 2);
  }

  String url() {
    return base;
  }

  /** Encoded keys longer than this go in a body: a request line over the server's limit (8 KiB) is refused with 414. */
  static final int MAX_KEY_IN_PATH = 4096;

  /**
   * Whether key {@code key} cannot be named in a URL path, so that a read of it goes through a
   * {@code batchGet} of one key: the empty key, a key holding NUL (which the server refuses in a
   * path), and a key too long for a request line ({@link #MAX_KEY_IN_PATH}).
   */
  static boolean keyNeedsBody(String key) {
    // a char is at most 3 UTF-8 bytes, each %XX: a shorter key never needs encoding to be measured
    return key.isEmpty() || key.indexOf('\0') >= 0
        || key.length() > MAX_KEY_IN_PATH / 9 && enc(key).length() > MAX_KEY_IN_PATH;
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  JsonNode get(String path) {
    return send(HttpRequest.newBuilder(uri(path)).GET());
  }

  JsonNode post(String path, String contentType, byte[] body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    return send(b);
  }

  /**
   * Posts with an {@code Idempotency-Key} header and sends the same request again, with the same
   * key, when it times out or the connection fails, up to {@code attempts} times in all (waiting
   * 0.5 s, 1 s, 2 s ... between): the server acknowledges a retry of a request it already appended
   * with the first attempt's positions, so nothing is appended twice. {@code 503 Service
   * Unavailable} is retried too: a server that says it is starting after its {@code Retry-After}
   * for up to {@link #UNAVAILABLE_PATIENCE}, without using up attempts; any other (a storage fault
   * it expects to pass) like a lost answer. Any other answer, error or not, is final.
   */
  JsonNode postIdempotent(String path, String contentType, byte[] body, String key, int attempts) {
    return retrying(attempts, false, () -> send(HttpRequest.newBuilder(uri(path))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .header("Content-Type", contentType).header("Idempotency-Key", key), timeout),
        " with Idempotency-Key " + key + "; sending it again with that key appends nothing twice");
  }

  /**
   * A command's first request, sent again as {@link #postIdempotent} sends a POST: when the connection
   * fails or the answer is {@code 503}, up to {@code attempts} times in all; and while nothing
   * listens at the URL (a server started a moment ago, which takes seconds to bind on a loaded
   * machine), for up to {@link #LISTEN_PATIENCE} without using up attempts.
   */
  JsonNode getRetrying(String path, int attempts) {
    return retrying(attempts, true, () -> send(HttpRequest.newBuilder(uri(path)).GET(), timeout), "");
  }

  /**
   * How long {@link #retrying} keeps sending a request again while the server answers that it is
   * starting ({@code 503} of type {@code /problems/starting}): a live server that asks for the retry,
   * so those answers do not use up the attempts, which are for requests that got no answer or a
   * fault (a storage fault's {@code 503} needs a person, and uses them up). A restart replays the
   * log before it serves, which takes seconds to minutes on a large log.
   */
  static final Duration UNAVAILABLE_PATIENCE = Duration.ofMinutes(10);
  /** The shortest and longest wait {@link #retrying} takes between tries of a starting server. */
  private static final long MIN_STARTING_WAIT_MILLIS = 250;
  private static final long MAX_STARTING_WAIT_MILLIS = 30_000;

  /** Where {@link #retrying} says that it waits for a starting server, or null to say nothing. */
  private java.io.PrintWriter notices;

  /** Says on {@code w}, once per wait, that a request waits for a starting server. */
  BraidClient noticesTo(java.io.PrintWriter w) {
    this.notices = w;
    return this;
  }

  /**
   * How long a command's first request waits for a server on this machine that nothing listens for
   * yet (connection refused) before its attempts count: the README starts {@code braid server ... &} and feeds it at
   * once, and a server binds its port only after its JVM starts and its spec compiles.
   */
  static final Duration LISTEN_PATIENCE = Duration.ofSeconds(60);
  /**
   * How long a request waits for a server that said it is stopping (it finishes its requests in
   * flight for up to 30 s) before the wait for it to listen again ({@link #LISTEN_PATIENCE}) begins.
   */
  static final Duration STOP_PATIENCE = Duration.ofSeconds(30);
  /** The longest wait between tries of a server that is not listening yet. */
  private static final long MAX_LISTEN_WAIT_MILLIS = 2_000;

  /** @param first whether this is the command's first request, which waits for a server to listen */
  private JsonNode retrying(int attempts, boolean first, java.util.function.Supplier<JsonNode> request,
      String gaveUpNote) {
    long backoff = 500;
    long patienceEnds = System.nanoTime() + UNAVAILABLE_PATIENCE.toNanos();
    long listenEnds = System.nanoTime() + LISTEN_PATIENCE.toNanos();
    int failed = 0;
    boolean noticed = false;
    boolean listenNoticed = false;
    boolean stopped = false; // the server said it is stopping: a restart, most likely, so wait for it to listen
    for (int tries = 1; ; tries++) {
      long wait;
      try {
        return request.get();
      } catch (TransportException | UnavailableAnswer e) {
        boolean starting = e instanceof UnavailableAnswer u && u.starting();
        boolean stopping = e instanceof UnavailableAnswer u && u.stopping();
        // a server on this machine that answered this command before and now refuses connections
        // stopped between two requests: most likely a restart, as when it answers that it is stopping
        boolean gone = !first && e instanceof TransportException t && t.notListening;
        if ((stopping || gone) && !stopped) {
          stopped = true;
          listenEnds = System.nanoTime() + LISTEN_PATIENCE.toNanos() + STOP_PATIENCE.toNanos();
          listenNoticed = true; // one notice for the stop and the restart's listen wait
          if (notices != null) {
            notices.println("braid: the server at " + base + (stopping ? " is stopping" : " stopped listening")
                + "; waiting for it to come back, up to " + (LISTEN_PATIENCE.toSeconds() + STOP_PATIENCE.toSeconds())
                + " s");
            notices.flush();
          }
        }
        if (stopping && System.nanoTime() - listenEnds < 0) {
          long asked = ((UnavailableAnswer) e).retryAfterMillis;
          wait = Math.max(MIN_STARTING_WAIT_MILLIS, Math.min(asked < 0 ? backoff : asked, MAX_STARTING_WAIT_MILLIS));
        } else if (e instanceof TransportException t && (first && t.notListening || stopped)
            && System.nanoTime() - listenEnds < 0) {
          // after a stop, a connection it closed too: a retry with the same key appends nothing twice
          wait = Math.min(backoff, MAX_LISTEN_WAIT_MILLIS);
          backoff = Math.min(backoff * 2, MAX_LISTEN_WAIT_MILLIS);
          if (!listenNoticed) {
            listenNoticed = true;
            if (notices != null) {
              notices.println("braid: nothing listens at " + base + " yet; waiting for the server to start, up to "
                  + LISTEN_PATIENCE.toSeconds() + " s");
              notices.flush();
            }
          }
        } else if (starting && System.nanoTime() - patienceEnds < 0) {
          long asked = ((UnavailableAnswer) e).retryAfterMillis;
          wait = Math.max(MIN_STARTING_WAIT_MILLIS, Math.min(asked < 0 ? backoff : asked, MAX_STARTING_WAIT_MILLIS));
          if (!noticed && notices != null) {
            noticed = true;
            notices.println("braid: the server at " + base + " is starting (replaying its log); waiting for it, up "
                + "to " + UNAVAILABLE_PATIENCE.toMinutes() + " minutes");
            notices.flush();
          }
        } else if (++failed >= attempts) {
          String message = e.getMessage() + " (gave up after " + (stopped
              ? "waiting " + (LISTEN_PATIENCE.toSeconds() + STOP_PATIENCE.toSeconds()) + " s for it to stop and listen "
                  + "again"
              : listenNoticed
              ? "waiting " + LISTEN_PATIENCE.toSeconds() + " s for it to listen"
              : starting
              ? tries + (tries == 1 ? " try" : " tries") + " over " + UNAVAILABLE_PATIENCE.toMinutes() + " minutes"
              : attempts + (attempts == 1 ? " attempt" : " attempts")) + gaveUpNote + ")";
          throw e instanceof UnavailableAnswer u ? new ErrorAnswer(u.status, message, u.problem)
              : new BraidCli.CommandFailedException(message, 1);
        } else {
          wait = backoff;
          backoff = Math.min(backoff * 2, 8000);
        }
      }
      pause(wait);
    }
  }

  /** Sleeps {@code millis} between tries; an interrupt (Ctrl-C) ends the command with exit code 130. */
  static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new BraidCli.CommandFailedException("interrupted", 130);
    }
  }

  /**
   * An error answer of the server: its status, its detail as the message, and its body (the problem
   * document), which {@code --json} prints as it came.
   */
  static class ErrorAnswer extends BraidCli.CommandFailedException {
    final int status;
    final JsonNode problem;

    ErrorAnswer(int status, String message, JsonNode problem) {
      super(message, 1);
      this.status = status;
      this.problem = problem;
    }
  }

  /**
   * An answer of {@code 503 Service Unavailable}: worth the same request again later; after
   * {@code retryAfterMillis} when the server said so ({@code Retry-After} in seconds), else -1.
   */
  private static final class UnavailableAnswer extends ErrorAnswer {
    final long retryAfterMillis;

    UnavailableAnswer(String message, JsonNode problem, long retryAfterMillis) {
      super(503, message, problem);
      this.retryAfterMillis = retryAfterMillis;
    }

    /** Whether the server said it is starting (not a fault): a wait that ends by itself. */
    boolean starting() {
      return problem.path("type").asText().equals("/problems/starting");
    }

    /** Whether the server said it is stopping: nothing of the request was used, and a restart takes it. */
    boolean stopping() {
      return problem.path("type").asText().equals("/problems/stopping");
    }
  }

  /** A {@code Retry-After} of whole seconds in milliseconds, or -1 when absent or not seconds (an HTTP date). */
  static long retryAfterMillis(HttpResponse<?> r) {
    String v = r.headers().firstValue("Retry-After").orElse("").strip();
    if (v.isEmpty() || v.length() > 6 || !v.chars().allMatch(Character::isDigit)) {
      return -1;
    }
    return Long.parseLong(v) * 1000;
  }

  /** A request of {@link #follow} that got no answer: the server is not listening, or the connection broke. */
  static final class Unreachable extends BraidCli.CommandFailedException {
    /** Whether the URL's host has no address here (a typo, more likely than an outage). */
    final boolean unknownHost;

    Unreachable(String message, boolean unknownHost) {
      super(message, 1);
      this.unknownHost = unknownHost;
    }
  }

  /** A request that got no answer: the connection failed or timed out. */
  private static final class TransportException extends RuntimeException {
    /** Whether a connection to this machine failed: nothing listens at the address (yet). */
    final boolean notListening;

    TransportException(String message) {
      this(message, false);
    }

    TransportException(String message, boolean notListening) {
      super(message);
      this.notListening = notListening;
    }
  }

  /** An answer of the server: its status and JSON body (a problem document for an error). */
  record Answer(int status, JsonNode body) {}

  /**
   * Posts a body streamed from {@code body} (its length, or -1) and returns the answer whatever its
   * status, so a caller can print the details of a problem (a push's bad rows) before failing.
   */
  Answer postStream(String path, String contentType, java.util.function.Supplier<java.io.InputStream> body,
      Duration timeout, long length) {
    HttpRequest.BodyPublisher p = length == 0 ? HttpRequest.BodyPublishers.noBody() // an empty file
        : length > 0 ? HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(body), length)
        : HttpRequest.BodyPublishers.ofInputStream(body);
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).POST(p).header("Content-Type", contentType)
        .timeout(timeout);
    HttpResponse<String> r;
    try {
      r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      throw new BraidCli.CommandFailedException(unreachable(e), 1);
    } catch (IOException e) {
      throw new BraidCli.CommandFailedException(lostAnswer("POST", path, e), 1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BraidCli.CommandFailedException("interrupted", 130);
    }
    try {
      return new Answer(r.statusCode(), r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body()));
    } catch (IOException e) {
      // one line, as every error of the command line: an HTML error page is usually another server's
      throw new BraidCli.CommandFailedException(notJson(r.statusCode(), r.body()), 1);
    }
  }

  /**
   * Why a connection could not be made: the host of the URL has no address (a typo in --url), or
   * nothing listens there.
   */
  String unreachable(ConnectException e) {
    return unknownHost(e) ? "cannot reach Braid at " + base + ": no host named '" + URI.create(base).getHost()
        + "' is known here (is --url right?)" : "cannot reach Braid at " + base + ": is `braid server` running (or "
        + "pass --url)?";
  }

  /** Whether the URL's host is this machine: a loopback address or one of its interfaces'. */
  private boolean onThisMachine() {
    try {
      for (InetAddress a : InetAddress.getAllByName(URI.create(base).getHost())) {
        if (a.isLoopbackAddress() || a.isAnyLocalAddress() || NetworkInterface.getByInetAddress(a) != null) {
          return true;
        }
      }
      return false;
    } catch (IOException | IllegalArgumentException e) {
      return false;
    }
  }

  /** Whether {@code e} failed because the host has no address. */
  private static boolean unknownHost(ConnectException e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.nio.channels.UnresolvedAddressException || c instanceof java.net.UnknownHostException) {
        return true;
      }
    }
    return false;
  }

  /**
   * The message of an answer that is not JSON (a proxy's or another server's HTML page), in one line
   * and short, as every error of the command line.
   */
  private String notJson(int status, String body) {
    return String.format("the server at %s answered HTTP %d with a body that is not JSON (is --url a Braid server?): "
        + "%.200s", base, status, body.replaceAll("\\s+", " ").strip());
  }

  /**
   * The {@code detail} of error answer {@code body} (JSON), else the body itself, or, when it is empty
   * (a proxy's 502), what the answer was.
   */
  private String detail(int status, JsonNode body) {
    String detail = body.path("detail").asText("");
    if (detail.isBlank() && !body.isEmpty()) {
      detail = String.format("%.200s", body.toString());
    }
    return detail.isBlank() ? "the server at " + base + " answered HTTP " + status + " without saying why (is --url "
        + "a Braid server, or a proxy in front of one that could not reach it?)" : detail + " (HTTP " + status + ")";
  }

  /**
   * Why a request got no answer (the connection failed or closed before one): a request that changes
   * something may have taken effect, or not, and the message says so and where to look.
   */
  String lostAnswer(String method, String path, IOException e) {
    String why = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
    String msg = method + " " + path + " to " + base + " got no answer (" + why + ")";
    boolean read = method.equals("GET") || method.equals("HEAD") || path.endsWith(":batchGet");
    return read ? msg + "; is the server still running?"
        : msg + ": the server may have stopped while it worked, so whether the request took effect is unknown; "
            + "look with " + whereToLook(path) + " once the server is back";
  }

  /**
   * The command that shows what a request to {@code path} changed: the versions of its view or table,
   * or the status (a drop, {@code /v1/views/V} itself: the status lists the retired views).
   */
  static String whereToLook(String path) {
    String[] parts = path.split("/");
    if (parts.length > 4 && parts[1].equals("v1") && !parts[3].isEmpty()) {
      String name = java.net.URLDecoder.decode(parts[3], java.nio.charset.StandardCharsets.UTF_8);
      if (parts[2].equals("views")) {
        return "`braid versions " + name + "`";
      }
      if (parts[2].equals("tables")) {
        return "`braid versions " + name + " --table`";
      }
    }
    return "`braid status`";
  }

  /**
   * Follows the server-sent events at {@code path}, giving each event's data (JSON) to
   * {@code onEvent} until it returns false; comments (keep-alives) are skipped. Returns true when
   * {@code onEvent} ended it, false when the server ended the stream. An error answer throws as
   * {@link #get} does.
   */
  boolean follow(String path, java.util.function.Predicate<JsonNode> onEvent) {
    HttpRequest req = HttpRequest.newBuilder(uri(path)).header("Accept", "text/event-stream").GET().build();
    HttpResponse<java.util.stream.Stream<String>> r;
    try {
      r = http.send(req, HttpResponse.BodyHandlers.ofLines());
    } catch (ConnectException e) {
      throw new Unreachable(unreachable(e), unknownHost(e));
    } catch (IOException e) {
      throw new Unreachable(lostAnswer("GET", req.uri().getRawPath(), e), false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BraidCli.CommandFailedException("interrupted", 130);
    }
    try (java.util.stream.Stream<String> lines = r.body()) {
      if (r.statusCode() >= 400) {
        String body = lines.collect(java.util.stream.Collectors.joining("\n"));
        JsonNode problem;
        try {
          problem = body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body);
        } catch (IOException e) {
          throw new ErrorAnswer(r.statusCode(), notJson(r.statusCode(), body), JSON.createObjectNode());
        }
        throw new ErrorAnswer(r.statusCode(), detail(r.statusCode(), problem), problem);
      }
      String type = r.headers().firstValue("Content-Type").orElse("");
      if (!type.toLowerCase(java.util.Locale.ROOT).startsWith("text/event-stream")) { // a proxy's page, say
        throw new BraidCli.CommandFailedException(String.format("the server at %s answered HTTP %d with %s, not an "
            + "event stream (is --url a Braid server?): %.200s", base, r.statusCode(), type.isEmpty()
            ? "no Content-Type" : type, lines.limit(20).collect(java.util.stream.Collectors.joining(" "))
            .replaceAll("\\s+", " ").strip()), 1);
      }
      StringBuilder data = new StringBuilder();
      for (java.util.Iterator<String> it = lines.iterator(); it.hasNext(); ) {
        String line = it.next();
        if (line.startsWith("data:")) {
          data.append(data.length() == 0 ? "" : "\n").append(line.substring(line.startsWith("data: ") ? 6 : 5));
        } else if (line.isEmpty() && data.length() > 0) {
          JsonNode event;
          try {
            event = JSON.readTree(data.toString());
          } catch (IOException e) {
            throw new BraidCli.CommandFailedException("the server sent an event whose data is not JSON: "
                + data.toString().strip(), 1);
          }
          data.setLength(0);
          if (!onEvent.test(event)) {
            return true;
          }
        }
      }
      return false;
    } catch (java.io.UncheckedIOException e) { // the connection broke while reading
      return false;
    }
  }

  JsonNode delete(String path) {
    return send(HttpRequest.newBuilder(uri(path)).DELETE());
  }

  private URI uri(String path) {
    try {
      return URI.create(base + path);
    } catch (IllegalArgumentException e) {
      throw new BraidCli.CommandFailedException("bad server URL '" + base + "': " + e.getMessage(), 2);
    }
  }

  /**
   * The {@code ?wait=} in seconds of a request that waits for work on the server (a batch cycle, a
   * repair): a tenth of the timeout less, at most a minute (540 s of the default 600), so that work
   * that outlasts it is answered with {@code 202} (still running, and where to follow it) before the
   * request times out; at most the day a server waits.
   */
  long serverWaitSeconds() {
    long t = timeout.toSeconds();
    return Math.min(t - Math.max(1, Math.min(60, t / 10)), dev.braid.server.http.BraidServer.MAX_WAIT_SECONDS);
  }

  private JsonNode send(HttpRequest.Builder b) {
    try {
      return send(b, timeout);
    } catch (TransportException e) {
      throw new BraidCli.CommandFailedException(e.getMessage(), 1);
    }
  }

  private JsonNode send(HttpRequest.Builder b, Duration timeout) {
    HttpResponse<String> r;
    try {
      r = http.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      // Java's client says nothing more of a refused connection than of an unreachable host (no message, a
      // ClosedChannelException below), so a failed connect counts as not listening yet only on this machine,
      // where a server started a moment ago binds in seconds; another machine's refusal is more likely a firewall
      throw new TransportException(unreachable(e), !unknownHost(e) && onThisMachine());
    } catch (HttpTimeoutException e) {
      HttpRequest req = b.build();
      boolean read = req.method().equals("GET") || req.uri().getRawPath().endsWith(":batchGet");
      throw new TransportException(req.method() + " " + req.uri().getRawPath() + " to " + base + " timed out after "
          + timeout.toSeconds() + " s" + (read ? "" : "; the server may still be working on it: look with "
          + whereToLook(req.uri().getRawPath())));
    } catch (IOException e) {
      HttpRequest req = b.build();
      throw new TransportException(lostAnswer(req.method(), req.uri().getRawPath(), e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BraidCli.CommandFailedException("interrupted", 130);
    }
    JsonNode body;
    try {
      body = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    } catch (IOException e) {
      // one line, as every error of the command line: an HTML error page is usually another server's
      throw new BraidCli.CommandFailedException(notJson(r.statusCode(), r.body()), 1);
    }
    if (r.statusCode() >= 400) {
      String detail = detail(r.statusCode(), body);
      throw r.statusCode() == 503 ? new UnavailableAnswer(detail, body, retryAfterMillis(r))
          : new ErrorAnswer(r.statusCode(), detail, body);
    }
    return body;
  }
}
