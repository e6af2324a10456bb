package dev.braid.table;

import dev.braid.spec.TableFieldType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * One row of a version's Delta with what conflict resolution needs: every write carries a stamp
 * (logical timestamp, log offset), compared timestamp first; a write changes a field, a set
 * element or a map entry only if its stamp is newer than the one that last changed it. So the row
 * equals applying all writes in stamp order, whatever order they arrive in, and a write applied
 * twice changes nothing the second time. The Base's values carry the stamp {@link #BASE_TS}: older
 * than every real-time write, since the writes replayed onto a Base are exactly those after its cut.
 *
 * <p>Invariants: every field's stamp is at least the row's delete stamp (a delete resets older
 * fields to absent at its own stamp); element operations kept for a field are newer than the
 * field's stamp (older ones are dropped when the field is replaced). Not thread-safe: the owner
 * (a Delta partition) guards it.
 */
final class RowState {

  static final long BASE_TS = Long.MIN_VALUE + 1;
  private static final long NONE = Long.MIN_VALUE;

  /** The latest add/remove of one set element or map entry; for a list, one add or a value's latest remove. */
  private static final class ElemOp {
    long ts;
    long pos;
    int idx; // an element's index inside its write (lists: several adds per write)
    boolean present;
    Object value; // a map entry's value, a list element

    ElemOp(long ts, long pos, int idx, boolean present, Object value) {
      this.ts = ts;
      this.pos = pos;
      this.idx = idx;
      this.present = present;
      this.value = value;
    }
  }

  private final TableLayout layout;
  private long rowTs = NONE;
  private long rowPos = NONE;
  private long delTs = NONE;
  private long delPos = NONE;
  /** Latest logical timestamp of a PUT or PATCH (or the Base's last-write time), for TTL. */
  long lastWrite = Long.MIN_VALUE;
  private final Object[] values;
  private final long[] fTs;
  private final long[] fPos;
  /** Per collection field: set elements / map keys -> latest op; lists: removes by value. */
  private final Map<Object, ElemOp>[] elems;
  /** Per list field: adds in stamp order. */
  private final List<ElemOp>[] listAdds;

  @SuppressWarnings("unchecked")
  RowState(TableLayout layout) {
    this.layout = layout;
    int n = layout.size();
    values = new Object[n];
    fTs = new long[n];
    fPos = new long[n];
    java.util.Arrays.fill(fTs, NONE);
    java.util.Arrays.fill(fPos, NONE);
    elems = new Map[n];
    listAdds = new List[n];
  }

  /** A row as its Base holds it. */
  static RowState fromBase(TableLayout layout, Object[] values, long writtenAt) {
    RowState s = new RowState(layout);
    System.arraycopy(values, 0, s.values, 0, values.length);
    java.util.Arrays.fill(s.fTs, BASE_TS);
    java.util.Arrays.fill(s.fPos, 0);
    s.rowTs = BASE_TS;
    s.rowPos = 0;
    s.lastWrite = writtenAt;
    return s;
  }

  private static boolean newer(long ts, long pos, long ts2, long pos2) {
    return ts > ts2 || (ts == ts2 && pos > pos2);
  }

  private static boolean newer(long ts, long pos, int idx, ElemOp o) {
    return ts > o.ts || (ts == o.ts && (pos > o.pos || (pos == o.pos && idx > o.idx)));
  }

  boolean exists() {
    return newer(rowTs, rowPos, delTs, delPos);
  }

  private void touch(long ts, long pos) {
    if (newer(ts, pos, rowTs, rowPos)) {
      rowTs = ts;
      rowPos = pos;
    }
    lastWrite = Math.max(lastWrite, ts);
  }

  /**
   * Before a PUT or PATCH stamped {@code ts} that was appended at {@code arrivedAt}: when the row's
   * last write is older than the table's ttl as of the later of the two, the row had expired (a
   * read then found none, as reads expire by the clock), and the write starts a new one. It deletes
   * every field at that horizon, which is newer than all of them (the Base's fields too: its row's
   * last write is {@link #lastWrite}), so the expired fields do not come back beside the write's; a
   * write stamped older than the horizon is expired on arrival and changes nothing, and so is one
   * arriving later stamped older than it. Both times are in the write's record, so every replay
   * decides the same; which writes start a new row depends on their order in the log when one older
   * than the ttl arrives after a newer one.
   */
  private void expireBefore(long ts, long arrivedAt, long pos) {
    long ttl = layout.ttlMillis;
    if (ttl < 0 || lastWrite == Long.MIN_VALUE) {
      return;
    }
    long at = Math.max(ts, arrivedAt);
    long horizon = at < Long.MIN_VALUE + ttl ? Long.MIN_VALUE : at - ttl;
    if (lastWrite < horizon) {
      delete(horizon, pos);
    }
  }

