package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
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
    String header = checkHeader(buf, pos, expectedBaseOffset);
    if (header != null) {
      return header;
    }
    boolean ids = (buf.getShort(pos + FLAGS_OFFSET) & FLAG_IDS) != 0;
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

  /**
   * Checks the header of the batch at {@code buf[pos, pos + HEADER_LENGTH)} without its records or
   * CRC: magic, base offset ({@code expectedBaseOffset} < 0: any), flags, a record count that its
   * length could hold. Returns null when plausible, else what is wrong.
   */
  static String checkHeader(ByteBuffer buf, int pos, long expectedBaseOffset) {
    if (buf.getShort(pos + MAGIC_OFFSET) != MAGIC) {
      return "bad batch magic " + buf.getShort(pos + MAGIC_OFFSET);
    }
    long base = buf.getLong(pos + BASE_OFFSET_OFFSET);
    if (expectedBaseOffset >= 0 && base != expectedBaseOffset) {
      return String.format("batch base offset %d, expected %d", base, expectedBaseOffset);
    }
    short flags = buf.getShort(pos + FLAGS_OFFSET);
    if ((flags & ~KNOWN_FLAGS) != 0) {
      return String.format("unknown batch flags 0x%04x", flags & 0xFFFF);
    }
    int count = buf.getInt(pos + COUNT_OFFSET);
    long length = buf.getInt(pos + LENGTH_OFFSET);
    if (count < 1 || (long) count * RECORD_HEADER_LENGTH > length - (HEADER_LENGTH - 4)) {
      return "batch claims " + count + " records in " + (4 + length) + " bytes";
    }
    return null;
  }

  /**
   * Checks the batch of {@code total} bytes at byte {@code pos} of {@code ch} without holding it
   * whole: its header ({@link #checkHeader}), then its CRC32C, reading it through {@code scratch}
   * a piece at a time. For a batch larger than a reader's buffer, before the buffer grows for it, so
   * that a damaged length field cannot make a reader allocate as much as it claims. The records'
   * lengths are checked by {@link #check} once the batch is read whole. Returns null when valid,
   * else what is wrong; {@code scratch}'s contents are overwritten.
   */
  String checkLarge(FileChannel ch, long pos, int total, ByteBuffer scratch, long expectedBaseOffset)
      throws IOException {
    scratch.clear().limit(HEADER_LENGTH);
    FilePartition.readFully(ch, scratch, pos);
    String bad = checkHeader(scratch, 0, expectedBaseOffset);
    if (bad != null) {
      return bad;
    }
    int stored = scratch.getInt(CRC_OFFSET);
    crc.reset();
    long end = pos + total;
    for (long at = pos + CRC_START; at < end; ) {
      int want = (int) Math.min(scratch.capacity(), end - at);
      scratch.clear().limit(want);
      FilePartition.readFully(ch, scratch, at);
      scratch.flip();
      crc.update(scratch);
      at += want;
    }
    return (int) crc.getValue() == stored ? null : "batch of " + total + " bytes fails its CRC32C";
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
