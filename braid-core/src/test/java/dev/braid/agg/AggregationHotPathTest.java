package dev.braid.agg;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.FieldType;
import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code add} of the numeric built-ins allocates nothing per event (STYLE.md: hot paths allocate nothing). */
class AggregationHotPathTest {

  private static final int EVENTS = 200_000;
  private static final java.nio.ByteBuffer STRINGS =
      java.nio.ByteBuffer.wrap("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".getBytes(
          java.nio.charset.StandardCharsets.UTF_8));

  @ParameterizedTest(name = "{0} over {1}")
  @CsvSource(delimiter = '|', nullValues = "none", value = {
      "count             | none",
      "count(f)          | LONG",
      "sum(f)            | LONG",
      "sum(f)            | DOUBLE",
      "min(f)            | LONG",
      "max(f)            | DOUBLE",
      "max(f)            | TIMESTAMP",
      "avg(f)            | LONG",
      "avg(f)            | DOUBLE",
      "first(f)          | LONG",
      "last(f)           | DOUBLE",
      "last(f)           | BOOLEAN",
      "count_distinct(f) | LONG",
      "count_distinct(f) | STRING",
      "first(f)          | STRING",
      "last(f)           | STRING",
  })
  void shouldNotAllocateInAdd(String spec, FieldType type) {
    com.sun.management.ThreadMXBean threads = allocationCounter();
    Aggregation agg = Aggregations.create(Aggregations.parse(spec), type);
    Random random = new Random(42);
    long[] values = new long[1024];
    for (int i = 0; i < values.length; i++) {
      values[i] = random.nextInt(50); // few distinct: count_distinct stays in its exact set
    }
    long[] longs = new long[agg.longSlots() * 16];
    Object[] objects = new Object[Math.max(1, agg.objectSlots() * 16)];
    AccumulatorState s = new AccumulatorState();
    for (int g = 0; g < 16; g++) {
      agg.zero(s.bind(longs, g * agg.longSlots(), objects, g * agg.objectSlots()));
    }
    AggInput in = new AggInput();
    // Warm up, and let count_distinct's set and first/last's string buffers reach their size.
    boolean first = spec.startsWith("first");
    run(agg, type, s, in, longs, objects, values, 0, first);
    long thread = Thread.currentThread().getId();
    long before = threads.getThreadAllocatedBytes(thread);
    run(agg, type, s, in, longs, objects, values, EVENTS, first);
    long allocated = threads.getThreadAllocatedBytes(thread) - before;

    assertThat(allocated).as("%s over %s: bytes allocated by %d adds", spec, type, EVENTS).isLessThan(1024);
  }

  @org.junit.jupiter.api.Test
  void shouldNotAllocateInTheFusedAdd() {
    com.sun.management.ThreadMXBean threads = allocationCounter();
    java.util.Map<String, FieldType> fields = new java.util.LinkedHashMap<>();
    fields.put("k", FieldType.STRING);
    fields.put("l", FieldType.LONG);
    fields.put("d", FieldType.DOUBLE);
    dev.braid.event.EventSchema schema = new dev.braid.event.EventSchema("e", fields, "k", null);
    String[] calls = {"count", "sum(l)", "sum(d)", "min(l)", "max(d)", "count(d)"};
    Aggregation[] aggs = new Aggregation[calls.length];
    int[] field = new int[calls.length];
    FieldType[] type = new FieldType[calls.length];
    int[] base = new int[calls.length];
    int width = 0;
    for (int i = 0; i < calls.length; i++) {
      AggregateCall call = Aggregations.parse(calls[i]);
      field[i] = call.field() == null ? -1 : schema.require(call.field()).index();
      type[i] = call.field() == null ? null : schema.require(call.field()).type();
      aggs[i] = Aggregations.create(call, type[i]);
      base[i] = width;
      width += aggs[i].longSlots();
    }
    NumericFold fold = NumericFold.of(aggs, field, type, base);
    dev.braid.event.EventEncoder.Encoded enc = new dev.braid.event.EventEncoder.Encoded();
    assertThat(new dev.braid.event.EventEncoder(schema).encode(java.util.Map.of("k", "a", "l", 3L, "d", 0.5), 0L,
        enc)).isNull();
    dev.braid.event.EventReader reader = new dev.braid.event.EventReader(schema)
        .wrap(java.nio.ByteBuffer.wrap(enc.value()), 0, enc.valueLength());
    long[] longs = new long[width * 16];
    for (int i = 0; i < EVENTS; i++) {
      fold.add(longs, (i & 15) * width, reader);
    }
    long thread = Thread.currentThread().getId();
    long before = threads.getThreadAllocatedBytes(thread);
    for (int i = 0; i < EVENTS; i++) {
      fold.add(longs, (i & 15) * width, reader);
    }
    long allocated = threads.getThreadAllocatedBytes(thread) - before;
    assertThat(allocated).as("bytes allocated by %d fused adds", EVENTS).isLessThan(1024);
  }

  private static com.sun.management.ThreadMXBean allocationCounter() {
    try {
      return (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    } catch (ClassCastException e) {
      Assumptions.abort("no per-thread allocation counter on this JVM");
      throw e; // not reached: abort throws
    }
  }

  private static void run(Aggregation agg, FieldType type, AccumulatorState s, AggInput in, long[] longs,
      Object[] objects, long[] values, long base, boolean descending) {
    for (int i = 0; i < EVENTS; i++) {
      int g = i & 15;
      s.bind(longs, g * agg.longSlots(), objects, g * agg.objectSlots());
      long t = base + i; // every event is a new first (descending times) or a new last
      in.at(descending ? -t : t, i & 3, t);
      long v = values[i & 1023];
      if (type == null) {
        in.setNull(null);
      } else if (type == FieldType.STRING) {
        int at = (int) v; // strings of 0..49 bytes, all within one buffer
        in.setString(STRINGS, at, 49 - at);
      } else if (type == FieldType.DOUBLE) {
        in.setDouble(v * 0.5);
      } else {
        in.setLong(type, type == FieldType.BOOLEAN ? v & 1 : v);
      }
      agg.add(s, in);
    }
  }
}
