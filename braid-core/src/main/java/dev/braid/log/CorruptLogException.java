package dev.braid.log;

import java.nio.file.Path;

/**
 * Stored data failed a check; names the kind of file, the file and the byte position of the bad
 * data. Thrown for the log's own files (segments and indexes) and for the other files Braid keeps
 * beside it (Bases, runs, the catalog), whose kind the message says: {@code corrupt table Base
 * data/tables/users/v9.base at byte 96: table base body checksum mismatch}.
 */
public final class CorruptLogException extends LogException {
  /** The kind of the log's own files. */
  public static final String LOG_FILE = "log file";

  private final String kind;
  private final Path file;
  private final long position;
  private final String what;

  /** Damage in a file of the log (a segment or its index). */
  public CorruptLogException(Path file, long position, String what) {
    this(LOG_FILE, file, position, what);
  }

  /**
   * Damage in a stored file of kind {@code kind}, as the message names it: {@code view Base},
   * {@code table Base}, {@code catalog}, ...
   */
  public CorruptLogException(String kind, Path file, long position, String what) {
    super(String.format("corrupt %s %s at byte %d: %s", kind, file, position, what));
    this.kind = kind;
    this.file = file;
    this.position = position;
    this.what = what;
  }

  /** The kind of file, as the message names it ({@link #LOG_FILE} for the log's own). */
  public String kind() {
    return kind;
  }

  /** What check the data failed, without the file and position. */
  public String what() {
    return what;
  }

  public Path file() {
    return file;
  }

  public long position() {
    return position;
  }
}
