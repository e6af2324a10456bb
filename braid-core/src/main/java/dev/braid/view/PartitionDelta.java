package dev.braid.view;

import java.util.concurrent.locks.StampedLock;

/**
 * The Delta of one version over one partition: accumulators of the events from the version's cut
 * up to {@link #position()}. Written by the partition's speed-layer thread only; read by any thread.
 * The writer takes {@link #lock} once per small batch of events and moves the position inside the
 * same critical section, so a reader always sees state and position that belong together.
 */
final class PartitionDelta {

  final int partition;
  final GroupTable table;
  final StampedLock lock = new StampedLock();
  /** Next offset to fold; every event of this partition in [cut, position) is in {@link #table}. */
  private long position; // guarded by lock
  private long folded; // guarded by lock

  PartitionDelta(int partition, GroupTable table, long from) {
    this.partition = partition;
    this.table = table;
    this.position = from;
  }

  /** Called by the writer while it holds the write lock. */
  void advance(long nextPosition, long foldedEvents) {
    position = nextPosition;
    folded += foldedEvents;
  }

  long position() {
    long stamp = lock.tryOptimisticRead();
    long p = position;
    if (!lock.validate(stamp)) {
      stamp = lock.readLock();
      try {
        p = position;
      } finally {
        lock.unlockRead(stamp);
      }
    }
    return p;
  }

  /** Position for the writer thread, which needs no lock to read what it wrote. */
  long writerPosition() {
    return position;
  }

  /** Events folded, for the writer or a thread that holds the lock. */
  long foldedUnlocked() {
    return folded;
  }

  /** Sets the folded count of a Delta restored from a checkpoint, before any thread shares it. */
  void restoreFolded(long foldedEvents) {
    folded = foldedEvents;
  }

  long folded() {
    long stamp = lock.readLock();
    try {
      return folded;
    } finally {
      lock.unlockRead(stamp);
    }
  }
}
