package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.Status;
import dev.braid.agg.AccumulatorState;
import dev.braid.agg.AggInput;
import dev.braid.agg.Aggregation;
import dev.braid.agg.Aggregations;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecException;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * User aggregations that fail: an {@code add} that throws leaves the event out of the view whole
 * (the aggregations before it in the row kept it once: count 6 and a sum without the event), in the
 * speed layer and the batch layer alike; a codec that does not read back what it writes is refused
 * when the spec is built, naming the aggregation (it made every read of the view fail, blaming the
 * built-in after it).
 */
class UserAggregationFailureTest {

  /** A long sum that refuses the value 13. */
  static class Picky implements Aggregation {
    @Override
    public int longSlots() {
      return 1;
    }

    @Override
    public void zero(AccumulatorState s) {
      s.setLong(0, 0);
    }

    @Override
    public void add(AccumulatorState s, AggInput in) {
      if (in.longValue() == 13) {
        throw new IllegalArgumentException("13 is unlucky");
      }
      s.setLong(0, s.getLong(0) + in.longValue());
    }

    @Override
    public void merge(AccumulatorState into, AccumulatorState from) {
      into.setLong(0, into.getLong(0) + from.getLong(0));
    }

    @Override
    public Object result(AccumulatorState s) {
      return s.getLong(0);
    }

    @Override
    public void write(AccumulatorState s, DataOutput out) throws IOException {
      out.writeLong(s.getLong(0));
    }

    @Override
    public void read(AccumulatorState s, DataInput in) throws IOException {
      s.setLong(0, in.readLong());
    }
  }

  /** Whether {@code test_vm_error} throws on 13 (else it sums as {@code test_picky} does, refusing 13). */
  private static volatile boolean vmError;
  /** Whether {@code test_flaky} throws in every add, merge and result. */
  private static volatile boolean flaky;

