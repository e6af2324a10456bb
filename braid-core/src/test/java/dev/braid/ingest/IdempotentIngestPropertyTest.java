package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.event.FieldType;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import dev.braid.view.Engine;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * A seeded random history of requests against a real engine: new requests with idempotency keys,
 * retries of earlier ones, events re-sent with an id they were sent with before, several senders
 * racing with one request, and engine restarts in between. Afterwards the log holds each id exactly
 * once, every acknowledgement of an id (first, retried or raced) gave the same position, and the
 * views count each event once.
 */
class IdempotentIngestPropertyTest {

  @TempDir
  Path dir;

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("pay").partitions(3).key("user").time("ts").id("txn")
            .field("user", FieldType.STRING).field("txn", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("pay_by_user").from("pay").groupBy("user").aggregate("n", "count").build())
        .view(ViewSpec.builder("clicks_by_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .build();
  }

  /** A request as sent: the stream, the key (null for none) and the events. */
  private record Request(String stream, String key, List<Map<String, Object>> events) {}

  /** What the history must add up to. */
  private static final class Model {
    /** id -> "partition@offset" of its first acknowledgement. */
    final Map<String, String> positionOfId = new HashMap<>();
    /** per stream: id -> user. */
    final Map<String, Map<String, String>> userOfId = new HashMap<>();
  }

  static java.util.stream.LongStream seeds() {
    return java.util.stream.LongStream.rangeClosed(1, Soak.seeds(6));
  }

  @ParameterizedTest(name = "seed {0}")
  @org.junit.jupiter.params.provider.MethodSource("seeds")
  void shouldHoldEachIdOnceAndAcknowledgeItAlwaysAtTheSamePosition(long seed) throws Exception {
    Random rnd = new Random(seed);
    String ctx = "seed " + seed;
    Model model = new Model();
    List<Request> sent = new ArrayList<>();
    Braid braid = Braid.open(dir, spec());
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      int txn = 0;
      for (int step = 0; step < 40; step++) {
        int op = rnd.nextInt(10);
        if (op < 3 || sent.isEmpty()) { // a new request with a key
          Request r = new Request("clicks", "req-" + step, randomEvents(rnd, 1 + rnd.nextInt(30), null, 0));
          check(braid, r, braid.ingest(r.stream(), r.events(), r.key()), model, ctx);
          sent.add(r);
        } else if (op < 5) { // new payments, some re-sent with an earlier id
          List<Map<String, Object>> events = randomEvents(rnd, 1 + rnd.nextInt(20), "tx-", txn);
          txn += events.size();
          for (int k = 0; k < events.size(); k++) {
            Map<String, String> earlier = model.userOfId.getOrDefault("pay", Map.of());
            if (rnd.nextInt(4) == 0 && !earlier.isEmpty()) {
              String old = "tx-" + rnd.nextInt(txn - events.size());
              if (earlier.containsKey(old)) { // the same event sent again: same id, same key
                events.set(k, event(earlier.get(old), old));
              }
            }
          }
          Request r = new Request("pay", rnd.nextBoolean() ? null : "pay-" + step, events);
          check(braid, r, braid.ingest(r.stream(), r.events(), r.key()), model, ctx);
          sent.add(r);
        } else if (op < 8) { // a retry of an earlier request
          Request r = sent.get(rnd.nextInt(sent.size()));
          IngestResult res = braid.ingest(r.stream(), r.events(), r.key());
          assertThat(res.duplicates()).as("%s: a retry appends nothing", ctx).isEqualTo(res.accepted());
          check(braid, r, res, model, ctx);
        } else if (op < 9) { // several senders race with one new request
          Request r = new Request("clicks", "race-" + step, randomEvents(rnd, 1 + rnd.nextInt(20), null, 0));
          Braid b = braid;
          List<Future<IngestResult>> fs = new ArrayList<>();
          for (int t = 0; t < 3; t++) {
            fs.add(pool.submit(() -> b.ingest(r.stream(), r.events(), r.key())));
          }
          int appended = 0;
          for (Future<IngestResult> f : fs) {
            IngestResult res = f.get();
            appended += res.accepted() - res.duplicates();
            check(braid, r, res, model, ctx);
          }
          assertThat(appended).as("%s: racing senders append the request once", ctx).isEqualTo(r.events().size());
          sent.add(r);
        } else { // restart: the index is rebuilt from the log
          braid.close();
          braid = Braid.open(dir, spec());
        }
      }
      assertThat(((Engine) braid).awaitCaughtUp(1, TimeUnit.MINUTES)).isTrue();
      for (String stream : List.of("pay", "clicks")) {
        List<String> ids = idsInLog(braid.log().stream(stream));
        Map<String, String> users = model.userOfId.getOrDefault(stream, Map.of());
        assertThat(ids).as("%s: ids in %s", ctx, stream).doesNotHaveDuplicates()
            .containsExactlyInAnyOrderElementsOf(users.keySet());
        Map<String, Long> perUser = new HashMap<>();
        users.values().forEach(u -> perUser.merge(u, 1L, Long::sum));
        String view = stream.equals("pay") ? "pay_by_user" : "clicks_by_user";
        for (Map.Entry<String, Long> e : perUser.entrySet()) {
          assertThat(braid.get(view, e.getKey()).values().get("n")).as("%s: %s of %s", ctx, view, e.getKey())
              .isEqualTo(e.getValue());
        }
      }
    } finally {
      pool.shutdownNow();
      braid.close();
    }
  }

