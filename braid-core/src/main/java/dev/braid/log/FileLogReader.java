package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.BASE_OFFSET_OFFSET;
import static dev.braid.log.RecordBatchDescriptor.COUNT_OFFSET;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
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
  /**
   * The first offset the batch at {@code filePosition} must have: batches follow each other without
   * gaps, so each one read is checked against the end of the one before (and the first after a seek
   * against the index entry that led to it). A damaged index would otherwise skip records silently.
   */
  private long expectedBase;
  /** Whether {@code filePosition} came from an index entry and no batch has been read there yet. */
  private boolean fromIndex;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FileLogReader.class);

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
    long start = partition.startOffset();
    if (offset < start || offset > end) {
      throw new OffsetOutOfRangeException(partition.stream, partition.partition, offset, start, end);
    }
    Segment[] segs = partition.segments();
    int i = segs.length - 1;
    while (i > 0 && segs[i].baseOffset > offset) {
      i--;
    }
    moveTo(segs[i]);
    long entry = segment.floorEntry(offset);
    filePosition = (int) entry;
    expectedBase = segment.baseOffset + (entry >>> 32);
    fromIndex = entry != SegmentDescriptor.HEADER_LENGTH; // an entry led here (even one at the first batch)
    position = offset;
    cursor.clear();
  }

  /**
   * The batch that an index entry led to is not the one it names (or not a batch): the index is
   * damaged, not the data. Reads this segment from its first batch instead, forgets the index for
   * every later seek, and deletes its file so that the next open rebuilds it from the segment.
   */
  private void indexDamaged(String problem) {
    Path index = segment.file.resolveSibling(SegmentDescriptor.indexName(segment.baseOffset));
    LOG.warn("stream '{}' partition {}: index {} is damaged (its entry for offset {} points at a batch that does not "
        + "start there: {}); reading {} from its first batch, and the index is rebuilt on the next open", partition.stream,
        partition.partition, index, expectedBase, problem, segment.file);
    segment.dropIndex();
    try {
      Files.deleteIfExists(index);
    } catch (IOException e) {
      LOG.warn("could not delete damaged index {}: {}", index, e.getMessage());
    }
    filePosition = SegmentDescriptor.HEADER_LENGTH;
    expectedBase = segment.baseOffset;
    fromIndex = false;
  }

  @Override
  public RecordCursor poll() {
    boolean interrupted = Interrupts.holdBack();
    try {
      return pollUninterrupted();
    } finally {
      Interrupts.restore(interrupted);
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
        expectedBase = next.baseOffset;
        continue;
      }
      int filled = fill(readable);
      int parsed = 0;
      long lastEnd = -1;
      boolean restart = false;
      while (parsed + 4 <= filled) {
        int length = buffer.getInt(parsed);
        if (!BatchCheck.plausibleLength(length)) {
          if (fromIndex) {
            indexDamaged("impossible batch length " + length);
            restart = true;
            break;
          }
          throw new CorruptLogException(segment.file, filePosition + parsed, "impossible batch length " + length);
        }
        int total = 4 + length;
        if (parsed + total > filled) {
          if (filePosition + parsed + total > readable) {
            if (fromIndex) {
              indexDamaged("a batch of " + total + " bytes would run past the end of the written data");
              restart = true;
              break;
            }
            throw new CorruptLogException(segment.file, filePosition + parsed,
                "batch of " + total + " bytes runs past the end of the written data");
          }
          if (parsed == 0) {
            // A batch larger than the buffer: prove it whole before growing the buffer for it, so
            // a damaged length field cannot make this reader allocate up to a segment's size.
            String bad = checkLarge(total);
            if (bad != null) {
              if (fromIndex) {
                indexDamaged(bad);
                restart = true;
                break;
              }
              throw new CorruptLogException(segment.file, filePosition, bad);
            }
            buffer = ByteBuffer.allocateDirect(Math.max(total, buffer.capacity() * 2)).order(ByteOrder.BIG_ENDIAN);
            filled = fill(readable);
            continue;
          }
          break;
        }
        String bad = check.check(buffer, parsed, expectedBase);
        if (bad != null) {
          if (fromIndex) {
            indexDamaged(bad);
            restart = true;
            break;
          }
          throw new CorruptLogException(segment.file, filePosition + parsed, bad);
        }
        fromIndex = false;
        lastEnd = buffer.getLong(parsed + BASE_OFFSET_OFFSET) + buffer.getInt(parsed + COUNT_OFFSET);
        expectedBase = lastEnd;
        parsed += total;
      }
      if (restart) {
        continue;
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

  /**
   * {@link BatchCheck#checkLarge} for the batch of {@code total} bytes at {@code filePosition},
   * larger than the buffer, read through the buffer a piece at a time.
   */
  private String checkLarge(int total) {
    try {
      return check.checkLarge(channel, filePosition, total, buffer, expectedBase);
    } catch (IOException e) {
      throw new LogException(String.format("reading %s at byte %d failed: %s", segment.file, filePosition,
          LogException.describe(e)), e);
    } finally {
      buffer.clear();
    }
  }

  /** The capacity of the read buffer (tests: a damaged length must not grow it). */
  int bufferCapacity() {
    return buffer.capacity();
  }

  private int fill(long readable) {
    int want = (int) Math.min(buffer.capacity(), readable - filePosition);
    buffer.clear().limit(want);
    readAt(filePosition);
    buffer.clear();
    return want;
  }

  /** Reads the segment from byte {@code at} until the buffer's limit. */
  private void readAt(long at) {
    try {
      if (channel == null || !channel.isOpen()) {
        channel = FileChannel.open(segment.file, StandardOpenOption.READ);
      }
      FilePartition.readFully(channel, buffer, at);
    } catch (IOException e) {
      throw new LogException(String.format("reading %s at byte %d failed: %s", segment.file, at,
          LogException.describe(e)), e);
    }
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
