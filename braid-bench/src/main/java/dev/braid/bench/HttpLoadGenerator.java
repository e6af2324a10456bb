package dev.braid.bench;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;

/**
 * Point-read load on {@code GET /v1/views/{view}/keys/{key}} over several keep-alive connections, keys
 * drawn uniformly from {@code [0, keys)} by a seeded generator.
 *
 * <ul>
 *   <li><b>Closed loop</b> ({@link #closedLoop}): one thread per connection sends its next request as
 *       soon as the previous response is in. The completed requests per second are the server's peak
 *       throughput at that concurrency (with the client sharing the CPUs).
 *   <li><b>Open loop</b> ({@link #openLoop}): requests are due at a constant rate, one every {@code
 *       1/rate} seconds, and latency is measured from the time a request was <em>due</em>, not from when
 *       it was sent, so a stall delays the requests queued behind it and they count as slow (no
 *       coordinated omission, as in wrk2). The client is an event loop, as wrk2's is: one thread sends
 *       each request when it is due on any connection that is free (a request waits, its clock
 *       running, only while every connection has one in flight), and one thread reads the responses
 *       of all connections through a {@link Selector}. Two client threads instead of one per
 *       connection: on a 2-core machine eight sleeping and waking client threads compete with the
 *       server's selector thread, and a connection with its own schedule turns one slow response into
 *       several late requests.
 * </ul>
 *
 * Latencies are in nanoseconds in an HdrHistogram (3 significant digits). A response other than 200
 * counts as an error; an I/O failure aborts the run.
 */
final class HttpLoadGenerator implements ReadLoad {

