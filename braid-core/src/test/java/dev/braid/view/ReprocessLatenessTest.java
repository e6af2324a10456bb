package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.Status;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reprocess that changes a view's {@code allowed_lateness}: status describes the serving
 * version's definition, not the spec file's, also after a restart.
 */
class ReprocessLatenessTest {

  static final long T = java.time.Instant.parse("2026-06-01T10:00:00Z").toEpochMilli();

  static ViewSpec view(Duration lateness) {
    ViewSpec.Builder b = ViewSpec.builder("per_minute").from("s").groupBy("user").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA);
    return (lateness == null ? b : b.allowedLateness(lateness)).build();
  }

  static PipelineSpec spec(ViewSpec view) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(1).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(view)
        .build();
  }

  static Status.ViewStatus status(Braid b) {
    return b.status().views().get(0);
  }

  static void reprocess(Braid b, ViewSpec definition) throws InterruptedException {
    long id = b.reprocess("per_minute", definition, ReprocessOptions.defaults());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (b.versions("per_minute").stream().noneMatch(v -> v.id() == id && v.state() == VersionState.CURRENT)) {
      assertThat(System.nanoTime()).as("version %d becomes current: %s", id, b.versions("per_minute"))
          .isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  @Test
  void shouldShowTheServingVersionsLatenessInStatusAfterAReprocessAndARestart(@TempDir Path dir) throws Exception {
    PipelineSpec file = spec(view(Duration.ofMinutes(1)));
    try (Braid b = Braid.open(dir, file)) {
      assertThat(b.ingest("s", List.of(Map.of("user", "u1", "ts", T + 90_000), Map.of("user", "u1", "ts", T)))
          .rejections()).isEmpty();
      assertThat(status(b).lateness().allowedLateness()).isEqualTo(Duration.ofMinutes(1));
      reprocess(b, view(Duration.ZERO));
      assertThat(status(b).lateness().allowedLateness()).as("the serving version's lateness").isEqualTo(Duration.ZERO);
      assertThat(status(b).specChanged()).as("a reprocess acknowledges the file").isFalse();
    }
    try (Braid b = Braid.open(dir, file)) {
      assertThat(status(b).lateness().allowedLateness()).as("after a restart").isEqualTo(Duration.ZERO);
      reprocess(b, view(null));
      assertThat(status(b).lateness()).as("a serving version without lateness").isNull();
    }
    try (Braid b = Braid.open(dir, file)) {
      assertThat(status(b).lateness()).as("after a restart").isNull();
    }
  }

  /**
   * A reprocess that narrows {@code allowed_lateness} replays the log and leaves out events the old
   * version counted: they are recorded in the late log for the view (also below an offset the old
   * version's late events reached), and status counts the serving version's late events, also after
   * a restart.
   */
  @Test
  void shouldRecordTheEventsANarrowerLatenessLeavesOutOnReprocess(@TempDir Path dir) throws Exception {
    PipelineSpec file = spec(view(Duration.ofMinutes(1)));
    try (Braid b = Braid.open(dir, file)) {
      // offset 1 is 30 s behind the window's end: on time within 1m, late within 0; offset 3 is late for both
      assertThat(b.ingest("s", List.of(Map.of("user", "u1", "ts", T + 90_000), Map.of("user", "u1", "ts", T),
          Map.of("user", "u1", "ts", T + 200_000), Map.of("user", "u1", "ts", T + 10_000))).rejections()).isEmpty();
      awaitLate(b, 1);
      assertThat(b.lateEvents("s", 0, 10)).extracting(e -> e.eventOffset()).containsExactly(3L);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> b.lateEvents("s", -1, 10))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("late events of stream 's': fromOffset and limit must not be negative, got -1 and 10");

      reprocess(b, view(Duration.ZERO));

      awaitLate(b, 2);
      // the old version's record is no longer under the current rule: a reader tells it apart
      assertThat(b.lateEvents("s", 0, 10)).extracting(e -> e.view() + "@" + e.eventOffset() + "/" + e.current())
          .containsExactlyInAnyOrder("per_minute@3/false", "per_minute@1/true", "per_minute@3/true");
    }
    try (Braid b = Braid.open(dir, file)) {
      assertThat(status(b).lateness().lateEvents()).as("after a restart").isEqualTo(2);
      assertThat(b.lateEvents("s", 0, 10)).as("the restart's replay records nothing again").hasSize(3);
    }
  }

  /**
   * The same on a log longer than a new version catches up on in lockstep with the speed layer
   * ({@link ViewRuntime#ATTACH_LAG}): its own replay threads fold most of it, and record what they
   * leave out (they once left the events out without recording any: status said 0).
   */
  @Test
  void shouldRecordTheEventsALongReplayLeavesOut(@TempDir Path dir) throws Exception {
    PipelineSpec file = PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(2).key("user").time("ts").field("user", FieldType.STRING)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(view(Duration.ofMinutes(1)))
        .build();
    int onTime = 4 * (int) ViewRuntime.ATTACH_LAG;
    List<Map<String, Object>> events = new java.util.ArrayList<>();
    for (int i = 0; i < onTime; i++) { // every partition's event times only go up: none late under any rule
      events.add(Map.of("user", "u" + (i % 8), "ts", T + i * 50L));
    }
    long lastTime = T + (onTime - 1) * 50L;
    // window [T + 120 s, T + 180 s) ends 20 s before the largest time: on time within 1m, late within 0
    long inWindow = T + 150_000;
    assertThat(lastTime).isBetween(T + 180_000, T + 239_999);
    for (int u = 0; u < 5; u++) {
      events.add(Map.of("user", "u" + u, "ts", inWindow));
    }
    try (Braid b = Braid.open(dir, file)) {
      assertThat(b.ingest("s", events).rejections()).isEmpty();
      reprocess(b, view(Duration.ZERO));
      awaitLate(b, 5);
      assertThat(b.lateEvents("s", 0, 100)).extracting(e -> e.key() + "@" + e.eventTimeMillis())
          .containsExactlyInAnyOrder("u0@" + inWindow, "u1@" + inWindow, "u2@" + inWindow, "u3@" + inWindow,
              "u4@" + inWindow);
    }
    try (Braid b = Braid.open(dir, file)) {
      assertThat(status(b).lateness().lateEvents()).as("after a restart").isEqualTo(5);
      assertThat(b.lateEvents("s", 0, 100)).as("the restart's replay records nothing again").hasSize(5);
    }
  }

  private static void awaitLate(Braid b, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (status(b).lateness().lateEvents() != n) {
      assertThat(System.nanoTime()).as("%d late events in status: %s", n, status(b).lateness()).isLessThan(deadline);
      Thread.sleep(2);
    }
  }
}
