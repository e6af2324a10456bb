package dev.braid.view;

import static dev.braid.testing.TestFiles.copyTree;
import static dev.braid.testing.TestFiles.deleteTree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint files: when they are written, which are kept, and which a start-up refuses. */
class CheckpointTest {

  @TempDir
  Path dir;

  private static final EngineOptions MANUAL = new EngineOptions(1, Long.MAX_VALUE).withCheckpointEvery(Duration.ZERO);

  private static void clicks(Engine b, String user, int n) throws InterruptedException {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(Map.of("user", user, "ts", 1_700_000_000_000L + i));
    }
    assertThat(b.ingest("clicks", events).accepted()).isEqualTo(n);
    assertThat(b.awaitCaughtUp(20, TimeUnit.SECONDS)).isTrue();
  }

  private static Status.Checkpoints checkpoints(Braid b) {
    return b.status().views().get(0).checkpoints();
  }

  private List<String> files(Path data) throws Exception {
    try (Stream<Path> s = Files.list(data.resolve("views").resolve("per_user"))) {
      // the record of the last good batch cycle's end is beside them (see ViewRuntime.LAST_BATCH_FILE)
      return s.map(p -> p.getFileName().toString()).filter(f -> !f.equals(ViewRuntime.LAST_BATCH_FILE)).sorted()
          .toList();
    }
  }

  @Test
  void shouldCheckpointOnTheIntervalAndOnlyWhenTheDeltaMoved() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null),
        new EngineOptions(1, Long.MAX_VALUE).withCheckpointEvery(Duration.ofMillis(50)))) {
      clicks(e, "ann", 10);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (checkpoints(e).written() == 0) {
        assertThat(System.nanoTime()).as("a checkpoint is written on the interval").isLessThan(deadline);
        Thread.sleep(10);
      }
      Thread.sleep(300); // several more intervals without new events
      assertThat(checkpoints(e).written()).as("no checkpoint while the Delta does not move").isEqualTo(1);
      assertThat(checkpoints(e).lastPosition().offset(0) + checkpoints(e).lastPosition().offset(1)).isEqualTo(10);
    }
  }

  @Test
  void shouldKeepTheTwoNewestCheckpointsOfTheCurrentVersionOnly() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      for (int i = 0; i < 4; i++) {
        clicks(e, "ann", 3);
        e.checkpointAll();
      }
      assertThat(files(data)).containsExactly("v1-000000000003.ckpt", "v1-000000000004.ckpt");
      long v = e.runBatch("per_user");
      assertThat(files(data)).as("a batch swap drops the old version's checkpoints")
          .containsExactly("v" + v + ".base");
      clicks(e, "bob", 2);
      e.checkpointAll();
      assertThat(files(data)).containsExactly("v" + v + "-000000000005.ckpt", "v" + v + ".base");
    }
  }

  @Test
  void shouldRemoveATemporaryCheckpointThatACrashLeftBehind() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 3);
    }
    Path tmp = data.resolve("views").resolve("per_user").resolve("v1-000000000007.ckpt.tmp");
    Files.write(tmp, new byte[] {1, 2, 3});
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      assertThat(tmp).doesNotExist();
      assertThat(checkpoints(e).restoredFrom()).isEqualTo("v1-000000000001.ckpt");
      assertThat(e.get("per_user", "ann").values()).containsEntry("n", 3L);
    }
  }

  /**
   * A power loss under {@code os} durability can take the log's unsynced tail while a checkpoint
   * taken before it survived: that checkpoint counts events the log no longer has. Simulated by
   * pairing an older copy of the log with a newer view directory.
   */
  @Test
  void shouldRefuseACheckpointThatCountsEventsTheLogNoLongerHas() throws Exception {
    Path data = dir.resolve("data");
    Path oldLog = dir.resolve("old-log");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 5);
      copyTree(data.resolve("log"), oldLog);
      clicks(e, "ann", 7);
      e.checkpointAll();
    }
    deleteTree(data.resolve("log"));
    copyTree(oldLog, data.resolve("log"));
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      Status.Checkpoints c = checkpoints(e);
      assertThat(c.restoredFrom()).as("the only checkpoint is refused").isNull();
      assertThat(c.refused()).singleElement().asString().startsWith("v1-000000000001.ckpt: partition ")
          .contains("the log lost events the checkpoint counted");
      assertThat(e.get("per_user", "ann").values()).as("rebuilt from the log as it is").containsEntry("n", 5L);
      assertThat(files(data)).as("the refused checkpoint is deleted").doesNotContain("v1-000000000001.ckpt");
    }
  }

  /**
   * A checkpoint that cannot be written (a directory where its temporary file goes makes a real I/O
   * error) is a fault, so {@code /health} says degraded, until a checkpoint is written again.
   */
  @Test
  void shouldReportAViewWhoseCheckpointCannotBeWrittenAsAFaultUntilOneIs() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 3);
      Path blocker = data.resolve("views").resolve("per_user").resolve("v1-000000000001.ckpt.tmp");
      Files.createDirectories(blocker);
      e.checkpointAll();
      assertThat(e.faults().checkpoints()).containsOnlyKeys("per_user");
      assertThat(e.faults().checkpoints().get("per_user")).startsWith("failing: ").contains("ckpt.tmp");
      assertThat(e.faults().none()).isFalse();
      Files.deleteIfExists(blocker); // the failed write removed it already (an empty directory)
      clicks(e, "ann", 1); // moved: the next round writes one
      e.checkpointAll();
      assertThat(e.faults().checkpoints()).isEmpty();
      assertThat(e.faults().none()).isTrue();
    }
  }

  /**
   * A checkpoint that fails round after round for the same reason is logged once, not every round
   * (an unwritable directory logged an ERROR per view every interval, forever), and its end once.
   */
  @Test
  void shouldLogACheckpointFailureOnceUntilItEndsAndSayWhenItEnds() throws Exception {
    Path data = dir.resolve("data");
    ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Engine.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    log.addAppender(logged);
    ch.qos.logback.classic.Level level = log.getLevel();
    log.setLevel(ch.qos.logback.classic.Level.INFO);
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 3);
      for (int round = 1; round <= 3; round++) { // each round's file has the next sequence number
        Files.createDirectories(data.resolve("views").resolve("per_user")
            .resolve(String.format("v1-%012d.ckpt.tmp", round)));
        e.checkpointAll();
      }
      assertThat(e.faults().checkpoints()).containsOnlyKeys("per_user");
      e.checkpointAll();
      assertThat(e.faults().checkpoints()).isEmpty();
    } finally {
      log.detachAppender(logged);
      log.setLevel(level);
    }
    List<String> lines = logged.list.stream().filter(x -> x.getFormattedMessage().contains("'per_user': checkpoint"))
        .map(x -> x.getLevel() + " " + x.getFormattedMessage()).toList();
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).startsWith("ERROR view 'per_user': checkpoint failed; the previous one stays: ")
        .contains("ckpt.tmp");
    assertThat(lines.get(1)).isEqualTo("INFO view 'per_user': checkpoint succeeds again, after 3 failed rounds");
  }

  /** Five clicks of ann in a new engine on {@code data}, closed: the close's checkpoint, which it returns. */
  private static Path fiveClicksCheckpointedOnClose(Path data) throws Exception {
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 5);
    }
    return data.resolve("views").resolve("per_user").resolve("v1-000000000001.ckpt");
  }

  /**
   * A checkpoint whose copy turns out not to match its positions (the speed layer stopped on an Error
   * while it was copied: see {@code SpeedLayer.stop}) writes nothing: no file, no temporary file; the
   * same copy found consistent is written.
   */
  @Test
  void shouldWriteNothingWhenTheCopyIsFoundInconsistentBeforeTheRename() throws Exception {
    try (Engine e = Engine.open(dir.resolve("data"), EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 5);
      Version v = e.view("per_user").current();
      Path out = dir.resolve("out");
      java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
      assertThat(DeltaCheckpoint.write(out, v.id, 1, v.definition, v.horizon, v.program, v.delta,
          () -> asked.incrementAndGet() < 0)).isNull();
      assertThat(asked.get()).as("asked once, after the copy").isEqualTo(1);
      try (Stream<Path> s = Files.list(out)) {
        assertThat(s.toList()).as("nothing left behind").isEmpty();
      }
      DeltaCheckpoint.Written w = DeltaCheckpoint.write(out, v.id, 1, v.definition, v.horizon, v.program, v.delta,
          () -> true);
      assertThat(w.path()).exists();
      assertThat(w.position()).isEqualTo(v.delta.position());
    }
  }

  /** A byte flipped in the definition a checkpoint's header holds is reported as damage, not as a change. */
  @Test
  void shouldCallAFlippedByteInTheHeaderDamageNotAnotherDefinition() throws Exception {
    Path data = dir.resolve("data");
    Path ckpt = fiveClicksCheckpointedOnClose(data);
    byte[] bytes = Files.readAllBytes(ckpt);
    bytes[60] ^= 0x20; // in the definition's text (after magic, format, version, times and partitions)
    Files.write(ckpt, bytes);
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      assertThat(checkpoints(e).refused()).singleElement().asString()
          .isEqualTo("v1-000000000001.ckpt: it fails its CRC");
      assertThat(e.get("per_user", "ann").values()).as("rebuilt from the log").containsEntry("n", 5L);
    }
  }

  /**
   * A damaged key count that the file's bytes could not hold is refused as such before anything is
   * sized by it (a table sized for a flipped high byte's count exhausted the heap before the CRC at
   * the end was reached, and the start failed instead of falling back to the log).
   */
  @Test
  void shouldRefuseAKeyCountTheFileCannotHoldBeforeSizingATableForIt() throws Exception {
    Path data = dir.resolve("data");
    Path ckpt = fiveClicksCheckpointedOnClose(data);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(ckpt));
    b.position(DeltaCheckpoint.MAGIC.length);
    assertThat(b.getInt()).isEqualTo(DeltaCheckpoint.FORMAT);
    b.position(b.position() + 3 * 8); // version, created, horizon
    int partitions = b.getInt();
    skipSized(b); // the definition
    for (int p = 0; p < partitions; p++) { // the run names
      int runs = b.getInt();
      for (int r = 0; r < runs; r++) {
        skipSized(b);
      }
    }
    int keyCount = b.position() + 6 * 8; // partition 0: position, folded, two event times, two event counts
    assertThat(b.getInt(keyCount)).as("partition 0's key count").isBetween(0, 1);
    b.putInt(keyCount, b.capacity() / 2); // at most the file's size: the bound before; a key takes 8 bytes
    Files.write(ckpt, b.array());

    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      assertThat(checkpoints(e).refused()).singleElement().asString()
          .isEqualTo("v1-000000000001.ckpt: partition 0 has an impossible key count " + b.capacity() / 2);
      assertThat(e.get("per_user", "ann").values()).as("rebuilt from the log").containsEntry("n", 5L);
    }
  }

  /** Moves {@code b} past an int length and that many bytes. */
  private static void skipSized(java.nio.ByteBuffer b) {
    int length = b.getInt();
    b.position(b.position() + length);
  }

  /**
   * A checkpoint written before format 4 (without each partition's event counts) is still loaded:
   * rewritten here from a format 4 file into format 3's layout, with its CRC. Status then calls the
   * counts of left-out events incomplete, also after a checkpoint of the loaded Delta is loaded
   * again, until a batch cycle counts them anew.
   */
  @Test
  void shouldLoadAFormat3CheckpointThatHasNoEventCounts() throws Exception {
    Path data = dir.resolve("data");
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      clicks(e, "ann", 5);
      clicks(e, "bob", 4);
    }
    Path ckpt = data.resolve("views").resolve("per_user").resolve("v1-000000000001.ckpt");
    Files.write(ckpt, asFormat3(Files.readAllBytes(ckpt)));
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      assertThat(checkpoints(e).restoredFrom()).isEqualTo("v1-000000000001.ckpt");
      assertThat(checkpoints(e).refused()).isEmpty();
      assertThat(e.get("per_user", "ann").values()).containsEntry("n", 5L);
      assertThat(e.get("per_user", "bob").values()).containsEntry("n", 4L);
      clicks(e, "ann", 2);
      assertThat(e.get("per_user", "ann").values()).containsEntry("n", 7L);
      assertThat(e.status().views().get(0).leftOutCountsComplete()).isFalse();
    }
    try (Engine e = Engine.open(data, EngineBasicsTest.spec(null), MANUAL)) {
      assertThat(checkpoints(e).restoredFrom()).as("the close's checkpoint, format 4")
          .isEqualTo("v1-000000000002.ckpt");
      assertThat(e.status().views().get(0).leftOutCountsComplete()).as("still not known").isFalse();
      e.runBatch("per_user");
      assertThat(e.status().views().get(0).leftOutCountsComplete()).as("counted by the batch cycle").isTrue();
      assertThat(e.get("per_user", "ann").values()).containsEntry("n", 7L);
    }
  }

  private static int copyInt(java.io.DataInputStream in, java.io.DataOutputStream out) throws java.io.IOException {
    int n = in.readInt();
    out.writeInt(n);
    return n;
  }

  /** Copies an int length and that many bytes. */
  private static void copyLengthPrefixed(java.io.DataInputStream in, java.io.DataOutputStream out)
      throws java.io.IOException {
    out.write(in.readNBytes(copyInt(in, out)));
  }

  /** {@code v4}, a format 4 checkpoint, in format 3: the same without each partition's two counts. */
  private static byte[] asFormat3(byte[] v4) throws java.io.IOException {
    java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(v4));
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
    out.write(in.readNBytes(8)); // magic
    assertThat(in.readInt()).isEqualTo(DeltaCheckpoint.FORMAT).isEqualTo(4);
    out.writeInt(DeltaCheckpoint.FORMAT_WITHOUT_COUNTS);
    out.write(in.readNBytes(24)); // version, created, horizon
    int partitions = copyInt(in, out);
    copyLengthPrefixed(in, out); // the definition
    for (int p = 0; p < partitions; p++) { // run names
      for (int r = copyInt(in, out); r > 0; r--) {
        copyLengthPrefixed(in, out);
      }
    }
    for (int p = 0; p < partitions; p++) {
      out.write(in.readNBytes(32)); // position, folded, max event time, max event time before the cut
      in.readNBytes(16); // skipped, without key: not in format 3
      for (int k = copyInt(in, out); k > 0; k--) {
        copyLengthPrefixed(in, out); // the key
        for (int w = copyInt(in, out); w > 0; w--) {
          out.writeLong(in.readLong());
          copyLengthPrefixed(in, out); // the state
        }
      }
    }
    in.readInt(); // the old CRC
    assertThat(in.read()).isEqualTo(-1);
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(bytes.toByteArray());
    out.writeInt((int) crc.getValue());
    return bytes.toByteArray();
  }
}
