package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.IngestResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
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
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .maxOutOfOrder(Duration.ZERO).idleAfter(Duration.ofDays(1))
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("by_user").from("tx").groupBy("user").tumbling(Duration.ofSeconds(10))
            .allowedLateness(Duration.ZERO).aggregate("n", "count").aggregate("q", "sum(qty)").build())
        .view(ViewSpec.builder("by_merchant").from("tx").groupBy("merchant").tumbling(Duration.ofSeconds(10))
            .allowedLateness(Duration.ZERO).aggregate("n", "count").build())
        .build();
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
          boolean complete = b.viewRuntime(view).forEachKey(k -> {
            visits.merge(k, 1, Integer::sum);
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
}
