package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.testing.Soak;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The changes stream of a session view against a naive model over seeded out-of-order histories
 * whose late events merge sessions and move their starts, on several partitions, with batch cycles
 * at random points (which fold in the events the speed layer left out as late). Folding the stream
 * (a close adds a window, a correction replaces it, a retraction removes it) must give exactly the
 * sessions the naive model has closed, with its results; a correction or retraction must name the
 * window's last event and a retraction carry its values; ids strictly increase.
 */
class ChangesSessionPropertyTest {

  static final long T = ChangesPropertyTest.T;
  static final long GAP = 10_000;
  static final long OOO = 3_000;

  @TempDir
  Path dir;

  static java.util.stream.LongStream seeds() {
    return java.util.stream.LongStream.rangeClosed(1, Soak.seeds(8));
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void shouldFoldToTheSessionsANaiveModelClosed(long seed) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    long lateness = rnd.nextBoolean() ? 0 : 5_000;
    ViewSpec.Builder view = ViewSpec.builder("v").from("s").groupBy("k").window(WindowSpec.session(Duration.ofMillis(GAP)))
        .aggregate("n", "count").aggregate("total", "sum(x)");
    if (lateness > 0) {
      view.allowedLateness(Duration.ofMillis(lateness));
    }
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(partitions).key("k").time("ts").maxOutOfOrder(Duration.ofMillis(OOO))
            .field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build())
        .view(view.build())
        .build();
    String[] keys = ChangesPropertyTest.keys(4);
    int[] keyPartition = ChangesPropertyTest.partitionsOf(keys, partitions);
    AtomicLong clock = new AtomicLong(T); // stands still: no partition goes idle
    long[] maxSeen = new long[partitions];
    java.util.Arrays.fill(maxSeen, Long.MIN_VALUE);
    Map<String, TreeMap<Long, Long>> naive = new HashMap<>(); // key -> event time -> x summed (count kept apart)
    Map<String, TreeMap<Long, Integer>> counts = new HashMap<>();
    String msg = "seed " + seed + ", " + partitions + " partitions, lateness " + lateness;
    int retractions = 0;
    try (Engine b = (Engine) Braid.open(dir, spec, EngineOptions.defaults().withClock(clock::get))) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // the passes below are the test's own
      List<Map<String, Object>> first = ChangesPropertyTest.onePerPartition(keys, keyPartition, partitions);
      int steps = 10 + rnd.nextInt(10);
      long now = T;
      for (int step = 0; step <= steps; step++) {
        List<Map<String, Object>> events = step == 0 ? first : new ArrayList<>();
        int n = step == 0 ? 0 : 3 + rnd.nextInt(12);
        for (int i = 0; i < n; i++) {
          now += rnd.nextInt(6_000);
          long ts = rnd.nextInt(6) == 0 ? now - rnd.nextInt(90_000) : now - rnd.nextInt((int) OOO);
          events.add(Map.of("k", keys[rnd.nextInt(keys.length)], "ts", ts, "x", (long) rnd.nextInt(100)));
        }
        for (Map<String, Object> e : events) {
          String k = (String) e.get("k");
          long ts = (Long) e.get("ts");
          int p = keyPartition[Integer.parseInt(k.substring(1))];
          maxSeen[p] = Math.max(maxSeen[p], ts);
          naive.computeIfAbsent(k, x -> new TreeMap<>()).merge(ts, (Long) e.get("x"), Long::sum);
          counts.computeIfAbsent(k, x -> new TreeMap<>()).merge(ts, 1, Integer::sum);
        }
        assertThat(b.ingest("s", events).rejections()).as(msg).isEmpty();
        assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).as(msg).isTrue();
        if (rnd.nextInt(3) == 0) {
          b.runBatch("v");
        }
        feed.pass();
      }
      b.runBatch("v");
      feed.pass();

      long watermark = Long.MAX_VALUE;
      for (long m : maxSeen) {
        watermark = Math.min(watermark, m - OOO);
      }
      // the naive sessions: events of a key less than a gap apart; closed once end + gap <= W - lateness
      Map<String, String> expected = new TreeMap<>(); // "key@start" -> "end n total"
      for (Map.Entry<String, TreeMap<Long, Long>> byKey : naive.entrySet()) {
        long start = Long.MIN_VALUE;
        long last = Long.MIN_VALUE;
        long count = 0;
        long total = 0;
        for (Map.Entry<Long, Long> e : byKey.getValue().entrySet()) {
          if (start != Long.MIN_VALUE && e.getKey() - last >= GAP) {
            closeIfDue(expected, byKey.getKey(), start, last, count, total, watermark - lateness);
            start = Long.MIN_VALUE;
          }
          if (start == Long.MIN_VALUE) {
            start = e.getKey();
            count = 0;
            total = 0;
          }
          last = e.getKey();
          count += counts.get(byKey.getKey()).get(e.getKey());
          total += e.getValue();
        }
        closeIfDue(expected, byKey.getKey(), start, last, count, total, watermark - lateness);
      }

      List<ChangeEvent> all = b.changes("v", 0, Integer.MAX_VALUE);
      assertThat(all).as(msg).extracting(ChangeEvent::id).isSorted().doesNotHaveDuplicates();
      Map<String, ChangeEvent> live = new TreeMap<>();
      for (ChangeEvent e : all) {
        String w = e.key() + "@" + e.start();
        ChangeEvent was = live.get(w);
        switch (e.kind()) {
          case CLOSE -> assertThat(was).as(msg + ": a close opens no window twice " + w).isNull();
          case CORRECTION -> {
            assertThat(was).as(msg + ": a correction follows a close " + w).isNotNull();
            assertThat(e.corrects()).as(msg).isEqualTo(was.id());
          }
          case RETRACT -> {
            assertThat(was).as(msg + ": a retraction withdraws a window emitted " + w).isNotNull();
            assertThat(e.corrects()).as(msg).isEqualTo(was.id());
            assertThat(e.values()).as(msg + ": a retraction carries what it withdraws").isEqualTo(was.values());
            assertThat(e.end()).as(msg).isEqualTo(was.end());
            retractions++;
          }
        }
        if (e.kind() == ChangeEvent.Kind.RETRACT) {
          live.remove(w);
        } else {
          live.put(w, e);
        }
      }
      Map<String, String> folded = new TreeMap<>();
      live.forEach((w, e) -> folded.put(w, (e.end() - T) + " " + e.values().get("n") + " " + e.values().get("total")));
      assertThat(folded).as(msg + ": the stream folds to the naive closed sessions").isEqualTo(expected);
      assertThat(expected).as(msg + ": the history closes sessions").isNotEmpty();
    }
    System.out.println(msg + ": " + retractions + " retractions");
  }

  private static void closeIfDue(Map<String, String> expected, String key, long start, long last, long count,
      long total, long closeLine) {
    long end = last + GAP;
    if (end + GAP <= closeLine) {
      expected.put(key + "@" + start, (end - T) + " " + count + " " + total);
    }
  }
}
