package dev.braid.log;

/** A read or seek to an offset before the start of a partition (a negative one) or past its end. */
public final class OffsetOutOfRangeException extends LogException {
  public OffsetOutOfRangeException(String stream, int partition, long offset, long start, long end) {
    super(offset < 0
        ? String.format("offset %d of stream '%s' partition %d is negative: offsets start at %d (next offset %d)",
            offset, stream, partition, start, end)
        : offset < start
        ? String.format("offset %d of stream '%s' partition %d is before the partition's first offset %d (next offset "
            + "%d)", offset, stream, partition, start, end)
        : String.format("offset %d of stream '%s' partition %d is past the end of the partition (next offset %d)",
            offset, stream, partition, end));
  }
}
