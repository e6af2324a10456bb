package dev.braid.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.ViewResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo's answers are right: after a history load, a batch cycle and a live feed, the merged
 * reads equal a naive count over exactly the events the demo sent.
 */
class RetailDemoTest {

  @TempDir
  Path data;

  @Test
  void shouldServeMergedAnswersEqualToANaiveCountOfWhatWasSent() throws Exception {
    long now = 1_760_000_000_000L;
    long seed = 11;
    long history = 4_000;
    long live;
    try (Braid braid = Braid.open(data, RetailDemo.spec())) {
      RetailDemo demo = new RetailDemo(braid, seed);
      assertThat(demo.loadHistory(history, now, n -> { }, () -> false)).isEqualTo(history);
      assertThat(demo.batchAll()).extracting(RetailDemo.BatchRun::version).containsOnly(2L);
      demo.startLive(2_000, now);
      while (demo.sent() < history + 1_500) {
        Thread.sleep(20);
      }
      demo.close();
      live = demo.sent() - history;
      awaitNoLag(braid);

      Map<String, long[]> naive = new HashMap<>(); // store -> {sales, units, revenue}
      Map<String, Long> spendCount = new HashMap<>();
      ObjectMapper json = new ObjectMapper();
      count(new RetailDemo.Feed(seed, now - TimeUnit.HOURS.toMillis(24), history * 1000.0 / TimeUnit.HOURS.toMillis(24),
          now), history, naive, spendCount, json);
      count(new RetailDemo.Feed(seed + 1000, now, 2_000), live, naive, spendCount, json);

      assertThat(naive).containsKey("WEB");
      for (Map.Entry<String, long[]> e : naive.entrySet()) {
        ViewResult r = braid.get("sales_by_store", e.getKey());
        assertThat(r.values().get("sales")).as("sales of %s", e.getKey()).isEqualTo(e.getValue()[0]);
        assertThat(r.values().get("units")).as("units of %s", e.getKey()).isEqualTo(e.getValue()[1]);
        assertThat(r.values().get("revenue_cents")).as("revenue of %s", e.getKey()).isEqualTo(e.getValue()[2]);
        assertThat(r.asOf().version()).isEqualTo(2L);
      }
      for (String user : List.of("u-000000", "u-000001", "u-000002", "u-000003")) {
        ViewResult r = braid.get("spend_by_user", user);
        assertThat(r.values().get("n")).as("transactions of %s", user).isEqualTo(spendCount.getOrDefault(user, 0L));
      }
    }
  }

  /**
   * A history of the day before now ends by now: its exponential gaps sum to more than their mean by
   * minutes for a short one (a review saw a watermark 14 minutes ahead of the clock with
   * {@code --history 20000}), and the live feed then started behind the watermark.
   */
  @Test
  void shouldKeepTheHistoryInThePast() throws Exception {
    long now = 1_760_000_000_000L;
    long span = TimeUnit.HOURS.toMillis(24);
    ObjectMapper json = new ObjectMapper();
    for (long seed = 0; seed < 8; seed++) {
      RetailDemo.Feed feed = new RetailDemo.Feed(seed, now - span, 20_000 * 1000.0 / span, now);
      List<String> sales = new ArrayList<>();
      List<String> transactions = new ArrayList<>();
      feed.next(20_000, sales, transactions);
      long last = Long.MIN_VALUE;
      for (String line : sales) {
        last = Math.max(last, json.readTree(line).path("ts").asLong());
      }
      for (String line : transactions) {
        last = Math.max(last, json.readTree(line).path("ts").asLong());
      }
      assertThat(last).as("seed %d: the last event time", seed).isLessThanOrEqualTo(now)
          .isGreaterThan(now - TimeUnit.HOURS.toMillis(1));
    }
  }

  /**
   * The demo's status line reads the log, then {@code sent()}: whenever events are in the log,
   * {@code sent()} already counts them, or the line would show more in the log than sent.
   */
  @Test
  void shouldCountEventsAsSentBeforeTheyReachTheLog() throws Exception {
    try (Braid braid = Braid.open(data, RetailDemo.spec())) {
      java.util.concurrent.atomic.AtomicReference<RetailDemo> demo = new java.util.concurrent.atomic.AtomicReference<>();
      java.util.concurrent.atomic.AtomicLong appended = new java.util.concurrent.atomic.AtomicLong();
      List<String> claims = java.util.Collections.synchronizedList(new ArrayList<>());
      demo.set(new RetailDemo(braid, 3, (stream, events) -> {
        dev.braid.IngestResult r = braid.ingestText(stream, events, null);
        long inLog = appended.addAndGet(r.accepted());
        long sent = demo.get().sent();
        if (sent < inLog) {
          claims.add(inLog + " in the log, " + sent + " sent");
        }
        return r;
      }));
      demo.get().loadHistory(3_000, 1_760_000_000_000L, n -> { }, () -> false);
      demo.get().startLive(5_000, 1_760_000_000_000L);
      while (demo.get().sent() < 4_000) {
        Thread.sleep(10);
      }
      demo.get().close();
      assertThat(claims).as("moments with more in the log than sent").isEmpty();
      assertThat(appended.get()).isEqualTo(demo.get().sent());
    }
  }

  private static void count(RetailDemo.Feed feed, long events, Map<String, long[]> sales, Map<String, Long> users,
      ObjectMapper json) throws Exception {
    List<String> s = new ArrayList<>();
    List<String> t = new ArrayList<>();
    feed.next((int) events, s, t);
    for (String line : s) {
      JsonNode e = json.readTree(line);
      long[] acc = sales.computeIfAbsent(e.path("store").asText(), k -> new long[3]);
      acc[0]++;
      acc[1] += e.path("qty").asLong();
      acc[2] += e.path("qty").asLong() * e.path("price_cents").asLong();
    }
    for (String line : t) {
      users.merge(json.readTree(line).path("user_id").asText(), 1L, Long::sum);
    }
  }

  private static void awaitNoLag(Braid braid) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (braid.status().views().stream().mapToLong(Status.ViewStatus::lag).max().orElse(0) > 0) {
      assertThat(System.nanoTime()).as("speed layer catch-up").isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
