package dev.braid.agg;

import static dev.braid.agg.AggFixtures.contiguousParts;
import static dev.braid.agg.AggFixtures.events;
import static dev.braid.agg.AggFixtures.fold;
import static dev.braid.agg.AggFixtures.foldEach;
import static dev.braid.agg.AggFixtures.mergeAll;
import static dev.braid.agg.AggFixtures.roundTrip;
import static dev.braid.agg.AggFixtures.scatteredParts;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.agg.AggFixtures.Profile;
import dev.braid.agg.AggFixtures.TestEvent;
import dev.braid.event.FieldType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The laws of {@link Aggregation} for every built-in and several argument types, over seeded random
 * events (nulls, negatives, duplicates, special doubles, ties in event time, shuffled arrival):
 * folding everything equals merging the folds of any split; {@code zero} is an identity of merge;
 * merge is associative and leaves its source alone; the codec round trip restores an accumulator
 * that keeps working; and the result equals a naive computation.
 *
 * <p>Sketch aggregations are run here in the regime where they are exact (few distinct items for
 * {@code top_k}, at most k values for {@code quantiles}, any size for {@code count_distinct}, whose
 * result is a function of the HLL registers); {@link SketchAggregationTest} checks them against
 * their error bounds beyond.
 */
class AggregationLawsTest {

  private static final int SEEDS = 25;

  /** Checks a result against the events it was computed from. */
  @FunctionalInterface
  interface Oracle {
    void check(LawCase c, Object actual, List<TestEvent> events, String description);
  }

  record LawCase(String spec, FieldType type, int maxEvents, Profile profile, Oracle oracle) {
    Aggregation aggregation() {
      return Aggregations.create(Aggregations.parse(spec), type);
    }

    @Override
    public String toString() {
      return spec + (type == null ? "" : " over " + type.specName());
    }
  }

  static Stream<Arguments> cases() {
    List<LawCase> cases = new ArrayList<>();
    Profile normal = Profile.DEFAULT;
    cases.add(new LawCase("count", null, 300, normal, equalTo(events -> (long) events.size())));
    for (FieldType t : FieldType.values()) {
      cases.add(new LawCase("count(f)", t, 300, normal, equalTo(events -> (long) values(events).size())));
      cases.add(new LawCase("first(f)", t, 300, normal, equalTo(events -> firstOrLast(events, false))));
      cases.add(new LawCase("last(f)", t, 300, normal, equalTo(events -> firstOrLast(events, true))));
      cases.add(new LawCase("count_distinct(f)", t, 300, new Profile(0.1, 40, true), AggregationLawsTest::distinct));
      cases.add(new LawCase("top_k(f, 10)", t, 300, new Profile(0.1, 15, false), AggregationLawsTest::topK));
    }
    cases.add(new LawCase("count_distinct(f)", FieldType.LONG, 2000, new Profile(0.05, 1000, false),
        AggregationLawsTest::distinct));
    cases.add(new LawCase("count_distinct(f, 5)", FieldType.STRING, 2000, new Profile(0.05, 1000, false),
        AggregationLawsTest::distinct));
    cases.add(new LawCase("sum(f)", FieldType.LONG, 300, normal, equalTo(events -> {
      long sum = 0;
      for (Object v : values(events)) {
        sum += (Long) v;
      }
      return sum;
    })));
    cases.add(new LawCase("sum(f)", FieldType.DOUBLE, 300, normal, AggregationLawsTest::doubleSum));
    cases.add(new LawCase("sum(f)", FieldType.DOUBLE, 300, new Profile(0.1, 20, false), AggregationLawsTest::doubleSum));
    for (FieldType t : List.of(FieldType.LONG, FieldType.DOUBLE, FieldType.TIMESTAMP)) {
      cases.add(new LawCase("min(f)", t, 300, normal, equalTo(events -> minOrMax(events, false))));
      cases.add(new LawCase("max(f)", t, 300, normal, equalTo(events -> minOrMax(events, true))));
      cases.add(new LawCase("quantiles(f)", t, 200, normal, AggregationLawsTest::exactQuantiles));
    }
    cases.add(new LawCase("avg(f)", FieldType.LONG, 300, normal, equalTo(events -> {
      List<Object> values = values(events);
      BigInteger sum = BigInteger.ZERO;
      for (Object v : values) {
        sum = sum.add(BigInteger.valueOf((Long) v));
      }
      // the exact mean, rounded once
      return values.isEmpty() ? null : new java.math.BigDecimal(sum).divide(java.math.BigDecimal.valueOf(values.size()),
          new java.math.MathContext(60)).doubleValue();
    })));
    cases.add(new LawCase("avg(f)", FieldType.DOUBLE, 300, new Profile(0.1, 20, false), AggregationLawsTest::doubleAvg));
    cases.add(new LawCase("avg(f)", FieldType.DOUBLE, 300, normal, AggregationLawsTest::doubleAvg));
    return cases.stream().flatMap(c -> IntStream.rangeClosed(1, SEEDS).mapToObj(seed -> Arguments.of(c, (long) seed)));
  }

