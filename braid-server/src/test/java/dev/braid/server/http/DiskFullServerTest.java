package dev.braid.server.http;

import static dev.braid.server.http.BraidServerTest.assertProblem;
import static dev.braid.server.http.BraidServerTest.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk under a real server, for real: the test mounts a 2 MiB {@code tmpfs} in a temporary
 * directory ({@code mount -t tmpfs -o size=2m}), puts the server's data directory on it, fills the
 * rest with a filler file of its own, and ingests until the server answers {@code 507}. Reads,
 * status and health keep answering; once the filler is deleted ingest resumes without a restart.
 *
 * <p><b>How the fault is simulated:</b> a size-limited file system (tmpfs), so the {@code ENOSPC}
 * comes from the kernel. Mounting needs root (or {@code CAP_SYS_ADMIN}); where it is not allowed the
 * test is <em>skipped</em> by a JUnit assumption that says so, and {@code FileLogStorageFaultTest}
 * in {@code braid-core} covers the same faults on every machine with a fault-injecting writer. The
 * file system is always unmounted after the test.
 */
class DiskFullServerTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 1
          key: product
          time: ts
          fields: {product: string, amount: double, note: string, ts: timestamp}
      views:
        revenue:
          from: sales
          group_by: product
          aggregate: {n: count, revenue: sum(amount)}
      """;

  @TempDir
  Path tmp;

  private Path mount;
  private boolean mounted;
  private FaultHarness braid;

  @BeforeEach
  void mountTinyFileSystem() throws Exception {
    mount = tmp.resolve("tiny");
    Files.createDirectories(mount);
    Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    boolean done = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    assumeTrue(done, "skipped: this machine does not allow mounting a tmpfs (" + out + "); FileLogStorageFaultTest "
        + "covers full disks with a fault-injecting writer");
    mounted = true;
  }

  @AfterEach
  void unmount() throws Exception {
    try {
      if (braid != null) {
        braid.close();
      }
    } finally {
      if (mounted) {
        Process p = new ProcessBuilder("umount", mount.toString()).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
          new ProcessBuilder("umount", "-l", mount.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static String events(int n, String product) {
    StringBuilder b = new StringBuilder("[");
    String note = "n".repeat(900);
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : ",").append(String.format("{\"product\":\"%s\",\"amount\":1.0,\"note\":\"%s\",\"ts\":%d}",
          product, note, 1_700_000_000_000L + i));
    }
    return b.append(']').toString();
  }

  /** Writes zeros to {@code file} until the file system is full. */
  private static void fillUp(Path file) throws IOException {
    byte[] chunk = new byte[16 << 10];
    try (OutputStream out = Files.newOutputStream(file)) {
      while (true) {
        out.write(chunk);
      }
    } catch (IOException expected) {
      assertThat(expected).hasMessageContaining("No space left on device");
    }
  }

  private static boolean leftovers(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.map(f -> f.getFileName().toString()).anyMatch(n -> n.endsWith(".tmp") || n.endsWith(".spill"));
    }
  }

  /** The count of key apple once the speed layer has folded {@code n} events (or what it is after 10 s). */
  private long awaitCount(long n) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long seen = braid.values("revenue", "apple").path("n").asLong();
    while (seen != n && System.nanoTime() < deadline) {
      Thread.sleep(5);
      seen = braid.values("revenue", "apple").path("n").asLong();
    }
    return seen;
  }

  @Test
  void shouldAnswer507WhenTheDiskIsFullKeepServingReadsAndResumeIngestOnceSpaceReturns() throws Exception {
    Path data = mount.resolve("data");
    braid = new FaultHarness(SPEC, data).start();
    assertThat(braid.post("/v1/streams/sales/events", events(10, "apple")).statusCode()).isEqualTo(200);
    assertThat(braid.post("/v1/views/revenue/batch", "").statusCode()).isEqualTo(200);
    long currentBefore = json(braid.get("/v1/status")).path("views").get(0).path("currentVersion").asLong();
    Path filler = mount.resolve("filler");
    fillUp(filler);

    long acknowledged = 10;
    HttpResponse<String> refused = null;
    for (int i = 0; i < 200 && refused == null; i++) {
      HttpResponse<String> r = braid.post("/v1/streams/sales/events", events(4, "apple"));
      if (r.statusCode() == 200) {
        acknowledged += json(r).path("accepted").asLong();
      } else {
        refused = r;
      }
    }

    assertThat(refused).as("the disk filled up").isNotNull();
    assertProblem(refused, 507, "No space left on device");
    assertThat(json(refused).path("detail").asText()).contains(data.resolve("log").toString())
        .contains("stream 'sales' partition 0");
    assertThat(awaitCount(acknowledged)).as("reads keep working").isEqualTo(acknowledged);
    JsonNode health = json(braid.get("/health"));
    assertThat(health.path("status").asText()).isEqualTo("degraded");
    assertThat(health.path("ingest").path("sales").asText()).startsWith("failing: no space left on device at "
        + data.resolve("log"));
    assertThat(json(braid.get("/v1/status")).path("ingest").path("sales").asText()).contains("No space left on device");
    assertThat(braid.get("/metrics").body()).contains("braid_log_append_failures_total");

    HttpResponse<String> batch = braid.post("/v1/views/revenue/batch", "");
    assertThat(batch.statusCode()).as(batch.body()).isIn(507, 200);
    if (batch.statusCode() == 507) {
      assertThat(json(braid.get("/v1/status")).path("views").get(0).path("currentVersion").asLong())
          .as("a batch cycle without space leaves the current version").isEqualTo(currentBefore);
      assertThat(leftovers(data)).as("the failed version's temporary files are removed").isFalse();
    }

    Files.delete(filler); // space returns
    HttpResponse<String> resumed = braid.post("/v1/streams/sales/events", events(3, "apple"));

    assertThat(resumed.statusCode()).as(resumed.body()).isEqualTo(200);
    acknowledged += 3;
    assertThat(awaitCount(acknowledged)).isEqualTo(acknowledged);
    assertThat(json(braid.get("/health")).path("status").asText()).isEqualTo("ok");

    braid.restart();
    assertThat(braid.values("revenue", "apple").path("n").asLong()).as("exactly the acknowledged events")
        .isEqualTo(acknowledged);
  }
}
