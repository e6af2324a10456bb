package dev.braid.view;

import dev.braid.log.Cut;

/** The Delta of a version: one {@link PartitionDelta} per partition, each starting at the version's cut. */
final class Delta {

  final PartitionDelta[] partitions;

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

  /**
   * Seeds every partition with its largest event time before {@code cut} by reading the log's
   * records (event times only) up to the cut, so that lateness decisions after the cut are the same
   * as those of a Delta that saw the whole log. Before the Delta is shared.
   */
  void seedEventTimes(dev.braid.log.LogStream stream, Cut cut) {
    for (int p = 0; p < partitions.length; p++) {
      long end = cut.offset(p);
      long max = Long.MIN_VALUE;
      if (end > stream.startOffset(p)) {
        try (dev.braid.log.LogReader r = stream.reader(p, stream.startOffset(p))) {
          while (r.position() < end) {
            dev.braid.log.RecordCursor c = r.poll();
            boolean any = false;
            while (c.next() && c.offset() < end) {
              any = true;
              max = Math.max(max, c.eventTime());
            }
            if (!any) {
              break;
            }
          }
        }
      }
      partitions[p].seedCutMaxEventTime(max);
    }
  }

  /**
   * The stream's watermark at the version's cut as the speed layer sees it for lateness: the
   * smallest of the partitions' largest event times before the cut, minus {@code maxOutOfOrder};
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
    return sumLocked(GroupTable::memoryBytes);
  }

  /** The (key, window) groups held in memory. */
  long groups() {
    return sumLocked(GroupTable::groupCount);
  }

  /** Keys in memory (a key in several partitions counts once per partition). */
  long keys() {
    return sumLocked(GroupTable::keyCount);
  }

  /** The sum of {@code f} over every partition's table, each read under its read lock. */
  private long sumLocked(java.util.function.ToLongFunction<GroupTable> f) {
    long n = 0;
    for (PartitionDelta d : partitions) {
      long stamp = d.lock.readLock();
      try {
        n += f.applyAsLong(d.table);
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
