package dev.braid.server.cli;

import static dev.braid.server.cli.CliClientTest.braid;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code braid status} on an event-time stream and view, against a real server on a loopback port:
 * the stream's watermark with each partition's (idle ones marked), the view's late events and which
 * windows are final; {@code --json} keeps the server's document.
 */
class StatusCliTest {

  static final String SPEC = """
      streams:
        clicks:
          partitions: 2
          key: user
          time: ts
          max_out_of_order: 5s
          idle_after: 1s
          fields: {user: string, ts: timestamp}
      views:
        per_minute:
          from: clicks
          group_by: user
          window: {tumbling: 1m}
          allowed_lateness: 10s
          aggregate: {n: count}
      """;

  static final long T = Instant.parse("2026-11-30T10:00:00Z").toEpochMilli();

  @TempDir
  Path dir;

  void ingest(String url, long... times) throws Exception {
    StringBuilder lines = new StringBuilder();
    for (long t : times) {
      lines.append("{\"user\": \"ann\", \"ts\": ").append(t).append("}\n");
    }
    Path f = Files.createTempFile(dir, "clicks", ".ndjson");
    Files.writeString(f, lines);
    CliClientTest.Run r = braid("ingest", "clicks", f.toString(), url, "--no-progress");
    assertThat(r.exit()).as(r.out() + r.err()).isZero();
  }

  /**
   * Events a view leaves out are counted once each, in the text and the JSON, however many batch
   * cycles and restarts they go through: one whose filter fails (a division by zero) and one without
   * a value for {@code group_by}, before and after a batch cycle and a restart.
   */
  @Test
  void shouldCountEachEventAViewLeavesOutOnceThroughBatchCyclesAndRestarts() throws Exception {
    String spec = """
        streams:
          sales:
            partitions: 2
            key: id
            fields: {id: string, store: string, units: long}
        views:
          by_store:
            from: sales
            filter: "6 / units > 1"
            group_by: store
            aggregate: {n: count}
        """;
    Path data = dir.resolve("data");
    Path f = dir.resolve("sales.ndjson");
    Files.writeString(f, """
        {"id": "a", "store": "s1", "units": 2}
        {"id": "b", "store": "s1", "units": 0}
        {"id": "c", "units": 1}
        {"id": "d", "store": "s2", "units": 3}
        """);
    for (int round = 0; round < 2; round++) {
      try (BraidServer server = BraidServer.start(PipelineSpec.parse(spec, "t.yaml"), data,
          BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
        String url = "--url=" + server.url();
        if (round == 0) {
          assertThat(braid("ingest", "sales", f.toString(), url, "--no-progress").exit()).isZero();
          assertThat(braid("batch", "by_store", url).exit()).isZero();
          assertThat(braid("batch", "by_store", url).exit()).isZero();
          assertThat(braid("ingest", "sales", f.toString(), url, "--no-progress").exit()).isZero();
        }
        CliClientTest.Run status = braid("status", url);
        assertThat(status.exit()).as(status.err()).isZero();
        assertThat(status.out()).as("round %d: the batch column", round).containsPattern("by_store .* last ended "
            + "\\d+ s ago");
        assertThat(status.out()).as("round %d", round).contains("view by_store: left out 4 events of the log up to "
            + "its position: 2 on which an expression or an aggregation failed (the server's log shows the first "
            + "ones), 2 without a value for group_by");
        JsonNode json = new ObjectMapper().readTree(braid("status", url, "--json").out());
        JsonNode v = json.path("views").get(0);
        assertThat(v.path("skippedEvents").asLong()).isEqualTo(2);
        assertThat(v.path("eventsWithoutKey").asLong()).isEqualTo(2);
        String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create(server.url() + "/metrics")).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("braid_view_skipped_events{view=\"by_store\"} 2.0",
            "braid_view_events_without_key{view=\"by_store\"} 2.0");
      }
    }
  }

  /** A kappa view has no Base, so none of its windows is ever final: status says so, not "yet". */
  @Test
  void shouldSayAKappaViewsWindowsAreAllProvisional() throws Exception {
    String spec = SPEC + """
          kappa_minute:
            from: clicks
            mode: kappa
            group_by: user
            window: {tumbling: 1m}
            allowed_lateness: 10s
            aggregate: {n: count}
        """;
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(spec, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      String url = "--url=" + server.url();
      ingest(url, T + 10_000, T + 300_000);
      CliClientTest.Run status = braid("status", url);
      assertThat(status.exit()).as(status.err()).isZero();
      assertThat(status.out()).contains("view kappa_minute: allowed lateness 10s; 0 late events; every window is "
          + "provisional (a kappa view has no batch layer to make one final)")
          .contains("view per_minute: allowed lateness 10s; 0 late events; no window is final yet (all provisional)");
    }
  }

