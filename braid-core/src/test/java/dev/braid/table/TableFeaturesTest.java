package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.log.Cut;
import dev.braid.log.FileLog;
import dev.braid.log.LogException;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import dev.braid.view.VersionCatalog;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table features beside the history property: TTL (at push time, on read, repush with TTL),
 * incremental pushes, pushes from a time ({@code since}), rollback through activate, asynchronous
 * pushes.
 */
class TableFeaturesTest {

  private static final long DAY = Duration.ofDays(1).toMillis();

  @TempDir
  Path dir;

  static PipelineSpec spec(Duration ttl) {
    TableSpec.Builder b = TableSpec.builder("users").partitions(2).key("id").field("id", "string")
        .field("tier", "string").field("updated", "timestamp").time("updated");
    if (ttl != null) {
      b.ttl(ttl);
    }
    return PipelineSpec.builder().table(b.build()).build();
  }

  static InputStream lines(String... rows) {
    return new ByteArrayInputStream((String.join("\n", rows) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  static String row(String id, String tier, long updated) {
    return "{\"id\":\"" + id + "\",\"tier\":\"" + tier + "\",\"updated\":" + updated + "}";
  }

  static Map<String, Object> values(String id, String tier) {
    return Map.of("id", id, "tier", tier);
  }

  @Test
  void shouldDropRowsOlderThanTheTtlAtPushTime() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(Duration.ofDays(7)))) {
      Table t = braid.table("users");
      PushReport r = t.push(lines(row("fresh", "gold", now - DAY), row("old", "gold", now - 8 * DAY)),
          PushOptions.defaults("u.jsonl"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.rows()).isEqualTo(1);
      assertThat(r.expired()).isEqualTo(1);
      assertThat(t.get("fresh").found()).isTrue();
      assertThat(t.get("old").found()).isFalse();
    }
  }

  @Test
  void shouldHideRowsWhoseLastWriteIsOlderThanTheTtlOnRead() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(Duration.ofDays(7)))) {
      Table t = braid.table("users");
      WriteResult old = t.put("old", values("old", "silver"), now - 8 * DAY);
      WriteResult fresh = t.put("fresh", values("fresh", "silver"), now);
      assertThat(t.awaitApplied(old, 10_000)).isTrue();
      assertThat(t.awaitApplied(fresh, 10_000)).isTrue();
      assertThat(t.get("old").found()).as("the write is applied, but older than the TTL").isFalse();
      assertThat(t.get("fresh").values()).containsEntry("tier", "silver");
    }
  }

  /**
   * A write to a row that had expired starts a new row: the expired fields (pushed, or written
   * before) do not come back beside the write's, with or without a repush in between, and a replay
   * of the writes after a restart decides the same; a row that had not expired keeps its other
   * fields. Expired is judged as of the later of the write's stamp and its arrival (reads expire by
   * the clock), so a backdated write to a row that reads as expired starts a new row too.
   */
  @Test
  void shouldStartANewRowWhenAWriteComesAfterTheRowExpired() throws Exception {
    long now = System.currentTimeMillis();
    PipelineSpec spec = spec(Duration.ofDays(7));
    Map<String, Map<String, Object>> expected = new java.util.HashMap<>();
    try (Braid braid = Braid.open(dir, spec)) {
      Table t = braid.table("users");
      assertThat(t.push(lines(row("r1", "gold", now - 6 * DAY), row("r2", "gold", now - 6 * DAY),
          row("live", "gold", now - 6 * DAY)), PushOptions.defaults("u.jsonl")).rows()).isEqualTo(3);
      WriteResult oldPut = t.put("w1", values("w1", "ancient"), now - 10 * DAY); // expired on arrival
      WriteResult oldPut3 = t.put("w3", values("w3", "ancient"), now - 8 * DAY);
      WriteResult keep = t.patch("live", Patch.builder().set("tier", "kept").build(), now - DAY);
      // stamped two days ahead: as of that stamp r1's pushed row (written 6 days ago) is 8 days old
      WriteResult a = t.patch("r1", Patch.builder().set("updated", now + 2 * DAY).build(), now + 2 * DAY);
      // stamped 6 days after w3's write, but w3 read as expired when it came: a new row all the same
      WriteResult e3 = t.patch("w3", Patch.builder().set("updated", now - 2 * DAY).build(), now - 2 * DAY);
      for (WriteResult w : List.of(oldPut, oldPut3, keep, a, e3)) {
        assertThat(t.awaitApplied(w, 10_000)).isTrue();
      }
      assertThat(t.get("w3").values()).as("before the repush").isEqualTo(Map.of("id", "w3", "updated", now - 2 * DAY));
      t.repush(true); // r2 stays in the Base (not expired by the clock): its write must read as r1's does
      WriteResult b = t.patch("r2", Patch.builder().set("updated", now + 2 * DAY).build(), now + 2 * DAY);
      WriteResult c = t.patch("w1", Patch.builder().set("updated", now).build(), now);
      WriteResult d = t.patch("live", Patch.builder().set("updated", now + 2 * DAY).build(), now + 2 * DAY);
      WriteResult backdated = t.patch("w2", Patch.builder().set("tier", "late").build(), now - 8 * DAY);
      for (WriteResult w : List.of(b, c, d, backdated)) {
        assertThat(t.awaitApplied(w, 10_000)).isTrue();
      }

      expected.put("r1", Map.of("id", "r1", "updated", now + 2 * DAY));
      expected.put("r2", Map.of("id", "r2", "updated", now + 2 * DAY));
      expected.put("w1", Map.of("id", "w1", "updated", now));
      expected.put("w3", Map.of("id", "w3", "updated", now - 2 * DAY));
      expected.put("live", Map.of("id", "live", "tier", "kept", "updated", now + 2 * DAY));
      for (Map.Entry<String, Map<String, Object>> e : expected.entrySet()) {
        assertThat(t.get(e.getKey()).values()).as("%s", e.getKey()).isEqualTo(e.getValue());
      }
      assertThat(t.get("w2").found()).as("a write older than the ttl on arrival").isFalse();
    }
    try (Stream<Path> files = Files.list(dir.resolve("tables/users"))) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (f.toString().endsWith(".ckpt")) {
          Files.delete(f); // as after a crash: the writes are replayed from the log
        }
      }
    }
    try (Braid braid = Braid.open(dir, spec)) {
      TableRuntime t = (TableRuntime) braid.table("users");
      assertThat(t.restoredFrom()).startsWith("no checkpoint");
      for (Map.Entry<String, Map<String, Object>> e : expected.entrySet()) {
        assertThat(t.get(e.getKey()).values()).as("%s replayed", e.getKey()).isEqualTo(e.getValue());
      }
    }
    try (Braid braid = Braid.open(dir, spec)) { // the clean close above wrote a checkpoint: restored as it was
      assertThat(((TableRuntime) braid.table("users")).restoredFrom()).contains(".ckpt at");
      assertThat(braid.table("users").get("r1").values()).isEqualTo(expected.get("r1"));
    }
    try (Braid braid = Braid.open(dir, spec(Duration.ofDays(30)))) { // another ttl: the writes are decided anew
      assertThat(((TableRuntime) braid.table("users")).restoredFrom()).contains("written under a ttl of "
          + "604800000 ms, and the table has a ttl of 2592000000 ms now");
      assertThat(braid.table("users").get("r2").values()).as("as of a 30-day ttl, r2 had not expired when its "
          + "write came (replayed after the repush's cut)").containsEntry("tier", "gold");
    }
  }

  /** -0.0 and 0.0 are one element of a set (and one value to a list's remove), from a write or a push. */
  @Test
  void shouldHoldOneZeroInASetOfDoubles() throws Exception {
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("m").partitions(1).key("id")
        .field("id", "string").field("xs", "set<double>").field("ys", "list<double>").build()).build();
    try (Braid braid = Braid.open(dir, spec)) {
      Table t = braid.table("m");
      assertThat(t.push(lines("{\"id\": \"p\", \"xs\": [-0.0, 0.0, 1]}"), PushOptions.defaults("m.jsonl")).rows())
          .isEqualTo(1);
      WriteResult put = t.put("w", Map.of("id", "w", "xs", List.of(1, 1.0, -0.0, 0.0, 2.5), "ys", List.of(-0.0, 3.0)),
          null);
      assertThat(t.awaitApplied(put, 10_000)).isTrue();
      assertThat(t.get("p").values().get("xs")).isEqualTo(java.util.Set.of(0.0, 1.0));
      assertThat(t.get("w").values().get("xs")).isEqualTo(java.util.Set.of(1.0, 0.0, 2.5));
      assertThat(Double.doubleToRawLongBits((Double) ((List<?>) t.get("w").values().get("ys")).get(0)))
          .as("a list keeps the value it was given").isEqualTo(Double.doubleToRawLongBits(-0.0));

      WriteResult remove = t.patch("w", Patch.builder().remove("xs", 0).remove("ys", 0.0).build(), null);
      assertThat(t.awaitApplied(remove, 10_000)).isTrue();
      assertThat(t.get("w").values().get("xs")).isEqualTo(java.util.Set.of(1.0, 2.5));
      assertThat(t.get("w").values().get("ys")).isEqualTo(List.of(3.0));
    }
  }

  @Test
  void shouldRepushTheCurrentRowsWithoutExpiredOnes() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(Duration.ofDays(7)))) {
      Table t = braid.table("users");
      t.push(lines(row("a", "gold", now - DAY), row("b", "gold", now - DAY), row("c", "gold", now - 2 * DAY)),
          PushOptions.defaults("u.jsonl"));
      t.patch("a", Patch.builder().set("tier", "platinum").build(), now);
      WriteResult last = t.put("old", values("old", "silver"), now - 9 * DAY); // expired on arrival
      WriteResult deleted = t.delete("c", now);
      // wait for both: they may sit on different partitions, and the report counts the rows the
      // repush read, so a delete still in flight would be replayed after its cut but counted here
      assertThat(t.awaitApplied(last, 10_000)).isTrue();
      assertThat(t.awaitApplied(deleted, 10_000)).isTrue();
      long before = t.get("a").asOf().version();

      PushReport r = t.repush(true);

      assertThat(r.state()).as("%s", r).isEqualTo("done");
      assertThat(r.expired()).isEqualTo(1);
      assertThat(r.distinctKeys()).as("a (patched) and b; c deleted, old expired").isEqualTo(2);
      TableRow a = t.get("a");
      assertThat(a.asOf().version()).isGreaterThan(before);
      assertThat(a.values()).containsEntry("tier", "platinum");
      assertThat(t.get("b").values()).containsEntry("tier", "gold");
      assertThat(t.get("c").found()).isFalse();
      assertThat(t.get("old").found()).isFalse();
      // writes after the repush's cut still apply
      WriteResult w = t.patch("b", Patch.builder().set("tier", "bronze").build(), now + 1);
      assertThat(t.awaitApplied(w, 10_000)).isTrue();
      assertThat(t.get("b").values()).containsEntry("tier", "bronze");
    }
    try (Braid braid = Braid.open(dir, spec(Duration.ofDays(7)))) {
      assertThat(braid.table("users").get("a").values()).containsEntry("tier", "platinum");
      assertThat(braid.table("users").get("b").values()).containsEntry("tier", "bronze");
    }
  }

  /**
   * Incremental pushes build no version, so their reports are kept in memory only: the newest
   * {@value TableRuntime#INCREMENTAL_KEPT}, each under an id of its own also when two end in the same
   * millisecond; an older one's id is then unknown, as a push id never known is.
   */
  @Test
  void shouldKeepTheReportsOfTheNewestIncrementalPushesOnly() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      List<String> ids = new java.util.ArrayList<>();
      for (int i = 0; i < TableRuntime.INCREMENTAL_KEPT + 5; i++) {
        ids.add(t.push(lines(row("k" + i, "gold", now)), PushOptions.defaults("inc" + i + ".jsonl").incremental(true))
            .pushId());
      }
      assertThat(new java.util.HashSet<>(ids)).as("distinct ids").hasSize(ids.size());
      for (int i = 0; i < ids.size(); i++) {
        String id = ids.get(i);
        if (i < 5) {
          assertThatThrownBy(() -> t.push(id)).as("push " + i).hasMessageContaining("unknown push '" + id + "'");
        } else {
          assertThat(t.push(id).pushId()).as("push " + i).isEqualTo(id);
        }
      }
      assertThat(t.get("k0").found()).as("the oldest push's row stays, only its report is forgotten").isTrue();
    }
  }

  /**
   * A table the spec no longer defines is retired, not silently gone: a read names it so, and it is
   * listed until it is dropped; a drop deletes its files and log of writes and forgets its fields,
   * so that its name can be given to a table of other fields (found by the tables review: there was
   * no way to drop one, and re-adding the name with other fields stopped the start).
   */
  @Test
  void shouldRetireATableTheSpecNoLongerDefinesAndDropIt() throws Exception {
    long now = System.currentTimeMillis();
    TableSpec extra = TableSpec.builder("extra").key("id").field("id", "string").field("b", "long").build();
    PipelineSpec withExtra = PipelineSpec.builder().table(spec(null).table("users")).table(extra).build();
    try (Braid braid = Braid.open(dir, withExtra)) {
      braid.table("extra").push(lines("{\"id\": \"k1\", \"b\": 1}"), PushOptions.defaults("e.jsonl"));
      Table e = braid.table("extra");
      assertThat(e.awaitApplied(e.put("k2", Map.of("b", 2L), now), 10_000)).isTrue();
    }
    for (int start = 0; start < 2; start++) { // retired across restarts
      try (Braid braid = Braid.open(dir, spec(null))) {
        assertThat(braid.retiredTables()).containsExactly("extra");
        assertThatThrownBy(() -> braid.table("extra")).isInstanceOf(dev.braid.UnknownNameException.class)
            .hasMessageContaining("'extra' is a retired table: the spec no longer defines it")
            .hasMessageContaining("braid drop extra --table");
      }
    }
    assertThat(dir.resolve("tables").resolve("extra")).isDirectory();
    try (Braid braid = Braid.open(dir, spec(null))) {
      assertThatThrownBy(() -> braid.dropTable("users")).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("table 'users' is defined in the spec");
      assertThatThrownBy(() -> braid.dropTable("nope")).isInstanceOf(dev.braid.UnknownNameException.class)
          .hasMessage("unknown retired table 'nope'; retired tables are: extra");
      assertThat(braid.dropTable("extra")).as("versions dropped").isPositive();
      assertThat(braid.retiredTables()).isEmpty();
    }
    assertThat(dir.resolve("tables").resolve("extra")).doesNotExist();
    assertThat(dir.resolve("log").resolve("extra" + TableSpec.WRITES_SUFFIX)).doesNotExist();
    TableSpec other = TableSpec.builder("extra").key("id").field("id", "string").field("c", "double").build();
    try (Braid braid = Braid.open(dir, PipelineSpec.builder().table(spec(null).table("users")).table(other).build())) {
      assertThat(braid.table("extra").get("k1").found()).as("a new table of the name, other fields").isFalse();
      assertThat(braid.retiredTables()).isEmpty();
      assertThat(braid.table("extra").versions()).as("its version ids go on from the dropped one's, as a view's do")
          .extracting(dev.braid.VersionInfo::id).containsExactly(3L);
    }
  }

  /**
   * A drop that a crash cut short after its catalog write (the table named dropped, its files, log
   * of writes and recorded fields still there) is finished by the next start, before the schemas are
   * checked: the name takes a table of other fields, which starts empty (the review of the drop found
   * a table put back after a drop cut short refused, or the whole start stopped).
   */
  @Test
  void shouldFinishADropThatACrashCutShortAtTheNextStart() throws Exception {
    TableSpec extra = TableSpec.builder("extra").key("id").field("id", "string").field("b", "long").build();
    try (Braid braid = Braid.open(dir, PipelineSpec.builder().table(spec(null).table("users")).table(extra).build())) {
      braid.table("extra").push(lines("{\"id\": \"k1\", \"b\": 1}"), PushOptions.defaults("e.jsonl"));
    }
    // what the drop's catalog write leaves before it deletes anything
    Path catalog = dir.resolve("catalog.json");
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode root =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(catalog.toFile());
    long next = root.path("tables").path("extra").path("next").asLong();
    ((com.fasterxml.jackson.databind.node.ObjectNode) root.path("tables")).remove("extra");
    root.putObject("dropped").putObject("extra").put("next", next).put("nextChange", 0);
    java.nio.file.Files.writeString(catalog, root.toString());
    assertThat(dir.resolve("tables").resolve("extra")).isDirectory();

    TableSpec other = TableSpec.builder("extra").key("id").field("id", "string").field("c", "double").build();
    try (Braid braid = Braid.open(dir, PipelineSpec.builder().table(spec(null).table("users")).table(other).build())) {
      assertThat(braid.table("extra").get("k1").found()).as("the dropped table's rows are gone").isFalse();
      assertThat(braid.retiredTables()).isEmpty();
    }
  }

  /**
   * A whole-number key is one row however it is written ({@code 070}, {@code +70}, {@code 70}), as a
   * push stores it: a write kept the text, so a patch of 070 made a second row with id 70 beside the
   * pushed one, and a delete of +70 deleted nothing (found by the tables review). A key that is not
   * a whole number is refused, for reads too.
   */
  @Test
  void shouldTakeAWholeNumberKeyAsOneRowHoweverItIsWritten() throws Exception {
    long now = System.currentTimeMillis();
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("ids").partitions(3).key("id")
        .field("id", "long").field("name", "string").build()).build();
    try (Braid braid = Braid.open(dir, spec)) {
      Table t = braid.table("ids");
      t.push(lines("{\"id\": 70, \"name\": \"pushed\"}"), PushOptions.defaults("ids.jsonl"));
      assertThat(t.awaitApplied(t.patch("070", Patch.builder().set("name", "renamed").build(), now), 10_000)).isTrue();
      assertThat(t.get("70").values()).as("patched through 070").containsEntry("name", "renamed");
      assertThat(t.get(" +70 ").key()).isEqualTo("70");
      assertThat(t.awaitApplied(t.put("0070", Map.of("name", "put"), now + 1), 10_000)).isTrue();
      assertThat(t.get("70").values()).as("put through 0070").containsEntry("name", "put").containsEntry("id", 70L);
      assertThat(t.awaitApplied(t.delete("+70", now + 2), 10_000)).isTrue();
      assertThat(t.get("070").found()).as("deleted through +70").isFalse();
      assertThat(t.repush(true).rows()).as("no second row of id 70").isZero();
      assertThatThrownBy(() -> t.get("7x")).isInstanceOf(IllegalArgumentException.class)
          .hasMessage("key '7x': the key field 'id' is a long");
      assertThatThrownBy(() -> t.get("\u0667\u0660")).as("ASCII digits only, as a push reads a cell")
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  /** The empty string is a row key for writes as it is for pushes: put, patched and deleted like any other. */
  @Test
  void shouldWriteTheEmptyKeyAsAPushStoresIt() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      t.push(lines(row("", "gold", now), row("a", "gold", now)), PushOptions.defaults("full.jsonl"));
      assertThat(t.get("").values()).as("pushed").containsEntry("tier", "gold");
      assertThat(t.awaitApplied(t.put("", values("", "silver"), now + 1), 10_000)).isTrue();
      assertThat(t.get("").values()).as("put").containsEntry("tier", "silver");
      assertThat(t.awaitApplied(t.patch("", Patch.builder().set("tier", "bronze").build(), now + 2), 10_000))
          .isTrue();
      assertThat(t.get("").values()).as("patched").containsEntry("tier", "bronze");
      assertThat(t.awaitApplied(t.delete("", now + 3), 10_000)).isTrue();
      assertThat(t.get("").found()).as("deleted").isFalse();
      assertThat(t.get("a").found()).as("another key").isTrue();
      assertThatThrownBy(() -> t.delete(null, now)).hasMessageContaining("a row key cannot be null");
      assertThatThrownBy(() -> t.put("a", values("a", "frozen"), Long.MAX_VALUE)) // would win over every later write
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("table 'users': the write's timestamp 9223372036854775807 is out of range: it must lie in the "
              + "years 0000-9999, as an event time does");
      assertThat(t.get("a").values()).containsEntry("tier", "gold");
    }
  }

  @Test
  void shouldApplyAnIncrementalPushToTheCurrentVersionAndToVersionsBuiltFromEarlierCuts() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      t.push(lines(row("a", "gold", now)), PushOptions.defaults("full.jsonl"));
      Cut beforeIncremental = braid.log().stream("users.writes").end();

      PushReport inc = t.push(lines(row("b", "silver", now), row("a", "bronze", now)),
          PushOptions.defaults("inc.jsonl").incremental(true));

      assertThat(inc.state()).isEqualTo("done");
      assertThat(inc.rows()).isEqualTo(2);
      assertThat(inc.version()).as("no version is built").isZero();
      Cut end = braid.log().stream("users.writes").end();
      for (int p = 0; p < end.partitions(); p++) {
        if (end.offset(p) > 0) {
          assertThat(t.awaitApplied(new WriteResult(p, end.offset(p) - 1, 0), 10_000)).isTrue();
        }
      }
      assertThat(t.get("a").values()).containsEntry("tier", "bronze");
      assertThat(t.get("b").values()).containsEntry("tier", "silver");

      // a snapshot taken before the incremental push: its rows are replayed onto the new version
      PushReport full = t.push(lines(row("a", "gold", now), row("z", "gold", now)),
          PushOptions.defaults("snap.jsonl").sincePosition(beforeIncremental));
      assertThat(full.state()).isEqualTo("done");
      assertThat(full.replayed()).isEqualTo(2);
      assertThat(t.get("a").values()).containsEntry("tier", "bronze");
      assertThat(t.get("b").values()).containsEntry("tier", "silver");
      assertThat(t.get("z").values()).containsEntry("tier", "gold");
    }
  }

  @Test
  void shouldStartAPushSinceATimeAtTheFirstWriteIngestedThen() throws Exception {
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      for (int i = 0; i < 3000; i++) {
        t.put("k" + i, values("k" + i, "old"), 1L);
      }
      Cut before = braid.log().stream("users.writes").end();
      Thread.sleep(20); // ingest times are in millis: the writes below are ingested strictly later
      long since = System.currentTimeMillis();
      Thread.sleep(20);
      for (int i = 0; i < 500; i++) {
        t.put("k" + i, values("k" + i, "new"), 2L);
      }

      PushReport r = t.push(lines(row("k0", "snap", 0)), PushOptions.defaults("s.jsonl").since(since));

      assertThat(r.state()).isEqualTo("done");
      assertThat(r.cut()).as("the first write ingested at or after the time, per partition").isEqualTo(before);
      assertThat(r.replayed()).isEqualTo(500);
      assertThat(t.get("k0").values()).containsEntry("tier", "new");
      assertThat(t.get("k2999").found()).as("not in the snapshot, written before its cut").isFalse();
    }
  }

  @Test
  void shouldRollBackToABackupThroughActivate() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      long v1 = t.push(lines(row("a", "one", now)), PushOptions.defaults("1.jsonl")).version();
      WriteResult w = t.patch("b", Patch.builder().set("tier", "written").build(), now);
      long v2 = t.push(lines(row("a", "two", now)), PushOptions.defaults("2.jsonl")).version();
      assertThat(t.awaitApplied(w, 10_000)).isTrue();
      assertThat(t.get("a").values()).containsEntry("tier", "two");

      assertThat(t.activate(v1)).isEqualTo(v1);

      TableRow a = t.get("a");
      assertThat(a.asOf().version()).isEqualTo(v1);
      assertThat(a.values()).containsEntry("tier", "one");
      assertThat(t.get("b").values()).as("writes since v1's cut are replayed").containsEntry("tier", "written");
      Map<Long, VersionState> states = new java.util.HashMap<>();
      for (VersionInfo v : t.versions()) {
        states.put(v.id(), v.state());
      }
      assertThat(states).containsEntry(v1, VersionState.CURRENT).containsEntry(v2, VersionState.BACKUP);
      assertThatThrownBy(() -> t.activate(999)).hasMessageContaining("999");
    }
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      assertThat(t.get("a").values()).as("the rollback survives a restart").containsEntry("tier", "one");
      // backups retire in the order they stopped serving (kept across the restart), not by id: v2
      // stopped serving at the rollback, before v1 and v3 did
      long v3 = t.push(lines(row("a", "three", now)), PushOptions.defaults("3.jsonl")).version();
      long v4 = t.push(lines(row("a", "four", now)), PushOptions.defaults("4.jsonl")).version();
      Map<Long, VersionState> states = new java.util.HashMap<>();
      for (VersionInfo v : t.versions()) {
        states.put(v.id(), v.state());
      }
      long v1 = v3 - 2;
      assertThat(states).as(t.versions().toString()).containsEntry(v4, VersionState.CURRENT)
          .containsEntry(v3, VersionState.BACKUP).containsEntry(v1, VersionState.BACKUP)
          .containsEntry(v3 - 1, VersionState.RETIRED);
      assertThat(t.versions()).extracting(VersionInfo::id).as("listed by id").isSorted();
    }
  }

  /**
   * A repush stores its version id as taken, and its version as building, before it writes its Base: a
   * kill -9 while it wrote gave the same id to the next push (found by the tables review), and left no
   * version to say what happened.
   */
  @Test
  void shouldStoreARepushsIdAsTakenBeforeItWritesItsBase() throws Exception {
    long now = System.currentTimeMillis();
    java.util.concurrent.atomic.AtomicReference<TableRuntime> table =
        new java.util.concurrent.atomic.AtomicReference<>();
    List<String> stored = new java.util.concurrent.CopyOnWriteArrayList<>();
    TableSpec users = spec(null).tables().get("users");
    Path tdir = dir.resolve("users");
    Runnable persist = () -> {
      TableRuntime t = table.get();
      if (t != null) {
        var entry = t.catalogEntry();
        long next = entry.next();
        boolean written = Files.exists(tdir.resolve("v" + (next - 1) + ".base"));
        String states = entry.versions().stream().filter(x -> x.id() == next - 1)
            .map(x -> ", version " + x.id() + " " + x.state().label()).findFirst().orElse("");
        stored.add("next " + next + states + (written ? ", its Base written" : ""));
      }
    };
    try (FileLog log = FileLog.open(dir.resolve("log"));
        TableRuntime t = TableRuntime.open(users, users.fields().size(), log, tdir, persist, null, 2)) {
      table.set(t);
      long pushed = t.push(lines(row("a", "one", now)), PushOptions.defaults("1.jsonl")).version();
      stored.clear();
      long repushed = t.repush(true).version();
      assertThat(repushed).isEqualTo(pushed + 1);
      assertThat(stored).as("the first store of the repush: a crash during its copy leaves it failed, not unknown")
          .first().isEqualTo("next " + (repushed + 1) + ", version " + repushed + " building");
    }
  }

  @Test
  void shouldKeepServingTheVersionBeforeAPushWhoseSwitchCouldNotBeStored() throws Exception {
    long now = System.currentTimeMillis();
    AtomicInteger failIn = new AtomicInteger(-1);
    Runnable persist = () -> { // the catalog store: fails on the call failIn counts down to
      if (failIn.get() >= 0 && failIn.getAndDecrement() == 0) {
        throw new LogException("cannot write the version catalog: No space left on device");
      }
    };
    TableSpec users = spec(null).tables().get("users");
    try (FileLog log = FileLog.open(dir.resolve("log"));
        TableRuntime t = TableRuntime.open(users, users.fields().size(), log, dir.resolve("users"), persist, null, 2)) {
      long v1 = t.push(lines(row("a", "one", now)), PushOptions.defaults("1.jsonl")).version();
      failIn.set(1); // the next push stores the catalog when it starts building, then at its swap

      PushReport r = t.push(lines(row("a", "two", now)), PushOptions.defaults("2.jsonl"));

      assertThat(r.state()).isEqualTo("failed");
      assertThat(r.failure()).isEqualTo("could not record version " + r.version() + " as current, so it does not "
          + "serve: cannot write the version catalog: No space left on device");
      // reads stay on the version the stored catalog names, which a restart serves too
      TableRow a = CompletableFuture.supplyAsync(() -> t.get("a")).get(10, TimeUnit.SECONDS);
      assertThat(a.asOf().version()).isEqualTo(v1);
      assertThat(a.values()).containsEntry("tier", "one");
      assertThat(t.versions()).filteredOn(v -> v.id() == r.version()).singleElement()
          .extracting(VersionInfo::state).isEqualTo(VersionState.FAILED);
      assertThat(t.versions()).filteredOn(v -> v.id() == v1).singleElement()
          .extracting(VersionInfo::state).isEqualTo(VersionState.CURRENT);
    }
  }

  /**
   * The catalog stored for a switch (by the swap, or by any other store while it is pending) lists
   * the versions as the switch leaves them: the new one current, the old one a backup, backups
   * beyond {@code keep} retired. (What is stored; that it is stored before reads switch is
   * {@code TableCatalogNotStoredTest}'s.)
   */
  @Test
  void shouldStoreTheCatalogOfASwitchAsTheSwitchLeavesTheVersions() throws Exception {
    long now = System.currentTimeMillis();
    AtomicReference<TableRuntime> table = new AtomicReference<>();
    List<Map<Long, String>> stored = new ArrayList<>();
    Runnable persist = () -> {
      TableRuntime rt = table.get();
      if (rt != null) {
        Map<Long, String> states = new TreeMap<>();
        for (VersionCatalog.Entry e : rt.catalogEntry().versions()) {
          states.put(e.id(), e.state().label());
        }
        stored.add(states);
      }
    };
    TableSpec users = spec(null).tables().get("users");
    try (FileLog log = FileLog.open(dir.resolve("log"));
        TableRuntime t = TableRuntime.open(users, users.fields().size(), log, dir.resolve("users"), persist, null, 2)) {
      table.set(t);
      for (int i = 0; i < users.keep() + 3; i++) {
        stored.clear();
        long v = t.push(lines(row("a", "tier" + i, now)), PushOptions.defaults(i + ".jsonl")).version();
        // stores: when it starts building, at the swap, with its final report
        assertThat(stored).as("push %d", i).hasSize(3);
        assertThat(stored.get(0)).containsEntry(v, "building");
        assertThat(stored.get(1)).as("the swap's catalog, push %d", i).isEqualTo(stored.get(2))
            .containsEntry(v, "current");
      }
      assertThat(stored.get(2).values()).filteredOn("retired"::equals).isNotEmpty();
    }
  }

  /**
   * Every catalog store while a switch is pending stores it as done: when another thread's store
   * (a view's batch cycle, a checkpoint round) records the switch and then the swap's own store
   * fails, the push is failed in memory but its Base stays on disk, which a restart reading that
   * catalog serves (a review found the Base deleted under a catalog naming it current).
   */
  @Test
  void shouldKeepTheBaseOfAFailedSwitchThatAnotherStoreMayHaveRecorded() throws Exception {
    long now = System.currentTimeMillis();
    AtomicReference<TableRuntime> table = new AtomicReference<>();
    AtomicReference<Map<Long, String>> onDisk = new AtomicReference<>();
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger fullFrom = new AtomicInteger(Integer.MAX_VALUE);
    Runnable persist = () -> {
      TableRuntime rt = table.get();
      if (rt == null) {
        return;
      }
      Map<Long, String> states = new TreeMap<>();
      for (VersionCatalog.Entry e : rt.catalogEntry().versions()) {
        states.put(e.id(), e.state().label());
      }
      int n = calls.incrementAndGet();
      if (n == fullFrom.get()) {
        onDisk.set(states); // a concurrent store wrote this just before the disk filled up
      }
      if (n >= fullFrom.get()) {
        throw new LogException("cannot write the version catalog: No space left on device");
      }
      onDisk.set(states);
    };
    TableSpec users = spec(null).tables().get("users");
    try (FileLog log = FileLog.open(dir.resolve("log"));
        TableRuntime t = TableRuntime.open(users, users.fields().size(), log, dir.resolve("users"), persist, null, 2)) {
      table.set(t);
      t.push(lines(row("a", "one", now)), PushOptions.defaults("1.jsonl"));
      fullFrom.set(calls.get() + 2); // the push's building record is stored; its switch, by another store only

      PushReport r = t.push(lines(row("a", "two", now)), PushOptions.defaults("2.jsonl"));

      assertThat(r.state()).isEqualTo("failed");
      assertThat(onDisk.get()).containsEntry(r.version(), "current");
      assertThat(dir.resolve("users").resolve("v" + r.version() + ".base")).as("the Base the stored catalog names")
          .exists();
      assertThat(t.get("a").values()).as("memory serves the version before").containsEntry("tier", "one");
    }
  }

  @Test
  void shouldReportAnAsynchronousPushUntilItIsCurrent() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      PushReport started = t.push(lines(row("a", "gold", now), row("b", "gold", now)),
          PushOptions.defaults("a.jsonl").waitForSwap(false));
      assertThat(started.state()).isIn("replaying", "done");
      PushReport r = started;
      for (int i = 0; i < 10_000 && !r.state().equals("done"); i++) {
        Thread.sleep(1);
        r = t.push(started.pushId());
      }
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.distinctKeys()).isEqualTo(2);
      assertThat(t.get("a").asOf().pushId()).isEqualTo(started.pushId());
      assertThatThrownBy(() -> t.push("nope")).hasMessageContaining("nope");
    }
  }

  @Test
  void shouldLeaveOnlyTheKeptVersionsFilesAfterPushesAndARestart() throws Exception {
    long now = System.currentTimeMillis();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      for (int i = 0; i < 4; i++) {
        t.push(lines(row("a", "v" + i, now)), PushOptions.defaults(i + ".jsonl"));
      }
      t.push(lines("{\"id\": 1}"), PushOptions.defaults("bad.jsonl")); // fails: no file left
    }
    try (Braid braid = Braid.open(dir, spec(null)); Stream<Path> files = Files.list(dir.resolve("tables/users"))) {
      long kept = braid.table("users").versions().stream()
          .filter(v -> v.state() == VersionState.CURRENT || v.state() == VersionState.BACKUP).count();
      long current = braid.table("users").versions().stream().filter(v -> v.state() == VersionState.CURRENT)
          .findFirst().orElseThrow().id();
      assertThat(files.map(f -> f.getFileName().toString()).toList())
          .as("the kept versions' Bases and the current version's Delta checkpoint")
          .hasSize((int) kept + 1).allMatch(f -> f.matches("v\\d+\\.base") || f.equals("v" + current + ".ckpt"));
      assertThat(braid.table("users").get("a").values()).containsEntry("tier", "v3");
    }
  }

  @Test
  void shouldRestoreTheDeltaFromItsCheckpointAndRefuseADamagedOne() throws Exception {
    long now = System.currentTimeMillis();
    Map<String, Map<String, Object>> before = new java.util.HashMap<>();
    try (Braid braid = Braid.open(dir, spec(null))) {
      Table t = braid.table("users");
      t.push(lines(row("a", "gold", now), row("b", "gold", now)), PushOptions.defaults("p.jsonl"));
      List<WriteResult> writes = List.of(t.patch("a", Patch.builder().set("tier", "patched").build(), now + 1),
          t.delete("b", now + 1),
          t.patch("b", Patch.builder().set("tier", "old").build(), now), // older than the delete: ignored
          t.put("c", values("c", "new"), now));
      for (WriteResult w : writes) { // keys may sit on different partitions: wait for each
        assertThat(t.awaitApplied(w, 10_000)).isTrue();
      }
      for (String k : List.of("a", "b", "c")) {
        before.put(k, t.get(k).found() ? t.get(k).values() : null);
      }
    } // close writes the checkpoint
    Path tableDir = dir.resolve("tables/users");
    assertThat(names(tableDir)).anyMatch(f -> f.endsWith(".ckpt"));
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      assertThat(t.restoredFrom()).as("restored, not replayed").contains(".ckpt at");
      for (String k : List.of("a", "b", "c")) {
        assertThat(t.get(k).found() ? t.get(k).values() : null).as(k).isEqualTo(before.get(k));
      }
      // a later write still resolves against the restored stamps
      WriteResult w = t.patch("b", Patch.builder().set("tier", "stale").build(), now);
      assertThat(t.awaitApplied(w, 10_000)).isTrue();
      assertThat(t.get("b").found()).as("older than the restored delete").isFalse();
    }
    Path ckpt;
    try (Stream<Path> s = Files.list(tableDir)) {
      ckpt = s.filter(f -> f.toString().endsWith(".ckpt")).findFirst().orElseThrow();
    }
    byte[] bytes = Files.readAllBytes(ckpt);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(ckpt, bytes);
    try (Braid braid = Braid.open(dir, spec(null))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      assertThat(t.restoredFrom()).contains("refused").contains("checksum");
      for (String k : List.of("a", "b", "c")) {
        assertThat(t.get(k).found() ? t.get(k).values() : null).as(k).isEqualTo(before.get(k));
      }
    }
  }

  static List<String> names(Path d) throws Exception {
    try (Stream<Path> s = Files.list(d)) {
      return s.map(f -> f.getFileName().toString()).sorted().toList();
    }
  }
}
