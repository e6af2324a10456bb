package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.testing.Soak;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The changes feed's reads reuse one {@code Merged}, its arrays and its rows from key to key
 * ({@link ViewRuntime#readWindows(byte[], ViewRuntime.KeyHint, ViewRuntime.WindowRow)}): over
 * seeded random histories with batch cycles and spills, every key read that way, in a random
 * order, gives the windows and values a fresh point read ({@link ViewRuntime#get}) gives, for
 * session, hopping and tumbling views with sketch and string aggregations (state objects that a
 * reused row must not carry from one key to the next).
 */
class ReusedWindowReadsPropertyTest {

  static LongStream seeds() {
    return LongStream.range(700, 700 + Soak.seeds(8));
  }

  private static ViewSpec view(String name, WindowSpec window) {
    return ViewSpec.builder(name).from("tx").groupBy("user").window(window).allowedLateness(Duration.ZERO)
        .aggregate("n", "count").aggregate("m", "count(merchant)").aggregate("q", "sum(qty)")
        .aggregate("lo", "min(qty)").aggregate("latest", "max(ts)").aggregate("d", "count_distinct(merchant)")
        .aggregate("top", "top_k(merchant, 2)").aggregate("first", "first(merchant)").build();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldReadEveryKeyAsAFreshReadDoes(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .maxOutOfOrder(Duration.ZERO).idleAfter(Duration.ofDays(1))
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(view("sessions", WindowSpec.session(Duration.ofSeconds(5))))
        .view(view("hopping", WindowSpec.hopping(Duration.ofSeconds(20), Duration.ofSeconds(5))))
        .view(view("tumbling", WindowSpec.tumbling(Duration.ofSeconds(10))))
        .build();
    EngineOptions options = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(1);
    int users = 1 + rnd.nextInt(rnd.nextBoolean() ? 10 : 300);
    TreeSet<String> keys = new TreeSet<>();
    long clock = 1_700_000_000_000L;
    try (Engine b = Engine.open(dir.resolve("data"), spec, options)) {
      for (int round = 0, rounds = 3 + rnd.nextInt(4); round < rounds; round++) {
        List<Map<String, Object>> events = new ArrayList<>();
        for (int i = 0, n = 1 + rnd.nextInt(1_500); i < n; i++) {
          clock += rnd.nextInt(rnd.nextInt(8) == 0 ? 12_000 : 1_500);
          Map<String, Object> e = new LinkedHashMap<>();
          String user = "u" + rnd.nextInt(users);
          e.put("user", user);
          if (rnd.nextInt(6) != 0) { // sometimes absent: count(merchant) and first(merchant) see nulls
            e.put("merchant", "m" + rnd.nextInt(1 + rnd.nextInt(40)));
          }
          e.put("qty", (long) rnd.nextInt(100));
          e.put("ts", clock);
          events.add(e);
          keys.add(user);
        }
        assertThat(b.ingest("tx", events).rejections()).isEmpty();
        assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
        switch (rnd.nextInt(3)) {
          case 0 -> b.runBatch(List.of("sessions", "hopping", "tumbling").get(rnd.nextInt(3)), true);
          case 1 -> b.spillClosedWindows();
          default -> { }
        }
        for (String name : List.of("sessions", "hopping", "tumbling")) {
          ViewRuntime runtime = b.viewRuntime(name);
          List<String> order = new ArrayList<>(keys);
          order.add("never-seen");
          Collections.shuffle(order, rnd);
          for (String key : order) {
            String at = "seed " + seed + " (" + partitions + " partitions, " + users + " users), round " + round
                + ", view " + name + ", key " + key;
            List<String> reused = new ArrayList<>();
            runtime.readWindows(key.getBytes(StandardCharsets.UTF_8), ViewRuntime.KeyHint.NONE,
                (read, start, end, isFinal, longs, objects) -> reused.add(start + ".." + end + " "
                    + read.program().result(longs, 0, objects, 0, read.scratch())));
            List<String> fresh = new ArrayList<>();
            for (ViewResult.WindowValue w : runtime.get(key, Long.MIN_VALUE, Long.MAX_VALUE).windows()) {
              fresh.add(w.start() + ".." + w.end() + " " + w.values());
            }
            assertThat(reused).as(at).isEqualTo(fresh);
          }
        }
      }
    }
  }
}