  // ---------------------------------------------------------------------------------------------
  // The laws
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldEqualNaiveComputation(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    c.oracle().check(c, agg.result(fold(agg, c.type(), events)), events, description(c, seed));
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldMergeFoldsOfContiguousPartsInOrderLikeOneFold(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    Object whole = agg.result(fold(agg, c.type(), events));
    List<List<TestEvent>> parts = contiguousParts(random, events);

    Object merged = agg.result(mergeAll(agg, foldEach(agg, c.type(), parts)));

    assertThat(merged).as("%s: %d parts, sizes %s", description(c, seed), parts.size(), sizes(parts))
        .isEqualTo(whole);
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldMergeFoldsOfScatteredPartsInAnyOrderLikeOneFold(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    assertThat(agg.commutative()).as("%s: built-ins are commutative or order by position", description(c, seed))
        .isTrue();
    Object whole = agg.result(fold(agg, c.type(), events));
    List<List<TestEvent>> parts = scatteredParts(random, events);
    List<AccumulatorState> states = foldEach(agg, c.type(), parts);
    Collections.shuffle(states, random);

    Object merged = agg.result(mergeAll(agg, states));

    assertThat(merged).as("%s: %d shuffled parts", description(c, seed), parts.size()).isEqualTo(whole);
    // merge(a, b) == merge(b, a) on the first two parts.
    Object ab = agg.result(mergeAll(agg, List.of(states.get(0), states.get(1))));
    Object ba = agg.result(mergeAll(agg, List.of(states.get(1), states.get(0))));
    assertThat(ba).as("%s: merge(b, a) vs merge(a, b)", description(c, seed)).isEqualTo(ab);
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldBeAssociative(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    int i = random.nextInt(events.size() + 1);
    int j = i + random.nextInt(events.size() - i + 1);
    List<AccumulatorState> abc = foldEach(agg, c.type(),
        List.of(events.subList(0, i), events.subList(i, j), events.subList(j, events.size())));

    AccumulatorState left = mergeAll(agg, List.of(abc.get(0), abc.get(1)));
    agg.merge(left, abc.get(2));
    AccumulatorState bc = mergeAll(agg, List.of(abc.get(1), abc.get(2)));
    AccumulatorState right = mergeAll(agg, List.of(abc.get(0)));
    agg.merge(right, bc);

    assertThat(agg.result(right)).as("%s: a+(b+c) vs (a+b)+c, cuts %d, %d", description(c, seed), i, j)
        .isEqualTo(agg.result(left));
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldTreatZeroAsIdentityOfMerge(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    AccumulatorState folded = fold(agg, c.type(), events);
    Object expected = agg.result(folded);

    AccumulatorState zeroThenX = AccumulatorState.standalone(agg);
    agg.merge(zeroThenX, folded);
    AccumulatorState xThenZero = fold(agg, c.type(), events);
    agg.merge(xThenZero, AccumulatorState.standalone(agg));
    AccumulatorState zeroZero = AccumulatorState.standalone(agg);
    agg.merge(zeroZero, AccumulatorState.standalone(agg));

    assertThat(agg.result(zeroThenX)).as("%s: merge(zero, x)", description(c, seed)).isEqualTo(expected);
    assertThat(agg.result(xThenZero)).as("%s: merge(x, zero)", description(c, seed)).isEqualTo(expected);
    assertThat(agg.result(zeroZero)).as("%s: merge(zero, zero)", description(c, seed))
        .isEqualTo(agg.result(fold(agg, c.type(), List.of())));
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldLeaveMergeSourceUnchanged(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    List<List<TestEvent>> parts = contiguousParts(random, events);
    AccumulatorState source = fold(agg, c.type(), parts.get(0));
    Object before = agg.result(source);

    AccumulatorState into = AccumulatorState.standalone(agg);
    agg.merge(into, source);
    AggFixtures.addAll(agg, c.type(), into, parts.get(1)); // must not write through to source
    agg.merge(into, fold(agg, c.type(), parts.get(parts.size() - 1)));

    assertThat(agg.result(source)).as("%s: merge source after merge and add", description(c, seed))
        .isEqualTo(before);
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("cases")
  void shouldRoundTripThroughCodecAndKeepWorking(LawCase c, long seed) {
    Random random = new Random(seed);
    List<TestEvent> events = randomEvents(c, random);
    Aggregation agg = c.aggregation();
    List<List<TestEvent>> parts = contiguousParts(random, events);
    AccumulatorState original = fold(agg, c.type(), parts.get(0));

    AccumulatorState restored = roundTrip(agg, original);
    assertThat(agg.result(restored)).as("%s: result after round trip", description(c, seed))
        .isEqualTo(agg.result(original));
    if (!isSketch(agg)) { // a sketch may lay out the same content differently after a read
      assertThat(AggFixtures.write(agg, restored)).as("%s: bytes of a re-written accumulator", description(c, seed))
          .isEqualTo(AggFixtures.write(agg, original));
    }

    AccumulatorState empty = roundTrip(agg, AccumulatorState.standalone(agg));
    assertThat(agg.result(empty)).as("%s: empty after round trip", description(c, seed))
        .isEqualTo(agg.result(AccumulatorState.standalone(agg)));

    // The restored accumulator keeps working: add the second part, merge the rest (round-tripped too).
    for (AccumulatorState s : List.of(original, restored)) {
      AggFixtures.addAll(agg, c.type(), s, parts.get(1));
      for (List<TestEvent> rest : parts.subList(2, parts.size())) {
        agg.merge(s, roundTrip(agg, fold(agg, c.type(), rest)));
      }
    }
    agg.merge(empty, restored);
    assertThat(agg.result(restored)).as("%s: restored after add and merge", description(c, seed))
        .isEqualTo(agg.result(original))
        .isEqualTo(agg.result(fold(agg, c.type(), events)));
    assertThat(agg.result(empty)).as("%s: restored empty after merge", description(c, seed))
        .isEqualTo(agg.result(original));
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs and oracles
  // ---------------------------------------------------------------------------------------------

  private static List<TestEvent> randomEvents(LawCase c, Random random) {
    int n = random.nextInt(10) == 0 ? random.nextInt(3) : random.nextInt(c.maxEvents() + 1);
    return events(random, c.type(), n, c.profile());
  }

  private static boolean isSketch(Aggregation agg) {
    return agg instanceof CountDistinctAggregation || agg instanceof TopKAggregation
        || agg instanceof QuantilesAggregation;
  }

  private static String description(LawCase c, long seed) {
    return String.format("%s, seed %d", c, seed);
  }

  private static List<Integer> sizes(List<List<TestEvent>> parts) {
    return parts.stream().map(List::size).collect(Collectors.toList());
  }

  private static Oracle equalTo(java.util.function.Function<List<TestEvent>, Object> expected) {
    return (c, actual, events, description) ->
        assertThat(actual).as("%s: vs naive computation", description).isEqualTo(expected.apply(events));
  }

  private static List<Object> values(List<TestEvent> events) {
    return events.stream().map(TestEvent::value).filter(Objects::nonNull).collect(Collectors.toList());
  }

  private static Object firstOrLast(List<TestEvent> events, boolean last) {
    Comparator<TestEvent> byPosition = Comparator.comparingLong(TestEvent::eventTime)
        .thenComparingInt(TestEvent::partition).thenComparingLong(TestEvent::offset);
    Stream<TestEvent> candidates = events.stream().filter(e -> e.value() != null);
    return (last ? candidates.max(byPosition) : candidates.min(byPosition)).map(TestEvent::value).orElse(null);
  }

  private static Object minOrMax(List<TestEvent> events, boolean max) {
    Object best = null;
    for (Object v : values(events)) {
      if (best == null) {
        best = v;
      } else if (v instanceof Double) {
        best = max ? Math.max((Double) best, (Double) v) : Math.min((Double) best, (Double) v);
      } else {
        best = max ? Math.max((Long) best, (Long) v) : Math.min((Long) best, (Long) v);
      }
    }
    return best;
  }

  /** The exact sum, or NaN / an infinity as IEEE arithmetic gives for non-finite inputs. */
  private static double exactDoubleSum(List<Object> values, BigDecimal[] exactOut) {
    boolean nan = false;
    boolean plusInf = false;
    boolean minusInf = false;
    BigDecimal exact = BigDecimal.ZERO;
    for (Object o : values) {
      double v = (Double) o;
      if (Double.isNaN(v)) {
        nan = true;
      } else if (v == Double.POSITIVE_INFINITY) {
        plusInf = true;
      } else if (v == Double.NEGATIVE_INFINITY) {
        minusInf = true;
      } else {
        exact = exact.add(new BigDecimal(v));
      }
    }
    exactOut[0] = exact;
    if (nan || (plusInf && minusInf)) {
      return Double.NaN;
    }
    if (plusInf || minusInf) {
      return plusInf ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
    }
    return exact.doubleValue();
  }

  /** The double sum is the exact sum correctly rounded: within half an ulp of it. */
  private static void doubleSum(LawCase c, Object actual, List<TestEvent> events, String description) {
    BigDecimal[] exact = new BigDecimal[1];
    double expected = exactDoubleSum(values(events), exact);
    assertThat(actual).as("%s: type", description).isInstanceOf(Double.class);
    double sum = (Double) actual;
    if (!Double.isFinite(expected)) {
      assertThat(actual).as("%s: non-finite sum", description).isEqualTo(expected);
      return;
    }
    BigDecimal error = new BigDecimal(sum).subtract(exact[0]).abs();
    BigDecimal halfUlp = new BigDecimal(Math.ulp(sum)).divide(BigDecimal.valueOf(2));
    assertThat(error).as("%s: |sum - exact| for sum %s, exact %s", description, sum, exact[0])
        .isLessThanOrEqualTo(halfUlp);
  }

  private static void doubleAvg(LawCase c, Object actual, List<TestEvent> events, String description) {
    List<Object> values = values(events);
    if (values.isEmpty()) {
      assertThat(actual).as("%s: avg of nothing", description).isNull();
      return;
    }
    double expected = exactDoubleSum(values, new BigDecimal[1]) / values.size();
    assertThat(actual).as("%s: type", description).isInstanceOf(Double.class);
    double avg = (Double) actual;
    if (!Double.isFinite(expected)) {
      assertThat(actual).as("%s: non-finite avg", description).isEqualTo(expected);
    } else {
      assertThat(avg).as("%s: avg", description).isCloseTo(expected, org.assertj.core.data.Offset.offset(
          2 * Math.ulp(expected)));
    }
  }

  private static void distinct(LawCase c, Object actual, List<TestEvent> events, String description) {
    Set<Object> distinct = new HashSet<>(values(events));
    assertThat(actual).as("%s: type", description).isInstanceOf(Long.class);
    long n = distinct.size();
    if (n <= CountDistinctAggregation.EXACT_LIMIT) {
      assertThat(actual).as("%s: exact below the limit", description).isEqualTo(n);
    } else {
      // lgK is 12 unless the spec says 5; 4 relative standard errors.
      double rse = 1.04 / Math.sqrt(1 << (c.spec().contains(", 5)") ? 5 : 12));
      assertThat((double) (Long) actual).as("%s: HLL estimate of %d", description, n)
          .isCloseTo(n, org.assertj.core.data.Offset.offset(4 * rse * n + 1));
    }
  }

  private static void topK(LawCase c, Object actual, List<TestEvent> events, String description) {
    Map<Comparable<Object>, Long> counts = new HashMap<>(); // items typed as the field, a timestamp as its ISO text
    for (Object v : values(events)) {
      @SuppressWarnings("unchecked")
      Comparable<Object> key = (Comparable<Object>) (c.type() == FieldType.TIMESTAMP
          ? Instant.ofEpochMilli((Long) v).toString() : v);
      counts.merge(key, 1L, Long::sum);
    }
    List<Map<String, Object>> expected = counts.entrySet().stream()
        .sorted(Map.Entry.<Comparable<Object>, Long>comparingByValue().reversed()
            .thenComparing(Map.Entry.comparingByKey()))
        .limit(10)
        .map(e -> {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("item", e.getKey());
          m.put("estimate", e.getValue());
          return m;
        })
        .collect(Collectors.toList());
    assertThat(actual).as("%s: exact top 10 while fewer distinct values than the map holds", description).isEqualTo(expected);
  }

  /** With at most k values, each quantile is a value whose inclusive rank range contains p. */
  private static void exactQuantiles(LawCase c, Object actual, List<TestEvent> events, String description) {
    List<Double> sorted = values(events).stream().map(v -> ((Number) v).doubleValue())
        .filter(d -> !Double.isNaN(d)).sorted().collect(Collectors.toList());
    @SuppressWarnings("unchecked")
    Map<String, Object> result = (Map<String, Object>) actual;
    assertThat(result).as("%s: keys", description).containsOnlyKeys("p50", "p90", "p99", "min", "max", "n");
    assertThat(result.get("n")).as("%s: n", description).isEqualTo((long) sorted.size());
    if (sorted.isEmpty()) {
      assertThat(result).as("%s: empty", description).containsEntry("p50", null).containsEntry("min", null);
      return;
    }
    assertThat(result.get("min")).as("%s: min", description).isEqualTo(sorted.get(0));
    assertThat(result.get("max")).as("%s: max", description).isEqualTo(sorted.get(sorted.size() - 1));
    for (String key : List.of("p50", "p90", "p99")) {
      double p = Integer.parseInt(key.substring(1)) / 100.0;
      double q = (Double) result.get(key);
      double below = sorted.stream().filter(x -> x < q).count() / (double) sorted.size();
      double atOrBelow = sorted.stream().filter(x -> x <= q).count() / (double) sorted.size();
      assertThat(p).as("%s: %s = %s has rank range [%s, %s]", description, key, q, below, atOrBelow)
          .isGreaterThan(below - 1e-12).isLessThanOrEqualTo(atOrBelow + 1e-12);
    }
  }
}
