package dev.braid.view;

import java.time.Duration;

/**
 * How the embedded engine runs, for {@link Engine#open(java.nio.file.Path, dev.braid.spec.PipelineSpec,
 * EngineOptions)}. Start from {@link #defaults()} and change what you need:
 *
 * <pre>{@code
 * Engine.open(dir, spec, EngineOptions.defaults().withBatchMemoryBytes(512L << 20));
 * }</pre>
 *
 * @param batchThreads partitions a batch cycle folds at once (at least 1)
 * @param batchMemoryBytes the memory budget of one batch cycle, shared by its partition tasks: when
 *     the view's groups need more, the batch layer spills sorted runs to the view's directory and
 *     merges them into the Base (see {@link BatchLayer}). At least 1; {@link Long#MAX_VALUE} never
 *     spills. Each view's cycle has its own budget, so concurrent cycles of several views add up.
 * @param checkpointEvery how often every view's Delta is checkpointed (see {@link #withCheckpointEvery})
 * @param clock the engine's wall clock in epoch millis (ingest time, idle partitions); the system
 *     clock unless a test controls it ({@link #withClock})
 * @param deltaSpillGroups the fewest closed (key, window) groups a windowed view's Delta moves out of
 *     memory into closed-window runs at once (see {@link #withDeltaSpillGroups}); at least 1
 */
public record EngineOptions(int batchThreads, long batchMemoryBytes, Duration checkpointEvery,
    java.util.function.LongSupplier clock, long deltaSpillGroups) {

  /** The fewest closed groups a Delta spills at once by default. */
  public static final long DEFAULT_DELTA_SPILL_GROUPS = 4_096;

  /** How often each view's Delta is checkpointed by default. */
  public static final Duration DEFAULT_CHECKPOINT_EVERY = Duration.ofSeconds(30);

  public EngineOptions {
    if (batchThreads < 1) {
      throw new IllegalArgumentException("batchThreads must be at least 1, was " + batchThreads);
    }
    if (batchMemoryBytes < 1) {
      throw new IllegalArgumentException("batchMemoryBytes must be at least 1, was " + batchMemoryBytes);
    }
    if (checkpointEvery == null || checkpointEvery.isNegative()) {
      throw new IllegalArgumentException("checkpointEvery must be zero (only on close) or positive, was "
          + checkpointEvery);
    }
    if (deltaSpillGroups < 1) {
      throw new IllegalArgumentException("deltaSpillGroups must be at least 1, was " + deltaSpillGroups);
    }
    clock = clock == null ? System::currentTimeMillis : clock;
  }

  /** With the default {@link #DEFAULT_DELTA_SPILL_GROUPS}. */
  public EngineOptions(int batchThreads, long batchMemoryBytes, Duration checkpointEvery,
      java.util.function.LongSupplier clock) {
    this(batchThreads, batchMemoryBytes, checkpointEvery, clock, DEFAULT_DELTA_SPILL_GROUPS);
  }

  /**
   * A windowed view's Delta moves its closed windows (those the speed layer will not add to again)
   * out of memory into closed-window runs on disk once it holds at least this many closed groups and
   * at least as many closed as open ones; reads merge the runs, so they answer exactly as before.
   * Small values spill often (tests); the default keeps spills rare for small views.
   */
  public EngineOptions withDeltaSpillGroups(long groups) {
    return new EngineOptions(batchThreads, batchMemoryBytes, checkpointEvery, clock, groups);
  }

  /** With the system clock. */
  public EngineOptions(int batchThreads, long batchMemoryBytes, Duration checkpointEvery) {
    this(batchThreads, batchMemoryBytes, checkpointEvery, null);
  }

  /** With this clock (epoch millis) for ingest time and idle partitions, e.g. a test's. */
  public EngineOptions withClock(java.util.function.LongSupplier c) {
    return new EngineOptions(batchThreads, batchMemoryBytes, checkpointEvery, c, deltaSpillGroups);
  }

  /** With checkpoints every {@link #DEFAULT_CHECKPOINT_EVERY}. */
  public EngineOptions(int batchThreads, long batchMemoryBytes) {
    this(batchThreads, batchMemoryBytes, DEFAULT_CHECKPOINT_EVERY);
  }

  /**
   * One batch thread per available processor; a batch budget of a quarter of the maximum heap;
   * checkpoints every {@link #DEFAULT_CHECKPOINT_EVERY} and on close.
   */
  public static EngineOptions defaults() {
    return new EngineOptions(Runtime.getRuntime().availableProcessors(), defaultBatchMemoryBytes());
  }

  /**
   * Checkpoints every view's Delta this often (when it moved), and always on a clean close;
   * {@link Duration#ZERO} checkpoints only on close. A restart replays the log from the newest
   * checkpoint, so this bounds the replay after a crash.
   */
  public EngineOptions withCheckpointEvery(Duration every) {
    return new EngineOptions(batchThreads, batchMemoryBytes, every, clock, deltaSpillGroups);
  }

  /** A quarter of the maximum heap ({@link Runtime#maxMemory()}), at least 16 MiB. */
  public static long defaultBatchMemoryBytes() {
    return Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 4);
  }

  public EngineOptions withBatchThreads(int threads) {
    return new EngineOptions(threads, batchMemoryBytes, checkpointEvery, clock, deltaSpillGroups);
  }

  public EngineOptions withBatchMemoryBytes(long bytes) {
    return new EngineOptions(batchThreads, bytes, checkpointEvery, clock, deltaSpillGroups);
  }
}
