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

  /**
   * Null when the event in {@code b[base, base + length)} has exactly the layout of an event of
   * {@code schema}'s stream as written by {@code EventEncoder}: version 1 with the stream's first
   * fields, or version 2 with more than those and at most all of them; its slots, then its strings,
   * which fill the rest of the event. Else what does not fit. For checking that a recorded schema
   * describes the events stored, not for every read.
   */
  public static String layoutProblem(java.nio.ByteBuffer b, int base, int length, EventSchema schema) {
    if (length < 1) {
      return "it is empty";
    }
    int version = b.get(base);
    int header;
    int n;
    if (version == VERSION) {
      header = 1;
      n = schema.firstFields();
    } else if (version == VERSION_COUNTED) {
      if (length < COUNTED_HEADER) {
        return "it is shorter than its header";
      }
      header = COUNTED_HEADER;
      n = b.getShort(base + 1) & 0xFFFF;
      if (n <= schema.firstFields() || n > schema.size()) {
        return "it says it has " + n + " fields; events written after fields were added have more than the "
            + schema.firstFields() + " first ones and at most " + schema.size();
      }
    } else {
      return "unknown event encoding version " + version;
    }
    long fixed = header + bitmapBytes(n) + 8L * n;
    if (length < fixed) {
      return "its " + length + " bytes cannot hold the slots of " + n + " fields (" + fixed + " bytes)";
    }
    long strings = 0;
    for (int i = 0; i < n; i++) {
      boolean isNull = (b.get(base + header + (i >>> 3)) & (1 << (i & 7))) != 0;
      if (isNull || schema.field(i).type() != FieldType.STRING) {
        continue;
      }
      int slot = base + header + bitmapBytes(n) + (i << 3);
      long off = b.getInt(slot);
      long len = b.getInt(slot + 4);
      if (off < fixed || len < 0 || off + len > length) {
        return "string field '" + schema.field(i).name() + "' points outside the event";
      }
      strings += len;
    }
    if (fixed + strings != length) {
      return "its " + length + " bytes are not the " + (fixed + strings) + " that " + n + " fields with these strings "
          + "take";
    }
    return null;
  }

  /** Bytes before the null bitmap: 1 for {@link #VERSION}, {@link #COUNTED_HEADER} for {@link #VERSION_COUNTED}. */
  public static int headerLength(boolean counted) {
    return counted ? COUNTED_HEADER : 1;
  }
}
