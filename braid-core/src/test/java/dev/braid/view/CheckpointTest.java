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
      return s.map(p -> p.getFileName().toString()).sorted().toList();
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

}
