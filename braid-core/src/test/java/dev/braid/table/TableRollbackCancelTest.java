package dev.braid.table;

import static dev.braid.table.TableFeaturesTest.spec;
import static dev.braid.table.TableFeaturesTest.values;
import static dev.braid.table.TableRollbackResumeTest.backupAndCurrent;
import static dev.braid.table.TableRollbackResumeTest.checkRows;
import static dev.braid.table.TableRollbackResumeTest.marked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.ReplayProgress;
import dev.braid.UnknownNameException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table's rollback (the activation of a backup) shows its progress in the versions and the status while it
 * replays the writes since the backup's cut, and can be cancelled part way: the version stays a backup, the one
 * that served serves on, and nothing is marked for a restart to resume.
 */
class TableRollbackCancelTest {

  @TempDir
  Path dir;

  private static VersionInfo version(Table t, long id) {
    return t.versions().stream().filter(v -> v.id() == id).findFirst().orElseThrow();
  }

  @Test
  void shouldShowARollbacksProgressAndCancelItPartWay() throws Exception {
    Map<String, String> expected = new HashMap<>();
    long[] v;
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      v = backupAndCurrent(t, expected);
      CountDownLatch replaying = new CountDownLatch(1);
      t.duringRollbackReplay = cancelled -> { // holds the replay after its first batch until the cancel comes
        replaying.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!cancelled.getAsBoolean() && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
      };
      AtomicReference<Throwable> answer = new AtomicReference<>();
      Thread activation = new Thread(() -> {
        try {
          t.activate(v[0]);
        } catch (Throwable e) {
          answer.set(e);
        }
      });
      activation.start();
      assertThat(replaying.await(30, TimeUnit.SECONDS)).as("the rollback replays").isTrue();
      WriteResult last = null;
      long now = System.currentTimeMillis();
      for (int i = 0; i < 100; i++) { // while it replays: its lag
        last = t.put("late" + i, values("late" + i, "l" + i), now);
        expected.put("late" + i, "l" + i);
      }
      assertThat(t.awaitApplied(last, 10_000)).isTrue();

      VersionInfo rolling = version(t, v[0]);
      assertThat(rolling.state()).as("a backup until it switches").isEqualTo(VersionState.BACKUP);
      ReplayProgress p = rolling.progress();
      assertThat(p).as("progress while it replays").isNotNull();
      assertThat(p.rollback()).isTrue();
      assertThat(p.phase()).isEqualTo("replay");
      assertThat(p.version()).isEqualTo(v[0]);
      assertThat(p.eventsReplayed()).as("the writes of its first batch").isPositive();
      assertThat(p.lag()).as("the writes since").isGreaterThanOrEqualTo(100);
      assertThat(p.eventsTotal()).isEqualTo(p.eventsReplayed() + p.lag());
      assertThat(version(t, v[1]).progress()).isNull();
      ReplayProgress inStatus = braid.status().tables().get(0).rollback();
      assertThat(inStatus).isNotNull();
      assertThat(inStatus.version()).isEqualTo(v[0]);
      assertThat(inStatus.rollback()).isTrue();

      t.cancelRollback(v[0]); // returns once the replay has stopped
      activation.join(10_000);
      assertThat(answer.get()).isInstanceOf(IllegalStateException.class).hasMessage("the rollback to version " + v[0]
          + " of table 'users' was cancelled by request; it is still a backup");
      VersionInfo after = version(t, v[0]);
      assertThat(after.state()).isEqualTo(VersionState.BACKUP);
      assertThat(after.progress()).isNull();
      assertThat(after.position()).as("no Delta left following the writes").isNull();
      assertThat(version(t, v[1]).state()).isEqualTo(VersionState.CURRENT);
      assertThat(braid.status().tables().get(0).rollback()).isNull();
      assertThat(t.get("a").values()).containsEntry("tier", "two");
      assertThat(t.get("late7").values()).containsEntry("tier", "l7");
      assertThat(marked(dir)).as("a cancelled rollback is not resumed by a restart").isEmpty();

      t.duringRollbackReplay = null;
      assertThat(t.activate(v[0])).as("activated again, to the end").isEqualTo(v[0]);
      checkRows(t, v[0], expected);
    }
    try (Braid braid = Braid.open(dir, spec(null))) {
      checkRows(braid.table("users"), v[0], expected);
    }
  }

  @Test
  void shouldRefuseToCancelWhenNoRollbackToTheVersionRuns() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      assertThatThrownBy(() -> t.cancelRollback(v[0])).isInstanceOf(IllegalStateException.class)
          .hasMessage("version " + v[0] + " of table 'users' is backup and no rollback to it runs: only a rollback "
              + "that is running (an activation of a backup) can be cancelled");
      assertThatThrownBy(() -> t.cancelRollback(v[1])).isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith("version " + v[1] + " of table 'users' is current and no rollback to it runs");
      assertThatThrownBy(() -> t.cancelRollback(99)).isInstanceOf(UnknownNameException.class)
          .hasMessageContaining("users/99").hasMessageContaining("users/" + v[0] + " (backup)");
      assertThat(t.get("a").values()).containsEntry("tier", "two");
    }
  }
}
