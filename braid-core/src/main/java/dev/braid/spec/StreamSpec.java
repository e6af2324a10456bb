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
 * @param timeUnit how a number in a {@code timestamp} field is read: {@code ms} (epoch milliseconds,
 *     the default) or {@code s} (epoch seconds, {@code time_unit: s}); ISO-8601 text with an offset
 *     is accepted either way. Event times are kept in epoch milliseconds
 * @param maxOutOfOrder how far behind the latest event time of its partition an event may arrive
 *     and still be on time ({@code max_out_of_order}, default 0): a partition's watermark is its
 *     largest event time so far minus this
 * @param idleAfter a partition that received no event for this long (by the engine's clock) no
 *     longer holds the stream's watermark back ({@code idle_after}, default 1m)
 * @param maxFuture how far after its ingest time an event's time may be ({@code max_future}), or
 *     null for no limit (the default): ingest rejects an event further ahead, so that a mistyped
 *     year cannot move a partition's watermark past every event still to come
 */
public record StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
    List<String> rules, Durability durability, String id, Duration dedupWindow, TimeUnit timeUnit,
    Duration maxOutOfOrder, Duration idleAfter, Duration maxFuture) {

  /** How numbers in timestamp fields are read. */
  public enum TimeUnit {
    MILLISECONDS("ms", 1), SECONDS("s", 1000);

    private final String specName;
    private final long millis;

    TimeUnit(String specName, long millis) {
      this.specName = specName;
      this.millis = millis;
    }

    public String specName() {
      return specName;
    }

    /** Milliseconds per unit. */
    public long millis() {
      return millis;
    }

    /** Parses {@code ms} or {@code s}. */
    public static TimeUnit parse(String text) {
      for (TimeUnit u : values()) {
        if (u.specName.equals(text)) {
          return u;
        }
      }
      throw new IllegalArgumentException("unknown time unit '" + text + "': expected ms (epoch milliseconds) or s "
          + "(epoch seconds)");
    }
  }

  /** The idle timeout when the spec names none. */
  public static final Duration DEFAULT_IDLE_AFTER = Duration.ofMinutes(1);

  /** The dedup window when the spec names none. */
  public static final Duration DEFAULT_DEDUP_WINDOW = Duration.ofHours(24);

  public StreamSpec {
    Objects.requireNonNull(name, "name");
    fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    rules = List.copyOf(rules);
    // null is the default, for every optional setting alike (durability and the dedup window threw a bare NPE)
    durability = durability == null ? Durability.os() : durability;
    dedupWindow = dedupWindow == null ? DEFAULT_DEDUP_WINDOW : dedupWindow;
    timeUnit = timeUnit == null ? TimeUnit.MILLISECONDS : timeUnit;
    maxOutOfOrder = maxOutOfOrder == null ? Duration.ZERO : maxOutOfOrder;
    idleAfter = idleAfter == null ? DEFAULT_IDLE_AFTER : idleAfter;
  }

  /** A stream with millisecond timestamps, in-order watermarks and the default idle timeout. */
  public StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
      List<String> rules, Durability durability, String id, Duration dedupWindow) {
    this(name, partitions, key, time, fields, rules, durability, id, dedupWindow, null, null, null, null);
  }

  /** A stream without an event-id field, with the default dedup window. */
  public StreamSpec(String name, int partitions, String key, String time, Map<String, FieldType> fields,
      List<String> rules, Durability durability) {
    this(name, partitions, key, time, fields, rules, durability, null, DEFAULT_DEDUP_WINDOW);
  }

  /** The binary schema of this stream's events. */
  public EventSchema schema() {
    return new EventSchema(name, fields, key, time, timeUnit.millis());
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
    private TimeUnit timeUnit = TimeUnit.MILLISECONDS;
    private Duration maxOutOfOrder = Duration.ZERO;
    private Duration maxFuture;
    private Duration idleAfter = DEFAULT_IDLE_AFTER;

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

    /**
     * The event-time field; omit (or pass null) for ingest time. Unlike a YAML spec, which refuses a
     * window over a stream without {@code time:} unless it says {@code time: ingest}, a builder that
     * omits this gives windows by arrival time without a word.
     */
    public Builder time(String field) {
      this.time = field;
      return this;
    }

    /** Adds a field; throws if the stream already has one of that name (YAML refuses duplicate keys too). */
    public Builder field(String name, FieldType type) {
      java.util.Objects.requireNonNull(name, () -> "stream '" + this.name + "': a field's name is null");
      java.util.Objects.requireNonNull(type, () -> "stream '" + this.name + "': field '" + name + "' has no type");
      if (fields.putIfAbsent(name, type) != null) {
        throw new IllegalArgumentException("stream '" + this.name + "' already has a field '" + name + "'");
      }
      return this;
    }

    public Builder rule(String celCondition) {
      java.util.Objects.requireNonNull(celCondition, () -> "stream '" + this.name + "': a rule is null");
      rules.add(celCondition);
      return this;
    }

    /** The durability of appends; {@code os} (the page cache) when not set or null. */
    public Builder durability(Durability d) {
      this.durability = d;
      return this;
    }

    /** The event-id field that ingest deduplicates by; null for none. */
    public Builder id(String field) {
      this.id = field;
      return this;
    }

    /**
     * How long ingest remembers event ids and idempotency keys; {@link #DEFAULT_DEDUP_WINDOW} when
     * not set or null.
     */
    public Builder dedupWindow(Duration window) {
      this.dedupWindow = window;
      return this;
    }

    /** How numbers in timestamp fields are read (epoch millis when not set or null). */
    public Builder timeUnit(TimeUnit unit) {
      this.timeUnit = unit;
      return this;
    }

    /** How far out of order events may arrive and still be on time (for the watermark); 0 when not set or null. */
    public Builder maxOutOfOrder(Duration d) {
      this.maxOutOfOrder = d;
      return this;
    }

    /**
     * After how long without events a partition stops holding the stream's watermark back;
     * {@link #DEFAULT_IDLE_AFTER} when not set or null.
     */
    public Builder idleAfter(Duration d) {
      this.idleAfter = d;
      return this;
    }

    /** How far after its ingest time an event's time may be (null: no limit). */
    public Builder maxFuture(Duration d) {
      this.maxFuture = d;
      return this;
    }

    public StreamSpec build() {
      return new StreamSpec(name, partitions, key, time, fields, rules, durability, id, dedupWindow, timeUnit,
          maxOutOfOrder, idleAfter, maxFuture);
    }
  }
}
