package dev.braid.bench;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.FilterFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * The Flink peer of the speed layer, run in its own JVM: a local (MiniCluster) streaming job of
 * parallelism {@code --flink-parallelism} with heap state (the {@code hashmap} backend) that reads
 * the benchmark's events from a number sequence ({@link ViewsEvents} turns each index into its
 * key and amount), keys them by key and reduces {@code (count, sum)}. Each update goes on through a
 * chained filter that records the sample keys' latest values, then to a discarding sink.
 *
 * <p>The figure is events divided by the job's net runtime as Flink reports it (scheduling and
 * deployment included, the MiniCluster's start-up not), so it favours Flink slightly.
 */
final class FlinkViewsRun {

  /** Latest (count, sum) of each sample key, written by the job's subtasks (same JVM). */
  static final Map<String, long[]> SAMPLED = new ConcurrentHashMap<>();

  private final ViewsBenchmark o;
  private final ViewsBenchmark.Results out;

  FlinkViewsRun(ViewsBenchmark options, ViewsBenchmark.Results out) {
    this.o = options;
    this.out = out;
  }

  void run() throws Exception {
    Set<String> samples = new HashSet<>();
    for (int k : ViewsEvents.sampleKeys(o.keys, o.samples)) {
      samples.add(ViewsEvents.keyString(k));
    }
    long warmupEvents = Math.min(o.events, 2_000_000);
    for (int r = 0; r < o.warmup + o.runs; r++) {
      boolean measured = r >= o.warmup;
      long events = measured ? o.events : warmupEvents;
      SAMPLED.clear();
      long cpu0 = BraidViewsRun.processCpuNanos();
      long t0 = System.nanoTime();
      JobExecutionResult result = job(events, o.keys, samples, o.flinkParallelism).execute("braid-views-flink");
      long wall = System.nanoTime() - t0;
      long cpu = BraidViewsRun.processCpuNanos() - cpu0;
      long net = result.getNetRuntime(TimeUnit.NANOSECONDS);
      double rate = events / (net / 1e9);
      o.progress("flink %s %d: %,d events, keyed reduce, parallelism %d: net runtime %.0f ms (wall %.0f ms): "
              + "%.2f M events/s; the JVM used %.0f ms of CPU: %.2f M events per CPU-second", measured ? "run" : "warm-up", measured ? r - o.warmup + 1 : r + 1, events,
          o.flinkParallelism, net / 1e6, wall / 1e6, rate / 1e6, cpu / 1e6, events / (cpu / 1e9) / 1e6);
      if (measured) {
        out.add("flink.rate", rate);
        out.add("flink.wallRate", events / (wall / 1e9));
        out.add("flink.cpuRate", events / (cpu / 1e9));
      }
    }
    for (String key : samples) {
      long[] v = SAMPLED.getOrDefault(key, new long[2]);
      out.answer("flink", key, v[0], v[1]);
    }
  }

  static StreamExecutionEnvironment job(long events, int keys, Set<String> samples, int parallelism) {
    Configuration conf = new Configuration();
    conf.set(ExecutionOptions.RUNTIME_MODE, RuntimeExecutionMode.STREAMING);
    conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
    env.fromSequence(0, events - 1)
        .map(new ToEvent(keys))
        .returns(Types.TUPLE(Types.STRING, Types.LONG, Types.LONG))
        .keyBy(new ByKey())
        .reduce(new CountAndSum())
        .filter(new RecordSamples(new HashSet<>(samples)))
        .sinkTo(new DiscardingSink<>());
    return env;
  }

  static final class ToEvent implements MapFunction<Long, Tuple3<String, Long, Long>> {
    private static final long serialVersionUID = 1L;
    private final int keys;

    ToEvent(int keys) {
      this.keys = keys;
    }

    @Override
    public Tuple3<String, Long, Long> map(Long i) {
      return Tuple3.of(ViewsEvents.keyString(ViewsEvents.keyIndex(i, keys)), 1L, ViewsEvents.amount(i));
    }
  }

  static final class ByKey implements KeySelector<Tuple3<String, Long, Long>, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String getKey(Tuple3<String, Long, Long> t) {
      return t.f0;
    }
  }

  static final class CountAndSum implements ReduceFunction<Tuple3<String, Long, Long>> {
    private static final long serialVersionUID = 1L;

    @Override
    public Tuple3<String, Long, Long> reduce(Tuple3<String, Long, Long> a, Tuple3<String, Long, Long> b) {
      return Tuple3.of(a.f0, a.f1 + b.f1, a.f2 + b.f2);
    }
  }

  /** Passes nothing on; remembers the latest value of each sample key. */
  static final class RecordSamples implements FilterFunction<Tuple3<String, Long, Long>> {
    private static final long serialVersionUID = 1L;
    private final HashSet<String> samples;

    RecordSamples(HashSet<String> samples) {
      this.samples = samples;
    }

    @Override
    public boolean filter(Tuple3<String, Long, Long> t) {
      if (samples.contains(t.f0)) {
        SAMPLED.put(t.f0, new long[] {t.f1, t.f2});
      }
      return false;
    }
  }
}
