package dev.braid.log;

/** A failure of the log that the caller did not cause by misuse: I/O, corruption, locking. */
public class LogException extends RuntimeException {
  public LogException(String message) {
    super(message);
  }

  public LogException(String message, Throwable cause) {
    super(message, cause);
  }
}
