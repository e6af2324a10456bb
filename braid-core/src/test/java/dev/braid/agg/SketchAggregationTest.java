package dev.braid.agg;

import static dev.braid.agg.AggFixtures.fold;
import static dev.braid.agg.AggFixtures.mergeAll;
import static dev.braid.agg.AggFixtures.roundTrip;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.braid.agg.AggFixtures.TestEvent;
import dev.braid.event.FieldType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.kll.KllDoublesSketch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The sketch aggregations beyond their exact regime, against their documented error bounds and the
 * exact answer, folded whole and merged from random parts in random order.
 */
class SketchAggregationTest {

  // ---------------------------------------------------------------------------------------------
  // count_distinct
  // ---------------------------------------------------------------------------------------------

  static Stream<Arguments> distinctCases() {
    List<Arguments> cases = new ArrayList<>();
    for (long seed = 1; seed <= 6; seed++) {
      cases.add(Arguments.of(seed, 12, 1_000));
      cases.add(Arguments.of(seed, 12, 30_000));
      cases.add(Arguments.of(seed, 10, 100_000));
      cases.add(Arguments.of(seed, 14, 100_000));
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "seed {0}, lgK {1}, {2} distinct")
  @MethodSource("distinctCases")
  void shouldEstimateDistinctCountWithinFourStandardErrorsFoldedOrMerged(long seed, int lgK, int distinct) {
    Random random = new Random(seed);
    Aggregation agg = Aggregations.create(Aggregations.parse("count_distinct(user, " + lgK + ")"), FieldType.STRING);
    List<TestEvent> events = new ArrayList<>();
    for (int i = 0; i < distinct; i++) {
      String user = "user-" + Long.toHexString(random.nextLong());
      for (int copies = 1 + random.nextInt(3); copies > 0; copies--) {
        events.add(new TestEvent(user, i, 0, events.size()));
      }
    }
    Collections.shuffle(events, random);
    double rse = 1.04 / Math.sqrt(1 << lgK);

    AccumulatorState folded = fold(agg, FieldType.STRING, events);
    List<AccumulatorState> parts = AggFixtures.foldEach(agg, FieldType.STRING, AggFixtures.scatteredParts(random, events));
    Collections.shuffle(parts, random);
    AccumulatorState merged = mergeAll(agg, parts);

    assertThat((Long) agg.result(folded)).as("seed %d: estimate of %d distinct, lgK %d", seed, distinct, lgK)
        .isCloseTo((long) distinct, within((long) Math.ceil(4 * rse * distinct)));
    assertThat(agg.result(merged)).as("seed %d: merged equals folded (same HLL registers)", seed)
        .isEqualTo(agg.result(folded));
    assertThat(agg.result(roundTrip(agg, merged))).as("seed %d: round trip", seed).isEqualTo(agg.result(merged));
    assertThat(folded.getObject(0)).as("seed %d: sketch kept", seed).isInstanceOf(HllSketch.class);
  }

  @Test
  void shouldCountExactlyUpToTheLimitThenSwitchToTheSketch() {
    Aggregation agg = Aggregations.create(Aggregations.parse("count_distinct(n)"), FieldType.LONG);
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    for (int round = 0; round < 2; round++) {
      for (long v = 0; v < CountDistinctAggregation.EXACT_LIMIT; v++) {
        agg.add(s, in.setLong(FieldType.LONG, v * 1_000_003));
      }
    }
    assertThat(agg.result(s)).isEqualTo(64L);
    assertThat(s.getObject(0)).as("exact set at the limit").isInstanceOf(long[].class);
    assertThat(agg.result(roundTrip(agg, s))).isEqualTo(64L);
    assertThat(roundTrip(agg, s).getObject(0)).isInstanceOf(long[].class);

    agg.add(s, in.setLong(FieldType.LONG, -7));

    assertThat(s.getObject(0)).as("sketch past the limit").isInstanceOf(HllSketch.class);
    assertThat(agg.result(s)).as("the sketch in its sparse mode is exact at this size").isEqualTo(65L);
    AccumulatorState restored = roundTrip(agg, s);
    assertThat(restored.getObject(0)).isInstanceOf(HllSketch.class);
    agg.add(restored, in.setLong(FieldType.LONG, -8));
    agg.add(restored, in.setLong(FieldType.LONG, -7));
    assertThat(agg.result(restored)).isEqualTo(66L);
  }

  @Test
  void shouldSwitchToTheSketchWhenAMergeOfExactSetsPassesTheLimit() {
    Aggregation agg = Aggregations.create(Aggregations.parse("count_distinct(n)"), FieldType.LONG);
    AccumulatorState a = longs(agg, LongStream.range(0, 40));
    AccumulatorState b = longs(agg, LongStream.range(20, 60));
    AccumulatorState c = longs(agg, LongStream.range(50, 90));

    AccumulatorState ab = mergeAll(agg, List.of(a, b));
    assertThat(ab.getObject(0)).isInstanceOf(long[].class);
    assertThat(agg.result(ab)).isEqualTo(60L);

    agg.merge(ab, c);
    assertThat(ab.getObject(0)).isInstanceOf(HllSketch.class);
    assertThat(agg.result(ab)).isEqualTo(agg.result(longs(agg, LongStream.range(0, 90)))).isEqualTo(90L);
    // exact into sketch, and sketch into exact
    assertThat(agg.result(mergeAll(agg, List.of(a, ab)))).isEqualTo(90L);
    assertThat(agg.result(mergeAll(agg, List.of(ab, a)))).isEqualTo(90L);
    assertThat(a.getObject(0)).as("merge source untouched").isInstanceOf(long[].class);
    assertThat(agg.result(a)).isEqualTo(40L);
  }

  private static AccumulatorState longs(Aggregation agg, LongStream values) {
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    values.forEach(v -> agg.add(s, in.setLong(FieldType.LONG, v)));
    return s;
  }

  // ---------------------------------------------------------------------------------------------
  // top_k
  // ---------------------------------------------------------------------------------------------

  static Stream<Arguments> seeds() {
    return IntStream.rangeClosed(1, 6).mapToObj(seed -> Arguments.of((long) seed));
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFindTheHeavyHittersOfASkewedDistributionWithinTheSketchBound(long seed) {
    Random random = new Random(seed);
    int k = 10;
    int n = 100_000;
    double[] zipf = zipfCdf(5_000, 1.1);
    Map<String, Long> truth = new HashMap<>();
    List<TestEvent> events = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      String item = "item-" + draw(zipf, random);
      truth.merge(item, 1L, Long::sum);
      events.add(new TestEvent(item, i, 0, i));
    }
    Aggregation agg = Aggregations.create(Aggregations.parse("top_k(item, " + k + ")"), FieldType.STRING);
    long bound = (long) Math.ceil(SketchCompat.FrequentStrings.aprioriError(TopKAggregation.maxMapSize(k), n));
    long[] sortedCounts = truth.values().stream().mapToLong(Long::longValue).sorted().toArray();
    long kPlusFirst = sortedCounts[sortedCounts.length - 1 - k];

    AccumulatorState folded = fold(agg, FieldType.STRING, events);
    List<AccumulatorState> parts = AggFixtures.foldEach(agg, FieldType.STRING, AggFixtures.scatteredParts(random, events));
    Collections.shuffle(parts, random);
    AccumulatorState merged = mergeAll(agg, parts);
    AccumulatorState restored = roundTrip(agg, merged);

    for (var named : Map.of("folded", folded, "merged", merged, "restored", restored).entrySet()) {
      @SuppressWarnings("unchecked")
      List<Map<String, Object>> top = (List<Map<String, Object>>) agg.result(named.getValue());
      String what = String.format("seed %d, %s, bound %d", seed, named.getKey(), bound);
      assertThat(top).as("%s: k items", what).hasSize(k);
      Set<String> reported = new HashSet<>();
      long previous = Long.MAX_VALUE;
      for (Map<String, Object> row : top) {
        String item = (String) row.get("item");
        long estimate = (Long) row.get("estimate");
        long actual = truth.getOrDefault(item, 0L);
        assertThat(estimate).as("%s: estimate of %s (true %d)", what, item, actual)
            .isBetween(actual, actual + bound);
        assertThat(estimate).as("%s: order", what).isLessThanOrEqualTo(previous);
        previous = estimate;
        reported.add(item);
      }
      truth.forEach((item, count) -> {
        if (count > kPlusFirst + bound) {
          assertThat(reported).as("%s: heavy hitter %s (true %d, k+1-th %d)", what, item, count, kPlusFirst)
              .contains(item);
        }
      });
    }
    assertThat(agg.result(restored)).as("seed %d: round trip", seed).isEqualTo(agg.result(merged));
  }

  @Test
  void shouldSizeTheFrequentItemsMapAsAPowerOfTwoFromK() {
    assertThat(TopKAggregation.maxMapSize(1)).isEqualTo(64);
    assertThat(TopKAggregation.maxMapSize(2)).isEqualTo(64);
    assertThat(TopKAggregation.maxMapSize(3)).isEqualTo(128);
    assertThat(TopKAggregation.maxMapSize(10)).isEqualTo(512);
    assertThat(TopKAggregation.maxMapSize(1000)).isEqualTo(32768);
  }

  @Test
  void shouldCountOtherTypesByTheirStringFormAndGiveThemBackTyped() {
    Aggregation agg = Aggregations.create(Aggregations.parse("top_k(t, 2)"), FieldType.TIMESTAMP);
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    agg.add(s, in.setLong(FieldType.TIMESTAMP, 0));
    agg.add(s, in.setLong(FieldType.TIMESTAMP, 0));
    agg.add(s, in.setLong(FieldType.TIMESTAMP, 1_714_557_600_000L));
    agg.add(s, in.setNull(FieldType.TIMESTAMP));
    assertThat(agg.result(s)).isEqualTo(List.of(
        Map.of("item", "1970-01-01T00:00:00Z", "estimate", 2L),
        Map.of("item", "2024-05-01T10:00:00Z", "estimate", 1L)));
    Aggregation bools = Aggregations.create(Aggregations.parse("top_k(b)"), FieldType.BOOLEAN);
    AccumulatorState b = AccumulatorState.standalone(bools);
    assertThat(bools.result(b)).isEqualTo(List.of());
    bools.add(b, in.setLong(FieldType.BOOLEAN, 1));
    assertThat(bools.result(b)).isEqualTo(List.of(Map.of("item", true, "estimate", 1L)));
    // numbers are numbers, ties in numeric order (as text, 10 would come before 9)
    Aggregation longs = Aggregations.create(Aggregations.parse("top_k(n, 3)"), FieldType.LONG);
    AccumulatorState l = AccumulatorState.standalone(longs);
    for (long v : new long[] {10, 9, -3, 10}) {
      longs.add(l, in.setLong(FieldType.LONG, v));
    }
    assertThat(longs.result(l)).isEqualTo(List.of(Map.of("item", 10L, "estimate", 2L),
        Map.of("item", -3L, "estimate", 1L), Map.of("item", 9L, "estimate", 1L)));
    Aggregation doubles = Aggregations.create(Aggregations.parse("top_k(d)"), FieldType.DOUBLE);
    AccumulatorState d = AccumulatorState.standalone(doubles);
    doubles.add(d, in.setDouble(1e7));
    doubles.add(d, in.setDouble(-0.0));
    doubles.add(d, in.setDouble(0.0));
    // -0.0 and 0.0 are one item, as group keys and SQL take equal numbers (they were two)
    assertThat(doubles.result(d)).isEqualTo(List.of(Map.of("item", 0.0, "estimate", 2L),
        Map.of("item", 1e7, "estimate", 1L)));
  }

  /** count_distinct counts -0.0 and 0.0 as one value, as SQL's COUNT(DISTINCT) does, and every NaN as one. */
  @Test
  void shouldCountEqualDoublesAsOneDistinctValue() {
    Aggregation agg = Aggregations.create(Aggregations.parse("count_distinct(d)"), FieldType.DOUBLE);
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    for (double v : new double[] {0.0, -0.0, Double.NaN, Double.longBitsToDouble(0x7ff8000000000001L), 1.5}) {
      agg.add(s, in.setDouble(v));
    }
    assertThat(agg.result(s)).isEqualTo(3L);
  }

  private static double[] zipfCdf(int items, double exponent) {
    double[] cdf = new double[items];
    double total = 0;
    for (int i = 0; i < items; i++) {
      total += 1 / Math.pow(i + 1, exponent);
      cdf[i] = total;
    }
    for (int i = 0; i < items; i++) {
      cdf[i] /= total;
    }
    return cdf;
  }

  private static int draw(double[] cdf, Random random) {
    int i = Arrays.binarySearch(cdf, random.nextDouble());
    return Math.min(cdf.length - 1, i >= 0 ? i : -i - 1);
  }

  // ---------------------------------------------------------------------------------------------
  // quantiles
  // ---------------------------------------------------------------------------------------------

  static Stream<Arguments> quantileCases() {
    List<Arguments> cases = new ArrayList<>();
    for (long seed = 1; seed <= 5; seed++) {
      for (String distribution : List.of("uniform", "gaussian", "lognormal", "few-values", "timestamps")) {
        cases.add(Arguments.of(seed, distribution, distribution.equals("gaussian") ? 400 : 200));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "seed {0}, {1}, k {2}")
  @MethodSource("quantileCases")
  void shouldKeepQuantileRankErrorWithinTheKllBoundFoldedOrMerged(long seed, String distribution, int k) {
    AggFixtures.seedKll(seed);
    Random random = new Random(seed);
    int n = 50_000;
    FieldType type = distribution.equals("timestamps") ? FieldType.TIMESTAMP : FieldType.DOUBLE;
    List<TestEvent> events = new ArrayList<>(n);
    double[] values = new double[n];
    for (int i = 0; i < n; i++) {
      Object v;
      switch (distribution) {
        case "uniform": v = random.nextDouble() * 1000 - 500; break;
        case "gaussian": v = random.nextGaussian(); break;
        case "lognormal": v = Math.exp(2 * random.nextGaussian()); break;
        case "few-values": v = (double) random.nextInt(7); break;
        default: v = 1_700_000_000_000L + (long) (random.nextGaussian() * 86_400_000); break;
      }
      values[i] = ((Number) v).doubleValue();
      events.add(new TestEvent(v, i, 0, i));
    }
    Arrays.sort(values);
    Aggregation agg = Aggregations.create(Aggregations.parse("quantiles(x, " + k + ")"), type);

    AccumulatorState folded = fold(agg, type, events);
    List<AccumulatorState> parts = AggFixtures.foldEach(agg, type, AggFixtures.scatteredParts(random, events));
    Collections.shuffle(parts, random);
    AccumulatorState merged = mergeAll(agg, parts);
    AccumulatorState restored = roundTrip(agg, merged);
    assertThat(agg.result(restored)).as("seed %d: round trip", seed).isEqualTo(agg.result(merged));
    AggFixtures.addAll(agg, type, restored, events.subList(0, n / 2)); // keeps working after a read
    double epsilon = ((KllDoublesSketch) folded.getObject(0)).getNormalizedRankError(false);
    assertThat(epsilon).as("seed %d: the documented bound", seed).isLessThan(k == 200 ? 0.0134 : 0.0069);

    for (var named : Map.of("folded", folded, "merged", merged).entrySet()) {
      @SuppressWarnings("unchecked")
      Map<String, Object> result = (Map<String, Object>) agg.result(named.getValue());
      String what = String.format("seed %d, %s, %s", seed, distribution, named.getKey());
      assertThat(result.get("n")).as("%s: n", what).isEqualTo((long) n);
      assertThat(result.get("min")).as("%s: min", what).isEqualTo(values[0]);
      assertThat(result.get("max")).as("%s: max", what).isEqualTo(values[n - 1]);
      for (String key : List.of("p50", "p90", "p99")) {
        checkRank(values, key, (Double) result.get(key), epsilon, what);
      }
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> afterMoreAdds = (Map<String, Object>) agg.result(restored);
    assertThat(afterMoreAdds.get("n")).as("seed %d: n after more adds", seed).isEqualTo((long) (n + n / 2));
  }

  /** The true normalized rank range of {@code q} must come within {@code epsilon} of the requested rank. */
  private static void checkRank(double[] sorted, String key, double q, double epsilon, String what) {
    double p = Integer.parseInt(key.substring(1)) / 100.0;
    int below = lowerBound(sorted, q);
    int atOrBelow = upperBound(sorted, q);
    double lo = below / (double) sorted.length;
    double hi = atOrBelow / (double) sorted.length;
    assertThat(p).as("%s: %s = %s has true rank range [%s, %s], epsilon %s", what, key, q, lo, hi, epsilon)
        .isBetween(lo - epsilon, hi + epsilon);
  }

  private static int lowerBound(double[] sorted, double q) {
    int lo = 0;
    int hi = sorted.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted[mid] < q) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static int upperBound(double[] sorted, double q) {
    int lo = 0;
    int hi = sorted.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted[mid] <= q) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  @Test
  void shouldReportNullQuantilesAndZeroCountWhenEmpty() {
    Aggregation agg = Aggregations.create(Aggregations.parse("quantiles(x)"), FieldType.DOUBLE);
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    agg.add(s, in.setNull(FieldType.DOUBLE));
    agg.add(s, in.setDouble(Double.NaN));
    Map<String, Object> expected = new java.util.LinkedHashMap<>();
    for (String key : List.of("p50", "p90", "p99", "min", "max")) {
      expected.put(key, null);
    }
    expected.put("n", 0L);
    assertThat(agg.result(s)).isEqualTo(expected);
    assertThat(agg.result(roundTrip(agg, s))).isEqualTo(expected);
  }
}
