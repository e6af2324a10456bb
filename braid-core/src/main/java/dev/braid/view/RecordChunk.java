package dev.braid.view;

import dev.braid.log.RecordCursor;
import java.nio.ByteBuffer;

/**
 * A few records of one poll, copied out of the cursor with their key hashes, so that a fold can ask
 * the table to {@link GroupTable#touch} what all their lookups will read before folding them one by
 * one. With a table of a million keys in main memory, each lookup is a chain of dependent cache
 * misses; touching a chunk's keys step by step lets the CPU overlap the misses of different keys,
 * which more than doubles the events folded per CPU-second. Only useful when the view groups by the
 * stream's key (a record's key is then its group key; otherwise the touches load the wrong keys and
 * are merely wasted). Reused; owned by one thread.
 */
final class RecordChunk {

  /**
   * Records per chunk. More keys per touch step overlap more misses: with 1 M keys, 64 folded
   * 10-20 % more events per CPU-second than 16 (32 and 128 in between; docs/PERFORMANCE.md).
   */
  static final int CAPACITY = 64;

  final ByteBuffer[] buffer = new ByteBuffer[CAPACITY];
  final int[] valueOffset = new int[CAPACITY];
  final int[] valueLength = new int[CAPACITY];
  final long[] offset = new long[CAPACITY];
  final long[] eventTime = new long[CAPACITY];
  /** Each record's key slice in its buffer and the key's {@link GroupTable#hash}. */
  final int[] keyOffset = new int[CAPACITY];
  final int[] keyLength = new int[CAPACITY];
  final int[] hash = new int[CAPACITY];
  private final int[] scratch = new int[CAPACITY];
  int size;
  /** Keeps the touches' loads alive. */
  private long touched;

  /**
   * Copies the cursor's current record and those after it, up to {@code max} (at most
   * {@link #CAPACITY}) records below offset {@code until}. The cursor must be on a record below
   * {@code until}; returns whether it is, afterwards, on another one (the next chunk's first).
   */
  boolean fill(RecordCursor c, long until, int max) {
    int n = Math.min(max, CAPACITY);
    int k = 0;
    boolean more;
    do {
      ByteBuffer b = c.buffer();
      buffer[k] = b;
      valueOffset[k] = c.valueOffset();
      valueLength[k] = c.valueLength();
      offset[k] = c.offset();
      eventTime[k] = c.eventTime();
      int ko = c.keyOffset();
      int kl = c.keyLength();
      keyOffset[k] = ko;
      keyLength[k] = kl;
      hash[k] = GroupTable.hash(b, ko, kl);
      k++;
      more = c.next() && c.offset() < until;
    } while (more && k < n);
    size = k;
    return more;
  }

  /** Touches, in {@code table}, what looking up this chunk's record keys will read. */
  void touch(GroupTable table) {
    touched += table.touch(hash, scratch, size);
  }

  /** Drops the buffer references (they belong to the log reader's poll). */
  void clear() {
    java.util.Arrays.fill(buffer, 0, size, null);
    size = 0;
  }
}
