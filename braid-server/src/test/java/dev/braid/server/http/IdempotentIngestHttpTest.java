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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code POST /v1/streams/{s}/events} with an {@code Idempotency-Key} header, and a stream with an id field. */
class IdempotentIngestHttpTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 2
          key: product
          time: ts
          fields: {product: string, amount: double, ts: timestamp}
        payments:
          partitions: 2
          key: user
          time: ts
          id: txn_id
          dedup_window: 1h
          fields: {user: string, txn_id: string, ts: timestamp}
      views:
        revenue:
          from: sales
          group_by: product
          aggregate: {n: count}
      """;

  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  Path dir;

  BraidServer server;

  @BeforeEach
  void start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir, BraidServer.Config.defaults().withPort(0))
        .awaitReady(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  HttpResponse<String> post(String stream, String key, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/" + stream + "/events"))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Idempotency-Key", key);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static final String SALES = """
      {"product":"kiwi","amount":1.0,"ts":1700000000000}
      {"product":"fig","amount":2.0,"ts":1700000000000}
      {"product":"kiwi","amount":-1.0,"ts":"not a time"}
      {"product":"kiwi","amount":3.0,"ts":1700000000000}
      """;

  @Test
  void shouldAcknowledgeARetriedRequestWithItsOriginalPositionsAndReportTheDuplicates() throws Exception {
    HttpResponse<String> first = post("sales", "order-42", SALES);
    HttpResponse<String> retry = post("sales", "order-42", SALES);
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    JsonNode a = JSON.readTree(first.body());
    JsonNode b = JSON.readTree(retry.body());
    assertThat(a.path("accepted").asInt()).isEqualTo(3);
    assertThat(a.path("duplicates").asInt()).isZero();
    assertThat(b.path("accepted").asInt()).isEqualTo(3);
    assertThat(b.path("duplicates").asInt()).isEqualTo(3);
    assertThat(b.path("rejected").asInt()).isEqualTo(1);
    assertThat(b.path("positions")).isEqualTo(a.path("positions"));

    JsonNode status = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/status")).build(),
        HttpResponse.BodyHandlers.ofString()).body());
    // three events and the key's own entry (which knows the request's size)
    assertThat(status.path("streams").findValues("dedupEntries")).extracting(JsonNode::asLong).contains(4L);
    assertThat(server.braid().log().stream("sales").end().offset(0) + server.braid().log().stream("sales").end()
        .offset(1)).as("events in the log").isEqualTo(3);
  }

  long salesInLog() {
    return server.braid().log().stream("sales").end().offset(0) + server.braid().log().stream("sales").end().offset(1);
  }

  /**
   * A key reused for other events is refused whole (422 naming the key and the event that differs):
   * its events are neither answered as duplicates of the first request's (dropped) nor appended; a
   * true retry of the first request is still acknowledged as before.
   */
  @Test
  void shouldRefuseAKeyReusedForOtherEventsAndAppendNothingOfThem() throws Exception {
    assertThat(post("sales", "order-7", SALES).statusCode()).isEqualTo(200);
    String other = SALES.replace("\"fig\",\"amount\":2.0", "\"fig\",\"amount\":999.0");
    HttpResponse<String> reused = post("sales", "order-7", other);
    assertThat(reused.statusCode()).as(reused.body()).isEqualTo(422);
    assertThat(reused.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
    JsonNode p = JSON.readTree(reused.body());
    assertThat(p.path("type").asText()).isEqualTo("/problems/idempotency-key-reused");
    assertThat(p.path("detail").asText()).contains("Idempotency-Key 'order-7'", "stream 'sales'", "event 1 differs",
        "nothing of this request was ingested");
    assertThat(salesInLog()).as("events in the log").isEqualTo(3);

    // more events than the first request: the first three match, the fourth is new; still refused
    String longer = SALES + "{\"product\":\"plum\",\"amount\":4.0,\"ts\":1700000000000}\n";
    HttpResponse<String> extended = post("sales", "order-7", longer.replace("\"kiwi\",\"amount\":3.0",
        "\"kiwi\",\"amount\":3.5"));
    assertThat(extended.statusCode()).as(extended.body()).isEqualTo(422);
    assertThat(salesInLog()).isEqualTo(3);

    HttpResponse<String> retry = post("sales", "order-7", SALES);
    assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
    assertThat(JSON.readTree(retry.body()).path("duplicates").asInt()).isEqualTo(3);
    HttpResponse<String> fresh = post("sales", "order-8", other);
    assertThat(JSON.readTree(fresh.body()).path("duplicates").asInt()).isZero();
    assertThat(salesInLog()).isEqualTo(6);
  }

  @Test
  void shouldNotAppendAPaymentReSentWithTheSameIdField() throws Exception {
    String one = "{\"user\":\"ann\",\"txn_id\":\"t-1\",\"ts\":1700000000000}\n";
    String two = "{\"user\":\"bob\",\"txn_id\":\"t-2\",\"ts\":1700000000000}\n";
    JsonNode a = JSON.readTree(post("payments", null, one + two).body());
    JsonNode b = JSON.readTree(post("payments", null, two).body());
    assertThat(a.path("duplicates").asInt()).isZero();
    assertThat(b.path("duplicates").asInt()).isEqualTo(1);
    JsonNode missing = JSON.readTree(post("payments", null, "{\"user\":\"cid\",\"ts\":1700000000000}\n").body());
    assertThat(missing.path("rejections").get(0).path("reason").asText())
        .isEqualTo("event id field 'txn_id' is missing or null");
  }

  @Test
  void shouldRefuseAnIdempotencyKeyThatIsTooLongNamingTheHeader() throws Exception {
    HttpResponse<String> r = post("sales", "k".repeat(300), SALES);
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
    JsonNode p = JSON.readTree(r.body());
    assertThat(p.path("type").asText()).isEqualTo("/problems/bad-idempotency-key");
    assertThat(p.path("detail").asText()).isEqualTo("header Idempotency-Key is 300 characters long; at most 256 (use 1 "
        + "to 256 printable ASCII characters); nothing was ingested");
    assertThat(server.braid().log().stream("sales").end().offset(0)).isZero();
  }

  /** Two different keys in one request are a 400 naming both (the first won, silently); the same one twice is one. */
  @Test
  void shouldRefuseTwoDifferentIdempotencyKeysInOneRequest() throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/sales/events"))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofString(SALES));
    HttpResponse<String> r = http.send(b.copy().header("Idempotency-Key", "a").header("Idempotency-Key", "b").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    JsonNode p = JSON.readTree(r.body());
    assertThat(p.path("type").asText()).isEqualTo("/problems/conflicting-idempotency-key");
    assertThat(p.path("detail").asText()).isEqualTo("Idempotency-Key is given twice, as 'a' and 'b': send it once; "
        + "nothing was ingested");
    assertThat(server.braid().log().stream("sales").end().offset(0)).isZero();
    HttpResponse<String> same = http.send(b.copy().header("Idempotency-Key", "a").header("Idempotency-Key", "a")
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(JSON.readTree(same.body()).path("accepted").asInt()).as(same.body()).isEqualTo(3);
  }
}
