package dev.braid.table;

import dev.braid.event.FieldType;
import dev.braid.spec.TableFieldType;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The binary form of a table row, and the one place that turns outside values into a field's
 * canonical Java value.
 *
 * <pre>
 *   row:    presence bitmap (ceil(fields / 8) bytes, bit i of byte i/8 = field i present)
 *           then each present field in spec order:
 *   value:  string            varint UTF-8 length | bytes
 *           long, timestamp   8 bytes big-endian
 *           double            8 bytes (IEEE 754 bits, big-endian)
 *           boolean           1 byte (0 or 1)
 *           list, set         varint count | value x count
 *           map               varint count | (string key | value) x count
 * </pre>
 *
 * Canonical values: {@code String}, {@code Long} (long and timestamp, epoch millis), {@code Double},
 * {@code Boolean}, {@code List}, {@code Set} (insertion ordered), {@code Map<String, ?>} (insertion
 * ordered); null is an absent field. Stateless and thread-safe.
 */
final class RowCodec {

  private RowCodec() {}

  static int bitmapBytes(int fields) {
    return (fields + 7) >>> 3;
  }

  /**
   * Widens, in place, the row encoded with {@code from} fields that ends {@code b} at {@code at}
   * ({@code len} bytes) to {@code to} fields (at least as many), the later ones absent: the bitmap
   * takes its extra bytes (zero), the values move up unchanged. Returns the row's new length.
   */
  static int widen(Bytes b, int at, int len, int from, int to) {
    int was = bitmapBytes(from);
    int more = bitmapBytes(to) - was;
    b.ensure(more);
    System.arraycopy(b.buf, at + was, b.buf, at + was + more, len - was);
    java.util.Arrays.fill(b.buf, at + was, at + was + more, (byte) 0);
    b.len += more;
    return len + more;
  }

  /** Appends {@code values} (canonical, null = absent) to {@code out}. */
  static void encode(TableLayout layout, Object[] values, Bytes out) {
    int n = layout.size();
    int bm = bitmapBytes(n);
    out.ensure(bm);
    int at = out.len;
    for (int i = 0; i < bm; i++) {
      out.buf[at + i] = 0;
    }
    out.len += bm;
    for (int f = 0; f < n; f++) {
      if (values[f] != null) {
        out.buf[at + (f >>> 3)] |= (byte) (1 << (f & 7));
        encodeField(layout.types[f], values[f], out);
      }
    }
  }

  static void encodeField(TableFieldType t, Object v, Bytes out) {
    switch (t.kind()) {
      case SCALAR:
        encodeScalar(t.element(), v, out);
        break;
      case LIST:
      case SET: {
        Collection<?> c = (Collection<?>) v;
        out.putVarint(c.size());
        for (Object e : c) {
          encodeScalar(t.element(), e, out);
        }
        break;
      }
      default: {
        Map<?, ?> m = (Map<?, ?>) v;
        out.putVarint(m.size());
        for (Map.Entry<?, ?> e : m.entrySet()) {
          out.putString((String) e.getKey());
          encodeScalar(t.element(), e.getValue(), out);
        }
      }
    }
  }

  static void encodeScalar(FieldType t, Object v, Bytes out) {
    switch (t) {
      case STRING:
        out.putString((String) v);
        break;
      case LONG:
      case TIMESTAMP:
        out.putLong((Long) v);
        break;
      case DOUBLE:
        out.putLong(Double.doubleToRawLongBits((Double) v));
        break;
      default:
        out.put((byte) (((Boolean) v) ? 1 : 0));
    }
  }

  /**
   * Decodes a row written by {@link #encode} with the first {@code fields} of {@code layout} (a row
   * stored before the table's fields grew has fewer); the fields after them are absent (null).
   */
  static Object[] decode(TableLayout layout, int fields, Bytes.Reader r) {
    int bm = bitmapBytes(fields);
    int bitmapAt = r.pos;
    r.pos += bm;
    Object[] values = new Object[layout.size()];
    for (int f = 0; f < fields; f++) {
      if ((r.b.get(bitmapAt + (f >>> 3)) & (1 << (f & 7))) != 0) {
        values[f] = decodeField(layout.types[f], r);
      }
    }
    return values;
  }

