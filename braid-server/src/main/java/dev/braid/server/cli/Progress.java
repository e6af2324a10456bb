package dev.braid.server.cli;

import java.io.PrintWriter;
import java.text.DecimalFormat;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress bars for long commands: a live bar on a terminal; on a pipe, a CI log or in a test,
 * plain lines without a bar (one a second, {@link LineRenderer}) into the command's error writer.
 */
final class Progress {

  private Progress() {}

  /** A bar counting {@code unit}s up to {@code max} (-1 when the total is unknown), with a rate. */
  static ProgressBar bar(String task, long max, String unit, PrintWriter err) {
    return bar(task, max, unit, 1, err);
  }

  /** As above, counting in units of {@code scale} (e.g. MiB of bytes: {@code "MiB", 1 << 20}). */
  static ProgressBar bar(String task, long max, String unit, long scale, PrintWriter err) {
    return bar(task, max, unit, scale, err, 0, java.time.Duration.ZERO);
  }

  /**
   * As above, for work that began before the bar (a rollback found replaying at the command's first
   * look): the bar starts at {@code done} units, which took {@code elapsed}, and its rate counts only
   * what moves while it is drawn, where counting {@code done} as the work of the bar's first frame
   * showed an absurd rate.
   */
  static ProgressBar bar(String task, long max, String unit, long scale, PrintWriter err, long done,
      java.time.Duration elapsed) {
    ProgressBarBuilder b = new ProgressBarBuilder()
        .startsFrom(done, elapsed)
        .setTaskName(task)
        .setInitialMax(max)
        .setUnit(" " + unit, scale)
        .showSpeed(new DecimalFormat("#,##0"))
        .continuousUpdate(); // also when only the message moves (a reprocess's phase and lag while its count stands)
    if (stderrIsTerminal()) {
      b.setStyle(ProgressBarStyle.UNICODE_BLOCK).setUpdateIntervalMillis(100)
          .setConsumer(new LiveConsumer(System.err, terminalColumns()));
    } else {
      b.setRenderer(new LineRenderer(unit, scale)).setUpdateIntervalMillis(1000)
          .setConsumer(new LineConsumer(err, LineRenderer.MAX_LENGTH));
    }
    return b.build();
  }

