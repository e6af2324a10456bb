package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.BASE_OFFSET_OFFSET;
import static dev.braid.log.RecordBatchDescriptor.COUNT_OFFSET;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * Reads a {@link FilePartition} with positional reads into one reused buffer. Each poll reads the
 * whole batches that fit the buffer, verifies each batch's CRC, and hands out a cursor over them.
 *
 * <p>The reader reads through a channel of its own on the current segment file, not the writer's:
 * an interrupt that lands during a FileChannel read closes that channel, and it must close only
 * this reader's (which opens it again on its next poll), never the partition's.
 */
final class FileLogReader implements LogReader {

  /** Set by {@link #wakeup()} from any thread; consumed by the next wait. */
  private final java.util.concurrent.atomic.AtomicBoolean woken = new java.util.concurrent.atomic.AtomicBoolean();

  private final FilePartition partition;
  private final BatchCheck check = new BatchCheck();
  private final BatchRecordCursor cursor = new BatchRecordCursor();
  private ByteBuffer buffer;

  private Segment segment;
  /** This reader's own channel on {@code segment}'s file; null until the first read of it. */
  private FileChannel channel;
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
    moveTo(segs[i]);
    filePosition = segment.floorPosition(offset);
    position = offset;
    cursor.clear();
  }

  @Override
  public RecordCursor poll() {
    boolean interrupted = FilePartition.holdBackInterrupt();
    try {
      return pollUninterrupted();
    } finally {
      FilePartition.restoreInterrupt(interrupted);
    }
  }

  private RecordCursor pollUninterrupted() {
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
        moveTo(next);
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
      if (channel == null || !channel.isOpen()) {
        channel = FileChannel.open(segment.file, StandardOpenOption.READ);
      }
      FilePartition.readFully(channel, buffer, filePosition);
    } catch (IOException e) {
      throw new LogException(String.format("reading %s at byte %d failed: %s", segment.file, filePosition,
          e.getMessage()), e);
    }
    buffer.clear();
    return want;
  }

  private void moveTo(Segment next) {
    if (next != segment) {
      closeChannel();
      segment = next;
    }
  }

  private void closeChannel() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing was written through it; the file stays readable through a new channel
      }
      channel = null;
    }
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
    return partition.awaitAppend(position, timeout, unit, () -> woken.getAndSet(false));
  }

  @Override
  public void wakeup() {
    woken.set(true);
    partition.signalWaiters();
  }

  @Override
  public void close() {
    cursor.clear();
    closeChannel();
  }
}
