package dev.braid.bench;

import dev.braid.Status;
import dev.braid.ViewResult;
import dev.braid.event.EventEncoder;
import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.StreamConfig;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code braid bench eventtime}: the speed layer on an event-time view — tumbling 1-minute
 * {@code count} + {@code sum} by key, with {@code --out-of-order} (10 %) of events moved back by up to
 * {@code --max-delay} (30 s), the stream's {@code max_out_of_order} set to that delay and the view's
 * {@code allowed_lateness} to {@code --lateness} — against the same view without a window.
 *
 * <p>As in the views benchmark, the events are appended to a {@link FileLog} first and opening the
 * engine replays the log into version 1's Delta with one speed-layer thread per partition; the figure
 * is events over the speed-layer threads' CPU time (per core) and over wall-clock time (open minus
 * opening the log alone). Each run deletes the views' state so that it replays. Prints the Delta's
 * state (keys, (key, window) groups, bytes), the late events and the stream's watermark, and checks
 * sample keys' windows against a naive loop over the same generated events. Then a flowing phase
 * appends the same events a slice at a time to a running engine and prints, after each slice, the
 * Delta's in-memory groups and bytes against the open windows and its closed-window runs on disk.
 */
@Command(name = "eventtime", mixinStandardHelpOptions = true,
    description = "Speed layer on a tumbling 1-minute count+sum view with out-of-order events.")
public final class EventTimeBenchmark implements Callable<Integer> {

  static final String STREAM = "clicks";
  static final long BASE = 1_767_225_600_000L; // 2026-01-01T00:00Z

  @Option(names = "--events", description = "Events (default ${DEFAULT-VALUE}).")
  long events = 10_000_000;

  @Option(names = "--keys", description = "Distinct keys (default ${DEFAULT-VALUE}).")
  int keys = 10_000;

  @Option(names = "--events-per-second", description = "Event-time rate: events per second of event time "
      + "(default ${DEFAULT-VALUE}, so 10 M events span about 17 minutes).")
  long eventsPerSecond = 10_000;

  @Option(names = "--out-of-order", description = "Share of events moved back in event time (default ${DEFAULT-VALUE}).")
  double outOfOrder = 0.10;

  @Option(names = "--max-delay", description = "How far back, at most (default ${DEFAULT-VALUE}).")
  String maxDelay = "30s";

  @Option(names = "--lateness", description = "The view's allowed_lateness (default ${DEFAULT-VALUE}).")
  String lateness = "0s";

  @Option(names = "--partitions", description = "Stream partitions (default ${DEFAULT-VALUE}).")
  int partitions = 2;

  @Option(names = "--runs", description = "Measured runs (default ${DEFAULT-VALUE}).")
  int runs = 3;

  @Option(names = "--warmup", description = "Warm-up runs (default ${DEFAULT-VALUE}).")
  int warmup = 1;

  @Option(names = "--seed", description = "Generator seed (default ${DEFAULT-VALUE}).")
  long seed = 42;

  @Option(names = "--dir", description = "Work directory (default: a temporary one, deleted after).")
  Path dir;

  private final PrintStream out = System.out;

  public static void main(String[] args) {
    System.exit(new CommandLine(new EventTimeBenchmark()).execute(args));
  }

  long delayMillis() {
    return dev.braid.spec.Durations.parse(maxDelay).toMillis();
  }

  StreamSpec stream() {
    return StreamSpec.builder(STREAM).partitions(partitions).key("key").time("ts")
        .maxOutOfOrder(Duration.ofMillis(delayMillis())).field("key", FieldType.STRING)
        .field("amount", FieldType.LONG).field("ts", FieldType.TIMESTAMP).durability(Durability.os()).build();
  }

  PipelineSpec spec(boolean windowed) {
    ViewSpec.Builder v = ViewSpec.builder(windowed ? "per_minute" : "all_time").from(STREAM).groupBy("key")
        .aggregate("n", "count").aggregate("total", "sum(amount)");
    if (windowed) {
      v.tumbling(Duration.ofMinutes(1)).allowedLateness(dev.braid.spec.Durations.parseAllowingZero(lateness));
    }
    return PipelineSpec.builder().stream(stream()).view(v.build()).build();
  }

