package dev.braid.server.cli;

import static dev.braid.server.cli.CliClientTest.braid;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code braid changes} against a real server on a loopback port: what the stream holds as lines and
 * as NDJSON, one key, a limit, resuming from an id, following new changes as they come, and the
 * server's errors with exit code 1.
 */
class ChangesCliTest {

  static final String SPEC = """
      streams:
        clicks:
          partitions: 1
          key: user
          time: ts
          fields: {user: string, ts: timestamp}
      views:
        per_minute:
          from: clicks
          group_by: user
          window: {tumbling: 1m}
          aggregate: {n: count}
        all_time:
          from: clicks
          group_by: user
          aggregate: {n: count}
      """;
  static final long T = Instant.parse("2026-11-30T10:00:00Z").toEpochMilli();
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  BraidServer server;

  @BeforeEach
  void start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  String url() {
    return "--url=" + server.url();
  }

  void ingest(String... userAndMinute) throws Exception {
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < userAndMinute.length; i += 2) {
      lines.append("{\"user\": \"").append(userAndMinute[i]).append("\", \"ts\": ")
          .append(T + Long.parseLong(userAndMinute[i + 1]) * 60_000 + 1_000).append("}\n");
    }
    Path f = Files.createTempFile(dir, "clicks", ".ndjson");
    Files.writeString(f, lines);
    CliClientTest.Run r = braid("ingest", "clicks", f.toString(), url(), "--no-progress");
    assertThat(r.exit()).as(r.out() + r.err()).isZero();
  }

  /** The NDJSON of {@code braid changes per_minute --json} once it holds {@code n} changes. */
  List<JsonNode> awaitChanges(int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (true) {
      CliClientTest.Run r = braid("changes", "per_minute", url(), "--json");
      assertThat(r.exit()).as(r.err()).isZero();
      List<JsonNode> out = new ArrayList<>();
      for (String line : r.out().split("\n")) {
        if (!line.isBlank()) {
          out.add(JSON.readTree(line));
        }
      }
      if (out.size() >= n || System.nanoTime() > deadline) {
        return out;
      }
      Thread.sleep(50);
    }
  }

  @Test
  void shouldPrintTheChangesAsLinesAndNdjsonForOneKeyFromAnIdAndUpToALimit() throws Exception {
    ingest("ann", "0", "bob", "0", "ann", "1", "cid", "3"); // minute 3 closes ann and bob's minute 0, ann's 1
    List<JsonNode> json = awaitChanges(3);
    assertThat(json).extracting(e -> e.path("kind").asText() + " " + e.path("key").asText() + " "
        + (e.path("start").asLong() - T) / 60_000 + " n=" + e.path("values").path("n").asLong())
        .containsExactlyInAnyOrder("close ann 0 n=1", "close bob 0 n=1", "close ann 1 n=1");

    CliClientTest.Run text = braid("changes", "per_minute", url());
    assertThat(text.exit()).isZero();
    assertThat(text.out()).contains("close      ann  [2026-11-30T10:00:00Z, 2026-11-30T10:01:00Z)  provisional n=1")
        .contains("(3 changes; --from 3 goes on from here, --follow waits for new ones)");

    CliClientTest.Run ann = braid("changes", "per_minute", url(), "--key", "ann", "--json");
    assertThat(ann.out().lines().map(l -> l.contains("\"key\":\"ann\"")).toList()).containsExactly(true, true);
    CliClientTest.Run one = braid("changes", "per_minute", url(), "--from", "1", "--limit", "1");
    assertThat(one.out()).startsWith("#1 ").contains("(1 change; --from 2 goes on from here");
    CliClientTest.Run none = braid("changes", "per_minute", url(), "--from", "3");
    assertThat(none.out()).isEqualTo("(0 changes; --from 3 goes on from here, --follow waits for new ones)\n");
  }

  /**
   * {@code braid changes VIEW --follow | head -1}: the follower stops, with status 0, at the first
   * change it cannot write after its reader went away (it went on following for good). A real
   * process, because the broken pipe's error stays in its standard output stream.
   */
  @Test
  void shouldStopFollowingWhenTheReaderClosesThePipe() throws Exception {
    ingest("ann", "0", "bob", "2"); // closes ann's minute 0
    awaitChanges(1);
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Xmx128m", BraidCli.class.getName(), "changes", "per_minute", url(),
        "--follow").redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try {
      java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      assertThat(r.readLine()).startsWith("#0 ").contains(" ann ");
      p.getInputStream().close(); // as head -1 does
      ingest("cid", "5"); // closes bob's minute 2: the follower's next line has no reader
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the follower stopped").isTrue();
      assertThat(p.exitValue()).isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * Ctrl-C (here SIGTERM, which stops the JVM the same way) ends {@code --follow} with where to go on:
   * the change after the last one printed (it ended without a word, and a user had to read the id off
   * the last line). A real process, signalled.
   */
  @Test
  void shouldSayWhereToGoOnWhenFollowingIsInterrupted() throws Exception {
    ingest("ann", "0", "bob", "2", "cid", "5"); // closes ann's minute 0 and bob's minute 2
    awaitChanges(2);
    Path err = dir.resolve("stderr.txt");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Xmx128m", BraidCli.class.getName(), "changes", "per_minute", url(),
        "--follow", "--from", "1").redirectError(err.toFile()).start();
    try {
      java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      assertThat(r.readLine()).startsWith("#1 ").contains(" bob ");
      new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the follower stopped").isTrue();
      assertThat(Files.readString(err)).contains("braid: interrupted after 1 change; --from 2 goes on from here");
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void shouldFollowNewChangesUntilTheLimit() throws Exception {
    ingest("ann", "0", "bob", "2"); // closes ann's minute 0
    awaitChanges(1);
    CliClientTest.Run[] followed = new CliClientTest.Run[1];
    Thread t = new Thread(() -> followed[0] = braid("changes", "per_minute", url(), "--follow", "--limit", "3"));
    t.start();
    Thread.sleep(300);
    assertThat(t.isAlive()).as("waits for two more changes").isTrue();
    ingest("cid", "5"); // closes bob's minute 2, then cid's minute 5 with the next one
    ingest("dan", "7");
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).isFalse();
    assertThat(followed[0].exit()).as(followed[0].err()).isZero();
    assertThat(followed[0].out().lines().toList()).hasSize(3).satisfies(lines -> {
      assertThat(lines.get(0)).startsWith("#0 ").contains(" ann ");
      assertThat(lines.get(1)).startsWith("#1 ").contains(" bob ");
      assertThat(lines.get(2)).startsWith("#2 ").contains(" cid ");
    });
  }

  /**
   * {@code --follow} goes on through a restart of the server: it connects again and resumes after
   * the last change it printed, so nothing is skipped or printed twice.
   */
  @Test
  void shouldFollowThroughARestartOfTheServer() throws Exception {
    ingest("ann", "0", "bob", "2"); // closes ann's minute 0
    awaitChanges(1);
    CliClientTest.Run[] followed = new CliClientTest.Run[1];
    String url = url();
    Thread t = new Thread(() -> followed[0] = braid("changes", "per_minute", url, "--follow", "--limit", "3"));
    t.start();
    Thread.sleep(300);
    int port = server.port();
    server.close();
    Thread.sleep(500); // the client finds the server gone, and waits
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(port)).awaitReady(30, TimeUnit.SECONDS);
    ingest("cid", "5"); // closes bob's minute 2, then cid's minute 5 with the next one
    ingest("dan", "7");
    t.join(TimeUnit.SECONDS.toMillis(60));
    assertThat(t.isAlive()).isFalse();
    assertThat(followed[0].exit()).as(followed[0].err()).isZero();
    assertThat(followed[0].out().lines().toList()).hasSize(3).satisfies(lines -> {
      assertThat(lines.get(0)).startsWith("#0 ").contains(" ann ");
      assertThat(lines.get(1)).startsWith("#1 ").contains(" bob ");
      assertThat(lines.get(2)).startsWith("#2 ").contains(" cid ");
    });
    assertThat(followed[0].err()).containsOnlyOnce("connecting again to go on from change 1");
  }

  @Test
  void shouldExitWithTheServersDetailOnErrors() {
    CliClientTest.Run unknown = braid("changes", "nope", url());
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).contains("unknown view 'nope'").contains("HTTP 404");
    CliClientTest.Run noWindow = braid("changes", "all_time", url(), "--follow");
    assertThat(noWindow.exit()).isEqualTo(1);
    assertThat(noWindow.err()).contains("view 'all_time' has no window").contains("HTTP 400");
    CliClientTest.Run badLimit = braid("changes", "per_minute", url(), "--limit", "0");
    assertThat(badLimit.exit()).isEqualTo(2);
    assertThat(badLimit.err()).contains("--limit must be at least 1, got 0");
    CliClientTest.Run pastEnd = braid("changes", "per_minute", url(), "--from", "5");
    assertThat(pastEnd.exit()).isEqualTo(1);
    assertThat(pastEnd.err()).contains("change id 5 is out of range for view 'per_minute'");
  }
}
