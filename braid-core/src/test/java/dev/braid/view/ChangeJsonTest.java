package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.spec.ViewSpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The changes feed's records and result hashes, written by {@link ChangeJson}. */
class ChangeJsonTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static ViewProgram program() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("k", FieldType.STRING);
    f.put("ts", FieldType.TIMESTAMP);
    f.put("x", FieldType.LONG);
    return new ViewProgram(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").aggregate("mean", "avg(x)").aggregate("top \"quoted\"", "top_k(k, 2)").build(),
        new EventSchema("s", f, "k", "ts"));
  }

  @Test
  void shouldWriteARecordWhoseValuesHashAsTheirMap() throws Exception {
    ViewProgram p = program();
    ViewProgram.Scratch x = p.scratch();
    long[] longs = new long[p.longWidth];
    Object[] objects = new Object[Math.max(1, p.objectWidth)];
    p.zero(longs, 0, objects, 0);
    ChangeJson json = new ChangeJson();
    long h = json.values(p, longs, objects, x);
    json.finish(dev.braid.ChangeEvent.Kind.CLOSE, "käy \"1\"", 60_000, 120_000, false, -1, 3, 125_000);
    JsonNode record = JSON.readTree(Arrays.copyOf(json.array(), json.size()));
    assertThat(record.path("kind").asText()).isEqualTo("close");
    assertThat(record.path("key").asText()).isEqualTo("käy \"1\"");
    assertThat(record.path("start").asLong()).isEqualTo(60_000);
    assertThat(record.path("end").asLong()).isEqualTo(120_000);
    assertThat(record.path("state").asText()).isEqualTo("provisional");
    assertThat(record.path("corrects").asLong()).isEqualTo(-1);
    assertThat(record.path("version").asLong()).isEqualTo(3);
    assertThat(record.path("watermark").asLong()).isEqualTo(125_000);
    @SuppressWarnings("unchecked")
    Map<String, Object> values = JSON.treeToValue(record.path("values"), LinkedHashMap.class);
    assertThat(values).containsOnlyKeys("n", "mean", "top \"quoted\"");
    assertThat(new ChangeJson().hash(values)).as("the hash of the decoded values").isEqualTo(h);

    long other = json.values(p, longs, objects, x); // an abandoned record leaves the next one whole
    json.abandon();
    longs[0] = 5;
    assertThat(json.values(p, longs, objects, x)).isNotEqualTo(other);
    json.finish(dev.braid.ChangeEvent.Kind.CORRECTION, "k", 0, 60_000, true, 7, 4, 125_000);
    assertThat(JSON.readTree(Arrays.copyOf(json.array(), json.size())).path("values").path("n").asLong())
        .isEqualTo(5);
  }

  /**
   * Long results written straight from their slots (count, sum, min and max of a long field) give
   * the bytes, and so the hash, that writing each aggregation's boxed result gives: over seeded
   * random rows, min and max seen and not, beside results that are still boxed (avg, a double min).
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "seed {0}")
  @org.junit.jupiter.params.provider.ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void shouldWriteLongResultsFromTheirSlotsAsTheirBoxedResults(long seed) throws Exception {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("k", FieldType.STRING);
    f.put("ts", FieldType.TIMESTAMP);
    f.put("x", FieldType.LONG);
    f.put("d", FieldType.DOUBLE);
    ViewProgram p = new ViewProgram(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").aggregate("nx", "count(x)").aggregate("sum", "sum(x)").aggregate("lo", "min(x)")
        .aggregate("hi", "max(x)").aggregate("last_ts", "max(ts)").aggregate("mean", "avg(x)")
        .aggregate("dlo", "min(d)").build(), new EventSchema("s", f, "k", "ts"));
    ViewProgram.Scratch x = p.scratch();
    java.util.Random rnd = new java.util.Random(seed);
    ChangeJson json = new ChangeJson();
    ChangeJson boxed = new ChangeJson();
    for (int row = 0; row < 500; row++) {
      long[] longs = new long[p.longWidth];
      Object[] objects = new Object[Math.max(1, p.objectWidth)];
      p.zero(longs, 0, objects, 0);
      for (int i = 0; i < longs.length; i++) {
        if (rnd.nextBoolean()) {
          longs[i] = switch (rnd.nextInt(4)) {
            case 0 -> rnd.nextLong();
            case 1 -> rnd.nextInt(3);
            case 2 -> rnd.nextBoolean() ? Long.MIN_VALUE : Long.MAX_VALUE;
            default -> rnd.nextInt();
          };
        }
      }
      Map<String, Object> values = new LinkedHashMap<>();
      for (int i = 0; i < p.names.length; i++) {
        values.put(p.names[i], p.result(i, longs, 0, objects, 0, x));
      }
      String at = "seed " + seed + ", row " + row + ": " + Arrays.toString(longs) + " = " + values;
      long h = json.values(p, longs, objects, x);
      json.finish(dev.braid.ChangeEvent.Kind.CLOSE, "k", 0, 60_000, false, -1, 1, 0);
      assertThat(JSON.readTree(Arrays.copyOf(json.array(), json.size())).path("values")).as(at)
          .isEqualTo(JSON.readTree(JSON.writeValueAsString(values)));
      assertThat(h).as(at + ": the hash of the values' bytes").isEqualTo(boxed.hash(values));
    }
  }

  /**
   * Results that differ anywhere in their JSON, in a whole eight-byte word or in the bytes after
   * the last one, hash apart: a collision would hide a correction.
   */
  @Test
  void shouldHashResultsThatDifferInAnyByteApart() {
    ChangeJson json = new ChangeJson();
    java.util.Set<Long> seen = new java.util.HashSet<>();
    int made = 0;
    for (int len = 1; len <= 24; len++) {
      for (char c = 'a'; c <= 'z'; c++) {
        for (int at = 0; at < len; at++) {
          char[] s = "x".repeat(len).toCharArray();
          s[at] = c;
          seen.add(json.hash(Map.of("s", new String(s))));
          made++;
        }
      }
    }
    for (long n = 0; n < 20_000; n++) {
      seen.add(json.hash(Map.of("n", n)));
      made++;
    }
    // "xx..x" with c == 'x' at any position is the same string: one hash per length for those
    assertThat(seen).hasSize(made - (24 * 25 / 2 - 24));
  }

  /**
   * A double written by the feed parses back to the same double and hashes the same when written
   * again: what a restart relies on to find a window's result unchanged (seeded, every magnitude).
   */
  @Test
  void shouldWriteDoublesThatReadBackToTheSameHash() throws Exception {
    ChangeJson json = new ChangeJson();
    java.util.Random rnd = new java.util.Random(7);
    for (int i = 0; i < 20_000; i++) {
      double d = switch (i % 4) {
        case 0 -> Double.longBitsToDouble(rnd.nextLong()); // any bit pattern
        case 1 -> rnd.nextInt(1_000_000) / 100.0; // prices and averages
        case 2 -> rnd.nextDouble() * Math.pow(10, rnd.nextInt(40) - 20);
        default -> (double) rnd.nextLong();
      };
      if (!Double.isFinite(d)) {
        continue;
      }
      long h = json.hash(Map.of("d", d));
      String text = new String(json.array(), 0, json.size(), java.nio.charset.StandardCharsets.UTF_8);
      @SuppressWarnings("unchecked")
      Map<String, Object> back = JSON.readValue(text, LinkedHashMap.class);
      assertThat(((Number) back.get("d")).doubleValue()).as("seed 7, value %d: %s", i, text).isEqualTo(d);
      assertThat(json.hash(back)).as("seed 7, value %d: %s hashes the same read back", i, text).isEqualTo(h);
    }
  }

  /** A value that data binding cannot write fails its record alone; the next one is whole. */
  @Test
  void shouldRecoverFromAValueItCannotWrite() {
    ChangeJson json = new ChangeJson();
    Map<String, Object> bad = new LinkedHashMap<>();
    bad.put("a", 1L);
    bad.put("b", new Object()); // no properties: Jackson refuses it
    assertThatThrownBy(() -> json.hash(bad)).isInstanceOf(RuntimeException.class);
    Map<String, Object> good = new LinkedHashMap<>();
    good.put("a", 1L);
    good.put("b", java.util.List.of(2.5, "s", true));
    assertThat(json.hash(good)).isEqualTo(new ChangeJson().hash(good));
  }
}
