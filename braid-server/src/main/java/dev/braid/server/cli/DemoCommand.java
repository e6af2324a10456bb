package dev.braid.server.cli;

import dev.braid.server.demo.SalesDemo;
import dev.braid.server.demo.SalesDemo.Report;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.LongConsumer;
import java.util.stream.Stream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code braid demo}: generate retail sales into an embedded log, read them back, say how fast. */
@Command(
    name = "demo",
    header = "Generate retail sales events into an embedded log, read them back, report how fast.",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = "Generates retail sales events (seeded: every run writes the same events) into stream "
        + "'sales' (4 partitions, durability os) of an embedded log, reads them back with one reader per "
        + "partition, and prints what was written and how fast.")
final class DemoCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--events", paramLabel = "N", defaultValue = "500000",
      description = "Events to generate (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--data", paramLabel = "DIR",
      description = "Data directory to use and keep; the log goes to DIR/log. Default: a temporary directory, deleted on exit.")
  Path data;

  @Option(names = "--keep", description = "Keep the temporary data directory.")
  boolean keep;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
      description = "Seed of the event generator (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--json", description = "Print the summary as JSON on stdout.")
  boolean json;

  @Option(names = "--no-progress", negatable = false, description = "Do not show a progress bar.")
  boolean noProgress;

  @Override
  public Integer call() throws IOException {
    if (events < 0) {
      throw new ParameterException(spec.commandLine(), "--events must be 0 or more, got " + events);
    }
    boolean temporary = data == null;
    Path dataDir = temporary ? Files.createTempDirectory("braid-demo-") : data.toAbsolutePath();
    try {
      Report report;
      LazyBar bar = new LazyBar();
      try {
        report = SalesDemo.run(dataDir.resolve("log"), events, seed, noProgress ? n -> { } : bar);
      } finally {
        bar.close();
      }
      PrintWriter out = spec.commandLine().getOut();
      boolean kept = !temporary || keep;
      out.print(json ? toJson(report, dataDir, kept) : toText(report, dataDir, temporary, kept));
      out.flush();
      return 0;
    } finally {
      if (temporary && !keep) {
        deleteRecursively(dataDir);
      }
    }
  }

  /** Starts the bar at the first report (after the log is open, so its log lines come first). */
  private final class LazyBar implements LongConsumer {
    private ProgressBar bar;

    @Override
    public void accept(long done) {
      if (bar == null) {
        bar = progressBar();
      }
      bar.stepTo(done);
    }

    void close() {
      if (bar != null) {
        bar.close();
      }
    }
  }

  private ProgressBar progressBar() {
    ProgressBarBuilder b = new ProgressBarBuilder()
        .setTaskName("sales")
        .setInitialMax(events)
        .setUnit(" events", 1)
        .showSpeed(new java.text.DecimalFormat("#,##0"));
    if (System.console() != null) {
      b.setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUpdateIntervalMillis(100)
          .setConsumer(new ConsoleProgressBarConsumer(System.err));
    } else {
      // Not a terminal (a pipe, a CI log, a test): ASCII lines into the command's error writer, one a
      // second, with a fixed width so no terminal probing happens.
      b.setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000)
          .setConsumer(new LineConsumer(spec.commandLine().getErr(), 100));
    }
    return b.build();
  }

  // -------------------------------------------------------------------------------------------
  // Output

  static String toText(Report r, Path dataDir, boolean temporary, boolean kept) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "Wrote %,d retail sales events to stream '%s' (%d partitions, durability %s) in %.2f s%n",
        r.events(), r.stream(), r.partitions(), r.durability(), r.writeSeconds()));
    sb.append(String.format(Locale.ROOT, "  rate        %,.0f events/s, %.1f MB/s (generated and appended, batches of %d)%n",
        perSecond(r.events(), r.writeSeconds()), perSecond(r.recordBytes(), r.writeSeconds()) / 1e6,
        SalesDemo.BATCH_RECORDS));
    sb.append(String.format(Locale.ROOT, "  end cut     %s  (next offset of each partition)%n", r.cut()));
    sb.append(String.format(Locale.ROOT, "  on disk     %.1f MB (%,d bytes) in %s%n", r.diskBytes() / 1e6, r.diskBytes(),
        r.logDir()));
    if (r.events() > 0) {
      sb.append(String.format(Locale.ROOT, "  event time  %s .. %s%n", Instant.ofEpochMilli(r.minEventTime()),
          Instant.ofEpochMilli(r.maxEventTime())));
    }
    SalesDemo.ScanReport s = r.scan();
    sb.append(String.format(Locale.ROOT, "Read back %,d events with %d readers (one per partition) in %.2f s: %,.0f events/s, %.1f MB/s%n",
        s.events(), s.readers(), s.seconds(), perSecond(s.events(), s.seconds()),
        perSecond(s.recordBytes(), s.seconds()) / 1e6));
    if (!temporary) {
      sb.append("Data: ").append(dataDir).append(System.lineSeparator());
    } else if (kept) {
      sb.append("Data: ").append(dataDir).append(" (kept; delete it when done)").append(System.lineSeparator());
    } else {
      sb.append("Data: ").append(dataDir)
          .append(" (temporary, deleted on exit; --data DIR or --keep keeps it)").append(System.lineSeparator());
    }
    return sb.toString();
  }

  static String toJson(Report r, Path dataDir, boolean kept) {
    SalesDemo.ScanReport s = r.scan();
    StringBuilder sb = new StringBuilder("{");
    field(sb, "stream").append(quote(r.stream())).append(',');
    field(sb, "partitions").append(r.partitions()).append(',');
    field(sb, "durability").append(quote(r.durability().toString())).append(',');
    field(sb, "events").append(r.events()).append(',');
    field(sb, "endOffsets").append(r.cut()).append(',');
    field(sb, "recordBytes").append(r.recordBytes()).append(',');
    field(sb, "diskBytes").append(r.diskBytes()).append(',');
    field(sb, "writeSeconds").append(number(r.writeSeconds())).append(',');
    field(sb, "eventsPerSecond").append(number(perSecond(r.events(), r.writeSeconds()))).append(',');
    field(sb, "mbPerSecond").append(number(perSecond(r.recordBytes(), r.writeSeconds()) / 1e6)).append(',');
    field(sb, "minEventTime").append(r.minEventTime()).append(',');
    field(sb, "maxEventTime").append(r.maxEventTime()).append(',');
    field(sb, "scan").append('{');
    field(sb, "readers").append(s.readers()).append(',');
    field(sb, "events").append(s.events()).append(',');
    field(sb, "seconds").append(number(s.seconds())).append(',');
    field(sb, "eventsPerSecond").append(number(perSecond(s.events(), s.seconds()))).append(',');
    field(sb, "mbPerSecond").append(number(perSecond(s.recordBytes(), s.seconds()) / 1e6)).append("},");
    field(sb, "logDir").append(quote(r.logDir().toString())).append(',');
    field(sb, "dataDir").append(quote(dataDir.toString())).append(',');
    field(sb, "kept").append(kept);
    return sb.append('}').append(System.lineSeparator()).toString();
  }

  private static double perSecond(long amount, double seconds) {
    return seconds > 0 ? amount / seconds : 0;
  }

  private static StringBuilder field(StringBuilder sb, String name) {
    return sb.append('"').append(name).append("\":");
  }

  private static String number(double d) {
    return Double.isFinite(d) ? String.format(Locale.ROOT, "%.3f", d) : "null";
  }

  static String quote(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  private static void deleteRecursively(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete the temporary data directory " + dir, e);
    }
  }

  /** Renders the progress bar as lines (no carriage returns), skipping repeats of the last line. */
  private static final class LineConsumer implements ProgressBarConsumer {
    private final PrintWriter err;
    private final int width;
    private String last = "";

    LineConsumer(PrintWriter err, int width) {
      this.err = err;
      this.width = width;
    }

    @Override
    public int getMaxRenderedLength() {
      return width;
    }

    @Override
    public void accept(String rendered) {
      String line = rendered.length() > width ? rendered.substring(0, width) : rendered;
      if (!line.equals(last)) {
        err.println(line.stripTrailing());
        err.flush();
        last = line;
      }
    }

    @Override
    public void close() {
      err.flush();
    }
  }
}
