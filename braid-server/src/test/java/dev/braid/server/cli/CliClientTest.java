package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The client commands against a real server on a loopback port: output and exit codes. */
class CliClientTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 2
          key: product
          time: ts
          fields: {product: string, amount: double, units: long, ts: timestamp}
          rules: ["amount >= 0.0"]
      views:
        revenue:
          from: sales
          group_by: product
          aggregate: {n: count, revenue: sum(amount), units: sum(units)}
      """;

  @TempDir
  Path dir;

  BraidServer server;

  record Run(int exit, String out, String err) {}

  @BeforeEach
  void start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  /**
   * A stand-in for a server on loopback, started: {@code answer} gives each request's status and JSON
   * body (a problem document from 400 on).
   */
  static com.sun.net.httpserver.HttpServer fakeServer(
      java.util.function.Function<com.sun.net.httpserver.HttpExchange, Map.Entry<Integer, String>> answer)
      throws java.io.IOException {
    return fakeServer(0, answer);
  }

  /** As {@link #fakeServer(java.util.function.Function)}, on {@code port} (0: any free one). */
  static com.sun.net.httpserver.HttpServer fakeServer(int port,
      java.util.function.Function<com.sun.net.httpserver.HttpExchange, Map.Entry<Integer, String>> answer)
      throws java.io.IOException {
    com.sun.net.httpserver.HttpServer s = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port), 0);
    s.createContext("/", exchange -> {
      exchange.getRequestBody().readAllBytes();
      Map.Entry<Integer, String> a = answer.apply(exchange);
      byte[] body = a.getValue().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", a.getKey() < 400 ? "application/json" : "application/problem+json");
      exchange.sendResponseHeaders(a.getKey(), body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    s.start();
    return s;
  }

  /** Runs the command line in this JVM, capturing its output. */
  static Run braid(String... args) {
    CommandLine cli = BraidCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  String url() {
    return "--url=" + server.url();
  }

  void awaitUnits(String product, long units) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      Run q = braid("query", "revenue", product, url(), "--json");
      if (new ObjectMapper().readTree(q.out()).path("values").path("units").asLong() == units) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("units of " + product + " never reached " + units);
  }

  @Test
  void shouldSayWhatWasSentAndHowToResumeWhenARequestFailsPartWay() throws Exception {
    try (BraidServer small = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("small"),
        BraidServer.Config.defaults().withPort(0).withMaxBodyBytes(2000)).awaitReady(30, TimeUnit.SECONDS)) {
      String good = "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 5}\n";
      String huge = "{\"product\": \"" + "x".repeat(3000) + "\", \"amount\": 1.0, \"units\": 1, \"ts\": 5}\n";
      Path file = dir.resolve("mid.ndjson");
      Files.writeString(file, good.repeat(6) + huge + good.repeat(4));
      Run first = braid("ingest", "sales", file.toString(), "--url=" + small.url(), "--no-progress", "--batch", "3",
          "--key-prefix", "mid");
      assertThat(first.exit()).isEqualTo(1);
      assertThat(first.out()).contains("sales: 6 events accepted, 0 rejected");
      assertThat(first.err()).contains("(HTTP 413)").contains("request 3 (lines 7-9) failed; the 2 requests before it "
          + "(lines up to 6) were answered: 6 events accepted, 0 rejected. To go on, fix the input and run the same "
          + "command with --key-prefix mid: the requests already answered are recognized and not added again "
          + "(if no one event is too big, send lines 7 and after with a smaller --batch and a new --key-prefix: a "
          + "changed --batch cuts other batches under the same keys)");

      Files.writeString(file, good.repeat(6) + good + good.repeat(4));
      Run resumed = braid("ingest", "sales", file.toString(), "--url=" + small.url(), "--no-progress", "--batch", "3",
          "--key-prefix", "mid");
      assertThat(resumed.exit()).as(resumed.err()).isZero();
      assertThat(resumed.out()).contains("11 events accepted, 0 rejected")
          .contains("6 of the accepted events were already in the stream");
      Run status = braid("status", "--url=" + small.url(), "--json");
      assertThat(new ObjectMapper().readTree(status.out()).path("streams").get(0).path("events").asLong())
          .as(status.out()).isEqualTo(11);
    }
  }

  @Test
  void shouldNotBlameTheInputWhenTheServerFailsPartWay() throws Exception {
    Path file = dir.resolve("ok.ndjson");
    Files.writeString(file, "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 5}\n".repeat(4));
    // a server that takes the first request and then fails: the input is fine
    java.util.concurrent.atomic.AtomicInteger requests = new java.util.concurrent.atomic.AtomicInteger();
    com.sun.net.httpserver.HttpServer failing = fakeServer(exchange ->
        !exchange.getRequestURI().getPath().endsWith("/events") || requests.incrementAndGet() == 1
            ? Map.entry(200, "{\"accepted\": 2, \"duplicates\": 0, \"rejected\": 0, \"rejections\": []}")
            : Map.entry(500, "{\"type\": \"/problems/internal\", \"title\": \"Internal error\", \"status\": 500, "
                + "\"detail\": \"disk gone\"}"));
    try {
      Run r = braid("ingest", "sales", file.toString(), "--url=http://127.0.0.1:" + failing.getAddress().getPort(),
          "--no-progress", "--batch", "2", "--attempts", "1", "--key-prefix", "gone");
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err()).contains("disk gone").contains("request 2 (lines 3-4) failed")
          .contains("To go on, once the server answers again, run the same command with --key-prefix gone")
          .doesNotContain("fix the input");
      // the failure ends with its one error line; what the earlier requests did, and how to resume, is above it
      java.util.List<String> err = r.err().lines().toList();
      assertThat(err.get(err.size() - 1)).startsWith("braid: error: ").contains("disk gone")
          .doesNotContain("request 2");
      assertThat(err).anySatisfy(l -> assertThat(l).startsWith("braid: request 2 (lines 3-4) failed; the request "
          + "before it (lines up to 2) was answered"));
      Run asJson = braid("ingest", "sales", file.toString(), "--url=http://127.0.0.1:" + failing.getAddress().getPort(),
          "--no-progress", "--batch", "2", "--attempts", "1", "--key-prefix", "gone", "--json");
      JsonNode e = new ObjectMapper().readTree(asJson.err());
      assertThat(e.path("error").asText()).contains("disk gone").doesNotContain("\n");
      assertThat(e.path("notes").get(0).asText()) // the fake server takes only its first request
          .startsWith("request 1 (lines 1-2) failed; it was the first request");
    } finally {
      failing.stop(0);
    }
  }

  /**
   * A pipe given as the file ({@code braid ingest sales <(tail -f log | jq ...)}) is a feed as
   * standard input is: a partial batch goes after the linger, while the pipe is still open (a named
   * pipe waited for a full batch or its end).
   */
  @Test
  void shouldSendASlowFeedFromAPipeWithoutWaitingForAFullBatch() throws Exception {
    Path fifo = dir.resolve("feed");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    java.util.concurrent.atomic.AtomicReference<Run> run = new java.util.concurrent.atomic.AtomicReference<>();
    Thread ingest = new Thread(() -> run.set(braid("ingest", "sales", fifo.toString(), url(), "--no-progress",
        "--batch", "1000")));
    ingest.start();
    try (java.io.OutputStream feed = Files.newOutputStream(fifo)) {
      feedThree(feed, "pipe");
      awaitUnits("pipe", 3); // sent after the linger (200 ms), while the pipe is still open
      assertThat(ingest.isAlive()).as("still reading the pipe").isTrue();
    }
    ingest.join(30_000);
    assertThat(run.get().exit()).as(run.get().err()).isZero();
    assertThat(run.get().out()).contains("sales: 3 events accepted, 0 rejected");
  }

  /** Writes three events of {@code product}, one unit each, to a feed that stays open. */
  private static void feedThree(java.io.OutputStream feed, String product) throws java.io.IOException {
    for (int i = 0; i < 3; i++) {
      feed.write(("{\"product\": \"" + product + "\", \"amount\": 1.0, \"units\": 1, \"ts\": " + i + "}\n")
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      feed.flush();
    }
  }

  @Test
  void shouldSendASlowFeedFromStandardInputWithoutWaitingForAFullBatch() throws Exception {
    java.io.InputStream stdin = System.in;
    java.io.PipedOutputStream feed = new java.io.PipedOutputStream();
    java.io.PipedInputStream in = new java.io.PipedInputStream(feed);
    System.setIn(in);
    try {
      java.util.concurrent.atomic.AtomicReference<Run> run = new java.util.concurrent.atomic.AtomicReference<>();
      Thread ingest = new Thread(() -> run.set(braid("ingest", "sales", "-", url(), "--no-progress", "--batch", "1000")));
      ingest.start();
      feedThree(feed, "tea");
      awaitUnits("tea", 3); // sent after the linger (200 ms), while standard input is still open
      assertThat(ingest.isAlive()).as("still reading standard input").isTrue();
      feed.close();
      ingest.join(30_000);
      assertThat(run.get().exit()).as(run.get().err()).isZero();
      assertThat(run.get().out()).contains("sales: 3 events accepted, 0 rejected");
    } finally {
      System.setIn(stdin);
    }
  }

  /**
   * A request from standard input that fails is not sent again by the linger thread under the next
   * request's number while the reading thread reports it: the failing server sees one request, and the
   * error names request 1. (The linger thread, ticking while the slow request held the sender, took
   * the sender as soon as the failure released it and found a full, old batch to send.)
   */
  @Test
  void shouldNotSendAFailedRequestFromStandardInputAgain() throws Exception {
    java.util.concurrent.atomic.AtomicInteger posts = new java.util.concurrent.atomic.AtomicInteger();
    com.sun.net.httpserver.HttpServer slowFailing = fakeServer(exchange -> {
      if (!exchange.getRequestMethod().equals("POST")) {
        return Map.entry(200, "{\"name\":\"sales\",\"fields\":[]}");
      }
      posts.incrementAndGet();
      try {
        Thread.sleep(1_200); // longer than the linger: its thread waits for the sender meanwhile
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return Map.entry(400, "{\"type\":\"/problems/invalid\",\"title\":\"Bad Request\",\"status\":400,"
          + "\"detail\":\"no room for these\"}");
    });
    java.io.InputStream stdin = System.in;
    java.io.PipedOutputStream feed = new java.io.PipedOutputStream();
    System.setIn(new java.io.PipedInputStream(feed));
    try {
      java.util.concurrent.atomic.AtomicReference<Run> run = new java.util.concurrent.atomic.AtomicReference<>();
      Thread ingest = new Thread(() -> run.set(braid("ingest", "sales", "-", "--no-progress", "--batch", "2",
          "--linger", "400", "--attempts", "1", "--key-prefix", "once",
          "--url=http://127.0.0.1:" + slowFailing.getAddress().getPort())));
      ingest.start();
      feed.write("{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n".repeat(2)
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      feed.flush();
      ingest.join(30_000);
      assertThat(run.get()).as("the ingest ended on the failure, standard input still open").isNotNull();
      Thread.sleep(500); // a second request, if one went out, has reached the server by now
      assertThat(run.get().exit()).isEqualTo(1);
      assertThat(run.get().err()).contains("no room for these").contains("request 1 (lines 1-2)");
      assertThat(posts.get()).as(run.get().err()).isEqualTo(1);
    } finally {
      feed.close(); // an ingest still reading ends
      System.setIn(stdin);
      slowFailing.stop(0);
    }
  }

  @Test
  void shouldIngestNdjsonAndCsvThenQueryBatchAndListVersions() throws Exception {
    Path nd = dir.resolve("sales.ndjson");
    Files.writeString(nd, """
        {"product": "tea", "amount": 3.5, "units": 2, "ts": "2026-11-22T10:00:00Z"}
        {"product": "tea", "amount": -1.0, "units": 1, "ts": 1}

        {"product": "jam", "amount": 4.0, "units": 1, "ts": 1763800000000}
        """);
    Run ingest = braid("ingest", "sales", nd.toString(), url(), "--no-progress");
    assertThat(ingest.exit()).as(ingest.err()).isEqualTo(1);
    assertThat(ingest.out()).contains("sales: 2 events accepted, 1 rejected")
        .contains("rejected line 2: rule failed: amount >= 0.0");
    assertThat(ingest.err()).isEqualTo("braid: error: 1 of 3 events was rejected; the server keeps those it "
        + "rejected, with their reasons, in its dead-letter log: braid dead-letters sales --url " + server.url()
        + System.lineSeparator());
    Run letters = braid("dead-letters", "sales", url());
    assertThat(letters.exit()).as(letters.err()).isZero();
    assertThat(letters.out()).contains("index in request", "rule failed: amount >= 0.0", "\"amount\": -1.0")
        .doesNotContain("more may follow");
    // the event as it was sent: JSON's backslashes as they are, a raw control character as JSON's escape of it
    Path quoted = dir.resolve("quoted.ndjson");
    Files.writeString(quoted, "{\"product\": \"t\\\"ea\", \"amount\": -2.0, \"units\": 1, \"ts\": 1}\n"
        + "{\"product\": \"t\tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n");
    assertThat(braid("ingest", "sales", quoted.toString(), url(), "--no-progress").exit()).isEqualTo(1);
    Run shown = braid("dead-letters", "sales", url(), "--from", "1");
    assertThat(shown.out()).contains("{\"product\": \"t\\\"ea\"", "{\"product\": \"t\\u0009ea\"")
        .doesNotContain("t\\\\\"ea");

    Path csv = dir.resolve("sales.csv");
    // a quoted empty cell of a string field is the empty string: the product "" (an empty one would be absent)
    Files.writeString(csv, "product,amount,units,ts\ntea,1.25,3,2026-11-22T11:00:00Z\n\"jam, smooth\",2,1,5\n\"\",0.5,1,6\n");
    Run csvRun = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(csvRun.exit()).as(csvRun.out() + csvRun.err()).isZero();
    assertThat(csvRun.out()).contains("3 events accepted, 0 rejected");
    awaitUnits("tea", 5);

    Run batch = braid("batch", "revenue", url());
    assertThat(batch.exit()).as(batch.err()).isZero();
    assertThat(batch.out()).containsPattern("view revenue: version \\d+ is current \\(base at cut \\[\\d+,\\d+\\], 4 keys\\)");
    Run again = braid("batch", "revenue", url()); // nothing new since: no version is built, and it says so
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(again.out()).containsPattern("view revenue: no events since version \\d+'s cut: it stays current, and "
        + "this request built no new version").doesNotContain("is current (base");

    Run query = braid("query", "revenue", "tea", url());
    assertThat(query.exit()).isZero();
    assertThat(query.out()).contains("revenue[tea]").containsPattern("units\\s+5").containsPattern("n\\s+2")
        .contains("as of version");
    JsonNode json = new ObjectMapper().readTree(braid("query", "revenue", "jam, smooth", url(), "--json").out());
    assertThat(json.path("values").path("n").asLong()).isEqualTo(1);
    Run emptyKey = braid("query", "revenue", "", url());
    assertThat(emptyKey.exit()).as(emptyKey.err()).isZero();
    assertThat(emptyKey.out()).as("the empty key (the CSV's quoted empty product), read through a batchGet")
        .contains("revenue[]").containsPattern("n\\s+1");

    Run versions = braid("versions", "revenue", url());
    assertThat(versions.out()).contains("version").contains("current").contains("backup");
    Run status = braid("status", url());
    assertThat(status.out()).contains("sales").contains("revenue");
  }

  /** Stops the test's server and starts one on a new data directory whose spec has {@code view} besides SPEC's. */
  private void startWithView(String view) throws Exception {
    server.close();
    server = BraidServer.start(PipelineSpec.parse(SPEC + view, "t.yaml"), Files.createTempDirectory(dir, "data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
  }

  /** Rejected events a page at a time, a long one cut in the table; late events with --late; bad options named. */
  @Test
  void shouldListDeadLettersAndLateEventsAPageAtATime() throws Exception {
    startWithView("""
          hourly:
            from: sales
            group_by: product
            window: {tumbling: 1h}
            allowed_lateness: 0s
            aggregate: {n: count}
        """);
    assertThat(braid("dead-letters", "sales", url()).out()).isEqualTo("stream sales: no rejected events"
        + System.lineSeparator());
    java.util.List<String> bad = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      bad.add("{\"product\": \"p" + "x".repeat(i == 2 ? 300 : 1) + "\", \"amount\": -" + (i + 1)
          + ".0, \"units\": 1, \"ts\": 5}");
    }
    assertThat(server.ingestText("sales", bad).rejections()).hasSize(3);

    Run page = braid("dead-letters", "sales", url(), "--limit", "2");

    assertThat(page.exit()).as(page.err()).isZero();
    assertThat(page.out()).contains("amount >= 0.0", "-1.0", "-2.0").doesNotContain("-3.0", "x".repeat(300))
        .contains("more may follow: braid dead-letters sales --from 2 --limit 2 --url " + server.url());
    Run rest = braid("dead-letters", "sales", url(), "--from", "2", "--limit", "2");
    assertThat(rest.out()).contains("px").contains("... (").contains(" chars)").doesNotContain("x".repeat(300))
        .doesNotContain("more may follow");
    JsonNode json = new ObjectMapper().readTree(braid("dead-letters", "sales", url(), "--from", "2", "--json").out());
    assertThat(json.path("deadLetters").get(0).path("event").asText()).as("--json: the event whole")
        .contains("x".repeat(300));
    assertThat(braid("dead-letters", "sales", url(), "--from", "3").out()).contains("no rejected events from offset 3");
    String longName = "f".repeat(500); // a reason that quotes it: cut in the table, whole in --json
    assertThat(server.ingestText("sales", java.util.List.of("{\"product\": \"p\", \"" + longName + "\": 1}"))
        .rejections()).hasSize(1);
    Run longReason = braid("dead-letters", "sales", url(), "--from", "3");
    assertThat(longReason.out()).contains("unknown field 'fff").doesNotContain(longName).containsPattern(
        "\\.\\.\\. \\([0-9,]+ chars\\)");
    assertThat(new ObjectMapper().readTree(braid("dead-letters", "sales", url(), "--from", "3", "--json").out())
        .path("deadLetters").get(0).path("reason").asText()).contains(longName);

    assertThat(server.ingestText("sales", java.util.List.of(
        "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": \"2026-11-22T12:00:00Z\"}",
        "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": \"2026-11-22T10:00:00Z\"}")).accepted())
        .isEqualTo(2);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    Run late = braid("dead-letters", "sales", "--late", url());
    while (!late.out().contains("tea") && System.nanoTime() < deadline) {
      Thread.sleep(20);
      late = braid("dead-letters", "sales", "--late", url());
    }
    assertThat(late.exit()).as(late.err()).isZero();
    assertThat(late.out()).contains("hourly", "tea", "2026-11-22T10:00:00Z", "2026-11-22T12:00:00Z", "yes");

    Run badLimit = braid("dead-letters", "sales", url(), "--limit", "0");
    assertThat(badLimit.exit()).isEqualTo(2);
    assertThat(badLimit.err()).contains("--limit must be 1 to 1000, got 0");
    Run unknown = braid("dead-letters", "nope", url());
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).contains("unknown stream 'nope'");
    Run ofAView = braid("dead-letters", "revenue", url());
    assertThat(ofAView.exit()).isEqualTo(1);
    assertThat(ofAView.err()).contains("unknown stream 'revenue'; streams are: sales; 'revenue' is a view: read it "
        + "with GET /v1/views/revenue/keys/{key} (braid query); its events' dead letters are those of its stream, "
        + "'sales' (HTTP 404)");
    Path rows = dir.resolve("rows.jsonl");
    Files.writeString(rows, "{\"product\": \"tea\"}\n");
    Run toAStream = braid("push", "sales", rows.toString(), url(), "--no-progress");
    assertThat(toAStream.exit()).isEqualTo(1);
    assertThat(toAStream.err()).contains("unknown table 'sales'").contains("'sales' is a stream: send its events "
        + "with POST /v1/streams/sales/events (braid ingest sales FILE)");
  }

  /** A timestamp aggregate reads as ISO-8601 text in the table, as epoch millis in --json (the API's form). */
  @Test
  void shouldShowTimestampAggregatesAsIsoText() throws Exception {
    startWithView("""
          recent:
            from: sales
            group_by: product
            window: {tumbling: 1h}
            aggregate: {n: count, last_sale: max(ts), first_units: first(units)}
        """);
    assertThat(server.ingestText("sales", java.util.List.of(
        "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 3, \"ts\": \"2026-11-22T10:05:00Z\"}",
        "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 4, \"ts\": \"2026-11-22T10:30:00.250Z\"}"))
        .accepted()).isEqualTo(2);
    long millis = java.time.Instant.parse("2026-11-22T10:30:00.250Z").toEpochMilli();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    JsonNode json = new ObjectMapper().readTree(braid("query", "recent", "tea", url(), "--json").out());
    while (json.path("values").path("n").asLong() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(10);
      json = new ObjectMapper().readTree(braid("query", "recent", "tea", url(), "--json").out());
    }
    assertThat(json.path("values").path("last_sale").asLong()).as("the API's form: epoch millis").isEqualTo(millis);

    Run query = braid("query", "recent", "tea", url());

    assertThat(query.exit()).as(query.err()).isZero();
    assertThat(query.out()).containsPattern("last_sale\\s+2026-11-22T10:30:00.250Z")
        .as("a count and a first(units) stay numbers").containsPattern("first_units\\s+3").containsPattern("n\\s+2")
        .contains("\"last_sale\":\"2026-11-22T10:30:00.250Z\"").doesNotContain(Long.toString(millis));
    assertThat(braid("query", "revenue", "tea", url()).out()).as("a view without timestamps as before")
        .containsPattern("n\\s+2");
  }

  @Test
  void shouldIngestAJsonArrayAndStdinInManyRequestsWithProgressAndJsonOutput() throws Exception {
    Path arr = dir.resolve("sales.json");
    Files.writeString(arr, """
        [{"product": "fig", "amount": 1.0, "units": 1, "ts": 1},
         {"product": "fig", "amount": 2.0, "units": 2, "ts": 2}]
        """);
    Run array = braid("ingest", "sales", arr.toString(), url(), "--json");
    assertThat(array.exit()).as(array.err()).isZero();
    JsonNode summary = new ObjectMapper().readTree(array.out());
    assertThat(summary.path("accepted").asLong()).isEqualTo(2);
    assertThat(summary.path("rejected").asLong()).isZero();

    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      lines.append("{\"product\": \"kiwi\", \"amount\": 1.0, \"units\": 1, \"ts\": ").append(i).append("}\n");
    }
    java.io.InputStream stdin = System.in;
    Run piped;
    try {
      System.setIn(new java.io.ByteArrayInputStream(lines.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      piped = braid("ingest", "sales", "-", url(), "--batch", "7");
    } finally {
      System.setIn(stdin);
    }
    assertThat(piped.exit()).as(piped.err()).isZero();
    assertThat(piped.out()).contains("sales: 30 events accepted, 0 rejected");
    // Not a terminal: the progress bar prints plain lines on stderr.
    assertThat(piped.err()).contains("ingest sales: 30 events, 0:00:0").doesNotContain("\r");
    // A file's size gives an estimate of its events, so its bar has a percentage; it ends at 100 %.
    Path plums = dir.resolve("plums.ndjson");
    Files.writeString(plums, lines.toString().replace("kiwi", "plum").repeat(2));
    Run file = braid("ingest", "sales", plums.toString(), url(), "--batch", "20");
    assertThat(file.exit()).as(file.err()).isZero();
    assertThat(file.err()).contains("ingest sales: 60 of 60 events (100 %)");
    awaitUnits("kiwi", 30);
    awaitUnits("fig", 3);

    JsonNode batch = new ObjectMapper().readTree(braid("batch", "revenue", url(), "--json").out());
    long built = batch.path("built").asLong();
    assertThat(batch.path("current").asLong()).isEqualTo(built).isGreaterThan(1);
    assertThat(batch.path("batch").path("state").asText()).isEqualTo("done");
    double took = BatchCommand.seconds(batch.path("batch"), -1);
    assertThat(took).as("the server's start and end of the cycle").isBetween(0.0, 600.0);
    JsonNode versions = new ObjectMapper().readTree(braid("versions", "revenue", url(), "--json").out());
    assertThat(versions.path("current").asLong()).isEqualTo(built);
    assertThat(versions.path("versions").findValuesAsText("state")).containsExactly("backup", "current");
    JsonNode status = new ObjectMapper().readTree(braid("status", url(), "--json").out());
    assertThat(status.path("streams").get(0).path("events").asLong()).isEqualTo(2 + 30 + 60);
    assertThat(status.path("views").get(0).path("currentVersion").asLong()).isEqualTo(built);
  }

  @Test
  void shouldFailWithTheServersDetailAndANonZeroExit() {
    Run r = braid("query", "nope", "k", url());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("braid: error: unknown view 'nope'; views are: revenue (HTTP 404)");
    Run missing = braid("ingest", "sales", dir.resolve("missing.ndjson").toString(), url());
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).contains("no such file");
    Run down = braid("status", "--url=http://127.0.0.1:1");
    assertThat(down.exit()).isEqualTo(1);
    assertThat(down.err()).contains("cannot reach Braid at http://127.0.0.1:1");
    // a missing file is named at once, before the server is asked (it took the retries, then blamed the server)
    Run missingAndDown = braid("ingest", "sales", dir.resolve("missing.ndjson").toString(), "--url=http://127.0.0.1:1");
    assertThat(missingAndDown.exit()).isEqualTo(2);
    assertThat(missingAndDown.err()).contains("no such file").doesNotContain("cannot reach");
  }

  /**
   * {@code braid server ... &} followed at once by {@code braid ingest} (the README's example): the
   * ingest waits for the server to listen instead of failing with "cannot reach": up to a minute,
   * without using up its attempts (a loaded machine took 20 s to bind, past five attempts' 15 s).
   */
  @Test
  void shouldWaitForAServerThatIsNotListeningYet() throws Exception {
    int port;
    try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    Path events = dir.resolve("late.ndjson");
    Files.writeString(events, "{\"product\": \"late\", \"amount\": 1.0, \"units\": 4, \"ts\": 1}\n");
    java.util.concurrent.CompletableFuture<Run> ingest = java.util.concurrent.CompletableFuture.supplyAsync(
        () -> braid("ingest", "sales", events.toString(), "--url=http://127.0.0.1:" + port, "--no-progress",
            "--attempts", "1"));
    Thread.sleep(2_500);
    try (BraidServer late = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("late"),
        BraidServer.Config.defaults().withPort(port)).awaitReady(30, TimeUnit.SECONDS)) {
      Run r = ingest.get(60, TimeUnit.SECONDS);
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(r.out()).contains("sales: 1 event accepted, 0 rejected");
      assertThat(r.err()).contains("braid: nothing listens at http://127.0.0.1:" + port
          + " yet; waiting for the server to start, up to 60 s");
    }
  }

  /**
   * A refused connection to another machine is not a server starting a moment ago (a firewall, a
   * wrong port): the attempts count at once instead of a minute's wait. 192.0.2.1 is a documentation
   * address, never this machine's; a sandbox refuses it at once, a network drops it (a timeout).
   */
  @Test
  void shouldNotWaitForAServerToListenOnAnotherMachine() throws Exception {
    Path events = dir.resolve("remote.ndjson");
    Files.writeString(events, "{\"product\": \"far\", \"amount\": 1.0, \"units\": 4, \"ts\": 1}\n");
    Run r = braid("ingest", "sales", events.toString(), "--url=http://192.0.2.1:9", "--no-progress", "--attempts", "1",
        "--timeout", "2");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).doesNotContain("waiting for the server to start").contains("gave up after 1 attempt");
  }

  /**
   * Resuming with another --batch cuts other batches under the same keys: the server refuses the
   * first (422), and the message says to resume with the same FILE and --batch or a new prefix, not
   * also to "run the same command", which would fail the same way.
   */
  @Test
  void shouldSayHowToResumeOnlyOnceWhenAKeyPrefixIsReusedWithAnotherBatch() throws Exception {
    Path events = dir.resolve("six.ndjson");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      sb.append("{\"product\": \"p").append(i).append("\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n");
    }
    Files.writeString(events, sb);
    assertThat(braid("ingest", "sales", events.toString(), url(), "--no-progress", "--key-prefix", "six", "--batch", "2")
        .exit()).isZero();
    Run again = braid("ingest", "sales", events.toString(), url(), "--no-progress", "--key-prefix", "six", "--batch", "3");
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err()).contains("batch 1 (lines 1-3) is not what --key-prefix six sent before: resume with the "
        + "same FILE, --format and --batch as that run, or send new events with a new --key-prefix")
        .doesNotContain("To go on");
  }

  /** With --json a failure is one JSON object on standard error, the server's problem inside it. */
  @Test
  void shouldPrintAFailureAsJsonWhenAskedForJson() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Run r = braid("query", "nope", "k", url(), "--json");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    JsonNode e = json.readTree(r.err());
    assertThat(e.path("error").asText()).isEqualTo("unknown view 'nope'; views are: revenue (HTTP 404)");
    assertThat(e.path("exitCode").asInt()).isEqualTo(1);
    assertThat(e.path("status").asInt()).isEqualTo(404);
    assertThat(e.path("problem").path("status").asInt()).isEqualTo(404);
    assertThat(e.path("problem").path("detail").asText()).isEqualTo("unknown view 'nope'; views are: revenue");

    Run missing = braid("ingest", "sales", dir.resolve("missing.ndjson").toString(), url(), "--json");
    assertThat(missing.exit()).isEqualTo(2);
    JsonNode m = json.readTree(missing.err());
    assertThat(m.path("error").asText()).startsWith("no such file");
    assertThat(m.path("exitCode").asInt()).isEqualTo(2);
    assertThat(m.has("problem")).isFalse();

    Run down = braid("status", "--url=http://127.0.0.1:1", "--json");
    assertThat(down.exit()).isEqualTo(1);
    assertThat(json.readTree(down.err()).path("error").asText()).startsWith("cannot reach Braid at http://127.0.0.1:1");
    // without --json the same failure stays one line of text
    assertThat(braid("status", "--url=http://127.0.0.1:1").err()).startsWith("braid: error: cannot reach Braid");
  }

  /**
   * CSV as RFC 4180 allows it: a quoted cell holding a line break and a doubled quote makes one
   * event (the rows after it keep their own line numbers); a quote never closed is one row, not sent,
   * named by its first line; a header that names a field twice sends nothing.
   */
  @Test
  void shouldIngestCsvRowsWhoseQuotedCellsHoldLineBreaks() throws Exception {
    Path csv = dir.resolve("multi.csv");
    Files.writeString(csv, "product,amount,units,ts\r\n\"tea\r\n\"\"green\"\", loose\",1.5,2,2026-11-22T11:00:00Z\r\n"
        + "jam,2,5\r\nfig,1,4,2026-11-22T11:00:00Z\r\n\"oops,1,1,2026-11-22T11:00:00Z\r\nplum,1,1,2026-11-22T11:00:00Z\r\n");
    Run r = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains("sales: 2 events accepted, 2 rejected")
        .contains("rejected line 4: 3 cells where the header has 4")
        .contains("rejected line 6: quoted cell (column 1) is never closed");
    assertThat(r.err()).contains("2 of 4 events were rejected here, before sending: the CSV rows listed above, which "
        + "no dead-letter log holds"); // the server rejected none
    awaitUnits("fig", 4);
    // the line break inside the quotes is data, kept as the file has it (RFC 4180), as a table push keeps it
    assertThat(server.braid().get("revenue", "tea\r\n\"green\", loose").values()).containsEntry("units", 2L);

    Path misnamed = dir.resolve("sales.ndjson");
    Files.writeString(misnamed, "product,amount,units,ts\nfig,1,4,2026-11-22T11:00:00Z\n");
    Run notJson = braid("ingest", "sales", misnamed.toString(), url(), "--no-progress");
    assertThat(notJson.exit()).isEqualTo(1);
    assertThat(notJson.err()).contains("line 1 is not JSON but looks like a CSV header ('product,amount,units,ts'); "
        + "for CSV add --format csv");
    Path array = dir.resolve("pretty.ndjson"); // a pretty-printed JSON array read as NDJSON (stdin's default)
    Files.writeString(array, "[\n  {\"product\": \"fig\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n]\n");
    Run arrayAsLines = braid("ingest", "sales", array.toString(), url(), "--no-progress");
    assertThat(arrayAsLines.exit()).isEqualTo(1);
    assertThat(arrayAsLines.err()).contains("line 1 starts a JSON array, not one event per line (NDJSON); for a JSON "
        + "array add --format json");
    assertThat(IngestCommand.looksLikeCsvHeader("{\"product\": \"a,b\"}")).isFalse();
    assertThat(IngestCommand.looksLikeCsvHeader("\"unit price\",qty")).isTrue();
    assertThat(IngestCommand.looksLikeCsvHeader("1,2,3")).as("a row, not a header").isFalse();
    assertThat(IngestCommand.looksLikeCsvHeader("\uFEFFid,tier")).as("after a byte-order mark").isTrue();
    assertThat(IngestCommand.looksLikeCsvHeader("product")).as("one name is not CSV").isFalse();
    assertThat(IngestCommand.looksLikeCsvHeader("a,,b")).as("an empty column name").isFalse();
    assertThat(IngestCommand.looksLikeCsvHeader("a,b,")).isFalse();
    StringBuilder wide = new StringBuilder("c0");
    for (int i = 1; i < 20_000; i++) {
      wide.append(",c").append(i);
    }
    assertThat(IngestCommand.looksLikeCsvHeader(wide.toString())).as("a header of 20,000 columns, without "
        + "overflowing the stack").isTrue();

    Path broken = dir.resolve("broken.json");
    Files.writeString(broken, "[{\"product\": \"fig\", \"amount\": 1.0, \"units\": 1, \"ts\": 1},\n{\"product\": }]");
    Run cut = braid("ingest", "sales", broken.toString(), url(), "--no-progress");
    assertThat(cut.exit()).isEqualTo(1);
    assertThat(cut.err()).contains("the file is not valid JSON (an array of events, or one event)").contains("at line 2; nothing was sent");

    Run xml = braid("ingest", "sales", csv.toString(), url(), "--format", "xml");
    assertThat(xml.exit()).isEqualTo(2);
    assertThat(xml.err()).startsWith("braid: error: unknown --format 'xml'"); // no progress bar drawn first

    com.fasterxml.jackson.databind.ObjectMapper m = new com.fasterxml.jackson.databind.ObjectMapper();
    assertThat(PushCommand.summary(m.readTree("{\"state\": \"done\", \"version\": 3, \"pushId\": \"p\", \"rows\": 1, "
        + "\"distinctKeys\": 1}"))).contains("1 row (1 key) in");
    assertThat(PushCommand.summary(m.readTree("{\"state\": \"done\", \"version\": 0, \"pushId\": \"p\", \"rows\": 2, "
        + "\"distinctKeys\": 0, \"cut\": [8, 1]}"))).contains("applied; 2 rows in").doesNotContain("keys")
        .endsWith("written up to position [8,1]").doesNotContain("start cut");
    assertThat(PushCommand.summary(m.readTree("{\"state\": \"failed\", \"version\": 4, \"pushId\": \"p\", \"rows\": 3, "
        + "\"distinctKeys\": 0, \"failure\": \"too many bad rows\", \"cut\": [7, 1], \"replayed\": 0}")))
        .contains("failed: too many bad rows; 3 rows in").doesNotContain("key").endsWith("start cut [7,1], 0 writes replayed");

    Files.writeString(csv, "product,units,product\nx,1,y\n");
    Run twice = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(twice.exit()).isEqualTo(1);
    assertThat(twice.err()).contains("the CSV header (line 1) names field 'product' twice; nothing was sent");
    Files.writeString(csv, "units,amount,ts\n1,1.5,5\n");
    Run keyless = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(keyless.exit()).isEqualTo(1);
    assertThat(keyless.err()).contains("the CSV header (line 1) has no column for the stream's key field 'product' "
        + "(columns: units, amount, ts); nothing was sent");
    Files.writeString(csv, "product,amount,units,ts\n\"x\"y,1,1,5\n");
    Run unreadable = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(unreadable.exit()).isEqualTo(1);
    assertThat(unreadable.err()).contains("braid: error: 1 of 1 events was rejected here, before sending: the CSV row "
        + "listed above, which no dead-letter log holds").doesNotContain("dead-letters");
    Run unreadableJson = braid("ingest", "sales", csv.toString(), url(), "--json");
    assertThat(unreadableJson.exit()).isEqualTo(1);
    assertThat(unreadableJson.out()).contains("firstRejections");
    assertThat(unreadableJson.err()).as("with --json the rows are in the summary, not above")
        .contains("the CSV row in firstRejections, which no dead-letter log holds");
  }

  /**
   * A stream's CSV cells are read as {@code braid push} reads a table's: blanks around a number or a
   * timestamp are not part of it, Java's own number forms and other scripts' digits are not numbers,
   * and a number too large for its field is rejected by the number written, not as Java's Infinity.
   */
  @Test
  void shouldReadCsvCellsAsAPushReadsThem() throws Exception {
    Path csv = dir.resolve("cells.csv");
    Files.writeString(csv, "product,amount,units,ts\n"
        + "padded, 1.5 , 7 , 2026-11-22T11:00:00Z \n"
        + "float,1f,1,5\n"
        + "hex,0x1p3,1,5\n"
        + "huge,1e400,1,5\n"
        + "wide,1,99999999999999999999,5\n"
        + "arabic,1,\u0663,5\n"
        + "endless,1e9999999999,1,5\n"
        + "sci,1,1e2,5\n"
        + "half,1,1.5,5\n");
    Run r = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
    assertThat(r.out()).contains("sales: 2 events accepted, 7 rejected").doesNotContain("string \"Infinity\"")
        .contains("rejected line 10: field 'units': expected long, got number 1.5 (not a whole number in range)")
        .contains("rejected line 8: field 'amount': expected double, got string \"1e9999999999\"")
        .contains("rejected line 3: field 'amount': expected double, got string \"1f\"")
        .contains("rejected line 4: field 'amount': expected double, got string \"0x1p3\"")
        .contains("rejected line 5: field 'amount': number Infinity is out of the range of a double")
        .contains("rejected line 6: field 'units': number 99999999999999999999 does not fit in a long")
        .contains("rejected line 7: field 'units': expected long, got string \"\u0663\"");
    awaitUnits("padded", 7);
    awaitUnits("sci", 100); // 1e2, as JSON's 1e2 is taken for a long
  }

  /** Inputs a new user sends by mistake: each is named precisely, and nothing is dropped unseen. */
  @Test
  void shouldNameWhatIsWrongWithAFileAUrlOrAResumedRun() throws Exception {
    // a CSV as spreadsheets save it: a byte-order mark, and a row with a cell missing
    Path csv = dir.resolve("excel.csv");
    // and one the server rejects, shown in line order with the rows this command did not send
    Files.write(csv, ("\uFEFFproduct,amount,units,ts\nneg,-1,1,2026-11-22T11:00:00Z\ntea,1.25,3,2026-11-22T11:00:00Z\n"
        + "jam,2,5\nfig,1,1,5,extra\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Run excel = braid("ingest", "sales", csv.toString(), url(), "--no-progress");
    assertThat(excel.exit()).as(excel.out() + excel.err()).isEqualTo(1);
    assertThat(excel.out()).contains("sales: 1 event accepted, 3 rejected")
        .contains("rejected line 4: 3 cells where the header has 4 (product, amount, units, ts); the row was not sent")
        .contains("rejected line 5: 5 cells where the header has 4").contains("2 CSV rows were not sent")
        .containsPattern("(?s)rejected line 2: rule failed: amount >= 0.0.*rejected line 4.*rejected line 5");
    awaitUnits("tea", 3);

    // a JSON array on one line: every event rejected is listed by its element, though all share line 1
    Path oneLine = dir.resolve("one-line.json");
    Files.writeString(oneLine, "[{\"product\": \"a\", \"amount\": -1.0, \"units\": 1, \"ts\": 1},"
        + "{\"product\": \"ok\", \"amount\": 2.0, \"units\": 1, \"ts\": 1},"
        + "{\"product\": \"b\", \"amount\": -2.0, \"units\": 1, \"ts\": 1},"
        + "{\"product\": \"c\", \"amount\": \"x\", \"units\": 1, \"ts\": 1}]");
    Run minified = braid("ingest", "sales", oneLine.toString(), url(), "--no-progress", "--batch", "2");
    assertThat(minified.exit()).isEqualTo(1);
    assertThat(minified.out()).containsPattern("(?s)  rejected element 1 \\(line 1\\): rule failed: amount >= 0.0"
        + ".*  rejected element 3 \\(line 1\\): rule failed.*  rejected element 4 \\(line 1\\): ")
        .doesNotContain("element 2");

    // one object in a .json file is one event, as the HTTP API takes it; objects one per line are NDJSON
    Path object = dir.resolve("object.json");
    Files.writeString(object, "{\"product\": \"quince\", \"amount\": 1.0, \"units\": 7, \"ts\": 1}\n");
    Run single = braid("ingest", "sales", object.toString(), url(), "--no-progress");
    assertThat(single.exit()).as(single.err()).isZero();
    assertThat(single.out()).contains("sales: 1 event accepted, 0 rejected");
    awaitUnits("quince", 7);
    Files.writeString(object, "{\"product\": \"quince\", \"amount\": 1.0, \"units\": 7, \"ts\": 1}\n".repeat(2));
    Run ndjsonAsJson = braid("ingest", "sales", object.toString(), url(), "--no-progress");
    assertThat(ndjsonAsJson.exit()).isEqualTo(1);
    assertThat(ndjsonAsJson.err()).contains("another value starts at line 2 after the first object: for one event "
        + "per line use --format ndjson; nothing was sent");

    // input without events fails: a wrong or truncated file must not pass for a load in a script
    for (String[] empty : new String[][] {{"empty.ndjson", "\n\n", "no lines but blank ones"},
        {"empty.json", "[]", "an empty array"}, {"header.csv", "product,amount,units,ts\n", "no rows after the header"}}) {
      Path f = dir.resolve(empty[0]);
      Files.writeString(f, empty[1]);
      Run none = braid("ingest", "sales", f.toString(), url(), "--no-progress");
      assertThat(none.exit()).as(empty[0]).isEqualTo(1);
      assertThat(none.err()).contains("no events in " + f + " (" + empty[2]).contains("nothing was sent");
    }

    // two JSON arrays in one .json file: the second is not silently ignored
    Path two = dir.resolve("two.json");
    Files.writeString(two, "[{\"product\": \"fig\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}]\n"
        + "[{\"product\": \"fig\", \"amount\": 1.0, \"units\": 1, \"ts\": 2}]\n");
    Run twice = braid("ingest", "sales", two.toString(), url(), "--no-progress");
    assertThat(twice.exit()).isEqualTo(1);
    assertThat(twice.err()).contains("the file holds more than one JSON value: another starts at line 2, after the "
        + "array of 1 event; nothing after it was sent", "the event before it were sent in 1 request and answered: 1 "
        + "event accepted, 0 rejected", "--key-prefix ");
    assertThat(twice.out()).contains("sales: 1 event accepted, 0 rejected");
    awaitUnits("fig", 1);

    // a JSON array cut short after some requests: they are summed up, the events read after the last full
    // request are held back, and the fixed file sent again under the same --key-prefix adds each event once
    StringBuilder array = new StringBuilder("[");
    for (int i = 0; i < 5; i++) {
      array.append(i == 0 ? "" : ",\n").append("{\"product\": \"pear\", \"amount\": 1.0, \"units\": 1, \"ts\": ")
          .append(i).append('}');
    }
    Path pears = dir.resolve("pears.json");
    Files.writeString(pears, array + ",\n{\"product\": ");
    Run truncated = braid("ingest", "sales", pears.toString(), url(), "--no-progress", "--batch", "2", "--key-prefix",
        "pears", "--json");
    assertThat(truncated.exit()).isEqualTo(1);
    assertThat(truncated.err()).contains("the file is not valid JSON (an array of events, or one event)", "at line 6; nothing after it was sent",
        "the 4 events before it were sent in 2 requests and answered: 4 events accepted, 0 rejected; the 1 read after "
            + "them, too few for a request of --batch 2, were not sent",
        "fix the input and run the same command with --key-prefix pears");
    assertThat(new ObjectMapper().readTree(truncated.out()).path("accepted").asLong()).isEqualTo(4);
    assertThat(new ObjectMapper().readTree(truncated.out()).path("notSent").asLong()).isEqualTo(1);
    awaitUnits("pear", 4);
    Files.writeString(pears, array + "]");
    Run fixed = braid("ingest", "sales", pears.toString(), url(), "--no-progress", "--batch", "2", "--key-prefix",
        "pears");
    assertThat(fixed.exit()).as(fixed.err()).isZero();
    assertThat(fixed.out()).contains("5 events accepted").contains("4 of the accepted events were already in the stream");
    awaitUnits("pear", 5);

    // bytes that are not UTF-8 are named by line and byte, not sent as U+FFFD: the lines before them are sent
    Path latin1 = dir.resolve("latin1.ndjson");
    byte[] good = "{\"product\": \"kiwi\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n".getBytes(
        java.nio.charset.StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    bytes.write(good);
    bytes.write(good);
    bytes.write("{\"product\": \"caf".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    bytes.write(0xE9); // é in ISO-8859-1
    bytes.write("\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Files.write(latin1, bytes.toByteArray());
    Run notUtf8 = braid("ingest", "sales", latin1.toString(), url(), "--no-progress", "--batch", "1");
    assertThat(notUtf8.exit()).isEqualTo(1);
    assertThat(notUtf8.err()).contains("line 3 is not UTF-8 text: byte 0xE9 at byte " + (2 * good.length + 17)
        + " of the input; nothing after it was sent");
    awaitUnits("kiwi", 2);
    Path latin1Csv = dir.resolve("latin1.csv");
    bytes.reset();
    bytes.write("product,amount,units,ts\nfig,1,1,1\ncaf".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    bytes.write(0xE9);
    bytes.write(",1,1,1\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Files.write(latin1Csv, bytes.toByteArray());
    assertThat(braid("ingest", "sales", latin1Csv.toString(), url(), "--no-progress").err())
        .contains("line 3 is not UTF-8 text: byte 0xE9 at byte 38 of the input");

    // a CSV header naming no field of the stream, or a column with no name, sends nothing
    Path bogus = dir.resolve("bogus.CSV"); // an upper-case extension is CSV too
    Files.writeString(bogus, "\n\nproduct,units,bogus\nfig,1,2\n");
    Run unknownColumn = braid("ingest", "sales", bogus.toString(), url(), "--no-progress");
    assertThat(unknownColumn.exit()).isEqualTo(1);
    assertThat(unknownColumn.err()).contains("the CSV header (line 3) names 'bogus' (column 3), which is not a field "
        + "of the stream; its fields are product, ").contains("; nothing was sent");
    Files.writeString(bogus, "product,,units\nfig,1,2\n");
    assertThat(braid("ingest", "sales", bogus.toString(), url(), "--no-progress").err())
        .contains("the CSV header (line 1) has no name for column 2");
    // a file without a header line, or with another separator, says which it may be
    Files.writeString(bogus, "fig,1.5,1,5\n");
    assertThat(braid("ingest", "sales", bogus.toString(), url(), "--no-progress").err())
        .contains("names 'fig' (column 1)").contains("no column names a field: the first line of a CSV file must be "
            + "a header naming the fields");
    Files.writeString(bogus, "product;units\nfig;1\n");
    assertThat(braid("ingest", "sales", bogus.toString(), url(), "--no-progress").err())
        .contains("(the line is one column holding ';': braid reads comma-separated values)");

    // resuming a run with another --batch: its keys name other events, so the server refuses them
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      lines.append("{\"product\": \"plum\", \"amount\": 1.0, \"units\": 1, \"ts\": ").append(i).append("}\n");
    }
    Path nd = dir.resolve("plums.ndjson");
    Files.writeString(nd, lines);
    Run first = braid("ingest", "sales", nd.toString(), url(), "--no-progress", "--batch", "4", "--key-prefix", "p1");
    assertThat(first.exit()).as(first.err()).isZero();
    Run again = braid("ingest", "sales", nd.toString(), url(), "--no-progress", "--batch", "4", "--key-prefix", "p1");
    assertThat(again.out()).contains("10 events accepted").contains("10 of the accepted events were already in the stream");
    Run other = braid("ingest", "sales", nd.toString(), url(), "--no-progress", "--batch", "5", "--key-prefix", "p1");
    assertThat(other.exit()).isEqualTo(1);
    assertThat(other.err()).contains("Idempotency-Key 'p1-1' was used for other events", "(HTTP 422)",
        "resume with the same FILE, --format and --batch as that run");
    awaitUnits("plum", 10);

    Run directory = braid("ingest", "sales", dir.toString(), url());
    assertThat(directory.exit()).isEqualTo(2);
    assertThat(directory.err()).contains(dir + " is a directory");
    // keys a URL path cannot hold (too long for a request line, NUL) are read through a batchGet of one key
    String longKey = "k".repeat(20_000);
    Run longQuery = braid("query", "revenue", longKey, url(), "--json");
    assertThat(longQuery.exit()).as(longQuery.err()).isZero();
    assertThat(new ObjectMapper().readTree(longQuery.out()).path("found").asBoolean()).isFalse();
    Run nulQuery = braid("query", "revenue", "a\u0000b", url());
    assertThat(nulQuery.exit()).as(nulQuery.err()).isZero();
    assertThat(nulQuery.out()).contains("(no events for this key yet)");
    Run badUrl = braid("status", "--url=not-a-url");
    assertThat(badUrl.exit()).isEqualTo(2);
    assertThat(badUrl.err()).contains("--url must be the server's http:// or https:// address", "got 'not-a-url'");
    Run badPort = braid("status", "--url=http://127.0.0.1:99999");
    assertThat(badPort.exit()).isEqualTo(2);
    assertThat(badPort.err()).contains("--url must be the server's http:// or https:// address", "got "
        + "'http://127.0.0.1:99999'");
    Run ranged = braid("query", "revenue", "tea", url(), "--from", "2026-11-01T00:00:00Z");
    assertThat(ranged.exit()).isEqualTo(1);
    assertThat(ranged.err()).contains("view 'revenue' has no windows");
    Run dated = braid("query", "revenue", "tea", url(), "--from", "2026-11-01");
    assertThat(dated.err()).as("a date is a time").contains("view 'revenue' has no windows");
    Run badFrom = braid("query", "revenue", "tea", url(), "--to", "yesterday");
    assertThat(badFrom.exit()).isEqualTo(2);
    assertThat(badFrom.err()).contains("--to must be epoch millis, ISO-8601 like 2026-11-22T10:00:00Z").contains(
        "got 'yesterday'").doesNotContain("query parameter");
    Run emptyFrom = braid("query", "revenue", "tea", url(), "--from", " ");
    assertThat(emptyFrom.exit()).isEqualTo(2);
    assertThat(emptyFrom.err()).contains("--from must be epoch millis", "; it is empty");
    Run noSpec = braid("validate", dir.resolve("nofile.yaml").toString());
    assertThat(noSpec.exit()).isEqualTo(1);
    assertThat(noSpec.err()).contains("nofile.yaml: no such file").doesNotContain("Exception");
    Run dirSpec = braid("validate", dir.toString());
    assertThat(dirSpec.err()).contains("it is a directory; give the spec file");
    Path plainFile = dir.resolve("plain-file");
    Files.writeString(plainFile, "x");
    Path spec = dir.resolve("spec.yaml");
    Files.writeString(spec, SPEC);
    Run dataIsAFile = braid("server", "--spec", spec.toString(), "--data", plainFile.toString(), "--port", "0");
    assertThat(dataIsAFile.exit()).isEqualTo(1);
    assertThat(dataIsAFile.err()).contains(plainFile + " already exists (a file where a directory, or a new file, was expected)").doesNotContain("BRAID_DEBUG");
    Run taken = braid("server", "--spec", spec.toString(), "--data", dir.resolve("other-data").toString(), "--port",
        Integer.toString(server.port()));
    assertThat(taken.exit()).isEqualTo(1);
    assertThat(taken.err()).contains("port " + server.port() + " on 127.0.0.1 is taken by another process")
        .doesNotContain("BRAID_DEBUG");
    Run port = braid("server", "--spec", dir.resolve("nofile.yaml").toString(), "--port", "99999");
    assertThat(port.exit()).isEqualTo(2);
    assertThat(port.err()).contains("--port must be a TCP port, 1 to 65535 (or 0 for any free one), got 99999");
    Run noBody = braid("server", "--spec", spec.toString(), "--data", dir.resolve("d0").toString(), "--max-body", "0");
    assertThat(noBody.exit()).isEqualTo(2);
    assertThat(noBody.err()).contains("--max-body must be between 1 byte and 1GiB, got 0 bytes");
    Run negative = braid("server", "--spec", spec.toString(), "--max-body=-1");
    assertThat(negative.exit()).isEqualTo(2);
    assertThat(negative.err()).contains("'-1' is not a size: give bytes, or a number with a unit such as 512KiB");
    Run huge = braid("server", "--spec", spec.toString(), "--max-body", "2GiB");
    assertThat(huge.exit()).isEqualTo(2);
    assertThat(huge.err()).contains("--max-body must be between 1 byte and 1GiB, got 2147483648 bytes");
    assertThat(Files.exists(dir.resolve("d0"))).as("refused before opening anything").isFalse();
    Run badEvery = braid("server", "--spec", spec.toString(), "--data", dir.resolve("d1").toString(),
        "--checkpoint-every", "5");
    assertThat(badEvery.exit()).isEqualTo(2);
    assertThat(badEvery.err()).contains("Invalid value for option '--checkpoint-every': '5' is not a duration: use a "
        + "number and ms, s, m, h or d (e.g. 1h)").doesNotContain("java.lang");
    Run notLocal = braid("server", "--spec", spec.toString(), "--data", dir.resolve("d1").toString(), "--port", "0",
        "--bind", "192.0.2.1"); // TEST-NET-1: never an address of this machine
    assertThat(notLocal.exit()).isEqualTo(2);
    assertThat(notLocal.err()).contains("--bind 192.0.2.1 (192.0.2.1) is not an address of this machine; use 127.0.0.1")
        .doesNotContain("taken");
    Run notAnAddress = braid("server", "--spec", spec.toString(), "--data", dir.resolve("d1").toString(), "--port",
        "0", "--bind", "999.1.1.1.invalid");
    assertThat(notAnAddress.exit()).isEqualTo(2);
    assertThat(notAnAddress.err())
        .contains("--bind 999.1.1.1.invalid is not an IP address or a host name this machine can resolve");
    assertThat(Files.exists(dir.resolve("d1"))).as("refused before locking a data directory").isFalse();
  }

  /**
   * A windowed view's query shows the total of its windows when each event is in one window
   * (tumbling), and says why there is none when windows overlap (hopping).
   */
  @Test
  void shouldQueryWindowedViewsWithTheirTotalOnlyWhenWindowsDoNotOverlap() throws Exception {
    String spec = """
        streams:
          clicks: {partitions: 1, key: user, time: ts, fields: {user: string, ts: timestamp}}
        views:
          per_hour: {from: clicks, group_by: user, window: {tumbling: 1h}, aggregate: {n: count}}
          sliding: {from: clicks, group_by: user, window: {hopping: {size: 2h, every: 1h}}, aggregate: {n: count}}
        """;
    try (BraidServer windowed = BraidServer.start(PipelineSpec.parse(spec, "w.yaml"), dir.resolve("w"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      Path nd = dir.resolve("clicks.ndjson");
      Files.writeString(nd, """
          {"user": "u1", "ts": "2026-11-22T10:05:00Z"}
          {"user": "u1", "ts": "2026-11-22T10:35:00Z"}
          {"user": "u1", "ts": "2026-11-22T11:05:00Z"}
          """);
      String url = "--url=" + windowed.url();
      assertThat(braid("ingest", "clicks", nd.toString(), url, "--no-progress").exit()).isZero();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      Run tumbling;
      while (!(tumbling = braid("query", "per_hour", "u1", url)).out().matches("(?s).*n\\s+3\\s.*")) {
        assertThat(System.nanoTime()).as(tumbling.out()).isLessThan(deadline);
        Thread.sleep(20);
      }
      assertThat(tumbling.out()).contains("total of the windows below", "2026-11-22T10:00:00Z", "{\"n\":2}",
          "{\"n\":1}").containsPattern("2026-11-22T10:00:00Z\\s+2026-11-22T11:00:00Z\\s+(final|provisional)\\s");
      Run hopping = braid("query", "sliding", "u1", url);
      assertThat(hopping.exit()).isZero();
      assertThat(hopping.out()).contains("hopping windows overlap, so the windows have no total")
          .doesNotContainPattern("n\\s+6").contains("{\"n\":3}");
      JsonNode json = new ObjectMapper().readTree(braid("query", "sliding", "u1", url, "--json").out());
      assertThat(json.path("values").isEmpty()).isTrue();
      assertThat(json.path("windows")).hasSize(3);
    }
  }

  @Test
  void shouldReadSizesWithBinaryUnits() {
    ServerCommand.ByteSizeConverter sizes = new ServerCommand.ByteSizeConverter();
    assertThat(sizes.convert("7")).isEqualTo(7L);
    assertThat(sizes.convert("16m")).isEqualTo(16L << 20);
    assertThat(sizes.convert("16MB")).isEqualTo(16L << 20);
    assertThat(sizes.convert(" 16 MiB ")).isEqualTo(16L << 20);
    assertThat(sizes.convert("16MIB")).isEqualTo(16L << 20);
    assertThat(sizes.convert("512KiB")).isEqualTo(512L << 10);
    assertThat(sizes.convert("1g")).isEqualTo(1L << 30);
    assertThat(sizes.convert("100b")).isEqualTo(100L);
    for (String bad : new String[] {"1.5m", "-1", "abc", "16 TB", "m", ""}) {
      assertThatThrownBy(() -> sizes.convert(bad)).as(bad).isInstanceOf(CommandLine.TypeConversionException.class)
          .hasMessageContaining("is not a size");
    }
    assertThatThrownBy(() -> sizes.convert("99999999999999999999")).hasMessageContaining("too large a size");
    assertThatThrownBy(() -> sizes.convert("9999999999999999g")).hasMessageContaining("too large a size");
  }

  /**
   * A server that keeps answering 503: the ingest retries with the same key, then gives up; with
   * --json its failure still carries the last answer's status and problem document.
   */
  @Test
  void shouldKeepTheLastProblemWhenRetriesOfAnUnavailableServerRunOut() throws Exception {
    java.util.concurrent.atomic.AtomicInteger posts = new java.util.concurrent.atomic.AtomicInteger();
    com.sun.net.httpserver.HttpServer busy = fakeServer(exchange -> {
      boolean post = exchange.getRequestMethod().equals("POST");
      posts.addAndGet(post ? 1 : 0);
      if (post) { // a storage fault: it asks for a retry, but needs a person, so it uses up the attempts
        exchange.getResponseHeaders().add("Retry-After", "5");
      }
      return post ? Map.entry(503, "{\"type\":\"/problems/storage-read-only\",\"title\":\"Service Unavailable\","
          + "\"status\":503,\"detail\":\"the engine is still opening\"}") : Map.entry(200, "{\"name\":\"sales\",\"fields\":[]}");
    });
    try {
      Path nd = dir.resolve("one.ndjson");
      Files.writeString(nd, "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n");
      Run r = braid("ingest", "sales", nd.toString(), "--attempts", "2", "--key-prefix", "k", "--json",
          "--url=http://127.0.0.1:" + busy.getAddress().getPort());
      assertThat(r.exit()).isEqualTo(1);
      assertThat(posts.get()).isEqualTo(2);
      JsonNode e = new ObjectMapper().readTree(r.err());
      assertThat(e.path("error").asText()).contains("the engine is still opening (HTTP 503)")
          .contains("gave up after 2 attempts with Idempotency-Key k-1");
      assertThat(e.path("status").asInt()).isEqualTo(503);
      assertThat(e.path("problem").path("detail").asText()).isEqualTo("the engine is still opening");
    } finally {
      busy.stop(0);
    }
  }

  /** {@code n} sales events as NDJSON, product {@code p<i % 7>}, one unit each, times one millisecond apart. */
  private static String salesLines(int n) {
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < n; i++) {
      lines.append("{\"product\": \"p").append(i % 7).append("\", \"amount\": 1.0, \"units\": 1, \"ts\": ")
          .append(1_700_000_000_000L + i).append("}\n");
    }
    return lines.toString();
  }

  /**
   * SIGTERM (as Ctrl-C) during {@code braid ingest}: it says how far it got and the
   * {@code --key-prefix} that resumes, and the same input sent again with it appends only what was
   * not appended (it exited without a word, and its default prefix is random, so the only way on was
   * to send everything again). A real process, signalled.
   */
  @Test
  void shouldSayHowToResumeWhenInterrupted() throws Exception {
    String all = salesLines(5_000);
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Xmx128m", BraidCli.class.getName(), "ingest", "sales", "-", url(),
        "--batch", "1000", "--no-progress").redirectError(dir.resolve("stderr.txt").toFile())
        .redirectOutput(dir.resolve("stdout.txt").toFile()).start();
    try {
      // the first 2,000 lines, then wait until both requests are in the stream, and stop it mid-input
      int cut = 0;
      for (int i = 0; i < 2_000; i++) {
        cut = all.indexOf('\n', cut) + 1;
      }
      p.getOutputStream().write(all.substring(0, cut).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      p.getOutputStream().flush();
      awaitUnits("p0", 286); // 2,000 events: 286 of them p0
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor(); // SIGTERM, as Ctrl-C's SIGINT
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      String err = Files.readString(dir.resolve("stderr.txt"));
      // both requests are in the stream; the second one's answer may still have been on its way to the client
      assertThat(err).as("exit %d, output %s", p.exitValue(), Files.readString(dir.resolve("stdout.txt")))
          .containsPattern("interrupted after 2 answered requests \\(2,000 events accepted, 0 rejected\\)"
              + "|interrupted after 1 answered request \\(1,000 events accepted, 0 rejected\\); request 2 \\(lines "
              + "1,001-2,000\\) was in flight: it may or may not have been appended");
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("--key-prefix (\\S+):").matcher(err);
      assertThat(m.find()).as(err).isTrue();

      Path input = dir.resolve("all.ndjson");
      Files.writeString(input, all);
      Run resumed = braid("ingest", "sales", input.toString(), url(), "--batch", "1000", "--no-progress",
          "--key-prefix", m.group(1));
      assertThat(resumed.exit()).as(resumed.err()).isZero();
      assertThat(resumed.out()).contains("5,000 events accepted")
          .contains("2,000 of the accepted events were already in the stream");
      awaitUnits("p0", 715); // each event once: 5,000 events, 715 of them p0
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * SIGTERM during {@code braid ingest} of a pipe whose batch {@code --linger} sent before it was
   * full: the same command would cut other batches, which the server refuses under the run's keys,
   * so the notice says to send the lines after the last answered one with a new prefix (it offered
   * the resume that {@code --linger}'s help says cannot work), and doing so appends each event once.
   */
  @Test
  void shouldNotOfferAResumeThatLingeredBatchesCannotHave() throws Exception {
    String all = salesLines(5_000);
    int cut = 0;
    for (int i = 0; i < 1_500; i++) {
      cut = all.indexOf('\n', cut) + 1;
    }
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Xmx128m", BraidCli.class.getName(), "ingest", "sales", "-", url(),
        "--batch", "1000", "--no-progress").redirectError(dir.resolve("stderr.txt").toFile())
        .redirectOutput(dir.resolve("stdout.txt").toFile()).start();
    try {
      // a full batch, then 500 lines that the linger sends on their own
      p.getOutputStream().write(all.substring(0, cut).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      p.getOutputStream().flush();
      awaitUnits("p0", 215); // 1,500 events: 215 of them p0
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      String err = Files.readString(dir.resolve("stderr.txt"));
      assertThat(err).contains("interrupted after 2 answered requests (1,500 events accepted, 0 rejected)")
          .contains("To go on, send the lines after line 1,500 with a new --key-prefix: --linger cut this run's "
              + "batches by time")
          .doesNotContain("run the same command");

      Path rest = dir.resolve("rest.ndjson");
      Files.writeString(rest, all.substring(cut));
      Run resumed = braid("ingest", "sales", rest.toString(), url(), "--batch", "1000", "--no-progress");
      assertThat(resumed.exit()).as(resumed.err()).isZero();
      awaitUnits("p0", 715); // each event once: 5,000 events, 715 of them p0
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Answers that are not Braid's say what they were: an empty 502 of a proxy printed only "(HTTP 502)",
   * an HTML page to {@code changes --follow} came out whole, and an unknown host was "is `braid server`
   * running?".
   */
  @Test
  void shouldSayWhatAnAnswerThatIsNotBraidsWas() throws Exception {
    com.sun.net.httpserver.HttpServer proxy = fakeServer(exchange -> Map.entry(502,
        exchange.getRequestURI().getPath().endsWith("/changes") ? "<html>\n<body><h1>502 Bad Gateway</h1></body>\n</html>"
            : ""));
    try {
      String at = "http://127.0.0.1:" + proxy.getAddress().getPort();
      Run status = braid("status", "--url=" + at);
      assertThat(status.exit()).isEqualTo(1);
      assertThat(status.err()).contains("braid: error: the server at " + at + " answered HTTP 502 without saying why (is "
          + "--url a Braid server, or a proxy in front of one that could not reach it?)");
      Run follow = braid("changes", "per_minute", "--follow", "--url=" + at);
      assertThat(follow.exit()).isEqualTo(1);
      assertThat(follow.err()).contains("braid: error: the server at " + at + " answered HTTP 502 with a body that is "
          + "not JSON (is --url a Braid server?): <html> <body><h1>502 Bad Gateway</h1></body> </html>");
    } finally {
      proxy.stop(0);
    }
    com.sun.net.httpserver.HttpServer page = fakeServer(exchange -> Map.entry(200, "<html><body>Welcome</body></html>"));
    try {
      String at = "http://127.0.0.1:" + page.getAddress().getPort();
      Run follow = braid("changes", "per_minute", "--follow", "--url=" + at);
      assertThat(follow.exit()).as("a page, not a server that ended the stream to wait for").isEqualTo(1);
      assertThat(follow.err()).contains("braid: error: the server at " + at + " answered HTTP 200 with "
          + "application/json, not an event stream (is --url a Braid server?): <html><body>Welcome</body></html>");
    } finally {
      page.stop(0);
    }
    Run unknownHost = braid("status", "--url=http://no-such-host.invalid:8080");
    assertThat(unknownHost.exit()).isEqualTo(1);
    assertThat(unknownHost.err()).contains("cannot reach Braid at http://no-such-host.invalid:8080: no host named "
        + "'no-such-host.invalid' is known here (is --url right?)");
    Run followUnknown = braid("changes", "per_minute", "--follow", "--url=http://no-such-host.invalid:8080");
    assertThat(followUnknown.exit()).as("a mistyped host is not an outage to wait out for 10 minutes").isEqualTo(1);
    assertThat(followUnknown.err()).contains("no host named 'no-such-host.invalid' is known here");
  }

  /** A bad address from the environment is named as such: the user never typed --url. */
  @Test
  void shouldNameBraidUrlWhenTheBadAddressCameFromTheEnvironment() throws Exception {
    java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        "-Xmx128m", BraidCli.class.getName(), "status"));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("BRAID_URL", "bogus");
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(output).isEqualTo(2);
    assertThat(output).contains("BRAID_URL (the default of --url) must be the server's http:// or https:// address")
        .contains("got 'bogus'");
  }

  /**
   * A server that answers {@code 503} with {@code Retry-After} is starting and asks for the request
   * again: those answers do not use up {@code --attempts} (a restart replays the log first, which
   * outlasted the five attempts' backoff), and the batch goes through once the server serves.
   */
  @Test
  void shouldWaitForAStartingServerThatAsksForARetry() throws Exception {
    java.util.concurrent.atomic.AtomicInteger posts = new java.util.concurrent.atomic.AtomicInteger();
    com.sun.net.httpserver.HttpServer starting = fakeServer(exchange -> {
      if (!exchange.getRequestMethod().equals("POST")) {
        return Map.entry(200, "{\"name\":\"sales\",\"fields\":[]}");
      }
      if (posts.incrementAndGet() <= 6) {
        exchange.getResponseHeaders().add("Retry-After", "0");
        return Map.entry(503, "{\"type\":\"/problems/starting\",\"title\":\"Service Unavailable\","
            + "\"status\":503,\"detail\":\"Braid is starting\"}");
      }
      return Map.entry(200, "{\"accepted\": 1, \"duplicates\": 0, \"rejected\": 0, \"rejections\": []}");
    });
    try {
      Path nd = dir.resolve("one.ndjson");
      Files.writeString(nd, "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n");
      long t0 = System.nanoTime();
      Run r = braid("ingest", "sales", nd.toString(), "--attempts", "2", "--no-progress",
          "--url=http://127.0.0.1:" + starting.getAddress().getPort());
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(posts.get()).isEqualTo(7);
      assertThat(System.nanoTime() - t0).as("Retry-After: 0 is not a storm: at least 250 ms between tries")
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(6 * 250));
      assertThat(r.err()).containsOnlyOnce("is starting (replaying its log); waiting for it, up to 10 minutes");
      assertThat(r.out()).contains("sales: 1 event accepted, 0 rejected");
    } finally {
      starting.stop(0);
    }
  }

  /**
   * A server that answers {@code 503 stopping} is most likely restarting: the request waits for it
   * to stop, listen again and serve, without using up {@code --attempts} (they took the stop's first
   * answer, and the ingest failed while the server came back a few seconds later).
   */
  @Test
  void shouldWaitForAStoppingServerToComeBack() throws Exception {
    java.util.concurrent.atomic.AtomicInteger posts = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    com.sun.net.httpserver.HttpServer stopping = fakeServer(exchange -> {
      if (!exchange.getRequestMethod().equals("POST")) {
        return Map.entry(200, "{\"name\":\"sales\",\"fields\":[]}");
      }
      if (posts.incrementAndGet() == 2) {
        stopped.countDown();
      }
      exchange.getResponseHeaders().add("Retry-After", "0");
      return Map.entry(503, "{\"type\":\"/problems/stopping\",\"title\":\"Service unavailable\","
          + "\"status\":503,\"detail\":\"the server is stopping and takes no new requests\"}");
    });
    int port = stopping.getAddress().getPort();
    try (FakeRestart restart = new FakeRestart(stopping, stopped, 1_500, exchange -> Map.entry(200,
        "{\"accepted\": 1, \"duplicates\": 0, \"rejected\": 0, \"rejections\": []}"))) {
      Path nd = dir.resolve("one.ndjson");
      Files.writeString(nd, "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n");
      Run r = braid("ingest", "sales", nd.toString(), "--attempts", "1", "--no-progress",
          "--url=http://127.0.0.1:" + port);
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(r.err()).containsOnlyOnce("braid: the server at http://127.0.0.1:" + port + " is stopping; waiting "
          + "for it to come back, up to 90 s").doesNotContain("nothing listens");
      assertThat(r.out()).contains("sales: 1 event accepted, 0 rejected");
    }
  }

  /**
   * A server on this machine that answered the ingest and then refuses connections stopped between
   * two requests (a restart without a {@code 503 stopping} answer in between): the ingest waits for it
   * as for a stopping one (the review saw 4 of 6 restarts fail the ingest after its 5 attempts).
   */
  @Test
  void shouldWaitForAServerThatStoppedBetweenTwoRequests() throws Exception {
    java.util.concurrent.atomic.AtomicInteger posts = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(1);
    String ok = "{\"accepted\": 1, \"duplicates\": 0, \"rejected\": 0, \"rejections\": []}";
    com.sun.net.httpserver.HttpServer first = fakeServer(exchange -> {
      if (!exchange.getRequestMethod().equals("POST")) {
        return Map.entry(200, "{\"name\":\"sales\",\"fields\":[]}");
      }
      posts.incrementAndGet();
      answered.countDown();
      return Map.entry(200, ok);
    });
    int port = first.getAddress().getPort();
    // after its first answer: the next request finds nothing listening
    try (FakeRestart restart = new FakeRestart(first, answered, 2_500, exchange -> {
      posts.incrementAndGet();
      return Map.entry(200, ok);
    })) {
      Path nd = dir.resolve("two.ndjson");
      Files.writeString(nd, "{\"product\": \"tea\", \"amount\": 1.0, \"units\": 1, \"ts\": 1}\n"
          + "{\"product\": \"tea\", \"amount\": 2.0, \"units\": 1, \"ts\": 2}\n");
      Run r = braid("ingest", "sales", nd.toString(), "--batch", "1", "--attempts", "2", "--no-progress",
          "--url=http://127.0.0.1:" + port);
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(r.err()).containsOnlyOnce("braid: the server at http://127.0.0.1:" + port + " stopped listening; "
          + "waiting for it to come back, up to 90 s");
      // 2, or 3 when the second request reached the first server as it stopped (sent again, same key)
      assertThat(posts.get()).isBetween(2, 3);
    }
  }

  /**
   * A fake server's restart: once {@code due} opens, {@code first} stops, nothing listens for
   * {@code downMillis} (the restart's JVM starting), then another fake server answers on its port.
   * Closing waits for the restart and stops both.
   */
  private static final class FakeRestart implements AutoCloseable {
    private final com.sun.net.httpserver.HttpServer first;
    private final java.util.concurrent.atomic.AtomicReference<com.sun.net.httpserver.HttpServer> back =
        new java.util.concurrent.atomic.AtomicReference<>();
    private final Thread thread;

    FakeRestart(com.sun.net.httpserver.HttpServer first, java.util.concurrent.CountDownLatch due, long downMillis,
        java.util.function.Function<com.sun.net.httpserver.HttpExchange, Map.Entry<Integer, String>> answer) {
      this.first = first;
      int port = first.getAddress().getPort();
      thread = new Thread(() -> {
        try {
          due.await();
          first.stop(0);
          Thread.sleep(downMillis);
          back.set(fakeServer(port, answer));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }, "restart");
      thread.start();
    }

    @Override
    public void close() throws InterruptedException {
      thread.join(10_000);
      first.stop(0);
      if (back.get() != null) {
        back.get().stop(0);
      }
    }
  }

  /**
   * A real {@code braid server} process with the shipped logging configuration, on a port already
   * taken: its standard error is the one sentence, without Javalin's own ERROR line and stack trace.
   */
  /**
   * Runs the command line in a child JVM with the shipped logging configuration, as the launcher
   * would, and returns its standard output and error together once it exited with 1.
   */
  private static String childBraid(String... args) throws Exception {
    java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        "-Xmx128m", "-Dlogback.configurationFile=logback.xml"));
    if (Runtime.version().feature() >= 23) {
      command.add("--sun-misc-unsafe-memory-access=allow"); // as the launcher runs it (see ./braid)
    }
    command.add(BraidCli.class.getName());
    command.addAll(java.util.List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(output).isEqualTo(1);
    return output;
  }

  @Test
  void shouldReportADataDirectoryThatCannotOpenOnceWithTheShippedLogging() throws Exception {
    server.close(); // its data directory is the one the child server opens
    Path spec = dir.resolve("spec.yaml");
    Files.writeString(spec, SPEC.replace("units: long", "units: double"));
    String output = childBraid("server", "--spec", spec.toString(), "--data", dir.resolve("data").toString(), "--port",
        "0");
    assertThat(output.strip().lines().filter(l -> !l.startsWith("WARNING: Using incubator modules"))
        .filter(l -> !l.startsWith("Braid is listening")).filter(l -> !l.contains(" INFO ")))
        .containsExactly("braid: Events and rows already stored keep the fields they were written with (recorded in "
            + dir.resolve("data").resolve("schemas.json") + "): to change them, add a stream or table under a new name, "
            + "or start on a new data directory.", // above the error line, which ends the output
            "braid: error: Braid could not start: stream 'sales': field 'units' was long and the spec says double");
  }

  @Test
  void shouldReportATakenPortInOneSentenceWithTheShippedLogging() throws Exception {
    Path spec = dir.resolve("spec.yaml");
    Files.writeString(spec, SPEC);
    String output = childBraid("server", "--spec", spec.toString(), "--data", dir.resolve("other").toString(), "--port",
        Integer.toString(server.port()));
    assertThat(output.strip().lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")))
        .containsExactly("braid: error: port " + server.port() + " on 127.0.0.1 is taken by another process: stop "
            + "it, or choose another --port (0 picks a free one)");
    assertThat(dir.resolve("other")).as("a start that never began leaves no data directory").doesNotExist();
  }

  @Test
  void shouldValidateASpecOfflineAndPrintEveryErrorWithItsPath() throws Exception {
    Path good = dir.resolve("good.yaml");
    Files.writeString(good, SPEC);
    Run ok = braid("validate", good.toString());
    assertThat(ok.exit()).isZero();
    assertThat(ok.out()).contains("is valid: 1 stream, 1 view, 0 tables");
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, SPEC.replace("sum(amount)", "sum(product)").replace("from: sales", "from: sale"));
    Run r = braid("validate", bad.toString());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err().lines().toList()).startsWith("braid: " + bad + ": 1 error").contains("braid: error: " + bad
        + ": views.revenue.from: unknown stream 'sale' (streams: sales)").allMatch(l -> l.startsWith("braid: "))
        .last().asString().startsWith("braid: error: ");

    Run okJson = braid("validate", good.toString(), "--json");
    assertThat(okJson.exit()).isZero();
    assertThat(BraidClient.JSON.readTree(okJson.out()).toString())
        .isEqualTo("{\"file\":\"" + good + "\",\"valid\":true,\"streams\":1,\"views\":1,\"tables\":0}");
    Run badJson = braid("validate", bad.toString(), "--json");
    assertThat(badJson.exit()).isEqualTo(1);
    com.fasterxml.jackson.databind.JsonNode errors = BraidClient.JSON.readTree(badJson.out()).get("errors");
    assertThat(errors).hasSize(r.err().strip().split("\n").length - 1); // every error, as in the text output
    assertThat(errors.get(0).get("path").asText()).isEqualTo("views.revenue.from");
    assertThat(errors.get(0).get("message").asText()).isEqualTo("unknown stream 'sale' (streams: sales)");
  }
}
