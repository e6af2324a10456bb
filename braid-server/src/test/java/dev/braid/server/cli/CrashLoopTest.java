package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash loop: {@code braid server} in a child JVM under continuous ingest from several client
 * threads, with batch cycles and a Kappa reprocess in flight and checkpoints every 200 ms, killed
 * with SIGKILL at a random moment and restarted on the same data directory, round after round.
 * Each client request carries an {@code Idempotency-Key}; a request the kill cut off (sent, no
 * answer) is sent again with the same key once the server is back, as a client that retries would.
 * After every restart and those retries:
 *
 * <ul>
 *   <li>every event sent is in the log exactly once — whether its first attempt was appended before
 *       the kill or not — and the log holds nothing else (a view grouped by event id counts each,
 *       and the log's size equals the number of ids counted);
 *   <li>every view's merged reads equal a naive recomputation over exactly the events in the log
 *       (a Lambda view with batch cycles and a Kappa view);
 *   <li>every view has exactly one {@code current} version, and a reprocess the kill interrupted is
 *       built again (it becomes current; none is left failed by the restart);
 *   <li>no temporary file is left in the data directory.
 * </ul>
 *
 * Across the rounds, at least one restart must have restored a checkpoint, so the test exercises
 * the checkpoint path and not only the replay from the cut. The seed is printed on failure;
 * {@code -Dbraid.crashRounds=N} runs more rounds.
 */
class CrashLoopTest {

  static final String SPEC = """
      streams:
        events:
          partitions: 3
          key: user
          time: ts
          fields: {id: string, user: string, amount: long, ts: timestamp}
      views:
        per_event:
          from: events
          group_by: id
          aggregate: {n: count}
        per_user:
          from: events
          group_by: user
          aggregate: {n: count, total: sum(amount)}
        per_user_kappa:
          from: events
          group_by: user
          mode: kappa
          aggregate: {n: count, total: sum(amount)}
      """;
  static final String KAPPA_DEFINITION = "{\"from\": \"events\", \"group_by\": \"user\", \"mode\": \"kappa\", "
      + "\"aggregate\": {\"n\": \"count\", \"total\": \"sum(amount)\"}}";
  static final int USERS = 40;
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  /** Everything ever sent, by id, and which were acknowledged. */
  private final Map<String, Boolean> sent = new ConcurrentHashMap<>();
  /** Requests the kill cut off: idempotency key, body, ids. */
  private final java.util.Queue<Request> unanswered = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final java.util.concurrent.atomic.AtomicLong duplicatesOnRetry = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong resumedReprocesses = new java.util.concurrent.atomic.AtomicLong();

  record Request(String key, String body, List<String> ids) {}

  static String user(String id) {
    return "u" + Math.floorMod(id.hashCode(), USERS);
  }

  static long amount(String id) {
    return Math.floorMod(id.hashCode() * 31L, 1000);
  }

  @Test
  void shouldKeepEveryAcknowledgedEventExactlyOnceAndExactViewsAcrossKills() throws Exception {
    long seed = Long.getLong("braid.crashSeed", System.nanoTime());
    int rounds = Integer.getInteger("braid.crashRounds", 5);
    Random rnd = new Random(seed);
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("server.err");
    int restoredCheckpoints = 0;
    for (int round = 0; round <= rounds; round++) {
      String context = "seed " + seed + " (-Dbraid.crashSeed=" + seed + "), round " + round;
      try (ChildServer server = ChildServer.start(spec, data, stderr, "--checkpoint-every", "200ms")) {
        server.awaitReady();
        retryUnanswered(server, context);
        restoredCheckpoints += check(server, data, context);
        if (round == rounds) {
          break;
        }
        load(server, rnd, round, context);
      }
    }
    assertThat(restoredCheckpoints).as("seed %d: restarts that restored a checkpoint", seed).isPositive();
    long resumed = Files.readAllLines(stderr).stream().filter(l -> l.contains("resuming the reprocess")).count();
    assertThat(sent.values().stream().filter(a -> a).count()).as("seed %d: events acknowledged", seed)
        .isGreaterThan(1000);
    System.out.printf("crash loop, seed %d: %d events sent over %d kills, %d acknowledged only on a retry as "
        + "duplicates of a first attempt the kill had cut off; %d reprocesses resumed after a kill (%d polls waited "
        + "for one)%n", seed, sent.size(), rounds, duplicatesOnRetry.get(), resumed, resumedReprocesses.get());
  }

  /**
   * A reprocess held for activation, killed with SIGKILL after it caught up: the restart builds it
   * again and holds it again, the old version serving meanwhile; activated, it answers exactly.
   */
  @Test
  void shouldBuildAHeldReprocessAgainAfterAKill() throws Exception {
    Path spec = dir.resolve("braid.yaml");
    Files.writeString(spec, SPEC);
    Path data = dir.resolve("data");
    Path stderr = dir.resolve("server.err");
    String doubled = "{\"from\": \"events\", \"group_by\": \"user\", \"mode\": \"kappa\", "
        + "\"aggregate\": {\"n\": \"count\", \"total\": \"sum(amount)\", \"hi\": \"max(amount)\"}}";
    long held;
    try (ChildServer server = ChildServer.start(spec, data, stderr)) {
      server.awaitReady();
      AtomicBoolean stop = new AtomicBoolean();
      CompletableFuture<Void> client = CompletableFuture.runAsync(() -> ingest(server, "k-", stop));
      Thread.sleep(300);
      stop.set(true);
      client.get(30, TimeUnit.SECONDS);
      assertThat(sent).as("every event acknowledged").doesNotContainValue(false).isNotEmpty();
      HttpResponse<String> r = server.send("POST", "/v1/views/per_user_kappa/reprocess?hold=true", "application/json",
          doubled);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
      held = JSON.readTree(r.body()).path("version").asLong();
      awaitHeld(server, held);
      server.kill();
    }
    try (ChildServer server = ChildServer.start(spec, data, stderr)) {
      server.awaitReady();
      awaitHeld(server, held);
      JsonNode before = batchGet(server, "per_user_kappa", List.of("u0")).get(0);
      assertThat(before.has("hi") || before.path("values").has("hi")).as("the old version serves while held")
          .isFalse();
      assertThat(server.send("POST", "/v1/views/per_user_kappa/versions/" + held + "/activate", null, null)
          .statusCode()).isEqualTo(200);
      Map<String, long[]> model = new HashMap<>();
      for (String id : sent.keySet()) {
        long[] m = model.computeIfAbsent(user(id), u -> new long[] {0, 0, Long.MIN_VALUE});
        m[0]++;
        m[1] += amount(id);
        m[2] = Math.max(m[2], amount(id));
      }
      for (JsonNode got : batchGet(server, "per_user_kappa", new ArrayList<>(model.keySet()))) {
        long[] m = model.get(got.path("key").asText());
        assertThat(got.path("asOf").path("version").asLong()).isEqualTo(held);
        assertThat(List.of(got.path("values").path("n").asLong(), got.path("values").path("total").asLong(),
            got.path("values").path("hi").asLong())).as(got.toString()).containsExactly(m[0], m[1], m[2]);
      }
    }
    assertThat(Files.readString(stderr)).contains("resuming the reprocess into version " + held);
  }

  private static void awaitHeld(ChildServer server, long id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      for (JsonNode v : json(server.send("GET", "/v1/views/per_user_kappa/versions", null, null)).path("versions")) {
        if (v.path("id").asLong() == id && v.path("progress").path("phase").asText().equals("held")) {
          return;
        }
      }
      assertThat(System.nanoTime()).as("version %d gets held", id).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** Sends every request the kill cut off again, with its key; all must now be acknowledged. */
  private void retryUnanswered(ChildServer server, String context) throws Exception {
    Request r;
    while ((r = unanswered.poll()) != null) {
      HttpResponse<String> res = server.send("POST", "/v1/streams/events/events", "application/x-ndjson", r.body(),
          r.key());
      JsonNode answer = json(res);
      assertThat(answer.path("accepted").asLong()).as(context + ": retry of " + r.key()).isEqualTo(r.ids().size());
      duplicatesOnRetry.addAndGet(answer.path("duplicates").asLong());
      for (String id : r.ids()) {
        sent.put(id, true);
      }
    }
  }

  /** Runs ingest, batch cycles and a reprocess for a random while, then kills the server. */
  private void load(ChildServer server, Random rnd, int round, String context) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    List<CompletableFuture<Void>> work = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      String prefix = "r" + round + "-c" + c + "-";
      work.add(CompletableFuture.runAsync(() -> ingest(server, prefix, stop)));
    }
    work.add(CompletableFuture.runAsync(() -> operate(server, stop, rnd.nextLong())));
    Thread.sleep(400 + rnd.nextInt(1600));
    server.kill();
    stop.set(true);
    CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    assertThat(Files.readString(server.stderr)).as(context + ": no error before the kill")
        .doesNotContain("ERROR");
  }

  private void ingest(ChildServer server, String prefix, AtomicBoolean stop) {
    for (int batch = 0; !stop.get(); batch++) {
      List<String> ids = new ArrayList<>();
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 100; i++) {
        String id = prefix + batch + "-" + i;
        ids.add(id);
        sent.put(id, false);
        body.append("{\"id\":\"").append(id).append("\",\"user\":\"").append(user(id)).append("\",\"amount\":")
            .append(amount(id)).append(",\"ts\":").append(1_700_000_000_000L + batch).append("}\n");
      }
      String key = prefix + batch;
      try {
        HttpResponse<String> r = server.send("POST", "/v1/streams/events/events", "application/x-ndjson",
            body.toString(), key);
        if (r.statusCode() != 200) {
          unanswered.add(new Request(key, body.toString(), ids));
          return;
        }
        for (String id : ids) {
          sent.put(id, true);
        }
      } catch (Exception e) {
        unanswered.add(new Request(key, body.toString(), ids)); // killed: retried after the restart
        return;
      }
    }
  }

  /** Batch cycles of the Lambda view and one reprocess of the Kappa view while the clients ingest. */
  private static void operate(ChildServer server, AtomicBoolean stop, long seed) {
    Random rnd = new Random(seed);
    try {
      while (!stop.get()) {
        Thread.sleep(50 + rnd.nextInt(250));
        if (rnd.nextInt(4) == 0) {
          server.send("POST", "/v1/views/per_user_kappa/reprocess", "application/json", KAPPA_DEFINITION);
        } else {
          server.send("POST", "/v1/views/per_user/batch?wait=0", null, null);
        }
      }
    } catch (Exception e) {
      // killed
    }
  }

  /** The checks after a restart; returns 1 when a view restored a checkpoint. */
  private int check(ChildServer server, Path data, String context) throws Exception {
    // No temporary files: the start removed what the kill left. A checkpoint being written right now
    // has one too, under a new name each time: only a file still there a while later is left over.
    List<Path> temporary = temporaryFiles(data);
    if (!temporary.isEmpty()) {
      Thread.sleep(2000);
      List<Path> still = temporaryFiles(data);
      still.retainAll(temporary);
      assertThat(still).as(context + ": temporary files left after the restart").isEmpty();
    }
    for (String view : List.of("per_event", "per_user", "per_user_kappa")) {
      // A reprocess the kill interrupted is built again from its cut after the restart: it becomes
      // current (checked below like any version), it is not lost or left failed.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        JsonNode versions = json(server.send("GET", "/v1/views/" + view + "/versions", null, null));
        Map<String, Integer> states = new HashMap<>();
        for (JsonNode v : versions.path("versions")) {
          states.merge(v.path("state").asText(), 1, Integer::sum);
          assertThat(v.path("failure").asText("")).as(context + ": " + view + " version " + v.path("id"))
              .doesNotContain("restart");
        }
        assertThat(states.get("current")).as(context + ": current versions of " + view + " " + states).isEqualTo(1);
        assertThat(states.getOrDefault("building", 0)).as(context + ": " + view + " " + states).isLessThanOrEqualTo(
            view.equals("per_user_kappa") ? 1 : 0);
        if (!states.containsKey("building")) {
          break;
        }
        resumedReprocesses.incrementAndGet();
        assertThat(System.nanoTime()).as(context + ": the resumed reprocess of " + view + " ends").isLessThan(deadline);
        Thread.sleep(50);
      }
    }
    JsonNode status = json(server.send("GET", "/v1/status", null, null));
    // Exactly once: count per id.
    List<String> ids = new ArrayList<>(sent.keySet());
    Set<String> present = ConcurrentHashMap.newKeySet();
    for (int from = 0; from < ids.size(); from += 5000) {
      List<String> chunk = ids.subList(from, Math.min(ids.size(), from + 5000));
      for (JsonNode r : batchGet(server, "per_event", chunk)) {
        String id = r.path("key").asText();
        long n = r.path("values").path("n").asLong(0);
        assertThat(n).as(context + ": copies of event " + id + " in the log").isBetween(0L, 1L);
        assertThat(n).as(context + ": event " + id + " (acknowledged, at the latest on a retry) is in the log")
            .isEqualTo(1L);
        present.add(id);
      }
    }
    long inLog = status.path("streams").get(0).path("events").asLong();
    assertThat(inLog).as(context + ": events in the log = distinct events sent that it holds")
        .isEqualTo(present.size());
    // Exact merge over exactly those events.
    Map<String, long[]> model = new HashMap<>();
    for (String id : present) {
      long[] m = model.computeIfAbsent(user(id), u -> new long[2]);
      m[0]++;
      m[1] += amount(id);
    }
    List<String> users = new ArrayList<>();
    for (int u = 0; u < USERS; u++) {
      users.add("u" + u);
    }
    for (String view : List.of("per_user", "per_user_kappa")) {
      for (JsonNode r : batchGet(server, view, users)) {
        long[] m = model.getOrDefault(r.path("key").asText(), new long[2]);
        String as = context + ": " + view + "[" + r.path("key").asText() + "]";
        assertThat(r.path("values").path("n").asLong(0)).as(as + ".n").isEqualTo(m[0]);
        assertThat(r.path("values").path("total").asLong(0)).as(as + ".total").isEqualTo(m[1]);
      }
    }
    int restored = 0;
    for (JsonNode v : status.path("views")) {
      if (v.path("checkpoints").path("startup").path("restoredFrom").isTextual()) {
        restored = 1;
      }
    }
    return restored;
  }

  private static List<Path> temporaryFiles(Path data) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try (Stream<Path> files = Files.walk(data)) {
        return new ArrayList<>(files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList());
      } catch (java.io.UncheckedIOException e) {
        if (attempt == 5) {
          throw e; // a file renamed away under the walk (a checkpoint finishing) is worth a retry, not this
        }
      }
    }
  }

  private static List<JsonNode> batchGet(ChildServer server, String view, List<String> keys) throws Exception {
    StringBuilder body = new StringBuilder("{\"keys\": [");
    for (int i = 0; i < keys.size(); i++) {
      body.append(i == 0 ? "\"" : ",\"").append(keys.get(i)).append('"');
    }
    body.append("]}");
    JsonNode r = json(server.send("POST", "/v1/views/" + view + "/keys:batchGet", "application/json",
        body.toString()));
    List<JsonNode> out = new ArrayList<>();
    r.path("results").forEach(out::add);
    assertThat(out).as("results of a batchGet of " + keys.size() + " keys").hasSize(keys.size());
    return out;
  }

  private static JsonNode json(HttpResponse<String> r) throws IOException {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }
}
