package dev.braid.log;

import java.nio.file.Path;

/** Stored log data failed a check; names the file and the byte position of the bad data. */
public final class CorruptLogException extends LogException {
  private final Path file;
  private final long position;
  private final String what;

  public CorruptLogException(Path file, long position, String what) {
    super(String.format("corrupt log file %s at byte %d: %s", file, position, what));
    this.file = file;
    this.position = position;
    this.what = what;
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
