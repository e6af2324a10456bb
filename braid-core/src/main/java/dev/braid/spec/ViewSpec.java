package dev.braid.spec;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A view: a definition whose result is a map {@code (key, window) -> accumulators}.
 *
 * @param from source stream
 * @param filter CEL condition on events, or null for all events
 * @param groupBy a field of the stream or a CEL expression
 * @param window event-time window, or null for all-time
 * @param aggregates output name to aggregation call, in order, e.g. {@code total -> sum(amount)}
 * @param batchEvery how often the batch layer recomputes the Base (Lambda), or null for on demand only
 * @param mode {@code LAMBDA} (batch + speed layers) or {@code KAPPA} (speed layer only)
 * @param keep how many {@code backup} versions to keep for rollback (older ones are retired and their
 *     files deleted); {@value #DEFAULT_KEEP} when the spec does not say
 * @param retain for a windowed kappa view, how long windows are kept: windows that start before the
 *     horizon, the start of the window that holds (the latest window's end - {@code retain}), are
 *     evicted from the speed layer's state (and no longer read); null keeps every window
 * @param allowedLateness for a windowed view, how long after the watermark passes a window's end
 *     the speed layer still adds events to it ({@code allowed_lateness}; for a session view, the end
 *     of the event's own {@code [t, t + gap)}, even when it falls inside a session still open); later events are not
 *     added by the speed layer but counted, recorded in the stream's late log, and folded in by the
 *     next batch cycle (which reads the whole log). Null (the default) means no bound: the speed
 *     layer adds every event, and no window is ever {@code final}
 */
public record ViewSpec(String name, String from, String filter, String groupBy, WindowSpec window,
    Map<String, String> aggregates, Duration batchEvery, Mode mode, int keep, Duration retain,
    Duration allowedLateness) {

  public enum Mode { LAMBDA, KAPPA }

  /** Backups kept when a view does not set {@code keep}. */
  public static final int DEFAULT_KEEP = 2;

  public ViewSpec {
    Objects.requireNonNull(name, "a view's name is null");
    Objects.requireNonNull(aggregates,
        () -> "view '" + name + "': its aggregates are null (a view needs at least one)");
    aggregates = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(aggregates));
    mode = mode == null ? Mode.LAMBDA : mode;
  }

  /** A view without a lateness bound. */
  public ViewSpec(String name, String from, String filter, String groupBy, WindowSpec window,
      Map<String, String> aggregates, Duration batchEvery, Mode mode, int keep, Duration retain) {
    this(name, from, filter, groupBy, window, aggregates, batchEvery, mode, keep, retain, null);
  }

  /** A view that keeps {@value #DEFAULT_KEEP} backups. */
  public ViewSpec(String name, String from, String filter, String groupBy, WindowSpec window,
      Map<String, String> aggregates, Duration batchEvery, Mode mode) {
    this(name, from, filter, groupBy, window, aggregates, batchEvery, mode, DEFAULT_KEEP, null, null);
  }

  /**
   * A canonical text of everything that determines the view's result (not its batch schedule);
   * two specs with the same definition compute the same view.
   */
  public String definition() {
    return "from=" + from + ";filter=" + (filter == null ? "" : filter) + ";group_by=" + groupBy + ";window="
        + (window == null ? "" : window) + ";aggregate=" + aggregates
        + (retain == null ? "" : ";retain=" + Durations.format(retain))
        + (allowedLateness == null ? "" : ";allowed_lateness=" + Durations.format(allowedLateness));
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Builds a view spec in Java; {@link PipelineSpec#validate()} checks it. */
  public static final class Builder {
    private final String name;
    private String from;
    private String filter;
    private String groupBy;
    private WindowSpec window;
    private final Map<String, String> aggregates = new LinkedHashMap<>();
    private Duration batchEvery;
    private Mode mode = Mode.LAMBDA;
    private int keep = DEFAULT_KEEP;
    private Duration retain;
    private Duration allowedLateness;

    Builder(String name) {
      this.name = name;
    }

    public Builder from(String stream) {
      this.from = stream;
      return this;
    }

    public Builder filter(String cel) {
      this.filter = cel;
      return this;
    }

    public Builder groupBy(String fieldOrCel) {
      this.groupBy = fieldOrCel;
      return this;
    }

    public Builder tumbling(Duration size) {
      try {
        this.window = WindowSpec.tumbling(size);
      } catch (IllegalArgumentException | NullPointerException e) { // name the view, as validate() names a path
        throw new IllegalArgumentException("view '" + name + "', window: " + e.getMessage(), e);
      }
      return this;
    }

    /** Any window kind: {@link WindowSpec#hopping}, {@link WindowSpec#session}, a zoned tumbling window. */
    public Builder window(WindowSpec w) {
      this.window = w;
      return this;
    }

    /**
     * How late (after the watermark passed a window's end; a session event's own {@code [t, t + gap)})
     * the speed layer still adds an event to it.
     */
    public Builder allowedLateness(Duration lateness) {
      this.allowedLateness = lateness;
      return this;
    }

    /** Adds an output; throws if the view already has one of that name (YAML refuses duplicate keys too). */
    public Builder aggregate(String name, String call) {
      java.util.Objects.requireNonNull(name, () -> "view '" + this.name + "': an aggregate's name is null");
      java.util.Objects.requireNonNull(call, () -> "view '" + this.name + "': aggregate '" + name + "' has no call");
      if (aggregates.putIfAbsent(name, call) != null) {
        throw new IllegalArgumentException("view '" + this.name + "' already has an aggregate '" + name + "'");
      }
      return this;
    }

    public Builder batchEvery(Duration every) {
      this.batchEvery = every;
      return this;
    }

    public Builder mode(Mode m) {
      this.mode = m;
      return this;
    }

    /** How many backup versions to keep for rollback. */
    public Builder keep(int backups) {
      this.keep = backups;
      return this;
    }

    /** For a windowed kappa view: how long windows are kept in the speed layer's state. */
    public Builder retain(Duration retention) {
      this.retain = retention;
      return this;
    }

    public ViewSpec build() {
      return new ViewSpec(name, from, filter, groupBy, window, aggregates, batchEvery, mode, keep, retain,
          allowedLateness);
    }
  }
}
