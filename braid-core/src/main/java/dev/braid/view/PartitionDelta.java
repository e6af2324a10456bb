package dev.braid.view;

import java.util.concurrent.locks.StampedLock;

/**
 * The Delta of one version over one partition: accumulators of the events from the version's cut
 * up to {@link #position()}. Written by the partition's speed-layer thread only; read by any thread.
 * The writer takes {@link #lock} once per small batch of events and moves the position inside the
 * same critical section, so a reader always sees state and position that belong together.
 *
 * <p>A windowed Delta's table marks the keys the writer folds events into (see
 * {@link GroupTable#markChanged}); the changes feed drains them ({@link #drainChanged}) so that a
 * pass re-reads only keys that can have changed. Groups put into the table otherwise (a checkpoint
 * load, a compacted copy) are not marked: whoever builds such a Delta is read in full once.
 */
final class PartitionDelta {

  final int partition;
  final GroupTable table;
  final StampedLock lock = new StampedLock();
  /** Threads in {@link #readLockBeforeWriter}, waiting for the read lock. */
  private final java.util.concurrent.atomic.AtomicInteger readersWaiting =
      new java.util.concurrent.atomic.AtomicInteger();
  /**
   * Next offset to fold; every event of this partition in [cut, position) is in {@link #table}. Written by the
   * writer under the lock as a batch ends; volatile so that {@link #position()} needs no lock (status reads it
   * while a replay writes, see {@link #readLockBeforeWriter}).
   */
  private volatile long position;
  private long folded; // guarded by lock
  /**
   * The largest event time of this partition's records below {@link #position()} (from the log's
   * start when {@link #cutMaxEventTime} was seeded, else from the cut), or {@code Long.MIN_VALUE}.
   * The partition's watermark for lateness decisions is this minus the stream's
   * {@code max_out_of_order}: it depends only on the log, so every replay decides alike.
   */
  long maxEventTime = Long.MIN_VALUE; // guarded by lock; the writer reads it without
  /**
   * The largest event time of the partition's records before the version's cut, or
   * {@code Long.MIN_VALUE} when not known (a kappa Delta from the log's start, or a view without
   * {@code allowed_lateness}, whose cut is not scanned); for a partition that was idle at the cut
   * without any record, the seed of {@link Delta#seedEventTimes}; at least the version's lateness
   * floor ({@code Version#lateFloor}). Set before the Delta is shared.
   */
  long cutMaxEventTime = Long.MIN_VALUE;
  /**
   * Events this Delta left out of some window as later than {@code allowed_lateness} (the speed
   * layer's only departure from what a batch cycle folds); guarded by lock, written by the writer.
   * Meaningful only while {@link #dropsKnown}.
   */
  long droppedLate;
  /**
   * False when {@link #droppedLate} does not count every event since the cut: a Delta loaded from a
   * checkpoint (which does not record it). Set before the Delta is shared.
   */
  boolean dropsKnown = true;
  /**
   * Events of {@code [cut, position)} that this Delta skipped because an expression or an
   * aggregation failed on them (counted in {@link dev.braid.Status.ViewStatus#skippedEvents()});
   * written by the writer under the lock, read without it for status, carried by checkpoints from format 4 on.
   */
  volatile long skipped;
  /**
   * Events of {@code [cut, position)} that the filter admitted and that have no value for the
   * view's group key, so no group holds them; written by the writer under the lock, read without it for
   * status, carried by checkpoints from format 4 on.
   */
  volatile long withoutKey;
  /**
   * False when {@link #skipped} and {@link #withoutKey} count only part of {@code [cut, position)}:
   * a Delta loaded from a checkpoint older than format 4, which did not record them (they then count
   * from the checkpoint). Set before the Delta is shared.
   */
  boolean countsKnown = true;
  /**
   * This partition's closed-window runs, oldest first: groups spilled out of earlier copies of the
   * Delta (see {@link ClosedRun}). Immutable once the Delta is shared (a spill builds a new Delta),
   * so readers use it without the lock; a read merges them between the Base and {@link #table}.
   */
  ClosedRun[] runs = NO_RUNS;

  static final ClosedRun[] NO_RUNS = new ClosedRun[0];

  /**
   * Whether this is a compacted copy of a live windowed Delta ({@code ViewRuntime.rebuild}): sized
   * from the groups it copied, and kept small by the spills that make the next copy, so no replay
   * projects its size ({@link GrowthProjection}). Set before the Delta is shared.
   */
  boolean compactedCopy;

  PartitionDelta(int partition, GroupTable table, long from) {
    this.partition = partition;
    this.table = table;
    this.position = from;
    table.trackChanges();
  }

