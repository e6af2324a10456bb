package dev.braid.agg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.event.FieldType;
import java.io.ByteArrayInputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The registry, the spec parser, and the argument checks of the built-ins, with their messages. */
class AggregationsTest {

  private static final String SHAPE = "expected name(field[, parameter...]) [where CONDITION] but got ";

  // ---------------------------------------------------------------------------------------------
  // Parsing
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldParseEveryForm() {
    assertThat(Aggregations.parse("count")).isEqualTo(new AggregateCall("count", null, List.of()));
    assertThat(Aggregations.parse("  count ")).isEqualTo(new AggregateCall("count", null, List.of()));
    assertThat(Aggregations.parse("count()")).isEqualTo(new AggregateCall("count", null, List.of()));
    assertThat(Aggregations.parse("count( * )")).isEqualTo(new AggregateCall("count", null, List.of()));
    assertThat(Aggregations.parse("sum(amount)")).isEqualTo(new AggregateCall("sum", "amount", List.of()));
    assertThat(Aggregations.parse("quantiles(amount)"))
        .isEqualTo(new AggregateCall("quantiles", "amount", List.of()));
    assertThat(Aggregations.parse("top_k(merchant, 5)"))
        .isEqualTo(new AggregateCall("top_k", "merchant", List.of("5")));
    assertThat(Aggregations.parse(" top_k ( merchant ,5 ) "))
        .isEqualTo(new AggregateCall("top_k", "merchant", List.of("5")));
    assertThat(Aggregations.parse("my_agg(_f1, -1.5, abc,0)"))
        .isEqualTo(new AggregateCall("my_agg", "_f1", List.of("-1.5", "abc", "0")));
  }

  @Test
  void shouldParseAWhereConditionAfterEveryForm() {
    assertThat(Aggregations.parse("count where price < 10000"))
        .isEqualTo(new AggregateCall("count", null, List.of(), "price < 10000"));
    assertThat(Aggregations.parse("count() where  price >= 1 && price < 9 "))
        .isEqualTo(new AggregateCall("count", null, List.of(), "price >= 1 && price < 9"));
    assertThat(Aggregations.parse("sum(price)where channel == 'web'"))
        .isEqualTo(new AggregateCall("sum", "price", List.of(), "channel == 'web'"));
    assertThat(Aggregations.parse("top_k(bidder, 5) where (price > 0)"))
        .isEqualTo(new AggregateCall("top_k", "bidder", List.of("5"), "(price > 0)"));
    // a field or an aggregation may be called 'where'; only the word after the call starts a condition
    assertThat(Aggregations.parse("sum(where)")).isEqualTo(new AggregateCall("sum", "where", List.of()));
    assertThat(Aggregations.parse("wherever")).isEqualTo(new AggregateCall("wherever", null, List.of()));
  }

  @Test
  void shouldPrintCallsAsSpecTextThatParsesBack() {
    for (String text : List.of("count", "sum(amount)", "top_k(merchant, 5)", "x(f, 1, b)",
        "count where price < 10", "max(price) where bidder in [1, 2]")) {
      AggregateCall call = Aggregations.parse(text);
      assertThat(call.toSpec()).isEqualTo(text);
      assertThat(Aggregations.parse(call.toSpec())).isEqualTo(call);
    }
  }

