package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.ReprocessOptions;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A view's batch schedule follows the definition that serves, not the spec file's: a reprocess that
 * adds {@code batch.every} starts scheduled cycles, one that removes it stops them, and a rollback to
 * a version of either brings its schedule back.
 */
class BatchScheduleTest {

  @TempDir
  Path dir;

  private static ViewSpec.Builder perUser() {
    return ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count");
  }

  /** Batch cycles that built a version of the view in {@code millis}, while an event comes every 50 ms. */
  private static long cyclesIn(Engine e, long millis) throws InterruptedException {
    long before = batchCycles(e);
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (System.nanoTime() < end) {
      e.ingest("clicks", List.of(Map.of("user", "b", "ts", 1_700_000_000_000L)));
      Thread.sleep(50);
    }
    return batchCycles(e) - before;
  }

  private static long batchCycles(Engine e) {
    return e.status().views().stream().filter(v -> v.name().equals("per_user")).findFirst().orElseThrow()
        .batchCycles();
  }

  @Test
  void shouldRunBatchCyclesOnTheScheduleOfTheDefinitionThatServes() throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(perUser().build())
        .build();
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults())) {
      e.ingest("clicks", List.of(Map.of("user", "a", "ts", 1_700_000_000_000L)));
      assertThat(cyclesIn(e, 1_500)).as("the file's definition has no schedule").isZero();
      long first = e.versions("per_user").stream().filter(v -> v.state() == VersionState.CURRENT).findFirst()
          .orElseThrow().id();

      long scheduled = e.reprocess("per_user", perUser().batchEvery(Duration.ofMillis(100)).build(),
          ReprocessOptions.defaults());
      awaitCurrent(e, scheduled);
      assertThat(cyclesIn(e, 2_500)).as("the reprocess's batch.every of 100 ms").isGreaterThanOrEqualTo(2);

      long unscheduled = e.reprocess("per_user", perUser().build(), ReprocessOptions.defaults());
      awaitCurrent(e, unscheduled);
      Thread.sleep(300); // a cycle the old schedule started before the switch may still end
      assertThat(cyclesIn(e, 2_500)).as("a reprocess without batch.every").isZero();
      assertThat(e.servingDefinition("per_user").batchEvery()).isNull();
      assertThat(e.get("per_user", "a").values().get("n")).isEqualTo(1L);
      assertThat(first).isLessThan(scheduled);
    }
  }

  /** A stopping server calls {@link Engine#stopSchedules}: a cycle queued in the scheduler starts no more. */
  @Test
  void shouldStartNoScheduledCycleOnceSchedulesAreStopped() throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(perUser().batchEvery(Duration.ofMillis(300)).build())
        .build();
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults())) {
      long before = batchCycles(e);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (batchCycles(e) == before) { // a cycle just ended: the next is queued, 300 ms ahead
        e.ingest("clicks", List.of(Map.of("user", "a", "ts", 1_700_000_000_000L)));
        assertThat(System.nanoTime()).as("a scheduled cycle").isLessThan(deadline);
        Thread.sleep(1);
      }
      e.stopSchedules();
      long stopped = batchCycles(e);
      assertThat(cyclesIn(e, 1_500)).as("cycles after the schedules stopped (%d before)", stopped).isZero();
    }
  }

  private static void awaitCurrent(Engine e, long id) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      for (VersionInfo v : e.versions("per_user")) {
        if (v.id() == id && v.state() == VersionState.CURRENT) {
          return;
        }
      }
      assertThat(System.nanoTime()).as("version %d current", id).isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
