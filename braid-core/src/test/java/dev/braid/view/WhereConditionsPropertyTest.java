package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.EvaluationException;
import dev.braid.expr.Expressions;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ViewProgram#admit} writes the skip mask that testing each aggregation's {@code where}
 * condition on its own with {@link Expressions#predicate} gives, although {@link WhereConditions}
 * tests a condition text once and compares range conditions of one field after a single read:
 * over seeded random views (1 to 100 aggregations, so masks of one and two words; random range
 * conditions with every operator, the literal on either side, {@code &&} of 1 to 3 comparisons,
 * spelled differently; other conditions mixed in, one of which throws on overflow) and seeded
 * random events (null fields, {@code Long.MIN_VALUE}, {@code Long.MAX_VALUE}, the literals and
 * their neighbours), the masks are equal bit for bit, and an event throws from {@code admit}
 * exactly when one of its conditions throws.
 */
class WhereConditionsPropertyTest {

  private static final int EVENTS_PER_SEED = 300;

  private static final EventSchema SCHEMA = schema();

  private static final String[] RANGE_FIELDS = {"p", "q", "t"};
  private static final String[] RANGE_OPS = {"==", "<", "<=", ">", ">="};
  private static final long[] LITERALS = {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1_000_000, -1, 0, 1, 2, 10_000,
      1_000_000, Long.MAX_VALUE - 1, Long.MAX_VALUE};
  private static final String[] OTHER_CONDITIONS = {"p != 3", "p > 1 || q < 3", "p >= 0 && q < 10", "s == 'a'",
      "d < 0.5", "!(p < 0)", "p in [0, 1, -1]", "p % 3 == 1", "p < q", "size(s) > 1", "t > 0 && s != 'b'",
      "q == 1 || d > 0.0", "p > 0 && true"};
  /** Throws on int overflow, so the events with a large {@code q} are skipped whole. */
  private static final String THROWING = "q * 4 > 0";

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.seeds", Soak.seeds(200)));
  }

  private static EventSchema schema() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("k", FieldType.STRING);
    f.put("p", FieldType.LONG);
    f.put("q", FieldType.LONG);
    f.put("t", FieldType.TIMESTAMP);
    f.put("d", FieldType.DOUBLE);
    f.put("s", FieldType.STRING);
    return new EventSchema("e", f, "k", null);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldWriteTheMaskOfTestingEachConditionOnItsOwn(long seed) {
    Random rnd = new Random(seed);
    List<String> pool = new ArrayList<>();
    int distinct = 1 + rnd.nextInt(6);
    for (int i = 0; i < distinct; i++) {
      pool.add(rnd.nextInt(10) < 7 ? rangeCondition(rnd) : otherCondition(rnd));
    }
    if (rnd.nextInt(10) == 0) {
      pool.add(THROWING);
    }
    int n = rnd.nextInt(5) == 0 ? 60 + rnd.nextInt(41) : 1 + rnd.nextInt(12);
    ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy("k");
    String[] conditions = new String[n];
    for (int i = 0; i < n; i++) {
      conditions[i] = rnd.nextInt(4) == 0 ? null : pool.get(rnd.nextInt(pool.size()));
      b.aggregate("a" + i, conditions[i] == null ? "count" : "count where " + conditions[i]);
    }
    ViewSpec spec = b.build();
    String context = String.format("seed %d, %s", seed, spec);

    ViewProgram program = new ViewProgram(spec, SCHEMA);
    Expressions ex = new Expressions(SCHEMA);
    EventPredicate[] each = new EventPredicate[n];
    Set<String> others = new LinkedHashSet<>();
    Set<String> ranges = new LinkedHashSet<>();
    for (int i = 0; i < n; i++) {
      if (conditions[i] != null) {
        each[i] = ex.predicate(conditions[i]);
        (ex.range(conditions[i]) == null ? others : ranges).add(conditions[i]);
      }
    }
    WhereConditions compiled = program.whereConditions();
    if (Arrays.stream(conditions).allMatch(c -> c == null)) {
      assertThat(compiled).as(context).isNull();
      return;
    }
    assertThat(compiled.predicates()).as(context + ": conditions left to predicates").isEqualTo(others.size());
    assertThat(compiled.ranges()).as(context + ": ranges compared").isBetween(Math.min(1, ranges.size()), ranges.size());

    ViewProgram.Scratch x = program.scratch();
    EventEncoder encoder = new EventEncoder(SCHEMA);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    long[] expected = new long[x.skip.length];
    for (int j = 0; j < EVENTS_PER_SEED; j++) {
      Map<String, Object> event = randomEvent(rnd);
      assertThat(encoder.encode(event, 0L, enc)).as("%s: event %s", context, event).isNull();
      EventReader e = x.reader.wrap(ByteBuffer.wrap(enc.value(), 0, enc.valueLength()), 0, enc.valueLength());

      Arrays.fill(expected, 0L);
      RuntimeException thrown = null;
      for (int i = 0; i < n; i++) {
        try {
          if (each[i] != null && !each[i].test(e)) {
            expected[i >>> 6] |= 1L << i;
          }
        } catch (RuntimeException ex1) {
          thrown = ex1;
        }
      }
      for (int w = 0; w < x.skip.length; w++) {
        x.skip[w] = rnd.nextLong(); // what the last event left
      }
      String what = String.format("%s: event %s", context, event);
      if (thrown != null) {
        assertThatThrownBy(() -> program.admit(e, x)).as(what).isInstanceOf(EvaluationException.class);
        continue;
      }
      assertThat(program.admit(e, x)).as(what).isTrue();
      assertThat(x.skip).as(what).containsExactly(expected);
    }
  }

  @Test
  void shouldTestNexmarkQ15sNineConditionsAsThreeRangesOfOneField() {
    String[] ranks = {"price < 10000", "price >= 10000 && price < 1000000", "price >= 1000000"};
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("auction", FieldType.LONG);
    f.put("bidder", FieldType.LONG);
    f.put("price", FieldType.LONG);
    EventSchema schema = new EventSchema("bids", f, "auction", null);
    ViewSpec.Builder b = ViewSpec.builder("q15").from("bids").groupBy("'all'").aggregate("bids", "count");
    for (int r = 0; r < ranks.length; r++) {
      b.aggregate("bids_r" + r, "count where " + ranks[r])
          .aggregate("bidders_r" + r, "count_distinct(bidder) where " + ranks[r])
          .aggregate("auctions_r" + r, "count_distinct(auction) where  " + ranks[r] + " ");
    }
    WhereConditions compiled = new ViewProgram(b.build(), schema).whereConditions();
    assertThat(compiled.ranges()).isEqualTo(3);
    assertThat(compiled.predicates()).isZero();
  }

  @Test
  void shouldCompareDifferentTextsOfOneRangeOnce() {
    ViewSpec spec = ViewSpec.builder("v").from("e").groupBy("k").aggregate("a", "count where p < 10")
        .aggregate("b", "count where 10 > p").aggregate("c", "count where p <= 9 && p >= -9223372036854775808")
        .aggregate("d", "count where t >= 0").aggregate("e", "count where p != 3").build();
    WhereConditions compiled = new ViewProgram(spec, SCHEMA).whereConditions();
    assertThat(compiled.ranges()).isEqualTo(2);
    assertThat(compiled.predicates()).isEqualTo(1);
  }

  // ---------------------------------------------------------------------------------------------
  // Generators
  // ---------------------------------------------------------------------------------------------

  /** An {@code &&} of 1 to 3 comparisons of one int field with int literals, spelled at random. */
  private static String rangeCondition(Random rnd) {
    String field = RANGE_FIELDS[rnd.nextInt(RANGE_FIELDS.length)];
    int n = 1 + rnd.nextInt(3);
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String op = RANGE_OPS[rnd.nextInt(RANGE_OPS.length)];
      String literal = Long.toString(literal(rnd));
      String space = rnd.nextBoolean() ? " " : "";
      parts.add(rnd.nextBoolean() ? field + space + op + space + literal : literal + space + op + space + field);
    }
    if (n == 3 && rnd.nextBoolean()) {
      return "(" + parts.get(0) + " && " + parts.get(1) + ") && " + parts.get(2);
    }
    return String.join(" && ", parts);
  }

  /** A condition that is not a range: another shape, or ranges joined with {@code ||} or other fields. */
  private static String otherCondition(Random rnd) {
    switch (rnd.nextInt(3)) {
      case 0:
        return rangeCondition(rnd) + " || " + rangeCondition(rnd);
      case 1:
        return "(" + rangeCondition(rnd) + ") && " + OTHER_CONDITIONS[rnd.nextInt(OTHER_CONDITIONS.length)];
      default:
        return OTHER_CONDITIONS[rnd.nextInt(OTHER_CONDITIONS.length)];
    }
  }

  private static long literal(Random rnd) {
    return rnd.nextInt(4) == 0 ? rnd.nextInt(11) - 5 : LITERALS[rnd.nextInt(LITERALS.length)];
  }

  private static Map<String, Object> randomEvent(Random rnd) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("k", "key");
    for (String f : RANGE_FIELDS) {
      if (rnd.nextInt(5) != 0) {
        e.put(f, switch (rnd.nextInt(4)) {
          case 0 -> rnd.nextLong();
          case 1 -> literal(rnd) + rnd.nextInt(3) - 1; // a bound's neighbour, wrapping at the ends
          default -> literal(rnd);
        });
      }
    }
    if (rnd.nextInt(5) != 0) {
      e.put("d", rnd.nextGaussian());
    }
    if (rnd.nextInt(5) != 0) {
      e.put("s", new String[] {"", "a", "b", "ab"}[rnd.nextInt(4)]);
    }
    return e;
  }
}
