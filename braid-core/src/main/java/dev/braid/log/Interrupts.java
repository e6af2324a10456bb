package dev.braid.log;

import java.util.function.Supplier;

/**
 * A calling thread's pending interrupt, set aside while a call writes files: an interrupted
 * {@code FileChannel} operation closes its channel ({@code ClosedByInterruptException}), so a
 * catalog, checkpoint or segment write that an application's interrupted thread made (a
 * try-with-resources after catching {@code InterruptedException}, say) failed, and left the engine
 * half closed or a version stuck building. The interrupt is restored when the call returns or
 * throws, for the caller to act on; one that arrives during the call is the caller's as before
 * (a wait in the call may end on it).
 */
public final class Interrupts {

  private Interrupts() {}

  /** Runs {@code call} with the thread's pending interrupt set aside, and restores it afterwards. */
  public static <T> T setAside(Supplier<T> call) {
    boolean interrupted = Thread.interrupted();
    try {
      return call.get();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
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
