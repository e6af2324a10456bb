package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
    List<String> acknowledged = new ArrayList<>();
    try (ChildServer child = ChildServer.start(spec, data, stderr)) {
      Process server = child.process;
      HttpClient http = child.http;
      String url = child.url;
      child.awaitReady();

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
