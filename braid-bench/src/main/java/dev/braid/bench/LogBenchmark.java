package dev.braid.bench;

import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * End-to-end benchmark of the embedded log ({@link FileLog}) on a fresh directory, against the
 * goals of DESIGN.md. Run it with {@code ./braid bench log} (or {@code java -cp ... dev.braid.bench.LogBenchmark}).
 *
 * <p>Cases, each on a fresh log, every record {@value BenchRecords#RECORD_BYTES} bytes in its batch
 * (16-byte key, 60-byte value, 24-byte record header):
 *
 * <ul>
 *   <li>{@code os}, {@code interval}, {@code fsync}: one writer appends batches of 1000 records to a
 *       one-partition stream with that durability; the time includes building the batches.
 *   <li>{@code group}: 8 threads append small batches (100 records) to one {@code fsync} partition
 *       at once, so acknowledgements wait for group-committed fsyncs; ack latency is the time of one
 *       {@code append} call.
 *   <li>{@code scan}: one reader reads a partition of {@code --events} records from offset 0 to the
 *       end (the files are in the page cache, as right after they were written), touching each
 *       record's offset, times, key and value lengths and first key byte.
 * </ul>
 *
 * Each case runs {@code --warmup} unmeasured iterations and then {@code --iterations} measured ones;
 * the table shows the median events/s with the range over the measured iterations, and ack latency
 * percentiles over all measured appends. MB are 10^6 bytes of records.
 */
@Command(
    name = "braid bench log",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
        "Benchmarks the embedded log on a fresh temporary directory: append of 100-byte records by one",
        "writer for each durability mode, fsync with concurrent appenders (group commit), and a full",
        "scan by one reader; prints events/s, MB/s and ack latency against Braid's goals."})
public final class LogBenchmark implements Callable<Integer> {

  /** The cases, in the order they run and print. */
  enum Case {
    OS("append os, 1 writer", "os"),
    INTERVAL("append interval:100, 1 writer", "interval:100"),
    FSYNC("append fsync, 1 writer", "fsync"),
    GROUP("append fsync, %d appenders", "fsync"),
    SCAN("scan, 1 reader", "os");

    final String label;
    final String durability;

    Case(String label, String durability) {
      this.label = label;
      this.durability = durability;
    }
  }

  @Option(names = "--events", paramLabel = "N", defaultValue = "10000000",
      description = "Records per iteration of the one-writer cases and the scan (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--group-events", paramLabel = "N", defaultValue = "2000000",
      description = "Records per iteration of the concurrent fsync case (default: ${DEFAULT-VALUE}).")
  long groupEvents;

  @Option(names = "--iterations", paramLabel = "N", defaultValue = "3",
      description = "Measured iterations per case (default: ${DEFAULT-VALUE}).")
  int iterations;

  @Option(names = "--warmup", paramLabel = "N", defaultValue = "1",
      description = "Unmeasured warm-up iterations per case (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "1000",
      description = "Records per batch of the one-writer cases (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--appenders", paramLabel = "N", defaultValue = "8",
      description = "Threads of the concurrent fsync case (default: ${DEFAULT-VALUE}).")
  int appenders;

  @Option(names = "--appender-batch", paramLabel = "N", defaultValue = "100",
      description = "Records per batch in the concurrent fsync case (default: ${DEFAULT-VALUE}).")
  int appenderBatch;

  @Option(names = "--segment-mb", paramLabel = "MB",
      description = "Segment size in MiB (default: the log's default, "
          + (StreamConfig.DEFAULT_SEGMENT_BYTES >> 20) + ").")
  Long segmentMb;

  @Option(names = "--cases", paramLabel = "CASE", split = ",",
      description = "Cases to run, comma-separated, from: os, interval, fsync, group, scan (default: all).")
  Set<String> cases;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary log directories (default: java.io.tmpdir).")
  Path dir;

  private final PrintStream out = System.out;
  private final BenchRecords records = new BenchRecords(42);
  private final List<String> problems = new ArrayList<>();

