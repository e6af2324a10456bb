package dev.braid;

import java.util.List;
import java.util.Map;

/**
 * The merged result of one key of a view: {@code merge(base[k], delta[k])}.
 *
 * <p>A key that no event has produced is not an error: {@code found} is false and {@code values}
 * holds every aggregation's zero result (0 for {@code count}, null for {@code min}), except in a
 * view with hopping windows, whose {@code values} are always empty (see below).
 *
 * @param values aggregate name to result. For a view with tumbling or session windows, the
 *     results of the returned windows merged: each event is in one window, so this is the key's
 *     total over the requested range. Empty for hopping windows, which overlap (their merge would
 *     count each event once per window that holds it); {@code windows} holds each window's results
 * @param windows for a windowed view, one entry per window in the requested range, oldest first
 */
public record ViewResult(String view, String key, boolean found, Map<String, Object> values,
    List<WindowValue> windows, AsOf asOf) {

  /**
   * The results of one window of a windowed view.
   *
   * @param end the window's end (exclusive); for a session, its last event time plus the gap
   * @param state {@link WindowState#FINAL} when the window had closed (by the watermark, plus the
   *     view's {@code allowed_lateness}; a session one gap later, as an event that is not late can
   *     join it until then) before the Base's cut on every partition, so the speed
   *     layer adds nothing to it and the result is the batch layer's; it changes again only when a
   *     later batch cycle folds in events that arrived too late. Otherwise
   *     {@link WindowState#PROVISIONAL}. A view without {@code allowed_lateness} has no final windows
   */
  public record WindowValue(long start, long end, Map<String, Object> values, WindowState state) {

    /** A provisional window. */
    public WindowValue(long start, long end, Map<String, Object> values) {
      this(start, end, values, WindowState.PROVISIONAL);
    }
  }

  /** Whether a window's result can still change without a batch cycle. */
  public enum WindowState { FINAL, PROVISIONAL }
}
