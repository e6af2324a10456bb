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

  long memoryBytes() {
    long b = 0;
    for (PartitionDelta d : partitions) {
      long stamp = d.lock.readLock();
      try {
        b += d.table.memoryBytes();
      } finally {
        d.lock.unlockRead(stamp);
      }
    }
    return b;
  }

  long keys() {
    long k = 0;
    for (PartitionDelta d : partitions) {
      long stamp = d.lock.readLock();
      try {
        k += d.table.keyCount();
      } finally {
        d.lock.unlockRead(stamp);
      }
    }
    return k;
  }
}
