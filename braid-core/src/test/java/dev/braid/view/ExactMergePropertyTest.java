package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.braid.AsOf;
import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.ViewResult;
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
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The project's anchor (Guarantee 1, exact merge): over seeded random histories of ingests, batch
 * cycles (version swaps), reads and restarts, every read equals a naive recomputation over the
 * events below the read's {@code asOf} position. The naive model knows nothing of Bases, Deltas or
 * accumulators: it keeps the ingested events with the offsets the log gave them and recomputes.
 */
class ExactMergePropertyTest {

  static final long HOUR = 3_600_000L;
  static final long T0 = 1_700_000_000_000L;

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.seeds", Soak.seeds(300)));
  }

  /** One ingested event with its place in the log. */
  record Ev(String user, String merchant, Double amount, long qty, long ts, int partition, long offset) {}

  static PipelineSpec spec(int partitions) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("amount", FieldType.DOUBLE)
            .field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("by_user").from("tx").groupBy("user")
            .aggregate("n", "count").aggregate("total", "sum(amount)").aggregate("q", "sum(qty)")
            .aggregate("lo", "min(amount)").aggregate("hi", "max(qty)").aggregate("mean", "avg(amount)")
            .aggregate("first_m", "first(merchant)").aggregate("last_m", "last(merchant)").build())
        .view(ViewSpec.builder("big_by_merchant").from("tx").filter("amount > 10.0").groupBy("merchant")
            .aggregate("n", "count").aggregate("q", "sum(qty)").aggregate("amounts", "count(amount)").build())
        .view(ViewSpec.builder("hourly").from("tx").groupBy("user").tumbling(Duration.ofHours(1))
            .aggregate("n", "count").aggregate("q", "sum(qty)").aggregate("small_q", "sum(qty) where qty < 5")
            .build())
        // per-aggregation conditions on a row the fused fold (and the batch layer's radix fold) takes
        .view(ViewSpec.builder("sized_by_user").from("tx").groupBy("user")
            .aggregate("n", "count").aggregate("bulk", "count where qty >= 5")
            .aggregate("big_q", "sum(qty) where amount > 10.0").aggregate("hi_big", "max(qty) where amount > 10.0")
            .aggregate("mean_small", "avg(amount) where qty < 5").build())
        .build();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldServeExactMergeAcrossBatchSwapsAndRestarts(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(4);
    PipelineSpec spec = spec(partitions);
    int users = 1 + rnd.nextInt(30);
    List<Ev> events = new ArrayList<>();
    Braid braid = Braid.open(dir, spec);
    try {
      int steps = 10 + rnd.nextInt(15);
      for (int step = 0; step < steps; step++) {
        int action = rnd.nextInt(100);
        String context = String.format("seed %d, step %d", seed, step);
        if (action < 45) {
          ingest(braid, rnd, users, partitions, events);
        } else if (action < 60) {
          String view = rnd.nextBoolean() ? "by_user" : rnd.nextBoolean() ? "big_by_merchant" : "hourly";
          if (rnd.nextBoolean()) {
            braid.runBatch(view);
          } else {
            // ingest while the batch layer picks its cut and the new version catches up
            Braid b = braid;
            Random ingestRandom = new Random(rnd.nextLong());
            List<Ev> concurrent = new ArrayList<>();
            Thread t = new Thread(() -> {
              for (int k = 0; k < 5; k++) {
                ingest(b, ingestRandom, users, partitions, concurrent);
              }
            });
            t.start();
            braid.runBatch(view);
            t.join();
            events.addAll(concurrent);
          }
        } else if (action < 68) {
          braid.close();
          braid = Braid.open(dir, spec);
        } else if (action < 75) {
          ((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS);
        }
        for (int r = 0; r < 4; r++) {
          checkRandomRead(braid, rnd, users, events, context);
        }
      }
      assertThat(((Engine) braid).awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      for (int u = 0; u < users; u++) {
        checkAll(braid, "u" + u, "m" + (u % 7), events, String.format("seed %d, final", seed));
      }
    } finally {
      braid.close();
    }
  }

  private static void ingest(Braid braid, Random rnd, int users, int partitions, List<Ev> events) {
    int n = 1 + rnd.nextInt(40);
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> e = new LinkedHashMap<>();
      // skewed keys: low user ids are much more frequent
      int u = (int) Math.min(users - 1, Math.abs(rnd.nextGaussian()) * users / 3);
      e.put("user", "u" + u);
      e.put("merchant", "m" + rnd.nextInt(7));
      if (rnd.nextInt(10) > 0) {
        e.put("amount", Math.round(rnd.nextDouble() * 4000) / 100.0);
      }
      e.put("qty", (long) rnd.nextInt(21) - 5);
      e.put("ts", T0 + events.size() * 60_000L + (long) (rnd.nextGaussian() * 2 * HOUR)); // out of order
      batch.add(e);
    }
    IngestResult r = braid.ingest("tx", batch);
    assertThat(r.rejections()).isEmpty();
    Map<Integer, Integer> taken = new HashMap<>();
    for (Map<String, Object> e : batch) {
      byte[] key = ((String) e.get("user")).getBytes(StandardCharsets.UTF_8);
      int p = Partitioner.partition(key, 0, key.length, partitions);
      int idx = taken.merge(p, 1, Integer::sum) - 1;
      long offset = r.positions().get(p).get(idx);
      events.add(new Ev((String) e.get("user"), (String) e.get("merchant"), (Double) e.get("amount"),
          (Long) e.get("qty"), (Long) e.get("ts"), p, offset));
    }
  }

  private static void checkRandomRead(Braid braid, Random rnd, int users, List<Ev> events, String context) {
    String user = "u" + rnd.nextInt(users + 2); // sometimes a key never seen
    checkAll(braid, user, "m" + rnd.nextInt(8), events, context);
  }

  private static void checkAll(Braid braid, String user, String merchant, List<Ev> events, String context) {
    checkByUser(braid.get("by_user", user), events, context);
    checkByMerchant(braid.get("big_by_merchant", merchant), events, context);
    checkHourly(braid.get("hourly", user), events, context);
    checkSized(braid.get("sized_by_user", user), events, context);
  }

  static List<Ev> upTo(List<Ev> events, AsOf asOf, Predicate<Ev> which) {
    List<Ev> out = new ArrayList<>();
    for (Ev e : events) {
      if (e.offset() < asOf.position().offset(e.partition()) && which.test(e)) {
        out.add(e);
      }
    }
    return out;
  }

  private static void checkByUser(ViewResult r, List<Ev> events, String context) {
    List<Ev> es = upTo(events, r.asOf(), e -> e.user().equals(r.key()));
    String as = context + ", by_user key " + r.key() + " as of " + r.asOf();
    Map<String, Object> v = r.values();
    assertThat(r.found()).as(as).isEqualTo(!es.isEmpty());
    assertThat(v.get("n")).as(as + " n").isEqualTo((long) es.size());
    double total = es.stream().filter(e -> e.amount() != null).mapToDouble(Ev::amount).sum();
    assertThat(((Number) v.get("total")).doubleValue()).as(as + " total").isCloseTo(total, within(1e-6));
    assertThat(v.get("q")).as(as + " q").isEqualTo(es.stream().mapToLong(Ev::qty).sum());
    List<Double> amounts = es.stream().map(Ev::amount).filter(Objects::nonNull).toList();
    assertThat(v.get("lo")).as(as + " lo").isEqualTo(amounts.stream().min(Double::compare).orElse(null));
    assertThat(v.get("hi")).as(as + " hi").isEqualTo(es.stream().map(Ev::qty).max(Long::compare).orElse(null));
    if (amounts.isEmpty()) {
      assertThat(v.get("mean")).as(as + " mean").isNull();
    } else {
      assertThat(((Number) v.get("mean")).doubleValue()).as(as + " mean")
          .isCloseTo(total / amounts.size(), within(1e-6));
    }
    Comparator<Ev> order = Comparator.comparingLong(Ev::ts).thenComparingInt(Ev::partition)
        .thenComparingLong(Ev::offset);
    assertThat(v.get("first_m")).as(as + " first_m")
        .isEqualTo(es.stream().min(order).map(Ev::merchant).orElse(null));
    assertThat(v.get("last_m")).as(as + " last_m")
        .isEqualTo(es.stream().max(order).map(Ev::merchant).orElse(null));
  }

  private static void checkByMerchant(ViewResult r, List<Ev> events, String context) {
    List<Ev> es = upTo(events, r.asOf(),
        e -> e.merchant().equals(r.key()) && e.amount() != null && e.amount() > 10.0);
    String as = context + ", big_by_merchant key " + r.key() + " as of " + r.asOf();
    assertThat(r.values().get("n")).as(as + " n").isEqualTo((long) es.size());
    assertThat(r.values().get("q")).as(as + " q").isEqualTo(es.stream().mapToLong(Ev::qty).sum());
    assertThat(r.values().get("amounts")).as(as + " amounts").isEqualTo((long) es.size());
  }

  private static void checkHourly(ViewResult r, List<Ev> events, String context) {
    List<Ev> es = upTo(events, r.asOf(), e -> e.user().equals(r.key()));
    String as = context + ", hourly key " + r.key() + " as of " + r.asOf();
    TreeMap<Long, long[]> naive = new TreeMap<>();
    for (Ev e : es) {
      long w = Math.floorDiv(e.ts(), HOUR) * HOUR;
      long[] acc = naive.computeIfAbsent(w, x -> new long[3]);
      acc[0]++;
      acc[1] += e.qty();
      acc[2] += e.qty() < 5 ? e.qty() : 0;
    }
    assertThat(r.windows()).as(as + " windows").hasSize(naive.size());
    int i = 0;
    for (Map.Entry<Long, long[]> e : naive.entrySet()) {
      ViewResult.WindowValue w = r.windows().get(i++);
      assertThat(w.start()).as(as + " window start").isEqualTo(e.getKey());
      assertThat(w.end()).as(as + " window end").isEqualTo(e.getKey() + HOUR);
      assertThat(w.values().get("n")).as(as + " n of window " + w.start()).isEqualTo(e.getValue()[0]);
      assertThat(w.values().get("q")).as(as + " q of window " + w.start()).isEqualTo(e.getValue()[1]);
      assertThat(w.values().get("small_q")).as(as + " small_q of window " + w.start()).isEqualTo(e.getValue()[2]);
    }
    assertThat(r.values().get("n")).as(as + " n over all windows").isEqualTo((long) es.size());
  }

  /** Aggregations with {@code where}: each sees only its events; the group exists for every event of the key. */
  private static void checkSized(ViewResult r, List<Ev> events, String context) {
    List<Ev> es = upTo(events, r.asOf(), e -> e.user().equals(r.key()));
    String as = context + ", sized_by_user key " + r.key() + " as of " + r.asOf();
    Map<String, Object> v = r.values();
    assertThat(r.found()).as(as).isEqualTo(!es.isEmpty());
    assertThat(v.get("n")).as(as + " n").isEqualTo((long) es.size());
    assertThat(v.get("bulk")).as(as + " bulk").isEqualTo(es.stream().filter(e -> e.qty() >= 5).count());
    List<Ev> big = es.stream().filter(e -> e.amount() != null && e.amount() > 10.0).toList();
    assertThat(v.get("big_q")).as(as + " big_q").isEqualTo(big.stream().mapToLong(Ev::qty).sum());
    assertThat(v.get("hi_big")).as(as + " hi_big").isEqualTo(big.stream().map(Ev::qty).max(Long::compare)
        .orElse(null));
    List<Double> small = es.stream().filter(e -> e.qty() < 5 && e.amount() != null).map(Ev::amount).toList();
    if (small.isEmpty()) {
      assertThat(v.get("mean_small")).as(as + " mean_small").isNull();
    } else {
      assertThat(((Number) v.get("mean_small")).doubleValue()).as(as + " mean_small")
          .isCloseTo(small.stream().mapToDouble(Double::doubleValue).sum() / small.size(), within(1e-6));
    }
  }
}
