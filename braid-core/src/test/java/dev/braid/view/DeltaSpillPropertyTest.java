package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.Status;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Closed-window runs: a windowed view's Delta moves closed windows out of memory into runs on disk,
 * and reads (Base + runs + in-memory Delta) still equal the naive model of
 * {@link EventTimePropertyTest} — tumbling, hopping, zoned and session windows with lateness, and a
 * tumbling view without lateness, where a straggler recreates a spilled window in memory — with
 * spills forced after every round (the smallest threshold), across checkpoints, clean restarts,
 * crashes (the data directory copied while the engine runs) and batch cycles. And the in-memory
 * Delta stays bounded by the open windows while events flow over many windows.
 */
class DeltaSpillPropertyTest {

  static final EngineOptions OPTIONS =
      EngineOptions.defaults().withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(1);

  static Stream<Arguments> seeds() {
    return java.util.stream.LongStream.range(10, 10 + Soak.seeds(6)).boxed().map(s -> Arguments.of(s, s % 2 == 1));
  }

  @ParameterizedTest(name = "seed {0}, unbounded disorder {1}")
  @MethodSource("seeds")
  void shouldReadExactlyAsTheNaiveModelWhileClosedWindowsMoveToRuns(long seed, boolean unbounded, @TempDir Path dir)
      throws Exception {
    Random rnd = new Random(seed);
    EventTimePropertyTest.Setup s = new EventTimePropertyTest.Setup(1 + rnd.nextInt(3), rnd.nextInt(5_000),
        rnd.nextInt(4_000), rnd.nextInt(4_000), rnd.nextInt(4_000), unbounded);
    String context = "seed " + seed + " " + s;
    PipelineSpec spec = EventTimePropertyTest.spec(s);
    List<EventTimePropertyTest.Ev> events = new ArrayList<>();
    long[] clock = {EventTimePropertyTest.T0};
    Path data = dir.resolve("g0");
    int generation = 0;
    long spilled = 0;
    int maxRuns = 0;
    Engine b = Engine.open(data, spec, OPTIONS);
    try {
      int rounds = 8 + rnd.nextInt(4);
      for (int round = 0; round < rounds; round++) {
        String at = context + ", round " + round;
        EventTimePropertyTest.ingest(b, rnd, s, 60 + rnd.nextInt(120), clock, events);
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        spilled += b.spillClosedWindows();
        for (Status.ViewStatus v : b.status().views()) {
          maxRuns = Math.max(maxRuns, v.delta().runs());
        }
        int action = rnd.nextInt(10);
        if (action < 2) {
          b.checkpointAll();
        } else if (action < 4) {
          b.runBatch(EventTimePropertyTest.VIEWS[rnd.nextInt(EventTimePropertyTest.VIEWS.length)]);
        } else if (action < 5) {
          b.close();
          b = Engine.open(data, spec, OPTIONS);
          at += ", after a clean restart";
        } else if (action < 7) {
          if (rnd.nextBoolean()) {
            b.checkpointAll(); // a checkpoint that names runs, then more spills and merges after it
            EventTimePropertyTest.ingest(b, rnd, s, 30 + rnd.nextInt(60), clock, events);
            assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
            spilled += b.spillClosedWindows();
          }
          Path image = dir.resolve("g" + (++generation));
          copyTree(data, image);
          b.close(); // its final checkpoint goes to the old directory only
          data = image;
          b = Engine.open(data, spec, OPTIONS);
          at += ", after a crash";
        }
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        EventTimePropertyTest.checkAll(b, s, events, at, round % 3 == 2); // final marks cost a scan per window
      }
      EventTimePropertyTest.checkLate(b, s, events, context + ", at the end");
      assertThat(spilled).as(context + ": groups moved to runs").isPositive();
      assertThat(maxRuns).as(context + ": runs at some point").isPositive();
      for (Status.ViewStatus v : b.status().views()) {
        assertThat(v.delta().runGroups() == 0 || v.delta().runBytes() > 0).as(context + " " + v.name()).isTrue();
      }
      EventTimePropertyTest.batchAll(b);
      EventTimePropertyTest.checkAll(b, s, events, context + ", after a batch cycle of every view", true);
      for (Status.ViewStatus v : b.status().views()) {
        assertThat(v.delta().runs()).as(context + ": a new version starts without runs, " + v.name()).isZero();
      }
    } finally {
      b.close();
    }
    for (String v : EventTimePropertyTest.VIEWS) {
      try (Stream<Path> files = Files.list(data.resolve("views").resolve(v))) {
        assertThat(files.map(f -> f.getFileName().toString()).filter(f -> ClosedRun.isRun(f) || f.endsWith(".tmp")))
            .as(context + ": runs of retired Deltas and temporary files are deleted, view " + v).isEmpty();
      }
    }
  }

