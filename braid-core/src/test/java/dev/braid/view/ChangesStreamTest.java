package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.Subscription;
import dev.braid.UnknownNameException;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The changes stream of a windowed view: a close per window once the watermark passes its end plus
 * the allowed lateness, a correction after a batch cycle folds in a late event, nothing twice across
 * passes and restarts, resumption by id, subscriptions and precise errors.
 */
class ChangesStreamTest {

  static final long T = 1_780_000_020_000L - 1_780_000_020_000L % 60_000; // a minute boundary
  static final long MIN = 60_000;

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("k").time("ts").field("k", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
            .allowedLateness(Duration.ofSeconds(10)).aggregate("n", "count").aggregate("total", "sum(x)").build())
        .view(ViewSpec.builder("all").from("s").groupBy("k").aggregate("n", "count").build())
        .build();
  }

  static void send(Engine b, String k, long ts, long x) throws InterruptedException {
    assertThat(b.ingest("s", List.of(Map.of("k", k, "ts", ts, "x", x))).rejections()).isEmpty();
    assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
  }

  /** A pass that closes more windows than one append chunk appends them chunk by chunk, each once, ids in order. */
  @Test
  void shouldEmitAPassOfManyClosesInChunksEachOnce(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // the passes below are the test's own
      List<Map<String, Object>> events = new java.util.ArrayList<>();
      int keys = 1_300; // more than two chunks of 512
      for (int i = 0; i < keys; i++) {
        events.add(Map.of("k", "k" + i, "ts", T + i, "x", (long) i));
      }
      assertThat(b.ingest("s", events).rejections()).isEmpty();
      send(b, "late-mover", T + 2 * MIN + 10_000, 0); // closes [T, T+1m)
      assertThat(feed.pass()).isEqualTo(keys);
      assertThat(feed.pass()).as("nothing twice").isZero();
      List<ChangeEvent> closes = b.changes("v", 0, 10_000);
      assertThat(closes).hasSize(keys);
      assertThat(closes).extracting(ChangeEvent::id).containsExactlyElementsOf(
          java.util.stream.LongStream.range(0, keys).boxed().toList());
      assertThat(closes).extracting(ChangeEvent::key).doesNotHaveDuplicates();
      assertThat(feed.emittedWindows()).isEqualTo(keys);
    }
  }

  /**
   * The feed's thread reads every key only when a pass can find something: after a version change,
   * when the watermark reaches the next window end (minus lateness), or once per sweep interval;
   * not at every move of the watermark inside one window.
   */
  @Test
  void shouldRunAPassOnlyWhenAWindowCanCloseAVersionChangedOrASweepIsDue(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // stops the feed's own thread, whose passes would race with the ones below
      ViewRuntime v = b.view("v");
      send(b, "a", T + 20_000, 1);
      long now = System.nanoTime();
      assertThat(feed.passDue(T + 20_000, v.current(), now)).as("first pass").isTrue();
      feed.pass(); // close line T+20s-10s, inside [T, T+1m): that window's end is the next close
      long after = System.nanoTime();
      Version current = v.current();
      assertThat(feed.passDue(T + 20_000, current, after)).as("nothing moved").isFalse();
      assertThat(feed.passDue(T + 30_000, current, after)).as("the watermark moved inside the window").isFalse();
      assertThat(feed.passDue(T + MIN + 9_999, current, after)).as("one ms before end + lateness").isFalse();
      assertThat(feed.passDue(T + MIN + 10_000, current, after)).as("the window's end plus lateness").isTrue();
      assertThat(feed.passDue(T + 30_000, current, after + TimeUnit.MILLISECONDS.toNanos(ChangeFeed.SWEEP_MILLIS)))
          .as("the sweep").isTrue();

      b.runBatch("v");
      assertThat(feed.passDue(T + 20_000, v.current(), System.nanoTime())).as("a new current version").isTrue();
      feed.pass();
      assertThat(feed.passDue(T + 20_000, v.current(), System.nanoTime())).isFalse();
    }
  }

  /**
   * Without {@code allowed_lateness} the speed layer adds an old event to a window already closed,
   * without moving the watermark: the next sweep finds it and emits its window's close (it waited for
   * the watermark to move, which may be never).
   */
  @Test
  void shouldSweepForAWindowThatAnOldEventMadeWithoutMovingTheWatermark(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("k").time("ts").field("k", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1)).aggregate("n", "count")
            .build())
        .build();
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // the passes below are the test's own
      ViewRuntime v = b.view("v");
      send(b, "a", T + 2 * MIN, 1); // watermark T+2m
      feed.pass();
      long sweepLater = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ChangeFeed.SWEEP_MILLIS);
      assertThat(feed.passDue(T + 2 * MIN, v.current(), sweepLater)).as("nothing new").isFalse();

      send(b, "old", T + 1_000, 1); // into [T, T+1m), closed: the watermark stays at T+2m

      assertThat(feed.passDue(T + 2 * MIN, v.current(), System.nanoTime())).as("not before the sweep").isFalse();
      assertThat(feed.passDue(T + 2 * MIN, v.current(), sweepLater)).as("the sweep").isTrue();
      feed.pass();
      assertThat(b.changes("v", 0, 100)).extracting(e -> e.key() + "@" + (e.start() - T) + " " + e.kind())
          .containsExactly("old@0 CLOSE"); // a's window [T+2m, T+3m) is still open
    }
  }

  @Test
  void shouldEmitEachClosedWindowOnceAndACorrectionAfterABatchCycle(@TempDir Path dir) throws Exception {
    long correctionId;
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      send(b, "a", T + 1_000, 1);
      send(b, "b", T + 2_000, 2);
      send(b, "a", T + MIN + 1_000, 3);
      feed.pass();
      assertThat(b.changes("v", 0, 100)).as("the watermark closed nothing yet").isEmpty();

      send(b, "c", T + 2 * MIN + 10_000, 4); // watermark T+2m10s: closes every window ending at or before T+2m
      feed.pass();
      feed.pass();
      List<ChangeEvent> closes = b.changes("v", 0, 100);
      assertThat(closes).extracting(ChangeEvent::kind).containsOnly(ChangeEvent.Kind.CLOSE);
      assertThat(closes).extracting(e -> e.key() + "@" + (e.start() - T) + "=" + e.values())
          .containsExactlyInAnyOrder("a@0={n=1, total=1}", "b@0={n=1, total=2}", "a@60000={n=1, total=3}");
      assertThat(closes).extracting(ChangeEvent::id).isSorted().doesNotHaveDuplicates();
      assertThat(closes).allSatisfy(e -> {
        assertThat(e.end()).isEqualTo(e.start() + MIN);
        assertThat(e.corrects()).isEqualTo(-1);
        assertThat(e.watermarkMillis()).isEqualTo(T + 2 * MIN + 10_000);
        assertThat(e.state()).isEqualTo(ViewResult.WindowState.PROVISIONAL); // no Base covers them yet
      });

      send(b, "a", T + 5_000, 10); // too late for the speed layer
      feed.pass();
      assertThat(b.changes("v", 3, 100)).as("a late event changes nothing before a batch cycle").isEmpty();
      b.runBatch("v");
      feed.pass();
      List<ChangeEvent> after = b.changes("v", 3, 100);
      assertThat(after).hasSize(1);
      ChangeEvent c = after.get(0);
      assertThat(c.kind()).isEqualTo(ChangeEvent.Kind.CORRECTION);
      assertThat(c.key()).isEqualTo("a");
      assertThat(c.start()).isEqualTo(T);
      assertThat(c.values()).isEqualTo(Map.of("n", 2L, "total", 11L));
      assertThat(c.state()).isEqualTo(ViewResult.WindowState.FINAL);
      long closeOfA = closes.stream().filter(e -> e.key().equals("a") && e.start() == T).findFirst().orElseThrow()
          .id();
      assertThat(c.corrects()).isEqualTo(closeOfA);
      correctionId = c.id();

      LinkedBlockingQueue<ChangeEvent> got = new LinkedBlockingQueue<>();
      try (Subscription s = b.subscribe("v", 0, "a", got::add)) {
        for (int i = 0; i < 3; i++) {
          assertThat(got.poll(10, TimeUnit.SECONDS)).isNotNull().extracting(ChangeEvent::key).isEqualTo("a");
        }
        send(b, "a", T + 3 * MIN + 20_000, 5); // closes c@2m only
        feed.pass();
        assertThat(got.poll(200, TimeUnit.MILLISECONDS)).as("the key filter drops c's close").isNull();
        assertThat(s.isClosed()).isFalse();
      }
    }
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      long end = feed.endId();
      feed.pass();
      assertThat(feed.endId()).as("a restart emits no window again").isEqualTo(end);
      LinkedBlockingQueue<ChangeEvent> got = new LinkedBlockingQueue<>();
      try (Subscription s = b.subscribe("v", correctionId, got::add)) {
        assertThat(got.poll(10, TimeUnit.SECONDS)).extracting(ChangeEvent::id).isEqualTo(correctionId);
        send(b, "d", T + 5 * MIN, 1); // closes a@3m
        feed.pass();
        ChangeEvent next = got.poll(10, TimeUnit.SECONDS);
        assertThat(next).isNotNull();
        assertThat(next.id()).isGreaterThan(correctionId);
        assertThat(s.nextId()).isGreaterThan(next.id() - 1);
      }
      assertThatThrownBy(() -> b.changes("nope", 0, 1)).isInstanceOf(UnknownNameException.class)
          .hasMessageContaining("unknown view 'nope'");
      assertThatThrownBy(() -> b.changes("all", 0, 1)).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("view 'all' has no window, so it has no changes stream");
      assertThatThrownBy(() -> b.subscribe("v", end + 100, e -> { })).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("change id " + (end + 100) + " is out of range for view 'v'");
      assertThatThrownBy(() -> b.changes("v", -1, 1)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  /**
   * Every built-in aggregation's result (longs, doubles, strings, nulls, sketches' lists and maps)
   * survives its trip through the changes log: after a restart the feed recognises each emitted
   * window from the decoded record (the hash of its values matches the live result's), so a pass
   * over every key emits no spurious correction.
   */
  @Test
  void shouldRecogniseEveryKindOfResultAfterARestart(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(2).key("k").time("ts").field("k", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).field("d", FieldType.DOUBLE)
            .field("name", FieldType.STRING).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").aggregate("total", "sum(x)").aggregate("dsum", "sum(d)")
            .aggregate("mean", "avg(d)").aggregate("lowest", "min(x)").aggregate("highest", "max(d)")
            .aggregate("firstName", "first(name)").aggregate("lastX", "last(x)")
            .aggregate("names", "count_distinct(name)").aggregate("top", "top_k(name, 3)")
            .aggregate("spread", "quantiles(d)").aggregate("bigOnes", "count where x > 50")
            .aggregate("bigMean", "avg(d) where x > 1000").build())
        .build();
    java.util.Random random = new java.util.Random(7);
    List<Map<String, Object>> events = new java.util.ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      events.add(Map.of("k", "k" + random.nextInt(20), "ts", T + random.nextInt(30) * MIN + random.nextInt(60_000),
          "x", (long) random.nextInt(100), "d", random.nextGaussian() * 1e3 / 7, "name", "n" + random.nextInt(50)));
    }
    events.add(Map.of("k", "late", "ts", T + 40 * MIN, "x", 0L, "d", 0.1, "name", "z")); // closes the first 30 minutes
    long emitted;
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      assertThat(b.ingest("s", events).rejections()).isEmpty();
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      feed.pass();
      emitted = feed.endId();
      assertThat(emitted).as("20 keys x 30 minutes, nearly every one with an event").isGreaterThan(500);
      List<ChangeEvent> all = b.changes("v", 0, (int) emitted);
      assertThat(all).extracting(ChangeEvent::kind).containsOnly(ChangeEvent.Kind.CLOSE);
      assertThat(all).extracting(e -> e.values().get("bigMean")).contains((Object) null);
      feed.pass();
      assertThat(feed.endId()).as("a second pass finds every window as emitted").isEqualTo(emitted);
    }
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      feed.pass();
      assertThat(b.changes("v", emitted, 100)).as("no correction after the restart").isEmpty();
    }
  }

  /**
   * A reprocess that makes the windows twice as long: the windows the new version does not have are
   * retracted (with the values they had), one it has at the same start is corrected with its new end,
   * one at a new start is closed, one at the same start that is open now is retracted until it closes
   * again, and a pass after that finds nothing more.
   */
  @Test
  void shouldRetractTheWindowsAReprocessRemoves(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // the passes below are the test's own
      for (int m = 0; m < 4; m++) {
        send(b, "a", T + m * MIN + 1_000, 1);
      }
      send(b, "b", T + 5 * MIN, 1); // closes a's four windows of a minute
      feed.pass();
      assertThat(b.changes("v", 0, 100)).extracting(e -> e.kind() + " " + (e.start() - T) / MIN)
          .containsExactly("CLOSE 0", "CLOSE 1", "CLOSE 2", "CLOSE 3");

      reprocessAndAwait(b, "v", ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(2))
          .allowedLateness(Duration.ofSeconds(10)).aggregate("n", "count").aggregate("total", "sum(x)").build());
      feed.pass();
      assertThat(b.changes("v", 4, 100)).extracting(e -> e.kind() + " " + e.key() + " " + (e.start() - T) / MIN
              + "-" + (e.end() - T) / MIN + " " + e.values().get("n") + " corrects " + e.corrects())
          .as("T is an odd minute: the windows of two minutes start at -1, 1 and 3; [3, 5) is open, so the "
              + "closed [3, 4) is withdrawn until it closes")
          .containsExactlyInAnyOrder("CLOSE a -1-1 1 corrects -1", "CORRECTION a 1-3 2 corrects 1",
              "RETRACT a 0-1 1 corrects 0", "RETRACT a 2-3 1 corrects 2", "RETRACT a 3-4 1 corrects 3");
      feed.pass();
      assertThat(b.changes("v", 9, 100)).isEmpty();
      send(b, "b", T + 6 * MIN, 1); // closes [3, 5): a close again
      feed.pass();
      assertThat(b.changes("v", 9, 100)).extracting(e -> e.kind() + " " + e.key() + " " + (e.start() - T) / MIN
          + "-" + (e.end() - T) / MIN + " " + e.values().get("n")).containsExactly("CLOSE a 3-5 1");
    }
  }

  static void reprocessAndAwait(Engine b, String view, ViewSpec definition) throws InterruptedException {
    long id = b.reprocess(view, definition, dev.braid.ReprocessOptions.defaults());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (b.versions(view).stream().noneMatch(v -> v.id() == id && v.state() == dev.braid.VersionState.CURRENT)) {
      assertThat(System.nanoTime()).as("version %d switches in", id).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /**
   * The review's cases: a reprocess that filters a key out retracts its windows though the new
   * version has no group of it; one that removes the window retracts every window; the changes log
   * stays readable after a restart, and nothing more is emitted.
   */
  @Test
  void shouldRetractTheWindowsOfAKeyAReprocessDropsAndAllWhenItRemovesTheWindow(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      send(b, "a", T + 1_000, 1);
      send(b, "b", T + 2_000, 2);
      send(b, "c", T + 2 * MIN, 3);
      feed.pass();
      assertThat(b.changes("v", 0, 100)).extracting(e -> e.kind() + " " + e.key()).containsExactly("CLOSE a",
          "CLOSE b");
      reprocessAndAwait(b, "v", ViewSpec.builder("v").from("s").filter("k != 'b'").groupBy("k")
          .tumbling(Duration.ofMinutes(1)).allowedLateness(Duration.ofSeconds(10)).aggregate("n", "count")
          .aggregate("total", "sum(x)").build());
      feed.pass();
      assertThat(b.changes("v", 2, 100)).extracting(e -> e.kind() + " " + e.key() + " " + e.values() + " " + e.corrects())
          .containsExactly("RETRACT b {n=1, total=2} 1");
      reprocessAndAwait(b, "v", ViewSpec.builder("v").from("s").groupBy("k").aggregate("n", "count").build());
      feed.pass();
      assertThat(b.changes("v", 3, 100)).extracting(e -> e.kind() + " " + e.key()).containsExactly("RETRACT a");
      feed.pass();
      assertThat(b.changes("v", 4, 100)).isEmpty();
    }
    PipelineSpec windowless = PipelineSpec.builder().stream(spec().stream("s"))
        .view(ViewSpec.builder("v").from("s").groupBy("k").aggregate("n", "count").build())
        .view(spec().view("all")).build();
    try (Engine b = (Engine) Braid.open(dir, windowless)) {
      ChangeFeed feed = b.changeFeed("v"); // its log is kept, so it is still read after a restart
      feed.close();
      feed.pass();
      assertThat(b.changes("v", 0, 100)).extracting(e -> e.kind() + " " + e.key()).containsExactly("CLOSE a",
          "CLOSE b", "RETRACT b", "RETRACT a");
    }
  }

  /**
   * The review's case: windows that retention evicted are forgotten by the feed, and a version that
   * keeps them again (a reprocess with a longer retain) must not close them a second time: the feed
   * takes what it emitted for them from its log again.
   */
  @Test
  void shouldNotCloseAgainTheWindowsAVersionWithALongerRetainKeeps(@TempDir Path dir) throws Exception {
    ViewSpec.Builder three = ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).retain(Duration.ofMinutes(3));
    PipelineSpec spec = PipelineSpec.builder().stream(spec().stream("s")).view(three.build()).build();
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      for (int m = 0; m < 10; m++) {
        send(b, "a", T + m * MIN + 1_000, 1);
      }
      feed.pass();
      assertThat(b.changes("v", 0, 100)).hasSize(9); // minutes 0-8; 9 is open
      assertThat(b.viewRuntime("v").evictExpiredWindows()).isPositive();
      feed.pass();
      assertThat(b.changes("v", 9, 100)).as("eviction is not retraction").isEmpty();
      reprocessAndAwait(b, "v", three.retain(Duration.ofHours(1)).build());
      feed.pass();
      assertThat(b.changes("v", 9, 100)).as("the windows kept again are as emitted").isEmpty();
      send(b, "a", T + 10 * MIN + 1_000, 1);
      feed.pass();
      assertThat(b.changes("v", 9, 100)).extracting(e -> e.kind() + " " + (e.start() - T) / MIN)
          .containsExactly("CLOSE 9");
    }
  }

  /**
   * A view without a window has no changes stream until a reprocess gives it one; then its feed
   * starts without a restart and closes the windows the watermark has passed.
   */
  @Test
  void shouldStartTheChangesFeedOfAViewThatAReprocessGaveAWindow(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.changes("all", 0, 10)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("view 'all' has no window");
      send(b, "a", T + 1_000, 1);
      send(b, "b", T + 2 * MIN, 1);
      reprocessAndAwait(b, "all", ViewSpec.builder("all").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
          .aggregate("n", "count").build());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      Thread.sleep(2 * Engine.FEED_CHECK_MILLIS); // the engine's own check starts the feed; no call needed
      while (b.changes("all", 0, 10).isEmpty()) {
        assertThat(System.nanoTime()).as("the feed closes a's first minute").isLessThan(deadline);
        Thread.sleep(20);
      }
      assertThat(b.changes("all", 0, 10)).extracting(e -> e.kind() + " " + e.key() + "@" + (e.start() - T) / MIN)
          .containsExactly("CLOSE a@0");
    }
  }

  /**
   * The speed layer marks a key for the feed only when a pass may need it: the event made a window,
   * or it is older than the close line and may have changed a closed one. At the line's edge: an
   * event 1 ms below it, into a window already closed, yields a correction; events at or above it,
   * into an open window, are not marked and still reach the close of their window.
   */
  @Test
  void shouldCorrectAClosedWindowFromAnEventJustBelowTheCloseLine(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("k").time("ts").field("k", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
            .aggregate("n", "count").aggregate("total", "sum(x)").build()) // no lateness: late events are folded
        .build();
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close(); // the passes below are the test's own
      send(b, "a", T + 1_000, 1);
      send(b, "b", T + MIN, 1); // watermark T+1m: the close line closes a@0
      feed.pass();
      assertThat(b.changes("v", 0, 10)).extracting(e -> e.key() + "@" + (e.start() - T) + "=" + e.values())
          .containsExactly("a@0={n=1, total=1}");

      send(b, "a", T + MIN - 1, 2); // 1 ms below the close line, into the closed window
      feed.pass();
      List<ChangeEvent> after = b.changes("v", 1, 10);
      assertThat(after).extracting(e -> e.kind() + " " + e.key() + "@" + (e.start() - T) + "=" + e.values())
          .containsExactly("CORRECTION a@0={n=2, total=3}");

      send(b, "a", T + MIN, 3); // at the line: a new window, marked as new
      feed.pass();
      send(b, "a", T + MIN + 1, 4); // into the open window, above the line: no mark needed
      feed.pass();
      assertThat(b.changes("v", 2, 10)).isEmpty();
      send(b, "b", T + 2 * MIN, 1); // closes a@1m and b@1m
      feed.pass();
      assertThat(b.changes("v", 2, 10)).extracting(e -> e.key() + "@" + (e.start() - T) + "=" + e.values())
          .containsExactlyInAnyOrder("a@60000={n=2, total=7}", "b@60000={n=1, total=1}");
    }
  }

  @Test
  void shouldEndASubscriptionWhoseConsumerThrowsAndKeepTheFailure(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      send(b, "a", T + 1_000, 1);
      send(b, "a", T + 2 * MIN, 1);
      b.changeFeed("v").pass();
      Subscription s = b.subscribe("v", 0, e -> {
        throw new IllegalStateException("boom");
      });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!s.isClosed() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertThat(s.isClosed()).isTrue();
      assertThat(s.failure()).hasMessage("boom");
      s.close();
    }
  }

  /**
   * A restart rebuilds what the feed emitted by hashing each record's values where they lie in the
   * log. Over seeded histories of session windows (late events merge sessions, so there are
   * corrections and retractions) with results of every shape, it remembers for every window the
   * id and hash that decoding the record and writing its values again gives; and a record that
   * does not start with its values (as another writer could lay it out) is decoded whole.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(longs = {1, 2, 3, 4})
  void shouldRecoverWhatDecodingEachRecordGives(long seed, @TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(2).key("k").time("ts").maxOutOfOrder(Duration.ofSeconds(5))
            .field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG)
            .field("d", FieldType.DOUBLE).field("name", FieldType.STRING).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").window(dev.braid.spec.WindowSpec.session(Duration.ofSeconds(20)))
            .aggregate("n", "count").aggregate("mean", "avg(d)").aggregate("first", "first(name)")
            .aggregate("top", "top_k(name, 2)").aggregate("spread", "quantiles(d)")
            .aggregate("odd", "avg(d) where x > 90").build())
        .build();
    java.util.Random rnd = new java.util.Random(seed);
    String msg = "seed " + seed;
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      long now = T;
      for (int step = 0; step < 12; step++) {
        List<Map<String, Object>> events = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
          now += rnd.nextInt(3_000);
          long ts = rnd.nextInt(5) == 0 ? now - rnd.nextInt(120_000) : now;
          events.add(Map.of("k", "k" + rnd.nextInt(6), "ts", ts, "x", (long) rnd.nextInt(100),
              "d", rnd.nextGaussian() * 1e4 / 3, "name", "\u00e9n\"" + rnd.nextInt(5)));
        }
        assertThat(b.ingest("s", events).rejections()).as(msg).isEmpty();
        assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).as(msg).isTrue();
        if (rnd.nextBoolean()) {
          b.runBatch("v");
        }
        feed.pass();
      }
      // a record another writer laid out with its kind first; it corrects the last window emitted
      List<ChangeEvent> written = b.changes("v", 0, Integer.MAX_VALUE);
      ChangeEvent lastOne = written.get(written.size() - 1);
      byte[] foreign = ("{\"kind\":\"correction\",\"key\":\"" + lastOne.key() + "\",\"start\":" + lastOne.start()
          + ",\"end\":" + (lastOne.end() + 1) + ",\"values\":{\"n\":7,\"mean\":0.5},\"state\":\"final\"}")
          .getBytes(java.nio.charset.StandardCharsets.UTF_8);
      dev.braid.log.RecordBatchBuilder one = new dev.braid.log.RecordBatchBuilder(1024, 1 << 20);
      byte[] key = lastOne.key().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      one.add(key, 0, key.length, foreign, 0, foreign.length, lastOne.start(), 0);
      b.log().stream("v" + ChangeFeed.SUFFIX).append(0, one);

      List<ChangeEvent> all = b.changes("v", 0, Integer.MAX_VALUE);
      assertThat(all).as(msg).extracting(ChangeEvent::kind).contains(ChangeEvent.Kind.RETRACT, ChangeEvent.Kind.CORRECTION);
      Map<String, long[]> expected = new java.util.HashMap<>(); // "key@start" -> {id, hash}
      ChangeJson json = new ChangeJson();
      for (ChangeEvent e : all) {
        long hash = e.kind() == ChangeEvent.Kind.RETRACT ? EmittedWindows.RETRACTED
            : ChangeFeed.windowHash(json.hash(e.values()), e.end());
        expected.put(e.key() + "@" + e.start(), new long[] {e.id(), hash});
      }
      long decodedBefore = feed.startStats()[2];
      feed.recover();
      assertThat(feed.startStats()[2] - decodedBefore).as(msg + ": only the foreign record decoded whole").isEqualTo(1);
      assertThat(feed.emittedWindows()).as(msg).isEqualTo(expected.size());
      for (ChangeEvent e : all) {
        assertThat(feed.emittedEntry(e.key(), e.start())).as(msg + ": window " + e.start() + " of " + e.key())
            .containsExactly(expected.get(e.key() + "@" + e.start()));
      }
      assertThat(feed.emittedEntry(lastOne.key(), lastOne.start())[0]).as(msg + ": the foreign record is read")
          .isEqualTo(all.get(all.size() - 1).id());
    }
  }
}
