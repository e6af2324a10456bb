package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * {@code sum} of a double field, kept as a double-double so that the result does not depend on how
 * events are split and merged (see {@link DoubleDouble}). The sum of no values is 0.0.
 *
 * <pre>
 *   long slots 0, 1: hi, lo (raw double bits)      object slots: none
 *   binary: header(kind 0)                          when hi == lo == 0
 *           header(kind 1) hi(8)                    when lo == 0
 *           header(kind 2) hi(8) lo(8)              otherwise
 * </pre>
 */
final class DoubleSumAggregation implements Aggregation {

  @Override
  public int longSlots() {
    return 2;
  }

  @Override
  public void zero(AccumulatorState s) {
    DoubleDouble.zero(s, 0);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (!in.isNull()) {
      DoubleDouble.add(s, 0, in.doubleValue());
    }
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    DoubleDouble.merge(into, from, 0);
  }

  @Override
  public Object result(AccumulatorState s) {
    return DoubleDouble.value(s, 0);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    writePair(s, 0, out);
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    readPair(s, 0, AccumulatorCodec.readHeader(in, "sum", 2), in);
  }

  static void writePair(AccumulatorState s, int hiSlot, DataOutput out) throws IOException {
    long hi = s.getLong(hiSlot);
    long lo = s.getLong(hiSlot + 1);
    if (lo == 0 && hi == 0) {
      AccumulatorCodec.writeHeader(out, 0);
    } else if (lo == 0) {
      AccumulatorCodec.writeHeader(out, 1);
      out.writeLong(hi);
    } else {
      AccumulatorCodec.writeHeader(out, 2);
      out.writeLong(hi);
      out.writeLong(lo);
    }
  }

  static void readPair(AccumulatorState s, int hiSlot, int kind, DataInput in) throws IOException {
    s.setLong(hiSlot, kind >= 1 ? in.readLong() : 0);
    s.setLong(hiSlot + 1, kind == 2 ? in.readLong() : 0);
  }
}
