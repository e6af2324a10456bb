package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.UnavailableException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.log.CorruptLogException;
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
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A byte flipped in the middle of a sealed segment while the engine runs, which no running layer
 * reads until a build does: the batch cycle, the kappa reprocess that meet it fail naming the file
 * (their versions failed with the same text), the current versions serve and take events, and
 * {@link Braid#faults()} names the stream as damaged until a batch cycle reads the restored log.
 */
class CorruptSegmentWhileRunningTest {

  private static final int REQUESTS = 150;
  private static final int EVENTS_PER_REQUEST = 20;

  @TempDir
  Path dir;

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("pay").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("amount", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build())
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("pay").groupBy("user").aggregate("n", "count").build())
        .view(kappa("n", "count"))
        .view(ViewSpec.builder("total").from("pay").groupBy("'all'").aggregate("n", "count").build())
        .view(ViewSpec.builder("clicks_per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .build();
  }

  private static ViewSpec kappa(String aggregate, String call) {
    return ViewSpec.builder("replayed").from("pay").groupBy("user").mode(ViewSpec.Mode.KAPPA)
        .aggregate(aggregate, call).build();
  }

  private static List<Map<String, Object>> events(String stream, int request) {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < EVENTS_PER_REQUEST; i++) {
      int n = request * EVENTS_PER_REQUEST + i;
      events.add(stream.equals("pay") ? Map.of("user", "u" + n % 5, "amount", n, "ts", 1_700_000_000_000L + n)
          : Map.of("user", "u" + n % 5, "ts", 1_700_000_000_000L + n));
    }
    return events;
  }

  private static long count(Braid b, String view, String user) {
    return (Long) b.get(view, user).values().get("n");
  }

  private static void awaitCount(Braid b, String view, String user, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (count(b, view, user) != n) {
      assertThat(System.nanoTime()).as("%s/%s reaches %d", view, user, n).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  private static String failure(Braid b, String view) {
    return b.versions(view).stream().filter(v -> v.state() == VersionState.FAILED).map(VersionInfo::failure)
        .reduce((a, c) -> c).orElseThrow();
  }

  @Test
  void shouldFailOnlyTheBuildsThatMeetTheDamageAndNameTheStreamUntilTheLogIsReadWholeAgain() throws Exception {
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      log.createStream("pay", StreamConfig.of(1).withSegmentBytes(64 * 1024));
      log.createStream("clicks", StreamConfig.of(1).withSegmentBytes(64 * 1024));
    }
    try (Braid b = Braid.open(dir, spec())) {
      for (int r = 0; r < REQUESTS; r++) {
        b.ingest("pay", events("pay", r));
        b.ingest("clicks", events("clicks", r));
      }
      Path segment;
      try (Stream<Path> files = Files.list(dir.resolve("log/pay/p00000"))) {
        List<Path> segments = files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
        assertThat(segments).as("sealed segments exist").hasSizeGreaterThan(1);
        segment = segments.get(0);
      }
      byte[] intact = Files.readAllBytes(segment);
      byte[] flipped = intact.clone();
      flipped[intact.length / 3] ^= 0x5A;
      Files.write(segment, flipped);
      assertThat(b.faults().none()).as("nothing has read the damage yet").isTrue();

      assertThatThrownBy(() -> b.runBatch("per_user")).isInstanceOf(CorruptLogException.class)
          .hasMessageContaining("corrupt log file " + segment);
      assertThat(failure(b, "per_user")).startsWith("corrupt log file " + segment + " at byte")
          .endsWith("restore " + segment + " from a backup");
      assertThat(b.status().views().stream().filter(v -> v.name().equals("per_user")).findFirst().orElseThrow()
          .batchFailures()).as("the failed cycle is counted").isEqualTo(1);
      long replaying = b.reprocess("replayed", kappa("total", "sum(amount)"), ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (b.versions("replayed").stream().noneMatch(v -> v.id() == replaying && v.state() == VersionState.FAILED)) {
        assertThat(System.nanoTime()).as("the reprocess fails").isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(failure(b, "replayed")).startsWith("corrupt log file " + segment + " at byte");

      long perUser = REQUESTS * EVENTS_PER_REQUEST / 5;
      assertThat(count(b, "per_user", "u1")).as("the current version serves").isEqualTo(perUser);
      assertThat(count(b, "replayed", "u1")).isEqualTo(perUser);
      b.ingest("pay", events("pay", REQUESTS)); // the stream takes events, the speed layer applies them
      awaitCount(b, "per_user", "u1", perUser + EVENTS_PER_REQUEST / 5);
      assertThat(b.faults().unavailable()).as("nothing is refused").isEmpty();
      assertThat(b.faults().damaged()).containsOnlyKeys("pay");
      assertThat(b.faults().damaged().get("pay")).contains("the log of stream 'pay' is damaged")
          .contains("corrupt log file " + segment).contains("restore " + segment);

      Files.write(segment, intact); // restored while the engine runs
      b.runBatch("total"); // a batch cycle of another view on the stream reads it whole

      assertThat(b.faults().none()).isTrue();
      b.runBatch("per_user");
      assertThat(count(b, "per_user", "u1")).isEqualTo(perUser + EVENTS_PER_REQUEST / 5);
    }
  }

  @Test
  void shouldRefuseTheStreamOnTheNextStartWhenTheDamageIsLeft() throws Exception {
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      log.createStream("pay", StreamConfig.of(1).withSegmentBytes(64 * 1024));
      log.createStream("clicks", StreamConfig.of(1).withSegmentBytes(64 * 1024));
    }
    Path segment;
    try (Braid b = Braid.open(dir, spec())) {
      for (int r = 0; r < REQUESTS; r++) {
        b.ingest("pay", events("pay", r));
      }
      try (Stream<Path> files = Files.list(dir.resolve("log/pay/p00000"))) {
        segment = files.filter(f -> f.toString().endsWith(".log")).sorted().toList().get(0);
      }
      byte[] flipped = Files.readAllBytes(segment);
      flipped[flipped.length / 3] ^= 0x5A;
      Files.write(segment, flipped);
      assertThatThrownBy(() -> b.runBatch("per_user")).isInstanceOf(CorruptLogException.class);
    }
    for (Path ckpt : Files.list(dir.resolve("views/per_user")).filter(f -> f.toString().endsWith(".ckpt")).toList()) {
      Files.delete(ckpt); // the start replays the log into the view: it reads the damage
    }
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_user", "u1")).isInstanceOf(UnavailableException.class)
          .hasMessageContaining("corrupt log file " + segment);
      assertThat(b.faults().unavailable()).containsKey("pay");
      assertThat(b.faults().damaged()).as("refused, not listed twice").isEmpty();
    }
  }
}
