package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.ReprocessOptions;
import dev.braid.Subscription;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.TableSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.table.PushOptions;
import dev.braid.table.Table;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an application embedding Braid meets beyond the happy path: calls made on a thread whose
 * interrupt is pending (a {@code finally} after catching {@code InterruptedException}), a close from
 * two threads, a subscription consumer that does not return, a catalog that cannot be written, and
 * null arguments.
 */
class EmbeddedCallerTest {

  @TempDir
  Path dir;

  @AfterEach
  void clearInterrupt() {
    Thread.interrupted(); // a failed assertion must not leave it to the next test
  }

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("ev").partitions(2).key("k").time("ts")
            .field("k", FieldType.STRING).field("n", FieldType.LONG).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("cnt").from("ev").groupBy("k").aggregate("n", "count").aggregate("s", "sum(n)").build())
        .view(ViewSpec.builder("win").from("ev").groupBy("k").window(WindowSpec.tumbling(Duration.ofMinutes(1)))
            .aggregate("n", "count").build())
        .table(TableSpec.builder("tbl").partitions(2).key("id").field("id", "string").field("tier", "string").build())
        .build();
  }

  private static void ingest(Braid b, int n) {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(Map.of("k", "k" + i % 7, "n", (long) i, "ts", 1_700_000_000_000L + i * 1_000L));
    }
    assertThat(b.ingest("ev", events).accepted()).isEqualTo(n);
  }

  private static ByteArrayInputStream rows(String... tiers) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < tiers.length; i++) {
      s.append("{\"id\":\"u").append(i).append("\",\"tier\":\"").append(tiers[i]).append("\"}\n");
    }
    return new ByteArrayInputStream(s.toString().getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A pending interrupt closed the files of whatever the call wrote: close() left checkpoints unwritten
   * and files open, open() failed with "cannot open partition directory: null", and a push or a
   * reprocess left its version building for good. Each now runs to its end and leaves the interrupt
   * pending for the caller.
   */
  @Test
  void shouldRunEveryCallOfAnInterruptedThreadToItsEndAndKeepTheInterrupt() throws Exception {
    Braid b = Braid.open(dir, spec());
    ingest(b, 1_000);
    assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
    Table t = b.table("tbl");

    Thread.currentThread().interrupt();
    assertThat(t.push(rows("gold", "silver"), PushOptions.defaults("a.jsonl")).state()).isEqualTo("done");
    assertThat(Thread.currentThread().isInterrupted()).as("the caller's interrupt is kept").isTrue();
    assertThat(t.push(rows("bronze"), PushOptions.defaults("b.jsonl")).state()).isEqualTo("done");
    assertThat(t.get("u0").values().get("tier")).isEqualTo("bronze");
    long first = t.versions().stream().filter(v -> v.state() == VersionState.BACKUP).mapToLong(VersionInfo::id)
        .max().orElseThrow();
    assertThat(t.activate(first)).isEqualTo(first);
    assertThat(t.get("u1").values().get("tier")).isEqualTo("silver");
    // a batch cycle writes its Base on this thread: it failed the version with ClosedByInterruptException
    long cycle = b.runBatch("cnt");
    assertThat(Thread.currentThread().isInterrupted()).as("the batch cycle keeps the interrupt").isTrue();
    assertThat(b.versions("cnt")).noneMatch(x -> x.state() == VersionState.FAILED)
        .anyMatch(x -> x.id() == cycle && x.state() == VersionState.CURRENT);
    ViewSpec changed = b.spec().parseView("cnt", "{from: ev, group_by: k, aggregate: {n: count}}", "inline");
    long v = b.reprocess("cnt", changed, ReprocessOptions.defaults());
    assertThat(Thread.interrupted()).isTrue();
    awaitCurrent(b, v);
    Thread.currentThread().interrupt();
    b.close();
    assertThat(Thread.interrupted()).as("close keeps the interrupt").isTrue();

    Thread.currentThread().interrupt();
    try (Braid again = Braid.open(dir, spec())) {
      assertThat(Thread.interrupted()).as("open keeps the interrupt").isTrue();
      assertThat(again.get("cnt", "k1").values()).containsEntry("n", 143L).doesNotContainKey("s");
      assertThat(again.get("cnt", "k1").asOf().version()).isEqualTo(v);
      assertThat(again.table("tbl").get("u1").values().get("tier")).isEqualTo("silver");
      assertThat(again.table("tbl").versions()).noneMatch(x -> x.state() == VersionState.BUILDING);
    }
  }

  private static void awaitCurrent(Braid b, long version) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (b.versions("cnt").stream().noneMatch(x -> x.id() == version && x.state() == VersionState.CURRENT)) {
      assertThat(System.nanoTime()).as("version %d becomes current: %s", version, b.versions("cnt")).isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  /** A second close from another thread returned at once, while the first still held the data directory. */
  @Test
  void shouldReturnFromASecondCloseOnlyOnceTheFirstIsDone() throws Exception {
    for (int round = 0; round < 3; round++) {
      Braid b = Braid.open(dir, spec());
      ingest(b, 20_000);
      Thread other = new Thread(b::close);
      other.start();
      Thread.sleep(round * 2L);
      b.close();
      Braid.open(dir, spec()).close(); // the data directory is free: the first close is done
      other.join();
    }
  }

  /** An engine whose 1,000 events the speed layer has folded: the view {@code win} has closed windows. */
  private Braid openWithClosedWindows() throws InterruptedException {
    Braid b = Braid.open(dir, spec());
    ingest(b, 1_000);
    assertThat(b.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
    return b;
  }

  /**
   * A subscription's close on a thread whose interrupt is pending waits for the consumer's call in
   * progress as any close does (it returned at once, interrupted the consumer and warned that it was
   * stuck), and keeps the interrupt.
   */
  @Test
  void shouldWaitForTheConsumerWhenTheClosingThreadsInterruptIsPending() throws Exception {
    try (Braid b = openWithClosedWindows()) {
      CountDownLatch called = new CountDownLatch(1);
      java.util.concurrent.atomic.AtomicBoolean returned = new java.util.concurrent.atomic.AtomicBoolean();
      Subscription s = b.subscribe("win", 0, (ChangeEvent e) -> {
        if (called.getCount() == 0) {
          return;
        }
        called.countDown();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        while (System.nanoTime() < end) {
          Thread.onSpinWait(); // work that does not look at interrupts
        }
        returned.set(true);
      });
      assertThat(called.await(30, TimeUnit.SECONDS)).as("a closed window reached the consumer").isTrue();
      Thread.currentThread().interrupt();
      s.close();
      assertThat(Thread.interrupted()).as("close keeps the interrupt").isTrue();
      assertThat(returned).as("the consumer's call ended before close returned").isTrue();
    }
  }

  /** A consumer that does not return held the subscription's close and the engine's close forever. */
  @Test
  void shouldCloseAlthoughASubscriptionsConsumerDoesNotReturn() throws Exception {
    Braid b = openWithClosedWindows();
    CountDownLatch called = new CountDownLatch(1);
    Subscription s = b.subscribe("win", 0, (ChangeEvent e) -> {
      called.countDown();
      while (true) { // ignores interrupts too
        try {
          Thread.sleep(60_000);
        } catch (InterruptedException ignored) {
          // keeps holding the event
        }
      }
    });
    assertThat(called.await(30, TimeUnit.SECONDS)).as("a closed window reached the consumer").isTrue();
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      s.close();
      b.close();
    });
    assertThat(s.isClosed()).isTrue();
  }

  /**
   * An interrupt that lands while close waits (here for a consumer) cut the wait short and then failed
   * every final write: the changes feed's emitted windows, the checkpoints, the event-time marks.
   */
  @Test
  void shouldWriteTheFinalCheckpointsWhenTheClosingThreadIsInterrupted() throws Exception {
    Braid b = openWithClosedWindows();
    CountDownLatch called = new CountDownLatch(1);
    b.subscribe("win", 0, e -> {
      called.countDown();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      while (System.nanoTime() < end) {
        Thread.onSpinWait(); // busy, deaf to interrupts
      }
    });
    assertThat(called.await(30, TimeUnit.SECONDS)).isTrue();
    boolean[] interruptKept = {false};
    Thread closing = new Thread(() -> {
      b.close();
      interruptKept[0] = Thread.currentThread().isInterrupted();
    });
    closing.start();
    Thread.sleep(500);
    closing.interrupt();
    closing.join(60_000);

    assertThat(interruptKept[0]).as("the interrupt is the caller's after close").isTrue();
    try (java.util.stream.Stream<Path> files = Files.list(dir.resolve("views").resolve("cnt"))) {
      assertThat(files.map(f -> f.getFileName().toString())).as("the final checkpoint").anyMatch(f -> f.endsWith(".ckpt"));
    }
  }

  /**
   * A consumer that closes the engine while another thread closes it: it waited for that close, which
   * waited for the consumer (5 s, then an interrupt a monitor ignores, then 1 s more).
   */
  @Test
  void shouldReturnAtOnceFromACloseOnAConsumerThreadWhileAnotherCloseRuns() throws Exception {
    Braid b = openWithClosedWindows();
    CountDownLatch called = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    long[] consumerClosed = {0};
    b.subscribe("win", 0, e -> {
      if (called.getCount() == 0) {
        return;
      }
      called.countDown();
      try {
        go.await();
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
      b.close();
      consumerClosed[0] = System.nanoTime();
    });
    assertThat(called.await(30, TimeUnit.SECONDS)).isTrue();
    long[] mainClosed = {0};
    Thread closing = new Thread(() -> {
      b.close();
      mainClosed[0] = System.nanoTime();
    });
    closing.start();
    Thread.sleep(300); // the close is waiting for the consumer
    go.countDown();
    closing.join(60_000);

    assertThat(consumerClosed[0]).as("the consumer's close returned").isPositive();
    assertThat(consumerClosed[0]).as("before the close it was waited for by").isLessThan(mainClosed[0]);
  }

  /**
   * A reprocess or push whose catalog could not be stored (here: a directory where the catalog's
   * temporary file goes) stayed building in memory and refused every later one until a restart.
   */
  @Test
  void shouldForgetAVersionWhoseCatalogCouldNotBeStored() throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      ingest(b, 100);
      Table t = b.table("tbl");
      Path blocker = dir.resolve("catalog.json.tmp");
      Files.createDirectory(blocker);
      ViewSpec changed = b.spec().parseView("cnt", "{from: ev, group_by: k, aggregate: {n: count}}", "inline");
      assertThatThrownBy(() -> b.reprocess("cnt", changed, ReprocessOptions.defaults()))
          .hasMessageContaining("catalog");
      Files.createDirectories(blocker); // the failed write deleted the empty directory as its temporary file
      assertThatThrownBy(() -> t.push(rows("gold"), PushOptions.defaults("a.jsonl"))).hasMessageContaining("catalog");
      Files.deleteIfExists(blocker);
      assertThat(b.versions("cnt")).noneMatch(x -> x.state() == VersionState.BUILDING)
          .anyMatch(x -> x.state() == VersionState.FAILED && x.failure().contains("its catalog could not be written"));
      assertThat(t.versions()).noneMatch(x -> x.state() == VersionState.BUILDING)
          .anyMatch(x -> x.state() == VersionState.FAILED && x.failure().contains("its catalog could not be written"));

      long v = b.reprocess("cnt", changed, ReprocessOptions.defaults());
      awaitCurrent(b, v);
      assertThat(t.push(rows("gold"), PushOptions.defaults("a.jsonl")).state()).isEqualTo("done");
      assertThat(t.get("u0").values().get("tier")).isEqualTo("gold");
    }
  }

  @Test
  void shouldNameWhatIsNullInATablesCalls() {
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("tbl");
      assertThatThrownBy(() -> t.get(null)).isInstanceOf(NullPointerException.class)
          .hasMessage("a row key cannot be null");
      assertThatThrownBy(() -> t.getAll(null)).hasMessage("the list of row keys is null");
      assertThatThrownBy(() -> t.getAll(java.util.Arrays.asList("u1", null))).hasMessage("a row key cannot be null");
      assertThatThrownBy(() -> t.put(null, Map.of("tier", "x"), null)).hasMessage("a row key cannot be null");
      assertThatThrownBy(() -> t.put("u1", null, null)).hasMessageStartingWith("the row is null");
      assertThatThrownBy(() -> t.patch("u1", null, null)).hasMessage("the patch is null");
      assertThatThrownBy(() -> t.awaitApplied(null, 10)).hasMessage("the write result is null");
      assertThatThrownBy(() -> t.push(null, PushOptions.defaults("p"))).hasMessage("the push's input stream is null");
      assertThat(t.versions()).as("no version used up by the refused push").hasSize(1);
      assertThatThrownBy(() -> b.awaitCaughtUp(1, null)).hasMessage("the time unit is null");
    }
    assertThatThrownBy(() -> PipelineSpec.load(null)).hasMessage("the spec file's path is null");
    assertThatThrownBy(() -> PipelineSpec.parse(null, "x")).hasMessage("the spec's YAML text is null");
  }

  /**
   * Nulls given to the spec's builders and to a reprocess are named (bare NullPointerExceptions from
   * deep inside before), and every optional stream setting takes its default for null (durability and
   * the dedup window threw, the others took their defaults).
   */
  @Test
  void shouldNameWhatIsNullInTheBuildersAndAReprocess() {
    assertThatThrownBy(() -> PipelineSpec.builder().stream(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("the stream given to the spec's builder is null");
    assertThatThrownBy(() -> PipelineSpec.builder().view(null))
        .hasMessage("the view given to the spec's builder is null");
    assertThatThrownBy(() -> PipelineSpec.builder().table(null))
        .hasMessage("the table given to the spec's builder is null");
    assertThatThrownBy(() -> new ViewSpec("v", "ev", null, "k", null, null, null, null))
        .hasMessage("view 'v': its aggregates are null (a view needs at least one)");
    StreamSpec s = StreamSpec.builder("ev").key("k").field("k", FieldType.STRING).durability(null).dedupWindow(null)
        .build();
    assertThat(s.durability()).isEqualTo(dev.braid.log.Durability.os());
    assertThat(s.dedupWindow()).isEqualTo(StreamSpec.DEFAULT_DEDUP_WINDOW);
    try (Braid b = Braid.open(dir, spec())) {
      ViewSpec changed = b.spec().parseView("cnt", "{from: ev, group_by: k, aggregate: {n: count}}", "inline");
      assertThatThrownBy(() -> b.reprocess("cnt", changed, null)).isInstanceOf(NullPointerException.class)
          .hasMessage("the options of a reprocess of view 'cnt' are null: pass ReprocessOptions.defaults() for none");
      assertThatThrownBy(() -> b.reprocess("cnt", null, ReprocessOptions.defaults()))
          .hasMessage("the new definition of a reprocess of view 'cnt' is null");
    }
  }

  /** A number of a class that ingest does not take was refused as "expected long, got number 3". */
  @Test
  void shouldNameTheClassOfANumberThatIsNotTaken() {
    try (Braid b = Braid.open(dir, spec())) {
      Map<String, Object> event = Map.of("k", "a", "n", new java.util.concurrent.atomic.AtomicLong(3), "ts", 1L);
      dev.braid.IngestResult r = b.ingest("ev", List.of(event));
      assertThat(r.rejections()).singleElement().extracting(dev.braid.IngestResult.Rejection::reason).asString()
          .contains("expected long, got number 3 (a java.util.concurrent.atomic.AtomicLong)");
    }
  }
}
