package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real server on an ephemeral loopback port, driven over HTTP. */
class BraidServerTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 2
          key: product
          time: ts
          fields: {product: string, store: string, amount: double, units: long, ts: timestamp}
          rules: ["amount >= 0.0"]
      views:
        revenue:
          from: sales
          group_by: product
          aggregate: {n: count, revenue: sum(amount), units: sum(units)}
        daily:
          from: sales
          group_by: store
          window: {tumbling: 1d}
          aggregate: {n: count}
      """;

  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  Path dir;

  BraidServer server;

  BraidServer start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir, BraidServer.Config.defaults().withPort(0)
        .withMaxBodyBytes(64 << 10));
    return server.awaitReady(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  HttpResponse<String> send(String method, String path, String contentType, byte[] body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A GET written on a socket as is: {@code HttpClient} refuses to send a malformed URI. */
  String rawGet(String path, String... headers) throws Exception {
    return raw("GET", path, headers);
  }

  /** A request written on a socket as it is, for what a client library would refuse to send; the answer as read. */
  String raw(String method, String path, String... headers) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(30_000);
      StringBuilder request = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      for (String h : headers) {
        request.append(h).append("\r\n");
      }
      socket.getOutputStream().write(request.append("Connection: close\r\n\r\n").toString()
          .getBytes(StandardCharsets.US_ASCII));
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  HttpResponse<String> post(String path, String contentType, String body) throws Exception {
    return send("POST", path, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  HttpResponse<String> get(String path) throws Exception {
    return send("GET", path, null, null);
  }

  static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  static void assertProblem(HttpResponse<String> r, int status, String detailPart) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
    JsonNode p = json(r);
    assertThat(p.path("status").asInt()).isEqualTo(status);
    assertThat(p.path("type").asText()).startsWith("/problems/");
    assertThat(p.path("title").asText()).isNotEmpty();
    assertThat(p.path("detail").asText()).contains(detailPart);
  }

  String sale(String product, String store, double amount, long units, String ts) {
    return String.format("{\"product\":\"%s\",\"store\":\"%s\",\"amount\":%s,\"units\":%d,\"ts\":\"%s\"}", product,
        store, amount, units, ts);
  }

  long revenueCount(String product) throws Exception {
    return json(get("/v1/views/revenue/keys/" + product)).path("values").path("n").asLong();
  }

  /**
   * The server's metrics once each of the given series exists. Javalin counts a response (its
   * request logger) only after the response left, so a client holding the answer may read
   * /metrics a moment before the count: the test waits for the series, then checks exact values.
   */
  String metricsOnceCounted(String... series) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String m = get("/metrics").body();
    while (!java.util.Arrays.stream(series).allMatch(m::contains) && System.nanoTime() < deadline) {
      Thread.sleep(5);
      m = get("/metrics").body();
    }
    return m;
  }

  void awaitCount(String product, long n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (revenueCount(product) != n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(revenueCount(product)).isEqualTo(n);
  }

  @Test
  void shouldIngestBatchQueryAndAnswerTheSameAfterARestart() throws Exception {
    start();
    HttpResponse<String> r = post("/v1/streams/sales/events", "application/json", "["
        + sale("apple", "s1", 2.5, 1, "2026-11-22T10:00:00Z") + ","
        + sale("apple", "s2", 1.5, 3, "2026-11-22T11:00:00Z") + ","
        + sale("pear", "s1", 4.0, 2, "2026-11-21T09:00:00Z") + "]");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode ack = json(r);
    assertThat(ack.path("accepted").asInt()).isEqualTo(3);
    assertThat(ack.path("rejected").asInt()).isZero();
    awaitCount("apple", 2);

    HttpResponse<String> batch = post("/v1/views/revenue/batch", null, "");
    assertThat(batch.statusCode()).as(batch.body()).isEqualTo(200);
    long built = json(batch).path("built").asLong();
    assertThat(json(batch).path("current").asLong()).isEqualTo(built);
    assertThat(json(batch).has("unchanged")).isFalse();
    // again with no event since: nothing built, and the answer and the versions list say so
    JsonNode nothingNew = json(post("/v1/views/revenue/batch", null, ""));
    assertThat(nothingNew.path("built").asLong()).isEqualTo(built);
    assertThat(nothingNew.path("unchanged").asBoolean()).isTrue();
    assertThat(nothingNew.path("detail").asText()).isEqualTo("no events since version " + built + "'s cut: it stays "
        + "current, and this request built no new version");
    assertThat(json(get("/v1/views/revenue/versions")).path("batch").path("unchanged").asBoolean()).isTrue();

    post("/v1/streams/sales/events", "application/x-ndjson",
        sale("apple", "s1", 10.0, 5, "2026-11-22T12:00:00Z") + "\n");
    awaitCount("apple", 3);
    JsonNode apple = json(get("/v1/views/revenue/keys/apple"));
    assertThat(apple.path("found").asBoolean()).isTrue();
    assertThat(apple.path("values").path("revenue").asDouble()).isEqualTo(14.0);
    assertThat(apple.path("values").path("units").asLong()).isEqualTo(9);
    assertThat(apple.path("asOf").path("version").asLong()).isEqualTo(built);
    assertThat(apple.path("asOf").path("cut").size()).isEqualTo(2);

    JsonNode daily = json(get("/v1/views/daily/keys/s1?from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z"));
    assertThat(daily.path("windows")).hasSize(1);
    assertThat(daily.path("windows").get(0).path("values").path("n").asLong()).isEqualTo(2);
    // windows start at whole milliseconds: a finer bound rounds up, and [from, to) keeps its meaning
    assertThat(json(get("/v1/views/daily/keys/s1?from=2026-11-22T00:00:00.0001Z")).path("windows"))
        .as("the window starting at midnight starts before from").isEmpty();
    assertThat(json(get("/v1/views/daily/keys/s1?from=2026-11-22&to=2026-11-22T00:00:00.0001Z")).path("windows"))
        .as("the window starting at midnight starts before to").hasSize(1);
    assertThat(json(post("/v1/views/daily/keys:batchGet", "application/json",
        "{\"keys\": [\"s1\"], \"from\": \"2026-11-21T23:59:59.9999Z\", \"to\": \"2026-11-22T00:00:00.000000001Z\"}"))
        .path("results").get(0).path("windows")).as("batchGet rounds alike").hasSize(1);
    assertProblem(get("/v1/views/daily/keys/s1?from=2026-11-22T00:00:00.0002Z&to=2026-11-22T00:00:00.0001Z"), 400,
        "the range [from, to) of view 'daily' ends before it starts: from is 2026-11-22T00:00:00.000200Z, to is "
            + "2026-11-22T00:00:00.000100Z");
    assertProblem(post("/v1/views/daily/keys:batchGet", "application/json",
        "{\"keys\": [\"s1\"], \"from\": \"2026-11-22T00:00:00.0002Z\", \"to\": \"2026-11-22T00:00:00.0001Z\"}"), 400,
        "ends before it starts");

    JsonNode versions = json(get("/v1/views/revenue/versions"));
    assertThat(versions.path("current").asLong()).isEqualTo(built);
    assertThat(versions.path("versions").findValuesAsText("state")).contains("current", "backup");

    JsonNode status = json(get("/v1/status"));
    assertThat(status.path("streams").get(0).path("events").asLong()).isEqualTo(4);
    assertThat(status.path("views").findValuesAsText("name")).containsExactly("revenue", "daily");
    assertThat(status.path("views").get(0).path("batchCycles").asLong()).isEqualTo(1);
    assertThat(status.path("views").get(0).path("batchFailures").isIntegralNumber()).isTrue();

    server.close();
    server = null;
    start();
    JsonNode again = json(get("/v1/views/revenue/keys/apple"));
    assertThat(again.path("values")).isEqualTo(apple.path("values"));
    assertThat(again.path("asOf")).isEqualTo(apple.path("asOf"));
  }

  @Test
  void shouldKeepGoodEventsAndDeadLetterTheBadOnesWithTheirReasons() throws Exception {
    start();
    String body = sale("fig", "s1", 1.0, 1, "2026-11-22T10:00:00Z") + "\n"
        + "{\"product\": \"fig\", \"amount\": \"lots\", \"ts\": 1}\n"
        + "\n"
        + "{\"product\": \"fig\", \"amount\": -3.0, \"ts\": 1}\n"
        + "    {not json\r\n" // indented: the column counts the blanks, as the line was sent
        + "{\"amount\": 1.0, \"ts\": 1}\n"
        + "{\"product\": \"fig\", \"colour\": \"red\", \"ts\": 1}\n"
        + sale("fig", "s2", 2.0, 1, "2026-11-22T10:00:00Z") + "\n";
    JsonNode ack = json(post("/v1/streams/sales/events", "application/x-ndjson", body));
    assertThat(ack.path("accepted").asInt()).isEqualTo(2);
    assertThat(ack.path("rejected").asInt()).isEqualTo(5);
    JsonNode rej = ack.path("rejections");
    assertThat(rej.get(0).path("line").asInt()).isEqualTo(2);
    assertThat(rej.get(0).path("reason").asText()).isEqualTo("field 'amount': expected double, got string \"lots\"");
    assertThat(rej.get(1).path("line").asInt()).isEqualTo(4);
    assertThat(rej.get(1).path("reason").asText()).isEqualTo("rule failed: amount >= 0.0");
    assertThat(rej.get(2).path("reason").asText()).startsWith("not JSON at line 5, column 6:");
    assertThat(rej.get(3).path("reason").asText()).isEqualTo("missing key field 'product'");
    assertThat(rej.get(4).path("reason").asText()).startsWith("unknown field 'colour'");
    awaitCount("fig", 2);

    JsonNode page1 = json(get("/v1/streams/sales/dead-letters?limit=3"));
    assertThat(page1.path("deadLetters")).hasSize(3);
    assertThat(page1.path("deadLetters").get(0).path("event").asText()).contains("lots");
    JsonNode page2 = json(get("/v1/streams/sales/dead-letters?from=" + page1.path("next").asLong()));
    assertThat(page2.path("deadLetters")).hasSize(2);
    assertThat(page2.path("deadLetters").get(0).path("event").asText()).isEqualTo("{\"amount\": 1.0, \"ts\": 1}");
    // the end: an empty page to poll again; past it, an offset no page gave out
    JsonNode end = json(get("/v1/streams/sales/dead-letters?from=" + page2.path("next").asLong()));
    assertThat(end.path("deadLetters")).isEmpty();
    assertThat(end.path("next").asLong()).isEqualTo(5);
    assertProblem(get("/v1/streams/sales/dead-letters?from=999999"), 400,
        "from 999999 is past the end of the dead letters of stream 'sales' (the next one will be at 5)");
  }

  @Test
  void shouldNameTheMissingFieldARuleReadsInsteadOfSayingTheRuleFailed() throws Exception {
    start();
    JsonNode ack = json(post("/v1/streams/sales/events", "application/json",
        "[{\"product\": \"fig\", \"ts\": 1764460800000}, {\"product\": \"fig\", \"amount\": 1.0, \"ts\": 1}]"));
    assertThat(ack.path("accepted").asInt()).isEqualTo(1);
    assertThat(ack.path("rejections").get(0).path("reason").asText())
        .isEqualTo("missing field 'amount' (rule amount >= 0.0 reads it)");
  }

  @Test
  void shouldBatchGetManyKeysWithAsOfAndAnswer202ForABatchCycleThatOutlastsTheWait() throws Exception {
    start();
    for (int chunk = 0; chunk < 40; chunk++) { // 40 requests of 500 events: under the test's 64 KiB body limit
      StringBuilder body = new StringBuilder();
      for (int i = chunk * 500; i < (chunk + 1) * 500; i++) {
        body.append(sale("p" + (i % 500), "s" + (i % 7), 1.0, 1, "2026-11-22T10:00:00Z")).append('\n');
      }
      assertThat(post("/v1/streams/sales/events", "application/x-ndjson", body.toString()).statusCode()).isEqualTo(200);
    }
    awaitCount("p0", 40);

    HttpResponse<String> many = post("/v1/views/revenue/keys:batchGet", "application/json",
        "{\"keys\": [\"p0\", \"p499\", \"never-seen\"]}");
    assertThat(many.statusCode()).as(many.body()).isEqualTo(200);
    JsonNode results = json(many).path("results");
    assertThat(results).hasSize(3);
    assertThat(results.findValuesAsText("key")).containsExactly("p0", "p499", "never-seen");
    assertThat(results.get(0).path("values").path("n").asLong()).isEqualTo(40);
    assertThat(results.get(1).path("values").path("n").asLong()).isEqualTo(40);
    assertThat(results.get(2).path("found").asBoolean()).isFalse();
    for (JsonNode r : results) {
      assertThat(r.path("asOf").path("version").asLong()).isEqualTo(1);
      assertThat(r.path("asOf").path("position").size()).isEqualTo(2);
    }
    assertThat(json(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [42]}")).path("results")
        .findValuesAsText("key")).as("a whole number stands for its text").containsExactly("42");
    // a fraction or an exponent lost its text (1e2 read key "100.0")
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [1e2]}"), 400,
        "keys[0] is a number with a fraction or an exponent (read as 100.0), whose text JSON does not keep");
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [\"a\", \"b\", null]}"), 400,
        "keys[2] must be a string or a whole number, got null");
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"kyes\": [\"a\"]}"), 400,
        "unknown field 'kyes' in the body; a batchGet takes {\"keys\": [...]}");

    HttpResponse<String> running = post("/v1/views/daily/batch?wait=0", null, "");
    assertThat(running.statusCode()).as(running.body()).isEqualTo(202);
    assertThat(running.headers().firstValue("Location")).contains("/v1/views/daily/versions");
    assertThat(json(running).path("status").asText()).isEqualTo("running");
    // the Location tells a running cycle from a finished one: its "batch" field
    JsonNode batch = json(get("/v1/views/daily/versions")).path("batch");
    assertThat(batch.path("state").asText()).as(batch.toString()).isIn("running", "done");
    assertThat(batch.path("what").asText()).isEqualTo("batch cycle");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!batch.path("state").asText().equals("done")) {
      assertThat(System.nanoTime()).as("the batch cycle finishes: " + batch).isLessThan(deadline);
      Thread.sleep(20);
      batch = json(get("/v1/views/daily/versions")).path("batch");
    }
    assertThat(batch.path("built").asLong()).isEqualTo(json(get("/v1/views/daily/versions")).path("current").asLong())
        .isGreaterThan(1);
    assertThat(batch.has("finishedAt")).isTrue();
    assertThat(json(get("/v1/views/daily/keys/s0?from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z"))
        .path("windows").get(0).path("values").path("n").asLong()).isEqualTo(20_000 / 7 + 1);

    // a time range selects the windows of every key of a batchGet, from the body or the query
    JsonNode day = json(post("/v1/views/daily/keys:batchGet", "application/json",
        "{\"keys\": [\"s0\", \"s1\"], \"from\": \"2026-11-22T00:00:00Z\", \"to\": 1795392000000}")).path("results");
    assertThat(day.get(0).path("windows")).hasSize(1);
    assertThat(day.get(0).path("values").path("n").asLong()).as("tumbling windows: their total")
        .isEqualTo(20_000 / 7 + 1);
    assertThat(day.get(1).path("windows").get(0).path("values").path("n").asLong()).isEqualTo(20_000 / 7);
    JsonNode later = json(post("/v1/views/daily/keys:batchGet?from=2026-11-23T00:00:00Z", "application/json",
        "{\"keys\": [\"s0\"]}")).path("results").get(0);
    assertThat(later.path("found").asBoolean()).isFalse();
    assertThat(later.has("windows")).isFalse();
    assertThat(later.path("values").path("n").asLong()).isZero();
  }

  @Test
  void shouldAnswerEveryErrorWithAProblemThatSaysWhatToDo() throws Exception {
    start();
    assertProblem(post("/v1/streams/nope/events", "application/json", "[]"), 404, "unknown stream 'nope'");
    assertProblem(get("/v1/views/nope/keys/a"), 404, "unknown view 'nope'; views are: revenue, daily");
    assertProblem(get("/v1/nothing/here"), 404, "no endpoint at GET /v1/nothing/here");
    assertProblem(get("/v1/views/revenue/keys/"), 404, "the key is empty, which a path cannot carry: read it "
        + "with POST /v1/views/revenue/keys:batchGet and {\"keys\": [\"\"]}");
    assertProblem(post("/v1/streams/sales/events", "text/csv", "a,b"), 415, "application/x-ndjson");
    assertProblem(post("/v1/streams/sales/events", null, "[]"), 415, "(no Content-Type)");
    assertProblem(post("/v1/streams/sales/events", "application/json; charset=ISO-8859-1", "[]"), 415,
        "charset 'iso-8859-1' is not supported: send the body as UTF-8 (charset=utf-8, or no charset); nothing was read");
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json;charset=\"latin1\"", "{}"), 415,
        "charset 'latin1' is not supported");
    assertProblem(post("/v1/streams/sales/events", "application/json", "[{\"product\": "), 400,
        "not valid JSON at line 1");
    assertProblem(post("/v1/streams/sales/events", "application/json", "42"), 400, "JSON array of event objects");
    assertProblem(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/sales/events"))
        .header("Content-Type", "application/x-ndjson").header("Content-Type", "text/csv")
        .POST(HttpRequest.BodyPublishers.ofString("{}\n")).build(), HttpResponse.BodyHandlers.ofString()), 400,
        "Content-Type is given twice, as 'application/x-ndjson' and 'text/csv': send it once; nothing was read");
    assertProblem(post("/v1/streams/sales/events", "application/json", "x".repeat(70_000)), 413, "over the limit of");
    assertProblem(send("POST", "/v1/streams/sales/events", "application/x-ndjson", new byte[] {'{', (byte) 0xC3, '}'}),
        400, "not valid UTF-8");
    assertProblem(send("POST", "/v1/views/revenue/reprocess", "application/yaml", new byte[] {'f', (byte) 0xC3, '}'}),
        400, "the body is not valid UTF-8 (first bad byte at offset 1); send the view's new definition as UTF-8 text "
            + "(YAML or JSON); nothing was reprocessed");
    assertProblem(post("/v1/views/revenue/reprocess?hold=yes", "application/yaml", "from: sales"), 400,
        "query parameter 'hold' must be true or false (1 or 0; given without a value, ?hold, it is true), got 'yes'");
    HttpResponse<String> gzipped = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/sales/events"))
        .header("Content-Type", "application/x-ndjson").header("Content-Encoding", "gzip")
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[] {0x1f, (byte) 0x8b, 8, 0})).build(),
        HttpResponse.BodyHandlers.ofString());
    assertProblem(gzipped, 415, "Content-Encoding 'gzip' is not supported: send the body uncompressed; nothing was read");
    assertProblem(get("/v1/views/daily/keys/s1?from=yesterday"), 400, "'from' must be epoch millis or ISO-8601");
    assertProblem(get("/v1/views/daily/keys/s1?to=-1000000000-01-01T00:00:00Z"), 400,
        "'to' '-1000000000-01-01T00:00:00Z' is out of range: epoch milliseconds must fit in a long");
    assertProblem(post("/v1/views/daily/batch?wait=-1", null, ""), 400,
        "query parameter 'wait' must be 0 to 86400 seconds (0 answers 202 at once), got -1");
    assertProblem(post("/v1/views/daily/batch?wait=9223372036854775807", null, ""), 400, "must be 0 to 86400 seconds");
    assertProblem(post("/v1/views/daily/batch?foo=1", null, ""), 400,
        "unknown query parameter 'foo'; this endpoint takes wait");
    assertProblem(get("/v1/views/daily/keys/s1?frm=5"), 400,
        "unknown query parameter 'frm'; this endpoint takes from, to");
    assertProblem(get("/v1/views/daily/keys/s1?from="), 400,
        "query parameter 'from' is empty; give epoch millis or ISO-8601 like 2026-11-22T10:00:00Z, or leave it out");
    assertProblem(get("/v1/streams/sales/dead-letters?offset=3"), 400,
        "unknown query parameter 'offset'; this endpoint takes from, limit");
    assertProblem(get("/v1/streams/sales/dead-letters?from="), 400, "query parameter 'from' is empty");
    // a malformed escape in the query is refused, not dropped (which read every window, or waited)
    assertThat(rawGet("/v1/views/daily/keys/s1?to=1&from=%zz")).startsWith("HTTP/1.1 400")
        .contains("the query parameter 'from=%zz' has a malformed percent-escape");
    assertThat(rawGet("/v1/streams/sales/dead-letters?limit=%2")).startsWith("HTTP/1.1 400").contains("'limit=%2'");
    assertProblem(get("/v1/streams/sales/dead-letters?from=-1"), 400, "query parameter 'from' is an offset in the "
        + "log: 0 or more, got -1");
    assertProblem(get("/v1/streams/sales/late?from=-1"), 400, "query parameter 'from' is an offset");
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"ids\": []}"), 400,
        "{\"keys\": [");
    assertProblem(get("/v1/streams/nope/dead-letters"), 404, "unknown stream 'nope'");
    assertProblem(get("/v1/streams/sales/dead-letters?limit=-1"), 400, "'limit' must be 1 to 1000, got -1");
    assertProblem(get("/v1/streams/sales/late?limit=5000"), 400, "'limit' must be 1 to 1000, got 5000");
    assertProblem(post("/v1/views/nope/batch", null, ""), 404, "unknown view 'nope'");
    // more than one JSON value: NDJSON sent as application/json, a second array, trailing text
    String one = sale("kiwi", "s1", 1.0, 1, "2026-11-22T10:00:00Z");
    assertProblem(post("/v1/streams/sales/events", "application/json", one + "\n" + one), 400,
        "more than one JSON value: another starts at line 2, column 1");
    assertProblem(post("/v1/streams/sales/events", "application/json", "[" + one + "] [" + one + "]"), 400,
        "more than one JSON value");
    assertProblem(post("/v1/streams/sales/events", "application/json", "[" + one + "] garbage"), 400,
        "not valid JSON at line 1");
    assertThat(revenueCount("kiwi")).as("nothing of those was ingested").isZero();
    String deep = json(post("/v1/streams/sales/events", "application/json", "[".repeat(100))).path("detail").asText();
    assertThat(deep).contains("an event nests objects and arrays more than 64 levels deep")
        .doesNotContain("line 0", "StreamReadConstraints");
    // Jackson's source description is left out of the detail
    assertThat(json(post("/v1/streams/sales/events", "application/json", "{\"product\": [")).path("detail").asText())
        .doesNotContain("Source", "REDACTED");
    assertProblem(get("/v1/views/revenue/keys/kiwi?from=2026-11-01T00:00:00Z"), 400,
        "view 'revenue' has no windows");
    assertProblem(get("/v1/views/revenue/keys:batchGet"), 405, "GET is not allowed on /v1/views/revenue/keys:batchGet");
    assertProblem(post("/v1/views/daily/keys:batchGet", "application/json", "{\"keys\": [\"s1\"], \"form\": 1}"), 400,
        "unknown field 'form' in the body");
    assertProblem(post("/v1/views/daily/keys:batchGet", "application/json", "{\"keys\": [\"s1\"], \"from\": \"abc\"}"),
        400, "field 'from' of the body must be epoch millis or ISO-8601 like 2026-11-22T10:00:00Z (or "
            + "2026-11-22T11:00:00+01:00, or a date, 2026-11-22, its midnight UTC), got 'abc'");
    assertProblem(post("/v1/views/daily/keys:batchGet?from=0", "application/json", "{\"keys\": [\"s1\"], \"from\": 1}"),
        400, "'from' is both in the body and a query parameter");
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [\"k\"], \"to\": 5}"), 400,
        "view 'revenue' has no windows");
    assertProblem(get("/v1/views/daily/keys/s1?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z"), 400,
        "the range [from, to) of view 'daily' ends before it starts: from is 2026-12-01T00:00:00Z, to is "
            + "2026-11-01T00:00:00Z");
    assertProblem(get("/v1/views/daily/keys/s1?from=1&from=2"), 400,
        "query parameter 'from' is given 2 times (1, 2); give it once");
    // refused by Jetty before the routes: a problem document too, not an HTML page
    String raw = rawGet("/v1/views/revenue/keys/%ZZ");
    assertThat(raw).startsWith("HTTP/1.1 400").containsIgnoringCase("Content-Type: application/problem+json")
        .contains("\"status\":400", "percent-escapes").doesNotContain("<html");
    assertThat(rawGet("/v1/views/revenue/keys/a%00b")).startsWith("HTTP/1.1 400").contains("NUL, %00", "batchGet");
    // HEAD answers as GET would, without the body: not an empty 200 for an unknown view
    HttpResponse<String> head = send("HEAD", "/v1/views/nope/keys/k", null, null);
    assertThat(head.statusCode()).isEqualTo(404);
    assertThat(head.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
    assertThat(head.body()).isEmpty();
    HttpResponse<String> known = send("HEAD", "/v1/views/revenue/keys/k", null, null);
    assertThat(known.statusCode()).isEqualTo(200);
    assertThat(known.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
    assertThat(send("HEAD", "/v1/tables/nope/rows/k", null, null).statusCode()).isEqualTo(404);
    String huge = rawGet("/health", "X-Big: " + "a".repeat(20_000));
    assertThat(huge).startsWith("HTTP/1.1 431").containsIgnoringCase("Content-Type: application/problem+json")
        .contains("\"status\":431").doesNotContain("<html");
    HttpResponse<String> delete = send("DELETE", "/v1/status", null, null);
    assertProblem(delete, 405, "DELETE is not allowed on /v1/status; it takes GET, HEAD");
    assertThat(delete.headers().firstValue("Allow")).hasValue("GET, HEAD");
    JsonNode unseen = json(get("/v1/views/revenue/keys/never-seen"));
    assertThat(unseen.path("found").asBoolean()).isFalse();
    assertThat(unseen.path("values").path("n").asLong()).isZero();
  }

  /** A header Jetty cannot parse is named as the cause; the URL advice is kept for URLs. */
  @Test
  void shouldNameAMalformedHeaderInsteadOfBlamingTheUrl() throws Exception {
    start();
    for (String header : List.of("Content-Length: abc", "Content-Length: 5\r\nContent-Length: 6", "Bad Header: x",
        "Host: a\r\nHost: b")) {
      String raw = rawGet("/v1/status", header);
      assertThat(raw).as(header).startsWith("HTTP/1.1 400").contains("\"status\":400",
          "the URL was fine, a request header was not").doesNotContain("percent-escapes");
    }
    assertThat(rawGet("/v1/status", "Content-Length: abc")).contains("Invalid Content-Length Value");
    for (String method : List.of("PUT", "PATCH", "DELETE", "POST")) { // Jetty wrote a body for GET, POST and HEAD only
      assertThat(raw(method, "/v1/tables/users/rows/u1", "Content-Length: abc")).as(method).startsWith("HTTP/1.1 400")
          .containsIgnoringCase("Content-Type: application/problem+json").contains("Invalid Content-Length Value");
    }
    for (String path : List.of("/v1/views/revenue/keys/%ZZ", "/v1/views/revenue/keys/a%00b", "/v1/\u0001x",
        "/v1/views/revenue/keys/%C0%AF")) {
      assertThat(rawGet(path)).as(path).startsWith("HTTP/1.1 400")
          .contains("the URL could not be parsed; check its percent-escapes").doesNotContain("header");
    }
  }

  /** As README.md says: a never-seen key is a 200 with found false and the aggregations' values over no events. */
  @Test
  void shouldAnswerANeverSeenKeyWith200NotFoundAndTheValuesOverNoEvents() throws Exception {
    start();
    HttpResponse<String> r = get("/v1/views/revenue/keys/never-seen");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode unseen = json(r);
    assertThat(unseen.path("found").asBoolean()).isFalse();
    assertThat(unseen.path("values").path("n").asLong()).isZero();
    assertThat(unseen.path("values").path("revenue").isNumber()).isTrue();
    assertThat(unseen.path("values").path("revenue").asDouble()).isZero();
    assertThat(unseen.path("values").path("units").asLong()).isZero();
    assertThat(unseen.path("asOf").path("version").isNumber()).isTrue();
    JsonNode windowed = json(get("/v1/views/daily/keys/never-seen"));
    assertThat(windowed.path("found").asBoolean()).isFalse();
    assertThat(windowed.path("windows")).isEmpty();
    JsonNode batch = json(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [\"never-seen\"]}"));
    assertThat(batch.path("results").get(0).path("found").asBoolean()).isFalse();
    assertThat(batch.path("results").get(0).path("values")).isEqualTo(unseen.path("values"));
    assertProblem(get("/v1/views/nope/keys/never-seen"), 404, "unknown view 'nope'");
  }

  /**
   * An empty body, a deep event and a number too long for its field get the same answer whether sent
   * as a JSON array or as NDJSON.
   */
  @Test
  void shouldTreatEmptyBodiesDeepEventsAndLongNumbersAlikeInJsonAndNdjson() throws Exception {
    start();
    assertProblem(post("/v1/streams/sales/events", "application/json", ""), 400, "the body is empty");
    assertProblem(post("/v1/streams/sales/events", "application/x-ndjson", ""), 400, "the body is empty");
    assertProblem(post("/v1/streams/sales/events", "application/x-ndjson", "\n  \n"), 400,
        "the body holds only blank lines: send one JSON event object per line");
    assertThat(json(post("/v1/streams/sales/events", "application/x-ndjson", "")).path("type").asText())
        .isEqualTo(json(post("/v1/streams/sales/events", "application/json", " ")).path("type").asText());
    assertProblem(post("/v1/streams/sales/events", "application/json", " [ ]\n"), 400,
        "the body is an empty JSON array: send at least one event");

    // a number too long for its field is that event's rejection in either body, up to 1,000 digits
    String huge = "{\"product\": \"p\", \"store\": \"s\", \"amount\": 1, \"ts\": 1, \"units\": " + "9".repeat(120) + "}";
    String good = sale("kiwi", "s1", 1.0, 1, "2026-11-22T10:00:00Z");
    JsonNode hugeInArray = json(post("/v1/streams/sales/events", "application/json", "[" + good + "," + huge + "]"));
    assertThat(hugeInArray.path("accepted").asInt()).as(hugeInArray.toString()).isEqualTo(1);
    JsonNode hugeInLines = json(post("/v1/streams/sales/events", "application/x-ndjson", good + "\n" + huge + "\n"));
    assertThat(hugeInLines.path("accepted").asInt()).as(hugeInLines.toString()).isEqualTo(1);
    assertThat(hugeInArray.path("rejections").get(0).path("reason").asText()).contains("does not fit")
        .isEqualTo(hugeInLines.path("rejections").get(0).path("reason").asText());
    String endless = "[{\"units\": " + "9".repeat(1001) + "}]";
    assertProblem(post("/v1/streams/sales/events", "application/json", endless), 400,
        "a number is longer than the 1000 characters a number may have");

    String atLimit = deepEvent(64);
    String reason = "field 'store': expected string, got an array";
    JsonNode asArray = json(post("/v1/streams/sales/events", "application/json", "[" + atLimit + "]"));
    assertThat(asArray.path("rejections").get(0).path("reason").asText()).isEqualTo(reason);
    JsonNode asObject = json(post("/v1/streams/sales/events", "application/json", atLimit));
    assertThat(asObject.path("rejections").get(0).path("reason").asText()).isEqualTo(reason);
    JsonNode asLine = json(post("/v1/streams/sales/events", "application/x-ndjson", atLimit + "\n"));
    assertThat(asLine.path("rejections").get(0).path("reason").asText()).isEqualTo(reason);

    String tooDeep = deepEvent(65);
    String limit = "an event nests objects and arrays more than 64 levels deep";
    assertProblem(post("/v1/streams/sales/events", "application/json", "[" + tooDeep + "]"), 400, limit);
    assertProblem(post("/v1/streams/sales/events", "application/json", tooDeep), 400, limit);
    assertThat(json(post("/v1/streams/sales/events", "application/x-ndjson", tooDeep + "\n")).path("rejections")
        .get(0).path("reason").asText()).startsWith("not JSON at line 1").endsWith(limit);
    // other bodies say so in their own words too, without the name of Jackson's setting
    assertProblem(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": " + "[".repeat(70)
        + "]".repeat(70) + "}"), 400, "it nests objects and arrays more than 64 levels deep");
  }

  /** An event object nesting objects and arrays {@code depth} levels deep, itself included. */
  static String deepEvent(int depth) {
    return "{\"product\": \"deep\", \"ts\": 1, \"store\": " + "[".repeat(depth - 1) + "]".repeat(depth - 1) + "}";
  }

  /** A byte-order mark before the first event, as some editors write one, is not part of the event. */
  @Test
  void shouldIngestABodyThatStartsWithAByteOrderMark() throws Exception {
    start();
    String bom = "\uFEFF";
    HttpResponse<String> nd = post("/v1/streams/sales/events", "application/x-ndjson",
        bom + sale("kiwi", "s1", 1.0, 1, "2026-11-22T10:00:00Z") + "\n");
    assertThat(json(nd).path("accepted").asInt()).as(nd.body()).isEqualTo(1);
    HttpResponse<String> js = post("/v1/streams/sales/events", "application/json",
        bom + "[" + sale("kiwi", "s1", 1.0, 1, "2026-11-22T10:00:00Z") + "]");
    assertThat(json(js).path("accepted").asInt()).as(js.body()).isEqualTo(1);
    awaitCount("kiwi", 2);
  }

  /** A charset parameter that names UTF-8 (or ASCII, a part of it) is taken; another is a 415 (see the errors test). */
  @Test
  void shouldTakeACharsetParameterThatNamesUtf8() throws Exception {
    start();
    for (String type : List.of("application/x-ndjson; charset=UTF-8", "application/x-ndjson;charset=\"utf-8\"",
        "application/json; charset=us-ascii")) {
      String event = sale("kiwi", "s1", 1.0, 1, "2026-11-22T10:00:00Z");
      String body = type.startsWith("application/json") ? "[" + event + "]" : event;
      HttpResponse<String> r = post("/v1/streams/sales/events", type, body);
      assertThat(json(r).path("accepted").asInt()).as(type + ": " + r.body()).isEqualTo(1);
    }
    awaitCount("kiwi", 3);
  }

  @Test
  void shouldAnswer503WhileStartingAndServeOnceOpen() throws Exception {
    CountDownLatch hold = new CountDownLatch(1);
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir, BraidServer.Config.defaults().withPort(0),
        hold);
    HttpResponse<String> starting = get("/v1/status");
    assertProblem(starting, 503, "Braid is starting");
    // clients (braid ingest) wait for a starting server as long as it asks them to come back
    assertThat(starting.headers().firstValue("Retry-After")).hasValue("1");
    HttpResponse<String> health = get("/health");
    assertThat(health.statusCode()).isEqualTo(503);
    assertThat(health.headers().firstValue("Retry-After")).as("as every other route").hasValue("1");
    hold.countDown();
    server.awaitReady(30, TimeUnit.SECONDS);
    assertThat(get("/health").statusCode()).isEqualTo(200);
    assertThat(get("/v1/status").statusCode()).isEqualTo(200);
  }

  /** A URL names an IPv6 address in brackets (--bind ::1 printed http://::1:8080, which no client takes). */
  @Test
  void shouldWriteAnIpv6AddressInBracketsInTheUrl() {
    assertThat(BraidServer.httpUrl("::1", 8080)).isEqualTo("http://[::1]:8080");
    assertThat(BraidServer.httpUrl("[::1]", 8080)).isEqualTo("http://[::1]:8080");
    assertThat(BraidServer.httpUrl("127.0.0.1", 8080)).isEqualTo("http://127.0.0.1:8080");
    assertThat(URI.create(BraidServer.httpUrl("fe80::1", 80)).getPort()).isEqualTo(80);
  }

  @Test
  void shouldRefuseASecondServerOnTheSameDataDirectory() throws Exception {
    start();
    assertThatThrownBy(() -> BraidServer.start(PipelineSpec.parse(SPEC, "t"), dir,
        BraidServer.Config.defaults().withPort(0)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is in use by another Braid server (pid " + ProcessHandle.current().pid() + ")");
  }

  @Test
  void shouldCloseOnceWhenClosedTwiceAndReleaseTheDataDirectory() throws Exception {
    java.util.List<String> logged = ServerLog.during(() -> {
      start().close();
      server.close(); // as a test's clean-up or a shutdown hook may, after a close
    });
    assertThat(logged).as("one 'stopped', no warning about the lock").containsOnlyOnce("Braid stopped")
        .noneMatch(m -> m.contains("lock"));
    server = null;
    start(); // the lock was released
    assertThat(get("/health").statusCode()).isEqualTo(200);
  }

  @Test
  void shouldAnswerABatchCycleInFlightWhenClosing() throws Exception {
    start();
    for (int b = 0; b < 20; b++) { // enough events for a batch cycle that is still running when the close begins
      List<Map<String, Object>> events = new ArrayList<>();
      for (int i = 0; i < 10_000; i++) {
        events.add(Map.of("product", "p" + (b * 10_000 + i), "amount", 1.0, "ts", 1L));
      }
      assertThat(server.braid().ingest("sales", events).accepted()).isEqualTo(10_000);
    }
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer = http.sendAsync(
        HttpRequest.newBuilder(URI.create(server.url() + "/v1/views/revenue/batch")).timeout(Duration.ofSeconds(60))
            .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (server.braid().status().views().stream().noneMatch(v -> v.name().equals("revenue") && v.batchRunning())) {
      assertThat(answer).as("the batch cycle is seen running before it ends").isNotDone();
      assertThat(System.nanoTime()).isLessThan(deadline);
      Thread.sleep(1);
    }
    server.close(); // what SIGTERM runs: the request in flight finishes first
    HttpResponse<String> r = answer.get(60, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(json(r).path("built").asLong()).isEqualTo(2);
    server = null;
  }

  @Test
  void shouldExposePrometheusMetrics() throws Exception {
    start();
    String before = get("/metrics").body();
    assertThat(before).as("counted from 0 before the first ingest").contains(
        "braid_ingest_events_total{outcome=\"accepted\",stream=\"sales\"} 0.0",
        "braid_ingest_events_total{outcome=\"duplicate\",stream=\"sales\"} 0.0",
        "braid_ingest_events_total{outcome=\"rejected\",stream=\"sales\"} 0.0",
        "# HELP braid_ingest_events_total events sent to the stream's ingest endpoint (or by the demo's generator)",
        "braid_log_append_failures_total{kind=\"storage-full\",stream=\"sales\"} 0.0",
        "braid_log_append_failures_total{kind=\"io-error\",stream=\"sales\"} 0.0");
    String body = "[" + sale("kiwi", "s1", 1, 1, "2026-11-22T10:00:00Z") + ", {\"product\": 1}]";
    for (int attempt = 0; attempt < 2; attempt++) { // a retry: acknowledged again, not appended again
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/sales/events"))
          .header("Content-Type", "application/json").header("Idempotency-Key", "metrics-1")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(json(r).path("rejectedBefore").asInt()).as("attempt %d: %s", attempt, r.body()).isEqualTo(attempt);
    }
    get("/v1/views/revenue/keys/kiwi");
    assertThat(post("/v1/views/revenue/batch", null, "").statusCode()).isEqualTo(200);
    String m = get("/metrics").body();
    assertThat(m).contains("braid_batch_duration_seconds_count{view=\"revenue\"} 1\n",
        "braid_batch_duration_seconds_count{view=\"daily\"} 0\n", "braid_batch_duration_seconds_sum{view=\"revenue\"}",
        "braid_batch_failures_total{view=\"revenue\"} 0.0");
    assertThat(m).contains("braid_ingest_events_total{outcome=\"accepted\",stream=\"sales\"} 1.0");
    assertThat(m).contains("braid_ingest_events_total{outcome=\"duplicate\",stream=\"sales\"} 1.0");
    assertThat(m).as("the retry's rejection was counted (and dead-lettered) with the first attempt")
        .contains("braid_ingest_events_total{outcome=\"rejected\",stream=\"sales\"} 1.0");
    // events ingested inside the server's process (the demo's generator) are counted too
    assertThat(server.ingestText("sales", List.of(sale("fig", "s1", 1, 1, "2026-11-22T10:00:00Z"))).accepted())
        .isEqualTo(1);
    assertThat(get("/metrics").body()).contains("braid_ingest_events_total{outcome=\"accepted\",stream=\"sales\"} 2.0");
    assertThat(m).contains("braid_view_lag_events{view=\"revenue\"}");
    // the process's and the JVM's own series, for alerts beside Braid's (none before)
    assertThat(m).contains("jvm_memory_used_bytes{", "jvm_threads_live_threads", "process_start_time_seconds",
        "process_cpu_usage", "jvm_classes_loaded_classes");
    assertThat(m).contains("braid_view_unavailable{view=\"revenue\"} 0.0",
        "braid_view_checkpoint_failures_total{view=\"revenue\"} 0.0");
    assertThat(m).contains("braid_view_skipped_events{view=\"revenue\"} 0.0",
        "braid_view_events_without_key{view=\"revenue\"} 0.0");
    assertThat(m).contains("braid_read_latency_seconds_count{view=\"revenue\"}",
        "# HELP braid_read_latency_seconds point reads of the view");
  }

  /** The value of the series {@code series} (name and labels, as the scrape writes them) in {@code scrape}. */
  static double metric(String scrape, String series) {
    for (String line : scrape.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).strip());
      }
    }
    throw new AssertionError("no series " + series + " in:\n" + scrape);
  }

  /** For alerts on a stale batch layer or a growing replay: when the last batch cycle ended, the checkpoint's age. */
  @Test
  void shouldExposeTheLastBatchCycleAndTheCheckpointAge() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir, BraidServer.Config.defaults().withPort(0)
        .withCheckpointEvery(Duration.ofMillis(200)));
    server.awaitReady(30, TimeUnit.SECONDS);
    String before = get("/metrics").body();
    assertThat(metric(before, "braid_batch_last_success_timestamp_seconds{view=\"revenue\"}"))
        .as("no batch cycle has built a Base yet").isNaN();
    assertThat(post("/v1/streams/sales/events", "application/json", "[" + sale("kiwi", "s1", 1, 1,
        "2026-11-22T10:00:00Z") + "]").statusCode()).isEqualTo(200);

    long t0 = System.currentTimeMillis();
    assertThat(post("/v1/views/revenue/batch", null, "").statusCode()).isEqualTo(200);
    long t1 = System.currentTimeMillis();
    double last = metric(get("/metrics").body(), "braid_batch_last_success_timestamp_seconds{view=\"revenue\"}");
    assertThat(last).isBetween(t0 / 1000.0, t1 / 1000.0);
    JsonNode revenue = json(get("/v1/status")).path("views").get(0);
    assertThat(java.time.Instant.parse(revenue.path("lastBatchAt").asText()).toEpochMilli() / 1000.0)
        .isEqualTo(last);

    assertThat(post("/v1/views/revenue/batch", null, "").statusCode()).as("no new event: the cycle succeeds")
        .isEqualTo(200);
    long t2 = System.currentTimeMillis();
    assertThat(metric(get("/metrics").body(), "braid_batch_last_success_timestamp_seconds{view=\"revenue\"}"))
        .as("a cycle that found nothing new succeeded too").isBetween(t1 / 1000.0, t2 / 1000.0);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    double age = metric(get("/metrics").body(), "braid_view_checkpoint_age_seconds{view=\"revenue\"}");
    while (Double.isNaN(age) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      age = metric(get("/metrics").body(), "braid_view_checkpoint_age_seconds{view=\"revenue\"}");
    }
    long scraped = System.currentTimeMillis();
    assertThat(age).as("a checkpoint of the version the cycle built, so taken after the cycle began").isNotNaN()
        .isBetween(0.0, (scraped - t0) / 1000.0);
    Thread.sleep(3_000);
    assertThat(metric(get("/metrics").body(), "braid_view_checkpoint_age_seconds{view=\"revenue\"}"))
        .as("a quiet view: its checkpoint still holds all a crash would replay, so it does not age").isLessThan(2.5);
    double lastCycle = metric(get("/metrics").body(), "braid_batch_last_success_timestamp_seconds{view=\"revenue\"}");

    server.close();
    server = null;
    start(); // a restart: the last good cycle is the one before it, the cycle that found nothing new
    assertThat(metric(get("/metrics").body(), "braid_batch_last_success_timestamp_seconds{view=\"revenue\"}"))
        .isEqualTo(lastCycle).isBetween(t1 / 1000.0, t2 / 1000.0);
  }

  /** A p99 needs buckets; batchGet reads are timed; responses are counted by route template, not raw path. */
  @Test
  void shouldExposeReadLatencyHistogramsAndResponsesByRouteAndStatus() throws Exception {
    start();
    post("/v1/streams/sales/events", "application/json", "[" + sale("kiwi", "s1", 1, 1, "2026-11-22T10:00:00Z") + "]");
    awaitCount("kiwi", 1); // point reads on the fast path
    assertThat(post("/v1/views/revenue/keys:batchGet", "application/json", "{\"keys\": [\"kiwi\", \"fig\"]}")
        .statusCode()).isEqualTo(200);
    assertThat(get("/v1/views/revenue/keys/kiwi?from=1").statusCode()).isEqualTo(400); // through Javalin
    assertThat(get("/v1/views/nope/keys/a").statusCode()).isEqualTo(404);
    assertThat(get("/v1/nowhere/12345").statusCode()).isEqualTo(404);
    assertThat(rawGet("/v1/views/revenue/keys/a%zz")).startsWith("HTTP/1.1 400");
    String[] counted = {
        "braid_http_responses_total{method=\"GET\",route=\"/v1/views/{view}/keys/{key}\",status=\"400\"} 1.0",
        "braid_http_responses_total{method=\"GET\",route=\"/v1/views/{view}/keys/{key}\",status=\"404\"} 1.0",
        "braid_http_responses_total{method=\"POST\",route=\"/v1/views/{view}/keys:batchGet\",status=\"200\"} 1.0",
        "braid_http_responses_total{method=\"POST\",route=\"/v1/streams/{stream}/events\",status=\"200\"} 1.0",
        "braid_http_responses_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1.0",
        "braid_http_responses_total{method=\"other\",route=\"none\",status=\"400\"} 1.0"};
    String m = metricsOnceCounted(counted);
    assertThat(m).containsPattern("braid_read_latency_seconds_bucket\\{view=\"revenue\",le=\"1.0\"} [1-9]")
        .contains("braid_read_latency_seconds_bucket{view=\"revenue\",le=\"1.0E-5\"}")
        .contains("braid_batch_read_latency_seconds_count{view=\"revenue\"} 1\n")
        .contains("braid_batch_read_latency_seconds_bucket{view=\"revenue\",le=\"1.0\"} 1\n");
    assertThat(m).containsPattern("braid_http_responses_total\\{method=\"GET\",route=\"/v1/views/\\{view}/keys/"
        + "\\{key}\",status=\"200\"} [1-9]")
        .contains(counted)
        .doesNotContain("/v1/nowhere", "kiwi");
    // a HEAD is answered and counted as a response, but not timed as a GET read
    java.util.regex.Matcher before = java.util.regex.Pattern.compile(
        "braid_read_latency_seconds_count\\{view=\"revenue\"} (\\d+)").matcher(get("/metrics").body());
    assertThat(before.find()).isTrue();
    assertThat(send("HEAD", "/v1/views/revenue/keys/kiwi", null, null).statusCode()).isEqualTo(200);
    String head = "braid_http_responses_total{method=\"HEAD\",route=\"/v1/views/{view}/keys/{key}\",status=\"200\"}";
    assertThat(metricsOnceCounted(head)).contains("braid_read_latency_seconds_count{view=\"revenue\"} " + before.group(1)
        + "\n").contains("braid_http_responses_total{method=\"HEAD\",route=\"/v1/views/{view}/keys/{key}\",status=\"200\"} 1.0");
  }

  /** Malformed bodies of many kinds: always a 4xx, the server stays up, accepted events stay. */
  @Test
  void shouldSurviveFuzzedIngestBodiesWithoutLosingAcceptedEvents() throws Exception {
    start();
    post("/v1/streams/sales/events", "application/json", "[" + sale("anchor", "s1", 1, 1, "2026-11-22T10:00:00Z") + "]");
    awaitCount("anchor", 1);
    long seed = 42;
    Random rnd = new Random(seed);
    String good = sale("fuzz", "s1", 1.5, 2, "2026-11-22T10:00:00Z");
    String[] templates = {
        "[" + good + "]", good, "[" + good + "," + good + "]",
        "[{\"product\": \"fuzz\", \"units\": 123456789012345678901234567890, \"ts\": 1}]",
        "[{\"product\": \"fuzz\", \"amount\": 1e999, \"ts\": 1}]",
        "[" + "[".repeat(5000) + "]".repeat(5000) + "]",
        "[{\"product\": {\"a\": [1, 2, {\"b\": null}]}, \"ts\": 1}]",
        "[{\"product\": \"fuzz\", \"ts\": \"not a time\"}]",
        "[null, 1, \"x\", true]"};
    int accepted = 0;
    for (int i = 0; i < 300; i++) {
      String t = templates[rnd.nextInt(templates.length)];
      byte[] body = t.getBytes(StandardCharsets.UTF_8);
      switch (rnd.nextInt(4)) {
        case 0 -> body = java.util.Arrays.copyOf(body, rnd.nextInt(body.length + 1)); // truncate
        case 1 -> body[rnd.nextInt(body.length)] = (byte) rnd.nextInt(256); // flip a byte
        default -> { }
      }
      String type = rnd.nextBoolean() ? "application/json" : "application/x-ndjson";
      HttpResponse<String> r = send("POST", "/v1/streams/sales/events", type, body);
      assertThat(r.statusCode()).as("seed %d, request %d: %s", seed, i, r.body()).isIn(200, 400);
      if (r.statusCode() == 200) {
        accepted += json(r).path("accepted").asInt();
      } else {
        assertThat(json(r).path("detail").asText()).as("seed %d, request %d", seed, i).isNotBlank();
      }
    }
    assertThat(get("/health").statusCode()).isEqualTo(200);
    awaitCount("anchor", 1);
    long fuzz = json(get("/v1/views/revenue/keys/fuzz")).path("values").path("n").asLong();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (fuzz != accepted && System.nanoTime() < deadline) {
      Thread.sleep(5);
      fuzz = json(get("/v1/views/revenue/keys/fuzz")).path("values").path("n").asLong();
    }
    assertThat(fuzz).as("seed %d: every accepted fuzz event is counted", seed).isEqualTo(accepted);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /**
   * A body that ends before its Content-Length (the client closed its side) or a malformed chunk is
   * a 400 that says so, and nothing of it is used; it was a 500 "Early EOF" with a stack trace at
   * ERROR in the server log, on every route that reads a body.
   */
  @Test
  void shouldRefuseABodyThatEndsBeforeItsLength() throws Exception {
    start();
    long before = json(get("/v1/status")).findValues("end").toString().hashCode();
    for (String route : List.of("/v1/streams/sales/events", "/v1/views/revenue/keys:batchGet")) {
      String answer = halfSent("POST " + route + " HTTP/1.1\r\nHost: x\r\nContent-Type: "
          + (route.endsWith("events") ? "application/x-ndjson" : "application/json")
          + "\r\nContent-Length: 1000\r\n\r\n{\"product\": \"tea\"");
      assertThat(answer).as(route).startsWith("HTTP/1.1 400").contains("application/problem+json")
          .contains("/problems/body-cut-off").contains("the request body ended after 17 bytes of the 1000 its "
              + "Content-Length declares").contains("nothing of it was used");
    }
    String chunked = halfSent("POST /v1/streams/sales/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
        + "application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n");
    assertThat(chunked).startsWith("HTTP/1.1 400").contains("a chunk of a chunked body is malformed");
    assertThat(json(get("/v1/status")).findValues("end").toString().hashCode()).as("nothing appended")
        .isEqualTo(before);
  }

  /** {@code request} written on a socket whose sending side is then closed; the answer as read. */
  private String halfSent(String request) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(30_000);
      socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
      socket.shutdownOutput();
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /**
   * A view grouped by a long: a path key is read as the number it names ({@code 070} is the group
   * {@code 70}, answered with its key as the view writes it), and text no group can have is a 400
   * {@code bad-key} (it was read as text and answered {@code found: false}).
   */
  @Test
  void shouldReadALongKeyAsItsNumberAndAnswerTextWith400() throws Exception {
    server = BraidServer.start(PipelineSpec.parse("""
        streams:
          s: {key: store, time: ingest, fields: {store: long}}
        views:
          by_store: {from: s, group_by: store, aggregate: {n: count}}
          per_day: {from: s, group_by: store, window: {tumbling: 1d}, aggregate: {n: count}}
        """, "long.yaml"), dir, BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
    assertThat(post("/v1/streams/s/events", "application/x-ndjson", "{\"store\": 70}\n").statusCode()).isEqualTo(200);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    JsonNode r = json(get("/v1/views/by_store/keys/070"));
    while (!r.path("found").asBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
      r = json(get("/v1/views/by_store/keys/070"));
    }
    assertThat(r.path("key").asText()).isEqualTo("70");
    assertThat(r.path("values").path("n").asLong()).isEqualTo(1);
    HttpResponse<String> bad = get("/v1/views/by_store/keys/u70");
    assertProblem(bad, 400, "key of view 'by_store': 'u70' is not a whole number, and no group of the view can have "
        + "it (its group_by, store, is a long field); nothing was read");
    assertThat(json(bad).path("type").asText()).isEqualTo("/problems/bad-key");
    HttpResponse<String> batch = post("/v1/views/by_store/keys:batchGet", "application/json",
        "{\"keys\": [\"+70\", \"7.5\"]}");
    assertProblem(batch, 400, "keys[1]: key of view 'by_store': '7.5' is not a whole number");
    JsonNode both = json(post("/v1/views/by_store/keys:batchGet", "application/json", "{\"keys\": [\"+70\", 70]}"));
    assertThat(both.path("results").get(0).path("values").path("n").asLong()).isEqualTo(1);
    assertThat(both.path("results").get(1).path("values").path("n").asLong()).isEqualTo(1);
    // the changes of one key take it as a read does
    HttpResponse<String> changes = get("/v1/views/per_day/changes?key=x70");
    assertProblem(changes, 400, "key of view 'per_day': 'x70' is not a whole number");
    assertThat(json(changes).path("type").asText()).isEqualTo("/problems/bad-key");
  }
}
