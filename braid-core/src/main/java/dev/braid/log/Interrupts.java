package dev.braid.log;

import java.util.function.Supplier;

/**
 * A calling thread's pending interrupt, set aside while a call writes files: an interrupted
 * {@code FileChannel} operation closes its channel ({@code ClosedByInterruptException}), so a
 * catalog, checkpoint or segment write that an application's interrupted thread made (a
 * try-with-resources after catching {@code InterruptedException}, say) failed, and left the engine
 * half closed or a version stuck building. The interrupt is restored when the call returns or
 * throws, for the caller to act on; one that arrives during the call is the caller's as before
 * (a wait in the call may end on it). The log's appends, polls and flushes do the same around their
 * own I/O ({@link #holdBack}, {@link #restore}): a partition's writer channel is shared by every
 * appender. One interrupt that lands during the I/O itself still closes it; the partition then opens
 * the file again (see {@code Segment#reopenIfClosed}).
 */
public final class Interrupts {

  private Interrupts() {}

  /** Clears the calling thread's pending interrupt before file I/O; returns whether it was set. */
  public static boolean holdBack() {
    return Thread.interrupted();
  }

  /** Sets the calling thread's interrupt again if {@link #holdBack} found it set. */
  public static void restore(boolean interrupted) {
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Runs {@code call} with the thread's pending interrupt set aside, and restores it afterwards. */
  public static <T> T setAside(Supplier<T> call) {
    boolean interrupted = holdBack();
    try {
      return call.get();
    } finally {
      restore(interrupted);
    }
  }

  /** File I/O through channels of its own, which it opens and closes. */
  @FunctionalInterface
  public interface ChannelIo {
    void run() throws java.io.IOException;
  }

  /**
   * Runs {@code io} and, when an interrupt that lands during it closes its channel
   * ({@code ClosedByInterruptException}), runs it again with the interrupt cleared, up to twice
   * more. Returns whether an interrupt was cleared, for the caller to {@link #restore} once its own
   * file I/O is done. For writes at a commit point (a catalog) that a cancellation arriving at that
   * moment should not cut in half: the caller sees the interrupt at its next check instead.
   */
  public static boolean finish(ChannelIo io) throws java.io.IOException {
    boolean interrupted = false;
    for (int attempt = 0; ; attempt++) {
      try {
        io.run();
        return interrupted;
      } catch (java.nio.channels.ClosedByInterruptException e) {
        interrupted |= Thread.interrupted();
        if (attempt == 2) {
          restore(interrupted);
          throw e;
        }
      }
    }
  }

  /** {@link #setAside(Supplier)} for a call without a result. */
  public static void setAside(Runnable call) {
    setAside(() -> {
      call.run();
      return null;
    });
  }
}
