package dev.braid.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Point-read load on {@code GET /v1/views/{view}/keys/{key}} over several keep-alive connections, one
 * thread per connection, keys drawn uniformly from {@code [0, keys)} by a seeded generator.
 *
 * <ul>
 *   <li><b>Closed loop</b> ({@link #closedLoop}): each connection sends its next request as soon as the
 *       previous response is in. The completed requests per second are the server's peak throughput
 *       at that concurrency (with the client sharing the CPUs).
 *   <li><b>Open loop</b> ({@link #openLoop}): requests are due at a constant total rate, spread evenly
 *       over the connections; latency is measured from the time a request was <em>due</em>, not from
 *       when it was sent, so a stall delays the requests queued behind it and they count as slow
 *       (no coordinated omission, as in wrk2). A connection that falls behind sends at once until it
 *       has caught up.
 * </ul>
 *
 * Latencies are in nanoseconds in an HdrHistogram (3 significant digits). A response other than 200
 * counts as an error; an I/O failure aborts the run.
 */
final class HttpLoadGenerator {

  /** What one run measured. */
  record Result(long requests, long errors, long elapsedNanos, Histogram latency, Histogram serviceTime,
      long cpuNanos) {
    double perSecond() {
      return requests * 1e9 / elapsedNanos;
    }

    /** CPU time of this whole process (client and server) per request, in microseconds. */
    double cpuMicrosPerRequest() {
      return requests == 0 ? 0 : cpuNanos / 1e3 / requests;
    }
  }

  /** CPU time used by this process so far, in nanoseconds (-1 when the JVM cannot tell). */
  static long processCpuNanos() {
    java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : -1;
  }

  private final InetSocketAddress address;
  private final int keys;
  private final int connections;
  private final long seed;

  HttpLoadGenerator(InetSocketAddress address, int keys, int connections, long seed) {
    if (connections < 1) {
      throw new IllegalArgumentException("connections must be >= 1, got " + connections);
    }
    this.address = address;
    this.keys = keys;
    this.connections = connections;
    this.seed = seed;
  }

  Result closedLoop(long durationNanos) throws InterruptedException {
    return run(durationNanos, 0);
  }

  Result openLoop(long durationNanos, double requestsPerSecond) throws InterruptedException {
    if (!(requestsPerSecond > 0)) {
      throw new IllegalArgumentException("rate must be > 0, got " + requestsPerSecond);
    }
    return run(durationNanos, requestsPerSecond);
  }

  private Result run(long durationNanos, double rate) throws InterruptedException {
    List<Worker> workers = new ArrayList<>();
    SplittableRandom seeds = new SplittableRandom(seed);
    CountDownLatch connected = new CountDownLatch(connections);
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] start = new long[1];
    for (int i = 0; i < connections; i++) {
      Worker w = new Worker(i, seeds.split(), rate, connected, go, start, durationNanos, failure);
      workers.add(w);
      w.thread.start();
    }
    connected.await();
    start[0] = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(5);
    long cpu0 = processCpuNanos();
    go.countDown();
    Histogram latency = newHistogram();
    Histogram service = newHistogram();
    long requests = 0;
    long errors = 0;
    long deadline = System.nanoTime() + durationNanos + TimeUnit.SECONDS.toNanos(30);
    for (Worker w : workers) {
      w.thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      if (w.thread.isAlive()) {
        failure.compareAndSet(null, new IllegalStateException("no response for 30 s after the end of the run"));
        w.abort();
        w.thread.join();
      }
      latency.add(w.latency);
      service.add(w.service);
      requests += w.requests;
      errors += w.errors;
    }
    if (failure.get() != null) {
      throw new IllegalStateException("load generator failed: " + failure.get(), failure.get());
    }
    return new Result(requests, errors, durationNanos, latency, service, processCpuNanos() - cpu0);
  }

  static Histogram newHistogram() {
    return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
  }

  /** One connection and its thread. */
  private final class Worker implements Runnable {
    final Thread thread;
    final int index;
    final SplittableRandom random;
    final double rate;
    final CountDownLatch connected;
    final CountDownLatch go;
    final long[] start;
    final long duration;
    final AtomicReference<Throwable> failure;
    final Histogram latency = newHistogram();
    final Histogram service = newHistogram();
    volatile HttpConnection connection;
    long requests;
    long errors;

    Worker(int index, SplittableRandom random, double rate, CountDownLatch connected, CountDownLatch go,
        long[] start, long duration, AtomicReference<Throwable> failure) {
      this.index = index;
      this.random = random;
      this.rate = rate;
      this.connected = connected;
      this.go = go;
      this.start = start;
      this.duration = duration;
      this.failure = failure;
      this.thread = new Thread(this, "http-load-" + index);
      this.thread.setDaemon(true);
    }

    @Override
    public void run() {
      HttpConnection c = null;
      try {
        c = new HttpConnection(address);
        connection = c;
      } catch (IOException e) {
        failure.compareAndSet(null, e);
      } finally {
        connected.countDown();
      }
      try (HttpConnection conn = c) {
        go.await();
        if (conn != null && failure.get() == null) {
          loop(conn);
        }
      } catch (IOException e) {
        failure.compareAndSet(null, new UncheckedIOException(e));
      } catch (InterruptedException | RuntimeException e) {
        failure.compareAndSet(null, e);
      }
    }

    /** Unblocks a stuck read by closing the connection. */
    void abort() {
      HttpConnection c = connection;
      if (c != null) {
        try {
          c.close();
        } catch (IOException e) {
          // closing is all that is wanted
        }
      }
    }

    private void loop(HttpConnection conn) throws IOException {
      byte[] request = HttpConnection.get(HttpWorkload.readPath(HttpWorkload.key(0)));
      int digits = indexOfKey(request);
      long begin = start[0];
      long end = begin + duration;
      // open loop: this connection's share of the rate, its first slot offset so connections interleave
      long interval = rate > 0 ? (long) (1e9 * connections / rate) : 0;
      long due = begin + (rate > 0 ? interval * index / connections : 0);
      while (true) {
        long now = System.nanoTime();
        if (rate > 0) {
          if (due >= end) {
            return;
          }
          while (now < due) {
            LockSupport.parkNanos(due - now);
            now = System.nanoTime();
          }
        } else {
          if (now >= end) {
            return;
          }
          due = now;
        }
        writeKey(request, digits, random.nextInt(keys));
        int status = conn.exchange(request);
        long done = System.nanoTime();
        if (done > end && rate == 0) {
          return; // closed loop: count only what completed inside the window
        }
        requests++;
        if (status != 200) {
          errors++;
        }
        latency.recordValue(Math.min(done - due, latency.getHighestTrackableValue()));
        service.recordValue(Math.min(done - now, service.getHighestTrackableValue()));
        due += interval;
      }
    }
  }

  private static int indexOfKey(byte[] request) {
    String s = new String(request, StandardCharsets.US_ASCII);
    return s.indexOf(HttpWorkload.key(0)) + 1;
  }

  /** Writes {@code k} as {@value HttpWorkload#KEY_DIGITS} zero-padded digits at {@code at}. */
  private static void writeKey(byte[] request, int at, int k) {
    for (int i = HttpWorkload.KEY_DIGITS - 1; i >= 0; i--) {
      request[at + i] = (byte) ('0' + k % 10);
      k /= 10;
    }
  }
}
