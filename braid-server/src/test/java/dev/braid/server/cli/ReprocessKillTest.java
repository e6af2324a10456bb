package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reprocess across a real crash. The server checkpoints a reprocess's Delta beside the current version's, while
 * it replays and once it is held for activation; killed with SIGKILL, the next server restores the version from
 * its newest checkpoint and replays only the events after it (its progress and its log line say so), holds it
 * again, and once activated it answers what a full recompute of its definition over every acknowledged event gives.
 * A rollback cut off by a kill is resumed the same way.
 */
class ReprocessKillTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final int KEYS = 50;

  @TempDir
  Path dir;

  @Test
  void shouldRestoreAHeldReprocessFromItsCheckpointAfterAKill() throws Exception {
    Path spec = writeSpec();
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("stderr.txt");
    Path viewDir = data.resolve("views").resolve("totals");
    Random rnd = new Random(42);
    List<long[]> sent = new ArrayList<>(); // {key, x} of every acknowledged event

    long restoredAtLeast;
    try (ChildServer server = ChildServer.start(spec, data, stderr, "--checkpoint-every", "200ms").awaitReady()) {
      ingest(server, rnd, 20_000, sent);
      HttpResponse<String> r = server.send("POST", "/v1/views/totals/reprocess?hold=true", "application/json",
          "{\"from\": \"s\", \"mode\": \"kappa\", \"filter\": \"x > 2\", \"group_by\": \"k\", "
              + "\"aggregate\": {\"n\": \"count\", \"big\": \"sum(x)\"}}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
      awaitHeld(server, 2);
      ingest(server, rnd, 5_000, sent); // the held version follows the log
      awaitLag(server, 2);
      // five checkpoint rounds with nothing new: the newest holds all 25,000 events (a round writes when the
      // Delta moved since the last one)
      Thread.sleep(1000);
      awaitCheckpoint(viewDir, 2);
      restoredAtLeast = 25_000;
      ingest(server, rnd, 3_000, sent); // after that checkpoint: the restart replays them from the log
      server.kill();
    }

    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      JsonNode v2 = version(server, 2);
      assertThat(v2.path("state").asText()).as("building again: %s", v2).isEqualTo("building");
      awaitHeld(server, 2);
      awaitLag(server, 2);
      JsonNode p = version(server, 2).path("progress");
      assertThat(p.path("eventsFromCheckpoint").asLong()).as("restored from its checkpoint: %s", p)
          .isBetween(restoredAtLeast, 28_000L);
      assertThat(p.path("eventsReplayed").asLong()).as("every event: %s", p).isEqualTo(28_000);
      assertThat(Files.readString(stderr)).contains("view 'totals': version 2 (a reprocess the restart interrupted) "
          + "restored from checkpoint v2-");
      CliClientTest.Run cli = CliClientTest.braid("versions", "totals", "--url", server.url);
      assertThat(cli.exit()).as(cli.err()).isZero();
      assertThat(cli.out()).as("braid versions says what the checkpoint restored").containsPattern(
          "caught up with 28,000 events, 2\\d,\\d{3} of them restored from its checkpoint \\(lag 0\\); "
              + "`braid activate totals 2` makes it current");
      HttpResponse<String> r = server.send("POST", "/v1/views/totals/versions/2/activate", null, null);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      checkReads(server, sent);
    }
  }

  /** A replay that a kill interrupts part way resumes from the checkpoint the interval took while it ran. */
  @Test
  void shouldResumeAReplayFromItsCheckpointAfterAKill() throws Exception {
    Path spec = writeSpec();
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("stderr.txt");
    Random rnd = new Random(43);
    List<long[]> sent = new ArrayList<>();
    try (ChildServer server = ChildServer.start(spec, data, stderr, "--checkpoint-every", "100ms").awaitReady()) {
      for (int i = 0; i < 10; i++) {
        ingest(server, rnd, 40_000, sent);
      }
      // x > 2, at microseconds an event: the replay of 400,000 events takes a while
      String filter = "x > 2" + " && k.matches('^k[0-9]+$')".repeat(40);
      Path definition = dir.resolve("totals.json");
      Files.writeString(definition, "{\"from\": \"s\", \"mode\": \"kappa\", \"filter\": \"" + filter + "\", "
          + "\"group_by\": \"k\", \"aggregate\": {\"n\": \"count\", \"big\": \"sum(x)\"}}");
      // braid reprocess follows the replay, and is cut off by the kill
      java.util.concurrent.CompletableFuture<CliClientTest.Run> following = java.util.concurrent.CompletableFuture
          .supplyAsync(() -> CliClientTest.braid("reprocess", "totals", "--spec", definition.toString(), "--hold",
              "--no-progress", "--url=" + server.url));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!server.send("GET", "/v1/views/totals/versions", null, null).body().contains("\"id\":2,")) {
        assertThat(following).as("the reprocess asked for").isNotDone();
        assertThat(System.nanoTime()).as("version 2 listed").isLessThan(deadline);
        Thread.sleep(5);
      }
      awaitCheckpointPast50k(server, data.resolve("views").resolve("totals"));
      server.kill();
      CliClientTest.Run cutOff = following.get(60, TimeUnit.SECONDS);
      assertThat(cutOff.exit()).as(cutOff.out() + cutOff.err()).isEqualTo(1);
      assertThat(cutOff.err()).as("not the advice of a request the server did not take")
          .contains("lost the server while following version 2 of view totals (cannot reach Braid at ")
          .contains("the server took the reprocess before that, and a restart builds it again: `braid versions "
              + "totals` shows it once the server is up")
          .doesNotContain("send it again");
    }
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      awaitHeld(server, 2);
      awaitLag(server, 2);
      JsonNode p = version(server, 2).path("progress");
      assertThat(p.path("eventsFromCheckpoint").asLong()).as("restored from a checkpoint of the replay: %s", p)
          .isBetween(50_000L, 300_000L);
      HttpResponse<String> r = server.send("POST", "/v1/views/totals/versions/2/activate", null, null);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      checkReads(server, sent);
    }
  }

  /**
   * A rollback that a kill interrupts part way through its replay is resumed by the next server (the catalog marks
   * the backup as being rolled back to), from the checkpoint the interval took while it ran, and switches in.
   */
  @Test
  void shouldResumeARollbackFromItsCheckpointAfterAKill() throws Exception {
    Path spec = writeSpec();
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("stderr.txt");
    Random rnd = new Random(44);
    List<long[]> sent = new ArrayList<>();
    try (ChildServer server = ChildServer.start(spec, data, stderr, "--checkpoint-every", "100ms").awaitReady()) {
      ingest(server, rnd, 10_000, sent);
      // version 2: x > 2, at microseconds an event; version 3 the spec's definition again, so 2 is a backup
      String filter = "x > 2" + " && k.matches('^k[0-9]+$')".repeat(40);
      reprocessAndAwaitCurrent(server, 2, "{\"from\": \"s\", \"mode\": \"kappa\", \"filter\": \"" + filter
          + "\", \"group_by\": \"k\", \"aggregate\": {\"n\": \"count\", \"big\": \"sum(x)\"}}");
      reprocessAndAwaitCurrent(server, 3, "{\"from\": \"s\", \"mode\": \"kappa\", \"group_by\": \"k\", "
          + "\"aggregate\": {\"n\": \"count\", \"total\": \"sum(x)\"}}");
      for (int i = 0; i < 10; i++) {
        ingest(server, rnd, 40_000, sent);
      }
      Thread rollback = new Thread(() -> { // answers once version 2 is current: the kill cuts it off
        try {
          server.send("POST", "/v1/views/totals/versions/2/activate", null, null);
        } catch (Exception cutOff) {
          // expected
        }
      });
      rollback.setDaemon(true);
      rollback.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!version(server, 2).path("state").asText().equals("building")) {
        assertThat(System.nanoTime()).as("the rollback starts: %s", version(server, 2)).isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(version(server, 2).path("progress").path("rollback").asBoolean()).as("a rollback's progress says so")
          .isTrue();
      awaitCheckpointPast50k(server, data.resolve("views").resolve("totals"));
      server.kill();
    }
    try (ChildServer server = ChildServer.start(spec, data, stderr).awaitReady()) {
      long fromCheckpoint = 0;
      CliClientTest.Run cli = null;
      CliClientTest.Run status = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      JsonNode v;
      while ((v = version(server, 2)).path("state").asText().equals("building")) {
        fromCheckpoint = Math.max(fromCheckpoint, v.path("progress").path("eventsFromCheckpoint").asLong());
        assertThat(v.path("progress").path("rollback").asBoolean()).as("resumed as a rollback: %s", v).isTrue();
        if (fromCheckpoint > 0 && cli == null) { // what a person reads of it
          cli = CliClientTest.braid("versions", "totals", "--url", server.url);
          status = CliClientTest.braid("status", "--url", server.url);
        }
        assertThat(System.nanoTime()).as("the resumed rollback gets current: %s", v).isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(v.path("state").asText()).as("the rollback resumed: %s", v).isEqualTo("current");
      assertThat(cli).as("seen while it built").isNotNull();
      assertThat(cli.out()).as(cli.out()).containsPattern("2 +building .*  rollback, replay [0-9,]+/[0-9,]+ events, "
          + "[0-9,]+ of them restored from its checkpoint, lag");
      assertThat(status.out()).as(status.out()).containsPattern("view totals: rolling back to version 2: replay "
          + "[0-9,]+/[0-9,]+ events, [0-9,]+ of them restored from its checkpoint, lag");
      assertThat(fromCheckpoint).as("restored from a checkpoint of the rollback's replay").isBetween(50_000L,
          310_000L);
      assertThat(Files.readString(stderr)).contains("view 'totals': resuming the rollback to version 2, which a "
          + "restart interrupted");
      checkReads(server, sent);
    }
  }

  /**
   * Waits until version 2, building, has read 50,000 events and two checkpoints of it were written after that, while
   * its replay still has over 100,000 events to go. The first may have copied the Delta before the 50,000th event (a
   * checkpoint shows on disk once written); the second began after the first was written, so it holds them.
   */
  private static void awaitCheckpointPast50k(ChildServer server, Path viewDir) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    Long before = null; // the newest checkpoint (-1: none) once the replay had read 50,000 events
    Long firstAfter = null;
    while (true) {
      long newest = newestCheckpoint(viewDir, 2);
      JsonNode p = version(server, 2).path("progress");
      assertThat(p.path("phase").asText()).as("still replaying: %s", p).isEqualTo("replay");
      if (before == null) {
        if (p.path("eventsReplayed").asLong() >= 50_000) {
          before = newest;
        }
      } else if (firstAfter == null) {
        if (newest > before) {
          firstAfter = newest;
        }
      } else if (newest > firstAfter) {
        assertThat(p.path("lag").asLong()).as("far to go: %s", p).isGreaterThan(100_000);
        return;
      }
      assertThat(System.nanoTime()).as("checkpoints while replaying: %s", p).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  private static void reprocessAndAwaitCurrent(ChildServer server, long id, String definition) throws Exception {
    HttpResponse<String> r = server.send("POST", "/v1/views/totals/reprocess", "application/json", definition);
    assertThat(r.statusCode()).as(r.body()).isIn(200, 202);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!version(server, id).path("state").asText().equals("current")) {
      assertThat(System.nanoTime()).as("version %d current: %s", id, version(server, id)).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** A kappa view of count and sum by key over a stream of two partitions. */
  private Path writeSpec() throws java.io.IOException {
    return Files.writeString(dir.resolve("braid.yaml"), """
        streams:
          s:
            partitions: 2
            key: k
            fields: {k: string, x: long}
        views:
          totals:
            from: s
            mode: kappa
            group_by: k
            aggregate: {n: count, total: sum(x)}
        """);
  }

  /** Every key's {@code n} and {@code big} of version 2 against a naive recomputation over {@code sent}. */
  private static void checkReads(ChildServer server, List<long[]> sent) throws Exception {
    for (int k = 0; k < KEYS; k++) {
      long n = 0;
      long big = 0;
      for (long[] e : sent) {
        if (e[0] == k && e[1] > 2) {
          n++;
          big += e[1];
        }
      }
      HttpResponse<String> read = server.send("GET", "/v1/views/totals/keys/k" + k, null, null);
      assertThat(read.statusCode()).as(read.body()).isEqualTo(200);
      JsonNode body = JSON.readTree(read.body());
      assertThat(body.path("asOf").path("version").asLong()).as(read.body()).isEqualTo(2);
      assertThat(body.path("values").path("n").asLong()).as("k%d n: %s", k, read.body()).isEqualTo(n);
      assertThat(body.path("values").path("big").asLong()).as("k%d big: %s", k, read.body()).isEqualTo(big);
    }
  }

  /** {@code n} events with random keys and values, acknowledged and recorded in {@code sent}. */
  private static void ingest(ChildServer server, Random rnd, int n, List<long[]> sent) throws Exception {
    StringBuilder body = new StringBuilder();
    List<long[]> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long k = rnd.nextInt(KEYS);
      long x = rnd.nextInt(10);
      batch.add(new long[] {k, x});
      body.append("{\"k\":\"k").append(k).append("\",\"x\":").append(x).append("}\n");
    }
    HttpResponse<String> r = server.send("POST", "/v1/streams/s/events", "application/x-ndjson", body.toString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(JSON.readTree(r.body()).path("accepted").asLong()).as(r.body()).isEqualTo(n);
    sent.addAll(batch);
  }

  private static JsonNode version(ChildServer server, long id) throws Exception {
    HttpResponse<String> r = server.send("GET", "/v1/views/totals/versions", null, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    for (JsonNode v : JSON.readTree(r.body()).path("versions")) {
      if (v.path("id").asLong() == id) {
        return v;
      }
    }
    throw new AssertionError("no version " + id + ": " + r.body());
  }

  private static void awaitHeld(ChildServer server, long id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!version(server, id).path("progress").path("phase").asText().equals("held")) {
      assertThat(System.nanoTime()).as("version %d held: %s", id, version(server, id)).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static void awaitLag(ChildServer server, long id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (version(server, id).path("progress").path("lag").asLong() != 0) {
      assertThat(System.nanoTime()).as("version %d caught up: %s", id, version(server, id)).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** Waits until a checkpoint of version {@code id} is in the view's directory. */
  private static void awaitCheckpoint(Path viewDir, long id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (newestCheckpoint(viewDir, id) < 0) {
      assertThat(System.nanoTime()).as("a checkpoint of version %d", id).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** The sequence number of the newest checkpoint of version {@code id} in the view's directory, or -1. */
  private static long newestCheckpoint(Path viewDir, long id) throws java.io.IOException {
    if (!Files.isDirectory(viewDir)) {
      return -1;
    }
    java.util.regex.Pattern name = java.util.regex.Pattern.compile("v" + id + "-(\\d+)\\.ckpt");
    try (Stream<Path> files = Files.list(viewDir)) {
      return files.map(f -> name.matcher(f.getFileName().toString())).filter(java.util.regex.Matcher::matches)
          .mapToLong(m -> Long.parseLong(m.group(1))).max().orElse(-1);
    }
  }
}
