package dev.braid.bench;

import dev.braid.IngestResult;
import dev.braid.ReplayProgress;
import dev.braid.ReprocessOptions;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Kappa replay benchmark: a {@code mode: kappa} view ({@code count} and {@code sum(amount)} by
 * key over the events of {@link ViewsEvents}) is redefined with {@link Engine#reprocess} while live
 * ingest continues, against the goal of DESIGN.md ("Kappa replay into a new version: >= 10 M
 * events/s on 2 cores") and issue 5's condition (live ingest keeps its rate, freshness p99 stays
 * <= 50 ms). Run it with {@code ./braid bench replay}.
 *
 * <ol>
 *   <li><b>Set-up (not timed).</b> Events {@code [0, --events)} are appended to the {@link FileLog}
 *       directly (as in {@link BraidViewsRun}); opening the engine replays them into version 1 of the
 *       kappa view.
 *   <li><b>One run.</b> A live-ingest thread appends the next events of the generator through
 *       {@code Braid.ingest} at {@code --ingest-rate} events/s (paced against the clock, {@code os}
 *       durability), and a prober every {@code --probe-interval-ms} ingests one event with a key of
 *       its own and polls {@code get} until it shows (freshness: ingest ack to visible). After
 *       {@code --lead-in-ms} of that, {@code reprocess} starts a new version with the other of two
 *       definitions that compute the same {@code count} + {@code sum} under different output names
 *       (so every run replays the same work and a read tells which version answered). The run is
 *       timed from the {@code reprocess} call until {@code versions} shows the new version
 *       {@code current} (polled every millisecond); the events replayed are the new version's
 *       position at that moment, i.e. the whole log including what live ingest appended meanwhile.
 *   <li><b>Check.</b> Ingest and prober stop, the speed layer catches up, and the new version's
 *       answers for {@code --samples} keys are compared with a naive loop over the generator up to
 *       the last event ingested; every probe key must read count 1. Any difference fails the
 *       benchmark (exit code 2).
 * </ol>
 *
 * <p>All runs reprocess the same engine again (no fresh data directory): run {@code k} replays the
 * {@code --events} of the set-up plus what live ingest added in the runs before, so later runs
 * replay slightly more. One warm-up run, then {@code --runs} measured runs; the table shows the
 * median with the range, and freshness over the probes of all measured runs taken together.
 * CPU: {@code M/CPU-s (replay threads)} divides by the CPU time of the {@code braid-replay-*} and
 * {@code braid-reprocess} threads (sampled every few milliseconds, so the last few milliseconds of a
 * thread can be missed); {@code (JVM)} divides by the whole process's CPU time during the replay,
 * which includes live ingest, the live speed layer, the prober and GC.
 */
@Command(
    name = "braid bench replay",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Benchmarks a Kappa reprocess: a count+sum-by-key kappa view is redefined and the log replayed into "
        + "a new version while live ingest continues at a fixed rate; measures replay events/s, live ingest rate and "
        + "freshness during the replay, checks the new version's answers, then prints one table.")
public final class ReplayBenchmark implements Callable<Integer> {

  /** The two definitions the runs alternate between: the same aggregation, other output names. */
  static final String[][] OUTPUTS = {{"n", "total"}, {"events", "amount_sum"}};

  @Option(names = "--events", paramLabel = "N", defaultValue = "10000000",
      description = "Events in the log before the first reprocess (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--keys", paramLabel = "N", defaultValue = "1000000",
      description = "Distinct keys the events are spread over (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of the stream (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--batch-threads", paramLabel = "N", defaultValue = "2",
      description = "The engine's batch threads, which also bound the replay's threads (default: ${DEFAULT-VALUE}).")
  int batchThreads;

  @Option(names = "--ingest-rate", paramLabel = "N", defaultValue = "100000",
      description = "Live ingest events per second during each run (default: ${DEFAULT-VALUE}).")
  int ingestRate;

  @Option(names = "--probe-interval-ms", paramLabel = "MS", defaultValue = "5",
      description = "Pause between freshness probes (default: ${DEFAULT-VALUE}).")
  int probeIntervalMs;

  @Option(names = "--lead-in-ms", paramLabel = "MS", defaultValue = "1000",
      description = "Live ingest and probes before each reprocess starts (default: ${DEFAULT-VALUE}).")
  int leadInMs;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3",
      description = "Measured reprocess (or rollback) runs; the table shows their median (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--warmup", paramLabel = "N", defaultValue = "1",
      description = "Unmeasured warm-up reprocess runs (with --rollback, the first reprocesses and the rest roll "
          + "back; default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "1000",
      description = "Keys whose answers are checked against a naive recomputation (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--rollback",
      description = "Measure rollbacks instead of reprocesses: the first warm-up run reprocesses (making the backup), "
          + "every later run activates the version that served before it, whose Delta is replayed from its cut.")
  boolean rollback;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary working directory (default: java.io.tmpdir).")
  Path dir;

  private final PrintStream out = System.out;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ReplayBenchmark()).execute(args));
  }

  static ViewSpec definition(int which) {
    return ViewSpec.builder(ViewsEvents.VIEW).from(ViewsEvents.STREAM).groupBy("key")
        .aggregate(OUTPUTS[which][0], "count").aggregate(OUTPUTS[which][1], "sum(amount)")
        .mode(ViewSpec.Mode.KAPPA).build();
  }

  void progress(String format, Object... args) {
    out.println("  " + String.format(Locale.ROOT, format, args));
    out.flush();
  }

  @Override
  public Integer call() throws Exception {
    validate();
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-replay-");
    try {
      printHeader(root);
      Path data = root.resolve("braid");
      writeLog(data);
      PipelineSpec spec = PipelineSpec.builder().stream(ViewsEvents.streamSpec(partitions)).view(definition(0))
          .build();
      long t0 = System.nanoTime();
      List<RunResult> measured = new ArrayList<>();
      List<String> disagreements = new ArrayList<>();
      Histogram fresh = newHistogram();
      Histogram freshBefore = newHistogram();
      try (Engine engine = Engine.open(data, spec, EngineOptions.defaults().withBatchThreads(batchThreads))) {
        progress("engine opened: version 1 replayed %,d events in %.1f s (set-up, not timed)", events,
            (System.nanoTime() - t0) / 1e9);
        AtomicLong nextEvent = new AtomicLong(events);
        long previous = -1; // the version that served before the newest run: a rollback's target
        for (int r = 0; r < warmup + runs; r++) {
          boolean isMeasured = r >= warmup;
          String label = isMeasured ? "run " + (r - warmup + 1) : "warm-up " + (r + 1);
          long serving = engine.versions(ViewsEvents.VIEW).stream().filter(v -> v.state() == VersionState.CURRENT)
              .mapToLong(VersionInfo::id).findFirst().orElseThrow();
          RunResult res = run(engine, r, (r + 1) % 2, rollback && r > 0 ? previous : -1, nextEvent, label,
              disagreements);
          previous = serving;
          if (isMeasured) {
            measured.add(res);
            fresh.add(res.fresh);
            freshBefore.add(res.freshBefore);
          }
        }
      }
      printTable(measured, fresh, freshBefore, disagreements);
      if (!disagreements.isEmpty()) {
        out.printf(Locale.ROOT, "%nANSWERS DISAGREE with the naive recomputation:%n");
        disagreements.stream().limit(20).forEach(d -> out.println("  " + d));
        return 2;
      }
      return 0;
    } finally {
      LogBenchmark.deleteRecursively(root);
    }
  }

  private void validate() {
    List<String> bad = new ArrayList<>();
    if (events < 1) {
      bad.add("--events must be at least 1, was " + events);
    }
    if (keys < 1 || keys > ViewsEvents.MAX_KEYS) {
      bad.add("--keys must be in [1, " + ViewsEvents.MAX_KEYS + "], was " + keys);
    }
    if (partitions < 1 || batchThreads < 1 || ingestRate < 1 || probeIntervalMs < 1 || runs < 1 || samples < 1) {
      bad.add("--partitions, --batch-threads, --ingest-rate, --probe-interval-ms, --runs and --samples must be at "
          + "least 1");
    }
    if (warmup < 0 || leadInMs < 0) {
      bad.add("--warmup and --lead-in-ms must be at least 0");
    }
    if (rollback && warmup < 1) {
      bad.add("--rollback needs --warmup of at least 1 (the first run reprocesses to make the version rolled back "
          + "to), was " + warmup);
    }
    if (!bad.isEmpty()) {
      throw new CommandLine.ParameterException(new CommandLine(this), String.join("; ", bad));
    }
  }

  private void writeLog(Path data) {
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.getOrCreateStream(ViewsEvents.STREAM, StreamConfig.of(partitions)
          .withDurability(Durability.os()));
      long t0 = System.nanoTime();
      ViewsEvents.append(s, ViewsEvents.streamSpec(partitions), 0, events, keys);
      progress("appended %,d events to the log (%d partitions) in %.1f s (set-up, not timed)", events, partitions,
          (System.nanoTime() - t0) / 1e9);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One run
  // ---------------------------------------------------------------------------------------------

  /** What one reprocess (or rollback) run measured. */
  record RunResult(long replayed, double seconds, double rate, double replayCpuRate, double processCpuRate,
      double ingestRate, Histogram fresh, Histogram freshBefore) {}

  /** One run: a reprocess to definition {@code def}, or, with {@code rollbackTo} >= 0, a rollback to that version. */
  private RunResult run(Engine engine, int run, int def, long rollbackTo, AtomicLong nextEvent, String label,
      List<String> disagreements) throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    LiveIngest ingest = new LiveIngest(engine, nextEvent, failure);
    Prober prober = new Prober(engine, run, failure);
    Thread ingestThread = new Thread(ingest, "bench-live-ingest");
    Thread proberThread = new Thread(prober, "bench-freshness-prober");
    ingestThread.start();
    proberThread.start();
    Thread.sleep(leadInMs);

    ThreadCpu replayCpu = new ThreadCpu("braid-replay-", "braid-reprocess");
    replayCpu.sample();
    long ingested0 = ingest.sent.get();
    prober.phase = 1;
    long cpu0 = BraidViewsRun.processCpuNanos();
    long t0 = System.nanoTime();
    java.util.concurrent.CompletableFuture<Long> activation = null; // a rollback's activate returns once it is current
    long id;
    if (rollbackTo >= 0) {
      id = rollbackTo;
      activation = java.util.concurrent.CompletableFuture.supplyAsync(() -> engine.activate(ViewsEvents.VIEW,
          rollbackTo));
    } else {
      id = engine.reprocess(ViewsEvents.VIEW, definition(def), ReprocessOptions.defaults());
    }
    long replayedByProgress = 0;
    VersionInfo v;
    long polls = 0;
    while (true) {
      v = version(engine, id);
      if (v.state() == VersionState.CURRENT) {
        break;
      }
      if (v.state() == VersionState.FAILED) {
        throw new IllegalStateException("version " + id + " failed: " + v.failure());
      }
      if (activation != null && activation.isCompletedExceptionally()) {
        activation.join(); // throws what stopped the rollback
      }
      ReplayProgress p = v.progress();
      if (p != null) {
        replayedByProgress = Math.max(replayedByProgress, p.eventsReplayed());
      }
      if (failure.get() != null) {
        throw new IllegalStateException("live ingest or prober failed", failure.get());
      }
      if ((++polls & 3) == 0) {
        replayCpu.sample();
      }
      if (System.nanoTime() - t0 > TimeUnit.MINUTES.toNanos(10)) {
        throw new IllegalStateException("version " + id + " did not become current within 10 minutes: " + v);
      }
      LockSupport.parkNanos(1_000_000);
    }
    long nanos = System.nanoTime() - t0;
    long cpu = BraidViewsRun.processCpuNanos() - cpu0;
    if (activation != null) {
      activation.get(1, TimeUnit.MINUTES); // its failure, if any
    }
    prober.phase = 2;
    long ingestedDuring = ingest.sent.get() - ingested0;
    replayCpu.sample();
    long replayed = total(v.position());

    ingest.stop = true;
    prober.stop = true;
    ingestThread.join();
    proberThread.join();
    if (failure.get() != null) {
      throw new IllegalStateException("live ingest or prober failed", failure.get());
    }
    double seconds = nanos / 1e9;
    RunResult res = new RunResult(replayed, seconds, replayed / seconds, replayed / (replayCpu.total() / 1e9),
        replayed / (cpu / 1e9), ingestedDuring / seconds, prober.during, prober.before);
    progress("%s: version %d current after %.0f ms: %,d events replayed (%,d by the replay threads, the rest by the "
            + "speed layer after attach) = %.2f M events/s; replay threads %.0f ms CPU = %.2f M/CPU-s, JVM %.0f ms "
            + "CPU = %.2f M/CPU-s; live ingest %,.0f events/s; freshness during replay p50 %.2f p99 %.2f max %.2f ms "
            + "(%d probes), before it p99 %.2f ms", label, id, nanos / 1e6, replayed, replayedByProgress,
        res.rate / 1e6, replayCpu.total() / 1e6, res.replayCpuRate / 1e6, cpu / 1e6, res.processCpuRate / 1e6,
        res.ingestRate, ms(prober.during, 50), ms(prober.during, 99), ms(prober.during, 100),
        prober.during.getTotalCount(), ms(prober.before, 99));
    check(engine, id, def, nextEvent.get(), prober, label, disagreements);
    return res;
  }

  /** Compares the current version's answers with a naive loop over events {@code [0, ingested)}. */
  private void check(Engine engine, long id, int def, long ingested, Prober prober, String label,
      List<String> disagreements) throws InterruptedException {
    if (!engine.awaitCaughtUp(1, TimeUnit.MINUTES)) {
      throw new IllegalStateException("the speed layer did not catch up within a minute after " + label);
    }
    long t0 = System.nanoTime();
    Map<String, ViewsEvents.Totals> expected = ViewsEvents.expected(ingested, keys,
        ViewsEvents.sampleKeys(keys, samples));
    int before = disagreements.size();
    String n = OUTPUTS[def][0];
    String sum = OUTPUTS[def][1];
    for (Map.Entry<String, ViewsEvents.Totals> e : expected.entrySet()) {
      ViewResult r = engine.get(ViewsEvents.VIEW, e.getKey());
      ViewsEvents.Totals want = e.getValue();
      long gotN = r.found() ? ((Number) r.values().get(n)).longValue() : 0;
      long gotSum = r.found() ? ((Number) r.values().get(sum)).longValue() : 0;
      if (r.asOf().version() != id || !r.values().keySet().equals(java.util.Set.of(n, sum)) && r.found()
          || gotN != want.count() || gotSum != want.sum()) {
        disagreements.add(String.format(Locale.ROOT, "%s: key %s is %s (version %d), expected %s=%d, %s=%d", label,
            e.getKey(), r.values(), r.asOf().version(), n, want.count(), sum, want.sum()));
      }
    }
    for (String key : prober.keys) {
      ViewResult r = engine.get(ViewsEvents.VIEW, key);
      if (!r.found() || ((Number) r.values().get(n)).longValue() != 1
          || ((Number) r.values().get(sum)).longValue() != 1) {
        disagreements.add(String.format(Locale.ROOT, "%s: probe key %s is %s, expected %s=1, %s=1", label, key,
            r.values(), n, sum));
      }
    }
    progress("%s: answers of %d sample keys (over %,d events) and %d probe keys %s the naive recomputation "
            + "(checked in %.1f s)", label, expected.size(), ingested, prober.keys.size(),
        disagreements.size() == before ? "equal" : "DIFFER FROM", (System.nanoTime() - t0) / 1e9);
  }

  private static VersionInfo version(Engine engine, long id) {
    for (VersionInfo v : engine.versions(ViewsEvents.VIEW)) {
      if (v.id() == id) {
        return v;
      }
    }
    throw new IllegalStateException("version " + id + " is missing from " + engine.versions(ViewsEvents.VIEW));
  }

  private static long total(Cut position) {
    long sum = 0;
    for (int p = 0; p < position.partitions(); p++) {
      sum += position.offset(p);
    }
    return sum;
  }

  private static Histogram newHistogram() {
    return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
  }

  private static double ms(Histogram h, double percentile) {
    if (h.getTotalCount() == 0) {
      return Double.NaN;
    }
    return (percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile)) / 1e6;
  }

  /**
   * Appends the generator's next events through {@code Braid.ingest}, paced so that {@code sent}
   * follows {@code --ingest-rate} events/s from the thread's start (a batch holds what is due, at
   * most 2,000 events; if ingest falls behind, the achieved rate shows it).
   */
  private final class LiveIngest implements Runnable {
    final Engine engine;
    final AtomicLong next;
    final AtomicReference<Throwable> failure;
    final AtomicLong sent = new AtomicLong();
    volatile boolean stop;

    LiveIngest(Engine engine, AtomicLong next, AtomicReference<Throwable> failure) {
      this.engine = engine;
      this.next = next;
      this.failure = failure;
    }

    @Override
    public void run() {
      try {
        long start = System.nanoTime();
        List<Map<String, Object>> batch = new ArrayList<>();
        while (!stop) {
          long due = (long) ((System.nanoTime() - start) / 1e9 * ingestRate);
          int n = (int) Math.min(due - sent.get(), 2_000);
          if (n <= 0) {
            LockSupport.parkNanos(200_000);
            continue;
          }
          batch.clear();
          long first = next.get();
          for (long i = first; i < first + n; i++) {
            Map<String, Object> e = new HashMap<>(4);
            e.put("key", ViewsEvents.keyString(ViewsEvents.keyIndex(i, keys)));
            e.put("amount", ViewsEvents.amount(i));
            e.put("ts", ViewsEvents.eventTime(i));
            batch.add(e);
          }
          IngestResult r = engine.ingest(ViewsEvents.STREAM, batch);
          if (!r.rejections().isEmpty()) {
            throw new IllegalStateException("live ingest was refused: " + r.rejections().get(0));
          }
          next.addAndGet(n);
          sent.addAndGet(n);
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    }
  }

  /**
   * Every {@code --probe-interval-ms}: ingests one event with a key no other event has, then reads
   * the key until it is found, polling every 20 us; records ack-to-visible in {@code before} (during
   * the lead-in) or {@code during} (during the replay). Probes after the switch are not recorded.
   */
  private final class Prober implements Runnable {
    final Engine engine;
    final int run;
    final AtomicReference<Throwable> failure;
    final Histogram before = newHistogram();
    final Histogram during = newHistogram();
    final List<String> keys = new ArrayList<>();
    volatile int phase;
    volatile boolean stop;

    Prober(Engine engine, int run, AtomicReference<Throwable> failure) {
      this.engine = engine;
      this.run = run;
      this.failure = failure;
    }

    @Override
    public void run() {
      try {
        for (int i = 0; !stop; i++) {
          String key = "probe-" + run + "-" + i;
          int phaseAtIngest = phase;
          Map<String, Object> e = new LinkedHashMap<>();
          e.put("key", key);
          e.put("amount", 1L);
          e.put("ts", System.currentTimeMillis());
          IngestResult r = engine.ingest(ViewsEvents.STREAM, List.of(e));
          long acked = System.nanoTime();
          if (!r.rejections().isEmpty()) {
            throw new IllegalStateException("a probe was refused: " + r.rejections().get(0));
          }
          keys.add(key);
          while (!engine.get(ViewsEvents.VIEW, key).found()) {
            if (System.nanoTime() - acked > TimeUnit.SECONDS.toNanos(30)) {
              throw new IllegalStateException("probe " + key + " not visible 30 s after its ingest was acknowledged");
            }
            LockSupport.parkNanos(20_000);
          }
          long visible = System.nanoTime() - acked;
          if (phaseAtIngest == 0 && phase == 0) {
            before.recordValue(visible);
          } else if (phaseAtIngest == 1 && phase == 1) {
            during.recordValue(visible);
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(probeIntervalMs));
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    }
  }

  /**
   * CPU time that threads whose names start with one of the prefixes used after the first sample:
   * a thread alive then counts from its value then, a thread first seen later from zero; a thread
   * that has ended counts with its last sampled value.
   */
  private static final class ThreadCpu {
    private final String[] prefixes;
    private final ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    private final Map<Long, Long> first = new HashMap<>();
    private final Map<Long, Long> latest = new HashMap<>();
    private boolean sampled;

    ThreadCpu(String... prefixes) {
      this.prefixes = prefixes;
    }

    void sample() {
      for (ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds(), 0)) {
        if (t == null) {
          continue;
        }
        for (String prefix : prefixes) {
          if (t.getThreadName().startsWith(prefix)) {
            long c = mx.getThreadCpuTime(t.getThreadId());
            if (c > 0) {
              first.putIfAbsent(t.getThreadId(), sampled ? 0L : c);
              latest.put(t.getThreadId(), c);
            }
            break;
          }
        }
      }
      sampled = true;
    }

    long total() {
      long sum = 0;
      for (Map.Entry<Long, Long> e : latest.entrySet()) {
        sum += e.getValue() - first.get(e.getKey());
      }
      return sum;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  private void printHeader(Path root) {
    out.printf(Locale.ROOT, "Braid Kappa replay benchmark: %s of a count + sum(amount) by key kappa view, "
        + "%,d events over %,d keys in the log%n", rollback ? "rollback" : "reprocess", events, keys);
    out.printf(Locale.ROOT, "  machine: %d CPUs, Java %s (%s), max heap %d MB, load average %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        System.getProperty("java.vm.name"), Runtime.getRuntime().maxMemory() >> 20, ViewsBenchmark.loadAverage());
    out.printf(Locale.ROOT, "  %d partitions, %d batch (replay) threads; live ingest %,d events/s (os durability), a "
            + "freshness probe every %d ms; %d warm-up + %d measured %s runs on one engine; work dir %s%n",
        partitions, batchThreads, ingestRate, probeIntervalMs, warmup, runs, rollback ? "rollback" : "reprocess", root);
    out.flush();
  }

  private void printTable(List<RunResult> rs, Histogram fresh, Histogram freshBefore, List<String> disagreements) {
    double[] rate = rs.stream().mapToDouble(RunResult::rate).toArray();
    double[] ingest = rs.stream().mapToDouble(RunResult::ingestRate).toArray();
    double[] secs = rs.stream().mapToDouble(RunResult::seconds).toArray();
    double[] replayed = rs.stream().mapToDouble(RunResult::replayed).toArray();
    List<String[]> rows = new ArrayList<>();
    double r = ViewsBenchmark.median(rate);
    rows.add(new String[] {String.format(Locale.ROOT, "Kappa replay into a new version (%d partitions)", partitions),
        String.format(Locale.ROOT, "%.2f M/s %s; %,.0f events in %.2f s; %.2f M/CPU-s (replay threads), %.2f "
                + "M/CPU-s (JVM)", r / 1e6, spread(rate, 1e6, "%.2f"), ViewsBenchmark.median(replayed),
            ViewsBenchmark.median(secs), ViewsBenchmark.median(
                rs.stream().mapToDouble(RunResult::replayCpuRate).toArray()) / 1e6,
            ViewsBenchmark.median(rs.stream().mapToDouble(RunResult::processCpuRate).toArray()) / 1e6),
        ">= 10 M/s on 2 cores", verdict(r >= 10e6, r / 10e6)});
    double in = ViewsBenchmark.median(ingest);
    rows.add(new String[] {"live ingest during the replay (os)", String.format(Locale.ROOT, "%,.0f events/s %s", in,
        spread(ingest, 1, "%,.0f")), String.format(Locale.ROOT, ">= %,d events/s (99 %% of it)", ingestRate),
        verdict(in >= 0.99 * ingestRate, in / ingestRate)});
    double p99 = ms(fresh, 99);
    rows.add(new String[] {"freshness during the replay, p99", String.format(Locale.ROOT,
        "%.2f ms (p50 %.2f, max %.2f; %d probes; before the replay p99 %.2f ms)", p99, ms(fresh, 50), ms(fresh, 100),
        fresh.getTotalCount(), ms(freshBefore, 99)), "<= 50 ms",
        fresh.getTotalCount() == 0 ? "- (no probe)" : verdict(p99 <= 50, 50 / p99)});
    rows.add(new String[] {"new version vs naive recomputation", disagreements.isEmpty()
        ? String.format(Locale.ROOT, "%d sample keys + probe keys equal, every run", Math.min(samples, keys))
        : disagreements.size() + " keys differ", "equal", disagreements.isEmpty() ? "meets" : "FAILS"});
    out.printf(Locale.ROOT, "%nResults (median of %d runs, range in brackets; freshness over all measured runs; "
        + "load average now %s):%n", rs.size(), ViewsBenchmark.loadAverage());
    printRows(out, rows);
  }

  /** Prints {@code rows} of (figure, measured, goal, verdict) as an aligned table with a header. */
  static void printRows(PrintStream out, List<String[]> rows) {
    String[] head = {"figure", "measured", "goal", "verdict"};
    int[] w = new int[4];
    for (int i = 0; i < 4; i++) {
      w[i] = head[i].length();
      for (String[] row : rows) {
        w[i] = Math.max(w[i], row[i].length());
      }
    }
    String fmt = String.format(Locale.ROOT, "%%-%ds  %%-%ds  %%-%ds  %%s%%n", w[0], w[1], w[2]);
    out.printf(Locale.ROOT, fmt, (Object[]) head);
    for (String[] row : rows) {
      out.printf(Locale.ROOT, fmt, (Object[]) row);
    }
    out.flush();
  }

  static String verdict(boolean ok, double fraction) {
    return ok ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", fraction * 100);
  }

  static String spread(double[] v, double unit, String fmt) {
    double[] s = v.clone();
    Arrays.sort(s);
    return "(" + String.format(Locale.ROOT, fmt, s[0] / unit) + "-" + String.format(Locale.ROOT, fmt,
        s[s.length - 1] / unit) + ")";
  }
}
