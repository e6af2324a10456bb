package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.testing.Soak;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tree-less encoding of an NDJSON event ({@link EventEncoder#tryEncode}) against the tree path it
 * stands in for ({@link Ingestor#readEvent} then {@link EventEncoder#encode(JsonNode, long,
 * EventEncoder.Encoded)}), over seeded random event texts: well-formed and malformed, every field type
 * given every kind of JSON value, unknown and repeated fields, nesting, text after the event. Whenever
 * the tree-less path encodes an event, the tree path accepts it too and encodes the same key, value
 * bytes and event time; whatever it declines, the tree path decides (and names). A seed that fails
 * is printed.
 */
class TreelessEncodePropertyTest {

  private static final long NOW = 1_790_000_000_000L;

  private static final EventSchema SCHEMA = new EventSchema("sales", fields(), "sku", "ts");

  private static Map<String, FieldType> fields() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("sku", FieldType.STRING);
    f.put("qty", FieldType.LONG);
    f.put("price", FieldType.DOUBLE);
    f.put("web", FieldType.BOOLEAN);
    f.put("ts", FieldType.TIMESTAMP);
    f.put("note", FieldType.STRING);
    return f;
  }

  private static final String[] NAMES = {"sku", "qty", "price", "web", "ts", "note"};

  /** JSON values of every kind, among them the edges of each type. */
  private static final String[] VALUES = {
      "\"a\"", "\"\"", "\"sku-0042\"", "\"h\\u00e9llo\"", "\"caf\u00e9 \u4e16\u754c\"", "\"\\uD83D\\uDE00\"",
      "\"\\uDFFF\"", "\"line\\nbreak \\\"q\\\"\"", "\"123\"", "\"2026-11-22T10:15:30Z\"",
      "\"2026-11-22T10:15:30+02:00\"", "\"10000-01-01T00:00:00Z\"", "\"not a time\"",
      "0", "-0", "7", "-42", "2147483648", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
      "1790000000000", "253402300799999", "253402300800000", "-62167219200001", "123456789012345678901234567890",
      "1.5", "-0.0", "0.1", "1e3", "1.0", "2.5e-3", "1e308", "1e400", "-1e400", "4.9e-324", "1790000000000.0",
      "true", "false", "null", "{}", "[]", "[1,2]", "{\"a\":1}", "[[[]]]"};

  static LongStream seeds() {
    return LongStream.rangeClosed(1, Soak.seeds(40));
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldEncodeOnlyWhatTheTreePathAcceptsAndAsItDoes(long seed) throws IOException {
    Random rnd = new Random(seed);
    EventEncoder treeless = new EventEncoder(SCHEMA);
    EventEncoder tree = new EventEncoder(SCHEMA);
    EventEncoder.Encoded a = new EventEncoder.Encoded();
    EventEncoder.Encoded b = new EventEncoder.Encoded();
    int encoded = 0;
    int declinedButAccepted = 0;
    for (int i = 0; i < 400; i++) {
      String text = randomEvent(rnd);
      String ctx = "seed " + seed + ", event " + i + ": " + text;
      boolean fast;
      try (JsonParser p = Ingestor.eventParser(text)) {
        fast = treeless.tryEncode(p, NOW, a);
      } catch (IOException e) {
        fast = false;
      }
      String treeResult;
      try {
        JsonNode node = Ingestor.readEvent(text);
        treeResult = tree.encode(node, NOW, b);
      } catch (JsonProcessingException e) {
        treeResult = "not JSON: " + e.getOriginalMessage();
      }
      if (fast) {
        encoded++;
        assertThat(treeResult).as(ctx + ": the tree path rejects what the tree-less path encoded").isNull();
        assertThat(a.key()).as(ctx + ": key").isEqualTo(b.key());
        assertThat(Arrays.copyOf(a.value(), a.valueLength())).as(ctx + ": value bytes")
            .isEqualTo(Arrays.copyOf(b.value(), b.valueLength()));
        assertThat(a.eventTime()).as(ctx + ": event time").isEqualTo(b.eventTime());
      } else if (treeResult == null) {
        declinedButAccepted++; // e.g. an ISO timestamp would not be declined; numbers past the long range are
      }
    }
    // the generator must reach both paths, or the comparison proves nothing
    assertThat(encoded).as("seed " + seed + ": events the tree-less path encoded").isGreaterThan(40);
    assertThat(400 - encoded).as("seed " + seed + ": events it left to the tree path").isGreaterThan(40);
    assertThat(declinedButAccepted).as("seed " + seed + ": events declined that the tree path accepts")
        .isLessThan(encoded);
  }

  @Test
  void shouldEncodeATypicalEventWithoutTheTree() throws IOException {
    EventEncoder enc = new EventEncoder(SCHEMA);
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    try (JsonParser p = Ingestor.eventParser(
        "  {\"sku\":\"sku-1\",\"qty\":2,\"price\":9.5,\"web\":true,\"ts\":1790000000000,\"note\":null}")) {
      assertThat(enc.tryEncode(p, NOW, out)).isTrue();
    }
    assertThat(new String(out.key(), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("sku-1");
    assertThat(out.eventTime()).isEqualTo(1_790_000_000_000L);
  }

  @Test
  void shouldLeaveEveryRejectionToTheTreePath() throws IOException {
    EventEncoder enc = new EventEncoder(SCHEMA);
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    for (String text : List.of(
        "{\"sku\":\"a\",\"ts\":1,\"sku\":\"b\"}", // a field twice
        "{\"sku\":\"a\",\"ts\":1} {\"sku\":\"b\",\"ts\":1}", // two events on a line
        "{\"sku\":\"a\",\"ts\":1,\"color\":\"red\"}", // unknown field
        "{\"sku\":\"a\",\"ts\":1,\"qty\":\"2\"}", // wrong type: the tree path names it
        "{\"sku\":\"a\",\"ts\":1,\"price\":1e400}", // not finite
        "{\"sku\":\"a\",\"ts\":1,\"qty\":9223372036854775808}", // past the long range
        "{\"ts\":1}", // no key
        "{\"sku\":\"a\",\"ts\":1", // truncated
        "[{\"sku\":\"a\",\"ts\":1}]", "null")) {
      boolean encoded;
      try (JsonParser p = Ingestor.eventParser(text)) {
        encoded = enc.tryEncode(p, NOW, out);
      } catch (IOException e) {
        encoded = false;
      }
      assertThat(encoded).as(text).isFalse();
    }
  }

  /** An event's text: mostly an object of known fields, sometimes broken in one of many ways. */
  private static String randomEvent(Random rnd) {
    StringBuilder sb = new StringBuilder();
    if (rnd.nextInt(20) == 0) {
      sb.append(" \t");
    }
    int shape = rnd.nextInt(40);
    if (shape == 0) {
      return pick(rnd, VALUES); // not an object
    }
    List<String> names = new ArrayList<>(List.of(NAMES));
    java.util.Collections.shuffle(names, rnd);
    int n = rnd.nextInt(NAMES.length + 1);
    sb.append('{');
    for (int i = 0; i < n; i++) {
      String name = names.get(i);
      if (rnd.nextInt(30) == 0) {
        name = "color"; // unknown
      } else if (i > 0 && rnd.nextInt(40) == 0) {
        name = names.get(0); // twice
      }
      if (i > 0) {
        sb.append(rnd.nextBoolean() ? "," : " , ");
      }
      sb.append('"').append(name).append("\":").append(rnd.nextInt(8) == 0 ? " " : "").append(valueFor(rnd, name));
    }
    if (rnd.nextInt(3) > 0) { // most events carry a key and a time, so that most are accepted
      if (n == 0 || !sb.toString().contains("\"sku\"")) {
        sb.append(n == 0 ? "" : ",").append("\"sku\":\"k").append(rnd.nextInt(5)).append('"');
        n++;
      }
      if (!sb.toString().contains("\"ts\"")) {
        sb.append(",\"ts\":").append(NOW - rnd.nextInt(1_000_000));
      }
    }
    sb.append('}');
    switch (rnd.nextInt(30)) {
      case 0:
        sb.setLength(sb.length() - 1 - rnd.nextInt(Math.min(5, sb.length() - 1))); // truncated
        break;
      case 1:
        sb.append(" x");
        break;
      case 2:
        sb.append(" {}");
        break;
      case 3:
        sb.append("   ");
        break;
      default:
    }
    return sb.toString();
  }

  private static String valueFor(Random rnd, String name) {
    if (rnd.nextInt(3) > 0) { // a value of the field's own type, most of the time
      switch (name) {
        case "sku":
        case "note":
          return pick(rnd, new String[] {"\"s" + rnd.nextInt(100) + "\"", "\"caf\u00e9\"", "\"\\u00e9\\t\"", "\"\""});
        case "qty":
          return Long.toString(rnd.nextInt(3) == 0 ? rnd.nextLong() : rnd.nextInt(100) - 10);
        case "price":
          return rnd.nextBoolean() ? Double.toString(rnd.nextDouble() * 1e6) : Integer.toString(rnd.nextInt(1000));
        case "web":
          return Boolean.toString(rnd.nextBoolean());
        case "ts":
          return Long.toString(NOW - rnd.nextInt(1_000_000));
        default:
      }
    }
    return pick(rnd, VALUES);
  }

  private static String pick(Random rnd, String[] from) {
    return from[rnd.nextInt(from.length)];
  }
}
