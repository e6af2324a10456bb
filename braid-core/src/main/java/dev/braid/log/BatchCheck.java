package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.*;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** Validates stored batches; used by recovery and by every read. */
final class BatchCheck {

  private final CRC32C crc = new CRC32C();

  /**
   * Checks the whole batch at {@code buf[pos, pos + 4 + length)}, which must be inside the buffer.
   * Returns null when valid, else what is wrong.
   */
  String check(ByteBuffer buf, int pos, long expectedBaseOffset) {
    int length = buf.getInt(pos + LENGTH_OFFSET);
    int total = 4 + length;
    if (buf.getShort(pos + MAGIC_OFFSET) != MAGIC) {
      return "bad batch magic " + buf.getShort(pos + MAGIC_OFFSET);
    }
    ByteBuffer slice = buf.duplicate();
    slice.limit(pos + total).position(pos + CRC_START);
    crc.reset();
    crc.update(slice);
    if ((int) crc.getValue() != buf.getInt(pos + CRC_OFFSET)) {
      return "batch fails its CRC32C";
    }
    long base = buf.getLong(pos + BASE_OFFSET_OFFSET);
    if (expectedBaseOffset >= 0 && base != expectedBaseOffset) {
      return String.format("batch base offset %d, expected %d", base, expectedBaseOffset);
    }
    short flags = buf.getShort(pos + FLAGS_OFFSET);
    if ((flags & ~KNOWN_FLAGS) != 0) {
      return String.format("unknown batch flags 0x%04x", flags & 0xFFFF);
    }
    boolean ids = (flags & FLAG_IDS) != 0;
    int count = buf.getInt(pos + COUNT_OFFSET);
    int r = pos + HEADER_LENGTH;
    int end = pos + total;
    for (int i = 0; i < count; i++) {
      if (r + RECORD_HEADER_LENGTH > end) {
        return "record " + i + " runs past the end of its batch";
      }
      int recordLength = buf.getInt(r + RECORD_LENGTH_OFFSET);
      int keyLength = buf.getInt(r + RECORD_KEY_LENGTH_OFFSET);
      if (recordLength < RECORD_HEADER_LENGTH - 4 || keyLength < 0 || keyLength > recordLength - (RECORD_HEADER_LENGTH - 4)
          || r + 4L + recordLength > end) {
        return "record " + i + " has an impossible length";
      }
      if (ids) {
        // key, id length field, id: all inside the record
        int fixed = RECORD_HEADER_LENGTH - 4 + keyLength + ID_LENGTH_BYTES;
        if (fixed > recordLength || fixed + (buf.getShort(r + RECORD_HEADER_LENGTH + keyLength) & 0xFFFF) > recordLength) {
          return "record " + i + " has an impossible id length";
        }
      }
      r += 4 + recordLength;
    }
    if (r != end) {
      return "batch has " + (end - r) + " bytes after its last record";
    }
    return null;
  }

  /** Whether a length field read at a batch start could describe a batch. */
  static boolean plausibleLength(int length) {
    return length >= HEADER_LENGTH - 4;
  }

  /** Computes and stores the CRC of a sealed batch in {@code batch[0, limit)}. */
  void stamp(ByteBuffer batch) {
    ByteBuffer slice = batch.duplicate();
    slice.position(CRC_START);
    crc.reset();
    crc.update(slice);
    batch.putInt(CRC_OFFSET, (int) crc.getValue());
  }
}
