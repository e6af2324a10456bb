package dev.braid.event;

/**
 * The binary form of one event (the value bytes of a log record), laid out so that any field is
 * read in O(1) without decoding the others. Two versions, told apart by the first byte:
 *
 * <pre>
 *   version 1: the stream's first fields (n = how many the stream had when its first event was stored)
 *   0        1                      1 + B
 *   +--------+----------------------+----------------------------------+-------------------+
 *   | ver. 1 | null bitmap (B bytes)| one 8-byte slot per field        | string bytes ...  |
 *   +--------+----------------------+----------------------------------+-------------------+
 *
 *   version 2: after fields were added to the stream, every event says how many fields it has
 *   0        1               3                      3 + B
 *   +--------+---------------+----------------------+-------------------------+----------------+
 *   | ver. 2 | n (2 bytes)   | null bitmap (B bytes)| one 8-byte slot per field | string bytes  |
 *   +--------+---------------+----------------------+-------------------------+----------------+
 *
 *   B = ceil(n / 8); bit i (byte i/8, bit i%8) set = field i is null.
 *   slot i: LONG, TIMESTAMP = the value; DOUBLE = IEEE-754 bits; BOOLEAN = 0 or 1;
 *           STRING = int offset of its UTF-8 bytes from the start of the event, then int length.
 * </pre>
 *
 * All integers are big-endian. The key of the log record is the key field's value as UTF-8 text
 * (a number's decimal form), so partitioning does not depend on the encoding.
 *
 * <p>A stream's fields can only grow at the end ({@code RecordedSchemas}), so field {@code i} is
 * the same field in every event of the stream; a field at or after an event's {@code n} was added
 * after the event was stored, and reads as null ({@link EventReader}). A stream whose fields never
 * changed writes version 1 only, byte for byte as before version 2 existed.
 */
public final class EventDescriptor {

  /** The version of events that have the stream's first fields. */
  public static final byte VERSION = 1;
  /** The version of events that carry their field count (written once fields were added). */
  public static final byte VERSION_COUNTED = 2;
  /** Bytes before the null bitmap of a {@link #VERSION_COUNTED} event: the version and the count. */
  public static final int COUNTED_HEADER = 3;
  /** The most fields a stream may have (a count fits in 2 bytes). */
  public static final int MAX_FIELDS = 1024;

  private EventDescriptor() {}

  public static int bitmapBytes(int fields) {
    return (fields + 7) >>> 3;
  }

  /** Byte offset of field {@code index}'s slot in a {@link #VERSION} event. */
  public static int slotOffset(int fields, int index) {
    return 1 + bitmapBytes(fields) + (index << 3);
  }

  /** Bytes before the string section of a {@link #VERSION} event. */
  public static int fixedLength(int fields) {
    return 1 + bitmapBytes(fields) + (fields << 3);
  }

  /** Bytes before the null bitmap: 1 for {@link #VERSION}, {@link #COUNTED_HEADER} for {@link #VERSION_COUNTED}. */
  public static int headerLength(boolean counted) {
    return counted ? COUNTED_HEADER : 1;
  }
}
