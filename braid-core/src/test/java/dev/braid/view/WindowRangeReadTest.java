package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reads of a range of windows of a key with thousands of them (a view grouped by a constant, as
 * Nexmark's Q7): narrow ranges look the window starts up one by one, wide ones walk the key's
 * groups; both must return exactly the windows starting in {@code [from, to)} of a naive model,
 * and, for tumbling windows, their total as the key's values (hopping windows overlap: no total).
 */
class WindowRangeReadTest {

  static final long T0 = 1_700_000_000_000L;

  static LongStream seeds() {
    return LongStream.range(0, 4);
  }

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(2).key("user").time("ts").maxOutOfOrder(Duration.ofDays(30))
            .field("user", FieldType.STRING).field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("tum").from("tx").groupBy("'all'").tumbling(Duration.ofSeconds(10))
            .aggregate("n", "count").aggregate("q", "sum(qty)").build())
        .view(ViewSpec.builder("hop").from("tx").groupBy("'all'")
            .window(WindowSpec.hopping(Duration.ofSeconds(10), Duration.ofSeconds(2)))
            .aggregate("n", "count").aggregate("q", "sum(qty)").build())
        .build();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldReadExactlyTheWindowsOfARangeOfAKeyWithManyWindows(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    Map<String, TreeMap<Long, long[]>> model = Map.of("tum", new TreeMap<>(), "hop", new TreeMap<>());
    int n = 4_000;
    long span = 3_000 * 10_000L; // 3000 tumbling windows, out of order
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long ts = T0 + (long) (rnd.nextDouble() * span);
      long qty = rnd.nextInt(100);
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("user", "u" + rnd.nextInt(5));
      e.put("qty", qty);
      e.put("ts", ts);
      events.add(e);
      add(model.get("tum"), Math.floorDiv(ts, 10_000L) * 10_000L, qty);
      for (long s = Math.floorDiv(ts, 2_000L) * 2_000L; s > ts - 10_000L; s -= 2_000L) {
        add(model.get("hop"), s, qty);
      }
    }
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(b.ingest("tx", events).accepted()).isEqualTo(n);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Long.valueOf(n).equals(b.get("tum", "all").values().get("n"))
          || b.get("hop", "all").windows().stream().mapToLong(w -> (Long) w.values().get("n")).sum() != 5L * n) {
        assertThat(System.nanoTime()).as("seed %d: the views fold every event", seed).isLessThan(deadline);
        Thread.sleep(5);
      }
      for (String view : List.of("tum", "hop")) {
        TreeMap<Long, long[]> want = model.get(view);
        for (int i = 0; i < 300; i++) {
          long from = T0 - 20_000L + (long) (rnd.nextDouble() * (span + 40_000L));
          if (rnd.nextBoolean()) {
            from = Math.floorDiv(from, 2_000L) * 2_000L; // on a window start
          }
          long width = switch (rnd.nextInt(4)) {
            case 0 -> rnd.nextInt(3);
            case 1 -> rnd.nextInt(30_000);
            case 2 -> rnd.nextInt(2_000_000);
            default -> (long) (rnd.nextDouble() * 2 * span);
          };
          long to = from + width;
          String as = String.format("seed %d: view %s, windows in [%d, %d)", seed, view, from, to);
          ViewResult r = b.get(view, "all", from, to);
          List<String> got = new ArrayList<>();
          for (ViewResult.WindowValue w : r.windows()) {
            got.add(w.start() + "=" + w.values().get("n") + "/" + w.values().get("q"));
          }
          List<String> expected = new ArrayList<>();
          long[] total = new long[2];
          want.subMap(from, to).forEach((s, v) -> {
            expected.add(s + "=" + v[0] + "/" + v[1]);
            total[0] += v[0];
            total[1] += v[1];
          });
          assertThat(got).as(as).isEqualTo(expected);
          if (view.equals("tum")) { // each event in one window: the total over the range
            assertThat(r.values()).as(as + ": the range's total").isEqualTo(Map.of("n", total[0], "q", total[1]));
          } else { // overlapping windows: a merge would count each event up to five times
            assertThat(r.values()).as(as + ": no total of overlapping windows").isEmpty();
          }
        }
      }
    }
  }

  private static void add(TreeMap<Long, long[]> windows, long start, long qty) {
    long[] v = windows.computeIfAbsent(start, s -> new long[2]);
    v[0]++;
    v[1] += qty;
  }
}
