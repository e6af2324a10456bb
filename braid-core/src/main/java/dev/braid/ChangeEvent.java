package dev.braid;

import java.util.Map;

/**
 * One entry of a windowed view's changes stream ({@link Braid#subscribe}, {@code GET
 * /v1/views/{v}/changes}): the result of one window of one key, emitted when the watermark closes
 * the window and again whenever it changes after that.
 *
 * <p>A window {@code [start, end)} is <em>closed</em> when the stream's watermark has reached
 * {@code end + allowed_lateness} (just {@code end} for a view without {@code allowed_lateness}); a
 * session one gap later, {@code end + gap + allowed_lateness}, because until then an event that is
 * not late can still join it (it is late only when its own {@code [t, t + gap)} had closed).
 * For every {@code (key, window)} the stream holds exactly one {@link Kind#CLOSE}, emitted the first
 * time the changes feed sees the window closed, then one {@link Kind#CORRECTION} each time the
 * merged result of the window differs from the last one emitted for it: a batch cycle folded in
 * events that had come too late for the speed layer, or (without {@code allowed_lateness}, or from
 * a partition that was idle behind the watermark) the speed layer added an event to a window the
 * watermark had already passed. A window is identified by its key and start, and a change of its
 * end alone (a session extended with the same values; a reprocess that changed the window size) is a
 * correction too. One that the view no longer holds closed gets a {@link Kind#RETRACT}, which names
 * the event it withdraws in {@code corrects} and carries that event's values, bounds and state: a
 * session that a late event merged into the session before it (which gets a correction with the
 * later end), extended to an earlier start (the new start gets a close) or joined to a session still
 * open (it is closed again, with the merged result, when that one closes) — or an event on time for a
 * partition that was idle behind the watermark when the session closed did so; and, after a reprocess or
 * rollback switched versions, every window emitted that the new version does not hold (all of them
 * when it has no window). A window retracted and later seen closed again gets a close again. A
 * window emitted closed that the new version holds open again (a larger {@code allowed_lateness})
 * is not retracted while its result is the one emitted; if events change it before it closes
 * again, the correction comes when it does. Windows that retention evicts are not retracted.
 * Folding the stream by key and window start (close and correction set, retract removes) gives the
 * view's closed windows, and those emitted closed that a version switch reopened.
 *
 * @param id the event's position in the view's changes log ({@code <view>.changes}); strictly
 *     increasing within a view, and stable across restarts. Resume after an event with {@code id + 1}
 * @param kind {@link Kind#CLOSE}, {@link Kind#CORRECTION} or {@link Kind#RETRACT}
 * @param key the group key
 * @param start the window's start (epoch millis); for a session, its first event time
 * @param end the window's end (exclusive); for a session, its last event time plus the gap
 * @param values aggregate name to result, as a read returns them (numbers as {@code Long} or
 *     {@code Double})
 * @param state the window's state in the read the feed made: {@link ViewResult.WindowState#FINAL}
 *     when the Base covers it, else {@link ViewResult.WindowState#PROVISIONAL}
 * @param corrects for a correction or retraction, the id of the event it supersedes (the window's
 *     previous close or correction); -1 for a close
 * @param version the view version the result was read from
 * @param watermarkMillis the stream's watermark when the feed read the result
 * @param emittedAtMillis when the event was written, by the engine's clock
 */
public record ChangeEvent(long id, String view, Kind kind, String key, long start, long end,
    Map<String, Object> values, ViewResult.WindowState state, long corrects, long version, long watermarkMillis,
    long emittedAtMillis) {

  /** What a change says about its window. */
  public enum Kind {
    /** The watermark closed the window; its first result. */
    CLOSE,
    /** A window emitted before has a new result. */
    CORRECTION,
    /**
     * A window emitted before is no longer in the view: a late event merged its session into
     * another one, or extended it to an earlier start (the session's new start gets a close of its
     * own), or a reprocess changed the view's windows. Carries the values of the event it retracts.
     */
    RETRACT;

    /** The lower-case name used on the wire ({@code close}, {@code correction}, {@code retract}). */
    public String wireName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
