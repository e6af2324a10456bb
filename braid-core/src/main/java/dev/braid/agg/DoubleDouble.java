package dev.braid.agg;

/**
 * Double-double summation in two long slots: a sum is kept as an unevaluated pair
 * {@code hi + lo} of doubles (about 106 significant bits), updated with error-free TwoSum steps.
 *
 * <p>Why: plain {@code double} addition is not associative, so a plain double sum would depend on
 * where the batch and speed layers split the events and in which order partial sums are merged,
 * breaking "a read equals a full recomputation". With 106 bits, a sum of doubles whose magnitudes
 * span less than about 50 binary orders of magnitude is held exactly, and {@code hi + lo} is then
 * the correctly rounded sum whatever the split and merge order. Beyond that span the error is
 * still below 2^-100 of the largest partial sum. Infinities and NaN propagate as in plain double
 * arithmetic; a partial sum that overflows to infinity may depend on the order.
 */
final class DoubleDouble {

  private DoubleDouble() {}

  static void zero(AccumulatorState s, int hiSlot) {
    s.setDouble(hiSlot, 0.0);
    s.setDouble(hiSlot + 1, 0.0);
  }

  /** Adds {@code x} to the pair in slots {@code hiSlot, hiSlot + 1}. */
  static void add(AccumulatorState s, int hiSlot, double x) {
    add(s.longs(), s.longIndex(hiSlot), x);
  }

  /**
   * Adds {@code x} to the pair held as raw double bits in {@code longs[at], longs[at + 1]}: the one
   * implementation, shared by {@link #add(AccumulatorState, int, double)} and {@link NumericFold}.
   */
  static void add(long[] longs, int at, double x) {
    double hi = Double.longBitsToDouble(longs[at]);
    double sum = hi + x;
    if (!Double.isFinite(sum)) {
      longs[at] = Double.doubleToRawLongBits(sum);
      longs[at + 1] = Double.doubleToRawLongBits(0.0);
      return;
    }
    // TwoSum: sum + err == hi + x exactly.
    double bv = sum - hi;
    double err = (hi - (sum - bv)) + (x - bv);
    double lo = Double.longBitsToDouble(longs[at + 1]) + err;
    // Renormalize with another TwoSum (no precondition on magnitudes).
    double newHi = sum + lo;
    if (!Double.isFinite(newHi)) {
      longs[at] = Double.doubleToRawLongBits(newHi);
      longs[at + 1] = Double.doubleToRawLongBits(0.0);
      return;
    }
    double bw = newHi - sum;
    longs[at] = Double.doubleToRawLongBits(newHi);
    longs[at + 1] = Double.doubleToRawLongBits((sum - (newHi - bw)) + (lo - bw));
  }

  /** Adds the pair in {@code from}'s slots to the pair in {@code into}'s. */
  static void merge(AccumulatorState into, AccumulatorState from, int hiSlot) {
    double lo = from.getDouble(hiSlot + 1);
    add(into, hiSlot, from.getDouble(hiSlot));
    if (lo != 0.0) {
      add(into, hiSlot, lo);
    }
  }

  /** The pair rounded to the nearest double. */
  static double value(AccumulatorState s, int hiSlot) {
    double hi = s.getDouble(hiSlot);
    return Double.isFinite(hi) ? hi + s.getDouble(hiSlot + 1) : hi;
  }
}
