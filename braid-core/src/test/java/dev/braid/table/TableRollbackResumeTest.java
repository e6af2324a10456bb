package dev.braid.table;

import static dev.braid.table.TableFeaturesTest.lines;
import static dev.braid.table.TableFeaturesTest.row;
import static dev.braid.table.TableFeaturesTest.spec;
import static dev.braid.table.TableFeaturesTest.values;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.testing.TestFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table's rollback (the activation of a backup) across a crash and a close: the catalog marks the backup while
 * its writes are replayed, and the next start activates it again, so the table serves the backup's rows with every
 * write since its cut, as the rollback would have.
 */
class TableRollbackResumeTest {

  @TempDir
  Path dir;

  /** Pushes version 1, writes after it, pushes version 2: returns {v1, v2} and fills {@code expected}. */
  static long[] backupAndCurrent(Table t, Map<String, String> expected) throws InterruptedException {
    long now = System.currentTimeMillis();
    long v1 = t.push(lines(row("a", "one", now), row("c", "pushed", now)), PushOptions.defaults("1.jsonl")).version();
    expected.put("a", "one");
    expected.put("c", "pushed");
    WriteResult last = null;
    for (int i = 0; i < 2_000; i++) {
      last = t.put("k" + i, values("k" + i, "w" + i), now);
      expected.put("k" + i, "w" + i);
    }
    assertThat(t.awaitApplied(last, 10_000)).isTrue();
    long v2 = t.push(lines(row("a", "two", now)), PushOptions.defaults("2.jsonl")).version();
    assertThat(t.get("a").values()).containsEntry("tier", "two");
    return new long[] {v1, v2};
  }

  /** Waits until {@code id} is the table's current version (30 s at most). */
  private static void awaitCurrent(Table t, long id) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      Map<Long, VersionState> states = new HashMap<>();
      for (VersionInfo v : t.versions()) {
        states.put(v.id(), v.state());
      }
      if (states.get(id) == VersionState.CURRENT) {
        return;
      }
      assertThat(System.nanoTime()).as("version %d current again: %s", id, states).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /** The versions of table users that the catalog in {@code data} marks as being rolled back to, with their state. */
  static java.util.List<String> marked(Path data) throws IOException {
    java.util.List<String> out = new java.util.ArrayList<>();
    com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(data.resolve("catalog.json").toFile());
    for (com.fasterxml.jackson.databind.JsonNode v : root.path("tables").path("users").path("versions")) {
      if (v.path("rollback").asBoolean()) {
        out.add(v.path("id").asLong() + " " + v.path("state").asText());
      }
    }
    return out;
  }

  static void checkRows(Table t, long version, Map<String, String> expected) {
    for (Map.Entry<String, String> e : expected.entrySet()) {
      TableRow r = t.get(e.getKey());
      assertThat(r.asOf().version()).as(e.getKey()).isEqualTo(version);
      assertThat(r.values()).as(e.getKey()).containsEntry("tier", e.getValue());
    }
  }

  /** A crash while the rollback replays: the data directory copied then, as a kill would leave it. */
  @Test
  void shouldActivateAgainARollbackThatACrashInterrupted() throws Exception {
    Path crashed = dir.resolve("crashed");
    Path data = dir.resolve("data");
    Map<String, String> expected = new HashMap<>();
    long[] v;
    try (Braid braid = Braid.open(data, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      v = backupAndCurrent(t, expected);
      t.beforeRollbackReplay = () -> {
        try {
          TestFiles.copyTree(data, crashed);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      };
      assertThat(t.activate(v[0])).isEqualTo(v[0]);
      checkRows(t, v[0], expected);
    }
    assertThat(marked(crashed)).as("the backup is marked as being rolled back to").containsExactly(v[0] + " backup");
    try (Braid braid = Braid.open(crashed, spec(null))) {
      Table t = braid.table("users");
      awaitCurrent(t, v[0]);
      checkRows(t, v[0], expected);
    }
    try (Braid braid = Braid.open(crashed, spec(null))) {
      Table t = braid.table("users");
      assertThat(t.get("a").asOf().version()).as("current after another restart").isEqualTo(v[0]);
      assertThat(marked(crashed)).as("no longer marked").isEmpty();
    }
  }

  /** A close while the rollback replays stops it: the next start activates the backup again. */
  @Test
  void shouldActivateAgainARollbackThatACloseStopped() throws Exception {
    Map<String, String> expected = new HashMap<>();
    long[] v;
    Braid braid = Braid.open(dir, spec(null));
    try {
      TableRuntime t = (TableRuntime) braid.table("users");
      v = backupAndCurrent(t, expected);
      Braid closing = braid;
      t.beforeRollbackReplay = () -> { // the close begins: the replay that follows stops at its first check
        Thread closer = new Thread(closing::close);
        closer.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!t.isClosed() && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
      };
      assertThatThrownBy(() -> t.activate(v[0])).hasMessageContaining("was closed during");
    } finally {
      braid.close();
    }
    assertThat(marked(dir)).as("still marked after the close").containsExactly(v[0] + " backup");
    try (Braid again = Braid.open(dir, spec(null))) {
      Table t = again.table("users");
      awaitCurrent(t, v[0]);
      checkRows(t, v[0], expected);
    }
  }

  /**
   * While a rollback runs, a push is refused naming the rollback (not the backup's old push, as if it were building),
   * and status shows no push report for it.
   */
  @Test
  void shouldNameTheRunningRollbackWhenAPushIsRefused() throws Exception {
    Map<String, String> expected = new HashMap<>();
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      long[] v = backupAndCurrent(t, expected);
      AtomicReference<Throwable> refused = new AtomicReference<>();
      AtomicReference<Object> status = new AtomicReference<>();
      t.beforeRollbackReplay = () -> {
        try {
          t.push(lines(row("a", "three", 1L)), PushOptions.defaults("3.jsonl"));
        } catch (Throwable e) {
          refused.set(e);
        }
        status.set(braid.status().tables().get(0).push());
      };
      assertThat(t.activate(v[0])).isEqualTo(v[0]);
      assertThat(refused.get()).isInstanceOf(IllegalStateException.class)
          .hasMessage("table 'users': the rollback to version " + v[0] + " is running; wait for it");
      assertThat(status.get()).as("no push report while a rollback runs").isNull();
      checkRows(t, v[0], expected);
    }
  }

  /** An activation that fails (its Base is missing) is no longer marked: the next start does not try it again. */
  @Test
  void shouldNotMarkARollbackThatFailed() throws Exception {
    Map<String, String> expected = new HashMap<>();
    long[] v;
    try (Braid braid = Braid.open(dir, spec(null))) {
      v = backupAndCurrent(braid.table("users"), expected);
    }
    Files.delete(dir.resolve("tables").resolve("users").resolve("v" + v[0] + ".base")); // read at its activation
    try (Braid braid = Braid.open(dir, spec(null))) {
      assertThatThrownBy(() -> braid.table("users").activate(v[0])).isInstanceOf(RuntimeException.class);
      assertThat(marked(dir)).as("not marked once it failed").isEmpty();
    }
    try (Braid braid = Braid.open(dir, spec(null))) {
      assertThat(braid.table("users").get("a").asOf().version()).isEqualTo(v[1]);
    }
  }
}
