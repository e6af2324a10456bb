package dev.braid.event;

import static dev.braid.event.EventEncoderTest.fields;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Field types as written in specs, and the schema that fixes the fields' order, key and time. */
class EventSchemaTest {

  @ParameterizedTest
  @CsvSource({"string, STRING", "long, LONG", "int, LONG", "integer, LONG", "double, DOUBLE", "float, DOUBLE",
      "boolean, BOOLEAN", "bool, BOOLEAN", "timestamp, TIMESTAMP", "' Double ', DOUBLE", "LONG, LONG"})
  void shouldParseSpecTypeNames(String name, FieldType type) {
    assertThat(FieldType.parse(name)).isEqualTo(type);
  }

  @Test
  void shouldRejectAnUnknownTypeListingTheKnownOnes() {
    assertThatThrownBy(() -> FieldType.parse("map<string,double>"))
        .hasMessage("unknown type 'map<string,double>': expected string, long, double, boolean or timestamp");
  }

  @Test
  void shouldKnowWhichTypesAreNumeric() {
    assertThat(FieldType.LONG.isNumeric()).isTrue();
    assertThat(FieldType.DOUBLE.isNumeric()).isTrue();
    assertThat(FieldType.TIMESTAMP.isNumeric()).isTrue();
    assertThat(FieldType.STRING.isNumeric()).isFalse();
    assertThat(FieldType.BOOLEAN.isNumeric()).isFalse();
    assertThat(FieldType.STRING.isFixedWidth()).isFalse();
    assertThat(FieldType.TIMESTAMP.specName()).isEqualTo("timestamp");
  }

  @Test
  void shouldNumberFieldsInDeclarationOrder() {
    EventSchema s = new EventSchema("tx", fields("b", FieldType.STRING, "a", FieldType.LONG, "t", FieldType.TIMESTAMP),
        "a", "t");
    assertThat(s.fields()).extracting(EventSchema.Field::name).containsExactly("b", "a", "t");
    assertThat(s.find("a")).isEqualTo(new EventSchema.Field(1, "a", FieldType.LONG));
    assertThat(s.find("nope")).isNull();
    assertThat(s.key().index()).isEqualTo(1);
    assertThat(s.time().index()).isEqualTo(2);
    assertThat(s.types().keySet()).containsExactly("b", "a", "t");
    assertThatThrownBy(() -> s.require("nope")).hasMessage("stream 'tx' has no field 'nope' (fields: a, b, t)");
  }

  @Test
  void shouldRefuseABadKeyOrTimeField() {
    Map<String, FieldType> f = fields("k", FieldType.STRING, "d", FieldType.DOUBLE);
    assertThatThrownBy(() -> new EventSchema("s", f, "x", null))
        .hasMessage("key field 'x' is not a field of stream 's'");
    assertThatThrownBy(() -> new EventSchema("s", f, "k", "t"))
        .hasMessage("time field 't' is not a field of stream 's'");
    assertThatThrownBy(() -> new EventSchema("s", f, "k", "d"))
        .hasMessage("time field 'd' must be a timestamp or long, not double");
    assertThatThrownBy(() -> new EventSchema("s", Map.of(), "k", null))
        .hasMessage("stream 's' needs at least one field");
  }

  @Test
  void shouldRefuseMoreThan1024Fields() {
    Map<String, FieldType> many = new LinkedHashMap<>();
    for (int i = 0; i < 1025; i++) {
      many.put("f" + i, FieldType.LONG);
    }
    assertThatThrownBy(() -> new EventSchema("s", many, "f0", null)).hasMessageContaining("1025 fields; at most 1024");
    many.remove("f1024");
    assertThat(new EventSchema("s", many, "f0", null).size()).isEqualTo(1024);
  }
}
