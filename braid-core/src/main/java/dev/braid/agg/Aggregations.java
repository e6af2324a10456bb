package dev.braid.agg;

import dev.braid.event.FieldType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The registry of aggregations by name, and the parser of aggregation spec text.
 *
 * <p>Built-ins, registered when this class loads:
 * <table>
 *   <caption>Built-in aggregations</caption>
 *   <tr><th>spec</th><th>argument</th><th>result</th></tr>
 *   <tr><td>{@code count}, {@code count(f)}</td><td>none (counts events) or any field (counts
 *       non-null values)</td><td>{@code Long}</td></tr>
 *   <tr><td>{@code sum(f)}</td><td>long or double</td><td>{@code Long} or {@code Double}; 0 when no
 *       values</td></tr>
 *   <tr><td>{@code min(f)}, {@code max(f)}</td><td>long, double or timestamp</td><td>{@code Long}
 *       or {@code Double}; null when no values</td></tr>
 *   <tr><td>{@code avg(f)}</td><td>long or double</td><td>{@code Double}; null when no values</td></tr>
 *   <tr><td>{@code first(f)}, {@code last(f)}</td><td>any</td><td>the value of the earliest / latest
 *       event by {@code (event time, partition, offset)}; null when no values</td></tr>
 *   <tr><td>{@code count_distinct(f[, lgK])}</td><td>any</td><td>{@code Long}: exact up to 64
 *       distinct values, then an HLL estimate with relative standard error 1.04 / sqrt(2^lgK),
 *       about 1.6% at the default lgK = 12</td></tr>
 *   <tr><td>{@code top_k(f[, k])}</td><td>any (counted by string form)</td><td>{@code List} of at most
 *       k {@code {item, estimate}} maps, most frequent first, each item a value of the field's type (a
 *       timestamp's as ISO-8601 text); exact up to 0.75·maxMapSize >= 24·k distinct
 *       values (384 at the default k = 10), then each estimate over by at most 3.5·N / maxMapSize
 *       (0.68% of N at k = 10)</td></tr>
 *   <tr><td>{@code quantiles(f[, k])}</td><td>long, double or timestamp</td><td>{@code Map}
 *       {@code {p50, p90, p99, min, max, n}} from a KLL sketch: exact up to k values, then rank
 *       error within 1.33% (99% confidence) at the default k = 200</td></tr>
 * </table>
 *
 * <p>Every built-in skips null values, except {@code count} without a field, which counts events.
 *
 * <p>The sketch aggregations ({@code count_distinct}, {@code top_k}, {@code quantiles}) need the
 * JVM option {@code --add-modules=jdk.incubator.foreign} on Java 17 to serialize their sketches;
 * without it, creating one fails at once with a message saying so.
 *
 * <p>Threading: the registry is safe to use from any thread; {@link #register} is meant for start-up.
 *
 * <pre>{@code
 * Aggregations.register("sum_sq", (argType, params) -> new SumOfSquares());
 * AggregateCall call = Aggregations.parse("top_k(merchant, 5)");   // top_k, merchant, ["5"]
 * Aggregation topMerchants = Aggregations.create(call, FieldType.STRING);
 * }</pre>
 */
public final class Aggregations {

  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,63}");
  private static final String SHAPE = "name(field[, parameter...]) [where CONDITION]";
  private static final String WHERE = "where";

  private static final Map<String, AggregationFactory> FACTORIES = new ConcurrentHashMap<>();
  private static final Set<String> BUILT_IN;

  static {
    FACTORIES.put("count", CountAggregation::create);
    FACTORIES.put("sum", Aggregations::sum);
    FACTORIES.put("min", (type, params) -> MinMaxAggregation.create("min", false, type, params));
    FACTORIES.put("max", (type, params) -> MinMaxAggregation.create("max", true, type, params));
    FACTORIES.put("avg", Aggregations::avg);
    FACTORIES.put("first", (type, params) -> FirstLastAggregation.create("first", false, type, params));
    FACTORIES.put("last", (type, params) -> FirstLastAggregation.create("last", true, type, params));
    FACTORIES.put("count_distinct", CountDistinctAggregation::create);
    FACTORIES.put("top_k", TopKAggregation::create);
    FACTORIES.put("quantiles", QuantilesAggregation::create);
    BUILT_IN = Set.copyOf(FACTORIES.keySet());
  }

  private Aggregations() {}

  /**
   * Registers a user aggregation under {@code name}, for specs to use as {@code name(field, ...)}.
   *
   * @throws IllegalArgumentException if the name is not lower-case letters, digits and {@code _}
   *     starting with a letter (at most 64 characters), or is already registered
   */
  public static void register(String name, AggregationFactory factory) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(factory, "factory");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid aggregation name '" + name
          + "': use lower-case letters, digits and '_', starting with a letter, at most 64 characters");
    }
    if (FACTORIES.putIfAbsent(name, factory) != null) {
      throw new IllegalArgumentException("aggregation '" + name + "' is already registered"
          + (BUILT_IN.contains(name) ? " as a built-in" : "") + "; choose another name");
    }
  }

  /**
   * The factory registered under {@code name}.
   *
   * @throws IllegalArgumentException naming the known aggregations, if none is registered under it
   */
  public static AggregationFactory factory(String name) {
    Objects.requireNonNull(name, "name");
    AggregationFactory factory = FACTORIES.get(name);
    if (factory == null) {
      throw new IllegalArgumentException(
          "unknown aggregation '" + name + "'; known: " + String.join(", ", names()));
    }
    return factory;
  }

  /** Whether {@code name} is one of Braid's own aggregations (their {@code add} never throws). */
  public static boolean isBuiltIn(String name) {
    return BUILT_IN.contains(name);
  }

  /** The registered names, sorted. */
  public static Set<String> names() {
    return new TreeSet<>(FACTORIES.keySet());
  }

  /**
   * Creates the aggregation a call names, bound to its argument's type.
   *
   * @param argumentType the type of {@code call.field()}, or null when it has none
   * @throws IllegalArgumentException if the name is unknown or the factory refuses the argument
   *     type or parameters (the message is the factory's), or if a user factory fails otherwise
   */
  public static Aggregation create(AggregateCall call, FieldType argumentType) {
    AggregationFactory factory = factory(call.function());
    Aggregation aggregation;
    try {
      aggregation = factory.create(argumentType, call.parameters());
    } catch (IllegalArgumentException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("aggregation factory '" + call.function() + "' failed for "
          + call.toSpec() + ": " + e, e);
    }
    if (aggregation == null) {
      throw new IllegalArgumentException(
          "aggregation factory '" + call.function() + "' returned null for " + call.toSpec());
    }
    if (aggregation.longSlots() < 0 || aggregation.objectSlots() < 0) {
      throw new IllegalArgumentException(String.format("aggregation '%s' declares negative slots (%d long, %d object)",
          call.function(), aggregation.longSlots(), aggregation.objectSlots()));
    }
    if (!BUILT_IN.contains(call.function())) {
      checkCodec(call, aggregation);
    }
    return aggregation;
  }

  /**
   * Checks a user aggregation's codec on its zero accumulator: {@code read} must take exactly the
   * bytes {@code write} wrote. Accumulators sit one
   * after another in a Base row, so a codec that reads more or less than it writes would make every
   * later read of the view fail, blaming the aggregation after it; this names it before a view
   * with it starts.
   */
  private static void checkCodec(AggregateCall call, Aggregation aggregation) {
    String what = "aggregation '" + call.function() + "' (" + call.toSpec() + "): its codec";
    try {
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      aggregation.write(AccumulatorState.standalone(aggregation), new java.io.DataOutputStream(bytes));
      byte[] written = bytes.toByteArray();
      java.io.ByteArrayInputStream from = new java.io.ByteArrayInputStream(written);
      AccumulatorState back = AccumulatorState.standalone(aggregation);
      aggregation.read(back, new java.io.DataInputStream(from));
      if (from.available() > 0) {
        throw new IllegalArgumentException(String.format("%s reads %d of the %d bytes it writes for a zero accumulator",
            what, written.length - from.available(), written.length));
      }
    } catch (java.io.EOFException e) {
      throw new IllegalArgumentException(what + " reads more bytes than it writes for a zero accumulator", e);
    } catch (java.io.IOException | RuntimeException e) {
      if (e instanceof IllegalArgumentException iae && iae.getMessage().startsWith(what)) {
        throw iae;
      }
      throw new IllegalArgumentException(what + " fails on a zero accumulator: " + e, e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Parsing
  // ---------------------------------------------------------------------------------------------

  /**
   * Parses aggregation spec text: {@code name}, {@code name()}, {@code name(*)} (no field),
   * {@code name(field)} or {@code name(field, parameter, ...)}. Blanks around tokens are ignored. A
   * name or field is a letter or {@code _} followed by letters, digits and {@code _}; a parameter
   * is any text without {@code ,()} and blanks, e.g. {@code 5}, {@code 0.5}, {@code -3}.
   * Any of these may be followed by {@code where CONDITION}: the rest of the text, a CEL condition
   * over the stream's fields (see {@link AggregateCall}); it is not compiled here.
   * The name is not resolved here (see {@link #factory}).
   *
   * @throws IllegalArgumentException saying what was expected and where, e.g.
   *     {@code expected name(field[, parameter...]) but got 'sum(amount': missing ')' at position 11}
   */
  public static AggregateCall parse(String expr) {
    Objects.requireNonNull(expr, "expr");
    return new Parser(expr).call();
  }

  private static final class Parser {
    private final String text;
    private int pos;

    Parser(String text) {
      this.text = text;
    }

    AggregateCall call() {
      blanks();
      String function = identifier();
      if (function == null) {
        throw error(atEnd() ? "missing aggregation name" : "an aggregation name must start with a letter or '_'");
      }
      blanks();
      if (atEnd()) {
        return new AggregateCall(function, null, List.of());
      }
      if (atWhere()) {
        return end(function, null, List.of());
      }
      expect('(', "'(' after '" + function + "'");
      blanks();
      if (atEnd()) {
        throw error("missing ')'");
      }
      if (peek() == ')') {
        pos++;
        return end(function, null, List.of());
      }
      String field;
      if (peek() == '*') {
        pos++;
        field = null;
      } else {
        field = identifier();
        if (field == null) {
          throw error(atEnd() ? "missing ')'" : "a field name must start with a letter or '_'");
        }
      }
      List<String> parameters = new ArrayList<>();
      while (true) {
        blanks();
        if (atEnd()) {
          throw error("missing ')'");
        }
        char c = peek();
        if (c == ')') {
          pos++;
          break;
        }
        if (c != ',') {
          throw error("expected ',' or ')'");
        }
        pos++;
        blanks();
        int start = pos;
        while (!atEnd() && isParameterChar(peek())) {
          pos++;
        }
        if (pos == start) {
          throw error(atEnd() ? "missing parameter and ')'" : "empty parameter " + (parameters.size() + 1));
        }
        parameters.add(text.substring(start, pos));
      }
      if (field == null && !parameters.isEmpty()) {
        pos = text.indexOf('*');
        throw error("parameters need a field, not '*'");
      }
      return end(function, field, parameters);
    }

    /** The end of a call: nothing, or {@code where CONDITION}. */
    private AggregateCall end(String function, String field, List<String> parameters) {
      blanks();
      if (atEnd()) {
        return new AggregateCall(function, field, parameters, null);
      }
      if (!atWhere()) {
        throw error("unexpected text after the call (a condition is written 'where CONDITION')");
      }
      pos += WHERE.length();
      String condition = text.substring(pos).strip();
      if (condition.isEmpty()) {
        throw error("missing condition after 'where'");
      }
      return new AggregateCall(function, field, parameters, condition);
    }

    /** Whether the text goes on with the word {@code where} and a blank. */
    private boolean atWhere() {
      return text.startsWith(WHERE, pos) && (pos + WHERE.length() == text.length()
          || Character.isWhitespace(text.charAt(pos + WHERE.length())));
    }

    private String identifier() {
      int start = pos;
      if (!atEnd() && (isAsciiLetter(peek()) || peek() == '_')) {
        pos++;
        while (!atEnd() && (isAsciiLetterOrDigit(peek()) || peek() == '_')) {
          pos++;
        }
        return text.substring(start, pos);
      }
      return null;
    }

    private void expect(char c, String what) {
      if (atEnd() || peek() != c) {
        throw error("expected " + what);
      }
      pos++;
    }

    private void blanks() {
      while (!atEnd() && Character.isWhitespace(peek())) {
        pos++;
      }
    }

    private boolean atEnd() {
      return pos >= text.length();
    }

    private char peek() {
      return text.charAt(pos);
    }

    private IllegalArgumentException error(String detail) {
      String where = atEnd() ? "at the end" : "at position " + (pos + 1);
      return new IllegalArgumentException(
          "expected " + SHAPE + " but got '" + text + "': " + detail + " " + where);
    }

    private static boolean isAsciiLetter(char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static boolean isAsciiLetterOrDigit(char c) {
      return isAsciiLetter(c) || (c >= '0' && c <= '9');
    }

    private static boolean isParameterChar(char c) {
      return c != ',' && c != '(' && c != ')' && !Character.isWhitespace(c);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Built-ins that pick an implementation by argument type
  // ---------------------------------------------------------------------------------------------

  private static final Set<FieldType> SUMMABLE = Set.of(FieldType.LONG, FieldType.DOUBLE);

  private static Aggregation sum(FieldType type, List<String> parameters) {
    Arguments.requireField("sum", type, SUMMABLE);
    Arguments.requireNoParameters("sum", parameters);
    return type == FieldType.LONG ? new LongSumAggregation() : new DoubleSumAggregation();
  }

  private static Aggregation avg(FieldType type, List<String> parameters) {
    Arguments.requireField("avg", type, SUMMABLE);
    Arguments.requireNoParameters("avg", parameters);
    return type == FieldType.LONG ? new LongAvgAggregation() : new DoubleAvgAggregation();
  }
}
