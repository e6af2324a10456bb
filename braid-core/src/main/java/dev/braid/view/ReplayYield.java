package dev.braid.view;

import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * How a Kappa replay yields to the live speed layer: before each poll of the log, a replay thread
 * waits while the live speed layer is more than {@link #LIVE_LAG} events behind the log's end in its
 * partition, so reads of the current version stay fresh while the new version is built. It waits
 * in {@link #PAUSE_NANOS} naps, at most {@link #MAX_PAUSES} in a row, and then polls once anyway,
 * so a live speed layer that cannot keep up on its own (ingest faster than it folds) slows the
 * replay down but never stops it.
 *
 * <p>Thread priorities would say the same thing, but HotSpot on Linux ignores them by default
 * ({@code -XX:ThreadPriorityPolicy}), so the replay's low-priority threads competed with the live
 * speed layer as equals.
 */
final class ReplayYield {

  /** Live events not yet folded, per partition, above which a replay thread waits. */
  static final long LIVE_LAG = 4_096;
  static final long PAUSE_NANOS = 500_000;
  /** Naps in a row before a poll anyway: at most 10 ms per poll. */
  static final int MAX_PAUSES = 20;

  /** Sleeps for the given nanoseconds; {@link LockSupport#parkNanos(long)} outside tests. */
  interface Sleeper {
    void sleep(long nanos);
  }

  private final Sleeper sleeper;
  private long pauses;

  ReplayYield() {
    this(LockSupport::parkNanos);
  }

  ReplayYield(Sleeper sleeper) {
    this.sleeper = sleeper;
  }

  /**
   * Waits while {@code liveLag} (the live speed layer's events behind the log's end in this
   * partition) exceeds {@link #LIVE_LAG}, at most {@link #MAX_PAUSES} naps; returns the naps taken.
   */
  int await(LongSupplier liveLag) {
    int n = 0;
    while (n < MAX_PAUSES && liveLag.getAsLong() > LIVE_LAG && !Thread.currentThread().isInterrupted()) {
      sleeper.sleep(PAUSE_NANOS);
      n++;
    }
    pauses += n;
    return n;
  }

  /** Naps taken so far by this thread's replay. */
  long pauses() {
    return pauses;
  }
}
