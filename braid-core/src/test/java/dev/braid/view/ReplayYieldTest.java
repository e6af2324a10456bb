package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A replay thread waits for a lagging live speed layer, in bounded naps, and never stops for good. */
class ReplayYieldTest {

  private final List<Long> naps = new ArrayList<>();
  private final ReplayYield yield = new ReplayYield(naps::add);

  @Test
  void shouldNotWaitWhileTheLiveSpeedLayerKeepsUp() {
    assertThat(yield.await(() -> ReplayYield.LIVE_LAG)).isZero();
    assertThat(yield.await(() -> 0)).isZero();
    assertThat(naps).isEmpty();
  }

  @Test
  void shouldWaitUntilTheLiveSpeedLayerCatchesUp() {
    long[] lag = {ReplayYield.LIVE_LAG * 3};
    int n = yield.await(() -> {
      long l = lag[0];
      lag[0] -= ReplayYield.LIVE_LAG; // the live speed layer folds between naps
      return l;
    });
    assertThat(n).isEqualTo(2);
    assertThat(naps).containsExactly(ReplayYield.PAUSE_NANOS, ReplayYield.PAUSE_NANOS);
    assertThat(yield.pauses()).isEqualTo(2);
  }

  @Test
  void shouldPollAnywayAfterTheLongestWaitSoTheReplayProgresses() {
    assertThat(yield.await(() -> Long.MAX_VALUE)).isEqualTo(ReplayYield.MAX_PAUSES);
    assertThat(yield.await(() -> Long.MAX_VALUE)).isEqualTo(ReplayYield.MAX_PAUSES);
    assertThat(yield.pauses()).isEqualTo(2L * ReplayYield.MAX_PAUSES);
  }

  @Test
  void shouldNotWaitOnAnInterruptedThread() {
    Thread.currentThread().interrupt();
    try {
      assertThat(yield.await(() -> Long.MAX_VALUE)).isZero();
    } finally {
      Thread.interrupted();
    }
  }
}
