package dev.braid.agg;

import dev.braid.event.FieldType;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The value one event contributes to one aggregation: the aggregation's argument field (absent for
 * {@code count}), plus the event's time and log position for order-sensitive aggregations. The
 * engine fills one reused instance per aggregation; reading a number allocates nothing, and a
 * string is decoded only when {@link #stringValue()} is called.
 *
 * <p>Order: order-sensitive aggregations ({@code first}, {@code last}) order events by
 * {@code (eventTime, partition, offset)}, which is the same in the batch and the speed layer.
 */
public final class AggInput {

  private FieldType type;
  private boolean isNull;
  private long longValue;
  private double doubleValue;
  private ByteBuffer bytes;
  private int bytesOffset;
  private int bytesLength;
  private long eventTime;
  private int partition;
  private long offset;

  /** Sets the event's time and position; call once per event before the value setters. */
  public AggInput at(long eventTime, int partition, long offset) {
    this.eventTime = eventTime;
    this.partition = partition;
    this.offset = offset;
    return this;
  }

  public AggInput setNull(FieldType type) {
    this.type = type;
    this.isNull = true;
    return this;
  }

  /** A LONG, TIMESTAMP or BOOLEAN (1/0) value. */
  public AggInput setLong(FieldType type, long value) {
    this.type = type;
    this.isNull = false;
    this.longValue = value;
    this.doubleValue = value;
    return this;
  }

  public AggInput setDouble(double value) {
    this.type = FieldType.DOUBLE;
    this.isNull = false;
    this.doubleValue = value;
    this.longValue = (long) value;
    return this;
  }

  /** A STRING value: UTF-8 bytes {@code buffer[offset, offset + length)}, read with absolute gets. */
  public AggInput setString(ByteBuffer buffer, int offset, int length) {
    this.type = FieldType.STRING;
    this.isNull = false;
    this.bytes = buffer;
    this.bytesOffset = offset;
    this.bytesLength = length;
    return this;
  }

  /** A STRING value from a Java string (allocates; for tests and tools). */
  public AggInput setString(String value) {
    byte[] b = value.getBytes(StandardCharsets.UTF_8);
    return setString(ByteBuffer.wrap(b), 0, b.length);
  }

  public FieldType type() {
    return type;
  }

  public boolean isNull() {
    return isNull;
  }

  public long longValue() {
    return longValue;
  }

  /** The value as a double (LONG and TIMESTAMP values are widened). */
  public double doubleValue() {
    return doubleValue;
  }

  public ByteBuffer bytes() {
    return bytes;
  }

  public int bytesOffset() {
    return bytesOffset;
  }

  public int bytesLength() {
    return bytesLength;
  }

  /** The STRING value decoded (allocates). */
  public String stringValue() {
    byte[] b = new byte[bytesLength];
    bytes.get(bytesOffset, b);
    return new String(b, StandardCharsets.UTF_8);
  }

  /** A 64-bit hash of the value that does not allocate (MurmurHash3-style mix of the bytes or bits). */
  public long hash64() {
    if (type == FieldType.STRING) {
      long h = 0x9E3779B97F4A7C15L ^ bytesLength;
      int i = 0;
      // Read words big-endian whatever the buffer's order: the hash is stored in sketch states.
      boolean bigEndian = bytes.order() == java.nio.ByteOrder.BIG_ENDIAN;
      for (; i + 8 <= bytesLength; i += 8) {
        long word = bytes.getLong(bytesOffset + i);
        h = mix(h ^ (bigEndian ? word : Long.reverseBytes(word)));
      }
      long tail = 0;
      for (; i < bytesLength; i++) {
        tail = (tail << 8) | (bytes.get(bytesOffset + i) & 0xff);
      }
      return mix(h ^ tail ^ ((long) (bytesLength & 7) << 56));
    }
    // -0.0 hashes as 0.0 (equal numbers are one value, as group keys take them), every NaN as one
    return mix(type == FieldType.DOUBLE ? Double.doubleToLongBits(doubleValue == 0 ? 0.0 : doubleValue) : longValue);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  public long eventTime() {
    return eventTime;
  }

  public int partition() {
    return partition;
  }

  public long offset() {
    return offset;
  }
}
