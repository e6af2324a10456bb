package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.expr.Expressions;
import dev.braid.expr.KeyBuffer;
import dev.braid.expr.KeyExtractor;
import dev.braid.log.RecordCursor;
import dev.braid.spec.ViewSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fold's fast paths (the record's own key slice and the chunk's hash instead of an extracted,
 * rehashed key; {@link dev.braid.agg.NumericFold} instead of each aggregation's {@code add}) build
 * the same table as the generic fold: over seeded random views (every key type, with and without
 * windows and filters, fusible and other aggregations) and random events, both tables hold the same
 * keys, groups and state rows, bit for bit.
 */
class FoldFastPathTest {

  private static final FieldType[] KEY_TYPES = {
      FieldType.STRING, FieldType.LONG, FieldType.DOUBLE, FieldType.BOOLEAN, FieldType.TIMESTAMP};
  private static final String[] AGGREGATES = {
      "count", "count(l)", "sum(l)", "sum(d)", "min(l)", "max(d)", "min(ts)", "avg(l)", "last(s)", "first(d)"};

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.seeds", 300));
  }

  private static EventSchema schema(FieldType keyType) {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("l", FieldType.LONG);
    f.put("k", keyType);
    f.put("d", FieldType.DOUBLE);
    f.put("s", FieldType.STRING);
    f.put("ts", FieldType.TIMESTAMP);
    return new EventSchema("e", f, "k", "ts");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldBuildTheSameTableAsTheGenericFold(long seed) {
    Random rnd = new Random(seed);
    FieldType keyType = KEY_TYPES[rnd.nextInt(KEY_TYPES.length)];
    EventSchema schema = schema(keyType);
    ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy(rnd.nextBoolean() ? "k" : " k ");
    boolean fusible = rnd.nextBoolean();
    int n = 1 + rnd.nextInt(4);
    for (int i = 0; i < n; i++) {
      String call = AGGREGATES[rnd.nextInt(fusible ? 8 : AGGREGATES.length)];
      b.aggregate("a" + i, call + randomWhere(rnd));
    }
    if (rnd.nextInt(3) == 0) {
      b.tumbling(Duration.ofMillis(1 + rnd.nextInt(50)));
    }
    if (rnd.nextInt(3) == 0) {
      b.filter("l > 0");
    }
    ViewSpec spec = b.build();
    ViewProgram fast = new ViewProgram(spec, schema, true);
    ViewProgram generic = new ViewProgram(spec, schema, false);
    String context = String.format("seed %d, key %s, %s", seed, keyType, spec);
    assertThat(fast.groupsByRecordKey()).as(context).isTrue();
    assertThat(generic.groupsByRecordKey() || generic.isFused()).as(context).isFalse();
    if (fusible) {
      assertThat(fast.isFused()).as(context).isTrue();
    }

    List<Rec> records = randomRecords(rnd, schema, keyType, 1 + rnd.nextInt(2000));
    ByteOrder order = ByteOrder.BIG_ENDIAN; // the log's, and the event encoding's
    GroupTable fastTable = fold(fast, records, order, rnd.nextInt(64) + 1);
    GroupTable genericTable = fold(generic, records, order, rnd.nextInt(64) + 1);
    assertSameTables(fast, fastTable, genericTable, context);
  }

  /**
   * A view grouped by a constant looks its one key up once per table, not per event: the same
   * table as the generic fold, also when the table is cleared (as a batch spill clears it) between
   * chunks and the key must be inserted again.
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFoldAConstantKeyAsTheGenericFold(long seed) {
    Random rnd = new Random(seed);
    FieldType keyType = KEY_TYPES[rnd.nextInt(KEY_TYPES.length)];
    EventSchema schema = schema(keyType);
    ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy(rnd.nextBoolean() ? "'all'" : "42");
    int n = 1 + rnd.nextInt(4);
    for (int i = 0; i < n; i++) {
      b.aggregate("a" + i, AGGREGATES[rnd.nextInt(AGGREGATES.length)] + randomWhere(rnd));
    }
    if (rnd.nextBoolean()) {
      b.tumbling(Duration.ofMillis(1 + rnd.nextInt(50)));
    }
    ViewSpec spec = b.build();
    ViewProgram fast = new ViewProgram(spec, schema, true);
    ViewProgram generic = new ViewProgram(spec, schema, false);
    String context = String.format("seed %d, %s", seed, spec);
    List<Rec> records = randomRecords(rnd, schema, keyType, 1 + rnd.nextInt(2000));
    int clearAfter = rnd.nextInt(records.size() + 1); // records folded before the tables are cleared
    GroupTable fastTable = program(fast, records, clearAfter);
    GroupTable genericTable = program(generic, records, clearAfter);
    assertThat(genericTable.keyCount()).as(context).isLessThanOrEqualTo(1);
    assertSameTables(fast, fastTable, genericTable, context);
  }

  /** Folds {@code records} one by one with {@code apply}, clearing the table after the first {@code clearAfter}. */
  private static GroupTable program(ViewProgram program, List<Rec> records, int clearAfter) {
    GroupTable table = program.newTable(4);
    ViewProgram.Scratch x = program.scratch();
    RecordChunk chunk = new RecordChunk();
    ListCursor c = new ListCursor(records, ByteOrder.BIG_ENDIAN);
    int folded = 0;
    boolean more = c.next();
    while (more) {
      more = chunk.fill(c, Long.MAX_VALUE, 1);
      if (folded++ == clearAfter) {
        table.clear();
      }
      program.apply(table, x, chunk, 0, 0);
      chunk.clear();
    }
    return table;
  }

  private static final String[] CONDITIONS = {"l > 0", "d < 0.5", "l % 3 == 1 && d > 0.0"};

  /**
   * Nothing, or a random aggregation {@code where} condition over the test schema's fields (some
   * rows then skip some aggregations per event; a condition over a null field fails the event).
   */
  static String randomWhere(Random rnd) {
    return rnd.nextInt(3) == 0 ? " where " + CONDITIONS[rnd.nextInt(CONDITIONS.length)] : "";
  }

  @ParameterizedTest
  @EnumSource(value = FieldType.class)
  void shouldEncodeTheRecordKeyAsTheTextThatGroupingByTheKeyFieldExtracts(FieldType keyType) {
    EventSchema schema = schema(keyType);
    KeyExtractor extractor = new Expressions(schema).key("k");
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    EventReader reader = new EventReader(schema);
    KeyBuffer key = new KeyBuffer();
    for (long seed = 0; seed < 20; seed++) {
      Random rnd = new Random(seed);
      for (int i = 0; i < 200; i++) {
        Map<String, Object> event = randomEvent(rnd, keyType, i);
        assertThat(encoder.encode(event, 0L, enc)).as("seed %d: %s", seed, event).isNull();
        reader.wrap(ByteBuffer.wrap(enc.value(), 0, enc.valueLength()), 0, enc.valueLength());
        assertThat(extractor.extract(reader, key)).isTrue();
        assertThat(Arrays.copyOf(key.bytes(), key.length())).as("seed %d: %s", seed, event).isEqualTo(enc.key());
      }
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFindKeysGivenAsBufferSlicesAsKeysGivenAsArrays(long seed) {
    Random rnd = new Random(seed);
    GroupTable table = new GroupTable(1, 0, 4, (l, lb, o, ob) -> l[lb] = 0, false);
    ByteBuffer big = ByteBuffer.allocateDirect(64).order(ByteOrder.BIG_ENDIAN);
    ByteBuffer little = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
    List<byte[]> seen = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      byte[] key;
      if (!seen.isEmpty() && rnd.nextBoolean()) {
        // a key seen before, or one that differs from it in one byte only
        key = seen.get(rnd.nextInt(seen.size())).clone();
        if (key.length > 0 && rnd.nextBoolean()) {
          key[rnd.nextInt(key.length)] ^= (byte) (1 + rnd.nextInt(255));
        }
      } else {
        key = new byte[rnd.nextInt(30)];
        for (int j = 0; j < key.length; j++) {
          key[j] = (byte) (rnd.nextInt(3) == 0 ? rnd.nextInt(256) : 'a' + rnd.nextInt(2));
        }
      }
      seen.add(key);
      int off = rnd.nextInt(64 - key.length + 1);
      ByteBuffer b = rnd.nextBoolean() ? big : little;
      b.put(off, key);
      assertThat(GroupTable.hash(b, off, key.length)).isEqualTo(GroupTable.hash(key, key.length));
      // Two bits of hash only: nearly every probe meets other keys of the same hash, so the byte
      // compare (prefix, arena rest, tails) decides.
      int hash = GroupTable.hash(key, key.length) & 3;
      int expected = table.findKey(key, key.length, hash);
      int id = rnd.nextBoolean() ? table.findOrInsertKey(b, off, key.length, hash)
          : table.findOrInsertKey(key, key.length, hash);
      String context = String.format("seed %d, key %s, %s", seed, Arrays.toString(key), b.order());
      if (expected >= 0) {
        assertThat(id).as(context).isEqualTo(expected);
      } else {
        assertThat(id).as(context).isEqualTo(table.keyCount() - 1);
      }
      assertThat(table.keyCopy(id)).as(context).isEqualTo(key);
      assertThat(table.findOrInsertKey(b, off, key.length, hash)).as(context).isEqualTo(id);
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * The fold tells the speed layer which events it left out for having no group key (so that it can
   * say so once), apart from events the filter rejects and events it folded.
   */
  @org.junit.jupiter.api.Test
  void shouldTellAnEventWithoutAGroupKeyFromOneTheFilterRejected() {
    EventSchema schema = schema(FieldType.STRING);
    ViewProgram program = new ViewProgram(ViewSpec.builder("v").from("e").groupBy("s").filter("l > 0")
        .aggregate("n", "count").build(), schema);
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    List<Rec> records = new ArrayList<>();
    List<Map<String, Object>> events = List.of(Map.of("k", "a", "l", 1L, "s", "x", "ts", 1L),
        Map.of("k", "b", "l", 1L, "ts", 2L), Map.of("k", "c", "l", -1L, "ts", 3L),
        Map.of("k", "d", "l", -1L, "s", "y", "ts", 4L));
    for (Map<String, Object> e : events) {
      assertThat(encoder.encode(e, 0L, enc)).isNull();
      records.add(new Rec(enc.key().clone(), Arrays.copyOf(enc.value(), enc.valueLength()), enc.eventTime()));
    }
    GroupTable table = program.newTable(4);
    ViewProgram.Scratch x = program.scratch();
    RecordChunk chunk = new RecordChunk();
    ListCursor c = new ListCursor(records, ByteOrder.BIG_ENDIAN);
    c.next();
    chunk.fill(c, Long.MAX_VALUE, RecordChunk.CAPACITY);
    int[] results = new int[chunk.size];
    for (int j = 0; j < chunk.size; j++) {
      results[j] = program.applyTimed(table, x, chunk, j, 0, Long.MIN_VALUE);
    }
    assertThat(results).containsExactly(ViewProgram.FOLDED, ViewProgram.NULL_KEY, 0, 0);
    assertThat(table.keyCount()).isEqualTo(1);
  }

  private record Rec(byte[] key, byte[] value, long eventTime) {}

  private static List<Rec> randomRecords(Random rnd, EventSchema schema, FieldType keyType, int n) {
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    List<Rec> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> event = randomEvent(rnd, keyType, i);
      String reason = encoder.encode(event, 0L, enc);
      if (reason != null) {
        throw new AssertionError(reason + ": " + event);
      }
      out.add(new Rec(enc.key().clone(), Arrays.copyOf(enc.value(), enc.valueLength()), enc.eventTime()));
    }
    return out;
  }

  private static Map<String, Object> randomEvent(Random rnd, FieldType keyType, int i) {
    Map<String, Object> e = new HashMap<>();
    e.put("k", randomKey(rnd, keyType));
    e.put("ts", (long) (i + rnd.nextInt(20)));
    e.put("l", rnd.nextInt(5) == 0 ? null : (long) rnd.nextInt(201) - 100);
    e.put("d", rnd.nextInt(5) == 0 ? null : rnd.nextGaussian() * Math.pow(10, rnd.nextInt(30) - 15));
    e.put("s", rnd.nextInt(5) == 0 ? null : "s" + rnd.nextInt(50));
    return e;
  }

  private static Object randomKey(Random rnd, FieldType keyType) {
    switch (keyType) {
      case STRING: {
        // lengths 0 to 40 so that every tail of the 8-byte compare is hit; some non-ASCII
        StringBuilder s = new StringBuilder();
        int len = rnd.nextInt(3) == 0 ? rnd.nextInt(41) : 12;
        for (int j = 0; j < len; j++) {
          s.append(rnd.nextInt(20) == 0 ? 'é' : (char) ('a' + rnd.nextInt(3)));
        }
        return s.toString();
      }
      case LONG:
        return rnd.nextInt(10) == 0 ? (rnd.nextBoolean() ? Long.MIN_VALUE : Long.MAX_VALUE) : rnd.nextInt(200) - 100L;
      case DOUBLE:
        return rnd.nextInt(10) == 0 ? -0.0 : (rnd.nextInt(100) - 50) / 4.0;
      case BOOLEAN:
        return rnd.nextBoolean();
      default:
        return (long) rnd.nextInt(300);
    }
  }

  /** Folds {@code records} chunk by chunk, as the layers do, into a new table. */
  private static GroupTable fold(ViewProgram program, List<Rec> records, ByteOrder order, int max) {
    GroupTable table = program.newTable(4);
    ViewProgram.Scratch x = program.scratch();
    RecordChunk chunk = new RecordChunk();
    ListCursor c = new ListCursor(records, order);
    boolean more = c.next();
    while (more) {
      more = chunk.fill(c, Long.MAX_VALUE, max);
      chunk.touch(table);
      for (int j = 0; j < chunk.size; j++) {
        program.apply(table, x, chunk, j, 0);
      }
      chunk.clear();
    }
    return table;
  }

  private static void assertSameTables(ViewProgram program, GroupTable fast, GroupTable generic, String context) {
    assertThat(fast.keyCount()).as(context).isEqualTo(generic.keyCount());
    assertThat(fast.groupCount()).as(context).isEqualTo(generic.groupCount());
    ViewProgram.Scratch x = program.scratch();
    for (int id = 0; id < generic.keyCount(); id++) {
      byte[] key = generic.keyCopy(id);
      int other = fast.findKey(key, key.length, GroupTable.hash(key, key.length));
      assertThat(other).as("%s: key %s", context, Arrays.toString(key)).isGreaterThanOrEqualTo(0);
      for (int g = generic.firstGroupOfKey(id); g >= 0; g = generic.nextGroupOfKey(g)) {
        int h = fast.findGroup(other, generic.window(g));
        String where = String.format("%s: key %s, window %d", context, Arrays.toString(key), generic.window(g));
        assertThat(h).as(where).isGreaterThanOrEqualTo(0);
        int w = program.longWidth;
        int hb = h * fast.stride;
        int gb = g * generic.stride;
        assertThat(Arrays.copyOfRange(fast.longs, hb, hb + w)).as(where)
            .isEqualTo(Arrays.copyOfRange(generic.longs, gb, gb + w));
        int ow = program.objectWidth;
        assertThat(program.result(fast.longs, hb, fast.objects, h * ow, x)).as(where)
            .isEqualTo(program.result(generic.longs, gb, generic.objects, g * ow, x));
      }
    }
  }

  /** Records in one buffer of the given byte order, read as a log reader's poll would return them. */
  private static final class ListCursor implements RecordCursor {
    private final ByteBuffer buffer;
    private final int[] keyOffset;
    private final int[] keyLength;
    private final int[] valueOffset;
    private final int[] valueLength;
    private final long[] eventTime;
    private int at = -1;

    ListCursor(List<Rec> records, ByteOrder order) {
      int n = records.size();
      int bytes = 7; // records start at odd positions too
      for (Rec r : records) {
        bytes += r.key().length + r.value().length;
      }
      buffer = ByteBuffer.allocateDirect(bytes).order(order);
      keyOffset = new int[n];
      keyLength = new int[n];
      valueOffset = new int[n];
      valueLength = new int[n];
      eventTime = new long[n];
      int pos = 7;
      for (int i = 0; i < n; i++) {
        Rec r = records.get(i);
        keyOffset[i] = pos;
        keyLength[i] = r.key().length;
        buffer.put(pos, r.key());
        pos += r.key().length;
        valueOffset[i] = pos;
        valueLength[i] = r.value().length;
        buffer.put(pos, r.value());
        pos += r.value().length;
        eventTime[i] = r.eventTime();
      }
    }

    @Override
    public int idOffset() {
      return -1; // records without ids
    }

    @Override
    public int idLength() {
      return 0;
    }

    @Override
    public boolean next() {
      return ++at < keyOffset.length;
    }

    @Override
    public long offset() {
      return at;
    }

    @Override
    public long eventTime() {
      return eventTime[at];
    }

    @Override
    public long ingestTime() {
      return 0;
    }

    @Override
    public ByteBuffer buffer() {
      return buffer;
    }

    @Override
    public int keyOffset() {
      return keyOffset[at];
    }

    @Override
    public int keyLength() {
      return keyLength[at];
    }

    @Override
    public int valueOffset() {
      return valueOffset[at];
    }

    @Override
    public int valueLength() {
      return valueLength[at];
    }
  }
}
