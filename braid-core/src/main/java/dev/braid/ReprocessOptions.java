package dev.braid;

import dev.braid.log.Cut;

/**
 * How {@link Braid#reprocess} builds and switches to the new version.
 *
 * @param hold when true the new version, once it has caught up, keeps following the log as
 *     {@code building} until {@link Braid#activate} makes it current; when false (the default) it
 *     becomes current as soon as it has caught up
 * @param replayFrom for a kappa view, the cut its new version replays the log from: it counts the
 *     events at and after it only. Null (the default) is the log's start. A lambda view's new
 *     version always takes a Base at a fresh cut, so it must be null there.
 */
public record ReprocessOptions(boolean hold, Cut replayFrom) {

  public ReprocessOptions(boolean hold) {
    this(hold, null);
  }

  /** Switch automatically once the new version has caught up. */
  public static ReprocessOptions defaults() {
    return new ReprocessOptions(false);
  }

  /** Catch up, then wait for {@link Braid#activate}. */
  public static ReprocessOptions held() {
    return new ReprocessOptions(true);
  }

  /** The same options, replaying a kappa view's log from {@code cut} instead of its start. */
  public ReprocessOptions withReplayFrom(Cut cut) {
    return new ReprocessOptions(hold, cut);
  }
}