  @BeforeAll
  static void register() {
    Aggregations.register("test_picky", (type, params) -> new Picky());
    Aggregations.register("test_asserting", (type, params) -> new Picky() {
      @Override
      public void add(AccumulatorState s, AggInput in) {
        if (in.longValue() == 13) {
          throw new AssertionError("13 is unlucky");
        }
        super.add(s, in);
      }
    });
    Aggregations.register("test_vm_error", (type, params) -> new Picky() {
      @Override
      public void add(AccumulatorState s, AggInput in) {
        if (in.longValue() == 13 && vmError) {
          throw new InternalError("simulated JVM failure"); // a VirtualMachineError, as out of memory is
        }
        super.add(s, in);
      }
    });
    Aggregations.register("test_slow", (type, params) -> new Picky() {
      @Override
      public void add(AccumulatorState s, AggInput in) {
        try {
          Thread.sleep(1); // a fold slow enough that a close finds most of the tail unfolded
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        super.add(s, in);
      }
    });
    Aggregations.register("test_flaky", (type, params) -> new Picky() {
      @Override
      public void add(AccumulatorState s, AggInput in) {
        if (flaky) {
          throw new IllegalStateException("add is flaky");
        }
        super.add(s, in);
      }

      @Override
      public void merge(AccumulatorState into, AccumulatorState from) {
        if (flaky) {
          throw new IllegalStateException("merge is flaky");
        }
        super.merge(into, from);
      }

      @Override
      public Object result(AccumulatorState s) {
        if (flaky) {
          throw new IllegalStateException("result is flaky");
        }
        return super.result(s);
      }
    });
    Aggregations.register("test_write_refuses", (type, params) -> new Picky() {
      @Override
      public void write(AccumulatorState s, DataOutput out) throws IOException {
        if (s.getLong(0) > 100) {
          throw new IOException("write refuses > 100");
        }
        super.write(s, out);
      }
    });
    Aggregations.register("test_short_read", (type, params) -> new Picky() {
      @Override
      public void write(AccumulatorState s, DataOutput out) throws IOException {
        out.writeInt((int) s.getLong(0));
      }
    });
  }

  private static PipelineSpec spec(String aggregation) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("ev").partitions(2).key("k").field("k", FieldType.STRING).field("v", FieldType.LONG)
            .build())
        .view(ViewSpec.builder("vb").from("ev").groupBy("k").aggregate("n", "count").aggregate("p", aggregation)
            .aggregate("s", "sum(v)").aggregate("q", aggregation).build())
        .build();
  }

  /**
   * A batch cycle on which every event fails (a user aggregation that throws on all of them) fails,
   * and the current version keeps serving: it once swapped in a Base that held none of the events.
   * A read on which a user result or merge throws names the view and the aggregation.
   */
  @Test
  void shouldFailABatchCycleThatLeavesOutEveryEventAndNameTheViewWhenAReadThrows(@TempDir Path dir)
      throws Exception {
    try (Braid braid = Braid.open(dir, spec("test_flaky(v)"))) {
      assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 2L), Map.of("k", "a", "v", 3L))).rejections())
          .isEmpty();
      braid.runBatch("vb");
      Map<String, Object> expected = Map.of("n", 2L, "p", 5L, "s", 5L, "q", 5L);
      assertThat(braid.get("vb", "a").values()).isEqualTo(expected);
      long current = braid.status().views().get(0).currentVersion();
      flaky = true;
      try {
        // a new event, so that a cycle runs (the speed layer leaves it out: its add throws)
        assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 4L))).rejections()).isEmpty();
        assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> braid.runBatch("vb")).hasMessageContaining("view 'vb': the batch cycle failed on "
            + "every one of the 3 events it read").hasMessageContaining("the current version keeps serving")
            .hasMessageContaining("add is flaky");
        assertThatThrownBy(() -> braid.get("vb", "a")).isInstanceOf(IllegalStateException.class)
            .hasMessage("view 'vb': aggregation 'p' (test_flaky(v)) threw in result: java.lang.IllegalStateException: "
                + "result is flaky");
      } finally {
        flaky = false;
      }
      assertThat(braid.status().views().get(0).currentVersion()).isEqualTo(current);
      assertThat(braid.get("vb", "a").values()).as("still the good version").isEqualTo(expected);
      assertThat(braid.status().views().get(0).batchFailures()).isEqualTo(1);
    }
  }

  /**
   * A user aggregation whose {@code write} throws an IOException in a batch cycle's Base is named
   * with its view in the cycle's error and the failed version's reason (it read as the Base file's
   * own write failing), and the current version keeps serving.
   */
  @Test
  void shouldNameTheUserAggregationWhoseWriteFailsInABatchCycle(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, spec("test_write_refuses(v)"))) {
      braid.ingest("ev", List.of(Map.of("k", "a", "v", 101L)));
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThatThrownBy(() -> braid.runBatch("vb")).hasMessageContaining("writing the accumulator of view 'vb' "
          + "aggregation 'p' (test_write_refuses(v)) failed: java.io.IOException: write refuses > 100");
      assertThat(braid.versions("vb")).filteredOn(v -> v.state() == dev.braid.VersionState.FAILED).singleElement()
          .satisfies(v -> assertThat(v.failure()).contains("aggregation 'p' (test_write_refuses(v))"));
      assertThat(braid.get("vb", "a").values().get("s")).isEqualTo(101L);
    }
  }

  /**
   * A selective view whose admitted events all fail fails its cycle too: the events its filter leaves
   * out do not count as events it folded (they once let an empty Base swap in).
   */
  @Test
  void shouldFailABatchCycleOfAFilteredViewThatFailsOnEveryEventItAdmits(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("ev").partitions(2).key("k").field("k", FieldType.STRING).field("v", FieldType.LONG)
            .build())
        .view(ViewSpec.builder("vb").from("ev").groupBy("k").filter("v > 10").aggregate("p", "test_flaky(v)")
            .build())
        .build();
    try (Braid braid = Braid.open(dir, spec)) {
      List<Map<String, Object>> events = new java.util.ArrayList<>();
      for (int i = 0; i < 20; i++) {
        events.add(Map.of("k", "k" + (i % 3), "v", (long) i)); // 11..19 pass the filter
      }
      assertThat(braid.ingest("ev", events).rejections()).isEmpty();
      braid.runBatch("vb");
      Map<String, Object> expected = Map.of("p", 11L + 14 + 17);
      assertThat(braid.get("vb", "k2").values()).isEqualTo(expected);
      long current = braid.status().views().get(0).currentVersion();
      flaky = true;
      try {
        assertThat(braid.ingest("ev", List.of(Map.of("k", "k2", "v", 1L))).rejections()).isEmpty();
        assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
        assertThatThrownBy(() -> braid.runBatch("vb")).hasMessageContaining("view 'vb': the batch cycle failed on "
            + "every one of the 9 events it read that its filter admitted (12 more were filtered out)")
            .hasMessageContaining("add is flaky");
      } finally {
        flaky = false;
      }
      assertThat(braid.status().views().get(0).currentVersion()).isEqualTo(current);
      assertThat(braid.get("vb", "k2").values()).as("still the good version").isEqualTo(expected);
    }
  }

  /** View {@code vb} counts the events whose filter {@code 100 / v > 1} holds: each with {@code v} 0 fails it. */
  private static PipelineSpec dividingByZero() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("ev").partitions(2).key("k").field("k", FieldType.STRING).field("v", FieldType.LONG)
            .build())
        .view(ViewSpec.builder("vb").from("ev").groupBy("k").filter("100 / v > 1").aggregate("n", "count").build())
        .build();
  }

  /**
   * A cycle whose events all fail the way they failed for the serving version (a filter that divides
   * by zero on each) builds its empty Base as usual: that is the view's answer, not a fault.
   */
  @Test
  void shouldBuildABaseWhenEveryEventFailsAsItDidForTheServingVersion(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, dividingByZero())) {
      assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 0L))).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      braid.runBatch("vb");
      assertThat(braid.status().views().get(0).batchFailures()).isZero();
      assertThat(braid.get("vb", "a").found()).isFalse();
    }
  }

  /**
   * When the serving version's count of failed events is unknown (a catalog of a build that did not
   * record it), a cycle whose events all fail is not refused on that ground: it once could never
   * complete, so the count could never be made anew.
   */
  @Test
  void shouldBuildABaseWhenTheServingVersionsCountOfFailuresIsUnknown(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, dividingByZero())) {
      assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 0L), Map.of("k", "b", "v", 0L),
          Map.of("k", "c", "v", 0L))).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      braid.runBatch("vb");
      ((Engine) braid).viewRuntime("vb").current().baseSkipped = -1; // as a catalog without the count reads
      assertThat(braid.ingest("ev", List.of(Map.of("k", "d", "v", 0L))).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      braid.runBatch("vb");
      assertThat(braid.status().views().get(0).batchFailures()).isZero();
      assertThat(braid.status().views().get(0).skippedEvents()).as("counted anew").isEqualTo(4);
    }
  }

  @Test
  void shouldLeaveAnEventOnWhichAUserAddThrowsOutOfTheViewWholeInBothLayers(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, spec("test_picky(v)"))) {
      List<Map<String, ?>> events = new ArrayList<>();
      for (long v = 10; v <= 15; v++) {
        events.add(Map.of("k", "a", "v", v));
      }
      events.add(Map.of("k", "b", "v", 13L)); // b's only event: no key is made for it
      assertThat(braid.ingest("ev", events).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      Map<String, Object> expected = Map.of("n", 5L, "p", 62L, "s", 62L, "q", 62L);
      assertThat(braid.get("vb", "a").values()).as("speed layer").isEqualTo(expected);
      assertThat(braid.get("vb", "b").found()).as("speed layer, b").isFalse();
      braid.runBatch("vb");
      assertThat(braid.get("vb", "a").values()).as("batch layer").isEqualTo(expected);
      assertThat(braid.get("vb", "b").found()).as("batch layer, b").isFalse();
      assertThat(braid.status().views().get(0).skippedEvents()).isEqualTo(2);
    }
  }

  /** An AssertionError in a user add counts as that event's failure, as an exception does: the speed layer goes on. */
  @Test
  void shouldLeaveAnEventOnWhichAUserAddFailsAnAssertionOutOfTheViewAndKeepFollowingTheLog(@TempDir Path dir)
      throws Exception {
    try (Braid braid = Braid.open(dir, spec("test_asserting(v)"))) {
      List<Map<String, ?>> events = new ArrayList<>();
      for (long v = 10; v <= 15; v++) {
        events.add(Map.of("k", "a", "v", v));
      }
      assertThat(braid.ingest("ev", events).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 100L))).rejections()).isEmpty();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).as("the speed layer still runs").isTrue();
      Map<String, Object> expected = Map.of("n", 6L, "p", 162L, "s", 162L, "q", 162L);
      assertThat(braid.get("vb", "a").values()).as("speed layer").isEqualTo(expected);
      braid.runBatch("vb");
      assertThat(braid.get("vb", "a").values()).as("batch layer").isEqualTo(expected);
      assertThat(braid.status().views().get(0).skippedEvents()).isEqualTo(1);
      assertThat(braid.faults().unavailable()).isEmpty();
    }
  }

  /**
   * An error of the JVM itself (as out of memory is) while the speed layer folds stops its thread:
   * the view is refused, saying why and that a restart rebuilds it, rather than serving a Delta that may
   * hold part of a batch past its position; no checkpoint is taken of it; a restart (the error gone)
   * serves the events exactly.
   */
  @Test
  void shouldRefuseTheViewsOfASpeedLayerStoppedByAnErrorUntilARestartRebuildsThem(@TempDir Path dir)
      throws Exception {
    List<Map<String, ?>> events = new ArrayList<>();
    for (long v = 10; v <= 15; v++) {
      events.add(Map.of("k", "a", "v", v));
    }
    vmError = true;
    try (Braid braid = Braid.open(dir, spec("test_vm_error(v)"))) {
      assertThat(braid.ingest("ev", events).rejections()).isEmpty();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (braid.faults().unavailable().isEmpty()) {
        assertThat(System.nanoTime()).as("the stopped speed layer is reported").isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(braid.faults().unavailable().get("vb")).contains("view 'vb' is unavailable: the speed layer of "
          + "stream 'ev' partition").contains("stopped on java.lang.InternalError: simulated JVM failure")
          .contains("restart the server");
      assertThatThrownBy(() -> braid.get("vb", "a")).isInstanceOf(dev.braid.UnavailableException.class)
          .hasMessageContaining("stopped on java.lang.InternalError")
          .hasMessageContaining("restart the server: the view is rebuilt from its last checkpoint and the log");
      // a batch cycle's new Delta cannot attach to the stopped partition: it fails, saying why, and the
      // partition that did attach it lets it go (it was folded for ever)
      SpeedLayer speed = ((Engine) braid).speedLayer("ev");
      vmError = false; // the batch layer's fold gets past 13 (its refusal): the cycle gets as far as the attach
      assertThatThrownBy(() -> braid.runBatch("vb")).hasStackTraceContaining("stopped on java.lang.InternalError");
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (speed.attached(0) + speed.attached(1) != 2) { // the detach is queued, not awaited
        assertThat(System.nanoTime()).as("only the current Delta stays attached").isLessThan(until);
        Thread.sleep(5);
      }
    } finally {
      vmError = false;
    }
    try (java.util.stream.Stream<Path> files = Files.walk(dir)) {
      // one of the Delta's state past its position (10 and 11 folded, position 0) would count them twice
      assertThat(files.map(f -> f.getFileName().toString())).as("no checkpoint of a stopped speed layer's Delta")
          .noneMatch(f -> f.endsWith(".ckpt"));
    }
    try (Braid braid = Braid.open(dir, spec("test_vm_error(v)"))) { // the error gone: 13 is refused as by test_picky
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(braid.get("vb", "a").values()).isEqualTo(Map.of("n", 5L, "p", 62L, "s", 62L, "q", 62L));
    }
  }

  /**
   * Closing an engine one of whose speed layers an Error stopped still folds every other stream's
   * tail before the final checkpoint: the other stream's view restarts from a checkpoint at the log's
   * end, replaying nothing, and the stopped one is rebuilt from the log.
   */
  @Test
  void shouldCheckpointTheOtherStreamsAtTheLogsEndWhenClosingWithAStoppedSpeedLayer(@TempDir Path dir)
      throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("ev").partitions(2).key("k").field("k", FieldType.STRING).field("v", FieldType.LONG)
            .build())
        .stream(StreamSpec.builder("other").partitions(2).key("k").field("k", FieldType.STRING)
            .field("v", FieldType.LONG).build())
        .view(ViewSpec.builder("va").from("ev").groupBy("k").aggregate("q", "test_vm_error(v)").build())
        .view(ViewSpec.builder("vo").from("other").groupBy("k").aggregate("n", "count")
            .aggregate("s", "test_slow(v)").build())
        .build();
    List<Map<String, ?>> others = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      others.add(Map.of("k", "k" + (i % 100), "v", 1L));
    }
    vmError = true;
    try {
      try (Braid braid = Braid.open(dir, spec)) {
        assertThat(braid.ingest("ev", List.of(Map.of("k", "a", "v", 13L))).rejections()).isEmpty();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (braid.faults().unavailable().isEmpty()) {
          assertThat(System.nanoTime()).as("the stopped speed layer is reported").isLessThan(deadline);
          Thread.sleep(5);
        }
        // a second's slow fold: the close starts part way through it, with most of the tail unfolded
        assertThat(braid.ingest("other", others.subList(0, 100)).rejections()).isEmpty();
        Thread.sleep(20);
        assertThat(braid.ingest("other", others.subList(100, others.size())).rejections()).isEmpty();
      }
    } finally {
      vmError = false;
    }
    try (Braid braid = Braid.open(dir, spec)) {
      Status.ViewStatus vo = braid.status().views().stream().filter(v -> v.name().equals("vo")).findFirst()
          .orElseThrow();
      assertThat(vo.checkpoints().restoredFrom()).as("vo restored from the final checkpoint").isNotNull();
      assertThat(vo.checkpoints().replayedOnStart()).as("vo: the final checkpoint was at the log's end").isZero();
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(braid.get("vo", "k7").values()).isEqualTo(Map.of("n", 10L, "s", 10L));
      assertThat(braid.get("va", "a").found()).as("13 is refused once the error is gone").isFalse();
      assertThat(braid.status().views().stream().filter(v -> v.name().equals("va")).findFirst().orElseThrow()
          .checkpoints().restoredFrom()).as("no checkpoint of the stopped view").isNull();
    }
  }

  @Test
  void shouldRefuseASpecWithAUserAggregationWhoseCodecReadsMoreThanItWrites() {
    assertThatThrownBy(() -> spec("test_short_read(v)")).isInstanceOf(SpecException.class)
        .hasMessageContaining("views.vb.aggregate.p")
        .hasMessageContaining("aggregation 'test_short_read' (test_short_read(v)): its codec reads more bytes than it "
            + "writes for a zero accumulator");
  }
}
