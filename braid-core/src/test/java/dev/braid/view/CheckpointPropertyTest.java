package dev.braid.view;

import static dev.braid.testing.TestFiles.copyTree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.IngestResult;
import dev.braid.Status;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import dev.braid.spec.PipelineSpec;
import dev.braid.testing.Soak;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Exactly-once state across crashes: over seeded random histories of ingests, checkpoints, batch
 * cycles, crashes (the data directory copied while the engine runs, as a {@code kill -9} would leave
 * it, with the newest checkpoint sometimes torn or bit-flipped) and clean restarts, every read
 * after every restart equals the naive recomputation, and the restart used the checkpoint it should
 * have: the newest intact one of the current version, replaying only the events after it.
 */
class CheckpointPropertyTest {

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.checkpointSeeds", Soak.seeds(10)));
  }

  private static final EngineOptions OPTIONS =
      new EngineOptions(2, Long.MAX_VALUE).withCheckpointEvery(Duration.ZERO); // checkpoints when the test says

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldRestoreExactStateFromTheNewestIntactCheckpointAfterEveryCrash(long seed, @TempDir Path dir)
      throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(4);
    int users = 40 + rnd.nextInt(200);
    int merchants = 10 + rnd.nextInt(60);
    String context = String.format("seed %d (%d partitions, %d users, %d merchants)", seed, partitions, users,
        merchants);
    PipelineSpec spec = BatchSpillPropertyTest.spec(partitions);
    List<BatchSpillPropertyTest.Ev> events = new ArrayList<>();
    int generation = 0;
    Path data = dir.resolve("g0");
    Engine engine = Engine.open(data, spec, OPTIONS);
    try {
      int rounds = 6 + rnd.nextInt(6);
      for (int round = 0; round < rounds; round++) {
        String at = context + ", round " + round;
        List<Map<String, Object>> batch = BatchSpillPropertyTest.randomBatch(rnd, users, merchants, events.size());
        IngestResult r = engine.ingest("tx", batch);
        assertThat(r.rejections()).as(at).isEmpty();
        BatchSpillPropertyTest.record(batch, r, partitions, events);
        if (rnd.nextInt(10) < 4) {
          assertThat(engine.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
          engine.checkpointAll();
          for (BatchSpillPropertyTest.ViewDef v : BatchSpillPropertyTest.VIEWS) { // each loads as written
            ViewRuntime rt = engine.viewRuntime(v.name());
            Version cur = rt.current();
            DeltaCheckpoint.FileRef f = DeltaCheckpoint.list(rt.directory()).get(0);
            DeltaCheckpoint.load(f, cur.id, cur.definition, cur.cut, engine.log().stream("tx"), cur.program);
          }
        }
        if (rnd.nextInt(10) < 2) {
          engine.runBatch(BatchSpillPropertyTest.VIEWS.get(rnd.nextInt(BatchSpillPropertyTest.VIEWS.size())).name());
        }
        int action = rnd.nextInt(10);
        if (action < 3) { // crash
          assertThat(engine.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
          Map<String, Expected> expected = expectations(engine);
          Path image = dir.resolve("g" + (++generation));
          copyTree(data, image);
          String damaged = rnd.nextBoolean() ? damageNewestCheckpoint(image, rnd, expected) : null;
          engine.close(); // writes its own final checkpoints into the old directory only
          data = image;
          engine = Engine.open(data, spec, OPTIONS);
          checkRestore(engine, expected, at + ", after a crash" + (damaged == null ? "" : " that " + damaged));
        } else if (action < 4) { // clean restart
          engine.close();
          engine = Engine.open(data, spec, OPTIONS);
          for (Status.ViewStatus v : engine.status().views()) {
            assertThat(v.checkpoints().restoredFrom()).as(at + ", clean restart of " + v.name()).isNotNull();
            assertThat(v.checkpoints().replayedOnStart()).as(at + ", replay after a clean restart of " + v.name())
                .isZero();
          }
        }
        checkAllReads(engine, users, merchants, events, at);
      }
    } finally {
      engine.close();
    }
    try (Stream<Path> files = Files.walk(data.resolve("views"))) {
      assertThat(files.filter(f -> f.toString().endsWith(".tmp"))).as(context + ": temporary files left").isEmpty();
    }
  }

  /** What a restart must restore for one view: its newest checkpoint, the one before, the log's end. */
  record Expected(long version, List<DeltaCheckpoint.FileRef> checkpoints, Cut end, boolean newestDamaged) {}

  private static Map<String, Expected> expectations(Engine engine) throws IOException {
    Map<String, Expected> out = new java.util.LinkedHashMap<>();
    for (Status.ViewStatus v : engine.status().views()) {
      List<DeltaCheckpoint.FileRef> mine = new ArrayList<>();
      for (DeltaCheckpoint.FileRef f : DeltaCheckpoint.list(engine.viewRuntime(v.name()).directory())) {
        if (f.version() == v.currentVersion()) {
          mine.add(f);
        }
      }
      out.put(v.name(), new Expected(v.currentVersion(), mine, engine.log().stream("tx").end(), false));
    }
    return out;
  }

  /** Tears or flips a byte of the newest checkpoint of a random view that has one; says what it did. */
  private static String damageNewestCheckpoint(Path image, Random rnd, Map<String, Expected> expected)
      throws IOException {
    List<String> candidates = expected.entrySet().stream().filter(e -> !e.getValue().checkpoints().isEmpty())
        .map(Map.Entry::getKey).toList();
    if (candidates.isEmpty()) {
      return null;
    }
    String view = candidates.get(rnd.nextInt(candidates.size()));
    Expected e = expected.get(view);
    Path file = image.resolve("views").resolve(view).resolve(e.checkpoints().get(0).path().getFileName());
    long size = Files.size(file);
    String what;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      if (rnd.nextBoolean()) {
        ch.truncate(rnd.nextInt((int) size));
        what = "tore the newest checkpoint of " + view;
      } else {
        long at = rnd.nextInt((int) size);
        ByteBuffer b = ByteBuffer.allocate(1);
        ch.read(b, at);
        b.put(0, (byte) (b.get(0) ^ (1 << rnd.nextInt(8))));
        b.rewind();
        ch.write(b, at);
        what = "flipped a bit at byte " + at + " of the newest checkpoint of " + view;
      }
    }
    expected.put(view, new Expected(e.version(), e.checkpoints(), e.end(), true));
    return what;
  }

  private static void checkRestore(Engine engine, Map<String, Expected> expected, String at) {
    for (Status.ViewStatus v : engine.status().views()) {
      Expected e = expected.get(v.name());
      String as = at + ", view " + v.name();
      assertThat(v.currentVersion()).as(as + " current version").isEqualTo(e.version());
      List<DeltaCheckpoint.FileRef> usable = e.newestDamaged() ? e.checkpoints().subList(1, e.checkpoints().size())
          : e.checkpoints();
      Status.Checkpoints c = v.checkpoints();
      if (e.newestDamaged()) {
        assertThat(c.refused()).as(as + " refused checkpoints").hasSize(1);
        assertThat(c.refused().get(0)).as(as + " refusal names the file")
            .startsWith(e.checkpoints().get(0).path().getFileName().toString() + ": ");
      } else {
        assertThat(c.refused()).as(as + " refused checkpoints").isEmpty();
      }
      if (usable.isEmpty()) {
        assertThat(c.restoredFrom()).as(as + " restored from").isNull();
        continue;
      }
      assertThat(c.restoredFrom()).as(as + " restored from").isEqualTo(usable.get(0).path().getFileName().toString());
      Cut from = c.lastPosition();
      long after = 0;
      for (int p = 0; p < from.partitions(); p++) {
        after += e.end().offset(p) - from.offset(p);
      }
      assertThat(c.replayedOnStart()).as(as + " events replayed after the checkpoint").isEqualTo(after);
    }
  }

  private static void checkAllReads(Engine engine, int users, int merchants, List<BatchSpillPropertyTest.Ev> events,
      String at) throws InterruptedException {
    assertThat(engine.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
    for (BatchSpillPropertyTest.ViewDef v : BatchSpillPropertyTest.VIEWS) {
      int keys = v.groupBy().equals("user") ? users : merchants;
      String prefix = v.groupBy().equals("user") ? "u" : "m";
      for (int k = 0; k <= keys; k++) {
        ViewResult r = engine.get(v.name(), prefix + k);
        BatchSpillPropertyTest.checkModel(v, r, events, at + ", view " + v.name() + ", key " + prefix + k);
      }
    }
  }

}
