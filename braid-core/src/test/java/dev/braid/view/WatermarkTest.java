package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.ViewResult;
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
 * it back, it never goes back (not across a restart either), it is in every read's {@code asOf}, and it survives a
 * restart. And
 * {@code final} windows: a partition that never had an event holds finality back until it was idle
 * at the cut by the log's ingest times, and then its first events for final windows are late, the
 * same after restarts, until a batch cycle folds them in.
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

      assertThat(watermark(b).held()).as("at the rule's value").isFalse();

      send(b, 1, T + 3_600_000); // partition 1 jumps ahead an hour
      Status.Watermark w = watermark(b);
      assertThat(w.millis()).as("a partition jumping ahead does not move it").isEqualTo(T + 30_000 - OOO);
      assertThat(w.held()).isFalse();
      assertThat(w.partitions()).extracting(Status.PartitionWatermark::millis)
          .containsExactly(T + 30_000 - OOO, T + 3_600_000 - OOO, Long.MIN_VALUE);
      assertThat(w.partitions()).extracting(Status.PartitionWatermark::idle).containsExactly(false, false, true);
      assertThat(b.get("v", keyOf(1)).asOf().watermarkMillis()).isEqualTo(T + 30_000 - OOO);

      clock.addAndGet(61_000);
      send(b, 1, T + 3_601_000); // partition 0 idle now: only partition 1 holds it
      assertThat(watermark(b).millis()).isEqualTo(T + 3_601_000 - OOO);
      send(b, 0, T + 40_000); // partition 0 wakes up far behind: the watermark does not go back
      assertThat(watermark(b).millis()).isEqualTo(T + 3_601_000 - OOO);
      assertThat(watermark(b).held()).as("held above the active partition 0").isTrue();
      assertThat(b.get("v", keyOf(0)).asOf().watermarkMillis()).isEqualTo(T + 3_601_000 - OOO);
    }
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      Status.Watermark w = watermark(b);
      assertThat(w.partitions()).as("partition maxima restored from the checkpoint")
          .extracting(Status.PartitionWatermark::maxEventTimeMillis)
          .containsExactly(T + 40_000, T + 3_601_000, Long.MIN_VALUE);
      assertThat(w.millis()).as("the watermark does not go back across a restart, before partitions are idle again")
          .isEqualTo(T + 3_601_000 - OOO);
      assertThat(w.held()).as("and says it is held").isTrue();
      assertThat(b.get("v", keyOf(0)).asOf().watermarkMillis()).isEqualTo(T + 3_601_000 - OOO);
      clock.addAndGet(61_000);
      assertThat(watermark(b).millis()).as("all idle after the restart").isEqualTo(T + 3_601_000 - OOO);
      assertThat(watermark(b).held()).as("the rule's value again").isFalse();
    }
  }

  static PipelineSpec latenessSpec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(3).key("k").time("ts").maxOutOfOrder(Duration.ofMillis(OOO))
            .idleAfter(Duration.ofMinutes(1)).field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
            .allowedLateness(Duration.ofSeconds(10)).aggregate("n", "count").build())
        .build();
  }

  /** Deletes view v's checkpoints, so that the next open rebuilds its Delta from the cut. */
  static void deleteCheckpoints(Path dir) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir.resolve("views").resolve("v"))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (f.getFileName().toString().endsWith(".ckpt")) {
          java.nio.file.Files.delete(f);
        }
      }
    }
  }

  static List<ViewResult.WindowValue> windows(Braid b, int partition) {
    return b.get("v", keyOf(partition)).windows();
  }

  @Test
  void shouldNotHoldFinalityBackForAPartitionWithoutEventsOnceItWasIdleAtTheCut(@TempDir Path dir) throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    long m = Math.floorDiv(T, 60_000L) * 60_000L; // a minute window starts here
    try (Engine b = (Engine) Braid.open(dir, latenessSpec(), options)) {
      send(b, 0, m + 10_000);
      send(b, 1, m + 20_000);
      clock.addAndGet(30_000);
      send(b, 0, m + 200_000);
      send(b, 1, m + 210_000);
      b.runBatch("v");
      assertThat(windows(b, 0)).as("partition 2 had no event, and the log spans 30 s < idle_after: not idle")
          .extracting(ViewResult.WindowValue::state).containsOnly(ViewResult.WindowState.PROVISIONAL);

      clock.addAndGet(31_000); // the log now spans 61 s of ingest time without an event on partition 2
      send(b, 0, m + 300_000);
      send(b, 1, m + 310_000);
      b.runBatch("v");
      // cut watermark: min(300 s, 310 s) - 5 s; the first minute ends at 60 s, + 10 s lateness <= 295 s
      assertThat(windows(b, 0).get(0).state()).as("first minute of partition 0").isEqualTo(
          ViewResult.WindowState.FINAL);
      assertThat(windows(b, 0)).extracting(ViewResult.WindowValue::state).containsExactly(
          ViewResult.WindowState.FINAL, ViewResult.WindowState.FINAL, ViewResult.WindowState.PROVISIONAL);
      assertThat(watermark(b).partitions().get(2).maxEventTimeMillis()).as("partition 2 still read no event")
          .isEqualTo(Long.MIN_VALUE);

      send(b, 2, m + 15_000); // its first event, for a final window: late
      send(b, 2, m + 290_000); // not late: its window ends after the cut watermark
      assertThat(windows(b, 2)).extracting(ViewResult.WindowValue::start).containsExactly(m + 240_000);
      assertThat(b.lateEvents("s", 0, 10)).extracting(dev.braid.LateEvent::eventTimeMillis,
          dev.braid.LateEvent::watermarkMillis).as("late by the seed, the slowest partition's largest event time")
          .containsExactly(org.assertj.core.groups.Tuple.tuple(m + 15_000, m + 300_000 - OOO));
    }
    // a restart from the checkpoint, then one that rebuilds the Delta from the cut: the same decision
    try (Engine b = (Engine) Braid.open(dir, latenessSpec(), options)) {
      assertThat(windows(b, 2)).extracting(ViewResult.WindowValue::start).containsExactly(m + 240_000);
    }
    deleteCheckpoints(dir);
    try (Engine b = (Engine) Braid.open(dir, latenessSpec(), options)) {
      assertThat(b.status().views().get(0).checkpoints().restoredFrom()).isNull();
      assertThat(windows(b, 2)).as("replayed from the cut").extracting(ViewResult.WindowValue::start)
          .containsExactly(m + 240_000);
      assertThat(b.lateEvents("s", 0, 10)).as("recorded once").hasSize(1);
      b.runBatch("v"); // folds the late event in
      assertThat(windows(b, 2)).extracting(w -> List.of(w.start(), w.values().get("n"), w.state()))
          .containsExactly(List.of(m, 1L, ViewResult.WindowState.FINAL),
              List.of(m + 240_000, 1L, ViewResult.WindowState.PROVISIONAL));
    }
  }
  /**
   * A partition seeded at an earlier cut (idle there without records) keeps that lateness reference
   * at later cuts, once a batch cycle folded in its first (late) events: windows that were final
   * stay final, and an event late for the version before is late for the next one too, also after
   * a restart that rebuilds the Delta from the cut (the floor is in the catalog).
   */
  @Test
  void shouldKeepThePreviousVersionsLatenessReferenceOnceAnIdlePartitionHasRecordsBeforeTheCut(@TempDir Path dir)
      throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    long m = Math.floorDiv(T, 60_000L) * 60_000L;
    List<Object> finalThen;
    try (Engine b = (Engine) Braid.open(dir, latenessSpec(), options)) {
      send(b, 0, m + 10_000);
      send(b, 1, m + 20_000);
      clock.addAndGet(61_000);
      send(b, 0, m + 300_000);
      send(b, 1, m + 310_000);
      b.runBatch("v"); // partition 2 idle without records: seeded with 300 s
      finalThen = List.copyOf(windows(b, 0).stream().map(ViewResult.WindowValue::state).toList());
      assertThat(finalThen).containsExactly(ViewResult.WindowState.FINAL, ViewResult.WindowState.PROVISIONAL);

      send(b, 2, m + 15_000); // late for the final first minute
      assertThat(b.lateEvents("s", 0, 10)).hasSize(1);
      b.runBatch("v"); // folds it in: partition 2 now has a record before the cut, at 15 s
      assertThat(windows(b, 0)).as("still final after the second cycle").extracting(ViewResult.WindowValue::state)
          .isEqualTo(finalThen);
      assertThat(windows(b, 2)).extracting(w -> List.of(w.start(), w.state()))
          .containsExactly(List.of(m, ViewResult.WindowState.FINAL));

      send(b, 2, m + 100_000); // its window ends at 120 s + 10 s lateness, below 300 s - 5 s: late
      assertThat(windows(b, 2)).extracting(ViewResult.WindowValue::start).containsExactly(m);
      assertThat(b.lateEvents("s", 0, 10)).extracting(dev.braid.LateEvent::eventTimeMillis)
          .containsExactly(m + 15_000, m + 100_000);

      // a lambda reprocess (a Base at the log's end) keeps the floor too
      long r = b.reprocess("v", latenessSpec().views().get("v"), dev.braid.ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (b.versions("v").stream().noneMatch(x -> x.id() == r && x.state() == dev.braid.VersionState.CURRENT)) {
        assertThat(System.nanoTime()).as("reprocess %d becomes current", r).isLessThan(deadline);
        Thread.sleep(2);
      }
      assertThat(windows(b, 0)).as("final after the reprocess").extracting(ViewResult.WindowValue::state)
          .isEqualTo(finalThen);
      assertThat(windows(b, 2)).as("its Base holds the late events").extracting(ViewResult.WindowValue::start)
          .containsExactly(m, m + 60_000);
      send(b, 2, m + 150_000); // late for the reprocessed version too
      assertThat(windows(b, 2)).extracting(ViewResult.WindowValue::start).containsExactly(m, m + 60_000);
    }
    deleteCheckpoints(dir);
    try (Engine b = (Engine) Braid.open(dir, latenessSpec(), options)) {
      assertThat(b.status().views().get(0).checkpoints().restoredFrom()).isNull();
      assertThat(windows(b, 0)).as("rebuilt from the cut").extracting(ViewResult.WindowValue::state)
          .isEqualTo(finalThen);
      assertThat(windows(b, 2)).as("the replay finds 150 s late again").extracting(ViewResult.WindowValue::start)
          .containsExactly(m, m + 60_000);
    }
  }

  /**
   * A view without {@code allowed_lateness} (its Delta is not seeded from the log before the cut):
   * after a batch cycle whose cut holds each partition's largest time, and older events after it,
   * a restart keeps each partition's largest event time, so the watermark does not go back.
   */
  @Test
  void shouldKeepEachPartitionsLargestEventTimeAcrossARestartAfterABatchCycle(@TempDir Path dir) throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    Status.Watermark before;
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 3_600_000 + p);
      }
      b.runBatch("v"); // the cut holds every partition's largest time
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 60_000 + p); // older, after the cut
      }
      before = watermark(b);
      assertThat(before.millis()).isEqualTo(T + 3_600_000 - OOO);
    }
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      assertThat(watermark(b)).as("after a restart").isEqualTo(before);
      assertThat(b.get("v", keyOf(1)).asOf().watermarkMillis()).isEqualTo(T + 3_600_000 - OOO);
    }
    // A marks file that cannot be read only costs the head start.
    java.nio.file.Files.writeString(dir.resolve(EventTimeMarks.FILE), "{\"format\": 1, \"streams\": {\"s\": [[1]]}}");
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      assertThat(watermark(b).partitions()).extracting(Status.PartitionWatermark::maxEventTimeMillis)
          .as("only the events after the cut were read again").containsExactly(T + 60_000, T + 60_001, T + 60_002);
    }
  }

  /**
   * A {@code kill -9} after a batch cycle and before the next checkpoint round: the marks on disk
   * are the last round's, recorded before the partitions' largest times, and the new version's
   * Delta starts at the cycle's cut, after them. The restart reads the event times between the
   * marks and the cut, so each partition's largest time is what it was before the crash. Simulated
   * in-process: the marks file of an earlier close put back, the new version's checkpoints deleted.
   */
  @Test
  void shouldKeepEachPartitionsLargestEventTimeWhenTheMarksPredateABatchCycle(@TempDir Path dir) throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 60_000 + p);
      }
    }
    String olderMarks = java.nio.file.Files.readString(dir.resolve(EventTimeMarks.FILE));
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 3_600_000 + p); // the largest times, after the older marks' positions
      }
      b.runBatch("v"); // a cut after them
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 120_000 + p); // older, after the cut
      }
    }
    java.nio.file.Files.writeString(dir.resolve(EventTimeMarks.FILE), olderMarks);
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(dir.resolve("views"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".ckpt")).toList()) {
        java.nio.file.Files.delete(f); // the Delta replays from the cut, as after a kill -9 before its first checkpoint
      }
    }
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      assertThat(watermark(b).partitions()).extracting(Status.PartitionWatermark::maxEventTimeMillis)
          .as("the largest times, read between the marks and the cut")
          .containsExactly(T + 3_600_000, T + 3_600_001, T + 3_600_002);
      assertThat(b.get("v", keyOf(1)).asOf().watermarkMillis()).isEqualTo(T + 3_600_000 - OOO);
    }
  }

  /**
   * The same crash in a data directory that never had a checkpoint round or a clean close: a batch
   * cycle's switch records the marks with the catalog, at or after its cut, so the restart has them.
   * Simulated in-process: the marks file as it stood right after the cycle (no round in between)
   * put back after the close, the checkpoints the close wrote deleted.
   */
  @Test
  void shouldKeepEachPartitionsLargestEventTimeAfterACrashBeforeAnyCheckpointRound(@TempDir Path dir)
      throws Exception {
    AtomicLong clock = new AtomicLong(T);
    EngineOptions options = EngineOptions.defaults().withClock(clock::get).withCheckpointEvery(Duration.ofHours(1));
    Path marksFile = dir.resolve(EventTimeMarks.FILE);
    String marksAtCrash;
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 3_600_000 + p);
      }
      b.runBatch("v");
      for (int p = 0; p < 3; p++) {
        send(b, p, T + 120_000 + p); // older, after the cut
      }
      marksAtCrash = java.nio.file.Files.exists(marksFile) ? java.nio.file.Files.readString(marksFile) : null;
    }
    assertThat(marksAtCrash).as("marks recorded with the batch cycle's catalog").isNotNull();
    java.nio.file.Files.writeString(marksFile, marksAtCrash);
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(dir.resolve("views"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".ckpt")).toList()) {
        java.nio.file.Files.delete(f);
      }
    }
    try (Engine b = (Engine) Braid.open(dir, spec(), options)) {
      assertThat(watermark(b).partitions()).extracting(Status.PartitionWatermark::maxEventTimeMillis)
          .containsExactly(T + 3_600_000, T + 3_600_001, T + 3_600_002);
    }
  }
}

