package dev.braid.spec;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Tumbling windows on a time zone's local days tile the time line: every instant is in exactly one
 * window, each window ends where the next starts, and a window starts at the first instant of a local
 * day whose number (days since 1970-01-01) the size divides, or of the first day after it that exists.
 * Checked over seeded random instants around zones' irregular days: Pacific/Apia skipped 2011-12-30,
 * America/Santiago's clocks skip midnight when summer time starts, Europe/Berlin's days last 23 and
 * 25 hours twice a year.
 */
class ZonedWindowTest {

  @ParameterizedTest(name = "{0}, {1} days, around {2}, seed {3}")
  @CsvSource({
      "Pacific/Apia, 1, 2011-12-30, 1",
      "Pacific/Apia, 2, 2011-12-30, 2",
      "Pacific/Apia, 3, 2011-12-30, 3",
      "Pacific/Apia, 7, 2011-12-30, 4",
      "America/Santiago, 2, 2022-09-11, 5",
      "America/Santiago, 1, 2022-09-11, 6",
      "Europe/Berlin, 2, 2026-03-29, 7",
      "Europe/Berlin, 7, 2026-10-25, 8"})
  void shouldTileTheTimeLineWithWindowsOnTheLocalDayGrid(String zoneId, int days, String around, long seed) {
    ZoneId zone = ZoneId.of(zoneId);
    WindowSpec w = WindowSpec.tumbling(Duration.ofDays(days), zone);
    long middle = LocalDate.parse(around).atStartOfDay(zone).toInstant().toEpochMilli();
    long span = Duration.ofDays(4L * days + 4).toMillis();
    Random random = new Random(seed);
    for (int i = 0; i < 5_000; i++) {
      long t = middle - span + (long) (random.nextDouble() * 2 * span);
      long start = w.start(t);
      long end = w.end(start);
      String at = "seed " + seed + ": t " + Instant.ofEpochMilli(t) + " in [" + Instant.ofEpochMilli(start) + ", "
          + Instant.ofEpochMilli(end) + ")";
      assertThat(start).as(at).isLessThanOrEqualTo(t);
      assertThat(end).as(at).isGreaterThan(t);
      assertThat(w.start(end - 1)).as("%s: its last millisecond is in it", at).isEqualTo(start);
      assertThat(w.start(end)).as("%s: the next window starts at its end", at).isEqualTo(end);
      assertThat(start).as("%s: the naive start", at).isEqualTo(naiveStart(t, days, zone));
    }
  }

  /**
   * The first instant of the local day of {@code t} rounded down to a multiple of {@code days}, or of the first
   * day after it that exists.
   */
  private static long naiveStart(long t, int days, ZoneId zone) {
    long day = Instant.ofEpochMilli(t).atZone(zone).toLocalDate().toEpochDay();
    for (long d = Math.floorDiv(day, days) * days; ; d++) {
      LocalDate date = LocalDate.ofEpochDay(d);
      long first = date.atStartOfDay(zone).toInstant().toEpochMilli();
      if (Instant.ofEpochMilli(first).atZone(zone).toLocalDate().equals(date)) {
        return first; // the day exists (its first instant may be after midnight, when midnight was skipped)
      }
    }
  }
}
