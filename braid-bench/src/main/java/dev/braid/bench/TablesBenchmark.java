package dev.braid.bench;

import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import dev.braid.table.Patch;
import dev.braid.table.PushOptions;
import dev.braid.table.PushReport;
import dev.braid.table.Table;
import dev.braid.table.TableRow;
import dev.braid.table.WriteResult;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The hybrid-store benchmark of issue 6: bulk push rate, in-process read latency, real-time write
 * freshness, and a restart's replay of the real-time writes. Run it with {@code ./braid bench tables}.
 *
 * <ol>
 *   <li><b>Input (not timed).</b> {@code --rows} JSON lines of about 200 bytes (a string key, a name,
 *       a long, a tier, a set of two tags, padding text), each a pure function of its index, are
 *       written to a file.
 *   <li><b>Push.</b> {@code --runs} full pushes of the file into the table, each timed from the first
 *       byte read to the new version being current (parse, Base file with its index, fsync, replay
 *       from the start cut, swap); rows/s is rows over that time.
 *   <li><b>Answers.</b> {@code --samples} keys are patched by real-time writes; then each sample key
 *       (patched or not) and as many absent keys are read and compared with the naive model (the
 *       generator plus the patches). Any difference fails the benchmark with exit code 2.
 *   <li><b>Reads.</b> {@code --reads} in-process {@code Table.get} of random keys (one thread, after as
 *       many warm-up reads), each timed into an HdrHistogram; a tenth of the reads hit rows the
 *       real-time writes touched (the Delta), the rest Base rows.
 *   <li><b>Freshness.</b> {@code --writes} PATCHes, one at a time, each timed from before the call
 *       until a read on another thread returns the patched value.
 *   <li><b>Restart.</b> {@code --restart-writes} more real-time writes, a Delta checkpoint (timed),
 *       close, reopen (timed: the checkpoint restored), then the checkpoint deleted and a second
 *       reopen (timed: the Delta rebuilt by replaying every write since the push's cut).
 * </ol>
 */
@Command(
    name = "braid bench tables",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Hybrid-store tables: bulk push rows/s from JSON lines, in-process read p99, real-time write "
        + "freshness, restart replay.")
public final class TablesBenchmark implements Callable<Integer> {

  @Option(names = "--rows", paramLabel = "N", defaultValue = "10000000",
      description = "Rows in the pushed file, one key each (default: ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of the table's real-time log (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "2",
      description = "Timed pushes of the file (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "2000",
      description = "Keys patched and checked against the naive model (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--reads", paramLabel = "N", defaultValue = "2000000",
      description = "Timed in-process reads (default: ${DEFAULT-VALUE}).")
  int reads;

  @Option(names = "--writes", paramLabel = "N", defaultValue = "2000",
      description = "Real-time writes timed until visible (default: ${DEFAULT-VALUE}).")
  int writes;

  @Option(names = "--restart-writes", paramLabel = "N", defaultValue = "500000",
      description = "Real-time writes in the log at the restart (default: ${DEFAULT-VALUE}).")
  int restartWrites;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary working directory (default: java.io.tmpdir).")
  Path dir;

  private final PrintStream out = System.out;
  private int checked;

  public static void main(String[] args) {
    System.exit(new CommandLine(new TablesBenchmark()).execute(args));
  }

  private void progress(String format, Object... args) {
    out.println("  " + String.format(Locale.ROOT, format, args));
    out.flush();
  }

  static PipelineSpec spec(int partitions) {
    return PipelineSpec.builder().table(TableSpec.builder("profiles").partitions(partitions).key("id")
        .field("id", "string").field("name", "string").field("score", "long").field("tier", "string")
        .field("tags", "set<string>").field("note", "string").build()).build();
  }

  static final String[] TIERS = {"free", "silver", "gold", "platinum"};
  static final String PAD = "x".repeat(200);

  static String key(int i) {
    return String.format(Locale.ROOT, "user-%09d", i);
  }

  /** Row {@code i} as the file holds it (about 200 bytes with its newline). */
  static String line(int i) {
    int note = 90 + (int) ((i * 2654435761L) & 15);
    return "{\"id\":\"" + key(i) + "\",\"name\":\"name " + i + "\",\"score\":" + (i * 7L % 100_000) + ",\"tier\":\""
        + TIERS[i & 3] + "\",\"tags\":[\"t" + (i % 10) + "\",\"g" + (i % 7) + "\"],\"note\":\"" + PAD.substring(0, note)
        + "\"}\n";
  }

  /** Row {@code i} as a read returns it, before any write. */
  static Map<String, Object> expected(int i) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", key(i));
    m.put("name", "name " + i);
    m.put("score", i * 7L % 100_000);
    m.put("tier", TIERS[i & 3]);
    m.put("tags", new LinkedHashSet<>(List.of("t" + (i % 10), "g" + (i % 7))));
    m.put("note", PAD.substring(0, 90 + (int) ((i * 2654435761L) & 15)));
    return m;
  }

  @Override
  public Integer call() throws Exception {
    if (rows < 1 || partitions < 1 || runs < 1 || samples < 1 || samples > rows || reads < 1 || writes < 1
        || restartWrites < 0) {
      throw new CommandLine.ParameterException(new CommandLine(this), "need --rows, --partitions, --runs, --samples, "
          + "--reads, --writes >= 1, --samples <= --rows, --restart-writes >= 0");
    }
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-tables-");
    try {
      out.printf(Locale.ROOT, "Braid tables benchmark: push of %,d JSON lines (~200 bytes), %d partitions%n", rows,
          partitions);
      out.printf(Locale.ROOT, "  machine: %d CPUs, Java %s, max heap %d MB, load average %s; work dir %s%n",
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
          Runtime.getRuntime().maxMemory() >> 20, ViewsBenchmark.loadAverage(), root);
      Path file = root.resolve("rows.jsonl");
      try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
        for (int i = 0; i < rows; i++) {
          o.write(line(i).getBytes(StandardCharsets.UTF_8));
        }
      }
      long bytes = Files.size(file);
      progress("input: %,d bytes (%.0f bytes per row)", bytes, bytes / (double) rows);

      Path data = root.resolve("braid");
      double[] pushRate = new double[runs];
      double[] pushSeconds = new double[runs];
      List<String> disagreements = new ArrayList<>();
      Histogram readNanos = new Histogram(10_000_000_000L, 3);
      Histogram freshNanos = new Histogram(60_000_000_000L, 3);
      double restartSeconds;
      double restartRate;
      double replaySeconds;
      double checkpointSeconds;
      long checkpointBytes;
      Map<String, Map<String, Object>> model = new LinkedHashMap<>();
      try (Braid braid = Braid.open(data, spec(partitions))) {
        Table t = braid.table("profiles");
        for (int r = 0; r < runs; r++) {
          long t0 = System.nanoTime();
          PushReport rep;
          try (InputStream in = Files.newInputStream(file)) {
            rep = t.push(in, PushOptions.defaults("rows.jsonl"));
          }
          pushSeconds[r] = (System.nanoTime() - t0) / 1e9;
          if (!rep.state().equals("done") || rep.rows() != rows) {
            throw new IllegalStateException("push " + (r + 1) + " did not load every row: " + rep);
          }
          pushRate[r] = rows / pushSeconds[r];
          progress("push %d: %,d rows in %.2f s: %.2f M rows/s (%.0f MB/s)", r + 1, rows, pushSeconds[r],
              pushRate[r] / 1e6, bytes / pushSeconds[r] / 1e6);
        }

        // real-time patches of sample keys, then every sample and as many absent keys against the model
        Random rnd = new Random(42);
        int[] sampleRows = rnd.ints(samples, 0, rows).distinct().toArray();
        // the last write of each partition: awaitApplied waits for that write's partition only
        Map<Integer, WriteResult> last = new java.util.HashMap<>();
        for (int k = 0; k < sampleRows.length; k++) {
          int i = sampleRows[k];
          Map<String, Object> m = expected(i);
          if (k % 2 == 0) {
            WriteResult w = t.patch(key(i), Patch.builder().set("tier", "patched").add("tags", "rt").build(), null);
            last.put(w.partition(), w);
            m.put("tier", "patched");
            @SuppressWarnings("unchecked")
            LinkedHashSet<Object> tags = (LinkedHashSet<Object>) m.get("tags");
            tags.add("rt");
          }
          model.put(key(i), m);
        }
        for (WriteResult w : last.values()) {
          if (!t.awaitApplied(w, 60_000)) {
            throw new IllegalStateException("the sample patches were not applied within a minute");
          }
        }
        check(t, model, rows, disagreements);
        checked = model.size();

        // reads: a tenth of the keys from the Delta (patched samples), the rest from the Base
        String[] keys = new String[1 << 16];
        for (int i = 0; i < keys.length; i++) {
          int patched = (i / 10) % sampleRows.length & ~1; // even sample indexes were patched
          keys[i] = i % 10 == 0 ? key(sampleRows[patched]) : key(rnd.nextInt(rows));
        }
        long sink = 0;
        for (int i = 0; i < reads; i++) {
          sink += t.get(keys[i & (keys.length - 1)]).values().size();
        }
        for (int i = 0; i < reads; i++) {
          String k = keys[(i * 31) & (keys.length - 1)];
          long s0 = System.nanoTime();
          TableRow row = t.get(k);
          long d = System.nanoTime() - s0;
          sink += row.values().size();
          readNanos.recordValue(d);
        }
        progress("reads: %,d timed in-process gets (checksum %d)", reads, sink);

        // freshness: a patch, then reads on this thread until its value shows
        for (int w = 0; w < writes; w++) {
          String k = key(rnd.nextInt(rows));
          String v = "fresh-" + w;
          long s0 = System.nanoTime();
          t.patch(k, Patch.builder().set("name", v).build(), null);
          if (model.containsKey(k)) {
            model.get(k).put("name", v);
          }
          while (!v.equals(t.get(k).values().get("name"))) {
            Thread.onSpinWait();
          }
          freshNanos.recordValue(System.nanoTime() - s0);
          Thread.sleep(1);
        }
        progress("freshness: %,d patches timed until visible", writes);

        Map<Integer, WriteResult> lastWrite = new java.util.HashMap<>();
        for (int w = 0; w < restartWrites; w++) {
          String k = key(rnd.nextInt(rows));
          WriteResult written = t.patch(k, Patch.builder().set("score", (long) w).build(), null);
          lastWrite.put(written.partition(), written);
          if (model.containsKey(k)) {
            model.get(k).put("score", (long) w);
          }
        }
        for (WriteResult w : lastWrite.values()) {
          if (!t.awaitApplied(w, 600_000)) {
            throw new IllegalStateException("the restart writes were not applied within 10 minutes");
          }
        }
        long c0 = System.nanoTime();
        ((dev.braid.view.Engine) braid).checkpointAll();
        checkpointSeconds = (System.nanoTime() - c0) / 1e9;
        checkpointBytes = Files.size(data.resolve("tables/profiles").resolve(checkpointFile(data)));
        progress("checkpoint of the Delta: %.2f s, %,d bytes", checkpointSeconds, checkpointBytes);
      }
      int replayed = restartWrites + writes + samples / 2;
      long r0 = System.nanoTime();
      try (Braid braid = Braid.open(data, spec(partitions))) {
        restartSeconds = (System.nanoTime() - r0) / 1e9;
        progress("restart from the checkpoint: serving after %.2f s (%s)", restartSeconds,
            ((dev.braid.table.TableRuntime) braid.table("profiles")).restoredFrom());
        check(braid.table("profiles"), model, rows, disagreements);
      }
      Files.delete(data.resolve("tables/profiles").resolve(checkpointFile(data)));
      r0 = System.nanoTime();
      try (Braid braid = Braid.open(data, spec(partitions))) {
        replaySeconds = (System.nanoTime() - r0) / 1e9;
        restartRate = replayed / replaySeconds;
        progress("restart without a checkpoint: serving after %.2f s (the Delta rebuilt from %,d real-time writes "
            + "since the push's cut)", replaySeconds, replayed);
        check(braid.table("profiles"), model, rows, disagreements);
      }

      double push = ViewsBenchmark.median(pushRate);
      double p99Read = readNanos.getValueAtPercentile(99) / 1e3;
      double p99Fresh = freshNanos.getValueAtPercentile(99) / 1e6;
      List<String[]> table = new ArrayList<>();
      table.add(new String[] {"bulk push from JSON lines", String.format(Locale.ROOT, "%.2f M rows/s (%,d rows in "
          + "%.2f s %s)", push / 1e6, rows, ViewsBenchmark.median(pushSeconds),
          ReplayBenchmark.spread(pushSeconds, 1, "%.2f")), ">= 1 M rows/s", ReplayBenchmark.verdict(push >= 1e6,
          push / 1e6)});
      table.add(new String[] {"in-process read", String.format(Locale.ROOT, "p50 %.2f us, p99 %.2f us, p99.9 %.2f us, "
              + "max %.0f us", readNanos.getValueAtPercentile(50) / 1e3, p99Read,
          readNanos.getValueAtPercentile(99.9) / 1e3, readNanos.getMaxValue() / 1e3), "p99 <= 5 us",
          ReplayBenchmark.verdict(p99Read <= 5, 5 / p99Read)});
      table.add(new String[] {"real-time write visible in a read", String.format(Locale.ROOT, "p50 %.3f ms, p99 %.3f "
          + "ms, max %.1f ms", freshNanos.getValueAtPercentile(50) / 1e6, p99Fresh, freshNanos.getMaxValue() / 1e6),
          "p99 <= 10 ms", ReplayBenchmark.verdict(p99Fresh <= 10, 10 / p99Fresh)});
      table.add(new String[] {"restart from a Delta checkpoint", String.format(Locale.ROOT, "%.2f s to serving "
          + "(checkpoint %.2f s to write, %,d bytes)", restartSeconds, checkpointSeconds, checkpointBytes), "-", "-"});
      table.add(new String[] {"restart without one: Delta rebuilt by replay", String.format(Locale.ROOT, "%.2f s to "
          + "serving (%,d writes, %,.0f writes/s incl. opening the Base)", replaySeconds, replayed, restartRate),
          "-", "-"});
      table.add(new String[] {"answers vs naive model", disagreements.isEmpty()
          ? String.format(Locale.ROOT, "%d sample keys and as many absent keys equal", checked)
          : disagreements.size() + " differ", "equal", disagreements.isEmpty() ? "meets" : "FAILS"});
      out.printf(Locale.ROOT, "%nResults (median of %d pushes, range in brackets; load average now %s):%n", runs,
          ViewsBenchmark.loadAverage());
      ReplayBenchmark.printRows(out, table);
      if (!disagreements.isEmpty()) {
        disagreements.stream().limit(20).forEach(d -> out.println("  " + d));
        return 2;
      }
      return 0;
    } finally {
      LogBenchmark.deleteRecursively(root);
    }
  }

  private static String checkpointFile(Path data) throws IOException {
    try (java.util.stream.Stream<Path> files = Files.list(data.resolve("tables/profiles"))) {
      return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".ckpt")).findFirst()
          .orElseThrow(() -> new IllegalStateException("no Delta checkpoint was written"));
    }
  }

  private static void check(Table t, Map<String, Map<String, Object>> model, int rows, List<String> disagreements) {
    for (Map.Entry<String, Map<String, Object>> e : model.entrySet()) {
      TableRow r = t.get(e.getKey());
      if (!r.found() || !r.values().equals(e.getValue())) {
        disagreements.add(e.getKey() + ": braid " + (r.found() ? r.values() : "absent") + ", naive " + e.getValue());
      }
    }
    for (int i = 0; i < Math.max(1, model.size()); i++) {
      String absent = key(rows + i);
      if (t.get(absent).found()) {
        disagreements.add(absent + ": braid found a row never written");
      }
    }
  }

}
