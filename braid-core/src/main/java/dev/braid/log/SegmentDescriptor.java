package dev.braid.log;

import java.nio.ByteBuffer;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * How the {@link FileLog} lays a partition out on disk.
 *
 * <pre>
 * &lt;log dir&gt;/
 *   LOCK                                  held by the process that has the log open (pid inside)
 *   &lt;stream&gt;/stream.properties          partitions, durability, sizes, first offset if not 0 (atomically)
 *   &lt;stream&gt;/p00000/                     one directory per partition
 *       00000000000000000000.log          segment: file header, then record batches
 *       00000000000000000000.idx          sparse index, written when the segment is sealed
 *       00000000000000183344.log          the active segment (the last one) is the only one written
 * </pre>
 *
 * A segment file, named by the offset of its first record (20 digits):
 *
 * <pre>
 *   0               8       12      16              24      28      32
 *   +---------------+-------+-------+---------------+-------+-------+----------------------
 *   | magic BRAIDSEG| ver 1 | part. | base offset   | CRC32C| 0     | record batches ...
 *   +---------------+-------+-------+---------------+-------+-------+----------------------
 * </pre>
 *
 * The header CRC32C covers bytes [0, 24). Batches follow back to back, each laid out as in
 * {@link RecordBatchDescriptor}, with consecutive offsets: a batch's base offset is the previous
 * batch's base offset plus its record count. A segment is <em>sealed</em> when the partition rolls
 * to a new one (it is fsynced and its index written first); only the active segment can have a
 * torn tail, and recovery truncates it back to the last whole batch.
 *
 * <p>The sparse index holds 8-byte entries {@code (int relative offset, int file position)}, one
 * for the first batch of the segment and then one each time at least {@link #INDEX_INTERVAL_BYTES}
 * bytes of batches were written since the previous entry. Positions point at batch starts.
 */
final class SegmentDescriptor {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'S', 'E', 'G'};
  static final int VERSION = 1;
  static final int HEADER_LENGTH = 32;
  static final int VERSION_OFFSET = 8;
  static final int PARTITION_OFFSET = 12;
  static final int BASE_OFFSET_OFFSET = 16;
  static final int HEADER_CRC_OFFSET = 24;

  static final int INDEX_ENTRY_LENGTH = 8;
  static final int INDEX_INTERVAL_BYTES = 4096;

  static final String SEGMENT_SUFFIX = ".log";
  static final String INDEX_SUFFIX = ".idx";
  static final Pattern SEGMENT_NAME = Pattern.compile("\\d{20}\\.log");
  static final Pattern INDEX_NAME = Pattern.compile("\\d{20}\\.idx");
  /**
   * The bytes that recovery cut from an active segment, kept aside for inspection when they were not
   * all zeros: {@code <segment>.log.<byte where the cut started>.cut}. Never read by the log.
   */
  static final Pattern CUT_NAME = Pattern.compile("\\d{20}\\.log\\.\\d+(-\\d+)?\\.cut");

  private SegmentDescriptor() {}

  static String segmentName(long baseOffset) {
    return String.format("%020d%s", baseOffset, SEGMENT_SUFFIX);
  }

  static String indexName(long baseOffset) {
    return String.format("%020d%s", baseOffset, INDEX_SUFFIX);
  }

  static long baseOffsetOf(String fileName) {
    return Long.parseLong(fileName.substring(0, 20));
  }

  static ByteBuffer header(int partition, long baseOffset) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
    b.put(MAGIC).putInt(VERSION).putInt(partition).putLong(baseOffset);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, HEADER_CRC_OFFSET);
    b.putInt((int) crc.getValue()).putInt(0);
    return b.flip();
  }

  /** Returns null when the header is valid, else what is wrong with it. */
  static String checkHeader(ByteBuffer b, int partition, long baseOffset) {
    for (int i = 0; i < MAGIC.length; i++) {
      if (b.get(i) != MAGIC[i]) {
        return "not a Braid segment file (bad magic)";
      }
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, HEADER_CRC_OFFSET);
    if ((int) crc.getValue() != b.getInt(HEADER_CRC_OFFSET)) {
      return "segment header fails its CRC";
    }
    if (b.getInt(VERSION_OFFSET) != VERSION) {
      return "unsupported segment format version " + b.getInt(VERSION_OFFSET);
    }
    if (b.getInt(PARTITION_OFFSET) != partition) {
      return "segment belongs to partition " + b.getInt(PARTITION_OFFSET) + ", found in partition " + partition;
    }
    if (b.getLong(BASE_OFFSET_OFFSET) != baseOffset) {
      return "header base offset " + b.getLong(BASE_OFFSET_OFFSET) + " does not match the file name";
    }
    return null;
  }
}
