package dev.braid;

/**
 * A running subscription to a view's changes stream (see {@link Braid#subscribe}).
 *
 * <p>The subscription owns one daemon thread that reads the view's changes log and calls the
 * consumer once per event, in id order, never concurrently. The log is the buffer: a slow consumer
 * only delays its own subscription (it falls behind, nothing is dropped and no other subscriber or
 * the engine waits for it). An exception thrown by the consumer ends the subscription; it is kept
 * in {@link #failure()}.
 */
public interface Subscription extends AutoCloseable {

  /** The id the next event delivered will have at least (the last delivered id plus one). */
  long nextId();

  /** Whether the subscription has ended (closed, the engine closed, or the consumer threw). */
  boolean isClosed();

  /** The consumer's exception that ended the subscription, or null. */
  Throwable failure();

  /**
   * Stops the subscription: no event is delivered after this returns, unless called from the
   * consumer itself (then the current call is the last). Waits up to 5 s for a consumer call in
   * progress, then interrupts the consumer's thread and waits a second more; a consumer that still
   * has not returned may go on running after this returns (it gets no further event), so free what it
   * uses only once it has returned. Idempotent.
   */
  @Override
  void close();
}