  /**
   * Drains the keys marked since the last drain and clears the marks; returns how many. A key goes
   * to {@code read} when a pass must read it: it was {@linkplain GroupTable#markChanged marked
   * changed}, or only {@linkplain GroupTable#markOpened opened} but one of its groups here is of a
   * window that closes in {@code (lastCloseLine, closeLine]} (opened then, closed by now; see
   * {@link ViewProgram#closesAt}). Any other opened key goes to {@code opened} with the earliest
   * close line of its windows here, all after {@code closeLine}. {@code lastCloseLine} is the close
   * line of the pass that drained last: every mark since was made by a fold whose close line was at
   * least that, so a window an opened key's fold touched ends (and closes) after it. Takes the write
   * lock, so a mark is either drained here or made after (and drained next time), never lost. With
   * {@code read} null (a full pass, which reads every key anyway) the marks are only cleared.
   */
  int drainChanged(ViewProgram p, long lastCloseLine, long closeLine, java.util.Set<String> read,
      java.util.Map<String, Long> opened) {
    long stamp = lock.writeLock();
    try {
      GroupTable t = table;
      if (read == null) {
        return t.drainChanged((id, changed) -> { });
      }
      byte[] kb = t.keyBytes();
      return t.drainChanged((id, changed) -> {
        String key = new String(kb, t.keyOffset(id), t.keyLength(id), java.nio.charset.StandardCharsets.UTF_8);
        long earliest = Long.MAX_VALUE;
        if (!changed) {
          for (int g = t.firstGroupOfKey(id); g >= 0; g = t.nextGroupOfKey(g)) {
            long closes = p.closesAt(p.windowEnd(t.window(g), t.longs, g * t.stride));
            if (closes > lastCloseLine && closes <= closeLine) {
              changed = true;
              break;
            }
            if (closes > closeLine) {
              earliest = Math.min(earliest, closes);
            }
          }
        }
        if (changed || earliest == Long.MAX_VALUE) {
          read.add(key);
        } else {
          opened.merge(key, earliest, Math::min);
        }
      });
    } finally {
      lock.unlockWrite(stamp);
    }
  }

  /**
   * Takes the read lock, announced to a writer that calls {@link #letWaitingReadersIn} between its batches (this
   * class's own readers, the Delta's counts and checkpoints use it). A {@link StampedLock} lets a writer that
   * releases and takes the write lock again at once go ahead of a reader woken by the release, so without this a
   * checkpoint or a build's progress waits for as long as a replay runs.
   */
  long readLockBeforeWriter() {
    readersWaiting.incrementAndGet();
    try {
      return lock.readLock();
    } finally {
      readersWaiting.decrementAndGet();
    }
  }

  /**
   * Called by a writer between its batches, with the write lock released: when a reader waits in
   * {@link #readLockBeforeWriter}, waits (up to 10 ms) until it has the read lock, so that the writer's next
   * {@code writeLock} queues behind it.
   */
  void letWaitingReadersIn() {
    if (readersWaiting.get() == 0) {
      return;
    }
    long deadline = System.nanoTime() + 10_000_000;
    while (readersWaiting.get() > 0 && System.nanoTime() < deadline) {
      Thread.yield(); // the reader, woken by the release, may need this thread's processor to take the lock
    }
  }

  /** Called by the writer while it holds the write lock. */
  void advance(long nextPosition, long foldedEvents) {
    position = nextPosition;
    folded += foldedEvents;
  }

  long position() {
    return position;
  }

  /**
   * {@link #position()} under the read lock: after the fold batch that holds the write lock has moved it. The speed
   * layer takes the write locks of all of a partition's Deltas for a batch and releases them one after the other,
   * each with its position moved, so positions read this way, in the order the Deltas were attached, never show a
   * later-attached Delta behind an earlier one that the same batch moved.
   */
  long positionLocked() {
    return underReadLock(() -> position);
  }

  /** {@code read} under the read lock (announced to a replay's writer, see {@link #readLockBeforeWriter}). */
  private long underReadLock(java.util.function.LongSupplier read) {
    long stamp = readLockBeforeWriter();
    try {
      return read.getAsLong();
    } finally {
      lock.unlockRead(stamp);
    }
  }

  /** Position for the writer thread, which needs no lock to read what it wrote. */
  long writerPosition() {
    return position;
  }

  /** Events folded, for the writer or a thread that holds the lock. */
  long foldedUnlocked() {
    return folded;
  }

  /**
   * Seeds the event-time maxima with the partition's largest event time before the cut; before
   * sharing. A partition that was idle at the cut without any record ({@code idleEmpty}) gets
   * {@code t} as its cut maximum only: its lateness reference ({@link #lateReference}) starts there,
   * while {@link #maxEventTime} (its watermark in status) still says it has read no event.
   */
  void seedCutMaxEventTime(long t, boolean idleEmpty) {
    cutMaxEventTime = t;
    if (!idleEmpty) {
      maxEventTime = Math.max(maxEventTime, t);
    }
  }

  /** Raises the cut maximum to the version's lateness floor {@code t} (see {@code Version#lateFloor}); before sharing. */
  void raiseCutMaxEventTime(long t) {
    cutMaxEventTime = Math.max(cutMaxEventTime, t);
  }

  /**
   * The event time that lateness decisions of this partition count from: its largest event time so
   * far, or the seed of a partition that was idle at the cut without records, whichever is larger.
   * For the writer, or a thread that holds the lock.
   */
  long lateReference() {
    return Math.max(maxEventTime, cutMaxEventTime);
  }

  /** {@link #lateReference()} read under the read lock. */
  long lateReferenceLocked() {
    return underReadLock(this::lateReference);
  }

  /** Sets the folded count of a Delta restored from a checkpoint, before any thread shares it. */
  void restoreFolded(long foldedEvents) {
    folded = foldedEvents;
  }

  long folded() {
    return underReadLock(() -> folded);
  }
}