  /** Event {@code i}: key, amount, event time (the generator is replayed by the naive check). */
  final class Gen {
    final Random rnd = new Random(seed);
    final long delay = delayMillis();

    int key;
    long amount;
    long ts;

    void next(long i) {
      key = rnd.nextInt(keys);
      amount = rnd.nextInt(1000);
      ts = BASE + i * 1000 / eventsPerSecond;
      if (rnd.nextDouble() < outOfOrder) {
        ts -= 1 + (long) (rnd.nextDouble() * delay);
      }
    }
  }

  static String keyString(int k) {
    return String.format(Locale.ROOT, "key-%08d", k);
  }

  /** Appends the generated events to a stream in batches of up to 4,096 per partition. */
  final class Appender {
    final LogStream stream;
    final EventEncoder enc = new EventEncoder(stream().schema());
    final EventEncoder.Encoded e = new EventEncoder.Encoded();
    final Gen g = new Gen();
    final RecordBatchBuilder[] b = new RecordBatchBuilder[partitions];
    final Map<String, Object> ev = new LinkedHashMap<>();

    Appender(LogStream stream) {
      this.stream = stream;
      for (int p = 0; p < partitions; p++) {
        b[p] = new RecordBatchBuilder();
      }
    }

    /** Appends events {@code [from, to)} (the generator must be at {@code from}); all are in the log on return. */
    void append(long from, long to) {
      for (long i = from; i < to; i++) {
        g.next(i);
        ev.put("key", keyString(g.key));
        ev.put("amount", g.amount);
        ev.put("ts", g.ts);
        String reason = enc.encode(ev, 0L, e);
        if (reason != null) {
          throw new IllegalStateException(reason);
        }
        byte[] key = e.key();
        int p = Partitioner.partition(key, 0, key.length, partitions);
        b[p].add(key, 0, key.length, e.value(), 0, e.valueLength(), e.eventTime(), 0L);
        if (b[p].count() == 4096) {
          stream.append(p, b[p]);
          b[p].clear();
        }
      }
      for (int p = 0; p < partitions; p++) {
        if (!b[p].isEmpty()) {
          stream.append(p, b[p]);
          b[p].clear();
        }
      }
    }
  }

