package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.UnavailableException;
import dev.braid.event.FieldType;
import dev.braid.log.FileLog;
import dev.braid.log.StreamConfig;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A byte flipped in the middle of a sealed log segment, which opening the log does not read (it
 * checks each sealed segment's tail) but the start-up does when it rebuilds the dedup index or
 * replays the log into a view: only that stream and its views are refused, as for damage that
 * opening the log finds, and its data is never skipped (once the file is restored, every event
 * counts again).
 */
class CorruptSegmentStartTest {

  /** Small segments, so that each stream has sealed ones, each of many batches and index entries. */
  private static final long SEGMENT_BYTES = 64 * 1024;
  private static final int REQUESTS = 150;
  private static final int EVENTS_PER_REQUEST = 20;

  @TempDir
  Path dir;

  /**
   * {@code pay} has an id field and two views; {@code clicks} has none (its dedup index holds
   * idempotency keys only) and one view.
   */
  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("pay").partitions(1).key("user").id("txn").time("ts")
            .field("user", FieldType.STRING).field("txn", FieldType.STRING).field("amount", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("pay_per_user").from("pay").groupBy("user").aggregate("n", "count").build())
        .view(ViewSpec.builder("clicks_per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .view(ViewSpec.builder("pay_total").from("pay").groupBy("'all'").aggregate("n", "count").build())
        .build();
  }

  private static List<Map<String, Object>> events(String stream, int request) {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < EVENTS_PER_REQUEST; i++) {
      int n = request * EVENTS_PER_REQUEST + i;
      events.add(stream.equals("pay")
          ? Map.of("user", "u" + n % 5, "txn", "t" + n, "amount", n, "ts", 1_700_000_000_000L + n)
          : Map.of("user", "u" + n % 5, "ts", 1_700_000_000_000L + n));
    }
    return events;
  }

  private static long count(Braid b, String view, String user) {
    return (Long) b.get(view, user).values().get("n");
  }

  private void ingestIntoSmallSegments() {
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      log.createStream("pay", StreamConfig.of(1).withSegmentBytes(SEGMENT_BYTES));
      log.createStream("clicks", StreamConfig.of(1).withSegmentBytes(SEGMENT_BYTES));
    }
    try (Braid b = Braid.open(dir, spec())) {
      for (int r = 0; r < REQUESTS; r++) {
        assertThat(b.ingest("pay", events("pay", r)).accepted()).isEqualTo(EVENTS_PER_REQUEST);
        assertThat(b.ingest("clicks", events("clicks", r)).accepted()).isEqualTo(EVENTS_PER_REQUEST);
      }
    } // a clean close checkpoints the views at the log's end: the next start replays none of it
  }

  /** Flips a byte a third into the first sealed segment of {@code stream}; returns the segment and its intact bytes. */
  private Map.Entry<Path, byte[]> damageFirstSealedSegment(String stream) throws Exception {
    Path segment;
    try (Stream<Path> files = Files.list(dir.resolve("log").resolve(stream).resolve("p00000"))) {
      List<Path> segments = files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
      assertThat(segments).as("sealed segments exist").hasSizeGreaterThan(1);
      segment = segments.get(0);
    }
    byte[] intact = Files.readAllBytes(segment);
    byte[] flipped = intact.clone();
    flipped[intact.length / 3] ^= 0x5A; // far before the segment's last batch
    Files.write(segment, flipped);
    return Map.entry(segment, intact);
  }

  /**
   * The damage lies outside the dedup window, and one view on the stream lost its checkpoints, so
   * its start-up replay reads the segment: as the first view attached (the speed layer's own read
   * meets the damage) or as the second (the catch-up of a view behind the others does).
   */
  @ParameterizedTest(name = "replaying view: {0}")
  @ValueSource(strings = {"pay_per_user", "pay_total"})
  void shouldRefuseOnlyTheStreamWhoseDamageAViewsStartupReplayReads(String replaying) throws Exception {
    ingestIntoSmallSegments();
    Path segment = damageFirstSealedSegment("pay").getKey();
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve(replaying))) {
      for (Path f : files.filter(f -> f.toString().endsWith(".ckpt")).toList()) {
        Files.delete(f);
      }
    }
    // Two days later every event is older than the dedup window: the dedup index reads none of them.
    long twoDays = java.time.Duration.ofDays(2).toMillis();
    EngineOptions later = EngineOptions.defaults().withClock(() -> System.currentTimeMillis() + twoDays);

    try (Braid b = Braid.open(dir, spec(), later)) {
      for (String view : List.of("pay_per_user", "pay_total")) {
        assertThatThrownBy(() -> b.get(view, "u1")).as(view).isInstanceOf(UnavailableException.class)
            .hasMessageContaining("its stream 'pay' is refused")
            .hasMessageContaining("corrupt log file " + segment);
      }
      assertThatThrownBy(() -> b.ingest("pay", events("pay", REQUESTS))).isInstanceOf(UnavailableException.class);
      assertThat(b.faults().unavailable()).containsOnlyKeys("pay", "pay_per_user", "pay_total");
      assertThat(count(b, "clicks_per_user", "u1")).isEqualTo(REQUESTS * EVENTS_PER_REQUEST / 5);
    }
  }

  @ParameterizedTest(name = "damaged stream: {0}")
  @ValueSource(strings = {"pay", "clicks"})
  void shouldRefuseOnlyTheStreamWhoseSealedSegmentIsDamagedInTheMiddle(String damaged) throws Exception {
    String other = damaged.equals("pay") ? "clicks" : "pay";
    ingestIntoSmallSegments();
    long perUser = REQUESTS * EVENTS_PER_REQUEST / 5;
    Map.Entry<Path, byte[]> damage = damageFirstSealedSegment(damaged);
    Path segment = damage.getKey();
    byte[] intact = damage.getValue();

    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.ingest(damaged, events(damaged, REQUESTS)))
          .isInstanceOf(UnavailableException.class)
          .hasMessageContaining("stream '" + damaged + "' is unavailable")
          .hasMessageContaining("corrupt log file " + segment)
          .hasMessageContaining("restore " + segment + " from a backup");
      assertThatThrownBy(() -> b.get(damaged + "_per_user", "u1"))
          .isInstanceOf(UnavailableException.class)
          .hasMessageContaining("its stream '" + damaged + "' is refused")
          .hasMessageContaining(segment.toString());
      assertThat(b.faults().unavailable()).containsKeys(damaged, damaged + "_per_user")
          .doesNotContainKeys(other, other + "_per_user");
      assertThat(count(b, other + "_per_user", "u1")).as("the other stream's view serves").isEqualTo(perUser);
      assertThat(b.ingest(other, events(other, REQUESTS)).accepted()).as("the other stream takes events")
          .isEqualTo(EVENTS_PER_REQUEST);
    }

    Files.write(segment, intact); // the operator restores the file from a backup
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(b.faults().none()).isTrue();
      assertThat(count(b, damaged + "_per_user", "u1")).as("no event of the damaged segment was skipped")
          .isEqualTo(perUser);
    }
  }
}
