package dev.braid;

/**
 * A key that no group or row can have, such as text where every key is a whole number: the read is
 * refused rather than answered with {@code found: false}, which would hide the mistake.
 */
public final class BadKeyException extends IllegalArgumentException {
  public BadKeyException(String message) {
    super(message);
  }

  /** As above, with the exception it restates (a batch read's, naming the key's index). */
  public BadKeyException(String message, Throwable cause) {
    super(message, cause);
  }
}
