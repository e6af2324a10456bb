package dev.braid.event;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.testing.Soak;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Over seeded random schemas and events (every type, edge values, nulls and missing fields, all
 * accepted input forms from JSON text and from Java maps), encoding then decoding gives back every
 * value exactly, plus the record key and the event time. The seed is in every failure message.
 */
class EventRoundTripPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int EVENTS_PER_SEED = 200;
  private static final long INGEST_TIME = 1_234_567L;
  /** Years 0002 .. 9998, so that ISO-8601 text with any offset keeps a four-digit year. */
  private static final long MIN_MILLIS = -62_104_060_800_000L;
  private static final long MAX_MILLIS = 253_339_228_800_000L;

  static LongStream seeds() {
    return LongStream.range(0, Soak.seeds(40));
  }

  /** One generated event: what is sent, and what must be read back. */
  private record Case(Map<String, Object> input, Object[] expected) {}

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldDecodeEveryValueThatWasEncoded(long seed) throws Exception {
    Random rnd = new Random(seed);
    EventSchema schema = randomSchema(rnd);
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    EventReader reader = new EventReader(schema);
    ByteBuffer big = ByteBuffer.allocate(1 << 16);

    for (int n = 0; n < EVENTS_PER_SEED; n++) {
      boolean asJson = rnd.nextBoolean();
      Case c = randomEvent(rnd, schema, asJson);
      String where = String.format("seed %d, event %d (%s) %s, schema %s", seed, n, asJson ? "json" : "map",
          c.input(), schema.types());
      String error;
      if (asJson) {
        JsonNode node = JSON.readTree(JSON.writeValueAsString(c.input()));
        error = encoder.encode(node, INGEST_TIME, out);
      } else {
        error = encoder.encode(c.input(), INGEST_TIME, out);
      }
      assertThat(error).as(where).isNull();

      int base = rnd.nextInt(64);
      big.put(base, out.value(), 0, out.valueLength());
      big.put(base + out.valueLength(), (byte) 0x5a); // trailing garbage must not matter
      reader.wrap(big, base, out.valueLength());
      for (EventSchema.Field f : schema.fields()) {
        Object expected = c.expected()[f.index()];
        assertThat(reader.get(f.index())).as("%s: field %s", where, f.name()).isEqualTo(expected);
        assertThat(reader.isNull(f.index())).as("%s: null bit of %s", where, f.name()).isEqualTo(expected == null);
      }
      Object key = c.expected()[schema.key().index()];
      String keyText = key instanceof Double d && d == 0 ? "0.0" : String.valueOf(key); // -0.0 is 0.0's key
      assertThat(new String(out.key(), StandardCharsets.UTF_8)).as("%s: key", where).isEqualTo(keyText);
      long time = schema.time() == null ? INGEST_TIME : (Long) c.expected()[schema.time().index()];
      assertThat(out.eventTime()).as("%s: event time", where).isEqualTo(time);
    }
  }

  /**
   * A stream whose fields grow at the end, a few times: events encoded at every stage (the first
   * with the stream's first fields, in version 1, byte for byte as a stream that never grew) are
   * read with the last stage's schema, as the log's readers read them. Every field an event had
   * reads back as sent; every field added after it was stored reads as null.
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldReadEventsStoredBeforeFieldsWereAdded(long seed) throws Exception {
    Random rnd = new Random(seed);
    EventSchema first = randomSchema(rnd);
    List<EventSchema> stages = new ArrayList<>(List.of(first));
    int stageCount = 1 + rnd.nextInt(4);
    for (int s = 1; s < stageCount; s++) {
      EventSchema before = stages.get(s - 1);
      Map<String, FieldType> fields = new LinkedHashMap<>(before.types());
      int adding = 1 + (rnd.nextInt(5) == 0 ? rnd.nextInt(40) : rnd.nextInt(4));
      for (int i = 0; i < adding; i++) {
        fields.put("f" + fields.size(), FieldType.values()[rnd.nextInt(FieldType.values().length)]);
      }
      stages.add(new EventSchema("s", fields, first.key().name(), first.time() == null ? null : first.time().name(), 1,
          first.size()));
    }
    EventSchema last = stages.get(stages.size() - 1);
    EventReader reader = new EventReader(last);
    EventReader firstReader = new EventReader(first);
    ByteBuffer big = ByteBuffer.allocate(1 << 16);
    for (int n = 0; n < EVENTS_PER_SEED; n++) {
      int stage = rnd.nextInt(stages.size());
      EventSchema schema = stages.get(stage);
      Case c = randomEvent(rnd, schema, false);
      String where = String.format("seed %d, event %d of stage %d of %d (%s), fields %s", seed, n, stage, stages.size(),
          c.input(), last.types());
      EventEncoder.Encoded out = new EventEncoder.Encoded();
      assertThat(new EventEncoder(schema).encode(c.input(), INGEST_TIME, out)).as(where).isNull();
      assertThat(out.value()[0]).as("%s: version", where)
          .isEqualTo(stage == 0 ? EventDescriptor.VERSION : EventDescriptor.VERSION_COUNTED);
      int base = rnd.nextInt(64);
      big.put(base, out.value(), 0, out.valueLength());
      big.put(base + out.valueLength(), (byte) 0x5a); // the slot after the event's last field is not a field
      assertThat(EventDescriptor.layoutProblem(big, base, out.valueLength(), last)).as("%s: layout", where).isNull();
      if (stage == 0 && last.size() > first.size()) { // read as if the stream had other first fields
        int wrong = 1 + rnd.nextInt(last.size() - 1);
        wrong = wrong >= first.size() ? wrong + 1 : wrong;
        assertThat(EventDescriptor.layoutProblem(big, base, out.valueLength(), last.withFirstFields(wrong)))
            .as("%s: layout read with %d first fields", where, wrong).isNotNull();
      }
      reader.wrap(big, base, out.valueLength());
      for (EventSchema.Field f : last.fields()) {
        Object expected = f.index() < schema.size() ? c.expected()[f.index()] : null;
        assertThat(reader.get(f.index())).as("%s: field %s", where, f.name()).isEqualTo(expected);
        assertThat(reader.isNull(f.index())).as("%s: null bit of %s", where, f.name()).isEqualTo(expected == null);
        if (expected == null && f.type() != FieldType.STRING) {
          assertThat(reader.getLong(f.index())).as("%s: slot of null %s", where, f.name()).isZero();
        }
      }
      EventEncoder.Encoded again = new EventEncoder.Encoded(); // the same event sent after the last growth
      assertThat(new EventEncoder(last).encode(c.input(), INGEST_TIME, again)).as(where).isNull();
      EventReader other = new EventReader(last).wrap(ByteBuffer.wrap(again.value()), 0, again.valueLength());
      assertThat(reader.sameValues(other)).as("%s: the same values in either encoding", where).isTrue();
      if (stage == 0) { // a stream that never grew reads it the same way
        firstReader.wrap(big, base, out.valueLength());
        for (EventSchema.Field f : first.fields()) {
          assertThat(firstReader.get(f.index())).as("%s: field %s, first schema", where, f.name())
              .isEqualTo(c.expected()[f.index()]);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Generators
  // ---------------------------------------------------------------------------------------------

  private static EventSchema randomSchema(Random rnd) {
    int n = rnd.nextInt(4) == 0 ? 9 + rnd.nextInt(60) : 1 + rnd.nextInt(12);
    FieldType[] all = FieldType.values();
    Map<String, FieldType> fields = new LinkedHashMap<>();
    List<String> timeCandidates = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      FieldType t = all[rnd.nextInt(all.length)];
      fields.put("f" + i, t);
      if (t == FieldType.LONG || t == FieldType.TIMESTAMP) {
        timeCandidates.add("f" + i);
      }
    }
    String key = "f" + rnd.nextInt(n);
    String time = timeCandidates.isEmpty() || rnd.nextInt(4) == 0 ? null
        : timeCandidates.get(rnd.nextInt(timeCandidates.size()));
    return new EventSchema("s", fields, key, time);
  }

  private static Case randomEvent(Random rnd, EventSchema schema, boolean asJson) {
    Map<String, Object> input = new LinkedHashMap<>();
    Object[] expected = new Object[schema.size()];
    for (EventSchema.Field f : schema.fields()) {
      boolean required = f == schema.key() || f == schema.time();
      if (!required && rnd.nextInt(5) == 0) {
        if (rnd.nextBoolean()) {
          input.put(f.name(), null); // explicit null; otherwise the field is left out
        }
        continue;
      }
      Object[] pair = randomValue(rnd, f.type(), asJson, f == schema.time());
      input.put(f.name(), pair[0]);
      expected[f.index()] = pair[1];
    }
    return new Case(input, expected);
  }

  /**
   * {input as sent, value read back}; for the event-time field ({@code eventTime}) a value in the
   * years 0000-9999 that an event time must lie in (its edges among them).
   */
  private static Object[] randomValue(Random rnd, FieldType type, boolean asJson, boolean eventTime) {
    switch (type) {
      case STRING: {
        String s = randomString(rnd);
        return new Object[] {s, s};
      }
      case BOOLEAN: {
        boolean b = rnd.nextBoolean();
        return new Object[] {b, b};
      }
      case LONG: {
        long v = eventTime ? eventTime(rnd, randomLong(rnd)) : randomLong(rnd);
        Object in = v;
        if (!asJson && v == (int) v && rnd.nextBoolean()) {
          in = (int) v;
        }
        return new Object[] {in, v};
      }
      case DOUBLE: {
        if (!asJson && rnd.nextInt(6) == 0) {
          float f = (float) randomDouble(rnd);
          if (Float.isFinite(f)) {
            return new Object[] {f, (double) f};
          }
        }
        if (rnd.nextInt(8) == 0) {
          long l = rnd.nextInt();
          return new Object[] {l, (double) l};
        }
        double d = randomDouble(rnd);
        return new Object[] {d, d};
      }
      case TIMESTAMP: {
        long ms = rnd.nextInt(3) == 0 ? rnd.nextInt(2_000_000) - 1_000_000
            : MIN_MILLIS + (long) (rnd.nextDouble() * (MAX_MILLIS - MIN_MILLIS));
        if (eventTime) {
          ms = eventTime(rnd, ms);
        }
        Instant i = Instant.ofEpochMilli(ms);
        switch (rnd.nextInt(asJson ? 3 : 4)) {
          case 0:
            return new Object[] {ms, ms};
          case 1:
            return new Object[] {i.toString(), ms};
          case 2: {
            ZoneOffset offset = ZoneOffset.ofTotalSeconds((rnd.nextInt(36 * 4 + 1) - 18 * 4) * 15 * 60);
            return new Object[] {i.atOffset(offset).toString(), ms};
          }
          default:
            return new Object[] {i, ms};
        }
      }
      default:
        throw new IllegalStateException(type.toString());
    }
  }

  private static final long[] EDGE_LONGS = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE, Integer.MAX_VALUE,
      Integer.MIN_VALUE, 1L << 53, -(1L << 53) - 1};
  private static final double[] EDGE_DOUBLES = {0.0, -0.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MAX_VALUE,
      -Double.MAX_VALUE, Double.MIN_NORMAL, 0.1, 1e-300, 123456789.125, 9007199254740993.0};

  /** {@code v} if an event time may be it, else the first or last event time, or {@code v} folded into their range. */
  private static long eventTime(Random rnd, long v) {
    if (v >= EventEncoder.MIN_EVENT_TIME && v <= EventEncoder.MAX_EVENT_TIME) {
      return v;
    }
    return switch (rnd.nextInt(3)) {
      case 0 -> EventEncoder.MIN_EVENT_TIME;
      case 1 -> EventEncoder.MAX_EVENT_TIME;
      default -> EventEncoder.MIN_EVENT_TIME
          + Math.floorMod(v, EventEncoder.MAX_EVENT_TIME - EventEncoder.MIN_EVENT_TIME + 1);
    };
  }

  private static long randomLong(Random rnd) {
    switch (rnd.nextInt(3)) {
      case 0:
        return EDGE_LONGS[rnd.nextInt(EDGE_LONGS.length)];
      case 1:
        return rnd.nextInt(2001) - 1000;
      default:
        return rnd.nextLong();
    }
  }

  private static double randomDouble(Random rnd) {
    switch (rnd.nextInt(4)) {
      case 0:
        return EDGE_DOUBLES[rnd.nextInt(EDGE_DOUBLES.length)];
      case 1:
        return (rnd.nextInt(20001) - 10000) / 100.0;
      case 2: {
        double d;
        do {
          d = Double.longBitsToDouble(rnd.nextLong()); // any finite bit pattern
        } while (!Double.isFinite(d));
        return d;
      }
      default:
        return rnd.nextGaussian() * 1e6;
    }
  }

  /** ASCII, Latin-1, CJK, private-use (U+E000..) and supplementary characters; never a lone surrogate. */
  static String randomString(Random rnd) {
    int len = rnd.nextInt(8) == 0 ? 0 : rnd.nextInt(24);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < len; i++) {
      switch (rnd.nextInt(6)) {
        case 0:
        case 1:
          b.append((char) (' ' + rnd.nextInt(95)));
          break;
        case 2:
          b.append((char) (0xA0 + rnd.nextInt(0x60)));
          break;
        case 3:
          b.append((char) (0x4E00 + rnd.nextInt(0x100)));
          break;
        case 4:
          b.append((char) (0xE000 + rnd.nextInt(0x1FFF)));
          break;
        default:
          b.appendCodePoint(0x1F600 + rnd.nextInt(0x50));
      }
    }
    return b.toString();
  }
}
