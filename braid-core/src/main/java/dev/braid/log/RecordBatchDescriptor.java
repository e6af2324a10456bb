package dev.braid.log;

/**
 * The binary layout of a record batch, the unit of append, storage, replication and CRC. Every
 * {@link Log} accepts batches built by {@link RecordBatchBuilder}; the {@link FileLog} stores them
 * on disk exactly as laid out here, so a batch is written and read without re-encoding.
 *
 * <p>All integers are big-endian. A batch:
 *
 * <pre>
 *   0                   4                   8
 *   +-------------------+-------------------+
 *   | batch length (*)  | CRC32C (**)       |
 *   +-------------------+-------------------+
 *   | base offset                           |   offset of the first record
 *   +-------------------+---------+---------+
 *   | record count      | magic   | flags   |   magic = 1, flags = 0
 *   +-------------------+---------+---------+
 *   | min event time (epoch millis)         |
 *   +---------------------------------------+
 *   | max event time (epoch millis)         |
 *   +---------------------------------------+
 *   | max ingest time (epoch millis)        |
 *   +---------------------------------------+   48 bytes of header, then `record count` records:
 *   | record length (***) | event time (8) | ingest time (8) | key length (4) | key | value |
 *   +---------------------------------------+
 * </pre>
 *
 * (*) bytes that follow the length field, i.e. the whole batch is {@code 4 + length} bytes.
 * (**) CRC32C over every byte after the CRC field: base offset, header and records, so a torn or
 * bit-flipped batch is detected wherever the damage is.
 * (***) bytes that follow the record length field: {@code 20 + key length + value length}.
 *
 * <p>Record {@code i} of a batch has offset {@code base offset + i} in the {@link FileLog}; other
 * logs report their own (increasing, possibly sparse) offsets.
 */
public final class RecordBatchDescriptor {

  public static final int LENGTH_OFFSET = 0;
  public static final int CRC_OFFSET = 4;
  public static final int BASE_OFFSET_OFFSET = 8;
  public static final int COUNT_OFFSET = 16;
  public static final int MAGIC_OFFSET = 20;
  public static final int FLAGS_OFFSET = 22;
  public static final int MIN_EVENT_TIME_OFFSET = 24;
  public static final int MAX_EVENT_TIME_OFFSET = 32;
  public static final int MAX_INGEST_TIME_OFFSET = 40;
  public static final int HEADER_LENGTH = 48;
  /** First byte covered by the CRC. */
  public static final int CRC_START = 8;

  public static final short MAGIC = 1;

  public static final int RECORD_LENGTH_OFFSET = 0;
  public static final int RECORD_EVENT_TIME_OFFSET = 4;
  public static final int RECORD_INGEST_TIME_OFFSET = 12;
  public static final int RECORD_KEY_LENGTH_OFFSET = 20;
  public static final int RECORD_HEADER_LENGTH = 24;

  private RecordBatchDescriptor() {}

  /** Total bytes of a record with the given key and value lengths. */
  public static int recordSize(int keyLength, int valueLength) {
    return RECORD_HEADER_LENGTH + keyLength + valueLength;
  }
}
