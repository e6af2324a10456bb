package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A switch whose catalog write fails (a full disk; here a directory in the way of the catalog's
 * temporary file, so every write of {@code catalog.json} fails with a real I/O error) changes
 * nothing: reads stay on the current version, the catalog on disk still names it, and the version
 * that could not switch is failed (a batch cycle's) or held for activation (a reprocess's), so a
 * restart serves what was served and no version id that served a read is reused.
 */
public class CatalogNotStoredTest {

  /** Makes every write of {@code dir}'s catalog fail with a real I/O error; returns what {@link #unblock} takes. */
  public static Path blockCatalog(Path dir) throws Exception {
    Path tmp = dir.resolve("catalog.json.tmp");
    Files.createDirectories(tmp);
    Files.writeString(tmp.resolve("in-the-way"), "a non-empty directory where the catalog's temporary file goes");
    return tmp;
  }

  public static void unblock(Path tmp) throws Exception {
    Files.delete(tmp.resolve("in-the-way"));
    Files.delete(tmp);
  }

  private static VersionState state(Braid b, long id) {
    return ReprocessTest.version(b, id).state();
  }

  private static long currentId(Braid b) {
    return b.versions("stats").stream().filter(v -> v.state() == VersionState.CURRENT).mapToLong(VersionInfo::id)
        .findFirst().orElseThrow();
  }

  /** Every key read now is served by version {@code id} with the counts of the events ingested. */
  private static void assertServedBy(Braid b, long id, ReprocessTest.History history, ViewSpec definition,
      String context) {
    for (int u = 0; u < 20; u++) {
      ViewResult r = b.get("stats", "u" + u);
      assertThat(r.asOf().version()).as(context + ": the version serving u" + u).isEqualTo(id);
      ReprocessTest.check(r, definition, history.snapshot(), context);
    }
  }

