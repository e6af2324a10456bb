package dev.braid.table;

import static dev.braid.table.TableFeaturesTest.lines;
import static dev.braid.table.TableFeaturesTest.row;
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
import dev.braid.log.Cut;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Builds of a table's versions cancelled part way ({@link Table#cancel}): a rollback (the activation of a backup),
 * which shows its progress in the versions and the status while it replays the writes since the backup's cut, stays
 * a backup, unmarked for a restart; a push, while it loads its rows or replays the writes since its cut, fails with
 * its files deleted. The version that served serves on.
 */
class TableCancelTest {

  @TempDir
  Path dir;

  /** The state the catalog on disk gives version {@code id} of table users. */
  private String catalogState(long id) throws java.io.IOException {
    for (com.fasterxml.jackson.databind.JsonNode x : new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(dir.resolve("catalog.json").toFile()).path("tables").path("users").path("versions")) {
      if (x.path("id").asLong() == id) {
        return x.path("state").asText();
      }
    }
    return null;
  }

  /** In a replay hook: holds the replay until the build is cancelled (30 s at most). */
  static void awaitCancelled(java.util.function.BooleanSupplier cancelled) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!cancelled.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
  }

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
      t.duringReplay = cancelled -> { // holds the replay after its first batch until the cancel comes
        replaying.countDown();
        awaitCancelled(cancelled);
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

      t.cancel(v[0]); // returns once the replay has stopped
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

      t.duringReplay = null;
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
      assertThatThrownBy(() -> t.cancel(v[0])).isInstanceOf(IllegalStateException.class)
          .hasMessage("version " + v[0] + " of table 'users' is backup and neither a push builds it nor a rollback "
              + "to it runs: only a push that is building its version or a rollback that is running (an activation "
              + "of a backup) can be cancelled");
      assertThatThrownBy(() -> t.cancel(v[1])).isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith("version " + v[1] + " of table 'users' is current and neither a push builds it");
      assertThatThrownBy(() -> t.cancel(99)).isInstanceOf(UnknownNameException.class)
          .hasMessageContaining("users/99").hasMessageContaining("users/" + v[0] + " (backup)");
      assertThat(t.get("a").values()).containsEntry("tier", "two");
    }
  }
  /** Rows {@code r0, r1, ...} as JSON lines, made as they are read, up to {@code max} rows. */
  static InputStream manyRows(long max) {
    return new InputStream() {
      private byte[] line = new byte[0];
      private int at;
      private long rows;

      @Override
      public int read() {
        if (at == line.length) {
          if (rows == max) {
            return -1;
          }
          line = ("{\"id\":\"r" + rows++ + "\",\"tier\":\"bulk\",\"updated\":1}\n").getBytes(StandardCharsets.UTF_8);
          at = 0;
        }
        return line[at++];
      }
    };
  }

  /** The version a push builds now, waiting (30 s at most) until its report says {@code until}. */
  private static VersionInfo awaitBuilding(Table t, java.util.function.Predicate<PushReport> until)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      for (VersionInfo v : t.versions()) {
        PushReport r = null;
        try {
          r = v.state() == VersionState.BUILDING ? t.push(v.definition().substring("push ".length())) : null;
        } catch (UnknownNameException notYet) {
          // listed as building a moment before its first report
        }
        if (r != null && until.test(r)) {
          return v;
        }
      }
      assertThat(System.nanoTime()).as("a push building: %s", t.versions()).isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  /** Checks that the push of {@code building} failed as cancelled, with its files gone, and {@code served} serves. */
  private void assertPushCancelled(Table t, VersionInfo building, PushReport answer, long served) {
    String pushId = building.definition().substring("push ".length());
    String why = "push " + pushId + " (version " + building.id() + ") was cancelled by request";
    assertThat(answer.state()).isEqualTo("failed");
    assertThat(answer.failure()).isEqualTo(why);
    assertThat(t.push(pushId).state()).isEqualTo("failed");
    VersionInfo after = version(t, building.id());
    assertThat(after.state()).isEqualTo(VersionState.FAILED);
    assertThat(after.failure()).isEqualTo(why);
    assertThat(version(t, served).state()).isEqualTo(VersionState.CURRENT);
    assertThat(t.get("a").values()).containsEntry("tier", "two");
    Path tableDir = dir.resolve("tables").resolve("users");
    assertThat(Files.exists(tableDir.resolve("v" + building.id() + ".base"))).isFalse();
    assertThat(Files.exists(tableDir.resolve("v" + building.id() + ".base.tmp"))).isFalse();
  }

  /** A push of endless rows cancelled while it loads them: it fails, its Base file is deleted. */
  @Test
  void shouldCancelAPushWhileItLoadsItsRows() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      AtomicReference<PushReport> answer = new AtomicReference<>();
      Thread push = new Thread(() -> answer.set(t.push(manyRows(3_000_000), PushOptions.defaults("many.jsonl"))));
      push.start();
      VersionInfo building = awaitBuilding(t, r -> r.rows() > 0);

      t.cancel(building.id()); // returns once the push has stopped
      push.join(30_000);
      assertPushCancelled(t, building, answer.get(), v[1]);
      assertThat(answer.get().rows()).as("stopped part way").isLessThan(3_000_000);
      assertThat(t.push(lines(row("a", "three", 1L)), PushOptions.defaults("3.jsonl")).state())
          .as("the next push builds").isEqualTo("done");
    }
  }

  /** A push cancelled while it replays the writes since its cut (all of them here) onto its Base. */
  @Test
  void shouldCancelAPushWhileItReplaysTheWritesSinceItsCut() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      CountDownLatch replaying = new CountDownLatch(1);
      t.duringReplay = cancelled -> {
        replaying.countDown();
        awaitCancelled(cancelled);
      };
      AtomicReference<PushReport> answer = new AtomicReference<>();
      Thread push = new Thread(() -> answer.set(t.push(lines(row("b", "pushed", 1L)),
          PushOptions.defaults("b.jsonl").sincePosition(Cut.of(new long[2])))));
      push.start();
      assertThat(replaying.await(30, TimeUnit.SECONDS)).as("the push replays").isTrue();
      VersionInfo building = awaitBuilding(t, r -> r.state().equals("replaying"));
      java.lang.reflect.Field persist = TableRuntime.class.getDeclaredField("persist");
      persist.setAccessible(true);
      Runnable real = (Runnable) persist.get(t);
      persist.set(t, (Runnable) () -> { // a slow store: the cancel must wait for it
        try {
          Thread.sleep(300);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        real.run();
      });

      t.cancel(building.id());
      assertThat(catalogState(building.id())).as("stored before the cancel answers").isEqualTo("failed");
      persist.set(t, real);
      push.join(30_000);
      t.duringReplay = null;
      assertPushCancelled(t, building, answer.get(), v[1]);
      assertThat(t.get("b").found()).as("the cancelled push's row").isFalse();
      assertThat(answer.get().distinctKeys()).as("its Base's keys, as loaded").isEqualTo(1);
      assertThat(answer.get().replayed()).as("the writes its replay had read").isPositive();
    }
    try (Braid braid = Braid.open(dir, spec(null))) {
      assertThat(braid.table("users").get("a").values()).as("after a restart").containsEntry("tier", "two");
    }
  }
  /**
   * A cancel that a close overtakes (the close begins while the cancel waits for the replay to stop): the rollback
   * it stopped is not marked for the next start to resume, although the close stopped it too.
   */
  @Test
  void shouldNotResumeACancelledRollbackThatACloseOvertook() throws Exception {
    long[] v;
    Braid braid = Braid.open(dir, spec(null));
    try {
      TableRuntime t = (TableRuntime) braid.table("users");
      v = backupAndCurrent(t, new HashMap<>());
      CountDownLatch replaying = new CountDownLatch(1);
      CountDownLatch cancelSeen = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      t.duringReplay = cancelled -> {
        replaying.countDown();
        awaitCancelled(cancelled);
        cancelSeen.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      };
      Thread activation = new Thread(() -> {
        try {
          t.activate(v[0]);
        } catch (RuntimeException expected) {
          // cancelled
        }
      });
      activation.start();
      assertThat(replaying.await(30, TimeUnit.SECONDS)).isTrue();
      AtomicReference<Throwable> cancelAnswer = new AtomicReference<>();
      Thread cancel = new Thread(() -> {
        try {
          t.cancel(v[0]);
        } catch (Throwable e) {
          cancelAnswer.set(e);
        }
      });
      cancel.start();
      assertThat(cancelSeen.await(30, TimeUnit.SECONDS)).isTrue();
      Thread closer = new Thread(braid::close);
      closer.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!t.isClosed()) {
        assertThat(System.nanoTime()).as("the close begins").isLessThan(deadline);
        Thread.sleep(1);
      }
      release.countDown();
      cancel.join(30_000);
      closer.join(60_000);
      activation.join(30_000);
      assertThat(cancelAnswer.get()).as("the cancel's answer").isNull();
      assertThat(marked(dir)).as("not marked for a restart").isEmpty();
    } finally {
      braid.close();
    }
    try (Braid again = Braid.open(dir, spec(null))) {
      Table t = again.table("users");
      Thread.sleep(200); // a resumed rollback would run on a thread of its own
      assertThat(version(t, v[0]).state()).as("still a backup after a restart").isEqualTo(VersionState.BACKUP);
      assertThat(t.get("a").values()).containsEntry("tier", "two");
    }
  }
  /**
   * A cancel answers once the rollback's end is stored: when the catalog cannot record it (here a store that
   * fails after the cancel), the cancel says a restart would resume the rollback, rather than that it is done.
   */
  @Test
  void shouldSayWhenTheEndOfACancelledRollbackCannotBeRecorded() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      java.lang.reflect.Field persist = TableRuntime.class.getDeclaredField("persist");
      persist.setAccessible(true);
      Runnable real = (Runnable) persist.get(t);
      java.util.concurrent.atomic.AtomicBoolean failStores = new java.util.concurrent.atomic.AtomicBoolean();
      persist.set(t, (Runnable) () -> {
        if (failStores.get()) {
          try {
            Thread.sleep(300); // slower than the cancel's wait for the build to end
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          throw new IllegalStateException("the disk is full (a test's catalog store)");
        }
        real.run();
      });
      t.duringReplay = cancelled -> awaitCancelled(cancelled);
      Thread activation = new Thread(() -> {
        try {
          t.activate(v[0]);
        } catch (RuntimeException expected) {
          // cancelled
        }
      });
      activation.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (version(t, v[0]).progress() == null) {
        assertThat(System.nanoTime()).as("the rollback runs").isLessThan(deadline);
        Thread.sleep(1);
      }
      failStores.set(true);
      assertThatThrownBy(() -> t.cancel(v[0])).isInstanceOf(IllegalStateException.class).hasMessage("the rollback "
          + "to version " + v[0] + " of table 'users' stopped, but the catalog could not record that (the disk is "
          + "full (a test's catalog store)): a restart before the catalog is next written resumes it; cancel it "
          + "again then");
      activation.join(30_000);
      failStores.set(false);
      persist.set(t, real);
      t.duringReplay = null;
      assertThat(version(t, v[0]).state()).isEqualTo(VersionState.BACKUP);
    }
  }

  /** A repush cancelled in its replay: failed with its report, as a push is. */
  @Test
  void shouldCancelARepushWhileItReplays() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      t.beforeRepushReplay = () -> { // writes after the repush's cut: what its replay reads
        for (int i = 0; i < 500; i++) {
          t.put("m" + i, values("m" + i, "new"), System.currentTimeMillis());
        }
      };
      t.duringReplay = cancelled -> awaitCancelled(cancelled);
      AtomicReference<PushReport> answer = new AtomicReference<>();
      Thread repush = new Thread(() -> answer.set(t.repush(true)));
      repush.start();
      VersionInfo building = awaitBuilding(t, r -> r.state().equals("replaying"));
      t.cancel(building.id());
      repush.join(30_000);
      t.duringReplay = null;
      assertPushCancelled(t, building, answer.get(), v[1]);
    }
  }

  /**
   * A repush cancelled during its copy of the current rows stops there, part way through the first
   * partition's rows (held in the Delta, or in the Base), not after the whole copy: it fails with its
   * report as a cancelled push does, its files are gone, the catalog records it, and the next repush builds.
   */
  @ParameterizedTest(name = "rows in the {0}")
  @ValueSource(strings = {"delta", "base"})
  void shouldCancelARepushWhileItCopiesTheCurrentRows(String where) throws Exception {
    long building;
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      long now = System.currentTimeMillis();
      int n = where.equals("delta") ? 20_000 : 200_000;
      long inFirst = 0; // the rows partition 0 copies
      StringBuilder pushed = new StringBuilder(row("a", "two", now)).append('\n');
      WriteResult last = null;
      for (int i = 0; i < n; i++) {
        String key = "r" + i;
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        inFirst += dev.braid.log.Partitioner.partition(k, 0, k.length, 2) == 0 ? 1 : 0;
        if (where.equals("delta")) {
          last = t.put(key, values(key, "written"), now);
        } else {
          pushed.append(row(key, "pushed", now)).append('\n');
        }
      }
      long served = v[1];
      if (last != null) {
        assertThat(t.awaitApplied(last, 30_000)).isTrue();
      } else {
        served = t.push(new java.io.ByteArrayInputStream(pushed.toString().getBytes(StandardCharsets.UTF_8)),
            PushOptions.defaults("big.jsonl")).version();
      }
      java.util.concurrent.atomic.AtomicInteger copies = new java.util.concurrent.atomic.AtomicInteger();
      CountDownLatch copying = new CountDownLatch(1);
      t.duringRepushCopy = cancelled -> { // holds the copy at its first partition until the cancel comes
        copies.incrementAndGet();
        copying.countDown();
        awaitCancelled(cancelled);
      };
      AtomicReference<PushReport> answer = new AtomicReference<>();
      Thread repush = new Thread(() -> answer.set(t.repush(true)));
      repush.start();
      VersionInfo listed = awaitBuilding(t, r -> r.state().equals("loading"));
      building = listed.id();
      assertThat(copying.await(30, TimeUnit.SECONDS)).isTrue();

      t.cancel(building);
      repush.join(30_000);
      t.duringRepushCopy = null;
      assertPushCancelled(t, listed, answer.get(), served);
      assertThat(copies.get()).as("the copy stopped in its first partition").isEqualTo(1);
      assertThat(answer.get().rows()).as("stopped part way through the first partition's %d rows", inFirst)
          .isLessThan(inFirst);
      assertThat(catalogState(building)).isEqualTo("failed");
      PushReport next = t.repush(true);
      assertThat(next.state()).as("the next repush builds").isEqualTo("done");
      assertThat(next.rows()).isEqualTo(n + 1);
    }
    try (Braid braid = Braid.open(dir, spec(null))) {
      VersionInfo after = version(braid.table("users"), building);
      assertThat(after.state()).as("after a restart").isEqualTo(VersionState.FAILED);
      assertThat(after.failure()).endsWith("was cancelled by request");
    }
  }

  /** A push whose upload stalls: the cancel closes its input, and it fails at once as cancelled. */
  @Test
  void shouldCancelAPushWhoseInputStalls() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      long[] v = backupAndCurrent(t, new HashMap<>());
      byte[] some = (row("s1", "stalled", 1L) + "\n" + row("s2", "stalled", 1L) + "\n")
          .getBytes(StandardCharsets.UTF_8);
      CountDownLatch closed = new CountDownLatch(1);
      CountDownLatch stalled = new CountDownLatch(1);
      InputStream stalls = new InputStream() { // two rows, then nothing more until closed
        private int at;

        @Override
        public int read() throws java.io.IOException {
          if (at < some.length) {
            return some[at++];
          }
          stalled.countDown();
          try {
            if (closed.await(60, TimeUnit.SECONDS)) {
              throw new java.io.IOException("the stream was closed");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return -1;
        }

        @Override
        public void close() {
          closed.countDown();
        }
      };
      AtomicReference<PushReport> answer = new AtomicReference<>();
      Thread push = new Thread(() -> answer.set(t.push(stalls, PushOptions.defaults("stalled.jsonl"))));
      push.start();
      assertThat(stalled.await(30, TimeUnit.SECONDS)).isTrue();
      VersionInfo building = awaitBuilding(t, r -> r.state().equals("loading"));
      long t0 = System.nanoTime();
      t.cancel(building.id());
      assertThat((System.nanoTime() - t0) / 1e9).as("stopped once its input was closed, not in a minute")
          .isLessThan(30);
      push.join(30_000);
      assertPushCancelled(t, building, answer.get(), v[1]);
    }
  }
}
