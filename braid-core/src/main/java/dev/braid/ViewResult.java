package dev.braid;

import java.util.List;
import java.util.Map;

/**
 * The merged result of one key of a view: {@code merge(base[k], delta[k])}.
 *
 * <p>A key that no event has produced is not an error: {@code found} is false and {@code values}
 * holds every aggregation's zero result (0 for {@code count}, null for {@code min}).
 *
 * @param values aggregate name to result; for a windowed view, the results merged over the
 *     returned windows is not meaningful, so {@code values} is empty and {@code windows} holds them
 * @param windows for a windowed view, one entry per window in the requested range, oldest first
 */
public record ViewResult(String view, String key, boolean found, Map<String, Object> values,
    List<WindowValue> windows, AsOf asOf) {

  /** The results of one window of a windowed view. */
  public record WindowValue(long start, long end, Map<String, Object> values) {}
}
