package dev.braid.expr;

import static dev.braid.expr.ExprFixtures.fields;
import static dev.braid.expr.ExprFixtures.read;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.testing.Soak;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The direct-compiled code of {@link Expressions} is an optimization, never a second semantics:
 * over seeded random conditions of the shapes it compiles (comparisons with literals in either
 * order, comparisons of integer arithmetic over fields and string sizes that may overflow, {@code in}
 * lists, {@code startsWith}, {@code endsWith}, {@code contains} and {@code matches} of string fields,
 * boolean fields, {@code !}, {@code &&}, {@code ||}) and seeded random
 * events (with null fields and values that often equal the literals, -0.0, strings that straddle
 * the UTF-8 / UTF-16 ordering difference), it answers exactly what the CEL runtime answers for the
 * same expression over the same values. Group keys of plain fields are checked the same way.
 */
class DirectVersusCelPropertyTest {

  private static final int EXPRESSIONS_PER_SEED = 30;
  private static final int EVENTS_PER_SEED = 120;

  private static final EventSchema SCHEMA = new EventSchema("s", fields("s1", FieldType.STRING,
      "s2", FieldType.STRING, "l1", FieldType.LONG, "l2", FieldType.LONG, "d1", FieldType.DOUBLE,
      "d2", FieldType.DOUBLE, "b1", FieldType.BOOLEAN, "b2", FieldType.BOOLEAN, "t", FieldType.TIMESTAMP,
      "k", FieldType.STRING), "k", null);

  private static final String[] STRINGS = {"", "a", "b", "ab", "US", "é", "\uE000", "\uFFFD", "😀", "z",
      "a😀", "a\uE000", "世界"};
  private static final long[] LONGS = {-2, -1, 0, 1, 2, 100, 9_007_199_254_740_993L, Long.MAX_VALUE};
  private static final double[] DOUBLES = {-1.5, -0.0, 0.0, 0.5, 1.0, 2.25, 1e300, -1e-300};
  private static final String[] OPS = {"==", "!=", "<", "<=", ">", ">="};

