package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A spec that gives a view with versions another source stream or another mode is refused at
 * start, naming the view, both values and what to do, and nothing changes: the spec put back serves
 * the same answers. (A restart once compiled the recorded definition against the new stream and
 * replayed it from the old stream's offsets, and served a lambda Base as a kappa view.)
 */
class ViewSourceChangeTest {

  private static PipelineSpec spec(String from, ViewSpec.Mode mode) {
    PipelineSpec.Builder b = PipelineSpec.builder();
    for (String s : List.of("s", "s9")) {
      b.stream(StreamSpec.builder(s).partitions(2).key("k").field("k", FieldType.STRING).field("n", FieldType.LONG)
          .build());
    }
    return b.view(ViewSpec.builder("w").from(from).groupBy("k").aggregate("c", "count").aggregate("t", "sum(n)")
        .mode(mode).build()).build();
  }

  /** Two events into {@code s} (key a: count 2, sum 5), one into {@code s9} (key a: 1000). */
  private static void ingestBoth(Braid b) {
    assertThat(b.ingest("s", List.of(Map.of("k", "a", "n", 2L), Map.of("k", "a", "n", 3L))).rejections()).isEmpty();
    assertThat(b.ingest("s9", List.of(Map.of("k", "a", "n", 1000L))).rejections()).isEmpty();
  }

  @Test
  void shouldRefuseAViewWhoseStreamOrModeChangedAndKeepItsData(@TempDir Path dir) throws Exception {
    PipelineSpec original = spec("s", ViewSpec.Mode.LAMBDA);
    try (Braid b = Braid.open(dir, original)) {
      ingestBoth(b);
      b.runBatch("w");
      assertThat(b.get("w", "a").values()).isEqualTo(Map.of("c", 2L, "t", 5L));
    }
    assertThatThrownBy(() -> Braid.open(dir, spec("s9", ViewSpec.Mode.LAMBDA)).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("view 'w' reads stream 's9' in the spec, but its versions were computed from stream "
            + "'s', and a view cannot change its stream: put back `from: s`, or give the new definition another view "
            + "name, or drop the old view's versions first (start once with the view out of the spec, then run "
            + "`braid drop w`)")
        .hasMessageContaining("Nothing in " + dir + " was changed.");
    // moved to a stream new in the spec: refused before that stream's logs are made
    PipelineSpec toNew = PipelineSpec.builder().stream(StreamSpec.builder("s").partitions(2).key("k")
            .field("k", FieldType.STRING).field("n", FieldType.LONG).build())
        .stream(StreamSpec.builder("fresh").partitions(4).key("k").field("k", FieldType.STRING)
            .field("n", FieldType.LONG).build())
        .view(ViewSpec.builder("w").from("fresh").groupBy("k").aggregate("c", "count").aggregate("t", "sum(n)").build())
        .build();
    try (java.util.stream.Stream<Path> before = java.nio.file.Files.walk(dir)) {
      List<Path> files = before.toList();
      assertThatThrownBy(() -> Braid.open(dir, toNew).close()).hasMessageContaining("view 'w' reads stream 'fresh'");
      try (java.util.stream.Stream<Path> after = java.nio.file.Files.walk(dir)) {
        assertThat(after.toList()).as("nothing made in the data directory").containsExactlyInAnyOrderElementsOf(files);
      }
    }
    assertThatThrownBy(() -> Braid.open(dir, spec("s", ViewSpec.Mode.KAPPA)).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("view 'w' is a kappa view in the spec, but its versions are lambda, and a view cannot "
            + "change its mode: put back `mode: lambda`");
    try (Braid b = Braid.open(dir, original)) {
      // a null name is named as null, not taken for a view or stream called "null"
      assertThatThrownBy(() -> b.get(null, "a")).isInstanceOf(NullPointerException.class)
          .hasMessage("the view name is null");
      assertThatThrownBy(() -> b.ingest(null, List.of())).isInstanceOf(NullPointerException.class)
          .hasMessage("the stream name is null");
      assertThatThrownBy(() -> b.ingest("s", null)).isInstanceOf(NullPointerException.class)
          .hasMessage("events (a list of maps of field values) is null");
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(b.get("w", "a").values()).as("the spec put back serves what it did").isEqualTo(
          Map.of("c", 2L, "t", 5L));
      assertThat(b.lateEvents("s9", 0, 10)).as("nothing of s9 was replayed into the view").isEmpty();
    }
  }

  /**
   * A view taken out of the spec is retired: its versions stay (putting it back serves them) until it
   * is dropped, which frees its name for a definition of another stream.
   */
  @Test
  void shouldKeepARetiredViewUntilItIsDroppedAndThenGiveItsNameToAnotherStream(@TempDir Path dir) throws Exception {
    PipelineSpec original = spec("s", ViewSpec.Mode.LAMBDA);
    try (Braid b = Braid.open(dir, original)) {
      ingestBoth(b);
      b.runBatch("w"); // two versions: the batch cycle's and the first one, now its backup
      assertThat(b.retiredViews()).isEmpty();
      assertThatThrownBy(() -> b.dropView("w")).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("view 'w' is defined in the spec");
    }
    PipelineSpec.Builder w = PipelineSpec.builder();
    original.streams().values().forEach(w::stream);
    PipelineSpec without = w.build();
    Path files = dir.resolve("views").resolve("w");
    try (Braid b = Braid.open(dir, without)) {
      assertThat(b.retiredViews()).containsExactly(new dev.braid.Status.RetiredView("w", "s", "lambda", 2));
      assertThatThrownBy(() -> b.get("w", "a")).isInstanceOf(dev.braid.UnknownNameException.class)
          .hasMessage("unknown view 'w'; views are: (none) ('w' is a retired view: the spec no longer defines it, and "
              + "its versions are kept; put it back in the spec to serve it, or drop it with braid drop w)");
      assertThat(files).isDirectory();
    }
    try (Braid b = Braid.open(dir, original)) {
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(b.get("w", "a").values()).as("put back, it serves its versions").isEqualTo(Map.of("c", 2L, "t", 5L));
    }
    try (Braid b = Braid.open(dir, without)) {
      assertThatThrownBy(() -> b.dropView("nope")).isInstanceOf(dev.braid.UnknownNameException.class)
          .hasMessageContaining("nope").hasMessageContaining("w");
      assertThatThrownBy(() -> b.dropView(null)).isInstanceOf(NullPointerException.class);
      assertThat(b.dropView("w")).isEqualTo(2);
      assertThat(b.retiredViews()).isEmpty();
      assertThat(files).doesNotExist();
      assertThatThrownBy(() -> b.dropView("w")).isInstanceOf(dev.braid.UnknownNameException.class);
    }
    try (Braid b = Braid.open(dir, spec("s9", ViewSpec.Mode.KAPPA))) {
      assertThat(b.retiredViews()).isEmpty();
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(b.get("w", "a").values()).as("the name now reads s9, from its start")
          .isEqualTo(Map.of("c", 1L, "t", 1000L));
      assertThat(b.versions("w")).extracting(dev.braid.VersionInfo::id)
          .as("the dropped view's ids 1 and 2 are not given again").containsExactly(3L);
      assertThat(b.get("w", "a").asOf().version()).isEqualTo(3L);
      assertThat(b.reprocess("w", b.servingDefinition("w"), dev.braid.ReprocessOptions.defaults())).isEqualTo(4L);
    }
    try (Braid b = Braid.open(dir, spec("s9", ViewSpec.Mode.KAPPA))) {
      assertThat(b.versions("w")).extracting(dev.braid.VersionInfo::id).as("after a restart").contains(3L, 4L)
          .doesNotContain(1L, 2L);
    }
    // dropped again: the name goes on from what either drop reached
    try (Braid b = Braid.open(dir, without)) {
      assertThat(b.dropView("w")).isEqualTo(2);
    }
    try (Braid b = Braid.open(dir, original)) {
      assertThat(b.versions("w")).extracting(dev.braid.VersionInfo::id).containsExactly(5L);
    }
  }

  /**
   * A dropped view leaves nothing a new view of its name would take for its own: its changes log is
   * deleted, and its late events, which stay in the stream's late log, no longer count for the name
   * (the new view records its own, and reads show the old ones as not current).
   */
  @Test
  void shouldLeaveADroppedViewsChangesAndLateEventsToIt(@TempDir Path dir) throws Exception {
    long t = 1_700_000_040_000L / 60_000 * 60_000;
    java.util.function.Function<ViewSpec.Mode, PipelineSpec> windowed = mode -> {
      PipelineSpec.Builder b = PipelineSpec.builder().stream(StreamSpec.builder("s").partitions(1).key("k").time("ts")
          .field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build());
      return mode == null ? b.build() : b.view(ViewSpec.builder("w").from("s").groupBy("k")
          .tumbling(java.time.Duration.ofMinutes(1)).allowedLateness(java.time.Duration.ZERO).aggregate("c", "count")
          .mode(mode).build()).build();
    };
    try (Braid b = Braid.open(dir, windowed.apply(ViewSpec.Mode.KAPPA))) {
      // the second event closes [t, t+1m); the third comes late for it
      for (long ts : new long[] {t, t + 120_000, t + 10_000}) {
        assertThat(b.ingest("s", List.of(Map.of("k", "old", "ts", ts))).rejections()).isEmpty();
        assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(awaitChanges(b, 1)).extracting(c -> c.kind() + " " + c.key() + " " + c.values())
          .containsExactly("CLOSE old {c=1}");
      assertThat(b.lateEvents("s", 0, 10)).hasSize(1);
    }
    // kept aside, put back after the drop below: as a drop that a crash cut short after its catalog write leaves them
    Path aside = java.nio.file.Files.createTempDirectory(dir.getParent(), "aside");
    copyTree(dir.resolve("views").resolve("w"), aside.resolve("w"));
    copyTree(dir.resolve("log").resolve("w.changes"), aside.resolve("w.changes"));
    try (Braid b = Braid.open(dir, windowed.apply(null))) {
      assertThat(b.dropView("w")).isEqualTo(1);
      assertThat(b.log().hasStream("w.changes")).isFalse();
    }
    copyTree(aside.resolve("w"), dir.resolve("views").resolve("w"));
    copyTree(aside.resolve("w.changes"), dir.resolve("log").resolve("w.changes"));
    try (Braid b = Braid.open(dir, windowed.apply(ViewSpec.Mode.LAMBDA))) { // the name, in another mode
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      List<dev.braid.ChangeEvent> changes = awaitChanges(b, 1);
      assertThat(changes).extracting(c -> c.kind() + " " + c.key() + " " + c.values())
          .as("its own changes only").containsExactly("CLOSE old {c=1}");
      assertThat(changes.get(0).id()).as("ids go on from the dropped view's: a reader that resumes from its last id "
          + "misses none of the new view's changes").isEqualTo(1L);
      assertThat(b.changes("w", 1, 100)).isEqualTo(changes);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (b.lateEvents("s", 0, 10).size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(b.lateEvents("s", 0, 10)).extracting(e -> e.view() + "@" + e.eventOffset() + "/" + e.current())
          .as("the dropped view's late event stays, not current; the new view records its own")
          .containsExactly("w@2/false", "w@2/true");
      assertThat(b.status().views().get(0).lateness().lateEvents()).isEqualTo(1);
    }
    try (Braid b = Braid.open(dir, windowed.apply(ViewSpec.Mode.LAMBDA))) {
      assertThat(b.lateEvents("s", 0, 10)).extracting(e -> e.current()).as("after a restart").containsExactly(false,
          true);
      assertThat(b.status().views().get(0).lateness().lateEvents()).isEqualTo(1);
    }
  }

  /**
   * A view created under a dropped one's name whose changes log starts past 0 and holds nothing yet:
   * the feed takes in and saves as any (it once read its log from offset 0, before the log's start).
   */
  @Test
  void shouldFollowAChangesLogThatStartsWhereTheDroppedViewsEnded(@TempDir Path dir) throws Exception {
    long t = 1_700_000_040_000L / 3_600_000 * 3_600_000;
    StreamSpec s = StreamSpec.builder("s").partitions(1).key("k").time("ts").field("k", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP).build();
    java.util.function.Function<java.time.Duration, PipelineSpec> windowed = size -> size == null
        ? PipelineSpec.builder().stream(s).build()
        : PipelineSpec.builder().stream(s).view(ViewSpec.builder("w").from("s").groupBy("k").tumbling(size)
            .aggregate("c", "count").build()).build();
    try (Braid b = Braid.open(dir, windowed.apply(java.time.Duration.ofMinutes(1)))) {
      assertThat(b.ingest("s", List.of(Map.of("k", "a", "ts", t), Map.of("k", "a", "ts", t + 120_000)))
          .rejections()).isEmpty();
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(awaitChanges(b, 1)).hasSize(1);
    }
    try (Braid b = Braid.open(dir, windowed.apply(null))) {
      b.dropView("w");
    }
    try (Braid b = Braid.open(dir, windowed.apply(java.time.Duration.ofHours(1)))) { // no window closes
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      ChangeFeed feed = ((Engine) b).changeFeed("w");
      assertThat(b.log().stream("w.changes").startOffset(0)).isEqualTo(1);
      assertThat(feed.takeInUnread()).as("nothing to take in, and no read before the log's start").isZero();
      assertThat(b.changes("w", 0, 10)).isEmpty();
      assertThat(feed.endId()).isEqualTo(1);
    }
  }

  /**
   * A view dropped while its stream is not in the spec (so its late log is not open): the next start
   * with the stream makes its late events count for no view of its name, as a drop does.
   */
  @Test
  void shouldForgetTheLateEventsOfAViewDroppedWhileItsStreamWasAway(@TempDir Path dir) throws Exception {
    long t = 1_700_000_040_000L / 60_000 * 60_000;
    StreamSpec s = StreamSpec.builder("s").partitions(1).key("k").time("ts").field("k", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP).build();
    StreamSpec other = StreamSpec.builder("other").partitions(1).key("k").field("k", FieldType.STRING).build();
    java.util.function.Function<ViewSpec.Mode, PipelineSpec> windowed = mode -> PipelineSpec.builder().stream(s)
        .view(ViewSpec.builder("w").from("s").groupBy("k").tumbling(java.time.Duration.ofMinutes(1))
            .allowedLateness(java.time.Duration.ZERO).aggregate("c", "count").mode(mode).build()).build();
    try (Braid b = Braid.open(dir, windowed.apply(ViewSpec.Mode.KAPPA))) {
      for (long ts : new long[] {t, t + 120_000, t + 10_000}) {
        assertThat(b.ingest("s", List.of(Map.of("k", "old", "ts", ts))).rejections()).isEmpty();
        assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      }
      assertThat(b.lateEvents("s", 0, 10)).hasSize(1);
    }
    try (Braid b = Braid.open(dir, PipelineSpec.builder().stream(other).build())) {
      assertThat(b.dropView("w")).isEqualTo(1);
    }
    try (Braid b = Braid.open(dir, windowed.apply(ViewSpec.Mode.LAMBDA))) {
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (b.lateEvents("s", 0, 10).size() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(b.lateEvents("s", 0, 10)).extracting(e -> e.view() + "@" + e.eventOffset() + "/" + e.current())
          .containsExactly("w@2/false", "w@2/true");
    }
  }

  private static void copyTree(Path from, Path to) throws java.io.IOException {
    try (java.util.stream.Stream<Path> all = java.nio.file.Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        java.nio.file.Files.copy(p, to.resolve(from.relativize(p).toString()));
      }
    }
  }

  private static List<dev.braid.ChangeEvent> awaitChanges(Braid b, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<dev.braid.ChangeEvent> changes = b.changes("w", 0, 100);
    while (changes.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(20);
      changes = b.changes("w", 0, 100);
    }
    return changes;
  }
}
