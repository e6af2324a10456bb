package dev.braid.log;

import java.util.Locale;

/**
 * When an append is acknowledged relative to the disk.
 *
 * <ul>
 *   <li>{@link Mode#FSYNC}: an append returns only after an fsync that covers it; concurrent
 *       appenders to a partition share one fsync (group commit). Survives power loss.
 *   <li>{@link Mode#INTERVAL}: appends return once written to the page cache; a background task
 *       fsyncs every {@code intervalMillis}. Loses at most that window on power loss.
 *   <li>{@link Mode#OS}: page cache only; survives a process crash, not a power loss.
 * </ul>
 */
public record Durability(Mode mode, long intervalMillis) {

  public enum Mode { FSYNC, INTERVAL, OS }

  public Durability {
    if (mode == null) {
      throw new IllegalArgumentException("durability mode is required");
    }
    if (mode == Mode.INTERVAL && intervalMillis <= 0) {
      throw new IllegalArgumentException(
          "durability 'interval' needs a positive interval in milliseconds, got " + intervalMillis);
    }
  }

  public static Durability fsync() {
    return new Durability(Mode.FSYNC, 0);
  }

  public static Durability os() {
    return new Durability(Mode.OS, 0);
  }

  public static Durability interval(long millis) {
    return new Durability(Mode.INTERVAL, millis);
  }

  /** Parses {@code fsync}, {@code os}, or {@code interval:100} (milliseconds). */
  public static Durability parse(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    if (t.equals("fsync")) {
      return fsync();
    }
    if (t.equals("os")) {
      return os();
    }
    if (t.startsWith("interval:")) {
      try {
        return interval(Long.parseLong(t.substring("interval:".length())));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("durability 'interval:N' needs N in milliseconds, got: " + text);
      }
    }
    throw new IllegalArgumentException(
        "unknown durability '" + text + "': expected fsync, os or interval:<millis>");
  }

  @Override
  public String toString() {
    return mode == Mode.INTERVAL ? "interval:" + intervalMillis : mode.name().toLowerCase(Locale.ROOT);
  }
}
