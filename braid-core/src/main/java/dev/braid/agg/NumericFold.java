package dev.braid.agg;

import dev.braid.event.EventReader;
import dev.braid.event.FieldType;

/**
 * The {@link Aggregation#add} of a whole state row at once, for rows whose aggregations are all
 * built-in {@code count}, {@code sum}, {@code min} or {@code max} over fields read straight from the
 * encoded event. Engine-internal: views use it on their fold path when {@link #of} accepts their
 * row; user code has no need for it.
 *
 * <h2>Why</h2>
 * The generic fold sets an {@link AggInput} per aggregation, binds an {@link AccumulatorState} and
 * calls {@code add} through the interface: per event and aggregation a few stores, a megamorphic
 * call once a JVM runs views of different shapes, and loads that the JIT cannot keep in registers.
 * This class compiles the row once into op codes and folds an event with one switch per
 * aggregation, reading the field from the event and updating the row's {@code long} slots in place.
 *
 * <h2>Same results</h2>
 * It is not a second implementation of the aggregations: each op calls the static helper that the
 * aggregation's own {@code add} calls ({@link DoubleDouble#add(long[], int, double)},
 * {@link MinMaxAggregation#offerLong}, {@link MinMaxAggregation#offerDouble}) or is the same one-line
 * long addition (counts and long sums wrap on overflow, as Java's {@code +}). Null values are skipped
 * exactly where the aggregation's {@code add} skips them. {@code zero}, {@code merge}, {@code result}
 * and the codec stay the aggregation's. {@link #of} accepts only the built-in classes with the
 * argument types they were created for, so a user aggregation registered under a built-in's name
 * is never fused. {@code NumericFoldTest} compares it with the generic fold on random rows.
 *
 * <p>Immutable and shared by all threads.
 */
public final class NumericFold {

  private static final int COUNT = 0;
  private static final int COUNT_VALUES = 1;
  private static final int LONG_SUM = 2;
  private static final int DOUBLE_SUM = 3;
  private static final int LONG_MIN = 4;
  private static final int LONG_MAX = 5;
  private static final int DOUBLE_MIN = 6;
  private static final int DOUBLE_MAX = 7;

  private final int[] op;
  private final int[] field;
  private final int[] slot;
  /** The row is exactly {@code count} then {@code sum} of a long field, the commonest view. */
  private final boolean countLongSum;

  private NumericFold(int[] op, int[] field, int[] slot) {
    this.op = op;
    this.field = field;
    this.slot = slot;
    this.countLongSum = op.length == 2 && op[0] == COUNT && op[1] == LONG_SUM;
  }

  /**
   * The fused fold of a row, or null when some aggregation is not one it fuses.
   *
   * @param aggregations the row's aggregations, in row order
   * @param argField each aggregation's argument field index in the event, or -1 for none
   * @param argType each aggregation's argument type, or null for none
   * @param longBase the index of each aggregation's first long slot within the row
   */
  public static NumericFold of(Aggregation[] aggregations, int[] argField, FieldType[] argType, int[] longBase) {
    int n = aggregations.length;
    int[] op = new int[n];
    for (int i = 0; i < n; i++) {
      op[i] = opOf(aggregations[i], argField[i], argType[i]);
      if (op[i] < 0) {
        return null;
      }
    }
    return new NumericFold(op, argField.clone(), longBase.clone());
  }

  private static int opOf(Aggregation a, int field, FieldType type) {
    if (a.objectSlots() != 0) {
      return -1;
    }
    Class<?> c = a.getClass();
    if (c == CountAggregation.class) {
      if (((CountAggregation) a).countsEvents()) {
        return COUNT;
      }
      return field >= 0 ? COUNT_VALUES : -1;
    }
    if (field < 0) {
      return -1;
    }
    if (c == LongSumAggregation.class) {
      return type == FieldType.LONG || type == FieldType.TIMESTAMP ? LONG_SUM : -1;
    }
    if (c == DoubleSumAggregation.class) {
      return type == FieldType.DOUBLE ? DOUBLE_SUM : -1;
    }
    if (c == MinMaxAggregation.class) {
      MinMaxAggregation m = (MinMaxAggregation) a;
      if (m.isDoubles()) {
        return type == FieldType.DOUBLE ? (m.isMax() ? DOUBLE_MAX : DOUBLE_MIN) : -1;
      }
      return type == FieldType.LONG || type == FieldType.TIMESTAMP ? (m.isMax() ? LONG_MAX : LONG_MIN) : -1;
    }
    return -1;
  }

  /**
   * Folds the event that {@code e} points at into the row of long slots starting at
   * {@code longs[base]}: the same as each aggregation's {@code add} with that event's input.
   */
  public void add(long[] longs, int base, EventReader e) {
    if (countLongSum) {
      longs[base]++;
      int f = field[1];
      if (!e.isNull(f)) {
        longs[base + slot[1]] += e.getLong(f);
      }
      return;
    }
    int[] op = this.op;
    for (int i = 0; i < op.length; i++) {
      int f = field[i];
      int at = base + slot[i];
      switch (op[i]) {
        case COUNT:
          longs[at]++;
          break;
        case COUNT_VALUES:
          if (!e.isNull(f)) {
            longs[at]++;
          }
          break;
        case LONG_SUM:
          if (!e.isNull(f)) {
            longs[at] += e.getLong(f);
          }
          break;
        case DOUBLE_SUM:
          if (!e.isNull(f)) {
            DoubleDouble.add(longs, at, e.getDouble(f));
          }
          break;
        case LONG_MIN:
        case LONG_MAX:
          if (!e.isNull(f)) {
            MinMaxAggregation.offerLong(longs, at, e.getLong(f), op[i] == LONG_MAX);
          }
          break;
        case DOUBLE_MIN:
        case DOUBLE_MAX:
          if (!e.isNull(f)) {
            MinMaxAggregation.offerDouble(longs, at, e.getDouble(f), op[i] == DOUBLE_MAX);
          }
          break;
        default:
          throw new IllegalStateException("unknown op " + op[i]);
      }
    }
  }
}
