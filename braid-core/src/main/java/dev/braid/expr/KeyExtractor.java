package dev.braid.expr;

import dev.braid.event.EventReader;

/** A compiled group-by key: the key's text form written into a {@link KeyBuffer}. */
@FunctionalInterface
public interface KeyExtractor {
  /** Writes the event's group key into {@code out}; returns false when the key is null (the event is skipped). */
  boolean extract(EventReader event, KeyBuffer out);

  /**
   * The key's bytes when every event has this same key (a constant {@code group_by}, such as
   * {@code 'all'}), so a fold can look the key up once instead of per event; null otherwise.
   */
  default byte[] constant() {
    return null;
  }

  /** The key of a constant {@code group_by}: the same bytes for every event. */
  record Constant(byte[] bytes) implements KeyExtractor {
    @Override
    public boolean extract(EventReader event, KeyBuffer out) {
      out.set(bytes, 0, bytes.length);
      return true;
    }

    @Override
    public byte[] constant() {
      return bytes.clone();
    }
  }
}
