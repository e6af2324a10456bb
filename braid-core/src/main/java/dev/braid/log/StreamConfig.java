package dev.braid.log;

/**
 * How a stream's log is laid out and how durable its appends are. Fixed when the stream is created;
 * {@code partitions} can never change afterwards because the partitioner depends on it.
 *
 * @param partitions number of partitions, 1..4096
 * @param durability when appends are acknowledged
 * @param segmentBytes size at which a partition rolls to a new segment file, 4 KiB..2 GiB - 1
 * @param maxRecordBytes largest key + value accepted in one record
 * @param firstOffset the offset of every partition's first record (0 unless a stream takes the place
 *     of an older one of the same name whose offsets its readers may still hold: a dropped view's
 *     changes log, whose offsets are the ids of its events)
 */
public record StreamConfig(int partitions, Durability durability, long segmentBytes, int maxRecordBytes,
    long firstOffset) {

  public static final long DEFAULT_SEGMENT_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_RECORD_BYTES = 1 << 20;

  public StreamConfig {
    if (partitions < 1 || partitions > 4096) {
      throw new IllegalArgumentException("partitions must be in 1..4096, got " + partitions);
    }
    if (durability == null) {
      throw new IllegalArgumentException("durability is required");
    }
    // The sparse index stores file positions as 32-bit ints.
    if (segmentBytes < 4096 || segmentBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("segmentBytes must be in 4096..2147483647, got " + segmentBytes);
    }
    if (maxRecordBytes < 1 || maxRecordBytes > (64 << 20)) {
      throw new IllegalArgumentException("maxRecordBytes must be in 1..67108864, got " + maxRecordBytes);
    }
    if (firstOffset < 0 || firstOffset > Long.MAX_VALUE / 2) {
      throw new IllegalArgumentException("firstOffset must be in 0.." + Long.MAX_VALUE / 2 + ", got " + firstOffset);
    }
  }

  /** A stream whose partitions start at offset 0. */
  public StreamConfig(int partitions, Durability durability, long segmentBytes, int maxRecordBytes) {
    this(partitions, durability, segmentBytes, maxRecordBytes, 0);
  }

  /** {@code partitions} partitions, {@code os} durability, default segment and record sizes. */
  public static StreamConfig of(int partitions) {
    return new StreamConfig(partitions, Durability.os(), DEFAULT_SEGMENT_BYTES, DEFAULT_MAX_RECORD_BYTES);
  }

  public StreamConfig withDurability(Durability d) {
    return new StreamConfig(partitions, d, segmentBytes, maxRecordBytes, firstOffset);
  }

  public StreamConfig withSegmentBytes(long bytes) {
    return new StreamConfig(partitions, durability, bytes, maxRecordBytes, firstOffset);
  }

  public StreamConfig withMaxRecordBytes(int bytes) {
    return new StreamConfig(partitions, durability, segmentBytes, bytes, firstOffset);
  }

  public StreamConfig withFirstOffset(long offset) {
    return new StreamConfig(partitions, durability, segmentBytes, maxRecordBytes, offset);
  }
}
