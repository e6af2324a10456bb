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
  private final int bitmapStart = 1;
  /** Where field 0's slot starts ({@link EventDescriptor#slotOffset} of the schema's field count, once). */
  private final int slotsStart;
  private ByteBuffer buffer;
  private int base;
  private int length;
  private long offset;
  private int partition;
  private long eventTime;

  public EventReader(EventSchema schema) {
    this.schema = schema;
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

  public boolean isNull(int field) {
    int b = buffer.get(base + bitmapStart + (field >>> 3));
    return (b & (1 << (field & 7))) != 0;
  }

  public long getLong(int field) {
    return buffer.getLong(base + slotsStart + (field << 3));
  }

  public double getDouble(int field) {
    return Double.longBitsToDouble(getLong(field));
  }

  public boolean getBoolean(int field) {
    return getLong(field) != 0;
  }

  /** Absolute offset in {@link #buffer()} of a STRING field's UTF-8 bytes. */
  public int stringOffset(int field) {
    return base + buffer.getInt(base + slotsStart + (field << 3));
  }

  public int stringLength(int field) {
    return buffer.getInt(base + slotsStart + (field << 3) + 4);
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
