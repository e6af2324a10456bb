package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.spec.ViewSpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The changes feed's records and result hashes, written by {@link ChangeJson}. */
class ChangeJsonTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static ViewProgram program() {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("k", FieldType.STRING);
    f.put("ts", FieldType.TIMESTAMP);
    f.put("x", FieldType.LONG);
    return new ViewProgram(ViewSpec.builder("v").from("s").groupBy("k").tumbling(Duration.ofMinutes(1))
        .aggregate("n", "count").aggregate("mean", "avg(x)").aggregate("top \"quoted\"", "top_k(k, 2)").build(),
        new EventSchema("s", f, "k", "ts"));
  }

  @Test
  void shouldWriteARecordWhoseValuesHashAsTheirMap() throws Exception {
    ViewProgram p = program();
    ViewProgram.Scratch x = p.scratch();
    long[] longs = new long[p.longWidth];
    Object[] objects = new Object[Math.max(1, p.objectWidth)];
    p.zero(longs, 0, objects, 0);
    ChangeJson json = new ChangeJson();
    long h = json.values(p, longs, objects, x);
    json.finish(true, "käy \"1\"", 60_000, 120_000, false, -1, 3, 125_000);
    JsonNode record = JSON.readTree(Arrays.copyOf(json.array(), json.size()));
    assertThat(record.path("kind").asText()).isEqualTo("close");
    assertThat(record.path("key").asText()).isEqualTo("käy \"1\"");
    assertThat(record.path("start").asLong()).isEqualTo(60_000);
    assertThat(record.path("end").asLong()).isEqualTo(120_000);
    assertThat(record.path("state").asText()).isEqualTo("provisional");
    assertThat(record.path("corrects").asLong()).isEqualTo(-1);
    assertThat(record.path("version").asLong()).isEqualTo(3);
    assertThat(record.path("watermark").asLong()).isEqualTo(125_000);
    @SuppressWarnings("unchecked")
    Map<String, Object> values = JSON.treeToValue(record.path("values"), LinkedHashMap.class);
    assertThat(values).containsOnlyKeys("n", "mean", "top \"quoted\"");
    assertThat(new ChangeJson().hash(values)).as("the hash of the decoded values").isEqualTo(h);

    long other = json.values(p, longs, objects, x); // an abandoned record leaves the next one whole
    json.abandon();
    longs[0] = 5;
    assertThat(json.values(p, longs, objects, x)).isNotEqualTo(other);
    json.finish(false, "k", 0, 60_000, true, 7, 4, 125_000);
    assertThat(JSON.readTree(Arrays.copyOf(json.array(), json.size())).path("values").path("n").asLong())
        .isEqualTo(5);
  }

  /** A value that data binding cannot write fails its record alone; the next one is whole. */
  @Test
  void shouldRecoverFromAValueItCannotWrite() {
    ChangeJson json = new ChangeJson();
    Map<String, Object> bad = new LinkedHashMap<>();
    bad.put("a", 1L);
    bad.put("b", new Object()); // no properties: Jackson refuses it
    assertThatThrownBy(() -> json.hash(bad)).isInstanceOf(RuntimeException.class);
    Map<String, Object> good = new LinkedHashMap<>();
    good.put("a", 1L);
    good.put("b", java.util.List.of(2.5, "s", true));
    assertThat(json.hash(good)).isEqualTo(new ChangeJson().hash(good));
  }
}
