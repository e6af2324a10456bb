package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The batch layer's budget, spill and cleanup, scenario by scenario. */
class BatchSpillTest {

  static final long T0 = 1_700_000_000_000L;

  /** {@code events} events over {@code users} users and 40 merchants, round robin. */
  private static void ingest(Engine e, int events, int users) {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < events; i++) {
      Map<String, Object> ev = new LinkedHashMap<>();
      ev.put("user", "u" + (i % users));
      ev.put("merchant", "m" + (i % 40));
      ev.put("amount", 1.5);
      ev.put("qty", 2L);
      ev.put("ts", T0 + i * 60_000L);
      batch.add(ev);
      if (batch.size() == 500) {
        assertThat(e.ingest("tx", batch).rejections()).isEmpty();
        batch.clear();
      }
    }
    assertThat(e.ingest("tx", batch).rejections()).isEmpty();
  }

  private static List<String> filesUnder(Path dir) throws Exception {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> !p.equals(dir)).map(p -> dir.relativize(p).toString()).sorted().toList();
    }
  }

  @Test
  void shouldSpillRunsAndMergeThemWhenTheTablesExceedTheBudget(@TempDir Path dir) throws Exception {
    PipelineSpec spec = BatchSpillPropertyTest.spec(2);
    try (Engine e = Engine.open(dir, spec, new EngineOptions(2, 16 << 10))) {
      ingest(e, 3000, 500);
      for (BatchSpillPropertyTest.ViewDef v : BatchSpillPropertyTest.VIEWS) {
        e.runBatch(v.name());
        BatchLayer.Stats s = e.viewRuntime(v.name()).lastBatch;
        assertThat(s.runsWritten()).as(v.name() + " runs").isGreaterThan(1);
        assertThat(s.bytesSpilled()).as(v.name() + " bytes spilled").isPositive();
        assertThat(e.viewRuntime(v.name()).batchProgress).as("progress of a finished cycle").isNull();
        // every view directory holds Bases only (and a windowed view's emitted windows), no spill directory or run
        assertThat(filesUnder(dir.resolve("views").resolve(v.name()))).as(v.name())
            .allMatch(f -> f.matches("v\\d+\\.base") || f.equals(EmittedSnapshot.FILE)
                || f.equals(ViewRuntime.LAST_BATCH_FILE));
      }
      assertThat(e.get("by_user", "u7").values()).containsEntry("n", 6L).containsEntry("q", 12L);
      assertThat(e.get("by_merchant", "m7").values()).containsEntry("n", 75L).containsEntry("users", 25L);
    }
  }

  @Test
  void shouldBuildFromMemoryWithoutSpillingWhenTheViewFitsItsBudget(@TempDir Path dir) throws Exception {
    try (Engine e = Engine.open(dir, BatchSpillPropertyTest.spec(2), EngineOptions.defaults())) {
      ingest(e, 3000, 500);
      for (BatchSpillPropertyTest.ViewDef v : BatchSpillPropertyTest.VIEWS) {
        e.runBatch(v.name());
        BatchLayer.Stats s = e.viewRuntime(v.name()).lastBatch;
        assertThat(s.runsWritten()).as(v.name()).isZero();
        assertThat(s.peakReservedBytes()).as(v.name()).isPositive()
            .isLessThanOrEqualTo(EngineOptions.defaultBatchMemoryBytes());
      }
      assertThat(e.get("by_user", "u7").values()).containsEntry("n", 6L);
    }
  }

  @Test
  void shouldDeleteTheRunsWhenACycleFails(@TempDir Path dir) throws Exception {
    try (Engine e = Engine.open(dir, BatchSpillPropertyTest.spec(2), new EngineOptions(2, 8 << 10))) {
      ingest(e, 2000, 400);
      long ok = e.runBatch("by_user");
      assertThat(e.viewRuntime("by_user").lastBatch.runsWritten()).isGreaterThan(1);
      // The next cycle (same events, so it spills as much) cannot move its Base into place.
      Path blocker = dir.resolve("views").resolve("by_user").resolve("v" + (ok + 1) + ".base");
      Files.createDirectories(blocker.resolve("in-the-way"));
      assertThatThrownBy(() -> e.runBatch("by_user", true)).isInstanceOf(UncheckedIOException.class)
          .hasMessageContaining("by_user");
      assertThat(filesUnder(dir.resolve("views"))).noneMatch(f -> f.contains(".spill") || f.endsWith(".run"));
      assertThat(e.versions("by_user")).extracting(VersionInfo::id, VersionInfo::state)
          .contains(org.assertj.core.groups.Tuple.tuple(ok, VersionState.CURRENT),
              org.assertj.core.groups.Tuple.tuple(ok + 1, VersionState.FAILED));
    }
  }

  @Test
  void shouldRemoveASpillDirectoryThatACrashLeftBehind(@TempDir Path dir) throws Exception {
    PipelineSpec spec = BatchSpillPropertyTest.spec(1);
    long version;
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults())) {
      ingest(e, 100, 10);
      version = e.runBatch("by_user");
    }
    Path view = dir.resolve("views").resolve("by_user");
    Path spill = view.resolve("v" + (version + 1) + ".spill");
    Files.createDirectories(spill.resolve("nested"));
    Files.write(spill.resolve("p0-0.run"), new byte[100]);
    Files.write(spill.resolve("nested").resolve("merge-1.run"), new byte[10]);
    Files.write(view.resolve("v" + (version + 1) + ".base.tmp"), new byte[10]);
    try (Engine e = Engine.open(dir, spec, EngineOptions.defaults())) {
      assertThat(filesUnder(view)).as("the Base and the checkpoint of the close stay, the leftovers go")
          .containsExactly(ViewRuntime.LAST_BATCH_FILE, "v" + version + "-000000000001.ckpt", "v" + version + ".base");
      assertThat(e.get("by_user", "u3").values()).containsEntry("n", 10L);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Run files
  // ---------------------------------------------------------------------------------------------

  private static ViewProgram countProgram() {
    StreamSpec stream = StreamSpec.builder("tx").partitions(1).key("user").time("ts")
        .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build();
    return new ViewProgram(ViewSpec.builder("v").from("tx").groupBy("user").tumbling(java.time.Duration.ofHours(1))
        .aggregate("n", "count").build(), stream.schema());
  }

  /** A table of {@code keys} keys, key {@code k} with windows 5, 3, 9 (out of order) counting k + w. */
  private static GroupTable table(ViewProgram p, int keys) {
    GroupTable t = p.newTable(16);
    for (int k = 0; k < keys; k++) {
      byte[] kb = ("key-" + k).getBytes(StandardCharsets.UTF_8);
      int id = t.findOrInsertKey(kb, kb.length, GroupTable.hash(kb, kb.length));
      for (long w : new long[] {5, 3, 9}) {
        int g = t.findOrInsertGroup(id, w);
        t.longs[g * t.stride] = k + w;
      }
    }
    return t;
  }

  @Test
  void shouldWriteARunInKeyAndWindowOrderAndReadItBack(@TempDir Path dir) throws Exception {
    ViewProgram p = countProgram();
    RunFile run = RunFile.write(dir.resolve("r.run"), table(p, 300), p, new RunFile.Sorter());
    assertThat(run.keys()).isEqualTo(300);
    assertThat(run.groups()).isEqualTo(900);
    assertThat(run.bytes()).isEqualTo(Files.size(run.path()));
    int keys = 0;
    int previousHash = Integer.MIN_VALUE;
    try (RunFile.Reader r = new RunFile.Reader(run, 4096, p.spec.definition().hashCode())) {
      while (r.nextKey()) {
        assertThat(r.hash()).isGreaterThanOrEqualTo(previousHash);
        previousHash = r.hash();
        String key = new String(r.key(), 0, r.keyLength(), StandardCharsets.UTF_8);
        long k = Long.parseLong(key.substring(4));
        List<Long> windows = new ArrayList<>();
        while (r.nextWindow()) {
          windows.add(r.window());
          long[] longs = new long[1];
          p.readRow(r.stateInput(), longs, 0, new Object[1], 0, p.scratch());
          assertThat(longs[0]).as(key + " window " + r.window()).isEqualTo(k + r.window());
        }
        assertThat(windows).as(key).containsExactly(3L, 5L, 9L);
        keys++;
      }
    }
    assertThat(keys).isEqualTo(300);
  }

  @Test
  void shouldRefuseARunWithAFlippedBit(@TempDir Path dir) throws Exception {
    ViewProgram p = countProgram();
    RunFile run = RunFile.write(dir.resolve("r.run"), table(p, 50), p, new RunFile.Sorter());
    byte[] bytes = Files.readAllBytes(run.path());
    bytes[bytes.length / 2] ^= 0x10; // inside some window's state
    Files.write(run.path(), bytes);
    assertThatThrownBy(() -> {
      try (RunFile.Reader r = new RunFile.Reader(run, 4096, p.spec.definition().hashCode())) {
        while (r.nextKey()) {
          while (r.nextWindow()) {
            // read everything
          }
        }
      }
    }).isInstanceOf(CorruptLogException.class).hasMessageContaining(run.path().toString());
  }

  @Test
  void shouldMergeRunsIntoABaseWhoseIndexOutgrowsItsFirstSize(@TempDir Path dir) throws Exception {
    ViewProgram p = countProgram();
    RunFile a = RunFile.write(dir.resolve("a.run"), table(p, 200), p, new RunFile.Sorter());
    RunFile b = RunFile.write(dir.resolve("b.run"), table(p, 500), p, new RunFile.Sorter());
    Path base = dir.resolve("v1.base");
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, p, Cut.of(7), 16)) {
      new RunMerger(p, 1 << 20).mergeAll(List.of(a, b), w, () -> dir.resolve("m.run"));
      BaseFile.Written written = w.finish();
      assertThat(written.keys()).isEqualTo(500);
      assertThat(written.groups()).isEqualTo(1500);
    }
    assertThat(a.path()).doesNotExist();
    assertThat(b.path()).doesNotExist();
    BaseFile f = BaseFile.open(base);
    assertThat(f.cut).isEqualTo(Cut.of(7));
    for (int k = 0; k < 500; k++) {
      byte[] kb = ("key-" + k).getBytes(StandardCharsets.UTF_8);
      long[] total = new long[1];
      int key = k;
      assertThat(f.lookup(kb, kb.length, (window, buffer, offset, length) -> {
        long[] longs = new long[1];
        p.readRow(new ByteBufferDataInput().reset(buffer, offset, offset + length), longs, 0, new Object[1], 0,
            p.scratch());
        total[0] += longs[0];
      })).isTrue();
      long once = 3L * key + 17; // (k + 3) + (k + 5) + (k + 9)
      assertThat(total[0]).as("key-" + k).isEqualTo(k < 200 ? 2 * once : once);
    }
    byte[] missing = "key-500".getBytes(StandardCharsets.UTF_8);
    assertThat(f.lookup(missing, missing.length, (w, buf, off, len) -> { })).isFalse();
  }

  /** Two distinct keys with one {@link GroupTable#hash}, found by a birthday search; in run order. */
  private static byte[][] collidingKeys() {
    Map<Integer, String> seen = new java.util.HashMap<>();
    for (int i = 0; ; i++) {
      byte[] kb = ("c" + i).getBytes(StandardCharsets.UTF_8);
      String other = seen.putIfAbsent(GroupTable.hash(kb, kb.length), "c" + i);
      if (other != null) { // smaller key bytes first
        byte[] ob = other.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.compareUnsigned(ob, kb) < 0 ? new byte[][] {ob, kb} : new byte[][] {kb, ob};
      }
    }
  }

  private static void count(GroupTable t, byte[] key, long window, long n) {
    int id = t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
    t.longs[t.findOrInsertGroup(id, window) * t.stride] += n;
  }

  @Test
  void shouldKeepKeysWhoseHashesCollideApartThroughSortAndMerge(@TempDir Path dir) throws Exception {
    ViewProgram p = countProgram();
    byte[][] c = collidingKeys();
    GroupTable a = p.newTable(16);
    count(a, c[1], 0, 1); // the greater key first: the run must sort them by their bytes
    count(a, c[0], 0, 10);
    GroupTable b = p.newTable(16);
    count(b, c[1], 0, 100);
    count(b, c[1], 3_600_000, 1000);
    RunFile ra = RunFile.write(dir.resolve("a.run"), a, p, new RunFile.Sorter());
    RunFile rb = RunFile.write(dir.resolve("b.run"), b, p, new RunFile.Sorter());
    Path base = dir.resolve("v1.base");
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, p, Cut.of(1), 1)) {
      new RunMerger(p, 1 << 20).mergeAll(List.of(ra, rb), w, () -> dir.resolve("m.run"));
      assertThat(w.finish().keys()).isEqualTo(2);
    }
    BaseFile f = BaseFile.open(base);
    for (int i = 0; i < 2; i++) {
      Map<Long, Long> windows = new java.util.TreeMap<>();
      f.lookup(c[i], c[i].length, (window, buffer, offset, length) -> {
        long[] longs = new long[1];
        p.readRow(new ByteBufferDataInput().reset(buffer, offset, offset + length), longs, 0, new Object[1], 0,
            p.scratch());
        windows.put(window, longs[0]);
      });
      assertThat(windows).as(new String(c[i], StandardCharsets.UTF_8))
          .isEqualTo(i == 0 ? Map.of(0L, 10L) : Map.of(0L, 101L, 3_600_000L, 1000L));
    }
  }

  @Test
  void shouldNameTheFieldOfABadOption() {
    assertThatThrownBy(() -> new EngineOptions(0, 1 << 20)).hasMessage("batchThreads must be at least 1, was 0");
    assertThatThrownBy(() -> EngineOptions.defaults().withBatchMemoryBytes(-5))
        .hasMessage("batchMemoryBytes must be at least 1, was -5");
  }
}