  @ParameterizedTest(name = "[{0}]")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "sum(amount       | missing ')' at the end",
      "top_k(merchant, 5| missing ')' at the end",
      "\"\"             | missing aggregation name at the end",
      "\"   \"          | missing aggregation name at the end",
      "sum amount       | expected '(' after 'sum' at position 5",
      "sum(amount))     | unexpected text after the call (a condition is written 'where CONDITION') at position 12",
      "sum(amount) x    | unexpected text after the call (a condition is written 'where CONDITION') at position 13",
      "count where      | missing condition after 'where' at the end",
      "count() where    | missing condition after 'where' at the end",
      "count wherex > 1 | expected '(' after 'count' at position 7",
      "top_k(merchant,) | empty parameter 1 at position 16",
      "top_k(m, 5,)     | empty parameter 2 at position 12",
      "top_k(merchant,  | missing parameter and ')' at the end",
      "1sum(x)          | an aggregation name must start with a letter or '_' at position 1",
      "sum(1x)          | a field name must start with a letter or '_' at position 5",
      "sum(             | missing ')' at the end",
      "sum(a b)         | expected ',' or ')' at position 7",
      "sum(a.b)         | expected ',' or ')' at position 6",
      "count(*, 5)      | parameters need a field, not '*' at position 7",
      "sum((a))         | a field name must start with a letter or '_' at position 5",
  })
  void shouldRejectMalformedSpecTextSayingWhereAndWhat(String text, String detail) {
    assertThatThrownBy(() -> Aggregations.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(SHAPE + "'" + text + "': " + detail);
  }

  @Test
  void shouldQuoteTheExampleFromTheContract() {
    assertThatThrownBy(() -> Aggregations.parse("sum(amount"))
        .hasMessageStartingWith("expected name(field[, parameter...]) [where CONDITION] but got 'sum(amount'");
  }

  // ---------------------------------------------------------------------------------------------
  // Registry
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRegisterEveryBuiltIn() {
    assertThat(Aggregations.names()).contains("avg", "count", "count_distinct", "first", "last", "max", "min",
        "quantiles", "sum", "top_k");
  }

  @Test
  void shouldListKnownNamesForAnUnknownOne() {
    assertThatThrownBy(() -> Aggregations.factory("median"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("unknown aggregation 'median'; known: avg, count, count_distinct, first, last, "
            + "max, min, quantiles, sum, ")
        .hasMessageEndingWith(", top_k");
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("SUM(x)"), FieldType.LONG))
        .hasMessageStartingWith("unknown aggregation 'SUM'; known: avg, ");
  }

  @Test
  void shouldRefuseToRegisterOverABuiltIn() {
    assertThatThrownBy(() -> Aggregations.register("sum", (type, params) -> new SumOfSquares()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("aggregation 'sum' is already registered as a built-in; choose another name");
  }

  @Test
  void shouldRefuseToRegisterTheSameNameTwice() {
    Aggregations.register("test_twice", (type, params) -> new SumOfSquares());
    assertThatThrownBy(() -> Aggregations.register("test_twice", (type, params) -> new SumOfSquares()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("aggregation 'test_twice' is already registered; choose another name");
  }

  @ParameterizedTest(name = "[{0}]")
  @CsvSource(quoteCharacter = '"', value = {"\"\"", "Sum", "1x", "a-b", "_x", "sum sq", "é",
      "a1234567890123456789012345678901234567890123456789012345678901234"})
  void shouldRefuseBadNames(String name) {
    assertThatThrownBy(() -> Aggregations.register(name, (type, params) -> new SumOfSquares()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("invalid aggregation name '" + name
            + "': use lower-case letters, digits and '_', starting with a letter, at most 64 characters");
  }

  @Test
  void shouldRefuseNulls() {
    assertThatThrownBy(() -> Aggregations.register(null, (t, p) -> null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Aggregations.register("test_null", null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Aggregations.parse(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> Aggregations.factory(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void shouldRunAUserAggregationRegisteredInJava() {
    Aggregations.register("test_sum_sq", (type, params) -> {
      if (type != FieldType.DOUBLE) {
        throw new IllegalArgumentException("test_sum_sq needs a double field");
      }
      return new SumOfSquares();
    });
    Aggregation agg = Aggregations.create(Aggregations.parse("test_sum_sq(x)"), FieldType.DOUBLE);
    AccumulatorState s = AccumulatorState.standalone(agg);
    AggInput in = new AggInput();
    for (double x : new double[] {1, 2, 3}) {
      agg.add(s, in.setDouble(x));
    }
    assertThat(agg.result(s)).isEqualTo(14.0);
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_sum_sq(x)"), FieldType.STRING))
        .hasMessage("test_sum_sq needs a double field");
  }

  @Test
  void shouldReportAUserFactoryThatFailsOrReturnsNull() {
    Aggregations.register("test_broken", (type, params) -> {
      throw new IllegalStateException("boom");
    });
    Aggregations.register("test_null_factory", (type, params) -> null);
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_broken(x, 1)"), FieldType.LONG))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("aggregation factory 'test_broken' failed for test_broken(x, 1): java.lang.IllegalStateException: boom")
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_null_factory"), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("aggregation factory 'test_null_factory' returned null for test_null_factory");
  }

  /** {@link SumOfSquares} whose codec writes {@code wrote} bytes and reads {@code reads}. */
  static Aggregation mismatched(int wrote, int reads) {
    return new SumOfSquares() {
      @Override
      public void write(AccumulatorState s, DataOutput out) throws IOException {
        out.write(new byte[wrote]);
      }

      @Override
      public void read(AccumulatorState s, DataInput in) throws IOException {
        in.readFully(new byte[reads]);
      }
    };
  }

  @Test
  void shouldRefuseAUserAggregationWhoseCodecDoesNotReadWhatItWrites() {
    Aggregations.register("test_reads_more", (type, params) -> mismatched(4, 8));
    Aggregations.register("test_reads_less", (type, params) -> mismatched(16, 8));
    Aggregations.register("test_read_fails", (type, params) -> new SumOfSquares() {
      @Override
      public void read(AccumulatorState s, DataInput in) throws IOException {
        throw new IOException("broken read");
      }
    });
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_reads_more(x)"), FieldType.DOUBLE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("aggregation 'test_reads_more' (test_reads_more(x)): its codec reads more bytes than it writes "
            + "for a zero accumulator");
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_reads_less(x)"), FieldType.DOUBLE))
        .hasMessage("aggregation 'test_reads_less' (test_reads_less(x)): its codec reads 8 of the 16 bytes it writes "
            + "for a zero accumulator");
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse("test_read_fails(x)"), FieldType.DOUBLE))
        .hasMessage("aggregation 'test_read_fails' (test_read_fails(x)): its codec fails on a zero accumulator: "
            + "java.io.IOException: broken read");
    assertThat(Aggregations.create(Aggregations.parse("sum(x)"), FieldType.DOUBLE)).isNotNull();
  }

  // ---------------------------------------------------------------------------------------------
  // Argument types and parameters of the built-ins
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "{0} over {1}")
  @CsvSource(delimiter = '|', value = {
      "sum(f)            | STRING    | sum needs a long or double field, got string",
      "sum(f)            | TIMESTAMP | sum needs a long or double field, got timestamp",
      "sum(f)            | BOOLEAN   | sum needs a long or double field, got boolean",
      "sum               |           | sum needs a long or double field, got none (write sum(field))",
      "avg(f)            | TIMESTAMP | avg needs a long or double field, got timestamp",
      "avg(f)            | STRING    | avg needs a long or double field, got string",
      "min(f)            | STRING    | min needs a long, double or timestamp field, got string",
      "max(f)            | BOOLEAN   | max needs a long, double or timestamp field, got boolean",
      "max               |           | max needs a long, double or timestamp field, got none (write max(field))",
      "quantiles(f)      | STRING    | quantiles needs a long, double or timestamp field, got string",
      "first             |           | first needs a field of any type, got none (write first(field))",
      "last              |           | last needs a field of any type, got none (write last(field))",
      "count_distinct    |           | count_distinct needs a field of any type, got none (write count_distinct(field))",
      "top_k             |           | top_k needs a field of any type, got none (write top_k(field))",
  })
  void shouldRefuseArgumentTypesSayingWhatIsAccepted(String spec, FieldType type, String message) {
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse(spec), type))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "count(f, 5)             | count takes no parameters, got 1: ['5']",
      "sum(f, 1, 2)            | sum takes no parameters, got 2: ['1', '2']",
      "top_k(f, 0)             | top_k parameter k must be an integer from 1 to 1000, got '0'",
      "top_k(f, 1001)          | top_k parameter k must be an integer from 1 to 1000, got '1001'",
      "top_k(f, ten)           | top_k parameter k must be an integer from 1 to 1000, got 'ten'",
      "top_k(f, 2.5)           | top_k parameter k must be an integer from 1 to 1000, got '2.5'",
      "top_k(f, 5, 6)          | top_k takes at most one parameter (k), got 2: ['5', '6']",
      "count_distinct(f, 3)    | count_distinct parameter lgK must be an integer from 4 to 21, got '3'",
      "count_distinct(f, 22)   | count_distinct parameter lgK must be an integer from 4 to 21, got '22'",
      "quantiles(f, 7)         | quantiles parameter k must be an integer from 8 to 65535, got '7'",
      "quantiles(f, 99999999999) | quantiles parameter k must be an integer from 8 to 65535, got '99999999999'",
  })
  void shouldRefuseParametersSayingWhatIsAccepted(String spec, String message) {
    assertThatThrownBy(() -> Aggregations.create(Aggregations.parse(spec), FieldType.LONG))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message);
  }

  @Test
  void shouldAcceptEveryDocumentedTypeAndParameter() {
    for (FieldType t : FieldType.values()) {
      for (String spec : List.of("count(f)", "first(f)", "last(f)", "count_distinct(f)", "count_distinct(f, 21)",
          "top_k(f)", "top_k(f, 1000)")) {
        assertThat(Aggregations.create(Aggregations.parse(spec), t)).as("%s over %s", spec, t).isNotNull();
      }
    }
    for (FieldType t : List.of(FieldType.LONG, FieldType.DOUBLE, FieldType.TIMESTAMP)) {
      for (String spec : List.of("min(f)", "max(f)", "quantiles(f)", "quantiles(f, 8)")) {
        assertThat(Aggregations.create(Aggregations.parse(spec), t)).as("%s over %s", spec, t).isNotNull();
      }
    }
    assertThat(Aggregations.create(Aggregations.parse("count"), null)).isNotNull();
  }

  @Test
  void shouldDeclareStateThatMatchesTheDocumentedLayout() {
    assertThat(slots("count", null)).containsExactly(1, 0);
    assertThat(slots("sum(f)", FieldType.LONG)).containsExactly(1, 0);
    assertThat(slots("sum(f)", FieldType.DOUBLE)).containsExactly(2, 0);
    assertThat(slots("min(f)", FieldType.TIMESTAMP)).containsExactly(2, 0);
    assertThat(slots("avg(f)", FieldType.LONG)).containsExactly(3, 0);
    assertThat(slots("avg(f)", FieldType.DOUBLE)).containsExactly(3, 0);
    assertThat(slots("first(f)", FieldType.DOUBLE)).containsExactly(4, 0);
    assertThat(slots("last(f)", FieldType.STRING)).containsExactly(4, 1);
    assertThat(slots("count_distinct(f)", FieldType.STRING)).containsExactly(1, 1);
    assertThat(slots("top_k(f)", FieldType.STRING)).containsExactly(0, 1);
    assertThat(slots("quantiles(f)", FieldType.DOUBLE)).containsExactly(0, 1);
  }

  private static int[] slots(String spec, FieldType type) {
    Aggregation agg = Aggregations.create(Aggregations.parse(spec), type);
    return new int[] {agg.longSlots(), agg.objectSlots()};
  }

  // ---------------------------------------------------------------------------------------------
  // Codec versioning
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRefuseAnAccumulatorOfAnUnknownFormatVersion() {
    Aggregation sum = Aggregations.create(Aggregations.parse("sum(f)"), FieldType.LONG);
    AccumulatorState s = AccumulatorState.standalone(sum);
    assertThatThrownBy(() -> sum.read(s, new DataInputStream(new ByteArrayInputStream(new byte[] {0x20, 0}))))
        .isInstanceOf(IOException.class)
        .hasMessage("sum accumulator has format version 2; this build reads version 1");
    Aggregation max = Aggregations.create(Aggregations.parse("max(f)"), FieldType.LONG);
    assertThatThrownBy(() -> max.read(s, new DataInputStream(new ByteArrayInputStream(new byte[] {0x17}))))
        .isInstanceOf(IOException.class)
        .hasMessage("max accumulator has unknown kind 7 (corrupt?)");
  }

  @Test
  void shouldWriteSmallAccumulatorsCompactly() {
    Aggregation count = Aggregations.create(Aggregations.parse("count"), null);
    AccumulatorState s = AccumulatorState.standalone(count);
    assertThat(AggFixtures.write(count, s)).containsExactly(0x10, 0);
    s.setLong(0, 300);
    assertThat(AggFixtures.write(count, s)).containsExactly(0x10, 0xAC - 256, 0x02);
    Aggregation min = Aggregations.create(Aggregations.parse("min(f)"), FieldType.LONG);
    assertThat(AggFixtures.write(min, AccumulatorState.standalone(min))).containsExactly(0x10);
  }

  /** The user aggregation from {@link Aggregation}'s Javadoc. */
  static class SumOfSquares implements Aggregation {
    @Override
    public int longSlots() {
      return 1;
    }

    @Override
    public void zero(AccumulatorState s) {
      s.setDouble(0, 0);
    }

    @Override
    public void add(AccumulatorState s, AggInput in) {
      if (!in.isNull()) {
        s.setDouble(0, s.getDouble(0) + in.doubleValue() * in.doubleValue());
      }
    }

    @Override
    public void merge(AccumulatorState into, AccumulatorState from) {
      into.setDouble(0, into.getDouble(0) + from.getDouble(0));
    }

    @Override
    public Object result(AccumulatorState s) {
      return s.getDouble(0);
    }

    @Override
    public void write(AccumulatorState s, DataOutput out) throws IOException {
      out.writeDouble(s.getDouble(0));
    }

    @Override
    public void read(AccumulatorState s, DataInput in) throws IOException {
      s.setDouble(0, in.readDouble());
    }
  }
}