  private static Map<String, Object> event(String user, String txn) {
    Map<String, Object> e = new HashMap<>();
    e.put("user", user);
    if (txn != null) {
      e.put("txn", txn);
    }
    e.put("ts", 1_700_000_000_000L);
    return e;
  }

  private static List<Map<String, Object>> randomEvents(Random rnd, int n, String txnPrefix, int firstTxn) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(event("u" + rnd.nextInt(7), txnPrefix == null ? null : txnPrefix + (firstTxn + i)));
    }
    return out;
  }

  /** Checks each event's acknowledged position against the first one given for its id, and records new ids. */
  private static void check(Braid braid, Request r, IngestResult res, Model model, String ctx) {
    assertThat(res.rejections()).as(ctx).isEmpty();
    assertThat(res.accepted()).as(ctx).isEqualTo(r.events().size());
    LogStream ls = braid.log().stream(r.stream());
    Map<Integer, Integer> next = new HashMap<>();
    synchronized (model) {
      for (int i = 0; i < r.events().size(); i++) {
        Map<String, Object> e = r.events().get(i);
        String user = (String) e.get("user");
        int p = ls.partitionFor(user.getBytes(StandardCharsets.UTF_8));
        int k = next.merge(p, 1, Integer::sum) - 1;
        String pos = p + "@" + res.positions().get(p).get(k);
        // a keyed request's ids also name its size (Ingestor.storedDifferently)
        String id = e.containsKey("txn") ? (String) e.get("txn") : r.key() + "#" + i + "/" + r.events().size();
        String first = model.positionOfId.putIfAbsent(r.stream() + "/" + id, pos);
        assertThat(pos).as("%s: position of id %s", ctx, id).isEqualTo(first == null ? pos : first);
        model.userOfId.computeIfAbsent(r.stream(), s -> new HashMap<>()).put(id, user);
      }
    }
  }

  private static List<String> idsInLog(LogStream s) {
    List<String> ids = new ArrayList<>();
    for (int p = 0; p < s.partitions(); p++) {
      try (LogReader r = s.reader(p, 0)) {
        while (r.position() < s.endOffset(p)) {
          RecordCursor c = r.poll();
          while (c.next()) {
            ids.add(c.id() == null ? "(no id at " + p + "@" + c.offset() + ")" : c.id());
          }
        }
      }
    }
    return ids;
  }
}
