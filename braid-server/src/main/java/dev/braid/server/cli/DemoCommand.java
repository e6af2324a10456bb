package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.server.demo.RetailDemo;
import dev.braid.server.demo.RetailDemo.BatchRun;
import dev.braid.server.demo.RetailDemo.Call;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.Durations;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code braid demo}: the README's first command. Starts the server on the bundled retail example,
 * loads a day of history, computes each view's Base, keeps a live feed running, and walks a new user
 * through three requests that show a Base and a Delta merged at a cut.
 */
@Command(
    name = "demo",
    header = "Run Braid on the bundled retail example with live data and a guided tour.",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description = {
        "Starts the Braid server on the bundled example (" + RetailDemo.SPEC_NAME + ": a retail chain's "
            + "sales and its customers' card payments), loads a day of history, runs a batch cycle of "
            + "every view, starts a live feed of events at a steady rate, and prints a short tour: three "
            + "requests (as curl commands you can repeat) and their live answers. Then keeps running, "
            + "with a status line every 10 s and a batch cycle now and then, until Ctrl-C."})
final class DemoCommand implements Callable<Integer> {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec
  CommandSpec spec;

  @Option(names = "--port", defaultValue = "8080", paramLabel = "PORT",
      description = "HTTP port; if it is taken the demo picks a free one; 0 picks one (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--bind", defaultValue = "127.0.0.1", paramLabel = "ADDR",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--data", paramLabel = "DIR",
      description = "Data directory to use and keep. Default: a temporary directory, deleted on exit.")
  Path data;

  @Option(names = "--keep", description = "Keep the temporary data directory.")
  boolean keep;

  @Option(names = "--history", paramLabel = "N", defaultValue = "200000",
      description = "Events of history (the last 24 hours) to load before the tour (default: ${DEFAULT-VALUE}).")
  long history;

  @Option(names = "--rate", paramLabel = "N", defaultValue = "2000",
      description = "Events per second of the live feed (default: ${DEFAULT-VALUE}).")
  int rate;

  @Option(names = "--batch-every", paramLabel = "DURATION", defaultValue = "60s", converter = DurationConverter.class,
      description = "How often the demo runs a batch cycle of every view; 0s for never (default: ${DEFAULT-VALUE}).")
  Duration batchEvery;

  @Option(names = "--duration", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Stop this long after the tour (e.g. 30s, 5m). Default: run until Ctrl-C.")
  Duration duration;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
      description = "Seed of the event generators (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--json", description = "Print the tour as one JSON document instead of text.")
  boolean json;

  @Option(names = "--no-progress", negatable = false, description = "Do not show a progress bar.")
  boolean noProgress;

  @Option(names = "--verbose", description = "Show the engine's INFO log lines too (batch cycles, swaps).")
  boolean verbose;

