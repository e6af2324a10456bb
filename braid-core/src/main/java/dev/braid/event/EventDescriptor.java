package dev.braid.event;

/**
 * The binary form of one event (the value bytes of a log record), laid out so that any field is
 * read in O(1) without decoding the others:
 *
 * <pre>
 *   0        1                      1 + B
 *   +--------+----------------------+----------------------------------+-------------------+
 *   | ver. 1 | null bitmap (B bytes)| one 8-byte slot per field        | string bytes ...  |
 *   +--------+----------------------+----------------------------------+-------------------+
 *   B = ceil(fields / 8); bit i (byte i/8, bit i%8) set = field i is null.
 *   slot i: LONG, TIMESTAMP = the value; DOUBLE = IEEE-754 bits; BOOLEAN = 0 or 1;
 *           STRING = int offset of its UTF-8 bytes from the start of the event, then int length.
 * </pre>
 *
 * All integers are big-endian. The key of the log record is the key field's value as UTF-8 text
 * (a number's decimal form), so partitioning does not depend on the encoding.
 */
public final class EventDescriptor {

  public static final byte VERSION = 1;

  private EventDescriptor() {}

  public static int bitmapBytes(int fields) {
    return (fields + 7) >>> 3;
  }

  /** Byte offset of field {@code index}'s slot. */
  public static int slotOffset(int fields, int index) {
    return 1 + bitmapBytes(fields) + (index << 3);
  }

  /** Bytes before the string section. */
  public static int fixedLength(int fields) {
    return 1 + bitmapBytes(fields) + (fields << 3);
  }
}
