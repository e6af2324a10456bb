package dev.braid.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Spec durations ({@code 500ms .. 7d}) and the tumbling windows built from them. */
class DurationsTest {

  @ParameterizedTest
  @CsvSource({"500ms, PT0.5S, 500ms", "10s, PT10S, 10s", "5m, PT5M, 5m", "1h, PT1H, 1h", "7d, PT168H, 7d",
      "90m, PT1H30M, 90m", "60m, PT1H, 1h", "1000ms, PT1S, 1s", "' 2 H ', PT2H, 2h"})
  void shouldParseAndFormatEachUnit(String text, String iso, String canonical) {
    Duration d = Durations.parse(text);
    assertThat(d).isEqualTo(Duration.parse(iso));
    assertThat(Durations.format(d)).isEqualTo(canonical);
    assertThat(Durations.parse(Durations.format(d))).isEqualTo(d);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "h", "1", "1.5h", "-h", "1w", "1 hour", "PT1H", "1h30m"})
  void shouldRejectTextThatIsNotADuration(String text) {
    assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("'" + text + "' is not a duration: use a number and ms, s, m, h or d (e.g. 1h)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"-1h", "-5s", " -10ms"})
  void shouldSayThatANegativeDurationMustNotBeNegative(String text) {
    assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("duration '" + text + "' must not be negative");
  }

  @ParameterizedTest
  @ValueSource(strings = {"0ms", "0d"})
  void shouldRejectAZeroDuration(String text) {
    assertThatThrownBy(() -> Durations.parse(text)).hasMessage("duration '" + text + "' must be positive");
  }

  @ParameterizedTest
  @ValueSource(strings = {"106751991167301d", "9223372036854775808ms", "99999999999999999999d",
      "2562047788015216h"})
  void shouldRejectADurationTooLongForMillisWithAnIllegalArgument(String text) {
    assertThatThrownBy(() -> Durations.parse(text)).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessage("duration '" + text + "' is too long");
  }

  /**
   * Over 10,000 years a window's end or a watermark computed from an event time (years 0000-9999)
   * leaves a long's millis, so a spec refuses such a duration (a black-box review found a hopping
   * window of 106751990000d that dropped its events, a session that ended before it started).
   */
  @ParameterizedTest
  @ValueSource(strings = {"3652501d", "106751990000d", "106751991167d", "9223372036854775807ms"})
  void shouldRejectADurationOverTenThousandYears(String text) {
    assertThatThrownBy(() -> Durations.parse(text)).isExactlyInstanceOf(IllegalArgumentException.class)
        .hasMessage("duration '" + text + "' is too long: at most 3652500d (10,000 years)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"3652500d", "87660000h", "315576000000000ms"})
  void shouldAcceptTheLongestDurations(String text) {
    assertThat(Durations.parse(text).toMillis()).isPositive();
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "3599999, 0", "3600000, 3600000", "-1, -3600000", "-3600000, -3600000", "-3600001, -7200000"})
  void shouldPutAnEventTimeInTheHourThatHoldsIt(long t, long start) {
    WindowSpec w = WindowSpec.tumbling(Duration.ofHours(1));
    assertThat(w.start(t)).isEqualTo(start);
    assertThat(w.sizeMillis()).isEqualTo(3_600_000L);
    assertThat(w).hasToString("{tumbling: 1h}");
  }
}
