package dev.braid.spec;

import java.time.Duration;
import java.util.Objects;

/**
 * An event-time window of a view. Only tumbling windows exist so far: window {@code w} of an event
 * with time {@code t} starts at {@code floorDiv(t, size) * size} (epoch-aligned, UTC).
 */
public record WindowSpec(Duration size) {

  public WindowSpec {
    Objects.requireNonNull(size, "size");
    if (size.isNegative() || size.isZero()) {
      throw new IllegalArgumentException("window size must be positive, got " + size);
    }
  }

  public static WindowSpec tumbling(Duration size) {
    return new WindowSpec(size);
  }

  /** The start of the window that holds event time {@code t}. */
  public long start(long t) {
    long s = size.toMillis();
    return Math.floorDiv(t, s) * s;
  }

  public long sizeMillis() {
    return size.toMillis();
  }

  @Override
  public String toString() {
    return "{tumbling: " + Durations.format(size) + "}";
  }
}
