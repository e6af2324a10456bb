package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code braid server} in a child JVM, stopped with SIGTERM while clients ingest into an
 * {@code fsync} stream: it exits by itself, says so, releases the data directory, and every event
 * it acknowledged is there after a restart.
 */
class ServerShutdownTest {

  static final String SPEC = """
      streams:
        events:
          partitions: 2
          key: id
          time: ts
          durability: fsync
          fields: {id: string, ts: timestamp}
      views:
        by_id:
          from: events
          group_by: id
          aggregate: {n: count}
      """;

  @TempDir
  Path dir;

  @Test
  void shouldStopCleanlyOnSigtermKeepingEveryAcknowledgedEvent() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("server.err");
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Xmx256m",
        "-Dlogback.configurationFile=logback.xml", // the server's own logging (INFO), not the tests' (WARN)
        BraidCli.class.getName(), "server",
        "--spec", spec.toString(), "--data", data.toString(), "--port", "0"));
    Process server = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    List<String> acknowledged = new ArrayList<>();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
      String first = out.readLine();
      Matcher m = Pattern.compile("listening on (http://\\S+)").matcher(first == null ? "" : first);
      assertThat(m.find()).as("first line %s; stderr %s", first, Files.readString(stderr)).isTrue();
      String url = m.group(1);
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      awaitReady(http, url);

      // Three clients send batches of 200 events with unique ids until the server goes away.
      AtomicBoolean stop = new AtomicBoolean();
      ConcurrentLinkedQueue<String> acked = new ConcurrentLinkedQueue<>();
      List<CompletableFuture<Void>> clients = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        int client = c;
        clients.add(CompletableFuture.runAsync(() -> ingestUntilRefused(http, url, client, stop, acked)));
      }
      while (acked.size() < 2_000) {
        Thread.sleep(10);
      }
      server.destroy(); // SIGTERM
      boolean exited = server.waitFor(60, TimeUnit.SECONDS);
      stop.set(true);
      CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      String log = Files.readString(stderr);
      assertThat(exited).as("the server exits by itself on SIGTERM; stderr: %s", log).isTrue();
      assertThat(log).contains("Braid stopped");
      acknowledged.addAll(acked);
    } finally {
      server.destroyForcibly();
    }

    // The data directory is free again, and every acknowledged event is in the log and the view.
    try (Braid braid = Braid.open(data, PipelineSpec.load(spec))) {
      for (String id : acknowledged) {
        assertThat(braid.get("by_id", id).values().get("n")).as("acknowledged event %s", id).isEqualTo(1L);
      }
      long inLog = braid.status().streams().get(0).events();
      assertThat(inLog).isGreaterThanOrEqualTo(acknowledged.size());
    }
  }

  private static void awaitReady(HttpClient http, String url) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 200) {
        return;
      }
      assertThat(System.nanoTime()).as("server ready; last answer %s", r.body()).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static void ingestUntilRefused(HttpClient http, String url, int client, AtomicBoolean stop,
      ConcurrentLinkedQueue<String> acked) {
    for (int batch = 0; !stop.get(); batch++) {
      List<String> ids = new ArrayList<>();
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 200; i++) {
        String id = "c" + client + "-" + batch + "-" + i;
        ids.add(id);
        body.append("{\"id\":\"").append(id).append("\",\"ts\":1700000000000}\n");
      }
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/streams/events/events"))
            .header("Content-Type", "application/x-ndjson").timeout(Duration.ofSeconds(30))
            .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
          return; // shutting down: 503, or the connection is gone
        }
        assertThat(r.body()).contains("\"accepted\":200");
        acked.addAll(ids);
      } catch (IOException e) {
        return; // the server has stopped listening
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