  /**
   * Whether standard error, where the live bar draws, is a terminal. {@code System.console()} only
   * tells about standard input and output, so {@code braid ingest FILE 2>log} on a terminal used to
   * fill the log with carriage returns. On Linux, what {@code /proc/self/fd/2} links to tells; elsewhere
   * the console is the best guess. The launcher, which knows before its filter of standard error
   * (see {@code ./braid}) makes it a pipe, says so in the system property {@code braid.stderr.terminal}.
   */
  static boolean stderrIsTerminal() {
    String told = System.getProperty("braid.stderr.terminal");
    if (told != null) {
      return Boolean.parseBoolean(told);
    }
    try {
      return isTerminalDevice(java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/2")).toString());
    } catch (java.io.IOException | UnsupportedOperationException | SecurityException e) {
      return System.console() != null;
    }
  }

  /** Whether {@code device} (a file descriptor's link target) is a terminal: a pseudo-terminal or a tty. */
  static boolean isTerminalDevice(String device) {
    return device.startsWith("/dev/pts/") || device.startsWith("/dev/tty") || device.equals("/dev/console");
  }

  /**
   * The width of the terminal on standard error: the launcher's {@code braid.stderr.columns} (from
   * {@code stty size}), else {@code COLUMNS}, else 100; at least 40.
   */
  static int terminalColumns() {
    String told = System.getProperty("braid.stderr.columns", System.getenv("COLUMNS"));
    try {
      return told == null ? 100 : Math.max(40, Integer.parseInt(told.strip()));
    } catch (NumberFormatException e) {
      return 100;
    }
  }

  /** A consumer that renders at most {@code width} characters a line. */
  abstract static class FixedWidth implements ProgressBarConsumer {
    private final int width;

    FixedWidth(int width) {
      this.width = width;
    }

    @Override
    public int getMaxRenderedLength() {
      return width;
    }

    /** {@code rendered}, cut to the width. */
    String cut(String rendered) {
      return rendered.length() > width ? rendered.substring(0, width) : rendered;
    }
  }

  /**
   * Draws the bar in place on a terminal: a carriage return, the line, and spaces over what was
   * longer before. The library's own console consumer asks JLine for the terminal's width, and
   * JLine's terminal takes over SIGINT: Ctrl-C then killed the JVM without its shutdown hooks, so
   * without the notice that says what goes on in the server ({@link InterruptNotice}).
   */
  static final class LiveConsumer extends FixedWidth {
    private final java.io.PrintStream err;
    private int lastLength;

    LiveConsumer(java.io.PrintStream err, int columns) {
      super(columns - 1); // the last column would wrap on some terminals
      this.err = err;
    }

    @Override
    public void accept(String rendered) {
      String line = cut(rendered);
      int shown = line.codePointCount(0, line.length());
      err.print("\r" + line + " ".repeat(Math.max(0, lastLength - shown)));
      err.flush();
      lastLength = shown;
    }

    @Override
    public void close() {
      err.println();
      err.flush();
    }
  }

  /**
   * Renders the progress off a terminal as a sentence, not a bar, so that nothing a log reader wants
   * is cut to a width: {@code ingest sales: 1,200,000 events, 0:00:08, 150,000 events/s} and, when the
   * total is known, {@code push users: 40,960 of 102,400 KiB (40 %), 0:00:02, 20,480 KiB/s, about 0:00:03
   * left}.
   */
  static final class LineRenderer implements me.tongfei.progressbar.ProgressBarRenderer {
    /** Longer than any line this renders, so the consumer never cuts one. */
    static final int MAX_LENGTH = 1_000;

    private final String unit;
    private final long scale;
    /** What the last line said, and the line: while nothing of it changed, the same line again. */
    private long lastCurrent = -1;
    private long lastMax;
    private String lastExtra;
    private String lastLine;

    LineRenderer(String unit, long scale) {
      this.unit = unit;
      this.scale = scale;
    }

    /**
     * The line for {@code state}; the last line again while its count, total and message are the
     * same (so {@link LineConsumer} skips it: a line a second that only the clock moved is noise).
     */
    @Override
    public String render(me.tongfei.progressbar.ProgressState state, int maxLength) {
      long current = state.getCurrent();
      long max = state.isIndefinite() ? -1 : state.getMax();
      String extra = state.getExtraMessage();
      if (lastLine != null && current == lastCurrent && max == lastMax && java.util.Objects.equals(extra, lastExtra)) {
        return lastLine;
      }
      lastCurrent = current;
      lastMax = max;
      lastExtra = extra;
      lastLine = line(state, current, max, extra);
      return lastLine;
    }

    private String line(me.tongfei.progressbar.ProgressState state, long current, long max, String extra) {
      java.time.Duration elapsed = state.getElapsedAfterStart();
      StringBuilder line = new StringBuilder(String.valueOf(state.getTaskName())).append(": ").append(count(current));
      if (max > 0) {
        line.append(" of ").append(count(max)).append(' ').append(unit)
            .append(String.format(java.util.Locale.ROOT, " (%d %%)", Math.min(100, current * 100 / max)));
      } else {
        line.append(' ').append(unit);
      }
      line.append(", ").append(clock(state.getTotalElapsed())); // the work's time, from before the bar too
      long millis = elapsed.toMillis();
      long done = current - state.getStart();
      if (millis > 0 && done > 0) {
        double perSecond = done * 1000.0 / millis;
        line.append(", ").append(count((long) perSecond)).append(' ').append(unit).append("/s");
        if (max > current) {
          line.append(", about ").append(clock(java.time.Duration.ofMillis((long) ((max - current) * 1000.0 / perSecond))))
              .append(" left");
        }
      }
      if (extra != null && !extra.isBlank()) {
        line.append(", ").append(extra.strip());
      }
      return line.toString();
    }

    private String count(long units) {
      return String.format(java.util.Locale.ROOT, "%,d", units / scale);
    }

    private static String clock(java.time.Duration d) {
      long s = d.getSeconds();
      return String.format(java.util.Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
  }

  /** Writes the progress as lines (no carriage returns), skipping a repeat of the last line. */
  static final class LineConsumer extends FixedWidth {
    private final PrintWriter err;
    private String last = "";

    LineConsumer(PrintWriter err, int width) {
      super(width);
      this.err = err;
    }

    @Override
    public void accept(String rendered) {
      String line = cut(rendered);
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
