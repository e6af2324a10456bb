package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * {@code sum} of a long field. Overflow wraps around in two's complement, as Java's {@code +} does;
 * wrapping addition is associative and commutative, so the result still does not depend on how
 * events are split and merged. The sum of no values is 0.
 *
 * <pre>
 *   long slot 0: sum            object slots: none
 *   binary:      header(kind 0) zigzag-varint(sum)
 * </pre>
 */
final class LongSumAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  @Override
  public int longSlots() {
    return 1;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(0, 0);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (!in.isNull()) {
      s.setLong(0, s.getLong(0) + in.longValue());
    }
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    into.setLong(0, into.getLong(0) + from.getLong(0));
  }

  @Override
  public Object result(AccumulatorState s) {
    return s.getLong(0);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    AccumulatorCodec.writeHeader(out, 0);
    AccumulatorCodec.writeZigZag(out, s.getLong(0));
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    AccumulatorCodec.readHeader(in, "sum", 0);
    s.setLong(0, AccumulatorCodec.readZigZag(in));
  }
}
