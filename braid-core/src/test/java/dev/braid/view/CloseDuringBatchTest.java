package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code close()} while a batch cycle that a caller started is running: the cycle is cancelled (or
 * finishes its swap) before close returns, and nothing of the closed engine writes the catalog or
 * deletes a file afterwards, so an engine opened on the same directory right after owns it alone.
 * (A cycle left running once waited ten minutes for a speed layer that had stopped, then recorded
 * its failure in the reopened engine's catalog and deleted that engine's current Base.)
 */
class CloseDuringBatchTest {

  @Test
  void shouldStopACallersBatchCycleBeforeCloseReturnsAndLeaveTheDirectoryToTheNextEngine(@TempDir Path dir)
      throws Exception {
    ViewSpec def = ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA);
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(3);
    Braid braid = Braid.open(dir, ReprocessTest.spec(2, def));
    for (int i = 0; i < 40; i++) {
      ReprocessTest.ingest(braid, rnd, 5_000, 2, history);
    }
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread cycle = new Thread(() -> {
      try {
        outcome.set(braid.runBatchCycle("stats"));
      } catch (RuntimeException e) {
        outcome.set(e);
      }
    }, "caller's batch cycle");
    cycle.start();
    ViewRuntime rt = ((Engine) braid).viewRuntime("stats");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (rt.batchProgress == null && cycle.isAlive()) {
      assertThat(System.nanoTime()).as("the cycle starts").isLessThan(deadline);
      Thread.sleep(1);
    }
    braid.close();
    cycle.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(cycle.isAlive()).as("the caller's cycle ended with the close").isFalse();
    Object result = outcome.get();
    if (result instanceof RuntimeException e) {
      assertThat(e).hasMessageContaining("Braid is closing");
    }
    String catalogAtClose = Files.readString(dir.resolve("catalog.json"));

    try (Braid again = Braid.open(dir, ReprocessTest.spec(2, def))) {
      List<VersionInfo> versions = again.versions("stats");
      assertThat(versions.stream().filter(v -> v.state() == VersionState.CURRENT)).hasSize(1);
      assertThat(versions).as("a cycle stopped by the close is not recorded as failed")
          .noneMatch(v -> v.state() == VersionState.FAILED);
      long built = again.runBatch("stats");
      assertThat(((Engine) again).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      for (int u = 0; u < 20; u++) {
        ViewResult r = again.get("stats", "u" + u);
        assertThat(r.asOf().version()).isEqualTo(built);
        ReprocessTest.check(r, def, history.snapshot(), "after the reopen's cycle");
      }
      assertThat(dir.resolve("views/stats/v" + built + ".base")).exists();
      assertThat(Files.readString(dir.resolve("catalog.json"))).as("the reopened engine wrote its catalog")
          .isNotEqualTo(catalogAtClose);
    }
  }

  @Test
  void shouldRefuseABatchCycleAndOtherCallsOnAClosedEngineAlike(@TempDir Path dir) {
    Braid braid = Braid.open(dir, ReprocessTest.spec(1, ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA)));
    assertThatThrownBy(() -> braid.deadLetters("tx", -1, 10)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("dead letters of stream 'tx': fromOffset and limit must not be negative, got -1 and 10");
    braid.close();
    String closed = "Braid in " + dir + " is closed";
    assertThatThrownBy(() -> braid.runBatchCycle("stats")).hasMessage(closed);
    assertThatThrownBy(() -> braid.versions("stats")).hasMessage(closed);
    assertThatThrownBy(braid::status).hasMessage(closed);
    assertThatThrownBy(() -> braid.deadLetters("tx", 0, 10)).hasMessage(closed);
  }
}
