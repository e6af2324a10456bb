package dev.braid.view;

import dev.braid.agg.AccumulatorState;
import dev.braid.agg.AggInput;
import dev.braid.agg.AggregateCall;
import dev.braid.agg.Aggregation;
import dev.braid.agg.Aggregations;
import dev.braid.agg.NumericFold;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import dev.braid.expr.KeyBuffer;
import dev.braid.expr.KeyExtractor;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A view definition compiled for execution: the filter and group key as direct code (or CEL),
 * and the aggregations laid out side by side in one state row. The batch layer and the speed layer
 * both fold events with {@link #apply}; reads merge rows with {@link #merge} and turn them into
 * results with {@link #result}. Immutable and shared by all threads; per-thread scratch lives in
 * {@link Scratch}.
 */
final class ViewProgram {

  final ViewSpec spec;
  final EventSchema schema;
  private final EventPredicate filter;
  private final KeyExtractor key;
  final WindowSpec window;
  final String[] names;
  final Aggregation[] aggregations;
  private final int[] argField;
  private final FieldType[] argType;
  private final int[] longBase;
  private final int[] objectBase;
  final int longWidth;
  final int objectWidth;
  /**
   * The stream's key field when the view groups by it, else -1. A record's key is then its group
   * key, byte for byte, so the fold looks the record's own key slice up with the hash its chunk
   * already computed (see {@link #apply(GroupTable, Scratch, RecordChunk, int, int)}).
   */
  private final int recordKeyField;
  /** The fused add of the row when every aggregation is one that {@link NumericFold} fuses, else null. */
  private final NumericFold fused;

  ViewProgram(ViewSpec spec, EventSchema schema) {
    this(spec, schema, true);
  }

  /**
   * @param fastPaths false to fold every event the generic way (extract and hash the key, call each
   *     aggregation's {@code add}); for tests that compare the fast paths with it
   */
  ViewProgram(ViewSpec spec, EventSchema schema, boolean fastPaths) {
    this.spec = spec;
    this.schema = schema;
    Expressions ex = new Expressions(schema);
    this.filter = spec.filter() == null ? null : ex.predicate(spec.filter());
    this.key = ex.key(spec.groupBy());
    this.window = spec.window();
    int n = spec.aggregates().size();
    this.names = new String[n];
    this.aggregations = new Aggregation[n];
    this.argField = new int[n];
    this.argType = new FieldType[n];
    this.longBase = new int[n];
    this.objectBase = new int[n];
    int lw = 0;
    int ow = 0;
    int i = 0;
    for (Map.Entry<String, String> e : spec.aggregates().entrySet()) {
      AggregateCall call = Aggregations.parse(e.getValue());
      names[i] = e.getKey();
      if (call.field() == null) {
        argField[i] = -1;
      } else {
        EventSchema.Field f = schema.require(call.field());
        argField[i] = f.index();
        argType[i] = f.type();
      }
      aggregations[i] = Aggregations.factory(call.function()).create(argType[i], call.parameters());
      longBase[i] = lw;
      objectBase[i] = ow;
      lw += aggregations[i].longSlots();
      ow += aggregations[i].objectSlots();
      i++;
    }
    this.longWidth = lw;
    this.objectWidth = ow;
    this.recordKeyField = fastPaths && BatchLayer.isKeyPartitioned(this) ? schema.key().index() : -1;
    this.fused = fastPaths ? NumericFold.of(aggregations, argField, argType, longBase) : null;
  }

  /** Whether the fold looks up records' own key slices (see {@link #recordKeyField}). */
  boolean groupsByRecordKey() {
    return recordKeyField >= 0;
  }

  /** Whether the fold adds with a {@link NumericFold} rather than through each aggregation's {@code add}. */
  boolean isFused() {
    return fused != null;
  }

  /** Per-thread reusable objects for folding and reading. */
  static final class Scratch {
    final EventReader reader;
    final KeyBuffer key = new KeyBuffer();
    final AccumulatorState state = new AccumulatorState();
    final AccumulatorState other = new AccumulatorState();
    final AggInput input = new AggInput();
    final BaseFile.StateBytes stateBytes = new BaseFile.StateBytes();
    final ByteBufferDataInput stateInput = new ByteBufferDataInput();

    BaseFile.StateBytes stateBytes() {
      return stateBytes;
    }

    Scratch(EventSchema schema) {
      this.reader = new EventReader(schema);
    }
  }

  Scratch scratch() {
    return new Scratch(schema);
  }

  GroupTable newTable(int expectedKeys) {
    return new GroupTable(longWidth, objectWidth, expectedKeys, this::zero, window != null);
  }

  /** Sets the row at the given bases to every aggregation's zero. */
  void zero(long[] longs, int lb, Object[] objects, int ob) {
    AccumulatorState s = new AccumulatorState();
    for (int i = 0; i < aggregations.length; i++) {
      s.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      aggregations[i].zero(s);
    }
  }

  /**
   * Folds the event that {@code x.reader} points at into {@code table}. Returns false when the
   * filter rejects it or its key is null. Exceptions from expressions or aggregations propagate to
   * the caller, which counts and reports them. The generic path: the key is extracted into
   * {@code x.key} and hashed; {@link #apply(GroupTable, Scratch, RecordChunk, int, int)} folds the
   * same way from a chunk, without the copy and the second hash when it can.
   */
  boolean apply(GroupTable table, Scratch x) {
    EventReader e = x.reader;
    if (filter != null && !filter.test(e)) {
      return false;
    }
    if (!key.extract(e, x.key)) {
      return false;
    }
    byte[] kb = x.key.bytes();
    int kl = x.key.length();
    fold(table, table.findOrInsertKey(kb, kl, GroupTable.hash(kb, kl)), e, x);
    return true;
  }

  /**
   * Folds record {@code j} of chunk {@code k}, read from {@code partition}, into {@code table}:
   * points {@code x.reader} at it, then does what {@link #apply(GroupTable, Scratch)} does. When the
   * view groups by the stream's key, the group key is the record's key slice, looked up with the
   * chunk's hash: {@code EventEncoder} writes a record's key as the key field's text, the bytes
   * that {@code Expressions.key} would extract (tested for every field type), and a null key field
   * skips the event here as it does there.
   */
  boolean apply(GroupTable table, Scratch x, RecordChunk k, int j, int partition) {
    EventReader e = x.reader.wrap(k.buffer[j], k.valueOffset[j], k.valueLength[j]).at(partition, k.offset[j],
        k.eventTime[j]);
    if (recordKeyField < 0) {
      return apply(table, x);
    }
    if (filter != null && !filter.test(e)) {
      return false;
    }
    if (e.isNull(recordKeyField)) {
      return false;
    }
    fold(table, table.findOrInsertKey(k.buffer[j], k.keyOffset[j], k.keyLength[j], k.hash[j]), e, x);
    return true;
  }

  /** Adds event {@code e} to its group (of key {@code keyId} and the event's window). */
  private void fold(GroupTable table, int keyId, EventReader e, Scratch x) {
    int g = table.findOrInsertGroup(keyId, window == null ? 0 : window.start(e.eventTime()));
    int lb = g * longWidth;
    if (fused != null) {
      fused.add(table.longs, lb, e);
      return;
    }
    int ob = g * objectWidth;
    AggInput in = x.input.at(e.eventTime(), e.partition(), e.offset());
    for (int i = 0; i < aggregations.length; i++) {
      int f = argField[i];
      if (f >= 0) {
        if (e.isNull(f)) {
          in.setNull(argType[i]);
        } else {
          switch (argType[i]) {
            case STRING:
              in.setString(e.buffer(), e.stringOffset(f), e.stringLength(f));
              break;
            case DOUBLE:
              in.setDouble(e.getDouble(f));
              break;
            default:
              in.setLong(argType[i], e.getLong(f));
          }
        }
      }
      x.state.bind(table.longs, lb + longBase[i], table.objects, ob + objectBase[i]);
      aggregations[i].add(x.state, in);
    }
  }

  /** Merges row {@code from} into row {@code into} (both given by their arrays and bases). */
  void merge(long[] intoLongs, int intoLb, Object[] intoObjects, int intoOb, long[] fromLongs, int fromLb,
      Object[] fromObjects, int fromOb, Scratch x) {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(intoLongs, intoLb + longBase[i], intoObjects, intoOb + objectBase[i]);
      x.other.bind(fromLongs, fromLb + longBase[i], fromObjects, fromOb + objectBase[i]);
      aggregations[i].merge(x.state, x.other);
    }
  }

  /** The named results of a row, in the view's order. */
  Map<String, Object> result(long[] longs, int lb, Object[] objects, int ob, Scratch x) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      out.put(names[i], aggregations[i].result(x.state));
    }
    return out;
  }

  void writeRow(DataOutput out, long[] longs, int lb, Object[] objects, int ob, Scratch x) throws IOException {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      aggregations[i].write(x.state, out);
    }
  }

  void readRow(DataInput in, long[] longs, int lb, Object[] objects, int ob, Scratch x) throws IOException {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      aggregations[i].read(x.state, in);
    }
  }

  List<String> names() {
    return List.of(names);
  }
}
