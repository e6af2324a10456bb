package dev.braid.spec;

/**
 * One problem in a pipeline spec.
 *
 * @param source the file (or "java" for a spec built in code)
 * @param path where in the spec, e.g. {@code views.spend_by_user.aggregate.total}
 * @param message what is wrong
 */
public record SpecError(String source, String path, String message) {
  @Override
  public String toString() {
    return source + ": " + (path.isEmpty() ? "" : path + ": ") + message;
  }
}
