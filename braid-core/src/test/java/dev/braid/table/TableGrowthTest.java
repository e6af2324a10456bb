package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table that takes new fields at the end of its list: rows stored before (in a Base, in the
 * real-time log, in a checkpoint) read the new fields as absent, every file of a table that never
 * grew is written as before, and a repush carries rows of the first shape into a Base of the new
 * one. The new fields cross a byte of the rows' presence bitmap (3 fields, then 10), so a row read
 * with the wrong field count reads garbage. The history property ({@link TableHistoryPropertyTest})
 * checks random growth histories against a model; this test names each file format.
 */
class TableGrowthTest {

  @TempDir
  Path dir;

  /** users: id, tier, score, then (grown) f1..f6 (long) and tags (set of strings): 10 fields. */
  static PipelineSpec spec(boolean grown) {
    TableSpec.Builder b = TableSpec.builder("users").partitions(2).key("id").field("id", "string")
        .field("tier", "string").field("score", "long");
    if (grown) {
      for (int i = 1; i <= 6; i++) {
        b.field("f" + i, "long");
      }
      b.field("tags", "set<string>");
    }
    return PipelineSpec.builder().table(b.build()).build();
  }

  private static ByteArrayInputStream lines(String... rows) {
    return new ByteArrayInputStream((String.join("\n", rows) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private static Map<String, Object> row(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  /** The format (version int at byte 8) and, in format 2, the field count (byte 56) of the current Base. */
  private int[] baseHeader(Table t) throws Exception {
    long version = t.get("any").asOf().version();
    ByteBuffer h = ByteBuffer.wrap(Files.readAllBytes(dir.resolve("tables/users/v" + version + ".base")));
    return new int[] {h.getInt(8), h.getInt(56)};
  }

  private static void await(Table t, WriteResult w) throws InterruptedException {
    assertThat(t.awaitApplied(w, 10_000)).isTrue();
  }

  /** What every read of the grown table must answer, from whichever version and restart. */
  private static void assertGrownRows(Table t, String when) {
    assertThat(t.get("u").values()).as(when + ": a pushed row no write touched")
        .isEqualTo(row("id", "u", "tier", "silver", "score", 3L, "tags", Set.of()));
    assertThat(t.get("a").values()).as(when + ": a pushed row patched before the growth")
        .isEqualTo(row("id", "a", "tier", "gold", "score", 11L, "tags", Set.of()));
    assertThat(t.get("d").values()).as(when + ": a row PUT before the growth, patched after")
        .isEqualTo(row("id", "d", "tier", "bronze", "f1", 7L, "tags", Set.of("x")));
    assertThat(t.get("c").found()).as(when + ": deleted before the growth").isFalse();
    assertThat(t.get("e").values()).as(when + ": a row PUT after the growth")
        .isEqualTo(row("id", "e", "tier", "gold", "f6", 66L, "tags", Set.of("y", "z")));
  }

  @Test
  void shouldReadRowsStoredBeforeTheTableGrewAndStoreTheNewFields() throws Exception {
    try (Braid braid = Braid.open(dir, spec(false))) {
      Table t = braid.table("users");
      assertThat(t.push(lines("{\"id\":\"u\",\"tier\":\"silver\",\"score\":3}", "{\"id\":\"a\",\"tier\":\"gold\"}",
          "{\"id\":\"c\",\"tier\":\"gold\"}"), PushOptions.defaults("u.jsonl")).state()).isEqualTo("done");
      t.patch("a", Patch.builder().set("score", 11L).build(), null);
      t.put("d", row("id", "d", "tier", "bronze"), null);
      await(t, t.delete("c", null));
      assertThat(baseHeader(t)[0]).as("a table that never grew writes Bases of format 1").isEqualTo(1);
    } // the close writes a checkpoint of 3 fields
    assertThat(Files.readString(dir.resolve("schemas.json"))).doesNotContain("first_fields").contains(
        "\"format\" : 1");

    try (Braid braid = Braid.open(dir, spec(true))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      assertThat(t.restoredFrom()).as("a checkpoint of fewer fields cannot say which writes a new field lost to")
          .contains("refused", "its rows have 3 fields and the table has 10 now", "replayed from the cut");
      assertThat(t.get("u").values()).as("a Base row of format 1, read with 10 fields")
          .isEqualTo(row("id", "u", "tier", "silver", "score", 3L, "tags", Set.of()));
      await(t, t.patch("d", Patch.builder().set("f1", 7L).add("tags", "x").build(), null));
      await(t, t.put("e", row("id", "e", "tier", "gold", "f6", 66L, "tags", List.of("y", "z")), null));
      assertGrownRows(t, "after the growth");

      // a repush copies the Base rows of 3 fields into a Base of 10
      PushReport r = t.repush(true);
      assertThat(r.state()).as(r.toString()).isEqualTo("done");
      assertThat(baseHeader(t)).as("a grown table writes Bases of format 2 with their field count")
          .containsExactly(2, 10);
      assertGrownRows(t, "after a repush");
    }
    assertThat(Files.readString(dir.resolve("schemas.json"))).contains("\"first_fields\" : 3", "\"format\" : 2");

    try (Braid braid = Braid.open(dir, spec(true))) {
      TableRuntime t = (TableRuntime) braid.table("users");
      assertThat(t.restoredFrom()).as("a checkpoint of the grown table").doesNotContain("refused")
          .startsWith("v");
      assertGrownRows(t, "after a restart");
      // a full push of the grown table, then a restart that replays from its cut
      assertThat(t.push(lines("{\"id\":\"n\",\"tier\":\"new\",\"f5\":5,\"tags\":[\"q\"]}"),
          PushOptions.defaults("n.jsonl")).state()).isEqualTo("done");
      assertThat(baseHeader(t)).containsExactly(2, 10);
    }
    Files.list(dir.resolve("tables/users")).filter(f -> f.toString().endsWith(".ckpt")).forEach(f -> f.toFile()
        .delete());
    try (Braid braid = Braid.open(dir, spec(true))) {
      Table t = braid.table("users");
      assertThat(t.get("n").values()).isEqualTo(row("id", "n", "tier", "new", "f5", 5L, "tags", Set.of("q")));
      assertThat(t.get("u").found()).as("the full push replaced every row").isFalse();
    }
    assertThatThrownBy(() -> Braid.open(dir, spec(false)).close()).as("fields cannot be taken away")
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("table 'users': field 'f1' (long) is "
            + "missing from the spec");
  }

  /**
   * A schemas.json deleted and recorded afresh from the grown spec would read every stored row with
   * 10 fields instead of 3: the open refuses it, naming the stored write or Base row it checked,
   * and records nothing, so the spec the rows were written with still opens.
   */
  @Test
  void shouldRefuseRecordedFieldsThatDoNotDescribeTheStoredRows() throws Exception {
    try (Braid braid = Braid.open(dir, spec(false))) {
      Table t = braid.table("users");
      assertThat(t.push(lines("{\"id\":\"u\",\"tier\":\"silver\",\"score\":3}"), PushOptions.defaults("u.jsonl"))
          .state()).isEqualTo("done");
      // d's partition begins and ends with a delete, which any field count decodes
      t.delete("d", 1L);
      t.put("d", row("id", "d", "tier", "bronze"), 2L);
      await(t, t.delete("d", 0L)); // older than the put: the row stays
    }
    Files.delete(dir.resolve("schemas.json"));
    assertThatThrownBy(() -> Braid.open(dir, spec(true)).close()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("table 'users': the write stored at partition")
        .hasMessageContaining(", offset 1 does not have the layout of the fields it would be read with, [id, tier, "
            + "score, f1");
    assertThat(dir.resolve("schemas.json")).as("a refused open records nothing").doesNotExist();

    try (Braid braid = Braid.open(dir, spec(false))) {
      assertThat(braid.table("users").get("d").values()).isEqualTo(row("id", "d", "tier", "bronze"));
    }

    // with no real-time write (only a delete, which any fields decode): the Base's first row is checked
    Path other = dir.resolve("other");
    try (Braid braid = Braid.open(other, spec(false))) {
      Table t = braid.table("users");
      assertThat(t.push(lines("{\"id\":\"u\",\"tier\":\"silver\",\"score\":3}"), PushOptions.defaults("u.jsonl"))
          .state()).isEqualTo("done");
      await(t, t.delete("gone", null));
    }
    Files.delete(other.resolve("schemas.json"));
    assertThatThrownBy(() -> Braid.open(other, spec(true)).close()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("table 'users': a row of " + other.resolve("tables/users"))
        .hasMessageContaining("does not have the layout of the fields it would be read with");
    try (Braid braid = Braid.open(other, spec(false))) {
      assertThat(braid.table("users").get("u").values()).isEqualTo(row("id", "u", "tier", "silver", "score", 3L));
    }
  }

  /**
   * Writes past those an open checks are decoded as exactly by the follower, and a backup's Base is
   * checked when it is activated: either refuses with the same words instead of misreading rows.
   */
  @Test
  void shouldRefuseRowsThatDoNotFitTheRecordedFieldsWhereverTheyAreRead() throws Exception {
    PipelineSpec one = PipelineSpec.builder().table(TableSpec.builder("users").partitions(1).key("id")
        .field("id", "string").field("tier", "string").field("score", "long").build()).build();
    try (Braid braid = Braid.open(dir, one)) { // no push: every row comes from the log
      Table t = braid.table("users");
      for (int i = 0; i < 1_000; i++) { // the writes an open checks, all deletes
        t.delete("gone", (long) i);
      }
      await(t, t.put("d", row("id", "d", "tier", "bronze"), 5_000L));
    }
    PipelineSpec grown = PipelineSpec.builder().table(TableSpec.builder("users").partitions(1).key("id")
        .field("id", "string").field("tier", "string").field("score", "long").field("f1", "long").field("f2", "long")
        .field("f3", "long").field("f4", "long").field("f5", "long").field("f6", "long").build()).build();
    try (Braid braid = Braid.open(dir, grown)) { // grown for real: the last write has 9 fields, and says so
      Table t = braid.table("users");
      await(t, t.put("e", row("id", "e", "f6", 6L), 5_001L));
      assertThat(t.get("d").values()).isEqualTo(row("id", "d", "tier", "bronze"));
    }
    Files.delete(dir.resolve("schemas.json")); // recorded afresh from the grown spec: first fields 9, not 3
    Files.list(dir.resolve("tables/users")).filter(f -> f.toString().endsWith(".ckpt")).forEach(f -> f.toFile()
        .delete());
    assertThatThrownBy(() -> Braid.open(dir, grown).close()).as("the follower replays the put at offset 1000")
        .hasMessageContaining("table 'users': the write stored at partition 0, offset 1000 does not have the layout "
            + "of the fields it would be read with");

    // only the pushes: the open succeeds (the current Base says its count), activating the backup does not
    Path other = dir.resolve("other");
    long backup;
    try (Braid braid = Braid.open(other, one)) {
      Table t = braid.table("users");
      assertThat(t.push(lines("{\"id\":\"u\",\"tier\":\"silver\",\"score\":3}"), PushOptions.defaults("u.jsonl"))
          .state()).isEqualTo("done");
      backup = t.get("u").asOf().version();
    }
    try (Braid braid = Braid.open(other, grown)) {
      assertThat(braid.table("users").push(lines("{\"id\":\"n\",\"tier\":\"new\",\"f6\":6}"),
          PushOptions.defaults("n.jsonl")).state()).isEqualTo("done");
    }
    Files.delete(other.resolve("schemas.json"));
    try (Braid braid = Braid.open(other, grown)) {
      Table t = braid.table("users");
      assertThat(t.get("n").values()).isEqualTo(row("id", "n", "tier", "new", "f6", 6L));
      assertThatThrownBy(() -> t.activate(backup)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("version " + backup + " of table 'users' cannot be activated: table 'users': a row of ")
          .hasMessageContaining("does not have the layout of the fields it would be read with");
      assertThat(t.get("n").found()).as("the current version still serves").isTrue();
    }
  }
}
