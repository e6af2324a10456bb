package dev.braid.spec;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses spec durations: {@code 500ms}, {@code 10s}, {@code 5m}, {@code 1h}, {@code 7d}. */
public final class Durations {
  private static final Pattern FORM = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

  private Durations() {}

  /** As {@link #parse}, but {@code 0s} (any unit) is zero rather than an error: for bounds such as lateness. */
  public static Duration parseAllowingZero(String text) {
    Matcher m = FORM.matcher(text.strip().toLowerCase(Locale.ROOT));
    if (m.matches() && m.group(1).chars().allMatch(c -> c == '0')) {
      return Duration.ZERO;
    }
    return parse(text);
  }

  public static Duration parse(String text) {
    Matcher m = FORM.matcher(text.strip().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      if (text.strip().startsWith("-") && FORM.matcher(text.strip().substring(1).toLowerCase(Locale.ROOT)).matches()) {
        throw new IllegalArgumentException("duration '" + text + "' must not be negative");
      }
      throw new IllegalArgumentException("'" + text + "' is not a duration: use a number and ms, s, m, h or d (e.g. 1h)");
    }
    Duration d;
    try {
      d = of(Long.parseLong(m.group(1)), m.group(2));
      d.toMillis(); // windows and schedules work in millis: it must fit there too
    } catch (NumberFormatException | ArithmeticException e) {
      // a bare "long overflow" ArithmeticException would escape spec validation unreported
      throw new IllegalArgumentException("duration '" + text + "' is too long");
    }
    if (d.isZero()) {
      throw new IllegalArgumentException("duration '" + text + "' must be positive");
    }
    if (d.compareTo(MAX) > 0) {
      throw new IllegalArgumentException("duration '" + text + "' is too long: at most " + format(MAX)
          + " (10,000 years)");
    }
    return d;
  }

  /**
   * The longest duration a spec takes: 10,000 years. Event times lie in the years 0000-9999 (see
   * {@code EventEncoder}), so a window's start and end, a watermark ({@code max_out_of_order}) and a
   * lateness bound computed from such a time and such a duration all fit in a long's millis; a
   * longer one overflowed and gave wrong answers (a session ending before it starts, a hopping
   * window that dropped its events, a watermark in the year 292 million).
   */
  public static final Duration MAX = Duration.ofDays(3_652_500);

  private static Duration of(long n, String unit) {
    Duration d;
    switch (unit) {
      case "ms":
        d = Duration.ofMillis(n);
        break;
      case "s":
        d = Duration.ofSeconds(n);
        break;
      case "m":
        d = Duration.ofMinutes(n);
        break;
      case "h":
        d = Duration.ofHours(n);
        break;
      default:
        d = Duration.ofDays(n);
    }
    return d;
  }

  /** The shortest spec form of {@code d}. */
  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 86_400_000L == 0) {
      return ms / 86_400_000L + "d";
    }
    if (ms % 3_600_000L == 0) {
      return ms / 3_600_000L + "h";
    }
    if (ms % 60_000L == 0) {
      return ms / 60_000L + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
