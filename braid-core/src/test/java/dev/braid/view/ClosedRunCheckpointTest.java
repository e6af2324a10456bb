package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A closed-window run that a spill writes at the position of the last checkpoint is named by the
 * next checkpoint (the close's, at the latest), so the next start keeps it. The close once skipped
 * its checkpoint because the position had not moved, and the next start removed the run as an
 * orphan and held its groups in memory again: reads stayed right, the work was redone.
 */
class ClosedRunCheckpointTest {

  static final long T = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();
  static final List<String> KEYS = List.of("u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7");

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(2).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_minute").from("s").groupBy("user").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").allowedLateness(Duration.ZERO).mode(ViewSpec.Mode.KAPPA).build())
        .build();
  }

  static void ingest(Engine e) throws Exception {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int m = 0; m < 10; m++) { // 10 one-minute windows, the last one open
      for (String k : KEYS) {
        batch.add(Map.of("user", k, "ts", T + m * 60_000L + 1_000));
      }
    }
    assertThat(e.ingest("s", batch).rejections()).isEmpty();
    assertThat(e.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
  }

  static TreeSet<String> runs(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir.resolve("views").resolve("per_minute"))) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".closed"))
          .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
    }
  }

  static List<ViewResult> reads(Engine e) {
    List<ViewResult> out = new ArrayList<>();
    for (String k : KEYS) {
      ViewResult r = e.get("per_minute", k);
      out.add(new ViewResult(r.view(), r.key(), r.found(), r.values(), r.windows(), null));
    }
    return out;
  }

  static final EngineOptions SPILL = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
      .withDeltaSpillGroups(1);

  /** A checkpoint, then a spill with no event in between, then a clean close. */
  @Test
  void checkpointThenSpillAtTheSamePositionThenCleanClose(@TempDir Path dir) throws Exception {
    List<ViewResult> before;
    TreeSet<String> atClose;
    try (Engine e = Engine.open(dir, spec(), SPILL)) {
      ingest(e);
      e.checkpointAll(); // at position P, every group in memory
      assertThat(e.spillClosedWindows()).as("closed windows moved to a run at P").isPositive();
      before = reads(e);
    } // the close's checkpoint: the position is the last checkpoint's, the runs are not
    atClose = runs(dir);
    assertThat(atClose).isNotEmpty();
    try (Engine e = Engine.open(dir, spec(), EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(Long.MAX_VALUE))) {
      TreeSet<String> after = runs(dir);
      assertThat(reads(e)).as("reads after the restart").isEqualTo(before);
      assertThat(after).as("runs present at the clean stop survive the next start").containsAll(atClose);
    }
  }

  /**
   * No explicit checkpoint: the first engine stops before any spill (a stop within the spiller's
   * first second); the second restores from that checkpoint, its spiller moves the closed windows
   * into a run at the restored position, and it closes cleanly; the third keeps the run.
   */
  @Test
  void restartFromCheckpointThenSpillThenCleanClose(@TempDir Path dir) throws Exception {
    List<ViewResult> before;
    try (Engine e = Engine.open(dir, spec(), EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(Long.MAX_VALUE))) { // stands for "stopped before the spiller's first check"
      ingest(e);
      before = reads(e);
    }
    TreeSet<String> atClose;
    try (Engine e = Engine.open(dir, spec(), SPILL)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (runs(dir).isEmpty()) { // the engine's own periodic spill check (every second)
        assertThat(System.nanoTime()).as("the spiller wrote a run").isLessThan(deadline);
        Thread.sleep(50);
      }
      assertThat(reads(e)).isEqualTo(before);
    }
    atClose = runs(dir);
    try (Engine e = Engine.open(dir, spec(), EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(Long.MAX_VALUE))) {
      TreeSet<String> after = runs(dir);
      assertThat(reads(e)).as("reads after the restart").isEqualTo(before);
      assertThat(after).as("runs present at the clean stop survive the next start").containsAll(atClose);
    }
  }
}
