package dev.braid.table;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A partial update of one row: set fields, add or remove elements of a list or set, put or remove
 * entries of a map. Applied with the write's logical timestamp: each field (each element of a set,
 * each entry of a map) keeps the value of its latest write by (timestamp, log position), so the
 * result does not depend on the order in which writes arrive, and applying a write twice is the
 * same as applying it once. A patch of a row that does not exist creates it with only these fields.
 *
 * <pre>{@code
 * Patch p = Patch.builder().set("tier", "gold").add("tags", "vip").remove("tags", "trial")
 *     .put("limits", Map.of("daily", 500.0)).build();
 * // as JSON: {"set": {"tier": "gold"}, "add": {"tags": ["vip"]}, "remove": {"tags": ["trial"]},
 * //           "put": {"limits": {"daily": 500.0}}}   ("remove" on a map field names keys)
 * }</pre>
 *
 * <p>A list's added elements go after its elements, in (timestamp, position) order; removing a
 * value from a list removes every occurrence written before the remove.
 */
public final class Patch {

  /** What an operation does. */
  public enum Kind {
    /** Replace the field's whole value (null clears it). */
    SET,
    /** Add elements to a list or set. */
    ADD,
    /** Remove elements from a list or set, or keys from a map. */
    REMOVE,
    /** Put entries into a map. */
    PUT
  }

  /**
   * One operation. {@code value}: for SET the new value; for ADD and REMOVE a collection of
   * elements (of keys, for REMOVE on a map); for PUT a map of entries.
   */
  public record Op(Kind kind, String field, Object value) {
    public Op {
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(field, "field");
    }
  }

  private static final Set<String> JSON_KEYS = Set.of("set", "add", "remove", "put");

  private final List<Op> ops;

  private Patch(List<Op> ops) {
    this.ops = List.copyOf(ops);
  }

  public List<Op> ops() {
    return ops;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * A patch from its JSON form, as a map: {@code set}, {@code add}, {@code remove}, {@code put},
   * each a mapping of field names to values.
   *
   * @throws IllegalArgumentException naming the part that is malformed
   */
  public static Patch fromJson(Map<String, ?> json) {
    Builder b = new Builder();
    for (Map.Entry<String, ?> e : json.entrySet()) {
      if (!JSON_KEYS.contains(e.getKey())) {
        throw new IllegalArgumentException("patch: unknown key '" + e.getKey() + "'; expected add, put, remove or set");
      }
      if (!(e.getValue() instanceof Map<?, ?> fields)) {
        throw new IllegalArgumentException("patch." + e.getKey() + ": must be an object of field names to values");
      }
      Kind kind = Kind.valueOf(e.getKey().toUpperCase(java.util.Locale.ROOT));
      for (Map.Entry<?, ?> f : fields.entrySet()) {
        Object v = f.getValue();
        String path = "patch." + e.getKey() + "." + f.getKey();
        if ((kind == Kind.ADD || kind == Kind.REMOVE) && !(v instanceof Collection)) {
          throw new IllegalArgumentException(path + ": must be a list of elements (" + e.getKey() + " takes the "
              + "elements of a list or set field; put takes the entries of a map field, set replaces any field)");
        }
        if (kind == Kind.PUT && !(v instanceof Map)) {
          throw new IllegalArgumentException(path + ": must be an object of map entries (put takes the entries of "
              + "a map field; add and remove take the elements of a list or set field, set replaces any field)");
        }
        b.ops.add(new Op(kind, String.valueOf(f.getKey()), v));
      }
    }
    if (b.ops.isEmpty()) {
      throw new IllegalArgumentException("patch: empty; give at least one of set, add, remove, put");
    }
    return b.build();
  }

  /** Builds a {@link Patch}; {@link Table#patch} checks fields and types. */
  public static final class Builder {
    private final List<Op> ops = new ArrayList<>();

    public Builder set(String field, Object value) {
      ops.add(new Op(Kind.SET, field, value));
      return this;
    }

    public Builder add(String field, Object... elements) {
      ops.add(new Op(Kind.ADD, field, List.of(elements)));
      return this;
    }

    public Builder remove(String field, Object... elementsOrKeys) {
      ops.add(new Op(Kind.REMOVE, field, List.of(elementsOrKeys)));
      return this;
    }

    public Builder put(String field, Map<String, ?> entries) {
      ops.add(new Op(Kind.PUT, field, entries));
      return this;
    }

    public Patch build() {
      if (ops.isEmpty()) {
        throw new IllegalArgumentException("a patch needs at least one operation");
      }
      return new Patch(ops);
    }
  }
}
