package dev.braid.agg;

import dev.braid.event.FieldType;
import java.util.List;

/**
 * Creates an {@link Aggregation} bound to its argument. Called when a spec is validated and when a
 * view's definition is compiled (at open, for a reprocess, for each version restored), a few times
 * per view and never on the hot path; so it should be cheap and without side effects.
 */
@FunctionalInterface
public interface AggregationFactory {

  /**
   * @param argumentType the type of the argument field, or null when the aggregation was written
   *     without one (as in {@code count})
   * @param parameters literal parameters after the field, e.g. {@code ["5"]} for {@code top_k(merchant, 5)}
   * @throws IllegalArgumentException with a message saying what the aggregation accepts, when the
   *     argument type or the parameters do not fit
   */
  Aggregation create(FieldType argumentType, List<String> parameters);
}
