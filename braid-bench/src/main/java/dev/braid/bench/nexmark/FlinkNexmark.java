package dev.braid.bench.nexmark;

import dev.braid.bench.LogBenchmark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.BatchExecutionOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.minicluster.RpcServiceSharing;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;

/**
 * Apache Flink 2.3 as a Nexmark engine: each query a DataStream job written by hand
 * ({@link FlinkNexmarkJob}: a parallel source that generates the bids inside the job, event-time
 * windows, HLL distinct counts), on a local {@link MiniCluster} in this JVM with one task manager of
 * {@code parallelism} slots, run with {@code parallelism}.
 *
 * <p>Why the DataStream API and not the Table API or SQL: it needs no dependency beyond the
 * {@code flink-streaming-java} and {@code flink-clients} that braid-bench already has (the planner
 * would add a Scala-based module and its own class loader), every operator of the job is written
 * out where a reader can see what Flink does per bid, and the same job runs in both modes. The cost:
 * optimisations the SQL planner would apply by itself are not there (window slicing for Q5's hops,
 * two-phase aggregation for Q7's and Q15's key-less windows). Two-phase aggregation written by hand
 * (per shard of 16, keyed, then the shards' partial results in one task) was measured on the 2-vCPU
 * VM on 2026-12-05 and was slower for Flink in both wall time and CPU (Q15 about 5.3 s and 10.3
 * CPU-seconds against 4.3 and 7.6; Q7 4.1 and 7.9 against 3.4 and 6.4; docs/PERFORMANCE.md,
 * "Thirtieth session"): with two cores the source already keeps both busy, and the second shuffle
 * costs more than the one task's aggregation. So the jobs keep one window task for those two.
 *
 * <table>
 *   <caption>Modes</caption>
 *   <tr><th>mode</th><th>what runs</th></tr>
 *   <tr><td>{@code streaming}</td><td>the job in {@code RuntimeExecutionMode.STREAMING} with heap state
 *       (the {@code hashmap} state backend, no checkpoints): watermarks from the bids' event time, windows
 *       fire as the watermark passes them, pipelined shuffles</td></tr>
 *   <tr><td>{@code batch}</td><td>the same job in {@code RuntimeExecutionMode.BATCH}: Flink sorts each
 *       keyed input by key, keeps the state of one key at a time, fires windows at the end of a key, and
 *       shuffles through blocking exchanges</td></tr>
 * </table>
 *
 * <h2>What one measured run spans</h2>
 * From handing the job to the running MiniCluster ({@code executeJobBlocking}) until the job has
 * finished: scheduling and deploying its tasks, generating the bids in the source, every state
 * update, every window firing and the rows written by the sink; CPU is the whole process's over that
 * span. Not measured: starting the MiniCluster (once, before the runs; {@code clusterStartSeconds}
 * in the extras), building the job graph (client side, before submission), and reading the rows back,
 * sorting them and giving them to the harness after the last run. Braid's speed layer is timed from
 * log read to state update with the bids already in its log; Flink's runs generate theirs instead,
 * which costs it a little more than reading would (generating a bid takes about 100 ns here).
 *
 * <h2>Configuration</h2>
 * Flink's defaults for a local cluster, memory included (the task manager's managed and network
 * memory come from its local-execution defaults, outside the heap the harness sets), except:
 * <ul>
 *   <li>{@code state.backend.type: hashmap}, and no restarts: a failing job fails the run;
 *   <li>{@code pipeline.object-reuse: true}: lets Flink hand records between chained operators
 *       without copying, which favours Flink; none of the functions keeps a record it is given;
 *   <li>{@code execution.batch.adaptive.auto-parallelism.enabled: false}: otherwise the batch
 *       scheduler picks each stage's parallelism from its data volume, not {@code parallelism};
 *   <li>the REST endpoint on a free loopback port and Flink's temporary files (batch sort spills) in
 *       the run's work directory, so that several runs on one machine do not collide.
 * </ul>
 *
 * The rows are read back from the sink's files, sorted by (channel, auction, window start) — which is
 * {@link NexmarkQuery}'s key order — and given to the harness with their keys built by
 * {@link NexmarkQuery}'s key functions.
 */
final class FlinkNexmark implements NexmarkEngine {

  static final String NAME = "flink";

  @Override
  public List<String> modes() {
    return List.of("streaming", "batch");
  }

  @Override
  public double distinctRse(String mode) {
    return FlinkNexmarkJob.DISTINCT_RSE;
  }

