package dev.braid.server.http;

/**
 * An error answered as RFC 9457 {@code application/problem+json}: a status, a stable type, a short
 * title and a {@code detail} a person can act on. Thrown by handlers; the server renders it.
 */
public final class Problem extends RuntimeException {

  private final int status;
  private final String type;
  private final String title;

  public Problem(int status, String type, String title, String detail) {
    super(detail);
    this.status = status;
    this.type = type;
    this.title = title;
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
