package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fast point-read path answers exactly as Javalin's route, and leaves everything else to it. */
class PointReadHandlerTest {

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

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void shouldAnswerAPointReadAsJavalinsRouteDoes() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(BraidServerTest.SPEC, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/streams/sales/events"))
        .header("Content-Type", "application/x-ndjson").POST(HttpRequest.BodyPublishers.ofString(
            "{\"product\":\"apple\",\"store\":\"s1\",\"amount\":2.5,\"units\":1,\"ts\":\"2026-11-22T10:00:00Z\"}\n"
                + "{\"product\":\"apple\",\"store\":\"s2\",\"amount\":1.25,\"units\":3,\"ts\":\"2026-11-22T11:00:00Z\"}\n"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!get("/v1/views/revenue/keys/apple").body().contains("\"n\":2") && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }

    HttpResponse<String> fast = get("/v1/views/revenue/keys/apple");
    HttpResponse<String> viaJavalin = get("/v1/views/revenue/keys/%61pple"); // percent-encoded: Javalin decodes it
    assertThat(fast.statusCode()).isEqualTo(200);
    assertThat(fast.body()).contains("\"key\":\"apple\"", "\"n\":2", "\"revenue\":3.75", "\"units\":4");
    assertThat(viaJavalin.statusCode()).isEqualTo(200);
    assertThat(fast.body()).isEqualTo(viaJavalin.body());
    assertThat(fast.headers().firstValue("Content-Type")).isEqualTo(viaJavalin.headers().firstValue("Content-Type"));

    HttpResponse<String> missing = get("/v1/views/revenue/keys/plum");
    assertThat(missing.statusCode()).isEqualTo(200);
    assertThat(missing.body()).contains("\"found\":false");
    assertThat(get("/v1/views/nope/keys/apple").statusCode()).isEqualTo(404);
    assertThat(get("/v1/views/nope/keys/apple").headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/problem+json");
  }
}
