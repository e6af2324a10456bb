package dev.braid.log;

/** A failure of the log that the caller did not cause by misuse: I/O, corruption, locking. */
public class LogException extends RuntimeException {
  public LogException(String message) {
    super(message);
  }

  public LogException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * What went wrong in {@code e}, with the operating system's reason: the message of an
   * {@link java.nio.file.AccessDeniedException} or {@link java.nio.file.NoSuchFileException} is the
   * path alone, which reads as if the path were the problem.
   */
  public static String describe(java.io.IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException a) {
      return a.getFile() + ": permission denied";
    }
    if (e instanceof java.nio.file.NoSuchFileException n) {
      return n.getFile() + ": no such file or directory";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() == null) {
      return f.getMessage() + " (" + e.getClass().getSimpleName() + ")";
    }
    return String.valueOf(e.getMessage());
  }
}
