package dev.braid.spec;

import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A stream: a named, schema'd, partitioned log of events.
 *
 * @param time the event-time field, or null for ingest time ({@code time: ingest})
 * @param rules row-level checks (CEL, boolean); an event failing one is rejected at ingest
 * @param id the event-id field ({@code id: txn_id}, a string or long field), or null: ingest
 *     appends an event whose id it has already appended within {@code dedupWindow} only once, and
 *     acknowledges the re-sent one with the original position; without it, a request's
 *     idempotency key gives its events their ids
 * @param dedupWindow how long ingest remembers ids ({@code dedup_window}, default 24h)
 */
public record StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
    List<String> rules, Durability durability, String id, Duration dedupWindow) {

  /** The dedup window when the spec names none. */
  public static final Duration DEFAULT_DEDUP_WINDOW = Duration.ofHours(24);

  public StreamSpec {
    Objects.requireNonNull(name, "name");
    fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    rules = List.copyOf(rules);
    Objects.requireNonNull(durability, "durability");
    Objects.requireNonNull(dedupWindow, "dedupWindow");
  }

  /** A stream without an event-id field, with the default dedup window. */
  public StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
      List<String> rules, Durability durability) {
    this(name, partitions, key, time, fields, rules, durability, null, DEFAULT_DEDUP_WINDOW);
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
    private String id;
    private Duration dedupWindow = DEFAULT_DEDUP_WINDOW;

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

    /** The event-id field that ingest deduplicates by; null for none. */
    public Builder id(String field) {
      this.id = field;
      return this;
    }

    /** How long ingest remembers event ids and idempotency keys. */
    public Builder dedupWindow(Duration window) {
      this.dedupWindow = window;
      return this;
    }

    public StreamSpec build() {
      return new StreamSpec(name, partitions, key, time, fields, rules, durability, id, dedupWindow);
    }
  }
}
