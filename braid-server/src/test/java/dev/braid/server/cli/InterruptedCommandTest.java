package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client commands stopped by Ctrl-C (here SIGTERM, which stops the JVM the same way) while the
 * server works for them say what goes on without them, and a command whose standard output cannot be
 * written fails. Real processes against a stand-in server on loopback that answers only as far as
 * each case needs, then holds the request open: a real server's batch cycle or push would end before
 * the signal.
 */
class InterruptedCommandTest {

  @TempDir
  Path dir;

  private HttpServer http;
  private final ExecutorService handlers = Executors.newCachedThreadPool();
  /** Released when the test ends: the held requests then end too. */
  private final CountDownLatch release = new CountDownLatch(1);
  /** Counted down once the request the case waits for has arrived (and, for a push, its body as far as asked). */
  private final CountDownLatch arrived = new CountDownLatch(1);
  private final List<String> requests = java.util.Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void stop() {
    release.countDown();
    if (http != null) {
      http.stop(0);
    }
    handlers.shutdownNow();
  }

  /** What a handler does with a request; it may hold it (wait on {@link #release}). */
  interface Handler {
    void handle(HttpExchange exchange) throws Exception;
  }

  private String start(Handler handler) throws IOException {
    http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    http.setExecutor(handlers);
    http.createContext("/", exchange -> {
      String path = exchange.getRequestURI().getPath();
      if (exchange.getRequestMethod().equals("GET") && path.startsWith("/v1/tables/") && path.endsWith("/versions")) {
        answer(exchange, "{\"versions\": []}"); // a push's check that its table exists, before it reads its input
        return;
      }
      requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI());
      try {
        handler.handle(exchange);
      } catch (Exception e) {
        exchange.close();
      }
    });
    http.start();
    return "--url=http://127.0.0.1:" + http.getAddress().getPort();
  }

  private static void answer(HttpExchange exchange, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(200, body.length);
    exchange.getResponseBody().write(body);
    exchange.close();
  }

  private void hold() throws InterruptedException {
    arrived.countDown();
    release.await();
  }

  /** The command line in a child JVM, its standard output and error in files of the test's directory. */
  private Process braid(String... args) throws IOException {
    List<String> command = java(BraidCli.class.getName());
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectOutput(dir.resolve("stdout.txt").toFile())
        .redirectError(dir.resolve("stderr.txt").toFile()).start();
  }

  /**
   * A child JVM's command line up to {@code main}, as the launcher runs it: from JDK 23 the JVM warns
   * on standard error, in four lines, that protobuf (under CEL) uses sun.misc.Unsafe, unless allowed;
   * the JVM's own output (a thread dump) goes to standard error.
   */
  private static List<String> java(String main) {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Xmx128m", "-XX:+DisplayVMOutputToStderr"));
    if (Runtime.version().feature() >= 23) {
      command.add("--sun-misc-unsafe-memory-access=allow");
    }
    command.add(main);
    return command;
  }

  /** Waits for the held request, signals {@code p} and returns its standard error once it ended. */
  private String interrupt(Process p) throws Exception {
    try {
      assertThat(arrived.await(60, TimeUnit.SECONDS)).as("the request arrived; requests %s, stderr %s", requests,
          Files.readString(dir.resolve("stderr.txt"))).isTrue();
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the command stopped").isTrue();
      return Files.readString(dir.resolve("stderr.txt"));
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * {@code braid batch}: the cycle goes on in the server. The request asks the server to answer
   * within 540 s, a minute inside the client's own 10 minutes: a longer cycle is answered 202 (still
   * running) before the client would time out (both were 600 s, a race).
   */
  @Test
  void shouldSayThatTheBatchCycleGoesOnWhenInterrupted() throws Exception {
    String url = start(exchange -> hold());

    String err = interrupt(braid("batch", "per_user", url));

    assertThat(requests).containsExactly("POST /v1/views/per_user/batch?wait=540");
    assertThat(err).contains("braid: interrupted while waiting for the batch cycle of view per_user; if the server "
        + "got the request, the batch cycle goes on there: `braid versions per_user` shows it");
  }

  /**
   * {@code --timeout} bounds the wait for an answer: a read says it timed out; a batch cycle asks the
   * server to answer (202, still running) a tenth of it sooner, and when even that answer does not
   * come, says where to look.
   */
  @Test
  void shouldGiveUpWaitingAfterTheTimeout() throws Exception {
    String url = start(exchange -> hold());

    CliClientTest.Run read = CliClientTest.braid("query", "per_user", "u1", url, "--timeout", "1");
    assertThat(read.exit()).isEqualTo(1);
    assertThat(read.err()).contains("braid: error: GET /v1/views/per_user/keys/u1 to " + url.substring(6)
        + " timed out after 1 s\n");
    CliClientTest.Run batch = CliClientTest.braid("batch", "per_user", url, "--timeout", "10");
    assertThat(batch.exit()).isEqualTo(1);
    assertThat(batch.err()).contains("timed out after 10 s; the server may still be working on it: look with "
        + "`braid versions per_user`");
    assertThat(requests).contains("POST /v1/views/per_user/batch?wait=9");
    assertThat(new BraidClient("http://127.0.0.1:1", java.time.Duration.ofSeconds(100_000)).serverWaitSeconds())
        .as("at most the day a server waits").isEqualTo(86_400);
    CliClientTest.Run zero = CliClientTest.braid("status", url, "--timeout", "0");
    assertThat(zero.exit()).isEqualTo(2);
    assertThat(zero.err()).contains("--timeout must be at least 1 second, got 0");
  }

  @Test
  void shouldSayThatTheRepairGoesOnWhenInterrupted() throws Exception {
    String url = start(exchange -> hold());

    String err = interrupt(braid("repair", "per_user", url, "--json"));

    assertThat(requests).containsExactly("POST /v1/views/per_user/repair?wait=540");
    com.fasterxml.jackson.databind.JsonNode e = BraidClient.JSON.readTree(err.lines().filter(l -> l.startsWith("{"))
        .findFirst().orElse(err));
    assertThat(e.path("error").asText()).isEqualTo("interrupted while waiting for the repair of view per_user; if "
        + "the server got the request, the repair goes on there: `braid versions per_user` shows it");
    assertThat(e.path("interrupted").asBoolean()).as("a hook cannot tell Ctrl-C's 130 from SIGTERM's 143").isTrue();
    assertThat(e.has("exitCode")).isFalse();
  }

  /** {@code braid reprocess}: the version goes on building; the command only stops following it. */
  @Test
  void shouldSayThatTheReprocessGoesOnWhenInterrupted() throws Exception {
    String url = start(exchange -> {
      if (exchange.getRequestMethod().equals("POST")) {
        exchange.getRequestBody().readAllBytes();
        answer(exchange, "{\"view\": \"per_user\", \"version\": 7}");
        return;
      }
      answer(exchange, "{\"view\": \"per_user\", \"versions\": [{\"id\": 7, \"state\": \"building\", \"progress\": "
          + "{\"eventsTotal\": 10, \"eventsReplayed\": 3, \"phase\": \"replaying\", \"lag\": 7}}]}");
      arrived.countDown();
    });
    Path spec = dir.resolve("v.yaml");
    Files.writeString(spec, "from: clicks\ngroup_by: user\naggregate: {n: count}\n");

    String err = interrupt(braid("reprocess", "per_user", "--spec", spec.toString(), url, "--no-progress"));

    assertThat(err).contains("braid: stopped following version 7 of view per_user, which goes on building in the "
        + "server: `braid versions per_user` shows it");
  }

  /**
   * Pushes two rows written to {@code rows} into table users (with {@code options}) to a stand-in
   * that reads the whole body and then holds the request; returns standard error after the signal.
   */
  private String interruptWholePush(Path rows, String... options) throws Exception {
    String url = start(exchange -> {
      exchange.getRequestBody().readAllBytes();
      hold();
    });
    Files.writeString(rows, "{\"id\": \"a\"}\n{\"id\": \"b\"}\n");
    List<String> args = new ArrayList<>(List.of("push", "users", rows.toString(), url, "--no-progress"));
    args.addAll(List.of(options));
    return interrupt(braid(args.toArray(String[]::new)));
  }

  /** A push whose whole file was sent goes on in the server; one cut off before its end fails there. */
  @Test
  void shouldSayWhetherThePushGoesOnWhenInterrupted() throws Exception {
    Path rows = dir.resolve("rows.jsonl");

    String err = interruptWholePush(rows);

    assertThat(err).contains("braid: interrupted after the whole of " + rows + " was sent: the push goes on in the "
        + "server; `braid versions users --table` shows it");
  }

  /** An incremental push applies rows as they are read: its notice says so, not that the table is unchanged. */
  @Test
  void shouldSayThatAnIncrementalPushAppliesItsRows() throws Exception {
    Path rows = dir.resolve("rows.jsonl");

    String err = interruptWholePush(rows, "--incremental");

    assertThat(err).contains("braid: interrupted after the whole of " + rows + " was sent: the server applies its rows");
  }

  /**
   * A push from a pipe whose first line is long in coming ({@code slow-export | braid push T -}) waits
   * for it before the upload begins: a signal then says that nothing was sent, not nothing at all.
   */
  @Test
  void shouldSayThatNothingWasSentWhenInterruptedBeforeTheUpload() throws Exception {
    String url = start(exchange -> hold());
    Process p = braid("push", "users", "-", url, "--no-progress");
    try {
      // its main thread reads the first line, which does not come: seen in a thread dump of the child
      String dump = "";
      for (int i = 0; i < 600 && !dump.contains("PushCommand.checkJsonLines"); i++) {
        Thread.sleep(100);
        Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
            Long.toString(p.pid()), "Thread.print").redirectErrorStream(true).start();
        dump = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        jcmd.waitFor();
      }
      assertThat(dump).as("the push waits for its first line").contains("PushCommand.checkJsonLines");

      // SIGTERM; not Process.destroy, which also closes the child's standard input: an end of input that can
      // come before the signal, after which the push begins (and its notice rightly says it was cut off)
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(Files.readString(dir.resolve("stderr.txt"))).contains("braid: interrupted before the upload of - "
          + "began: nothing was sent, and table users is unchanged");
      assertThat(requests).as("no push reached the server").isEmpty();
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Ctrl-C stops a whole pipeline, {@code zcat rows.gz | braid push T -}: when the input's writer
   * dies first, the input ends cleanly, and sent as the body's end that made the truncated input a
   * whole push, which replaces every row of the table. The end of a pipe read after the signal is not
   * sent: the upload is cut off, so the server fails the push.
   */
  @Test
  void shouldNotCompleteAPushWhoseInputEndedWithTheSignal() throws Exception {
    java.util.concurrent.atomic.AtomicReference<String> body = new java.util.concurrent.atomic.AtomicReference<>();
    String url = start(exchange -> {
      InputStream in = exchange.getRequestBody();
      for (int read = 0; read < 12; read++) {
        in.read();
      }
      arrived.countDown();
      try {
        in.readAllBytes();
        body.set("complete"); // the client sent the body's end
      } catch (IOException cutOff) {
        body.set("cut off");
      }
      exchange.close();
    });
    Process p = braid("push", "users", "-", url, "--no-progress");
    p.getOutputStream().write("{\"id\": \"a\"}\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().flush();
    // the push reads the line and waits for more; the JDK's client may hold the request back until the
    // input goes on, so the stand-in need not see it begin
    arrived.await(10, TimeUnit.SECONDS);
    Thread.sleep(1_000);

    // the writer dies of the same signal, a clean end of input that can come a moment before the
    // signal does
    p.getOutputStream().close();
    Thread.sleep(50);
    p.destroy(); // SIGTERM
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(1_000); // a body's end, had it been sent, has reached the stand-in

    assertThat(body.get()).as("the body's end was not sent; stderr %s", Files.readString(dir.resolve("stderr.txt")))
        .isNotEqualTo("complete");
    assertThat(Files.readString(dir.resolve("stderr.txt"))).contains("braid: interrupted after sending 12 bytes of -: "
        + "the server fails a push whose upload is cut off");
  }

  /**
   * A file larger than the sockets' buffers, which the stand-in stops reading after its first line:
   * the upload stalls part way, as a slow link's would.
   */
  @Test
  void shouldSayThatACutOffPushChangesNothingWhenInterrupted() throws Exception {
    String url = start(exchange -> {
      InputStream in = exchange.getRequestBody();
      for (int read = 0; read < 12; read++) { // the first line, and no more
        in.read();
      }
      hold();
    });
    Path rows = dir.resolve("rows.jsonl");
    try (java.io.Writer w = Files.newBufferedWriter(rows)) {
      for (int i = 0; i < 1_000_000; i++) { // 20 MB
        w.write("{\"id\": \"u" + (1_000_000 + i) + "\"}\n");
      }
    }

    String err = interrupt(braid("push", "users", rows.toString(), url, "--no-progress"));

    java.util.regex.Matcher m = java.util.regex.Pattern.compile("braid: interrupted after sending ([0-9,]+) bytes of "
        + java.util.regex.Pattern.quote(rows.toString()) + ": the server fails a push whose upload is cut off, and "
        + "table users keeps its current version; push the file again").matcher(err);
    assertThat(m.find()).as(err).isTrue();
    assertThat(Long.parseLong(m.group(1).replace(",", ""))).isLessThan(Files.size(rows));
  }

  /**
   * A write to a pipe fails only when its reader closed it, whatever words the locale's C library
   * has for that ("Datenübergabe unterbrochen", "Tubería rota"): the reader is gone, not a failure.
   */
  @Test
  void shouldTakeAFailedWriteToAPipeForAReaderGoneInAnyLanguage() throws Exception {
    String stdout = Files.readSymbolicLink(Path.of("/proc/self/fd/1")).toString();
    org.junit.jupiter.api.Assumptions.assumeTrue(stdout.startsWith("pipe:"), "this JVM's standard output is " + stdout);
    assertThat(StandardOutput.readerGone(new IOException("Datenübergabe unterbrochen (broken pipe)"))).isTrue();
  }

  /**
   * A command whose standard output cannot be written (a full disk) fails with the reason: it wrote
   * nothing, said nothing and exited 0, so a script took the empty file for a result.
   */
  @Test
  void shouldFailWhenStandardOutputCannotBeWritten() throws Exception {
    List<String> command = java(BraidCli.class.getName());
    command.addAll(List.of("generate", "sales", "--count", "100"));
    Process p = new ProcessBuilder(command).redirectOutput(new java.io.File("/dev/full"))
        .redirectError(dir.resolve("stderr.txt").toFile()).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

    assertThat(p.exitValue()).isEqualTo(1);
    assertThat(Files.readString(dir.resolve("stderr.txt"))).contains("braid: error: cannot write standard output: "
        + "No space left on device; what the command printed is incomplete");

    Path spec = dir.resolve("spec.yaml");
    Files.writeString(spec, "streams:\n  s: {key: k, fields: {k: string}}\n");
    command.subList(command.size() - 4, command.size()).clear();
    command.addAll(List.of("validate", spec.toString(), "--json"));
    Process json = new ProcessBuilder(command).redirectOutput(new java.io.File("/dev/full"))
        .redirectError(dir.resolve("stderr.txt").toFile()).start();
    assertThat(json.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(json.exitValue()).isEqualTo(1);
    String jsonLine = Files.readString(dir.resolve("stderr.txt")).lines().filter(l -> l.startsWith("{")).findFirst()
        .orElseThrow(() -> new AssertionError("no JSON object on standard error"));
    com.fasterxml.jackson.databind.JsonNode e = BraidClient.JSON.readTree(jsonLine);
    assertThat(e.path("error").asText()).startsWith("cannot write standard output: No space left on device");
    assertThat(e.path("exitCode").asInt()).isEqualTo(1);
  }

  /**
   * The child JVMs of this class stand for {@code ./braid}: it must give every command the flags
   * {@link #java} does, or the tests here would pass while the launcher behaves otherwise.
   */
  @Test
  void shouldRunCommandsWithTheFlagsThisClassGivesItsChildren() throws IOException {
    Path launcher = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent().resolve("braid");
    String script = Files.readString(launcher);
    assertThat(script).contains("FLAGS+=(-XX:+DisplayVMOutputToStderr)")
        .contains("FLAGS+=(--sun-misc-unsafe-memory-access=allow)");
  }

  /**
   * {@code kill -3} asks a JVM for a thread dump, which it wrote to standard output: into the events of
   * {@code braid generate > events.ndjson}. The launcher sends the JVM's own output to standard error.
   */
  @Test
  void shouldKeepAThreadDumpOutOfTheGeneratedEvents() throws Exception {
    Process p = braid("generate", "sales", "--count", "0", "--rate", "2000");
    Path out = dir.resolve("stdout.txt");
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (Files.size(out) == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      new ProcessBuilder("kill", "-QUIT", Long.toString(p.pid())).start().waitFor();
      while (!Files.readString(dir.resolve("stderr.txt")).contains("Full thread dump") && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("generate stopped").isTrue();
    } finally {
      p.destroyForcibly();
    }

    assertThat(Files.readString(dir.resolve("stderr.txt"))).contains("Full thread dump");
    List<String> lines = Files.readAllLines(out);
    assertThat(lines).isNotEmpty();
    for (String line : lines) {
      assertThat(BraidClient.JSON.readTree(line).path("qty").isIntegralNumber()).as(line).isTrue();
    }
  }
}
