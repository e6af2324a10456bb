package dev.braid.server.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid ingest STREAM FILE|-}: send events from NDJSON, a JSON array or CSV (with a header)
 * in batches, with a progress bar and a summary. Exits 0 when every event was accepted, 1 when the
 * server rejected some (they are in the stream's dead-letter log with their reasons).
 *
 * <p>Each batch is sent with an {@code Idempotency-Key} ({@code --key-prefix}, default a random one
 * per run, then {@code -<batch number>}) and sent again with the same key when it times out or the
 * connection fails, so a batch is never appended twice; running the command again with the same
 * {@code --key-prefix} after it failed part-way appends only what is missing (within the stream's
 * dedup window). A batch whose key an earlier run used for other events (another file or
 * {@code --batch}) is refused by the server (422), and the command stops saying so.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Send events to a stream of a running server (NDJSON, JSON array or CSV with a header).")
public final class IngestCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "STREAM", description = "the stream to ingest into (a name under streams: "
      + "of the server's spec)")
  String stream;

  @Parameters(index = "1", paramLabel = "FILE", description = "a file, or - for standard input")
  String file;

  @Option(names = "--format", paramLabel = "FORMAT", description = "ndjson, json or csv (default: from the file "
      + "name; ndjson for -)")
  String format;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "1000", description = "events per request, 1 to "
      + "100000 (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(names = "--no-progress", description = "do not show a progress bar")
  boolean noProgress;

  @Option(names = "--key-prefix", paramLabel = "PREFIX", description = "idempotency keys are PREFIX-1, PREFIX-2, "
      + "... per batch; give the prefix of an earlier run, with its FILE and --batch, to resume it without "
      + "duplicates (default: random)")
  String keyPrefix;

  @Option(names = "--attempts", paramLabel = "N", defaultValue = "5", description = "tries per batch when a request times out or the "
      + "connection fails, each with the same idempotency key; the first request, for the stream's fields, waits "
      + "up to 60 s for a server that is not listening yet, without using up tries. A server that answers it is starting (503) is asked "
      + "again for up to 10 minutes without using up tries (default: ${DEFAULT-VALUE})")
  int attempts;

  @Option(names = "--linger", defaultValue = "200", paramLabel = "MILLIS", description = "from standard input or a pipe only: "
      + "send a partial batch once its first event has waited this long, so a slow live feed is not held back "
      + "until --batch events have come (batches then depend on timing, so --key-prefix cannot resume such a run); "
      + "0 waits for full batches (default: ${DEFAULT-VALUE})")
  int lingerMillis;

  private long duplicates;
  /** CSV rows this command did not send (their cells do not match the header). */
  private long notSent;
  /** Events read but not appended because the run stopped: a failed request's, or those read after the last one. */
  private long unsent;

  /** The input cannot be read on (it is not what its format says) after some of it was read. */
  static final class BrokenInput extends BraidCli.CommandFailedException {
    BrokenInput(String message) {
      super(message, 1);
    }
  }

  private long accepted;
  private long rejected;
  /**
   * The first rejections in line order (at most {@link #SHOWN_REJECTIONS}): a CSV row refused here
   * is noted before the server answers for the rows before it. Keyed by line, then by the order they
   * were noted (the events of a JSON array written on one line share its line).
   */
  private final java.util.TreeMap<Long, String> firstRejections = new java.util.TreeMap<>();
  private int rejectionsNoted;
  private static final int SHOWN_REJECTIONS = 10;

  @Override
  public Integer call() throws IOException {
    try {
      return ingest();
    } finally { // disarmed only once the command has said everything: see interruptionReport
      if (onSignal != null) {
        onSignal.close();
      }
    }
  }

  /** Says how to resume when a signal stops the run; armed from the first request to the command's last word. */
  private InterruptNotice onSignal;

  private int ingest() throws IOException {
    if (batch < 1 || batch > 100_000) {
      throw new BraidCli.CommandFailedException("--batch must be in 1..100000, got " + batch, 2);
    }
    if (attempts < 1 || attempts > 100) {
      throw new BraidCli.CommandFailedException("--attempts must be in 1..100, got " + attempts, 2);
    }
    if (lingerMillis < 0) {
      throw new BraidCli.CommandFailedException("--linger must be 0 or more milliseconds, got " + lingerMillis, 2);
    }
    int timeoutSeconds = client.timeoutSeconds(60); // per batch: a lost one is sent again after it
    if (keyPrefix == null) {
      keyPrefix = java.util.UUID.randomUUID().toString();
    } else {
      String bad = keyPrefix.length() > 200 ? "is longer than 200 characters" : dev.braid.ingest.Ingestor
          .checkIdempotencyKey(keyPrefix);
      if (bad != null) {
        throw new BraidCli.CommandFailedException("--key-prefix " + bad, 2);
      }
    }
    String name = file.toLowerCase(Locale.ROOT);
    String fmt = format != null ? format.toLowerCase(Locale.ROOT)
        : name.endsWith(".csv") ? "csv" : name.endsWith(".json") ? "json" : "ndjson";
    if (!List.of("ndjson", "jsonl", "json", "csv").contains(fmt)) { // before any request or progress bar
      throw new BraidCli.CommandFailedException("unknown --format '" + format + "': use ndjson, json or csv", 2);
    }
    BraidClient http = new BraidClient(client.url, java.time.Duration.ofSeconds(timeoutSeconds));
    if (!client.json) { // with --json, standard error holds only a failure's JSON object
      http.noticesTo(command.commandLine().getErr());
    }
    long size = file.equals("-") ? -1 : sizeOf(Path.of(file)); // a missing file is named before any request
    // fails early for an unknown stream; a server started a moment ago (not listening yet) is waited for
    JsonNode schema = http.getRetrying("/v1/streams/" + BraidClient.enc(stream), attempts);
    PrintWriter out = command.commandLine().getOut();
    long t0 = System.nanoTime();
    ProgressBar bar = noProgress || client.json ? null : Progress.bar("ingest " + stream, -1, "events",
        command.commandLine().getErr());
    Sender sender = null;
    // a pipe through FileInputStream: a channel's stream seeks for available(), which a pipe refuses
    try (InputStream in = new Counting(file.equals("-") ? System.in
        : size < 0 ? new java.io.FileInputStream(file) : Files.newInputStream(Path.of(file)))) {
      sender = new Sender(http, bar, (Counting) in, size, size < 0 ? lingerMillis : 0); // a stream, perhaps live
      onSignal = interruptionReport(sender);
      switch (fmt) {
        case "ndjson":
        case "jsonl":
          readNdjson(in, sender);
          break;
        case "json":
          readJsonArray(in, sender);
          break;
        case "csv":
          readCsv(in, schema, sender);
          break;
        default:
          throw new BraidCli.CommandFailedException("unknown --format '" + format + "': use ndjson, json or csv", 2);
      }
      sender.finish();
      if (sender.added == 0 && notSent == 0) {
        // a wrong or truncated file must not pass for a load in scripts; the server refuses an empty body too
        throw new BraidCli.CommandFailedException(String.format("no events in %s (%s); nothing was sent",
            file.equals("-") ? "standard input" : file, fmt.equals("csv") ? "no rows after the header, or no header"
            : fmt.equals("json") ? "an empty array, or nothing" : "no lines but blank ones"), 1);
      }
      if (bar != null && size > 0) {
        bar.maxHint(bar.getCurrent()); // the estimate of a file's events was a guess: end at 100 %
      }
    } catch (BrokenInput e) {
      if (bar != null) {
        bar.close();
        bar = null;
      }
      if (sender.batches == 0) {
        throw new BraidCli.CommandFailedException(e.getMessage() + "; nothing was sent", 1);
      }
      unsent = sender.lines.size();
      printSummary(out, size, (System.nanoTime() - t0) / 1e9);
      throw new BraidCli.CommandFailedException(String.format("%s; nothing after it was sent%n  %s were sent in %,d "
          + "%s and answered: %,d %s accepted, %,d rejected%s. %s", e.getMessage(),
          sender.sent == 1 ? "the event before it" : String.format("the %,d events before it", sender.sent),
          sender.batches, sender.batches == 1 ? "request" : "requests", accepted, accepted == 1 ? "event" : "events",
          rejected, unsent == 0 ? "" : String.format("; the %,d read after them, too few for a request of --batch %,d, "
              + "were not sent, so that the same requests can be sent again", unsent, batch),
          sender.cutByTime ? notResumable(sender.answeredLine) : "To go on, fix the input and run the same command "
              + "with --key-prefix " + keyPrefix + ": the requests already answered are recognized and not added "
              + "again"), 1);
    } catch (BraidCli.CommandFailedException e) {
      if (bar != null) {
        bar.close();
        bar = null;
      }
      if (sender == null || sender.failedBatch == 0) {
        throw e; // nothing was sent
      }
      unsent = sender.lines.size();
      printSummary(out, size, (System.nanoTime() - t0) / 1e9);
      throw afterSomeSent(e, sender);
    } finally {
      if (sender != null) {
        sender.stopLinger();
      }
      if (bar != null) {
        bar.close();
      }
    }
    printSummary(out, size, (System.nanoTime() - t0) / 1e9);
    // where the rows it names are: printed above, or with --json in the summary's firstRejections
    String listed = client.json ? "in firstRejections" : "listed above";
    if (rejected > 0 && rejected == notSent) { // the server rejected none: its dead-letter log has none of them
      throw new BraidCli.CommandFailedException(String.format("%,d of %,d events %s rejected here, before sending: "
          + "the CSV %s %s, which no dead-letter log holds", rejected, accepted + rejected,
          rejected == 1 ? "was" : "were", rejected == 1 ? "row" : "rows", listed), 1);
    }
    if (rejected > 0) {
      throw new BraidCli.CommandFailedException(String.format("%,d of %,d events %s rejected%s; the server keeps "
          + "those it rejected, with their reasons, in its dead-letter log: braid dead-letters %s%s", rejected,
          accepted + rejected, rejected == 1 ? "was" : "were", notSent == 0 ? "" : String.format(" (%,d CSV %s not "
              + "sent, %s; only rows the server rejected are in its dead-letter log)", notSent, notSent == 1 ? "row"
              : "rows", listed), stream, client.urlOption()), 1);
    }
    return 0;
  }

  /** Requests answered and what they accepted and rejected; the request in flight (0: none) and its lines. */
  private record Sent(long answered, long accepted, long rejected, long inFlight, long firstLine, long lastLine,
      long answeredLine) {}

  /**
   * What Ctrl-C or SIGTERM during the run leaves to say, run as a shutdown hook: how far the answered
   * requests went, that the request in flight may or may not have been appended, and the
   * {@code --key-prefix} that resumes without adding any answered event again (the default prefix
   * is random: without it, sending the file again would append the events a second time). It stays
   * armed until the summary is out: a signal to a pipeline stops the input's writer too, whose end
   * then ends the reading cleanly, and the JVM may halt before the summary is printed.
   */
  private InterruptNotice interruptionReport(Sender sender) {
    return new InterruptNotice(command.commandLine().getErr(), client.json, "ingest", () -> {
      Sent p = sender.progress; // one consistent view: the reading thread goes on meanwhile
      String inFlight = p.inFlight() == 0 ? "" : String.format("; request %,d (lines %,d-%,d) was in flight: it may "
          + "or may not have been appended", p.inFlight(), p.firstLine(), p.lastLine());
      return String.format("interrupted after %,d answered %s (%,d %s accepted, %,d rejected)%s. %s", p.answered(),
          p.answered() == 1 ? "request" : "requests", p.accepted(), p.accepted() == 1 ? "event" : "events",
          p.rejected(), inFlight, sender.cutByTime ? notResumable(p.answeredLine())
          : "To go on, run the same command (the same input and --batch) with --key-prefix " + keyPrefix + ": the "
              + "requests already appended are recognized and not added again");
    });
  }

  /**
   * {@code e}, a failure of request {@code sender.failedBatch}, with what the requests before it
   * did and how to resume: the same command with the same {@code --key-prefix} sends every request
   * again under the same idempotency keys, so the server recognizes those it answered before.
   */
  private BraidCli.CommandFailedException afterSomeSent(BraidCli.CommandFailedException e, Sender sender) {
    String done = sender.failedBatch == 1 ? "it was the first request"
        : sender.failedBatch == 2 ? String.format("the request before it (lines up to %,d) was answered: %,d %s "
            + "accepted, %,d rejected", sender.failedFirstLine - 1, accepted, accepted == 1 ? "event" : "events", rejected)
        : String.format("the %,d requests before it (lines up to %,d) were answered: %,d %s accepted, %,d "
            + "rejected", sender.failedBatch - 1, sender.failedFirstLine - 1, accepted, accepted == 1 ? "event" : "events",
            rejected);
    // a 4xx is about the request (its input or its size); anything else (no answer, a 5xx) about the server
    boolean inputAtFault = e instanceof BraidClient.ErrorAnswer a && a.status >= 400 && a.status < 500;
    if (e instanceof BraidClient.ErrorAnswer a && a.status == 422) { // its message says how to go on (see send)
      return new BraidClient.ErrorAnswer(a.status, e.getMessage() + String.format("%n  %s", done), a.problem);
    }
    String resume = String.format("%n  request %,d (lines %,d-%,d) failed; %s. %s%s",
        sender.failedBatch, sender.failedFirstLine, sender.failedLastLine, done, sender.cutByTime
        ? notResumable(sender.failedFirstLine - 1) : String.format("To go on, %s the same command with --key-prefix %s: "
            + "the requests already answered are recognized and not added again",
            inputAtFault ? "fix the input and run" : "once the server answers again, run", keyPrefix),
        e instanceof BraidClient.ErrorAnswer a && a.status == 413 ? String.format(" (if no one event is too big, send "
            + "lines %,d and after with a smaller --batch and a new --key-prefix: a changed --batch cuts other batches "
            + "under the same keys)", sender.failedFirstLine) : "");
    if (e instanceof BraidClient.ErrorAnswer a) {
      return new BraidClient.ErrorAnswer(a.status, e.getMessage() + resume, a.problem);
    }
    return new BraidCli.CommandFailedException(e.getMessage() + resume, e.exitCode());
  }

  /**
   * How to go on after a run whose batches {@code --linger} cut by time: from the line after
   * {@code answeredLine}, as a new run (the same command would cut other batches, which the
   * server would refuse under this run's keys).
   */
  private String notResumable(long answeredLine) {
    return String.format("To go on, send the lines after line %,d with a new --key-prefix: --linger cut this run's "
        + "batches by time, which another run would not do alike, so --key-prefix %s cannot resume it", answeredLine,
        keyPrefix);
  }

  private void printSummary(PrintWriter out, long size, double seconds) {
    if (client.json) {
      ObjectNode o = BraidClient.JSON.createObjectNode();
      o.put("stream", stream);
      o.put("accepted", accepted);
      o.put("rejected", rejected);
      o.put("duplicates", duplicates);
      o.put("notSent", notSent + unsent);
      o.put("keyPrefix", keyPrefix);
      o.put("seconds", seconds);
      firstRejections.values().forEach(o.putArray("firstRejections")::add);
      out.println(o.toPrettyString());
    } else {
      out.printf("%s: %,d %s accepted, %,d rejected in %.1f s (%,.0f events/s)%s%n", stream, accepted,
          accepted == 1 ? "event" : "events", rejected, seconds, (accepted + rejected) / Math.max(seconds, 1e-9),
          size >= 0 ? " from " + file : "");
      if (duplicates > 0) {
        out.printf("  %,d of the accepted events were already in the stream (sent before with the same id or key)%n",
            duplicates);
      }
      for (String r : firstRejections.values()) {
        out.println("  rejected " + r);
      }
      if (rejected > firstRejections.size()) {
        out.printf("  ... and %,d more; those the server rejected are in its dead-letter log: "
            + "braid dead-letters %s%s%n", rejected - firstRejections.size(), stream, client.urlOption());
      }
      if (notSent > 0) {
        out.printf("  %,d CSV %s not sent: %s cells could not be read as the header's fields%n", notSent,
            notSent == 1 ? "row was" : "rows were", notSent == 1 ? "its" : "their");
      }
      if (unsent > 0) {
        out.printf("  %,d %s read but not appended: the run stopped (below)%n", unsent,
            unsent == 1 ? "event was" : "events were");
      }
    }
    out.flush();
  }

  private static long sizeOf(Path p) throws IOException {
    if (Files.isDirectory(p)) {
      throw new BraidCli.CommandFailedException(p + " is a directory: give a file of events, or - for standard input",
          2);
    }
    try {
      // a pipe (`<(zcat events.gz)`) or a device: read as standard input is, to its end, whatever comes
      return Files.isRegularFile(p) ? Files.size(p) : Files.exists(p) ? -1 : Files.size(p);
    } catch (NoSuchFileException e) {
      throw new BraidCli.CommandFailedException("no such file: " + p, 2);
    }
  }

  /**
   * {@code in} without a leading UTF-8 byte-order mark (as spreadsheet programs write one), as a reader
   * that refuses bytes that are not UTF-8 ({@link StrictUtf8Reader}).
   */
  static BufferedReader utf8Reader(InputStream in) throws IOException {
    java.io.PushbackInputStream p = new java.io.PushbackInputStream(in, 3);
    byte[] head = new byte[3];
    int n = p.readNBytes(head, 0, 3);
    boolean bom = n == 3 && (head[0] & 0xff) == 0xEF && (head[1] & 0xff) == 0xBB && (head[2] & 0xff) == 0xBF;
    if (!bom && n > 0) {
      p.unread(head, 0, n);
    }
    return new BufferedReader(new StrictUtf8Reader(p, bom ? 3 : 0), 1 << 16);
  }

  /**
   * The lines of a text, each with the break that ended it ({@code \n}, {@code \r\n} or {@code \r}),
   * which {@link BufferedReader#readLine} drops: a quoted CSV cell keeps its line breaks as written.
   */
  static final class Lines {
    private final java.io.Reader in;
    private final char[] buf = new char[1 << 16];
    private final StringBuilder line = new StringBuilder();
    private int pos;
    private int lim;
    /** The break that ended the line {@link #next} returned last; empty for a last line without one. */
    String end = "";

    Lines(java.io.Reader in) {
      this.in = in;
    }

    /** Lines given so far. */
    private int given;

    /**
     * The next line without its break, or null at the end of the text.
     *
     * @throws BrokenInput naming the line when the input is not UTF-8 there
     */
    String next() throws IOException {
      try {
        String line = nextLine();
        given++;
        return line;
      } catch (StrictUtf8Reader.NotUtf8Exception e) {
        throw notUtf8(given + 1, e);
      }
    }

    private String nextLine() throws IOException {
      line.setLength(0);
      end = "";
      boolean any = false;
      while (fill()) {
        any = true;
        int start = pos;
        for (; pos < lim; pos++) {
          char c = buf[pos];
          if (c == '\n' || c == '\r') {
            line.append(buf, start, pos - start);
            pos++;
            if (c == '\r' && fillUnlessNotUtf8() && buf[pos] == '\n') {
              pos++;
              end = "\r\n";
            } else {
              end = c == '\r' ? "\r" : "\n";
            }
            return line.toString();
          }
        }
        line.append(buf, start, pos - start);
      }
      return any ? line.toString() : null;
    }

    /**
     * {@link #fill}, looking past a {@code \r} for a {@code \n}: input that is not UTF-8 there belongs to
     * the next line, so this line ends here and the next read names that one.
     */
    private boolean fillUnlessNotUtf8() throws IOException {
      try {
        return fill();
      } catch (StrictUtf8Reader.NotUtf8Exception e) {
        return false; // the reader throws it again at the next read
      }
    }

    private boolean fill() throws IOException {
      if (pos < lim) {
        return true;
      }
      int n = in.read(buf, 0, buf.length);
      pos = 0;
      lim = Math.max(0, n);
      return n > 0;
    }
  }

  /** Counts a row that this command rejects without sending it, with its reason. */
  private void rejectLocally(int line, String reason) {
    rejected++;
    notSent++;
    noteRejection(line, reason);
  }

  /** Keeps {@code reason} if line {@code line} is among the first {@link #SHOWN_REJECTIONS} rejected lines. */
  private void noteRejection(int line, String reason) {
    firstRejections.put(((long) line << 32) | (rejectionsNoted++ & 0xffffffffL), reason);
    if (firstRejections.size() > SHOWN_REJECTIONS) {
      firstRejections.pollLastEntry();
    }
  }

  /** An input stream that counts the bytes read through it. */
  static final class Counting extends java.io.FilterInputStream {
    long bytes;

    Counting(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        bytes++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        bytes += n;
      }
      return n;
    }
  }

  /** Accumulates NDJSON lines and posts them a batch at a time. */
  private final class Sender {
    final BraidClient http;
    final ProgressBar bar;
    final StringBuilder body = new StringBuilder();
    final List<Integer> lines = new ArrayList<>();
    /**
     * For JSON input, each event's element number in it (1 for the first), so that a rejection
     * names the element and not only its line: a JSON array is often written on one line. Empty
     * for NDJSON and CSV, whose events are lines.
     */
    final List<Long> elements = new ArrayList<>();
    boolean numbered;
    int batches;
    /** The request being sent, and its first and last lines; 0 once it is answered (or before any). */
    int failedBatch;
    int failedFirstLine;
    int failedLastLine;
    /** What an interruption reports (see {@link #interruptionReport}), replaced whole as requests go. */
    volatile Sent progress = new Sent(0, 0, 0, 0, 0, 0, 0);
    /** The last line of the requests answered so far (0: none). */
    int answeredLine;
    /**
     * Whether {@code --linger} sent a batch before it was full: batches then depend on timing, so the
     * same command would cut other ones and {@code --key-prefix} cannot resume the run.
     */
    volatile boolean cutByTime;
    /** Events given to {@link #add} so far. */
    long added;
    /** Events of the requests answered so far. */
    long sent;

    /** The input's bytes read so far, and its size (-1 for standard input), to estimate the events in a file. */
    final Counting input;
    final long size;

    /**
     * With a linger, a daemon thread sends a partial batch once its first event has waited that
     * long; it and the reading thread take turns on this object. A failure it meets is thrown by
     * the reading thread's next {@link #add} or {@link #finish}.
     */
    private final long lingerNanos;
    private final java.util.concurrent.ScheduledExecutorService lingerer;
    private long firstAddedNanos;
    private RuntimeException lingerFailure;

    Sender(BraidClient http, ProgressBar bar, Counting input, long size, int lingerMillis) {
      this.http = http;
      this.bar = bar;
      this.input = input;
      this.size = size;
      this.lingerNanos = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(lingerMillis);
      if (lingerMillis > 0) {
        lingerer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "braid-ingest-linger");
          t.setDaemon(true);
          return t;
        });
        long every = Math.max(1, lingerMillis / 4);
        lingerer.scheduleWithFixedDelay(this::sendIfLingered, every, every, java.util.concurrent.TimeUnit.MILLISECONDS);
      } else {
        lingerer = null;
      }
    }

    private synchronized void sendIfLingered() {
      // not after a request failed (failedBatch set): the reading thread reports it and stops; sent again
      // here, it went out under the next request's number (the resume hint named it wrong)
      if (lingerFailure == null && failedBatch == 0 && !lines.isEmpty()
          && System.nanoTime() - firstAddedNanos >= lingerNanos) {
        cutByTime = true;
        try {
          flush();
        } catch (RuntimeException e) {
          lingerFailure = e;
        }
      }
    }

    private void throwLingerFailure() {
      if (lingerFailure != null) {
        throw lingerFailure;
      }
    }

    /** Sends what is left; throws what a lingered send met. */
    synchronized void finish() {
      throwLingerFailure();
      flush();
    }

    void stopLinger() {
      if (lingerer != null) {
        lingerer.shutdownNow();
      }
    }

    synchronized void add(String event, int line) {
      throwLingerFailure();
      if (lines.isEmpty()) {
        firstAddedNanos = System.nanoTime();
      }
      added++;
      body.append(event).append('\n');
      lines.add(line);
      if (numbered) {
        elements.add(added);
      }
      if (lines.size() >= batch) {
        flush();
      }
    }

    synchronized void flush() {
      if (lines.isEmpty()) {
        return;
      }
      batches++;
      failedBatch = batches; // until it is answered
      failedFirstLine = lines.get(0);
      failedLastLine = lines.get(lines.size() - 1);
      progress = new Sent(batches - 1, accepted, rejected, batches, failedFirstLine, failedLastLine, answeredLine);
      JsonNode r;
      try {
        r = http.postIdempotent("/v1/streams/" + BraidClient.enc(stream) + "/events", "application/x-ndjson",
            body.toString().getBytes(StandardCharsets.UTF_8), keyPrefix + "-" + batches, attempts);
      } catch (BraidClient.ErrorAnswer e) {
        if (e.status == 422 && e.getMessage().contains("cannot be answered for as before")) {
          throw new BraidClient.ErrorAnswer(422, e.getMessage() + "\n  batch " + batches + " (lines " + lines.get(0)
              + "-" + lines.get(lines.size() - 1) + ") was sent before under --key-prefix " + keyPrefix + ", and the "
              + "server now rejects an event it stored then: send the lines after it with a new --key-prefix",
              e.problem);
        }
        if (e.status == 422) {
          throw new BraidClient.ErrorAnswer(422, e.getMessage() + "\n  batch " + batches + " (lines " + lines.get(0)
              + "-" + lines.get(lines.size() - 1) + ") is not what --key-prefix " + keyPrefix + " sent before: resume "
              + "with the same FILE, --format and --batch as that run, or send new events with a new --key-prefix",
              e.problem);
        }
        throw e;
      }
      accepted += r.path("accepted").asLong();
      duplicates += r.path("duplicates").asLong();
      rejected += r.path("rejected").asLong();
      for (JsonNode x : r.path("rejections")) {
        int i = x.path("index").asInt();
        int line = lines.get(i);
        noteRejection(line, (numbered ? "element " + elements.get(i) + " (line " + line + ")" : "line " + line) + ": "
            + x.path("reason").asText().replaceFirst("^not JSON at line \\d+, column", "not JSON at column"));
      }
      if (bar != null) {
        bar.stepBy(lines.size());
        if (size > 0 && input.bytes > 0) { // events in the file, at the bytes per event read so far
          bar.maxHint(Math.max(bar.getCurrent(), Math.round(added * (double) size / Math.min(size, input.bytes))));
        }
      }
      sent += lines.size();
      answeredLine = lines.get(lines.size() - 1);
      body.setLength(0);
      lines.clear();
      elements.clear();
      failedBatch = 0;
      progress = new Sent(batches, accepted, rejected, 0, 0, 0, answeredLine);
    }
  }

  private static void readNdjson(InputStream in, Sender sender) throws IOException {
    BufferedReader r = utf8Reader(in);
    String line;
    int n = 0;
    boolean first = true;
    while ((line = readLine(r, n)) != null) {
      n++;
      if (!line.isBlank()) {
        if (first && looksLikeCsvHeader(line)) { // every line would be dead-lettered as "not JSON"
          throw new BraidCli.CommandFailedException("line " + n + csvHeaderAdvice(line) + "; nothing was sent", 1);
        }
        if (first && line.stripLeading().startsWith("[")) { // an event is an object: every line would be rejected
          throw new BraidCli.CommandFailedException(String.format("line %d starts a JSON array, not one event per line "
              + "(NDJSON); for a JSON array add --format json (a file named *.json is read as JSON by itself); "
              + "nothing was sent", n), 1);
        }
        first = false;
        sender.add(line, n);
      }
    }
  }

  /** The next line of {@code r}, which has given {@code n} lines; input that is not UTF-8 is named by its line. */
  private static String readLine(BufferedReader r, int n) throws IOException {
    try {
      return r.readLine();
    } catch (StrictUtf8Reader.NotUtf8Exception e) {
      throw notUtf8(n + 1, e);
    }
  }

  /** Input that is not UTF-8 at {@code line}: the events before it are sent, none after it. */
  private static BrokenInput notUtf8(int line, StrictUtf8Reader.NotUtf8Exception e) {
    return new BrokenInput(String.format("line %d is not UTF-8 text: %s", line, e.getMessage()));
  }

  /**
   * What to say of input read as JSON lines whose first line {@code line} {@link #looksLikeCsvHeader},
   * after naming where it is.
   */
  static String csvHeaderAdvice(String line) {
    return String.format(" is not JSON but looks like a CSV header ('%s'); for CSV add --format csv (a file named "
        + "*.csv is read as CSV by itself)", line.length() > 60 ? line.substring(0, 57) + "..." : line);
  }

  /** Names separated by commas, no JSON punctuation: {@code product,amount,ts}. */
  static boolean looksLikeCsvHeader(String line) {
    // a scan, not a regular expression: Java's regex recursion per repeated column overflowed the stack
    // on headers of a few thousand columns
    String s = line.strip();
    if (s.startsWith("\uFEFF")) {
      s = s.substring(1);
    }
    int names = 0;
    for (int start = 0; ; start = s.indexOf(',', start) + 1) {
      int comma = s.indexOf(',', start);
      if (!looksLikeColumnName(s, start, comma < 0 ? s.length() : comma)) {
        return false;
      }
      names++;
      if (comma < 0) {
        return names >= 2;
      }
    }
  }

  /** {@code "?[A-Za-z_][\w ."-]*}: a column name, maybe quoted, from {@code start} to {@code end} of {@code s}. */
  private static boolean looksLikeColumnName(String s, int start, int end) {
    int i = start < end && s.charAt(start) == '"' ? start + 1 : start;
    if (i >= end) {
      return false;
    }
    char c = s.charAt(i);
    if (!(c == '_' || c < 128 && Character.isLetter(c))) {
      return false;
    }
    for (i++; i < end; i++) {
      c = s.charAt(i);
      if (!(c < 128 && (Character.isLetterOrDigit(c) || c == '_' || c == ' ' || c == '.' || c == '"' || c == '-'))) {
        return false;
      }
    }
    return true;
  }

  private static void readJsonArray(InputStream in, Sender sender) throws IOException {
    try (JsonParser p = BraidClient.JSON.getFactory().createParser(utf8Reader(in))) {
      sender.numbered = true;
      JsonToken first = p.nextToken();
      if (first == null) {
        return; // no events: call() says so
      }
      if (first == JsonToken.START_OBJECT) { // one event, as the HTTP API takes it
        int line = p.currentTokenLocation().getLineNr();
        String event = BraidClient.JSON.readTree(p).toString();
        if (p.nextToken() != null) { // objects one after another: NDJSON read as JSON; send none of them
          throw new BraidCli.CommandFailedException(String.format("as JSON (--format json, or a .json file) the input "
              + "must hold one JSON array of events, or one event; another value starts at line %d after the first "
              + "object: for one event per line use --format ndjson; nothing was sent",
              p.currentTokenLocation().getLineNr()), 1);
        }
        sender.add(event, line);
        return;
      } else if (first == JsonToken.START_ARRAY) {
        while (p.nextToken() != JsonToken.END_ARRAY) {
          int line = p.currentLocation().getLineNr();
          JsonNode event = BraidClient.JSON.readTree(p);
          sender.add(event.toString(), line);
        }
      } else {
        throw new BraidCli.CommandFailedException("as JSON (--format json, or a .json file) the input must hold one "
            + "JSON array of events, or one event (an object); use --format ndjson for one event per line", 1);
      }
      if (p.nextToken() != null) {
        // The array is whole: its events are sent; what follows it is not
        int line = p.currentTokenLocation().getLineNr();
        sender.flush();
        throw new BrokenInput(String.format("the file holds more than one JSON value: another starts at line %d, "
            + "after the array of %,d %s", line, sender.added, sender.added == 1 ? "event" : "events"));
      }
    } catch (StrictUtf8Reader.NotUtf8Exception e) {
      throw new BrokenInput("the file is not UTF-8 text: " + e.getMessage());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      // The events read since the last full request stay unsent, so that after a fix the same requests go again
      throw new BrokenInput(String.format("the file is not valid JSON (an array of events, or one event): %s at "
          + "line %d",
          dev.braid.ingest.Ingestor.jsonError(e), e.getLocation().getLineNr()));
    }
  }

  /**
   * CSV with a header row (RFC 4180: a quoted cell may hold commas, quotes written {@code ""} and
   * line breaks, so a row may span lines); cells are typed by the stream's schema, so 12.5 becomes
   * a number. A row that cannot be read as cells of the header's fields is not sent.
   */
  private void readCsv(InputStream in, JsonNode schema, Sender sender) throws IOException {
    JsonNode fields = schema.path("fields");
    Lines r = new Lines(utf8Reader(in));
    String headerLine;
    int n = 0;
    do { // blank lines before the header are skipped, as blank lines between rows are
      headerLine = r.next();
      n++;
    } while (headerLine != null && headerLine.isBlank());
    if (headerLine == null) {
      return;
    }
    Map<String, String> types = new java.util.LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = fields.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      types.put(e.getKey(), e.getValue().asText());
    }
    List<String> header = new java.util.ArrayList<>();
    String bad = dev.braid.table.CsvRecords.split(headerLine, header);
    String twice = bad == null ? dev.braid.table.CsvRecords.duplicate(header) : null;
    String unknown = bad != null || twice != null ? null : unknownColumn(header, types);
    String key = schema.path("key").isTextual() ? schema.path("key").asText() : null;
    if (unknown == null && key != null && header.stream().map(String::strip).noneMatch(key::equals)) {
      // every row would be dead-lettered for it: one failure instead, as braid push says
      unknown = "has no column for the stream's key field '" + key + "' (columns: " + String.join(", ", header) + ")";
    }
    if (bad != null || twice != null || unknown != null) {
      throw new BraidCli.CommandFailedException("the CSV header (line " + n + ") " + (bad != null ? "cannot be read: "
          + bad : twice != null ? "names field '" + twice + "' twice" : unknown) + "; nothing was sent", 1);
    }
    String line;
    List<String> cells = new java.util.ArrayList<>();
    StringBuilder record = new StringBuilder();
    while ((line = r.next()) != null) {
      n++;
      int first = n;
      record.setLength(0);
      record.append(line);
      // A quoted cell that is not closed on this line goes on at the next (up to the request size limit),
      // with the line break as the file has it
      String lineBreak = r.end;
      while (dev.braid.table.CsvRecords.endsInQuotes(record) && record.length() <= MAX_CSV_ROW_CHARS
          && (line = r.next()) != null) {
        n++;
        record.append(lineBreak).append(line);
        lineBreak = r.end;
      }
      if (record.toString().isBlank()) {
        continue;
      }
      cells.clear();
      String why = dev.braid.table.CsvRecords.split(record, cells, true);
      if (why == null && cells.size() != header.size()) {
        why = String.format("%d cells where the header has %d (%s)", cells.size(), header.size(),
            String.join(", ", header));
      }
      if (why != null) {
        // not sent: which cell is which field is unknown (the server would blame a field)
        rejectLocally(first, String.format("line %d: %s; the row was not sent", first, why));
        continue;
      }
      ObjectNode o = BraidClient.JSON.createObjectNode();
      for (int i = 0; i < header.size(); i++) {
        String name = header.get(i).strip();
        String cell = cells.get(i);
        String type = types.getOrDefault(name, "string");
        if (cell == null || cell.isEmpty() && !type.equals("string")) {
          continue; // absent; a quoted empty cell ("") of a string field is the empty string
        }
        Csv.put(o, name, cell, type);
      }
      sender.add(o.toString(), first);
    }
  }

  /**
   * What is wrong with the first column of {@code header} that names no field of the stream (its
   * {@code types}), or null when every column names one: every row would be rejected for it.
   */
  static String unknownColumn(List<String> header, Map<String, String> types) {
    for (int i = 0; i < header.size(); i++) {
      String name = header.get(i).strip();
      if (name.isEmpty()) {
        return String.format("has no name for column %d; name a field of the stream there (%s)", i + 1,
            String.join(", ", types.keySet()));
      }
      if (!types.containsKey(name)) {
        return String.format("names '%s' (column %d), which is not a field of the stream; its fields are %s%s", name,
            i + 1, String.join(", ", types.keySet()), headerHint(header, types));
      }
    }
    return null;
  }

  /**
   * Why no column of {@code header} names a field, when that is likely: another separator than the
   * comma, or a file without a header line (its first row read as one); else empty.
   */
  private static String headerHint(List<String> header, Map<String, String> types) {
    if (header.stream().anyMatch(h -> types.containsKey(h.strip()))) {
      return "";
    }
    if (header.size() == 1) {
      for (String separator : List.of(";", "\t", "|")) {
        if (header.get(0).contains(separator)) {
          return String.format(" (the line is one column holding '%s': braid reads comma-separated values)",
              separator.equals("\t") ? "\\t" : separator);
        }
      }
    }
    return "; no column names a field: the first line of a CSV file must be a header naming the fields (it is read "
        + "as one, not as an event)";
  }

  /** A CSV row longer than this (a quote never closed would take in the rest of the file) is not sent. */
  static final int MAX_CSV_ROW_CHARS = 1 << 20;
}
