package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * {@code avg} of a double field: a count and a double-double sum (see {@link DoubleDouble}), so
 * the result does not depend on how events are split and merged. Null when there are no values.
 *
 * <pre>
 *   long slot 0: count of non-null values
 *   long slots 1, 2: sum as hi, lo (raw double bits)     object slots: none
 *   binary: header(kind 0)                                when count == 0
 *           header(kind 1) varint(count) hi(8) lo(8)      otherwise
 * </pre>
 */
final class DoubleAvgAggregation implements Aggregation {

  @Override
  public int longSlots() {
    return 3;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(0, 0);
    DoubleDouble.zero(s, 1);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (!in.isNull()) {
      offer(s.longs(), s.longIndex(0), in.doubleValue());
    }
  }

  /**
   * Adds value {@code x} to the state at {@code longs[at ..]}: the one implementation, shared with
   * {@link NumericFold}.
   */
  static void offer(long[] longs, int at, double x) {
    longs[at]++;
    DoubleDouble.add(longs, at + 1, x);
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    into.setLong(0, into.getLong(0) + from.getLong(0));
    DoubleDouble.merge(into, from, 1);
  }

  @Override
  public Object result(AccumulatorState s) {
    long count = s.getLong(0);
    return count == 0 ? null : DoubleDouble.value(s, 1) / count;
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    long count = s.getLong(0);
    if (count == 0) {
      AccumulatorCodec.writeHeader(out, 0);
      return;
    }
    AccumulatorCodec.writeHeader(out, 1);
    AccumulatorCodec.writeVarLong(out, count);
    out.writeLong(s.getLong(1));
    out.writeLong(s.getLong(2));
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    if (AccumulatorCodec.readHeader(in, "avg", 1) == 0) {
      zero(s);
      return;
    }
    s.setLong(0, AccumulatorCodec.readVarLong(in));
    s.setLong(1, in.readLong());
    s.setLong(2, in.readLong());
  }
}
