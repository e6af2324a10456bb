package dev.braid.view;

import dev.braid.VersionState;
import dev.braid.log.Cut;

/**
 * One version of a view: an immutable definition, an immutable Base over {@code [0, cut)} (or none,
 * when the Base is empty), and a Delta over everything from {@code cut} on, maintained by the speed
 * layer. {@link #state} changes only through the {@link ViewRuntime} that owns the version.
 */
final class Version {

  final long id;
  /**
   * The compiled definition; null only for a version restored from a catalog that did not record
   * its full definition and whose definition differs from the spec's (it cannot be activated).
   */
  final ViewProgram program;
  /** {@link dev.braid.spec.ViewSpec#definition()} of the version's definition. */
  final String definition;
  /** The full definition as a JSON view document (see {@code PipelineSpec.viewDocument}), or null. */
  final String document;
  final Cut cut;
  /**
   * Null when the Base is empty (a version whose cut is the start of the log), or when the Base is
   * not open (a backup restored from the catalog: it is opened again when the backup is activated).
   */
  volatile BaseFile base;
  final String baseFileName;
  /** The key count in the Base file's header while the Base is not open; -1 until read (see {@code ViewRuntime.versions}). */
  long baseKeysOnDisk = -1;
  final long createdAtMillis;
  /** Whether reads may look only at the key's own partition of the Delta. */
  final boolean keyPartitioned;
  /** The live Delta, or null once the version no longer follows the log (backup, retired). */
  volatile Delta delta;
  volatile VersionState state;
  volatile String failure;
  /**
   * Windows that start before this have been evicted (window retention) and are not read; a late
   * event may recreate such a window in the Delta until the next eviction, so reads filter too.
   */
  volatile long horizon = Long.MIN_VALUE;
  /**
   * Whether a batch cycle of this process built this version (a Base over {@code [0, cut)} and a
   * Delta from the cut); false for the first version, a reprocess, and versions restored at start.
   */
  volatile boolean fromBatchCycle;
  /** The id of the version this one replaced as current ({@code ViewRuntime.swap}), or -1. */
  volatile long replacedId = -1;
  /**
   * Events of {@code [0, cut)} that the Base left out because an expression or an aggregation failed
   * on them ({@link Delta#leftOut()} counts those after the cut); -1 when not known (a version
   * restored from a catalog written before the counts were recorded).
   */
  volatile long baseSkipped;
  /** Events of {@code [0, cut)} that the filter admitted and the Base left out for having no group key, or -1. */
  volatile long baseWithoutKey;
  /**
   * Per partition, the event time below which the lateness reference at the cut never falls, or
   * null: the reference that the current version had when this one was built after it. A partition
   * that was idle at the earlier cut without records was seeded with the other partitions' progress
   * (its first events were then late for windows already final); once it has records before a later
   * cut, its own largest event time could be lower, and without this floor windows that were
   * {@code final} turned provisional and the speed layer added events the version before it had
   * found late. Kept in the catalog, so a restart without a checkpoint decides alike.
   */
  volatile long[] lateFloor;
  /** The running build (reprocess or rollback) of this version, or null. */
  volatile ViewRuntime.Rebuild rebuild;

  Version(long id, ViewProgram program, Cut cut, BaseFile base, String baseFileName, long createdAtMillis,
      VersionState state) {
    this(id, program, program.spec.definition(), dev.braid.spec.PipelineSpec.viewDocument(program.spec), cut, base,
        baseFileName, createdAtMillis, state);
  }

  Version(long id, ViewProgram program, String definition, String document, Cut cut, BaseFile base,
      String baseFileName, long createdAtMillis, VersionState state) {
    this.id = id;
    this.program = program;
    this.definition = definition;
    this.document = document;
    this.cut = cut;
    this.base = base;
    this.baseFileName = baseFileName;
    this.createdAtMillis = createdAtMillis;
    this.state = state;
    this.keyPartitioned = program != null && BatchLayer.isKeyPartitioned(program);
  }
}
