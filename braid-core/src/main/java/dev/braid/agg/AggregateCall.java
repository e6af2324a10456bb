package dev.braid.agg;

import java.util.List;
import java.util.Objects;

/**
 * One aggregation as written in a view spec: {@code count}, {@code sum(amount)},
 * {@code top_k(merchant, 5)}, {@code count where price < 10000}. Produced by
 * {@link Aggregations#parse}; the engine resolves {@link #function()} with
 * {@link Aggregations#factory} and binds it to the type of {@link #field()}.
 *
 * <p>A {@code where} condition is SQL's {@code FILTER (WHERE ...)}: the aggregation takes only the
 * events for which the CEL condition holds, while the group itself (and the view's other
 * aggregations) still see every event that passes the view's {@code filter}. So one view can hold a
 * count per price range beside the total, in one pass over the events.
 *
 * @param function the aggregation's name, as written
 * @param field the argument field, or null when none was written ({@code count}, {@code count()},
 *     {@code count(*)})
 * @param parameters literal parameters after the field, stripped of surrounding blanks; never null
 * @param where the CEL condition after {@code where}, stripped, or null when there is none
 */
public record AggregateCall(String function, String field, List<String> parameters, String where) {

  public AggregateCall {
    Objects.requireNonNull(function, "function");
    parameters = List.copyOf(Objects.requireNonNull(parameters, "parameters"));
    if (field == null && !parameters.isEmpty()) {
      throw new IllegalArgumentException("parameters " + parameters + " need a field before them");
    }
    if (where != null && where.isBlank()) {
      throw new IllegalArgumentException("an empty where condition");
    }
  }

  /** A call without a {@code where} condition. */
  public AggregateCall(String function, String field, List<String> parameters) {
    this(function, field, parameters, null);
  }

  /**
   * The call in canonical spec form, e.g. {@code top_k(merchant, 5)} or
   * {@code count where price < 10000}; {@link Aggregations#parse} reads it back.
   */
  public String toSpec() {
    StringBuilder b = new StringBuilder(function);
    if (field != null) {
      b.append('(').append(field);
      for (String p : parameters) {
        b.append(", ").append(p);
      }
      b.append(')');
    }
    if (where != null) {
      b.append(" where ").append(where);
    }
    return b.toString();
  }
}
