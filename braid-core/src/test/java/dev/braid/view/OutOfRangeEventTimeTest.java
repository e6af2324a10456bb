package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Status;
import dev.braid.event.EventEncoder;
import dev.braid.event.FieldType;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ingest refuses event times outside the years 0000-9999 ({@link EventEncoder#MIN_EVENT_TIME} ..
 * {@link EventEncoder#MAX_EVENT_TIME}), but a log written before that check may hold them. A window
 * cannot hold such an event (its start or end overflows), so windowed views skip and count it in
 * both layers, as they do an event an expression fails on, and it moves no watermark; views without
 * windows count it as any other event. Before, a zoned view's batch cycle failed on it every time
 * ("long overflow") and the watermark jumped to the year 292 million, making every later event late.
 * Marks saved with such a time ({@code event-times.json}) are not taken back either.
 */
class OutOfRangeEventTimeTest {

  private static final long T0 = 1_764_000_000_000L; // 2025-11-24
  private static final EngineOptions OPTIONS = new EngineOptions(2, 1L << 26).withCheckpointEvery(Duration.ZERO);

  @TempDir
  Path dir;

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("e").partitions(2).key("id").time("ts")
            .field("id", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("all").from("e").groupBy("id").aggregate("n", "count").build())
        .view(ViewSpec.builder("daily").from("e").groupBy("id")
            .window(WindowSpec.tumbling(Duration.ofDays(1), ZoneId.of("Europe/Berlin"))).aggregate("n", "count").build())
        .view(ViewSpec.builder("minutes").from("e").groupBy("id")
            .window(WindowSpec.tumbling(Duration.ofMinutes(1))).aggregate("n", "count").build())
        .build();
  }

  @Test
  void shouldSkipAndCountEventTimesOutsideTheYearsInWindowedViewsOnly() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      e.ingest("e", List.of(Map.of("id", "a", "ts", T0), Map.of("id", "a", "ts", T0 + 1_000)));
    }
    // what a build before the ingest check could append: the time field in range, the record's time not
    StreamSpec stream = spec().streams().get("e");
    EventEncoder encoder = new EventEncoder(stream.schema());
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.stream("e");
      for (long t : new long[] {Long.MAX_VALUE, Long.MIN_VALUE + 1, EventEncoder.MAX_EVENT_TIME + 1}) {
        assertThat(encoder.encode(Map.of("id", "a", "ts", T0 + 2_000), 0, out)).isNull();
        RecordBatchBuilder b = new RecordBatchBuilder(4096, s.config().maxRecordBytes());
        b.add(out.key(), java.util.Arrays.copyOf(out.value(), out.valueLength()), t, T0);
        s.append(Partitioner.partition(out.key(), 0, out.key().length, 2), b);
      }
    }
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      e.ingest("e", List.of(Map.of("id", "a", "ts", T0 + 3_000)));
      awaitPosition(e, 6);
      check(e, "the Delta");
      for (String view : List.of("all", "daily", "minutes")) {
        e.runBatch(view, true); // a zoned view's cycle failed here before
      }
      check(e, "the Base");
    }
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      awaitPosition(e, 6);
      check(e, "the Base after a restart");
    }
    // marks saved by a build that took such times (the file existed a day before the ingest check)
    java.nio.file.Files.writeString(data.resolve(EventTimeMarks.FILE), "{\"format\": 1, \"streams\": {\"e\": [[0, "
        + Long.MAX_VALUE + "], [0, " + Long.MAX_VALUE + "]]}, \"watermarks\": {\"e\": " + (Long.MAX_VALUE - 1) + "}}");
    try (Engine e = Engine.open(data, spec(), OPTIONS)) {
      awaitPosition(e, 6);
      check(e, "marks out of range in event-times.json");
      assertThat(e.status().streams().get(0).watermark().millis()).as("the stream's watermark")
          .isLessThanOrEqualTo(T0 + 3_000);
    }
  }

  private static void check(Engine e, String what) {
    assertThat(e.get("all", "a").values().get("n")).as(what).isEqualTo(6L);
    assertThat(e.get("daily", "a").values().get("n")).as(what).isEqualTo(3L);
    assertThat(e.get("minutes", "a").values().get("n")).as(what).isEqualTo(3L);
    Status st = e.status();
    for (Status.ViewStatus v : st.views()) {
      assertThat(v.skippedEvents()).as(what + ": " + v.name()).isEqualTo(v.name().equals("all") ? 0 : 3);
    }
    Status.Watermark wm = st.streams().get(0).watermark();
    assertThat(wm.partitions()).as(what).allSatisfy(p ->
        assertThat(p.maxEventTimeMillis()).isLessThanOrEqualTo(T0 + 3_000));
  }

  private static void awaitPosition(Engine e, long events) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (e.status().views().stream().anyMatch(v -> java.util.Arrays.stream(v.position().toArray()).sum() < events)) {
      assertThat(System.nanoTime()).as("the speed layer reached " + events + " events").isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
