package dev.braid.log;

/** A read or seek to an offset past the end of a partition. */
public final class OffsetOutOfRangeException extends LogException {
  public OffsetOutOfRangeException(String stream, int partition, long offset, long end) {
    super(String.format("offset %d of stream '%s' partition %d is past the end of the partition (next offset %d)",
        offset, stream, partition, end));
  }
}
