package dev.braid.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class SalesEventGeneratorTest {

  private static final Pattern SALE = Pattern.compile(
      "\\{\"store\":\"(S\\d{3}|WEB)\",\"sku\":\"(sku-\\d{6})\",\"qty\":(\\d+),\"price_cents\":(\\d+),"
          + "\"total_cents\":(\\d+),\"channel\":\"(store|web|app)\",\"ts\":(\\d+)}");

  @Test
  void shouldWriteOneJsonSalePerEventWhoseSkuIsTheKey() {
    SalesEventGenerator gen = new SalesEventGenerator(42, SalesEventGenerator.DEFAULT_START_MILLIS);
    for (int i = 0; i < 10_000; i++) {
      gen.next();
      String value = new String(gen.value(), 0, gen.valueLength(), StandardCharsets.US_ASCII);
      Matcher m = SALE.matcher(value);

      assertThat(m.matches()).as("event %d: %s", i, value).isTrue();
      assertThat(m.group(2)).isEqualTo(new String(gen.key(), StandardCharsets.US_ASCII));
      assertThat(Long.parseLong(m.group(7))).isEqualTo(gen.eventTime());
      assertThat(Long.parseLong(m.group(5))).isEqualTo(Long.parseLong(m.group(3)) * Long.parseLong(m.group(4)));
      assertThat(Integer.parseInt(m.group(3))).isBetween(1, 12);
      assertThat(m.group(1).equals("WEB")).isEqualTo(!m.group(6).equals("store"));
    }
  }

  @Test
  void shouldRepeatTheSameEventsForTheSameSeed() {
    SalesEventGenerator a = new SalesEventGenerator(7, 0);
    SalesEventGenerator b = new SalesEventGenerator(7, 0);
    for (int i = 0; i < 1000; i++) {
      a.next();
      b.next();
      assertThat(new String(a.value(), 0, a.valueLength(), StandardCharsets.US_ASCII))
          .as("event %d, seed 7", i)
          .isEqualTo(new String(b.value(), 0, b.valueLength(), StandardCharsets.US_ASCII));
    }
  }

  @Test
  void shouldAdvanceEventTimeWithOnlyAFewLateEvents() {
    SalesEventGenerator gen = new SalesEventGenerator(42, SalesEventGenerator.DEFAULT_START_MILLIS);
    long maxSeen = Long.MIN_VALUE;
    int late = 0;
    int n = 50_000;
    for (int i = 0; i < n; i++) {
      gen.next();
      if (gen.eventTime() < maxSeen) {
        late++;
        assertThat(maxSeen - gen.eventTime()).isLessThanOrEqualTo(5_000 + 1_000);
      }
      maxSeen = Math.max(maxSeen, gen.eventTime());
    }
    assertThat(late).isBetween(n / 100, n / 20);
    // About 20 ms per event on average.
    assertThat(maxSeen - SalesEventGenerator.DEFAULT_START_MILLIS).isBetween(n * 15L, n * 25L);
  }
}
