package dev.braid.bench;

import dev.braid.Status;
import dev.braid.ViewResult;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Braid's side of the views benchmark, run in its own JVM: the real {@link Engine} (log, speed
 * layer, batch layer, merged reads) through its public API, on one data directory.
 *
 * <ol>
 *   <li><b>Speed layer.</b> The events are appended to the {@link FileLog} first. Opening the engine
 *       then replays the whole log into version 1's Delta (no Base yet): one speed-layer thread per
 *       partition reads its partition and folds every event, and {@code Engine.open} returns once
 *       every Delta has reached the log's end. The figure is that time minus the time to open the
 *       log alone (measured separately, median of 3), so it spans log read to state update. Closing
 *       and reopening would restore the checkpoint that a clean close writes, so every run first deletes
 *       the views' state and the catalog (not the log): each run is a fresh replay.
 *   <li><b>Delta memory.</b> In the first measured speed run: the Delta's own accounting
 *       ({@code Status} delta bytes), cross-checked by the heap used after full GCs with the engine
 *       open, minus the heap used with nothing open and minus what the log alone holds.
 *   <li><b>Batch recompute.</b> {@code Braid.runBatch}: the batch layer folds {@code [0, end)} with
 *       one thread per partition (2 on 2 cores), writes the Base file, and swaps the new version in.
 *   <li><b>Merged point read.</b> Extra events are appended after the Base's cut, so the Delta is not
 *       empty; then single-threaded {@code Braid.get} of random keys (Base lookup on disk + Delta),
 *       after warm-up passes of {@code --reads} reads that repeat (up to 12) until three in a row take
 *       fewer than one minor page fault per 1,000 reads: the heap has stopped growing into fresh pages.
 *       Each measured run prints its own faults.
 * </ol>
 */
public final class BraidViewsRun {

  private final ViewsBenchmark o;
  private final ViewsBenchmark.Results out;
  private final Path data;
  private final PipelineSpec spec;
  private final StreamSpec streamSpec;

  BraidViewsRun(ViewsBenchmark options, ViewsBenchmark.Results out, Path work) {
    this.o = options;
    this.out = out;
    this.data = work.resolve("braid");
    this.spec = ViewsEvents.pipeline(options.partitions);
    this.streamSpec = ViewsEvents.streamSpec(options.partitions);
  }

