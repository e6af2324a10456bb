package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.TableSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A spec whose stream or table fields differ from those the stored events and rows were written
 * with is refused at open, naming each difference; the unchanged spec still opens and reads what
 * was stored.
 */
class RecordedSchemasTest {

  @TempDir
  Path dir;

  private static PipelineSpec spec(UnaryOperator<StreamSpec.Builder> fields, String tableTierType) {
    StreamSpec.Builder sales = StreamSpec.builder("sales").partitions(2).time("ts");
    return PipelineSpec.builder()
        .stream(fields.apply(sales).build())
        .view(ViewSpec.builder("units").from("sales").groupBy("store").aggregate("units", "sum(qty)").build())
        .table(TableSpec.builder("users").partitions(2).key("id").field("id", "string").field("tier", tableTierType)
            .build())
        .build();
  }

  private static final UnaryOperator<StreamSpec.Builder> AS_STORED = b -> b.key("store")
      .field("store", FieldType.STRING).field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP);

  private void store() throws InterruptedException {
    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) {
      b.ingest("sales", List.of(Map.of("store", "s1", "qty", 4L, "ts", 1_700_000_000_000L),
          Map.of("store", "s1", "qty", 3L, "ts", 1_700_000_000_001L)));
      awaitUnits(b, 7L);
    }
  }

  private static void awaitUnits(Braid b, long units) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Long.valueOf(units).equals(b.get("units", "s1").values().get("units"))) {
      assertThat(System.nanoTime()).as("units of s1 reach %d", units).isLessThan(deadline);
      Thread.sleep(5);
    }
  }

  private void assertRefused(PipelineSpec changed, String... differences) {
    assertThatThrownBy(() -> Braid.open(dir, changed).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("start on a new data directory")
        .hasMessageContaining(dir.resolve(RecordedSchemas.FILE).toString())
        .satisfies(e -> assertThat(e.getMessage().lines().filter(l -> l.startsWith("stream ") || l.startsWith("table ")))
            .containsExactly(differences));
  }

  @Test
  void shouldRefuseASpecWhoseFieldsDifferFromTheStoredOnesAndNameEachDifference() throws Exception {
    store();
    assertRefused(spec(b -> b.key("store").field("store", FieldType.STRING).field("qty", FieldType.DOUBLE)
        .field("ts", FieldType.TIMESTAMP), "string"), "stream 'sales': field 'qty' was long and the spec says double");
    assertRefused(spec(b -> b.key("store").field("store", FieldType.STRING).field("note", FieldType.STRING)
        .field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP), "string"),
        "stream 'sales': field 'note' (string) is new, and comes before recorded field 'ts'");
    assertThatThrownBy(() -> Braid.open(dir, spec(b -> b.key("store").field("store", FieldType.STRING)
        .field("note", FieldType.STRING).field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP), "string")).close())
        .hasMessageContaining("A stream or table can take new fields after all of its recorded ones (in the events "
            + "and rows stored before, they read as null, a table's lists, sets and maps as empty): list them last");
    assertRefused(PipelineSpec.builder() // a table's new field before a recorded one
        .stream(AS_STORED.apply(StreamSpec.builder("sales").partitions(2).time("ts")).build())
        .table(TableSpec.builder("users").partitions(2).key("id").field("id", "string").field("since", "timestamp")
            .field("tier", "string").build())
        .build(), "table 'users': field 'since' (timestamp) is new, and comes before recorded field 'tier'");
    assertRefused(spec(b -> b.key("store").field("store", FieldType.STRING).field("qty", FieldType.LONG)
        .field("ts", FieldType.TIMESTAMP), "long"), "table 'users': field 'tier' was string and the spec says long");
    assertRefused(spec(b -> b.key("store").field("qty", FieldType.LONG).field("store", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP), "string"),
        "stream 'sales': its fields were in the order [store, qty, ts] and the spec has [qty, store, ts]");
    assertRefused(spec(b -> b.key("store").field("qty", FieldType.LONG).field("store", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP).field("note", FieldType.STRING), "string"),
        "stream 'sales': field 'note' (string) is new (after the recorded fields, as a new field must be: not what is "
            + "refused)",
        "stream 'sales': its fields were in the order [store, qty, ts] and the spec has [qty, store, ts, note]");
    assertRefused(spec(b -> b.key("qty").field("store", FieldType.STRING).field("qty", FieldType.LONG)
        .field("ts", FieldType.TIMESTAMP), "string"), "stream 'sales': its key field was 'store' and the spec says 'qty'");

    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) {
      awaitUnits(b, 7L); // nothing was changed by the refused opens
    }
  }

  /**
   * Partition counts that differ from the logs' are named with every other difference in one message,
   * a table by its own name (not its internal log of writes), and the open changes nothing.
   */
  @Test
  void shouldNamePartitionChangesOfStreamsAndTablesWithTheOtherDifferences() throws Exception {
    store();
    PipelineSpec changed = PipelineSpec.builder()
        .stream(StreamSpec.builder("sales").partitions(3).time("ts").key("store").field("store", FieldType.STRING)
            .field("qty", FieldType.DOUBLE).field("ts", FieldType.TIMESTAMP).build())
        .table(TableSpec.builder("users").partitions(4).key("id").field("id", "string").field("tier", "string").build())
        .build();
    assertThatThrownBy(() -> Braid.open(dir, changed).close())
        .isInstanceOf(IllegalArgumentException.class)
        .satisfies(e -> assertThat(e.getMessage().lines().filter(l -> l.startsWith("stream ") || l.startsWith("table ")))
            .containsExactly("stream 'sales' has 2 partitions in its log, but the spec gives 3: a stream's partitions "
                + "cannot change (the partition of a key depends on them); put back `partitions: 2`",
                "table 'users' has 2 partitions in its log of writes, but the spec gives 4: a table's partitions cannot "
                    + "change (the partition of a key depends on them); put back `partitions: 2`",
                "stream 'sales': field 'qty' was long and the spec says double"))
        .hasMessageNotContaining("users.writes");
    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) {
      awaitUnits(b, 7L); // nothing was changed by the refused open
    }
  }

  /** The stored spec with fields added after the stored ones, and a view over one of them. */
  private static PipelineSpec grown(String... more) {
    StreamSpec.Builder sales = AS_STORED.apply(StreamSpec.builder("sales").partitions(2).time("ts"))
        .field("discount", FieldType.DOUBLE).field("note", FieldType.STRING);
    for (String f : more) {
      sales.field(f, FieldType.LONG);
    }
    return PipelineSpec.builder()
        .stream(sales.build())
        .view(ViewSpec.builder("units").from("sales").groupBy("store").aggregate("units", "sum(qty)").build())
        .view(ViewSpec.builder("discounts").from("sales").groupBy("store").aggregate("total", "sum(discount)")
            .aggregate("noted", "count(note)").aggregate("n", "count").build())
        .table(TableSpec.builder("users").partitions(2).key("id").field("id", "string").field("tier", "string").build())
        .build();
  }

  private static Map<String, Object> discounts(Braid b) {
    return b.get("discounts", "s1").values();
  }

  @Test
  void shouldTakeFieldsAddedAfterTheStoredOnesAndReadThemAsNullInEarlierEvents() throws Exception {
    store(); // two events with store, qty, ts
    try (Braid b = Braid.open(dir, grown())) {
      awaitUnits(b, 7L);
      b.ingest("sales", List.of(Map.of("store", "s1", "qty", 5L, "ts", 1_700_000_000_002L, "discount", 1.5,
          "note", "first with a note"), Map.of("store", "s1", "qty", 1L, "ts", 1_700_000_000_003L, "discount", 0.25)));
      awaitUnits(b, 13L);
      assertThat(discounts(b)).as("speed layer over events of both shapes")
          .isEqualTo(Map.of("total", 1.75, "noted", 1L, "n", 4L));
      b.runBatch("discounts");
      b.runBatch("units");
      assertThat(discounts(b)).as("a Base recomputed over events of both shapes")
          .isEqualTo(Map.of("total", 1.75, "noted", 1L, "n", 4L));
      assertThat(b.get("units", "s1").values().get("units")).isEqualTo(13L);
    }
    String recorded = Files.readString(dir.resolve(RecordedSchemas.FILE));
    assertThat(recorded).contains("\"discount\"", "\"note\"", "\"first_fields\" : 3")
        .as("a format that builds from before streams could grow refuse").contains("\"format\" : 2");

    try (Braid b = Braid.open(dir, grown("extra"))) { // a second growth: the first count stays
      awaitUnits(b, 13L);
      b.ingest("sales", List.of(Map.of("store", "s1", "qty", 2L, "ts", 1_700_000_000_004L, "extra", 9L)));
      awaitUnits(b, 15L);
      assertThat(discounts(b)).isEqualTo(Map.of("total", 1.75, "noted", 1L, "n", 5L));
    }
    assertThat(Files.readString(dir.resolve(RecordedSchemas.FILE))).contains("\"extra\"", "\"first_fields\" : 3");
    try (Braid b = Braid.open(dir, grown("extra"))) { // a restart reads the same
      awaitUnits(b, 15L);
      assertThat(discounts(b)).isEqualTo(Map.of("total", 1.75, "noted", 1L, "n", 5L));
      b.runBatch("discounts");
      assertThat(discounts(b)).isEqualTo(Map.of("total", 1.75, "noted", 1L, "n", 5L));
    }
    assertRefused(spec(AS_STORED, "string"), "stream 'sales': field 'discount' (double) is missing from the spec",
        "stream 'sales': field 'note' (string) is missing from the spec",
        "stream 'sales': field 'extra' (long) is missing from the spec");
  }

  @Test
  void shouldAcknowledgeARetryOfAnEventStoredBeforeTheStreamGrewAsADuplicate() throws Exception {
    List<Map<String, Object>> request = List.of(Map.of("store", "s1", "qty", 4L, "ts", 1_700_000_000_000L),
        Map.of("store", "s2", "qty", 3L, "ts", 1_700_000_000_001L));
    dev.braid.IngestResult first;
    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) {
      first = b.ingest("sales", request, "request-1");
      assertThat(first.accepted()).isEqualTo(2);
      awaitUnits(b, 4L);
    }
    try (Braid b = Braid.open(dir, grown())) { // the retry comes after a restart with new fields
      dev.braid.IngestResult retry = b.ingest("sales", request, "request-1");
      assertThat(retry.rejections()).isEmpty();
      assertThat(retry.duplicates()).isEqualTo(2);
      assertThat(retry.positions()).isEqualTo(first.positions());
      Map<String, Object> changed = new java.util.HashMap<>(request.get(1));
      changed.put("discount", 1.0); // not the event stored: the key was used for another request
      assertThatThrownBy(() -> b.ingest("sales", List.of(request.get(0), changed), "request-1"))
          .isInstanceOf(dev.braid.IdempotencyConflictException.class).hasMessageContaining("event 1 differs");
      awaitUnits(b, 4L);
    }
  }

  @Test
  void shouldRecordNewFieldsOnlyOnceTheOpenSucceeded() throws Exception {
    store();
    PipelineSpec grownWithOtherPartitions = PipelineSpec.builder()
        .stream(AS_STORED.apply(StreamSpec.builder("sales").partitions(3).time("ts")).field("discount", FieldType.DOUBLE)
            .build())
        .build();
    String before = Files.readString(dir.resolve(RecordedSchemas.FILE));
    assertThatThrownBy(() -> Braid.open(dir, grownWithOtherPartitions).close()).hasMessageContaining("partitions");
    assertThat(Files.readString(dir.resolve(RecordedSchemas.FILE))).as("nothing recorded").isEqualTo(before);
    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) { // the previous spec still opens
      awaitUnits(b, 7L);
    }
  }

  @Test
  void shouldRefuseASchemasFileThatDoesNotDescribeTheStoredEvents() throws Exception {
    store();
    try (Braid b = Braid.open(dir, grown())) {
      b.ingest("sales", List.of(Map.of("store", "s1", "qty", 5L, "ts", 1_700_000_000_002L, "discount", 1.5)));
      awaitUnits(b, 12L);
    }
    Path file = dir.resolve(RecordedSchemas.FILE);
    String recorded = Files.readString(file);

    // first_fields lost by an edit: the first events would be read with all five fields
    Files.writeString(file, recorded.replaceAll(",\\s*\"first_fields\" : 3", ""));
    assertThatThrownBy(() -> Braid.open(dir, grown()).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("stream 'sales': the event stored at partition ")
        .hasMessageContaining("offset 0 does not have the layout of the fields it would be read with, [store, qty, "
            + "ts, discount, note] (as recorded in " + file + ", or taken from the spec where the file does not name "
            + "the stream yet): its ")
        .hasMessageContaining("restore it from a backup");

    // the file deleted, and recorded afresh from the grown spec: the same refusal, and nothing recorded
    Files.delete(file);
    assertThatThrownBy(() -> Braid.open(dir, grown()).close()).hasMessageContaining("does not have the layout");
    assertThat(file).doesNotExist();

    Files.writeString(file, recorded);
    try (Braid b = Braid.open(dir, grown())) {
      awaitUnits(b, 12L);
      assertThat(discounts(b)).isEqualTo(Map.of("total", 1.5, "noted", 0L, "n", 3L));
    }
  }

  @Test
  void shouldNameAMissingFieldAndEveryOtherDifferenceAtOnce() throws Exception {
    store();
    StreamSpec sales = StreamSpec.builder("sales").partitions(2).time("ts").key("store")
        .field("store", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build();
    PipelineSpec changed = PipelineSpec.builder().stream(sales)
        .table(TableSpec.builder("users").partitions(2).key("id").field("id", "string").field("tier", "double").build())
        .build();
    assertRefused(changed, "stream 'sales': field 'qty' (long) is missing from the spec",
        "table 'users': field 'tier' was string and the spec says double");
  }

  @Test
  void shouldRefuseToOpenOnAnUnreadableSchemasFile() throws Exception {
    store();
    assertThat(Files.readString(dir.resolve(RecordedSchemas.FILE))).as("no stream grew: the format older builds read")
        .contains("\"format\" : 1");
    Files.writeString(dir.resolve(RecordedSchemas.FILE), "{\"format\": 3, \"streams\": {}}");
    assertThatThrownBy(() -> Braid.open(dir, spec(AS_STORED, "string")).close())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(dir.resolve(RecordedSchemas.FILE) + " has format 3, written by a newer Braid build than this one, "
            + "which reads formats 1 and 2: run that build");
    Files.writeString(dir.resolve(RecordedSchemas.FILE), "[]");
    assertThatThrownBy(() -> Braid.open(dir, spec(AS_STORED, "string")).close())
        .hasMessageStartingWith(dir.resolve(RecordedSchemas.FILE) + " is not a Braid schemas file of format 1 or 2; "
            + "restore it from a backup");
    Files.writeString(dir.resolve(RecordedSchemas.FILE), "{\"format\": 1, \"streams\": {\"sales\": {\"key\": 3}}}");
    assertThatThrownBy(() -> Braid.open(dir, spec(AS_STORED, "string")).close())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(dir.resolve(RecordedSchemas.FILE) + ": 'sales' needs a \"key\" and a \"fields\" array");
  }
}