  /**
   * What one run measured. {@code sendDelay} (open loop only, else empty): from a request's due time to
   * its sending, the client's own delay, or the wait for a free connection, of which {@code
   * connectionWaits} requests had to wait for one.
   */
  record Result(long requests, long errors, long elapsedNanos, Histogram latency, Histogram serviceTime,
      long cpuNanos, Histogram sendDelay, long connectionWaits) {
    double perSecond() {
      return requests * 1e9 / elapsedNanos;
    }

    /** CPU time of the client and the server per request, in microseconds. */
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
  private final LongSupplier cpuNanos;

  HttpLoadGenerator(InetSocketAddress address, int keys, int connections, long seed) {
    this(address, keys, connections, seed, HttpLoadGenerator::processCpuNanos);
  }

  /**
   * @param cpuNanos the CPU time the client and the server have used so far, for {@link
   *     Result#cpuMicrosPerRequest} (this process's alone when the server runs in it)
   */
  HttpLoadGenerator(InetSocketAddress address, int keys, int connections, long seed, LongSupplier cpuNanos) {
    if (connections < 1) {
      throw new IllegalArgumentException("connections must be >= 1, got " + connections);
    }
    this.address = address;
    this.keys = keys;
    this.connections = connections;
    this.seed = seed;
    this.cpuNanos = cpuNanos;
  }

  @Override
  public Result closedLoop(long durationNanos) throws InterruptedException {
    return runWorkers(durationNanos);
  }

  @Override
  public Result openLoop(long durationNanos, double requestsPerSecond) throws InterruptedException {
    if (!(requestsPerSecond > 0)) {
      throw new IllegalArgumentException("rate must be > 0, got " + requestsPerSecond);
    }
    try {
      return new OpenLoop(durationNanos, requestsPerSecond).run();
    } catch (IOException e) {
      throw new UncheckedIOException("load generator failed: " + e.getMessage(), e);
    }
  }

  private Result runWorkers(long durationNanos) throws InterruptedException {
    List<Worker> workers = new ArrayList<>();
    SplittableRandom seeds = new SplittableRandom(seed);
    CountDownLatch connected = new CountDownLatch(connections);
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] start = new long[1];
    for (int i = 0; i < connections; i++) {
      Worker w = new Worker(i, seeds.split(), connected, go, start, durationNanos, failure);
      workers.add(w);
      w.thread.start();
    }
    connected.await();
    start[0] = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(5);
    long cpu0 = cpuNanos.getAsLong();
    go.countDown();
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
      service.add(w.service);
      requests += w.requests;
      errors += w.errors;
    }
    if (failure.get() != null) {
      throw new IllegalStateException("load generator failed: " + failure.get(), failure.get());
    }
    // closed loop: a request is sent when due, so its latency is its service time
    return new Result(requests, errors, durationNanos, service, service, cpuNanos.getAsLong() - cpu0, newHistogram(), 0);
  }

  static Histogram newHistogram() {
    return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
  }

  /** One connection and its thread, in the closed loop. */
  private final class Worker implements Runnable {
    final Thread thread;
    final int index;
    final SplittableRandom random;
    final CountDownLatch connected;
    final CountDownLatch go;
    final long[] start;
    final long duration;
    final AtomicReference<Throwable> failure;
    final Histogram service = newHistogram();
    volatile HttpConnection connection;
    long requests;
    long errors;

    Worker(int index, SplittableRandom random, CountDownLatch connected, CountDownLatch go,
        long[] start, long duration, AtomicReference<Throwable> failure) {
      this.index = index;
      this.random = random;
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
      long end = start[0] + duration;
      while (true) {
        long now = System.nanoTime();
        if (now >= end) {
          return;
        }
        writeKey(request, digits, random.nextInt(keys));
        int status = conn.exchange(request);
        long done = System.nanoTime();
        if (done > end) {
          return; // count only what completed inside the window
        }
        requests++;
        if (status != 200) {
          errors++;
        }
        service.recordValue(Math.min(done - now, service.getHighestTrackableValue()));
      }
    }
  }

  /**
   * One open-loop run: a sender thread (the caller's) and a receiver thread over non-blocking
   * connections (see the class comment). A connection has at most one request in flight; the
   * receiver hands it back to the sender through {@link #free} when its response is complete.
   */
  private final class OpenLoop {
    private final long duration;
    private final long interval;
    private final Selector selector;
    private final Conn[] conns;
    /** Connections with nothing in flight; array-based, so handing one back allocates nothing. */
    private final ArrayBlockingQueue<Conn> free;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Histogram latency = newHistogram();
    private final Histogram service = newHistogram();
    /** Written by the sender only. */
    private final Histogram sendDelay = newHistogram();
    private long connectionWaits;
    private final Thread sender = Thread.currentThread();
    private volatile boolean senderWaits;
    private volatile boolean stop;
    /** Written by the receiver only. */
    private long requests;
    private long errors;
    private long inFlightEnd;

    OpenLoop(long duration, double rate) throws IOException {
      this.duration = duration;
      this.interval = Math.max(1, (long) (1e9 / rate));
      this.selector = Selector.open();
      this.conns = new Conn[connections];
      this.free = new ArrayBlockingQueue<>(connections);
    }

    Result run() throws IOException, InterruptedException {
      Thread receiver = new Thread(this::receive, "http-load-receiver");
      receiver.setDaemon(true);
      try {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] template = HttpConnection.get(HttpWorkload.readPath(HttpWorkload.key(0)));
        for (int i = 0; i < conns.length; i++) {
          SocketChannel ch = SocketChannel.open(address);
          ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
          ch.configureBlocking(false);
          conns[i] = new Conn(ch, template.clone());
          ch.register(selector, SelectionKey.OP_READ, conns[i]);
          free.add(conns[i]);
        }
        receiver.start();
        long begin = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(5);
        long cpu0 = cpuNanos.getAsLong();
        long end = begin + duration;
        int digits = indexOfKey(template);
        for (long due = begin; due < end && failure.get() == null; ) {
          due = step(due, digits, random);
        }
        // every request sent is answered before the figures are read
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (free.size() < conns.length && failure.get() == null) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("no response for 30 s after the end of the run");
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        stop = true;
        selector.wakeup();
        receiver.join();
        if (failure.get() != null) {
          throw new IllegalStateException("load generator failed: " + failure.get(), failure.get());
        }
        long elapsed = Math.max(inFlightEnd, end) - begin;
        return new Result(requests, errors, elapsed, latency, service, cpuNanos.getAsLong() - cpu0, sendDelay,
            connectionWaits);
      } finally {
        stop = true;
        selector.wakeup();
        receiver.join(TimeUnit.SECONDS.toMillis(5));
        for (Conn c : conns) {
          if (c != null) {
            c.channel.close();
          }
        }
        selector.close();
      }
    }

    /** Whether the request due now found every connection busy (counted once per request). */
    private boolean waited;

    /**
     * One step of the sender: sleeps until {@code due}, or sends the request due then on a free
     * connection, or waits a little for one; returns the due time of the next request to send. The
     * loop's body in a method of its own, so that the JIT compiles it once in the warm-up: a loop
     * compiled on stack is thrown away when it exits, and its ~100 ms recompile, on one of the two
     * CPUs, fell into the next measured run.
     */
    private long step(long due, int digits, SplittableRandom random) throws IOException {
      long now = System.nanoTime();
      if (now < due) {
        LockSupport.parkNanos(due - now);
        return due;
      }
      Conn c = free.poll();
      if (c == null) { // every connection busy: this request waits, its latency counting from due
        if (!waited) {
          waited = true;
          connectionWaits++;
        }
        senderWaits = true;
        if (free.isEmpty()) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        senderWaits = false;
        return due;
      }
      waited = false;
      writeKey(c.request, digits, random.nextInt(keys));
      c.due = due;
      c.sent = now;
      c.send();
      sendDelay.recordValue(Math.min(now - due, sendDelay.getHighestTrackableValue()));
      return due + interval;
    }

    /** The receiver thread: reads every connection's response, records it, frees the connection. */
    private void receive() {
      try {
        while (!stop) {
          selector.select();
          for (SelectionKey k : selector.selectedKeys()) {
            Conn c = (Conn) k.attachment();
            int status = c.read();
            if (status > 0) {
              long done = System.nanoTime();
              requests++;
              if (status != 200) {
                errors++;
              }
              latency.recordValue(Math.min(done - c.due, latency.getHighestTrackableValue()));
              service.recordValue(Math.min(done - c.sent, service.getHighestTrackableValue()));
              inFlightEnd = done;
              free.add(c);
              if (senderWaits) {
                LockSupport.unpark(sender);
              }
            }
          }
          selector.selectedKeys().clear();
        }
      } catch (IOException | RuntimeException e) {
        failure.compareAndSet(null, e);
        LockSupport.unpark(sender);
      }
    }
  }

  /** A non-blocking connection of the open loop: its request, its response buffer, its clocks. */
  private static final class Conn {
    final SocketChannel channel;
    final byte[] request;
    private final ByteBuffer out;
    private byte[] buf = new byte[4 << 10];
    private ByteBuffer in = ByteBuffer.wrap(buf);
    long due;
    long sent;

    Conn(SocketChannel channel, byte[] request) {
      this.channel = channel;
      this.request = request;
      this.out = ByteBuffer.wrap(request);
    }

    /** Writes the request; a request of a few dozen bytes fits the socket's buffer at once. */
    void send() throws IOException {
      out.clear();
      while (out.hasRemaining()) {
        if (channel.write(out) == 0) {
          Thread.onSpinWait();
        }
      }
    }

    /** Reads what arrived; returns the status once the response is complete (and resets), else 0. */
    int read() throws IOException {
      if (!in.hasRemaining()) {
        buf = Arrays.copyOf(buf, buf.length * 2);
        in = ByteBuffer.wrap(buf).position(in.position());
      }
      if (channel.read(in) < 0) {
        throw new EOFException("the server closed a connection");
      }
      int filled = in.position();
      int length = HttpConnection.completeResponseLength(buf, filled);
      if (length < 0) {
        return 0;
      }
      if (length != filled) {
        throw new IOException("more bytes than one response on a connection with one request in flight");
      }
      int status = HttpConnection.status(buf, filled);
      in.clear();
      return status;
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