  static Object decodeField(TableFieldType t, Bytes.Reader r) {
    switch (t.kind()) {
      case SCALAR:
        return decodeScalar(t.element(), r);
      case LIST: {
        int n = r.varint();
        List<Object> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          l.add(decodeScalar(t.element(), r));
        }
        return l;
      }
      case SET: {
        int n = r.varint();
        LinkedHashSet<Object> s = new LinkedHashSet<>(Math.max(4, n * 2));
        for (int i = 0; i < n; i++) {
          s.add(decodeScalar(t.element(), r));
        }
        return s;
      }
      default: {
        int n = r.varint();
        Map<String, Object> m = new LinkedHashMap<>(Math.max(4, n * 2));
        for (int i = 0; i < n; i++) {
          String k = r.string();
          m.put(k, decodeScalar(t.element(), r));
        }
        return m;
      }
    }
  }

  static Object decodeScalar(FieldType t, Bytes.Reader r) {
    switch (t) {
      case STRING:
        return r.string();
      case LONG:
      case TIMESTAMP:
        return r.i64();
      case DOUBLE:
        return Double.longBitsToDouble(r.i64());
      default:
        return r.u8() != 0;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Outside values -> canonical values
  // ---------------------------------------------------------------------------------------------

  /**
   * The canonical value of {@code raw} (a Java value as Jackson or a caller gives it: String,
   * Number, Boolean, List, Map) for field {@code f}; null stays null.
   *
   * @throws IllegalArgumentException naming the field, the expected type and what was given
   */
  static Object coerce(TableLayout layout, int f, Object raw) {
    if (raw == null) {
      return null;
    }
    TableFieldType t = layout.types[f];
    switch (t.kind()) {
      case SCALAR:
        return scalar(layout, f, t.element(), raw);
      case LIST:
      case SET: {
        if (!(raw instanceof Collection<?> c)) {
          throw mismatch(layout, f, raw);
        }
        Collection<Object> out = t.kind() == TableFieldType.Kind.LIST ? new ArrayList<>(c.size())
            : new LinkedHashSet<>(Math.max(4, c.size() * 2));
        for (Object e : c) {
          out.add(element(layout, f, t.element(), e));
        }
        return out;
      }
      default: {
        if (!(raw instanceof Map<?, ?> m)) {
          throw mismatch(layout, f, raw);
        }
        Map<String, Object> out = new LinkedHashMap<>(Math.max(4, m.size() * 2));
        for (Map.Entry<?, ?> e : m.entrySet()) {
          if (e.getValue() == null) {
            throw new IllegalArgumentException(layout.describe(f) + ": the value of entry '" + e.getKey()
                + "' cannot be null");
          }
          String key = String.valueOf(e.getKey());
          String problem = dev.braid.event.EventEncoder.notUnicode(key);
          if (problem != null) {
            throw new IllegalArgumentException(layout.describe(f) + ": the key of an entry: " + problem);
          }
          out.put(key, scalar(layout, f, t.element(), e.getValue()));
        }
        return out;
      }
    }
  }

  /** Sets of at most this many elements are deduplicated by {@link #encodeCollection} without a hash set. */
  static final int SMALL_SET = 16;

  /**
   * Writes {@link #encodeField}{@code (type of f, }{@link #coerce}{@code (layout, f, raw))}: the same
   * bytes and the same errors. A small set from a list (a bulk push's JSON array, usually a few
   * elements) is deduplicated by comparing each element with those kept before it, instead of
   * through a {@code LinkedHashSet} per row; equal elements are equal by {@code equals}, as in the
   * set, and the first of equal elements keeps its place.
   *
   * @throws IllegalArgumentException naming the field, as {@link #coerce} does
   */
  static void encodeCollection(TableLayout layout, int f, Object raw, Bytes out) {
    TableFieldType t = layout.types[f];
    if (t.kind() != TableFieldType.Kind.SET || !(raw instanceof List<?> list) || list.size() > SMALL_SET) {
      encodeField(t, coerce(layout, f, raw), out);
      return;
    }
    Object[] kept = new Object[list.size()];
    int n = 0;
    for (Object e : list) {
      Object v = element(layout, f, t.element(), e);
      boolean seen = false;
      for (int j = 0; j < n && !seen; j++) {
        seen = kept[j].equals(v);
      }
      if (!seen) {
        kept[n++] = v;
      }
    }
    out.putVarint(n);
    for (int j = 0; j < n; j++) {
      encodeScalar(t.element(), kept[j], out);
    }
  }

  /** The canonical scalar of an element of a list or set field. */
  private static Object element(TableLayout layout, int f, FieldType t, Object raw) {
    if (raw == null) {
      throw new IllegalArgumentException(layout.describe(f) + ": elements cannot be null");
    }
    return layout.types[f].kind() == TableFieldType.Kind.SET ? member(layout, f, t, raw) : scalar(layout, f, t, raw);
  }

  /**
   * {@link #scalar} of a value compared by equality: a set's element (given in a row, or alone to a
   * PATCH's add or remove) or a list's value to remove, with {@code -0.0} as {@code 0.0}: the two are
   * equal numbers but not equal {@code Double}s, so a set would hold both and a remove of {@code 0}
   * would leave the other. A list keeps the values it is given.
   */
  static Object member(TableLayout layout, int f, FieldType t, Object raw) {
    Object v = scalar(layout, f, t, raw);
    return v instanceof Double d && d == 0.0 ? (Object) 0.0 : v;
  }

  /** The canonical scalar of an element, or of a map key/element given alone (PATCH remove). */
  static Object scalar(TableLayout layout, int f, FieldType t, Object raw) {
    switch (t) {
      case STRING:
        if (raw instanceof String s) {
          String problem = dev.braid.event.EventEncoder.notUnicode(s);
          if (problem != null) {
            throw new IllegalArgumentException(layout.describe(f) + ": " + problem);
          }
          return s;
        }
        break;
      case LONG:
        if (raw instanceof Long || raw instanceof Integer || raw instanceof Short || raw instanceof Byte) {
          return ((Number) raw).longValue();
        }
        if (raw instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
            && Math.abs(n.doubleValue()) < 9.007199254740992E15) {
          return n.longValue();
        }
        break;
      case DOUBLE:
        if (raw instanceof Number n) {
          String problem = dev.braid.event.EventEncoder.notFinite(n);
          if (problem != null) {
            throw new IllegalArgumentException(layout.describe(f) + ": " + problem);
          }
          return n.doubleValue();
        }
        break;
      case BOOLEAN:
        if (raw instanceof Boolean b) {
          return b;
        }
        break;
      default: // TIMESTAMP
        if (raw instanceof Long || raw instanceof Integer) {
          return ((Number) raw).longValue();
        }
        if (raw instanceof String s) {
          return parseTimestamp(layout, f, s);
        }
    }
    throw mismatch(layout, f, raw);
  }

  static long parseTimestamp(TableLayout layout, int f, String s) {
    try {
      return Instant.parse(s).toEpochMilli();
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException(layout.describe(f) + ": '" + s + "' is not an ISO-8601 instant "
          + "(e.g. 2026-11-30T12:00:00Z)" + (s.strip().matches("[+-]?[0-9]+")
              ? "; epoch millis are a JSON number, without quotes" : " or epoch millis (a JSON number)"));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(layout.describe(f) + ": '" + s + "' is out of range: epoch milliseconds "
          + "must fit in a long");
    }
  }

  private static IllegalArgumentException mismatch(TableLayout layout, int f, Object raw) {
    String got = raw instanceof String s ? "string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\""
        : raw instanceof Boolean ? "boolean " + raw
        : raw instanceof Number ? "number " + raw
        : raw instanceof Collection ? "a list"
        : raw instanceof Map ? "an object" : raw.getClass().getSimpleName();
    return new IllegalArgumentException(layout.describe(f) + ": expected " + layout.types[f].specName() + ", got "
        + got);
  }

  /** The key of a row as the text it is stored and routed by (a long key in decimal). */
  static String keyText(Object canonicalKey) {
    return canonicalKey instanceof Long l ? Long.toString(l) : (String) canonicalKey;
  }
}