  void put(long ts, long arrivedAt, long pos, Object[] row) {
    if (!newer(ts, pos, delTs, delPos)) {
      return;
    }
    expireBefore(ts, arrivedAt, pos);
    touch(ts, pos);
    for (int f = 0; f < values.length; f++) {
      setField(f, row[f], ts, pos);
    }
  }

  void delete(long ts, long pos) {
    if (!newer(ts, pos, delTs, delPos)) {
      return;
    }
    delTs = ts;
    delPos = pos;
    for (int f = 0; f < values.length; f++) {
      if (newer(ts, pos, fTs[f], fPos[f])) {
        setField(f, null, ts, pos);
      }
    }
  }

  void patch(long ts, long arrivedAt, long pos, List<Writes.Op> ops) {
    if (!newer(ts, pos, delTs, delPos)) {
      return;
    }
    expireBefore(ts, arrivedAt, pos);
    touch(ts, pos);
    int idx = 0;
    for (Writes.Op op : ops) {
      int f = op.field();
      switch (op.kind()) {
        case SET:
          setField(f, op.value(), ts, pos);
          break;
        case ADD:
        case REMOVE: {
          boolean add = op.kind() == Patch.Kind.ADD;
          for (Object e : (List<?>) op.value()) {
            elementOp(f, e, add, add ? e : null, ts, pos, idx++);
          }
          break;
        }
        default:
          for (Map.Entry<?, ?> e : ((Map<?, ?>) op.value()).entrySet()) {
            elementOp(f, e.getKey(), true, e.getValue(), ts, pos, idx++);
          }
      }
    }
  }

  private void setField(int f, Object v, long ts, long pos) {
    if (!newer(ts, pos, fTs[f], fPos[f])) {
      return;
    }
    values[f] = v;
    fTs[f] = ts;
    fPos[f] = pos;
    if (elems[f] != null) {
      elems[f].values().removeIf(o -> !newer(o.ts, o.pos, ts, pos));
    }
    if (listAdds[f] != null) {
      listAdds[f].removeIf(o -> !newer(o.ts, o.pos, ts, pos));
    }
  }

  private void elementOp(int f, Object elem, boolean present, Object value, long ts, long pos, int idx) {
    if (!newer(ts, pos, fTs[f], fPos[f])) {
      return; // the field was replaced later: this operation is superseded
    }
    if (layout.types[f].kind() == TableFieldType.Kind.LIST && present) {
      List<ElemOp> adds = listAdds[f];
      if (adds == null) {
        adds = listAdds[f] = new ArrayList<>(4);
      }
      ElemOp add = new ElemOp(ts, pos, idx, true, value);
      int i = adds.size();
      while (i > 0 && newer(adds.get(i - 1).ts, adds.get(i - 1).pos, adds.get(i - 1).idx, add)) {
        i--;
      }
      if (i > 0) {
        ElemOp prev = adds.get(i - 1);
        if (prev.ts == ts && prev.pos == pos && prev.idx == idx) {
          return; // the same add again
        }
      }
      adds.add(i, add);
      return;
    }
    Map<Object, ElemOp> m = elems[f];
    if (m == null) {
      m = elems[f] = new HashMap<>(4);
    }
    ElemOp o = m.get(elem);
    if (o == null) {
      m.put(elem, new ElemOp(ts, pos, idx, present, value));
    } else if (newer(ts, pos, idx, o)) {
      o.ts = ts;
      o.pos = pos;
      o.idx = idx;
      o.present = present;
      o.value = value;
    }
  }

  /** The row's values as a read returns them (collections never null), or null when it does not exist. */
  Object[] materialize() {
    if (!exists()) {
      return null;
    }
    Object[] out = new Object[values.length];
    for (int f = 0; f < values.length; f++) {
      TableFieldType t = layout.types[f];
      Object v = values[f];
      switch (t.kind()) {
        case SCALAR:
          out[f] = v;
          break;
        case SET: {
          LinkedHashSet<Object> s = v == null ? new LinkedHashSet<>() : new LinkedHashSet<>((Collection<?>) v);
          if (elems[f] != null) {
            for (Map.Entry<Object, ElemOp> e : elems[f].entrySet()) {
              if (e.getValue().present) {
                s.add(e.getKey());
              } else {
                s.remove(e.getKey());
              }
            }
          }
          out[f] = s;
          break;
        }
        case MAP: {
          @SuppressWarnings("unchecked")
          Map<String, Object> m = v == null ? new LinkedHashMap<>() : new LinkedHashMap<>((Map<String, Object>) v);
          if (elems[f] != null) {
            for (Map.Entry<Object, ElemOp> e : elems[f].entrySet()) {
              if (e.getValue().present) {
                m.put((String) e.getKey(), e.getValue().value);
              } else {
                m.remove(e.getKey());
              }
            }
          }
          out[f] = m;
          break;
        }
        default: { // LIST
          List<Object> l = new ArrayList<>();
          Map<Object, ElemOp> removes = elems[f];
          if (v != null) {
            for (Object e : (List<?>) v) {
              if (removes == null || !removes.containsKey(member(e))) {
                l.add(e);
              }
            }
          }
          if (listAdds[f] != null) {
            for (ElemOp a : listAdds[f]) {
              ElemOp r = removes == null ? null : removes.get(member(a.value));
              if (r == null || !newer(r.ts, r.pos, r.idx, a)) {
                l.add(a.value);
              }
            }
          }
          out[f] = l;
        }
      }
    }
    return out;
  }

