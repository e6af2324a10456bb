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
  final ViewProgram program;
  final Cut cut;
  /** Null when the Base is empty (a version whose cut is the start of the log). */
  final BaseFile base;
  final String baseFileName;
  final long createdAtMillis;
  /** The live Delta, or null once the version no longer follows the log (backup, retired). */
  volatile Delta delta;
  volatile VersionState state;
  volatile String failure;

  Version(long id, ViewProgram program, Cut cut, BaseFile base, String baseFileName, long createdAtMillis,
      VersionState state) {
    this.id = id;
    this.program = program;
    this.cut = cut;
    this.base = base;
    this.baseFileName = baseFileName;
    this.createdAtMillis = createdAtMillis;
    this.state = state;
  }
}