  static LongStream seeds() {
    return LongStream.range(0, Soak.seeds(30));
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldAnswerLikeTheCelRuntime(long seed) {
    Random rnd = new Random(seed);
    Expressions ex = new Expressions(SCHEMA);
    List<EventReader> events = new ArrayList<>();
    List<Map<String, Object>> sent = new ArrayList<>();
    for (int i = 0; i < EVENTS_PER_SEED; i++) {
      Map<String, Object> e = randomEvent(rnd);
      sent.add(e);
      events.add(read(SCHEMA, e));
    }
    for (int x = 0; x < EXPRESSIONS_PER_SEED; x++) {
      String text = condition(rnd, 3);
      assertThat(ex.isDirect(text)).as("seed %d: '%s' should compile to direct code", seed, text).isTrue();
      EventPredicate direct = ex.predicate(text);
      EventPredicate cel = ex.celPredicate(text);
      for (int i = 0; i < events.size(); i++) {
        String expected = outcome(cel, events.get(i));
        assertThat(outcome(direct, events.get(i)))
            .as("seed %d: '%s' over %s (CEL runtime says %s)", seed, text, sent.get(i), expected)
            .isEqualTo(expected);
      }
    }
  }

  /** true, false, or the error of an expression that fails on the event (an integer overflow). */
  private static String outcome(EventPredicate p, EventReader e) {
    try {
      return Boolean.toString(p.test(e));
    } catch (EvaluationException failed) {
      return "error: " + failed.getMessage();
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldWriteTheSameKeysAsTheCelRuntime(long seed) {
    Random rnd = new Random(seed);
    Expressions ex = new Expressions(SCHEMA);
    for (EventSchema.Field f : SCHEMA.fields()) {
      assertSameKeys(seed, f.name(), ex.key(f.name()), ex.celKey(f.name()), rnd);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldWriteTheSameDerivedKeysAsTheCelRuntime(long seed) {
    Random rnd = new Random(seed);
    Expressions ex = new Expressions(SCHEMA);
    for (int x = 0; x < EXPRESSIONS_PER_SEED; x++) {
      String text = rnd.nextInt(3) == 0 ? intTerm(rnd, 2) : stringKey(rnd, 3);
      if (rnd.nextInt(8) == 0) { // a boolean key: the condition's true or false
        text = condition(rnd, 2);
      } else if (rnd.nextInt(4) == 0) { // a conditional key: either branch a key of the same type
        boolean ints = rnd.nextBoolean();
        text = condition(rnd, 1) + " ? " + (ints ? intTerm(rnd, 1) : stringKey(rnd, 2)) + " : "
            + (ints ? intTerm(rnd, 1) : stringKey(rnd, 2));
      }
      if (text.matches("l1|l2|t|b1|b2|true|false") || text.startsWith("'") && !text.contains("+")) {
        continue; // a plain field or a literal: the keys above
      }
      assertThat(ex.isDirect(text)).as("seed %d: key '%s' should compile to direct code", seed, text).isTrue();
      assertSameKeys(seed, text, ex.key(text), ex.celKey(text), rnd);
    }
  }

  /** Over 40 random events, the direct key {@code d} writes what the runtime's {@code c} writes, byte for byte. */
  private static void assertSameKeys(long seed, String text, KeyExtractor d, KeyExtractor c, Random rnd) {
    KeyBuffer direct = new KeyBuffer();
    KeyBuffer cel = new KeyBuffer();
    for (int i = 0; i < 40; i++) {
      Map<String, Object> sent = randomEvent(rnd);
      EventReader e = read(SCHEMA, sent);
      String expected = keyOutcome(c, e, cel);
      assertThat(keyOutcome(d, e, direct)).as("seed %d: key '%s' of %s", seed, text, sent).isEqualTo(expected);
    }
  }

  /** The key's text, "null" when there is none, or the error of a key that fails on the event. */
  private static String keyOutcome(KeyExtractor k, EventReader e, KeyBuffer out) {
    out.set("stale"); // a direct key must not keep what a previous event wrote
    try {
      return k.extract(e, out) ? "key " + out : "null";
    } catch (EvaluationException failed) {
      return "error: " + failed.getMessage();
    }
  }

  /** A string key: string fields and literals joined by {@code +}, with {@code string()} of int and double terms. */
  private static String stringKey(Random rnd, int depth) {
    int choice = depth == 0 ? rnd.nextInt(3) : rnd.nextInt(5);
    switch (choice) {
      case 0:
        return rnd.nextBoolean() ? "s1" : "s2";
      case 1:
        return stringLiteral(rnd.nextBoolean() ? ":" : STRINGS[rnd.nextInt(STRINGS.length)]);
      case 2:
        int inner = rnd.nextInt(3);
        return "string(" + (inner == 0 ? intTerm(rnd, 1) : inner == 1 ? doubleTerm(rnd, 1) : "s1") + ")";
      default:
        return "(" + stringKey(rnd, depth - 1) + " + " + stringKey(rnd, depth - 1) + ")";
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Generators
  // ---------------------------------------------------------------------------------------------

  private static Map<String, Object> randomEvent(Random rnd) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("k", "key");
    for (EventSchema.Field f : SCHEMA.fields()) {
      if (f.name().equals("k") || rnd.nextInt(4) == 0) {
        continue; // null
      }
      switch (f.type()) {
        case STRING:
          e.put(f.name(), rnd.nextInt(5) == 0 ? randomString(rnd) : STRINGS[rnd.nextInt(STRINGS.length)]);
          break;
        case LONG:
        case TIMESTAMP:
          // Long.MIN_VALUE: the one dividend whose quotient by -1 overflows
          e.put(f.name(), rnd.nextInt(5) == 0 ? (rnd.nextInt(4) == 0 ? Long.MIN_VALUE : rnd.nextLong())
              : LONGS[rnd.nextInt(LONGS.length)]);
          break;
        case DOUBLE:
          e.put(f.name(), rnd.nextInt(5) == 0 ? rnd.nextGaussian() : DOUBLES[rnd.nextInt(DOUBLES.length)]);
          break;
        default:
          e.put(f.name(), rnd.nextBoolean());
      }
    }
    return e;
  }

  private static String randomString(Random rnd) {
    StringBuilder b = new StringBuilder();
    int n = rnd.nextInt(4);
    for (int i = 0; i < n; i++) {
      String piece = STRINGS[rnd.nextInt(STRINGS.length)];
      b.append(piece.isEmpty() ? "q" : piece);
    }
    return b.toString();
  }

  /** A random condition of the shapes that compile to direct code. */
  private static String condition(Random rnd, int depth) {
    int choice = depth == 0 ? rnd.nextInt(4) : rnd.nextInt(7);
    switch (choice) {
      case 0:
        return rnd.nextInt(3) == 0 ? stringTest(rnd) : comparison(rnd);
      case 1:
        return comparison(rnd);
      case 2:
        return in(rnd);
      case 3:
        return rnd.nextInt(6) == 0 ? (rnd.nextBoolean() ? "true" : "false") : (rnd.nextBoolean() ? "b1" : "b2");
      case 4:
        return rnd.nextInt(3) == 0
            ? "(" + condition(rnd, depth - 1) + " ? " + condition(rnd, depth - 1) + " : "
                + condition(rnd, depth - 1) + ")"
            : "!(" + condition(rnd, depth - 1) + ")";
      case 5:
        return "(" + condition(rnd, depth - 1) + " && " + condition(rnd, depth - 1) + ")";
      default:
        return "(" + condition(rnd, depth - 1) + " || " + condition(rnd, depth - 1) + ")";
    }
  }

  private static final String[] INT_FIELDS = {"l1", "l2", "t"};

  /**
   * An integer expression of int fields and literals with {@code +}, {@code -}, {@code *} and unary
   * {@code -}; the literals include values that overflow when added or multiplied.
   */
  private static String intTerm(Random rnd, int depth) {
    int choice = depth == 0 ? rnd.nextInt(2) : rnd.nextInt(6);
    switch (choice) {
      case 0:
        if (rnd.nextInt(3) == 0) { // a string's length in code points, either way of writing it
          String s = rnd.nextBoolean() ? "s1" : "s2";
          return rnd.nextBoolean() ? "size(" + s + ")" : s + ".size()";
        }
        return INT_FIELDS[rnd.nextInt(INT_FIELDS.length)];
      case 1:
        long v = LONGS[rnd.nextInt(LONGS.length)];
        return v < 0 ? "(" + v + ")" : Long.toString(v);
      case 2:
        return "-(" + intTerm(rnd, depth - 1) + ")";
      default:
        return "(" + intTerm(rnd, depth - 1) + " " + new String[] {"+", "-", "*", "/", "%"}[rnd.nextInt(5)] + " "
            + intTerm(rnd, depth - 1) + ")";
    }
  }

  private static String comparison(Random rnd) {
    String field;
    String literal;
    String op = OPS[rnd.nextInt(OPS.length)];
    if (rnd.nextInt(5) == 0) { // integer arithmetic on either side: total == qty * price
      return intTerm(rnd, 2) + " " + op + " " + intTerm(rnd, 2);
    }
    if (rnd.nextInt(5) == 0) { // double arithmetic, infinities and NaN included: amount * 1.1 > 100.0
      return doubleTerm(rnd, 2) + " " + op + " " + doubleTerm(rnd, 2);
    }
    switch (rnd.nextInt(4)) {
      case 0:
        field = rnd.nextBoolean() ? "s1" : "s2";
        literal = stringLiteral(STRINGS[rnd.nextInt(STRINGS.length)]);
        break;
      case 1:
        field = new String[] {"l1", "l2", "t"}[rnd.nextInt(3)];
        literal = Long.toString(LONGS[rnd.nextInt(LONGS.length)]);
        break;
      case 2:
        field = rnd.nextBoolean() ? "d1" : "d2";
        literal = Double.toString(DOUBLES[rnd.nextInt(DOUBLES.length)]);
        break;
      default:
        field = rnd.nextBoolean() ? "b1" : "b2";
        literal = Boolean.toString(rnd.nextBoolean());
        op = rnd.nextBoolean() ? "==" : "!=";
    }
    return rnd.nextBoolean() ? field + " " + op + " " + literal : literal + " " + op + " " + field;
  }

  /**
   * A double expression of double fields, literals and {@code double()} of int terms; 1e300 and 0.0
   * make infinities and NaN.
   */
  private static String doubleTerm(Random rnd, int depth) {
    int choice = depth == 0 ? rnd.nextInt(3) : rnd.nextInt(7);
    switch (choice) {
      case 0:
        return rnd.nextBoolean() ? "d1" : "d2";
      case 1:
        double v = DOUBLES[rnd.nextInt(DOUBLES.length)];
        return v < 0 || v == 0 && 1 / v < 0 ? "(" + v + ")" : Double.toString(v);
      case 2:
        return "double(" + intTerm(rnd, 1) + ")";
      case 3:
        return "-(" + doubleTerm(rnd, depth - 1) + ")";
      default:
        return "(" + doubleTerm(rnd, depth - 1) + " " + new String[] {"+", "-", "*", "/"}[rnd.nextInt(4)] + " "
            + doubleTerm(rnd, depth - 1) + ")";
    }
  }

  /** Patterns for {@code matches}: anchors, classes, alternation, a character outside the BMP. */
  private static final String[] PATTERNS = {"^a", "b$", "a|US", "^$", "[é世]", ".😀", "^.{2}$", "z+", "(?i)us",
      "\\\\d"};

  /** {@code startsWith}, {@code endsWith}, {@code contains} or {@code matches} of a string field. */
  private static String stringTest(Random rnd) {
    String field = rnd.nextBoolean() ? "s1" : "s2";
    int which = rnd.nextInt(4);
    if (which == 3) {
      return field + ".matches(" + stringLiteral(PATTERNS[rnd.nextInt(PATTERNS.length)]) + ")";
    }
    String lit = rnd.nextInt(3) == 0 ? randomString(rnd) : STRINGS[rnd.nextInt(STRINGS.length)];
    return field + "." + new String[] {"startsWith", "endsWith", "contains"}[which] + "(" + stringLiteral(lit) + ")";
  }

  private static String in(Random rnd) {
    List<String> items = new ArrayList<>();
    int n = rnd.nextInt(4);
    if (rnd.nextBoolean()) {
      for (int i = 0; i < n; i++) {
        items.add(stringLiteral(STRINGS[rnd.nextInt(STRINGS.length)]));
      }
      return (rnd.nextBoolean() ? "s1" : "s2") + " in [" + String.join(", ", items) + "]";
    }
    for (int i = 0; i < n; i++) {
      items.add(Long.toString(LONGS[rnd.nextInt(LONGS.length)]));
    }
    return new String[] {"l1", "l2", "t"}[rnd.nextInt(3)] + " in [" + String.join(", ", items) + "]";
  }

  private static String stringLiteral(String s) {
    return "'" + s + "'"; // the pool holds no quote or backslash
  }
}
