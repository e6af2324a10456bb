package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** braid push, row, versions --table, activate --table and status against a real server: output and exit codes. */
class TableCliTest {

  static final String SPEC = """
      tables:
        users:
          partitions: 2
          key: id
          fields: {id: string, tier: string, score: long, seen: timestamp, visits: list<timestamp>}
      """;

  static final ObjectMapper JSON = new ObjectMapper();

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

  Run braid(String... args) {
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

  /** Timestamps, and a list of them, read as ISO-8601 text in the table, as epoch millis in --json. */
  @Test
  void shouldShowTimestampFieldsAsIsoText() throws Exception {
    java.net.http.HttpResponse<String> put = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
        .newBuilder(java.net.URI.create(server.url() + "/v1/tables/users/rows/u1")).header("Content-Type",
            "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"tier\": \"gold\", "
            + "\"score\": 1764410000000, \"seen\": \"2026-11-29T10:00:00Z\", \"visits\": [\"2026-11-28T08:00:00Z\", "
            + "1764410000000]}")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);

    Run row = braid("row", "users", "u1", url());

    assertThat(row.exit()).as(row.err()).isZero();
    assertThat(row.out()).containsPattern("seen\\s+2026-11-29T10:00:00Z")
        .contains("[\"2026-11-28T08:00:00Z\",\"2025-11-29T09:53:20Z\"]")
        .as("a long field of the same digits stays a number").containsPattern("score\\s+1764410000000");
    JsonNode json = JSON.readTree(braid("row", "users", "u1", url(), "--json").out());
    assertThat(json.path("values").path("seen").asLong()).as("the API's form: epoch millis")
        .isEqualTo(java.time.Instant.parse("2026-11-29T10:00:00Z").toEpochMilli());
    JsonNode described = JSON.readTree(java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
        .newBuilder(java.net.URI.create(server.url() + "/v1/tables/users")).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString()).body());
    assertThat(described.path("key").asText()).isEqualTo("id");
    assertThat(described.path("fields").path("visits").asText()).isEqualTo("list<timestamp>");
    assertThat(described.path("partitions").asInt()).isEqualTo(2);
  }

  @Test
  void shouldPushAFileReadRowsAndRollBack() throws Exception {
    Path one = dir.resolve("one.jsonl");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      sb.append("{\"id\": \"u").append(i).append("\", \"tier\": \"one\", \"score\": ").append(i).append("}\n");
    }
    Files.writeString(one, sb);
    Run push = braid("push", "users", one.toString(), url());
    assertThat(push.exit()).as(push.err()).isZero();
    assertThat(push.out()).contains("current").contains("1,000 rows");
    assertThat(push.err()).as("an ASCII progress bar when not on a terminal").contains("push users");

    Path two = dir.resolve("two.csv");
    Files.writeString(two, "id,tier,score\nu1,two,10\n");
    Run p2 = braid("push", "users", two.toString(), url(), "--json");
    assertThat(p2.exit()).as(p2.err()).isZero();
    long v2 = JSON.readTree(p2.out()).path("version").asLong();
    java.util.regex.Matcher firstId = java.util.regex.Pattern.compile("push (\\S+) \\(version").matcher(push.out());
    assertThat(firstId.find()).as(push.out()).isTrue();
    Run firstNow = braid("push", "users", "--status", firstId.group(1), url());
    assertThat(firstNow.exit()).as(firstNow.err()).isZero();
    assertThat(firstNow.out()).as("the first push's version is no longer current")
        .contains("(version " + (v2 - 1) + "): backup;");

    Run row = braid("row", "users", "u1", url());
    assertThat(row.exit()).isZero();
    assertThat(row.out()).contains("two").contains("as of version " + v2);
    Run empty = braid("row", "users", "", url());
    assertThat(empty.exit()).as(empty.err()).isZero();
    assertThat(empty.out()).contains("users[]  (no such row: never written, deleted, or expired)");
    Run rows = braid("row", "users", "u1", "u2", url(), "--json");
    JsonNode r = JSON.readTree(rows.out());
    assertThat(r.path("rows").get(1).path("found").asBoolean()).as("u2 is not in push two").isFalse();

    Run versions = braid("versions", "users", "--table", url());
    assertThat(versions.exit()).isZero();
    assertThat(versions.out()).contains("current").contains("backup");
    long v1 = v2 - 1; // the first push built the version before
    Run asView = braid("activate", "users", Long.toString(v1), url());
    assertThat(asView.exit()).isEqualTo(1);
    assertThat(asView.err()).contains("unknown view 'users'").contains("'users' is a table").contains("add --table");
    Run query = braid("query", "users", "u1", url());
    assertThat(query.err()).contains("'users' is a table: read its rows with GET /v1/tables/users/rows/{key} "
        + "(braid row)").doesNotContain("--table");
    Path rowsFile = dir.resolve("rows.ndjson");
    java.nio.file.Files.writeString(rowsFile, "{\"id\": \"u9\"}\n");
    Run ingest = braid("ingest", "users", rowsFile.toString(), url(), "--no-progress");
    assertThat(ingest.exit()).isEqualTo(1);
    assertThat(ingest.err()).contains("unknown stream 'users'").contains("'users' is a table: write its rows with PUT "
        + "/v1/tables/users/rows/{key}, or load many with a push (braid push users FILE; --incremental applies them "
        + "as writes)");
    Run discard = braid("discard", "users", Long.toString(v1), "--table", url());
    assertThat(discard.exit()).as("nothing builds it to cancel").isEqualTo(1);
    assertThat(discard.err()).contains("version " + v1 + " of table 'users' is backup and neither a push builds it "
        + "nor a rollback to it runs");
    Run act = braid("activate", "users", Long.toString(v1), "--table", url());
    assertThat(act.exit()).as(act.err()).isZero();
    assertThat(act.out()).contains("table users: version " + v1 + " is current after");
    Run again = braid("activate", "users", Long.toString(v1), "--table", url());
    assertThat(again.out()).contains("table users: version " + v1 + " was current already; nothing changed");
    assertThat(braid("row", "users", "u2", url()).out()).contains("one");

    Run status = braid("status", url());
    assertThat(status.out()).contains("users").contains("base rows").contains("no views")
        .as("no empty table of views").doesNotContain("delta position");
  }

  /**
   * A pipe given as the file ({@code braid push users <(zcat rows.gz)}) is streamed as standard input
   * is, JSON lines without a name to tell: it was refused as "no such file", and read through a channel
   * it failed with "Illegal seek".
   */
  @Test
  void shouldPushFromAPipe() throws Exception {
    Path fifo = dir.resolve("rows");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    Thread writer = new Thread(() -> {
      try (java.io.OutputStream o = Files.newOutputStream(fifo)) {
        o.write("{\"id\": \"p1\", \"tier\": \"pipe\", \"score\": 1}\n".getBytes(StandardCharsets.UTF_8));
        o.flush();
        Thread.sleep(300); // a slow producer: the push waits for the rest
        o.write("{\"id\": \"p2\", \"tier\": \"pipe\", \"score\": 2}\n".getBytes(StandardCharsets.UTF_8));
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    writer.start();

    Run push = braid("push", "users", fifo.toString(), url(), "--no-progress");

    writer.join(10_000);
    assertThat(push.exit()).as(push.err()).isZero();
    assertThat(push.out()).contains("current; 2 rows");
    assertThat(braid("row", "users", "p1", "p2", url()).out()).contains("users[p1]").contains("users[p2]")
        .doesNotContain("no such row");
    Run directory = braid("push", "users", dir.toString(), url(), "--format", "jsonl");
    assertThat(directory.exit()).isEqualTo(2);
    assertThat(directory.err()).contains("cannot push " + dir + ": it is a directory");
  }

  @Test
  void shouldReportBadRowsWithTheirLinesAndFail() throws Exception {
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"id\": \"a\"}\n{\"id\": \"b\", \"score\": \"lots\"}\n");
    Run r = braid("push", "users", bad.toString(), url());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("braid: bad row " + bad + ":2:").contains("score").contains("failed");

    Run ok = braid("push", "users", bad.toString(), url(), "--max-bad-rows", "50%");
    assertThat(ok.exit()).as(ok.err()).isZero();
    assertThat(ok.out()).contains("1 bad");
    assertThat(ok.err()).as("tolerated bad rows are listed too").contains("bad row " + bad + ":2:");

    Run json = braid("push", "users", bad.toString(), url(), "--json");
    assertThat(json.exit()).isEqualTo(1);
    assertThat(json.out()).as("standard output holds only results").isEmpty();
    assertThat(json.err().strip()).as("with --json, standard error is the one JSON error object")
        .startsWith("{").endsWith("}").doesNotContain("\n");
    com.fasterxml.jackson.databind.JsonNode error = JSON.readTree(json.err());
    assertThat(error.path("status").asInt()).isEqualTo(422);
    assertThat(error.path("problem").path("report").path("bad").get(0).path("line").asLong()).isEqualTo(2);
    assertThat(error.path("notes")).as("the bad rows, as listed above the error without --json").hasSize(1);
    assertThat(error.path("notes").get(0).asText()).startsWith("bad row " + bad + ":2: ").contains("score");
    assertThat(error.path("error").asText()).doesNotContain("bad row " + bad);

    Run unknown = braid("push", "nosuch", bad.toString(), url(), "--json");
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.out()).isEmpty();
    assertThat(JSON.readTree(unknown.err()).path("status").asInt()).as(unknown.err()).isEqualTo(404);
  }

  /** A push into an unknown table is refused before the input is read: a pipe that never ends is not waited for. */
  @Test
  void shouldRefuseAnUnknownTableBeforeReadingThePipe() throws Exception {
    java.io.InputStream stdin = System.in;
    java.io.PipedOutputStream never = new java.io.PipedOutputStream(); // open, silent: a read blocks
    System.setIn(new java.io.PipedInputStream(never));
    try {
      Run r = java.util.concurrent.CompletableFuture.supplyAsync(() -> braid("push", "nosuch", "-", url()))
          .get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err()).contains("unknown table 'nosuch'").contains("404");
    } finally {
      never.close();
      System.setIn(stdin);
    }
  }

  @Test
  void shouldRefuseAnEmptyPushUnlessToldToEmptyTheTable() throws Exception {
    Path one = dir.resolve("one.jsonl");
    Files.writeString(one, "{\"id\": \"a\", \"tier\": \"one\"}\n");
    assertThat(braid("push", "users", one.toString(), url()).exit()).isZero();
    Path empty = dir.resolve("empty.jsonl");
    Files.writeString(empty, "");
    Run r = braid("push", "users", empty.toString(), url());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains("the push holds no rows").contains("--allow-empty").doesNotContain("contentLength");
    assertThat(braid("row", "users", "a", url()).out()).contains("one");

    Run emptied = braid("push", "users", empty.toString(), url(), "--allow-empty");
    assertThat(emptied.exit()).as(emptied.err()).isZero();
    assertThat(braid("row", "users", "a", url()).out()).contains("no such row");
  }

  @Test
  void shouldRefuseBadOptionsPrecisely() throws Exception {
    Path f = dir.resolve("x.jsonl");
    Files.writeString(f, "{\"id\": \"a\"}\n");
    assertThat(braid("push", "users", f.toString(), url(), "--max-bad-rows", "lots").err())
        .contains("--max-bad-rows must be a count");
    Run yesterday = braid("push", "users", f.toString(), url(), "--since", "yesterday");
    assertThat(yesterday.exit()).isEqualTo(2);
    assertThat(yesterday.err()).contains("--since must be epoch millis, ISO-8601 like 2026-11-22T10:00:00Z (or "
        + "2026-11-22T11:00:00+01:00) or a date (2026-11-22, its midnight UTC); got 'yesterday'");
    assertThat(braid("push", "users", f.toString(), url(), "--since", "+300000000-01-01").err())
        .contains("--since must be", "'+300000000-01-01' is out of range: epoch milliseconds must fit in a long");
    assertThat(braid("push", "users", f.toString(), url(), "--since-position", "[x]").err())
        .contains("--since-position must be a cut");
    Run both = braid("push", "users", f.toString(), url(), "--incremental", "--since", "2026-11-30T00:00:00Z");
    assertThat(both.exit()).isEqualTo(2);
    assertThat(both.err()).contains("--incremental takes no --since or --since-position");
    assertThat(braid("push", "users", dir.resolve("none.jsonl").toString(), url()).err()).contains("no such file");
    Path txt = dir.resolve("x.txt");
    Files.writeString(txt, "");
    assertThat(braid("push", "users", txt.toString(), url()).err()).contains("--format jsonl or --format csv");
    // JSON lines that are something else are refused before anything is sent, naming what they are
    Path array = dir.resolve("array.json");
    Files.writeString(array, "\n[{\"id\": \"a\"}]\n");
    Run arrayPush = braid("push", "users", array.toString(), url());
    assertThat(arrayPush.exit()).isEqualTo(1);
    assertThat(arrayPush.err()).contains(array + " holds a JSON array; a push reads JSON lines, one row (an object) "
        + "per line: convert it with jq -c '.[]'; nothing was pushed").doesNotContain("bad row");
    java.io.InputStream stdin = System.in;
    System.setIn(new java.io.ByteArrayInputStream("id,tier\na,one\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    try {
      Run csvPiped = braid("push", "users", "-", url());
      assertThat(csvPiped.exit()).isEqualTo(1);
      assertThat(csvPiped.err()).contains("the first line of standard input is not JSON but looks like a CSV header "
          + "('id,tier'); for CSV add --format csv").doesNotContain("bad row");
    } finally {
      System.setIn(stdin);
    }
    System.setIn(new java.io.ByteArrayInputStream("{\"id\": \"piped\", \"tier\": \"two\"}\n".getBytes(
        java.nio.charset.StandardCharsets.UTF_8)));
    try {
      Run piped = braid("push", "users", "-", url(), "--incremental");
      assertThat(piped.exit()).as("the peeked line is pushed too: " + piped.err()).isZero();
      assertThat(braid("row", "users", "piped", url()).out()).contains("two");
    } finally {
      System.setIn(stdin);
    }
    Run unknown = braid("push", "nope", f.toString(), url());
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).contains("nope").contains("users");
    Run inc = braid("push", "users", f.toString(), url(), "--incremental");
    assertThat(inc.exit()).as(inc.err()).isZero();
    assertThat(inc.out()).contains("incremental push").contains("applied");
  }
  /**
   * {@code braid activate --table} follows a table's rollback with a progress bar of the writes it replays, status
   * and versions show it, and {@code braid discard --table} cancels it part way (the replay is held after its first
   * batch of writes by the table's test hook, until the cancel comes).
   */
  @Test
  void shouldFollowATableRollbackWithABarAndCancelIt() throws Exception {
    dev.braid.table.Table t = server.braid().table("users");
    long now = System.currentTimeMillis();
    long v1 = t.push(new java.io.ByteArrayInputStream("{\"id\": \"a\", \"tier\": \"one\"}\n".getBytes(
        StandardCharsets.UTF_8)), dev.braid.table.PushOptions.defaults("1.jsonl")).version();
    dev.braid.table.WriteResult last = null;
    for (int i = 0; i < 3000; i++) {
      last = t.put("k" + i, java.util.Map.of("id", "k" + i, "tier", "w" + i), now);
    }
    assertThat(t.awaitApplied(last, 10_000)).isTrue();
    long v2 = t.push(new java.io.ByteArrayInputStream("{\"id\": \"a\", \"tier\": \"two\"}\n".getBytes(
        StandardCharsets.UTF_8)), dev.braid.table.PushOptions.defaults("2.jsonl")).version();
    java.util.concurrent.CountDownLatch replaying = holdReplays(t);

    CommandLine cli = BraidCli.commandLine();
    StringWriter actOut = new StringWriter();
    StringWriter actErr = new StringWriter();
    cli.setOut(new PrintWriter(actOut, true));
    cli.setErr(new PrintWriter(actErr, true));
    java.util.concurrent.atomic.AtomicInteger actExit = new java.util.concurrent.atomic.AtomicInteger(-1);
    Thread activation = new Thread(() -> actExit.set(cli.execute("activate", "users", Long.toString(v1), "--table",
        url(), "--poll-millis=20")));
    activation.start();
    assertThat(replaying.await(30, TimeUnit.SECONDS)).as("the rollback replays").isTrue();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!actErr.toString().contains("activate users v" + v1)) {
      assertThat(System.nanoTime()).as("a progress bar: " + actErr).isLessThan(deadline);
      Thread.sleep(5);
    }

    Run status = braid("status", url());
    assertThat(status.out()).containsPattern("table users: rolling back to version " + v1 + ": replay [0-9,]+/[0-9,]+ "
        + "writes, lag [0-9,]+");
    Run versions = braid("versions", "users", "--table", url());
    assertThat(versions.out()).containsPattern("rollback, replay [0-9,]+/[0-9,]+ writes, lag");

    Run discard = braid("discard", "users", Long.toString(v1), "--table", url());
    assertThat(discard.exit()).as(discard.err()).isZero();
    assertThat(discard.out()).contains("table users: the rollback to version " + v1 + " is cancelled; it is a backup "
        + "again, and version " + v2 + " stays current");
    activation.join(30_000);
    assertThat(actExit.get()).as(actOut.toString()).isEqualTo(1);
    assertThat(actErr.toString()).contains("the rollback to version " + v1 + " of table 'users' was cancelled by "
        + "request; it is still a backup");
    assertThat(braid("row", "users", "a", url()).out()).contains("two");
    assertThat(braid("versions", "users", "--table", url()).out()).doesNotContain("rollback, replay");
    assertThat(braid("status", url()).out()).doesNotContain("rolling back");

    releaseReplays(t);
    Run again = braid("activate", "users", Long.toString(v1), "--table", url());
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(braid("row", "users", "a", url()).out()).contains("one");
    assertThat(braid("row", "users", "k2999", url()).out()).contains("w2999");
  }
  /**
   * Holds every replay of table {@code t} (a push's or a rollback's) after its first batch of writes until it is
   * cancelled (30 s at most), through the table's test hook; the latch opens when one is held.
   */
  static java.util.concurrent.CountDownLatch holdReplays(dev.braid.table.Table t) throws Exception {
    java.util.concurrent.CountDownLatch replaying = new java.util.concurrent.CountDownLatch(1);
    java.util.function.Consumer<java.util.function.BooleanSupplier> hold = cancelled -> {
      replaying.countDown();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!cancelled.getAsBoolean() && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
    };
    replayHook().set(t, hold);
    return replaying;
  }

  static void releaseReplays(dev.braid.table.Table t) throws Exception {
    replayHook().set(t, null);
  }

  private static java.lang.reflect.Field replayHook() throws NoSuchFieldException {
    java.lang.reflect.Field hook = dev.braid.table.TableRuntime.class.getDeclaredField("duringReplay");
    hook.setAccessible(true);
    return hook;
  }

  /** {@code braid discard --table} cancels a push that replays the writes since its cut: it failed, as it says. */
  @Test
  void shouldCancelAPushThatReplays() throws Exception {
    dev.braid.table.Table t = server.braid().table("users");
    dev.braid.table.WriteResult last = null;
    for (int i = 0; i < 500; i++) {
      last = t.put("k" + i, java.util.Map.of("id", "k" + i, "tier", "w"), System.currentTimeMillis());
    }
    assertThat(t.awaitApplied(last, 10_000)).isTrue();
    java.util.concurrent.CountDownLatch replaying = holdReplays(t);
    Path file = dir.resolve("one.jsonl");
    Files.writeString(file, "{\"id\": \"a\", \"tier\": \"one\"}\n");
    Run push = braid("push", "users", file.toString(), url(), "--no-wait", "--since-position", "[0,0]");
    assertThat(push.exit()).as(push.err()).isZero();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("push (\\S+) \\(version (\\d+)\\): replaying")
        .matcher(push.out());
    assertThat(m.find()).as(push.out()).isTrue();
    String pushId = m.group(1);
    long version = Long.parseLong(m.group(2));
    assertThat(push.out()).as("how to cancel it").contains("cancel it with `braid discard users " + version
        + " --table`");
    assertThat(replaying.await(30, TimeUnit.SECONDS)).as("the push replays").isTrue();

    Run discard = braid("discard", "users", Long.toString(version), "--table", url());
    assertThat(discard.exit()).as(discard.err()).isZero();
    assertThat(discard.out()).startsWith("table users: the push building version " + version + " is cancelled; it "
        + "failed and its files are deleted, and version ");
    Run status = braid("push", "users", "--status", pushId, url());
    assertThat(status.out()).contains("failed").contains("push " + pushId + " (version " + version + ") was "
        + "cancelled by request");
    releaseReplays(t);
    assertThat(braid("row", "users", "a", url()).out()).contains("no such row");
  }
}
