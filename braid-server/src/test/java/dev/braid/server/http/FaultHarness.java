package dev.braid.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A real {@link BraidServer} on a loopback port over one data directory, restartable, for the fault tests. */
final class FaultHarness implements AutoCloseable {

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final String spec;
  private final Path dataDir;
  private BraidServer server;

  FaultHarness(String spec, Path dataDir) {
    this.spec = spec;
    this.dataDir = dataDir;
  }

  FaultHarness start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(spec, "faults.yaml"), dataDir,
        BraidServer.Config.defaults().withPort(0));
    server.awaitReady(30, TimeUnit.SECONDS);
    return this;
  }

  /** The running server's base URL. */
  String url() {
    return server.url();
  }

  FaultHarness restart() throws Exception {
    close();
    return start();
  }

  HttpResponse<String> post(String path, String body) throws Exception {
    return send("POST", path, body);
  }

  HttpResponse<String> get(String path) throws Exception {
    return send("GET", path, null);
  }

  HttpResponse<String> put(String path, String body) throws Exception {
    return send("PUT", path, body);
  }

  /** A full push of {@code jsonLines} into {@code table}, answered once it is current (or failed). */
  HttpResponse<String> push(String table, String jsonLines) throws Exception {
    return send("POST", "/v1/tables/" + table + "/pushes", "application/x-ndjson", jsonLines);
  }

  private HttpResponse<String> send(String method, String path, String body) throws Exception {
    return send(method, path, "application/json", body);
  }

  private HttpResponse<String> send(String method, String path, String contentType, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", contentType);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The merged {@code values} of a key, after the reads caught up with what was acknowledged. */
  JsonNode values(String view, String key) throws Exception {
    HttpResponse<String> r = get("/v1/views/" + view + "/keys/" + key);
    if (r.statusCode() != 200) {
      throw new AssertionError("GET " + view + "/" + key + " answered " + r.statusCode() + ": " + r.body());
    }
    return BraidServerTest.json(r).path("values");
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
      server = null;
    }
  }
}
