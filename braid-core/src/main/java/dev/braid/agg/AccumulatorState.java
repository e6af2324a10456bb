package dev.braid.agg;

/**
 * A window onto one aggregation's accumulator inside a row of state arenas. The engine keeps the
 * state of all groups in flat arrays ({@code long[]} for fixed-width state, {@code Object[]} for
 * sketches and other objects) and points one reused {@code AccumulatorState} at the slots of the
 * group being updated, so the hot path allocates nothing per event or per group.
 *
 * <p>Slot indexes are relative to the aggregation: slot 0 is the first of the
 * {@link Aggregation#longSlots()} long words (or {@link Aggregation#objectSlots()} references) that
 * the aggregation declared. Not thread-safe; one instance per thread.
 */
public final class AccumulatorState {

  private long[] longs;
  private int longBase;
  private Object[] objects;
  private int objectBase;

  /** A state that points nowhere yet. */
  public AccumulatorState() {}

  /** A standalone state with its own arrays, for tests and tools. */
  public static AccumulatorState standalone(Aggregation aggregation) {
    AccumulatorState s = new AccumulatorState();
    s.bind(new long[Math.max(1, aggregation.longSlots())], 0, new Object[Math.max(1, aggregation.objectSlots())], 0);
    aggregation.zero(s);
    return s;
  }

  /** Points this state at the given slots. */
  public AccumulatorState bind(long[] longs, int longBase, Object[] objects, int objectBase) {
    this.longs = longs;
    this.longBase = longBase;
    this.objects = objects;
    this.objectBase = objectBase;
    return this;
  }

  /** The long arena this state is bound to, for fused folds in this package. */
  long[] longs() {
    return longs;
  }

  /** The index in {@link #longs()} of long slot {@code slot}. */
  int longIndex(int slot) {
    return longBase + slot;
  }

  public long getLong(int slot) {
    return longs[longBase + slot];
  }

  public void setLong(int slot, long value) {
    longs[longBase + slot] = value;
  }

  public double getDouble(int slot) {
    return Double.longBitsToDouble(longs[longBase + slot]);
  }

  public void setDouble(int slot, double value) {
    longs[longBase + slot] = Double.doubleToRawLongBits(value);
  }

  public Object getObject(int slot) {
    return objects[objectBase + slot];
  }

  public void setObject(int slot, Object value) {
    objects[objectBase + slot] = value;
  }
}
