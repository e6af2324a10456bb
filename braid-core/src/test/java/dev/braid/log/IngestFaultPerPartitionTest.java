package dev.braid.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stream's ingest fault (what {@code /health} reports as {@code degraded}) belongs to the partition
 * whose append failed: an append that succeeds on another partition of the stream does not clear it
 * (health said {@code ok} while every request to the failing partition still failed); one that
 * succeeds on that partition does. The full disk is simulated with the partition's write seam (see
 * {@code FileLogStorageFaultTest}).
 */
class IngestFaultPerPartitionTest {

  /** A key of {@code stream}'s events that goes to partition {@code p} of {@code partitions}. */
  private static String keyOf(int p, int partitions) {
    for (int i = 0; ; i++) {
      byte[] k = ("u" + i).getBytes(StandardCharsets.UTF_8);
      if (Partitioner.partition(k, 0, k.length, partitions) == p) {
        return "u" + i;
      }
    }
  }

  /** A spec of one stream, clicks, keyed by user, with {@code partitions} and {@code durability}. */
  private static PipelineSpec clicks(int partitions, Durability durability) {
    return PipelineSpec.builder().stream(StreamSpec.builder("clicks").partitions(partitions).key("user")
        .durability(durability).field("user", FieldType.STRING).build()).build();
  }

  /** Partition {@code p} of clicks, whose write and fsync seams a test replaces. */
  private static FilePartition partition(Braid b, int p) {
    return ((FileLogStream) ((FileLog) b.log()).stream("clicks")).partition(p);
  }

  @Test
  void shouldKeepAPartitionsIngestFaultUntilAnAppendToThatPartitionSucceeds(@TempDir Path dir) {
    PipelineSpec spec = clicks(2, Durability.os());
    try (Braid b = Braid.open(dir, spec)) {
      FilePartition p0 = partition(b, 0);
      List<Map<String, ?>> toP0 = List.of(Map.of("user", keyOf(0, 2)));
      List<Map<String, ?>> toP1 = List.of(Map.of("user", keyOf(1, 2)));
      p0.writer = (channel, bytes, position) -> {
        throw new IOException("No space left on device");
      };
      assertThatThrownBy(() -> b.ingest("clicks", toP0)).isInstanceOf(LogWriteException.class);
      assertThat(b.faults().ingest().get("clicks")).startsWith("failing: ").contains("No space left on device");

      assertThat(b.ingest("clicks", toP1).accepted()).isEqualTo(1);
      assertThat(b.faults().ingest()).as("partition 0 still fails").containsKey("clicks");

      p0.writer = FilePartition.POSITIONAL; // space returns
      assertThat(b.ingest("clicks", toP0).accepted()).isEqualTo(1);
      assertThat(b.faults().ingest()).isEmpty();
      assertThat(b.faults().none()).isTrue();
    }
  }

  /**
   * A request whose append fails on one partition after another partition's events were appended
   * says how many were (they are in the stream, and a retry of the whole request without ids would
   * append them again); with an idempotency key, the retry appends only the others.
   */
  @Test
  void shouldSayHowManyEventsWereAppendedBeforeAPartitionsAppendFailed(@TempDir Path dir) {
    PipelineSpec spec = clicks(2, Durability.os());
    try (Braid b = Braid.open(dir, spec)) {
      FilePartition p1 = partition(b, 1);
      List<Map<String, ?>> both = List.of(Map.of("user", keyOf(0, 2)), Map.of("user", keyOf(1, 2)),
          Map.of("user", keyOf(0, 2)));
      p1.writer = (channel, bytes, position) -> {
        throw new IOException("No space left on device");
      };
      assertThatThrownBy(() -> b.ingest("clicks", both)).isInstanceOf(LogWriteException.class)
          .satisfies(e -> assertThat(((LogWriteException) e).appended()).as("partition 0's two").isEqualTo(2));
      assertThatThrownBy(() -> b.ingest("clicks", both, "k1")).isInstanceOf(LogWriteException.class)
          .satisfies(e -> assertThat(((LogWriteException) e).appended()).isEqualTo(2));
      p1.writer = FilePartition.POSITIONAL;
      dev.braid.IngestResult retry = b.ingest("clicks", both, "k1");
      assertThat(retry.accepted()).isEqualTo(3);
      assertThat(retry.duplicates()).as("partition 0's events were appended by the failed request").isEqualTo(2);
      assertThat(b.log().stream("clicks").end().offset(0)).as("2 without a key, 2 with one").isEqualTo(4);
      assertThat(b.log().stream("clicks").end().offset(1)).isEqualTo(1);
    }
  }

  /**
   * A request whose partition's fsync alone fails has its events in the log all the same (written
   * and published): the exception counts them, and a retry with the same idempotency key skips them
   * (their ids were released, so the retry appended them a second time).
   */
  @Test
  void shouldCountAndSkipOnRetryTheEventsWhoseFsyncAloneFailed(@TempDir Path dir) {
    PipelineSpec spec = clicks(1, Durability.fsync());
    try (Braid b = Braid.open(dir, spec)) {
      FilePartition p0 = partition(b, 0);
      List<Map<String, ?>> two = List.of(Map.of("user", "a"), Map.of("user", "b"));
      p0.forcer = channel -> {
        throw new IOException("No space left on device");
      };
      assertThatThrownBy(() -> b.ingest("clicks", two, "k1")).isInstanceOf(LogWriteException.class)
          .satisfies(e -> assertThat(((LogWriteException) e).appended()).as("written before the fsync").isEqualTo(2));
      assertThatThrownBy(() -> b.ingest("clicks", two)).isInstanceOf(LogWriteException.class)
          .satisfies(e -> assertThat(((LogWriteException) e).appended()).isEqualTo(2));
      p0.forcer = FilePartition.FDATASYNC;
      dev.braid.IngestResult retry = b.ingest("clicks", two, "k1");
      assertThat(retry.duplicates()).as("the keyed request's events were in the log").isEqualTo(2);
      assertThat(b.log().stream("clicks").end().offset(0)).as("2 keyed, 2 without a key, none again").isEqualTo(4);
    }
  }
}
