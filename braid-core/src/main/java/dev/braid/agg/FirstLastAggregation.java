package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * {@code first} and {@code last} of a field of any type: the value of the event with the smallest
 * (first) or largest (last) position {@code (event time, partition, offset)} among the events whose
 * value is not null. Null when there are no values.
 *
 * <p>The accumulator keeps the winning position beside the value, and {@link #merge} compares
 * positions, so the result is the same however events are split and in whatever order partial
 * accumulators are merged. Positions are unique in a log, which makes {@code merge} commutative
 * too; if two accumulators ever carried the very same position, {@code into} would keep its value.
 *
 * <p>A string value is kept as UTF-8 bytes in a per-group buffer that is reused and only grows,
 * so {@code add} allocates only when a longer string than any before arrives; the {@code String}
 * is decoded by {@link #result}.
 *
 * <pre>
 *   long slot 0: event time of the winning event
 *   long slot 1: its partition, or EMPTY (Long.MIN_VALUE, not an int) when no value was seen
 *   long slot 2: its offset
 *   long slot 3: its value (a long, epoch millis, 1/0 or raw double bits), or a string's byte length
 *   object slot 0 (strings only): byte[] buffer holding the string's UTF-8 bytes at [0, length)
 *   binary: header(kind 0)                                            when empty
 *           header(kind 1) zigzag(time) varint(partition) zigzag(offset) value
 *     value: zigzag-varint (long, timestamp), 8 bytes (double), 1 byte (boolean),
 *            varint length + UTF-8 (string)
 * </pre>
 */
final class FirstLastAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  private static final int TIME = 0;
  private static final int PARTITION = 1;
  private static final int OFFSET = 2;
  private static final int VALUE = 3;
  private static final long EMPTY = Long.MIN_VALUE;

  private final String name;
  private final boolean last;
  private final FieldType type;

  private FirstLastAggregation(String name, boolean last, FieldType type) {
    this.name = name;
    this.last = last;
    this.type = type;
  }

  static Aggregation create(String name, boolean last, FieldType type, List<String> parameters) {
    Arguments.requireAnyField(name, type);
    Arguments.requireNoParameters(name, parameters);
    return new FirstLastAggregation(name, last, type);
  }

  @Override
  public int longSlots() {
    return 4;
  }

  @Override
  public int objectSlots() {
    return type == FieldType.STRING ? 1 : 0;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(TIME, 0);
    s.setLong(PARTITION, EMPTY);
    s.setLong(OFFSET, 0);
    s.setLong(VALUE, 0);
    if (type == FieldType.STRING) {
      s.setObject(0, null);
    }
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (in.isNull() || !wins(in.eventTime(), in.partition(), in.offset(), s)) {
      return;
    }
    s.setLong(TIME, in.eventTime());
    s.setLong(PARTITION, in.partition());
    s.setLong(OFFSET, in.offset());
    switch (type) {
      case STRING:
        int length = in.bytesLength();
        in.bytes().get(in.bytesOffset(), buffer(s, length), 0, length);
        s.setLong(VALUE, length);
        break;
      case DOUBLE:
        s.setDouble(VALUE, in.doubleValue());
        break;
      default:
        s.setLong(VALUE, in.longValue());
        break;
    }
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    long partition = from.getLong(PARTITION);
    if (partition == EMPTY || !wins(from.getLong(TIME), partition, from.getLong(OFFSET), into)) {
      return;
    }
    into.setLong(TIME, from.getLong(TIME));
    into.setLong(PARTITION, partition);
    into.setLong(OFFSET, from.getLong(OFFSET));
    into.setLong(VALUE, from.getLong(VALUE));
    if (type == FieldType.STRING) {
      int length = (int) from.getLong(VALUE);
      System.arraycopy((byte[]) from.getObject(0), 0, buffer(into, length), 0, length); // never share buffers
    }
  }

  /** The string buffer of {@code s}, grown to hold at least {@code length} bytes. */
  private static byte[] buffer(AccumulatorState s, int length) {
    byte[] buffer = (byte[]) s.getObject(0);
    if (buffer == null || buffer.length < length) {
      buffer = new byte[Math.max(length, buffer == null ? 16 : Math.min(Integer.MAX_VALUE - 8, buffer.length * 2))];
      s.setObject(0, buffer);
    }
    return buffer;
  }

  /** Whether an event at {@code (time, partition, offset)} replaces what {@code s} holds. */
  private boolean wins(long time, long partition, long offset, AccumulatorState s) {
    long heldPartition = s.getLong(PARTITION);
    if (heldPartition == EMPTY) {
      return true;
    }
    int c = Long.compare(time, s.getLong(TIME));
    if (c == 0) {
      c = Long.compare(partition, heldPartition);
    }
    if (c == 0) {
      c = Long.compare(offset, s.getLong(OFFSET));
    }
    return last ? c > 0 : c < 0;
  }

  @Override
  public Object result(AccumulatorState s) {
    if (s.getLong(PARTITION) == EMPTY) {
      return null;
    }
    switch (type) {
      case STRING:
        return new String((byte[]) s.getObject(0), 0, (int) s.getLong(VALUE), StandardCharsets.UTF_8);
      case DOUBLE:
        return s.getDouble(VALUE);
      case BOOLEAN:
        return s.getLong(VALUE) != 0;
      default:
        return s.getLong(VALUE);
    }
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    if (s.getLong(PARTITION) == EMPTY) {
      AccumulatorCodec.writeHeader(out, 0);
      return;
    }
    AccumulatorCodec.writeHeader(out, 1);
    AccumulatorCodec.writeZigZag(out, s.getLong(TIME));
    AccumulatorCodec.writeVarLong(out, s.getLong(PARTITION));
    AccumulatorCodec.writeZigZag(out, s.getLong(OFFSET));
    switch (type) {
      case STRING:
        int length = (int) s.getLong(VALUE);
        AccumulatorCodec.writeVarLong(out, length);
        out.write((byte[]) s.getObject(0), 0, length);
        break;
      case DOUBLE:
        out.writeLong(s.getLong(VALUE));
        break;
      case BOOLEAN:
        out.writeBoolean(s.getLong(VALUE) != 0);
        break;
      default:
        AccumulatorCodec.writeZigZag(out, s.getLong(VALUE));
        break;
    }
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    zero(s);
    if (AccumulatorCodec.readHeader(in, name, 1) == 0) {
      return;
    }
    s.setLong(TIME, AccumulatorCodec.readZigZag(in));
    s.setLong(PARTITION, (int) AccumulatorCodec.readVarLong(in));
    s.setLong(OFFSET, AccumulatorCodec.readZigZag(in));
    switch (type) {
      case STRING:
        byte[] bytes = AccumulatorCodec.readBytes(in);
        s.setObject(0, bytes);
        s.setLong(VALUE, bytes.length);
        break;
      case DOUBLE:
        s.setLong(VALUE, in.readLong());
        break;
      case BOOLEAN:
        s.setLong(VALUE, in.readBoolean() ? 1 : 0);
        break;
      default:
        s.setLong(VALUE, AccumulatorCodec.readZigZag(in));
        break;
    }
  }
}
