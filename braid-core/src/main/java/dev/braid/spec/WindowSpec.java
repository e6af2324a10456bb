package dev.braid.spec;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * An event-time window of a view. Three kinds:
 *
 * <ul>
 *   <li><b>tumbling</b> ({@code {tumbling: 1h}}): window {@code [floorDiv(t, size) * size, + size)},
 *       epoch-aligned in UTC. With a {@code zone} ({@code {tumbling: 1d, zone: Europe/Berlin}}) the
 *       size must be a whole number of days and windows run from local midnight to local midnight
 *       of the zone, so a day across a daylight-saving change is 23 or 25 hours long; multi-day
 *       windows are aligned to local day 0 (1970-01-01) of the zone.
 *   <li><b>hopping</b> ({@code {hopping: {size: 1h, every: 5m}}}): windows of {@code size} that start
 *       every {@code every} (epoch-aligned, UTC); an event is in each of the {@code ceil(size / every)}
 *       windows that contain it. {@code every} must not exceed {@code size} (events between windows
 *       would be lost) and at most {@value #MAX_HOPS} windows may overlap.
 *   <li><b>session</b> ({@code {session: {gap: 30m}}}): per key, events less than {@code gap} apart
 *       form one session; a session is {@code [first event, last event + gap)}. Sessions are stored
 *       as fragments (see {@code ViewProgram}) that a read merges, so a session that spans the
 *       Base/Delta cut or several partitions is one session in the answer.
 * </ul>
 *
 * Window starts and ends are epoch milliseconds; a window is identified by its start.
 */
public record WindowSpec(Kind kind, Duration size, Duration every, Duration gap, ZoneId zone) {

  public enum Kind { TUMBLING, HOPPING, SESSION }

  /** Most windows of a hopping view that one event can fall into. */
  public static final int MAX_HOPS = 1024;
  private static final long DAY = 86_400_000L;

  public WindowSpec {
    Objects.requireNonNull(kind, "kind");
    switch (kind) {
      case TUMBLING:
        positive("size", size);
        if (isZoned(zone) && size.toMillis() % DAY != 0) {
          throw new IllegalArgumentException("a zone aligns windows to local days: size must be a whole number of "
              + "days (1d, 7d), got " + Durations.format(size) + "; windows shorter than a day are aligned to UTC "
              + "(leave the zone out)");
        }
        if (every != null || gap != null) {
          throw new IllegalArgumentException("a tumbling window has a size only");
        }
        break;
      case HOPPING:
        positive("size", size);
        positive("every", every);
        if (every.compareTo(size) > 0) {
          throw new IllegalArgumentException("every (" + Durations.format(every) + ") must not exceed size ("
              + Durations.format(size) + "): events between two windows would be in none");
        }
        if ((size.toMillis() + every.toMillis() - 1) / every.toMillis() > MAX_HOPS) {
          throw new IllegalArgumentException("size / every must be at most " + MAX_HOPS + " (each event is added to "
              + "that many windows), got " + Durations.format(size) + " / " + Durations.format(every));
        }
        if (gap != null || zone != null) {
          throw new IllegalArgumentException("a hopping window has size and every only (no zone)");
        }
        break;
      case SESSION:
        positive("gap", gap);
        if (size != null || every != null || zone != null) {
          throw new IllegalArgumentException("a session window has a gap only (no zone)");
        }
        break;
      default:
        throw new IllegalStateException();
    }
  }

  private static void positive(String what, Duration d) {
    if (d == null) {
      throw new IllegalArgumentException(what + " is required");
    }
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("window " + what + " must be positive, got " + d);
    }
    // start() divides event-time millis by the size: below 1 ms it is zero, with a fraction windows
    // would silently be shorter than asked, and past Long.MAX_VALUE ms toMillis() throws
    if (d.getNano() % 1_000_000 != 0 || d.compareTo(Duration.ofMillis(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("window " + what + " must be a whole number of milliseconds, got " + d);
    }
    if (d.compareTo(Durations.MAX) > 0) { // see Durations.MAX: a window's end must fit in a long
      throw new IllegalArgumentException("window " + what + " must be at most " + Durations.format(Durations.MAX)
          + " (10,000 years), got " + Durations.format(d));
    }
  }

  /** A window of the old single-kind form: epoch-aligned UTC tumbling windows of {@code size}. */
  public WindowSpec(Duration size) {
    this(Kind.TUMBLING, size, null, null, null);
  }

  public static WindowSpec tumbling(Duration size) {
    return new WindowSpec(Kind.TUMBLING, size, null, null, null);
  }

  /** Tumbling windows aligned to local days of {@code zone}; size a whole number of days. */
  public static WindowSpec tumbling(Duration size, ZoneId zone) {
    return new WindowSpec(Kind.TUMBLING, size, null, null, zone);
  }

  public static WindowSpec hopping(Duration size, Duration every) {
    return new WindowSpec(Kind.HOPPING, size, every, null, null);
  }

  public static WindowSpec session(Duration gap) {
    return new WindowSpec(Kind.SESSION, null, null, gap, null);
  }

  /** Whether windows follow a time zone's local days (calendar-aligned, variable length). */
  public boolean zoned() {
    return isZoned(zone);
  }

  /** Whether {@code zone} is one other than UTC (written {@code Z}, {@code UTC}, {@code Etc/UTC}, {@code +00:00}...). */
  private static boolean isZoned(ZoneId zone) {
    return zone != null && !(zone.normalized() instanceof ZoneOffset o && o.getTotalSeconds() == 0);
  }

  /**
   * For tumbling windows, the start of the window that holds event time {@code t}; for hopping
   * windows the start of the latest window that holds it; for sessions {@code t} itself (the
   * start of the event's own session fragment). Zoned tumbling windows compute with
   * {@code java.time} here; the fold path caches the current window instead (see {@code ViewProgram}).
   */
  public long start(long t) {
    switch (kind) {
      case TUMBLING:
        if (zoned()) {
          return zonedStart(t);
        }
        return Math.floorDiv(t, size.toMillis()) * size.toMillis();
      case HOPPING:
        return Math.floorDiv(t, every.toMillis()) * every.toMillis();
      default:
        return t;
    }
  }

  /**
   * The end (exclusive) of the window that starts at {@code start}. For a session the end depends
   * on its last event ({@code last + gap}), so this is the end of a one-event session.
   */
  public long end(long start) {
    switch (kind) {
      case TUMBLING:
        if (zoned()) {
          // From the window's day on the grid, not the day its start falls on: the two differ when the
          // zone skipped the grid day (Pacific/Apia skipped 2011-12-30), and the window would then
          // overlap the next one by the days skipped.
          return startOfDay(gridDay(start) + size.toMillis() / DAY);
        }
        return start + size.toMillis();
      case HOPPING:
        return start + size.toMillis();
      default:
        return start + gap.toMillis();
    }
  }

  private long zonedStart(long t) {
    return startOfDay(gridDay(t));
  }

  /** The epoch day that starts the zoned window holding {@code t}: its local day, down to a multiple of the size. */
  private long gridDay(long t) {
    long days = size.toMillis() / DAY;
    return Math.floorDiv(Instant.ofEpochMilli(t).atZone(zone).toLocalDate().toEpochDay(), days) * days;
  }

  /** The first instant of epoch day {@code day} in the zone (after a gap, when midnight or the day was skipped). */
  private long startOfDay(long day) {
    return LocalDate.ofEpochDay(day).atStartOfDay(zone).toInstant().toEpochMilli();
  }

  /** The size of a tumbling or hopping window in milliseconds (a zoned day's nominal 24 h); a session's gap. */
  public long sizeMillis() {
    return kind == Kind.SESSION ? gap.toMillis() : size.toMillis();
  }

  @Override
  public String toString() {
    switch (kind) {
      case TUMBLING:
        return "{tumbling: " + Durations.format(size) + (zone == null ? "" : ", zone: " + zone.getId()) + "}";
      case HOPPING:
        return "{hopping: {size: " + Durations.format(size) + ", every: " + Durations.format(every) + "}}";
      default:
        return "{session: {gap: " + Durations.format(gap) + "}}";
    }
  }
}
