package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Status;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code skippedEvents} and {@code eventsWithoutKey} in a view's status count each event of the log
 * up to the current version's position once: through batch cycles (whose Base counts the events
 * before the cut, while the Delta counts those after), restarts from a checkpoint (which carries the
 * Delta's counts) and restarts without one (the Delta replays and counts again from the cut).
 * Compared with a model over seeded random histories. One view groups by the stream's key, so its
 * batch cycles take the radix fold; another groups by a nullable field and takes the one-pass fold;
 * the third fails in an aggregation's {@code where} condition rather than in its filter; the fourth
 * is windowed, and its closed windows move out of memory into runs after every step (each such
 * spill copies the Delta with its counts).
 */
class SkippedEventsStatusTest {

  /** CEL's int arithmetic throws on overflow: for m = 20 the filter fails and the event is skipped. */
  private static final String FILTER = "m * 480000000000000000 > 1000000000000000000";
  private static final EngineOptions OPTIONS =
      new EngineOptions(2, 1L << 26).withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(1);

  @TempDir
  Path dir;

  static LongStream seeds() {
    return LongStream.rangeClosed(1, 6);
  }

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("e").partitions(2).key("id").time("ts")
            .field("id", FieldType.STRING).field("g", FieldType.STRING).field("m", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("by_id").from("e").groupBy("id").filter(FILTER).aggregate("n", "count").build())
        .view(ViewSpec.builder("by_g").from("e").groupBy("g").filter(FILTER).aggregate("n", "count").build())
        .view(ViewSpec.builder("per_min").from("e").groupBy("g").filter(FILTER)
            .window(dev.braid.spec.WindowSpec.tumbling(Duration.ofMinutes(1))).aggregate("n", "count").build())
        .view(ViewSpec.builder("ratio").from("e").groupBy("id").aggregate("n", "count")
            .aggregate("big", "count where 60 / m > 15").build())
        .build();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldCountEachSkippedEventOnceThroughBatchCyclesAndRestarts(long seed) throws Exception {
    Random rnd = new Random(seed);
    Path data = dir.resolve("data");
    long failed = 0; // the filter throws: skipped by both views
    long withoutKey = 0; // admitted by the filter, no g: left out by by_g only
    long divisionsByZero = 0; // m = 0: the where condition of ratio's aggregation fails
    long spilled = 0;
    int next = 0;
    List<String> steps = new ArrayList<>();
    Engine e = Engine.open(data, spec(), OPTIONS);
    try {
      for (int step = 0; step < 12; step++) {
        int what = step == 0 ? 0 : step == 6 ? 5 : rnd.nextInt(10); // starts with events, batches at least once
        if (what < 5) {
          int n = step == 0 ? 300 : 1 + rnd.nextInt(400);
          List<Map<String, Object>> events = new ArrayList<>();
          for (int i = 0; i < n; i++) {
            long m = rnd.nextInt(4) == 0 ? 20 : rnd.nextInt(6);
            boolean noKey = rnd.nextInt(5) == 0;
            Map<String, Object> ev = new HashMap<>();
            ev.put("id", "k" + rnd.nextInt(40));
            ev.put("ts", 1_700_000_000_000L + 1_000L * next++); // a second apart: minutes close as events flow
            ev.put("m", m);
            if (!noKey) {
              ev.put("g", "g" + rnd.nextInt(8));
            }
            events.add(ev);
            if (m == 0) {
              divisionsByZero++;
            }
            if (m == 20) {
              failed++;
            } else if (noKey && m * 480_000_000_000_000_000L > 1_000_000_000_000_000_000L) {
              withoutKey++;
            }
          }
          assertThat(e.ingest("e", events).accepted()).isEqualTo(n);
          steps.add("ingest " + n);
        } else if (what < 7) {
          e.runBatch("by_id");
          e.runBatch("by_g");
          e.runBatch("per_min");
          steps.add("batch");
        } else {
          boolean keepCheckpoints = rnd.nextBoolean();
          e.close();
          if (!keepCheckpoints) {
            deleteCheckpoints(data);
          }
          e = Engine.open(data, spec(), OPTIONS);
          steps.add(keepCheckpoints ? "restart" : "restart without checkpoints");
        }
        assertThat(e.awaitCaughtUp(20, TimeUnit.SECONDS)).isTrue();
        spilled += e.spillClosedWindows();
        String context = "seed " + seed + " after " + steps;
        if (steps.get(steps.size() - 1).equals("restart")) {
          assertThat(view(e, "by_g").checkpoints().restoredFrom()).as(context + ": from a checkpoint")
              .isNotNull();
        }
        Status.ViewStatus byId = view(e, "by_id");
        Status.ViewStatus byG = view(e, "by_g");
        assertThat(byId.skippedEvents()).as(context + ": by_id skipped").isEqualTo(failed);
        assertThat(byId.eventsWithoutKey()).as(context + ": by_id without key").isZero();
        assertThat(byG.skippedEvents()).as(context + ": by_g skipped").isEqualTo(failed);
        assertThat(byG.eventsWithoutKey()).as(context + ": by_g without key").isEqualTo(withoutKey);
        Status.ViewStatus perMin = view(e, "per_min");
        assertThat(perMin.skippedEvents()).as(context + ": per_min skipped").isEqualTo(failed);
        assertThat(perMin.eventsWithoutKey()).as(context + ": per_min without key").isEqualTo(withoutKey);
        Status.ViewStatus ratio = view(e, "ratio");
        assertThat(ratio.skippedEvents()).as(context + ": ratio skipped").isEqualTo(divisionsByZero);
        assertThat(ratio.eventsWithoutKey()).as(context + ": ratio without key").isZero();
        for (Status.ViewStatus v : List.of(byId, byG, perMin, ratio)) {
          assertThat(v.leftOutCountsComplete()).as(context + ": " + v.name() + " complete").isTrue();
        }
      }
      assertThat(steps).as("seed %d ran a batch cycle", seed).contains("batch");
      assertThat(spilled).as("seed %d moved closed windows to runs", seed).isPositive();
    } finally {
      e.close();
    }
  }

  /**
   * A catalog written before the Base's counts were recorded (the fields removed here) makes the
   * counts lower bounds until the next batch cycle counts the Base's events again.
   */
  @org.junit.jupiter.api.Test
  void shouldCallTheCountsIncompleteForABaseFromACatalogWithoutThem() throws Exception {
    Path data = dir.resolve("data");
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      events.add(Map.of("id", "k" + i, "ts", 1_700_000_000_000L + i, "m", i % 3 == 0 ? 20L : 4L, "g", "x"));
    }
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      assertThat(e.ingest("e", events).accepted()).isEqualTo(30);
      e.runBatch("by_g");
      assertThat(view(e, "by_g").skippedEvents()).isEqualTo(10);
      assertThat(view(e, "by_g").leftOutCountsComplete()).isTrue();
    }
    Path catalog = data.resolve("catalog.json");
    String json = Files.readString(catalog);
    assertThat(json).containsPattern("\"baseSkipped\"\\s*:\\s*10,");
    String old = json.replaceAll(",\\s*\"baseSkipped\"\\s*:\\s*\\d+,\\s*\"baseWithoutKey\"\\s*:\\s*\\d+", "");
    assertThat(old).doesNotContain("baseSkipped");
    Files.writeString(catalog, old);
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      assertThat(view(e, "by_g").leftOutCountsComplete()).as("the Base's counts are not known").isFalse();
      assertThat(view(e, "by_id").leftOutCountsComplete()).as("no Base: nothing before its cut").isTrue();
      e.runBatch("by_g");
      assertThat(view(e, "by_g").leftOutCountsComplete()).isTrue();
      assertThat(view(e, "by_g").skippedEvents()).isEqualTo(10);
    }
  }

  private static Status.ViewStatus view(Engine e, String name) {
    return e.status().views().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  private static void deleteCheckpoints(Path data) throws Exception {
    for (String view : List.of("by_id", "by_g", "per_min", "ratio")) {
      Path d = data.resolve("views").resolve(view);
      if (!Files.isDirectory(d)) {
        continue;
      }
      try (Stream<Path> s = Files.list(d)) {
        for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".ckpt")).toList()) {
          Files.delete(p);
        }
      }
    }
  }
}
