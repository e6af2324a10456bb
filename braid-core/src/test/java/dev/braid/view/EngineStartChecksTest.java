package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.UnavailableException;
import dev.braid.event.FieldType;
import dev.braid.log.CorruptLogException;
import dev.braid.log.Durability;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a start does with a data directory whose catalog, Bases and log no longer agree: a missing
 * catalog, a Base whose cut is not the catalog's, a log that lost its tail below a Base's cut, a
 * catalog with an unknown state. Real files, damaged between two opens.
 */
class EngineStartChecksTest {

  @TempDir
  Path dir;

  /** One stream, one partition, two views: {@code per_user} gets a Base, {@code all} stays Delta only. */
  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .view(ViewSpec.builder("all").from("clicks").groupBy("'all'").aggregate("n", "count").build())
        .build();
  }

  /** Appends {@code n} clicks of user {@code u}, one request per click (one log batch each). */
  private static void clicks(Braid b, String u, int n) {
    for (int i = 0; i < n; i++) {
      List<Map<String, Object>> one = new ArrayList<>();
      one.add(Map.of("user", u, "ts", 1_700_000_000_000L + i));
      assertThat(b.ingest("clicks", one).accepted()).isEqualTo(1);
    }
  }

  private static void awaitCount(Braid b, String view, String key, long n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Long.valueOf(n).equals(b.get(view, key).values().get("n"))) {
      assertThat(System.nanoTime()).as("%s of %s reaches %d", view, key, n).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /** 100 clicks of user u, a batch cycle of per_user (its Base's cut is the log's end, 100), closed. */
  private void hundredClicksWithABase() throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      clicks(b, "u", 100);
      awaitCount(b, "per_user", "u", 100);
      b.runBatch("per_user");
    }
  }

  private Path viewFile(String view, String suffix) throws IOException {
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve(view))) {
      return files.filter(p -> p.getFileName().toString().endsWith(suffix)).findFirst().orElseThrow();
    }
  }

  @Test
  void shouldRefuseToStartWithoutTheCatalogWhileFilesOfItsVersionsRemainAndDeleteNone() throws Exception {
    hundredClicksWithABase();
    Path base = viewFile("per_user", ".base");
    Files.delete(dir.resolve("catalog.json"));

    assertThatThrownBy(() -> Braid.open(dir, spec()))
        .hasMessageContaining("catalog")
        .hasMessageContaining("is missing")
        .hasMessageContaining("(views/per_user/v2.base, ...)")
        .hasMessageContaining("restore catalog.json from a backup");
    assertThat(base).as("the Base is not swept as an orphan").exists();
  }

  @Test
  void shouldRefuseOnlyTheViewWhoseBaseCountsEventsTheLogLostAndRepairItFromTheLog() throws Exception {
    hundredClicksWithABase();
    // a power loss under durability os: the log's last batches are gone, the Base (cut 100) stays
    Path segment;
    try (Stream<Path> files = Files.list(dir.resolve("log").resolve("clicks").resolve("p00000"))) {
      segment = files.filter(p -> p.getFileName().toString().endsWith(".log")).findFirst().orElseThrow();
    }
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() * 3 / 4);
    }

    try (Braid b = Braid.open(dir, spec())) {
      long kept = b.status().streams().get(0).end().offset(0);
      assertThat(kept).as("the recovery cut the torn tail").isBetween(1L, 99L);
      awaitCount(b, "all", "all", kept); // the other view serves what the log holds
      assertThatThrownBy(() -> b.get("per_user", "u")).isInstanceOf(UnavailableException.class)
          .hasMessageContaining("up to offset 100")
          .hasMessageContaining("now ends at offset " + kept)
          .hasMessageContaining("braid repair per_user");

      b.repair("per_user");
      awaitCount(b, "per_user", "u", kept);
      clicks(b, "u", 3); // new events at offsets the lost Base counted are counted once
      awaitCount(b, "per_user", "u", kept + 3);
      awaitCount(b, "all", "all", kept + 3);
    }
  }

  private void cutTheLogsTail() throws IOException {
    Path segment;
    try (Stream<Path> files = Files.list(dir.resolve("log").resolve("clicks").resolve("p00000"))) {
      segment = files.filter(p -> p.getFileName().toString().endsWith(".log")).findFirst().orElseThrow();
    }
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() * 3 / 4);
    }
  }

  private static dev.braid.VersionInfo version(Braid b, String view, long id) {
    return b.versions(view).stream().filter(v -> v.id() == id).findFirst().orElseThrow();
  }

  private static void awaitHeld(Braid b, String view, long id) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (version(b, view, id).progress() == null || !version(b, view, id).progress().phase().equals("held")) {
      assertThat(System.nanoTime()).as("version %d of %s is held", id, view).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  /**
   * A reprocess held at cut 100, then the log loses its tail below it: the restart builds it again at
   * the log's end, so that once activated it counts the new events that get the lost offsets (it
   * kept cut 100 and skipped them).
   */
  @Test
  void shouldBuildAHeldReprocessAgainAtTheLogsEndWhenTheLogLostItsTailBelowItsCut() throws Exception {
    ViewSpec twice = ViewSpec.builder("all").from("clicks").groupBy("'all'").aggregate("n", "count")
        .aggregate("m", "count").build();
    long id;
    try (Braid b = Braid.open(dir, spec())) {
      clicks(b, "u", 100);
      awaitCount(b, "all", "all", 100);
      id = b.reprocess("all", twice, new dev.braid.ReprocessOptions(true, null));
      awaitHeld(b, "all", id);
      assertThat(version(b, "all", id).cut().offset(0)).isEqualTo(100);
    }
    cutTheLogsTail();

    try (Braid b = Braid.open(dir, spec())) {
      long kept = b.status().streams().get(0).end().offset(0);
      assertThat(kept).isBetween(1L, 99L);
      awaitHeld(b, "all", id);
      assertThat(version(b, "all", id).cut().offset(0)).as("built again at the log's end").isEqualTo(kept);
      b.activate("all", id);
      clicks(b, "u", 3);
      awaitCount(b, "all", "all", kept + 3);
      assertThat(b.get("all", "all").values()).containsEntry("m", kept + 3);
    }
  }

  /**
   * A kappa version made current with its replay starting at the log's end (100), then the log
   * loses its tail below 100: the restart starts (it threw reading past the log's end, at every
   * start) and counts the new events that take the lost offsets from the log's new end.
   */
  @Test
  void shouldStartAKappaVersionWhoseReplayStartIsPastTheLogsEndFromTheLogsEnd() throws Exception {
    ViewSpec kappa = ViewSpec.builder("all").from("clicks").groupBy("'all'").aggregate("n", "count")
        .mode(ViewSpec.Mode.KAPPA).build();
    PipelineSpec spec = PipelineSpec.builder().stream(spec().stream("clicks")).view(kappa).build();
    long id;
    try (Braid b = Braid.open(dir, spec)) {
      clicks(b, "u", 100);
      awaitCount(b, "all", "all", 100);
      id = b.reprocess("all", kappa, dev.braid.ReprocessOptions.defaults()
          .withReplayFrom(dev.braid.log.Cut.of(100)));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (version(b, "all", id).state() != dev.braid.VersionState.CURRENT) {
        assertThat(System.nanoTime()).as("version %d becomes current", id).isLessThan(deadline);
        Thread.sleep(5);
      }
      assertThat(b.get("all", "all").found()).as("no event at or after the replay start").isFalse();
    }
    cutTheLogsTail();

    try (Braid b = Braid.open(dir, spec)) {
      long kept = b.status().streams().get(0).end().offset(0);
      assertThat(kept).isBetween(1L, 99L);
      assertThat(version(b, "all", id).state()).isEqualTo(dev.braid.VersionState.CURRENT);
      assertThat(b.get("all", "all").asOf().cut().offset(0)).as("replays from the log's end").isEqualTo(kept);
      clicks(b, "u", 3); // offsets kept, kept + 1, kept + 2: under 100, and counted
      awaitCount(b, "all", "all", 3);
    }
  }

  /** A backup made at cut 100 cannot be activated once the log lost its tail below 100: it fails, saying why. */
  @Test
  void shouldFailToActivateABackupWhoseCutIsPastTheLogsEnd() throws Exception {
    hundredClicksWithABase(); // per_user v2 at cut 100
    try (Braid b = Braid.open(dir, spec())) {
      clicks(b, "u", 10);
      awaitCount(b, "per_user", "u", 110);
      b.runBatch("per_user"); // v3 at cut 110; v2 is its backup
    }
    cutTheLogsTail();

    try (Braid b = Braid.open(dir, spec())) {
      long kept = b.status().streams().get(0).end().offset(0);
      b.repair("per_user");
      awaitCount(b, "per_user", "u", kept);
      assertThatThrownBy(() -> b.activate("per_user", 2)).hasMessageContaining("version 2 was made at cut [100], but "
          + "the log of stream 'clicks' partition 0 now ends at offset " + kept).hasMessageContaining("reprocess the view");
      assertThat(version(b, "per_user", 2).state()).isEqualTo(dev.braid.VersionState.FAILED);
      assertThat(b.get("per_user", "u").values()).containsEntry("n", kept);
    }
  }

  /**
   * A repair of a damaged current Base keeps every backup that keep allows: the damaged version is
   * failed in the switch itself, not counted as a backup first (which retired the oldest backup and
   * listed the damaged version as one to activate for a moment).
   */
  @Test
  void shouldKeepEveryBackupWhenARepairReplacesADamagedBase() throws Exception {
    Path base = threeCyclesWithTheLastBaseDamaged();
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_user", "u")).isInstanceOf(UnavailableException.class);
      assertThat(b.repair("per_user")).isEqualTo(5);
      assertThat(b.get("per_user", "u").values()).containsEntry("n", 30L);
      assertThat(version(b, "per_user", 4).state()).isEqualTo(dev.braid.VersionState.FAILED);
      assertThat(b.versions("per_user").stream().filter(v -> v.state() == dev.braid.VersionState.BACKUP)
          .map(dev.braid.VersionInfo::id)).as("keep: 2").containsExactlyInAnyOrder(2L, 3L);
      b.activate("per_user", 2); // and a backup is one to go back to
      assertThat(b.get("per_user", "u").values()).containsEntry("n", 30L);
    }
    assertThat(base.resolveSibling("v4.base.corrupt")).as("kept for inspection").exists();
  }

  /**
   * Versions 2, 3 and 4 of per_user from batch cycles (10 clicks before each), closed, and a byte of
   * version 4's Base flipped; returns that Base.
   */
  private Path threeCyclesWithTheLastBaseDamaged() throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      for (int cycle = 1; cycle <= 3; cycle++) {
        clicks(b, "u", 10);
        awaitCount(b, "per_user", "u", 10L * cycle);
        b.runBatch("per_user");
      }
      assertThat(b.versions("per_user").stream().filter(v -> v.state() == dev.braid.VersionState.BACKUP)
          .map(dev.braid.VersionInfo::id)).containsExactlyInAnyOrder(2L, 3L);
    }
    Path base = dir.resolve("views").resolve("per_user").resolve("v4.base");
    byte[] bytes = Files.readAllBytes(base);
    bytes[bytes.length / 2] ^= 0x10;
    Files.write(base, bytes);
    return base;
  }

  /**
   * Activating a backup instead of repairing fails the damaged version too: it is no backup, its file
   * is moved aside (kept, where the next start's clean-up would delete a failed version's file), and
   * the view serves again.
   */
  @Test
  void shouldFailADamagedVersionThatAnActivationReplaces() throws Exception {
    Path base = threeCyclesWithTheLastBaseDamaged();
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_user", "u")).isInstanceOf(UnavailableException.class);
      b.activate("per_user", 3);
      assertThat(b.get("per_user", "u").values()).containsEntry("n", 30L);
      assertThat(version(b, "per_user", 4).state()).isEqualTo(dev.braid.VersionState.FAILED);
      assertThat(version(b, "per_user", 4).failure()).contains("replaced by version 3");
      assertThat(b.versions("per_user").stream().filter(v -> v.state() == dev.braid.VersionState.BACKUP)
          .map(dev.braid.VersionInfo::id)).containsExactly(2L);
      assertThat(b.faults().unavailable()).isEmpty();
    }
    assertThat(base).doesNotExist();
    assertThat(base.resolveSibling("v4.base.corrupt")).exists();
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(b.get("per_user", "u").values()).containsEntry("n", 30L);
      assertThat(base.resolveSibling("v4.base.corrupt")).as("spared by the clean-up").exists();
    }
  }

  @Test
  void shouldRefuseAViewWhoseBaseWasComputedAtAnotherCutThanTheCatalogRecords() throws Exception {
    hundredClicksWithABase();
    Path catalog = dir.resolve("catalog.json");
    String text = Files.readString(catalog);
    assertThat(text).contains("\"cut\" : [ 100 ]");
    Files.writeString(catalog, text.replace("\"cut\" : [ 100 ]", "\"cut\" : [ 99 ]"));
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve("per_user"))) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".ckpt")).toList()) {
        Files.delete(f); // else the checkpoint's own cut check refuses it first
      }
    }

    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_user", "u")).isInstanceOf(UnavailableException.class)
          .hasMessageContaining("was computed at cut [100]")
          .hasMessageContaining("records cut [99]");
      awaitCount(b, "all", "all", 100);
    }
  }

  /**
   * A checkpoint of a view whose Base a start found damaged is numbered after the checkpoints already
   * there: it was numbered 1 again, writing over the older checkpoint of that name (or, behind newer
   * ones, deleted by the prune in their favour).
   */
  @Test
  void shouldNumberTheCheckpointsOfAViewWithADamagedBaseAfterTheOnesThere() throws Exception {
    hundredClicksWithABase();
    List<String> before = checkpointNames("per_user");
    assertThat(before).as("the close checkpointed version 2").isNotEmpty();
    Path base = viewFile("per_user", ".base");
    try (FileChannel ch = FileChannel.open(base, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2);
    }

    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_user", "u")).isInstanceOf(UnavailableException.class);
      clicks(b, "u", 1);
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      ((Engine) b).checkpointAll();
    }
    List<String> after = checkpointNames("per_user");
    assertThat(after).as("the new checkpoint kept, as the newest").hasSize(before.size() + 1)
        .containsAll(before);
    assertThat(after.get(after.size() - 1)).isGreaterThan(before.get(before.size() - 1));
  }

  private List<String> checkpointNames(String view) throws IOException {
    try (Stream<Path> files = Files.list(dir.resolve("views").resolve(view))) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".ckpt")).sorted().toList();
    }
  }

  @Test
  void shouldNameTheCatalogAndTheStateItCannotRead() throws Exception {
    hundredClicksWithABase();
    Path catalog = dir.resolve("catalog.json");
    Files.writeString(catalog, Files.readString(catalog).replace("\"current\"", "\"cxrrent\""));

    assertThatThrownBy(() -> Braid.open(dir, spec())).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(catalog.toString())
        .hasMessageContaining("state 'cxrrent'")
        .hasMessageContaining("current");
  }

  @Test
  void shouldApplyADurabilityThatTheSpecChangedAndKeepTheEvents() throws Exception {
    hundredClicksWithABase();
    PipelineSpec os = spec();
    assertThat(os.stream("clicks").durability()).isEqualTo(Durability.os());
    StreamSpec clicks = os.stream("clicks");
    PipelineSpec fsync = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts").durability(Durability.fsync())
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(os.views().get("per_user")).view(os.views().get("all")).build();
    assertThat(fsync.stream("clicks").fields()).isEqualTo(clicks.fields());

    try (Braid b = Braid.open(dir, fsync)) {
      assertThat(b.status().streams().get(0).durability()).isEqualTo("fsync");
      clicks(b, "u", 2);
      awaitCount(b, "per_user", "u", 102);
    }
    assertThat(Files.readString(dir.resolve("log").resolve("clicks").resolve("stream.properties")))
        .contains("durability=fsync");
  }

  @Test
  void shouldApplyADurabilityThatTheSpecChangedForATablesWrites() throws Exception {
    java.util.function.Function<Durability, PipelineSpec> withTable = d -> PipelineSpec.builder()
        .stream(spec().stream("clicks"))
        .table(dev.braid.spec.TableSpec.builder("profiles").key("id").field("id", FieldType.STRING)
            .field("tier", FieldType.STRING).durability(d).build())
        .build();
    try (Braid b = Braid.open(dir, withTable.apply(Durability.os()))) {
      assertThat(b.status().streams()).isNotEmpty();
    }
    Path properties = dir.resolve("log").resolve("profiles" + dev.braid.spec.TableSpec.WRITES_SUFFIX)
        .resolve("stream.properties");
    assertThat(Files.readString(properties)).contains("durability=os");
    try (Braid b = Braid.open(dir, withTable.apply(Durability.fsync()))) {
      assertThat(b.status().streams()).isNotEmpty();
    }
    assertThat(Files.readString(properties)).contains("durability=fsync");
  }

  @Test
  void shouldFailARollbackToABackupWhoseBaseARepairMovedAsideSayingSo() throws Exception {
    hundredClicksWithABase(); // version 2 has the Base
    try (Braid b = Braid.open(dir, spec())) {
      clicks(b, "u", 1);
      awaitCount(b, "per_user", "u", 101);
      b.runBatch("per_user"); // version 3 current, 2 a backup
    }
    Path base = dir.resolve("views").resolve("per_user").resolve("v2.base");
    Files.move(base, base.resolveSibling("v2.base.corrupt")); // as a repair a crash interrupted leaves it

    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.activate("per_user", 2))
          .hasMessageContaining("the Base file " + base + " of version 2 is missing")
          .hasMessageContaining("a repair moved it aside as v2.base.corrupt")
          .hasMessageNotContaining("NoSuchFileException");
      assertThat(b.versions("per_user")).filteredOn(v -> v.id() == 2).singleElement()
          .satisfies(v -> assertThat(v.state()).isEqualTo(dev.braid.VersionState.FAILED));
      awaitCount(b, "per_user", "u", 101); // version 3 still serves
    }
  }

  /**
   * A catalog that is JSON but not one Braid wrote whole (an edit, a damaged disk) is refused, naming
   * what is wrong, before any file is deleted: read as a catalog without views, tables or versions,
   * it made the start delete Bases, checkpoints, changes logs and a table's pushed rows as orphans;
   * with a lowered {@code next}, the next batch cycle wrote over a backup's Base under its id.
   */
  @Test
  void shouldRefuseACatalogThatIsJsonButNotWholeAndDeleteNothing() throws Exception {
    PipelineSpec withTable = withTable();
    try (Braid b = Braid.open(dir, withTable)) {
      clicks(b, "u", 10);
      awaitCount(b, "per_user", "u", 10);
      b.runBatch("per_user");
      assertThat(b.table("profiles").push(new java.io.ByteArrayInputStream("{\"id\": \"a\", \"tier\": \"gold\"}\n"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8)), dev.braid.table.PushOptions.defaults("p.jsonl"))
          .state()).isEqualTo("done");
    }
    Path catalog = dir.resolve("catalog.json");
    byte[] whole = Files.readAllBytes(catalog);
    List<String> files = filesUnder(dir);
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    Map<String, java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode>> edits =
        new java.util.LinkedHashMap<>();
    edits.put("version catalog is damaged: 'tablez' is not a section of a catalog (format, views, tables, dropped)",
        r -> r.set("tablez", r.remove("tables")));
    edits.put("version catalog is damaged: 'views' is 7, not an object naming each of its views", r -> r.put("views", 7));
    edits.put("version catalog is damaged: 'views' is missing", r -> r.remove("views"));
    edits.put("the version catalog records no view '", r -> r.putObject("views"));
    edits.put("version catalog is damaged: views.per_user.versions is missing, not an array of versions",
        r -> ((com.fasterxml.jackson.databind.node.ObjectNode) r.path("views").path("per_user")).remove("versions"));
    edits.put("version catalog is damaged: views.per_user.versions[0].id 2 is not below views.per_user.next (2): the "
        + "next version would take the id of an existing one", r -> ((com.fasterxml.jackson.databind.node.ObjectNode)
        r.path("views").path("per_user")).put("next", 2));
    edits.put("version catalog is damaged: views.per_user.versions[1].id 2 is the id of another version of per_user",
        r -> ((com.fasterxml.jackson.databind.node.ObjectNode) r.path("views").path("per_user").path("versions").get(1))
            .put("id", 2)); // the newest comes first
    edits.put("version catalog is damaged: tables.profiles.versions[0].cut is [-1], not an array of offsets",
        r -> ((com.fasterxml.jackson.databind.node.ObjectNode) r.path("tables").path("profiles").path("versions").get(0))
            .putArray("cut").add(-1));
    edits.forEach((message, edit) -> {
      try {
        com.fasterxml.jackson.databind.node.ObjectNode root =
            (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(whole);
        edit.accept(root);
        Files.writeString(catalog, root.toString());
        assertThatThrownBy(() -> Braid.open(dir, withTable)).as(message).isInstanceOf(CorruptLogException.class)
            .hasMessageContaining(message);
        assertThat(filesUnder(dir)).as("files after: " + message).containsAll(files);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    Files.write(catalog, whole);
    try (Braid b = Braid.open(dir, withTable)) {
      awaitCount(b, "per_user", "u", 10);
      assertThat(b.table("profiles").get("a").values()).containsEntry("tier", "gold");
    }
  }

  /**
   * A stream one of whose log directories is gone (deleted, moved) is refused, and no empty log is
   * created in its place: before, the start made a new one, and the views served nothing of the
   * events acknowledged before, or the dead letters and late events were gone, without a word (found
   * by the crash review).
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({"clicks, log", "clicks.dead-letters, dead-letter log",
      "clicks.late, late-event log"})
  void shouldRefuseAStreamWhoseLogDirectoryIsGoneAndCreateNoneInItsPlace(String logName, String what)
      throws Exception {
    hundredClicksWithABase();
    Path gone = dir.resolve("log").resolve(logName);
    assertThat(gone).isDirectory();
    BatchLayer.deleteTree(gone);
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("all", "all")).isInstanceOf(UnavailableException.class)
          .hasMessageContaining("stream 'clicks' is recorded in " + dir.resolve("schemas.json") + ", so its logs "
              + "were created here, but its " + what + " directory is missing; nothing was created in its place")
          .hasMessageContaining("restore " + gone + " from a backup");
      assertThatThrownBy(() -> b.ingest("clicks", List.of(Map.of("user", "u", "ts", 1L))))
          .isInstanceOf(UnavailableException.class);
    }
    assertThat(gone).doesNotExist();
  }

  /**
   * A catalog whose table entry is gone ({@code "tables": {}}, an edit) while the table's directory
   * holds a pushed Base stops the start and deletes nothing: opened as a new table, its pushed rows,
   * which exist nowhere else, were deleted as orphans. A table new in the spec is recorded as it
   * opens, before a push or repush can write a Base, so an unrecorded Base means a lost entry.
   */
  @Test
  void shouldRefuseACatalogWithoutATableWhosePushedBaseIsThere() throws Exception {
    PipelineSpec withTable = withTable();
    Path catalog = dir.resolve("catalog.json");
    try (Braid b = Braid.open(dir, spec())) {
      clicks(b, "u", 1);
    }
    try (Braid b = Braid.open(dir, withTable)) {
      assertThat(Files.readString(catalog)).as("a new table recorded as it opens").contains("\"profiles\"");
      assertThat(b.table("profiles").push(new java.io.ByteArrayInputStream("{\"id\": \"a\", \"tier\": \"gold\"}\n"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8)), dev.braid.table.PushOptions.defaults("p.jsonl"))
          .state()).isEqualTo("done");
    }
    byte[] whole = Files.readAllBytes(catalog);
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode root =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(whole);
    root.putObject("tables");
    Files.writeString(catalog, root.toString());
    List<String> files = filesUnder(dir);
    assertThat(files).anyMatch(f -> f.startsWith("tables/profiles/") && f.endsWith(".base"));
    assertThatThrownBy(() -> Braid.open(dir, withTable)).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining("the version catalog records no table 'profiles', but " + dir.resolve("tables")
            .resolve("profiles") + " holds Bases of it, whose pushed rows exist nowhere else");
    assertThat(filesUnder(dir)).as("nothing deleted").containsAll(files);
    Files.write(catalog, whole);
    try (Braid b = Braid.open(dir, withTable)) {
      assertThat(b.table("profiles").get("a").values()).containsEntry("tier", "gold");
    }
  }

  /** A table whose log of writes is gone stops the start, and none is created in its place. */
  @Test
  void shouldStopTheStartWhenATablesLogOfWritesIsGone() throws Exception {
    PipelineSpec withTable = withTable();
    try (Braid b = Braid.open(dir, withTable)) {
      b.table("profiles").put("a", Map.of("id", "a", "tier", "gold"), null);
    }
    Path gone = dir.resolve("log").resolve("profiles.writes");
    assertThat(gone).isDirectory();
    BatchLayer.deleteTree(gone);
    assertThatThrownBy(() -> Braid.open(dir, withTable)).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining("table 'profiles' is recorded in " + dir.resolve("schemas.json") + ", so its log of "
            + "writes was created here, but its directory is missing; nothing was created in its place")
        .hasMessageContaining("restore " + gone + " from a backup");
    assertThat(gone).doesNotExist();

    // a damaged log of writes (a partition's directory gone) is named as damaged, not as a missing log
    try (Braid b = Braid.open(dir.resolve("again"), withTable)) {
      b.table("profiles").put("a", Map.of("id", "a", "tier", "gold"), null);
    }
    Path partition = dir.resolve("again").resolve("log").resolve("profiles.writes").resolve("p00000");
    assertThat(partition).isDirectory();
    BatchLayer.deleteTree(partition);
    assertThatThrownBy(() -> Braid.open(dir.resolve("again"), withTable))
        .hasMessageNotContaining("its directory is missing").hasMessageContaining("p00000");
  }

  /** {@link #spec()} with a table {@code profiles} (id, tier). */
  private static PipelineSpec withTable() {
    return PipelineSpec.builder().stream(spec().stream("clicks")).view(spec().view("per_user")).view(spec().view("all"))
        .table(dev.braid.spec.TableSpec.builder("profiles").key("id").field("id", FieldType.STRING)
            .field("tier", FieldType.STRING).build())
        .build();
  }

  /** Every file under {@code root} but the catalog and lock files, relative to it. */
  private static List<String> filesUnder(Path root) throws IOException {
    try (Stream<Path> all = Files.walk(root)) {
      return all.filter(Files::isRegularFile).map(f -> root.relativize(f).toString())
          .filter(f -> !f.equals("catalog.json") && !f.endsWith(".lock")).sorted().toList();
    }
  }

  @Test
  void shouldSayWhereATruncatedCatalogOrSchemasFileEnds() throws Exception {
    hundredClicksWithABase();
    Path catalog = dir.resolve("catalog.json");
    byte[] whole = Files.readAllBytes(catalog);
    Files.write(catalog, java.util.Arrays.copyOf(whole, 300));
    assertThatThrownBy(() -> Braid.open(dir, spec())).isInstanceOf(CorruptLogException.class)
        .hasMessageContaining(catalog + " at byte 300")
        .hasMessageContaining("version catalog is not valid JSON: Unexpected end-of-input")
        .hasMessageEndingWith("; restore it from a backup, or, to start every view and table afresh from the log (a "
            + "table's pushed rows are then lost), move it and the directories views/ and tables/ away")
        .hasMessageNotContaining("REDACTED");
    Files.write(catalog, new byte[0]);
    assertThatThrownBy(() -> Braid.open(dir, spec())).hasMessageContaining("version catalog has an unknown format; "
        + "restore it from a backup");
    Files.writeString(catalog, "{\"format\": 2}");
    assertThatThrownBy(() -> Braid.open(dir, spec())).hasMessage("the version catalog " + catalog + " has format 2, "
        + "written by a newer Braid build than this one, which reads format 1: run that build");
    Files.write(catalog, whole);

    Path schemas = dir.resolve("schemas.json");
    Files.write(schemas, java.util.Arrays.copyOf(Files.readAllBytes(schemas), 20));
    assertThatThrownBy(() -> Braid.open(dir, spec()))
        .hasMessageContaining("cannot read " + schemas + ": Unexpected end-of-input")
        .hasMessageContaining("(line ")
        .hasMessageContaining("; restore it from a backup (it records the fields the events in the log were written "
            + "with), or move it away")
        .hasMessageNotContaining("REDACTED");
  }
}