  /** A list's value as a remove names it: {@code -0.0} is {@code 0.0} (see {@code RowCodec.member}). */
  private static Object member(Object value) {
    return value instanceof Double d && d == 0.0 ? (Object) 0.0 : value;
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoint form (TableDeltaCheckpoint)
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes this row with every stamp conflict resolution needs, so {@link #read} gives a row that
   * resolves every later write as this one would:
   * <pre>
   *   rowTs rowPos delTs delPos lastWrite (longs)
   *   per field: present u8 [value (RowCodec field)] ts pos (longs)
   *              elems: varint n, then n x (key, ElemOp); list adds: varint n, then n x ElemOp
   *   ElemOp: ts pos (longs) idx (varint) present u8, value flag u8 [value (element scalar)]
   * </pre>
   * A key is the element's scalar (a map field's key: a string).
   */
  void write(Bytes out) {
    out.putLong(rowTs);
    out.putLong(rowPos);
    out.putLong(delTs);
    out.putLong(delPos);
    out.putLong(lastWrite);
    for (int f = 0; f < values.length; f++) {
      TableFieldType t = layout.types[f];
      out.put((byte) (values[f] == null ? 0 : 1));
      if (values[f] != null) {
        RowCodec.encodeField(t, values[f], out);
      }
      out.putLong(fTs[f]);
      out.putLong(fPos[f]);
      dev.braid.event.FieldType keyType = t.kind() == TableFieldType.Kind.MAP ? dev.braid.event.FieldType.STRING
          : t.element();
      Map<Object, ElemOp> m = elems[f];
      out.putVarint(m == null ? 0 : m.size());
      if (m != null) {
        for (Map.Entry<Object, ElemOp> e : m.entrySet()) {
          RowCodec.encodeScalar(keyType, e.getKey(), out);
          writeOp(t, e.getValue(), out);
        }
      }
      List<ElemOp> adds = listAdds[f];
      out.putVarint(adds == null ? 0 : adds.size());
      if (adds != null) {
        for (ElemOp o : adds) {
          writeOp(t, o, out);
        }
      }
    }
  }

  private static void writeOp(TableFieldType t, ElemOp o, Bytes out) {
    out.putLong(o.ts);
    out.putLong(o.pos);
    out.putVarint(o.idx);
    out.put((byte) (o.present ? 1 : 0));
    out.put((byte) (o.value == null ? 0 : 1));
    if (o.value != null) {
      RowCodec.encodeScalar(t.element(), o.value, out);
    }
  }

  /** A row as {@link #write} wrote it. */
  static RowState read(TableLayout layout, Bytes.Reader r) {
    RowState s = new RowState(layout);
    s.rowTs = r.i64();
    s.rowPos = r.i64();
    s.delTs = r.i64();
    s.delPos = r.i64();
    s.lastWrite = r.i64();
    for (int f = 0; f < s.values.length; f++) {
      TableFieldType t = layout.types[f];
      if (r.u8() != 0) {
        s.values[f] = RowCodec.decodeField(t, r);
      }
      s.fTs[f] = r.i64();
      s.fPos[f] = r.i64();
      dev.braid.event.FieldType keyType = t.kind() == TableFieldType.Kind.MAP ? dev.braid.event.FieldType.STRING
          : t.element();
      int n = r.varint();
      if (n > 0) {
        Map<Object, ElemOp> m = s.elems[f] = new HashMap<>(4);
        for (int i = 0; i < n; i++) {
          Object key = RowCodec.decodeScalar(keyType, r);
          m.put(key, readOp(t, r));
        }
      }
      n = r.varint();
      if (n > 0) {
        List<ElemOp> adds = s.listAdds[f] = new ArrayList<>(Math.max(4, n));
        for (int i = 0; i < n; i++) {
          adds.add(readOp(t, r));
        }
      }
    }
    return s;
  }

  private static ElemOp readOp(TableFieldType t, Bytes.Reader r) {
    long ts = r.i64();
    long pos = r.i64();
    int idx = r.varint();
    boolean present = r.u8() != 0;
    Object value = r.u8() != 0 ? RowCodec.decodeScalar(t.element(), r) : null;
    return new ElemOp(ts, pos, idx, present, value);
  }
}