  void writeLog(Path data) {
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.getOrCreateStream(STREAM, StreamConfig.of(partitions).withDurability(Durability.os()));
      new Appender(s).append(0, events);
      s.flush();
    }
  }

  @Override
  public Integer call() throws Exception {
    Path work = dir != null ? dir : Files.createTempDirectory("braid-bench-eventtime");
    try {
      Path data = work.resolve("braid");
      out.printf(Locale.ROOT, "event time: %,d events over %,d keys, %.0f %% out of order by up to %s, "
          + "%d partitions, allowed_lateness %s%n", events, keys, outOfOrder * 100, maxDelay, partitions, lateness);
      long t0 = System.nanoTime();
      writeLog(data);
      out.printf(Locale.ROOT, "  log written in %.1f s%n", (System.nanoTime() - t0) / 1e9);
      double windowed = measure(data, true);
      double plain = measure(data, false);
      out.printf(Locale.ROOT, "result: speed layer, tumbling 1m count+sum with out-of-order events: %.2f M events "
          + "per CPU-second per core (goal >= 3); the same view without a window: %.2f M/s per core%n",
          windowed / 1e6, plain / 1e6);
      long[] bounded = flow(work.resolve("flow"));
      out.printf(Locale.ROOT, "result: Delta memory while events flow: at most %,d groups / %,d bytes in memory for "
          + "%,d keys x %d open windows; %,d groups / %,d bytes in closed-window runs at the end%n", bounded[0],
          bounded[1], keys, openWindowsPerKey(), bounded[2], bounded[3]);
      return 0;
    } finally {
      if (dir == null) {
        LogBenchmark.deleteRecursively(work);
      }
    }
  }

  /** Median events per speed-layer CPU-second over the measured runs. */
  private double measure(Path data, boolean windowed) throws Exception {
    PipelineSpec spec = spec(windowed);
    String view = spec.views().keySet().iterator().next();
    double[] cpuRates = new double[runs];
    for (int r = 0; r < warmup + runs; r++) {
      LogBenchmark.deleteRecursively(data.resolve("views"));
      Files.deleteIfExists(data.resolve("catalog.json"));
      long cpu0 = BraidViewsRun.threadCpuNanos("braid-speed-" + STREAM + "-p");
      long t0 = System.nanoTime();
      try (Engine engine = Engine.open(data, spec, EngineOptions.defaults().withCheckpointEvery(Duration.ZERO))) {
        long nanos = System.nanoTime() - t0;
        long cpu = BraidViewsRun.threadCpuNanos("braid-speed-" + STREAM + "-p") - cpu0;
        Status.ViewStatus v = engine.status().views().get(0);
        if (v.lag() != 0) {
          throw new IllegalStateException("the Delta did not catch up: " + v);
        }
        double cpuRate = events / (cpu / 1e9);
        boolean measured = r >= warmup;
        out.printf(Locale.ROOT, "  %s %s %d: %,d events in %.0f ms (wall, with engine start): %.2f M/s; speed-layer "
                + "threads %.0f ms CPU: %.2f M events per CPU-second%n", view, measured ? "run" : "warm-up",
            measured ? r - warmup + 1 : r + 1, events, nanos / 1e6, events / (nanos / 1e9) / 1e6, cpu / 1e6,
            cpuRate / 1e6);
        if (measured) {
          cpuRates[r - warmup] = cpuRate;
        }
        if (r == warmup) {
          Status.StreamStatus st = engine.status().streams().get(0);
          out.printf(Locale.ROOT, "  %s state: %,d keys, %,d bytes (%.1f bytes per key); late events %s; "
                  + "watermark %s%n", view, v.deltaKeys(), v.deltaBytes(), v.deltaBytes() / (double) Math.max(1,
                  v.deltaKeys()), v.lateness() == null ? "-" : String.format(Locale.ROOT, "%,d",
                  v.lateness().lateEvents()), java.time.Instant.ofEpochMilli(st.watermark().millis()));
          if (windowed) {
            check(engine, view);
          }
        }
      }
    }
    java.util.Arrays.sort(cpuRates);
    return cpuRates[runs / 2];
  }

  @Option(names = "--flow-slice", description = "Events per step of the flowing phase (default ${DEFAULT-VALUE}: "
      + "a minute of event time at the default rate).")
  long flowSlice = 600_000;

  @Option(names = "--spill-groups", description = "The engine's deltaSpillGroups in the flowing phase: the fewest "
      + "closed groups moved out of memory at once (default ${DEFAULT-VALUE}).")
  long spillGroups = EngineOptions.DEFAULT_DELTA_SPILL_GROUPS;

  /** Windows per key the speed layer may still add to: the one being filled and those within delay + lateness. */
  long openWindowsPerKey() {
    long late = dev.braid.spec.Durations.parseAllowingZero(lateness).toMillis();
    return (delayMillis() + late + 60_000 - 1) / 60_000 + 1;
  }

  /**
   * The flowing phase: an engine on an empty log, the same events appended {@link #flowSlice} at a
   * time while the speed layer follows; after each step the engine moves closed windows out of the
   * Delta (as its own once-a-second check would) and the Delta's memory and runs are printed. Returns
   * {max in-memory groups, max in-memory bytes, run groups, run bytes} (the last two at the end).
   */
  private long[] flow(Path data) throws Exception {
    out.printf(Locale.ROOT, "flowing: %,d events appended %,d at a time to a running engine; closed windows moved "
        + "out of memory after each step%n", events, flowSlice);
    PipelineSpec spec = spec(true);
    String view = spec.views().keySet().iterator().next();
    long[] result = new long[4];
    long spilledBefore = 0;
    long t0 = System.nanoTime();
    try (Engine engine = Engine.open(data, spec,
        EngineOptions.defaults().withCheckpointEvery(Duration.ZERO).withDeltaSpillGroups(spillGroups))) {
      Appender appender = new Appender(engine.log().stream(STREAM));
      for (long i = 0; i < events; ) {
        long stop = Math.min(events, i + flowSlice);
        appender.append(i, stop);
        i = stop;
        if (!engine.awaitCaughtUp(5, java.util.concurrent.TimeUnit.MINUTES)) {
          throw new IllegalStateException("the speed layer did not catch up");
        }
        engine.spillClosedWindows(); // what the engine's once-a-second check may not have done yet
        Status.DeltaState d = engine.status().views().get(0).delta();
        long moved = d.spilledGroups() - spilledBefore;
        spilledBefore = d.spilledGroups();
        result[0] = Math.max(result[0], d.groups());
        result[1] = Math.max(result[1], d.bytes());
        result[2] = d.runGroups();
        result[3] = d.runBytes();
        out.printf(Locale.ROOT, "  %,11d events, event time %s: in memory %,8d groups %,12d bytes; runs %2d with %,9d "
                + "groups %,12d bytes%s%n", i, java.time.Instant.ofEpochMilli(appender.g.ts), d.groups(), d.bytes(),
            d.runs(), d.runGroups(), d.runBytes(), moved > 0 ? String.format(Locale.ROOT, " (moved %,d groups)", moved) : "");
      }
      Status.DeltaState d = engine.status().views().get(0).delta();
      out.printf(Locale.ROOT, "  flowing took %.1f s (with encoding and appending the events); %d spills took %,d ms "
              + "in all (%.0f ms each, off the speed layer's threads); the longest a spill held a partition's "
              + "speed-layer thread off (copying its table under the read lock): %,d us%n",
          (System.nanoTime() - t0) / 1e9, d.spills(), d.spillMillis(),
          d.spills() == 0 ? 0 : d.spillMillis() / (double) d.spills(), d.spillLockMaxMicros());
      check(engine, view);
    }
    return result;
  }

  /** Sample keys' windows against a naive loop over the generator (late events left out as the speed layer does). */
  private void check(Engine engine, String view) {
    int[] sample = {0, keys / 2, keys - 1};
    Map<Integer, Map<Long, long[]>> want = new LinkedHashMap<>();
    for (int k : sample) {
      want.put(k, new java.util.TreeMap<>());
    }
    Gen g = new Gen();
    long[] max = new long[partitions];
    java.util.Arrays.fill(max, Long.MIN_VALUE);
    long late = dev.braid.spec.Durations.parseAllowingZero(lateness).toMillis();
    for (long i = 0; i < events; i++) {
      g.next(i);
      byte[] key = keyString(g.key).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      int p = Partitioner.partition(key, 0, key.length, partitions);
      max[p] = Math.max(max[p], g.ts);
      Map<Long, long[]> w = want.get(g.key);
      long start = Math.floorDiv(g.ts, 60_000L) * 60_000L;
      if (w != null && start + 60_000L > max[p] - g.delay - late) {
        long[] x = w.computeIfAbsent(start, s -> new long[2]);
        x[0]++;
        x[1] += g.amount;
      }
    }
    for (int k : sample) {
      ViewResult r = engine.get(view, keyString(k));
      Map<Long, long[]> got = new java.util.TreeMap<>();
      for (ViewResult.WindowValue w : r.windows()) {
        got.put(w.start(), new long[] {(Long) w.values().get("n"), (Long) w.values().get("total")});
      }
      boolean same = got.size() == want.get(k).size() && want.get(k).entrySet().stream()
          .allMatch(e -> got.containsKey(e.getKey()) && java.util.Arrays.equals(got.get(e.getKey()), e.getValue()));
      if (!same) {
        throw new IllegalStateException("key " + keyString(k) + ": the speed layer's windows differ from the naive "
            + "loop's");
      }
    }
    out.printf(Locale.ROOT, "  answers agree with the naive loop on %d sample keys (every window)%n", sample.length);
  }
}
