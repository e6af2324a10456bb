package dev.braid.server.cli;

import dev.braid.server.demo.SalesEventGenerator;
import dev.braid.server.demo.TransactionGenerator;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code braid generate sales|transactions}: the demo's seeded generators as NDJSON on stdout, so
 * they feed any server: {@code braid generate sales --rate 50000 --count 1000000 | braid ingest sales -}.
 */
@Command(
    name = "generate",
    header = "Write the demo's seeded retail events as NDJSON to stdout.",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {"Writes events of the bundled retail example (stream 'sales' or 'transactions') as one JSON "
        + "object per line. With --rate the events are paced and stamped with the wall clock, as a live feed; "
        + "without it they are written as fast as possible, their event times starting 24 hours ago (or "
        + "at --start), each a few milliseconds after the one before.",
        "Example:", "  braid generate sales --rate 50000 --count 1000000 | braid ingest sales -"})
final class GenerateCommand implements Callable<Integer> {

  enum Kind { sales, transactions }

  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "STREAM", description = "sales or transactions.")
  Kind kind;

  @Option(names = "--count", paramLabel = "N", defaultValue = "100000",
      description = "Events to write; 0 for no end (default: ${DEFAULT-VALUE}).")
  long count;

  @Option(names = "--rate", paramLabel = "N", defaultValue = "0",
      description = "Events per second; 0 for as fast as possible (default).")
  int rate;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
      description = "Seed: the same seed, count and start give the same events (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--start", paramLabel = "TIME",
      description = "Where event times start: epoch milliseconds, ISO-8601 (2026-12-01T08:00:00Z) or a date (its "
          + "midnight UTC), as every time option; each event, the first too, is a few milliseconds after the one "
          + "before. Default: now with --rate, else 24 hours ago.")
  String start;

  @Override
  public Integer call() throws InterruptedException {
    if (count < 0) {
      throw new ParameterException(spec.commandLine(), "--count must be 0 (no end) or more, got " + count);
    }
    if (rate < 0) {
      throw new ParameterException(spec.commandLine(), "--rate must be 0 (as fast as possible) or more, got " + rate);
    }
    Long from = start == null ? null : TimeOption.parse(spec.commandLine(), "--start", start);
    long now = System.currentTimeMillis();
    long first = from != null ? from : rate > 0 ? now : now - TimeUnit.HOURS.toMillis(24);
    Supplier<String> next = generator(first);
    // picocli's writer flushes at every println: a write(2) per event was a third of the command's
    // CPU. Lines are gathered and written a few kilobytes at a time, each flush whole lines only and
    // less than the writers' 8 KiB buffers below, so that each reaches the output in one write(2)
    // and a run cut off by a signal (`timeout 3 braid generate ...`) leaves no half line behind.
    PrintWriter out = spec.commandLine().getOut();
    StringBuilder lines = new StringBuilder(CHUNK_CHARS + 1024);
    long tick = TimeUnit.MILLISECONDS.toNanos(10);
    double perTick = rate / 100.0;
    double owed = 0;
    long deadline = System.nanoTime();
    for (long written = 0; count == 0 || written < count; ) {
      long n = count == 0 ? 1000 : Math.min(1000, count - written);
      if (rate > 0) {
        owed += perTick;
        n = Math.min(n, (long) owed);
        owed -= n;
      }
      for (long i = 0; i < n; i++) {
        String line = next.get();
        if (lines.length() + line.length() + 1 > CHUNK_CHARS) {
          writeWhole(out, lines);
        }
        lines.append(line).append('\n');
      }
      written += n;
      writeWhole(out, lines);
      if (BraidCli.readerGone(out)) {
        return 0; // the reader went away (e.g. `| head`): stop quietly
      }
      if (rate > 0) {
        deadline += tick;
        long wait = deadline - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
      }
    }
    return 0;
  }

  /** Characters of whole lines written at once: under the 8 KiB buffers of the writers below picocli's. */
  private static final int CHUNK_CHARS = 7 << 10;

  /** Writes {@code lines} (whole lines) and flushes them through to the output; empties {@code lines}. */
  private static void writeWhole(PrintWriter out, StringBuilder lines) {
    if (lines.length() > 0) {
      out.append(lines);
      out.flush();
      lines.setLength(0);
    }
  }

  private Supplier<String> generator(long first) {
    return switch (kind) {
      case sales -> {
        SalesEventGenerator g = new SalesEventGenerator(seed, first,
            rate > 0 ? 1000.0 / rate : SalesEventGenerator.DEFAULT_MEAN_GAP_MILLIS);
        yield g::nextLine;
      }
      case transactions -> {
        TransactionGenerator g = new TransactionGenerator(seed, first,
            rate > 0 ? 1000.0 / rate : TransactionGenerator.DEFAULT_MEAN_GAP_MILLIS);
        yield g::next;
      }
    };
  }
}
