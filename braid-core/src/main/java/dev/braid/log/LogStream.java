package dev.braid.log;

/**
 * One stream of a {@link Log}: a fixed number of append-only partitions. Any number of threads may
 * append; appends to one partition are serialized (one writer at a time), and a partition keeps
 * the order of its appends. Any number of readers may read concurrently with the writers.
 */
public interface LogStream {

  String name();

  StreamConfig config();

  default int partitions() {
    return config().partitions();
  }

  /**
   * Appends the builder's records to {@code partition} as one batch and returns their offsets once
   * they are as durable as the stream's {@link Durability} promises. The builder is not cleared.
   * An empty builder appends nothing and returns an empty result. Throws
   * {@link RecordTooLargeException}, appending nothing, when a record's key + value exceed the
   * stream's {@code maxRecordBytes}.
   */
  AppendResult append(int partition, RecordBatchBuilder batch);

  /** A reader of {@code partition} positioned at {@code fromOffset}. */
  LogReader reader(int partition, long fromOffset);

  /** The next offset {@code partition} will assign: every record below it is readable. */
  long endOffset(int partition);

  /** The first offset still held by {@code partition} (0 while retention is infinite). */
  long startOffset(int partition);

  /** The end offsets of all partitions, read one after another (not one atomic snapshot). */
  default Cut end() {
    long[] offsets = new long[partitions()];
    for (int p = 0; p < offsets.length; p++) {
      offsets[p] = endOffset(p);
    }
    return Cut.of(offsets);
  }

  /** The partition that records with this key go to; see {@link Partitioner}. */
  default int partitionFor(byte[] key) {
    return Partitioner.partition(key, 0, key.length, partitions());
  }

  /** Forces everything appended so far to disk, whatever the durability mode. */
  void flush();

  /**
   * How far ingest times may step back within a partition: writers stamp a batch before they take
   * the partition's append lock, so a batch may carry a time a little older than the one before
   * it, never by this much. {@link #firstOffsetIngestedAtOrAfter} relies on it.
   */
  long INGEST_TIME_SLACK_MILLIS = 5_000;

  /**
   * The offset of the first record of {@code partition} below {@code end} whose ingest time is at
   * or after {@code ingestTimeMillis}, or {@code end} if there is none. A binary search over
   * offsets for a record ingested before {@code ingestTimeMillis - }{@link #INGEST_TIME_SLACK_MILLIS}
   * (O(log n) reads of one batch each), then a forward scan from there that covers the records of
   * about that slack, not the partition from its start. Used to start a replay at a point in
   * time (a table push's {@code --since}, the dedup index rebuilt at start-up).
   */
  default long firstOffsetIngestedAtOrAfter(int partition, long ingestTimeMillis, long end) {
    long a = startOffset(partition);
    try (LogReader r = reader(partition, a)) {
      long b = end; // every record below a was ingested before the time minus the slack, or a is the start
      while (b - a > 64) {
        long mid = a + (b - a) / 2;
        r.seek(mid);
        RecordCursor c = r.poll();
        if (!c.next()) {
          b = mid;
        } else if (c.ingestTime() < ingestTimeMillis - INGEST_TIME_SLACK_MILLIS) {
          a = c.offset();
        } else {
          b = mid;
        }
      }
      r.seek(a);
      while (r.position() < end) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next()) {
          any = true;
          if (c.offset() >= end) {
            return end;
          }
          if (c.ingestTime() >= ingestTimeMillis) {
            return c.offset();
          }
        }
        if (!any) {
          break;
        }
      }
    }
    return end;
  }
}
