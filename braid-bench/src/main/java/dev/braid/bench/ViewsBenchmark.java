package dev.braid.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The views benchmark: one view ({@code count} and {@code sum} of an integer amount by key) over the
 * same generated events ({@link ViewsEvents}), computed by Braid and by its peers, against the
 * goals of DESIGN.md ("Performance goals"). Run it with {@code ./braid bench views}.
 *
 * <table>
 *   <caption>What is measured</caption>
 *   <tr><th>figure</th><th>Braid</th><th>peer</th></tr>
 *   <tr><td>speed layer</td><td>replay of the log into the Delta ({@link BraidViewsRun})</td>
 *       <td>Flink keyed reduce, MiniCluster, heap state ({@link FlinkViewsRun})</td></tr>
 *   <tr><td>batch recompute</td><td>{@code runBatch}: batch layer, Base written, swapped in</td>
 *       <td>DuckDB {@code GROUP BY} into a table ({@link DuckDbViewsRun})</td></tr>
 *   <tr><td>merged point read</td><td>{@code get}: Base on disk + non-empty Delta, p99; with the bytes
 *       each read allocates and the page faults its thread took (a heap growing into fresh pages)</td>
 *       <td>-</td></tr>
 *   <tr><td>Delta memory</td><td>bytes per key, accounting and heap after GC</td><td>-</td></tr>
 * </table>
 *
 * <p>Each engine runs in a JVM of its own with the same options ({@code --child-java-opts}, by
 * default {@code -Xmx4g} as in the reference measurements), warm-ups then {@code --runs} measured
 * runs; the table shows the median with the range. Beside wall-clock rates it shows events per CPU-second of each
 * engine's JVM ({@code M/CPU-s}, from the process CPU time): on a shared machine that figure is
 * its speed per core, while the wall-clock rate also measures what else runs. Before any speed is
 * compared, every engine's answers for
 * {@code --samples} keys are checked against a naive loop over the generator; a disagreement fails
 * the benchmark (exit code 2).
 */
@Command(
    name = "braid bench views",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Benchmarks a count+sum-by-key view over the same generated events: Braid's speed layer "
        + "against Flink (keyed reduce, MiniCluster), Braid's batch layer against DuckDB (GROUP BY), merged point "
        + "reads and the Delta's memory per key; checks that all engines agree, then prints one table.")
public final class ViewsBenchmark implements Callable<Integer> {

  static final String ENGINES = "braid,flink,duckdb";

  @Option(names = "--events", paramLabel = "N", defaultValue = "10000000",
      description = "Events in the log / the job / the table (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--keys", paramLabel = "N", defaultValue = "1000000",
      description = "Distinct keys the events are spread over (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3",
      description = "Measured runs per figure; the table shows their median (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
      description = "Unmeasured warm-up runs per figure, for every engine (default: ${DEFAULT-VALUE}: after one, "
          + "Braid's batch cycles still got faster run by run as the JIT and the heap settled; Flink's warm-up job "
          + "has at most 2,000,000 events).")
  int warmup;

