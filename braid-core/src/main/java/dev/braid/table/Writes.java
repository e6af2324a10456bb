package dev.braid.table;

import dev.braid.event.FieldType;
import dev.braid.spec.TableFieldType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The value of a record in a table's real-time log: one write. The record's key is the row key
 * (UTF-8), its event time the write's logical timestamp.
 *
 * <pre>
 *   PUT     byte 1 | row (see RowCodec) with the table's first fields
 *   PUT     byte 4 | varint fields | row with that many fields (written once the table's fields grew)
 *   PATCH   byte 2 | varint op count | op x count
 *           op: byte kind (Patch.Kind ordinal) | varint field |
 *               SET     byte present | value
 *               ADD     varint n | element x n            (list, set)
 *               REMOVE  varint n | element x n            (list, set; map: string keys)
 *               PUT     map value
 *   DELETE  byte 3
 * </pre>
 */
final class Writes {

  static final byte PUT = 1;
  static final byte PATCH = 2;
  static final byte DELETE = 3;
  /** A PUT that carries its field count: what a table whose fields grew writes. */
  static final byte PUT_COUNTED = 4;

  /** A checked patch operation: the field's index and canonical values. */
  record Op(Patch.Kind kind, int field, Object value) {}

  private Writes() {}

  /**
   * Checks a patch against the table's fields and returns its canonical operations.
   *
   * @throws IllegalArgumentException naming the operation, field and problem
   */
  static List<Op> check(TableLayout layout, Patch patch) {
    List<Op> out = new ArrayList<>(patch.ops().size());
    java.util.Set<String> setFields = new java.util.HashSet<>();
    java.util.Set<String> changedFields = new java.util.HashSet<>();
    for (Patch.Op op : patch.ops()) {
      (op.kind() == Patch.Kind.SET ? setFields : changedFields).add(op.field());
    }
    setFields.retainAll(changedFields);
    if (!setFields.isEmpty()) {
      String f = setFields.iterator().next();
      throw new IllegalArgumentException("set." + f + ": the patch also adds, removes or puts elements of '" + f
          + "'; give the whole value in set, or send the element changes in a later write");
    }
    for (Patch.Op op : patch.ops()) {
      String where = op.kind().name().toLowerCase(java.util.Locale.ROOT) + "." + op.field();
      int f = layout.index(op.field());
      if (f < 0) {
        throw new IllegalArgumentException(where + ": unknown field (fields: " + String.join(", ", layout.names) + ")");
      }
      if (f == layout.keyIndex) {
        throw new IllegalArgumentException(where + ": the key field cannot be patched");
      }
      TableFieldType t = layout.types[f];
      try {
        switch (op.kind()) {
          case SET:
            out.add(new Op(op.kind(), f, RowCodec.coerce(layout, f, op.value())));
            break;
          case ADD:
          case REMOVE: {
            if (!t.isCollection() || (op.kind() == Patch.Kind.ADD && t.kind() == TableFieldType.Kind.MAP)) {
              throw new IllegalArgumentException(layout.describe(f) + ": " + op.kind().name().toLowerCase(
                  java.util.Locale.ROOT) + " needs a " + (op.kind() == Patch.Kind.ADD ? "list or set" : "list, set or map")
                  + " field" + (t.kind() == TableFieldType.Kind.MAP ? "; use put for map entries" : ""));
            }
            List<Object> elems = new ArrayList<>();
            for (Object e : (Collection<?>) op.value()) {
              if (e == null) {
                throw new IllegalArgumentException(layout.describe(f) + ": elements cannot be null");
              }
              elems.add(t.kind() == TableFieldType.Kind.MAP ? keyOf(layout, f, e)
                  : t.kind() == TableFieldType.Kind.LIST && op.kind() == Patch.Kind.ADD
                      ? RowCodec.scalar(layout, f, t.element(), e) : RowCodec.member(layout, f, t.element(), e));
            }
            out.add(new Op(op.kind(), f, elems));
            break;
          }
          default: // PUT
            if (t.kind() != TableFieldType.Kind.MAP) {
              throw new IllegalArgumentException(layout.describe(f) + ": put needs a map field");
            }
            out.add(new Op(op.kind(), f, RowCodec.coerce(layout, f, op.value())));
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
      }
    }
    refuseAddedAndRemoved(layout, out);
    return out;
  }

  /**
   * Refuses a patch that adds (or puts) an element (or map key) and removes it too: its ops share one stamp, so
   * neither is the later write; the caller sends the two as writes one after the other, and the later one wins.
   */
  private static void refuseAddedAndRemoved(TableLayout layout, List<Op> ops) {
    for (Op removed : ops) {
      if (removed.kind() != Patch.Kind.REMOVE) {
        continue;
      }
      for (Op added : ops) {
        if (added.field() != removed.field() || added.kind() != Patch.Kind.ADD && added.kind() != Patch.Kind.PUT) {
          continue;
        }
        Collection<?> elements = added.value() instanceof Map<?, ?> m ? m.keySet() : (Collection<?>) added.value();
        TableFieldType t = layout.types[added.field()];
        if (t.kind() == TableFieldType.Kind.LIST) { // a list's added elements as a remove matches them (-0.0 as 0.0)
          List<Object> asMembers = new ArrayList<>();
          for (Object e : elements) {
            asMembers.add(RowCodec.member(layout, added.field(), t.element(), e));
          }
          elements = asMembers;
        }
        for (Object e : (Collection<?>) removed.value()) {
          if (elements.contains(e)) {
            String f = layout.names[removed.field()];
            String kind = added.kind().name().toLowerCase(java.util.Locale.ROOT);
            throw new IllegalArgumentException("remove." + f + ": the patch also " + kind + "s " + (added.kind()
                == Patch.Kind.PUT ? "the entry " : "the element ") + (e instanceof String str ? "'" + str + "'" : e)
                + " of '" + f + "', and one patch has one time stamp, so neither would be the later change; send "
                + "them as two writes (the later one wins)");
          }
        }
      }
    }
  }

  private static String keyOf(TableLayout layout, int f, Object e) {
    if (!(e instanceof String s)) {
      throw new IllegalArgumentException(layout.describe(f) + ": map keys are strings, got " + e);
    }
    return s;
  }

  static void encodePut(TableLayout layout, Object[] row, Bytes out) {
    putHeader(layout, out);
    RowCodec.encode(layout, row, out);
  }

  /**
   * The start of a PUT whose row has every field of {@code layout}: {@link #PUT} while the table has
   * its first fields (byte for byte what builds from before growth wrote), else {@link #PUT_COUNTED}.
   */
  static void putHeader(TableLayout layout, Bytes out) {
    if (layout.grown()) {
      out.put(PUT_COUNTED);
      out.putVarint(layout.size());
    } else {
      out.put(PUT);
    }
  }

  /**
   * Decodes the row of a PUT whose op byte {@code op} was read ({@link #PUT} or {@link #PUT_COUNTED}).
   *
   * @throws IllegalArgumentException when it counts more fields than the table has
   */
  static Object[] decodePut(TableLayout layout, byte op, Bytes.Reader r) {
    int fields = op == PUT_COUNTED ? layout.requireFields(r.varint(), "a write") : layout.firstFields;
    return RowCodec.decode(layout, fields, r);
  }

  static void encodeDelete(Bytes out) {
    out.put(DELETE);
  }

  static void encodePatch(TableLayout layout, List<Op> ops, Bytes out) {
    out.put(PATCH);
    out.putVarint(ops.size());
    for (Op op : ops) {
      out.put((byte) op.kind().ordinal());
      out.putVarint(op.field());
      TableFieldType t = layout.types[op.field()];
      switch (op.kind()) {
        case SET:
          out.put((byte) (op.value() == null ? 0 : 1));
          if (op.value() != null) {
            RowCodec.encodeField(t, op.value(), out);
          }
          break;
        case ADD:
        case REMOVE: {
          List<?> elems = (List<?>) op.value();
          out.putVarint(elems.size());
          FieldType et = t.kind() == TableFieldType.Kind.MAP ? FieldType.STRING : t.element();
          for (Object e : elems) {
            RowCodec.encodeScalar(et, e, out);
          }
          break;
        }
        default:
          RowCodec.encodeField(t, op.value(), out);
      }
    }
  }

  /** Decodes a PATCH's operations (the reader is past the op byte). */
  static List<Op> decodePatch(TableLayout layout, Bytes.Reader r) {
    int n = r.varint();
    List<Op> ops = new ArrayList<>(n);
    Patch.Kind[] kinds = Patch.Kind.values();
    for (int i = 0; i < n; i++) {
      Patch.Kind kind = kinds[r.u8()];
      int f = r.varint();
      if (f >= layout.size()) {
        throw new IllegalArgumentException("a patch of field " + f + ", but table '" + layout.spec.name() + "' has "
            + layout.size() + " fields");
      }
      TableFieldType t = layout.types[f];
      switch (kind) {
        case SET:
          ops.add(new Op(kind, f, r.u8() == 0 ? null : RowCodec.decodeField(t, r)));
          break;
        case ADD:
        case REMOVE: {
          int m = r.varint();
          FieldType et = t.kind() == TableFieldType.Kind.MAP ? FieldType.STRING : t.element();
          List<Object> elems = new ArrayList<>(m);
          for (int j = 0; j < m; j++) {
            elems.add(RowCodec.decodeScalar(et, r));
          }
          ops.add(new Op(kind, f, elems));
          break;
        }
        default:
          ops.add(new Op(kind, f, RowCodec.decodeField(t, r)));
      }
    }
    return ops;
  }

  /** Canonical values of a whole row given as a map; the key field is required. */
  static Object[] checkRow(TableLayout layout, Map<String, ?> row, String key) {
    Object[] values = new Object[layout.size()];
    for (Map.Entry<String, ?> e : row.entrySet()) {
      int f = layout.index(e.getKey());
      if (f < 0) {
        throw new IllegalArgumentException("unknown field '" + e.getKey() + "' (fields: "
            + String.join(", ", layout.names) + ")");
      }
      values[f] = RowCodec.coerce(layout, f, e.getValue());
    }
    Object k = values[layout.keyIndex];
    if (k == null) {
      values[layout.keyIndex] = layout.types[layout.keyIndex].element() == FieldType.LONG ? parseLongKey(layout, key)
          : key;
    } else if (!RowCodec.keyText(k).equals(key)) {
      throw new IllegalArgumentException("field '" + layout.names[layout.keyIndex] + "' is '" + RowCodec.keyText(k)
          + "' but the row's key is '" + key + "'");
    }
    return values;
  }

  /**
   * A whole-number key as a push reads its cell ({@link CsvRecords#wholeNumber}): blanks around it, a
   * sign and leading zeros allowed, ASCII digits only.
   */
  static Long parseLongKey(TableLayout layout, String key) {
    Long n = CsvRecords.wholeNumber(key.strip());
    if (n == null) {
      throw new IllegalArgumentException("key '" + key + "': the key field '" + layout.names[layout.keyIndex]
          + "' is a long");
    }
    return n;
  }
}
