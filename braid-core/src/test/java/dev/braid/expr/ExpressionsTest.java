package dev.braid.expr;

import static dev.braid.expr.ExprFixtures.event;
import static dev.braid.expr.ExprFixtures.fields;
import static dev.braid.expr.ExprFixtures.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Filters, rules and group keys in CEL: which shapes run as direct code, what they answer (the same
 * on the direct path and in the CEL runtime), the null-field semantics of {@link Expressions}, key
 * text for every type, and the errors for bad expressions.
 */
class ExpressionsTest {

  private static final EventSchema SCHEMA = new EventSchema("tx", fields("user", FieldType.STRING,
      "amount", FieldType.DOUBLE, "qty", FieldType.LONG, "vip", FieldType.BOOLEAN, "ts", FieldType.TIMESTAMP,
      "country", FieldType.STRING, "merchant", FieldType.STRING), "user", null);

  private final Expressions ex = new Expressions(SCHEMA);

  private static final Map<String, Object> FULL = event("user", "u1", "amount", 12.5, "qty", 3L, "vip", true,
      "ts", 1_700_000_000_000L, "country", "US", "merchant", "acme");

  // ---------------------------------------------------------------------------------------------
  // Direct compilation
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(strings = {"vip", "true", "amount > 10.0", "10.0 < amount", "qty == 3", "3 != qty", "ts >= 0",
      "country == 'US'", "country <= 'b'", "vip == false", "country in ['US', 'DE']", "qty in [1, 2, 3]",
      "ts in []", "!vip", "amount >= 0.0 && country in ['US', 'DE', 'FR', 'IN']",
      "!(vip || qty < 0) && (country != 'FR' || amount > -1.5)", "amount == -0.0", "qty == qty",
      "ts == qty * 1000 + 5", "-qty < ts - 3", "qty > 0 && ts == qty * qty", "size(country) > 2",
      "country.size() == qty", "country.startsWith('U')", "user.endsWith('_bot')", "!user.contains('test')",
      "country.matches('^(US|CA)$')", "vip && size(user) > 0", "qty / 2 == 1", "ts % 7 < qty",
      "amount * 2.0 > 10.0", "double(qty) / 2.0 == 1.0", "-amount <= double(qty * 3) - 0.5", "qty > 1 ? vip : false"})
  void shouldCompileCommonShapesToDirectCode(String text) {
    assertThat(ex.isDirect(text)).as(text).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"int(amount) > 2", "country + user == 'USu'", "string(amount) == '1.0'",
      "amount in [1.0, 2.0]", "vip in [true]", "vip < true", "(qty > 1) == true", "(qty > 1 ? user : country) == 'u'",
      "country.startsWith(user)", "user.matches(country)", "size(country + user) > 2"})
  void shouldLeaveOtherShapesToTheCelRuntime(String text) {
    assertThat(ex.isDirect(text)).as(text).isFalse();
  }

  /** Integer overflow is an error in CEL: the direct code of an arithmetic condition fails the same way. */
  @Test
  void shouldFailOnIntegerOverflowAsTheCelRuntimeDoes() {
    EventReader big = read(SCHEMA, event("user", "u", "qty", Long.MAX_VALUE, "ts", 2L, "vip", false));
    EventPredicate p = ex.predicate("ts == qty * 2");
    assertThat(ex.isDirect("ts == qty * 2")).isTrue();
    assertThatThrownBy(() -> p.test(big)).isInstanceOf(EvaluationException.class)
        .hasMessageContaining("expression 'ts == qty * 2' failed").hasMessageContaining("overflow");
    assertThat(ex.predicate("vip && ts == qty * 2").test(big)).as("false && error is false, as in CEL").isFalse();
    assertThat(ex.predicate("ts == qty * 2").test(read(SCHEMA, event("user", "u", "ts", 2L))))
        .as("a null field: unknown, not an error").isFalse();
    assertThat(ex.predicate("ts == qty * 2").test(read(SCHEMA, event("user", "u", "qty", 1L, "ts", 2L)))).isTrue();
  }

  /** Division by zero, and the one quotient that overflows, are errors in CEL too; the direct code hands them over. */
  @Test
  void shouldFailOnADivisionTheCelRuntimeRefuses() {
    EventReader zero = read(SCHEMA, event("user", "u", "qty", 0L, "ts", 7L));
    assertThat(ex.isDirect("ts / qty > 1")).isTrue();
    assertThatThrownBy(() -> ex.predicate("ts / qty > 1").test(zero)).isInstanceOf(EvaluationException.class)
        .hasMessageContaining("expression 'ts / qty > 1' failed").hasMessageContaining("/ by zero");
    assertThatThrownBy(() -> ex.predicate("ts % qty > 1").test(zero)).isInstanceOf(EvaluationException.class);
    EventReader min = read(SCHEMA, event("user", "u", "qty", -1L, "ts", Long.MIN_VALUE));
    assertThatThrownBy(() -> ex.predicate("ts / qty < 0").test(min)).isInstanceOf(EvaluationException.class);
    assertThat(ex.predicate("ts % qty == 0").test(min)).as("MIN % -1 is 0 in CEL, not an error").isTrue();
    assertThat(ex.celPredicate("ts % qty == 0").test(min)).isTrue();
    assertThat(ex.predicate("ts / 2 == 3 && ts % 2 == 1").test(read(SCHEMA, event("user", "u", "ts", 7L)))).isTrue();
    assertThat(ex.predicate("ts / 2 == -3 && ts % 2 == -1").test(read(SCHEMA, event("user", "u", "ts", -7L))))
        .as("truncated toward zero, the remainder with the dividend's sign").isTrue();
  }

  /** Double arithmetic is IEEE-754's, as CEL's: a NaN equals nothing, -0.0 equals 0.0, double(int) rounds once. */
  @Test
  void shouldCompareDoubleArithmeticAsTheCelRuntimeDoes() {
    EventReader zero = read(SCHEMA, event("user", "u", "amount", 0.0, "qty", 16_777_217L));
    for (String[] c : new String[][] {{"amount / 0.0 == amount / 0.0", "false"},
        {"amount / 0.0 != amount / 0.0", "true"}, {"amount / 0.0 < 1.0 || amount / 0.0 >= 1.0", "false"},
        {"-amount == amount * 0.0", "true"}, {"1.0 / amount > 1e308", "true"},
        {"double(qty) == 16777217.0", "true"}, {"double(qty) - 16777216.0 == 1.0", "true"}}) {
      assertThat(ex.isDirect(c[0])).as(c[0]).isTrue();
      assertThat(ex.predicate(c[0]).test(zero)).as(c[0]).isEqualTo(Boolean.parseBoolean(c[1]));
      assertThat(ex.celPredicate(c[0]).test(zero)).as("CEL: " + c[0]).isEqualTo(Boolean.parseBoolean(c[1]));
    }
  }

  /** CEL checks types only; a pattern RE2 cannot compile would fail on every event, so it is refused up front. */
  @Test
  void shouldRefuseAPatternRe2CannotCompile() {
    assertThatThrownBy(() -> ex.predicate("user.matches('(a)\\\\1')")).isInstanceOf(ExpressionException.class)
        .hasMessageContaining("'(a)\\1' is not a regular expression RE2 accepts")
        .hasMessageContaining("backreferences");
    assertThatThrownBy(() -> ex.key("user.matches('[') ? user : country")).isInstanceOf(ExpressionException.class)
        .hasMessageContaining("'[' is not a regular expression RE2 accepts");
    assertThat(ex.predicate("user.matches('^u(se)?r?$')").test(read(SCHEMA, event("user", "u")))).isTrue();
  }

  @Test
  void shouldTreatPlainFieldAndConcatenatedKeysAsDirect() {
    assertThat(ex.isDirect("user")).isTrue();
    assertThat(ex.isDirect("qty")).isTrue();
    assertThat(ex.isDirect("merchant + ':' + country")).isTrue();
    assertThat(ex.isDirect("country + '/' + string(ts / 86400000)")).isTrue();
    assertThat(ex.isDirect("qty / 10")).isTrue();
    assertThat(ex.isDirect("merchant + ':' + string(amount)")).isTrue();
    assertThat(ex.isDirect("merchant + ':' + string(vip)")).as("a bool's text stays CEL's").isFalse();
    assertThat(ex.isDirect("vip ? merchant : country + '!'")).isTrue();
    assertThat(ex.isDirect("vip ? merchant : string(amount)")).isTrue();
    assertThat(ex.isDirect("vip ? merchant : string(vip)")).isFalse();
    KeyBuffer b = new KeyBuffer();
    assertThat(ex.key("qty > 5").extract(read(SCHEMA, event("user", "u", "qty", 7L)), b)).isTrue();
    assertThat(b.toString()).as("a boolean key's text").isEqualTo("true");
    assertThat(ex.key("qty > 5").extract(read(SCHEMA, event("user", "u")), b)).as("unknown: no key").isFalse();
    KeyBuffer out = new KeyBuffer();
    KeyExtractor k = ex.key("country + '/' + string(ts / 86400000)");
    assertThat(k.extract(read(SCHEMA, event("user", "u", "country", "DE", "ts", 2L * 86400000 + 5)), out)).isTrue();
    assertThat(out.toString()).isEqualTo("DE/2");
    assertThat(k.extract(read(SCHEMA, event("user", "u", "ts", 5L)), out)).as("a null field: no key").isFalse();
  }

  // ---------------------------------------------------------------------------------------------
  // Answers, on both paths
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiterString = "=>", quoteCharacter = '"', value = {
      "amount > 10.0                  => true",
      "amount > 12.5                  => false",
      "amount >= 12.5                 => true",
      "12.5 >= amount                 => true",
      "12.5 > amount                  => false",
      "qty < 4                        => true",
      "4 < qty                        => false",
      "qty != 3                       => false",
      "ts > 1699999999999             => true",
      "ts in [1700000000000, 1]       => true",
      "country == 'US'                => true",
      "country < 'USA'                => true",
      "country > 'UR'                 => true",
      "'US' >= country                => true",
      "country in ['DE', 'FR']        => false",
      "vip                            => true",
      "!vip                           => false",
      "vip != true                    => false",
      "qty in [1, 2]                  => false",
      "qty in [3]                     => true",
      "false || qty == 3              => true",
      "true && !(amount < 0.0)        => true",
      "size(merchant) == 4            => true",
      "merchant.startsWith('ac') && qty * 2 == 6 => true"})
  void shouldAnswerTheSameOnBothPaths(String text, boolean expected) {
    EventReader e = read(SCHEMA, FULL);
    assertThat(ex.predicate(text).test(e)).as("compiled: %s", text).isEqualTo(expected);
    assertThat(ex.celPredicate(text).test(e)).as("CEL runtime: %s", text).isEqualTo(expected);
  }

  @Test
  void shouldCompareNegativeZeroEqualToZeroAsCelDoes() {
    EventReader e = read(SCHEMA, event("user", "u", "amount", -0.0));
    for (String text : new String[] {"amount == 0.0", "amount >= 0.0", "amount <= -0.0", "!(amount < 0.0)"}) {
      assertThat(ex.celPredicate(text).test(e)).as("CEL: %s", text).isTrue();
      assertThat(ex.predicate(text).test(e)).as("compiled: %s", text).isTrue();
    }
    assertThat(ex.predicate("amount != 0.0").test(e)).isFalse();
  }

  /**
   * Grouping by a double field puts -0.0 with 0.0, equal numbers, as SQL's GROUP BY does (they were
   * two groups, "-0.0" and "0.0"); an expression's {@code string(amount)} keeps CEL's text.
   */
  @Test
  void shouldGroupNegativeZeroWithZero() {
    KeyBuffer key = new KeyBuffer();
    assertThat(ex.key("amount").extract(read(SCHEMA, event("user", "u", "amount", -0.0)), key)).isTrue();
    assertThat(key.toString()).isEqualTo("0.0");
    assertThat(ex.key("string(amount)").extract(read(SCHEMA, event("user", "u", "amount", -0.0)), key)).isTrue();
    assertThat(key.toString()).isEqualTo("-0.0");
  }

  @Test
  void shouldOrderStringsAsCelDoesAcrossPrivateUseAndSupplementaryCharacters() {
    // U+E000 (UTF-8 EE 80 80) sorts before U+1F600 (F0 9F 98 80) by code point, after it by UTF-16 unit
    EventReader e = read(SCHEMA, event("user", "u", "country", "\uE000"));
    for (String text : new String[] {"country < '😀'", "country > '😀'", "country < 'a\uE000'", "country >= 'z'"}) {
      boolean cel = ex.celPredicate(text).test(e);
      assertThat(ex.predicate(text).test(e)).as(text).isEqualTo(cel);
    }
    assertThat(ex.predicate("country > '😀'").test(e)).isTrue();
  }

  // ---------------------------------------------------------------------------------------------
  // Null fields (Expressions' Javadoc)
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiterString = "=>", quoteCharacter = '"', value = {
      "country == 'US'                        => false",
      "country != 'US'                        => false",
      "!(country == 'US')                     => false",
      "country in ['US']                      => false",
      "!(country in ['US'])                   => false",
      "country == 'US' || amount > 0.0        => true",
      "amount > 0.0 || country == 'US'        => true",
      "country == 'US' || amount < 0.0        => false",
      "country == 'US' && amount > 0.0        => false",
      "!(country == 'US' && amount < 0.0)     => true",
      "!(amount < 0.0 && country == 'US')     => true",
      "!(country == 'US' || amount > 0.0)     => false",
      "vip                                    => false",
      "!vip                                   => false",
      "vip == false                           => false",
      "vip || qty == 3                        => true",
      "!(vip && false)                        => true",
      "size(country) == 0 || amount > 0.0     => true",
      "size(country) == 0 && amount > 0.0     => false",
      "!(size(country) == 0)                  => false"})
  void shouldTreatNullFieldsAsUnknownOnBothPaths(String text, boolean expected) {
    EventReader e = read(SCHEMA, event("user", "u", "amount", 1.0, "qty", 3L));
    assertThat(ex.predicate(text).test(e)).as("compiled: %s", text).isEqualTo(expected);
    assertThat(ex.celPredicate(text).test(e)).as("CEL runtime: %s", text).isEqualTo(expected);
  }

  @Test
  void shouldNotReadANullFieldOnABranchNotTaken() {
    EventReader e = read(SCHEMA, event("user", "u", "vip", true));
    assertThat(ex.predicate("vip ? true : country == 'US'").test(e)).isTrue();
    KeyBuffer out = new KeyBuffer();
    assertThat(ex.key("vip ? user : merchant").extract(e, out)).isTrue();
    assertThat(out.toString()).isEqualTo("u");
    assertThat(ex.key("vip ? merchant : user").extract(e, out)).isFalse();
  }

  // ---------------------------------------------------------------------------------------------
  // Range conditions
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "qty < 10000                                    | -9223372036854775808 | 9999",
      "qty >= 10000 && qty < 1000000                  | 10000                | 999999",
      "10000 <= qty && 1000000 > qty                  | 10000                | 999999",
      "qty == 5                                       | 5                    | 5",
      "-5 == qty                                      | -5                   | -5",
      "-1 < qty                                       | 0                    | 9223372036854775807",
      "qty > 5 && qty < 7                             | 6                    | 6",
      "qty > 1 && qty < 10 && qty <= 8                | 2                    | 8",
      "(qty >= 3 && 10 >= qty) && (qty > 4 && qty == 7) | 7                  | 7",
      "ts >= 0 && ts < 86400000                       | 0                    | 86399999",
      "qty >= -9223372036854775808                    | -9223372036854775808 | 9223372036854775807",
      "qty <= 9223372036854775807                     | -9223372036854775808 | 9223372036854775807",
      "qty > 9223372036854775806                      | 9223372036854775807  | 9223372036854775807",
      "qty < -9223372036854775807                     | -9223372036854775808 | -9223372036854775808",
      "-9223372036854775808 < qty                     | -9223372036854775807 | 9223372036854775807"})
  void shouldDescribeBoundsOfOneIntFieldAsAClosedRange(String text, long min, long max) {
    Expressions.LongRange r = ex.range(text);
    assertThat(r).as(text).isNotNull();
    assertThat(r.field().name()).as(text).isEqualTo(text.contains("ts") ? "ts" : "qty");
    assertThat(r.min()).as(text).isEqualTo(min);
    assertThat(r.max()).as(text).isEqualTo(max);
  }

  @ParameterizedTest
  @ValueSource(strings = {"qty > 5 && qty < 3", "qty > 5 && qty < 6", "qty > 9223372036854775807",
      "qty < -9223372036854775808", "9223372036854775807 < qty", "qty == 1 && qty == 2",
      "qty > -1 && -1 >= qty"})
  void shouldDescribeConditionsThatNeverHoldAsTheEmptyRange(String text) {
    Expressions.LongRange r = ex.range(text);
    assertThat(r).as(text).isEqualTo(Expressions.LongRange.empty(SCHEMA.require("qty")));
    assertThat(r.isEmpty()).isTrue();
    assertThat(r.contains(Long.MIN_VALUE) || r.contains(0) || r.contains(Long.MAX_VALUE)).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"qty != 5", "qty > 1 || qty < -1", "qty > 1 && ts < 5", "amount > 1.0",
      "country == 'US'", "!(qty < 5)", "qty in [1, 2]", "qty + 1 > 5", "qty > 1 && vip", "vip", "true",
      "qty == qty", "qty > 1 && qty != 5", "qty > 1 && (qty < 5 || qty > 9)", "qty > 1 && true"})
  void shouldNotDescribeOtherConditionsAsRanges(String text) {
    assertThat(ex.range(text)).as(text).isNull();
  }

  @Test
  void shouldHoldWhereThePredicateHoldsAndNotForANullField() {
    String text = "qty >= 3 && qty < 5";
    Expressions.LongRange r = ex.range(text);
    EventPredicate p = ex.predicate(text);
    for (Long qty : new Long[] {null, 2L, 3L, 4L, 5L}) {
      EventReader e = read(SCHEMA, event("user", "u1", "qty", qty));
      boolean inRange = !e.isNull(r.field().index()) && r.contains(e.getLong(r.field().index()));
      assertThat(inRange).as("qty %s", qty).isEqualTo(p.test(e));
    }
    assertThat(r.contains(3)).isTrue();
    assertThat(r.contains(5)).isFalse();
  }

  @Test
  void shouldRefuseInvalidRangeConditionsAndRangesOfOtherTypes() {
    assertThatThrownBy(() -> ex.range("qty <")).isInstanceOf(ExpressionException.class);
    assertThatThrownBy(() -> new Expressions.LongRange(SCHEMA.require("amount"), 0, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'amount' is DOUBLE");
  }

  // ---------------------------------------------------------------------------------------------
  // Group keys
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldWriteTheKeyTextOfEachFieldType() {
    EventReader e = read(SCHEMA, event("user", "ünï 🙂", "amount", 12.5, "qty", -42L, "vip", false,
        "ts", Long.MIN_VALUE));
    assertThat(key("user", e)).isEqualTo("ünï 🙂");
    assertThat(key("amount", e)).isEqualTo("12.5");
    assertThat(key("qty", e)).isEqualTo("-42");
    assertThat(key("vip", e)).isEqualTo("false");
    assertThat(key("ts", e)).isEqualTo("-9223372036854775808");
    assertThat(key("  user ", e)).as("blanks around a field name").isEqualTo("ünï 🙂");
    assertThat(key("(qty)", e)).as("a parenthesized field is the field").isEqualTo("-42");
  }

  @Test
  void shouldWriteTheSameKeyTextOnBothPaths() {
    EventReader e = read(SCHEMA, FULL);
    for (String field : new String[] {"user", "amount", "qty", "vip", "ts"}) {
      KeyBuffer direct = new KeyBuffer();
      KeyBuffer cel = new KeyBuffer();
      assertThat(ex.key(field).extract(e, direct)).isTrue();
      assertThat(ex.celKey(field).extract(e, cel)).isTrue();
      assertThat(cel.copy()).as(field).isEqualTo(direct.copy());
    }
  }

  @Test
  void shouldWriteAConstantKeyAsTheCelRuntimeDoesWithoutRunningIt() {
    EventReader e = read(SCHEMA, FULL);
    for (String constant : new String[] {"'all'", "7", "2.5", "true", "3u"}) {
      assertThat(ex.isDirect(constant)).as(constant).isTrue();
      KeyBuffer direct = new KeyBuffer();
      KeyBuffer cel = new KeyBuffer();
      assertThat(ex.key(constant).extract(e, direct)).isTrue();
      assertThat(ex.celKey(constant).extract(e, cel)).isTrue();
      assertThat(direct.copy()).as(constant).isEqualTo(cel.copy());
    }
    assertThat(key("'all'", read(SCHEMA, event("user", "u")))).isEqualTo("all");
  }

  @Test
  void shouldComputeKeysFromCelExpressions() {
    EventReader e = read(SCHEMA, FULL);
    assertThat(key("merchant + ':' + country", e)).isEqualTo("acme:US");
    assertThat(key("qty * 10", e)).isEqualTo("30");
    assertThat(key("amount / 2.0", e)).isEqualTo("6.25");
    assertThat(key("amount > 100.0", e)).isEqualTo("false");
    assertThat(key("ts / 3600000", e)).isEqualTo("472222");
    assertThat(key("uint(qty)", e)).isEqualTo("3");
    assertThat(key("country == 'US' ? 'domestic' : 'abroad'", e)).isEqualTo("domestic");
  }

  @Test
  void shouldHaveNoKeyWhenTheKeyReadsANullField() {
    EventReader e = read(SCHEMA, event("user", "u", "merchant", "acme"));
    KeyBuffer out = new KeyBuffer();
    assertThat(ex.key("merchant + ':' + country").extract(e, out)).isFalse();
    assertThat(ex.key("country").extract(e, out)).isFalse();
    assertThat(ex.key("amount").extract(e, out)).isFalse();
    assertThat(ex.key("qty").extract(e, out)).isFalse();
    assertThat(ex.key("vip").extract(e, out)).isFalse();
    assertThat(ex.key("merchant").extract(e, out)).isTrue();
  }

  @ParameterizedTest
  @CsvSource(delimiterString = "=>", quoteCharacter = '"', value = {
      "[user, merchant]        => list(string)",
      "{'a': qty}              => map(string, int)",
      "b'x'                    => bytes",
      "null                    => null"})
  void shouldRefuseAKeyOfATypeWithoutKeyText(String text, String type) {
    assertThatThrownBy(() -> ex.key(text)).isInstanceOf(ExpressionException.class)
        .hasMessage("'" + text + "' cannot be a group key: it is of type " + type
            + ", and a key must be a string, int, uint, double or bool");
  }

  // ---------------------------------------------------------------------------------------------
  // Errors
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldExplainASyntaxError() {
    assertThatThrownBy(() -> ex.predicate("amount >")).isInstanceOf(ExpressionException.class)
        .hasMessageStartingWith("invalid expression 'amount >': column 9: mismatched input '<EOF>'")
        .as("one line: the column, not CEL's excerpt and caret").hasMessageNotContaining("\n")
        .hasMessageNotContaining("| amount");
  }

  @Test
  void shouldExplainAnUnknownField() {
    assertThatThrownBy(() -> ex.predicate("price > 1.0")).isInstanceOf(ExpressionException.class)
        .hasMessageStartingWith("invalid expression 'price > 1.0': column 1: undeclared reference to "
            + "'price'");
    assertThatThrownBy(() -> ex.key("price")).hasMessageContaining("undeclared reference to 'price'");
  }

  @Test
  void shouldExplainATypeError() {
    assertThatThrownBy(() -> ex.predicate("amount > 'big'")).isInstanceOf(ExpressionException.class)
        .hasMessageContaining("found no matching overload for '_>_' applied to '(double, string)'");
    assertThatThrownBy(() -> ex.predicate("country == 5")).hasMessageContaining("found no matching overload");
  }

  /**
   * An int compared with a double compares their values (CEL's heterogeneous numeric comparisons):
   * {@code amount > 100} on a double field is what a new user writes first, and was refused.
   */
  @Test
  void shouldCompareAnIntWithADoubleByValue() {
    EventReader e = read(SCHEMA, event("user", "u", "amount", 100.5, "qty", 3L));
    for (String[] c : new String[][] {{"amount > 100", "true"}, {"amount < 100", "false"}, {"100 <= amount", "true"},
        {"amount >= 101", "false"}, {"qty < 3.5", "true"}, {"qty > 2.99", "true"}, {"qty >= 3.0", "true"},
        {"qty > 3.0", "false"}}) {
      assertThat(ex.predicate(c[0]).test(e)).as(c[0]).isEqualTo(Boolean.parseBoolean(c[1]));
    }
    assertThat(ex.predicate("amount > 100").test(read(SCHEMA, event("user", "u", "qty", 3L))))
        .as("a null field: unknown, so false").isFalse();
    assertThatThrownBy(() -> ex.predicate("amount * 2 > 10.0")).as("arithmetic stays within one type")
        .hasMessageContaining("(double, int)")
        .hasMessageEndingWith("; CEL does not mix int and double in arithmetic, == or !=: write a double literal with a "
            + "point (100.0) or convert with double(...) or int(...)");
    assertThatThrownBy(() -> ex.predicate("qty > 99999999999999999999")).as("an int literal past 64 bits")
        .hasMessageContaining("an integer literal (99999999999999999999) is out of range (a CEL int is 64 bits")
        .hasMessageNotContaining("For input string");
    assertThatThrownBy(() -> ex.predicate("qty > 0xFFFFFFFFFFFFFFFFFF")).as("a hex literal past 64 bits")
        .hasMessageContaining("an integer literal (FFFFFFFFFFFFFFFFFF) is out of range")
        .hasMessageNotContaining("radix");
    assertThatThrownBy(() -> ex.predicate("qty > \"x\"")).as("no double: no hint about doubles")
        .hasMessageContaining("applied to '(int, string)'").hasMessageNotContaining("CEL does not mix");
    assertThatThrownBy(() -> ex.predicate("qty > 0 where qty < 2")).as("the modulo token as written")
        .hasMessageContaining("'/', '%'}").hasMessageNotContaining("%%");
  }

  @Test
  void shouldRefuseAConditionThatIsNotBoolean() {
    assertThatThrownBy(() -> ex.predicate("amount * 2.0")).isInstanceOf(ExpressionException.class)
        .hasMessage("'amount * 2.0' must be a boolean condition, but it is of type double");
    assertThatThrownBy(() -> ex.predicate("user")).hasMessage("'user' must be a boolean condition, but it is of "
        + "type string");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   "})
  void shouldRefuseAnEmptyExpression(String text) {
    assertThatThrownBy(() -> ex.predicate(text)).isInstanceOf(ExpressionException.class)
        .hasMessage("empty expression");
    assertThatThrownBy(() -> ex.key(text)).hasMessage("empty expression");
  }

  /** A cause without a message (the JVM drops it from an exception thrown often) is named by its class. */
  @Test
  void shouldNameACauseThatHasNoMessageByItsClass() {
    assertThat(Expressions.reason(new IllegalStateException("evaluation error at <input>:4: ",
        new ArithmeticException()))).isEqualTo("evaluation error at <input>:4: java.lang.ArithmeticException");
    assertThat(Expressions.reason(new IllegalStateException("evaluation error at <input>:4: / by zero",
        new ArithmeticException("/ by zero")))).isEqualTo("evaluation error at <input>:4: / by zero");
    assertThat(Expressions.reason(new IllegalStateException("no cause"))).isEqualTo("no cause");
  }

  @Test
  void shouldReportAFailedEvaluationWithTheExpression() {
    EventReader e = read(SCHEMA, event("user", "u", "qty", 3L));
    EventPredicate p = ex.predicate("qty / (qty - 3) > 1");
    assertThatThrownBy(() -> p.test(e)).isInstanceOf(EvaluationException.class)
        .hasMessageStartingWith("expression 'qty / (qty - 3) > 1' failed: ")
        .hasMessageContaining("/ by zero");
    KeyExtractor k = ex.key("qty / (qty - 3)");
    assertThatThrownBy(() -> k.extract(e, new KeyBuffer())).isInstanceOf(EvaluationException.class);
    assertThat(ex.predicate("qty / (qty - 3) > 1 || true").test(e)).as("CEL's || absorbs the error").isTrue();
  }

  // ---------------------------------------------------------------------------------------------
  // KeyBuffer
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldWriteLongsAsDecimalText() {
    KeyBuffer b = new KeyBuffer();
    for (long v : new long[] {0, 7, -7, 10, -10, 1234567890123L, Long.MAX_VALUE, Long.MIN_VALUE}) {
      b.setLong(v);
      assertThat(b.toString()).isEqualTo(Long.toString(v));
      assertThat(b.length()).isEqualTo(Long.toString(v).length());
    }
  }

  @Test
  void shouldGrowForLongKeys() {
    KeyBuffer b = new KeyBuffer();
    String big = "k".repeat(1000);
    b.set(big);
    assertThat(b.toString()).isEqualTo(big);
    b.setLong(5);
    assertThat(b.copy()).containsExactly('5');
    b.set(new byte[] {1, 2, 3, 4}, 1, 2);
    assertThat(b.copy()).containsExactly(2, 3);
  }

  private String key(String text, EventReader e) {
    KeyBuffer out = new KeyBuffer();
    assertThat(ex.key(text).extract(e, out)).as("key %s", text).isTrue();
    return out.toString();
  }
}
