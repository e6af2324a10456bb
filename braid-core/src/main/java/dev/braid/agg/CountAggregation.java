package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.List;

/**
 * {@code count} counts events; {@code count(field)} counts the events whose field is not null.
 *
 * <pre>
 *   long slot 0: count          object slots: none
 *   binary:      header(kind 0) varint(count)
 * </pre>
 */
final class CountAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  private final boolean countsEvents;

  private CountAggregation(boolean countsEvents) {
    this.countsEvents = countsEvents;
  }

  static Aggregation create(FieldType type, List<String> parameters) {
    Arguments.requireNoParameters("count", parameters);
    return new CountAggregation(type == null);
  }

  /** Whether it counts events ({@code count}) rather than non-null values ({@code count(field)}). */
  boolean countsEvents() {
    return countsEvents;
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
    if (countsEvents || !in.isNull()) {
      s.setLong(0, s.getLong(0) + 1);
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
    AccumulatorCodec.writeVarLong(out, s.getLong(0));
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    AccumulatorCodec.readHeader(in, "count", 0);
    s.setLong(0, AccumulatorCodec.readVarLong(in));
  }
}
