package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The changes feed's saved emitted windows across a real crash. A server stopped cleanly saves what
 * its feed emitted; the next one emits more and is killed with SIGKILL before it saves again; the
 * third loads the older file (its log line says so), reads the changes after it from the log, and
 * emits every window the watermark closed exactly once over the three lives, and nothing more.
 */
class ChangesRestartKillTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final long T = 1_780_000_020_000L - 1_780_000_020_000L % 60_000; // a minute boundary
  static final long MIN = 60_000;
  static final int KEYS = 40;

  @TempDir
  Path dir;

  @Test
  void shouldEmitEveryClosedWindowOnceAcrossACleanStopAndAKill() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, """
        streams:
          s:
            partitions: 2
            key: k
            time: ts
            fields: {k: string, ts: timestamp, x: long}
        views:
          per_minute:
            from: s
            group_by: k
            window: {tumbling: 1m}
            aggregate: {n: count}
        """);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("stderr.txt");
    Path saved = data.resolve("views").resolve("per_minute").resolve("changes.emitted");

    // life 1: minutes 0-9 of every key, then an event at minute 12 of every key closes them; SIGTERM
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      ingestMinutes(server, 0, 10);
      ingestMinutes(server, 12, 13);
      awaitChanges(server, KEYS * 10);
      server.process.destroy();
      assertThat(server.process.waitFor(60, TimeUnit.SECONDS)).as("stopped").isTrue();
    }
    assertThat(saved).as("saved at the clean stop").exists();
    byte[] first = Files.readAllBytes(saved);

    // life 2: minutes 13-20, closed by minute 23 (minute 12 closes too); SIGKILL before any save
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      ingestMinutes(server, 13, 21);
      ingestMinutes(server, 23, 24);
      awaitChanges(server, KEYS * 19);
      server.kill();
    }
    assertThat(Files.readAllBytes(saved)).as("the file of the clean stop, not saved since").isEqualTo(first);

    // life 3: loads that file, reads the changes of life 2 after it; minute 25 closes minute 23, so
    // once those 40 closes are out a pass has run since the start and found the rest as emitted
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      ingestMinutes(server, 25, 26);
      awaitChanges(server, KEYS * 20);
      List<JsonNode> all = changes(server);
      Set<String> windows = new HashSet<>();
      for (JsonNode e : all) {
        assertThat(e.path("kind").asText()).as("only closes: %s", e).isEqualTo("close");
        String w = e.path("key").asText() + "@" + (e.path("start").asLong() - T) / MIN;
        assertThat(windows.add(w)).as("window %s emitted once", w).isTrue();
      }
      Set<String> expected = new HashSet<>();
      for (int k = 0; k < KEYS; k++) {
        for (int m : new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 23}) {
          expected.add("k" + k + "@" + m);
        }
      }
      assertThat(windows).as("every window the watermark closed, and no other").isEqualTo(expected);
    }
    assertThat(Files.readString(stderr)).as("the saved file was used").doesNotContain("not using")
        .contains("changes feed of view 'per_minute': " + KEYS * 10 + " emitted windows loaded from " + saved
            + ", and " + KEYS * 9 + " changes after it");
  }

  /** One event per key in each minute of {@code [from, to)}. */
  private static void ingestMinutes(ChildServer server, int from, int to) throws Exception {
    StringBuilder body = new StringBuilder();
    for (int m = from; m < to; m++) {
      for (int k = 0; k < KEYS; k++) {
        body.append("{\"k\":\"k").append(k).append("\",\"ts\":").append(T + m * MIN + k).append(",\"x\":1}\n");
      }
    }
    HttpResponse<String> r = server.send("POST", "/v1/streams/s/events", "application/x-ndjson", body.toString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  /** Every change event, paged through. */
  private static List<JsonNode> changes(ChildServer server) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    long from = 0;
    while (true) {
      HttpResponse<String> r = server.send("GET", "/v1/views/per_minute/changes?from=" + from + "&limit=1000", null,
          null);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode page = JSON.readTree(r.body());
      page.path("events").forEach(out::add);
      if (page.path("events").isEmpty()) {
        return out;
      }
      from = page.path("next").asLong();
    }
  }

  private static void awaitChanges(ChildServer server, int n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (changes(server).size() < n) {
      assertThat(System.nanoTime()).as("%d changes emitted", n).isLessThan(deadline);
      Thread.sleep(50);
    }
  }
}
