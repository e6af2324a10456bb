package dev.braid.event;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Reads fields of one encoded event in place (see {@link EventDescriptor}). A flyweight: point it at
 * a record with {@link #wrap} and read only the fields you need; numbers are read without
 * allocation. Not thread-safe.
 */
public final class EventReader {

  private final EventSchema schema;
  /** Whether the stream's fields grew: each event then says (by its version) how many fields it has. */
  private final boolean grown;
  /** Where the null bitmap of the current event starts. */
  private int bitmapStart = 1;
  /** Where field 0's slot of the current event starts. */
  private int slotsStart;
  /** The current event's fields: fields at or after this were added after it was stored, and read as null. */
  private int fields;
  private ByteBuffer buffer;
  private int base;
  private int length;
  private long offset;
  private int partition;
  private long eventTime;

  public EventReader(EventSchema schema) {
    this.schema = schema;
    this.grown = schema.grown();
    this.fields = schema.size();
    this.slotsStart = EventDescriptor.slotOffset(schema.size(), 0);
  }

  public EventSchema schema() {
    return schema;
  }

  /** Points the reader at the event in {@code buffer[base, base + length)}. */
  public EventReader wrap(ByteBuffer buffer, int base, int length) {
    this.buffer = buffer;
    this.base = base;
    this.length = length;
    if (grown) {
      if (buffer.get(base) == EventDescriptor.VERSION_COUNTED) {
        int n = buffer.getShort(base + 1) & 0xFFFF;
        bitmapStart = EventDescriptor.COUNTED_HEADER;
        slotsStart = bitmapStart + EventDescriptor.bitmapBytes(n);
        fields = Math.min(n, schema.size());
      } else { // stored before the stream's fields grew
        bitmapStart = 1;
        slotsStart = EventDescriptor.slotOffset(schema.firstFields(), 0);
        fields = schema.firstFields();
      }
    }
    return this;
  }

  /** Records the event's log position and event time, for aggregations that order by them. */
  public EventReader at(int partition, long offset, long eventTime) {
    this.partition = partition;
    this.offset = offset;
    this.eventTime = eventTime;
    return this;
  }

  public int partition() {
    return partition;
  }

  public long offset() {
    return offset;
  }

  public long eventTime() {
    return eventTime;
  }

  /** Whether the field is null in this event: sent so, or added to the stream after the event was stored. */
  public boolean isNull(int field) {
    if (field >= fields) {
      return true;
    }
    int b = buffer.get(base + bitmapStart + (field >>> 3));
    return (b & (1 << (field & 7))) != 0;
  }

  /** The field's value; 0 when {@link #isNull} (a null field's slot holds 0). */
  public long getLong(int field) {
    return field < fields ? buffer.getLong(base + slotsStart + (field << 3)) : 0L;
  }

  public double getDouble(int field) {
    return Double.longBitsToDouble(getLong(field));
  }

  public boolean getBoolean(int field) {
    return getLong(field) != 0;
  }

  /** Absolute offset in {@link #buffer()} of a STRING field's UTF-8 bytes. */
  public int stringOffset(int field) {
    return field < fields ? base + buffer.getInt(base + slotsStart + (field << 3)) : base;
  }

  /** The UTF-8 length of a STRING field; 0 when {@link #isNull}. */
  public int stringLength(int field) {
    return field < fields ? buffer.getInt(base + slotsStart + (field << 3) + 4) : 0;
  }

  public String getString(int field) {
    byte[] b = new byte[stringLength(field)];
    buffer.get(stringOffset(field), b);
    return new String(b, StandardCharsets.UTF_8);
  }

  public ByteBuffer buffer() {
    return buffer;
  }

  /** The field as a Java value (Long, Double, Boolean, String; TIMESTAMP as Long millis), or null. */
  public Object get(int field) {
    if (isNull(field)) {
      return null;
    }
    switch (schema.field(field).type()) {
      case STRING:
        return getString(field);
      case DOUBLE:
        return getDouble(field);
      case BOOLEAN:
        return getBoolean(field);
      default:
        return getLong(field);
    }
  }

  public int length() {
    return length;
  }
}
