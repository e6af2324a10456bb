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
    assertRefused(spec(b -> b.key("store").field("store", FieldType.STRING).field("qty", FieldType.LONG)
        .field("ts", FieldType.TIMESTAMP).field("note", FieldType.STRING), "string"),
        "stream 'sales': field 'note' (string) is new");
    assertRefused(spec(b -> b.key("store").field("store", FieldType.STRING).field("qty", FieldType.LONG)
        .field("ts", FieldType.TIMESTAMP), "long"), "table 'users': field 'tier' was string and the spec says long");
    assertRefused(spec(b -> b.key("store").field("qty", FieldType.LONG).field("store", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP), "string"),
        "stream 'sales': its fields were in the order [store, qty, ts] and the spec has [qty, store, ts]");
    assertRefused(spec(b -> b.key("qty").field("store", FieldType.STRING).field("qty", FieldType.LONG)
        .field("ts", FieldType.TIMESTAMP), "string"), "stream 'sales': its key field was 'store' and the spec says 'qty'");

    try (Braid b = Braid.open(dir, spec(AS_STORED, "string"))) {
      awaitUnits(b, 7L); // nothing was changed by the refused opens
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
    Files.writeString(dir.resolve(RecordedSchemas.FILE), "{\"format\": 1, \"streams\": {\"sales\": {\"key\": 3}}}");
    assertThatThrownBy(() -> Braid.open(dir, spec(AS_STORED, "string")).close())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(dir.resolve(RecordedSchemas.FILE) + ": 'sales' needs a \"key\" and a \"fields\" array");
  }
}