  @Override
  public Report run(Task task, NexmarkResult.RowSink result) throws Exception {
    RuntimeExecutionMode mode = switch (task.mode()) {
      case "streaming" -> RuntimeExecutionMode.STREAMING;
      case "batch" -> RuntimeExecutionMode.BATCH;
      default -> throw new IllegalArgumentException("flink has no mode '" + task.mode() + "'; it has " + modes());
    };
    Path rows = task.workDir().resolve("flink-rows");
    Configuration conf = configuration(task, mode);
    List<Measurement> runs = new ArrayList<>();
    long c0 = System.nanoTime();
    try (MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder().setConfiguration(conf)
        .setNumTaskManagers(1).setNumSlotsPerTaskManager(task.parallelism())
        .setRpcServiceSharing(RpcServiceSharing.SHARED).build())) {
      cluster.start();
      double clusterStartSeconds = (System.nanoTime() - c0) / 1e9;
      for (int r = 0; r < task.warmup() + task.runs(); r++) {
        LogBenchmark.deleteRecursively(rows);
        Files.createDirectories(rows);
        JobGraph job = jobGraph(task, conf, rows, r);
        long cpu0 = NexmarkEngine.processCpuNanos();
        long t0 = System.nanoTime();
        JobExecutionResult done = cluster.executeJobBlocking(job);
        long nanos = System.nanoTime() - t0;
        long cpu = NexmarkEngine.processCpuNanos() - cpu0;
        task.progress().accept(String.format(Locale.ROOT, "flink %s %s: %,d bids, submission to finish %.0f ms "
                + "(Flink's net runtime %d ms), %.0f ms of CPU", task.mode(),
            r < task.warmup() ? "warm-up " + (r + 1) : "run " + (r - task.warmup() + 1), task.bids(), nanos / 1e6,
            done.getNetRuntime(TimeUnit.MILLISECONDS), cpu / 1e6));
        if (r >= task.warmup()) {
          runs.add(new Measurement(nanos, cpu));
        }
      }
      emit(task, rows, result);
      return new Report(runs, Map.of("clusterStartSeconds", clusterStartSeconds));
    }
  }

  static Configuration configuration(Task task, RuntimeExecutionMode mode) {
    Configuration conf = new Configuration();
    conf.set(ExecutionOptions.RUNTIME_MODE, mode);
    conf.set(CoreOptions.DEFAULT_PARALLELISM, task.parallelism());
    conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
    conf.set(PipelineOptions.OBJECT_REUSE, true);
    conf.set(BatchExecutionOptions.ADAPTIVE_AUTO_PARALLELISM_ENABLED, false);
    conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
    conf.set(RestOptions.ADDRESS, "127.0.0.1");
    conf.set(RestOptions.BIND_PORT, "0");
    conf.set(CoreOptions.TMP_DIRS, task.workDir().resolve("flink-tmp").toString());
    return conf;
  }

  private static JobGraph jobGraph(Task task, Configuration conf, Path rows, int run) {
    StreamExecutionEnvironment env = new StreamExecutionEnvironment(conf);
    env.setParallelism(task.parallelism());
    FlinkNexmarkJob.define(env, task.query(), task.config(), task.events(), rows);
    StreamGraph graph = env.getStreamGraph();
    graph.setJobName("braid-nexmark-" + task.query().cliName() + "-" + task.mode() + "-" + run);
    return graph.getJobGraph();
  }

  /** Reads the rows back, sorts them into {@link NexmarkQuery}'s key order and gives them to {@code out}. */
  private static void emit(Task task, Path dir, NexmarkResult.RowSink out) throws IOException {
    NexmarkQuery query = task.query();
    List<FlinkNexmarkJob.Row> rows = new ArrayList<>(FlinkNexmarkJob.readRows(dir));
    try (Stream<Path> files = Files.list(dir)) {
      long n = files.count();
      task.progress().accept(String.format(Locale.ROOT, "flink %s: %,d rows read back from %d sink file%s "
          + "(not measured)", task.mode(), rows.size(), n, n == 1 ? "" : "s"));
    }
    rows.sort(Comparator.comparing(FlinkNexmarkJob.Row::channel).thenComparingLong(FlinkNexmarkJob.Row::auction)
        .thenComparingLong(FlinkNexmarkJob.Row::start));
    double[] none = new double[0];
    double[] avg = new double[1];
    for (FlinkNexmarkJob.Row row : rows) {
      long[] v = row.values();
      switch (query) {
        case Q5 -> out.row(NexmarkQuery.auctionWindowKey(row.auction(), row.start()), v, none);
        case Q7 -> out.row(NexmarkQuery.windowKey(row.start()), v, none);
        case Q15 -> out.row(NexmarkQuery.dayKey(NexmarkQuery.day(row.start())), v, none);
        case Q16 -> out.row(NexmarkQuery.channelDayKey(row.channel(), NexmarkQuery.day(row.start())), v, none);
        case Q17 -> {
          avg[0] = (double) v[6] / v[0];
          out.row(NexmarkQuery.auctionDayKey(row.auction(), NexmarkQuery.day(row.start())), v, avg);
        }
        default -> throw new IllegalStateException("no rows for " + query);
      }
    }
  }
}
