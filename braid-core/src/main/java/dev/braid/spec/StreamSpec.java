package dev.braid.spec;

import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A stream: a named, schema'd, partitioned log of events.
 *
 * @param time the event-time field, or null for ingest time ({@code time: ingest})
 * @param rules row-level checks (CEL, boolean); an event failing one is rejected at ingest
 */
public record StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
    List<String> rules, Durability durability) {

  public StreamSpec {
    Objects.requireNonNull(name, "name");
    fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    rules = List.copyOf(rules);
    Objects.requireNonNull(durability, "durability");
  }

  /** The binary schema of this stream's events. */
  public EventSchema schema() {
    return new EventSchema(name, fields, key, time);
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Builds a stream spec in Java; {@link PipelineSpec#validate()} checks it. */
  public static final class Builder {
    private final String name;
    private int partitions = 4;
    private String key;
    private String time;
    private final Map<String, FieldType> fields = new LinkedHashMap<>();
    private final java.util.ArrayList<String> rules = new java.util.ArrayList<>();
    private Durability durability = Durability.os();

    Builder(String name) {
      this.name = name;
    }

    public Builder partitions(int n) {
      this.partitions = n;
      return this;
    }

    public Builder key(String field) {
      this.key = field;
      return this;
    }

    /** The event-time field; omit (or pass null) for ingest time. */
    public Builder time(String field) {
      this.time = field;
      return this;
    }

    /** Adds a field; throws if the stream already has one of that name (YAML refuses duplicate keys too). */
    public Builder field(String name, FieldType type) {
      if (fields.putIfAbsent(name, type) != null) {
        throw new IllegalArgumentException("stream '" + this.name + "' already has a field '" + name + "'");
      }
      return this;
    }

    public Builder rule(String celCondition) {
      rules.add(celCondition);
      return this;
    }

    public Builder durability(Durability d) {
      this.durability = d;
      return this;
    }

    public StreamSpec build() {
      return new StreamSpec(name, partitions, key, time, fields, rules, durability);
    }
  }
}
