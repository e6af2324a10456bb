package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.ReprocessOptions;
import dev.braid.Status;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecError;
import dev.braid.spec.SpecException;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Window retention of kappa views ({@code retain}): eviction, reads after it, status, validation. */
class WindowRetentionTest {

  static final long HOUR = 3_600_000L;
  static final long T0 = 1_700_000_000_000L / HOUR * HOUR;

  record Ev(String user, String merchant, long qty, long ts, int partition, long offset) {}

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.retention.seeds", 6));
  }

  static ViewSpec view(Duration retain) {
    return ViewSpec.builder("hourly").from("tx").groupBy("user").tumbling(Duration.ofHours(1))
        .aggregate("n", "count").aggregate("q", "sum(qty)").aggregate("last_m", "last(merchant)")
        .mode(ViewSpec.Mode.KAPPA).retain(retain).build();
  }

  static PipelineSpec spec(int partitions, ViewSpec view) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(view)
        .build();
  }

  static void ingest(Braid b, Random rnd, int n, long fromTs, long toTs, int partitions, List<Ev> out) {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("user", "u" + rnd.nextInt(8));
      e.put("merchant", "m" + rnd.nextInt(5));
      e.put("qty", (long) rnd.nextInt(9));
      e.put("ts", fromTs + (long) (rnd.nextDouble() * (toTs - fromTs)));
      batch.add(e);
    }
    IngestResult r = b.ingest("tx", batch);
    assertThat(r.rejections()).isEmpty();
    Map<Integer, Integer> taken = new HashMap<>();
    for (Map<String, Object> e : batch) {
      byte[] key = ((String) e.get("user")).getBytes(StandardCharsets.UTF_8);
      int p = Partitioner.partition(key, 0, key.length, partitions);
      int idx = taken.merge(p, 1, Integer::sum) - 1;
      synchronized (out) {
        out.add(new Ev((String) e.get("user"), (String) e.get("merchant"), (Long) e.get("qty"), (Long) e.get("ts"),
            p, r.positions().get(p).get(idx)));
      }
    }
  }

  /** The read equals the naive result over events below its asOf, for windows from {@code horizon} on. */
  static void check(ViewResult r, List<Ev> events, long horizon, String context) {
    TreeMap<Long, List<Ev>> naive = new TreeMap<>();
    for (Ev e : events) {
      long w = Math.floorDiv(e.ts(), HOUR) * HOUR;
      if (e.user().equals(r.key()) && w >= horizon && e.offset() < r.asOf().position().offset(e.partition())) {
        naive.computeIfAbsent(w, x -> new ArrayList<>()).add(e);
      }
    }
    String as = context + ": key " + r.key() + " as of " + r.asOf() + ", horizon " + horizon;
    assertThat(r.windows()).as(as + " windows").extracting(ViewResult.WindowValue::start)
        .containsExactlyElementsOf(naive.keySet());
    int i = 0;
    Comparator<Ev> order = Comparator.comparingLong(Ev::ts).thenComparingInt(Ev::partition)
        .thenComparingLong(Ev::offset);
    for (Map.Entry<Long, List<Ev>> e : naive.entrySet()) {
      ViewResult.WindowValue w = r.windows().get(i++);
      assertThat(w.values().get("n")).as(as + " n of " + w.start()).isEqualTo((long) e.getValue().size());
      assertThat(w.values().get("q")).as(as + " q of " + w.start())
          .isEqualTo(e.getValue().stream().mapToLong(Ev::qty).sum());
      assertThat(w.values().get("last_m")).as(as + " last_m of " + w.start())
          .isEqualTo(e.getValue().stream().max(order).map(Ev::merchant).orElseThrow());
    }
  }

  static Status.Retention retention(Braid b) {
    return b.status().views().get(0).retention();
  }

  static long groups(Engine e) {
    Version v = e.viewRuntime("hourly").current();
    long n = 0;
    for (PartitionDelta pd : v.delta.partitions) {
      n += pd.table.groupCount();
    }
    return n;
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldEvictWindowsPastTheRetentionAndServeTheRestExactlyWhileReadersRead(long seed, @TempDir Path dir)
      throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    List<Ev> events = new ArrayList<>();
    String context = "seed " + seed;
    try (Engine e = (Engine) Braid.open(dir, spec(partitions, view(Duration.ofHours(3))))) {
      ingest(e, rnd, 1500, T0, T0 + 12 * HOUR, partitions, events);
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(retention(e).horizonMillis()).isEqualTo(Long.MIN_VALUE);
      long before = groups(e);

      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      List<ViewResult> seen = new ArrayList<>();
      Random readRandom = new Random(rnd.nextLong());
      Thread reader = new Thread(() -> {
        try {
          while (!stop.get()) {
            seen.add(e.get("hourly", "u" + readRandom.nextInt(8)));
            java.util.concurrent.locks.LockSupport.parkNanos(20_000);
          }
        } catch (Throwable t) {
          failure.set(t);
        }
      });
      Random writeRandom = new Random(rnd.nextLong());
      reader.start();
      Thread writer = new Thread(() -> ingest(e, writeRandom, 200, T0 + 10 * HOUR, T0 + 12 * HOUR, partitions,
          events));
      writer.start();
      long evicted = e.viewRuntime("hourly").evictExpiredWindows();
      writer.join();
      stop.set(true);
      reader.join();
      assertThat(failure.get()).as(context).isNull();
      for (int i = 1; i < seen.size(); i++) {
        assertThat(seen.get(i).asOf().position().isAtOrAfter(seen.get(i - 1).asOf().position()))
            .as(context + ": position went back at read " + i).isTrue();
      }
      // the latest window starts at T0 + 11h: keep the three hours that end at T0 + 12h
      long horizon = T0 + 9 * HOUR;
      Status.Retention r = retention(e);
      assertThat(r.horizonMillis()).as(context).isEqualTo(horizon);
      assertThat(r.evictedWindows()).as(context).isEqualTo(evicted).isPositive();
      assertThat(r.retain()).isEqualTo(Duration.ofHours(3));
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      Set<String> kept = new HashSet<>();
      synchronized (events) {
        for (Ev x : events) {
          if (x.ts() >= horizon) {
            kept.add(x.user() + "@" + Math.floorDiv(x.ts(), HOUR));
          }
        }
      }
      assertThat(groups(e)).as(context + ": the state holds only the kept windows").isEqualTo(kept.size())
          .isLessThan(before);
      for (int u = 0; u < 8; u++) {
        check(e.get("hourly", "u" + u), events, horizon, context + ", after eviction");
      }

      // late events for evicted windows stay invisible; new hours move the horizon at the next eviction
      ingest(e, rnd, 50, T0, T0 + 2 * HOUR, partitions, events);
      ingest(e, rnd, 100, T0 + 12 * HOUR, T0 + 14 * HOUR, partitions, events);
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      for (int u = 0; u < 8; u++) {
        check(e.get("hourly", "u" + u), events, horizon, context + ", late events");
      }
      e.viewRuntime("hourly").evictExpiredWindows();
      assertThat(retention(e).horizonMillis()).isEqualTo(T0 + 11 * HOUR);
      for (int u = 0; u < 8; u++) {
        check(e.get("hourly", "u" + u), events, T0 + 11 * HOUR, context + ", second eviction");
      }
    }
    // the close checkpointed the compacted Delta with its horizon: a restart keeps the windows evicted
    try (Engine e = (Engine) Braid.open(dir, spec(partitions, view(Duration.ofHours(3))))) {
      assertThat(e.status().views().get(0).checkpoints().restoredFrom()).as(context).isNotNull();
      check(e.get("hourly", "u1"), events, T0 + 11 * HOUR, context + ", after restart");
      e.viewRuntime("hourly").evictExpiredWindows();
      check(e.get("hourly", "u1"), events, T0 + 11 * HOUR, context + ", evicted after restart");
    }
    // without a checkpoint the horizon is not known: a restart replays every window from the log
    // and evicts them again before it serves (a read or a changes feed's pass saw them until the
    // next periodic eviction before)
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve("hourly"))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.delete(f);
      }
    }
    try (Engine e = (Engine) Braid.open(dir, spec(partitions, view(Duration.ofHours(3))),
        EngineOptions.defaults().withCheckpointEvery(Duration.ZERO))) {
      check(e.get("hourly", "u1"), events, T0 + 11 * HOUR, context + ", after a restart without checkpoints");
      e.viewRuntime("hourly").evictExpiredWindows();
      check(e.get("hourly", "u1"), events, T0 + 11 * HOUR, context + ", evicted after restart");
    }
  }

  /**
   * One event far in the future (a mistyped year) does not move retention past the windows of every
   * key: the horizon goes no further than the stream's watermark lets, the least of its active
   * partitions'. Before, it followed the largest event time of any partition: every window was
   * evicted, and every later event fell below the horizon, for good (found by an event-time review).
   */
  @Test
  void shouldNotLetOneFarFutureEventEvictEveryWindow(@TempDir Path dir) throws Exception {
    List<Ev> events = new ArrayList<>();
    java.util.concurrent.atomic.AtomicLong clock =
        new java.util.concurrent.atomic.AtomicLong(System.currentTimeMillis());
    EngineOptions options = EngineOptions.defaults().withClock(clock::get);
    try (Engine e = Engine.open(dir, spec(2, view(Duration.ofHours(2))), options)) {
      ingest(e, new Random(7), 400, T0, T0 + 6 * HOUR, 2, events);
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      e.viewRuntime("hourly").evictExpiredWindows();
      long horizon = retention(e).horizonMillis();
      assertThat(horizon).isEqualTo(T0 + 4 * HOUR);

      long farFuture = java.time.Instant.parse("9999-01-01T00:00:00Z").toEpochMilli();
      IngestResult r = e.ingest("tx", List.of(Map.of("user", "u0", "merchant", "m0", "qty", 1L, "ts", farFuture)));
      assertThat(r.accepted()).isEqualTo(1);
      ingest(e, new Random(8), 100, T0 + 6 * HOUR, T0 + 7 * HOUR, 2, events);
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertRecentWindowsKept(e, events, "after a far-future event");
      // a quiet minute: every partition idle, when the stream's watermark takes the largest partition's (a
      // review found retention then evicted every window, for good); retention takes the least
      clock.addAndGet(Duration.ofMinutes(1).toMillis() + 1_000);
      assertRecentWindowsKept(e, events, "after a quiet minute");
    }
  }

  /** After an eviction: the horizon where the partitions' watermark puts it, and each user's reads exact. */
  private static void assertRecentWindowsKept(Engine e, List<Ev> events, String context) throws Exception {
    e.viewRuntime("hourly").evictExpiredWindows();
    assertThat(retention(e).horizonMillis()).as("the horizon " + context).isLessThanOrEqualTo(T0 + 5 * HOUR);
    for (int u = 1; u < 8; u++) {
      ViewResult read = e.get("hourly", "u" + u);
      assertThat(read.windows()).as("u%d keeps its recent windows %s", u, context).isNotEmpty();
      check(read, events, retention(e).horizonMillis(), context);
    }
  }

  @Test
  void shouldApplyTheRetentionOfAReprocessedDefinition(@TempDir Path dir) throws Exception {
    List<Ev> events = new ArrayList<>();
    try (Engine e = (Engine) Braid.open(dir, spec(2, view(null)))) {
      ingest(e, new Random(1), 600, T0, T0 + 6 * HOUR, 2, events);
      assertThat(retention(e)).isNull();
      assertThat(e.viewRuntime("hourly").evictExpiredWindows()).isZero();
      long v = e.reprocess("hourly", view(Duration.ofHours(2)), ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (e.versions("hourly").stream().noneMatch(x -> x.id() == v && x.state() == VersionState.CURRENT)) {
        assertThat(System.nanoTime()).as("version %d never became current", v).isLessThan(deadline);
        Thread.sleep(2);
      }
      // evicted before the switch: the first read of the new version already lacks what it drops
      assertThat(retention(e).evictedWindows()).isPositive();
      assertThat(e.viewRuntime("hourly").evictExpiredWindows()).as("nothing left to evict").isZero();
      check(e.get("hourly", "u2"), events, T0 + 4 * HOUR, "the new version's first read");
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      check(e.get("hourly", "u2"), events, T0 + 4 * HOUR, "reprocessed with retain");
    }
  }

  /**
   * A switch to a version with a retain: the changes feed's full pass after it reads only the
   * windows the version keeps (it evicts first). The new definition's results differ from the old
   * ones (one aggregation fewer), so every window the pass read would be corrected; before, the pass
   * read the new version before its first eviction and corrected windows below its horizon, which
   * reads then stopped serving (found by a black-box review).
   */
  @Test
  void shouldNotEmitWindowsBelowTheHorizonOfAVersionSwitchedTo(@TempDir Path dir) throws Exception {
    List<Ev> events = new ArrayList<>();
    try (Engine e = (Engine) Braid.open(dir, spec(1, view(null)))) {
      ingest(e, new Random(7), 600, T0, T0 + 6 * HOUR, 1, events);
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      List<dev.braid.ChangeEvent> before = settledChanges(e, 0);
      assertThat(before).as("windows closed by the old version").isNotEmpty();
      long next = before.get(before.size() - 1).id() + 1;
      ViewSpec shorter = ViewSpec.builder("hourly").from("tx").groupBy("user").tumbling(Duration.ofHours(1))
          .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).retain(Duration.ofHours(2)).build();
      long v = e.reprocess("hourly", shorter, ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (e.versions("hourly").stream().noneMatch(x -> x.id() == v && x.state() == VersionState.CURRENT)) {
        assertThat(System.nanoTime()).as("version %d never became current", v).isLessThan(deadline);
        Thread.sleep(2);
      }
      List<dev.braid.ChangeEvent> after = settledChanges(e, next);
      long horizon = e.viewRuntime("hourly").current().horizon;
      assertThat(horizon).as("the new version's horizon").isGreaterThan(T0);
      assertThat(after).as("corrections of the windows the new version keeps").isNotEmpty();
      assertThat(after).allSatisfy(c -> assertThat(c.start()).as(c.toString()).isGreaterThanOrEqualTo(horizon));
    }
  }

  /** The changes from id {@code from} once no new one has come for half a second. */
  private static List<dev.braid.ChangeEvent> settledChanges(Engine e, long from) throws InterruptedException {
    List<dev.braid.ChangeEvent> seen = e.changes("hourly", from, 1000);
    long quietSince = System.nanoTime();
    long deadline = quietSince + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() - quietSince < TimeUnit.MILLISECONDS.toNanos(500)) {
      assertThat(System.nanoTime()).as("the changes never settled").isLessThan(deadline);
      Thread.sleep(50);
      List<dev.braid.ChangeEvent> now = e.changes("hourly", from, 1000);
      if (now.size() != seen.size()) {
        seen = now;
        quietSince = System.nanoTime();
      }
    }
    return seen;
  }

  /**
   * A session whose fragments straddle the horizon is evicted whole or kept whole, never cut: an
   * out-of-order event makes a fragment that starts before the horizon and connects to a later
   * one. Evicting fragments by start would drop the first and serve the second as a session of
   * its own; by end (see {@code ViewProgram#retentionKey}) both stay, and the read hides the
   * session because it starts before the horizon.
   */
  @Test
  void shouldNotCutASessionThatStraddlesTheHorizon(@TempDir Path dir) throws Exception {
    long s = 1_000L;
    ViewSpec sessions = ViewSpec.builder("visits").from("tx").groupBy("user").window(
        dev.braid.spec.WindowSpec.session(Duration.ofSeconds(15))).aggregate("n", "count")
        .mode(ViewSpec.Mode.KAPPA).retain(Duration.ofMinutes(1)).build();
    PipelineSpec spec = PipelineSpec.builder()
        // 10 s out of order: a retain of 1m is at least the three gaps and that (see PipelineSpec.retainTooShort)
        .stream(StreamSpec.builder("tx").partitions(1).key("user").time("ts").maxOutOfOrder(Duration.ofSeconds(10))
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(sessions)
        .build();
    try (Engine e = (Engine) Braid.open(dir, spec)) {
      // a@100 s, then a@90 s: a second fragment starting at 90 s whose event is within the gap of 100 s
      for (long at : new long[] {100, 90}) {
        assertThat(e.ingest("tx", List.of(Map.of("user", "a", "ts", T0 + at * s))).rejections()).isEmpty();
        assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(e.get("visits", "a").windows()).extracting(ViewResult.WindowValue::start).containsExactly(T0 + 90 * s);
      // the latest session starts at 140 s: the horizon is 140 + 15 - 60 = 95 s, between the two fragments
      assertThat(e.ingest("tx", List.of(Map.of("user", "z", "ts", T0 + 140 * s))).rejections()).isEmpty();
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      e.viewRuntime("visits").evictExpiredWindows();
      assertThat(retention(e).horizonMillis()).isEqualTo(T0 + 95 * s);

      assertThat(e.get("visits", "a").windows()).as("the session starts at 90 s, before the horizon: hidden whole")
          .isEmpty();
      assertThat(e.get("visits", "z").windows()).extracting(ViewResult.WindowValue::start).containsExactly(T0 + 140 * s);
    }
  }

  /**
   * The horizon follows the end of the latest window, not its start: a session that goes on moves
   * it (its start stays where it began), and a zoned day ends when that day ends in its zone.
   */
  @Test
  void shouldMoveTheHorizonWithTheEndOfALongSession(@TempDir Path dir) throws Exception {
    long s = 1_000L;
    ViewSpec sessions = ViewSpec.builder("visits").from("tx").groupBy("user").window(
        dev.braid.spec.WindowSpec.session(Duration.ofSeconds(15))).aggregate("n", "count")
        .mode(ViewSpec.Mode.KAPPA).retain(Duration.ofMinutes(1)).build();
    try (Engine e = (Engine) Braid.open(dir, spec(1, sessions))) {
      List<Map<String, Object>> events = new ArrayList<>();
      for (long at = 0; at <= 200; at += 10) {
        events.add(Map.of("user", "a", "merchant", "m", "qty", 1L, "ts", T0 + at * s)); // one session, 0 to 200 s
      }
      events.add(Map.of("user", "c", "merchant", "m", "qty", 1L, "ts", T0 + 100 * s)); // [100 s, 115 s)
      assertThat(e.ingest("tx", events).rejections()).isEmpty();
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(e.get("visits", "c").windows()).hasSize(1);
      e.viewRuntime("visits").evictExpiredWindows();
      // the latest window is a's session, ending at 200 + 15 s: the horizon is 215 - 60 = 155 s
      assertThat(retention(e).horizonMillis()).isEqualTo(T0 + 155 * s);
      assertThat(e.get("visits", "c").windows()).as("c's session ended at 115 s, before the horizon").isEmpty();
    }
  }

  @Test
  void shouldKeepTheDayBeforeAShortDayOfItsZone(@TempDir Path dir) throws Exception {
    java.time.ZoneId ny = java.time.ZoneId.of("America/New_York"); // clocks go forward on 2027-03-14: a 23-hour day
    ViewSpec daily = ViewSpec.builder("daily").from("tx").groupBy("user").window(
        dev.braid.spec.WindowSpec.tumbling(Duration.ofDays(1), ny)).aggregate("n", "count")
        .mode(ViewSpec.Mode.KAPPA).retain(Duration.ofHours(25)).build(); // the least a zoned day may keep
    long day13 = java.time.LocalDate.of(2027, 3, 13).atStartOfDay(ny).toInstant().toEpochMilli();
    long day14 = java.time.LocalDate.of(2027, 3, 14).atStartOfDay(ny).toInstant().toEpochMilli();
    try (Engine e = (Engine) Braid.open(dir, spec(1, daily))) {
      assertThat(e.ingest("tx", List.of(Map.of("user", "a", "merchant", "m", "qty", 1L, "ts", day13 + HOUR),
          Map.of("user", "a", "merchant", "m", "qty", 1L, "ts", day14 + HOUR))).rejections()).isEmpty();
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      e.viewRuntime("daily").evictExpiredWindows();
      // the latest day ends at 2027-03-15 00:00 EDT; 25 hours before that is 2027-03-13 22:00 EST, in the 13th
      assertThat(retention(e).horizonMillis()).isEqualTo(day13);
      assertThat(e.get("daily", "a").windows()).extracting(ViewResult.WindowValue::start)
          .containsExactly(day13, day14);
    }
  }

  @Test
  void shouldRefuseRetainOutsideWindowedKappaViews() {
    ViewSpec lambda = ViewSpec.builder("hourly").from("tx").groupBy("user").tumbling(Duration.ofHours(1))
        .aggregate("n", "count").retain(Duration.ofDays(30)).build();
    assertThatThrownBy(() -> spec(1, lambda)).isInstanceOf(SpecException.class)
        .satisfies(x -> assertThat(((SpecException) x).errors()).extracting(SpecError::path)
            .containsExactly("views.hourly.retain"))
        .hasMessageContaining("evicts old windows; add mode: kappa, or remove retain");
    ViewSpec unwindowed = ViewSpec.builder("hourly").from("tx").groupBy("user").aggregate("n", "count")
        .mode(ViewSpec.Mode.KAPPA).retain(Duration.ofDays(30)).build();
    assertThatThrownBy(() -> spec(1, unwindowed)).isInstanceOf(SpecException.class)
        .hasMessageContaining("only a windowed kappa view evicts old windows; add a window, or remove retain");
    PipelineSpec ok = spec(1, view(Duration.ofHours(3)));
    assertThat(ok.parseView("hourly", "{from: tx, group_by: user, window: {tumbling: 1h}, mode: kappa, "
        + "retain: 30d, aggregate: {n: count}}", "t").retain()).isEqualTo(Duration.ofDays(30));
    assertThatThrownBy(() -> ok.parseView("hourly", "{from: tx, group_by: user, window: {tumbling: 1h}, "
        + "mode: kappa, retain: forever, aggregate: {n: count}}", "t")).isInstanceOf(SpecException.class)
        .satisfies(x -> assertThat(((SpecException) x).errors()).extracting(SpecError::path)
            .containsExactly("retain"));
  }

  /**
   * A retain too short for a window to close before it is evicted is refused, naming the least one:
   * the window's span, plus allowed_lateness, plus the stream's max_out_of_order. A definition the
   * catalog recorded before the rule is not refused at a restart.
   */
  @Test
  void shouldRefuseARetainThatEvictsWindowsBeforeTheyClose() {
    PipelineSpec base = PipelineSpec.builder().stream(StreamSpec.builder("tx").partitions(1).key("user").time("ts")
        .maxOutOfOrder(Duration.ofSeconds(30)).field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP)
        .build()).build();
    String tumbling = "{from: tx, group_by: user, window: {tumbling: 1h}, mode: kappa, allowed_lateness: 10m, "
        + "aggregate: {n: count}, retain: ";
    assertThat(base.parseView("h", tumbling + "4230s}", "t").retain()).isEqualTo(Duration.parse("PT1H10M30S"));
    assertThatThrownBy(() -> base.parseView("h", tumbling + "4229s}", "t")).isInstanceOf(SpecException.class)
        .satisfies(x -> assertThat(((SpecException) x).errors()).extracting(SpecError::path).containsExactly("retain"))
        .hasMessageContaining("must be at least 4230s (the window's 1h, plus allowed_lateness 10m, plus the "
            + "max_out_of_order 30s of stream 'tx'), got 4229s: a shorter retain evicts windows before the watermark "
            + "closes them");
    assertThatThrownBy(() -> base.parseView("h", "{from: tx, group_by: user, window: {hopping: {size: 1h, every: 10m}}, "
        + "mode: kappa, aggregate: {n: count}, retain: 1h}", "t")).isInstanceOf(SpecException.class)
        .hasMessageContaining("must be at least 6630s (two window sizes less the hop: 110m, plus the "
            + "max_out_of_order 30s of stream 'tx'), got 1h");
    assertThatThrownBy(() -> base.parseView("h", "{from: tx, group_by: user, window: {tumbling: 1d, zone: "
        + "Europe/Paris}, mode: kappa, aggregate: {n: count}, retain: 1d}", "t")).isInstanceOf(SpecException.class)
        .hasMessageContaining("must be at least 90030s (the window's 1d and an hour for a change of clocks");
    // a session of one event closes two gaps after it and is read while it starts after the latest end less retain
    String session = "{from: tx, group_by: user, window: {session: {gap: 1m}}, mode: kappa, aggregate: {n: count}, "
        + "retain: ";
    assertThatThrownBy(() -> base.parseView("h", session + "1m}", "t")).isInstanceOf(SpecException.class)
        .hasMessageContaining("must be at least 210s (three gaps of 1m for a session of one event (a longer session "
            + "needs its length more), plus the max_out_of_order 30s of stream 'tx'), got 1m");
    assertThat(base.parseView("h", session + "210s}", "t").retain()).isEqualTo(Duration.ofSeconds(210));
    assertThat(base.parseView("h", tumbling + "1h}", PipelineSpec.RECORDED).retain()).as("recorded before the rule")
        .isEqualTo(Duration.ofHours(1));
  }

  /**
   * A closed-window run with windows on both sides of the retention horizon is rewritten without
   * those below it: they count as evicted and leave the disk, and the next check has nothing to do.
   * The run once stayed as it was, so every check found it expired again and replaced the Delta,
   * evicting nothing, and its windows below the horizon were never counted.
   */
  @Test
  void shouldRewriteARunThatStraddlesTheHorizon(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    PipelineSpec spec = minuteSpec(Duration.ofMinutes(3));
    long t = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(1))) {
      ingestMinutes(e, t, 0, 6); // windows 0..5; 0..4 closed
      ViewRuntime rt = e.viewRuntime("m");
      assertThat(rt.evictExpiredWindows()).as("windows 0..2, in memory").isEqualTo(24);
      assertThat(e.spillClosedWindows()).as("windows 3 and 4 to a run").isEqualTo(16);
      ingestMinutes(e, t, 6, 8); // the horizon moves past window 4; windows 5 and 6 close
      assertThat(e.spillClosedWindows()).as("windows 5 and 6 to a run, merged with the first").isEqualTo(16);

      assertThat(rt.evictExpiredWindows()).as("windows 3 and 4, in the run").isEqualTo(16);
      Delta after = rt.current().delta;
      assertThat(rt.evictExpiredWindows()).isZero();
      assertThat(rt.current().delta).as("a check with nothing to evict leaves the Delta alone").isSameAs(after);
      Status.ViewStatus st = e.status().views().get(0);
      assertThat(st.retention().evictedWindows()).isEqualTo(40);
      assertThat(st.delta().runGroups()).as("the run holds only windows 5 and 6").isEqualTo(16);
      assertThat(e.get("m", "u0").windows()).hasSize(3); // windows 5..7
    }
  }

  /**
   * A run with less than half its span below the horizon is left whole until half is (its windows
   * below are read as gone meanwhile): rewriting a run over most of a long {@code retain} for each
   * window the horizon passed would rewrite it every window.
   */
  @Test
  void shouldRewriteAStraddlingRunOnlyOnceHalfOfItIsBelowTheHorizon(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    PipelineSpec spec = minuteSpec(Duration.ofMinutes(5));
    long t = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults().withCheckpointEvery(Duration.ZERO)
        .withDeltaSpillGroups(1))) {
      ingestMinutes(e, t, 0, 10); // windows 0..9
      ViewRuntime rt = e.viewRuntime("m");
      assertThat(rt.evictExpiredWindows()).as("windows 0..4, in memory").isEqualTo(40);
      e.spillClosedWindows(); // windows 5..8 to a run (or the engine's own check did)
      ingestMinutes(e, t, 10, 11); // the horizon passes window 5: a third of the run's span
      e.spillClosedWindows(); // window 9 to a run of its own
      Delta before = rt.current().delta;
      assertThat(rt.evictExpiredWindows()).isZero();
      assertThat(rt.current().delta).as("the run is left whole, the Delta alone").isSameAs(before);
      assertThat(e.get("m", "u0").windows()).as("window 5 reads as gone").hasSize(5); // windows 6..10

      ingestMinutes(e, t, 11, 12); // the horizon passes window 6: two thirds
      assertThat(rt.evictExpiredWindows()).as("windows 5 and 6, rewritten out of the run").isEqualTo(16);
      assertThat(e.status().views().get(0).retention().evictedWindows()).isEqualTo(56);
    }
  }

  /** A kappa view {@code m} of one-minute windows per user over stream {@code s}, keeping {@code retain}. */
  private static PipelineSpec minuteSpec(Duration retain) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("m").from("s").groupBy("user").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").allowedLateness(Duration.ZERO).mode(ViewSpec.Mode.KAPPA).retain(retain).build())
        .build();
  }

  private static void ingestMinutes(Engine e, long t, int fromMinute, int toMinute) throws Exception {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int m = fromMinute; m < toMinute; m++) {
      for (int k = 0; k < 8; k++) {
        batch.add(Map.of("user", "u" + k, "ts", t + m * 60_000L + 1_000));
      }
    }
    assertThat(e.ingest("s", batch).rejections()).isEmpty();
    assertThat(e.awaitCaughtUp(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
  }
}
