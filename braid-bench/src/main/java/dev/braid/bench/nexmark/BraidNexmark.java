package dev.braid.bench.nexmark;

import dev.braid.Status;
import dev.braid.bench.BraidViewsRun;
import dev.braid.bench.LogBenchmark;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Braid as a Nexmark engine: the real {@link Engine} through its public API, the query as the
 * views of {@link BraidNexmarkViews}, {@code parallelism} partitions and batch threads.
 *
 * <table>
 *   <caption>Modes: what one measured run spans</caption>
 *   <tr><th>mode</th><th>before (not measured)</th><th>measured</th></tr>
 *   <tr><td>{@code speed}</td><td>the bids appended to the {@link FileLog} once; the views' state, their
 *       changes logs and the catalog deleted before each run</td><td>{@code Engine.open}, which replays the whole log into
 *       the new views' Deltas (one speed-layer thread per partition feeding every view) and returns once
 *       they have caught up, minus the time to open the log alone: log read to state update, as issue 9
 *       defines it (every window is readable then). Reported beside it, as the extras
 *       {@code untilIdleMillis} and {@code untilIdleCpuMillis}: the same span continued until the process
 *       is idle (see {@link #quietFrom}), with the changes feed's first pass, which emits every window
 *       the replay closed (a streaming peer's span fires its windows), and the closed windows moved out
 *       of memory</td></tr>
 *   <tr><td>{@code batch}</td><td>the log written, the engine open (its Deltas caught up), the process
 *       idle again (see {@link #awaitQuiet})</td><td>{@code
 *       runBatch} of each of the query's views in turn: the batch layer folds {@code [0, end)} with
 *       {@code parallelism} threads, writes each Base and swaps it in; the span continued until the
 *       process is idle (the changes feed's pass after each swap) as the extras</td></tr>
 *   <tr><td>{@code http}</td><td>a fresh data directory and a real {@link BraidServer} on a loopback port
 *       for each run; the NDJSON request bodies built</td><td>from the first POST to
 *       {@code /v1/streams/bids/events} ({@code parallelism} concurrent clients, {@value
 *       NexmarkEmitters#BATCH} bids a request) until every view has folded every bid</td></tr>
 * </table>
 *
 * CPU is the whole process's over the measured span (in {@code http} mode the HTTP clients run in
 * the same JVM and are counted too). Every view here is windowed, so each has a changes feed
 * ({@code ChangeFeed}), which starts once the engine has caught up: its first pass reads every key
 * and emits every window the replay closed. The {@code http} mode counts it; the others report the
 * span until the process is idle beside their measured one (the extras, medians), and the speed
 * mode the feed threads' CPU ({@code feedFirstPassCpuMillis}). The result is read after the last run through
 * {@code Braid.get}: the merged Base and Delta.
 */
final class BraidNexmark implements NexmarkEngine {

  static final String NAME = "braid";

  @Override
  public List<String> modes() {
    return List.of("speed", "batch", "http");
  }

  @Override
  public double distinctRse(String mode) {
    return BraidNexmarkViews.DISTINCT_RSE;
  }

  @Override
  public Report run(Task task, NexmarkResult.RowSink result) throws Exception {
    return switch (task.mode()) {
      case "speed" -> speed(task, result);
      case "batch" -> batch(task, result);
      case "http" -> http(task, result);
      default -> throw new IllegalArgumentException("braid has no mode '" + task.mode() + "'; it has " + modes());
    };
  }

  private static PipelineSpec spec(Task task) {
    return BraidNexmarkViews.pipeline(task.query(), task.parallelism());
  }

  private static EngineOptions options(Task task) {
    return EngineOptions.defaults().withBatchThreads(task.parallelism()).withCheckpointEvery(Duration.ZERO);
  }

  private static String label(Task task, int r) {
    return r < task.warmup() ? "warm-up " + (r + 1) : "run " + (r - task.warmup() + 1);
  }

  // ---------------------------------------------------------------------------------------------

  private Report speed(Task task, NexmarkResult.RowSink result) throws IOException, InterruptedException {
    Path data = task.workDir().resolve("braid");
    writeLog(task, data);
    long logOpen = BraidViewsRun.logOpenNanos(data, NexmarkEmitters.STREAM);
    List<Measurement> runs = new ArrayList<>();
    List<Double> feedMillis = new ArrayList<>();
    List<Double> idleMillis = new ArrayList<>();
    List<Double> idleCpuMillis = new ArrayList<>();
    for (int r = 0; r < task.warmup() + task.runs(); r++) {
      forgetViews(task, data);
      long cpu0 = NexmarkEngine.processCpuNanos();
      long t0 = System.nanoTime();
      Engine engine = Engine.open(data, spec(task), options(task));
      long replay = System.nanoTime() - t0 - logOpen;
      long replayCpu = NexmarkEngine.processCpuNanos() - cpu0;
      try {
        for (Status.ViewStatus v : engine.status().views()) {
          if (v.lag() != 0) {
            throw new IllegalStateException("after open, every Delta should hold the whole log: " + v);
          }
        }
        long[] idle = quietFrom(task);
        long nanos = idle[0] - t0 - logOpen;
        long cpu = idle[1] - cpu0;
        double feed = changesThreadsCpuNanos() / 1e6;
        task.progress().accept(String.format(java.util.Locale.ROOT, "braid speed %s: %,d bids replayed into %d "
            + "views in %.0f ms, %.0f ms of CPU; until idle (windows emitted by the changes feed, %.0f ms of its CPU, "
            + "and moved out of memory) %.0f ms, %.0f ms of CPU", label(task, r), task.bids(),
            spec(task).views().size(), replay / 1e6, replayCpu / 1e6, feed, nanos / 1e6, cpu / 1e6));
        if (r >= task.warmup()) {
          runs.add(new Measurement(replay, replayCpu));
          feedMillis.add(feed);
          idleMillis.add(nanos / 1e6);
          idleCpuMillis.add(cpu / 1e6);
        }
        if (r == task.warmup() + task.runs() - 1) {
          BraidNexmarkViews.read(engine, task.query(), new NexmarkGenerator(task.config()), task.events(), result);
        }
      } finally {
        engine.close();
      }
    }
    return new Report(runs, Map.of("logOpenMillis", logOpen / 1e6, "feedFirstPassCpuMillis", median(feedMillis),
        UNTIL_IDLE_MILLIS, median(idleMillis), UNTIL_IDLE_CPU_MILLIS, median(idleCpuMillis)));
  }

  private static double median(List<Double> xs) {
    List<Double> sorted = new ArrayList<>(xs);
    sorted.sort(null);
    return sorted.isEmpty() ? 0.0 : sorted.get(sorted.size() / 2);
  }

  /**
   * The CPU the live changes-feed threads ({@code braid-changes-<view>}) used since they started:
   * the engine starts them as its open ends, so the little of a pass that may run before
   * {@code Engine.open} returns is in both this and the run's measured CPU.
   */
  private static long changesThreadsCpuNanos() {
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("braid-changes-")) {
        sum += Math.max(0, threads.getThreadCpuTime(t.getId()));
      }
    }
    return sum;
  }

  private Report batch(Task task, NexmarkResult.RowSink result) throws IOException, InterruptedException {
    Path data = task.workDir().resolve("braid");
    writeLog(task, data);
    List<Measurement> runs = new ArrayList<>();
    List<String> views = BraidNexmarkViews.viewNames(task.query());
    List<Double> idleMillis = new ArrayList<>();
    List<Double> idleCpuMillis = new ArrayList<>();
    try (Engine engine = Engine.open(data, spec(task), options(task))) {
      for (int r = 0; r < task.warmup() + task.runs(); r++) {
        awaitQuiet(task);
        long cpu0 = NexmarkEngine.processCpuNanos();
        long t0 = System.nanoTime();
        for (String v : views) {
          engine.runBatch(v, true);
        }
        long nanos = System.nanoTime() - t0;
        long cpu = NexmarkEngine.processCpuNanos() - cpu0;
        long[] idle = quietFrom(task); // the changes feed's pass after each swap, reported beside
        if (r >= task.warmup()) {
          idleMillis.add((idle[0] - t0) / 1e6);
          idleCpuMillis.add((idle[1] - cpu0) / 1e6);
        }
        task.progress().accept(String.format(java.util.Locale.ROOT, "braid batch %s: %,d bids recomputed into "
            + "%d Bases in %.0f ms, %.0f ms of CPU", label(task, r), task.bids(), views.size(), nanos / 1e6,
            cpu / 1e6));
        if (r >= task.warmup()) {
          runs.add(new Measurement(nanos, cpu));
        }
      }
      BraidNexmarkViews.read(engine, task.query(), new NexmarkGenerator(task.config()), task.events(), result);
    }
    return new Report(runs, Map.of(UNTIL_IDLE_MILLIS, median(idleMillis), UNTIL_IDLE_CPU_MILLIS,
        median(idleCpuMillis)));
  }

  private Report http(Task task, NexmarkResult.RowSink result) throws Exception {
    List<byte[]> bodies = NexmarkEmitters.ndjsonBodies(new NexmarkGenerator(task.config()), 0, task.events(),
        NexmarkEmitters.BATCH);
    List<Measurement> runs = new ArrayList<>();
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    ExecutorService senders = Executors.newFixedThreadPool(task.parallelism());
    try {
      for (int r = 0; r < task.warmup() + task.runs(); r++) {
        Path data = task.workDir().resolve("braid-http-" + r);
        try (BraidServer server = BraidServer.start(spec(task), data,
            BraidServer.Config.defaults().withPort(0).withBind("127.0.0.1").withCheckpointEvery(Duration.ZERO))) {
          server.awaitReady(2, TimeUnit.MINUTES);
          Engine engine = (Engine) server.braid();
          long cpu0 = NexmarkEngine.processCpuNanos();
          long t0 = System.nanoTime();
          List<Future<Long>> sent = new ArrayList<>();
          for (int s = 0; s < task.parallelism(); s++) {
            int first = s;
            sent.add(senders.submit(() -> NexmarkEmitters.toHttp(client, server.url(), bodies, first,
                task.parallelism())));
          }
          long accepted = 0;
          for (Future<Long> f : sent) {
            accepted += f.get();
          }
          if (!engine.awaitCaughtUp(5, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the views did not fold the ingested bids within 5 minutes");
          }
          long nanos = System.nanoTime() - t0;
          long cpu = NexmarkEngine.processCpuNanos() - cpu0;
          if (accepted != task.bids()) {
            throw new IllegalStateException("the server accepted " + accepted + " of " + task.bids() + " bids");
          }
          task.progress().accept(String.format(java.util.Locale.ROOT, "braid http %s: %,d bids POSTed to %s and "
              + "folded in %.0f ms, %.0f ms of CPU (server and clients)", label(task, r), accepted, server.url(),
              nanos / 1e6, cpu / 1e6));
          if (r >= task.warmup()) {
            runs.add(new Measurement(nanos, cpu));
          }
          if (r == task.warmup() + task.runs() - 1) {
            BraidNexmarkViews.read(engine, task.query(), new NexmarkGenerator(task.config()), task.events(),
                result);
          }
        }
        LogBenchmark.deleteRecursively(data);
      }
    } finally {
      senders.shutdownNow();
    }
    return new Report(runs, Map.of());
  }

  /**
   * Deletes the views' state and catalog (as {@link BraidViewsRun#forgetViews}) and their changes
   * logs ({@code log/<view>.changes}), keeping the bids: the next open is a first start that
   * replays the whole log. A changes log left behind would be read back by the feed at start (its
   * recovery parses every event in it) and counted in the next run.
   */
  private static void forgetViews(Task task, Path data) throws IOException {
    BraidViewsRun.forgetViews(data);
    for (String v : BraidNexmarkViews.viewNames(task.query())) {
      LogBenchmark.deleteRecursively(data.resolve("log").resolve(v + ".changes"));
    }
  }

  /**
   * Waits until this process is nearly idle (under a tenth of a core for a quarter second): the
   * changes feed of every windowed view keeps reading all keys for a while after the engine opened
   * or a batch cycle swapped a version in (see {@code ChangeFeed}), and that work belongs to what
   * came before, not to the next measured run. Gives up after a minute, saying so.
   */
  /**
   * Waits until the process is idle (under a tenth of a core for {@value #IDLE_WINDOW_MILLIS} ms) and
   * returns {@code System.nanoTime()} and the process CPU at the start of that idle window: the end of
   * the work that followed a step (a changes feed's pass, moving closed windows out of memory), to
   * within one window.
   */
  private static long[] quietFrom(Task task) throws InterruptedException {
    long[] idle = idleWindow(IDLE_WINDOW_MILLIS, 2);
    if (idle == null) {
      task.progress().accept("braid: the process was still busy two minutes after the step; measuring to now");
      return new long[] {System.nanoTime(), NexmarkEngine.processCpuNanos()};
    }
    return idle;
  }

  /**
   * Sleeps in windows of {@code windowMillis} until one in which the process used under a tenth of a
   * core; returns {@code System.nanoTime()} and the process CPU at that window's start, or null once
   * {@code minutes} have passed without one.
   */
  private static long[] idleWindow(long windowMillis, long minutes) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(minutes);
    do {
      long t = System.nanoTime();
      long cpu0 = NexmarkEngine.processCpuNanos();
      Thread.sleep(windowMillis);
      if (NexmarkEngine.processCpuNanos() - cpu0 < TimeUnit.MILLISECONDS.toNanos(windowMillis) / 10) {
        return new long[] {t, cpu0};
      }
    } while (System.nanoTime() <= deadline);
    return null;
  }

  /** Extras: the median span (wall, CPU) from the measured one's start until the process was idle. */
  static final String UNTIL_IDLE_MILLIS = "untilIdleMillis";
  static final String UNTIL_IDLE_CPU_MILLIS = "untilIdleCpuMillis";

  /** The window {@link #quietFrom} looks for idleness in: the span's end is exact to this. */
  static final long IDLE_WINDOW_MILLIS = 50;

  private static void awaitQuiet(Task task) throws InterruptedException {
    if (idleWindow(250, 1) == null) {
      task.progress().accept("braid: the process was still busy a minute after the last step; measuring anyway");
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static void writeLog(Task task, Path data) {
    long t0 = System.nanoTime();
    long bids;
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.getOrCreateStream(NexmarkEmitters.STREAM,
          StreamConfig.of(task.parallelism()).withDurability(Durability.os()));
      bids = NexmarkEmitters.toLog(new NexmarkGenerator(task.config()), 0, task.events(), s,
          NexmarkEmitters.streamSpec(task.parallelism()));
    }
    task.progress().accept(String.format(java.util.Locale.ROOT, "braid: generated and appended %,d bids to the "
        + "log (%d partitions) in %.1f s (not measured)", bids, task.parallelism(), (System.nanoTime() - t0) / 1e9));
  }
}
