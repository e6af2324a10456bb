package dev.braid.view;

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
 */
public record EngineOptions(int batchThreads, long batchMemoryBytes) {

  public EngineOptions {
    if (batchThreads < 1) {
      throw new IllegalArgumentException("batchThreads must be at least 1, was " + batchThreads);
    }
    if (batchMemoryBytes < 1) {
      throw new IllegalArgumentException("batchMemoryBytes must be at least 1, was " + batchMemoryBytes);
    }
  }

  /** One batch thread per available processor; a batch budget of a quarter of the maximum heap. */
  public static EngineOptions defaults() {
    return new EngineOptions(Runtime.getRuntime().availableProcessors(), defaultBatchMemoryBytes());
  }

  /** A quarter of the maximum heap ({@link Runtime#maxMemory()}), at least 16 MiB. */
  public static long defaultBatchMemoryBytes() {
    return Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 4);
  }

  public EngineOptions withBatchThreads(int threads) {
    return new EngineOptions(threads, batchMemoryBytes);
  }

  public EngineOptions withBatchMemoryBytes(long bytes) {
    return new EngineOptions(batchThreads, bytes);
  }
}
