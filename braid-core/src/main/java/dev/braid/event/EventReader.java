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
  /** The fields of a {@link EventDescriptor#VERSION} event: the stream's first ones. */
  private final int firstFields;
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
    this.firstFields = schema.firstFields();
    this.fields = firstFields;
    this.slotsStart = EventDescriptor.slotOffset(firstFields, 0);
  }

  public EventSchema schema() {
    return schema;
  }

  /** Points the reader at the event in {@code buffer[base, base + length)}. */
  public EventReader wrap(ByteBuffer buffer, int base, int length) {
    this.buffer = buffer;
    this.base = base;
    this.length = length;
    // An event that carries its field count is read by it, whatever the schema says of the stream.
    if (buffer.get(base) == EventDescriptor.VERSION_COUNTED) {
      int n = buffer.getShort(base + 1) & 0xFFFF;
      bitmapStart = EventDescriptor.COUNTED_HEADER;
      slotsStart = bitmapStart + EventDescriptor.bitmapBytes(n);
      fields = Math.min(n, schema.size());
    } else if (bitmapStart != 1 || fields != firstFields) { // back to version 1, after an event of version 2
      bitmapStart = 1;
      slotsStart = EventDescriptor.slotOffset(firstFields, 0);
      fields = firstFields;
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

  /**
   * Whether the event this reader is on holds the same values as the one {@code other} is on, field
   * by field, a field that one event does not have counting as null: two encodings of one event
   * (before and after the stream took new fields, which version 1 and 2 write differently) are the
   * same. Both readers must read the same stream.
   */
  public boolean sameValues(EventReader other) {
    for (int i = 0; i < schema.size(); i++) {
      boolean isNull = isNull(i);
      if (isNull != other.isNull(i)) {
        return false;
      }
      if (isNull) {
        continue;
      }
      if (schema.field(i).type() == FieldType.STRING) {
        if (!buffer.slice(stringOffset(i), stringLength(i)).equals(other.buffer.slice(other.stringOffset(i),
            other.stringLength(i)))) {
          return false;
        }
      } else if (getLong(i) != other.getLong(i)) {
        return false;
      }
    }
    return true;
  }
}
