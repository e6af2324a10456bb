package dev.braid.server.cli;

import dev.braid.server.cli.BraidCli.CommandFailedException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code braid bench SUITE [ARGS...]}: runs a benchmark suite of the {@code braid-bench} module in a
 * child JVM, passing the arguments through and sharing this process's stdin, stdout and stderr.
 *
 * <p>Why a child JVM: benchmarks measure Braid side by side with peers (Kafka, Flink, DuckDB),
 * whose jars must never be on Braid's own class path. So {@code braid-server} does not depend on
 * {@code braid-bench}; instead the {@code braid-bench} build writes its runtime class path to
 * {@code braid-bench/target/classpath.txt} (entries relative to {@code target/}, dependencies
 * copied to {@code target/lib}) and this command starts {@code java -cp <bench jar>:<that class path>}.
 *
 * <p>The bench build directory is found next to this module's own: if this class was loaded from
 * {@code ROOT/braid-server/T/...}, it is {@code ROOT/braid-bench/T}. The system property
 * {@code braid.bench.dir} overrides it. JVM options for the child come from the environment
 * variable {@code BRAID_BENCH_JAVA_OPTS} (default {@value #DEFAULT_JAVA_OPTS}).
 */
@Command(
    name = "bench",
    header = "Run a benchmark suite (log, jmh, http, views, replay, restart, ingest, eventtime, tables, nexmark) in a separate JVM and print its results.",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Runs a benchmark suite in a separate JVM on the braid-bench class path and prints its "
        + "results. Arguments after the suite go to the benchmark: 'braid bench log --help' lists them.",
    subcommands = {BenchCommand.LogSuite.class, BenchCommand.JmhSuite.class, BenchCommand.HttpSuite.class,
        BenchCommand.ViewsSuite.class, BenchCommand.ReplaySuite.class, BenchCommand.RestartSuite.class,
        BenchCommand.IngestSuite.class, BenchCommand.EventTimeSuite.class, BenchCommand.TablesSuite.class,
        BenchCommand.NexmarkSuite.class})
final class BenchCommand implements Callable<Integer> {

  static final String DEFAULT_JAVA_OPTS = "-Xms1g -Xmx1g";
  static final String CLASSPATH_FILE = "classpath.txt";

  @Spec
  CommandSpec spec;

  /** Lets the suites take any argument (they pass them on) instead of rejecting unknown options. */
  static void configure(CommandLine bench) {
    for (CommandLine suite : bench.getSubcommands().values()) {
      suite.setUnmatchedOptionsArePositionalParams(true);
    }
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing suite: pick one of "
        + String.join(", ", spec.subcommands().keySet()));
  }

  @Command(
      name = "log",
      header = "Benchmark the embedded log: append per durability mode, group commit, scan.",
      description = "The embedded log: append of 100-byte records under each durability mode (one writer), "
          + "fsync with 8 concurrent appenders (group commit, ack latency), and a full scan by one reader.")
  static final class LogSuite extends Suite {
    LogSuite() {
      super("dev.braid.bench.LogBenchmark");
    }
  }

  @Command(
      name = "http",
      header = "Benchmark the server over HTTP on loopback: point reads, read latency, ingest, freshness.",
      description = "Starts the real server on a loopback port with a temporary data directory (a Base from a batch "
          + "cycle plus a Delta) and measures peak point reads/s (closed loop), read latency at 70 % of the peak "
          + "(open loop, from each request's due time), NDJSON ingest events/s and freshness; "
          + "'braid bench http --help' lists the options.")
  static final class HttpSuite extends Suite {
    HttpSuite() {
      super("dev.braid.bench.HttpBenchmark");
    }
  }

  @Command(
      name = "views",
      header = "Benchmark views: speed layer vs Flink, batch layer vs DuckDB, merged reads, Delta memory.",
      description = "A count+sum-by-key view over the same generated events (10 M over 1 M keys by default): "
          + "Braid's speed layer against a Flink keyed reduce, its batch layer against a DuckDB GROUP BY, merged "
          + "point read latency and the Delta's bytes per key; each engine in a JVM of its own.")
  static final class ViewsSuite extends Suite {
    ViewsSuite() {
      super("dev.braid.bench.ViewsBenchmark");
    }
  }

  @Command(
      name = "replay",
      header = "Benchmark a Kappa reprocess: replay events/s into a new version under live ingest, freshness.",
      description = "A count+sum-by-key kappa view over 10 M events (1 M keys by default) is redefined with reprocess "
          + "while live ingest continues (100 k events/s by default): replay events/s and per CPU-second, the live "
          + "ingest rate and freshness during the replay, and the new version's answers against a naive "
          + "recomputation; 'braid bench replay --help' lists the options.")
  static final class ReplaySuite extends Suite {
    ReplaySuite() {
      super("dev.braid.bench.ReplayBenchmark");
    }
  }

  @Command(
      name = "restart",
      header = "Benchmark a restart: time to serving from a checkpoint plus log replay; checkpoint overhead.",
      description = "10 M events (1 M keys) in the log and a checkpoint 1 M events old by default: time until a "
          + "restarted engine serves, the replay rate after the checkpoint, the cost of checkpoints to the speed "
          + "layer, and answers against a naive recomputation; 'braid bench restart --help' lists the options.")
  static final class RestartSuite extends Suite {
    RestartSuite() {
      super("dev.braid.bench.RestartBenchmark");
    }
  }

  @Command(
      name = "tables",
      header = "Benchmark hybrid-store tables: bulk push rows/s, in-process read p99, write freshness, restart.",
      description = "A push of 10 M JSON lines of ~200 bytes (rows/s to current), in-process read latency "
          + "(HdrHistogram), real-time PATCH to visible in a read, and the restart's replay of the real-time writes, "
          + "with sample answers against a naive model; 'braid bench tables --help' lists the options.")
  static final class TablesSuite extends Suite {
    TablesSuite() {
      super("dev.braid.bench.TablesBenchmark");
    }
  }

  @Command(
      name = "ingest",
      header = "Benchmark idempotent ingest: events/s without ids, with an idempotency key, with an id field.",
      description = "NDJSON ingest through the Ingestor on a FileLog (os durability, one thread) without ids, with an "
          + "Idempotency-Key per request and with an id field, and the time and memory to rebuild the dedup index "
          + "from 5 M ids; 'braid bench ingest --help' lists the options.")
  static final class IngestSuite extends Suite {
    IngestSuite() {
      super("dev.braid.bench.IngestBenchmark");
    }
  }

  @Command(
      name = "eventtime",
      header = "Benchmark the speed layer on event time: tumbling 1-minute count+sum with out-of-order events.",
      description = "10 M events over 10 k keys, 10 % of them up to 30 s out of order (the stream's "
          + "max_out_of_order), into a tumbling 1-minute count+sum-by-key view with allowed_lateness: speed-layer "
          + "events per CPU-second against the same view without a window, the Delta's state, late events and "
          + "the watermark, and sample keys against a naive loop; then the same events flowing into a running engine, "
          + "printing the Delta's memory against the open windows and its closed-window runs; 'braid bench eventtime "
          + "--help' lists the options.")
  static final class EventTimeSuite extends Suite {
    EventTimeSuite() {
      super("dev.braid.bench.EventTimeBenchmark");
    }
  }

  @Command(
      name = "nexmark",
      header = "Benchmark Nexmark-style auction queries (q5, q7, q15, q16, q17) on Braid and its peers, answers checked.",
      description = "The Nexmark auction model (10 M events by default, generated from a seed in every engine's JVM): "
          + "Braid's speed layer, batch layer and HTTP ingest against DuckDB (and the other peers built in this version) "
          + "on the same queries, each engine in a JVM of its own; every result is checked against a naive reference "
          + "before bids/s, bids per CPU-second and peak RSS are printed; 'braid bench nexmark --help' lists the options.")
  static final class NexmarkSuite extends Suite {
    NexmarkSuite() {
      super("dev.braid.bench.nexmark.NexmarkBenchmark");
    }
  }

  @Command(
      name = "jmh",
      header = "JMH micro-benchmarks of braid-bench (e.g. LogJmh); JMH options pass through.",
      description = "Runs JMH (org.openjdk.jmh.Main) on the braid-bench class path: 'braid bench jmh LogJmh' "
          + "runs the log's append and scan micro-benchmarks, 'braid bench jmh -h' lists JMH's options.")
  static final class JmhSuite extends Suite {
    JmhSuite() {
      super("org.openjdk.jmh.Main");
    }
  }

  /** A suite: runs {@code mainClass} in a child JVM on the bench class path with the arguments as they are. */
  abstract static class Suite implements Callable<Integer> {
    private final String mainClass;

    @Parameters(paramLabel = "ARGS", arity = "0..*", description = "Passed to the benchmark as they are.")
    List<String> args = new ArrayList<>();

    Suite(String mainClass) {
      this.mainClass = mainClass;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
      return runChildJvm(mainClass, args);
    }
  }

  // -------------------------------------------------------------------------------------------

  static int runChildJvm(String mainClass, List<String> args) throws IOException, InterruptedException {
    Path benchDir = benchBuildDirectory();
    List<String> command = new ArrayList<>();
    command.add(javaExecutable());
    String opts = System.getenv("BRAID_BENCH_JAVA_OPTS");
    for (String o : (opts == null ? DEFAULT_JAVA_OPTS : opts).trim().split("\\s+")) {
      if (!o.isEmpty()) {
        command.add(o);
      }
    }
    command.add("-cp");
    command.add(benchClassPath(benchDir));
    command.add(mainClass);
    command.addAll(args);
    Process child = new ProcessBuilder(command).inheritIO().start();
    Thread stopChild = new Thread(child::destroy, "braid-bench-stop");
    Runtime.getRuntime().addShutdownHook(stopChild);
    try {
      return child.waitFor();
    } finally {
      if (!child.isAlive()) {
        try {
          Runtime.getRuntime().removeShutdownHook(stopChild);
        } catch (IllegalStateException shuttingDown) {
          // the JVM is exiting anyway
        }
      }
    }
  }

  static Path benchBuildDirectory() {
    String override = System.getProperty("braid.bench.dir");
    if (override != null && !override.isBlank()) {
      return Path.of(override).toAbsolutePath();
    }
    Path here;
    try {
      here = Path.of(BenchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException | RuntimeException e) {
      throw new CommandFailedException("cannot tell where braid-server was loaded from (" + e.getMessage()
          + "); set -Dbraid.bench.dir=<braid-bench build directory>", 1);
    }
    // here is ROOT/braid-server/T/braid-server-V.jar or ROOT/braid-server/T/classes
    Path targetDir = here.getParent();
    Path module = targetDir == null ? null : targetDir.getParent();
    Path root = module == null ? null : module.getParent();
    if (root == null || !module.getFileName().toString().equals("braid-server")) {
      throw new CommandFailedException("braid-server was loaded from " + here + ", not from a build directory of"
          + " the Braid source tree; set -Dbraid.bench.dir=<braid-bench build directory>", 1);
    }
    return root.resolve("braid-bench").resolve(targetDir.getFileName());
  }

  /** The bench jar, then the entries of classpath.txt resolved against the bench build directory. */
  static String benchClassPath(Path benchDir) throws IOException {
    Path file = benchDir.resolve(CLASSPATH_FILE);
    if (!Files.isRegularFile(file)) {
      throw new CommandFailedException(String.format(
          "%s is missing: build the benchmarks first (from the repository root: mvn -B -q -DskipTests package;"
              + " ./braid does this for you)", file), 1);
    }
    Path jar = null;
    try (DirectoryStream<Path> jars = Files.newDirectoryStream(benchDir, "braid-bench-*.jar")) {
      for (Path j : jars) {
        String name = j.getFileName().toString();
        if (!name.endsWith("-sources.jar") && !name.endsWith("-tests.jar") && !name.endsWith("-javadoc.jar")) {
          jar = j;
        }
      }
    }
    if (jar == null) {
      throw new CommandFailedException("no braid-bench jar in " + benchDir + ": build the benchmarks first", 1);
    }
    StringBuilder cp = new StringBuilder(jar.toString());
    String listed = Files.readString(file, StandardCharsets.UTF_8).strip();
    if (!listed.isEmpty()) {
      for (String entry : listed.split(java.io.File.pathSeparator)) {
        cp.append(java.io.File.pathSeparatorChar).append(benchDir.resolve(entry.strip()));
      }
    }
    return cp.toString();
  }

  private static String javaExecutable() {
    return ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }
}