  /**
   * Runs that no Delta holds any more (merged into a larger one, or the old version's after a batch
   * cycle) are unmapped, while reads race with the spills and merges and still answer; checked in
   * {@code /proc/self/maps} (Linux).
   */
  @Test
  void shouldUnmapRunsThatNoDeltaHoldsWhileReadsRaceWithSpills(@TempDir Path dir) throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    Random rnd = new Random(77);
    EventTimePropertyTest.Setup s = new EventTimePropertyTest.Setup(2, 2_000, 0, 0, 0, false);
    List<EventTimePropertyTest.Ev> events = new ArrayList<>();
    long[] clock = {EventTimePropertyTest.T0};
    Path data = dir.resolve("data");
    try (Engine b = Engine.open(data, EventTimePropertyTest.spec(s), OPTIONS)) {
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong reads = new AtomicLong();
      Thread reader = new Thread(() -> {
        try {
          for (int i = 0; !stop.get(); i++) {
            b.get(EventTimePropertyTest.VIEWS[i % EventTimePropertyTest.VIEWS.length], "u" + (i % 6));
            reads.incrementAndGet();
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      });
      reader.start();
      long spilled = 0;
      int mostRuns = 0;
      try {
        for (int round = 0; round < 12; round++) {
          EventTimePropertyTest.ingest(b, rnd, s, 150, clock, events);
          assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
          spilled += b.spillClosedWindows();
          int runs = 0;
          for (Status.ViewStatus v : b.status().views()) {
            runs += v.delta().runs();
          }
          mostRuns = Math.max(mostRuns, runs);
          assertMappedRuns(data, runs, "round " + round);
        }
        EventTimePropertyTest.batchAll(b);
        assertMappedRuns(data, 0, "after a batch cycle of every view");
      } finally {
        stop.set(true);
        reader.join(30_000);
      }
      assertThat(reader.isAlive()).isFalse();
      assertThat(failure.get()).as("a read racing the spills failed").isNull();
      assertThat(reads.get()).isPositive();
      assertThat(spilled).isPositive();
      assertThat(mostRuns).isPositive();
      EventTimePropertyTest.checkAll(b, s, events, "after the race", true);
    }
  }

  /**
   * Exactly {@code runs} run files of {@code data} are mapped, none of them deleted, within 5 s: a
   * read in progress (the racing reader, the changes feed) may hold a dropped run's mapping a little
   * longer.
   */
  private static void assertMappedRuns(Path data, int runs, String when) throws Exception {
    String dir = data.toRealPath().toString(); // as /proc/self/maps names it
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      List<String> mapped = Files.readAllLines(Path.of("/proc/self/maps")).stream()
          .filter(l -> l.contains(dir) && l.contains(".closed")).toList();
      List<String> files = mapped.stream().map(l -> l.substring(l.indexOf('/'))).distinct().toList();
      boolean settled = mapped.stream().noneMatch(l -> l.contains("(deleted)")) && files.size() == runs;
      if (settled || System.nanoTime() > deadline) {
        assertThat(mapped).as(when + ": a run no Delta holds stays mapped after its file is deleted")
            .noneMatch(l -> l.contains("(deleted)"));
        assertThat(files).as(when + ": the runs mapped are the current Deltas' runs").hasSize(runs);
        return;
      }
      Thread.sleep(20);
    }
  }

