package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.testing.Soak;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The radix fold of windowed views builds the Base that the one-pass fold builds, and both equal a
 * naive model: over seeded random views grouped by the stream's key with tumbling (fixed size or
 * local days of a zone with daylight-saving changes) or hopping windows, 1 to 12 fused aggregations
 * (so rows of more than 5 ops, whose null flags take an int of their own), with nulls, without a
 * filter, with a direct one or with one that throws for some events; random events on 1 to 3
 * partitions, folded by 1 to 3 threads under an ample budget (buckets written straight to the Base),
 * a middle one and a tiny one (buckets and rounds spilled to runs and merged). Every key's windows
 * and their results equal the model's; without spills every window's state bytes equal the one-pass
 * fold's; key and group counts, events read and errors agree.
 */
class WindowedRadixFoldPropertyTest {

  private static final String[] FUSED = {
      "count", "count(l)", "count(d)", "sum(l)", "sum(d)", "min(l)", "max(l)", "min(d)", "max(d)", "min(ts)",
      "max(ts)"};
  private static final long AMPLE = 1L << 30;
  private static final long DAY = 86_400_000L;
  /** 2024-03-29T00:00Z: four days around Europe's change to summer time on 2024-03-31. */
  private static final long DST_WEEK = 1_711_670_400_000L;
  private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.radixSeeds", Soak.seeds(60)));
  }

  private static final EventSchema SCHEMA = schema();

  private static EventSchema schema() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("l", FieldType.LONG);
    f.put("k", FieldType.STRING);
    f.put("d", FieldType.DOUBLE);
    f.put("m", FieldType.LONG);
    f.put("ts", FieldType.TIMESTAMP);
    return new EventSchema("e", f, "k", "ts");
  }

  /** One event as the model sees it. */
  private record Ev(String key, Long l, Double d, long m, long ts) {
    Object field(String name) {
      return switch (name) {
        case "l" -> l;
        case "d" -> d;
        case "ts" -> ts;
        default -> throw new IllegalArgumentException(name);
      };
    }
  }

  /**
   * The filters: none, a direct comparison, and one that throws (CEL's int overflow) when m is 20. Not a
   * division by zero: thrown often enough, the JIT's preallocated ArithmeticException (no message) would
   * replace CEL's "/ by zero" for the rest of the test JVM, which ExpressionsTest checks.
   */
  private static final String THROWS = "m * 480000000000000000 > 1000000000000000000";
  private static final String[] FILTERS = {null, "m > 3", THROWS};

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFoldWindowsByRadixAsTheOnePassFoldAndTheNaiveModel(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    WindowSpec window;
    long from;
    long span;
    switch (rnd.nextInt(3)) {
      case 0 -> {
        window = WindowSpec.tumbling(Duration.ofMillis(1 + rnd.nextInt(rnd.nextBoolean() ? 50 : 5000)));
        from = rnd.nextBoolean() ? -2000 : 1_000_000;
        span = 1 + rnd.nextInt(20_000);
      }
      case 1 -> {
        window = WindowSpec.tumbling(Duration.ofDays(1 + rnd.nextInt(2)), BERLIN);
        from = DST_WEEK;
        span = 4 * DAY;
      }
      default -> {
        long every = 1 + rnd.nextInt(200);
        window = WindowSpec.hopping(Duration.ofMillis(every * (1 + rnd.nextInt(5)) + rnd.nextInt((int) every)),
            Duration.ofMillis(every));
        from = rnd.nextBoolean() ? -1000 : 0;
        span = 1 + rnd.nextInt(5000);
      }
    }
    ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy("k").window(window);
    int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 5 : 12);
    List<String> aggs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      aggs.add(FUSED[rnd.nextInt(FUSED.length)]);
      b.aggregate("a" + i, aggs.get(i));
    }
    String filter = FILTERS[rnd.nextInt(FILTERS.length)];
    if (filter != null) {
      b.filter(filter);
    }
    ViewSpec spec = b.build();
    ViewProgram program = new ViewProgram(spec, SCHEMA);
    int partitions = 1 + rnd.nextInt(3);
    int threads = 1 + rnd.nextInt(3);
    int events = rnd.nextInt(8) == 0 ? rnd.nextInt(5) : rnd.nextInt(6000);
    int keySpace = 1 + rnd.nextInt(rnd.nextBoolean() ? 30 : 2000);
    long tiny = 4096 + rnd.nextInt(60 * 1024);
    long middle = 64 * 1024 + rnd.nextInt(512 * 1024);
    String context = String.format("seed %d (%s, %s, filter %s, %d partitions, %d threads, %d events over <= %d "
        + "keys from %d over %d ms, budgets %d / %d)", seed, window, spec.aggregates(), filter, partitions, threads,
        events, keySpace, from, span, middle, tiny);
    assertThat(BatchLayer.canFoldByRadix(program)).as(context).isTrue();
    context += ", " + RadixFoldPropertyTest.eventsPerBucket(seed) + " events per bucket, combine "
        + RadixFoldPropertyTest.combine(seed);

    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      LogStream stream = log.getOrCreateStream("e", StreamConfig.of(partitions).withDurability(Durability.os()));
      List<Ev> history = append(stream, events, keySpace, from, span, rnd);
      Cut cut = stream.end();
      Map<String, TreeMap<Long, List<Object>>> model = model(history, window, filter, aggs);
      long modelGroups = model.values().stream().mapToLong(Map::size).sum();
      long modelErrors = THROWS.equals(filter) ? history.stream().filter(e -> e.m() == 20).count() : 0;

      BatchLayer.Counters onePassCounters = BatchLayer.Counters.create();
      BatchLayer onePass = new BatchLayer(program, stream, threads, AMPLE, onePassCounters, false);
      assertThat(onePass.foldsByRadix()).as(context).isFalse();
      onePass.build(cut, dir.resolve("one-pass.base"), dir.resolve("one-pass.spill"));
      assertThat(onePassCounters.errors().get()).as(context + ": one-pass errors").isEqualTo(modelErrors);
      try (BaseFile expected = BaseFile.open(dir.resolve("one-pass.base"))) {
        assertMatchesModel(program, expected, model, context + ", one-pass fold");
        for (long budget : new long[] {AMPLE, middle, tiny}) {
          BatchLayer.Counters counters = BatchLayer.Counters.create();
          BatchLayer layer = new BatchLayer(program, stream, threads, budget, counters, true,
              RadixFoldPropertyTest.eventsPerBucket(seed), RadixFoldPropertyTest.combine(seed));
          assertThat(layer.foldsByRadix()).as(context).isTrue();
          Path base = dir.resolve("radix-" + budget + ".base");
          BatchLayer.Stats stats = layer.build(cut, base, dir.resolve("radix-" + budget + ".spill"));
          String as = context + ", radix fold with budget " + budget;
          assertThat(counters.events().get()).as(as + ": events read").isEqualTo(events);
          assertThat(counters.errors().get()).as(as + ": errors").isEqualTo(modelErrors);
          assertThat(stats.keys()).as(as + ": keys").isEqualTo(model.size());
          assertThat(stats.groups()).as(as + ": groups").isEqualTo(modelGroups);
          // with the default bucket size these few events share one bucket, whose table must spill;
          // spread over many buckets, each bucket's table is small and may fit
          if (budget == tiny && modelGroups >= 1000
              && RadixFoldPropertyTest.eventsPerBucket(seed) == BatchLayer.EVENTS_PER_BUCKET) {
            assertThat(stats.runsWritten()).as(as + ": runs spilled under the tiny budget").isPositive();
          }
          if (budget != AMPLE) {
            int tasks = Math.min(threads, partitions);
            assertThat(stats.peakReservedBytes()).as(as + ": peak reserved bytes")
                .isLessThanOrEqualTo(budget + tasks * (16L << 10));
          }
          try (BaseFile actual = BaseFile.open(base)) {
            assertThat(actual.keyCount).as(as + ": keys").isEqualTo(expected.keyCount);
            assertThat(actual.groupCount).as(as + ": groups").isEqualTo(expected.groupCount);
            assertMatchesModel(program, actual, model, as);
            if (stats.runsWritten() == 0) { // spills merge partial states: exact bytes only without them
              for (String key : model.keySet()) {
                byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                assertThat(stateBytes(actual, k)).as(as + ": state bytes of key " + key)
                    .isEqualTo(stateBytes(expected, k));
              }
            }
          }
        }
      }
    }
  }

  /** Every key of the model is in the Base with exactly the model's windows and results, and no other key. */
  private static void assertMatchesModel(ViewProgram program, BaseFile base,
      Map<String, TreeMap<Long, List<Object>>> model, String as) throws IOException {
    assertThat(base.keyCount).as(as + ": keys").isEqualTo(model.size());
    ViewProgram.Scratch x = program.scratch();
    for (Map.Entry<String, TreeMap<Long, List<Object>>> e : model.entrySet()) {
      byte[] key = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      TreeMap<Long, List<Object>> got = new TreeMap<>();
      boolean found = base.lookup(key, key.length, (w, buffer, off, len) -> {
        byte[] state = new byte[len];
        buffer.get(off, state);
        long[] longs = new long[Math.max(1, program.longWidth)];
        Object[] objects = new Object[program.objectWidth];
        program.readRow(new DataInputStream(new ByteArrayInputStream(state)), longs, 0, objects, 0, x);
        List<Object> previous = got.put(w, new ArrayList<>(program.result(longs, 0, objects, 0, x).values()));
        assertThat(previous).as(as + ": window " + w + " of key " + e.getKey() + " once").isNull();
      });
      assertThat(found).as(as + ": key " + e.getKey() + " in the Base").isTrue();
      assertThat(got).as(as + ": windows and results of key " + e.getKey()).isEqualTo(e.getValue());
    }
  }

  /** A key's windows and their serialized states, by window start. */
  private static Map<Long, String> stateBytes(BaseFile base, byte[] key) throws IOException {
    Map<Long, String> out = new TreeMap<>();
    base.lookup(key, key.length, (w, buffer, off, len) -> {
      byte[] state = new byte[len];
      buffer.get(off, state);
      out.put(w, Arrays.toString(state));
    });
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // The naive model
  // ---------------------------------------------------------------------------------------------

  /** Per key, per window start, each aggregation's result, from the definitions, event by event. */
  private static Map<String, TreeMap<Long, List<Object>>> model(List<Ev> history, WindowSpec window, String filter,
      List<String> aggs) {
    Map<String, TreeMap<Long, List<Ev>>> groups = new HashMap<>();
    for (Ev e : history) {
      boolean accepted = filter == null || switch (filter) {
        case "m > 3" -> e.m() > 3;
        case THROWS -> e.m() != 20 && e.m() >= 3; // m = 20 overflows, throws: skipped (and counted)
        default -> throw new IllegalArgumentException(filter);
      };
      if (!accepted) {
        continue;
      }
      for (long start : windowsOf(e.ts(), window)) {
        groups.computeIfAbsent(e.key(), k -> new TreeMap<>()).computeIfAbsent(start, s -> new ArrayList<>()).add(e);
      }
    }
    Map<String, TreeMap<Long, List<Object>>> out = new HashMap<>();
    groups.forEach((key, windows) -> {
      TreeMap<Long, List<Object>> results = new TreeMap<>();
      windows.forEach((start, es) -> {
        List<Object> row = new ArrayList<>();
        for (String a : aggs) {
          row.add(result(a, es));
        }
        results.put(start, row);
      });
      out.put(key, results);
    });
    return out;
  }

  /** The starts of the windows that hold event time {@code t}, from the window's definition. */
  private static List<Long> windowsOf(long t, WindowSpec w) {
    List<Long> out = new ArrayList<>();
    if (w.kind() == WindowSpec.Kind.HOPPING) {
      long every = w.every().toMillis();
      long size = w.size().toMillis();
      for (long s = Math.floorDiv(t, every) * every; s + size > t; s -= every) {
        out.add(s);
      }
    } else if (w.zoned()) {
      long days = w.size().toDays();
      long day = Instant.ofEpochMilli(t).atZone(w.zone()).toLocalDate().toEpochDay();
      out.add(LocalDate.ofEpochDay(Math.floorDiv(day, days) * days).atStartOfDay(w.zone()).toInstant().toEpochMilli());
    } else {
      long size = w.size().toMillis();
      out.add(Math.floorDiv(t, size) * size);
    }
    return out;
  }

  private static Object result(String agg, List<Ev> es) {
    if (agg.equals("count")) {
      return (long) es.size();
    }
    String field = agg.substring(agg.indexOf('(') + 1, agg.length() - 1);
    List<Object> values = es.stream().map(e -> e.field(field)).filter(v -> v != null).toList();
    String fn = agg.substring(0, agg.indexOf('('));
    if (fn.equals("count")) {
      return (long) values.size();
    }
    if (field.equals("d")) { // multiples of 1/8 well below 2^40: every sum is exact
      List<Double> ds = values.stream().map(v -> (Double) v).toList();
      return switch (fn) {
        case "sum" -> ds.stream().mapToDouble(Double::doubleValue).sum();
        case "min" -> ds.stream().min(Double::compare).orElse(null);
        default -> ds.stream().max(Double::compare).orElse(null);
      };
    }
    List<Long> ls = values.stream().map(v -> (Long) v).toList();
    return switch (fn) {
      case "sum" -> ls.stream().reduce(0L, Long::sum); // wraps, as the aggregation does
      case "min" -> ls.stream().min(Long::compare).orElse(null);
      default -> ls.stream().max(Long::compare).orElse(null);
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------------------------

  /** Appends random events, in log order per partition; returns them. */
  private static List<Ev> append(LogStream stream, int events, int keySpace, long from, long span, Random rnd) {
    EventEncoder encoder = new EventEncoder(SCHEMA);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    RadixFoldPropertyTest.Appender appender = new RadixFoldPropertyTest.Appender(stream);
    List<Ev> out = new ArrayList<>(events);
    for (int i = 0; i < events; i++) {
      int ki = rnd.nextInt(keySpace);
      String key = ki % 11 == 0 ? "" : "k" + ki + "x".repeat(ki % 23);
      // mostly ascending event times with some disorder, so windows are revisited
      long ts = from + (long) ((double) span * i / Math.max(1, events)) + rnd.nextInt(1 + (int) Math.min(span, 5000))
          - (rnd.nextInt(4) == 0 ? rnd.nextInt(1 + (int) Math.min(span, 20000)) : 0);
      Long l = rnd.nextInt(5) == 0 ? null : (long) rnd.nextInt(201) - 100 + (rnd.nextInt(50) == 0 ? Long.MAX_VALUE : 0);
      Double d = rnd.nextInt(5) == 0 ? null : (rnd.nextInt(20001) - 10000) / 8.0;
      long m = rnd.nextInt(21);
      Map<String, Object> event = new HashMap<>();
      event.put("k", key);
      event.put("ts", ts);
      event.put("l", l);
      event.put("d", d);
      event.put("m", m);
      String reason = encoder.encode(event, 0L, enc);
      if (reason != null) {
        throw new AssertionError(reason + ": " + event);
      }
      out.add(new Ev(key, l, d, m, ts));
      appender.add(enc);
    }
    appender.finish();
    return out;
  }

}
