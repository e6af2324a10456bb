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
    // start() divides event-time millis by the size: below 1 ms it is zero, with a fraction windows
    // would silently be shorter than asked, and past Long.MAX_VALUE ms toMillis() throws
    if (size.getNano() % 1_000_000 != 0 || size.compareTo(Duration.ofMillis(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("window size must be a whole number of milliseconds, got " + size);
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
