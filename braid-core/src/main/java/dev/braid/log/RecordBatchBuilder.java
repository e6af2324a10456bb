package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Accumulates records into one batch laid out as in {@link RecordBatchDescriptor}. Reusable: call
 * {@link #clear()} after the batch was appended. Adding a record copies its bytes and allocates
 * nothing unless the buffer must grow. Not thread-safe; use one builder per appending thread.
 *
 * <p>A batch carries an id on every record (the {@code add} overload with an id) or on none; the
 * first record added after {@link #clear()} decides, and mixing throws {@link IllegalStateException}.
 */
public final class RecordBatchBuilder {

  private final int maxRecordBytes;
  private ByteBuffer buffer;
  private int count;
  private long minEventTime;
  private long maxEventTime;
  private long maxIngestTime;
  private int largestRecordBytes;
  /** Whether the records added so far carry ids; meaningless while the batch is empty. */
  private boolean withIds;

  /**
   * @param initialCapacity bytes to reserve up front (the buffer doubles when needed)
   * @param maxRecordBytes largest key + value accepted; larger records throw {@link RecordTooLargeException}
   */
  public RecordBatchBuilder(int initialCapacity, int maxRecordBytes) {
    this.maxRecordBytes = maxRecordBytes;
    this.buffer = ByteBuffer.allocateDirect(Math.max(initialCapacity, HEADER_LENGTH + 64)).order(ByteOrder.BIG_ENDIAN);
    clear();
  }

  public RecordBatchBuilder() {
    this(64 << 10, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
  }

  /** Empties the builder for the next batch; keeps its memory. */
  public RecordBatchBuilder clear() {
    buffer.clear();
    buffer.position(HEADER_LENGTH);
    count = 0;
    minEventTime = Long.MAX_VALUE;
    maxEventTime = Long.MIN_VALUE;
    maxIngestTime = Long.MIN_VALUE;
    largestRecordBytes = 0;
    return this;
  }

  public RecordBatchBuilder add(byte[] key, byte[] value, long eventTime, long ingestTime) {
    return add(key, 0, key.length, value, 0, value.length, eventTime, ingestTime);
  }

  /** Appends one record; throws {@link RecordTooLargeException} when key + value exceed the maximum. */
  public RecordBatchBuilder add(byte[] key, int keyOff, int keyLen, byte[] value, int valueOff, int valueLen,
      long eventTime, long ingestTime) {
    checkIds(false);
    int size = recordSize(keyLen, valueLen);
    startRecord(size, keyLen + valueLen, eventTime, ingestTime);
    buffer.putInt(keyLen).put(key, keyOff, keyLen).put(value, valueOff, valueLen);
    return this;
  }

  /**
   * Appends one record with an id (UTF-8, at most {@link RecordBatchDescriptor#MAX_ID_BYTES} bytes);
   * every record of the batch must then have one. Throws {@link RecordTooLargeException} when key + id
   * + value exceed the maximum, {@link IllegalArgumentException} for a longer id, and
   * {@link IllegalStateException} when the batch already holds records without ids.
   */
  public RecordBatchBuilder add(byte[] key, int keyOff, int keyLen, byte[] id, int idOff, int idLen, byte[] value,
      int valueOff, int valueLen, long eventTime, long ingestTime) {
    if (idLen > MAX_ID_BYTES) {
      throw new IllegalArgumentException("record id of " + idLen + " bytes; at most " + MAX_ID_BYTES);
    }
    checkIds(true);
    int size = recordSize(keyLen, idLen, valueLen);
    startRecord(size, keyLen + idLen + valueLen, eventTime, ingestTime);
    buffer.putInt(keyLen).put(key, keyOff, keyLen).putShort((short) idLen).put(id, idOff, idLen)
        .put(value, valueOff, valueLen);
    return this;
  }

  private void checkIds(boolean ids) {
    if (count == 0) {
      withIds = ids;
    } else if (withIds != ids) {
      throw new IllegalStateException(withIds
          ? "this batch carries an id on every record: a record without an id cannot join it"
          : "this batch holds records without ids: a record with an id cannot join it; append it in its own batch");
    }
  }

  /** Checks the size, makes room and writes the record's length and times; the caller writes the rest. */
  private void startRecord(int size, int payloadBytes, long eventTime, long ingestTime) {
    if (payloadBytes > maxRecordBytes) {
      throw new RecordTooLargeException(payloadBytes, maxRecordBytes);
    }
    ensureRemaining(size);
    buffer.putInt(size - 4).putLong(eventTime).putLong(ingestTime);
    count++;
    minEventTime = Math.min(minEventTime, eventTime);
    maxEventTime = Math.max(maxEventTime, eventTime);
    maxIngestTime = Math.max(maxIngestTime, ingestTime);
    largestRecordBytes = Math.max(largestRecordBytes, payloadBytes);
  }

  /** Appends one record whose key and value are slices of {@code source} (read with absolute gets). */
  public RecordBatchBuilder add(ByteBuffer source, int keyOff, int keyLen, int valueOff, int valueLen,
      long eventTime, long ingestTime) {
    checkIds(false);
    int size = recordSize(keyLen, valueLen);
    startRecord(size, keyLen + valueLen, eventTime, ingestTime);
    buffer.putInt(keyLen);
    buffer.put(buffer.position(), source, keyOff, keyLen);
    buffer.position(buffer.position() + keyLen);
    buffer.put(buffer.position(), source, valueOff, valueLen);
    buffer.position(buffer.position() + valueLen);
    return this;
  }

  public int count() {
    return count;
  }

  /** Bytes of the batch including its header. */
  public int sizeInBytes() {
    return buffer.position();
  }

  /**
   * Key + value bytes of the largest record added. A log checks it against its stream's
   * {@code maxRecordBytes}, which may be below the limit this builder was made with.
   */
  public int largestRecordBytes() {
    return largestRecordBytes;
  }

  /** Whether the records of this (non-empty) batch carry ids. */
  public boolean hasIds() {
    return count > 0 && withIds;
  }

  public boolean isEmpty() {
    return count == 0;
  }

  /**
   * Completes the header for {@code baseOffset} (all fields except the CRC, which the log computes
   * with the final base offset) and returns a view of the whole batch, positioned at 0. The view
   * is valid until the next call that changes the builder.
   */
  public ByteBuffer seal(long baseOffset) {
    int size = buffer.position();
    buffer.putInt(LENGTH_OFFSET, size - 4);
    buffer.putInt(CRC_OFFSET, 0);
    buffer.putLong(BASE_OFFSET_OFFSET, baseOffset);
    buffer.putInt(COUNT_OFFSET, count);
    buffer.putShort(MAGIC_OFFSET, MAGIC);
    buffer.putShort(FLAGS_OFFSET, hasIds() ? FLAG_IDS : 0);
    buffer.putLong(MIN_EVENT_TIME_OFFSET, count == 0 ? 0 : minEventTime);
    buffer.putLong(MAX_EVENT_TIME_OFFSET, count == 0 ? 0 : maxEventTime);
    buffer.putLong(MAX_INGEST_TIME_OFFSET, count == 0 ? 0 : maxIngestTime);
    ByteBuffer view = buffer.duplicate().order(ByteOrder.BIG_ENDIAN);
    view.position(0).limit(size);
    return view;
  }

  private void ensureRemaining(int bytes) {
    if (buffer.remaining() >= bytes) {
      return;
    }
    long needed = (long) buffer.position() + bytes;
    long capacity = Math.max((long) buffer.capacity() * 2, needed);
    if (capacity > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("record batch would exceed 2 GiB; append smaller batches");
    }
    ByteBuffer bigger = ByteBuffer.allocateDirect((int) capacity).order(ByteOrder.BIG_ENDIAN);
    buffer.flip();
    bigger.put(buffer);
    buffer = bigger;
  }
}
