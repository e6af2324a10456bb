package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.event.FieldType;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stream's watermark with a controlled clock: partitions that never had an event hold it back
 * until they are idle, a partition that jumps ahead does not move it, an idle partition stops holding
 * it back, it never goes back, it is in every read's {@code asOf}, and it survives a restart.
 */
class WatermarkTest {

  static final long T = 1_780_000_000_000L;
  static final long OOO = 5_000;

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(3).key("k").time("ts").maxOutOfOrder(Duration.ofMillis(OOO))
            .idleAfter(Duration.ofMinutes(1)).field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1)).aggregate("n", "count")
            .build())
        .build();
  }

  /** A key of partition {@code p}. */
  static String keyOf(int p) {
    for (int i = 0; ; i++) {
      byte[] k = ("k" + i).getBytes(StandardCharsets.UTF_8);
      if (Partitioner.partition(k, 0, k.length, 3) == p) {
        return "k" + i;
      }
    }
  }

  static void send(Engine b, int partition, long ts) throws InterruptedException {
    assertThat(b.ingest("s", List.of(Map.of("k", keyOf(partition), "ts", ts))).rejections()).isEmpty();
    assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
  }

  static Status.Watermark watermark(Braid b) {
    return b.status().streams().get(0).watermark();
  }

  @Test
  void shouldHoldTheWatermarkAtTheSlowestActivePartitionAndSkipIdleOnesAcrossRestarts(@TempDir Path dir)
      throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      assertThat(watermark(b).millis()).as("no event yet").isEqualTo(Long.MIN_VALUE);
      send(b, 0, T + 10_000);
      send(b, 1, T + 20_000);
      assertThat(watermark(b).millis()).as("partition 2 has no event and is not idle yet").isEqualTo(Long.MIN_VALUE);
      assertThat(b.get("v", keyOf(0)).asOf().watermarkMillis()).isEqualTo(Long.MIN_VALUE);

      clock.addAndGet(61_000); // every partition idle: the largest partition watermark
      assertThat(watermark(b).millis()).isEqualTo(T + 20_000 - OOO);
      send(b, 0, T + 30_000); // partition 0 active again, the others idle
      assertThat(watermark(b).millis()).isEqualTo(T + 30_000 - OOO);
      send(b, 1, T + 31_000);
      assertThat(watermark(b).millis()).as("slowest of the active partitions").isEqualTo(T + 30_000 - OOO);

      send(b, 1, T + 3_600_000); // partition 1 jumps ahead an hour
      Status.Watermark w = watermark(b);
      assertThat(w.millis()).as("a partition jumping ahead does not move it").isEqualTo(T + 30_000 - OOO);
      assertThat(w.partitions()).extracting(Status.PartitionWatermark::millis)
          .containsExactly(T + 30_000 - OOO, T + 3_600_000 - OOO, Long.MIN_VALUE);
      assertThat(w.partitions()).extracting(Status.PartitionWatermark::idle).containsExactly(false, false, true);
      assertThat(b.get("v", keyOf(1)).asOf().watermarkMillis()).isEqualTo(T + 30_000 - OOO);

      clock.addAndGet(61_000);
      send(b, 1, T + 3_601_000); // partition 0 idle now: only partition 1 holds it
      assertThat(watermark(b).millis()).isEqualTo(T + 3_601_000 - OOO);
      send(b, 0, T + 40_000); // partition 0 wakes up far behind: the watermark does not go back
      assertThat(watermark(b).millis()).isEqualTo(T + 3_601_000 - OOO);
      assertThat(b.get("v", keyOf(0)).asOf().watermarkMillis()).isEqualTo(T + 3_601_000 - OOO);
    }
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      Status.Watermark w = watermark(b);
      assertThat(w.partitions()).as("partition maxima restored from the checkpoint")
          .extracting(Status.PartitionWatermark::maxEventTimeMillis)
          .containsExactly(T + 40_000, T + 3_601_000, Long.MIN_VALUE);
      clock.addAndGet(61_000);
      assertThat(watermark(b).millis()).as("all idle after the restart").isEqualTo(T + 3_601_000 - OOO);
    }
  }
}
