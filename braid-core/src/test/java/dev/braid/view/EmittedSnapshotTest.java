package dev.braid.view;

import static dev.braid.testing.TestFiles.copyTree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The changes feed's saved emitted windows: saved at close, loaded at start with only the changes
 * after them read from the log, and refused (deleted, the log read whole) when the log does not hold
 * what they cover or the file is damaged. After every start the feed remembers, per window, what
 * decoding the changes log gives, and a pass emits nothing twice.
 */
class EmittedSnapshotTest {

  static final long T = ChangesStreamTest.T;

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("s").partitions(2).key("k").time("ts").maxOutOfOrder(Duration.ofSeconds(5))
            .field("k", FieldType.STRING).field("ts", FieldType.TIMESTAMP).field("x", FieldType.LONG)
            .field("d", FieldType.DOUBLE).build())
        .view(ViewSpec.builder("v").from("s").groupBy("k").window(WindowSpec.session(Duration.ofSeconds(20)))
            .aggregate("n", "count").aggregate("mean", "avg(d)").aggregate("p", "quantiles(d)").build())
        .build();
  }

  /** Ingests {@code steps} rounds of events (some late, so sessions merge) with batch cycles and the test's own passes. */
  static long history(Engine b, ChangeFeed feed, Random rnd, long now, int steps) throws Exception {
    for (int step = 0; step < steps; step++) {
      List<Map<String, Object>> events = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        now += rnd.nextInt(3_000);
        long ts = rnd.nextInt(5) == 0 ? now - rnd.nextInt(120_000) : now;
        events.add(Map.of("k", "k" + rnd.nextInt(8), "ts", ts, "x", (long) rnd.nextInt(100),
            "d", rnd.nextGaussian() * 1e4 / 3));
      }
      assertThat(b.ingest("s", events).rejections()).isEmpty();
      assertThat(b.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      if (rnd.nextBoolean()) {
        b.runBatch("v");
      }
      feed.pass();
    }
    return now;
  }

  /** The feed remembers for every window what decoding its last change gives, and nothing else. */
  static void assertRemembersTheLog(Engine b, ChangeFeed feed, String msg) {
    List<ChangeEvent> all = b.changes("v", 0, Integer.MAX_VALUE);
    Map<String, long[]> expected = new HashMap<>();
    ChangeJson json = new ChangeJson();
    for (ChangeEvent e : all) {
      long hash = e.kind() == ChangeEvent.Kind.RETRACT ? EmittedWindows.RETRACTED
          : ChangeFeed.windowHash(json.hash(e.values()), e.end());
      expected.put(e.key() + "@" + e.start(), new long[] {e.id(), hash});
    }
    assertThat(feed.emittedWindows()).as(msg).isEqualTo(expected.size());
    for (ChangeEvent e : all) {
      assertThat(feed.emittedEntry(e.key(), e.start())).as(msg + ": window " + e.start() + " of " + e.key())
          .containsExactly(expected.get(e.key() + "@" + e.start()));
    }
  }

  static Path saved(Path data) {
    return data.resolve("views").resolve("v").resolve(EmittedSnapshot.FILE);
  }

  static EmittedSnapshot.Loaded readSaved(Path data) throws Exception {
    return EmittedSnapshot.read(saved(data), new EmittedWindows(), ChangeJson.FORMAT);
  }

  /** Opens the engine with the feed's thread stopped (the test runs the passes). */
  static Engine open(Path data) throws IOException {
    Engine b = (Engine) Braid.open(data, spec());
    b.changeFeed("v").close();
    return b;
  }

  /**
   * A file saved at the first close, put back after a second session emitted more (as a crash
   * before the second save would leave it): the start loads it and reads only the changes after it,
   * and ends up remembering what reading the whole log gives; a pass then emits nothing.
   */
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3})
  void shouldLoadTheSavedWindowsAndReadOnlyTheChangesAfterThem(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    String msg = "seed " + seed;
    Path data = dir.resolve("data");
    long now;
    long firstEnd;
    try (Engine b = open(data)) {
      now = history(b, b.changeFeed("v"), rnd, T, 8);
      firstEnd = b.changeFeed("v").endId();
    }
    assertThat(saved(data)).as(msg + ": saved at close").exists();
    Path first = dir.resolve("first.emitted");
    Files.copy(saved(data), first);
    try (Engine b = open(data)) {
      ChangeFeed feed = b.changeFeed("v");
      assertThat(feed.startStats()).as(msg + ": all from the file, nothing from the log")
          .startsWith(feed.emittedWindows(), 0);
      assertRemembersTheLog(b, feed, msg + ", after a clean close");
      history(b, feed, rnd, now, 8);
      assertThat(feed.endId()).as(msg + ": more changes").isGreaterThan(firstEnd);
    }
    Files.copy(first, saved(data), StandardCopyOption.REPLACE_EXISTING);
    try (Engine b = open(data)) {
      ChangeFeed feed = b.changeFeed("v");
      long[] stats = feed.startStats();
      assertThat(stats[1]).as(msg + ": the changes after the first file read from the log")
          .isEqualTo(feed.endId() - firstEnd);
      assertThat(stats[0]).as(msg + ": the rest from the file").isPositive();
      assertRemembersTheLog(b, feed, msg + ", from an older file");
      long end = feed.endId();
      feed.pass();
      assertThat(feed.endId()).as(msg + ": nothing emitted twice").isEqualTo(end);
    }
  }

  /**
   * A file that covers changes the log does not have (the log lost its unsynced tail, or was made
   * anew), a damaged one and a truncated one are each refused: the log is read whole, and the file
   * is replaced by one of this log.
   */
  @Test
  void shouldRefuseAFileTheLogDoesNotMatchOrThatIsDamaged(@TempDir Path dir) throws Exception {
    Random rnd = new Random(11);
    Path data = dir.resolve("data");
    Path early = dir.resolve("early");
    long now;
    try (Engine b = open(data)) {
      now = history(b, b.changeFeed("v"), rnd, T, 6);
    }
    copyTree(data, early);
    try (Engine b = open(data)) {
      history(b, b.changeFeed("v"), rnd, now, 6);
    }
    Path late = dir.resolve("late.emitted");
    Files.copy(saved(data), late);

    // a log that ends before the change the file covers last
    Files.copy(late, saved(early), StandardCopyOption.REPLACE_EXISTING);
    assertRefusedAndReadWhole(early, "beyond the log's end");

    // a changes log made anew: the change the file covers last is another one
    EmittedWindows w = new EmittedWindows();
    EmittedSnapshot.Loaded l = EmittedSnapshot.read(saved(data), w, ChangeJson.FORMAT);
    EmittedSnapshot.write(saved(data), w, l.lastId(), l.lastHash() + 1, l.horizon(), ChangeJson.FORMAT);
    assertRefusedAndReadWhole(data, "another change");

    // hashes of another form of the values' JSON (a build that writes them otherwise)
    l = EmittedSnapshot.read(saved(data), w, ChangeJson.FORMAT);
    EmittedSnapshot.write(saved(data), w, l.lastId(), l.lastHash(), l.horizon(), ChangeJson.FORMAT + 1);
    assertRefusedAndReadWhole(data, "another JSON format");

    flip(saved(data), EmittedSnapshot.HEADER_BYTES); // the key count's high byte
    assertRefusedAndReadWhole(data, "a count flipped");
    flip(saved(data), (int) Files.size(saved(data)) - 10); // the last entry's hash: only the CRC tells
    assertRefusedAndReadWhole(data, "a hash flipped");
    try (FileChannel ch = FileChannel.open(saved(data), StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 3);
    }
    assertRefusedAndReadWhole(data, "truncated");
  }

  /**
   * A changes log whose directory was deleted is not made anew while the view's saved file says it
   * held changes (ids from 0 again would be skipped or taken for other changes by a client resuming
   * after an id it saw): the start is refused, naming the directory, and creates nothing. The file
   * is written after the first pass that emits anything, so a kill before the first close leaves
   * the sign too. Deleting the file, as the message says, starts the changes anew.
   */
  @Test
  void shouldRefuseToMakeAMissingChangesLogAnew(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("data");
    long end;
    try (Engine b = open(data)) {
      history(b, b.changeFeed("v"), new Random(5), T, 3);
      end = b.changeFeed("v").endId();
      assertThat(end).isPositive();
      b.changeFeed("v").saveEmitted(false); // as the feed's thread does after a pass
      assertThat(saved(data)).as("saved after the first pass that emitted, before any close").exists();
    }
    Path changesLog = data.resolve("log").resolve("v" + ChangeFeed.SUFFIX);
    assertThat(changesLog).isDirectory();
    dev.braid.testing.TestFiles.deleteTree(changesLog);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> open(data).close())
        .isInstanceOf(dev.braid.log.CorruptLogException.class)
        .hasMessageContaining("the changes log of view 'v' is missing, and " + saved(data) + " says it held changes "
            + "up to id " + (end - 1) + "; nothing was created in its place: stop, restore " + changesLog);
    assertThat(changesLog).as("nothing made anew").doesNotExist();

    Files.delete(saved(data));
    try (Engine b = open(data)) {
      assertThat(changesLog).as("made anew").isDirectory();
      // the feed's thread may have run a pass before the test stopped it, emitting the closed windows again
      assertThat(b.changes("v", 0, 1)).as("the changes start anew, from id 0").allMatch(c -> c.id() == 0);
    }
  }

  private static void assertRefusedAndReadWhole(Path data, String what) throws Exception {
    try (Engine b = open(data)) {
      ChangeFeed feed = b.changeFeed("v");
      assertThat(feed.startStats()).as(what + ": read whole").startsWith(0, feed.endId());
      // the refused file is gone; closing the test's feed saved a new one, of this log
      assertThat(readSaved(data).lastId()).as(what + ": saved anew")
          .isEqualTo(feed.endId() - 1);
      assertRemembersTheLog(b, feed, what);
      long end = feed.endId();
      feed.pass();
      assertThat(feed.endId()).as(what + ": nothing emitted twice").isEqualTo(end);
    }
    assertThat(saved(data)).as(what + ": saved again at close").exists();
  }

  private static void flip(Path file, int at) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, at);
      one.put(0, (byte) (one.get(0) ^ 0x10)).rewind();
      ch.write(one, at);
    }
  }

  /** What is written is read back: every entry, its id and hash, retracted ones and the live counts. */
  @Test
  void shouldReadBackWhatItWrote(@TempDir Path dir) throws Exception {
    Random rnd = new Random(5);
    EmittedWindows w = new EmittedWindows();
    Map<String, long[]> model = new HashMap<>();
    for (int i = 0; i < 5_000; i++) {
      String key = "k\u00e9" + rnd.nextInt(300);
      long start = rnd.nextInt(50) * 1_000L;
      long hash = rnd.nextInt(4) == 0 ? EmittedWindows.RETRACTED : rnd.nextLong();
      w.put(key, start, i, hash);
      model.put(key + "@" + start, new long[] {i, hash});
    }
    Path file = dir.resolve(EmittedSnapshot.FILE);
    EmittedSnapshot.write(file, w, 4_999, 77, -5, ChangeJson.FORMAT);
    EmittedWindows back = new EmittedWindows();
    EmittedSnapshot.Loaded loaded = EmittedSnapshot.read(file, back, ChangeJson.FORMAT);
    assertThat(loaded).isEqualTo(new EmittedSnapshot.Loaded(4_999, 77, -5, model.size()));
    assertThat(back.size()).isEqualTo(model.size());
    Map<Integer, Integer> live = new HashMap<>();
    for (Map.Entry<String, long[]> e : model.entrySet()) {
      String key = e.getKey().substring(0, e.getKey().indexOf('@'));
      long start = Long.parseLong(e.getKey().substring(e.getKey().indexOf('@') + 1));
      int entry = back.find(back.keyId(key), start);
      assertThat(entry).as(e.getKey()).isNotNegative();
      assertThat(new long[] {back.id(entry), back.hash(entry)}).as(e.getKey()).containsExactly(e.getValue());
      if (e.getValue()[1] != EmittedWindows.RETRACTED) {
        live.merge(back.keyId(key), 1, Integer::sum);
      }
    }
    for (int k = 0; k < 300; k++) {
      int id = back.keyId("k\u00e9" + k);
      assertThat(back.live(id)).as("live windows of key " + k).isEqualTo(w.live(w.keyId("k\u00e9" + k)))
          .isEqualTo(live.getOrDefault(id, 0));
    }
  }

  /**
   * Retention: the file keeps the horizon its windows were pruned at. A start loads it with that
   * horizon; a version that keeps the evicted windows again (a reprocess with a longer retain) makes
   * the feed read its log whole, closes nothing twice, and the lowered horizon is saved at close
   * even though nothing was emitted since.
   */
  @Test
  void shouldKeepTheRetentionHorizonItPrunedAt(@TempDir Path dir) throws Exception {
    long min = ChangesStreamTest.MIN;
    ViewSpec.Builder three = ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).retain(Duration.ofMinutes(3));
    PipelineSpec spec = PipelineSpec.builder().stream(ChangesStreamTest.spec().stream("s")).view(three.build()).build();
    int kept;
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      for (int m = 0; m < 10; m++) {
        ChangesStreamTest.send(b, "a", T + m * min + 1_000, 1);
      }
      feed.pass();
      assertThat(b.changes("v", 0, 100)).hasSize(9); // minutes 0-8; 9 is open
      assertThat(b.viewRuntime("v").evictExpiredWindows()).isPositive();
      feed.pass();
      kept = feed.emittedWindows();
      assertThat(kept).as("the evicted windows are forgotten").isLessThan(9).isPositive();
    }
    assertThat(readSaved(dir).horizon()).as("saved with its horizon")
        .isGreaterThan(T);
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      assertThat(feed.startStats()).as("loaded, nothing read").startsWith(kept, 0);
      feed.pass();
      assertThat(feed.endId()).as("nothing closed again").isEqualTo(9);
      ChangesStreamTest.reprocessAndAwait(b, "v", three.retain(Duration.ofHours(1)).build());
      feed.pass();
      assertThat(b.changes("v", 9, 100)).as("the windows kept again are as emitted").isEmpty();
      assertThat(feed.emittedWindows()).as("read from the log again").isEqualTo(9);
    }
    // the new version's horizon (computed when the feed's pass after the switch evicted what it
    // drops: nothing, an hour back) is below every window
    assertThat(readSaved(dir).horizon()).as("the lowered horizon saved")
        .isLessThan(T);
    try (Engine b = (Engine) Braid.open(dir, spec)) {
      ChangeFeed feed = b.changeFeed("v");
      feed.close();
      assertThat(feed.startStats()).as("loaded, nothing read").startsWith(9, 0);
      ChangesStreamTest.send(b, "a", T + 10 * min + 1_000, 1);
      feed.pass();
      assertThat(b.changes("v", 9, 100)).extracting(e -> e.kind() + " " + (e.start() - T) / min)
          .containsExactly("CLOSE 9");
    }
  }

  /**
   * A record the feed did not write itself (another writer, or an append whose fsync failed after
   * its records reached the log) is taken in before a save, so the file covers only what the feed
   * holds: a start loads it and reads nothing, and remembers the record.
   */
  @Test
  void shouldTakeInARecordItDidNotWriteBeforeItSaves(@TempDir Path dir) throws Exception {
    Random rnd = new Random(3);
    ChangeEvent last;
    try (Engine b = open(dir)) {
      history(b, b.changeFeed("v"), rnd, T, 6);
      List<ChangeEvent> all = b.changes("v", 0, Integer.MAX_VALUE);
      ChangeEvent before = all.get(all.size() - 1);
      byte[] value = ("{\"values\":{\"n\":99},\"kind\":\"correction\",\"key\":\"" + before.key() + "\",\"start\":"
          + before.start() + ",\"end\":" + before.end() + "}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      dev.braid.log.RecordBatchBuilder one = new dev.braid.log.RecordBatchBuilder(1024, 1 << 20);
      byte[] key = before.key().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      one.add(key, 0, key.length, value, 0, value.length, before.start(), 0);
      b.log().stream("v" + ChangeFeed.SUFFIX).append(0, one);
      last = b.changes("v", before.id() + 1, 1).get(0);
    }
    assertThat(readSaved(dir).lastId()).isEqualTo(last.id());
    try (Engine b = open(dir)) {
      ChangeFeed feed = b.changeFeed("v");
      assertThat(feed.startStats()).startsWith(feed.emittedWindows(), 0);
      assertRemembersTheLog(b, feed, "with the record another writer appended");
    }
  }
}
