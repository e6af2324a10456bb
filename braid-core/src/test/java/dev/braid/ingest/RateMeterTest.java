package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateMeterTest {

  @Test
  void shouldAverageTheLastTenCompleteSecondsAndForgetOlderOnes() {
    AtomicLong clock = new AtomicLong(1_000_000_000L);
    RateMeter meter = new RateMeter(clock::get);
    assertThat(meter.perSecond()).isZero();

    for (int s = 0; s < 10; s++) {
      meter.record(300);
      meter.record(200);
      clock.addAndGet(1000);
    }
    meter.record(7_000); // the current second is not complete: not counted yet
    assertThat(meter.perSecond()).isEqualTo(500.0);

    clock.addAndGet(1000);
    assertThat(meter.perSecond()).isEqualTo((9 * 500 + 7_000) / 10.0);

    clock.addAndGet(60_000); // a minute of silence
    assertThat(meter.perSecond()).isZero();
    meter.record(10);
    clock.addAndGet(1000);
    assertThat(meter.perSecond()).isEqualTo(1.0);
  }
}
