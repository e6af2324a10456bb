package dev.braid.table;

import dev.braid.log.Cut;
import java.util.Objects;

/**
 * How a bulk push runs. The start cut is the real-time log's end when the push starts, unless
 * {@code sinceMillis} (the first write ingested at or after that time, per partition: for a snapshot
 * taken then) or {@code sincePosition} (an exact cut) says otherwise.
 *
 * @param format the input format
 * @param source the input's name in bad-row reports (a file name)
 * @param incremental apply the rows as writes to the current version instead of building a version
 * @param maxBadRows bad rows tolerated: a count, or with {@code maxBadPercent} a percentage of rows
 * @param waitForSwap whether {@link Table#push} returns only when the new version is current
 * @param allowEmpty whether a (full) push of no rows may make an empty version current, emptying the
 *     table; without it such a push fails, as an empty file is far more often a mistake
 */
public record PushOptions(PushFormat format, String source, boolean incremental, Long sinceMillis,
    Cut sincePosition, long maxBadRows, boolean maxBadPercent, boolean waitForSwap, boolean allowEmpty) {

  public PushOptions {
    Objects.requireNonNull(format, "format");
    Objects.requireNonNull(source, "source");
    if (sinceMillis != null && sincePosition != null) {
      throw new IllegalArgumentException("give since or since-position, not both");
    }
    if (incremental && (sinceMillis != null || sincePosition != null)) {
      throw new IllegalArgumentException(INCREMENTAL_WITH_SINCE);
    }
    if (maxBadRows < 0 || (maxBadPercent && maxBadRows > 100)) {
      throw new IllegalArgumentException("max bad rows must be a count >= 0 or a percentage 0..100, got "
          + maxBadRows + (maxBadPercent ? "%" : ""));
    }
  }

  /** Why an incremental push takes no {@code since}: it builds no version whose writes are replayed from a cut. */
  public static final String INCREMENTAL_WITH_SINCE = "since and since-position choose the cut from which a new "
      + "version replays the table's real-time writes; an incremental push builds no version (its rows become writes "
      + "to the current one), so it takes neither";

  /** JSON lines, no bad rows allowed, start cut at the log's end, waiting for the swap. */
  public static PushOptions defaults(String source) {
    return new PushOptions(PushFormat.jsonLines(), source, false, null, null, 0, false, true, false);
  }

  public PushOptions withFormat(PushFormat f) {
    return new PushOptions(f, source, incremental, sinceMillis, sincePosition, maxBadRows, maxBadPercent,
        waitForSwap, allowEmpty);
  }

  public PushOptions incremental(boolean on) {
    return new PushOptions(format, source, on, sinceMillis, sincePosition, maxBadRows, maxBadPercent, waitForSwap,
        allowEmpty);
  }

  public PushOptions since(long millis) {
    return new PushOptions(format, source, incremental, millis, null, maxBadRows, maxBadPercent, waitForSwap,
        allowEmpty);
  }

  public PushOptions sincePosition(Cut cut) {
    return new PushOptions(format, source, incremental, null, cut, maxBadRows, maxBadPercent, waitForSwap, allowEmpty);
  }

  /** {@code "N"} or {@code "P%"}. */
  public PushOptions maxBadRows(String spec) {
    String s = spec.strip();
    boolean pct = s.endsWith("%");
    long n;
    try {
      n = Long.parseLong(pct ? s.substring(0, s.length() - 1).strip() : s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("max bad rows: '" + spec + "' is not a count (100) or a percentage (0.5% is "
          + "not supported; use whole percents like 1%)");
    }
    return new PushOptions(format, source, incremental, sinceMillis, sincePosition, n, pct, waitForSwap, allowEmpty);
  }

  public PushOptions waitForSwap(boolean w) {
    return new PushOptions(format, source, incremental, sinceMillis, sincePosition, maxBadRows, maxBadPercent, w,
        allowEmpty);
  }

  public PushOptions allowEmpty(boolean on) {
    return new PushOptions(format, source, incremental, sinceMillis, sincePosition, maxBadRows, maxBadPercent,
        waitForSwap, on);
  }
}
