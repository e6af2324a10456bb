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

  /** {@link #setAside(Supplier)} for a call without a result. */
  public static void setAside(Runnable call) {
    setAside(() -> {
      call.run();
      return null;
    });
  }
}
