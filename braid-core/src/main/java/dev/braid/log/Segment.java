package dev.braid.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One segment file of a partition and its in-memory sparse index. Written only by the partition's
 * writer (under its lock); {@link #size} is published after each write so readers see whole
 * batches only.
 */
final class Segment {

  final Path file;
  final long baseOffset;
  /**
   * The writer's channel on the file (readers open their own). Replaced only by {@link #reopenIfClosed},
   * after an interrupt closed it under a write or an fsync.
   */
  volatile FileChannel channel;

  /** Bytes of the file that hold whole batches; readers read below it. */
  volatile long size;

  // Sparse index, guarded by the partition's write lock for writes; readers copy under the lock.
  private int[] indexRelativeOffsets = new int[64];
  private int[] indexPositions = new int[64];
  private int indexEntries;
  private long lastIndexedPosition = -1;

  Segment(Path file, long baseOffset, FileChannel channel, long size) {
    this.file = file;
    this.baseOffset = baseOffset;
    this.channel = channel;
    this.size = size;
  }

  /** Notes a batch that starts at {@code position} with first offset {@code offset}. */
  synchronized void maybeIndex(long offset, long position) {
    if (lastIndexedPosition >= 0 && position - lastIndexedPosition < SegmentDescriptor.INDEX_INTERVAL_BYTES) {
      return;
    }
    if (indexEntries == indexPositions.length) {
      indexPositions = Arrays.copyOf(indexPositions, indexEntries * 2);
      indexRelativeOffsets = Arrays.copyOf(indexRelativeOffsets, indexEntries * 2);
    }
    indexRelativeOffsets[indexEntries] = (int) (offset - baseOffset);
    indexPositions[indexEntries] = (int) position;
    indexEntries++;
    lastIndexedPosition = position;
  }

  /**
   * The last indexed batch whose first offset is at or below {@code offset}: its file position in
   * the low 32 bits and its first offset relative to {@link #baseOffset} in the high 32 (one read, so
   * that the two belong to the same entry); the segment's first batch when no entry is.
   */
  synchronized long floorEntry(long offset) {
    long rel = offset - baseOffset;
    int lo = 0;
    int hi = indexEntries - 1;
    int found = -1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (indexRelativeOffsets[mid] <= rel) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? SegmentDescriptor.HEADER_LENGTH
        : (long) indexRelativeOffsets[found] << 32 | indexPositions[found] & 0xFFFFFFFFL;
  }

  /**
   * Forgets the index, whose entries a reader found pointing at other batches than they name:
   * every later seek reads the segment from its first batch (see {@link FileLogReader}).
   */
  synchronized void dropIndex() {
    indexEntries = 0;
  }

  /** File position of the last indexed batch whose first offset is at or below {@code offset}. */
  long floorPosition(long offset) {
    return floorEntry(offset) & 0xFFFFFFFFL;
  }


  synchronized long lastIndexedPosition() {
    return indexEntries == 0 ? SegmentDescriptor.HEADER_LENGTH : indexPositions[indexEntries - 1];
  }

  /** The index in its on-disk form. */
  synchronized ByteBuffer encodeIndex() {
    ByteBuffer b = ByteBuffer.allocate(indexEntries * SegmentDescriptor.INDEX_ENTRY_LENGTH);
    for (int i = 0; i < indexEntries; i++) {
      b.putInt(indexRelativeOffsets[i]).putInt(indexPositions[i]);
    }
    return b.flip();
  }

  /** Loads an on-disk index; returns false (and loads nothing) if it is not well formed. */
  synchronized boolean decodeIndex(ByteBuffer b, long fileSize) {
    if (b.remaining() % SegmentDescriptor.INDEX_ENTRY_LENGTH != 0 || b.remaining() == 0) {
      return false;
    }
    int n = b.remaining() / SegmentDescriptor.INDEX_ENTRY_LENGTH;
    int[] rel = new int[Math.max(n, 64)];
    int[] pos = new int[Math.max(n, 64)];
    int prevRel = -1;
    int prevPos = -1;
    for (int i = 0; i < n; i++) {
      rel[i] = b.getInt();
      pos[i] = b.getInt();
      if (rel[i] < prevRel || pos[i] <= prevPos || pos[i] < SegmentDescriptor.HEADER_LENGTH || pos[i] >= fileSize
          || i == 0 && (rel[0] != 0 || pos[0] != SegmentDescriptor.HEADER_LENGTH)) { // the first entry: the first batch
        return false;
      }
      prevRel = rel[i];
      prevPos = pos[i];
    }
    indexRelativeOffsets = rel;
    indexPositions = pos;
    indexEntries = n;
    lastIndexedPosition = pos[n - 1];
    return true;
  }

  /**
   * Opens the file again if its channel is closed: an interrupt of a thread in a write or an fsync
   * on it closes it ({@code ClosedByInterruptException}; other threads in it then get an
   * {@code AsynchronousCloseException}). The file is whole; only that descriptor is gone. Returns
   * whether it opened it. The caller holds the partition's write lock and knows it is not closing.
   */
  synchronized boolean reopenIfClosed() throws IOException {
    if (channel.isOpen()) {
      return false;
    }
    try {
      channel = FileChannel.open(file, java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE);
    } catch (java.nio.file.AccessDeniedException readOnly) { // a sealed segment opened for reading only
      channel = FileChannel.open(file, java.nio.file.StandardOpenOption.READ);
    }
    return true;
  }

  void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("closing " + file, e);
    }
  }

  /** Closes the file on a path that is already failing; a second failure would hide the first. */
  void closeQuietly() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // the caller is about to throw the error that matters
    }
  }
}
