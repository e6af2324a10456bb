package dev.braid.bench.nexmark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.braid.bench.LogBenchmark;
import dev.braid.bench.ViewsBenchmark;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code braid bench nexmark}: the Nexmark-style queries ({@link NexmarkQuery}) over the same
 * generated auction events ({@link NexmarkGenerator}), run by each engine of
 * {@link NexmarkEngines} in each of its modes, side by side.
 *
 * <h2>How a run goes</h2>
 * <ol>
 *   <li>For each query, the reference ({@link NaiveNexmark}) runs first, then every (engine, mode),
 *       each in a JVM of its own with the same options ({@code --child-java-opts}, by default
 *       {@value #DEFAULT_CHILD_OPTS}, plus {@code -XX:+ExitOnOutOfMemoryError}, and killed after
 *       {@code --child-timeout}): this class's hidden {@code --child} mode, which generates the
 *       events from the seed, runs {@code --warmup} unmeasured and {@code --runs} measured runs, and
 *       writes a JSON report (run times, CPU, peak RSS) and its result rows as NDJSON
 *       ({@link NexmarkResult}).
 *   <li>Every engine's result is compared with the reference's and with every other engine's, row by
 *       row ({@link NexmarkResult#compareFiles}). If any differ the differences are printed first,
 *       naming the engine, the row and the field, and the exit code is 2: speed figures of different
 *       answers are not compared (the table shows such an engine's speed marked not comparable, with
 *       no ratio and no goal verdict).
 *   <li>One table: per (engine, mode), bids per second (median of the runs, range in brackets), bids
 *       per CPU-second of the engine's process (its speed per core, whatever else runs on the
 *       machine), peak RSS, and for each peer Braid's ratio to it per CPU-second. {@code --json}
 *       prints the same as JSON on stdout (progress goes to stderr).
 * </ol>
 *
 * Rates count bids, the only events the queries read (92 % of {@code --events}).
 */
@Command(
    name = "braid bench nexmark",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Runs Nexmark-style queries (q5, q7, q15, q16, q17) over the same generated auction events on "
        + "Braid and its peers, each engine in a JVM of its own; checks that every engine's answers agree with a naive "
        + "reference and with each other, then prints one table of bids/s, bids per CPU-second and peak RSS.")
public final class NexmarkBenchmark implements Callable<Integer> {

  static final String DEFAULT_CHILD_OPTS = "-Xmx4g";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Option(names = "--events", paramLabel = "N", defaultValue = "10000000",
      description = "Generated events, of which 92 %% are bids (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--query", paramLabel = "Q", split = ",", defaultValue = "q17",
      description = "Queries to run, from: q5, q7, q15, q16, q17 (default: ${DEFAULT-VALUE}).")
  List<String> queryNames;

  @Option(names = "--engines", paramLabel = "ENGINE", split = ",",
      description = "Engines to run (default: every engine built in this version).")
  List<String> engineNames;

  @Option(names = "--modes", paramLabel = "MODE", split = ",",
      description = "Only these modes of each engine (e.g. speed,batch; default: all of them).")
  Set<String> modes;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3",
      description = "Measured runs per engine and mode (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
      description = "Unmeasured warm-up runs before them, for every engine (default: ${DEFAULT-VALUE}: after one, "
          + "Braid's runs still got faster run by run as the JIT and the heap settled).")
  int warmup;

  @Option(names = "--parallelism", paramLabel = "N", defaultValue = "2",
      description = "Threads, partitions or task slots of every engine (default: ${DEFAULT-VALUE}).")
  int parallelism;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
      description = "Generator seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--event-rate", paramLabel = "N", defaultValue = "" + NexmarkConfig.DEFAULT_EVENTS_PER_SECOND,
      description = "Events per second of event time (default: ${DEFAULT-VALUE}, so 10 M events span 4.6 days).")
  long eventRate;

  @Option(names = "--http-max-events", paramLabel = "N", defaultValue = "2000000",
      description = "Braid's http mode runs only up to this many events (default: ${DEFAULT-VALUE}).")
  long httpMaxEvents;

  @Option(names = "--child-java-opts", paramLabel = "OPTS", defaultValue = DEFAULT_CHILD_OPTS,
      description = "JVM options of every engine's JVM, added to this JVM's (default: ${DEFAULT-VALUE}).")
  String childJavaOpts;

  @Option(names = "--child-timeout", paramLabel = "MINUTES", defaultValue = "60",
      description = "Kill an engine's JVM that has not finished after this many minutes (default: ${DEFAULT-VALUE}).")
  long childTimeoutMinutes;

  @Option(names = "--fork", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Run each engine in a JVM of its own (default: ${DEFAULT-VALUE}; --no-fork runs them in this "
          + "JVM, for tests: no peak RSS then).")
  boolean fork;

  @Option(names = "--json", description = "Print the results as JSON on stdout (progress on stderr).")
  boolean json;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary working directory (default: java.io.tmpdir).")
  Path dir;

  @Option(names = "--child", hidden = true)
  String child;

  @Option(names = "--mode", hidden = true)
  String childMode;

  @Option(names = "--work", hidden = true)
  Path work;

  private PrintStream out = System.out;
  private PrintStream progress = System.out;
  private List<NexmarkQuery> queries;
  private List<String> engines;
  private final List<String> notes = new ArrayList<>();

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the benchmark with {@code args} as the command line; returns the exit code. */
  public static int execute(String... args) {
    return new CommandLine(new NexmarkBenchmark()).execute(args);
  }

  // ---------------------------------------------------------------------------------------------
  // Options
  // ---------------------------------------------------------------------------------------------

  private void validate() {
    CommandLine cl = new CommandLine(this);
    List<String> bad = new ArrayList<>();
    if (events < 1) {
      bad.add("--events must be at least 1, was " + events);
    }
    if (runs < 1 || warmup < 0 || parallelism < 1 || eventRate < 1 || httpMaxEvents < 0 || childTimeoutMinutes < 1) {
      bad.add("--runs, --parallelism, --event-rate and --child-timeout must be at least 1, --warmup and "
          + "--http-max-events at least 0");
    }
    queries = new ArrayList<>();
    for (String q : queryNames) {
      try {
        NexmarkQuery query = NexmarkQuery.parse(q);
        if (!queries.contains(query)) {
          queries.add(query);
        }
      } catch (IllegalArgumentException e) {
        bad.add(e.getMessage());
      }
    }
    engines = new ArrayList<>();
    List<String> asked = engineNames == null ? NexmarkEngines.names() : engineNames;
    for (String e : new LinkedHashSet<>(asked)) {
      if (e.equals(NaiveNexmark.NAME)) {
        continue; // the reference always runs
      }
      String problem = NexmarkEngines.problem(e);
      if (problem == null) {
        engines.add(e);
      } else {
        bad.add(problem);
      }
    }
    if (modes != null) {
      Set<String> known = new LinkedHashSet<>();
      for (String e : engines) {
        known.addAll(NexmarkEngines.create(e).modes());
      }
      for (String m : modes) {
        if (!known.contains(m)) {
          bad.add("unknown mode '" + m + "' for engines " + engines + "; valid: " + String.join(", ", known));
        }
      }
    }
    if (child != null && (childMode == null || work == null)) {
      bad.add("--child needs --mode and --work");
    }
    if (!bad.isEmpty()) {
      throw new CommandLine.ParameterException(cl, String.join("; ", bad));
    }
  }

  NexmarkConfig config() {
    return NexmarkConfig.defaults(seed).withEventsPerSecond(eventRate);
  }

  // ---------------------------------------------------------------------------------------------
  // The parent
  // ---------------------------------------------------------------------------------------------

  @Override
  public Integer call() throws Exception {
    if (child != null) {
      progress = System.err;
      validate();
      runChild(child, childMode, queries.get(0), work, true);
      return 0;
    }
    if (json) {
      progress = System.err;
    }
    validate();
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-nexmark-");
    try {
      printHeader(root);
      List<Outcome> outcomes = new ArrayList<>();
      List<String> differences = new ArrayList<>();
      boolean failed = false;
      for (NexmarkQuery q : queries) {
        progress.printf(Locale.ROOT, "%n%s: %s%n", q.name(), q.description());
        Outcome reference = runOne(NaiveNexmark.NAME, "reference", q, root);
        if (reference.failure != null) {
          throw new IllegalStateException("the naive reference failed: " + reference.failure);
        }
        List<Outcome> ran = new ArrayList<>();
        for (String e : engines) {
          NexmarkEngine engine = NexmarkEngines.create(e);
          for (String m : engine.modes()) {
            if (modes != null && !modes.contains(m)) {
              continue;
            }
            if (e.equals(BraidNexmark.NAME) && m.equals("http") && events > httpMaxEvents) {
              notes.add(String.format(Locale.ROOT, "braid http skipped for %s: --events %,d is above "
                  + "--http-max-events %,d", q, events, httpMaxEvents));
              continue;
            }
            Outcome o = runOne(e, m, q, root);
            failed |= o.failure != null;
            if (o.failure == null) {
              ran.add(o);
            }
            outcomes.add(o);
          }
        }
        compare(reference, ran, differences);
      }
      if (!differences.isEmpty()) { // first: what differs matters more than any speed figure
        PrintStream p = json ? System.err : out;
        p.printf(Locale.ROOT, "%nENGINES DISAGREE: an engine whose answers differ gets no ratio or goal verdict "
            + "below; its speed is shown, marked not comparable.%n");
        differences.stream().limit(40).forEach(d -> p.println("  " + d));
        p.flush();
      }
      if (json) {
        printJson(outcomes, differences);
      } else {
        printTable(outcomes, differences.isEmpty());
      }
      if (!differences.isEmpty()) {
        return 2;
      }
      return failed ? 1 : 0;
    } finally {
      LogBenchmark.deleteRecursively(root);
    }
  }

  /** What one (engine, mode, query) child did. */
  static final class Outcome {
    String engine;
    String mode;
    NexmarkQuery query;
    ChildReport report;
    Path result;
    String failure;
    boolean agrees = true;
  }

  /**
   * The report a child JVM writes ({@code report.json}).
   *
   * @param peakRssBytes the child's peak resident set (VmHWM), or -1 when it ran in the parent's JVM
   */
  public record ChildReport(String engine, String mode, String query, long events, long bids, double distinctRse,
      List<NexmarkEngine.Measurement> runs, long peakRssBytes, Map<String, Double> extras, long rows) {}

  private Outcome runOne(String engine, String mode, NexmarkQuery q, Path root) {
    Outcome o = new Outcome();
    o.engine = engine;
    o.mode = mode;
    o.query = q;
    Path workDir = root.resolve(engine + "-" + mode + "-" + q.cliName());
    try {
      Files.createDirectories(workDir);
      if (fork) {
        forkChild(engine, mode, q, workDir);
      } else {
        runChild(engine, mode, q, workDir, false);
      }
      o.report = JSON.readValue(workDir.resolve("report.json").toFile(), ChildReport.class);
      o.result = root.resolve(engine + "-" + mode + "-" + q.cliName() + ".ndjson");
      Files.move(workDir.resolve("result.ndjson"), o.result);
    } catch (Exception | OutOfMemoryError e) {
      o.failure = e.toString();
      progress.printf(Locale.ROOT, "  %s %s FAILED: %s%n", engine, mode, e);
    } finally {
      LogBenchmark.deleteRecursively(workDir);
    }
    return o;
  }

  private void forkChild(String engine, String mode, NexmarkQuery q, Path workDir)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    // an engine thread that runs out of heap must end the JVM, not leave it waiting for that thread
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    cmd.addAll(ViewsBenchmark.childJvmOptions(childJavaOpts));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(NexmarkBenchmark.class.getName());
    cmd.addAll(List.of("--child", engine, "--mode", mode, "--work", workDir.toString(), "--query", q.cliName(),
        "--engines", engine, "--events", Long.toString(events), "--seed", Long.toString(seed), "--event-rate",
        Long.toString(eventRate), "--runs", Integer.toString(runs), "--warmup", Integer.toString(warmup),
        "--parallelism", Integer.toString(parallelism)));
    dev.braid.bench.ChildJvm child = dev.braid.bench.ChildJvm.start(cmd);
    Process p = child.process();
    Thread stop = new Thread(p::destroy, "braid-bench-nexmark-stop");
    Runtime.getRuntime().addShutdownHook(stop);
    if (!p.waitFor(childTimeoutMinutes, java.util.concurrent.TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor();
      child.awaitOutput();
      Runtime.getRuntime().removeShutdownHook(stop);
      throw new IllegalStateException(engine + " " + mode + "'s JVM did not finish within " + childTimeoutMinutes
          + " minutes (--child-timeout) and was killed");
    }
    int code = p.exitValue();
    child.awaitOutput();
    Runtime.getRuntime().removeShutdownHook(stop);
    if (code != 0) {
      throw new IllegalStateException(engine + " " + mode + "'s JVM exited with code " + code);
    }
  }

  /** The child's work: run the engine, write {@code report.json} and {@code result.ndjson} into {@code workDir}. */
  private void runChild(String engine, String mode, NexmarkQuery q, Path workDir, boolean ownJvm) throws Exception {
    NexmarkEngine e = NexmarkEngines.create(engine);
    if (!e.modes().contains(mode)) {
      throw new IllegalArgumentException("engine '" + engine + "' has no mode '" + mode + "'; it has " + e.modes());
    }
    NexmarkEngine.Task task = new NexmarkEngine.Task(q, events, config(), mode, warmup, runs, parallelism, workDir,
        line -> {
          progress.println("  " + line);
          progress.flush();
        });
    NexmarkEngine.Report report;
    long rows;
    try (NexmarkResult.FileWriter result = new NexmarkResult.FileWriter(workDir.resolve("result.ndjson"), q, engine,
        e.distinctRse(mode))) {
      report = e.run(task, result);
      rows = result.rows();
    }
    long rss = ownJvm ? peakRssBytes() : -1;
    ChildReport r = new ChildReport(engine, mode, q.name(), events, task.bids(), e.distinctRse(mode), report.runs(),
        rss, report.extras(), rows);
    JSON.writeValue(workDir.resolve("report.json").toFile(), r);
  }

  /** This process's peak resident set size (VmHWM of /proc/self/status), or -1 where there is none. */
  static long peakRssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: no figure
    }
    return -1;
  }

  /** Compares every engine with the reference and with every other; adds what differs to {@code differences}. */
  private void compare(Outcome reference, List<Outcome> ran, List<String> differences) throws IOException {
    for (Outcome o : ran) {
      NexmarkResult.Comparison c = NexmarkResult.compareFiles(reference.result, o.result, label(o), 20);
      o.agrees = c.agree();
      progress.printf(Locale.ROOT, "  %s: %,d rows, %s the naive reference%n", label(o), o.report.rows(),
          c.agree() ? "agree with" : c.differences() + " rows DIFFER from");
      differences.addAll(c.examples());
    }
    for (int i = 0; i < ran.size(); i++) {
      for (int j = i + 1; j < ran.size(); j++) {
        NexmarkResult.Comparison c = NexmarkResult.compareFiles(ran.get(i).result, ran.get(j).result,
            label(ran.get(j)) + " (against " + label(ran.get(i)) + ")", 5);
        if (!c.agree()) {
          // two engines that both agree with the reference and not with each other (within the bounds of a
          // sketch) are both suspect; one that disagrees with the reference is already marked, not its peer
          if (ran.get(i).agrees && ran.get(j).agrees) {
            ran.get(i).agrees = false;
            ran.get(j).agrees = false;
          }
          differences.addAll(c.examples());
        }
      }
    }
  }

  private static String label(Outcome o) {
    return o.engine + " " + o.mode + " " + o.query.cliName();
  }

  // ---------------------------------------------------------------------------------------------
  // Output
  // ---------------------------------------------------------------------------------------------

  private void printHeader(Path root) {
    progress.printf(Locale.ROOT, "Braid Nexmark benchmark: %,d events (%,d bids), seed %d, %d events per second of "
            + "event time%n", events, NexmarkGenerator.bidCount(events), seed, eventRate);
    progress.printf(Locale.ROOT, "  machine: %d CPUs, Java %s (%s), load average %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        System.getProperty("java.vm.name"), ViewsBenchmark.loadAverage());
    progress.printf(Locale.ROOT, "  queries %s; engines %s; %d warm-up + %d measured run(s); parallelism %d; "
            + "each engine %s; work dir %s%n", queries, engines, warmup, runs, parallelism,
        fork ? "in its own JVM (" + String.join(" ", ViewsBenchmark.childJvmOptions(childJavaOpts)) + ")"
            : "in this JVM", root);
    for (String n : notes) {
      progress.println("  " + n);
    }
    progress.flush();
  }

  /**
   * Bids per second of each measured run, by wall clock or by CPU time. A span shorter than the CPU
   * clock's tick can read 0 ns of CPU: such runs have no CPU rate and are left out.
   */
  /** Bids per second of each measured run, by wall clock or per CPU-second (runs too short to time their CPU left out). */
  private static double[] rates(Outcome o, boolean cpu) {
    long bids = o.report.bids();
    return o.report.runs().stream()
        .mapToDouble(m -> cpu ? m.bidsPerCpuSecond(bids) : m.elapsedNanos() > 0 ? bids / (m.elapsedNanos() / 1e9) : Double.NaN)
        .filter(r -> !Double.isNaN(r)).toArray();
  }

  /**
   * Braid's per-CPU-second rate in {@code mode} over the peer's, or NaN when either did not run or
   * their answers differ (speeds of different answers are not compared).
   */
  private static double ratio(List<Outcome> all, Outcome peer, String braidMode, boolean cpu) {
    Outcome o = braid(all, peer.query, braidMode);
    return o == null || !o.agrees || !peer.agrees ? Double.NaN
        : ViewsBenchmark.median(rates(o, cpu)) / ViewsBenchmark.median(rates(peer, cpu));
  }

  /** Braid's outcome of {@code query} in {@code mode}, or null when it did not run. */
  private static Outcome braid(List<Outcome> all, NexmarkQuery query, String mode) {
    for (Outcome o : all) {
      if (o.engine.equals(BraidNexmark.NAME) && o.mode.equals(mode) && o.query == query && o.report != null) {
        return o;
      }
    }
    return null;
  }

  /** Whether {@code peer} and Braid in {@code braidMode} both ran and one of them answered differently. */
  private static boolean notComparable(List<Outcome> all, Outcome peer, String braidMode) {
    Outcome b = braid(all, peer.query, braidMode);
    return b != null && (!b.agrees || !peer.agrees);
  }

  private void printTable(List<Outcome> outcomes, boolean agreed) {
    List<String[]> rows = new ArrayList<>();
    for (Outcome o : outcomes) {
      if (o.report == null) {
        rows.add(new String[] {o.query.cliName(), o.engine, o.mode, "FAILED", "-", "-", o.failure});
        continue;
      }
      double[] wall = rates(o, false);
      double[] cpu = rates(o, true);
      double[] sorted = wall.clone();
      Arrays.sort(sorted);
      double[] cpuSorted = cpu.clone();
      Arrays.sort(cpuSorted);
      StringBuilder vs = new StringBuilder(o.agrees ? "" : "not comparable: its answers differ");
      if (o.agrees && !o.engine.equals(BraidNexmark.NAME)) {
        for (String m : new BraidNexmark().modes()) {
          double r = ratio(outcomes, o, m, true);
          double byWall = ratio(outcomes, o, m, false);
          if (notComparable(outcomes, o, m)) {
            vs.append(vs.length() == 0 ? "" : ", ").append(m).append(" not comparable (braid's answers differ)");
          } else if (!Double.isNaN(r)) {
            vs.append(vs.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %.2fx", m, r));
          } else if (!Double.isNaN(byWall)) {
            vs.append(vs.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %.2fx by wall", m, byWall));
          }
        }
      }
      rows.add(new String[] {o.query.cliName(), o.engine, o.mode,
          String.format(Locale.ROOT, "%.2f M/s (%.2f-%.2f)", ViewsBenchmark.median(wall) / 1e6, sorted[0] / 1e6,
              sorted[sorted.length - 1] / 1e6),
          cpu.length == 0 ? "-" : String.format(Locale.ROOT, "%.2f M/CPU-s (%.2f-%.2f)", ViewsBenchmark.median(cpu) / 1e6,
              cpuSorted[0] / 1e6, cpuSorted[cpuSorted.length - 1] / 1e6),
          o.report.peakRssBytes() < 0 ? "-" : String.format(Locale.ROOT, "%.0f MiB", o.report.peakRssBytes() / 1048576.0),
          vs.length() == 0 ? "-" : vs.toString()});
    }
    out.printf(Locale.ROOT, "%nResults (bids per second: median of %d runs, range in brackets; load average now %s; "
        + "answers %s):%n", runs, ViewsBenchmark.loadAverage(), agreed ? "agree with the naive reference and each "
        + "other" : "DISAGREE");
    String[] head = {"query", "engine", "mode", "bids/s", "per CPU-second", "peak RSS", "Braid per CPU-s vs this"};
    int[] w = new int[head.length];
    for (int i = 0; i < head.length; i++) {
      w[i] = head[i].length();
      for (String[] row : rows) {
        w[i] = Math.max(w[i], row[i].length());
      }
    }
    StringBuilder fmt = new StringBuilder();
    for (int i = 0; i < head.length - 1; i++) {
      fmt.append("%-").append(w[i]).append("s  ");
    }
    fmt.append("%s%n");
    out.printf(Locale.ROOT, fmt.toString(), (Object[]) head);
    for (String[] row : rows) {
      out.printf(Locale.ROOT, fmt.toString(), (Object[]) row);
    }
    if (rows.stream().anyMatch(r -> r[4].equals("-") && !r[3].equals("FAILED"))) {
      out.printf(Locale.ROOT, "  per CPU-second is '-' where the runs used under %.1f s of CPU each: the process CPU "
          + "clock counts in 10 ms steps%n", NexmarkEngine.Measurement.MIN_CPU_NANOS / 1e9);
    }
    for (String goal : goals(outcomes)) {
      out.println("  goal: " + goal);
    }
    for (String line : untilIdle(outcomes)) {
      out.println("  " + line);
    }
    if (outcomes.stream().anyMatch(o -> o.query == NexmarkQuery.Q15 || o.query == NexmarkQuery.Q16)) {
      out.println("  distinct counts (Q15, Q16): braid and flink estimate them with an HLL sketch (lgK 12, about "
          + "1.6 % error); duckdb (count(DISTINCT)) and kstreams (a store entry per id and day) count them exactly, "
          + "which costs them more: their ratios compare different algorithms");
    }
    if (outcomes.stream().anyMatch(o -> o.engine.equals(FlinkNexmark.NAME) && o.mode.equals("streaming"))) {
      out.println("  flink streaming generates its bids inside its span (a source function); the other engines read "
          + "bids made before theirs");
    }
    if (outcomes.stream().anyMatch(o -> o.engine.equals(KafkaStreamsNexmark.NAME))) {
      out.println("  kstreams writes its stores' changelog topics (its default, how it recovers) inside its span; "
          + "braid takes no checkpoint and flink none inside theirs");
    }
    for (Outcome o : outcomes) {
      if (o.report != null && !o.report.extras().isEmpty()) {
        out.printf(Locale.ROOT, "  %s: %s%n", label(o), o.report.extras());
      }
    }
    for (String n : notes) {
      out.println("  " + n);
    }
    out.flush();
  }

  /**
   * Braid's rates over the span continued until its process was idle (the changes feed's pass that
   * emits the windows, closed windows moved out of memory), and their ratio to each peer of the same
   * query: what Braid's rate is when it emits its results as a streaming peer does.
   */
  static List<String> untilIdle(List<Outcome> outcomes) {
    List<String> lines = new ArrayList<>();
    for (Outcome o : outcomes) {
      Double cpuMillis = o.report == null || !o.engine.equals(BraidNexmark.NAME) ? null
          : o.report.extras().get(BraidNexmark.UNTIL_IDLE_CPU_MILLIS);
      if (cpuMillis == null || cpuMillis <= 0) {
        continue;
      }
      double rate = o.report.bids() / (cpuMillis / 1e3);
      StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s: braid %s until its process is idle "
          + "(windows emitted by the changes feed, closed windows moved out of memory): %.2f M/CPU-s",
          o.query.cliName(), o.mode, rate / 1e6));
      for (Outcome peer : outcomes) {
        if (peer.report != null && peer.query == o.query && !peer.engine.equals(BraidNexmark.NAME) && peer.agrees
            && o.agrees) {
          double peerRate = ViewsBenchmark.median(rates(peer, true));
          if (peerRate > 0) {
            line.append(String.format(Locale.ROOT, "; %.2fx %s %s", rate / peerRate, peer.engine, peer.mode));
          }
        }
      }
      lines.add(line.toString());
    }
    return lines;
  }

  /**
   * The goals of issue 9 that this run measured: Braid's batch layer at least DuckDB's rate on Q17,
   * its speed layer at least 10x Flink's streaming mode ({@code stream}) and 30x Kafka Streams' (either
   * exactly-once setting) on Q15-Q17, each per CPU-second and by wall clock.
   */
  static List<String> goals(List<Outcome> outcomes) {
    record Goal(String peer, String peerMode, String braidMode, double factor, Set<NexmarkQuery> queries) {}
    Set<NexmarkQuery> q15to17 = Set.of(NexmarkQuery.Q15, NexmarkQuery.Q16, NexmarkQuery.Q17);
    List<Goal> goals = List.of(new Goal(DuckDbNexmark.NAME, "batch", "batch", 1, Set.of(NexmarkQuery.Q17)),
        new Goal(FlinkNexmark.NAME, "streaming", "speed", 10, q15to17),
        new Goal(KafkaStreamsNexmark.NAME, null, "speed", 30, q15to17));
    List<String> lines = new ArrayList<>();
    for (Outcome o : outcomes) {
      for (Goal g : goals) {
        if (o.report == null || !o.engine.equals(g.peer()) || g.peerMode() != null && !o.mode.equals(g.peerMode())
            || !g.queries().contains(o.query)) {
          continue;
        }
        if (notComparable(outcomes, o, g.braidMode())) {
          lines.add(String.format(Locale.ROOT, "%s: braid %s >= %.0fx %s %s: not judged, the answers differ",
              o.query.cliName(), g.braidMode(), g.factor(), o.engine, o.mode));
          continue;
        }
        double cpu = ratio(outcomes, o, g.braidMode(), true);
        double wall = ratio(outcomes, o, g.braidMode(), false);
        if (Double.isNaN(cpu) && Double.isNaN(wall)) {
          continue;
        }
        String perCpu = Double.isNaN(cpu) ? "per CPU-second not measured (a run used under 0.5 s of CPU)"
            : String.format(Locale.ROOT, "%.2fx per CPU-second (%s)", cpu, cpu >= g.factor() ? "meets" : "misses");
        lines.add(String.format(Locale.ROOT, "%s: braid %s >= %.0fx %s %s: %s, %.2fx by wall clock (%s)",
            o.query.cliName(), g.braidMode(), g.factor(), o.engine, o.mode, perCpu, wall,
            wall >= g.factor() ? "meets" : "misses"));
      }
    }
    return lines;
  }

  private void printJson(List<Outcome> outcomes, List<String> differences) throws IOException {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("events", events);
    doc.put("bids", NexmarkGenerator.bidCount(events));
    doc.put("seed", seed);
    doc.put("eventRate", eventRate);
    doc.put("parallelism", parallelism);
    doc.put("cpus", Runtime.getRuntime().availableProcessors());
    doc.put("java", System.getProperty("java.version"));
    doc.put("loadAverage", ViewsBenchmark.loadAverage());
    List<Map<String, Object>> results = new ArrayList<>();
    for (Outcome o : outcomes) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("query", o.query.cliName());
      r.put("engine", o.engine);
      r.put("mode", o.mode);
      if (o.report == null) {
        r.put("failure", o.failure);
      } else {
        r.put("bidsPerSecond", ViewsBenchmark.median(rates(o, false)));
        double perCpu = ViewsBenchmark.median(rates(o, true));
        if (!Double.isNaN(perCpu)) {
          r.put("bidsPerCpuSecond", perCpu);
        }
        r.put("runs", o.report.runs());
        r.put("peakRssBytes", o.report.peakRssBytes());
        r.put("rows", o.report.rows());
        r.put("agrees", o.agrees);
        r.put("extras", o.report.extras());
        if (!o.engine.equals(BraidNexmark.NAME)) {
          Map<String, Double> vs = new LinkedHashMap<>();
          for (String m : new BraidNexmark().modes()) {
            double x = ratio(outcomes, o, m, true);
            if (!Double.isNaN(x)) {
              vs.put(m, x);
            }
          }
          r.put("braidPerCpuSecondRatio", vs);
        }
      }
      results.add(r);
    }
    doc.put("results", results);
    doc.put("goals", goals(outcomes));
    doc.put("differences", differences);
    doc.put("notes", notes);
    out.println(JSON.writeValueAsString(doc));
    out.flush();
  }
}