  @Test
  void shouldLeaveTheCurrentVersionServingWhenABatchCycleCannotRecordItsSwitch(@TempDir Path dir) throws Exception {
    ViewSpec def = ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA);
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(7);
    long served;
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, def))) {
      ReprocessTest.ingest(braid, rnd, 500, 2, history);
      served = braid.runBatch("stats");
      ReprocessTest.ingest(braid, rnd, 300, 2, history);
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      String catalogBefore = Files.readString(dir.resolve("catalog.json"));

      Path block = blockCatalog(dir);
      assertThatThrownBy(() -> braid.runBatch("stats")).hasMessageContaining("cannot write the version catalog");
      List<VersionInfo> versions = braid.versions("stats");
      long failed = versions.stream().mapToLong(VersionInfo::id).max().orElseThrow();
      assertThat(failed).isGreaterThan(served);
      assertThat(state(braid, failed)).as("the cycle's version, in %s", versions).isEqualTo(VersionState.FAILED);
      assertThat(ReprocessTest.version(braid, failed).failure()).contains("could not record version " + failed
          + " as current").contains("cannot write the version catalog");
      assertThat(currentId(braid)).isEqualTo(served);
      assertThat(braid.status().views().get(0).batchFailures()).isEqualTo(1);
      assertThat(braid.status().views().get(0).batchCycles()).as("the first cycle only").isEqualTo(1);
      assertThat(((Engine) braid).viewRuntime("stats").batchProgress).as("no cycle is left running").isNull();
      assertServedBy(braid, served, history, def, "after the failed swap");
      assertThat(Files.readString(dir.resolve("catalog.json"))).isEqualTo(catalogBefore);
      // kept for the next start's orphan sweep: a catalog another thread stored meanwhile could name it
      assertThat(dir.resolve("views/stats/v" + failed + ".base")).exists();

      ReprocessTest.ingest(braid, rnd, 100, 2, history);
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertServedBy(braid, served, history, def, "ingest after the failed swap");

      unblock(block);
      long next = braid.runBatch("stats");
      assertThat(next).as("a new id after the failed one").isGreaterThan(failed);
      assertServedBy(braid, next, history, def, "the next cycle");
    }
  }

  @Test
  void shouldKeepServingTheVersionOnDiskAfterARestartWhenTheSwitchWasNotRecorded(@TempDir Path dir) throws Exception {
    ViewSpec def = ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA);
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(8);
    long served;
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, def))) {
      ReprocessTest.ingest(braid, rnd, 400, 2, history);
      served = braid.runBatch("stats");
      Path block = blockCatalog(dir);
      ReprocessTest.ingest(braid, rnd, 200, 2, history);
      assertThatThrownBy(() -> braid.runBatch("stats")).hasMessageContaining("cannot write the version catalog");
      unblock(block); // the disk has room again by the restart
    }
    assertThat(dir.resolve("views/stats/v" + (served + 1) + ".base")).as("the unrecorded version's Base").exists();
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, def))) {
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertServedBy(braid, served, history, def, "after a restart");
      assertThat(dir.resolve("views/stats/v" + (served + 1) + ".base")).as("removed by the orphan sweep")
          .doesNotExist();
    }
  }

  @Test
  void shouldKeepAReprocessHeldWhenItsActivationCannotBeRecordedAndActivateItOnceTheCatalogIsWritable(@TempDir Path dir)
      throws Exception {
    ViewSpec oldDef = ReprocessTest.oldDefinition(ViewSpec.Mode.KAPPA);
    ViewSpec newDef = ReprocessTest.newDefinition(ViewSpec.Mode.KAPPA);
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(9);
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, oldDef))) {
      ReprocessTest.ingest(braid, rnd, 600, 2, history);
      long served = currentId(braid);
      long id = braid.reprocess("stats", newDef, new ReprocessOptions(true));
      ReprocessTest.awaitHeld(braid, id);
      Path block = blockCatalog(dir);
      VersionInfo held = ReprocessTest.version(braid, id);
      assertThat(held.state()).isEqualTo(VersionState.BUILDING);
      assertThat(currentId(braid)).isEqualTo(served);
      assertServedBy(braid, served, history, oldDef, "while the reprocess is held");

      assertThatThrownBy(() -> braid.activate("stats", id)).hasMessageContaining("could not record version " + id)
          .hasMessageContaining("held for activation");
      assertThat(ReprocessTest.version(braid, id).progress().phase()).isEqualTo("held");
      assertThat(currentId(braid)).isEqualTo(served);

      unblock(block);
      ReprocessTest.ingest(braid, rnd, 100, 2, history);
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      for (int m = 0; m < 6; m++) {
        ViewResult r = braid.get("stats", "m" + m);
        assertThat(r.asOf().version()).isEqualTo(id);
        ReprocessTest.check(r, newDef, history.snapshot(), "activated once writable");
      }
    }
  }
  @Test
  void shouldRefuseARollbackWhoseStartCannotBeRecordedAndRollBackOnceTheCatalogIsWritable(@TempDir Path dir)
      throws Exception {
    ViewSpec oldDef = ReprocessTest.oldDefinition(ViewSpec.Mode.KAPPA);
    ViewSpec newDef = ReprocessTest.newDefinition(ViewSpec.Mode.KAPPA);
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(11);
    long backup;
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, oldDef))) {
      ReprocessTest.ingest(braid, rnd, 600, 2, history);
      backup = currentId(braid);
      long served = braid.reprocess("stats", newDef, ReprocessOptions.defaults());
      ReprocessTest.awaitState(braid, served, VersionState.CURRENT);
      ReprocessTest.ingest(braid, rnd, 300, 2, history);
      ReprocessTest.awaitCaughtUp(braid);

      Path block = blockCatalog(dir);
      assertThatThrownBy(() -> braid.activate("stats", backup)).isInstanceOf(CatalogWriteException.class)
          .hasMessageContaining("cannot write the version catalog");
      VersionInfo after = ReprocessTest.version(braid, backup);
      assertThat(after.state()).as("still a backup, no replay started").isEqualTo(VersionState.BACKUP);
      assertThat(after.progress()).isNull();
      assertThat(currentId(braid)).isEqualTo(served);
      for (int m = 0; m < 6; m++) {
        ReprocessTest.check(braid.get("stats", "m" + m), newDef, history.snapshot(), "after the refused rollback");
      }
      unblock(block);
    }
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, newDef))) {
      assertThat(state(braid, backup)).as("a restart does not resume a rollback that never started")
          .isEqualTo(VersionState.BACKUP);
      ReprocessTest.ingest(braid, rnd, 100, 2, history);
      assertThat(braid.activate("stats", backup)).isEqualTo(backup);
      ReprocessTest.awaitCaughtUp(braid);
      assertServedBy(braid, backup, history, oldDef, "rolled back once the catalog is writable");
    }
  }
  /** A rollback whose switch the catalog cannot record throws the catalog's error, and the version is a backup. */
  @Test
  void shouldThrowTheCatalogsErrorWhenARollbacksSwitchCannotBeRecorded(@TempDir Path dir) throws Exception {
    ReprocessTest.History history = new ReprocessTest.History();
    Random rnd = new Random(13);
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, ReprocessTest.oldDefinition(ViewSpec.Mode.KAPPA)))) {
      long slowId = ReprocessTest.slowBackup(braid, ViewSpec.Mode.KAPPA, rnd, history);
      long served = currentId(braid);
      java.util.concurrent.atomic.AtomicReference<Throwable> answer =
          new java.util.concurrent.atomic.AtomicReference<>();
      Thread activation = ReprocessTest.startActivation(braid, slowId, answer);
      ReprocessTest.awaitRollback(braid, slowId, p -> p.eventsReplayed() > 0);
      Path block = blockCatalog(dir);
      activation.join(120_000);
      assertThat(answer.get()).isInstanceOf(CatalogWriteException.class)
          .hasMessageContaining("cannot write the version catalog");
      assertThat(state(braid, slowId)).isEqualTo(VersionState.BACKUP);
      assertThat(currentId(braid)).isEqualTo(served);
      unblock(block);
      assertThat(braid.activate("stats", slowId)).isEqualTo(slowId);
      ReprocessTest.awaitCaughtUp(braid);
      ReprocessTest.checkMerchants(braid, ReprocessTest.newDefinition(ViewSpec.Mode.KAPPA), history, "rolled back");
    }
  }
}
