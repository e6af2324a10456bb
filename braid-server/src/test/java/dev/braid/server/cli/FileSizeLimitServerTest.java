package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real server process under a file size limit ({@code ulimit -f}) below the log's segment size:
 * the kernel refuses the segment's growth with {@code EFBIG} ("File too large"), which is not a full
 * disk, and the answer must say so: {@code 507} of type {@code file-size-limit}, naming the limit and
 * how to raise it. Once the limit is raised ({@code prlimit} on the running process), ingest resumes
 * without a restart and every acknowledged event is counted once.
 */
class FileSizeLimitServerTest {

  static final ObjectMapper JSON = new ObjectMapper();

  static final String SPEC = """
      streams:
        sales:
          partitions: 1
          key: product
          time: ts
          fields: {product: string, note: string, ts: timestamp}
      views:
        sold:
          from: sales
          group_by: product
          aggregate: {n: count}
      """;

  @TempDir
  Path dir;

  private static String events(int n, int from) {
    StringBuilder b = new StringBuilder("[");
    String note = "n".repeat(900);
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : ",").append(String.format("{\"product\":\"apple\",\"note\":\"%s\",\"ts\":%d}", note,
          1_700_000_000_000L + from + i));
    }
    return b.append(']').toString();
  }

  /** Lifts the file size limit of the running server ({@code prlimit}); skips the rest of the test where it cannot. */
  private static void raiseLimit(ChildServer server) throws Exception {
    Process raise = new ProcessBuilder("prlimit", "--fsize=unlimited", "--pid", Long.toString(server.process.pid()))
        .redirectErrorStream(true).start();
    String said = new String(raise.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assumeTrue(raise.waitFor(30, TimeUnit.SECONDS) && raise.exitValue() == 0, "prlimit could not raise the limit "
        + "here: " + said);
  }

  private static long count(ChildServer s) throws Exception {
    return JSON.readTree(s.send("GET", "/v1/views/sold/keys/apple", null, null).body()).path("values").path("n")
        .asLong();
  }

  private static long awaitCount(ChildServer s, long n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    long seen = count(s);
    while (seen != n && System.nanoTime() < deadline) {
      Thread.sleep(10);
      seen = count(s);
    }
    return seen;
  }

  /**
   * A table under the limit: a full push whose Base reaches it and an incremental push whose writes do
   * are 507s of type file-size-limit (the data is not at fault), the incremental one counting the
   * rows it applied as many as are there; a write refused so makes /health degraded, naming the
   * table, until one succeeds once the limit is raised.
   */
  @Test
  void shouldAnswerTablePushesAndWritesAtTheLimitAsStorageFaults() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, """
        tables:
          prof:
            partitions: 1
            key: id
            fields: {id: string, tier: string}
        """);
    Path rows = dir.resolve("rows.jsonl");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 8_000; i++) {
      b.append("{\"id\": \"k").append(i).append("\", \"tier\": \"").append("t".repeat(400)).append("\"}\n");
    }
    Files.writeString(rows, b); // about 3.3 MB: past the 2 MiB limit
    try (ChildServer server = ChildServer.startWithFileSizeLimit(2048, spec, dir.resolve("data"),
        dir.resolve("stderr.txt")).awaitReady()) {
      HttpResponse<String> full = server.send("POST", "/v1/tables/prof/pushes", "application/x-ndjson",
          Files.readString(rows));
      assertThat(full.statusCode()).as(full.body()).isEqualTo(507);
      assertThat(JSON.readTree(full.body()).path("type").asText()).endsWith("file-size-limit");
      assertThat(JSON.readTree(full.body()).path("detail").asText()).contains("File too large").contains("ulimit -f")
          .contains("the current version is unchanged");

      HttpResponse<String> incremental = server.send("POST", "/v1/tables/prof/pushes?incremental=true",
          "application/x-ndjson", Files.readString(rows));
      assertThat(incremental.statusCode()).as(incremental.body()).isEqualTo(507);
      JsonNode problem = JSON.readTree(incremental.body());
      assertThat(problem.path("type").asText()).endsWith("file-size-limit");
      long applied = problem.path("report").path("rows").asLong();
      StringBuilder keys = new StringBuilder("{\"keys\": [");
      for (int i = 0; i < 8_000; i++) {
        keys.append(i == 0 ? "" : ",").append("\"k").append(i).append('"');
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      long found = -1;
      while (found != applied && System.nanoTime() < deadline) {
        found = 0;
        for (JsonNode r : JSON.readTree(server.send("POST", "/v1/tables/prof/rows:batchGet", "application/json",
            keys + "]}").body()).path("rows")) {
          found += r.path("found").asBoolean() ? 1 : 0;
        }
      }
      assertThat(found).as("the rows the failure says it applied: %s", problem.path("detail").asText())
          .isEqualTo(applied).isLessThan(8_000);

      HttpResponse<String> put = null;
      for (int i = 0; i < 400 && (put == null || put.statusCode() == 200); i++) { // the writes' segment at the limit
        put = server.send("PUT", "/v1/tables/prof/rows/w" + i, "application/json",
            "{\"tier\": \"" + "t".repeat(8_000) + "\"}");
      }
      assertThat(put.statusCode()).as(put.body()).isEqualTo(507);
      JsonNode health = JSON.readTree(server.send("GET", "/health", null, null).body());
      assertThat(health.path("status").asText()).isEqualTo("degraded");
      assertThat(health.path("ingest").path("prof").asText()).startsWith("failing: file size limit reached at ");

      raiseLimit(server);
      HttpResponse<String> again = server.send("PUT", "/v1/tables/prof/rows/after", "application/json",
          "{\"tier\": \"gold\"}");
      assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
      assertThat(JSON.readTree(server.send("GET", "/health", null, null).body()).path("status").asText())
          .isEqualTo("ok");
    }
  }

  @Test
  void shouldSayTheFileSizeLimitNotAFullDiskAndResumeOnceTheLimitIsRaised() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path stderr = dir.resolve("stderr.txt");
    try (ChildServer server = ChildServer.startWithFileSizeLimit(1024, spec, dir.resolve("data"), stderr)
        .awaitReady()) {
      long acknowledged = 0;
      HttpResponse<String> refused = null;
      for (int i = 0; i < 400 && refused == null; i++) { // 1 MiB of limit, about 40 KB a request
        HttpResponse<String> r = server.send("POST", "/v1/streams/sales/events", "application/json",
            events(40, i * 40));
        if (r.statusCode() == 200) {
          acknowledged += JSON.readTree(r.body()).path("accepted").asLong();
        } else {
          refused = r;
        }
      }

      assertThat(refused).as("the segment reached the limit").isNotNull();
      JsonNode problem = JSON.readTree(refused.body());
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(507);
      assertThat(problem.path("type").asText()).endsWith("file-size-limit");
      assertThat(problem.path("detail").asText()).contains("stream 'sales' partition 0").contains("File too large")
          .contains("ulimit -f").contains("disk space may be free").doesNotContain("no space left");
      JsonNode health = JSON.readTree(server.send("GET", "/health", null, null).body());
      assertThat(health.path("ingest").path("sales").asText()).startsWith("failing: file size limit reached at ");
      assertThat(awaitCount(server, acknowledged)).as("reads keep working").isEqualTo(acknowledged);

      raiseLimit(server);
      HttpResponse<String> resumed = server.send("POST", "/v1/streams/sales/events", "application/json",
          events(40, 1_000_000));

      assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(200);
      acknowledged += 40;
      assertThat(awaitCount(server, acknowledged)).as("the acknowledged events, each once").isEqualTo(acknowledged);
      assertThat(JSON.readTree(server.send("GET", "/health", null, null).body()).path("status").asText())
          .isEqualTo("ok");
    }
  }
}
