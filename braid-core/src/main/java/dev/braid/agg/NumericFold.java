package dev.braid.agg;

import dev.braid.event.EventReader;
import dev.braid.event.FieldType;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The {@link Aggregation#add} of a whole state row at once, for rows whose aggregations are all
 * built-in {@code count}, {@code sum}, {@code min}, {@code max} or {@code avg} over fields read
 * straight from the encoded event. Engine-internal: views use it on their fold path when {@link #of} accepts their
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
 * {@link MinMaxAggregation#offerLong}, {@link MinMaxAggregation#offerDouble},
 * {@link LongAvgAggregation#offer}, {@link DoubleAvgAggregation#offer}) or is the same one-line
 * long addition (counts and long sums wrap on overflow, as Java's {@code +}). Null values are skipped
 * exactly where the aggregation's {@code add} skips them.
 *
 * <h2>Skipped ops</h2>
 * Every fold method takes a <em>skip mask</em>: bit {@code i} set means op {@code i} does not take
 * this event at all (its aggregation's {@code where} condition rejected it, see
 * {@link AggregateCall#where}); the op neither reads its field nor changes its slots. Rows of more
 * than 64 aggregations are not fused. {@code zero}, {@code merge}, {@code result}
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
  private static final int LONG_AVG = 8;
  private static final int DOUBLE_AVG = 9;
  /** The most ops a fused row may have: a skip mask is one {@code long}. */
  public static final int MAX_OPS = 64;

  /** Big-endian long views of a byte array, for {@link #extract} and {@link #addExtracted}. */
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private final int[] op;
  private final int[] field;
  private final int[] slot;
  /**
   * Per op that reads a field's value (sums, min, max, avg), the column of that field in an
   * extracted row; -1 for counts. Ops reading the same field share a column: the field is read
   * once per event (a row of {@code min(price), max(price), sum(price)} extracts one value).
   */
  private final int[] column;
  /** The distinct fields whose values ops read: the columns of an extracted row. */
  private final int valueColumns;
  /** The row is exactly {@code count} then {@code sum} of a long field, the commonest view. */
  private final boolean countLongSum;

  private NumericFold(int[] op, int[] field, int[] slot) {
    this.op = op;
    this.field = field;
    this.slot = slot;
    this.countLongSum = op.length == 2 && op[0] == COUNT && op[1] == LONG_SUM;
    this.column = new int[op.length];
    int[] columnField = new int[op.length];
    int v = 0;
    for (int i = 0; i < op.length; i++) {
      column[i] = -1;
      if (readsValue(op[i])) {
        for (int c = 0; c < v && column[i] < 0; c++) {
          if (columnField[c] == field[i]) {
            column[i] = c;
          }
        }
        if (column[i] < 0) {
          columnField[v] = field[i];
          column[i] = v++;
        }
      }
    }
    this.valueColumns = v;
  }

  private static boolean readsValue(int op) {
    return op != COUNT && op != COUNT_VALUES;
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
    if (n > MAX_OPS) {
      return null;
    }
    int[] op = new int[n];
    for (int i = 0; i < n; i++) {
      op[i] = opOf(aggregations[i], argField[i], argType[i]);
      if (op[i] < 0) {
        return null;
      }
    }
    return new NumericFold(op, argField.clone(), longBase.clone());
  }

  /** {@link #resultForm}: a result read through {@link Aggregation#result} (boxed). */
  public static final int RESULT_OTHER = 0;
  /** {@link #resultForm}: the result is the long in the aggregation's first slot ({@code count}, a long {@code sum}). */
  public static final int RESULT_LONG = 1;
  /**
   * {@link #resultForm}: the result is null when the first slot is 0 (no value seen), else the long
   * in the second slot (a long {@code min} or {@code max}).
   */
  public static final int RESULT_LONG_IF_SEEN = 2;

  /**
   * How the result of built-in aggregation {@code a} reads from its long slots, so that a writer
   * (the changes feed's JSON) can take it without boxing: {@link #RESULT_LONG},
   * {@link #RESULT_LONG_IF_SEEN}, or {@link #RESULT_OTHER} for every other aggregation. Each form
   * gives exactly what {@code a.result} gives.
   */
  public static int resultForm(Aggregation a) {
    Class<?> c = a.getClass();
    if (c == CountAggregation.class || c == LongSumAggregation.class) {
      return RESULT_LONG;
    }
    if (c == MinMaxAggregation.class && !((MinMaxAggregation) a).isDoubles()) {
      return RESULT_LONG_IF_SEEN;
    }
    return RESULT_OTHER;
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
    if (c == LongAvgAggregation.class) {
      return type == FieldType.LONG ? LONG_AVG : -1;
    }
    if (c == DoubleAvgAggregation.class) {
      return type == FieldType.DOUBLE ? DOUBLE_AVG : -1;
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
    add(longs, base, e, 0L);
  }

  /**
   * {@link #add(long[], int, EventReader)} for the ops not in {@code skip} (bit {@code i}: op
   * {@code i} does not take this event).
   */
  public void add(long[] longs, int base, EventReader e, long skip) {
    if (countLongSum && skip == 0) {
      longs[base]++;
      int f = field[1];
      if (!e.isNull(f)) {
        longs[base + slot[1]] += e.getLong(f);
      }
      return;
    }
    addSome(longs, base, e, skip);
  }

  /**
   * The ops not in {@code skip}, in row order. A field's null flag and value are read once and kept
   * while the next ops read the same field (rows like {@code min(price), max(price), sum(price)});
   * reading a field twice gives the same answer, so this is the same as reading it per op, and the
   * first read that throws is at the same op.
   */
  private void addSome(long[] longs, int base, EventReader e, long skip) {
    int[] op = this.op;
    int lastField = -1;
    boolean isNull = true;
    long bits = 0;
    for (int i = 0; i < op.length; i++) {
      if ((skip & (1L << i)) != 0) {
        continue;
      }
      int o = op[i];
      int at = base + slot[i];
      if (o == COUNT) {
        longs[at]++;
        continue;
      }
      int f = field[i];
      if (f != lastField) {
        isNull = e.isNull(f);
        bits = isNull || o == COUNT_VALUES ? 0 : e.getLong(f);
        lastField = isNull || o != COUNT_VALUES ? f : -1; // a count of values has not read the value
      }
      if (!isNull) {
        apply(o, longs, at, bits);
      }
    }
  }

  /** Op {@code o} of a non-null value whose raw 64 bits are {@code bits}, on the slots at {@code longs[at]}. */
  private static void apply(int o, long[] longs, int at, long bits) {
    switch (o) {
      case COUNT:
      case COUNT_VALUES:
        longs[at]++;
        break;
      case LONG_SUM:
        longs[at] += bits;
        break;
      case DOUBLE_SUM:
        DoubleDouble.add(longs, at, Double.longBitsToDouble(bits));
        break;
      case LONG_MIN:
      case LONG_MAX:
        MinMaxAggregation.offerLong(longs, at, bits, o == LONG_MAX);
        break;
      case DOUBLE_MIN:
      case DOUBLE_MAX:
        MinMaxAggregation.offerDouble(longs, at, Double.longBitsToDouble(bits), o == DOUBLE_MAX);
        break;
      case LONG_AVG:
        LongAvgAggregation.offer(longs, at, bits);
        break;
      case DOUBLE_AVG:
        DoubleAvgAggregation.offer(longs, at, Double.longBitsToDouble(bits));
        break;
      default:
        throw new IllegalStateException("unknown op " + o);
    }
  }

  /**
   * Whether every op is a count or a {@code long} sum, minimum, maximum or average: integer
   * arithmetic, so folding a group's events into partial rows split in any way and merging those
   * (each aggregation's {@code merge}) gives the very state, bit for bit, that adding them one by one
   * gives. Double sums and averages round differently when split.
   */
  public boolean exactInAnyOrder() {
    for (int o : op) {
      if (o != COUNT && o != COUNT_VALUES && o != LONG_SUM && o != LONG_MIN && o != LONG_MAX && o != LONG_AVG) {
        return false;
      }
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Extracted inputs: the fold split in two passes
  // ---------------------------------------------------------------------------------------------

  /** The aggregations (ops) of the row, in row order. */
  public int ops() {
    return op.length;
  }

  /** Bytes that {@link #extract} writes per event: 8 per distinct field that ops read the value of. */
  public int extractedBytes() {
    return 8 * valueColumns;
  }

  /**
   * Reads, for the first {@code limit} ops in row order, what {@link #add} would read from the
   * event: whether the op's field is null and, for ops that use it, the field's value as its raw
   * 64 bits (a double's bits are those {@link EventReader#getDouble} converts). Writes the values
   * big-endian at {@code dst[at ..]}, one long per column (a distinct field that value ops read;
   * 0 when no op within {@code limit} and outside {@code skip} read it, or it is null), and returns
   * the ops that do not take this event: those in {@code skip} and those whose field is null. The
   * first read of each field happens at the op where {@link #add} first reads it, so an exception
   * from the event happens at the op where {@code add} would have thrown it.
   */
  public long extract(EventReader e, byte[] dst, int at, int limit, long skip) {
    if (countLongSum && limit == 2 && skip == 0) { // the loop below, for count + sum of one long field
      int f = field[1];
      boolean isNull = e.isNull(f);
      LONGS.set(dst, at, isNull ? 0L : e.getLong(f));
      return isNull ? 2L : 0L;
    }
    long out = skip;
    long loaded = 0; // columns written
    long nulls = 0; // columns found null: a field is tested once, however many ops read it (Q17: four)
    int[] op = this.op;
    for (int i = 0; i < limit; i++) {
      int o = op[i];
      if ((skip & (1L << i)) != 0 || o == COUNT) {
        continue;
      }
      int c = column[i];
      if (c >= 0 && (loaded & (1L << c)) != 0) {
        continue;
      }
      if (c >= 0 && (nulls & (1L << c)) != 0 || e.isNull(field[i])) {
        out |= 1L << i;
        if (c >= 0) {
          nulls |= 1L << c;
        }
        continue;
      }
      if (c >= 0) {
        LONGS.set(dst, at + 8 * c, e.getLong(field[i]));
        loaded |= 1L << c;
      }
    }
    for (int c = 0; c < valueColumns; c++) {
      if ((loaded & (1L << c)) == 0) {
        LONGS.set(dst, at + 8 * c, 0L);
      }
    }
    return out;
  }

  /**
   * How many ops, in row order, {@link #add} gets through on this event (with skip mask
   * {@code skip}) before reading it throws; {@link #ops()} when none throws. For an event whose
   * {@link #extract} threw: {@code add} would have updated the row up to that op, so the two-pass
   * fold does the same.
   */
  public int opsBeforeFailure(EventReader e, long skip) {
    for (int i = 0; i < op.length; i++) {
      try {
        if (op[i] != COUNT && (skip & (1L << i)) == 0) {
          if (!e.isNull(field[i]) && readsValue(op[i])) {
            e.getLong(field[i]);
          }
        }
      } catch (RuntimeException ex) {
        return i;
      }
    }
    return op.length;
  }

  /**
   * Folds an event given by what {@link #extract} read from it ({@code src[at ..]} and the mask
   * {@code skip} it returned) into the row at {@code longs[base]}, applying the first {@code limit}
   * ops: the same row, bit for bit, as {@link #add} of that event (with {@code limit = ops()}),
   * through the same helpers in the same order.
   */
  public void addExtracted(long[] longs, int base, byte[] src, int at, long skip, int limit) {
    if (countLongSum && limit == 2 && (skip & 1) == 0) {
      longs[base]++;
      if ((skip & 2) == 0) {
        longs[base + slot[1]] += (long) LONGS.get(src, at);
      }
      return;
    }
    int[] op = this.op;
    for (int i = 0; i < limit; i++) {
      if ((skip & (1L << i)) != 0) {
        continue;
      }
      int c = column[i];
      apply(op[i], longs, base + slot[i], c < 0 ? 0L : (long) LONGS.get(src, at + 8 * c));
    }
  }
}