  @Test
  void shouldKeepTheInMemoryDeltaBoundedByOpenWindowsWhileEventsFlowOverManyWindows(@TempDir Path dir)
      throws Exception {
    long seed = 77;
    Random rnd = new Random(seed);
    int keys = 40;
    long size = 10_000;
    long disorder = 3_000;
    long lateness = 5_000;
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(2).key("user").time("ts")
            .maxOutOfOrder(Duration.ofMillis(disorder)).field("user", FieldType.STRING)
            .field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("w").from("tx").groupBy("user").tumbling(Duration.ofMillis(size))
            .allowedLateness(Duration.ofMillis(lateness)).aggregate("n", "count").aggregate("q", "sum(qty)").build())
        .build();
    // per key: the window being filled plus those within max_out_of_order + lateness behind it
    long openPerKey = (disorder + lateness + size - 1) / size + 1;
    Map<String, TreeMap<Long, long[]>> model = new LinkedHashMap<>();
    long t = EventTimePropertyTest.T0;
    long maxInMemory = 0;
    int windows = 300;
    try (Engine b = Engine.open(dir, spec, OPTIONS.withDeltaSpillGroups(keys))) {
      for (int w = 0; w < windows; w++) {
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 4 * keys; i++) {
          t += rnd.nextInt((int) (2 * size / (4 * keys)));
          long ts = t - (rnd.nextInt(10) == 0 ? rnd.nextInt((int) disorder) : 0);
          String user = "u" + rnd.nextInt(keys);
          long qty = rnd.nextInt(9);
          batch.add(Map.of("user", user, "qty", qty, "ts", ts));
          long[] x = model.computeIfAbsent(user, k -> new TreeMap<>())
              .computeIfAbsent(Math.floorDiv(ts, size) * size, k -> new long[2]);
          x[0]++;
          x[1] += qty;
        }
        IngestResult r = b.ingest("tx", batch);
        assertThat(r.rejections()).isEmpty();
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        b.spillClosedWindows();
        Status.DeltaState d = b.status().views().get(0).delta();
        maxInMemory = Math.max(maxInMemory, d.groups());
        assertThat(d.groups()).as("seed %d, after %d windows: in-memory groups (keys %d, open windows per key %d)",
            seed, w, keys, openPerKey).isLessThanOrEqualTo(3 * keys * openPerKey + keys);
      }
      Status.DeltaState d = b.status().views().get(0).delta();
      assertThat(d.spills()).as("spills").isGreaterThan(windows / 10);
      assertThat(d.runs()).as("runs per partition stay few").isLessThanOrEqualTo(2 * ViewRuntime.MAX_RUNS);
      assertThat(d.runGroups() + d.groups()).as("every group is in memory or in a run")
          .isEqualTo(model.values().stream().mapToLong(TreeMap::size).sum());
      for (Map.Entry<String, TreeMap<Long, long[]>> e : model.entrySet()) {
        ViewResult r = b.get("w", e.getKey());
        Map<Long, List<Object>> got = new TreeMap<>();
        for (ViewResult.WindowValue v : r.windows()) {
          got.put(v.start(), List.of(v.values().get("n"), v.values().get("q")));
        }
        Map<Long, List<Object>> want = new TreeMap<>();
        e.getValue().forEach((start, x) -> want.put(start, List.of(x[0], x[1])));
        assertThat(got).as("seed %d, key %s", seed, e.getKey()).isEqualTo(want);
      }
      System.out.printf("in-memory groups at most %d for %d keys x %d open windows; %d groups in %d runs%n",
          maxInMemory, keys, openPerKey, d.runGroups(), d.runs());
    }
  }

  @Test
  void shouldRefuseACheckpointWhoseRunIsMissingOrDamagedAndRebuildTheDeltaFromTheLog(@TempDir Path dir)
      throws Exception {
    long seed = 5;
    for (boolean damage : new boolean[] {false, true}) {
      Random rnd = new Random(seed);
      EventTimePropertyTest.Setup s = new EventTimePropertyTest.Setup(2, 1_000, 2_000, 2_000, 2_000, false);
      PipelineSpec spec = EventTimePropertyTest.spec(s);
      List<EventTimePropertyTest.Ev> events = new ArrayList<>();
      long[] clock = {EventTimePropertyTest.T0};
      Path data = dir.resolve(damage ? "damaged" : "missing");
      try (Engine b = Engine.open(data, spec, OPTIONS)) {
        EventTimePropertyTest.ingest(b, rnd, s, 400, clock, events);
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        assertThat(b.spillClosedWindows()).isPositive();
      } // the clean close checkpoints every Delta, naming its runs
      Path run;
      try (Stream<Path> files = Files.list(data.resolve("views").resolve("tum"))) {
        run = files.filter(f -> ClosedRun.isRun(f.getFileName().toString())).findFirst().orElseThrow();
      }
      if (damage) {
        byte[] bytes = Files.readAllBytes(run);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(run, bytes);
      } else {
        Files.delete(run);
      }
      try (Engine b = Engine.open(data, spec, OPTIONS)) {
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        Status.Checkpoints c = b.status().views().stream().filter(v -> v.name().equals("tum")).findFirst()
            .orElseThrow().checkpoints();
        assertThat(c.restoredFrom()).as("seed %d: no usable checkpoint", seed).isNull();
        assertThat(c.refused()).as("seed %d", seed).singleElement().asString()
            .contains("its closed-window run " + run.getFileName())
            .contains(damage ? "is damaged" : "is missing");
        EventTimePropertyTest.checkAll(b, s, events, "seed " + seed + ", a run " + (damage ? "damaged" : "missing"),
            true);
      }
    }
  }

  /** Copies a data directory as a crash would leave it (its lock file too); see {@link TestFiles#copyTree}. */
  static void copyTree(Path from, Path to) throws IOException {
    dev.braid.testing.TestFiles.copyTree(from, to, true);
  }
}
