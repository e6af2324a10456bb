package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.agg.Aggregation;
import dev.braid.agg.Aggregations;
import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The record of a batch cycle asked for over HTTP (the versions' {@code batch} field, which a client
 * that got {@code 202} follows) outlives requests refused meanwhile: a refused repair, or a batch
 * cycle with a malformed {@code wait}, replaced it, so the client never learned how the cycle ended.
 */
class CycleRecordTest {

  /** Released to let the batch layer's threads go on; the speed layer never waits. */
  static volatile CountDownLatch hold = new CountDownLatch(0);
  static final CountDownLatch held = new CountDownLatch(1);

  /** The built-in {@code sum}, whose folds on the batch layer's threads wait for {@link #hold}. */
  static Aggregation heldSum(dev.braid.event.FieldType type, java.util.List<String> parameters) {
    Aggregation sum = Aggregations.factory("sum").create(type, parameters);
    return (Aggregation) java.lang.reflect.Proxy.newProxyInstance(Aggregation.class.getClassLoader(),
        new Class<?>[] {Aggregation.class}, (proxy, method, args) -> {
          if (method.getName().equals("add") && Thread.currentThread().getName().startsWith("braid-batch-")) {
            held.countDown();
            hold.await(60, TimeUnit.SECONDS);
          }
          try {
            return method.invoke(sum, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void shouldKeepTheRecordOfARunningCycleThroughRefusedRequests(@TempDir Path dir) throws Exception {
    Aggregations.register("test_held_sum", CycleRecordTest::heldSum);
    PipelineSpec spec = PipelineSpec.parse("""
        streams:
          s: {partitions: 1, key: k, fields: {k: string, n: long}}
        views:
          totals: {from: s, group_by: k, aggregate: {n: test_held_sum(n)}}
        """, "test.yaml");
    HttpClient http = HttpClient.newHttpClient();
    try (BraidServer server = BraidServer.start(spec, dir, BraidServer.Config.defaults().withPort(0))
        .awaitReady(30, TimeUnit.SECONDS)) {
      String url = server.url();
      assertThat(send(http, url, "/v1/streams/s/events", "{\"k\": \"a\", \"n\": 2}").statusCode()).isEqualTo(200);
      hold = new CountDownLatch(1);
      try {
        assertThat(send(http, url, "/v1/views/totals/batch?wait=0", "").statusCode()).isEqualTo(202);
        assertThat(held.await(30, TimeUnit.SECONDS)).as("the cycle folds").isTrue();

        assertThat(send(http, url, "/v1/views/totals/repair", "").statusCode()).isEqualTo(409);
        HttpResponse<String> badWait = send(http, url, "/v1/views/totals/repair?wait=x", "");
        assertThat(badWait.statusCode()).as("a malformed request is a 400 first: %s", badWait.body()).isEqualTo(400);
        assertThat(batch(http, url).path("state").asText()).as("still the running cycle's record").isEqualTo("running");
      } finally {
        hold.countDown();
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      JsonNode b;
      while (!(b = batch(http, url)).path("state").asText().equals("done")) {
        assertThat(System.nanoTime()).as("the cycle's record says it is done: %s", b).isLessThan(deadline);
        Thread.sleep(10);
      }
      assertThat(b.path("what").asText()).isEqualTo("batch cycle");
      assertThat(b.path("built").asLong()).isEqualTo(2);
    }
  }

  private static JsonNode batch(HttpClient http, String url) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/views/totals/versions")).build(),
        HttpResponse.BodyHandlers.ofString());
    return new ObjectMapper().readTree(r.body()).path("batch");
  }

  private static HttpResponse<String> send(HttpClient http, String url, String path, String ndjson) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url + path)).header("Content-Type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofString(ndjson)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
