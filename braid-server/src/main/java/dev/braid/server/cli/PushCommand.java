package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid push TABLE FILE}: a bulk push of a JSON-lines or CSV file into a table of a running
 * server ({@code POST /v1/tables/{t}/pushes}), streamed with a progress bar of the bytes sent (the
 * server loads them as they arrive); then the push's report. {@code --repush} rebuilds the current
 * version from its own rows with the table's TTL applied; {@code --status PUSH_ID} shows a push's
 * report.
 */
@Command(name = "push", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Push a JSON-lines or CSV file into a table: a new version is built from the file, the real-time "
        + "writes since its start cut are replayed onto it, and it is swapped in (the old one stays as a backup).",
        "Examples:",
        "  braid push user_profile profiles.jsonl",
        "  braid push user_profile profiles.csv --max-bad-rows 1%%",
        "  braid push user_profile snapshot.jsonl --since 2026-11-30T00:00:00Z",
        "  braid push user_profile updates.jsonl --incremental",
        "  braid push user_profile --repush    # drop rows older than the TTL",
        "  braid push user_profile --status user_profile-5-mx3e9qfv"})
public final class PushCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "TABLE")
  String table;

  @Parameters(index = "1", paramLabel = "FILE", arity = "0..1",
      description = "JSON lines (.jsonl, .ndjson, .json) or CSV (.csv) with a header line; - for stdin (a pipe "
          + "such as <(zcat rows.gz) is read as stdin is, JSON lines unless --format csv)")
  String file;

  @Option(names = "--format", paramLabel = "jsonl|csv", description = "the file's format (default: by its extension)")
  String format;

  @Option(names = "--incremental", description = "apply the rows as writes to the current version (and a building one) "
      + "instead of building a version")
  boolean incremental;

  @Option(names = "--since", paramLabel = "TIMESTAMP", description = "start cut: the first write ingested at or after "
      + "this time (epoch millis or ISO-8601), for a snapshot taken then")
  String since;

  @Option(names = "--since-position", paramLabel = "CUT", description = "start cut: an exact position, e.g. [120,98]")
  String sincePosition;

  @Option(names = "--max-bad-rows", paramLabel = "N|P%", defaultValue = "0",
      description = "bad rows tolerated before the push fails: a count or a whole percentage (default: ${DEFAULT-VALUE})")
  String maxBadRows;

  @Option(names = "--allow-empty", description = "let a push of no rows make an empty version current, emptying the "
      + "table (without it, such a push fails: an empty file is more often a mistake)")
  boolean allowEmpty;

  @Option(names = "--no-progress", description = "do not show a progress bar (none is shown with --json either)")
  boolean noProgress;

  @Option(names = "--no-wait", description = "return once the file is loaded; the replay and swap go on in the server")
  boolean noWait;

  @Option(names = "--repush", description = "rebuild the current version from its own rows with the TTL applied (no FILE)")
  boolean repush;

  @Option(names = "--status", paramLabel = "PUSH_ID", description = "show the report of a push (no FILE)")
  String status;

  @Override
  public Integer call() {
    BraidClient http = client.http();
    String base = "/v1/tables/" + BraidClient.enc(table);
    if (status != null) {
      return print(http.get(base + "/pushes/" + BraidClient.enc(status)));
    }
    if (repush) {
      if (file != null) {
        throw usage("--repush takes no FILE: it pushes the current version's own rows");
      }
      return print(http.post(base + "/repush" + (noWait ? "?wait=false" : ""), null, new byte[0]));
    }
    if (file == null) {
      throw usage("missing FILE: give the JSON-lines or CSV file to push (- for stdin)");
    }
    StringBuilder q = new StringBuilder("?source=").append(BraidClient.enc(file.equals("-") ? "stdin" : file));
    q.append("&maxBadRows=").append(BraidClient.enc(checkMaxBadRows(maxBadRows)));
    if (incremental) {
      q.append("&incremental=true");
    }
    if (noWait) {
      q.append("&wait=false");
    }
    if (allowEmpty) {
      q.append("&allowEmpty=true");
    }
    if (since != null && sincePosition != null) {
      throw usage("give --since or --since-position, not both");
    }
    if (incremental && (since != null || sincePosition != null)) { // refused before a progress bar is drawn
      throw usage("--incremental takes no --since or --since-position: "
          + dev.braid.table.PushOptions.INCREMENTAL_WITH_SINCE);
    }
    if (since != null) {
      q.append("&since=").append(TimeOption.parse(command.commandLine(), "--since", since));
    }
    if (sincePosition != null) {
      q.append("&sincePosition=").append(BraidClient.enc(checkCut(sincePosition)));
    }
    long size = -1;
    Path path = null; // a file, read twice (its first line, then all); else a stream, read once
    InputStream stdin = null;
    if (!file.equals("-")) {
      Path p = Path.of(file);
      if (Files.isDirectory(p)) {
        throw new BraidCli.CommandFailedException("cannot push " + file + ": it is a directory", 2);
      }
      if (!Files.exists(p)) {
        throw new BraidCli.CommandFailedException("cannot push " + file + ": no such file", 2);
      }
      try {
        if (Files.isRegularFile(p)) {
          path = p;
          size = Files.size(p);
        } else { // a pipe (`<(zcat rows.gz)`) or a device: streamed as standard input is
          stdin = new java.io.FileInputStream(p.toFile()); // a channel's stream seeks, which a pipe refuses
        }
      } catch (IOException e) {
        throw new BraidCli.CommandFailedException("cannot read " + file + ": " + e.getMessage(), 1);
      }
    }
    String type = contentType();
    // the table exists and the server answers before any input is read or sent: a pipe's first line may be long in
    // coming, and a refusal of the upload itself can be lost (the server answers before it read the body, and its
    // connection closes with the body unread)
    http.get(base + "/versions");
    if (path == null) { // read once, so peeked through a buffer
      stdin = new java.io.BufferedInputStream(stdin == null ? System.in : stdin, 1 << 16);
    }
    PrintWriter err = command.commandLine().getErr();
    AtomicLong sent = new AtomicLong();
    Path in = path;
    InputStream piped = stdin;
    BraidClient.Answer a;
    AtomicBoolean ended = new AtomicBoolean();
    long fileSize = size;
    // 0: the upload has not begun (a slow pipe's first line is awaited); 1: it began; 2: a signal came first, and the
    // upload never begins (a pipe's writer that the same signal stopped ends the input, which must not be sent)
    java.util.concurrent.atomic.AtomicInteger upload = new java.util.concurrent.atomic.AtomicInteger();
    InterruptNotice onSignal = new InterruptNotice(err, client.json, "push", () -> {
      if (upload.compareAndSet(0, 2)) {
        return "interrupted before the upload of " + file + " began: nothing was sent, and table " + table
            + " is unchanged";
      }
      boolean whole = ended.get() || fileSize >= 0 && sent.get() >= fileSize;
      if (incremental) { // its rows are applied as they are read: nothing to fail, nothing to swap
        return whole ? "interrupted after the whole of " + file + " was sent: the server applies its rows"
            : String.format("interrupted after sending %,d bytes of %s: an incremental push applies the rows the "
                + "server read before the upload was cut off; push the file again (a row replaces the one of its key)",
                sent.get(), file);
      }
      return whole ? "interrupted after the whole of " + file + " was sent: the push goes on in the server; `braid "
          + "versions " + table + " --table` shows it"
          : String.format("interrupted after sending %,d bytes of %s: the server fails a push whose upload is cut off, "
              + "and table %s keeps its current version; push the file again", sent.get(), file, table);
    });
    ProgressBar bar;
    Thread ticker = null;
    try { // disarmed on every way out (the upload's below)
      if (type.equals("application/x-ndjson")) { // the first line of a pipe may be long in coming
        checkJsonLines(path, stdin);
      }
      bar = noProgress || client.json ? null
          : Progress.bar("push " + table, size < 0 ? -1 : Math.max(1, size >> 10), "KiB", 1, err);
      if (bar != null) {
        ticker = new Thread(() -> {
          while (!Thread.currentThread().isInterrupted()) {
            bar.stepTo(sent.get() >> 10);
            try {
              Thread.sleep(200);
            } catch (InterruptedException e) {
              return;
            }
          }
        }, "braid-push-progress");
        ticker.setDaemon(true);
        ticker.start();
      }
    } catch (RuntimeException | Error refused) {
      onSignal.close();
      if (upload.get() == 2) { // the input ended with the signal: the notice said what happened
        throw new InterruptNotice.Said();
      }
      throw refused;
    }
    try {
      if (!upload.compareAndSet(0, 1)) {
        throw new InterruptNotice.Said();
      }
      a = http.postStream(base + "/pushes" + q, type,
          () -> counting(in == null ? piped : open(in), sent, fileSize >= 0 ? null : onSignal, ended), uploadTimeout(),
          size);
    } finally {
      onSignal.close();
      if (bar != null) {
        ticker.interrupt();
        bar.stepTo(sent.get() >> 10);
        bar.close();
      }
    }
    if (a.status() >= 400) { // as every client command: with --json, the one JSON error (problem included) on stderr
      boolean report = a.status() == 422 && a.body().has("report");
      if (report && !client.json) {
        printBadRows(a.body().path("report"), err);
      }
      // with --json, the bad rows are the error's notes: the lines after its first
      String notes = report && client.json ? badRows(a.body().path("report")).stream().map(l -> "\n" + l)
          .collect(java.util.stream.Collectors.joining()) : "";
      throw new BraidClient.ErrorAnswer(a.status(), report ? "push of " + file + " into table " + table + " failed: "
          + a.body().path("detail").asText() + notes : a.body().path("detail").asText(a.body().toString()) + " (HTTP "
          + a.status() + ")", a.body());
    }
    if (!client.json) { // tolerated ones (--max-bad-rows)
      printBadRows(a.body(), err);
    }
    return print(a.body());
  }

  /**
   * The first 20 bad rows of push report {@code r} as {@code braid: bad row FILE:LINE: reason}, and
   * how many there were (on standard error, each line starting {@code braid: } as the README says).
   */
  private static void printBadRows(JsonNode r, PrintWriter err) {
    for (String line : badRows(r)) {
      err.println("braid: " + line);
    }
    err.flush();
  }

  /** The first 20 bad rows of push report {@code r}, {@code bad row FILE:LINE: reason}, and how many there were. */
  private static List<String> badRows(JsonNode r) {
    List<String> lines = new ArrayList<>();
    for (JsonNode b : r.path("bad")) {
      if (lines.size() == 20) {
        break;
      }
      lines.add(String.format(Locale.ROOT, "bad row %s:%d: %s", b.path("file").asText(), b.path("line").asLong(),
          b.path("reason").asText()));
    }
    long all = r.path("badRows").asLong();
    if (all > lines.size()) {
      lines.add(String.format(Locale.ROOT, "... %,d bad %s in all", all, all == 1 ? "row" : "rows"));
    }
    return lines;
  }

  private int print(JsonNode r) {
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
    } else {
      out.println(summary(r));
    }
    out.flush();
    return r.path("state").asText().equals("failed") ? 1 : 0;
  }

  static String summary(JsonNode r) {
    String state = r.path("state").asText();
    String what = r.path("version").asLong() == 0 ? "incremental push " + r.path("pushId").asText()
        : "push " + r.path("pushId").asText() + " (version " + r.path("version").asLong() + ")";
    long rows = r.path("rows").asLong();
    long keys = r.path("distinctKeys").asLong();
    boolean incremental = r.path("version").asLong() == 0;
    // an incremental push counts no distinct keys (it builds no Base), nor does a push that failed
    // before its Base was written: say nothing of them
    String keyText = incremental || state.equals("failed") ? "" : String.format(Locale.ROOT, " (%,d %s)", keys,
        keys == 1 ? "key" : "keys");
    // an incremental push's rows are writes, which end at its cut; a full push replays the writes from its cut on
    String cut = incremental ? String.format(Locale.ROOT, "written up to position %s", r.path("cut"))
        : String.format(Locale.ROOT, "start cut %s, %,d writes replayed", r.path("cut"), r.path("replayed").asLong());
    String counts = String.format(Locale.ROOT, "%,d %s%s in %.1f s, %,d rows/s; %,d bad, %,d expired; %s", rows,
        rows == 1 ? "row" : "rows", keyText, r.path("seconds").asDouble(), r.path("rowsPerSecond").asLong(),
        r.path("badRows").asLong(), r.path("expired").asLong(), cut);
    switch (state) {
      case "done":
        // a full push's version is current when it is done, and later pushes or a rollback move it on
        return what + ": " + (r.path("version").asLong() == 0 ? "applied" : r.path("versionState").asText("done"))
            + "; " + counts;
      case "failed":
        return what + ": failed: " + r.path("failure").asText() + "; " + counts;
      default:
        return what + ": " + state + " (follow it with `braid push " + r.path("table").asText() + " --status "
            + r.path("pushId").asText() + "`, cancel it with `braid discard " + r.path("table").asText() + " "
            + r.path("version").asLong() + " --table`); " + counts;
    }
  }

  private String contentType() {
    String f = format;
    if (f == null) {
      String name = file.toLowerCase(Locale.ROOT);
      if (name.endsWith(".csv")) {
        f = "csv";
      } else if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json") || file.equals("-")
          || isPipe(file)) {
        // standard input or a pipe, with no name to go by: JSON lines, the first of which is checked before sending
        f = "jsonl";
      } else {
        throw usage("cannot tell the format of '" + file + "' from its name: pass --format jsonl or --format csv");
      }
    }
    switch (f.toLowerCase(Locale.ROOT)) {
      case "jsonl":
      case "ndjson":
      case "json":
        return "application/x-ndjson";
      case "csv":
        return "text/csv";
      default:
        throw usage("--format must be jsonl or csv, got '" + f + "'");
    }
  }

  /** Whether {@code file} names a pipe or a device (such as {@code <(zcat rows.gz)}): neither a file nor a directory. */
  private static boolean isPipe(String file) {
    try {
      Path p = Path.of(file);
      return Files.exists(p) && !Files.isRegularFile(p) && !Files.isDirectory(p);
    } catch (java.nio.file.InvalidPathException e) {
      return false;
    }
  }

  private String checkMaxBadRows(String s) {
    if (!s.strip().matches("\\d+%?")) {
      throw usage("--max-bad-rows must be a count (100) or a whole percentage (1%), got '" + s + "'");
    }
    if (s.strip().endsWith("%") && Long.parseLong(s.strip().replace("%", "")) > 100) {
      throw usage("--max-bad-rows percentage must be 0% to 100%, got '" + s + "'");
    }
    return s.strip();
  }

  private String checkCut(String s) {
    try {
      return dev.braid.log.Cut.parseWithOrWithoutBrackets(s).toString();
    } catch (IllegalArgumentException e) {
      throw usage("--since-position must be a cut like [120,98] (one offset per partition), got '" + s + "': "
          + e.getMessage());
    }
  }

  private ParameterException usage(String message) {
    return new ParameterException(command.commandLine(), message);
  }

  /**
   * Refuses, before anything is sent, JSON-lines input whose first line shows it is something else:
   * a JSON array (every row would be a bad row "expected a JSON object") or CSV without
   * {@code --format csv} (every line "not valid JSON"). Reads the file's first line, or peeks at
   * standard input's through {@code stdin} (marked and reset).
   */
  private void checkJsonLines(Path path, InputStream stdin) {
    String line;
    try (InputStream own = path == null ? null : Files.newInputStream(path)) {
      InputStream in = path == null ? stdin : own;
      if (path == null) {
        in.mark(1 << 16);
      }
      // up to the end of the first line that is not blank, at most 64 KiB: a slow pipe is not waited on for more
      java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
      boolean content = false;
      for (int b; head.size() < (1 << 16) && (b = in.read()) >= 0; ) {
        if (b == '\n' && content) {
          break;
        }
        content |= b > ' ';
        head.write(b);
      }
      if (path == null) {
        in.reset();
      }
      line = head.toString(java.nio.charset.StandardCharsets.UTF_8).replace("\uFEFF", "").strip();
    } catch (IOException e) {
      throw new BraidCli.CommandFailedException("cannot read " + file + ": " + e.getMessage(), 1);
    }
    String what = file.equals("-") ? "standard input" : file;
    if (line.startsWith("[")) {
      throw new BraidCli.CommandFailedException(what + " holds a JSON array; a push reads JSON lines, one row "
          + "(an object) per line: convert it with jq -c '.[]'; nothing was pushed", 1);
    }
    if (IngestCommand.looksLikeCsvHeader(line)) {
      throw new BraidCli.CommandFailedException("the first line of " + what + IngestCommand.csvHeaderAdvice(line)
          + "; nothing was pushed", 1);
    }
  }

  private static InputStream open(Path p) {
    try {
      return Files.newInputStream(p); // standard input is read through the buffer its first line was peeked at
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * How long the push waits for its answer, the upload included: {@code --timeout} when given, else
   * six hours (a large file on a slow link; the default of other requests, ten minutes, would cut it).
   */
  private java.time.Duration uploadTimeout() {
    return client.timeoutSeconds == null ? java.time.Duration.ofHours(6)
        : java.time.Duration.ofSeconds(client.timeoutSeconds(ClientOptions.DEFAULT_TIMEOUT_SECONDS));
  }

  /** How long the end of a pipe waits to learn whether Ctrl-C ended it (see {@link #counting}). */
  private static final long END_GRACE_MILLIS = 150;

  /**
   * {@code in}, counting the bytes read in {@code n}, and setting {@code ended} once it has been
   * read to its end. A pipe's end may be Ctrl-C's doing: the signal stops the whole pipeline, and its
   * writer (`zcat rows.gz | braid push T -`) can die first, which ends the input early but cleanly.
   * Sent as the end of the body, that would make the truncated input a complete push, which replaces
   * every row. So at the end of a pipe ({@code onSignal} not null) the stream waits a moment, and
   * when a signal has begun the shutdown meanwhile, fails instead: the upload is cut off, and the
   * server fails the push.
   */
  private static InputStream counting(InputStream in, AtomicLong n, InterruptNotice onSignal, AtomicBoolean ended) {
    return new FilterInputStream(in) {
      @Override
      public int read() throws IOException {
        int b = super.read();
        if (b >= 0) {
          n.incrementAndGet();
        } else {
          end();
        }
        return b;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        int k = super.read(b, off, len);
        if (k > 0) {
          n.addAndGet(k);
        } else if (k < 0) {
          end();
        }
        return k;
      }

      private void end() throws IOException {
        if (onSignal != null && !ended.get()) {
          try {
            Thread.sleep(END_GRACE_MILLIS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          if (onSignal.fired() || Thread.currentThread().isInterrupted()) {
            throw new IOException("the input ended as Ctrl-C stopped this command: not sent as the end of the push");
          }
        }
        ended.set(true);
      }
    };
  }
}
