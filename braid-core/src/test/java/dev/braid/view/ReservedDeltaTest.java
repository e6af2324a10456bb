package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deltas that a long replay sized at once ({@link GrowthProjection}, {@link GroupTable#reserve})
 * hold the same answers as a naive count: views created on a stream that holds 600 k events, whose
 * keys keep coming, replay them at the start into new Deltas (the speed layer's path), and a Kappa
 * reprocess into a narrower window replays them again (the reprocess's own path). A table that
 * reserved has a capacity doubling from 4,096 never gives (not a power of two) and close above its
 * groups, which the test checks first, so that it cannot pass without a reservation.
 */
class ReservedDeltaTest {

  private static final long T = 1_780_000_000_000L;
  private static final int EVENTS = 600_000;

  private static PipelineSpec spec(boolean withViews) {
    PipelineSpec.Builder b = PipelineSpec.builder()
        // no window closes (the watermark stays a year behind): the changes feed emits nothing, so the
        // reprocess's switch to other windows retracts nothing (a retraction reads its change back)
        .stream(StreamSpec.builder("s").partitions(2).key("k").time("ts").maxOutOfOrder(Duration.ofDays(365))
            .field("k", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build());
    if (withViews) {
      b.view(ViewSpec.builder("windows").from("s").groupBy("k").tumbling(Duration.ofHours(1)).mode(ViewSpec.Mode.KAPPA)
              .aggregate("n", "count").aggregate("total", "sum(x)").build())
          .view(ViewSpec.builder("totals").from("s").groupBy("k").aggregate("n", "count").aggregate("total", "sum(x)")
              .build());
    } else {
      b.view(ViewSpec.builder("none").from("s").groupBy("k").aggregate("n", "count").build());
    }
    return b.build();
  }

  @Test
  void shouldAnswerAsANaiveCountAfterReplaysThatReservedTheirTables(@TempDir Path dir) throws Exception {
    long seed = 7;
    Random rnd = new Random(seed);
    // naive model: key -> hour -> {count, sum}
    Map<String, Map<Long, long[]>> model = new HashMap<>();
    try (Braid b = Braid.open(dir, spec(false))) {
      int newest = 0;
      List<Map<String, Object>> batch = new ArrayList<>();
      for (int i = 0; i < EVENTS; i++) {
        if (rnd.nextInt(8) == 0) {
          newest++; // keys keep coming, as auctions do
        }
        String k = "auction-" + Math.max(0, newest - rnd.nextInt(20));
        long ts = T + i * 12_000L + rnd.nextInt(2_000); // about 300 events an hour
        long x = rnd.nextInt(1000);
        batch.add(Map.of("k", k, "ts", ts, "x", x));
        long[] cell = model.computeIfAbsent(k, key -> new HashMap<>())
            .computeIfAbsent(Math.floorDiv(ts, 3_600_000L) * 3_600_000L, h -> new long[2]);
        cell[0]++;
        cell[1] += x;
        if (batch.size() == 10_000) {
          assertThat(b.ingest("s", batch).rejections()).isEmpty();
          batch.clear();
        }
      }
    }
    // new views: replayed from the log at the start; no closed windows moved out of memory, which
    // replaces a Delta by a compacted copy (a table of another size) a second after the start
    EngineOptions noSpills = EngineOptions.defaults().withDeltaSpillGroups(Long.MAX_VALUE);
    try (Engine e = (Engine) Braid.open(dir, spec(true), noSpills)) {
      assertThat(e.awaitCaughtUp(60, TimeUnit.SECONDS)).isTrue();
      assertReserved(e, "windows", "at the start");
      assertReserved(e, "totals", "at the start");
      check(e, model, "after the start's replay", rnd);

      // quarter-hour windows: more groups than the version it replaces has keys, which its first size is from
      ViewSpec quarterHours = ViewSpec.builder("windows").from("s").groupBy("k").tumbling(Duration.ofMinutes(15))
          .mode(ViewSpec.Mode.KAPPA).aggregate("n", "count").aggregate("total", "sum(x)").build();
      long id = e.reprocess("windows", quarterHours, ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (e.versions("windows").stream().noneMatch(v -> v.id() == id && v.state() == VersionState.CURRENT)) {
        assertThat(System.nanoTime()).as("version %d switches in: %s", id, e.versions("windows")).isLessThan(deadline);
        Thread.sleep(5);
      }
      assertReserved(e, "windows", "by the reprocess");
      Map<String, Map<Long, long[]>> byQuarterHour = new HashMap<>();
      rnd = new Random(seed);
      int newest = 0;
      for (int i = 0; i < EVENTS; i++) { // the same draws again, into quarter-hour windows
        if (rnd.nextInt(8) == 0) {
          newest++;
        }
        String k = "auction-" + Math.max(0, newest - rnd.nextInt(20));
        long ts = T + i * 12_000L + rnd.nextInt(2_000);
        long x = rnd.nextInt(1000);
        long[] cell = byQuarterHour.computeIfAbsent(k, key -> new HashMap<>())
            .computeIfAbsent(Math.floorDiv(ts, 900_000L) * 900_000L, h -> new long[2]);
        cell[0]++;
        cell[1] += x;
      }
      checkWindows(e, byQuarterHour, "after the reprocess", new Random(seed + 1));
    }
  }

  /**
   * Every partition's Delta table of {@code view}'s current version reserved: its capacity is no
   * power of two, and close above its groups (a reprocess's first size, from the current version's
   * keys, is no power of two either, but falls short of a narrower window's groups).
   */
  private static void assertReserved(Engine e, String view, String when) {
    for (PartitionDelta pd : e.view(view).current().delta.partitions) {
      int groups = pd.table.groupCapacity();
      assertThat(Integer.bitCount(groups)).as("view %s partition %d %s: group capacity %d for %d groups", view,
          pd.partition, when, groups, pd.table.groupCount()).isGreaterThan(1);
      // doubling ends between 1 and 2 times the groups; a reservation close above them
      assertThat(groups).as("view %s partition %d %s", view, pd.partition, when)
          .isBetween(pd.table.groupCount(), pd.table.groupCount() * 5 / 4);
    }
  }

  private static void check(Engine e, Map<String, Map<Long, long[]>> model, String when, Random rnd) {
    checkWindows(e, model, when, rnd);
    List<String> keys = new ArrayList<>(model.keySet());
    for (int i = 0; i < 2_000; i++) {
      String k = keys.get(rnd.nextInt(keys.size()));
      long n = 0;
      long total = 0;
      for (long[] cell : model.get(k).values()) {
        n += cell[0];
        total += cell[1];
      }
      ViewResult r = e.get("totals", k);
      assertThat(r.values()).as("%s: totals of %s", when, k).containsEntry("n", n).containsEntry("total", total);
    }
  }

  private static void checkWindows(Engine e, Map<String, Map<Long, long[]>> model, String when, Random rnd) {
    List<String> keys = new ArrayList<>(model.keySet());
    for (int i = 0; i < 2_000; i++) {
      String k = keys.get(rnd.nextInt(keys.size()));
      Map<Long, long[]> expected = model.get(k);
      ViewResult r = e.get("windows", k);
      assertThat(r.windows()).as("%s: windows of %s", when, k).hasSize(expected.size());
      for (ViewResult.WindowValue w : r.windows()) {
        long[] cell = expected.get(w.start());
        assertThat(cell).as("%s: window %d of %s", when, w.start(), k).isNotNull();
        assertThat(w.values()).as("%s: window %d of %s", when, w.start(), k).containsEntry("n", cell[0])
            .containsEntry("total", cell[1]);
      }
    }
  }
}