  void run() throws Exception {
    long heapEmpty = usedHeapAfterGc();
    writeLog();
    long logOpen = logOpenNanos(data, ViewsEvents.STREAM);
    long heapLog = heapWithLogOpen() - heapEmpty;
    out.put("braid.logOpenMillis", logOpen / 1e6);
    out.put("braid.logHeapBytes", heapLog);
    o.progress("braid: opening the log alone takes %.1f ms (subtracted from each replay)", logOpen / 1e6);

    EngineOptions options = EngineOptions.defaults().withBatchThreads(o.batchThreads);
    for (int r = 0; r < o.warmup + o.runs; r++) {
      boolean measured = r >= o.warmup;
      // A clean close checkpoints the Delta, and a start restores the newest checkpoint: without
      // this, every run after the first would load a checkpoint instead of replaying the log.
      forgetViews(data);
      long cpu0 = processCpuNanos();
      long t0 = System.nanoTime();
      Engine engine = Engine.open(data, spec, options);
      long nanos = System.nanoTime() - t0 - logOpen;
      long processCpu = processCpuNanos() - cpu0;
      long cpu = threadCpuNanos("braid-speed-" + ViewsEvents.STREAM + "-p");
      try {
        Status.ViewStatus v = engine.status().views().get(0);
        if (v.lag() != 0 || v.currentVersion() != 1) {
          throw new IllegalStateException("after open, the Delta should hold the whole log in version 1: " + v);
        }
        double rate = o.events / (nanos / 1e9);
        double cpuRate = o.events / (cpu / 1e9);
        o.progress("braid speed layer %s %d: %,d events replayed into the Delta in %.0f ms: %.2f M events/s; "
                + "its threads used %.0f ms of CPU: %.2f M events per CPU-second", measured ? "run" : "warm-up",
            measured ? r - o.warmup + 1 : r + 1, o.events, nanos / 1e6, rate / 1e6, cpu / 1e6, cpuRate / 1e6);
        if (measured) {
          out.add("braid.speed.rate", rate);
          out.add("braid.speed.cpuRate", cpuRate);
          out.add("braid.speed.processCpuRate", o.events / (processCpu / 1e9));
        }
        if (r == o.warmup) {
          long heapEngine = usedHeapAfterGc();
          out.put("braid.delta.keys", v.deltaKeys());
          out.put("braid.delta.accountedBytes", v.deltaBytes());
          out.put("braid.delta.gcBytes", heapEngine - heapEmpty - heapLog);
          o.progress("braid delta: %,d keys, %,d bytes by its accounting, %,d bytes by heap after GC "
                  + "(engine %,d - empty %,d - log %,d)", v.deltaKeys(), v.deltaBytes(),
              heapEngine - heapEmpty - heapLog, heapEngine, heapEmpty, heapLog);
          answers(engine, "delta");
        }
      } finally {
        engine.close();
      }
    }

    try (Engine engine = Engine.open(data, spec, options)) {
      for (int r = 0; r < o.warmup + o.runs; r++) {
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        long version = engine.runBatch(ViewsEvents.VIEW, true);
        long nanos = System.nanoTime() - t0;
        long cpu = processCpuNanos() - cpu0;
        double rate = o.events / (nanos / 1e9);
        double cpuRate = o.events / (cpu / 1e9);
        boolean measured = r >= o.warmup;
        o.progress("braid batch %s %d: version %d, %,d events recomputed into a Base in %.0f ms: %.2f M events/s; "
                + "the JVM used %.0f ms of CPU: %.2f M events per CPU-second", measured ? "run" : "warm-up",
            measured ? r - o.warmup + 1 : r + 1, version, o.events, nanos / 1e6, rate / 1e6, cpu / 1e6,
            cpuRate / 1e6);
        if (measured) {
          out.add("braid.batch.rate", rate);
          out.add("braid.batch.cpuRate", cpuRate);
        }
      }
      answers(engine, "batch");

      LogStream stream = engine.log().stream(ViewsEvents.STREAM);
      ViewsEvents.append(stream, streamSpec, o.events, o.events + o.extraEvents, o.keys);
      if (!engine.awaitCaughtUp(1, TimeUnit.MINUTES)) {
        throw new IllegalStateException("the speed layer did not fold the extra events within a minute");
      }
      Status.ViewStatus v = engine.status().views().get(0);
      out.put("braid.read.deltaKeys", v.deltaKeys());
      answers(engine, "merged");
      reads(engine);
    }
  }

