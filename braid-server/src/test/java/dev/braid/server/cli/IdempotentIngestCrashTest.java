package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.Braid;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real server process that dies between the append of a request and its answer (the test hook
 * {@code -Dbraid.test.haltAfterAppend=true} halts the JVM there, like a crash or {@code kill -9}).
 * The client sees the connection fail, the server is started again on the same data directory, and
 * the client retries with the same {@code Idempotency-Key}: the events are in the log exactly once,
 * at the positions the retry acknowledges, which are those of the first append.
 */
class IdempotentIngestCrashTest {

  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  private Process startServer(Path spec, Path data, Path stderr, boolean haltAfterAppend) throws IOException {
    return startServer(spec, data, stderr, haltAfterAppend, 0);
  }

  private Process startServer(Path spec, Path data, Path stderr, boolean haltAfterAppend, int port)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Xmx256m"));
    if (haltAfterAppend) {
      command.add("-Dbraid.test.haltAfterAppend=true");
    }
    command.addAll(List.of(BraidCli.class.getName(), "server", "--spec", spec.toString(), "--data", data.toString(),
        "--port", Integer.toString(port)));
    return new ProcessBuilder(command).redirectError(stderr.toFile()).start();
  }

  private static String awaitUrl(Process server, Path stderr, HttpClient http) throws Exception {
    BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine();
    Matcher m = Pattern.compile("listening on (http://\\S+)").matcher(first == null ? "" : first);
    assertThat(m.find()).as("first line %s; stderr %s", first, Files.readString(stderr)).isTrue();
    String url = m.group(1);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(), HttpResponse.BodyHandlers.ofString())
        .statusCode() != 200) {
      assertThat(System.nanoTime()).as("server ready").isLessThan(deadline);
      Thread.sleep(20);
    }
    return url;
  }

  private static HttpResponse<String> post(HttpClient http, String url, String key, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url + "/v1/streams/events/events"))
        .header("Content-Type", "application/x-ndjson").header("Idempotency-Key", key).timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void shouldHoldEachEventOnceWhenTheClientRetriesAfterACrashBetweenAppendAndResponse() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, ServerShutdownTest.SPEC);
    Path data = dir.resolve("data");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < 50; i++) {
      body.append("{\"id\":\"e").append(i).append("\",\"ts\":1700000000000}\n");
    }

    Path err1 = dir.resolve("server1.err");
    Process crashing = startServer(spec, data, err1, true);
    try {
      String url = awaitUrl(crashing, err1, http);
      boolean answered;
      try {
        post(http, url, "batch-1", body.toString());
        answered = true;
      } catch (IOException e) {
        answered = false; // the connection died with the server: the client cannot know whether it was appended
      }
      assertThat(answered).as("the server halts before it answers").isFalse();
      assertThat(crashing.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(crashing.exitValue()).as("halted by the test hook; stderr %s", Files.readString(err1))
          .isEqualTo(BraidServer.HALT_STATUS);
    } finally {
      crashing.destroyForcibly().waitFor();
    }

    Path err2 = dir.resolve("server2.err");
    Process server = startServer(spec, data, err2, false);
    JsonNode retry;
    JsonNode again;
    try {
      String url = awaitUrl(server, err2, http);
      HttpResponse<String> r = post(http, url, "batch-1", body.toString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      retry = JSON.readTree(r.body());
      again = JSON.readTree(post(http, url, "batch-1", body.toString()).body());
      server.destroy();
      assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
    } finally {
      server.destroyForcibly().waitFor();
    }
    assertThat(retry.path("accepted").asInt()).isEqualTo(50);
    assertThat(retry.path("duplicates").asInt()).as("the first attempt's append survived the crash").isEqualTo(50);
    assertThat(again.path("positions")).isEqualTo(retry.path("positions"));

    try (Braid braid = Braid.open(data, PipelineSpec.load(spec))) {
      LogStream s = braid.log().stream("events");
      Map<String, String> positionOfId = new HashMap<>();
      for (int p = 0; p < s.partitions(); p++) {
        try (LogReader reader = s.reader(p, 0)) {
          while (reader.position() < s.endOffset(p)) {
            RecordCursor c = reader.poll();
            while (c.next()) {
              assertThat(positionOfId.put(c.id(), p + "@" + c.offset())).as("id %s appears once", c.id()).isNull();
            }
          }
        }
      }
      assertThat(positionOfId).hasSize(50);
      // the retry's acknowledged positions are where each event of the first append is
      Map<Integer, Integer> next = new HashMap<>();
      for (int i = 0; i < 50; i++) {
        int p = s.partitionFor(("e" + i).getBytes(StandardCharsets.UTF_8));
        int k = next.merge(p, 1, Integer::sum) - 1;
        long acked = retry.path("positions").path(Integer.toString(p)).get(k).asLong();
        String id = "batch-1#" + i + "/50"; // a keyed request's ids also name its size
        assertThat(positionOfId.get(id)).as(id).isEqualTo(p + "@" + acked);
      }
      for (int i = 0; i < 50; i++) {
        assertThat(braid.get("by_id", "e" + i).values().get("n")).as("view counts e%d once", i).isEqualTo(1L);
      }
    }
  }

  @Test
  void shouldLetBraidIngestRetryABatchWhoseAnswerACrashLostWithoutDuplicates() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, ServerShutdownTest.SPEC);
    Path data = dir.resolve("data");
    Path events = dir.resolve("events.ndjson");
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      body.append("{\"id\":\"e").append(i).append("\",\"ts\":1700000000000}\n");
    }
    Files.writeString(events, body);
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    Path err1 = dir.resolve("server1.err");
    Process crashing = startServer(spec, data, err1, true, port);
    Process server = null;
    try {
      String url = awaitUrl(crashing, err1, http);
      java.io.StringWriter out = new java.io.StringWriter();
      picocli.CommandLine cli = BraidCli.commandLine();
      cli.setOut(new java.io.PrintWriter(out, true));
      cli.setErr(new java.io.PrintWriter(new java.io.StringWriter(), true));
      // the first batch is appended, then the server halts before answering; braid ingest retries
      // it with the same key (the server is down, then back) until the restarted server answers
      java.util.concurrent.CompletableFuture<Integer> run = java.util.concurrent.CompletableFuture.supplyAsync(
          () -> cli.execute("ingest", "events", events.toString(), "--url=" + url, "--batch", "30", "--attempts", "30",
              "--timeout", "30", "--no-progress", "--json"));
      assertThat(crashing.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(crashing.exitValue()).isEqualTo(BraidServer.HALT_STATUS);
      Path err2 = dir.resolve("server2.err");
      server = startServer(spec, data, err2, false, port);
      awaitUrl(server, err2, http);
      assertThat(run.get(5, TimeUnit.MINUTES)).as(out.toString()).isZero();
      JsonNode summary = JSON.readTree(out.toString());
      assertThat(summary.path("accepted").asInt()).isEqualTo(30);
      assertThat(summary.path("duplicates").asInt()).as("the retry found the first attempt's events").isEqualTo(30);
      server.destroy();
      assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
    } finally {
      crashing.destroyForcibly().waitFor();
      if (server != null) {
        server.destroyForcibly().waitFor();
      }
    }
    try (Braid braid = Braid.open(data, PipelineSpec.load(spec))) {
      assertThat(braid.status().streams().get(0).events()).as("events in the log").isEqualTo(30);
    }
  }
}
