package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.IngestResult;
import dev.braid.event.FieldType;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The changes feed's full pass walks a version's keys ({@link ViewRuntime#forEachKey}) through its
 * Base, closed-window runs and Delta tables without collecting them first: over seeded random
 * histories with batch cycles and spills, every key that received an event is visited exactly once,
 * for a view grouped by the stream's key (each key in one partition) and one grouped by another
 * field (a key in several partitions' tables and runs), and so it stays when the keys' hashes are
 * made to collide (a hash seen before then means a lookup in the parts walked before).
 */
class KeyWalkPropertyTest {

  /**
   * A stream keyed by user, a windowed view grouped by it (each key in one partition) and one grouped
   * by merchant (a key in several partitions' tables and runs); windows close as soon as time passes.
   */
  static PipelineSpec spec(int partitions) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .maxOutOfOrder(Duration.ZERO).idleAfter(Duration.ofDays(1))
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("by_user").from("tx").groupBy("user").tumbling(Duration.ofSeconds(10))
            .allowedLateness(Duration.ZERO).aggregate("n", "count").aggregate("q", "sum(qty)").build())
        .view(ViewSpec.builder("by_merchant").from("tx").groupBy("merchant").tumbling(Duration.ofSeconds(10))
            .allowedLateness(Duration.ZERO).aggregate("n", "count").build())
        .build();
  }

  static Stream<Arguments> seeds() {
    return java.util.stream.LongStream.range(300, 300 + Soak.seeds(6)).boxed().map(s -> Arguments.of(s, s % 3));
  }

  @ParameterizedTest(name = "seed {0}, collisions {1}")
  @MethodSource("seeds")
  void shouldVisitEveryKeyOnceWhereverItsGroupsAre(long seed, long collisions, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    int users = 1 + rnd.nextInt(rnd.nextBoolean() ? 30 : 3_000);
    int merchants = 1 + rnd.nextInt(50);
    // 0: hashes as they are; 1: sixteen values; 2: all equal
    LongUnaryOperator hashes = collisions == 0 ? LongUnaryOperator.identity()
        : collisions == 1 ? h -> h & 15 : h -> 42;
    String context = "seed " + seed + " (" + partitions + " partitions, " + users + " users, " + merchants
        + " merchants, collisions " + collisions + ")";
    PipelineSpec spec = spec(partitions);
    EngineOptions options = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(1);
    Map<String, Set<String>> model = Map.of("by_user", new TreeSet<>(), "by_merchant", new TreeSet<>());
    long clock = 1_700_000_000_000L;
    int batches = 0;
    long spilled = 0;
    try (Engine b = Engine.open(dir.resolve("data"), spec, options)) {
      int rounds = 4 + rnd.nextInt(5);
      for (int round = 0; round < rounds; round++) {
        int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 50 : 2_000);
        List<Map<String, Object>> events = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          clock += rnd.nextInt(rnd.nextInt(10) == 0 ? 30_000 : 300); // in order: nothing is late
          Map<String, Object> e = new LinkedHashMap<>();
          String user = "u" + rnd.nextInt(users);
          String merchant = "m" + rnd.nextInt(merchants);
          e.put("user", user);
          e.put("merchant", merchant);
          e.put("qty", (long) rnd.nextInt(9));
          e.put("ts", clock);
          events.add(e);
          model.get("by_user").add(user);
          model.get("by_merchant").add(merchant);
        }
        IngestResult r = b.ingest("tx", events);
        assertThat(r.rejections()).as(context).isEmpty();
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).as(context).isTrue();
        switch (rnd.nextInt(4)) {
          case 0 -> {
            b.runBatch(rnd.nextBoolean() ? "by_user" : "by_merchant", true);
            batches++;
          }
          case 1 -> spilled += b.spillClosedWindows();
          default -> { }
        }
        for (String view : model.keySet()) {
          String at = context + ", round " + round + ", view " + view + " (" + batches + " batch cycles, "
              + spilled + " groups spilled so far)";
          Map<String, Integer> visits = new HashMap<>();
          ViewRuntime runtime = b.viewRuntime(view);
          boolean complete = runtime.forEachKey((k, utf8, hint) -> {
            visits.merge(k, 1, Integer::sum);
            assertThat(utf8).as(at + ": the bytes of " + k).isEqualTo(k.getBytes(StandardCharsets.UTF_8));
            if (view.equals("by_user") && hint.partition() >= 0) {
              assertThat(hint).as(at + ": where " + k + " was found")
                  .isEqualTo(new ViewRuntime.KeyHint(Partitioner.partition(utf8, 0, utf8.length, partitions), partitions));
            } else if (view.equals("by_merchant")) {
              assertThat(hint).as(at + ": a key of a view grouped otherwise than by the stream's key")
                  .isEqualTo(ViewRuntime.KeyHint.NONE);
            }
            // a read through the hint is the read without one
            assertThat(windows(runtime, utf8, hint)).as(at + ": the windows of " + k + " read with " + hint)
                .isEqualTo(windows(runtime, utf8, ViewRuntime.KeyHint.NONE));
            return true;
          }, hashes);
          assertThat(complete).as(at).isTrue();
          assertThat(visits.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
              .as(at + ": keys visited more than once").isEmpty();
          assertThat(new TreeSet<>(visits.keySet())).as(at + ": keys visited").isEqualTo(model.get(view));
        }
        // a walk stops where the visitor says so
        int[] taken = {0};
        boolean all = b.viewRuntime("by_user").forEachKey(k -> ++taken[0] < 2, hashes);
        assertThat(all).as(context).isEqualTo(model.get("by_user").size() < 2);
      }
    }
  }

  /**
   * A walk's hint outlives the version it walked: a reprocess may swap in a version grouped by the
   * stream's key while a full pass goes on. A key that a version grouped by merchant found in the
   * partition of the event that carried it is, as a user, in another partition; read through the
   * hint after the swap, it must read as it does without one (it read nothing when the walk gave
   * such keys a partition).
   */
  @org.junit.jupiter.api.Test
  void shouldReadAsWithoutAHintAfterASwapToAVersionGroupedByTheStreamKey(@TempDir Path dir) throws Exception {
    int partitions = 4;
    EngineOptions options = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO);
    String merchant = java.util.stream.IntStream.range(0, 100).mapToObj(i -> "m" + i)
        .filter(m -> partitionOf(m, partitions) != partitionOf("u1", partitions)).findFirst().orElseThrow();
    long t = 1_700_000_000_000L;
    try (Engine b = Engine.open(dir.resolve("data"), spec(partitions), options)) {
      b.ingest("tx", List.of(Map.of("user", "u1", "merchant", merchant, "qty", 1L, "ts", t)));
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      ViewRuntime.KeyHint[] found = new ViewRuntime.KeyHint[1];
      b.viewRuntime("by_merchant").forEachKey((k, utf8, hint) -> {
        if (k.equals(merchant)) {
          found[0] = hint;
        }
        return true;
      }, LongUnaryOperator.identity());
      assertThat(found[0]).as("the walk found " + merchant).isNotNull();
      long v = b.reprocess("by_merchant", ViewSpec.builder("by_merchant").from("tx").groupBy("user")
          .tumbling(Duration.ofSeconds(10)).allowedLateness(Duration.ZERO).aggregate("n", "count").build(),
          dev.braid.ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (b.versions("by_merchant").stream().noneMatch(x -> x.id() == v && x.state() == dev.braid.VersionState.CURRENT)) {
        assertThat(System.nanoTime()).as("version %d never became current", v).isLessThan(deadline);
        Thread.sleep(2);
      }
      b.ingest("tx", List.of(Map.of("user", merchant, "merchant", "x", "qty", 1L, "ts", t + 20_000)));
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      byte[] key = merchant.getBytes(StandardCharsets.UTF_8);
      ViewRuntime runtime = b.viewRuntime("by_merchant");
      List<String> without = windows(runtime, key, ViewRuntime.KeyHint.NONE);
      assertThat(without).as("the windows of user " + merchant).isNotEmpty();
      assertThat(windows(runtime, key, found[0])).as("read with the hint " + found[0]).isEqualTo(without);
    }
  }

  private static int partitionOf(String key, int partitions) {
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    return Partitioner.partition(b, 0, b.length, partitions);
  }

  /** The windows {@link ViewRuntime#readWindows(byte[], ViewRuntime.KeyHint, ViewRuntime.WindowRow)} gives, as text. */
  private static List<String> windows(ViewRuntime runtime, byte[] key, ViewRuntime.KeyHint hint) {
    List<String> out = new ArrayList<>();
    runtime.readWindows(key, hint, (read, start, end, isFinal, longs, objects) ->
        out.add(start + ".." + end + (isFinal ? " final " : " ") + java.util.Arrays.toString(longs)));
    return out;
  }

  /** The walk's set of hashes against {@link java.util.HashSet}, growing from its smallest size, zero and repeats included. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldAddAsAHashSetDoes(long seed, long unused) {
    Random rnd = new Random(seed);
    ViewRuntime.HashSet64 set = new ViewRuntime.HashSet64(rnd.nextInt(3));
    java.util.Set<Long> model = new java.util.HashSet<>();
    int n = 1 + rnd.nextInt(200_000);
    for (int i = 0; i < n; i++) {
      long h = switch (rnd.nextInt(4)) {
        case 0 -> rnd.nextInt(64) - 32L; // zero and small values, often repeated
        case 1 -> (long) rnd.nextInt(1 << 16) << 32; // same low half
        default -> rnd.nextLong();
      };
      assertThat(set.add(h)).as("seed " + seed + ", add " + i + " of " + h).isEqualTo(model.add(h));
    }
  }

  /**
   * A spill while the walk runs (the periodic spiller's moment: windows closing, a pass due) merges
   * runs the walk has not reached and closes them; the walk holds their mappings and still visits
   * every key once. It gave up before (the pass incomplete until the watermark moved again).
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldWalkEveryKeyOnceWhileSpillsMergeAndCloseRuns(long seed, long unused, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    int users = 20 + rnd.nextInt(500);
    PipelineSpec spec = spec(partitions);
    EngineOptions options = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(1);
    Map<String, Set<String>> model = Map.of("by_user", new TreeSet<>(), "by_merchant", new TreeSet<>());
    long[] clock = {1_700_000_000_000L};
    try (Engine b = Engine.open(dir.resolve("data"), spec, options)) {
      // runs first: every round closes windows and spills them into a run of its own
      for (int round = 0; round < 3 + rnd.nextInt(3); round++) {
        send(b, rnd, users, 200 + rnd.nextInt(400), clock, model);
        b.spillClosedWindows();
      }
      for (String view : model.keySet()) {
        String at = "seed " + seed + " (" + partitions + " partitions), view " + view;
        int[] spillsDuring = {0};
        Map<String, Integer> visits = new HashMap<>();
        Set<String> before = new TreeSet<>(model.get(view));
        Map<String, Set<String>> during = Map.of("by_user", new TreeSet<>(), "by_merchant", new TreeSet<>());
        boolean complete = b.viewRuntime(view).forEachKey(k -> {
          if (visits.isEmpty() || rnd.nextInt(40) == 0) {
            try { // more closed windows of the keys there are, and a spill that merges the runs
              send(b, rnd, users, 100 + rnd.nextInt(200), clock, during);
              if (b.spillClosedWindows() > 0) {
                spillsDuring[0]++;
              }
            } catch (InterruptedException e) {
              throw new AssertionError(e);
            }
          }
          visits.merge(k, 1, Integer::sum);
          return true;
        });
        assertThat(spillsDuring[0]).as(at + ": spills during the walk").isPositive();
        assertThat(complete).as(at + ": the walk went on over the parts it began with").isTrue();
        assertThat(visits.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList())
            .as(at + ": keys visited more than once").isEmpty();
        assertThat(visits.keySet()).as(at + ": keys visited (every key there was when it began)").containsAll(before);
        Set<String> known = new TreeSet<>(before);
        known.addAll(during.get(view));
        assertThat(known).as(at + ": keys there were then or sent during it").containsAll(visits.keySet());
      }
    }
  }

  /** Sends {@code n} events in time order over {@code users} users (their merchants a few), noting the keys in {@code keys}. */
  private static void send(Engine b, Random rnd, int users, int n, long[] clock, Map<String, Set<String>> keys)
      throws InterruptedException {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clock[0] += rnd.nextInt(500);
      String user = "u" + rnd.nextInt(users);
      String merchant = "m" + (user.hashCode() & 7);
      events.add(Map.of("user", user, "merchant", merchant, "qty", 1L, "ts", clock[0]));
      keys.get("by_user").add(user);
      keys.get("by_merchant").add(merchant);
    }
    assertThat(b.ingest("tx", events).rejections()).isEmpty();
    assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
  }
}
