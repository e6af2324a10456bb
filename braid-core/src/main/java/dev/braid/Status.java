package dev.braid;

import dev.braid.log.Cut;
import java.util.List;

/** A snapshot of the engine for operators: streams and views with their positions and lag. */
public record Status(List<StreamStatus> streams, List<ViewStatus> views, List<TableStatus> tables) {

  /**
   * A view whose versions the catalog keeps though the spec no longer defines it ({@link
   * Braid#retiredViews}).
   *
   * @param stream the stream and {@code mode} its current version was computed with; null when the
   *     catalog (of an older build) does not record them
   */
  public record RetiredView(String name, String stream, String mode, int versions) {}

  /** A status without tables. */
  public Status(List<StreamStatus> streams, List<ViewStatus> views) {
    this(streams, views, List.of());
  }

  /**
   * A table of the hybrid store.
   *
   * @param pushId the push that built the current version's Base, or null
   * @param position how far the current version has applied the real-time writes; {@code lag} the writes it has not
   * @param push the push building a new version now, or null
   * @param rollback the progress of an activation of a backup (a rollback) replaying the writes since its cut, or
   *     null when none runs
   * @param recovered what opening the log cut from the end of a partition of the table's writes log
   *     (a torn or damaged tail), one line per partition; empty when nothing was cut
   */
  public record TableStatus(String name, String stream, long currentVersion, String pushId, Cut cut, Cut position,
      long lag, long baseRows, long deltaKeys, dev.braid.table.PushReport push, ReplayProgress rollback,
      List<String> recovered) {
    public TableStatus {
      recovered = recovered == null ? List.of() : List.copyOf(recovered);
    }

    public TableStatus withRecovered(List<String> lines) {
      return new TableStatus(name, stream, currentVersion, pushId, cut, position, lag, baseRows, deltaKeys, push,
          rollback, lines);
    }
  }

  /**
   * @param end the log's end offsets
   * @param events events held (sum over partitions)
   * @param eventsPerSecond events accepted per second over the last ten whole seconds (the second
   *     under way not counted: right after a first ingest it reads 0)
   * @param rejectedPerSecond events rejected per second, as {@code eventsPerSecond}
   * @param dedupEntries event ids and idempotency keys remembered for deduplication (those of the
   *     stream's dedup window, and up to a quarter window more not yet evicted)
   * @param watermark the stream's event-time watermark, or null when no view reads it
   * @param recovered what opening the log cut from the end of a partition (a torn or damaged tail),
   *     one line per partition that had something cut; empty when every tail was clean
   */
  public record StreamStatus(String name, int partitions, String durability, Cut end, long events,
      double eventsPerSecond, double rejectedPerSecond, long dedupEntries, Watermark watermark,
      List<String> recovered) {

    public StreamStatus {
      recovered = recovered == null ? List.of() : List.copyOf(recovered);
    }

    /** Without a watermark, and nothing recovered. */
    public StreamStatus(String name, int partitions, String durability, Cut end, long events,
        double eventsPerSecond, double rejectedPerSecond, long dedupEntries) {
      this(name, partitions, durability, end, events, eventsPerSecond, rejectedPerSecond, dedupEntries, null, null);
    }
  }

  /**
   * A stream's event-time watermark: every event time at or below it is (by the stream's
   * {@code max_out_of_order}) expected to have arrived. A partition's watermark is the largest event
   * time the speed layer has read from it minus {@code max_out_of_order}; the stream's is the
   * smallest over partitions that are not idle (no event for {@code idle_after}), or the largest
   * when all are idle, and never goes back. {@link Long#MIN_VALUE} means none yet.
   *
   * @param held whether the watermark stands above what that rule gives now, holding where it
   *     reached: after a restart (the partitions' idle clocks start again) or when an idle partition
   *     became active behind it
   */
  public record Watermark(long millis, List<PartitionWatermark> partitions, boolean held) {}

  /** One partition's watermark, and whether it is idle (then it does not hold the stream's back). */
  public record PartitionWatermark(int partition, long millis, long maxEventTimeMillis, boolean idle) {}

