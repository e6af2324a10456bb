package dev.braid.log;

import java.util.concurrent.TimeUnit;

/**
 * Reads one partition of a stream forward from a position. A reader belongs to one thread.
 * A reader only ever sees whole batches: a batch that is still being written is invisible until
 * its append completes.
 */
public interface LogReader extends AutoCloseable {

  int partition();

  /** The next offset this reader will return (records below it have been polled). */
  long position();

  /**
   * Moves to {@code offset}: the next poll returns the first record at or after it. Throws
   * {@link OffsetOutOfRangeException} when {@code offset} is past the partition's end.
   */
  void seek(long offset);

  /**
   * Fetches the next records (whole batches, up to the reader's fetch size) and returns a cursor
   * over them; the cursor is empty when the reader is at the end. Advances {@link #position()}
   * past every record the cursor will return.
   */
  RecordCursor poll();

  /**
   * Waits until records past {@link #position()} exist, the timeout passes, or the thread is
   * interrupted. Returns whether records are available. Woken by appends, not by polling.
   */
  boolean awaitData(long timeout, TimeUnit unit) throws InterruptedException;

  /**
   * Makes the current {@link #awaitData} return false at once (or the next one, if none is
   * waiting). The only method that may be called from another thread: it lets the reader's owner be
   * told about other work without an interrupt, which would close file channels.
   */
  void wakeup();

  @Override
  void close();
}
