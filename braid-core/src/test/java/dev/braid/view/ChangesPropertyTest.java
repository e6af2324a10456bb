package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * The changes stream against a naive model over seeded out-of-order histories with late events,
 * several partitions and batch cycles at random points: the closes are exactly the windows the
 * naive watermark closed, each once; the last event of each window carries the naive result over
 * all events (after a final batch cycle); a correction follows only for a window that received an
 * event too late for the speed layer; ids strictly increase.
 */
class ChangesPropertyTest {

  static final long T = 1_780_000_020_000L - 1_780_000_020_000L % 60_000;
  static final long SIZE = 60_000;
  static final long OOO = 5_000;
  static final long LATENESS = 10_000;

  @TempDir
  Path dir;

  static java.util.stream.LongStream seeds() {
    return java.util.stream.LongStream.rangeClosed(1, Soak.seeds(6));
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("seeds")
  void shouldEmitWhatANaiveModelOfClosedWindowsPredicts(long seed) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(partitions).key("k").time("ts").maxOutOfOrder(Duration.ofMillis(OOO))
            .field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMillis(SIZE))
            .allowedLateness(Duration.ofMillis(LATENESS)).aggregate("n", "count").aggregate("total", "sum(x)")
            .build())
        .build();
    String[] keys = keys(6);
    int[] keyPartition = partitionsOf(keys, partitions);
    // the clock stands still: no partition becomes idle, so the naive watermark is the minimum
    AtomicLong clock = new AtomicLong(T);
    long[] maxSeen = new long[partitions];
    java.util.Arrays.fill(maxSeen, Long.MIN_VALUE);
    Map<String, long[]> naive = new TreeMap<>(); // "key@start" -> {n, total}
    Set<String> lateWindows = new HashSet<>();
    String msg = "seed " + seed + ", " + partitions + " partitions";
    try (Engine b = (Engine) Braid.open(dir, spec, EngineOptions.defaults().withClock(clock::get))) {
      ChangeFeed feed = b.changeFeed("v");
      List<Map<String, Object>> first = onePerPartition(keys, keyPartition, partitions);
      int steps = 8 + rnd.nextInt(8);
      long now = T;
      for (int step = 0; step <= steps; step++) {
        List<Map<String, Object>> events = step == 0 ? first : new ArrayList<>();
        int n = step == 0 ? 0 : 5 + rnd.nextInt(20);
        for (int i = 0; i < n; i++) {
          now += rnd.nextInt(8_000);
          long ts = rnd.nextInt(10) == 0 ? now - rnd.nextInt(120_000) : now - rnd.nextInt((int) OOO);
          events.add(Map.of("k", keys[rnd.nextInt(keys.length)], "ts", ts, "x", (long) rnd.nextInt(100)));
        }
        for (Map<String, Object> e : events) {
          String k = (String) e.get("k");
          long ts = (Long) e.get("ts");
          int p = keyPartition[Integer.parseInt(k.substring(1))];
          long start = Math.floorDiv(ts, SIZE) * SIZE;
          String w = k + "@" + start;
          if (maxSeen[p] != Long.MIN_VALUE && start + SIZE <= maxSeen[p] - OOO - LATENESS) {
            lateWindows.add(w);
          }
          maxSeen[p] = Math.max(maxSeen[p], ts);
          long[] acc = naive.computeIfAbsent(w, x -> new long[2]);
          acc[0]++;
          acc[1] += (Long) e.get("x");
        }
        assertThat(b.ingest("s", events).rejections()).as(msg).isEmpty();
        assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).as(msg).isTrue();
        if (rnd.nextInt(4) == 0) {
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
      Set<String> expectedClosed = new HashSet<>();
      for (String w : naive.keySet()) {
        if (Long.parseLong(w.substring(w.indexOf('@') + 1)) + SIZE <= watermark - LATENESS) {
          expectedClosed.add(w);
        }
      }
      List<ChangeEvent> all = b.changes("v", 0, Integer.MAX_VALUE);
      assertThat(all).as(msg).extracting(ChangeEvent::id).isSorted().doesNotHaveDuplicates();
      List<String> closes = new ArrayList<>();
      Map<String, ChangeEvent> last = new HashMap<>();
      for (ChangeEvent e : all) {
        String w = e.key() + "@" + e.start();
        if (e.kind() == ChangeEvent.Kind.CLOSE) {
          closes.add(w);
          assertThat(last).as(msg + ": a close is the window's first event " + w).doesNotContainKey(w);
        } else {
          assertThat(last).as(msg + ": a correction follows a close " + w).containsKey(w);
          assertThat(e.corrects()).as(msg).isEqualTo(last.get(w).id());
          assertThat(e.values()).as(msg + ": a correction changes the result").isNotEqualTo(last.get(w).values());
          assertThat(lateWindows).as(msg + ": only a window with a late event is corrected").contains(w);
        }
        last.put(w, e);
      }
      assertThat(closes).as(msg + ": the history closes windows").isNotEmpty();
      assertThat(closes).as(msg + ": each closed window once").doesNotHaveDuplicates()
          .containsExactlyInAnyOrderElementsOf(expectedClosed);
      for (String w : expectedClosed) {
        long[] acc = naive.get(w);
        assertThat(last.get(w).values()).as(msg + ": " + w).isEqualTo(Map.of("n", acc[0], "total", acc[1]));
      }
    }
  }

  /** Keys {@code k0 .. k(n-1)}. */
  static String[] keys(int n) {
    String[] keys = new String[n];
    for (int i = 0; i < n; i++) {
      keys[i] = "k" + i;
    }
    return keys;
  }

  /** The partition of each key among {@code partitions}. */
  static int[] partitionsOf(String[] keys, int partitions) {
    int[] keyPartition = new int[keys.length];
    for (int i = 0; i < keys.length; i++) {
      byte[] kb = keys[i].getBytes(StandardCharsets.UTF_8);
      keyPartition[i] = Partitioner.partition(kb, 0, kb.length, partitions);
    }
    return keyPartition;
  }

  /** One event at {@link #T} per partition that a key maps to, so that every partition holds the watermark. */
  static List<Map<String, Object>> onePerPartition(String[] keys, int[] keyPartition, int partitions) {
    List<Map<String, Object>> first = new ArrayList<>();
    for (int p = 0; p < partitions; p++) {
      for (int i = 0; i < keys.length; i++) {
        if (keyPartition[i] == p) {
          first.add(Map.of("k", keys[i], "ts", T, "x", 1L));
          break;
        }
      }
    }
    return first;
  }
}
