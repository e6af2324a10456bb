package dev.braid.server.http;

import static dev.braid.server.http.BraidServerTest.assertProblem;
import static dev.braid.server.http.BraidServerTest.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.log.FileLog;
import dev.braid.log.StreamConfig;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged files between two runs of a real server: a view's or a table's Base file or a sealed log
 * segment with a flipped byte. Only the affected views, streams or tables are refused (503 naming
 * the file and what to do), the others serve; {@code repair} rebuilds a damaged view Base from the
 * log so the view answers exactly as before, and a full push replaces a damaged table Base.
 */
class CorruptFileServerTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 2
          key: product
          time: ts
          fields: {product: string, amount: double, ts: timestamp}
        visits:
          partitions: 1
          key: page
          time: ts
          fields: {page: string, ts: timestamp}
      views:
        revenue:
          from: sales
          group_by: product
          aggregate: {n: count, revenue: sum(amount)}
        busiest:
          from: sales
          group_by: product
          aggregate: {biggest: max(amount)}
        hits:
          from: visits
          group_by: page
          aggregate: {n: count}
      tables:
        profiles:
          key: uid
          fields: {uid: string, tier: string}
      """;

  @TempDir
  Path dir;

  private FaultHarness braid;

  @AfterEach
  void stop() {
    if (braid != null) {
      braid.close();
    }
  }

  private void ingest(int n) throws Exception {
    StringBuilder sales = new StringBuilder("[");
    StringBuilder visits = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      sales.append(i == 0 ? "" : ",").append(String.format("{\"product\":\"p%d\",\"amount\":%d.5,\"ts\":%d}", i % 7,
          i, 1_700_000_000_000L + i));
      visits.append(i == 0 ? "" : ",").append(String.format("{\"page\":\"x%d\",\"ts\":%d}", i % 3,
          1_700_000_000_000L + i));
    }
    assertThat(braid.post("/v1/streams/sales/events", sales.append("]").toString()).statusCode()).isEqualTo(200);
    assertThat(braid.post("/v1/streams/visits/events", visits.append("]").toString()).statusCode()).isEqualTo(200);
  }

  /** How many of the first {@code n} events of {@link #ingest} are of product {@code p}. */
  private static long productEvents(int p, int n) {
    return java.util.stream.IntStream.range(0, n).filter(i -> i % 7 == p).count();
  }

  /** The values of {@code key} once its count {@code n} is {@code count} (within 20 s). */
  private JsonNode awaitCount(String view, String key, long count) throws Exception {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
    while (true) {
      JsonNode v = braid.values(view, key);
      if (v.path("n").asLong() == count) {
        return v;
      }
      assertThat(System.nanoTime()).as("%s/%s reaches n = %d (now %s)", view, key, count, v).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  private static void flipByte(Path file, long position) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, position);
      b.put(0, (byte) (b.get(0) ^ 0x5A)).rewind();
      ch.write(b, position);
    }
  }

  private static List<Path> files(Path dir, String suffix) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().endsWith(suffix)).sorted().toList();
    }
  }

  @Test
  void shouldRefuseOnlyTheViewWithACorruptBaseAndServeItExactlyAgainAfterARepair() throws Exception {
    braid = new FaultHarness(SPEC, dir).start();
    ingest(200);
    assertThat(braid.post("/v1/views/revenue/batch", "").statusCode()).isEqualTo(200);
    ingest(50); // some events after the cut: the Delta holds them
    // The ingest answers once the events are in the log; the speed layer applies them a moment later.
    JsonNode before = awaitCount("revenue", "p3", productEvents(3, 200) + productEvents(3, 50));
    JsonNode busiest = braid.values("busiest", "p3");
    braid.close();
    Path base = files(dir.resolve("views").resolve("revenue"), ".base").get(0);
    flipByte(base, Files.size(base) - 3);

    braid.start();

    assertProblem(braid.get("/v1/views/revenue/keys/p3"), 503, base.toString());
    assertProblem(braid.get("/v1/views/revenue/keys/p3"), 503, "braid repair revenue");
    assertThat(braid.values("busiest", "p3")).as("a view of the same stream serves").isEqualTo(busiest);
    assertThat(braid.values("hits", "x1").path("n").asLong()).isEqualTo(84);
    JsonNode status = json(braid.get("/v1/status"));
    assertThat(status.path("unavailable").path("revenue").asText()).contains(base.toString()).contains("CRC");
    assertThat(json(braid.get("/health")).path("status").asText()).isEqualTo("degraded");
    assertThat(braid.get("/metrics").body()).contains("braid_view_unavailable{view=\"revenue\"} 1.0",
        "braid_view_unavailable{view=\"busiest\"} 0.0");
    assertThat(braid.post("/v1/streams/sales/events", "[{\"product\":\"p3\",\"amount\":1.0,\"ts\":1}]").statusCode())
        .as("ingest goes on").isEqualTo(200);

    var repaired = braid.post("/v1/views/revenue/repair", "");

    assertThat(repaired.statusCode()).as(repaired.body()).isEqualTo(200);
    JsonNode after = braid.values("revenue", "p3");
    assertThat(after.path("n").asLong()).isEqualTo(before.path("n").asLong() + 1);
    assertThat(after.path("revenue").asDouble()).isEqualTo(before.path("revenue").asDouble() + 1.0);
    assertThat(Files.exists(base.resolveSibling(base.getFileName() + ".corrupt"))).as("moved aside, not deleted")
        .isTrue();
    assertThat(json(braid.get("/health")).path("status").asText()).isEqualTo("ok");
    var versionsOut = new java.io.StringWriter();
    var versionsCli = dev.braid.server.cli.BraidCli.commandLine();
    versionsCli.setOut(new java.io.PrintWriter(versionsOut, true));
    assertThat(versionsCli.execute("versions", "revenue", "--url=" + braid.url())).isZero();
    assertThat(versionsOut.toString()).as("a repair, named as such (it said \"last batch cycle\")")
        .contains("last repair built version ");
    assertProblem(braid.post("/v1/views/revenue/repair", ""), 409, "not damaged");
    JsonNode batch = json(braid.get("/v1/views/revenue/versions")).path("batch");
    assertThat(batch.path("state").asText()).as("a refused repair ran nothing, and nothing failed: " + batch)
        .isEqualTo("refused");
    assertThat(batch.path("what").asText()).isEqualTo("repair");
    assertThat(batch.path("reason").asText()).contains("not damaged");
    assertThat(batch.has("failure")).isFalse();

    braid.restart();
    assertThat(braid.values("revenue", "p3")).isEqualTo(after);
    assertThat(Files.exists(base.resolveSibling(base.getFileName() + ".corrupt"))).as("kept across restarts").isTrue();
  }

  @Test
  void shouldRefuseTheViewsOfAStreamWithACorruptSealedSegmentAndNeverSkipItsData() throws Exception {
    // Small segments, so that the stream has sealed ones: the engine reopens the stream with its stored config.
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      log.createStream("sales", StreamConfig.of(2).withSegmentBytes(4096));
    }
    braid = new FaultHarness(SPEC, dir).start();
    for (int i = 0; i < 10; i++) {
      ingest(40);
    }
    braid.close();
    Path partition = dir.resolve("log").resolve("sales").resolve("p00000");
    List<Path> segments = files(partition, ".log");
    assertThat(segments).as("sealed segments exist").hasSizeGreaterThan(1);
    Path sealed = segments.get(0);
    flipByte(sealed, Files.size(sealed) - 2); // in the last batch, which opening always checks

    braid.start();

    assertProblem(braid.get("/v1/views/revenue/keys/p3"), 503, sealed.toString());
    assertProblem(braid.get("/v1/views/busiest/keys/p3"), 503, "restore " + sealed);
    assertProblem(braid.post("/v1/streams/sales/events", "[{\"product\":\"p3\",\"amount\":1.0,\"ts\":1}]"), 503,
        "corrupt log file " + sealed);
    assertThat(braid.values("hits", "x1").path("n").asLong()).as("the other stream serves").isEqualTo(130);
    assertProblem(braid.post("/v1/views/revenue/repair", ""), 503, "restore " + sealed);
    JsonNode status = json(braid.get("/v1/status"));
    assertThat(status.path("unavailable").path("sales").asText()).contains(sealed.toString());
    assertThat(status.path("unavailable").path("revenue").asText()).contains("its stream 'sales' is refused");
  }

  /** Starts the server on a log of small segments and fills them; returns the first sealed one of partition 0. */
  private Path startWithSealedSegments() throws Exception {
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      log.createStream("sales", StreamConfig.of(2).withSegmentBytes(4096));
    }
    braid = new FaultHarness(SPEC, dir).start();
    for (int i = 0; i < 10; i++) {
      ingest(40);
    }
    Path sealed = files(dir.resolve("log").resolve("sales").resolve("p00000"), ".log").get(0);
    return sealed;
  }

  /** A batch cycle answered 202 that then fails: the versions list its Location names says so, and why. */
  @Test
  void shouldShowABatchCycleThatFailedAfterA202AsFailedWithItsReason() throws Exception {
    Path sealed = startWithSealedSegments();
    flipByte(sealed, Files.size(sealed) / 3);

    var accepted = braid.post("/v1/views/revenue/batch?wait=0", "");
    assertThat(accepted.statusCode()).as(accepted.body()).isIn(202, 500);
    JsonNode batch = json(braid.get(accepted.headers().firstValue("Location").orElse("/v1/views/revenue/versions")))
        .path("batch");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (batch.path("state").asText().equals("running")) {
      assertThat(System.nanoTime()).as("the batch cycle ends: " + batch).isLessThan(deadline);
      Thread.sleep(20);
      batch = json(braid.get("/v1/views/revenue/versions")).path("batch");
    }
    assertThat(batch.path("state").asText()).as(batch.toString()).isEqualTo("failed");
    assertThat(batch.path("failure").asText()).startsWith("the batch cycle of view 'revenue' failed: corrupt log file "
        + sealed).contains("restore " + sealed + " from a backup");
    assertThat(batch.has("built")).isFalse();
  }

  /**
   * A torn tail that opening the log cuts is not only a line in the log at start: {@code /v1/status}
   * names the partition, the bytes cut and where they were kept, {@code braid status} prints it, and
   * {@code /metrics} counts the partitions. The events before the cut are served exactly.
   */
  @Test
  void shouldShowInStatusAndMetricsWhatOpeningTheLogCut() throws Exception {
    braid = new FaultHarness(SPEC, dir).start();
    ingest(40);
    braid.close();
    Path partition = dir.resolve("log").resolve("visits").resolve("p00000");
    Path active = files(partition, ".log").get(0);
    long size = Files.size(active);
    try (FileChannel ch = FileChannel.open(active, StandardOpenOption.WRITE)) {
      ch.truncate(size - 3); // the last batch is torn
    }

    braid.start();

    JsonNode stream = null;
    for (JsonNode st : json(braid.get("/v1/status")).path("streams")) {
      if (st.path("name").asText().equals("visits")) {
        stream = st;
      }
    }
    assertThat(stream).isNotNull();
    assertThat(stream.path("recovered")).as("%s", stream).hasSize(1);
    assertThat(stream.path("recovered").get(0).asText()).startsWith("partition 0: at start, ")
        .contains("bytes of a torn or damaged tail were cut from " + active + " at byte ")
        .contains("(the partition now ends at offset ").contains("kept in " + active);
    assertThat(braid.get("/metrics").body()).contains("braid_stream_recovered_partitions{stream=\"visits\"} 1.0")
        .contains("braid_stream_recovered_partitions{stream=\"sales\"} 0.0");
    picocli.CommandLine cli = dev.braid.server.cli.BraidCli.commandLine();
    java.io.StringWriter out = new java.io.StringWriter();
    cli.setOut(new java.io.PrintWriter(out, true));
    assertThat(cli.execute("status", "--url=" + braid.url())).isZero();
    assertThat(out.toString()).contains("stream visits: partition 0: at start, ");
  }

  /**
   * A cut of a log kept beside a stream (here its dead letters) is shown with the stream, naming that
   * log, and counted in the stream's metric; a cut of a table's writes log is shown with the table:
   * both were only a line in the server log.
   */
  @Test
  void shouldShowWithItsStreamACutOfTheDeadLetterLogAndWithItsTableACutOfItsWrites() throws Exception {
    braid = new FaultHarness(SPEC, dir).start();
    assertThat(braid.post("/v1/streams/visits/events", "[{\"page\":\"x\",\"ts\":\"soon\"},"
        + "{\"page\":\"y\",\"ts\":\"later\"}]").statusCode()).isEqualTo(200); // both rejected, dead-lettered
    assertThat(braid.put("/v1/tables/profiles/rows/k1", "{\"uid\":\"k1\",\"tier\":\"x\"}").statusCode())
        .isEqualTo(200);
    assertThat(braid.put("/v1/tables/profiles/rows/k1", "{\"uid\":\"k1\",\"tier\":\"y\"}").statusCode())
        .isEqualTo(200);
    braid.close();
    Path active = files(dir.resolve("log").resolve("visits.dead-letters").resolve("p00000"), ".log").get(0);
    try (FileChannel ch = FileChannel.open(active, StandardOpenOption.WRITE)) {
      ch.truncate(Files.size(active) - 3); // the last batch is torn
    }
    Path writes = null;
    try (java.util.stream.Stream<Path> all = Files.walk(dir.resolve("log").resolve("profiles.writes"))) {
      for (Path f : all.filter(f -> f.toString().endsWith(".log")).toList()) {
        if (Files.size(f) > 100) {
          writes = f;
        }
      }
    }
    assertThat(writes).as("the writes' segment").isNotNull();
    try (FileChannel ch = FileChannel.open(writes, StandardOpenOption.WRITE)) {
      ch.truncate(Files.size(writes) - 3);
    }

    braid.start();
    JsonNode visits = null;
    for (JsonNode st : json(braid.get("/v1/status")).path("streams")) {
      if (st.path("name").asText().equals("visits")) {
        visits = st;
      }
    }
    assertThat(visits).isNotNull();
    assertThat(visits.path("recovered")).as("%s", visits).hasSize(1);
    assertThat(visits.path("recovered").get(0).asText()).startsWith("the dead-letter log, partition 0: at start, ")
        .contains("were cut from " + active);
    assertThat(braid.get("/metrics").body()).contains("braid_stream_recovered_partitions{stream=\"visits\"} 1.0");
    JsonNode table = json(braid.get("/v1/status")).path("tables").get(0);
    assertThat(table.path("recovered")).as("%s", table).hasSize(1);
    assertThat(table.path("recovered").get(0).asText()).contains("were cut from " + writes);
    assertThat(json(braid.get("/v1/tables/profiles/rows/k1")).path("values").path("tier").asText())
        .as("the write before the torn one").isEqualTo("x");
  }

  /**
   * A sealed segment damaged while the server runs: the batch cycle that meets it answers 500
   * ({@code damaged-file}) naming the file, and its version is failed with the same text; the view
   * serves and takes events as before; {@code /health}, {@code /v1/status} and {@code braid status}
   * name the stream under {@code damaged}; once the file is restored, a batch cycle succeeds and
   * clears it.
   */
  @Test
  void shouldFailOnlyTheBatchCycleThatMeetsASegmentDamagedWhileRunningAndSayWhichFile() throws Exception {
    Path sealed = startWithSealedSegments();
    byte[] intact = Files.readAllBytes(sealed);
    flipByte(sealed, Files.size(sealed) / 3);

    ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(BraidServer.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    log.addAppender(logged);
    HttpResponse<String> batch;
    try {
      batch = braid.post("/v1/views/revenue/batch", "");
    } finally {
      log.detachAppender(logged);
    }

    // said in the log too, for a cycle whose request was answered 202 long before it failed
    assertThat(logged.list).extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
        .anyMatch(m -> m.startsWith("the batch cycle of view 'revenue' asked for over HTTP failed: ")
            && m.contains("corrupt log file " + sealed));
    assertProblem(batch, 500, "corrupt log file " + sealed);
    assertProblem(batch, 500, "restore " + sealed + " from a backup");
    assertThat(json(batch).path("type").asText()).endsWith("damaged-file");
    List<String> failures = new java.util.ArrayList<>();
    json(braid.get("/v1/views/revenue/versions")).path("versions").forEach(v -> {
      if (v.path("state").asText().equals("failed")) {
        failures.add(v.path("failure").asText());
      }
    });
    assertThat(failures).singleElement().asString().startsWith("corrupt log file " + sealed + " at byte")
        .endsWith("restore " + sealed + " from a backup");
    ingest(40); // the speed layer goes on: the current version serves every event, old and new
    awaitCount("revenue", "p3", productEvents(3, 40) * 11);
    JsonNode health = json(braid.get("/health"));
    assertThat(health.path("status").asText()).isEqualTo("degraded");
    assertThat(health.path("damaged").path("sales").asText()).contains("the log of stream 'sales' is damaged")
        .contains(sealed.toString()).contains("the next start refuses the stream");
    assertThat(health.has("unavailable")).as("nothing is refused").isFalse();
    var out = new java.io.StringWriter();
    var cli = dev.braid.server.cli.BraidCli.commandLine();
    cli.setOut(new java.io.PrintWriter(out, true));
    assertThat(cli.execute("status", "--url=" + braid.url())).isZero();
    assertThat(out.toString()).contains("damaged log sales: the log of stream 'sales' is damaged");

    Files.write(sealed, intact); // restored from a backup while the server runs
    assertThat(braid.post("/v1/views/busiest/batch", "").statusCode()).isEqualTo(200);

    assertThat(json(braid.get("/health")).path("status").asText()).isEqualTo("ok");
    assertThat(braid.post("/v1/views/revenue/batch", "").statusCode()).isEqualTo(200);
    assertThat(awaitCount("revenue", "p3", productEvents(3, 40) * 11).path("n").asLong())
        .isEqualTo(productEvents(3, 40) * 11);
  }

  /** {@code n} rows {@code k0, k1, ...} of tier {@code tier}, as JSON lines. */
  private static String profiles(int n, String tier) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append("{\"uid\":\"k").append(i).append("\",\"tier\":\"").append(tier).append("\"}\n");
    }
    return sb.toString();
  }

  @Test
  void shouldRefuseOnlyATableWithACorruptBaseUntilAFullPushReplacesIt() throws Exception {
    braid = new FaultHarness(SPEC, dir).start();
    assertThat(braid.push("profiles", profiles(300, "one")).statusCode()).isEqualTo(200);
    var current = braid.push("profiles", profiles(300, "two"));
    assertThat(current.statusCode()).as(current.body()).isEqualTo(200);
    long version = json(current).path("version").asLong();
    ingest(30);
    awaitCount("hits", "x1", 10);
    braid.close();
    Path base = dir.resolve("tables").resolve("profiles").resolve("v" + version + ".base");
    flipByte(base, Files.size(base) / 2);

    braid.start();

    assertProblem(braid.get("/v1/tables/profiles/rows/k1"), 503, "corrupt table Base " + base);
    assertProblem(braid.get("/v1/tables/profiles/rows/k1"), 503, "braid push profiles FILE");
    assertProblem(braid.get("/v1/tables/profiles/rows/k1"), 503, "braid activate profiles " + (version - 1)
        + " --table");
    assertThat(json(braid.get("/v1/tables/profiles/rows/k1")).path("type").asText())
        .isEqualTo("/problems/table-unavailable");
    assertProblem(braid.put("/v1/tables/profiles/rows/k1", "{\"uid\":\"k1\",\"tier\":\"x\"}"), 503,
        base.toString());
    assertThat(braid.values("hits", "x1").path("n").asLong()).as("the views serve").isEqualTo(10);
    JsonNode health = json(braid.get("/health"));
    assertThat(health.path("status").asText()).isEqualTo("degraded");
    assertThat(health.path("unavailable").path("profiles").asText()).contains(base.toString());
    assertThat(braid.post("/v1/streams/visits/events", "[{\"page\":\"x1\",\"ts\":1}]").statusCode())
        .as("ingest goes on").isEqualTo(200);

    var pushed = braid.push("profiles", profiles(300, "three"));

    assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(200);
    JsonNode row = json(braid.get("/v1/tables/profiles/rows/k1"));
    assertThat(row.path("values").path("tier").asText()).isEqualTo("three");
    assertThat(json(braid.get("/health")).path("status").asText()).isEqualTo("ok");
    JsonNode versions = json(braid.get("/v1/tables/profiles/versions")).path("versions");
    assertThat(versions.get(versions.size() - 2).path("state").asText()).as("the damaged version").isEqualTo("failed");
    assertThat(Files.exists(base.resolveSibling(base.getFileName() + ".corrupt"))).as("moved aside").isTrue();
  }
}
