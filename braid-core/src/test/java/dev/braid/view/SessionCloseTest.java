package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When a session window is closed: the speed layer leaves an event out of a session view only when
 * its own {@code [t, t + gap)} ended at or before the lateness bound (watermark minus
 * {@code allowed_lateness}), so an event up to a gap before the bound is on time and can still join
 * a session whose last event is within the gap of it. A session is therefore closed (a
 * {@code close} in the changes feed, {@code final} in a read once a Base covers that) only when
 * the bound reaches its last event plus twice the gap; before, both treated its end
 * ({@code last + gap}) like a tumbling window's, and a closed or final session grew from an event
 * that was not late.
 */
class SessionCloseTest {

  static final long T = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();
  static final long S = 1_000;

  /** One partition, no {@code max_out_of_order}: sessions of 30 s with 10 s of lateness. */
  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s1").partitions(1).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("sess").from("s1").groupBy("user").window(WindowSpec.session(Duration.ofSeconds(30)))
            .allowedLateness(Duration.ofSeconds(10)).aggregate("n", "count").build())
        .build();
  }

  static void send(Engine b, String user, long ts) throws InterruptedException {
    assertThat(b.ingest("s1", List.of(Map.of("user", user, "ts", ts))).rejections()).isEmpty();
    assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
  }

  static long lateEvents(Engine b) {
    return b.status().views().stream().filter(v -> v.name().equals("sess")).findFirst().orElseThrow()
        .lateness().lateEvents();
  }

  static long finalUntil(Engine b) {
    return b.status().views().stream().filter(v -> v.name().equals("sess")).findFirst().orElseThrow()
        .lateness().finalUntilMillis();
  }

  static List<String> changesOf(Engine b, String user) {
    return b.changes("sess", 0, 100).stream().filter(e -> e.key().equals(user))
        .map(e -> e.kind() + " " + (e.start() - T) / S + "s-" + (e.end() - T) / S + "s n=" + e.values().get("n"))
        .toList();
  }

  /**
   * The review's first case: u1@10:00:00, u2@10:00:45 (bound 10:00:35) must not close u1's session
   * [10:00:00, 10:00:30): u1@10:00:20 is on time and extends it to n=2, ending 10:00:50. That
   * session closes once the bound reaches 10:01:20 (last + 2 gaps), with n=2 and no correction.
   */
  @Test
  void shouldNotCloseASessionThatAnEventOnTimeCanStillJoin(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("sess");
      feed.close(); // the passes below are the test's own
      send(b, "u1", T);
      send(b, "u2", T + 45 * S);
      feed.pass();
      assertThat(changesOf(b, "u1")).as("an event at 10:00:20 is still on time").isEmpty();

      send(b, "u1", T + 20 * S);
      assertThat(lateEvents(b)).as("10:00:20 is not late: 10:00:50 is after the bound 10:00:35").isZero();
      feed.pass();
      assertThat(changesOf(b, "u1")).isEmpty();

      send(b, "u2", T + 89 * S); // bound 10:01:19: an event at 10:00:50 would still join u1's session
      feed.pass();
      assertThat(changesOf(b, "u1")).isEmpty();

      send(b, "u2", T + 90 * S); // bound 10:01:20: no event on time can reach u1's session any more
      feed.pass();
      assertThat(changesOf(b, "u1")).containsExactly("CLOSE 0s-50s n=2");

      send(b, "u1", T + 49 * S); // late now: 10:01:19 <= 10:01:20
      assertThat(lateEvents(b)).isEqualTo(1);
      feed.pass();
      assertThat(changesOf(b, "u1")).as("a closed session changes only by a batch cycle").containsExactly(
          "CLOSE 0s-50s n=2");
    }
  }

  /**
   * The review's second case: after a batch cycle at a cut whose watermark is 10:01:05 (bound
   * 10:00:55), u1's session [10:00:00, 10:00:50) is not final, because u1@10:00:49 is still on
   * time and extends it to n=3, ending 10:01:19. A session whose last event plus two gaps is at or
   * below the bound is final, and stays unchanged.
   */
  @Test
  void shouldNotMarkASessionFinalThatAnEventOnTimeCanStillChange(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      send(b, "u0", T - 60 * S); // session [09:59:00, 09:59:30): closed at 10:00:00
      send(b, "u1", T);
      send(b, "u2", T + 45 * S);
      send(b, "u1", T + 20 * S);
      send(b, "u3", T + 65 * S);
      b.runBatch("sess");
      assertThat(windows(b, "u0")).containsExactly("-60s--30s n=1 FINAL");
      assertThat(windows(b, "u1")).containsExactly("0s-50s n=2 PROVISIONAL");
      assertThat(finalUntil(b)).as("sessions ending at or before 10:00:25 are final (bound 10:00:55 less the gap)")
          .isEqualTo(T + 25 * S);

      send(b, "u1", T + 49 * S);
      assertThat(lateEvents(b)).as("10:00:49 + 30s is after the bound 10:00:55").isZero();
      assertThat(windows(b, "u1")).containsExactly("0s-79s n=3 PROVISIONAL");
      send(b, "u0", T - 31 * S); // late: it would have joined the final session
      assertThat(lateEvents(b)).isEqualTo(1);
      assertThat(windows(b, "u0")).containsExactly("-60s--30s n=1 FINAL");
    }
  }

  /**
   * A late event that the speed layer leaves out but a batch cycle folds in merges two sessions
   * already closed: the first gets a correction with the merged end, the second a retraction of its
   * close, with that close's id and values. A restart emits neither again. A late event before the
   * merged session then moves its start: a close for the new start, a retraction of the correction
   * at the old one.
   */
  @Test
  void shouldRetractASessionThatALateEventMergesIntoAnother(@TempDir Path dir) throws Exception {
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("sess");
      feed.close(); // the passes below are the test's own
      send(b, "u1", T);
      send(b, "u1", T + 40 * S);
      send(b, "u2", T + 200 * S); // closes both of u1's sessions
      feed.pass();
      assertThat(changesOf(b, "u1")).containsExactly("CLOSE 0s-30s n=1", "CLOSE 40s-70s n=1");
      long secondClose = b.changes("sess", 0, 100).stream().filter(e -> e.start() == T + 40 * S)
          .findFirst().orElseThrow().id();

      send(b, "u1", T + 20 * S); // within a gap of both: late for the speed layer, not for the batch layer
      assertThat(lateEvents(b)).isEqualTo(1);
      feed.pass();
      assertThat(changesOf(b, "u1")).as("the speed layer left it out").hasSize(2);
      b.runBatch("sess");
      feed.pass();
      assertThat(changesOf(b, "u1")).containsExactly("CLOSE 0s-30s n=1", "CLOSE 40s-70s n=1",
          "CORRECTION 0s-70s n=3", "RETRACT 40s-70s n=1");
      ChangeEvent retraction = b.changes("sess", 0, 100).get(b.changes("sess", 0, 100).size() - 1);
      assertThat(retraction.kind()).isEqualTo(ChangeEvent.Kind.RETRACT);
      assertThat(retraction.corrects()).isEqualTo(secondClose);
      feed.pass();
      assertThat(changesOf(b, "u1")).as("nothing twice").hasSize(4);
    }
    try (Engine b = (Engine) Braid.open(dir, spec())) {
      ChangeFeed feed = b.changeFeed("sess");
      feed.close();
      feed.pass();
      assertThat(changesOf(b, "u1")).as("a restart retracts nothing again").hasSize(4);
      long correction = b.changes("sess", 0, 100).stream()
          .filter(e -> e.kind() == ChangeEvent.Kind.CORRECTION).findFirst().orElseThrow().id();

      send(b, "u1", T - 25 * S); // late again: the merged session now starts 25 s earlier
      b.runBatch("sess");
      feed.pass();
      assertThat(changesOf(b, "u1")).containsExactly("CLOSE 0s-30s n=1", "CLOSE 40s-70s n=1",
          "CORRECTION 0s-70s n=3", "RETRACT 40s-70s n=1", "CLOSE -25s-70s n=4", "RETRACT 0s-70s n=3");
      List<ChangeEvent> all = b.changes("sess", 0, 100);
      assertThat(all.get(all.size() - 1).corrects()).isEqualTo(correction);
      assertThat(windows(b, "u1")).containsExactly("-25s-70s n=4 FINAL");
      assertThat(changesOf(b, "u2")).as("other keys untouched").containsExactly();
    }
  }

  /**
   * The review's cases. A merge that moves a session's end but not its values (a max) is still
   * corrected: the feed compares the end too. A closed session that a late event joins to one still
   * open is retracted (it is open again) and closed anew, with its merged result, once it closes.
   */
  @Test
  void shouldCorrectAMovedEndAndRetractASessionReopenedUntilItClosesAgain(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("s1").partitions(1).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).field("v", FieldType.LONG).build())
        .view(ViewSpec.builder("sess").from("s1").groupBy("user").window(WindowSpec.session(Duration.ofSeconds(10)))
            .allowedLateness(Duration.ofSeconds(1)).aggregate("m", "max(v)").build())
        .build();
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("sess");
      feed.close();
      java.util.function.BiConsumer<String, long[]> send = (user, tv) -> {
        assertThat(b.ingest("s1", List.of(Map.of("user", user, "ts", T + tv[0] * S, "v", tv[1]))).rejections())
            .isEmpty();
      };
      java.util.function.Supplier<List<String>> changes = () -> b.changes("sess", 0, 100).stream()
          .filter(e -> e.key().equals("a"))
          .map(e -> e.kind() + " " + (e.start() - T) / S + "s-" + (e.end() - T) / S + "s m=" + e.values().get("m"))
          .toList();
      send.accept("a", new long[] {0, 5});
      send.accept("a", new long[] {15, 3});
      send.accept("z", new long[] {100, 0});
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      feed.pass();
      assertThat(changes.get()).containsExactly("CLOSE 0s-10s m=5", "CLOSE 15s-25s m=3");
      send.accept("a", new long[] {8, 1}); // late; merges both, the max stays 5
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      b.runBatch("sess");
      feed.pass();
      assertThat(changes.get()).containsExactly("CLOSE 0s-10s m=5", "CLOSE 15s-25s m=3", "CORRECTION 0s-25s m=5",
          "RETRACT 15s-25s m=3");

      send.accept("a", new long[] {120, 7});
      send.accept("z", new long[] {142, 0}); // [120 s, 130 s) closes at 130 + 10 + 1
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      feed.pass();
      assertThat(changes.get()).hasSize(5).last().isEqualTo("CLOSE 120s-130s m=7");
      send.accept("a", new long[] {129, 2}); // late: its own [129 s, 139 s) closed at 140 s
      send.accept("a", new long[] {137, 1}); // on time: a session open until 148 s
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      feed.pass();
      assertThat(changes.get()).as("the speed layer left 129 s out: nothing joined").hasSize(5);
      b.runBatch("sess"); // joins [120 s, 147 s), open
      feed.pass();
      assertThat(changes.get()).hasSize(6).last().isEqualTo("RETRACT 120s-130s m=7");
      feed.pass();
      assertThat(changes.get()).as("retracted once").hasSize(6);
      send.accept("z", new long[] {200, 0});
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      feed.pass();
      assertThat(changes.get()).hasSize(7).last().isEqualTo("CLOSE 120s-147s m=7");
      assertThat(b.changes("sess", 0, 100).get(b.changes("sess", 0, 100).size() - 1).corrects()).isEqualTo(-1);
    }
  }

  static List<String> windows(Engine b, String user) {
    return b.get("sess", user).windows().stream()
        .map(w -> (w.start() - T) / S + "s-" + (w.end() - T) / S + "s n=" + w.values().get("n") + " " + w.state())
        .toList();
  }
}
