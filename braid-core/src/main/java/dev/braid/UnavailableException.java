package dev.braid;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A view, stream or table that Braid refuses to serve because a file it depends on is damaged: a
 * view's or a table's Base file that fails its checks, or a sealed log segment. Serving it would
 * give wrong answers, so reads (or ingest, or a table's writes) fail with this until it is
 * repaired; everything else keeps serving. The message names the file, the byte offset of the
 * damage and what to do about it ({@link #repair()}).
 */
public final class UnavailableException extends RuntimeException {

  private final String kind;
  private final String name;
  private final Path file;
  private final String reason;
  private final String repair;

  /**
   * @param kind {@code view}, {@code stream} or {@code table}
   * @param reason what is wrong, naming the file and byte offset
   * @param repair what the operator can do, e.g. {@code run `braid repair spend_by_user`}
   */
  public UnavailableException(String kind, String name, Path file, String reason, String repair) {
    super(String.format("%s '%s' is unavailable: %s; %s", kind, name, reason, repair));
    this.kind = Objects.requireNonNull(kind);
    this.name = Objects.requireNonNull(name);
    this.file = file;
    this.reason = Objects.requireNonNull(reason);
    this.repair = Objects.requireNonNull(repair);
  }

  /** {@code view}, {@code stream} or {@code table}. */
  public String kind() {
    return kind;
  }

  public String name() {
    return name;
  }

  /** The damaged file, or null if unknown. */
  public Path file() {
    return file;
  }

  /** What is wrong, naming the file and byte offset. */
  public String reason() {
    return reason;
  }

  /** What the operator can do. */
  public String repair() {
    return repair;
  }
}
