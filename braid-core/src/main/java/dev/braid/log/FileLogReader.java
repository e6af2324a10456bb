package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.BASE_OFFSET_OFFSET;
import static dev.braid.log.RecordBatchDescriptor.COUNT_OFFSET;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * Reads a {@link FilePartition} with positional reads into one reused buffer. Each poll reads the
 * whole batches that fit the buffer, verifies each batch's CRC, and hands out a cursor over them.
 */
final class FileLogReader implements LogReader {

  private final FilePartition partition;
  private final BatchCheck check = new BatchCheck();
  private final BatchRecordCursor cursor = new BatchRecordCursor();
  private ByteBuffer buffer;

  private Segment segment;
  private long filePosition;
  private long position;

  FileLogReader(FilePartition partition, long fromOffset, int fetchBytes) {
    this.partition = partition;
    this.buffer = ByteBuffer.allocateDirect(fetchBytes).order(ByteOrder.BIG_ENDIAN);
    seek(fromOffset);
  }

  @Override
  public int partition() {
    return partition.partition;
  }

  @Override
  public long position() {
    return position;
  }

  @Override
  public void seek(long offset) {
    long end = partition.endOffset();
    if (offset < 0 || offset > end) {
      throw new OffsetOutOfRangeException(partition.stream, partition.partition, offset, end);
    }
    Segment[] segs = partition.segments();
    int i = segs.length - 1;
    while (i > 0 && segs[i].baseOffset > offset) {
      i--;
    }
    segment = segs[i];
    filePosition = segment.floorPosition(offset);
    position = offset;
    cursor.clear();
  }

  @Override
  public RecordCursor poll() {
    while (true) {
      long readable = segment.size;
      if (filePosition >= readable) {
        Segment next = nextSegment();
        if (next == null) {
          cursor.clear();
          return cursor;
        }
        // The segment is sealed now, so its size is final; read what was appended before the roll.
        if (filePosition < segment.size) {
          continue;
        }
        segment = next;
        filePosition = SegmentDescriptor.HEADER_LENGTH;
        continue;
      }
      int filled = fill(readable);
      int parsed = 0;
      long lastEnd = -1;
      while (parsed + 4 <= filled) {
        int length = buffer.getInt(parsed);
        if (!BatchCheck.plausibleLength(length)) {
          throw new CorruptLogException(segment.file, filePosition + parsed, "impossible batch length " + length);
        }
        int total = 4 + length;
        if (parsed + total > filled) {
          if (filePosition + parsed + total > readable) {
            throw new CorruptLogException(segment.file, filePosition + parsed,
                "batch of " + total + " bytes runs past the end of the written data");
          }
          if (parsed == 0) {
            buffer = ByteBuffer.allocateDirect(Math.max(total, buffer.capacity() * 2)).order(ByteOrder.BIG_ENDIAN);
            filled = fill(readable);
            continue;
          }
          break;
        }
        String bad = check.check(buffer, parsed, -1);
        if (bad != null) {
          throw new CorruptLogException(segment.file, filePosition + parsed, bad);
        }
        lastEnd = buffer.getLong(parsed + BASE_OFFSET_OFFSET) + buffer.getInt(parsed + COUNT_OFFSET);
        parsed += total;
      }
      cursor.reset(buffer, 0, parsed, position);
      filePosition += parsed;
      if (lastEnd > position) {
        position = lastEnd;
        return cursor;
      }
      // Every record read was below the seek position; keep going.
    }
  }

  private int fill(long readable) {
    int want = (int) Math.min(buffer.capacity(), readable - filePosition);
    buffer.clear().limit(want);
    try {
      FilePartition.readFully(segment.channel, buffer, filePosition);
    } catch (IOException e) {
      throw new LogException(String.format("reading %s at byte %d failed: %s", segment.file, filePosition,
          e.getMessage()), e);
    }
    buffer.clear();
    return want;
  }

  private Segment nextSegment() {
    Segment[] segs = partition.segments();
    for (int i = 0; i < segs.length - 1; i++) {
      if (segs[i] == segment) {
        return segs[i + 1];
      }
    }
    return null;
  }

  @Override
  public boolean awaitData(long timeout, TimeUnit unit) throws InterruptedException {
    return partition.awaitAppend(position, timeout, unit);
  }

  @Override
  public void close() {
    cursor.clear();
  }
}