  public static void main(String[] args) {
    System.exit(new CommandLine(new LogBenchmark()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    validate();
    Set<Case> selected = selectedCases();
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-log-");
    try {
      printHeader(root);
      List<Result> results = new ArrayList<>();
      for (Case c : selected) {
        results.add(run(c, root));
      }
      printTable(results);
      return 0;
    } finally {
      deleteRecursively(root);
    }
  }

  private void validate() {
    CommandLine cl = new CommandLine(this);
    if (events < 1 || groupEvents < 1 || iterations < 1 || warmup < 0 || batch < 1 || appenders < 1
        || appenderBatch < 1 || (segmentMb != null && segmentMb < 1)) {
      throw new CommandLine.ParameterException(cl,
          "--events, --group-events, --iterations, --batch, --appenders, --appender-batch and --segment-mb must be"
              + " positive, --warmup 0 or more");
    }
  }

  private Set<Case> selectedCases() {
    if (cases == null || cases.isEmpty()) {
      return EnumSet.allOf(Case.class);
    }
    Set<Case> out = EnumSet.noneOf(Case.class);
    for (String name : cases) {
      try {
        out.add(Case.valueOf(name.strip().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(new CommandLine(this),
            "unknown case '" + name + "': expected os, interval, fsync, group or scan");
      }
    }
    return out;
  }

  private StreamConfig config(String durability) {
    StreamConfig c = StreamConfig.of(1).withDurability(Durability.parse(durability));
    return segmentMb == null ? c : c.withSegmentBytes(segmentMb << 20);
  }

  // -------------------------------------------------------------------------------------------
  // Running cases

  /** One measured iteration. */
  record Sample(long events, double seconds) {
    double eventsPerSecond() {
      return events / seconds;
    }
  }

  /** A case's measured iterations and the latency of all their appends (null for the scan). */
  record Result(Case c, String label, long events, List<Sample> samples, Histogram latency) {
    double median() {
      double[] r = samples.stream().mapToDouble(Sample::eventsPerSecond).sorted().toArray();
      return r.length % 2 == 1 ? r[r.length / 2] : (r[r.length / 2 - 1] + r[r.length / 2]) / 2;
    }

    double min() {
      return samples.stream().mapToDouble(Sample::eventsPerSecond).min().orElse(0);
    }

    double max() {
      return samples.stream().mapToDouble(Sample::eventsPerSecond).max().orElse(0);
    }
  }

  private Result run(Case c, Path root) throws Exception {
    String label = c == Case.GROUP ? String.format(c.label, appenders) : c.label;
    long n = c == Case.GROUP ? groupEvents : events;
    Histogram latency = c == Case.SCAN ? null : newHistogram();
    List<Sample> samples = new ArrayList<>();
    if (c == Case.SCAN) {
      Path d = Files.createDirectory(root.resolve("scan"));
      FileLog log = FileLog.open(d);
      try {
        LogStream s = log.createStream("bench", config(c.durability));
        appendOneWriter(s, n, null);
        s.flush();
        for (int i = 0; i < warmup + iterations; i++) {
          Sample sample = scan(s, n);
          report(label, i, sample);
          if (i >= warmup) {
            samples.add(sample);
          }
        }
      } finally {
        close(log, label);
        deleteRecursively(d);
      }
      return new Result(c, label, n, samples, null);
    }
    for (int i = 0; i < warmup + iterations; i++) {
      Path d = Files.createDirectory(root.resolve(c.name().toLowerCase(Locale.ROOT) + "-" + i));
      Histogram h = newHistogram();
      Sample sample;
      FileLog log = FileLog.open(d);
      try {
        LogStream s = log.createStream("bench", config(c.durability));
        sample = c == Case.GROUP ? appendConcurrently(s, n, h) : appendOneWriter(s, n, h);
      } finally {
        close(log, label);
        deleteRecursively(d);
      }
      report(label, i, sample);
      if (i >= warmup) {
        samples.add(sample);
        latency.add(h);
      }
    }
    return new Result(c, label, n, samples, latency);
  }

  /**
   * Closes a log after its measurements are taken. A failure to close is a finding to report, not a
   * reason to lose the figures, so it is noted and printed under the table.
   */
  private void close(FileLog log, String label) {
    try {
      log.close();
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      problems.add(String.format("%s: closing the log failed: %s (cause: %s)", label, e.getMessage(), root));
    }
  }

  private void report(String label, int iteration, Sample s) {
    out.printf(Locale.ROOT, "  %-30s %s %d: %,12.0f events/s  %7.1f MB/s  (%.2f s)%n", label,
        iteration < warmup ? "warm-up  " : "iteration", iteration < warmup ? iteration + 1 : iteration - warmup + 1,
        s.eventsPerSecond(), s.eventsPerSecond() * BenchRecords.RECORD_BYTES / 1e6, s.seconds());
    out.flush();
  }

  private static Histogram newHistogram() {
    return new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
  }

  /** One thread appends {@code n} records in batches of {@link #batch} to partition 0. */
  private Sample appendOneWriter(LogStream s, long n, Histogram latency) {
    RecordBatchBuilder b = new RecordBatchBuilder(batch * (BenchRecords.RECORD_BYTES + 8) + 4096,
        s.config().maxRecordBytes());
    long start = System.nanoTime();
    for (long i = 0; i < n; ) {
      int count = (int) Math.min(batch, n - i);
      records.addTo(b, i, count, System.currentTimeMillis());
      long t0 = System.nanoTime();
      s.append(0, b);
      if (latency != null) {
        latency.recordValue(System.nanoTime() - t0);
      }
      b.clear();
      i += count;
    }
    return new Sample(n, (System.nanoTime() - start) / 1e9);
  }

  /** {@link #appenders} threads append {@code n} records in all, batches of {@link #appenderBatch}, to partition 0. */
  private Sample appendConcurrently(LogStream s, long n, Histogram latency) throws InterruptedException {
    CountDownLatch ready = new CountDownLatch(appenders);
    CountDownLatch go = new CountDownLatch(1);
    Histogram[] perThread = new Histogram[appenders];
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread[] threads = new Thread[appenders];
    long perAppender = n / appenders;
    for (int t = 0; t < appenders; t++) {
      int id = t;
      long first = id * perAppender;
      long count = id == appenders - 1 ? n - first : perAppender;
      perThread[t] = newHistogram();
      threads[t] = new Thread(() -> {
        RecordBatchBuilder b = new RecordBatchBuilder(appenderBatch * (BenchRecords.RECORD_BYTES + 8) + 4096,
            s.config().maxRecordBytes());
        Histogram h = perThread[id];
        try {
          ready.countDown();
          go.await();
          for (long i = 0; i < count; ) {
            int k = (int) Math.min(appenderBatch, count - i);
            records.addTo(b, first + i, k, System.currentTimeMillis());
            long t0 = System.nanoTime();
            s.append(0, b);
            h.recordValue(System.nanoTime() - t0);
            b.clear();
            i += k;
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }, "appender-" + t);
      threads[t].start();
    }
    ready.await();
    long start = System.nanoTime();
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (failure.get() != null) {
      throw new IllegalStateException("an appender failed", failure.get());
    }
    for (Histogram h : perThread) {
      latency.add(h);
    }
    return new Sample(n, seconds);
  }

  /** Reads partition 0 from offset 0 to its end with one reader. */
  private static Sample scan(LogStream s, long expected) {
    long end = s.endOffset(0);
    long count = 0;
    long checksum = 0;
    long start = System.nanoTime();
    try (LogReader r = s.reader(0, 0)) {
      while (r.position() < end) {
        RecordCursor c = r.poll();
        while (c.next()) {
          count++;
          checksum += c.offset() ^ c.eventTime() ^ c.ingestTime() ^ c.keyLength() ^ c.valueLength()
              ^ c.buffer().get(c.keyOffset());
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (count != expected) {
      throw new IllegalStateException("scan read " + count + " records, expected " + expected);
    }
    if (checksum == 42) {
      System.out.print(""); // keeps the reads alive; practically never true
    }
    return new Sample(count, seconds);
  }

  // -------------------------------------------------------------------------------------------
  // Output

  private void printHeader(Path root) throws IOException {
    out.println("Braid log benchmark: FileLog, " + BenchRecords.RECORD_BYTES + "-byte records ("
        + BenchRecords.KEY_BYTES + " B key + " + BenchRecords.VALUE_BYTES + " B value + 24 B record header)");
    out.printf(Locale.ROOT, "  machine: %d CPUs, Java %s (%s), %s file system at %s%n",
        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
        System.getProperty("java.vm.name"), Files.getFileStore(root).type(), root);
    out.printf(Locale.ROOT, "  %d warm-up + %d measured iteration(s) per case; one-writer batches of %d, %d appenders x %d;"
            + " segments of %d MiB%n",
        warmup, iterations, batch, appenders, appenderBatch,
        (segmentMb == null ? StreamConfig.DEFAULT_SEGMENT_BYTES >> 20 : segmentMb));
    out.flush();
  }

  private void printTable(List<Result> results) {
    out.println();
    String fmt = "%-30s %11s %21s %8s %27s  %-34s %s%n";
    out.printf(Locale.ROOT, fmt, "case", "events", "events/s median (range)", "MB/s", "ack p50 / p99 / p99.9 (us)",
        "goal (peer on this machine kind)", "verdict");
    for (Result r : results) {
      String rate = String.format(Locale.ROOT, "%.2f M (%.2f-%.2f)", r.median() / 1e6, r.min() / 1e6, r.max() / 1e6);
      String mb = String.format(Locale.ROOT, "%.0f", r.median() * BenchRecords.RECORD_BYTES / 1e6);
      String lat = r.latency() == null ? "-" : String.format(Locale.ROOT, "%,.0f / %,.0f / %,.0f",
          r.latency().getValueAtPercentile(50) / 1e3, r.latency().getValueAtPercentile(99) / 1e3,
          r.latency().getValueAtPercentile(99.9) / 1e3);
      out.printf(Locale.ROOT, fmt, r.label(), String.format(Locale.ROOT, "%,d", r.events()), rate, mb, lat,
          goal(r.c()), verdict(r));
    }
    out.println();
    out.println("events/s: median of the measured iterations (min-max); MB/s: median x " + BenchRecords.RECORD_BYTES
        + " bytes; ack: latency of one append call over all measured iterations.");
    out.println("Goals and peer figures come from DESIGN.md; peers were measured on this machine kind, not in this run.");
    if (!problems.isEmpty()) {
      out.println();
      out.println("Problems seen (figures above are still valid: they were taken before):");
      for (String p : problems) {
        out.println("  - " + p);
      }
    }
    out.flush();
  }

  private static String goal(Case c) {
    return switch (c) {
      case OS -> ">= 3 M/s (Kafka producer 1.0 M/s)";
      case GROUP -> ">= 1 M/s, ack p99 <= 1 ms";
      case SCAN -> ">= 10 M/s (Kafka consumer 3.0 M/s)";
      default -> "-";
    };
  }

  private static String verdict(Result r) {
    double m = r.median();
    return switch (r.c()) {
      case OS -> meets(m >= 3e6, m / 3e6);
      case SCAN -> meets(m >= 10e6, m / 10e6);
      case GROUP -> {
        double p99 = r.latency().getValueAtPercentile(99) / 1e6;
        boolean ok = m >= 1e6 && p99 <= 1.0;
        yield ok ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of rate, p99 %.2f ms)", 100 * m / 1e6, p99);
      }
      default -> "-";
    };
  }

  private static String meets(boolean ok, double fraction) {
    return ok ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", 100 * fraction);
  }

  public static void deleteRecursively(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(q);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + p, e);
    }
  }
}
