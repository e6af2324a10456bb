package dev.braid.ingest;

import java.util.function.LongSupplier;

/**
 * Events per second over the last {@value #WINDOW_SECONDS} complete seconds, from a ring of
 * one-second buckets: cheap to record (one short lock per ingest request, not per event) and
 * steady to read.
 */
public final class RateMeter {

  static final int WINDOW_SECONDS = 10;

  private final LongSupplier clockMillis;
  private final long[] second = new long[WINDOW_SECONDS + 1];
  private final long[] count = new long[WINDOW_SECONDS + 1];

  public RateMeter() {
    this(System::currentTimeMillis);
  }

  RateMeter(LongSupplier clockMillis) {
    this.clockMillis = clockMillis;
    java.util.Arrays.fill(second, -1);
  }

  /** Counts {@code n} events now. */
  public synchronized void record(long n) {
    long s = Math.floorDiv(clockMillis.getAsLong(), 1000);
    int i = (int) Math.floorMod(s, (long) second.length);
    if (second[i] != s) {
      second[i] = s;
      count[i] = 0;
    }
    count[i] += n;
  }

  /** The mean rate over the last {@value #WINDOW_SECONDS} complete seconds. */
  public synchronized double perSecond() {
    long now = Math.floorDiv(clockMillis.getAsLong(), 1000);
    long sum = 0;
    for (int i = 0; i < second.length; i++) {
      if (second[i] >= now - WINDOW_SECONDS && second[i] < now) {
        sum += count[i];
      }
    }
    return sum / (double) WINDOW_SECONDS;
  }
}
