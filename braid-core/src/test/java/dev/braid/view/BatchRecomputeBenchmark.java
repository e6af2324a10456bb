package dev.braid.view;

import dev.braid.event.EventEncoder;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.StreamConfig;
import dev.braid.spec.Durations;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Throughput of a batch recompute of {@code count + sum} by key, in memory and spilling: not a test
 * (no assertions on time), run on demand:
 *
 * <pre>
 * mvn -B -q -Dbraid.target=target-h6 -pl braid-core test -Dtest=BatchRecomputeBenchmark \
 *     -Dbraid.bench=true -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 *
 * Properties: {@code braid.bench.events} (5 M), {@code braid.bench.keys} (1 M),
 * {@code braid.bench.spillBudget} (bytes, 16 MiB), {@code braid.bench.threads} (2),
 * {@code braid.bench.rounds} (3); {@code braid.bench.window} (none; a duration such as {@code 1d} makes the
 * view Q17-like: tumbling windows, {@code count, min, max, sum} of the amount),
 * {@code braid.bench.eventMillis} (1: event time advances this much per event; 40 is Nexmark's 25 per
 * second), {@code braid.bench.radix} (true; false folds in one pass). The log is written once (2 partitions, page-cache durability);
 * each round builds a Base from it with {@link BatchLayer} directly, so the figure is the fold plus
 * the Base write, without engine start-up or the speed layer.
 */
@Tag("benchmark")
@EnabledIfSystemProperty(named = "braid.bench", matches = "true")
class BatchRecomputeBenchmark {

  @Test
  void measureCountAndSumByKey(@TempDir Path dir) throws Exception {
    int events = Integer.getInteger("braid.bench.events", 5_000_000);
    int keys = Integer.getInteger("braid.bench.keys", 1_000_000);
    long spillBudget = Long.getLong("braid.bench.spillBudget", 16L << 20);
    int threads = Integer.getInteger("braid.bench.threads", 2);
    int rounds = Integer.getInteger("braid.bench.rounds", 3);
    int partitions = 2;
    String window = System.getProperty("braid.bench.window");
    long eventMillis = Long.getLong("braid.bench.eventMillis", 1);
    boolean radix = Boolean.parseBoolean(System.getProperty("braid.bench.radix", "true"));

    StreamSpec stream = StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
        .field("user", FieldType.STRING).field("amount", FieldType.DOUBLE).field("ts", FieldType.TIMESTAMP).build();
    ViewSpec.Builder vb = ViewSpec.builder("spend").from("tx").groupBy("user").aggregate("n", "count")
        .aggregate("total", "sum(amount)");
    if (window != null) {
      vb.window(WindowSpec.tumbling(Durations.parse(window))).aggregate("low", "min(amount)")
          .aggregate("high", "max(amount)");
    }
    ViewSpec view = vb.build();
    ViewProgram program = new ViewProgram(view, stream.schema());

    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      LogStream ls = log.getOrCreateStream("tx", StreamConfig.of(partitions).withDurability(Durability.os()));
      long t0 = System.nanoTime();
      fill(ls, stream, events, keys, partitions, eventMillis);
      System.out.printf(Locale.ROOT, "log: %,d events over %,d keys written in %d ms%n", events, keys,
          (System.nanoTime() - t0) / 1_000_000);
      Cut cut = ls.end();
      long defaultBudget = EngineOptions.defaultBatchMemoryBytes();
      System.out.printf(Locale.ROOT, "JVM: %s, max heap %d MiB, %d processors; threads %d%n",
          System.getProperty("java.vm.version"), Runtime.getRuntime().maxMemory() >> 20,
          Runtime.getRuntime().availableProcessors(), threads);
      int id = 0;
      for (int round = 0; round < rounds; round++) {
        for (long budget : new long[] {defaultBudget, spillBudget}) {
          Path base = dir.resolve("v" + (++id) + ".base");
          BatchLayer.Counters counters = BatchLayer.Counters.create();
          long start = System.nanoTime();
          BatchLayer.Stats s = new BatchLayer(program, ls, threads, budget, counters, radix)
              .build(cut, base, dir.resolve("v" + id + ".spill"));
          long nanos = System.nanoTime() - start;
          System.out.printf(Locale.ROOT,
              "round %d budget %4d MiB: %6.2f M events/s (%5d ms: fold %5d ms, write %5d ms); keys %,d, groups %,d; "
                  + "runs %d (%d MiB, %d intermediate merges); peak reserved %d MiB; base %d MiB%n",
              round, budget >> 20, events / (nanos / 1e9) / 1e6, nanos / 1_000_000, s.foldNanos() / 1_000_000,
              s.writeNanos() / 1_000_000, s.keys(), s.groups(), s.runsWritten(), s.bytesSpilled() >> 20, s.intermediateMerges(),
              s.peakReservedBytes() >> 20, Files.size(base) >> 20);
          Files.delete(base);
        }
      }
    }
  }

  /** Appends {@code events} events whose keys are spread uniformly over {@code keys} keys. */
  private static void fill(LogStream ls, StreamSpec stream, int events, int keys, int partitions, long eventMillis) {
    EventEncoder encoder = new EventEncoder(stream.schema());
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    byte[][] keyBytes = new byte[keys][];
    byte[][] values = new byte[keys][];
    for (int k = 0; k < keys; k++) {
      String user = String.format(Locale.ROOT, "user-%07d", k);
      String reason = encoder.encode(Map.of("user", user, "amount", (k % 1000) / 10.0, "ts",
          1_736_154_000_000L + k), 0L, out);
      if (reason != null) {
        throw new IllegalStateException(reason);
      }
      keyBytes[k] = user.getBytes(StandardCharsets.UTF_8);
      values[k] = java.util.Arrays.copyOf(out.value(), out.valueLength());
    }
    RecordBatchBuilder[] batches = new RecordBatchBuilder[partitions];
    for (int p = 0; p < partitions; p++) {
      batches[p] = new RecordBatchBuilder();
    }
    for (long i = 0; i < events; i++) {
      int k = (int) Long.remainderUnsigned(i * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L, keys);
      int p = Partitioner.partition(keyBytes[k], 0, keyBytes[k].length, partitions);
      batches[p].add(keyBytes[k], values[k], 1_736_154_000_000L + i * eventMillis, 0L);
      if (batches[p].count() == 4096) {
        ls.append(p, batches[p]);
        batches[p].clear();
      }
    }
    for (int p = 0; p < partitions; p++) {
      if (batches[p].count() > 0) {
        ls.append(p, batches[p]);
      }
    }
    ls.flush();
  }
}
