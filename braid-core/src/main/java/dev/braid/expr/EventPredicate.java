package dev.braid.expr;

import dev.braid.event.EventReader;

/** A compiled boolean expression over one event; null fields make comparisons false. */
@FunctionalInterface
public interface EventPredicate {
  boolean test(EventReader event);
}
