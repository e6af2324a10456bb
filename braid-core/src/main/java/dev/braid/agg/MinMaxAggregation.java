package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.List;
import java.util.Set;

/**
 * {@code min} and {@code max} of a long, double or timestamp field. Null when there are no
 * values. Doubles compare as {@link Math#min(double, double)} does: {@code -0.0 < 0.0}, and NaN
 * wins over every number, so one NaN makes the result NaN.
 *
 * <pre>
 *   long slot 0: 1 once a value was seen, else 0
 *   long slot 1: the value (a long, epoch millis, or raw double bits)     object slots: none
 *   binary: header(kind 0)                  when empty
 *           header(kind 1) zigzag-varint    a long or timestamp value
 *           header(kind 1) 8 bytes          a double value
 * </pre>
 */
final class MinMaxAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  private static final Set<FieldType> ACCEPTED = Set.of(FieldType.LONG, FieldType.DOUBLE, FieldType.TIMESTAMP);

  private final String name;
  private final boolean max;
  private final boolean doubles;

  private MinMaxAggregation(String name, boolean max, boolean doubles) {
    this.name = name;
    this.max = max;
    this.doubles = doubles;
  }

  static Aggregation create(String name, boolean max, FieldType type, List<String> parameters) {
    Arguments.requireField(name, type, ACCEPTED);
    Arguments.requireNoParameters(name, parameters);
    return new MinMaxAggregation(name, max, type == FieldType.DOUBLE);
  }

  @Override
  public int longSlots() {
    return 2;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(0, 0);
    s.setLong(1, 0);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (in.isNull()) {
      return;
    }
    if (doubles) {
      offerDouble(s, in.doubleValue());
    } else {
      offerLong(s, in.longValue());
    }
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    if (from.getLong(0) == 0) {
      return;
    }
    if (doubles) {
      offerDouble(into, from.getDouble(1));
    } else {
      offerLong(into, from.getLong(1));
    }
  }

  private void offerLong(AccumulatorState s, long v) {
    offerLong(s.longs(), s.longIndex(0), v, max);
  }

  private void offerDouble(AccumulatorState s, double v) {
    offerDouble(s.longs(), s.longIndex(0), v, max);
  }

  /**
   * Offers {@code v} to the state in {@code longs[at]} (seen flag) and {@code longs[at + 1]} (the
   * value): the one implementation, shared with {@link NumericFold}.
   */
  static void offerLong(long[] longs, int at, long v, boolean max) {
    if (longs[at] == 0) {
      longs[at] = 1;
      longs[at + 1] = v;
    } else {
      long current = longs[at + 1];
      longs[at + 1] = max ? Math.max(current, v) : Math.min(current, v);
    }
  }

  /** {@link #offerLong} for a double value kept as raw bits. */
  static void offerDouble(long[] longs, int at, double v, boolean max) {
    if (longs[at] == 0) {
      longs[at] = 1;
      longs[at + 1] = Double.doubleToRawLongBits(v);
    } else {
      double current = Double.longBitsToDouble(longs[at + 1]);
      longs[at + 1] = Double.doubleToRawLongBits(max ? Math.max(current, v) : Math.min(current, v));
    }
  }

  boolean isMax() {
    return max;
  }

  boolean isDoubles() {
    return doubles;
  }

  @Override
  public Object result(AccumulatorState s) {
    if (s.getLong(0) == 0) {
      return null;
    }
    return doubles ? (Object) s.getDouble(1) : (Object) s.getLong(1);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    if (s.getLong(0) == 0) {
      AccumulatorCodec.writeHeader(out, 0);
      return;
    }
    AccumulatorCodec.writeHeader(out, 1);
    if (doubles) {
      out.writeLong(s.getLong(1));
    } else {
      AccumulatorCodec.writeZigZag(out, s.getLong(1));
    }
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    if (AccumulatorCodec.readHeader(in, name, 1) == 0) {
      zero(s);
      return;
    }
    s.setLong(0, 1);
    s.setLong(1, doubles ? in.readLong() : AccumulatorCodec.readZigZag(in));
  }
}
