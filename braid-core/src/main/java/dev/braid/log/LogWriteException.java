package dev.braid.log;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * The log could not write or fsync: the disk is full, the data directory is not writable, or the
 * device failed. Names the stream, the partition, the file and the operating system's reason, and
 * says which {@link Kind} of fault it is, so a server can answer {@code 507} for a full disk and
 * {@code 503} for the rest.
 *
 * <p>The partition is left consistent: a batch whose write failed was never published and its
 * partial bytes were cut, so the end offset is unchanged and the next append lands where this one
 * would have. Once the cause is gone (space freed, permissions fixed) the next append works; the
 * log needs no reopen. See {@code FilePartition} for what a failed fsync means.
 */
public class LogWriteException extends LogException {

  /** What kind of storage fault it is. */
  public enum Kind {
    /** No space left on the device, or a quota is exhausted: retry once space is freed. */
    STORAGE_FULL("no space left on device"),
    /**
     * A file reached the largest size the process may write: its file size limit ({@code ulimit -f},
     * {@code EFBIG}) or the file system's largest file. Space may be free; raise the limit.
     */
    FILE_SIZE_LIMIT("file size limit reached"),
    /** The file system is read-only or the process lacks permission. */
    UNWRITABLE("data directory not writable"),
    /** Any other I/O error of the device or file system. */
    IO_ERROR("I/O error");

    private final String summary;

    Kind(String summary) {
      this.summary = summary;
    }

    /** A few words for status pages, e.g. {@code no space left on device}. */
    public String summary() {
      return summary;
    }
  }

  private final String stream;
  private final int partition;
  private final Path file;
  private final Kind kind;
  private final String reason;

  LogWriteException(String stream, int partition, Path file, String operation, IOException cause) {
    this(stream, partition, file, operation, classify(cause), reasonOf(cause), cause);
  }

  private LogWriteException(String stream, int partition, Path file, String operation, Kind kind, String reason,
      IOException cause) {
    super(String.format("stream '%s' partition %d: %s %s failed: %s", stream, partition, operation, file, reason),
        cause);
    this.stream = Objects.requireNonNull(stream);
    this.partition = partition;
    this.file = Objects.requireNonNull(file);
    this.kind = kind;
    this.reason = reason;
  }

  /** Makes the right subclass for {@code cause}: a {@link StorageFullException} when the disk is full. */
  static LogWriteException of(String stream, int partition, Path file, String operation, IOException cause) {
    return classify(cause) == Kind.STORAGE_FULL
        ? new StorageFullException(stream, partition, file, operation, cause)
        : new LogWriteException(stream, partition, file, operation, cause);
  }

  /**
   * The kind of storage fault an {@link IOException} reports. The JDK turns {@code ENOSPC},
   * {@code EDQUOT}, {@code EROFS} and {@code EACCES} into exceptions that carry only the
   * operating system's message, so this reads it ("No space left on device", "Disk quota
   * exceeded", "Read-only file system", "Permission denied").
   */
  public static Kind classify(IOException e) {
    if (e instanceof AccessDeniedException) {
      return Kind.UNWRITABLE;
    }
    String m = reasonOf(e).toLowerCase(Locale.ROOT);
    if (m.contains("no space left") || m.contains("quota exceeded")) {
      return Kind.STORAGE_FULL;
    }
    if (m.contains("file too large")) {
      return Kind.FILE_SIZE_LIMIT;
    }
    if (m.contains("read-only file system") || m.contains("permission denied") || m.contains("operation not permitted")) {
      return Kind.UNWRITABLE;
    }
    return Kind.IO_ERROR;
  }

  private static String reasonOf(IOException e) {
    String os;
    if (e instanceof FileSystemException fse) {
      // NoSuchFile, FileAlreadyExists, AccessDenied... carry only the path unless the OS gave a reason
      os = fse.getReason() != null ? fse.getReason() : e.getClass().getSimpleName();
    } else {
      os = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
    return LogException.explained(os);
  }

  /** Events of the same request in the stream despite this failure; see {@link #noteAppended}. */
  private int appended;
  /** The records this append published although it failed (only its fsync did); null when none. */
  private AppendResult published;

  /**
   * Notes that {@code events} events of the request that failed here are in the stream all the
   * same: appended to other partitions before it failed (each partition is its own append), and
   * those of this append when only its fsync failed ({@link #published()}). The views count them, and
   * a retry of the whole request without ids would append them again. Returns this.
   */
  public LogWriteException noteAppended(int events) {
    this.appended = events;
    return this;
  }

  /** The events of the request in the stream despite the failure (0 when none, or when no ingest noted them). */
  public int appended() {
    return appended;
  }

  /** Notes the records this append wrote and published before its fsync failed. Returns this. */
  LogWriteException published(AppendResult records) {
    this.published = records;
    return this;
  }

  /**
   * The records of the failed append that are in the log all the same (written and readable: only
   * the fsync that would make them durable failed, so a power loss may still take them), or null
   * when the write itself failed and nothing of it is in the log.
   */
  public AppendResult published() {
    return published;
  }

  public String stream() {
    return stream;
  }

  public int partition() {
    return partition;
  }

  /** The segment (or index) file the write or fsync was for. */
  public Path file() {
    return file;
  }

  public Kind kind() {
    return kind;
  }

  /**
   * This fault as health and status list it for a stream or table until an append succeeds again:
   * {@code failing: no space left on device at FILE (REASON)}.
   */
  public String failing() {
    return "failing: " + kind.summary() + " at " + file + " (" + reason + ")";
  }

  /** The operating system's reason, e.g. {@code No space left on device}. */
  public String reason() {
    return reason;
  }
}
