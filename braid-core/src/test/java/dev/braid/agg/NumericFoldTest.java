package dev.braid.agg;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link NumericFold} adds exactly what each aggregation's own {@code add} adds: over seeded random
 * rows of the aggregations it fuses and random events (nulls, overflowing longs, signed zeros,
 * doubles that overflow to infinity), the state rows of both folds are equal bit for bit.
 */
class NumericFoldTest {

  private static final EventSchema SCHEMA = schema();
  private static final String[] FUSED = {
      "count", "count(l1)", "count(d1)", "count(s)", "count(b)", "sum(l1)", "sum(l2)", "sum(d1)", "sum(d2)",
      "min(l1)", "max(l2)", "min(d1)", "max(d2)", "max(d1)", "min(t)", "max(t)", "min(l2)", "avg(l1)", "avg(l2)",
      "avg(d1)", "avg(d2)"};
  private static final String[] NOT_FUSED = {"first(l1)", "last(s)", "count_distinct(l1)"};

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.seeds", 300));
  }

  private static EventSchema schema() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("k", FieldType.STRING);
    f.put("l1", FieldType.LONG);
    f.put("l2", FieldType.LONG);
    f.put("d1", FieldType.DOUBLE);
    f.put("d2", FieldType.DOUBLE);
    f.put("t", FieldType.TIMESTAMP);
    f.put("s", FieldType.STRING);
    f.put("b", FieldType.BOOLEAN);
    return new EventSchema("e", f, "k", "t");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldAddExactlyWhatEachAggregationAdds(long seed) {
    Random rnd = new Random(seed);
    // Every fifth seed the commonest row, count + sum of a long, which the fold has a path of its own for.
    Row row = seed % 5 == 0 ? Row.of(List.of("count", "sum(l" + (1 + rnd.nextInt(2)) + ")"))
        : Row.random(rnd, FUSED, 1 + rnd.nextInt(6));
    NumericFold fold = row.fold();
    assertThat(fold).as("seed %d: %s is fusible", seed, row.calls).isNotNull();

    long[] generic = row.zeroRow();
    long[] fused = row.zeroRow();
    EventEncoder encoder = new EventEncoder(SCHEMA);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    long[] extracted = row.zeroRow();
    byte[] values = new byte[fold.extractedBytes()];
    EventReader reader = new EventReader(SCHEMA);
    boolean conditions = rnd.nextBoolean(); // some events skip some ops, as where conditions do
    int events = 1 + rnd.nextInt(300);
    for (int e = 0; e < events; e++) {
      Map<String, Object> event = randomEvent(rnd, e);
      assertThat(encoder.encode(event, 0L, enc)).as("seed %d: %s", seed, event).isNull();
      ByteBuffer b = ByteBuffer.wrap(enc.value(), 0, enc.valueLength());
      reader.wrap(b, 0, enc.valueLength()).at(0, e, e);
      long skip = conditions ? rnd.nextLong() & ((1L << row.aggs.length) - 1) : 0L;
      row.addGeneric(generic, reader, skip);
      fold.add(fused, 0, reader, skip);
      long applies = fold.extract(reader, values, 0, fold.ops(), skip);
      fold.addExtracted(extracted, 0, values, 0, applies, fold.ops());
      assertThat(fused).as("seed %d, %s, skip %s, after event %d: %s", seed, row.calls, Long.toBinaryString(skip),
          e, event).isEqualTo(generic);
      assertThat(extracted).as("seed %d, %s, extracted, skip %s, after event %d: %s", seed, row.calls,
          Long.toBinaryString(skip), e, event).isEqualTo(generic);
    }
  }

  @Test
  void shouldNotFuseRowsWithOtherAggregations() {
    for (String other : NOT_FUSED) {
      Row row = Row.of(List.of("count", other, "sum(l1)"));
      assertThat(row.fold()).as(other).isNull();
    }
    Aggregation userSum = new Aggregation() {
      public int longSlots() {
        return 1;
      }

      public void zero(AccumulatorState s) {}

      public void add(AccumulatorState s, AggInput in) {}

      public void merge(AccumulatorState into, AccumulatorState from) {}

      public Object result(AccumulatorState s) {
        return null;
      }

      public void write(AccumulatorState s, java.io.DataOutput out) {}

      public void read(AccumulatorState s, java.io.DataInput in) {}
    };
    assertThat(NumericFold.of(new Aggregation[] {userSum}, new int[] {1}, new FieldType[] {FieldType.LONG},
        new int[] {0})).isNull();
  }

  private static Map<String, Object> randomEvent(Random rnd, int i) {
    Map<String, Object> e = new HashMap<>();
    e.put("k", "k" + rnd.nextInt(5));
    e.put("t", (long) i);
    e.put("l1", maybeNull(rnd, randomLong(rnd)));
    e.put("l2", maybeNull(rnd, randomLong(rnd)));
    e.put("d1", maybeNull(rnd, randomDouble(rnd)));
    e.put("d2", maybeNull(rnd, randomDouble(rnd)));
    e.put("s", maybeNull(rnd, "s" + rnd.nextInt(100)));
    e.put("b", maybeNull(rnd, rnd.nextBoolean()));
    if (rnd.nextInt(4) == 0) { // an event time far off, up to the edges of the years 0000-9999 it may lie in
      long t = randomLong(rnd);
      e.put("t", t >= EventEncoder.MIN_EVENT_TIME && t <= EventEncoder.MAX_EVENT_TIME ? t
          : t > 0 ? EventEncoder.MAX_EVENT_TIME - rnd.nextInt(3) : EventEncoder.MIN_EVENT_TIME + rnd.nextInt(3));
    }
    return e;
  }

  private static Object maybeNull(Random rnd, Object v) {
    return rnd.nextInt(5) == 0 ? null : v;
  }

  private static long randomLong(Random rnd) {
    switch (rnd.nextInt(5)) {
      case 0:
        return Long.MAX_VALUE - rnd.nextInt(3);
      case 1:
        return Long.MIN_VALUE + rnd.nextInt(3);
      case 2:
        return rnd.nextLong();
      default:
        return rnd.nextInt(2001) - 1000;
    }
  }

  private static double randomDouble(Random rnd) {
    switch (rnd.nextInt(7)) {
      case 0:
        return rnd.nextBoolean() ? 0.0 : -0.0;
      case 1:
        return (rnd.nextBoolean() ? 1 : -1) * Double.MAX_VALUE * rnd.nextDouble();
      case 2:
        return Double.MIN_VALUE * rnd.nextInt(5);
      case 3:
        return rnd.nextGaussian() * 1e-300;
      case 4:
        return rnd.nextGaussian() * Math.pow(10, rnd.nextInt(40));
      default:
        return rnd.nextInt(1000) / 8.0;
    }
  }

  /** A row of aggregations laid out as a view lays it out. */
  private static final class Row {
    final List<String> calls;
    final Aggregation[] aggs;
    final int[] field;
    final FieldType[] type;
    final int[] base;
    final int width;

    private Row(List<String> calls) {
      this.calls = calls;
      int n = calls.size();
      aggs = new Aggregation[n];
      field = new int[n];
      type = new FieldType[n];
      base = new int[n];
      int w = 0;
      for (int i = 0; i < n; i++) {
        AggregateCall call = Aggregations.parse(calls.get(i));
        field[i] = call.field() == null ? -1 : SCHEMA.require(call.field()).index();
        type[i] = call.field() == null ? null : SCHEMA.require(call.field()).type();
        aggs[i] = Aggregations.create(call, type[i]);
        base[i] = w;
        w += aggs[i].longSlots();
      }
      width = w;
    }

    static Row of(List<String> calls) {
      return new Row(calls);
    }

    static Row random(Random rnd, String[] from, int n) {
      List<String> calls = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        calls.add(from[rnd.nextInt(from.length)]);
      }
      return new Row(calls);
    }

    NumericFold fold() {
      return NumericFold.of(aggs, field, type, base);
    }

    long[] zeroRow() {
      long[] longs = new long[Math.max(1, width)];
      AccumulatorState s = new AccumulatorState();
      for (int i = 0; i < aggs.length; i++) {
        aggs[i].zero(s.bind(longs, base[i], new Object[1], 0));
      }
      return longs;
    }

    /**
     * The generic fold: an input per aggregation, as the engine sets it, then its {@code add};
     * aggregations in {@code skip} are left alone.
     */
    void addGeneric(long[] longs, EventReader e, long skip) {
      AggInput in = new AggInput().at(e.eventTime(), e.partition(), e.offset());
      AccumulatorState s = new AccumulatorState();
      for (int i = 0; i < aggs.length; i++) {
        if ((skip & (1L << i)) != 0) {
          continue;
        }
        int f = field[i];
        if (f >= 0) {
          if (e.isNull(f)) {
            in.setNull(type[i]);
          } else if (type[i] == FieldType.STRING) {
            in.setString(e.buffer(), e.stringOffset(f), e.stringLength(f));
          } else if (type[i] == FieldType.DOUBLE) {
            in.setDouble(e.getDouble(f));
          } else {
            in.setLong(type[i], e.getLong(f));
          }
        }
        aggs[i].add(s.bind(longs, base[i], new Object[1], 0), in);
      }
    }
  }
}
