package dev.braid.spec;

import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A table (hybrid store): rows by primary key whose versions come from bulk pushes, kept fresh by
 * real-time writes ({@code PUT}, {@code PATCH}, {@code DELETE}) to the table's own log stream
 * {@code <name>.writes}.
 *
 * <pre>{@code
 * tables:
 *   user_profile:
 *     key: user_id
 *     time: updated_at        # optional: a pushed row's last-write time (else the push's time)
 *     ttl: 7d                 # optional: rows whose last write is older are dropped
 *     partitions: 4
 *     keep: 2                 # backup versions kept for rollback
 *     fields: {user_id: string, tier: string, tags: set<string>, limits: 'map<string,double>'}
 * }</pre>
 *
 * @param key the primary key field (a string or long field)
 * @param time a timestamp or long field giving a pushed row its last-write time, or null
 * @param ttl rows whose last write is older than this are dropped, or null for none
 * @param keep how many {@code backup} versions to keep for rollback beside the current one, as a view's
 *     {@code keep} (older ones are retired and their Base files deleted)
 */
public record TableSpec(String name, int partitions, String key, String time, Map<String, TableFieldType> fields,
    Duration ttl, Durability durability, int keep) {

  /** Backups kept when the spec names no {@code keep}. */
  public static final int DEFAULT_KEEP = 2;

  /**
   * The body field of a real-time write (PUT, PATCH, DELETE over HTTP) that gives the write's
   * timestamp, so no table field may have this name.
   */
  public static final String TIMESTAMP_FIELD = "_timestamp";

  /** The suffix of a table's real-time log stream: {@code user_profile.writes}. */
  public static final String WRITES_SUFFIX = ".writes";

  public TableSpec {
    Objects.requireNonNull(name, "name");
    fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    Objects.requireNonNull(durability, "durability");
  }

  /** The name of the log stream holding the table's real-time writes. */
  public String writesStream() {
    return name + WRITES_SUFFIX;
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Builds a table spec in Java; {@link PipelineSpec#validate()} checks it. */
  public static final class Builder {
    private final String name;
    private int partitions = 4;
    private String key;
    private String time;
    private final Map<String, TableFieldType> fields = new LinkedHashMap<>();
    private Duration ttl;
    private Durability durability = Durability.os();
    private int keep = DEFAULT_KEEP;

    private Builder(String name) {
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

    public Builder time(String field) {
      this.time = field;
      return this;
    }

    /** Adds a field; {@code type} as in a spec: {@code string}, {@code set<long>}, {@code map<string,double>}. */
    public Builder field(String field, String type) {
      java.util.Objects.requireNonNull(type, () -> "table '" + name + "': field '" + field + "' has no type");
      TableFieldType parsed;
      try {
        parsed = TableFieldType.parse(type);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("table '" + name + "', field '" + field + "': " + e.getMessage(), e);
      }
      return add(field, parsed);
    }

    public Builder field(String field, FieldType type) {
      java.util.Objects.requireNonNull(type, () -> "table '" + name + "': field '" + field + "' has no type");
      return add(field, TableFieldType.scalar(type));
    }

    /** As a stream's builder: a second field of the same name is refused, as YAML refuses a duplicate key. */
    private Builder add(String field, TableFieldType type) {
      java.util.Objects.requireNonNull(field, () -> "table '" + name + "': a field's name is null");
      if (fields.putIfAbsent(field, type) != null) {
        throw new IllegalArgumentException("table '" + name + "' already has a field '" + field + "'");
      }
      return this;
    }

    public Builder ttl(Duration ttl) {
      this.ttl = ttl;
      return this;
    }

    public Builder durability(Durability d) {
      this.durability = d;
      return this;
    }

    public Builder keep(int keep) {
      this.keep = keep;
      return this;
    }

    public TableSpec build() {
      return new TableSpec(name, partitions, key, time, fields, ttl, durability, keep);
    }
  }
}
