package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.*;

import java.nio.ByteBuffer;

/** A cursor over whole, already verified batches laid out as in {@link RecordBatchDescriptor}. */
final class BatchRecordCursor implements RecordCursor {

  private ByteBuffer buffer;
  private int end;
  private long minOffset;

  private int nextBatch;
  private long baseOffset;
  private int remainingInBatch;
  private boolean batchHasIds;
  private int indexInBatch;
  private int recordPosition;

  private long offset;
  private long eventTime;
  private long ingestTime;
  private int keyOffset;
  private int keyLength;
  private int idOffset = -1;
  private int idLength;
  private int valueOffset;
  private int valueLength;

  /** Iterates the batches in {@code buffer[start, end)}, skipping records with offsets below {@code minOffset}. */
  void reset(ByteBuffer buffer, int start, int end, long minOffset) {
    this.buffer = buffer;
    this.end = end;
    this.minOffset = minOffset;
    this.nextBatch = start;
    this.remainingInBatch = 0;
  }

  void clear() {
    this.end = 0;
    this.nextBatch = 0;
    this.remainingInBatch = 0;
  }

  @Override
  public boolean next() {
    while (true) {
      if (remainingInBatch > 0) {
        int p = recordPosition;
        int length = buffer.getInt(p + RECORD_LENGTH_OFFSET);
        offset = baseOffset + indexInBatch;
        indexInBatch++;
        remainingInBatch--;
        recordPosition = p + 4 + length;
        if (offset < minOffset) {
          continue;
        }
        eventTime = buffer.getLong(p + RECORD_EVENT_TIME_OFFSET);
        ingestTime = buffer.getLong(p + RECORD_INGEST_TIME_OFFSET);
        keyLength = buffer.getInt(p + RECORD_KEY_LENGTH_OFFSET);
        keyOffset = p + RECORD_HEADER_LENGTH;
        valueOffset = keyOffset + keyLength;
        if (batchHasIds) {
          idLength = buffer.getShort(valueOffset) & 0xFFFF;
          idOffset = valueOffset + ID_LENGTH_BYTES;
          valueOffset = idOffset + idLength;
        }
        valueLength = p + 4 + length - valueOffset;
        return true;
      }
      if (nextBatch >= end) {
        return false;
      }
      int b = nextBatch;
      baseOffset = buffer.getLong(b + BASE_OFFSET_OFFSET);
      remainingInBatch = buffer.getInt(b + COUNT_OFFSET);
      batchHasIds = (buffer.getShort(b + FLAGS_OFFSET) & FLAG_IDS) != 0;
      if (!batchHasIds) {
        idOffset = -1;
        idLength = 0;
      }
      indexInBatch = 0;
      recordPosition = b + HEADER_LENGTH;
      nextBatch = b + 4 + buffer.getInt(b + LENGTH_OFFSET);
    }
  }

  @Override
  public long offset() {
    return offset;
  }

  @Override
  public long eventTime() {
    return eventTime;
  }

  @Override
  public long ingestTime() {
    return ingestTime;
  }

  @Override
  public ByteBuffer buffer() {
    return buffer;
  }

  @Override
  public int keyOffset() {
    return keyOffset;
  }

  @Override
  public int keyLength() {
    return keyLength;
  }

  @Override
  public int idOffset() {
    return idOffset;
  }

  @Override
  public int idLength() {
    return idLength;
  }

  @Override
  public int valueOffset() {
    return valueOffset;
  }

  @Override
  public int valueLength() {
    return valueLength;
  }
}
