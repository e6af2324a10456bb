package dev.braid.log;

/** A read or seek to an offset before the start (a negative one) or past the end of a partition. */
public final class OffsetOutOfRangeException extends LogException {
  public OffsetOutOfRangeException(String stream, int partition, long offset, long end) {
    super(offset < 0
        ? String.format("offset %d of stream '%s' partition %d is negative: offsets start at 0 (next offset %d)",
            offset, stream, partition, end)
        : String.format("offset %d of stream '%s' partition %d is past the end of the partition (next offset %d)",
            offset, stream, partition, end));
  }
}
