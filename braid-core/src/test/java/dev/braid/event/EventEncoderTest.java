package dev.braid.event;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Encoding events from JSON and Java maps into the binary layout of {@link EventDescriptor}, reading
 * them back with {@link EventReader}, and the precise reason given for every event refused.
 */
class EventEncoderTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long INGEST_TIME = 1_700_000_000_000L;

  /** One field of each type; key {@code id}, event time {@code ts}. */
  private static final EventSchema SCHEMA = new EventSchema("payments", fields("id", FieldType.STRING,
      "n", FieldType.LONG, "x", FieldType.DOUBLE, "ok", FieldType.BOOLEAN, "ts", FieldType.TIMESTAMP,
      "note", FieldType.STRING), "id", "ts");

  private final EventEncoder encoder = new EventEncoder(SCHEMA);
  private final EventEncoder.Encoded out = new EventEncoder.Encoded();

  // ---------------------------------------------------------------------------------------------
  // Round trips
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRoundTripEveryTypeFromJson() {
    Map<String, Object> read = encodeJson("""
        {"id": "u-1", "n": -9223372036854775808, "x": -0.0, "ok": true, "ts": 1700000000123,
         "note": "héllo 🙂 世界"}""");

    assertThat(read).containsExactly(Map.entry("id", "u-1"), Map.entry("n", Long.MIN_VALUE), Map.entry("x", -0.0),
        Map.entry("ok", true), Map.entry("ts", 1_700_000_000_123L), Map.entry("note", "héllo 🙂 世界"));
    assertThat(out.key()).isEqualTo("u-1".getBytes(StandardCharsets.UTF_8));
    assertThat(out.eventTime()).isEqualTo(1_700_000_000_123L);
  }

  @Test
  void shouldRoundTripEveryTypeFromAMap() {
    Map<String, Object> event = new HashMap<>();
    event.put("id", "");
    event.put("n", Long.MAX_VALUE);
    event.put("x", Double.MIN_VALUE);
    event.put("ok", false);
    event.put("ts", Instant.ofEpochMilli(-1));
    event.put("note", "a\u0000b");

    Map<String, Object> read = encodeMap(event);

    assertThat(read).containsExactly(Map.entry("id", ""), Map.entry("n", Long.MAX_VALUE),
        Map.entry("x", Double.MIN_VALUE), Map.entry("ok", false), Map.entry("ts", -1L), Map.entry("note", "a\u0000b"));
    assertThat(out.eventTime()).isEqualTo(-1L);
  }

  @Test
  void shouldWidenJavaNumbersToTheFieldType() {
    Map<String, Object> read = encodeMap(Map.of("id", "k", "n", (short) 7, "x", 1.5f, "ts", 42));
    assertThat(read).containsEntry("n", 7L).containsEntry("x", 1.5).containsEntry("ts", 42L);

    read = encodeMap(Map.of("id", "k", "n", (byte) -3, "x", 12L, "ts", new BigDecimal("5.000")));
    assertThat(read).containsEntry("n", -3L).containsEntry("x", 12.0).containsEntry("ts", 5L);

    read = encodeMap(Map.of("id", "k", "n", 4.0, "x", new BigInteger("123456789012345678901234567890"), "ts", 0L));
    assertThat(read).as("a whole double is a long; a big integer is a double")
        .containsEntry("n", 4L).containsEntry("x", 1.2345678901234568E29);
  }

  @Test
  void shouldAcceptWholeJsonNumbersWrittenWithAFractionForLongs() {
    assertThat(encodeJson("{\"id\": \"k\", \"n\": 3.0, \"ts\": 1e3}")).containsEntry("n", 3L).containsEntry("ts", 1000L);
  }

  @Test
  void shouldEncodeNullAndMissingOptionalFieldsAsNull() {
    Map<String, Object> read = encodeJson("{\"id\": \"k\", \"ts\": 5, \"n\": null, \"note\": null}");
    assertThat(read).containsEntry("n", null).containsEntry("x", null).containsEntry("ok", null)
        .containsEntry("note", null).containsEntry("id", "k").containsEntry("ts", 5L);

    Map<String, Object> event = new HashMap<>();
    event.put("id", "k");
    event.put("ts", 5L);
    event.put("x", null);
    assertThat(encodeMap(event)).containsEntry("x", null).containsEntry("note", null);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "2026-11-22T10:15:30Z         | 2026-11-22T10:15:30Z",
      "2026-11-22T10:15:30.123Z     | 2026-11-22T10:15:30.123Z",
      "2026-11-22T11:15:30+01:00    | 2026-11-22T10:15:30Z",
      "2026-11-22T05:15:30.5-05:00  | 2026-11-22T10:15:30.500Z",
      "2026-11-22T10:15:30.000999Z  | 2026-11-22T10:15:30Z",
      "1969-12-31T23:59:59.999Z     | 1969-12-31T23:59:59.999Z",
      "2026-11-22T15:45:30+05:30    | 2026-11-22T10:15:30Z"})
  void shouldReadIsoTimestampsWithOffsets(String text, String utc) {
    long expected = Instant.parse(utc).toEpochMilli();
    assertThat(encodeJson("{\"id\": \"k\", \"ts\": \"" + text + "\"}")).containsEntry("ts", expected);
    assertThat(out.eventTime()).isEqualTo(expected);
    assertThat(encodeMap(Map.of("id", "k", "ts", text))).containsEntry("ts", expected);
  }

  @Test
  void shouldReadEpochMillisTimestamps() {
    assertThat(encodeJson("{\"id\": \"k\", \"ts\": 1795342530000}")).containsEntry("ts", 1_795_342_530_000L);
    assertThat(encodeJson("{\"id\": \"k\", \"ts\": -86400000}")).containsEntry("ts", -86_400_000L);
  }

  @Test
  void shouldReadEpochSecondsWhenTheStreamSaysTimeUnitS() throws Exception {
    EventSchema schema = new EventSchema("s", fields("k", FieldType.STRING, "ts", FieldType.TIMESTAMP), "k", "ts",
        1000);
    EventEncoder enc = new EventEncoder(schema);
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": 1795342530}"), INGEST_TIME, out)).isNull();
    assertThat(out.eventTime()).isEqualTo(1_795_342_530_000L);
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": \"2026-11-22T10:15:30+01:00\"}"), INGEST_TIME,
        out)).as("ISO-8601 text is read as itself").isNull();
    assertThat(out.eventTime()).isEqualTo(java.time.Instant.parse("2026-11-22T09:15:30Z").toEpochMilli());
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": 9223372036854776}"), INGEST_TIME, out))
        .isEqualTo("field 'ts': timestamp 9223372036854776 is out of range: epoch seconds times 1000 must fit in a long");
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": \"yesterday\"}"), INGEST_TIME, out))
        .isEqualTo("field 'ts': 'yesterday' is not a timestamp: use epoch seconds or ISO-8601 like 2026-11-22T10:15:30Z");
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": \"10000-01-01T00:00:00Z\"}"), INGEST_TIME, out))
        .isEqualTo("field 'ts': '10000-01-01T00:00:00Z' is a time after the year 9999: an event time must lie in the "
            + "years 0000-9999");
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\", \"ts\": true}"), INGEST_TIME, out))
        .isEqualTo("field 'ts': expected timestamp (epoch seconds or ISO-8601 text), got boolean true");
    assertThat(enc.encode(JSON.readTree("{\"k\": \"a\"}"), INGEST_TIME, out)).isEqualTo("missing time field 'ts'");
  }

  @Test
  void shouldStampIngestTimeWhenTheStreamHasNoTimeField() throws Exception {
    EventSchema schema = new EventSchema("s", fields("k", FieldType.LONG, "when", FieldType.TIMESTAMP), "k", null);
    EventEncoder enc = new EventEncoder(schema);
    assertThat(enc.encode(JSON.readTree("{\"k\": -42}"), INGEST_TIME, out)).isNull();
    assertThat(out.eventTime()).isEqualTo(INGEST_TIME);
    assertThat(new String(out.key(), StandardCharsets.UTF_8)).as("a number key is its decimal text").isEqualTo("-42");
  }

  @Test
  void shouldKeyRecordsByTheDecimalTextOfNonStringKeys() {
    EventSchema schema = new EventSchema("s", fields("d", FieldType.DOUBLE, "b", FieldType.BOOLEAN), "d", null);
    EventEncoder enc = new EventEncoder(schema);
    assertThat(enc.encode(Map.of("d", 2.5, "b", true), 0, out)).isNull();
    assertThat(new String(out.key(), StandardCharsets.UTF_8)).isEqualTo("2.5");
    // -0.0 equals 0.0: one key, in one partition (it was "-0.0", a key of its own); the value keeps its sign
    assertThat(enc.encode(Map.of("d", -0.0, "b", true), 0, out)).isNull();
    assertThat(new String(out.key(), StandardCharsets.UTF_8)).isEqualTo("0.0");
    EventReader r = new EventReader(schema);
    r.wrap(java.nio.ByteBuffer.wrap(out.value(), 0, out.valueLength()), 0, out.valueLength());
    assertThat(Double.doubleToRawLongBits(r.getDouble(0))).isEqualTo(Double.doubleToRawLongBits(-0.0));
    EventSchema bySwitch = new EventSchema("s", fields("d", FieldType.DOUBLE, "b", FieldType.BOOLEAN), "b", null);
    assertThat(new EventEncoder(bySwitch).encode(Map.of("b", false), 0, out)).isNull();
    assertThat(new String(out.key(), StandardCharsets.UTF_8)).isEqualTo("false");
  }

  @Test
  void shouldReuseItsBuffersWithoutLeakingTheLastEvent() {
    String longNote = "x".repeat(10_000);
    encodeJson("{\"id\": \"first\", \"ts\": 1, \"note\": \"" + longNote + "\", \"n\": 5}");
    int bigLength = out.valueLength();
    Map<String, Object> read = encodeJson("{\"id\": \"second\", \"ts\": 2}");
    assertThat(out.valueLength()).isLessThan(bigLength);
    assertThat(read).containsEntry("id", "second").containsEntry("note", null).containsEntry("n", null);
    assertThat(out.key()).isEqualTo("second".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void shouldLayOutEventsAsTheDescriptorSays() {
    assertThat(EventDescriptor.bitmapBytes(1)).isEqualTo(1);
    assertThat(EventDescriptor.bitmapBytes(8)).isEqualTo(1);
    assertThat(EventDescriptor.bitmapBytes(9)).isEqualTo(2);
    assertThat(EventDescriptor.slotOffset(9, 0)).isEqualTo(3);
    assertThat(EventDescriptor.fixedLength(9)).isEqualTo(3 + 72);

    encodeJson("{\"id\": \"ab\", \"n\": 258, \"ts\": 7}");
    ByteBuffer b = ByteBuffer.wrap(out.value(), 0, out.valueLength());
    int fields = SCHEMA.size();
    assertThat(b.get(0)).isEqualTo(EventDescriptor.VERSION);
    assertThat(b.get(1)).as("null bitmap: x, ok and note (fields 2, 3, 5) are null").isEqualTo((byte) 0b101100);
    assertThat(b.getLong(EventDescriptor.slotOffset(fields, 1))).isEqualTo(258L);
    int stringSlot = EventDescriptor.slotOffset(fields, 0);
    assertThat(b.getInt(stringSlot)).isEqualTo(EventDescriptor.fixedLength(fields));
    assertThat(b.getInt(stringSlot + 4)).isEqualTo(2);
    assertThat(out.valueLength()).isEqualTo(EventDescriptor.fixedLength(fields) + 2);
  }

  @Test
  void shouldReadAnEventThatSitsInsideALargerBuffer() {
    encodeJson("{\"id\": \"inner\", \"n\": 9, \"ts\": 3, \"note\": \"ünï\"}");
    ByteBuffer big = ByteBuffer.allocateDirect(out.valueLength() + 100);
    big.put(37, out.value(), 0, out.valueLength());
    EventReader r = new EventReader(SCHEMA).wrap(big, 37, out.valueLength()).at(2, 99, 3);
    assertThat(r.get(0)).isEqualTo("inner");
    assertThat(r.get(5)).isEqualTo("ünï");
    assertThat(r.getLong(1)).isEqualTo(9L);
    assertThat(r.isNull(2)).isTrue();
    assertThat(r.length()).isEqualTo(out.valueLength());
    assertThat(List.of(r.partition(), (int) r.offset(), (int) r.eventTime())).containsExactly(2, 99, 3);
  }

  // ---------------------------------------------------------------------------------------------
  // Rejections: a value saying precisely what is wrong
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRejectAnEventWithoutItsKey() {
    assertThat(rejectJson("{\"ts\": 1, \"n\": 2}")).isEqualTo("missing key field 'id'");
    assertThat(rejectJson("{\"id\": null, \"ts\": 1}")).isEqualTo("key field 'id' is null: every event needs its key");
    assertThat(rejectMap(Map.of("ts", 1L))).isEqualTo("missing key field 'id'");
    Map<String, Object> nullKey = new java.util.HashMap<>(Map.of("ts", 1L));
    nullKey.put("id", null);
    assertThat(rejectMap(nullKey)).isEqualTo("key field 'id' is null: every event needs its key");
    assertThat(rejectJson("{\"ts\": 1}")).as("a null key in the event before is forgotten")
        .isEqualTo("missing key field 'id'");
  }

  @Test
  void shouldRejectAnEventWithoutItsTime() {
    assertThat(rejectJson("{\"id\": \"k\"}")).isEqualTo("missing time field 'ts'");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": null}"))
        .isEqualTo("time field 'ts' is null: every event needs its event time");
    Map<String, Object> nullTime = new java.util.HashMap<>(Map.of("id", "k"));
    nullTime.put("ts", null);
    assertThat(rejectMap(nullTime)).isEqualTo("time field 'ts' is null: every event needs its event time");
    assertThat(rejectMap(Map.of("id", "k"))).as("a null time in the event before is forgotten")
        .isEqualTo("missing time field 'ts'");
  }

  @Test
  void shouldRejectAnUnknownFieldNamingTheKnownOnes() {
    String expected = "unknown field 'amount': stream 'payments' has id, n, x, ok, ts, note";
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"amount\": 5}")).isEqualTo(expected);
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "amount", 5))).isEqualTo(expected);
  }

  @Test
  void shouldRejectAStringForADouble() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"x\": \"1.5\"}"))
        .isEqualTo("field 'x': expected double, got string \"1.5\"");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "x", "1.5")))
        .isEqualTo("field 'x': expected double, got string \"1.5\"");
  }

  @Test
  void shouldRejectAFractionForALong() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": 1.5}"))
        .isEqualTo("field 'n': expected long, got number 1.5 (not a whole number in range)");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1.25}"))
        .isEqualTo("field 'ts': expected timestamp (epoch millis or ISO-8601 text), got number 1.25 "
            + "(not a whole number in range)");
  }

  @Test
  void shouldRejectANumberTooLargeForALong() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": 9223372036854775808}"))
        .isEqualTo("field 'n': number 9223372036854775808 does not fit in a long");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": 1e19}"))
        .isEqualTo("field 'n': expected long, got number 10000000000000000000 (not a whole number in range)");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": 1780308000.5}")).as("written as sent, not 1.7803080005E9")
        .isEqualTo("field 'n': expected long, got number 1780308000.5 (not a whole number in range)");
    assertThat(rejectMap(Map.of("id", "k", "ts", -1L, "n", BigInteger.TWO.pow(64))))
        .isEqualTo("field 'n': number 18446744073709551616 does not fit in a long");
    assertThat(rejectMap(Map.of("id", "k", "ts", -1L, "n", BigInteger.TWO.pow(63))))
        .isEqualTo("field 'n': number 9223372036854775808 does not fit in a long");
    // a Java caller's BigInteger that fits is its long, as a double field takes one
    assertThat(encodeMap(Map.of("id", "k", "ts", -1L, "n", BigInteger.valueOf(Long.MIN_VALUE))).get("n"))
        .isEqualTo(Long.MIN_VALUE);
    assertThat(encodeMap(Map.of("id", "k", "ts", -1L, "n", new BigInteger("5"))).get("n")).isEqualTo(5L);
  }

  @Test
  void shouldRejectObjectsAndArraysForAnyType() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": {\"v\": 1}}"))
        .isEqualTo("field 'n': expected long, got an object");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"note\": [\"a\"]}"))
        .isEqualTo("field 'note': expected string, got an array");
    assertThat(rejectJson("{\"id\": [1], \"ts\": 1}")).isEqualTo("field 'id': expected string, got an array");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "ok", Map.of("v", true))))
        .isEqualTo("field 'ok': expected boolean, got an object");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "x", List.of(1.0))))
        .isEqualTo("field 'x': expected double, got an array");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "n", new long[] {1})))
        .isEqualTo("field 'n': expected long, got an array");
  }

  @Test
  void shouldRejectOtherMismatchedTypes() {
    assertThat(rejectJson("{\"id\": 5, \"ts\": 1}")).isEqualTo("field 'id': expected string, got number 5");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"ok\": \"true\"}"))
        .isEqualTo("field 'ok': expected boolean, got string \"true\"");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": true}"))
        .isEqualTo("field 'ts': expected timestamp (epoch millis or ISO-8601 text), got boolean true");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "n", "12")))
        .isEqualTo("field 'n': expected long, got string \"12\"");
  }

  static final String OUT_OF_RANGE = " is out of the range of a double: a field holds finite numbers up to "
      + "1.7976931348623157E308 in magnitude (in JSON, a number such as 1e400 reads as Infinity)";

  @Test
  void shouldRejectNonFiniteDoubles() {
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "x", Double.NaN)))
        .isEqualTo("field 'x': number NaN is not a finite double");
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "x", Double.POSITIVE_INFINITY)))
        .isEqualTo("field 'x': number Infinity" + OUT_OF_RANGE);
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "x", Float.NEGATIVE_INFINITY)))
        .isEqualTo("field 'x': number -Infinity" + OUT_OF_RANGE);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"x\": 1e400}"))
        .isEqualTo("field 'x': number Infinity" + OUT_OF_RANGE);
  }

  @Test
  void shouldRejectNonFiniteNumbersForLongsInsteadOfThrowing() {
    assertThat(rejectMap(Map.of("id", "k", "ts", 1L, "n", Double.NaN)))
        .isEqualTo("field 'n': number NaN is not a finite double");
    assertThat(rejectMap(Map.of("id", "k", "ts", Float.POSITIVE_INFINITY)))
        .isEqualTo("field 'ts': number Infinity" + OUT_OF_RANGE);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1e400}")).as("JSON's 1e400 for a timestamp")
        .isEqualTo("field 'ts': number Infinity" + OUT_OF_RANGE);
  }

  @Test
  void shouldRejectInvalidTimestampText() {
    String hint = "' is not a timestamp: use epoch millis or ISO-8601 like 2026-11-22T10:15:30Z";
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"yesterday\"}")).isEqualTo("field 'ts': 'yesterday" + hint);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"2026-11-22T10:15:30\"}"))
        .as("no offset").isEqualTo("field 'ts': '2026-11-22T10:15:30" + hint);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"2026-13-01T00:00:00Z\"}"))
        .isEqualTo("field 'ts': '2026-13-01T00:00:00Z" + hint);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"1700000000000\"}"))
        .as("epoch millis are a number, not text").isEqualTo("field 'ts': '1700000000000' is a number written as a "
            + "string: send epoch millis as a JSON number (without quotes), or ISO-8601 text like 2026-11-22T10:15:30Z");
    String longText = "x".repeat(100);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"" + longText + "\"}"))
        .isEqualTo("field 'ts': '" + "x".repeat(40) + "..." + hint);
  }

  @Test
  void shouldRejectTimestampsBeyondEpochMillisInsteadOfThrowing() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"+1000000000-01-01T00:00:00Z\"}"))
        .isEqualTo("field 'ts': timestamp +1000000000-01-01T00:00:00Z is out of range: epoch milliseconds must "
            + "fit in a long");
    assertThat(rejectMap(Map.of("id", "k", "ts", Instant.MAX))).startsWith("field 'ts': timestamp ")
        .endsWith("is out of range: epoch milliseconds must fit in a long");
  }

  @Test
  void shouldRejectEventTimesWhoseWindowsWouldNotFitInALong() {
    String range = "is outside the years 0000-9999 that event time covers (epoch millis -62167219200000 to "
        + "253402300799999): windows of times beyond them would not fit in a long";
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 9223372036854775807}"))
        .isEqualTo("field 'ts': event time 9223372036854775807 " + range);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": -9223372036854775808}"))
        .isEqualTo("field 'ts': event time -9223372036854775808 " + range);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": \"+10000-01-01T00:00:00Z\"}")).contains(range);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 253402300800000}")).as("one past the last").contains(range);
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": -62167219200001}")).as("one before the first").contains(range);
    // the bounds themselves are taken
    assertThat(encoder.encode(Map.of("id", "k", "ts", EventEncoder.MAX_EVENT_TIME), 0, out)).isNull();
    assertThat(out.eventTime()).isEqualTo(Instant.parse("9999-12-31T23:59:59.999Z").toEpochMilli());
    assertThat(encoder.encode(Map.of("id", "k", "ts", EventEncoder.MIN_EVENT_TIME), 0, out)).isNull();
    assertThat(out.eventTime()).isEqualTo(Instant.parse("0000-01-01T00:00:00Z").toEpochMilli());
    // a timestamp field that is not the event time keeps the whole range of a long
    assertThat(encoder.encode(Map.of("id", "k", "ts", 1L, "n", Long.MAX_VALUE), 0, out)).isNull();
  }

  @Test
  void shouldRejectAStringWithAnUnpairedSurrogateInsteadOfStoringAnotherString() throws Exception {
    assertThat(rejectJson("{\"id\": \"sur\\udfff\", \"ts\": 1}")).isEqualTo("field 'id': the string holds an "
        + "unpaired UTF-16 surrogate (\\uDFFF at character 3), which is not Unicode text; send the pair, or the "
        + "character itself");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"note\": \"lone \\ud83d\"}"))
        .startsWith("field 'note': the string holds an unpaired UTF-16 surrogate (\\uD83D at character 5)");
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"note\": \"\\ude00\\ud83d\"}")).as("a pair in the wrong order")
        .contains("(\\uDE00 at character 0)");
    // a pair, escaped or not, is one character: taken, and stored as its UTF-8
    assertThat(encodeJson("{\"id\": \"k\", \"ts\": 1, \"note\": \"\\ud83d\\ude00 \uD83D\uDE00\"}").get("note"))
        .isEqualTo("\uD83D\uDE00 \uD83D\uDE00");
  }

  @Test
  void shouldRejectAnythingButAJsonObject() throws Exception {
    assertThat(encoder.encode(JSON.readTree("[1, 2]"), 0, out)).isEqualTo("an event must be a JSON object, got an array");
    assertThat(encoder.encode(JSON.readTree("\"text\""), 0, out))
        .isEqualTo("an event must be a JSON object, got string \"text\"");
    assertThat(encoder.encode(JSON.readTree("12"), 0, out)).isEqualTo("an event must be a JSON object, got number 12");
    assertThat(encoder.encode((JsonNode) null, 0, out)).isEqualTo("an event must be a JSON object, got nothing");
    assertThat(encoder.encode(JSON.readTree(""), 0, out)).isEqualTo("an event must be a JSON object, got nothing");
  }

  @Test
  void shouldKeepEncodingAfterARejection() {
    assertThat(rejectJson("{\"id\": \"k\", \"ts\": 1, \"n\": \"bad\"}")).isNotNull();
    assertThat(encodeJson("{\"id\": \"k2\", \"ts\": 2}")).containsEntry("n", null).containsEntry("id", "k2");
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  static Map<String, FieldType> fields(Object... nameTypePairs) {
    Map<String, FieldType> m = new LinkedHashMap<>();
    for (int i = 0; i < nameTypePairs.length; i += 2) {
      m.put((String) nameTypePairs[i], (FieldType) nameTypePairs[i + 1]);
    }
    return m;
  }

  private Map<String, Object> encodeJson(String json) {
    String error;
    try {
      error = encoder.encode(JSON.readTree(json), INGEST_TIME, out);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    assertThat(error).as("rejection of %s", json).isNull();
    return decode(SCHEMA, out);
  }

  private Map<String, Object> encodeMap(Map<String, ?> event) {
    assertThat(encoder.encode(event, INGEST_TIME, out)).as("rejection of %s", event).isNull();
    return decode(SCHEMA, out);
  }

  private String rejectJson(String json) {
    try {
      String error = encoder.encode(JSON.readTree(json), INGEST_TIME, out);
      assertThat(error).as("%s should be rejected", json).isNotNull();
      return error;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  private String rejectMap(Map<String, ?> event) {
    String error = encoder.encode(event, INGEST_TIME, out);
    assertThat(error).as("%s should be rejected", event).isNotNull();
    return error;
  }

  /** Every field of the encoded event, by name, in schema order; read from a copy of exactly its bytes. */
  static Map<String, Object> decode(EventSchema schema, EventEncoder.Encoded encoded) {
    byte[] bytes = Arrays.copyOf(encoded.value(), encoded.valueLength());
    EventReader r = new EventReader(schema).wrap(ByteBuffer.wrap(bytes), 0, bytes.length);
    Map<String, Object> m = new LinkedHashMap<>();
    for (EventSchema.Field f : schema.fields()) {
      m.put(f.name(), r.get(f.index()));
    }
    return m;
  }
}
