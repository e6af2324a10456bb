package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Event time over real HTTP on loopback: the changes stream as server-sent events (closes, a
 * correction after a batch cycle, resumption with {@code Last-Event-ID}, precise errors), the late
 * log endpoint, the watermark in {@code asOf} and status, and window states in reads.
 */
class EventTimeServerTest {

  static final String SPEC = """
      streams:
        clicks:
          partitions: 1
          key: user
          time: ts
          max_out_of_order: 0s
          fields: {user: string, ts: timestamp}
      views:
        per_minute:
          from: clicks
          group_by: user
          window: {tumbling: 1m}
          allowed_lateness: 10s
          aggregate: {n: count}
        all_time:
          from: clicks
          group_by: user
          aggregate: {n: count}
      """;
  static final long T = 1_780_000_020_000L - 1_780_000_020_000L % 60_000;
  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  Path dir;

  BraidServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  HttpResponse<String> send(String method, String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30));
    if (headers.length > 0) {
      b.headers(headers);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonNode getJson(String path) throws Exception {
    HttpResponse<String> r = send("GET", path, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  void ingest(long... times) throws Exception {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < times.length; i += 2) {
      b.append(i == 0 ? "" : ",").append("{\"user\":\"u").append(times[i]).append("\",\"ts\":").append(times[i + 1])
          .append('}');
    }
    HttpResponse<String> r = send("POST", "/v1/streams/clicks/events", b.append(']').toString(),
        "Content-Type", "application/json");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  void awaitWatermark(long millis) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (getJson("/v1/status").path("streams").get(0).path("watermark").path("millis").asLong() != millis
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  /** A server-sent event: its id, its event name and its data as JSON. */
  record Sse(long id, String event, JsonNode data) {}

  /** An open {@code /changes} connection whose events a reader thread queues. */
  final class Follow implements AutoCloseable {
    final LinkedBlockingQueue<Sse> events = new LinkedBlockingQueue<>();
    final HttpResponse<Stream<String>> response;
    final Thread reader;

    Follow(String query, String lastEventId) throws Exception {
      this(query, lastEventId, "text/event-stream");
    }

    Follow(String query, String lastEventId, String accept) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + "/v1/views/per_minute/changes" + query))
          .header("Accept", accept);
      if (lastEventId != null) {
        b.header("Last-Event-ID", lastEventId);
      }
      response = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
      reader = new Thread(() -> {
        Map<String, String> fields = new HashMap<>();
        try {
          response.body().forEach(line -> {
            if (line.isEmpty()) {
              if (fields.containsKey("data")) {
                try {
                  events.add(new Sse(Long.parseLong(fields.get("id")), fields.get("event"),
                      JSON.readTree(fields.get("data"))));
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              }
              fields.clear();
            } else if (!line.startsWith(":")) {
              int c = line.indexOf(':');
              fields.put(line.substring(0, c), line.substring(c + 1).trim());
            }
          });
        } catch (RuntimeException closed) {
          // the test closed the connection
        }
      });
      reader.setDaemon(true);
      reader.start();
    }

    Sse next() throws InterruptedException {
      Sse e = events.poll(10, TimeUnit.SECONDS);
      assertThat(e).as("an event within 10 s").isNotNull();
      return e;
    }

    @Override
    public void close() {
      response.body().close();
    }
  }

  @Test
  void shouldStreamClosesAndACorrectionAndResumeFromLastEventId() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir, BraidServer.Config.defaults().withPort(0))
        .awaitReady(30, TimeUnit.SECONDS);
    ingest(1, T + 1_000, 2, T + 2_000, 3, T + 2 * 60_000 + 10_000);
    awaitWatermark(T + 130_000);

    JsonNode read = getJson("/v1/views/per_minute/keys/u1");
    assertThat(read.path("asOf").path("watermark").asLong()).isEqualTo(T + 130_000);
    assertThat(read.path("windows").get(0).path("state").asText()).isEqualTo("provisional");
    JsonNode status = getJson("/v1/status");
    JsonNode wm = status.path("streams").get(0).path("watermark");
    assertThat(wm.path("at").asText()).isEqualTo(java.time.Instant.ofEpochMilli(T + 130_000).toString());
    assertThat(wm.path("partitions").get(0).path("idle").isBoolean()).isTrue();

    Map<String, Sse> closes = new HashMap<>();
    long lastId;
    try (Follow f = new Follow("", null)) {
      for (int i = 0; i < 2; i++) {
        Sse e = f.next();
        assertThat(e.event()).isEqualTo("close");
        assertThat(e.data().path("id").asLong()).isEqualTo(e.id());
        assertThat(e.data().path("start").asLong()).isEqualTo(T);
        assertThat(e.data().path("values").path("n").asLong()).isEqualTo(1);
        closes.put(e.data().path("key").asText(), e);
      }
      assertThat(closes).containsOnlyKeys("u1", "u2");
      lastId = Math.max(closes.get("u1").id(), closes.get("u2").id());
    }

    ingest(1, T + 5_000); // too late for the speed layer
    JsonNode late = getJson("/v1/streams/clicks/late");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (late.path("lateEvents").isEmpty() && System.nanoTime() < deadline) { // the speed layer records it after the ack
      Thread.sleep(5);
      late = getJson("/v1/streams/clicks/late");
    }
    assertThat(late.path("lateEvents")).hasSize(1);
    assertThat(late.path("lateEvents").get(0).path("view").asText()).isEqualTo("per_minute");
    assertThat(late.path("lateEvents").get(0).path("key").asText()).isEqualTo("u1");
    assertThat(late.path("lateEvents").get(0).path("current").asBoolean(false)).as("under the serving definition")
        .isTrue();
    assertThat(late.path("lateEvents").get(0).path("eventTime").asText())
        .isEqualTo(java.time.Instant.ofEpochMilli(T + 5_000).toString());
    assertThat(late.path("next").asLong()).isEqualTo(1);
    assertThat(getJson("/v1/streams/clicks/late?from=1").path("lateEvents")).isEmpty();
    HttpResponse<String> past = send("GET", "/v1/streams/clicks/late?from=100", null);
    assertThat(past.statusCode()).isEqualTo(400);
    assertThat(past.body()).contains("from 100 is past the end of the late events (the next one will be at 1)");
    JsonNode lateness = getJson("/v1/status").path("views").get(0).path("lateness");
    assertThat(lateness.path("lateEvents").asLong()).isEqualTo(1);
    assertThat(lateness.path("allowedLateness").asText()).isEqualTo("10s");
    String metrics = send("GET", "/metrics", null).body();
    assertThat(metrics).contains("braid_view_late_events{view=\"per_minute\"} 1.0")
        .contains("braid_view_evicted_windows_total{view=\"per_minute\"} 0.0")
        .doesNotContain("braid_view_late_events{view=\"all_time\"}"); // a view without windows has none

    HttpResponse<String> batch = send("POST", "/v1/views/per_minute/batch", null);
    assertThat(batch.statusCode()).as(batch.body()).isEqualTo(200);
    assertThat(getJson("/v1/views/per_minute/keys/u1").path("windows").get(0).path("state").asText())
        .isEqualTo("final");

    try (Follow f = new Follow("", Long.toString(lastId))) {
      Sse c = f.next();
      assertThat(c.id()).isGreaterThan(lastId);
      assertThat(c.event()).isEqualTo("correction");
      assertThat(c.data().path("key").asText()).isEqualTo("u1");
      assertThat(c.data().path("values").path("n").asLong()).isEqualTo(2);
      assertThat(c.data().path("corrects").asLong()).isEqualTo(closes.get("u1").id());
      assertThat(c.data().path("state").asText()).isEqualTo("final");
    }
    // media types are case-insensitive: Javalin's own handler sent an empty 200 for this one
    try (Follow f = new Follow("?key=u2&from=0", null, "Text/Event-Stream")) {
      assertThat(f.next().data().path("key").asText()).isEqualTo("u2");
      assertThat(f.events.poll(300, TimeUnit.MILLISECONDS)).as("only u2's events").isNull();
    }

    // the same changes as pages of JSON: without Accept, or asking for JSON
    JsonNode all = getJson("/v1/views/per_minute/changes");
    assertThat(all.path("events")).extracting(e -> e.path("kind").asText() + " " + e.path("key").asText())
        .containsExactlyInAnyOrder("close u1", "close u2", "correction u1");
    assertThat(all.path("caughtUp").asBoolean()).isTrue();
    long end = all.path("next").asLong();
    assertThat(end).isEqualTo(all.path("events").get(2).path("id").asLong() + 1);
    JsonNode first = getJson("/v1/views/per_minute/changes?limit=1");
    assertThat(first.path("events")).hasSize(1);
    assertThat(first.path("caughtUp").asBoolean()).as("two more to come").isFalse();
    assertThat(first.path("events").get(0)).isEqualTo(all.path("events").get(0));
    JsonNode rest = getJson("/v1/views/per_minute/changes?from=" + first.path("next").asLong() + "&limit=1000");
    assertThat(rest.path("events")).hasSize(2);
    JsonNode last = getJson("/v1/views/per_minute/changes?from=" + (end - 1) + "&limit=1");
    assertThat(last.path("events")).hasSize(1);
    assertThat(last.path("caughtUp").asBoolean()).as("a full page that ends at the newest event").isTrue();
    HttpResponse<String> u1 = send("GET", "/v1/views/per_minute/changes?key=u1&from=0", null,
        "Accept", "application/json");
    assertThat(JSON.readTree(u1.body()).path("events")).extracting(e -> e.path("kind").asText())
        .containsExactly("close", "correction");
    assertThat(getJson("/v1/views/per_minute/changes?from=" + end).path("events")).isEmpty();
    // q-values count: a client that refuses the stream (q=0) or prefers JSON gets a page, not a stream
    for (String accept : List.of("text/event-stream;q=0, application/json", "application/json, text/event-stream;q=0.5",
        "*/*")) {
      HttpResponse<String> page = send("GET", "/v1/views/per_minute/changes?limit=3", null, "Accept", accept);
      assertThat(page.headers().firstValue("Content-Type").orElse("")).as(accept).startsWith("application/json");
      assertThat(JSON.readTree(page.body()).path("events")).as(accept).hasSize(3);
    }
  }

  /** An {@code allowed_lateness} of zero reads {@code 0s} in status (the definition's text keeps its {@code 0d}). */
  @Test
  void shouldShowAZeroAllowedLatenessAsZeroSeconds() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC.replace("allowed_lateness: 10s", "allowed_lateness: 0s"), "t.yaml"),
        dir, BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
    assertThat(getJson("/v1/status").path("views").get(0).path("lateness").path("allowedLateness").asText())
        .isEqualTo("0s");
  }

  /**
   * A client that goes away from a quiet view's changes stream frees its subscription thread at the
   * next keep-alive (nothing else would ever write to it), and a client that stays gets the
   * keep-alive comments, so that proxies do not cut the stream as idle.
   */
  @Test
  void shouldFreeTheThreadOfAClientThatWentAwayAndKeepTheOthersAlive() throws Exception {
    System.setProperty("braid.changes.keepAliveMillis", "200");
    try {
      server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir, BraidServer.Config.defaults().withPort(0))
          .awaitReady(30, TimeUnit.SECONDS);
    } finally {
      System.clearProperty("braid.changes.keepAliveMillis");
    }
    java.net.URI u = URI.create(server.url());
    List<java.net.Socket> gone = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      java.net.Socket s = new java.net.Socket(u.getHost(), u.getPort());
      s.getOutputStream().write(("GET /v1/views/per_minute/changes HTTP/1.1\r\nHost: x\r\n"
          + "Accept: text/event-stream\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      gone.add(s);
    }
    java.net.Socket stays = new java.net.Socket(u.getHost(), u.getPort());
    stays.getOutputStream().write(("GET /v1/views/per_minute/changes HTTP/1.1\r\nHost: x\r\n"
        + "Accept: text/event-stream\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(stays.getInputStream(),
        java.nio.charset.StandardCharsets.UTF_8));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (server.changes.openStreams() < 6) {
      assertThat(System.nanoTime()).as("6 streams open").isLessThan(deadline);
      Thread.sleep(10);
    }
    assertThat(subscriptionThreads()).as("a thread per stream").isEqualTo(6);
    for (java.net.Socket s : gone) {
      s.close();
    }
    while (server.changes.openStreams() > 1) {
      assertThat(System.nanoTime()).as("the streams of the clients that went away end").isLessThan(deadline);
      Thread.sleep(10);
    }
    while (subscriptionThreads() != 1) {
      assertThat(System.nanoTime()).as("their subscription threads end").isLessThan(deadline);
      Thread.sleep(10);
    }
    stays.setSoTimeout(10_000);
    String line;
    int comments = 0;
    while (comments < 2 && (line = in.readLine()) != null) {
      comments += line.equals(": keep-alive") ? 1 : 0;
    }
    assertThat(comments).as("keep-alive comments to the client that stays").isEqualTo(2);
    stays.close();
  }

  private static long subscriptionThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().equals("braid-subscription-per_minute")).count();
  }

  @Test
  void shouldRefuseBadChangesRequestsWithProblems() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir, BraidServer.Config.defaults().withPort(0))
        .awaitReady(30, TimeUnit.SECONDS);
    String sse = "text/event-stream";
    List<Object[]> cases = new ArrayList<>();
    cases.add(new Object[] {"/v1/views/nope/changes", new String[] {"Accept", sse}, 404, "unknown view 'nope'"});
    cases.add(new Object[] {"/v1/views/all_time/changes", new String[] {"Accept", sse}, 400,
        "view 'all_time' has no window"});
    cases.add(new Object[] {"/v1/views/per_minute/changes", new String[] {"Accept", sse, "Last-Event-ID", "x1"},
        400, "Last-Event-ID 'x1' is not a change id"});
    cases.add(new Object[] {"/v1/views/per_minute/changes", new String[] {"Accept", sse, "Last-Event-ID", "41"},
        400, "Last-Event-ID 41 is not an id that the changes of view 'per_minute' have sent yet"});
    cases.add(new Object[] {"/v1/views/per_minute/changes", new String[] {"Accept", sse, "Last-Event-ID",
        Long.toString(Long.MAX_VALUE)}, 400, "Last-Event-ID " + Long.MAX_VALUE + " is not an id that the changes of "
        + "view 'per_minute' have sent yet"});
    cases.add(new Object[] {"/v1/views/per_minute/changes", new String[] {"Accept", sse, "Last-Event-ID", "0",
        "Last-Event-ID", "1"}, 400, "Last-Event-ID is given twice, as '0' and '1': send it once; nothing was sent"});
    cases.add(new Object[] {"/v1/views/per_minute/changes?from=42", new String[] {"Accept", sse},
        400, "change id 42 is out of range for view 'per_minute': ids run from 0 to 0"});
    cases.add(new Object[] {"/v1/views/per_minute/changes?from=-3", new String[] {"Accept", sse}, 400,
        "from '-3' is not a change id"});
    cases.add(new Object[] {"/v1/views/per_minute/changes", new String[] {"Accept", "text/html"}, 406,
        "server-sent events ('Accept: text/event-stream') or pages of JSON ('Accept: application/json'), not "
            + "'text/html'"});
    cases.add(new Object[] {"/v1/views/per_minute/changes?limit=5", new String[] {"Accept", sse}, 400,
        "'limit' sizes a page of JSON"});
    cases.add(new Object[] {"/v1/views/per_minute/changes?limit=0", new String[] {"Accept", "application/json"}, 400,
        "query parameter 'limit' must be 1 to 1000, got 0"});
    cases.add(new Object[] {"/v1/views/per_minute/changes?limt=5", new String[] {"Accept", "application/json"}, 400,
        "limt"});
    for (Object[] c : cases) {
      HttpResponse<String> r = send("GET", (String) c[0], null, (String[]) c[1]);
      assertThat(r.statusCode()).as(c[0] + " " + r.body()).isEqualTo((int) c[2]);
      assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
      assertThat(JSON.readTree(r.body()).path("detail").asText()).contains((String) c[3]);
    }
  }
}
