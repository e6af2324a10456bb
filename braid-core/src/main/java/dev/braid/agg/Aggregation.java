package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The one aggregation contract that both the batch layer and the speed layer run, unchanged.
 *
 * <p>An aggregation is bound to its argument's type when a view is built (see
 * {@link AggregationFactory}); its accumulator lives in slots of {@link AccumulatorState}: a fixed
 * number of long words and object references per group, declared by {@link #longSlots()} and
 * {@link #objectSlots()}.
 *
 * <p>Laws (checked by property tests for every built-in):
 * <ul>
 *   <li>{@code merge} is associative and {@code zero} is its identity;
 *   <li>folding events with {@code add} and then merging equals folding all of them in one
 *       accumulator, wherever the events are split;
 *   <li>when {@link #commutative()} is true, {@code merge(a, b)} and {@code merge(b, a)} give the same
 *       result. Order-sensitive aggregations are not commutative in general, but order their
 *       inputs by {@code (event time, partition, offset)}, so they too are independent of how
 *       events are split and merged;
 *   <li>{@code read(write(s))} restores an accumulator with the same result and the same future
 *       behaviour under {@code add} and {@code merge}.
 * </ul>
 *
 * <p>"Same result" means {@code equals} on {@link #result}, with one documented exception: the
 * {@code top_k} and {@code quantiles} sketches are exact only while small (see their docs); beyond,
 * a merged accumulator equals a folded one up to the sketch's error bound, not bit for bit. All
 * other built-ins, {@code count_distinct} included, give equal results however events are split.
 *
 * <p>{@code merge} must not make {@code into} share mutable objects with {@code from}: the engine
 * keeps updating both.
 *
 * <p>Failures: a user aggregation's {@code add} may throw for an input it refuses; the event is then
 * left out of the view whole, as an event on which an expression fails (the engine adds each event
 * to a zero accumulator of every user aggregation first and merges those into the group only once
 * all returned, before the fold makes the event's key or window: an event refused so counts among
 * the view's skipped events even when it is also late or without a key). {@code merge}, {@code result}
 * and the codec must not throw for accumulators that
 * {@code zero}, {@code add} and {@code merge} made; the codec is checked when a view is built:
 * {@code read} must take exactly the bytes {@code write} wrote for a zero accumulator.
 *
 * <p>Threading: an aggregation instance is immutable and shared; all mutable state is in the
 * {@link AccumulatorState} slots, which one thread owns at a time.
 *
 * <pre>{@code
 * // A user aggregation: the sum of squares of a numeric field.
 * final class SumOfSquares implements Aggregation {
 *   public int longSlots() { return 1; }
 *   public void zero(AccumulatorState s) { s.setDouble(0, 0); }
 *   public void add(AccumulatorState s, AggInput in) {
 *     if (!in.isNull()) s.setDouble(0, s.getDouble(0) + in.doubleValue() * in.doubleValue());
 *   }
 *   public void merge(AccumulatorState into, AccumulatorState from) {
 *     into.setDouble(0, into.getDouble(0) + from.getDouble(0));
 *   }
 *   public Object result(AccumulatorState s) { return s.getDouble(0); }
 *   ...
 * }
 * Aggregations.register("sum_sq", (arg, params) -> new SumOfSquares());
 * }</pre>
 */
public interface Aggregation {

  /** Long words of state per group (may be 0). */
  int longSlots();

  /** Object references of state per group (may be 0). */
  default int objectSlots() {
    return 0;
  }

  /** Whether {@code merge(a, b)} equals {@code merge(b, a)} for all accumulators. */
  default boolean commutative() {
    return true;
  }

  /**
   * Whether the result is the same, by {@code equals}, however the events are split into
   * accumulators and merged: then a batch cycle gives a window the very result the speed layer
   * gave it over the same events, and the changes feed can follow a batch swap without comparing
   * every window again. False by default (a user's aggregation must claim it); the sketches
   * ({@code top_k}, {@code quantiles}) and double sums and averages (whose rounding can depend on
   * the split in extreme cases) are not.
   */
  default boolean splitInvariant() {
    return false;
  }

  /** Sets {@code s} to the empty accumulator, the identity of {@link #merge}. */
  void zero(AccumulatorState s);

  /** Folds one event's input into {@code s}. Must not keep a reference to {@code in}. */
  void add(AccumulatorState s, AggInput in);

  /** Folds accumulator {@code from} into {@code into}; {@code from} is left unchanged. */
  void merge(AccumulatorState into, AccumulatorState from);

  /**
   * The accumulator's result as a JSON-friendly value: {@code Long}, {@code Double}, {@code String},
   * {@code Boolean}, {@code List}, {@code Map} or {@code null}.
   */
  Object result(AccumulatorState s);

  /** Writes the accumulator in this aggregation's binary form (never Java serialization). */
  void write(AccumulatorState s, DataOutput out) throws IOException;

  /**
   * Reads an accumulator written by {@link #write} into {@code s}, replacing what it held. {@code in}
   * may read a memory-mapped file that is released after the call: copy what you need, and keep no
   * reference to {@code in}.
   */
  void read(AccumulatorState s, DataInput in) throws IOException;
}
