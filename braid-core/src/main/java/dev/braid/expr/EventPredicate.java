package dev.braid.expr;

import dev.braid.event.EventReader;

/**
 * A compiled boolean expression over one event: true when it holds; false when it does not or is
 * unknown because it read a null field (see {@link Expressions} for the exact rules).
 */
@FunctionalInterface
public interface EventPredicate {
  boolean test(EventReader event);
}
