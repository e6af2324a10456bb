package dev.braid.expr;

import dev.braid.event.EventReader;

/** A compiled group-by key: the key's text form written into a {@link KeyBuffer}. */
@FunctionalInterface
public interface KeyExtractor {
  /** Writes the event's group key into {@code out}; returns false when the key is null (the event is skipped). */
  boolean extract(EventReader event, KeyBuffer out);
}
