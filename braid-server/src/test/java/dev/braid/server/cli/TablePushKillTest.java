package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push killed mid-way ({@code kill -9} of a real {@code braid server} while it loads a streamed
 * push): after a restart the current version serves the same answers as before the push, the push's
 * version is {@code failed} ("interrupted"), and the table directory holds only the kept versions'
 * Base files (the half-written {@code .base.tmp} is gone).
 */
class TablePushKillTest {

  static final String SPEC = """
      tables:
        users:
          partitions: 2
          key: id
          fields: {id: string, tier: string, score: long}
      """;

  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void shouldKeepServingTheCurrentVersionAndLeaveNoFilesWhenAPushIsKilled() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("server.err");
    Path tableDir = data.resolve("tables/users");
    String keys = "{\"keys\": [\"u0\", \"u1\", \"u500\", \"u1999\", \"w1\", \"absent\"]}";
    String before;
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      HttpResponse<String> first = server.send("POST", "/v1/tables/users/pushes", "application/x-ndjson",
          rows(2000, "first"));
      assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
      HttpResponse<String> w = server.send("PATCH", "/v1/tables/users/rows/w1", "application/json",
          "{\"set\": {\"tier\": \"written\"}}");
      assertThat(w.statusCode()).as(w.body()).isEqualTo(200);
      before = awaitRows(server, keys, JSON.readTree(w.body()));