  private void writeLog() {
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.getOrCreateStream(ViewsEvents.STREAM,
          StreamConfig.of(o.partitions).withDurability(Durability.os()));
      long t0 = System.nanoTime();
      ViewsEvents.append(s, streamSpec, 0, o.events, o.keys);
      long nanos = System.nanoTime() - t0;
      o.progress("braid: generated and appended %,d events to the log (%d partitions) in %.1f s", o.events,
          o.partitions, nanos / 1e9);
    }
  }

  /** Deletes every view's state (checkpoints, Bases) and the catalog of data directory {@code data}, keeping the log. */
  public static void forgetViews(Path data) throws IOException {
    LogBenchmark.deleteRecursively(data.resolve("views"));
    Files.deleteIfExists(data.resolve("catalog.json"));
  }

  /** How long opening the log of {@code data} and finding {@code stream}'s end takes (median of 3). */
  public static long logOpenNanos(Path data, String stream) {
    long[] t = new long[3];
    for (int i = 0; i < t.length; i++) {
      long t0 = System.nanoTime();
      try (FileLog log = FileLog.open(data.resolve("log"))) {
        log.stream(stream).end();
        t[i] = System.nanoTime() - t0;
      }
    }
    Arrays.sort(t);
    return t[1];
  }

  private long heapWithLogOpen() {
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      log.stream(ViewsEvents.STREAM).end();
      return usedHeapAfterGc();
    }
  }

  /** Reads the sample keys and records their answers under {@code answer.braid-SET.KEY}. */
  private void answers(Engine engine, String set) {
    for (int k : ViewsEvents.sampleKeys(o.keys, o.samples)) {
      String key = ViewsEvents.keyString(k);
      ViewResult r = engine.get(ViewsEvents.VIEW, key);
      out.answer("braid-" + set, key, ((Number) r.values().get("n")).longValue(),
          ((Number) r.values().get("total")).longValue());
    }
  }

  private void reads(Engine engine) {
    int pool = Math.min(o.keys, 1 << 20);
    String[] keys = new String[pool];
    SplittableRandom rnd = new SplittableRandom(7);
    for (int i = 0; i < pool; i++) {
      keys[i] = ViewsEvents.keyString(rnd.nextInt(o.keys));
    }
    long sink = 0;
    // Warm up until the heap has stopped growing: while it grows, the reads' allocations land on
    // pages the process never touched, 3-11 us each on these VMs, and the p99 measures the JVM's
    // heap sizing instead of the read (-Xms with -XX:+AlwaysPreTouch removes them from the start).
    // One quiet pass is not enough: G1 may grow the young generation again after a later GC (a
    // run of 2026-12-02 had 271 faults in its last warm-up pass, then 48,637 in a measured run).
    for (int pass = 1, quiet = 0; ; pass++) {
      long faults0 = minorFaults();
      for (int i = 0; i < o.reads; i++) {
        sink += engine.get(ViewsEvents.VIEW, keys[i % pool]).values().size();
      }
      long faults = minorFaults() - faults0;
      o.progress("braid read warm-up %d: %,d merged point reads, %,d minor page faults", pass, o.reads, faults);
      quiet = faults * 1000 < o.reads ? quiet + 1 : 0;
      if (faults0 < 0 || quiet == QUIET_READ_WARMUPS || pass == MAX_READ_WARMUPS) {
        break;
      }
    }
    for (int r = 0; r < o.runs; r++) {
      Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
      int start = rnd.nextInt(pool);
      long allocated0 = allocatedBytes();
      long faults0 = minorFaults();
      for (int i = 0; i < o.reads; i++) {
        String key = keys[(start + i) % pool];
        long t0 = System.nanoTime();
        ViewResult res = engine.get(ViewsEvents.VIEW, key);
        long t1 = System.nanoTime();
        h.recordValue(t1 - t0);
        sink += res.values().size();
      }
      double perRead = (double) (allocatedBytes() - allocated0) / o.reads;
      long faults = minorFaults() - faults0;
      out.add("braid.read.faults", faults0 < 0 ? Double.NaN : (double) faults / o.reads);
      out.add("braid.read.allocated", perRead);
      out.add("braid.read.p50", h.getValueAtPercentile(50) / 1e3);
      out.add("braid.read.p99", h.getValueAtPercentile(99) / 1e3);
      out.add("braid.read.p999", h.getValueAtPercentile(99.9) / 1e3);
      out.add("braid.read.max", h.getMaxValue() / 1e3);
      o.progress("braid read run %d: %,d merged point reads, p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.0f us; "
              + "%.0f bytes allocated per read; %,d minor page faults", r + 1, o.reads,
          h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
          h.getMaxValue() / 1e3, perRead, faults);
    }
    if (sink == 42) {
      System.out.print("");
    }
  }

  /** Read warm-up passes at most, each of {@code --reads} reads, while the heap still grows. */
  private static final int MAX_READ_WARMUPS = 12;
  /** Passes in a row with fewer than one minor page fault per 1,000 reads that end the warm-up. */
  private static final int QUIET_READ_WARMUPS = 3;

  /**
   * Minor page faults of the calling thread so far ({@code minflt} of {@code /proc/thread-self/stat}),
   * or -1 where there is no such file. A fault maps a page the process had not touched yet: on these
   * VMs 3-11 us each, so they show a heap still growing into fresh memory.
   */
  static long minorFaults() {
    try {
      String stat = Files.readString(Path.of("/proc/thread-self/stat"));
      // after the command name in parentheses: state ppid pgrp session tty_nr tpgid flags minflt ...
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[7]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Bytes the calling thread has allocated on the heap since it started. */
  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
  }

  /** CPU time of the live threads whose name starts with {@code prefix}. */
  static long threadCpuNanos(String prefix) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith(prefix)) {
        long c = mx.getThreadCpuTime(t.getId());
        if (c > 0) {
          sum += c;
        }
      }
    }
    return sum;
  }

  /** CPU time of this JVM, all threads (GC included). */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
