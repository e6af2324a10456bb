package dev.braid.event;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The typed fields of one stream's events, in a fixed order that the binary encoding follows (see
 * {@link EventDescriptor}), plus which field is the key and which carries the event time. Fields
 * added to a stream after events were stored come last; {@link #firstFields()} says how many the
 * stream had first (the field count of its {@link EventDescriptor#VERSION} events).
 */
public final class EventSchema {

  /** One field: its position in the encoding, name and type. */
  public record Field(int index, String name, FieldType type) {}

  private final String stream;
  private final List<Field> fields;
  private final Map<String, Field> byName;
  private final Field key;
  private final Field time;
  private final long timeUnitMillis;
  private final int firstFields;

  /**
   * @param fields field names to types, in encoding order
   * @param keyField the field whose value is the event's key (its partition is chosen from it)
   * @param timeField the event-time field, or null when events are stamped with their ingest time
   */
  public EventSchema(String stream, Map<String, FieldType> fields, String keyField, String timeField) {
    this(stream, fields, keyField, timeField, 1);
  }

  /**
   * @param timeUnitMillis milliseconds per unit of a number in a timestamp field (1 for epoch
   *     millis, 1000 for epoch seconds); also applies to a {@code long} time field's event time
   */
  public EventSchema(String stream, Map<String, FieldType> fields, String keyField, String timeField,
      long timeUnitMillis) {
    this(stream, fields, keyField, timeField, timeUnitMillis, fields.size());
  }

  /**
   * @param firstFields how many fields (the first ones) the stream had when it stored its first
   *     events: events of {@link EventDescriptor#VERSION} have that many; the fields after them were
   *     added later and are null in those events. {@code fields.size()} for a stream whose fields
   *     never grew
   */
  public EventSchema(String stream, Map<String, FieldType> fields, String keyField, String timeField,
      long timeUnitMillis, int firstFields) {
    if (timeUnitMillis < 1) {
      throw new IllegalArgumentException("time unit must be at least 1 ms, got " + timeUnitMillis);
    }
    this.timeUnitMillis = timeUnitMillis;
    this.stream = Objects.requireNonNull(stream, "stream");
    if (fields.isEmpty()) {
      throw new IllegalArgumentException("stream '" + stream + "' needs at least one field");
    }
    if (fields.size() > EventDescriptor.MAX_FIELDS) {
      throw new IllegalArgumentException("stream '" + stream + "' has " + fields.size() + " fields; at most "
          + EventDescriptor.MAX_FIELDS);
    }
    if (firstFields < 1 || firstFields > fields.size()) {
      throw new IllegalArgumentException("stream '" + stream + "': first field count " + firstFields + " is not in 1.."
          + fields.size());
    }
    this.firstFields = firstFields;
    List<Field> list = new ArrayList<>();
    Map<String, Field> map = new HashMap<>();
    for (Map.Entry<String, FieldType> e : fields.entrySet()) {
      Field f = new Field(list.size(), e.getKey(), Objects.requireNonNull(e.getValue(), "type of " + e.getKey()));
      list.add(f);
      map.put(f.name(), f);
    }
    this.fields = Collections.unmodifiableList(list);
    this.byName = map;
    this.key = map.get(keyField);
    if (key == null) {
      throw new IllegalArgumentException("key field '" + keyField + "' is not a field of stream '" + stream + "'");
    }
    if (timeField == null) {
      this.time = null;
    } else {
      this.time = map.get(timeField);
      if (time == null) {
        throw new IllegalArgumentException("time field '" + timeField + "' is not a field of stream '" + stream + "'");
      }
      if (time.type() != FieldType.TIMESTAMP && time.type() != FieldType.LONG) {
        throw new IllegalArgumentException("time field '" + timeField + "' must be a timestamp or long, not "
            + time.type().specName());
      }
    }
  }

  public String stream() {
    return stream;
  }

  public List<Field> fields() {
    return fields;
  }

  public int size() {
    return fields.size();
  }

  /**
   * How many fields the stream had when it stored its first events ({@link EventDescriptor#VERSION}
   * events have that many); {@link #size()} unless fields were added since.
   */
  public int firstFields() {
    return firstFields;
  }

  /** Whether fields were added after the stream's first events: new events then carry their field count. */
  public boolean grown() {
    return firstFields != fields.size();
  }

  /** This schema for a stream that had its first {@code n} fields when it stored its first events. */
  public EventSchema withFirstFields(int n) {
    return n == firstFields ? this : new EventSchema(stream, types(), key.name(), time == null ? null : time.name(),
        timeUnitMillis, n);
  }

  public Field field(int index) {
    return fields.get(index);
  }

  /** The field named {@code name}, or null. */
  public Field find(String name) {
    return byName.get(name);
  }

  /** The field named {@code name}; throws with the list of fields when there is none. */
  public Field require(String name) {
    Field f = byName.get(name);
    if (f == null) {
      throw new IllegalArgumentException(String.format("stream '%s' has no field '%s' (fields: %s)", stream, name,
          String.join(", ", byName.keySet().stream().sorted().toList())));
    }
    return f;
  }

  public Field key() {
    return key;
  }

  /** Milliseconds per unit of a number in a timestamp field (1: epoch millis, 1000: epoch seconds). */
  public long timeUnitMillis() {
    return timeUnitMillis;
  }

  /** The event-time field, or null when the stream uses ingest time. */
  public Field time() {
    return time;
  }

  /** Field names to types in encoding order. */
  public Map<String, FieldType> types() {
    Map<String, FieldType> m = new LinkedHashMap<>();
    fields.forEach(f -> m.put(f.name(), f.type()));
    return m;
  }
}
