package dev.braid.server.http;

/**
 * An error answered as RFC 9457 {@code application/problem+json}: a status, a stable type, a short
 * title and a {@code detail} a person can act on. Thrown by handlers; the server renders it.
 */
public final class Problem extends RuntimeException {

  private final int status;
  private final String type;
  private final String title;
  private final java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();

  public Problem(int status, String type, String title, String detail) {
    super(detail);
    this.status = status;
    this.type = type;
    this.title = title;
  }

  /** Adds a response header (e.g. {@code Retry-After}); returns this. */
  public Problem withHeader(String name, String value) {
    headers.put(name, value);
    return this;
  }

  /** Headers to send with the problem. */
  public java.util.Map<String, String> headers() {
    return java.util.Collections.unmodifiableMap(headers);
  }

  public int status() {
    return status;
  }

  /** A relative URI naming the kind of problem, e.g. {@code /problems/unknown-view}. */
  public String type() {
    return "/problems/" + type;
  }

  public String title() {
    return title;
  }

  public String detail() {
    return getMessage();
  }

  static Problem badRequest(String type, String detail) {
    return new Problem(400, type, "Bad request", detail);
  }

  static Problem notFound(String type, String detail) {
    return new Problem(404, type, "Not found", detail);
  }
}
