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
 *   | record count      | magic   | flags   |   magic = 1, flags: see below
 *   +-------------------+---------+---------+
 *   | min event time (epoch millis)         |
 *   +---------------------------------------+
 *   | max event time (epoch millis)         |
 *   +---------------------------------------+
 *   | max ingest time (epoch millis)        |
 *   +---------------------------------------+   48 bytes of header, then `record count` records:
 *   | record length (***) | event time (8) | ingest time (8) | key length (4) | key | value |
 *   +---------------------------------------+
 *   in a batch with FLAG_IDS, every record carries an id (UTF-8) between key and value:
 *   | record length (***) | event time (8) | ingest time (8) | key length (4) | key | id length (2) | id | value |
 * </pre>
 *
 * (*) bytes that follow the length field, i.e. the whole batch is {@code 4 + length} bytes.
 * (**) CRC32C over every byte after the CRC field: base offset, header and records, so a torn or
 * bit-flipped batch is detected wherever the damage is.
 * (***) bytes that follow the record length field: {@code 20 + key length + value length}, plus
 * {@code 2 + id length} in a batch with ids.
 *
 * <p>Flags: bit 0 ({@link #FLAG_IDS}) says that every record of the batch carries an id, the event
 * id or idempotency key that ingest deduplicates by; a batch has ids on all its records or on none.
 * Other bits are 0; a batch with an unknown bit set is refused as corrupt, so an older reader never
 * misreads a newer format. Batches written before ids existed have flags 0 and read as before.
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

  /** Flag bit: every record carries an id after its key. */
  public static final short FLAG_IDS = 1;
  /** Every flag bit this version knows. */
  public static final short KNOWN_FLAGS = FLAG_IDS;
  /** Bytes of a record's id length field (in batches with {@link #FLAG_IDS}). */
  public static final int ID_LENGTH_BYTES = 2;
  /** The longest id, in UTF-8 bytes. */
  public static final int MAX_ID_BYTES = 0xFFFF;

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

  /** Total bytes of a record with an id (in a batch with {@link #FLAG_IDS}). */
  public static int recordSize(int keyLength, int idLength, int valueLength) {
    return RECORD_HEADER_LENGTH + keyLength + ID_LENGTH_BYTES + idLength + valueLength;
  }
}
