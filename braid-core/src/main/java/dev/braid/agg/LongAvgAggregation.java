package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.math.BigInteger;

/**
 * {@code avg} of a long field: a count and an exact 128-bit sum, so no realistic input overflows
 * and the result does not depend on how events are split and merged. Null when there are no
 * values; otherwise the sum rounded to a double, divided by the count.
 *
 * <pre>
 *   long slot 0: count of non-null values
 *   long slots 1, 2: sum, low and high 64 bits (two's complement)     object slots: none
 *   binary: header(kind 0)                                       when count == 0
 *           header(kind 1) varint(count) zigzag-varint(low)      when the sum fits in a long
 *           header(kind 2) varint(count) low(8) zigzag-varint(high)  otherwise
 * </pre>
 */
final class LongAvgAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  @Override
  public int longSlots() {
    return 3;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(0, 0);
    s.setLong(1, 0);
    s.setLong(2, 0);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (!in.isNull()) {
      offer(s.longs(), s.longIndex(0), in.longValue());
    }
  }

  /**
   * Adds value {@code x} to the state at {@code longs[at ..]}: the one implementation, shared with
   * {@link NumericFold}.
   */
  static void offer(long[] longs, int at, long x) {
    longs[at]++;
    long oldLow = longs[at + 1];
    long newLow = oldLow + x;
    long carry = Long.compareUnsigned(newLow, oldLow) < 0 ? 1 : 0;
    longs[at + 1] = newLow;
    longs[at + 2] += (x >> 63) + carry;
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    into.setLong(0, into.getLong(0) + from.getLong(0));
    addWide(into, from.getLong(1), from.getLong(2));
  }

  /** Adds the 128-bit value {@code (high, low)} to the sum in slots 1, 2. */
  private static void addWide(AccumulatorState s, long low, long high) {
    long oldLow = s.getLong(1);
    long newLow = oldLow + low;
    long carry = Long.compareUnsigned(newLow, oldLow) < 0 ? 1 : 0;
    s.setLong(1, newLow);
    s.setLong(2, s.getLong(2) + high + carry);
  }

  @Override
  public Object result(AccumulatorState s) {
    long count = s.getLong(0);
    if (count == 0) {
      return null;
    }
    long low = s.getLong(1);
    long high = s.getLong(2);
    if (high == (low >> 63) && Math.abs(low) <= EXACT && count <= EXACT) {
      return (double) low / count; // both exact as doubles: one rounding, the division's
    }
    // The 128-bit sum as a double would round once, the division again: divide exactly instead, to
    // 34 digits, and round that once to the nearest double.
    BigInteger sum = BigInteger.valueOf(high).shiftLeft(64).add(new BigInteger(Long.toUnsignedString(low)));
    return new java.math.BigDecimal(sum).divide(java.math.BigDecimal.valueOf(count), java.math.MathContext.DECIMAL128)
        .doubleValue();
  }

  /** Integers up to 2^53 are exact as doubles. */
  private static final long EXACT = 1L << 53;

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    long count = s.getLong(0);
    long low = s.getLong(1);
    long high = s.getLong(2);
    if (count == 0) {
      AccumulatorCodec.writeHeader(out, 0);
    } else if (high == (low >> 63)) {
      AccumulatorCodec.writeHeader(out, 1);
      AccumulatorCodec.writeVarLong(out, count);
      AccumulatorCodec.writeZigZag(out, low);
    } else {
      AccumulatorCodec.writeHeader(out, 2);
      AccumulatorCodec.writeVarLong(out, count);
      out.writeLong(low);
      AccumulatorCodec.writeZigZag(out, high);
    }
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    int kind = AccumulatorCodec.readHeader(in, "avg", 2);
    if (kind == 0) {
      zero(s);
    } else if (kind == 1) {
      s.setLong(0, AccumulatorCodec.readVarLong(in));
      long low = AccumulatorCodec.readZigZag(in);
      s.setLong(1, low);
      s.setLong(2, low >> 63);
    } else {
      s.setLong(0, AccumulatorCodec.readVarLong(in));
      s.setLong(1, in.readLong());
      s.setLong(2, AccumulatorCodec.readZigZag(in));
    }
  }
}
