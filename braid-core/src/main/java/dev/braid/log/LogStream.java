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
}
