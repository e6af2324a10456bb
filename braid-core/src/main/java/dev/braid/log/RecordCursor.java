package dev.braid.log;

import java.nio.ByteBuffer;

/**
 * Iterates the records that one {@link LogReader#poll()} returned. The cursor and its buffer are
 * reused by the next poll, so read what you need before polling again. Key and value are slices of
 * {@link #buffer()}, read with absolute gets; nothing is allocated per record.
 *
 * <pre>{@code
 * RecordCursor c = reader.poll();
 * while (c.next()) {
 *   handle(c.offset(), c.buffer(), c.keyOffset(), c.keyLength());
 * }
 * }</pre>
 */
public interface RecordCursor {

  /** Moves to the next record; false when the polled records are exhausted. */
  boolean next();

  long offset();

  long eventTime();

  long ingestTime();

  /** The buffer holding the current record's key and value; do not change its position or limit. */
  ByteBuffer buffer();

  int keyOffset();

  int keyLength();

  /**
   * Offset in {@link #buffer()} of the record's id (UTF-8: the event id or idempotency key ingest
   * deduplicated it by), or -1 when the record has none.
   */
  int idOffset();

  /** Bytes of the record's id; 0 when it has none. */
  int idLength();

  int valueOffset();

  int valueLength();

  /** A copy of the key (allocates; for tests and tools). */
  default byte[] key() {
    byte[] out = new byte[keyLength()];
    buffer().get(keyOffset(), out);
    return out;
  }

  /** The record's id, or null when it has none (allocates; for tests and tools). */
  default String id() {
    if (idOffset() < 0) {
      return null;
    }
    byte[] out = new byte[idLength()];
    buffer().get(idOffset(), out);
    return new String(out, java.nio.charset.StandardCharsets.UTF_8);
  }

  /** A copy of the value (allocates; for tests and tools). */
  default byte[] value() {
    byte[] out = new byte[valueLength()];
    buffer().get(valueOffset(), out);
    return out;
  }
}