  /**
   * One view, as its current (serving) version defines it: after a reprocess, or while the spec file
   * defines the view differently ({@code specChanged}), {@code mode}, {@code retention} and
   * {@code lateness} describe the serving version's definition, not the file's.
   *
   * @param lag events in the log that the current version's Delta has not folded yet
   * @param deltaKeys the groups in the current Delta's tables, summed over its partitions: a key
   *     whose events are on several partitions (a view not grouped by the stream's key) is counted on
   *     each, and a windowed view's key once per window
   * @param skippedEvents events of the log up to {@code position} that the current version left out
   *     because an expression or an aggregation failed on them (its Base's and its Delta's, each event
   *     once); the engine logs the first of them with the error
   * @param eventsWithoutKey events up to {@code position} that the filter admitted and that have no
   *     value for {@code group_by}, so no group holds them
   * @param leftOutCountsComplete false when the two counts above are lower bounds: part of the
   *     version's data was written before Braid counted left-out events (its next batch cycle, or a
   *     reprocess, counts them all)
   * @param batchRunning whether a batch cycle is running, and its progress (events read of total)
   * @param reprocess the version a reprocess or rollback is building, with its progress; null when none
   * @param specChanged the spec file defines the view differently from the version serving it, and no
   *     reprocess has been run since the engine noticed: {@link Braid#reprocess} with the spec's
   *     definition switches to it (the engine never replaces a view's logic on its own)
   * @param specDiffers the serving version's definition is not the spec file's: a reprocess with
   *     another definition (which does not edit the file), or a file edit not yet reprocessed
   *     ({@code specChanged}); {@code braid server --reprocess-changed} switches such views to the file's
   * @param retention window retention of a kappa view with {@code retain}; null otherwise
   * @param batchCycles batch cycles that built a version since the engine opened (scheduled or asked for)
   * @param batchSeconds their total duration, in seconds
   * @param batchFailures batch cycles that failed since the engine opened (the log says why each
   *     failed, and most leave a {@code failed} version in the versions list; a cycle that a close
   *     stopped is not counted)
   * @param lastBatchAtMillis when the last batch cycle that succeeded ended (epoch millis; a cycle
   *     that found no event since the current cut succeeded too), before a restart too (kept in the
   *     view's directory); when none is recorded, when the current version was created (for a
   *     version a batch cycle built, once its Base was written); 0 when the current version has no
   *     Base (a kappa view's, or a lambda view's before its first good cycle)
   * @param lateness the serving version's {@code allowed_lateness}, its late events and final
   *     windows; null when that version has no {@code allowed_lateness}
   * @param delta the current Delta's groups in memory and its closed-window runs on disk; null when
   *     the current version has no Delta
   */
  public record ViewStatus(String name, String stream, String mode, long currentVersion, Cut cut, Cut position,
      long lag, long deltaKeys, long deltaBytes, long skippedEvents, long eventsWithoutKey,
      boolean leftOutCountsComplete, boolean batchRunning,
      long batchEventsRead, long batchEventsTotal, ReplayProgress reprocess, boolean specChanged, boolean specDiffers,
      Retention retention,
      long batchCycles, double batchSeconds, long batchFailures, long lastBatchAtMillis, Checkpoints checkpoints,
      Lateness lateness, DeltaState delta) {
  }

  /**
   * Where the current version's Delta keeps its state. A windowed view moves closed windows out of
   * memory into immutable closed-window runs on disk, so its memory is bounded by the windows still
   * open; reads merge both.
   *
   * @param groups (key, window) groups held in memory
   * @param bytes heap bytes of those groups' tables (the same figure as {@code deltaBytes})
   * @param runs closed-window runs on disk
   * @param runGroups groups in those runs
   * @param runBytes bytes of those runs
   * @param spills spills of closed windows since the engine opened
   * @param spilledGroups groups those spills moved out of memory
   * @param spillMillis time those spills took (copying under each partition's read lock, writing and
   *     merging runs, attaching the new Delta), off the speed layer's threads
   * @param spillLockMaxMicros the longest a spill held one partition's read lock (while it copied the
   *     partition's groups), which is how long that partition's speed-layer thread could wait
   */
  public record DeltaState(long groups, long bytes, int runs, long runGroups, long runBytes, long spills,
      long spilledGroups, long spillMillis, long spillLockMaxMicros) {}

  /**
   * Late events of a view with {@code allowed_lateness}.
   *
   * @param lateEvents events the speed layer left out because a window of theirs had closed longer
   *     than {@code allowedLateness} before (recorded in the stream's late log; every batch cycle
   *     folds them into the Base)
   * @param finalUntilMillis windows that end at or before this are {@code final} in reads (closed, plus
   *     the lateness, on every partition before the current version's cut, so their value is the
   *     Base's; for session windows this is one gap earlier, as a session closes a gap after its end);
   *     later ones are {@code provisional}. {@link Long#MIN_VALUE} when no window is final yet
   */
  public record Lateness(java.time.Duration allowedLateness, long lateEvents, long finalUntilMillis) {

    /** Without the final bound. */
    public Lateness(java.time.Duration allowedLateness, long lateEvents) {
      this(allowedLateness, lateEvents, Long.MIN_VALUE);
    }
  }

  /**
   * Checkpoints of a view's current version, and what the engine's start-up restored.
   *
   * @param lastFile the newest checkpoint of the current version (written or loaded), or null
   * @param lastPosition the positions it covers, or null
   * @param lastAtMillis when it was taken (epoch millis), 0 when there is none
   * @param currentAtMillis when it was last found to hold the Delta as it is (it was taken, or a later
   *     checkpoint found nothing moved since, as in a quiet view), 0 when there is none: events that
   *     came after this are about what a crash now would replay
   * @param written checkpoints written since the engine opened
   * @param failures checkpoints that failed since the engine opened; {@code lastError} is the latest
   *     reason, null after a success
   * @param restoredFrom the checkpoint the start-up loaded, or null when it replayed from the cut
   * @param refused checkpoints the start-up could not use, each "file: reason"
   * @param replayedOnStart events the start-up replayed after the checkpoint (or the cut)
   * @param replayMillis how long the start-up replay took, -1 while it runs
   */
  public record Checkpoints(String lastFile, Cut lastPosition, long lastAtMillis, long currentAtMillis, long written,
      long failures,
      String lastError, String restoredFrom, java.util.List<String> refused, long replayedOnStart,
      long replayMillis) {}

  /**
   * Window retention of a view: windows that start before {@code horizonMillis} have been evicted
   * and are no longer read.
   *
   * @param horizonMillis the start of the oldest window kept, or {@link Long#MIN_VALUE} before the
   *     first eviction
   * @param evictedWindows (key, window) groups evicted since the engine opened
   */
  public record Retention(java.time.Duration retain, long horizonMillis, long evictedWindows) {}
}
