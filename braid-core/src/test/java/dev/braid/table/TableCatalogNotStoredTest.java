package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.spec.PipelineSpec;
import dev.braid.view.CatalogNotStoredTest;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table's switch to a new version whose catalog cannot be written (a full disk; here a directory
 * in the way of the catalog's temporary file, so every write of {@code catalog.json} fails with a
 * real I/O error) changes nothing: reads stay on the version that served, a push is reported failed
 * and an activation refused, and after a restart the same version serves. Reads never show a
 * version that a restart would take back.
 */
class TableCatalogNotStoredTest {

  @TempDir
  Path dir;

  private static final PipelineSpec SPEC = TableCloseDuringPushTest.SPEC;

  private static String rows(int keys, String tier) {
    return TableCloseDuringPushTest.rows(keys, tier);
  }

  private static InputStream text(String s) {
    return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
  }

  private Path blockCatalog() throws Exception {
    return CatalogNotStoredTest.blockCatalog(dir);
  }

  private static VersionInfo version(Table t, long id) {
    return t.versions().stream().filter(v -> v.id() == id).findFirst().orElseThrow();
  }

  private static long currentId(Table t) {
    return t.versions().stream().filter(v -> v.state() == VersionState.CURRENT).mapToLong(VersionInfo::id)
        .findFirst().orElseThrow();
  }

  private static void assertTiers(Table t, String tier, String context) {
    for (int i = 0; i < 50; i++) {
      assertThat(t.get("u" + i).values().get("tier")).as(context + ": u" + i).isEqualTo(tier);
    }
  }

  private static void write(Table t, String key, String tier) throws InterruptedException {
    WriteResult w = t.put(key, Map.of("id", key, "tier", tier), null);
    assertThat(t.awaitApplied(w, 30_000)).isTrue();
  }

  @Test
  void shouldFailAPushWhoseSwitchCannotBeRecordedAndKeepServingTheVersionBefore() throws Exception {
    long served;
    long failed;
    try (Braid braid = Braid.open(dir, SPEC)) {
      Table t = braid.table("users");
      assertThat(t.push(text(rows(50, "first")), PushOptions.defaults("first.jsonl")).state()).isEqualTo("done");
      served = currentId(t);

      // at the end of its rows, after the push recorded its version as building, the catalog is blocked
      java.util.concurrent.atomic.AtomicReference<Path> block = new java.util.concurrent.atomic.AtomicReference<>();
      PushReport r = t.push(new AtEndStream(rows(50, "second"), () -> block.set(blockCatalog())),
          PushOptions.defaults("second.jsonl"));
      assertThat(block.get()).as("the push read to its end").isNotNull();
      failed = r.version();
      assertThat(r.state()).isEqualTo("failed");
      assertThat(r.failure()).contains("could not record version " + failed + " as current, so it does not serve")
          .contains("cannot write the version catalog");
      assertTiers(t, "first", "after the push that could not switch");
      assertThat(currentId(t)).isEqualTo(served);
      assertThat(version(t, failed).state()).isEqualTo(VersionState.FAILED);
      write(t, "u1", "live"); // the version that serves still follows the writes
      assertThat(t.get("u1").values().get("tier")).isEqualTo("live");
      CatalogNotStoredTest.unblock(block.get());
    }
    try (Braid braid = Braid.open(dir, SPEC)) {
      Table t = braid.table("users");
      assertThat(currentId(t)).as("after a restart").isEqualTo(served);
      assertThat(version(t, failed).state()).isEqualTo(VersionState.FAILED);
      assertThat(t.get("u1").values().get("tier")).isEqualTo("live");
      assertThat(t.get("u2").values().get("tier")).isEqualTo("first");
      PushReport again = t.push(text(rows(50, "third")), PushOptions.defaults("third.jsonl"));
      assertThat(again.state()).isEqualTo("done");
      assertThat(again.version()).as("no id of a version that was recorded is reused").isGreaterThan(failed);
      assertTiers(t, "third", "a push once the catalog is writable");
    }
  }

  @Test
  void shouldRefuseAnActivationThatCannotBeRecordedAndActivateOnceTheCatalogIsWritable() throws Exception {
    try (Braid braid = Braid.open(dir, SPEC)) {
      Table t = braid.table("users");
      assertThat(t.push(text(rows(50, "first")), PushOptions.defaults("first.jsonl")).state()).isEqualTo("done");
      long first = currentId(t);
      assertThat(t.push(text(rows(50, "second")), PushOptions.defaults("second.jsonl")).state()).isEqualTo("done");
      long second = currentId(t);

      Path block = blockCatalog();
      java.util.concurrent.atomic.AtomicBoolean replayed = new java.util.concurrent.atomic.AtomicBoolean();
      ((TableRuntime) t).beforeRollbackReplay = () -> replayed.set(true);
      assertThatThrownBy(() -> t.activate(first)).isInstanceOf(dev.braid.log.LogException.class)
          .hasMessageContaining("cannot write the version catalog");
      assertThat(replayed).as("a rollback whose start cannot be recorded does not start").isFalse();
      ((TableRuntime) t).beforeRollbackReplay = null;
      assertTiers(t, "second", "after the activation that could not be recorded");
      assertThat(currentId(t)).isEqualTo(second);
      assertThat(version(t, first).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(t, first).position()).as("no Delta left following the log").isNull();
      write(t, "u3", "live");
      CatalogNotStoredTest.unblock(block);

      assertThat(t.activate(first)).isEqualTo(first);
      assertThat(t.get("u3").values().get("tier")).as("the writes since its cut, replayed").isEqualTo("live");
      assertThat(t.get("u4").values().get("tier")).isEqualTo("first");
    }
    try (Braid braid = Braid.open(dir, SPEC)) {
      Table t = braid.table("users");
      assertThat(t.get("u4").values().get("tier")).as("after a restart").isEqualTo("first");
      assertThat(t.get("u3").values().get("tier")).isEqualTo("live");
    }
  }

  /** While blocked, every catalog write fails: the error is a real one from the file system. */
  @Test
  void shouldReallyBlockCatalogWrites() throws Exception {
    try (Braid braid = Braid.open(dir, SPEC)) {
      Path block = blockCatalog();
      assertThatThrownBy(() -> braid.table("users").push(text(rows(5, "x")), PushOptions.defaults("x.jsonl")))
          .isInstanceOf(RuntimeException.class).hasMessageContaining("cannot write the version catalog");
      CatalogNotStoredTest.unblock(block);
    }
  }
}
