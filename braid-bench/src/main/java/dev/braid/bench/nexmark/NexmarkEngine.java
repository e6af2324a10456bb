package dev.braid.bench.nexmark;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One engine of the Nexmark benchmark (Braid, DuckDB, Flink, Kafka Streams, the naive reference),
 * registered by name in {@link NexmarkEngines}. The harness runs each (engine, mode) in a JVM of its
 * own ({@code NexmarkBenchmark}'s child mode): that JVM creates the engine, calls {@link #run} once,
 * and writes the {@link Report} and the result rows to files the parent reads (JSON and NDJSON, see
 * {@link NexmarkResult}); nothing crosses JVMs by Java serialization.
 *
 * <h2>Contract of {@link #run}</h2>
 * <ul>
 *   <li>Generate the bids of events {@code [0, task.events())} from {@code task.config()} with
 *       {@link NexmarkGenerator} inside this JVM (the same events in every engine), feed them to
 *       the engine, and compute {@code task.query()} in {@code task.mode()}.
 *   <li>Do {@code task.warmup()} unmeasured runs, then {@code task.runs()} measured ones; each
 *       measured run gives a {@link Measurement}: wall-clock nanos of the measured span (what the
 *       span is, e.g. "log read to state update" or "the SQL statement", is the engine's Javadoc's to
 *       say) and the CPU nanos of this whole process over that span
 *       ({@link #processCpuNanos()}).
 *   <li>After the last run, give every result row to {@code result} in ascending key order
 *       ({@link NexmarkQuery} defines keys and values). Reading the rows out is not measured.
 * </ul>
 *
 * <h2>Adding an engine (Flink, Kafka Streams)</h2>
 * <ol>
 *   <li>A class in this package implementing this interface, e.g. {@code FlinkNexmark} with modes
 *       {@code stream} and {@code batch} (the harness compares Braid's {@code speed} with a Flink
 *       mode named {@code stream} for the 10x goal, and with any {@code kstreams} mode for the 30x
 *       one). Bids come from {@link NexmarkGenerator#bid}, by bid number {@code n} in
 *       {@code [0, task.bids())} through {@link NexmarkGenerator#bidIndex}, so a parallel source can
 *       split the range; row keys from {@link NexmarkQuery}'s key functions.
 *   <li>Rows must reach {@code result} in ascending key order: an engine whose output is unordered
 *       collects it in a {@link NexmarkResult.Collector} and replays {@code collector.result().rows()}.
 *   <li>One line in {@link NexmarkEngines}' static block, {@code register(FlinkNexmark.NAME, FlinkNexmark::new)}.
 * </ol>
 * The harness does the rest: the child JVM, {@code report.json}, {@code result.ndjson}, the checks
 * against the reference and the other engines, the table.
 *
 * <p>Threading: {@code run} is called once, on the child's main thread.
 */
public interface NexmarkEngine {

  /** The modes this engine runs, e.g. {@code speed}, {@code batch}, {@code http}; the first is its main one. */
  List<String> modes();

  /**
   * The relative standard error of this engine's distinct counts in {@code mode} (0 when exact);
   * the comparison allows for it (see {@link NexmarkResult}).
   */
  double distinctRse(String mode);

  /** Runs the task (see the interface comment) and gives the final rows to {@code result}. */
  Report run(Task task, NexmarkResult.RowSink result) throws Exception;

  /**
   * What to run.
   *
   * @param parallelism threads / partitions / task slots the engine may use (the same for every engine)
   * @param workDir a directory of this run's own, deleted afterwards
   * @param progress prints a line of progress for the user
   */
  record Task(NexmarkQuery query, long events, NexmarkConfig config, String mode, int warmup, int runs,
      int parallelism, Path workDir, Consumer<String> progress) {

    /** How many bids events {@code [0, events)} hold: what the engines fold. */
    public long bids() {
      return NexmarkGenerator.bidCount(events);
    }
  }

  /** One measured run: wall-clock and process CPU nanos of the measured span. */
  record Measurement(long elapsedNanos, long cpuNanos) {

    /**
     * The least process CPU time a run must use for its per-CPU-second rate to be shown. The JVM's
     * process CPU clock ({@link #processCpuNanos()}) advances in steps of a clock tick (10 ms on
     * Linux), so a difference of two readings is off by up to 20 ms: under 4 % from 0.5 s on. A
     * shorter run (a smoke run of a few thousand bids) has no per-CPU figure rather than a wrong one.
     */
    static final long MIN_CPU_NANOS = 500_000_000L;

    /** {@code bids} per CPU-second of this run, or NaN when it used under {@link #MIN_CPU_NANOS}. */
    double bidsPerCpuSecond(long bids) {
      return cpuNanos < MIN_CPU_NANOS ? Double.NaN : bids / (cpuNanos / 1e9);
    }
  }

  /**
   * What an engine measured.
   *
   * @param extras further figures, shown beside the table (e.g. {@code loadSeconds} for DuckDB's CSV load)
   */
  record Report(List<Measurement> runs, Map<String, Double> extras) {
    public Report {
      runs = List.copyOf(runs);
      extras = Map.copyOf(extras);
    }
  }

  /** CPU time of this JVM, all threads (GC and JIT included). */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