      // a push whose body stalls after 100,000 rows: the server is loading it when it is killed
      CountDownLatch stalled = new CountDownLatch(1);
      InputStream body = new InputStream() {
        long row;
        byte[] line = new byte[0];
        int at;

        @Override
        public int read() {
          if (at == line.length) {
            if (row == 100_000) {
              stalled.countDown();
              try {
                Thread.sleep(Long.MAX_VALUE);
              } catch (InterruptedException e) {
                return -1;
              }
            }
            line = ("{\"id\":\"u" + row + "\",\"tier\":\"second\",\"score\":" + row + "}\n")
                .getBytes(StandardCharsets.UTF_8);
            row++;
            at = 0;
          }
          return line[at++];
        }
      };
      Thread pusher = new Thread(() -> {
        try {
          server.http.send(HttpRequest.newBuilder(URI.create(server.url + "/v1/tables/users/pushes"))
              .header("Content-Type", "application/x-ndjson").timeout(Duration.ofMinutes(5))
              .POST(HttpRequest.BodyPublishers.ofInputStream(() -> body)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (Exception expected) {
          // the server is killed under it
        }
      }, "killed-push");
      pusher.setDaemon(true);
      pusher.start();
      assertThat(stalled.await(60, TimeUnit.SECONDS)).isTrue();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (names(tableDir).stream().noneMatch(f -> f.endsWith(".base.tmp")) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(names(tableDir)).as("the push is loading").anyMatch(f -> f.endsWith(".base.tmp"));
      server.kill();
      pusher.interrupt();
    }
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      String after = server.send("POST", "/v1/tables/users/rows:batchGet", "application/json", keys).body();
      assertThat(after).as("same answers from the same version").isEqualTo(before);
      JsonNode versions = JSON.readTree(server.send("GET", "/v1/tables/users/versions", null, null).body());
      List<JsonNode> failed = Stream.of(versions.path("versions")).flatMap(v -> {
        List<JsonNode> l = new java.util.ArrayList<>();
        v.forEach(l::add);
        return l.stream();
      }).filter(v -> v.path("state").asText().equals("failed")).toList();
      assertThat(failed).hasSize(1);
      assertThat(failed.get(0).path("failure").asText()).contains("interrupted");
      JsonNode stored = JSON.readTree(data.resolve("catalog.json").toFile());
      assertThat(stored.toString()).as("the start stores the push as failed, not only in memory: %s", stored)
          .doesNotContain("\"building\"").contains("interrupted by a restart");
      // the pushes' reports outlive the process: the killed one is failed, the first one done
      for (JsonNode v : versions.path("versions")) {
        String definition = v.path("definition").asText();
        if (!definition.startsWith("push ")) {
          continue;
        }
        HttpResponse<String> report = server.send("GET", "/v1/tables/users/pushes/" + definition.substring(5), null, null);
        assertThat(report.statusCode()).as(report.body()).isEqualTo(200);
        JsonNode r = JSON.readTree(report.body());
        if (v.path("state").asText().equals("failed")) {
          assertThat(r.path("state").asText()).isEqualTo("failed");
          assertThat(r.path("failure").asText()).contains("interrupted by a restart");
        } else {
          assertThat(r.path("state").asText()).isEqualTo("done");
          assertThat(r.path("rows").asLong()).isEqualTo(2000);
        }
      }
      List<String> kept = new java.util.ArrayList<>();
      versions.path("versions").forEach(v -> {
        String s = v.path("state").asText();
        if ((s.equals("current") || s.equals("backup")) && v.path("baseKeys").asLong() > 0) {
          kept.add("v" + v.path("id").asLong() + ".base");
        }
      });
      assertThat(names(tableDir).stream().filter(f -> !f.matches("v\\d+\\.ckpt")).toList())
          .as("only kept versions' Bases (and a Delta checkpoint); stderr %s", Files.readString(stderr))
          .containsExactlyInAnyOrderElementsOf(kept);
      assertThat(Files.readString(stderr)).contains("removed orphaned file");
    }
  }

  /**
   * A repush killed during its copy of the current rows: after a restart its version is {@code failed}
   * ("interrupted by a restart ... repush"), not missing with its id skipped, its half-written Base is
   * gone, and the current version serves the same rows. The copy of 600,000 rows takes long enough
   * for the kill to land in it; an attempt whose kill came after the copy (its Base file no longer
   * {@code .tmp}) is repeated.
   */
  @Test
  void shouldRecordARepushKilledDuringItsCopyAsFailed() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("server.err");
    Path tableDir = data.resolve("tables/users");
    String keys = "{\"keys\": [\"u0\", \"u1\", \"u300000\", \"u599999\", \"absent\"]}";
    String before;
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      HttpResponse<String> first = server.send("POST", "/v1/tables/users/pushes", "application/x-ndjson",
          rows(600_000, "first"));
      assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
      before = server.send("POST", "/v1/tables/users/rows:batchGet", "application/json", keys).body();
    }
    for (int attempt = 1; ; attempt++) {
      String killed = null;
      try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
        server.http.sendAsync(HttpRequest.newBuilder(URI.create(server.url + "/v1/tables/users/repush"))
            .timeout(Duration.ofMinutes(2)).POST(HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.discarding());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (killed == null && System.nanoTime() < deadline) {
          killed = names(tableDir).stream().filter(f -> f.endsWith(".base.tmp")).findFirst().orElse(null);
          Thread.onSpinWait();
        }
        assertThat(killed).as("the repush's Base file appears").isNotNull();
        server.kill();
      }
      if (!names(tableDir).contains(killed)) { // the kill came after the copy had finished its Base
        assertThat(attempt).as("attempts whose kill came after the copy").isLessThan(5);
        continue;
      }
      long id = Long.parseLong(killed.substring(1, killed.indexOf('.')));
      try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
        String after = server.send("POST", "/v1/tables/users/rows:batchGet", "application/json", keys).body();
        assertThat(after).as("same rows from the version that served").isEqualTo(before);
        JsonNode version = null;
        for (JsonNode v : JSON.readTree(server.send("GET", "/v1/tables/users/versions", null, null).body())
            .path("versions")) {
          version = v.path("id").asLong() == id ? v : version;
        }
        assertThat(version).as("the killed repush's version %d is listed", id).isNotNull();
        assertThat(version.path("state").asText()).isEqualTo("failed");
        assertThat(version.path("failure").asText())
            .isEqualTo("interrupted by a restart (the process stopped during the repush); repush again");
        assertThat(names(tableDir)).as("its half-written Base is gone").doesNotContain(killed)
            .doesNotContain("v" + id + ".base");
        HttpResponse<String> next = server.send("POST", "/v1/tables/users/repush", null, null);
        assertThat(next.statusCode()).as(next.body()).isEqualTo(200);
        assertThat(JSON.readTree(next.body()).path("version").asLong()).as("the next id").isEqualTo(id + 1);
      }
      return;
    }
  }

  /** Rows {@code u0 .. u<n-1>} of tier {@code tier}, each scoring its number, as JSON lines. */
  static String rows(int n, String tier) {
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < n; i++) {
      rows.append("{\"id\":\"u").append(i).append("\",\"tier\":\"").append(tier).append("\",\"score\":").append(i)
          .append("}\n");
    }
    return rows.toString();
  }

  /** The rows, once the write is applied (so the answer is stable). */
  static String awaitRows(ChildServer server, String keys, JsonNode write) throws Exception {
    for (int i = 0; i < 5000; i++) {
      String body = server.send("POST", "/v1/tables/users/rows:batchGet", "application/json", keys).body();
      JsonNode pos = JSON.readTree(body).path("rows").get(0).path("asOf").path("position");
      if (pos.path(write.path("partition").asInt()).asLong() > write.path("offset").asLong()) {
        return body;
      }
      Thread.sleep(2);
    }
    throw new AssertionError("write " + write + " never applied");
  }

  static List<String> names(Path d) throws Exception {
    if (!Files.isDirectory(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.map(f -> f.getFileName().toString()).sorted().toList();
    }
  }
}
