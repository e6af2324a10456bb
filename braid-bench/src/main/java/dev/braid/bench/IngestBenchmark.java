package dev.braid.bench;

import dev.braid.IngestResult;
import dev.braid.event.FieldType;
import dev.braid.ingest.Ingestor;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.StreamConfig;
import dev.braid.spec.StreamSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What idempotent ingest costs: NDJSON ingest through {@link Ingestor#ingestText} (parse, encode,
 * append to a {@link FileLog} under {@code os} durability, one thread) without ids, with an
 * idempotency key per request ({@code K#i} ids), and with an id field ({@code id: txn}); and the
 * time and memory to rebuild the dedup index from a log holding {@code --rebuild-ids} ids.
 *
 * <p>Only the {@code ingestText} calls are timed: the NDJSON text of a request is generated before
 * its call. Each mode gets a warm-up of a quarter of {@code --events}, then {@code --runs} runs of
 * {@code --events}; the table shows the median and the range. The rebuild appends the ids directly
 * with {@link RecordBatchBuilder} (not timed), then times {@link Ingestor#rebuildDedupIndex()} of a
 * fresh ingestor {@code --runs} times.
 */
@Command(name = "braid bench ingest", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Ingest events/s without ids, with an idempotency key and with an id field; dedup index rebuild "
        + "time and memory.")
public final class IngestBenchmark implements Callable<Integer> {

  @Option(names = "--events", paramLabel = "N", defaultValue = "1000000",
      description = "Events per measured run (default: ${DEFAULT-VALUE}).")
  int events;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "1000",
      description = "Events per request (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of the stream (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "Measured runs (default: "
      + "${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--rebuild-ids", paramLabel = "N", defaultValue = "5000000",
      description = "Ids in the log for the rebuild measurement; 0 skips it (default: ${DEFAULT-VALUE}).")
  long rebuildIds;

  @Option(names = "--dir", paramLabel = "DIR", description = "Data directory (default: a temporary one, deleted).")
  Path dir;

  private enum Mode { NONE, KEY, FIELD }

  public static void main(String[] args) {
    System.exit(new CommandLine(new IngestBenchmark()).execute(args));
  }

  private static StreamSpec spec(String name, int partitions, boolean idField) {
    StreamSpec.Builder b = StreamSpec.builder(name).partitions(partitions).key("user").time("ts")
        .field("user", FieldType.STRING).field("txn", FieldType.STRING).field("amount", FieldType.DOUBLE)
        .field("ts", FieldType.TIMESTAMP);
    return (idField ? b.id("txn") : b).build();
  }

  @Override
  public Integer call() throws IOException {
    if (events < 1 || batch < 1 || partitions < 1 || runs < 1 || rebuildIds < 0) {
      throw new CommandLine.ParameterException(new CommandLine(this), "--events, --batch, --partitions and --runs "
          + "must be positive, --rebuild-ids at least 0");
    }
    PrintStream out = System.out;
    Path root = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("braid-ingest-bench");
    out.printf("load average before: %s%n", Files.readString(Path.of("/proc/loadavg")).strip());
    try (FileLog log = FileLog.open(root.resolve("log"))) {
      out.printf("%-28s %14s %24s%n", "ingestText, 1 thread", "events/s", "range");
      for (Mode mode : Mode.values()) {
        String name = "bench_" + mode.name().toLowerCase(Locale.ROOT);
        LogStream stream = log.getOrCreateStream(name, StreamConfig.of(partitions));
        Ingestor ingestor = new Ingestor(spec(name, partitions, mode == Mode.FIELD), stream, System::currentTimeMillis);
        run(ingestor, mode, "warm", events / 4);
        double[] rates = new double[runs];
        for (int r = 0; r < runs; r++) {
          rates[r] = run(ingestor, mode, "r" + r, events);
        }
        Arrays.sort(rates);
        out.printf("%-28s %,14.0f %,11.0f - %,10.0f%n", label(mode), rates[runs / 2], rates[0], rates[runs - 1]);
      }
      if (rebuildIds > 0) {
        measureRebuild(log, out);
      }
    } finally {
      if (dir == null) {
        try (var paths = Files.walk(root)) {
          paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
    out.printf("load average after: %s%n", Files.readString(Path.of("/proc/loadavg")).strip());
    return 0;
  }

  private static String label(Mode mode) {
    switch (mode) {
      case NONE:
        return "no ids";
      case KEY:
        return "Idempotency-Key per request";
      default:
        return "id field (id: txn)";
    }
  }

  /** Ingests {@code n} new events in requests of {@code --batch}; returns events/s over the ingest calls. */
  private double run(Ingestor ingestor, Mode mode, String run, int n) {
    long nanos = 0;
    List<String> request = new ArrayList<>(batch);
    StringBuilder sb = new StringBuilder(128);
    for (int first = 0; first < n; first += batch) {
      request.clear();
      int count = Math.min(batch, n - first);
      for (int i = first; i < first + count; i++) {
        sb.setLength(0);
        sb.append("{\"user\":\"u").append(i % 100_000).append("\",\"txn\":\"").append(run).append('-').append(i)
            .append("\",\"amount\":").append(i % 1000).append(".5,\"ts\":1700000000000}");
        request.add(sb.toString());
      }
      String key = mode == Mode.KEY ? run + "-" + first : null;
      long t0 = System.nanoTime();
      IngestResult r = ingestor.ingestText(request, null, key);
      nanos += System.nanoTime() - t0;
      if (r.accepted() != count || r.duplicates() != 0) {
        throw new IllegalStateException("request " + key + " of run " + run + ": " + r.accepted() + " accepted, "
            + r.duplicates() + " duplicates; expected " + count + " new");
      }
    }
    return n / (nanos / 1e9);
  }

  private void measureRebuild(FileLog log, PrintStream out) {
    LogStream stream = log.getOrCreateStream("rebuild", StreamConfig.of(partitions));
    RecordBatchBuilder b = new RecordBatchBuilder(1 << 20, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    byte[] value = new byte[60];
    long now = System.currentTimeMillis();
    for (long i = 0; i < rebuildIds; ) {
      b.clear();
      for (int k = 0; k < 1000 && i < rebuildIds; k++, i++) {
        byte[] key = ("u" + (i % 100_000)).getBytes(StandardCharsets.UTF_8);
        // the ids a request of 1,000 events with an idempotency key gets: K#i/n
        byte[] id = ("req-" + (i / 1000) + "#" + (i % 1000) + "/1000").getBytes(StandardCharsets.UTF_8);
        b.add(key, 0, key.length, id, 0, id.length, value, 0, value.length, now, now);
      }
      stream.append((int) ((i / 1000) % partitions), b);
    }
    stream.flush();
    double[] seconds = new double[runs];
    long entries = 0;
    long tableBytes = 0;
    long heapBytes = 0;
    for (int r = 0; r < runs; r++) {
      Ingestor ingestor = null;
      System.gc();
      long heap0 = usedHeap();
      long t0 = System.nanoTime();
      ingestor = new Ingestor(spec("rebuild", partitions, false), stream, System::currentTimeMillis);
      entries = ingestor.rebuildDedupIndex();
      seconds[r] = (System.nanoTime() - t0) / 1e9;
      System.gc();
      heapBytes = usedHeap() - heap0;
      tableBytes = ingestor.dedupMemoryBytes();
      long keys = (rebuildIds + 999) / 1000; // each request's key has an entry of its own beside its ids
      if (entries != rebuildIds || ingestor.dedupEntries() != rebuildIds + keys) {
        throw new IllegalStateException("rebuilt " + entries + " ids and " + ingestor.dedupEntries() + " entries; "
            + "expected " + rebuildIds + " ids and " + (rebuildIds + keys) + " entries (with the requests' keys)");
      }
    }
    Arrays.sort(seconds);
    out.printf("dedup index rebuild: %,d ids in %.2f s (median of %d; %.2f - %.2f s), %,.1f M ids/s; "
        + "tables %,d bytes = %.1f B/id (its request key's entry included), heap growth %.1f B/id%n", entries, seconds[runs / 2], runs, seconds[0],
        seconds[runs - 1], entries / seconds[runs / 2] / 1e6, tableBytes, tableBytes / (double) entries,
        heapBytes / (double) entries);
  }

  private static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }
}
