package dev.braid.bench;

/**
 * A point-read load on the HTTP benchmark's view: the Java client ({@link HttpLoadGenerator}) or the C
 * one ({@link NativeLoadGenerator}). Both send the same requests and measure the same way.
 */
interface ReadLoad {

  /** Each connection sends its next request as soon as its previous answer is in: the peak. */
  HttpLoadGenerator.Result closedLoop(long durationNanos) throws InterruptedException;

  /** Requests due at {@code requestsPerSecond}, each one's latency counted from its due time. */
  HttpLoadGenerator.Result openLoop(long durationNanos, double requestsPerSecond) throws InterruptedException;
}