  @Test
  void shouldShowWatermarksLateEventsAndFinalWindowsAsTextAndKeepTheJson() throws Exception {
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      String url = "--url=" + server.url();
      ingest(url, T + 10_000);
      Thread.sleep(1_200); // the other partition, which never has an event, is idle by idle_after
      ingest(url, T + 300_000, T + 20_000); // the second is late: its minute closed 10 s after 00:01
      assertThat(braid("batch", "per_minute", url).exit()).isZero();

      CliClientTest.Run status = braid("status", url);
      assertThat(status.exit()).as(status.err()).isZero();
      int ann = dev.braid.log.Partitioner.partition("ann".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0, 3, 2);
      String annAt = Instant.ofEpochMilli(T + 300_000 - 5_000).toString();
      assertThat(status.out()).contains("stream clicks: watermark " + annAt + "; partitions ")
          .contains(ann + " " + annAt)
          .contains((1 - ann) + " none yet (idle)")
          .contains("view per_minute: allowed lateness 10s; 1 late event (in the stream's late log; a batch cycle "
              + "counts those before its cut); windows ending at or before " + Instant.ofEpochMilli(T + 300_000 - 5_000 - 10_000)
              + " are final, later ones provisional");

      JsonNode json = new ObjectMapper().readTree(braid("status", url, "--json").out());
      JsonNode view = json.path("views").get(0);
      assertThat(view.path("lateness").path("lateEvents").asLong()).isEqualTo(1);
      assertThat(view.path("lateness").path("finalUntil").asText())
          .isEqualTo(Instant.ofEpochMilli(T + 285_000).toString());
      assertThat(view.path("delta").path("groups").asLong()).as("the batch cycle's Delta starts at the log's end")
          .isZero();
      assertThat(view.path("delta").path("runs").asInt()).isZero();
      assertThat(json.path("streams").get(0).path("watermark").path("partitions")).hasSize(2);
      assertThat(json.path("streams").get(0).path("watermark").path("held").isBoolean()).isTrue();
    }
  }

  @Test
  void shouldSummarizeTheWatermarksOfManyPartitions() {
    ObjectNode w = new ObjectMapper().createObjectNode();
    w.put("at", "2026-11-30T10:00:00Z");
    ArrayNode parts = w.putArray("partitions");
    for (int p = 0; p < 12; p++) {
      ObjectNode o = parts.addObject();
      o.put("partition", p);
      boolean idle = p == 0 || (p >= 4 && p <= 6) || p == 9;
      o.put("at", Instant.parse("2026-11-30T10:00:00Z").plusMillis(p == 3 ? 500 : p == 7 ? 60_000 : 1_000)
          .toString());
      o.put("idle", idle);
    }
    assertThat(StatusCommand.watermark(w)).isEqualTo("watermark 2026-11-30T10:00:00Z; slowest active partition 3 "
        + "2026-11-30T10:00:00.500Z, fastest 7 2026-11-30T10:01:00Z; idle partitions 0, 4-6, 9");
    w.put("held", true);
    assertThat(StatusCommand.watermark(w)).startsWith("watermark 2026-11-30T10:00:00Z (held: it never goes back, and "
        + "the partitions that are not idle are behind it); slowest active partition 3 ");
    assertThat(StatusCommand.ranges(List.of(1, 2, 3))).isEqualTo("1-3");
  }

  /**
   * A view taken out of the spec is listed as retired by {@code braid status}, and {@code braid drop}
   * removes it; dropping a view of the spec or an unknown name fails with the server's reason.
   */
  @Test
  void shouldListARetiredViewAndDropIt() throws Exception {
    String withViews = SPEC + """
          by_user:
            from: clicks
            group_by: user
            aggregate: {n: count}
        """;
    Path data = dir.resolve("data");
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(withViews, "t.yaml"), data,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      String url = "--url=" + server.url();
      ingest(url, T);
      assertThat(braid("batch", "by_user", url).exit()).isZero();
    }
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), data,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      String url = "--url=" + server.url();
      CliClientTest.Run status = braid("status", url);
      assertThat(status.out()).contains("view by_user is retired: the spec no longer defines it; its 2 version(s) of "
          + "stream clicks are kept (put it back in the spec to serve them, or drop them: braid drop by_user)");
      JsonNode retired = new ObjectMapper().readTree(braid("status", url, "--json").out()).path("retiredViews");
      assertThat(retired.toString()).isEqualTo(
          "[{\"name\":\"by_user\",\"stream\":\"clicks\",\"mode\":\"lambda\",\"versions\":2}]");

      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      java.net.http.HttpResponse<String> described = http.send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(server.url() + "/v1/views/per_minute")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(described.statusCode()).isEqualTo(200);
      JsonNode d = new ObjectMapper().readTree(described.body());
      assertThat(d.path("definition").path("from").asText()).isEqualTo("clicks");
      assertThat(d.path("definition").path("window").toString()).contains("1m");
      assertThat(d.path("currentVersion").asLong()).isPositive();
      java.net.http.HttpResponse<String> retiredRead = http.send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(server.url() + "/v1/views/by_user")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(retiredRead.statusCode()).isEqualTo(404);
      assertThat(retiredRead.body()).contains("'by_user' is a retired view");
      assertThat(braid("drop", "", url).err()).contains("VIEW must not be empty");

      CliClientTest.Run live = braid("drop", "per_minute", url);
      assertThat(live.exit()).isNotZero();
      assertThat(live.err()).contains("view 'per_minute' is defined in the spec");
      CliClientTest.Run unknown = braid("drop", "by_usr", url);
      assertThat(unknown.exit()).isNotZero();
      assertThat(unknown.err()).contains("unknown retired view 'by_usr'; retired views are: by_user");

      // the catalog cannot be written (its temporary file's name taken by a directory): nothing is dropped
      Path blocker = data.resolve("catalog.json.tmp");
      Files.createDirectories(blocker);
      CliClientTest.Run failed = braid("drop", "by_user", url);
      assertThat(failed.exit()).isNotZero();
      assertThat(failed.err()).contains("view 'by_user' was not dropped (it stays retired): cannot write the "
          + "version catalog");
      assertThat(braid("status", url).out()).contains("view by_user is retired");
      Files.deleteIfExists(blocker); // the failed write removed it already

      CliClientTest.Run drop = braid("drop", "by_user", url);
      assertThat(drop.exit()).as(drop.err()).isZero();
      assertThat(drop.out()).contains("view by_user dropped: 2 version(s) and its files deleted, with its changes feed if it had one");
      assertThat(data.resolve("views").resolve("by_user")).doesNotExist();
      assertThat(braid("status", url).out()).doesNotContain("retired");
      assertThat(braid("drop", "by_user", url, "--json").exit()).isNotZero();
    }
  }

  /**
   * A table taken out of the spec is listed as retired by {@code braid status} and named so by a read;
   * {@code braid drop NAME --table} removes it, and its name then takes other fields.
   */
  @Test
  void shouldListARetiredTableAndDropIt() throws Exception {
    String withTable = SPEC + """
        tables:
          profiles:
            key: id
            fields: {id: string, tier: string}
        """;
    Path data = dir.resolve("data");
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(withTable, "t.yaml"), data,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      server.braid().table("profiles").put("a", java.util.Map.of("tier", "gold"), null);
    }
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), data,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      String url = "--url=" + server.url();
      assertThat(braid("status", url).out()).contains("table profiles is retired: the spec no longer defines it; its "
          + "versions and writes are kept (put it back in the spec to serve them, or drop them: braid drop profiles "
          + "--table)");
      assertThat(new ObjectMapper().readTree(braid("status", url, "--json").out()).path("retiredTables").toString())
          .isEqualTo("[\"profiles\"]");
      CliClientTest.Run row = braid("row", "profiles", "a", url);
      assertThat(row.exit()).isNotZero();
      assertThat(row.err()).contains("'profiles' is a retired table");
      assertThat(braid("drop", "profiles", url).err()).as("not a view")
          .contains("unknown retired view 'profiles'; retired views are: (none) ('profiles' is a retired table: drop "
              + "it with braid drop profiles --table)");
      CliClientTest.Run drop = braid("drop", "profiles", "--table", url);
      assertThat(drop.exit()).as(drop.err()).isZero();
      assertThat(drop.out()).contains("table profiles dropped: 1 version(s), its pushed rows and its log of writes "
          + "deleted");
      assertThat(braid("status", url).out()).doesNotContain("retired");
      assertThat(braid("drop", "profiles", "--table", url).err())
          .contains("unknown retired table 'profiles'; retired tables are: (none)");
    }
    String otherFields = SPEC + """
        tables:
          profiles:
            key: id
            fields: {id: string, score: long}
        """;
    try (BraidServer server = BraidServer.start(PipelineSpec.parse(otherFields, "t.yaml"), data,
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS)) {
      assertThat(server.braid().table("profiles").get("a").found()).isFalse();
    }
  }
}
