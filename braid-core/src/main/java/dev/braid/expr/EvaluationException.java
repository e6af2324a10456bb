package dev.braid.expr;

/** An expression failed on one event at run time (e.g. division by zero); the event is skipped and counted. */
public final class EvaluationException extends RuntimeException {
  public EvaluationException(String message, Throwable cause) {
    super(message, cause, false, false);
  }
}
