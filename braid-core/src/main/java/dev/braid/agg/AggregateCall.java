package dev.braid.agg;

import java.util.List;
import java.util.Objects;

/**
 * One aggregation as written in a view spec: {@code count}, {@code sum(amount)},
 * {@code top_k(merchant, 5)}. Produced by {@link Aggregations#parse}; the engine resolves
 * {@link #function()} with {@link Aggregations#factory} and binds it to the type of {@link #field()}.
 *
 * @param function the aggregation's name, as written
 * @param field the argument field, or null when none was written ({@code count}, {@code count()},
 *     {@code count(*)})
 * @param parameters literal parameters after the field, stripped of surrounding blanks; never null
 */
public record AggregateCall(String function, String field, List<String> parameters) {

  public AggregateCall {
    Objects.requireNonNull(function, "function");
    parameters = List.copyOf(Objects.requireNonNull(parameters, "parameters"));
    if (field == null && !parameters.isEmpty()) {
      throw new IllegalArgumentException("parameters " + parameters + " need a field before them");
    }
  }

  /** The call in canonical spec form, e.g. {@code top_k(merchant, 5)}; {@link Aggregations#parse} reads it back. */
  public String toSpec() {
    if (field == null) {
      return function;
    }
    StringBuilder b = new StringBuilder(function).append('(').append(field);
    for (String p : parameters) {
      b.append(", ").append(p);
    }
    return b.append(')').toString();
  }
}
