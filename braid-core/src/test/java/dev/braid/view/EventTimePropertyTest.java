package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.LateEvent;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.testing.Soak;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Event time against a naive model: seeded out-of-order histories (bounded by the stream's
 * {@code max_out_of_order}, or unbounded: some events hours late) into tumbling, hopping, zoned
 * (Europe/Berlin across the 2026 spring DST change) and session windows, with allowed lateness.
 *
 * <ul>
 *   <li>before any batch cycle, every window equals the naive computation over the events that
 *       arrived in time (the speed layer's result);
 *   <li>after a batch cycle at the log's end, every window equals the naive computation over all
 *       events, late ones included; after more ingest, over all events before the cut plus the
 *       on-time ones after it; the same after a restart;
 *   <li>sessions spanning the cut and partitions (a view grouped by a non-key field) are one session;
 *   <li>a window is {@code final} exactly when it closed (plus lateness) on every partition before the cut;
 *   <li>late events are counted per view and recorded in the late log once each.
 * </ul>
 *
 * "In time" is decided per partition in log order: an event's window is closed when its end plus the
 * view's lateness is at or below the partition's largest event time so far minus max_out_of_order.
 */
class EventTimePropertyTest {

  /** 2026-03-28T23:50Z: Berlin's DST change (01:00Z on 03-29) and local midnight (23:00Z) are near. */
  static final long T0 = Instant.parse("2026-03-28T23:50:00Z").toEpochMilli();
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
  static final String[] VIEWS = {"tum", "hop", "day", "ses", "all"};

  record Ev(String user, String merchant, long qty, long ts, int partition, long offset) {}

  record Setup(int partitions, long maxOutOfOrder, long lateTum, long lateHop, long lateSes, boolean unbounded) {}

  static Stream<Arguments> seeds() {
    return java.util.stream.LongStream.range(0, Soak.seeds(8)).boxed().map(s -> Arguments.of(s, s % 2 == 1));
  }

  static PipelineSpec spec(Setup s) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(s.partitions()).key("user").time("ts")
            .maxOutOfOrder(Duration.ofMillis(s.maxOutOfOrder())).idleAfter(Duration.ofDays(1))
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(base("tum").tumbling(Duration.ofSeconds(10)).allowedLateness(Duration.ofMillis(s.lateTum())).build())
        .view(base("hop").window(WindowSpec.hopping(Duration.ofSeconds(10), Duration.ofSeconds(4)))
            .allowedLateness(Duration.ofMillis(s.lateHop())).build())
        .view(base("day").window(WindowSpec.tumbling(Duration.ofDays(1), BERLIN))
            .allowedLateness(Duration.ofMinutes(30)).build())
        .view(ViewSpec.builder("ses").from("tx").groupBy("merchant")
            .window(WindowSpec.session(Duration.ofSeconds(3))).allowedLateness(Duration.ofMillis(s.lateSes()))
            .aggregate("n", "count").aggregate("q", "sum(qty)").aggregate("d", "count_distinct(user)").build())
        .view(base("all").tumbling(Duration.ofSeconds(10)).build())
        .build();
  }

  static ViewSpec.Builder base(String name) {
    return ViewSpec.builder(name).from("tx").groupBy("user").aggregate("n", "count").aggregate("q", "sum(qty)")
        .aggregate("d", "count_distinct(merchant)");
  }

  // ---------------------------------------------------------------------------------------------
  // The naive model
  // ---------------------------------------------------------------------------------------------

  /** The windows (start -> end) that hold {@code t} in a non-session view. */
  static Map<Long, Long> windowsOf(String view, long t) {
    Map<Long, Long> out = new LinkedHashMap<>();
    switch (view) {
      case "tum":
      case "all": {
        long s = Math.floorDiv(t, 10_000L) * 10_000L;
        out.put(s, s + 10_000L);
        break;
      }
      case "hop":
        for (long s = Math.floorDiv(t, 4_000L) * 4_000L; s > t - 10_000L; s -= 4_000L) {
          out.put(s, s + 10_000L);
        }
        break;
      case "day": {
        java.time.LocalDate d = Instant.ofEpochMilli(t).atZone(BERLIN).toLocalDate();
        out.put(d.atStartOfDay(BERLIN).toInstant().toEpochMilli(),
            d.plusDays(1).atStartOfDay(BERLIN).toInstant().toEpochMilli());
        break;
      }
      default:
        throw new IllegalArgumentException(view);
    }
    return out;
  }

  static long lateness(Setup s, String view) {
    switch (view) {
      case "tum":
        return s.lateTum();
      case "hop":
        return s.lateHop();
      case "ses":
        return s.lateSes();
      case "day":
        return 30 * 60_000L;
      default:
        return -1;
    }
  }

  /**
   * Per view and event: the window starts the speed layer adds it to (sessions: {0} when on time),
   * replaying each partition in log order as the speed layer does.
   */
  static Map<String, Map<Ev, Set<Long>>> onTime(Setup s, List<Ev> events) {
    List<Ev> order = new ArrayList<>(events);
    order.sort(Comparator.comparingInt(Ev::partition).thenComparingLong(Ev::offset));
    Map<String, Map<Ev, Set<Long>>> out = new HashMap<>();
    for (String v : VIEWS) {
      Map<Ev, Set<Long>> m = new HashMap<>();
      long[] max = new long[s.partitions()];
      java.util.Arrays.fill(max, Long.MIN_VALUE);
      long late = lateness(s, v);
      for (Ev e : order) {
        max[e.partition()] = Math.max(max[e.partition()], e.ts());
        long lateEnd = late < 0 ? Long.MIN_VALUE : max[e.partition()] - s.maxOutOfOrder() - late;
        Set<Long> kept = new HashSet<>();
        if (v.equals("ses")) {
          if (e.ts() + 3_000L > lateEnd) {
            kept.add(0L);
          }
        } else {
          windowsOf(v, e.ts()).forEach((start, end) -> {
            if (end > lateEnd) {
              kept.add(start);
            }
          });
        }
        m.put(e, kept);
      }
      out.put(v, m);
    }
    return out;
  }

  record Win(long start, long end, long n, long q, long d) {}

  /** The naive windows of {@code key} in {@code view}: events before {@code cut} all, after it those on time. */
  static TreeMap<Long, Win> naive(String view, String key, List<Ev> events, Cut cut,
      Map<String, Map<Ev, Set<Long>>> onTime) {
    Map<Ev, Set<Long>> kept = onTime.get(view);
    TreeMap<Long, Win> out = new TreeMap<>();
    if (view.equals("ses")) {
      List<Ev> in = new ArrayList<>();
      for (Ev e : events) {
        if (e.merchant().equals(key) && (e.offset() < cut.offset(e.partition()) || !kept.get(e).isEmpty())) {
          in.add(e);
        }
      }
      in.sort(Comparator.comparingLong(Ev::ts));
      List<Ev> cur = new ArrayList<>();
      for (Ev e : in) {
        if (!cur.isEmpty() && e.ts() - cur.get(cur.size() - 1).ts() >= 3_000L) {
          put(out, cur, cur.get(0).ts(), cur.get(cur.size() - 1).ts() + 3_000L, true);
          cur = new ArrayList<>();
        }
        cur.add(e);
      }
      if (!cur.isEmpty()) {
        put(out, cur, cur.get(0).ts(), cur.get(cur.size() - 1).ts() + 3_000L, true);
      }
      return out;
    }
    Map<Long, List<Ev>> by = new TreeMap<>();
    Map<Long, Long> ends = new HashMap<>();
    for (Ev e : events) {
      if (!e.user().equals(key)) {
        continue;
      }
      boolean before = e.offset() < cut.offset(e.partition());
      windowsOf(view, e.ts()).forEach((start, end) -> {
        if (before || kept.get(e).contains(start)) {
          by.computeIfAbsent(start, x -> new ArrayList<>()).add(e);
          ends.put(start, end);
        }
      });
    }
    by.forEach((start, list) -> put(out, list, start, ends.get(start), false));
    return out;
  }

  static void put(TreeMap<Long, Win> out, List<Ev> list, long start, long end, boolean distinctUsers) {
    long d = list.stream().map(e -> distinctUsers ? e.user() : e.merchant()).distinct().count();
    out.put(start, new Win(start, end, list.size(), list.stream().mapToLong(Ev::qty).sum(), d));
  }

  /** Checks every window of every key of every view; returns how many were final. */
  static int checkAll(Braid b, Setup s, List<Ev> events, String context, boolean checkFinal) {
    int finals = 0;
    Map<String, Map<Ev, Set<Long>>> onTime = onTime(s, events);
    long[] maxBefore = new long[s.partitions()];
    for (String v : VIEWS) {
      Set<String> keys = new HashSet<>();
      for (Ev e : events) {
        keys.add(v.equals("ses") ? e.merchant() : e.user());
      }
      for (String k : keys) {
        ViewResult r = b.get(v, k);
        Cut cut = r.asOf().cut();
        TreeMap<Long, Win> want = naive(v, k, events, cut, onTime);
        String as = context + ": view " + v + " key " + k + " as of " + r.asOf();
        assertThat(r.windows()).as(as + " windows").extracting(ViewResult.WindowValue::start)
            .containsExactlyElementsOf(want.keySet());
        for (ViewResult.WindowValue w : r.windows()) {
          Win x = want.get(w.start());
          assertThat(List.of(w.end(), w.values().get("n"), w.values().get("q"), w.values().get("d")))
              .as(as + " window " + Instant.ofEpochMilli(w.start()))
              .containsExactly(x.end(), x.n(), x.q(), x.d());
          if (checkFinal) {
            // final exactly when the window (plus lateness) had closed on every partition before the
            // cut; a session one gap after its end, as an event on time can join it until then
            java.util.Arrays.fill(maxBefore, Long.MIN_VALUE);
            for (Ev e : events) {
              if (e.offset() < cut.offset(e.partition())) {
                maxBefore[e.partition()] = Math.max(maxBefore[e.partition()], e.ts());
              }
            }
            long min = java.util.Arrays.stream(maxBefore).min().orElseThrow();
            long late = lateness(s, v);
            long closes = v.equals("ses") ? x.end() + 3_000L : x.end();
            boolean fin = late >= 0 && min != Long.MIN_VALUE && closes + late <= min - s.maxOutOfOrder();
            assertThat(w.state()).as(as + " state of window " + Instant.ofEpochMilli(w.start()))
                .isEqualTo(fin ? ViewResult.WindowState.FINAL : ViewResult.WindowState.PROVISIONAL);
            finals += fin ? 1 : 0;
          }
        }
        if (!v.equals("ses") && !want.isEmpty()) {
          checkRange(b, v, k, events, onTime, new ArrayList<>(want.keySet()), as);
        }
      }
    }
    return finals;
  }

  /**
   * A read of windows starting in {@code [from, to)} returns exactly those of the full read: a
   * range of one to three windows around one of the key's, from a bound inside a window or on its
   * start (a narrow range of a key with more windows looks the starts up one by one).
   */
  static void checkRange(Braid b, String v, String k, List<Ev> events, Map<String, Map<Ev, Set<Long>>> onTime,
      List<Long> starts, String as) {
    int h = Math.floorMod(k.hashCode() * 31 + v.hashCode(), 1 << 16);
    long from = starts.get(h % starts.size()) - (h % 3 == 0 ? 1 : 0);
    long to = from + 1 + (long) (h % 3) * 4_000L + (h % 2) * 6_000L;
    ViewResult r = b.get(v, k, from, to);
    TreeMap<Long, Win> want = naive(v, k, events, r.asOf().cut(), onTime);
    assertThat(r.windows()).as(as + " windows in [" + from + ", " + to + ")")
        .extracting(ViewResult.WindowValue::start).containsExactlyElementsOf(want.subMap(from, to).keySet());
    for (ViewResult.WindowValue w : r.windows()) {
      Win x = want.get(w.start());
      assertThat(List.of(w.end(), w.values().get("n"), w.values().get("q"), w.values().get("d")))
          .as(as + " range read, window " + Instant.ofEpochMilli(w.start())).containsExactly(x.end(), x.n(), x.q(),
              x.d());
    }
  }

  /** Late events per view: those with a window the speed layer left out, each once. */
  static void checkLate(Braid b, Setup s, List<Ev> events, String context) {
    Map<String, Map<Ev, Set<Long>>> onTime = onTime(s, events);
    List<LateEvent> recorded = b.lateEvents("tx", 0, Integer.MAX_VALUE);
    for (String v : VIEWS) {
      Set<String> want = new HashSet<>();
      for (Ev e : events) {
        int windows = v.equals("ses") ? 1 : windowsOf(v, e.ts()).size();
        if (onTime.get(v).get(e).size() < windows) {
          want.add(e.partition() + "@" + e.offset());
        }
      }
      List<String> got = recorded.stream().filter(l -> l.view().equals(v)).map(l -> l.partition() + "@"
          + l.eventOffset()).toList();
      assertThat(got).as(context + ": late log of view " + v).doesNotHaveDuplicates();
      assertThat(new HashSet<>(got)).as(context + ": late log of view " + v).isEqualTo(want);
      if (s.unbounded() && v.equals("tum")) {
        assertThat(want).as(context + ": an unbounded disorder makes late events").isNotEmpty();
      }
      var lateness = b.status().views().stream().filter(x -> x.name().equals(v)).findFirst().orElseThrow().lateness();
      if (lateness(s, v) >= 0) {
        assertThat(lateness.lateEvents()).as(context + ": late count of view " + v).isEqualTo(want.size());
      } else {
        assertThat(lateness).as(context + ": view " + v + " has no lateness").isNull();
      }
    }
  }

  static void ingest(Braid b, Random rnd, Setup s, int n, long[] clock, List<Ev> out) {
    int done = 0;
    while (done < n) {
      int size = Math.min(n - done, 1 + rnd.nextInt(40));
      List<Map<String, Object>> batch = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        clock[0] += rnd.nextInt(1500);
        long ts = clock[0];
        if (rnd.nextInt(10) == 0) {
          // out of order: within max_out_of_order (bounded) or anything up to two hours back
          long back = s.unbounded() && rnd.nextBoolean() ? rnd.nextInt(7_200_000) : rnd.nextLong(s.maxOutOfOrder() + 1);
          ts -= back;
        }
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("user", "u" + rnd.nextInt(6));
        e.put("merchant", "m" + rnd.nextInt(4));
        e.put("qty", (long) rnd.nextInt(9));
        e.put("ts", ts);
        batch.add(e);
      }
      IngestResult r = b.ingest("tx", batch);
      assertThat(r.rejections()).isEmpty();
      Map<Integer, Integer> taken = new HashMap<>();
      for (Map<String, Object> e : batch) {
        byte[] key = ((String) e.get("user")).getBytes(StandardCharsets.UTF_8);
        int p = Partitioner.partition(key, 0, key.length, s.partitions());
        int idx = taken.merge(p, 1, Integer::sum) - 1;
        out.add(new Ev((String) e.get("user"), (String) e.get("merchant"), (Long) e.get("qty"), (Long) e.get("ts"),
            p, r.positions().get(p).get(idx)));
      }
      done += size;
    }
  }

  static void batchAll(Braid b) {
    for (String v : VIEWS) {
      b.runBatch(v);
    }
  }

  @ParameterizedTest(name = "seed {0}, unbounded disorder {1}")
  @MethodSource("seeds")
  void shouldMatchTheNaiveModelOnTimeInTheSpeedLayerAndCompletelyAfterEachBatchCycle(long seed, boolean unbounded,
      @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    Setup s = new Setup(1 + rnd.nextInt(3), rnd.nextInt(5_000), rnd.nextInt(4_000), rnd.nextInt(4_000),
        rnd.nextInt(4_000), unbounded);
    String context = "seed " + seed + " " + s;
    List<Ev> events = new ArrayList<>();
    long[] clock = {T0};
    try (Engine b = (Engine) Braid.open(dir, spec(s))) {
      ingest(b, rnd, s, 400 + rnd.nextInt(300), clock, events);
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      checkAll(b, s, events, context + ", speed layer only", false);
      checkLate(b, s, events, context + ", speed layer only");

      batchAll(b);
      assertThat(checkAll(b, s, events, context + ", after a batch cycle", true)).as(context + ": final windows")
          .isPositive();

      ingest(b, rnd, s, 300 + rnd.nextInt(300), clock, events);
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      checkAll(b, s, events, context + ", batch cycle then more events", true);
    }
    try (Engine b = (Engine) Braid.open(dir, spec(s))) {
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      checkAll(b, s, events, context + ", after a restart", true);
      checkLate(b, s, events, context + ", after a restart");
      ingest(b, rnd, s, 200, clock, events);
      assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      checkAll(b, s, events, context + ", restart then more events", true);
      checkLate(b, s, events, context + ", restart then more events");
      batchAll(b);
      checkAll(b, s, events, context + ", second batch cycle", true);
      checkLate(b, s, events, context + ", second batch cycle");
    }
  }
}
