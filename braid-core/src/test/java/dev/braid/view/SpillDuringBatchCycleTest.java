package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Status;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A batch cycle holds its view's batch lock for the whole recompute (minutes on a long log). The
 * engine's one spiller thread checks every windowed view in turn: it once waited on that lock, so
 * while one view recomputed no view's closed windows left memory (and a close waited a minute for
 * the spiller). The periodic check now passes over a busy view until its next round.
 */
class SpillDuringBatchCycleTest {

  static final long T = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("a").from("s").groupBy("user").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").allowedLateness(Duration.ZERO).build()) // lambda: it has batch cycles
        .view(ViewSpec.builder("b").from("s").groupBy("user").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").allowedLateness(Duration.ZERO).mode(ViewSpec.Mode.KAPPA).build())
        .build();
  }

  static void ingest(Engine e, int fromMinute, int toMinute) throws Exception {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int m = fromMinute; m < toMinute; m++) {
      for (int k = 0; k < 50; k++) {
        batch.add(Map.of("user", "u" + k, "ts", T + m * 60_000L + 1_000));
      }
    }
    assertThat(e.ingest("s", batch).rejections()).isEmpty();
    assertThat(e.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
  }

  static Status.DeltaState delta(Engine e, String view) {
    return e.status().views().stream().filter(v -> v.name().equals(view)).findFirst().orElseThrow().delta();
  }

  @Test
  void shouldSpillOtherViewsWhileOneViewsBatchCycleRuns(@TempDir Path dir) throws Exception {
    try (Engine e = Engine.open(dir, spec(), EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(1))) {
      ingest(e, 0, 5);
      CountDownLatch inCycle = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      e.viewRuntime("a").beforeBatchSwap = () -> { // a long batch cycle of view a
        inCycle.countDown();
        try {
          release.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException x) {
          Thread.currentThread().interrupt();
        }
      };
      // threads of its own: with one CPU's worth of common pool (2 cores), a task queued there behind the held cycle
      // never ran
      java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newCachedThreadPool();
      CompletableFuture<?> cycle = CompletableFuture.runAsync(() -> e.runBatch("a"), threads);
      try {
        assertThat(inCycle.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(CompletableFuture.supplyAsync(() -> {
          try {
            return e.viewRuntime("a").spillClosedWindows(false);
          } catch (Exception x) {
            throw new IllegalStateException(x);
          }
        }, threads).get(30, TimeUnit.SECONDS)).as("the periodic check passes over the view whose cycle runs").isZero();

        long before = delta(e, "b").spilledGroups();
        ingest(e, 5, 40); // view b closes 35 x 50 more groups
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (delta(e, "b").spilledGroups() <= before) {
          assertThat(System.nanoTime()).as("view b's closed windows leave memory while view a's cycle runs: %s",
              delta(e, "b")).isLessThan(deadline);
          Thread.sleep(20);
        }
      } finally {
        release.countDown();
        threads.shutdown();
      }
      cycle.get(60, TimeUnit.SECONDS);
      assertThat(e.spillClosedWindows()).as("view a's own, once its cycle is done").isPositive();
    }
  }
}
