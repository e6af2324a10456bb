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
    return explained(String.valueOf(e.getMessage()));
  }

  /**
   * What {@code File too large} ({@code EFBIG}) means, which its words hide: not a full disk, but a
   * file at the process's file size limit.
   */
  public static final String FILE_SIZE_LIMIT_ADVICE = "the file reached the process's file size limit (ulimit -f) "
      + "or the largest file of its file system, and disk space may be free: raise the limit, e.g. prlimit "
      + "--fsize=unlimited --pid <server pid>";

  /** The operating system's {@code reason}, with {@link #FILE_SIZE_LIMIT_ADVICE} after a {@code File too large}. */
  static String explained(String reason) {
    return reason.toLowerCase(java.util.Locale.ROOT).contains("file too large") ? reason + " ("
        + FILE_SIZE_LIMIT_ADVICE + ")" : reason;
  }
}