  /** Parses {@code 30s}, {@code 5m}, {@code 1h} as the spec does, and {@code 0}/{@code 0s} as zero. */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return value.strip().matches("0+\\s*(ms|s|m|h|d)?") ? Duration.ZERO : Durations.parse(value);
      } catch (IllegalArgumentException e) { // picocli shows a conversion failure's message alone
        throw new picocli.CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    if (history < 0) {
      throw new ParameterException(spec.commandLine(), "--history must be 0 or more events, got " + history);
    }
    if (rate <= 0) {
      throw new ParameterException(spec.commandLine(), "--rate must be at least 1 event/s, got " + rate);
    }
    if (duration != null && duration.isZero()) {
      throw new ParameterException(spec.commandLine(), "--duration must be positive (leave it out to run until Ctrl-C)");
    }
    if (!verbose) {
      // The tour reports batch cycles itself; the engine's own INFO lines would say it twice.
      quietEngineLog();
    }
    boolean temporary = data == null;
    Path dataDir = temporary ? Files.createTempDirectory("braid-demo-") : data.toAbsolutePath();
    Files.createDirectories(dataDir);
    PrintWriter out = spec.commandLine().getOut();
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      // Ctrl-C or SIGTERM: ask the demo to stop, then give it time to close the server and clean up.
      stop.countDown();
      try {
        done.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "braid-demo-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try (BraidServer server = startServer(dataDir, out)) {
      server.awaitReady(10, TimeUnit.MINUTES);
      Braid braid = server.braid();
      try (RetailDemo demo = new RetailDemo(braid, seed, server::ingestText)) {
        Tour tour = new Tour(server.url(), dataDir, temporary && !keep);
        if (port != 0 && server.port() != port) { // the text said so when it happened; the JSON says it here
          tour.json.put("portTaken", port);
        }
        tour.intro(out);
        loadHistory(braid, demo, tour, out, () -> stop.getCount() == 0);
        if (stop.getCount() > 0) {
          tour.batch(out, demo.batchAll());
          demo.startLive(rate, System.currentTimeMillis());
          if (!stop.await(1500, TimeUnit.MILLISECONDS)) { // let the speed layer gather a Delta worth showing
            tour.walk(out);
            if (json) {
              out.println(tour.json.toPrettyString());
            } else {
              tour.outro(out);
            }
            out.flush();
            keepRunning(braid, demo, stop, out);
          }
        }
      }
    } finally {
      try {
        if (temporary && !keep) {
          deleteRecursively(dataDir);
        }
      } finally {
        done.countDown();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
          // Ctrl-C: the JVM is exiting and the hook is running
        }
      }
    }
    return 0;
  }

  private static void quietEngineLog() {
    if (org.slf4j.LoggerFactory.getLogger("dev.braid") instanceof ch.qos.logback.classic.Logger logger) {
      logger.setLevel(ch.qos.logback.classic.Level.WARN);
    }
  }

  private BraidServer startServer(Path dataDir, PrintWriter out) throws IOException {
    BraidServer.Config config = BraidServer.Config.defaults().withBind(bind).withPort(port);
    try {
      return BraidServer.start(RetailDemo.spec(), dataDir, config);
    } catch (RuntimeException e) {
      if (port == 0 || !causedByBind(e)) {
        throw e;
      }
      if (!json) {
        out.printf("Port %d is taken; using a free port instead (--port chooses one).%n", port);
      }
      return BraidServer.start(RetailDemo.spec(), dataDir, config.withPort(0));
    }
  }

  private static boolean causedByBind(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  /** Events the log held before this demo sent any: a kept {@code --data} directory's earlier runs. */
  private long eventsBefore;

  private void loadHistory(Braid braid, RetailDemo demo, Tour tour, PrintWriter out,
      java.util.function.BooleanSupplier stopped) {
    long inLog = braid.status().streams().stream().mapToLong(Status.StreamStatus::events).sum();
    eventsBefore = inLog;
    tour.json.put("eventsBefore", inLog);
    if (inLog > 0) { // a kept --data directory: a day of history again would count the same day twice
      tour.json.put("historyLoaded", 0);
      if (!json) {
        out.printf("%n[1/3] The log already holds %,d events from an earlier run in this directory: no more history"
            + "%n      is loaded (a new --data directory, or none, starts from a day of history)%n", inLog);
        out.flush();
      }
      return;
    }
    if (!json) {
      out.printf("%n[1/3] Loading a day of history: %,d events (sales and card payments) into the log%n", history);
      out.flush();
    }
    long t0 = System.nanoTime();
    long loaded;
    if (noProgress || history == 0) {
      loaded = demo.loadHistory(history, System.currentTimeMillis(), n -> { }, stopped);
    } else {
      try (ProgressBar bar = Progress.bar("history", history, "events", spec.commandLine().getErr())) {
        loaded = demo.loadHistory(history, System.currentTimeMillis(), bar::stepTo, stopped);
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    tour.json.put("historyLoaded", loaded);
    if (!json) {
      out.printf("      %,d events in %.1f s (%,.0f events/s through validation, encoding and the log)%n", loaded,
          seconds, seconds > 0 ? loaded / seconds : 0);
    }
  }

  /** Runs until Ctrl-C or {@code --duration}: a status line every 10 s, a batch cycle every {@code --batch-every}. */
  private void keepRunning(Braid braid, RetailDemo demo, CountDownLatch stop, PrintWriter out)
      throws InterruptedException {
    long start = System.nanoTime();
    long end = duration == null ? Long.MAX_VALUE : start + duration.toNanos();
    long nextBatch = batchEvery.isZero() ? Long.MAX_VALUE : start + batchEvery.toNanos();
    long nextStatus = start + TimeUnit.SECONDS.toNanos(10);
    long lastSent = demo.sent();
    long lastStatus = start;
    while (true) {
      long now = System.nanoTime();
      long wake = Math.min(end, Math.min(nextBatch, nextStatus));
      if (now >= end || stop.await(Math.max(0, wake - now), TimeUnit.NANOSECONDS)) {
        break;
      }
      now = System.nanoTime();
      if (now >= nextBatch) {
        List<BatchRun> runs = demo.batchAll();
        if (!json) {
          out.printf("%s  batch cycle: %s%n", clock(), String.join(", ", runs.stream()
              .map(r -> r.view() + " v" + r.version() + " (" + r.millis() + " ms)").toList()));
        }
        nextBatch = now + batchEvery.toNanos();
      }
      if (now >= nextStatus) {
        Status status = braid.status(); // first: the demo counts events as sent before appending them
        long sent = demo.sent();
        if (!json) {
          out.println(statusLine(status, eventsBefore, sent, (sent - lastSent) / ((now - lastStatus) / 1e9)));
        }
        lastSent = sent;
        lastStatus = now;
        nextStatus = now + TimeUnit.SECONDS.toNanos(10);
      }
      out.flush();
    }
    if (!json) {
      out.printf("%s  stopping: %,d events sent in total%n", clock(), demo.sent());
      out.flush();
    }
  }

  /**
   * Events in the log, the rate the demo sends at now and the speed layer's largest lag; then,
   * when they differ, how many of the events this demo sent are not in the log yet (being
   * appended), and how many of the log's events an earlier run in the same {@code --data}
   * directory left. {@code status} must be read before {@code sent} (see {@link RetailDemo#sent}),
   * so that the log never holds more of this run's events than were sent.
   */
  static String statusLine(Status status, long before, long sent, double rate) {
    long maxLag = status.views().stream().mapToLong(Status.ViewStatus::lag).max().orElse(0);
    long inLog = status.streams().stream().mapToLong(Status.StreamStatus::events).sum();
    long pending = sent - (inLog - before);
    return String.format(Locale.ROOT, "%s  %,d events in the log (%,.0f/s sent now); speed layer lag %,d events",
        clock(), inLog, rate, maxLag)
        + (pending > 0 ? String.format(Locale.ROOT, "; %,d sent, %,d of them still being appended", sent, pending) : "")
        + (before > 0 ? String.format(Locale.ROOT, "; %,d from an earlier run", before) : "");
  }

  private static String clock() {
    return LocalTime.now().format(java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss")); // 09:33:00, not 09:33
  }

  // -------------------------------------------------------------------------------------------

  /** The guided tour: prints text as it goes and collects the same content as JSON. */
  private final class Tour {
    private static final String SALES = "/v1/views/sales_by_store/keys/WEB";
    private static final String SPEND = "/v1/views/spend_by_user/keys/u-000000";
    private static final String BATCH = "/v1/views/sales_by_store/batch";

    final String url;
    final Path dataDir;
    final boolean deletedOnExit;
    final ObjectNode json = JSON.createObjectNode();

    Tour(String url, Path dataDir, boolean deletedOnExit) {
      this.url = url;
      this.dataDir = dataDir;
      this.deletedOnExit = deletedOnExit;
      json.put("url", url);
      json.put("spec", RetailDemo.SPEC_NAME);
      json.put("dataDir", dataDir.toString());
      json.put("deletedOnExit", deletedOnExit);
    }

    void intro(PrintWriter out) {
      if (DemoCommand.this.json) {
        return;
      }
      out.println("Braid demo: a retail chain's sales and its customers' card payments");
      out.printf("  server  %s%n", url);
      out.printf("  spec    %s (streams sales and transactions; views sales_by_store,%n", RetailDemo.SPEC_NAME);
      out.println("          revenue_by_product_daily, spend_by_user, spend_by_user_hourly)");
      out.printf("  data    %s%s%n", dataDir, deletedOnExit ? " (temporary, deleted on exit; --data DIR keeps it)" : "");
      out.println();
      out.println("How Braid answers: every event is appended once to a log. The batch layer recomputes each view");
      out.println("over the log up to a point, the cut, into a Base on disk; the speed layer folds each event after");
      out.println("the cut into an in-memory Delta within milliseconds. A read returns Base merged with Delta: the");
      out.println("whole history and the last second, with no event counted twice or missed where the two meet.");
      out.flush();
    }

    void batch(PrintWriter out, List<BatchRun> runs) {
      ArrayNode a = json.putArray("batch");
      for (BatchRun r : runs) {
        a.addObject().put("view", r.view()).put("version", r.version()).put("millis", r.millis());
      }
      if (DemoCommand.this.json) {
        return;
      }
      out.printf("%n[2/3] Batch layer: each view's Base computed over the whole log so far%n");
      for (BatchRun r : runs) {
        out.printf("      %-24s version %d in %,d ms%n", r.view(), r.version(), r.millis());
      }
      if (runs.stream().allMatch(r -> r.version() == 2)) {
        out.println("      (version 1 of each view is the one the server started with: an empty Base, everything in");
        out.println("      the Delta; each batch cycle makes the next version and keeps the one before as a backup)");
      } else {
        out.println("      (the versions before are this directory's earlier batch cycles and the first start's empty");
        out.println("      Base; each batch cycle makes the next version and keeps the one before as a backup)");
      }
      out.printf("%n[3/3] Speed layer: a live feed now sends %,d events/s; each lands in the views' Delta%n", rate);
      out.println("      within milliseconds. Every read merges Base and Delta at the Base's cut.");
      out.flush();
    }

    void walk(PrintWriter out) throws InterruptedException {
      ArrayNode steps = json.putArray("tour");
      if (!DemoCommand.this.json) {
        out.printf("%nThe tour (the same requests work from another terminal while the demo runs):%n");
      }

      Call first = RetailDemo.get(url, SALES);
      step(out, steps, "1. All-time sales of the web shop: the Base plus the Delta, merged", first);
      explainMerge(out, first.answer());

      Call spend = RetailDemo.get(url, SPEND);
      step(out, steps, "2. A card holder's spend profile for fraud checks (count, total, largest, quantiles,"
          + " distinct merchants and countries)", spend);
      say(out, "   Sketches (quantiles, distinct counts) merge across Base and Delta too, within their error bounds.");

      Call batch = RetailDemo.post(url, BATCH);
      step(out, steps, "3. Run a batch cycle now: a new Base at a new cut, swapped in atomically", batch);
      say(out, "   (the answer lists every version of the view; only the current one is shown here)");
      Thread.sleep(200); // so the live feed's sales since the batch show in the second read
      Call again = RetailDemo.get(url, SALES);
      step(out, steps, "   ... and read the web shop's sales again", again);
      explainSwap(out, first.answer(), again.answer());
    }

    private void step(PrintWriter out, ArrayNode steps, String title, Call call) {
      steps.addObject().put("title", title.trim()).put("command", call.curl()).put("status", call.status())
          .set("answer", call.answer());
      if (DemoCommand.this.json) {
        return;
      }
      out.printf("%n%s%n   $ %s%n   %s%n", title, call.curl(), shortened(call.answer()));
      out.flush();
    }

    private void explainMerge(PrintWriter out, JsonNode answer) {
      JsonNode asOf = answer.path("asOf");
      long sinceCut = distance(asOf.path("cut"), asOf.path("position"));
      say(out, String.format(Locale.ROOT, "   The batch layer computed version %d's Base over every sales event before"
          + " the cut %s (one offset per partition); the speed layer has folded the %,d events from the cut up to"
          + " the position %s into the Delta. The answer is their exact merge: nothing counted twice, nothing"
          + " missed at the seam.", asOf.path("version").asLong(), asOf.path("cut"), sinceCut, asOf.path("position")));
    }

    private void explainSwap(PrintWriter out, JsonNode before, JsonNode after) {
      long salesBefore = before.path("values").path("sales").asLong();
      long salesAfter = after.path("values").path("sales").asLong();
      say(out, String.format(Locale.ROOT, "   Version %d is current now; its cut %s is where the old version's Delta"
          + " was when the batch began. The web shop's sales went from %,d to %,d: the new sales of the live feed,"
          + " no jump, no dip.", after.path("asOf").path("version").asLong(), after.path("asOf").path("cut"),
          salesBefore, salesAfter));
    }

    private void say(PrintWriter out, String text) {
      if (!DemoCommand.this.json) {
        out.println(wrap(text, 100, "   "));
        out.flush();
      }
    }

    void outro(PrintWriter out) {
      out.printf("%nBraid keeps running with the live feed on. Try, from another terminal:%n");
      out.printf("   ./braid status --url %s%n", url);
      out.printf("   ./braid query spend_by_user_hourly u-000000 --url %s%n", url);
      out.printf("   curl -s %s/metrics | grep braid_%n", url);
      out.printf("%s. Ctrl-C stops it.%n%n", duration == null ? "A status line follows every 10 s"
          : "It stops by itself after " + Durations.format(duration));
      out.flush();
    }
  }

  /** A batch answer with only its current version, so the tour stays readable. */
  static JsonNode shortened(JsonNode answer) {
    if (!(answer instanceof ObjectNode o) || !o.path("versions").isArray()) {
      return answer;
    }
    ObjectNode copy = o.deepCopy();
    ArrayNode current = JSON.createArrayNode();
    for (JsonNode v : o.path("versions")) {
      if (v.path("id").asLong() == o.path("current").asLong()) {
        current.add(v);
      }
    }
    copy.set("versions", current);
    return copy;
  }

  /** Sum over partitions of {@code position - cut}: events between the two cuts of the embedded log. */
  static long distance(JsonNode cut, JsonNode position) {
    long n = 0;
    for (int i = 0; i < position.size(); i++) {
      n += position.get(i).asLong() - cut.path(i).asLong();
    }
    return n;
  }

  /** Wraps {@code text} at {@code width}, continuing lines with {@code indent}. */
  static String wrap(String text, int width, String indent) {
    StringBuilder sb = new StringBuilder();
    int lineStart = 0;
    for (String word : text.strip().split(" +")) {
      if (sb.length() - lineStart + word.length() + 1 > width && sb.length() > lineStart) {
        sb.append(System.lineSeparator()).append(indent);
        lineStart = sb.length() - indent.length();
      } else if (sb.length() > 0) {
        sb.append(' ');
      } else {
        sb.append(indent);
      }
      sb.append(word);
    }
    return sb.toString();
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
}
