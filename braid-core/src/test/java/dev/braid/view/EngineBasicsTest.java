package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.VersionInfo;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.CorruptLogException;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scheduled batch cycles, batch reads, and a damaged Base refused with its path. */
class EngineBasicsTest {

  @TempDir
  Path dir;

  static PipelineSpec spec(Duration batchEvery) {
    ViewSpec.Builder view = ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count");
    if (batchEvery != null) {
      view.batchEvery(batchEvery);
    }
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(view.build())
        .build();
  }

  private static void clicks(Braid b, String user, int n) {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(Map.of("user", user, "ts", 1_700_000_000_000L + i));
    }
    assertThat(b.ingest("clicks", events).accepted()).isEqualTo(n);
  }

  private static void awaitCount(Braid b, String user, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Long.valueOf(n).equals(b.get("per_user", user).values().get("n"))) {
      assertThat(System.nanoTime()).as("count of %s reaches %d", user, n).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /**
   * A server with many quiet views: a view's Delta before its first event is a few KiB per partition
   * (it was 290 KiB per partition, 1.2 MB for this view), and it grows as keys come; after a batch
   * cycle and after a restart without a checkpoint too.
   */
  @Test
  void shouldHoldLittleMemoryForAViewWithoutEventsAndGrowAsKeysCome() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      long empty = b.status().views().get(0).deltaBytes();
      assertThat(empty).as("two partitions, no keys").isLessThan(2 * 48 << 10);
      for (int u = 0; u < 3_000; u++) {
        clicks(b, "u" + u, 1);
      }
      // every key, not the last one's: the two partitions' speed layers fold at their own pace
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (b.status().views().get(0).deltaKeys() < 3_000) {
        assertThat(System.nanoTime()).as("the Delta reaches 3,000 keys").isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(b.get("per_user", "u0").values().get("n")).isEqualTo(1L);
      assertThat(b.get("per_user", "u2999").values().get("n")).isEqualTo(1L);
      assertThat(b.status().views().get(0).deltaKeys()).isEqualTo(3_000);
      assertThat(b.status().views().get(0).deltaBytes()).as("grown for 3,000 keys").isGreaterThan(empty * 4);
    }
    Path fresh = dir.resolve("second");
    try (Braid b = Braid.open(fresh, spec(null))) {
      b.runBatch("per_user");
      assertThat(b.status().views().get(0).deltaBytes()).as("the Delta a batch cycle attaches, without events")
          .isLessThan(2 * 192 << 10);
    }
  }

  @Test
  void shouldRunBatchCyclesOnTheViewsSchedule() throws Exception {
    try (Braid b = Braid.open(dir, spec(Duration.ofMillis(100)))) {
      clicks(b, "ann", 3);
      ViewResult first = awaitBaseOver(b, 3);
      clicks(b, "ann", 2);
      ViewResult second = awaitBaseOver(b, 5);
      assertThat(second.asOf().version()).isGreaterThan(first.asOf().version());
      assertThat(second.values().get("n")).isEqualTo(5L);
    }
  }

  /**
   * Two batch requests at once: the second waits for the first's cycle, finds no event after its
   * cut and says it built nothing, instead of claiming the version the first built.
   */
  @Test
  void shouldSayWhichOfTwoConcurrentBatchRequestsBuiltTheVersion() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      clicks(b, "ann", 3);
      ViewRuntime runtime = ((Engine) b).viewRuntime("per_user");
      java.util.concurrent.atomic.AtomicReference<Object> second = new java.util.concurrent.atomic.AtomicReference<>();
      Thread other = new Thread(() -> {
        try {
          second.set(b.runBatchCycle("per_user"));
        } catch (Throwable t) {
          second.set(t);
        }
      });
      runtime.beforeBatchSwap = () -> { // the first cycle has built its version; the second comes to wait
        other.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!runtime.batchLockQueued(other) && System.nanoTime() < until) {
          Thread.onSpinWait();
        }
      };
      dev.braid.BatchCycle first = b.runBatchCycle("per_user");
      other.join(30_000);
      assertThat(first.built()).isTrue();
      assertThat(second.get()).isEqualTo(new dev.braid.BatchCycle(first.version(), false));
      clicks(b, "ann", 1);
      dev.braid.BatchCycle third = b.runBatchCycle("per_user");
      assertThat(third.built()).isTrue();
      assertThat(third.version()).isGreaterThan(first.version());
      assertThat(b.runBatch("per_user")).isEqualTo(third.version());
    }
  }

  /** Waits until a scheduled cycle made a version whose Base covers {@code events} clicks. */
  private static ViewResult awaitBaseOver(Braid b, long events) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    ViewResult r = b.get("per_user", "ann");
    while (r.asOf().cut().offset(0) + r.asOf().cut().offset(1) < events) {
      assertThat(System.nanoTime()).as("a scheduled cycle builds a Base over %d clicks; last read %s", events, r)
          .isLessThan(deadline);
      Thread.sleep(20);
      r = b.get("per_user", "ann");
    }
    return r;
  }

  @Test
  void shouldKeepTheCurrentVersionAndItsBackupsWhenNoEventCameSinceItsCut() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      clicks(b, "ann", 3);
      long first = b.runBatch("per_user");
      clicks(b, "bob", 1);
      long second = b.runBatch("per_user");
      assertThat(second).isGreaterThan(first);
      List<VersionInfo> before = b.versions("per_user");

      assertThat(b.runBatch("per_user")).as("no event since version %d's cut", second).isEqualTo(second);
      assertThat(b.runBatch("per_user")).isEqualTo(second);

      assertThat(b.versions("per_user")).as("no version made, none retired").isEqualTo(before);
      assertThat(before).anySatisfy(v -> {
        assertThat(v.id()).isEqualTo(first);
        assertThat(v.state()).isEqualTo(dev.braid.VersionState.BACKUP);
      });
      assertThat(((Engine) b).runBatch("per_user", true)).as("a forced cycle builds one").isGreaterThan(second);
      clicks(b, "cat", 1);
      long third = b.runBatch("per_user");
      assertThat(b.get("per_user", "cat").asOf().version()).isEqualTo(third);
      assertThat(b.get("per_user", "ann").values().get("n")).isEqualTo(3L);
    }
  }

  @Test
  void shouldListTheBaseKeysOfABackupAfterARestart() throws Exception {
    long first;
    long second;
    try (Braid b = Braid.open(dir, spec(null))) {
      clicks(b, "ann", 1);
      clicks(b, "bob", 1);
      first = b.runBatch("per_user");
      clicks(b, "cat", 1);
      second = b.runBatch("per_user");
    }
    try (Braid b = Braid.open(dir, spec(null))) {
      assertThat(b.versions("per_user")).filteredOn(v -> v.id() == first || v.id() == second)
          .extracting(VersionInfo::id, VersionInfo::state, VersionInfo::baseKeys)
          .containsExactly(org.assertj.core.groups.Tuple.tuple(first, dev.braid.VersionState.BACKUP, 2L),
              org.assertj.core.groups.Tuple.tuple(second, dev.braid.VersionState.CURRENT, 3L));
    }
  }

  @Test
  void shouldAnswerManyKeysAtOnceEachWithItsAsOf() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      clicks(b, "ann", 2);
      clicks(b, "bob", 5);
      awaitCount(b, "bob", 5);
      awaitCount(b, "ann", 2);
      b.runBatch("per_user");
      clicks(b, "ann", 1);
      awaitCount(b, "ann", 3);

      List<ViewResult> rs = b.getAll("per_user", List.of("bob", "nobody", "ann"));

      assertThat(rs).extracting(ViewResult::key).containsExactly("bob", "nobody", "ann");
      assertThat(rs).extracting(r -> r.values().get("n")).containsExactly(5L, 0L, 3L);
      assertThat(rs).extracting(ViewResult::found).containsExactly(true, false, true);
      assertThat(rs).allSatisfy(r -> assertThat(r.asOf().version()).isEqualTo(2L));
    }
  }

  @Test
  void shouldReportTheIngestRateOfEachStream() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      clicks(b, "ann", 40);
      b.ingest("clicks", List.of(Map.of("ts", 1L))); // no key: rejected
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      // Rates count complete seconds only: the events show once their second is over.
      while (b.status().streams().get(0).eventsPerSecond() == 0 || b.status().streams().get(0).rejectedPerSecond() == 0) {
        assertThat(System.nanoTime()).as("the rate appears within a second or two (30 s: a hang guard for a busy runner)").isLessThan(deadline);
        Thread.sleep(50);
      }
      assertThat(b.status().streams().get(0).eventsPerSecond()).isEqualTo(4.0);
      assertThat(b.status().streams().get(0).rejectedPerSecond()).isEqualTo(0.1);
    }
  }

  @Test
  void shouldRefuseABaseWithAFlippedBitNamingTheFile() throws Exception {
    try (Braid b = Braid.open(dir, spec(null))) {
      for (int u = 0; u < 50; u++) {
        clicks(b, "user-" + u, 1 + u % 3);
      }
      awaitCount(b, "user-49", 2);
      b.runBatch("per_user");
    }
    Path base;
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve("per_user"))) {
      base = files.filter(p -> p.getFileName().toString().endsWith(".base")).findFirst().orElseThrow();
    }
    Random random = new Random(7);
    long size = Files.size(base);
    try (FileChannel ch = FileChannel.open(base, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long at = 64 + random.nextInt((int) size - 64); // in the body, past the header
      ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, at);
      one.put(0, (byte) (one.get(0) ^ (1 << random.nextInt(8)))).rewind();
      ch.write(one, at);
    }

    assertThatThrownBy(() -> BaseFile.open(base)).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(base.toString());
  }

  /**
   * A stream that no view reads (a raw archive, a table's source to be) is not read by a speed
   * layer: a restart after events came to it does not wait for one to catch up (it waited for ever),
   * and status shows no watermark for it.
   */
  @Test
  void shouldRestartPromptlyWithEventsInAStreamThatNoViewReads() throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .stream(StreamSpec.builder("pings").partitions(4).key("host").field("host", FieldType.STRING).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .build();
    try (Braid b = Braid.open(dir, spec)) {
      assertThat(b.ingest("pings", List.of(Map.of("host", "h1"), Map.of("host", "h2"))).accepted()).isEqualTo(2);
      clicks(b, "ann", 3);
    }
    java.util.concurrent.ExecutorService opener = java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      java.util.concurrent.Future<Braid> open = opener.submit(() -> Braid.open(dir, spec));
      try (Braid b = open.get(60, TimeUnit.SECONDS)) {
        assertThat(b.get("per_user", "ann").values().get("n")).isEqualTo(3L);
        Status.StreamStatus pings = b.status().streams().stream().filter(s -> s.name().equals("pings")).findFirst()
            .orElseThrow();
        assertThat(pings.watermark()).as("nothing keeps the watermark of a stream no view reads").isNull();
        assertThat(b.ingest("pings", List.of(Map.of("host", "h3"))).accepted()).isEqualTo(1);
      }
    } finally {
      opener.shutdownNow();
    }
  }
}
