package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How {@code braid query} shows a double in its table ({@code --json} keeps the exact value). */
class QueryCommandTest {

  @Test
  void shouldShowADoubleWithAtMostFifteenSignificantDigits() {
    assertThat(QueryCommand.readable(0.1 + 0.2)).isEqualTo("0.3");
    assertThat(QueryCommand.readable(114.14999999999999)).isEqualTo("114.15");
    assertThat(QueryCommand.readable(3.5)).isEqualTo("3.5");
    assertThat(QueryCommand.readable(-2.0)).isEqualTo("-2");
    assertThat(QueryCommand.readable(123456789012345.0)).isEqualTo("123456789012345");
    assertThat(QueryCommand.readable(1234567890123.45)).isEqualTo("1234567890123.45");
    assertThat(QueryCommand.readable(0.000123456789012345)).isEqualTo("0.000123456789012345");
    assertThat(QueryCommand.readable(1e300)).isEqualTo("1E+300");
    assertThat(QueryCommand.readable(0.0)).isEqualTo("0");
    assertThat(QueryCommand.readable(Double.NaN)).isEqualTo("NaN");
    assertThat(QueryCommand.readable(Double.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
  }

  /** A window's values, shown as JSON in the table: doubles as readable as a plain value's, timestamps ISO-8601. */
  @Test
  void shouldShowTheDoublesOfAWindowsValuesReadably() throws Exception {
    com.fasterxml.jackson.databind.JsonNode values = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        "{\"n\": 3, \"spend\": 193.60999999999999, \"avg\": 2.5, \"last\": 1764547200000, \"tag\": \"x\"}");
    assertThat(QueryCommand.shown(values, java.util.Set.of("last")))
        .isEqualTo("{\"n\":3,\"spend\":193.61,\"avg\":2.5,\"last\":\"2025-12-01T00:00:00Z\",\"tag\":\"x\"}");
  }
}
