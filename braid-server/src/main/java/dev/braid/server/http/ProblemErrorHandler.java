package dev.braid.server.http;

import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Answers the errors that Jetty raises before a request reaches Braid's routes (a path with a
 * malformed percent-escape, an ambiguous path, headers over the limit) as RFC 9457 problem
 * documents, like every other error of the API, instead of Jetty's HTML page.
 */
final class ProblemErrorHandler extends ErrorHandler {

  private final MeterRegistry metrics;

  /** @param metrics where the answers are counted, as the routes' are ({@code route="none"}) */
  ProblemErrorHandler(MeterRegistry metrics) {
    this.metrics = metrics;
    setShowStacks(false);
    setShowCauses(false);
  }

  /**
   * Every method gets its problem document: Jetty writes an error body only for GET, POST and HEAD,
   * and answered a refused PUT, PATCH or DELETE (a malformed {@code Content-Length}, a 503 during a
   * stop) with an empty body.
   */
  @Override
  public boolean errorPageForMethod(String method) {
    return true;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) {
    String reason = HttpStatus.getMessage(code);
    String detail = "the request was refused before it reached Braid (" + code + " " + reason + ")"
        + (message == null || message.isBlank() || message.equals(reason) ? "" : ": " + message)
        + (code != 400 ? "" : urlRefused(request, message) ? URL_ADVICE : HEADER_ADVICE);
    // Jetty answers 503 itself only while the server stops (its graceful stop refuses new requests)
    Problem p = code == 503 ? BraidServer.stopping("the server is stopping and takes no new requests")
        : new Problem(code, code == 400 ? "bad-request" : "http-" + code, reason, detail);
    p.headers().forEach((name, value) -> response.getHeaders().put(name, value));
    byte[] body = BraidServer.write(Json.problem(p, path(request)));
    // counted before the answer leaves: a client that reads /metrics once it has the answer finds it counted
    PointReadHandler.responses(metrics, request.getMethod(), "none", code).increment();
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/problem+json");
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  private static final String URL_ADVICE = ": the URL could not be parsed; check its percent-escapes (% must be "
      + "followed by two hex digits; send a literal % as %25; a path cannot hold NUL, %00: read such a key with a "
      + "keys:batchGet or rows:batchGet request)";

  private static final String HEADER_ADVICE = ": the URL was fine, a request header was not; check the headers the "
      + "client sends (Content-Length is the body's size in bytes, given once; Host is given once; a header name "
      + "holds no spaces or control characters)";

  /**
   * Whether Jetty refused the request for its URL rather than for a header: it keeps no URL it
   * could not parse ({@code /badMessage}), records what it disliked in one it could ({@code
   * BAD_UTF8_ENCODING}), and names URI problems in its message. A header refused after a clean
   * URL ("Invalid Content-Length Value", "Duplicate Host Header") must not send the user to the
   * URL's percent-escapes.
   */
  private static boolean urlRefused(Request request, String message) {
    String path = path(request);
    // not "encoding" alone: "Transfer-Encoding" and "Content-Encoding" are headers
    if (path.isEmpty() || message != null && message.matches("(?i).*\\b(uri|url|path|utf-8)\\b.*")) {
      return true;
    }
    try {
      return !request.getHttpURI().getViolations().isEmpty();
    } catch (RuntimeException e) {
      return true;
    }
  }

  /** The request's path as sent, or "" when even that cannot be read. */
  private static String path(Request request) {
    try {
      String path = request.getHttpURI().getPath();
      return path == null || path.equals("/badMessage") ? "" : path; // Jetty's own path for a URI it refused
    } catch (RuntimeException e) {
      return "";
    }
  }
}
