package dev.braid.log;

/** A record whose key plus value exceeds the stream's {@code maxRecordBytes}. */
public final class RecordTooLargeException extends LogException {
  public RecordTooLargeException(int size, int max) {
    super(String.format("record of %d bytes (key + value) exceeds the maximum of %d bytes", size, max));
  }
}