  @Option(names = "--engines", paramLabel = "ENGINE", split = ",", defaultValue = ENGINES,
      description = "Engines to run, from: " + ENGINES + " (default: all).")
  Set<String> engines;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of Braid's stream, one speed-layer thread each (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--batch-threads", paramLabel = "N", defaultValue = "2",
      description = "Threads of Braid's batch layer (default: ${DEFAULT-VALUE}).")
  int batchThreads;

  @Option(names = "--flink-parallelism", paramLabel = "N", defaultValue = "2",
      description = "Parallelism of the Flink job (default: ${DEFAULT-VALUE}).")
  int flinkParallelism;

  @Option(names = "--duckdb-threads", paramLabel = "N", defaultValue = "2",
      description = "DuckDB's threads setting (default: ${DEFAULT-VALUE}).")
  int duckdbThreads;

  @Option(names = "--reads", paramLabel = "N", defaultValue = "1000000",
      description = "Merged point reads per measured run, and per warm-up pass; warm-up passes repeat (up to 10) "
          + "until one takes fewer than 1 page fault per 1,000 reads (default: ${DEFAULT-VALUE}).")
  int reads;

  @Option(names = "--extra-events", paramLabel = "N", defaultValue = "200000",
      description = "Events appended after the Base's cut before the reads, so the Delta is not empty "
          + "(default: ${DEFAULT-VALUE}).")
  long extraEvents;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "1000",
      description = "Keys whose answers every engine must agree on (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--fork", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Run each engine in a JVM of its own (default: ${DEFAULT-VALUE}).")
  boolean fork;

  @Option(names = "--child-java-opts", paramLabel = "OPTS", defaultValue = "-Xmx4g",
      description = "JVM options of each engine's JVM, added to this JVM's (default: ${DEFAULT-VALUE}; "
          + "\"-Xms4g -Xmx4g -XX:+AlwaysPreTouch\" commits and touches the heap at start, as a latency-sensitive "
          + "service runs, so that no read pays for the first touch of a page while the heap grows).")
  String childJavaOpts;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary working directory (default: java.io.tmpdir).")
  Path dir;

  @Option(names = "--child", hidden = true)
  String child;

  @Option(names = "--work", hidden = true)
  Path work;

  @Option(names = "--results", hidden = true)
  Path resultsFile;

  private final PrintStream out = System.out;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ViewsBenchmark()).execute(args));
  }

  void progress(String format, Object... args) {
    out.println("  " + String.format(Locale.ROOT, format, args));
    out.flush();
  }

  @Override
  public Integer call() throws Exception {
    validate();
    if (child != null) {
      Results r = new Results();
      runEngine(child, work, r);
      r.store(resultsFile);
      return 0;
    }
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-views-");
    try {
      printHeader(root);
      int[] sample = ViewsEvents.sampleKeys(keys, samples);
      long t0 = System.nanoTime();
      Map<String, ViewsEvents.Totals> expected = ViewsEvents.expected(events, keys, sample);
      Map<String, ViewsEvents.Totals> expectedMerged = ViewsEvents.expected(events + extraEvents, keys, sample);
      progress("expected answers of %d sample keys computed by a naive loop in %.1f s", sample.length,
          (System.nanoTime() - t0) / 1e9);
      Results all = new Results();
      List<String> failed = new ArrayList<>();
      for (String engine : engines) {
        out.printf(Locale.ROOT, "%n%s:%n", engine);
        out.flush();
        try {
          if (fork) {
            forkEngine(engine, root, all);
          } else {
            runEngine(engine, root, all);
          }
        } catch (Exception | OutOfMemoryError e) {
          failed.add(engine);
          progress("%s FAILED: %s", engine, e);
        }
      }
      List<String> disagreements = new ArrayList<>();
      check(all, "braid-delta", expected, disagreements);
      check(all, "braid-batch", expected, disagreements);
      check(all, "braid-merged", expectedMerged, disagreements);
      check(all, "flink", expected, disagreements);
      check(all, "duckdb", expected, disagreements);
      printTable(all, disagreements.isEmpty());
      if (!disagreements.isEmpty()) {
        out.printf(Locale.ROOT, "%nENGINES DISAGREE: the speed figures above compare different answers.%n");
        disagreements.stream().limit(20).forEach(d -> out.println("  " + d));
        return 2;
      }
      return failed.isEmpty() ? 0 : 1;
    } finally {
      LogBenchmark.deleteRecursively(root);
    }
  }

  private void validate() {
    CommandLine.Model.CommandSpec spec = new CommandLine(this).getCommandSpec();
    List<String> bad = new ArrayList<>();
    if (events < 1) {
      bad.add("--events must be at least 1, was " + events);
    }
    if (keys < 1 || keys > ViewsEvents.MAX_KEYS) {
      bad.add("--keys must be in [1, " + ViewsEvents.MAX_KEYS + "], was " + keys);
    }
    if (runs < 1 || warmup < 0 || partitions < 1 || batchThreads < 1 || flinkParallelism < 1 || duckdbThreads < 1
        || reads < 1 || extraEvents < 0 || samples < 1) {
      bad.add("--runs, --partitions, --batch-threads, --flink-parallelism, --duckdb-threads, --reads and --samples "
          + "must be at least 1, --warmup and --extra-events at least 0");
    }
    for (String e : engines) {
      if (!Set.of(ENGINES.split(",")).contains(e)) {
        bad.add("unknown engine '" + e + "'; pick from " + ENGINES);
      }
    }
    if (!bad.isEmpty()) {
      throw new CommandLine.ParameterException(spec.commandLine(), String.join("; ", bad));
    }
  }

  private void runEngine(String engine, Path workDir, Results r) throws Exception {
    switch (engine) {
      case "braid" -> new BraidViewsRun(this, r, workDir).run();
      case "flink" -> new FlinkViewsRun(this, r).run();
      case "duckdb" -> new DuckDbViewsRun(this, r).run();
      default -> throw new IllegalArgumentException("unknown engine " + engine);
    }
  }

  /** Runs one engine in a child JVM on this JVM's class path and merges its results into {@code all}. */
  private void forkEngine(String engine, Path root, Results all) throws IOException, InterruptedException {
    Path results = root.resolve(engine + ".properties");
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(childJvmOptions());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ViewsBenchmark.class.getName());
    cmd.addAll(List.of("--events", Long.toString(events), "--keys", Integer.toString(keys), "--runs",
        Integer.toString(runs), "--warmup", Integer.toString(warmup), "--partitions", Integer.toString(partitions),
        "--batch-threads", Integer.toString(batchThreads), "--flink-parallelism", Integer.toString(flinkParallelism),
        "--duckdb-threads", Integer.toString(duckdbThreads), "--reads", Integer.toString(reads), "--extra-events",
        Long.toString(extraEvents), "--samples", Integer.toString(samples), "--engines", engine, "--child", engine,
        "--work", root.toString(), "--results", results.toString()));
    ChildJvm child = ChildJvm.start(cmd);
    Process p = child.process();
    Thread stop = new Thread(p::destroy, "braid-bench-views-stop");
    Runtime.getRuntime().addShutdownHook(stop);
    int code = p.waitFor();
    child.awaitOutput();
    Runtime.getRuntime().removeShutdownHook(stop);
    if (code != 0) {
      throw new IllegalStateException(engine + "'s JVM exited with code " + code);
    }
    all.putAll(Results.load(results));
  }

  /** The child JVMs' options, with {@code --child-java-opts}. */
  private List<String> childJvmOptions() {
    return childJvmOptions(childJavaOpts);
  }

  /**
   * This JVM's options (heap options removed) plus {@code childJavaOpts}, plus the foreign-memory
   * module on JDK 17 and 18 that braid-core's sketch aggregations need there: the options of a
   * benchmark's child JVM.
   */
  public static List<String> childJvmOptions(String childJavaOpts) {
    List<String> opts = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-Xmx") && !a.startsWith("-Xms") && !a.startsWith("-agentlib:jdwp")) {
        opts.add(a);
      }
    }
    int feature = Runtime.version().feature();
    if ((feature == 17 || feature == 18) && !opts.contains("--add-modules=jdk.incubator.foreign")) {
      opts.add("--add-modules=jdk.incubator.foreign");
    }
    for (String o : childJavaOpts.trim().split("\\s+")) {
      if (!o.isEmpty()) {
        opts.add(o);
      }
    }
    return opts;
  }

  private static void check(Results all, String set, Map<String, ViewsEvents.Totals> expected, List<String> out) {
    Map<String, long[]> got = all.answers(set);
    if (got.isEmpty()) {
      return; // engine not run (or failed, reported already)
    }
    for (Map.Entry<String, ViewsEvents.Totals> e : expected.entrySet()) {
      long[] g = got.get(e.getKey());
      ViewsEvents.Totals want = e.getValue();
      if (g == null || g[0] != want.count() || g[1] != want.sum()) {
        out.add(String.format(Locale.ROOT, "%s: key %s is %s, expected count %d, sum %d", set, e.getKey(),
            g == null ? "missing" : "count " + g[0] + ", sum " + g[1], want.count(), want.sum()));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  private void printHeader(Path root) throws IOException {
    out.printf(Locale.ROOT, "Braid views benchmark: count + sum(amount) by key, %,d events over %,d keys%n", events,
        keys);
    out.printf(Locale.ROOT, "  machine: %d CPUs, Java %s (%s), load average %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        System.getProperty("java.vm.name"), loadAverage());
    out.printf(Locale.ROOT, "  %d warm-up + %d measured run(s) per figure; engines %s, each %s; work dir %s%n",
        warmup, runs, String.join(",", engines), fork ? "in its own JVM (" + String.join(" ", childJvmOptions()) + ")"
            : "in this JVM", root);
    out.printf(Locale.ROOT, "  Braid: %d partitions, %d batch threads; Flink parallelism %d; DuckDB threads %d%n",
        partitions, batchThreads, flinkParallelism, duckdbThreads);
    out.flush();
  }

  /** The 1, 5 and 15 minute load averages, or {@code unknown}. */
  public static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private void printTable(Results r, boolean agreed) {
    int cores = Math.min(Runtime.getRuntime().availableProcessors(), partitions);
    double[] speed = r.list("braid.speed.rate");
    double[] flink = r.list("flink.rate");
    double[] batch = r.list("braid.batch.rate");
    double[] duck = r.list("duckdb.rate");
    double[] p99 = r.list("braid.read.p99");
    List<String[]> rows = new ArrayList<>();
    double perCore = median(speed) / cores;
    double speedCpu = median(r.list("braid.speed.processCpuRate"));
    double flinkCpu = median(r.list("flink.cpuRate"));
    rows.add(row(String.format(Locale.ROOT, "speed layer, per core (%d partitions)", partitions),
        speed.length == 0 ? "-" : rate(perCore) + " per core; " + rate(median(speed)) + " " + spread(speed)
            + " in all; " + cpuRate(speedCpu) + " (speed threads alone "
            + cpuRate(median(r.list("braid.speed.cpuRate"))) + ")",
        "-", ">= 5 M/s per core", speed.length == 0 ? "-" : verdict(perCore >= 5e6, perCore / 5e6)));
    double ratio = median(speed) / median(flink);
    rows.add(row("speed layer vs Flink keyed reduce", speed.length == 0 ? "-" : rate(median(speed)),
        flink.length == 0 ? "-" : "Flink " + rate(median(flink)) + " " + spread(flink)
            + String.format(Locale.ROOT, " = %.1fx; by CPU: %s = %.1fx", ratio, cpuRate(flinkCpu),
                speedCpu / flinkCpu),
        ">= 10x Flink", speed.length == 0 || flink.length == 0 ? "-" : verdict(ratio >= 10, ratio / 10)));
    double batchRatio = median(batch) / median(duck);
    double batchCpu = median(r.list("braid.batch.cpuRate"));
    double duckCpu = median(r.list("duckdb.cpuRate"));
    rows.add(row("batch recompute (runBatch)", batch.length == 0 ? "-" : rate(median(batch)) + " " + spread(batch)
            + "; " + cpuRate(batchCpu),
        duck.length == 0 ? "-" : "DuckDB " + rate(median(duck)) + " " + spread(duck)
            + String.format(Locale.ROOT, " = %.2fx; by CPU: %s = %.2fx", batchRatio, cpuRate(duckCpu),
                batchCpu / duckCpu),
        ">= 28 M/s (>= DuckDB)", batch.length == 0 ? "-" : verdict(median(batch) >= 28e6, median(batch) / 28e6)
            + (duck.length == 0 ? "" : median(batch) >= median(duck) ? ", >= DuckDB" : ", < DuckDB")));
    rows.add(row("merged point read p99", p99.length == 0 ? "-" : String.format(Locale.ROOT,
            "%.2f us %s (p50 %.2f, p99.9 %.1f, max %.0f us; %.0f bytes allocated and %.0f page faults per 1,000 "
                + "reads)", median(p99), spread(p99, "%.2f"), median(r.list("braid.read.p50")),
            median(r.list("braid.read.p999")), median(r.list("braid.read.max")), median(r.list("braid.read.allocated")),
            median(r.list("braid.read.faults")) * 1000),
        "-", "<= 5 us", p99.length == 0 ? "-" : verdict(median(p99) <= 5, 5 / median(p99))));
    double deltaKeys = r.get("braid.delta.keys");
    double accounted = r.get("braid.delta.accountedBytes") / deltaKeys;
    double gc = r.get("braid.delta.gcBytes") / deltaKeys;
    rows.add(row(String.format(Locale.ROOT, "Delta memory, %,.0f keys", deltaKeys), Double.isNaN(deltaKeys) ? "-"
            : String.format(Locale.ROOT, "%.0f B/key by accounting, %.0f B/key by heap after GC", accounted, gc), "-",
        "<= 100 B/key", Double.isNaN(deltaKeys) ? "-" : verdict(Math.max(accounted, gc) <= 100,
            100 / Math.max(accounted, gc))));
    out.printf(Locale.ROOT, "%nResults (median of %d runs, range in brackets; load average now %s; answers %s):%n",
        runs, loadAverage(), agreed ? "agree on all sample keys" : "DISAGREE");
    int[] w = new int[5];
    String[] head = {"figure", "Braid", "peer (same run)", "goal", "verdict"};
    for (int i = 0; i < 5; i++) {
      w[i] = head[i].length();
      for (String[] row : rows) {
        w[i] = Math.max(w[i], row[i].length());
      }
    }
    String fmt = String.format(Locale.ROOT, "%%-%ds  %%-%ds  %%-%ds  %%-%ds  %%s%%n", w[0], w[1], w[2], w[3]);
    out.printf(Locale.ROOT, fmt, (Object[]) head);
    for (String[] row : rows) {
      out.printf(Locale.ROOT, fmt, (Object[]) row);
    }
    out.flush();
  }

  private static String[] row(String... cells) {
    return cells;
  }

  private static String verdict(boolean ok, double fraction) {
    return ok ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", fraction * 100);
  }

  /** Events per CPU-second of the engine's JVM: its speed per core, whatever else runs on the machine. */
  private static String cpuRate(double perCpuSecond) {
    return String.format(Locale.ROOT, "%.2f M/CPU-s", perCpuSecond / 1e6);
  }

  private static String rate(double perSecond) {
    return String.format(Locale.ROOT, "%.2f M/s", perSecond / 1e6);
  }

  private static String spread(double[] v) {
    return spread(v, "%.2f", 1e6);
  }

  private static String spread(double[] v, String fmt) {
    return spread(v, fmt, 1);
  }

  private static String spread(double[] v, String fmt, double unit) {
    double[] s = v.clone();
    Arrays.sort(s);
    return "(" + String.format(Locale.ROOT, fmt, s[0] / unit) + "-" + String.format(Locale.ROOT, fmt,
        s[s.length - 1] / unit) + ")";
  }

  /** The median of {@code v} (NaN when empty). */
  public static double median(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Figures and answers of the engines, as a flat property list (so a child JVM hands them back in
   * a file): {@code name = v1,v2,...} for figures, {@code answer.SET.KEY = count,sum} for answers.
   */
  static final class Results {

    private final Map<String, String> values = new LinkedHashMap<>();

    synchronized void put(String name, double value) {
      values.put(name, Double.toString(value));
    }

    synchronized void add(String name, double value) {
      values.merge(name, Double.toString(value), (a, b) -> a + "," + b);
    }

    synchronized void answer(String set, String key, long count, long sum) {
      values.put("answer." + set + "." + key, count + "," + sum);
    }

    synchronized void answerIfAbsent(String set, String key, long count, long sum) {
      values.putIfAbsent("answer." + set + "." + key, count + "," + sum);
    }

    synchronized double get(String name) {
      String v = values.get(name);
      return v == null ? Double.NaN : Double.parseDouble(v);
    }

    synchronized double[] list(String name) {
      String v = values.get(name);
      return v == null ? new double[0] : Arrays.stream(v.split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    /** Answers of one set: key to {count, sum}. */
    synchronized Map<String, long[]> answers(String set) {
      String prefix = "answer." + set + ".";
      Map<String, long[]> out = new LinkedHashMap<>();
      for (Map.Entry<String, String> e : values.entrySet()) {
        if (e.getKey().startsWith(prefix)) {
          String[] f = e.getValue().split(",");
          out.put(e.getKey().substring(prefix.length()), new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])});
        }
      }
      return out;
    }

    synchronized void putAll(Results other) {
      values.putAll(other.values);
    }

    synchronized void store(Path file) throws IOException {
      Properties p = new Properties();
      p.putAll(values);
      try (OutputStream os = Files.newOutputStream(file)) {
        p.store(os, "braid bench views results");
      }
    }

    static Results load(Path file) throws IOException {
      Properties p = new Properties();
      try (InputStream is = Files.newInputStream(file)) {
        p.load(is);
      }
      Results r = new Results();
      for (String name : p.stringPropertyNames()) {
        r.values.put(name, p.getProperty(name));
      }
      return r;
    }
  }
}
