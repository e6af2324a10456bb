package dev.braid.view;

import dev.braid.log.Cut;

/** The Delta of a version: one {@link PartitionDelta} per partition, each starting at the version's cut. */
final class Delta {

  final PartitionDelta[] partitions;
  /**
   * The compacted copy that replaced this Delta in the same version (see {@code ViewRuntime.rebuild}),
   * or null. Set once the copy follows the log, before the version switches to it, so the changes
   * feed that last drained this Delta reaches every later one: the marks made here before the copy
   * (whose groups were copied unmarked) are drained from here, later ones from the copy.
   */
  volatile Delta successor;
  /** Whether this Delta is a compacted copy of an earlier one of its version. Set before it is shared. */
  boolean compactedCopy;

  Delta(ViewProgram program, Cut from, int expectedKeysPerPartition) {
    partitions = new PartitionDelta[from.partitions()];
    for (int p = 0; p < partitions.length; p++) {
      partitions[p] = new PartitionDelta(p, program.newTable(expectedKeysPerPartition), from.offset(p));
    }
  }

  /** A Delta of existing partition Deltas (a compacted copy). */
  Delta(PartitionDelta[] partitions) {
    this.partitions = partitions;
  }

  /** The positions of all partitions, each read consistently with its own state. */
  Cut position() {
    long[] out = new long[partitions.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = partitions[p].position();
    }
    return Cut.of(out);
  }

  /** {@link #position()} read under each partition's read lock (see {@link PartitionDelta#positionLocked}). */
  Cut positionLocked() {
    long[] out = new long[partitions.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = partitions[p].positionLocked();
    }
    return Cut.of(out);
  }

  /**
   * Seeds every partition with its largest event time before {@code cut} by reading the log's
   * records (event and ingest times only) up to the cut, so that lateness decisions after the cut are
   * the same as those of a Delta that saw the whole log. Before the Delta is shared.
   *
   * <p>A partition that had no record before the cut but was <em>idle</em> there by the stream's
   * rule — the stream's records before the cut span at least {@code idleAfterMillis} of ingest time,
   * so the partition went that long without an event — does not hold finality back: it is seeded
   * with the smallest largest event time of the partitions that had records, as if it had seen that
   * much. Its first events after the cut are then late for the windows already {@code final}
   * ({@link ViewProgram#applySpeed} decides by the larger of the partition's own largest event time
   * and this seed), so the speed layer leaves them out, records them in the late log, and the next
   * batch cycle folds them in. The rule reads only the log before the cut (ingest times are in the
   * log, the clock is not consulted), so every replay of this version decides the same.
   */
  void seedEventTimes(dev.braid.log.LogStream stream, Cut cut, long idleAfterMillis) {
    long[] max = new long[partitions.length];
    long firstIngest = Long.MAX_VALUE;
    long lastIngest = Long.MIN_VALUE;
    for (int p = 0; p < partitions.length; p++) {
      long end = cut.offset(p);
      max[p] = Long.MIN_VALUE;
      if (end > stream.startOffset(p)) {
        try (dev.braid.log.LogReader r = stream.reader(p, stream.startOffset(p))) {
          while (r.position() < end) {
            dev.braid.log.RecordCursor c = r.poll();
            boolean any = false;
            while (c.next() && c.offset() < end) {
              any = true;
              // as the speed layer: an old log's time out of range moves no watermark
              if (ViewProgram.inWindowRange(c.eventTime())) {
                max[p] = Math.max(max[p], c.eventTime());
              }
              firstIngest = Math.min(firstIngest, c.ingestTime());
              lastIngest = Math.max(lastIngest, c.ingestTime());
            }
            if (!any) {
              break;
            }
          }
        }
      }
    }
    long slowest = Long.MAX_VALUE;
    for (long m : max) {
      if (m != Long.MIN_VALUE) {
        slowest = Math.min(slowest, m);
      }
    }
    boolean spanIdle = lastIngest != Long.MIN_VALUE && lastIngest - firstIngest >= idleAfterMillis;
    for (int p = 0; p < partitions.length; p++) {
      boolean idleEmpty = max[p] == Long.MIN_VALUE && spanIdle && slowest != Long.MAX_VALUE;
      partitions[p].seedCutMaxEventTime(idleEmpty ? slowest : max[p], idleEmpty);
    }
  }

  /**
   * The stream's watermark at the version's cut as the speed layer sees it for lateness: the
   * smallest of the partitions' largest event times before the cut (a partition that was idle there
   * without any record counts with its seed, see {@link #seedEventTimes}), minus {@code maxOutOfOrder};
   * {@code Long.MIN_VALUE} when any partition's is unknown. A window whose end plus the allowed
   * lateness is at or below it had closed on every partition before the cut, so the speed layer
   * adds nothing to it: its merged result is the Base's.
   */
  long cutWatermark(long maxOutOfOrder) {
    long min = Long.MAX_VALUE;
    for (PartitionDelta d : partitions) {
      min = Math.min(min, d.cutMaxEventTime);
    }
    return min == Long.MIN_VALUE || min == Long.MAX_VALUE ? Long.MIN_VALUE : min - maxOutOfOrder;
  }

  /** Heap bytes of the in-memory tables. */
  long memoryBytes() {
    return sumLocked(d -> d.table.memoryBytes());
  }

  /** The (key, window) groups held in memory. */
  long groups() {
    return sumLocked(d -> d.table.groupCount());
  }

  /** Keys in memory (a key in several partitions counts once per partition). */
  long keys() {
    return sumLocked(d -> d.table.keyCount());
  }

  /**
   * Events after the cut that this Delta left out, over every partition, each count read without the lock as the
   * writer last wrote it.
   *
   * @param skipped an expression or an aggregation failed on them
   * @param withoutKey the filter admitted them and they have no value for the group key
   * @param complete false when a partition counts only from a checkpoint older than format 4
   */
  record LeftOut(long skipped, long withoutKey, boolean complete) {}

  LeftOut leftOut() {
    long skipped = 0;
    long withoutKey = 0;
    boolean complete = true;
    for (PartitionDelta d : partitions) { // without the locks: status must not wait for, nor slow, a replay
      skipped += d.skipped;
      withoutKey += d.withoutKey;
      complete &= d.countsKnown;
    }
    return new LeftOut(skipped, withoutKey, complete);
  }

  /** The sum of {@code f} over every partition, each read under its read lock. */
  private long sumLocked(java.util.function.ToLongFunction<PartitionDelta> f) {
    long n = 0;
    for (PartitionDelta d : partitions) {
      long stamp = d.readLockBeforeWriter();
      try {
        n += f.applyAsLong(d);
      } finally {
        d.lock.unlockRead(stamp);
      }
    }
    return n;
  }

  /** The closed-window runs of every partition. */
  java.util.List<ClosedRun> runs() {
    java.util.List<ClosedRun> out = new java.util.ArrayList<>();
    for (PartitionDelta d : partitions) {
      out.addAll(java.util.Arrays.asList(d.runs));
    }
    return out;
  }

}
