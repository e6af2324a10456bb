package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.braid.IngestResult;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The batch layer's memory budget changes how a Base is computed, never what it holds: over seeded
 * random histories, a batch cycle with a tiny budget (many spilled runs, multi-pass merges) gives
 * exactly the same merged reads as one with an unlimited budget, and both equal a naive
 * recomputation. Views group by the stream's key and by another field, with and without windows,
 * with order-sensitive ({@code first}, {@code last}) and sketch ({@code count_distinct})
 * aggregations among others.
 */
class BatchSpillPropertyTest {

  static final long HOUR = 3_600_000L;
  static final long T0 = 1_700_000_000_000L;

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.spillSeeds", Soak.seeds(12)));
  }

  record Ev(String user, String merchant, Double amount, long qty, long ts, int partition, long offset) {
    String field(String name) {
      return name.equals("user") ? user : merchant;
    }
  }

  /** A view of the test spec: which field it groups by, whether hourly, its aggregations. */
  record ViewDef(String name, String groupBy, boolean hourly, Map<String, String> aggregates) {}

  static final List<ViewDef> VIEWS = List.of(
      new ViewDef("by_user", "user", false, aggregates("n", "count", "total", "sum(amount)", "q", "sum(qty)",
          "lo", "min(amount)", "hi", "max(qty)", "mean", "avg(amount)", "merchants", "count_distinct(merchant)",
          "first_m", "first(merchant)", "last_m", "last(merchant)")),
      new ViewDef("by_user_hourly", "user", true, aggregates("n", "count", "q", "sum(qty)",
          "merchants", "count_distinct(merchant)", "last_m", "last(merchant)")),
      new ViewDef("by_merchant", "merchant", false, aggregates("n", "count", "total", "sum(amount)",
          "users", "count_distinct(user)", "first_u", "first(user)", "last_u", "last(user)")),
      new ViewDef("by_merchant_hourly", "merchant", true, aggregates("n", "count", "users", "count_distinct(user)",
          "first_u", "first(user)", "hi", "max(qty)")));

  private static Map<String, String> aggregates(String... nameCall) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < nameCall.length; i += 2) {
      m.put(nameCall[i], nameCall[i + 1]);
    }
    return m;
  }

  static PipelineSpec spec(int partitions) {
    PipelineSpec.Builder b = PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("amount", FieldType.DOUBLE)
            .field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build());
    for (ViewDef v : VIEWS) {
      ViewSpec.Builder vb = ViewSpec.builder(v.name()).from("tx").groupBy(v.groupBy());
      if (v.hourly()) {
        vb.tumbling(Duration.ofHours(1));
      }
      v.aggregates().forEach(vb::aggregate);
      b.view(vb.build());
    }
    return b.build();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldReadTheSameWithATinyBudgetAsWithAnUnlimitedOneAndAsTheNaiveModel(long seed, @TempDir Path dir)
      throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(4);
    int users = 60 + rnd.nextInt(300);
    int merchants = 20 + rnd.nextInt(80);
    long tinyBudget = 4096 + rnd.nextInt(36 * 1024);
    EngineOptions tiny = new EngineOptions(1 + rnd.nextInt(3), tinyBudget);
    EngineOptions unlimited = new EngineOptions(1 + rnd.nextInt(3), Long.MAX_VALUE);
    String context = String.format("seed %d (%d partitions, %d users, %d merchants, budget %d bytes, %d threads)",
        seed, partitions, users, merchants, tinyBudget, tiny.batchThreads());
    PipelineSpec spec = spec(partitions);
    List<Ev> events = new ArrayList<>();
    try (Engine small = Engine.open(dir.resolve("small"), spec, tiny);
        Engine big = Engine.open(dir.resolve("big"), spec, unlimited)) {
      int batches = 2 + rnd.nextInt(4);
      for (int i = 0; i < batches; i++) {
        ingest(small, big, rnd, users, merchants, partitions, events, context);
      }
      long spilledRuns = 0;
      for (ViewDef v : VIEWS) {
        small.runBatch(v.name());
        big.runBatch(v.name());
        BatchLayer.Stats s = small.viewRuntime(v.name()).lastBatch;
        spilledRuns += s.runsWritten();
        // Over the budget only by the small table each task may keep (BatchLayer.MIN_GROUPS_PER_RUN).
        int tasks = Math.min(tiny.batchThreads(), partitions);
        assertThat(s.peakReservedBytes()).as(context + ", peak reserved bytes of " + v.name())
            .isLessThanOrEqualTo(tinyBudget + tasks * (16L << 10));
        assertThat(big.viewRuntime(v.name()).lastBatch.runsWritten()).as(context + ", unlimited " + v.name())
            .isZero();
        assertThat(s.keys()).as(context + ", keys of " + v.name())
            .isEqualTo(big.viewRuntime(v.name()).lastBatch.keys());
      }
      assertThat(spilledRuns).as(context + ": the tiny budget spilled").isPositive();
      // Some events after the cut, so that reads merge a Base with a Delta.
      ingest(small, big, rnd, users, merchants, partitions, events, context);
      assertThat(small.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      assertThat(big.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();

      for (ViewDef v : VIEWS) {
        int keys = v.groupBy().equals("user") ? users : merchants;
        String prefix = v.groupBy().equals("user") ? "u" : "m";
        for (int k = 0; k <= keys; k++) { // key `keys` is never produced
          String key = prefix + k;
          ViewResult a = small.get(v.name(), key);
          ViewResult b = big.get(v.name(), key);
          String as = context + ", view " + v.name() + ", key " + key;
          assertThat(a.found()).as(as + " found").isEqualTo(b.found());
          assertThat(a.values()).as(as + " values, tiny vs unlimited budget").isEqualTo(b.values());
          assertThat(a.windows()).as(as + " windows, tiny vs unlimited budget").isEqualTo(b.windows());
          assertThat(a.asOf().position()).as(as + " position").isEqualTo(b.asOf().position());
          checkModel(v, a, events, as);
        }
      }
    }
    assertNoSpillLeft(dir.resolve("small"), context);
  }

  static void assertNoSpillLeft(Path dataDir, String context) throws IOException {
    try (Stream<Path> files = Files.walk(dataDir.resolve("views"))) {
      assertThat(files.filter(f -> f.toString().endsWith(".spill") || f.toString().endsWith(".run")))
          .as(context + ": run files left behind").isEmpty();
    }
  }

  private static void ingest(Engine small, Engine big, Random rnd, int users, int merchants, int partitions,
      List<Ev> events, String context) {
    List<Map<String, Object>> batch = randomBatch(rnd, users, merchants, events.size());
    IngestResult r = small.ingest("tx", batch);
    IngestResult same = big.ingest("tx", batch);
    assertThat(r.rejections()).as(context).isEmpty();
    assertThat(same.positions()).as(context + ": both engines got the same offsets").isEqualTo(r.positions());
    record(batch, r, partitions, events);
  }

  /** 100 to 400 events of skewed users, some without an amount, out of order with ties in event time. */
  static List<Map<String, Object>> randomBatch(Random rnd, int users, int merchants, int eventsSoFar) {
    int n = 100 + rnd.nextInt(300);
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> e = new LinkedHashMap<>();
      int u = (int) Math.min(users - 1, Math.abs(rnd.nextGaussian()) * users / 2); // skewed
      e.put("user", "u" + u);
      e.put("merchant", "m" + rnd.nextInt(merchants));
      if (rnd.nextInt(10) > 0) {
        e.put("amount", Math.round(rnd.nextDouble() * 4000) / 100.0);
      }
      e.put("qty", (long) rnd.nextInt(21) - 5);
      e.put("ts", T0 + (eventsSoFar + i) * 20_000L / 60_000L * 60_000L + (long) (rnd.nextGaussian() * 3) * HOUR);
      batch.add(e);
    }
    return batch;
  }

  /** Adds the accepted {@code batch} to the model with the positions the log gave its events. */
  static void record(List<Map<String, Object>> batch, IngestResult r, int partitions, List<Ev> events) {
    Map<Integer, Integer> taken = new HashMap<>();
    for (Map<String, Object> e : batch) {
      byte[] key = ((String) e.get("user")).getBytes(StandardCharsets.UTF_8);
      int p = Partitioner.partition(key, 0, key.length, partitions);
      int idx = taken.merge(p, 1, Integer::sum) - 1;
      events.add(new Ev((String) e.get("user"), (String) e.get("merchant"), (Double) e.get("amount"),
          (Long) e.get("qty"), (Long) e.get("ts"), p, r.positions().get(p).get(idx)));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The naive model
  // ---------------------------------------------------------------------------------------------

  private static final Comparator<Ev> ORDER = Comparator.comparingLong(Ev::ts).thenComparingInt(Ev::partition)
      .thenComparingLong(Ev::offset);

  static void checkModel(ViewDef v, ViewResult r, List<Ev> all, String as) {
    List<Ev> es = new ArrayList<>();
    for (Ev e : all) {
      if (e.field(v.groupBy()).equals(r.key()) && e.offset() < r.asOf().position().offset(e.partition())) {
        es.add(e);
      }
    }
    assertThat(r.found()).as(as + " found").isEqualTo(!es.isEmpty());
    if (!v.hourly()) {
      checkValues(v, r.values(), es, as);
      return;
    }
    TreeMap<Long, List<Ev>> windows = new TreeMap<>();
    for (Ev e : es) {
      windows.computeIfAbsent(Math.floorDiv(e.ts(), HOUR) * HOUR, w -> new ArrayList<>()).add(e);
    }
    assertThat(r.windows()).as(as + " windows").hasSize(windows.size());
    int i = 0;
    for (Map.Entry<Long, List<Ev>> w : windows.entrySet()) {
      ViewResult.WindowValue got = r.windows().get(i++);
      assertThat(got.start()).as(as + " window start").isEqualTo(w.getKey());
      checkValues(v, got.values(), w.getValue(), as + " window " + w.getKey());
    }
  }

  private static void checkValues(ViewDef v, Map<String, Object> values, List<Ev> es, String as) {
    for (Map.Entry<String, String> a : v.aggregates().entrySet()) {
      Object got = values.get(a.getKey());
      String what = as + " " + a.getKey() + " = " + a.getValue();
      List<Double> amounts = es.stream().map(Ev::amount).filter(Objects::nonNull).toList();
      switch (a.getValue()) {
        case "count" -> assertThat(got).as(what).isEqualTo((long) es.size());
        case "sum(qty)" -> assertThat(got).as(what).isEqualTo(es.stream().mapToLong(Ev::qty).sum());
        case "sum(amount)" -> assertThat(((Number) got).doubleValue()).as(what)
            .isCloseTo(amounts.stream().mapToDouble(Double::doubleValue).sum(), within(1e-6));
        case "min(amount)" -> assertThat(got).as(what).isEqualTo(amounts.stream().min(Double::compare).orElse(null));
        case "max(qty)" -> assertThat(got).as(what).isEqualTo(es.stream().map(Ev::qty).max(Long::compare)
            .orElse(null));
        case "avg(amount)" -> {
          if (amounts.isEmpty()) {
            assertThat(got).as(what).isNull();
          } else {
            assertThat(((Number) got).doubleValue()).as(what).isCloseTo(
                amounts.stream().mapToDouble(Double::doubleValue).average().orElseThrow(), within(1e-6));
          }
        }
        case "count_distinct(merchant)" -> checkDistinct(got, es, Ev::merchant, what);
        case "count_distinct(user)" -> checkDistinct(got, es, Ev::user, what);
        case "first(merchant)" -> assertThat(got).as(what).isEqualTo(es.stream().min(ORDER).map(Ev::merchant)
            .orElse(null));
        case "last(merchant)" -> assertThat(got).as(what).isEqualTo(es.stream().max(ORDER).map(Ev::merchant)
            .orElse(null));
        case "first(user)" -> assertThat(got).as(what).isEqualTo(es.stream().min(ORDER).map(Ev::user).orElse(null));
        case "last(user)" -> assertThat(got).as(what).isEqualTo(es.stream().max(ORDER).map(Ev::user).orElse(null));
        default -> throw new AssertionError("no model for " + a.getValue());
      }
    }
  }

  /** Exact up to 64 distinct values, then an HLL estimate (lgK 12: 1.6% standard error). */
  private static void checkDistinct(Object got, List<Ev> es, Function<Ev, String> field, String what) {
    Set<String> distinct = new HashSet<>();
    for (Ev e : es) {
      distinct.add(field.apply(e));
    }
    long n = ((Number) got).longValue();
    if (distinct.size() <= 64) {
      assertThat(n).as(what).isEqualTo(distinct.size());
    } else {
      assertThat((double) n).as(what + " (estimate)").isCloseTo(distinct.size(), within(distinct.size() * 0.08));
    }
  }
}
