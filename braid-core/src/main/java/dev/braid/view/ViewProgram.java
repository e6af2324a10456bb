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
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

/**
 * A view definition compiled for execution: the filter and group key as direct code (or CEL),
 * and the aggregations laid out side by side in one state row. An aggregation's {@code where}
 * condition ({@link AggregateCall#where}) is evaluated once per event, after the view's filter and
 * before the event touches any group, into the <em>skip mask</em> of {@link Scratch#skip}: the
 * aggregations whose condition rejected the event leave their slots alone, while the group is
 * created and the other aggregations fold as usual. A condition that throws skips the whole event,
 * as a throwing filter does. {@link WhereConditions} keeps this cheap when many aggregations have
 * conditions: a condition of the same text is tested once for all of them, and range conditions of
 * one int field ({@code price >= 10000 && price < 1000000}) read the field once and compare it with
 * plain bounds, with no call per condition. The batch layer and the speed layer
 * both fold events with {@link #apply}; reads merge rows with {@link #merge} and turn them into
 * results with {@link #result}. Immutable and shared by all threads; per-thread scratch lives in
 * {@link Scratch}.
 */
final class ViewProgram {

  final ViewSpec spec;
  /** See {@link #lateRule(ViewSpec)}. */
  final String lateRule;
  final EventSchema schema;
  private final EventPredicate filter;
  /** The aggregations' {@code where} conditions; null when none has one. */
  private final WhereConditions where;
  private final KeyExtractor key;
  /** How the group key's text is written, which a read's key is brought to ({@link #readKey}). */
  private final Expressions.KeyShape keyShape;
  /** The key of every event when the view groups by a constant (fast paths only), else null. */
  private final byte[] constantKey;
  private final int constantKeyHash;
  final WindowSpec window;
  final String[] names;
  /** Reads a long as {@link DataOutput#writeLong} wrote it. */
  private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  final Aggregation[] aggregations;
  /** Whether every aggregation is {@link Aggregation#splitInvariant}. */
  final boolean splitInvariant;
  private final int[] argField;
  private final FieldType[] argType;
  private final int[] longBase;
  /** Per aggregation, {@link NumericFold#resultForm}. */
  private final int[] resultForms;
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
  /** Per aggregation, whether it is a user (registered, not built-in) one; null when none is. */
  private final boolean[] userAggregations;
  /**
   * A fused row's zero, copied by {@link #zero}: built-in zeros are constants, and setting them
   * through an {@code AccumulatorState} and a call per aggregation was 5 % of the samples of Q17's
   * combining batch fold. Null for other rows, which are zeroed one aggregation at a time.
   */
  private final long[] zeroRow;

  // Window kinds, as ints for one switch on the fold path.
  static final int NO_WINDOW = 0;
  static final int TUMBLING = 1;
  static final int ZONED = 2;
  static final int HOPPING = 3;
  static final int SESSION = 4;
  /** One of the kinds above. */
  final int windowKind;
  /** Tumbling/hopping size, or the session gap, in millis. */
  private final long windowSize;
  private final long windowEvery;
  /**
   * For session windows, the long slot (after the aggregations' slots) that holds the fragment's
   * last event time; -1 otherwise. A session view's group is a <em>fragment</em>: events of one key
   * that are connected (each less than the gap from the next), keyed by its first event time, with
   * the last one here. Fragments are merged by {@link #merge} (max) like any slot; a read merges
   * fragments whose spans {@code [first, last + gap)} overlap (see {@code ViewRuntime}).
   */
  final int sessionSlot;
  /** {@code allowed_lateness} in millis, or -1 when the view has none (the speed layer adds every event). */
  final long allowedLateness;

  /** {@link #applyTimed} result bit: the event went into at least one window. */
  static final int FOLDED = 1;
  /** {@link #applyTimed} result bit: at least one of the event's windows had closed too long ago. */
  static final int LATE = 2;
  /**
   * {@link #applyTimed} result: the event has no group key (its {@code group_by} value is null), so
   * the view leaves it out.
   */
  static final int NULL_KEY = 4;

  /**
   * What the layers log, once per partition and version, when this view leaves out an event for
   * {@link #NULL_KEY} (where SQL would make a NULL group, a user may expect it counted somewhere).
   */
  String nullKeyNote(String stream, int partition, long offset) {
    return String.format("view '%s': the event at offset %d of stream '%s' partition %d has no value for group_by "
        + "'%s', so the view leaves it out, as every such event (reported once per partition and version)",
        spec.name(), offset, stream, partition, spec.groupBy());
  }

  /**
   * A read's {@code key} as this view writes its group keys: a long-grouped view's {@code 070} is its
   * group {@code 70} (see {@link Expressions#canonicalKey}).
   *
   * @throws IllegalArgumentException when no group of the view can have the key (text for a long)
   */
  String readKey(String key) {
    return Expressions.canonicalKey(keyShape.form(), key, () -> "key of view '" + spec.name() + "'",
        () -> "its group_by, " + spec.groupBy() + ", is " + keyShape.type());
  }

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
    this.keyShape = ex.keyShape(spec.groupBy());
    this.constantKey = fastPaths ? key.constant() : null;
    this.constantKeyHash = constantKey == null ? 0 : GroupTable.hash(constantKey, constantKey.length);
    this.window = spec.window();
    int n = spec.aggregates().size();
    this.names = new String[n];
    this.aggregations = new Aggregation[n];
    this.argField = new int[n];
    this.argType = new FieldType[n];
    this.longBase = new int[n];
    this.objectBase = new int[n];
    String[] conditions = new String[n];
    int lw = 0;
    int ow = 0;
    int i = 0;
    boolean[] user = new boolean[n];
    boolean anyUser = false;
    for (Map.Entry<String, String> e : spec.aggregates().entrySet()) {
      AggregateCall call = Aggregations.parse(e.getValue());
      names[i] = e.getKey();
      conditions[i] = call.where();
      if (call.field() == null) {
        argField[i] = -1;
      } else {
        EventSchema.Field f = schema.require(call.field());
        argField[i] = f.index();
        argType[i] = f.type();
      }
      aggregations[i] = Aggregations.create(call, argType[i]);
      user[i] = !Aggregations.isBuiltIn(call.function());
      anyUser |= user[i];
      longBase[i] = lw;
      objectBase[i] = ow;
      lw += aggregations[i].longSlots();
      ow += aggregations[i].objectSlots();
      i++;
    }
    WindowSpec w = spec.window();
    this.windowKind = w == null ? NO_WINDOW
        : switch (w.kind()) {
          case TUMBLING -> w.zoned() ? ZONED : TUMBLING;
          case HOPPING -> HOPPING;
          case SESSION -> SESSION;
        };
    this.windowSize = w == null ? 0 : w.sizeMillis();
    this.windowEvery = w != null && w.kind() == WindowSpec.Kind.HOPPING ? w.every().toMillis() : 0;
    this.sessionSlot = windowKind == SESSION ? lw++ : -1;
    this.splitInvariant = java.util.Arrays.stream(aggregations).allMatch(Aggregation::splitInvariant);
    this.allowedLateness = spec.allowedLateness() == null ? -1 : spec.allowedLateness().toMillis();
    this.lateRule = lateRule(spec);
    this.where = WhereConditions.of(ex, conditions);
    this.longWidth = lw;
    this.objectWidth = ow;
    this.userAggregations = anyUser ? user : null;
    this.recordKeyField = fastPaths && BatchLayer.isKeyPartitioned(this) ? schema.key().index() : -1;
    this.fused = fastPaths ? NumericFold.of(aggregations, argField, argType, longBase) : null;
    this.resultForms = new int[n];
    for (int a = 0; a < n; a++) {
      resultForms[a] = NumericFold.resultForm(aggregations[a]);
    }
    if (fused != null && objectWidth == 0) {
      long[] z = new long[longWidth];
      zeroEach(z, 0, new Object[0], 0);
      this.zeroRow = z;
    } else {
      this.zeroRow = null;
    }
  }

  /** Whether the fold looks up records' own key slices (see {@link #recordKeyField}). */
  boolean groupsByRecordKey() {
    return recordKeyField >= 0;
  }

  /** Whether the fold adds with a {@link NumericFold} rather than through each aggregation's {@code add}. */
  boolean isFused() {
    return fused != null;
  }

  /** The fused add of the row, or null when the row is folded the generic way. */
  NumericFold fusedFold() {
    return fused;
  }

  /** The stream's key field when the fold looks up records' own key slices, else -1. */
  int recordKeyField() {
    return recordKeyField;
  }

  /** Whether the view's filter (if any) accepts the event; exceptions from the filter propagate. */
  boolean accepts(EventReader e) {
    return filter == null || filter.test(e);
  }

  /** Whether some aggregation has a {@code where} condition. */
  boolean hasConditions() {
    return where != null;
  }

  /** The aggregations' compiled {@code where} conditions; null when none has one. */
  WhereConditions whereConditions() {
    return where;
  }

  /**
   * Whether the view takes the event: its filter accepts it; then sets {@code x.skip} to the
   * aggregations whose {@code where} condition rejects it. Exceptions from the filter or a condition
   * propagate (the event is then skipped whole).
   */
  boolean admit(EventReader e, Scratch x) {
    if (windowKind != NO_WINDOW && !inWindowRange(e.eventTime())) {
      throw new IllegalArgumentException(outOfRange(e.eventTime()));
    }
    if (filter != null && !filter.test(e)) {
      return false;
    }
    if (where != null) {
      where.fill(e, x.skip);
    }
    return true;
  }

  /**
   * Whether a window can hold event time {@code t}: ingest refuses times outside the years
   * 0000-9999, but a log written before that check may hold them, and a window of such a time
   * overflows. A windowed view skips and counts such an event (it fails as an expression would), and
   * it moves no watermark.
   */
  static boolean inWindowRange(long t) {
    return t >= dev.braid.event.EventEncoder.MIN_EVENT_TIME && t <= dev.braid.event.EventEncoder.MAX_EVENT_TIME;
  }

  private static String outOfRange(long t) {
    return "event time " + t + " is outside the years 0000-9999 (epoch millis "
        + dev.braid.event.EventEncoder.MIN_EVENT_TIME + " to " + dev.braid.event.EventEncoder.MAX_EVENT_TIME
        + "), so no window can hold it; it was appended by a Braid build that did not check the time";
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
    /** The zoned window the last event fell in, so the fold calls {@code java.time} once per window. */
    long zonedStart = 1;
    long zonedEnd = 0;
    /**
     * A folded event's key is marked changed for the changes feed when the event time is below this
     * (or the event made a group); {@code Long.MAX_VALUE}, the default, marks every folded event.
     * The speed layer sets it per chunk from the watermark ({@link ViewProgram#markBelow}).
     */
    long markBelow = Long.MAX_VALUE;
    /** The table whose id of the constant key {@link #keyId} is, and its clear count then (see {@code constantKeyId}). */
    GroupTable keyTable;
    int keyTableClears;
    int keyId;
    /**
     * The current event's skip mask, bit {@code i} for aggregation {@code i}: set by {@link #admit}
     * when a {@code where} condition rejects the event; all zero in views without conditions.
     */
    final long[] skip;
    /** Slots for the user aggregations' per-event accumulators ({@code addUserAggregations}); made on first use. */
    UserScratch user;

    BaseFile.StateBytes stateBytes() {
      return stateBytes;
    }

    Scratch(EventSchema schema, int aggregations) {
      this.reader = new EventReader(schema);
      this.skip = new long[(aggregations + 63) >>> 6];
    }
  }

  Scratch scratch() {
    return new Scratch(schema, aggregations.length);
  }

  GroupTable newTable(int expectedKeys) {
    return new GroupTable(longWidth, objectWidth, expectedKeys, this::zero, window != null);
  }

  /** Sets the row at the given bases to every aggregation's zero. */
  void zero(long[] longs, int lb, Object[] objects, int ob) {
    if (zeroRow != null) {
      System.arraycopy(zeroRow, 0, longs, lb, longWidth);
      return;
    }
    zeroEach(longs, lb, objects, ob);
  }

  private void zeroEach(long[] longs, int lb, Object[] objects, int ob) {
    AccumulatorState s = new AccumulatorState();
    for (int i = 0; i < aggregations.length; i++) {
      s.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      aggregations[i].zero(s);
    }
    if (sessionSlot >= 0) {
      longs[lb + sessionSlot] = Long.MIN_VALUE;
    }
  }

  /** The end (exclusive) of the window that starts at {@code start}, for a row of it; a session's from its last event. */
  long windowEnd(long start, long[] longs, int lb) {
    return sessionSlot >= 0 ? longs[lb + sessionSlot] + windowSize : window.end(start);
  }

  /**
   * The lateness bound at or above which no event that is not late can change a window ending at
   * {@code end}, so the window is closed: {@code end} itself, except for a session, which closes one
   * gap later. An event is late for a session only when its own {@code [t, t + gap)} ends at or
   * before the bound ({@link #foldWindows}), so an event up to a gap before the bound is still
   * added, and it joins a session whose last event is less than a gap before it: only once the bound
   * reaches the last event plus twice the gap (the session's end plus one gap) can no such event
   * join the session or start a fragment that connects to it.
   */
  long closesAt(long end) {
    long r = end + closeDelay();
    return r < end ? Long.MAX_VALUE : r; // saturates (the delay is not negative)
  }

  /** How far past its end the lateness bound must be for a window to close (see {@link #closesAt}). */
  long closeDelay() {
    return windowKind == SESSION ? windowSize : 0;
  }

  /**
   * What window retention compares with the horizon for a group of the window that starts at
   * {@code start}: a group whose key is below the horizon is evicted. For tumbling and hopping
   * windows the start. For a session fragment its end minus one ({@code last event + gap - 1}):
   * evicting a fragment by its start could cut a session that began before the horizon in two and
   * leave its later fragments as a session of their own, starting after the horizon, that no
   * event ever formed. A fragment dropped by its end, though, only ever connected to fragments
   * that start before the horizon, so every session that starts at or after it stays whole; a read
   * hides the sessions that start before it.
   */
  long retentionKey(long start, long[] longs, int lb) {
    return sessionSlot >= 0 ? longs[lb + sessionSlot] + (windowSize - 1) : start;
  }

  /**
   * {@link #retentionKey(long, long[], int)} of a row serialized by {@link #writeRow} in
   * {@code state[off, off + len)}.
   */
  long retentionKey(long start, byte[] state, int off, int len) {
    if (sessionSlot < 0) {
      return start;
    }
    long last = (long) LONG.get(state, off + len - 8); // the session's last event: the row's last long
    return last + (windowSize - 1);
  }

  /**
   * What decides which events of the log a view's speed layer finds late, as a short text: a hash of
   * its filter, group key, window and {@code allowed_lateness} (the watermark is the stream's). Two
   * versions of a view with the same rule find the same events late, so the late log records each
   * once per view and rule (a batch cycle's version adds nothing; a reprocess that changes the
   * window or the lateness records what it finds late itself).
   */
  static String lateRule(ViewSpec spec) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    String text = spec.filter() + "\u0000" + spec.groupBy() + "\u0000" + spec.window() + "\u0000"
        + spec.allowedLateness();
    crc.update(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return String.format("%08x", crc.getValue());
  }

  /** The session gap in millis (session views only). */
  long sessionGap() {
    return windowSize;
  }

  /**
   * The distance between two window starts when every window starts at a multiple of it (tumbling
   * without a zone: the size; hopping: {@code every}); 0 for zoned, session and no windows.
   */
  long windowStep() {
    return windowKind == TUMBLING ? windowSize : windowKind == HOPPING ? windowEvery : 0L;
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
    if (!admit(e, x)) {
      return false;
    }
    if (userAggregations != null) {
      addUserAggregations(e, x);
    }
    int keyId;
    if (constantKey != null) {
      keyId = constantKeyId(table, x);
    } else {
      if (!key.extract(e, x.key)) {
        return false;
      }
      byte[] kb = x.key.bytes();
      int kl = x.key.length();
      keyId = table.findOrInsertKey(kb, kl, GroupTable.hash(kb, kl));
    }
    try {
      fold(table, keyId, e, x);
    } finally {
      table.markChanged(keyId); // also when a value fails part way: the group may be made or changed
    }
    return true;
  }

  /**
   * Folds record {@code j} of chunk {@code k}, read from {@code partition}, into {@code table}:
   * points {@code x.reader} at it, then does what {@link #apply(GroupTable, Scratch)} does. When the
   * view groups by the stream's key, the group key is the record's key slice, looked up with the
   * chunk's hash: {@code EventEncoder} writes a record's key as the key field's text, the bytes
   * that {@code Expressions.key} would extract (tested for every field type), and a null key field
   * skips the event here as it does there. Returns {@link #FOLDED}, {@link #NULL_KEY} for an event
   * without a group key, or 0 when the filter rejects it.
   */
  int apply(GroupTable table, Scratch x, RecordChunk k, int j, int partition) {
    return applyTimed(table, x, k, j, partition, Long.MIN_VALUE);
  }

  /**
   * Folds record {@code j} of chunk {@code k} as {@link #apply(GroupTable, Scratch, RecordChunk, int, int)}
   * does, except into windows that end at or before {@code lateEnd} (the speed layer passes its
   * partition's watermark minus {@code allowed_lateness}; {@code Long.MIN_VALUE} adds to every window).
   * Returns a mask of {@link #FOLDED} and {@link #LATE}; {@link #NULL_KEY} when its key is null; 0 when the
   * filter rejects the event.
   * A folded event's key is marked changed in {@code table} when a changes-feed pass may need it
   * (see {@link #markIfPassNeedsIt}).
   */
  int applyTimed(GroupTable table, Scratch x, RecordChunk k, int j, int partition, long lateEnd) {
    EventReader e = x.reader.wrap(k.buffer[j], k.valueOffset[j], k.valueLength[j]).at(partition, k.offset[j],
        k.eventTime[j]);
    if (!admit(e, x)) {
      return 0;
    }
    if (userAggregations != null) {
      addUserAggregations(e, x);
    }
    int keyId;
    if (constantKey != null) {
      keyId = constantKeyId(table, x);
    } else if (recordKeyField < 0) {
      if (!key.extract(e, x.key)) {
        return NULL_KEY;
      }
      byte[] kb = x.key.bytes();
      int kl = x.key.length();
      keyId = table.findOrInsertKey(kb, kl, GroupTable.hash(kb, kl));
    } else {
      if (e.isNull(recordKeyField)) {
        return NULL_KEY;
      }
      keyId = table.findOrInsertKey(k.buffer[j], k.keyOffset[j], k.keyLength[j], k.hash[j]);
    }
    int groups = table.groupCount();
    try {
      if (windowKind <= TUMBLING && lateEnd == Long.MIN_VALUE) {
        fold(table, keyId, e, x);
        markIfPassNeedsIt(table, keyId, groups, e, x);
        return FOLDED;
      }
      int r = foldWindows(table, keyId, e, x, lateEnd);
      if ((r & FOLDED) != 0) {
        markIfPassNeedsIt(table, keyId, groups, e, x);
      }
      return r;
    } catch (RuntimeException failed) {
      // a value that fails to read part way leaves a group made or partly updated (as the batch
      // layer's fold does too): the changes feed must read the key
      table.markChanged(keyId);
      throw failed;
    }
  }

  /**
   * Marks the key of an event just folded for the changes feed when a pass needs to know of it:
   * {@link GroupTable#markChanged} when its time is below {@code x.markBelow}, so one of its windows
   * may be closed already (a correction: the pass reads the key); else
   * {@link GroupTable#markOpened} when it created a group (a pass must learn when the new window
   * closes, which the Delta's table tells without a read). An event whose windows all end after
   * that line and that created no group changes only windows a pass already knows are open; the
   * pass that closes them reads the key (see {@code ChangeFeed}).
   */
  private static void markIfPassNeedsIt(GroupTable table, int keyId, int groupsBefore, EventReader e, Scratch x) {
    if (e.eventTime() < x.markBelow) {
      table.markChanged(keyId);
    } else if (table.groupCount() != groupsBefore) {
      table.markOpened(keyId);
    }
  }

  /**
   * The {@link Scratch#markBelow} for a fold while the stream's watermark is {@code watermark} (as
   * read after the fold took its Delta's write lock): the changes feed's close line there, the
   * watermark minus {@code allowed_lateness}. A window holding an event at or after it ends after
   * it, so it is still open for every pass that drained the Delta before this fold. Sessions can
   * grow and merge, so their keys are marked for every event ({@code Long.MAX_VALUE}).
   */
  long markBelow(long watermark) {
    if (windowKind == SESSION || windowKind == NO_WINDOW) {
      return Long.MAX_VALUE;
    }
    long lateness = Math.max(0, allowedLateness);
    return watermark < Long.MIN_VALUE + lateness + 1 ? Long.MIN_VALUE : watermark - lateness;
  }

  /**
   * Folds record {@code j} of chunk {@code k} into the Delta {@code pd} the way the speed layer
   * (and a replay into a Delta) does, with the Delta's write lock held: the partition's largest
   * event time moves first, then, for a view with {@code allowed_lateness}, windows that end at or
   * before {@code maxEventTime - maxOutOfOrder - allowedLateness} are left out ({@code maxEventTime}
   * at least the seed of a partition that was idle at the cut, see {@link PartitionDelta#lateReference}). The decision
   * depends only on the partition's records up to this one, so every replay makes the same one.
   * Returns a mask of {@link #FOLDED} and {@link #LATE}, or {@link #NULL_KEY}; a late event counts in
   * {@link PartitionDelta#droppedLate}, an event without a key in {@link PartitionDelta#withoutKey}.
   */
  int applySpeed(PartitionDelta pd, Scratch x, RecordChunk k, int j, long maxOutOfOrder) {
    long et = k.eventTime[j];
    if (et > pd.maxEventTime && inWindowRange(et)) {
      pd.maxEventTime = et;
    }
    int r = allowedLateness < 0 ? applyTimed(pd.table, x, k, j, pd.partition, Long.MIN_VALUE)
        : applyTimed(pd.table, x, k, j, pd.partition, lateEnd(pd.lateReference(), maxOutOfOrder));
    if (r != FOLDED) {
      if ((r & LATE) != 0) {
        pd.droppedLate++;
      } else if (r == NULL_KEY) {
        pd.withoutKey++;
      }
    }
    return r;
  }

  /**
   * The id of the one key of a view grouped by a constant in {@code table}: looked up (and
   * inserted) once per table, again only after the table was cleared, instead of hashed and
   * compared per event.
   */
  private int constantKeyId(GroupTable table, Scratch x) {
    if (x.keyTable != table || x.keyTableClears != table.clears()) {
      x.keyId = table.findOrInsertKey(constantKey, constantKey.length, constantKeyHash);
      x.keyTable = table;
      x.keyTableClears = table.clears();
    }
    return x.keyId;
  }

  /** Windows ending at or before this are closed for good at a partition whose largest event time is {@code max}. */
  long lateEnd(long max, long maxOutOfOrder) {
    if (allowedLateness < 0 || max == Long.MIN_VALUE) {
      return Long.MIN_VALUE;
    }
    long back = maxOutOfOrder + allowedLateness;
    return back < 0 || max < Long.MIN_VALUE + back + 1 ? Long.MIN_VALUE : max - back;
  }

  /** Adds event {@code e} to its group (of key {@code keyId} and the event's window). */
  private void fold(GroupTable table, int keyId, EventReader e, Scratch x) {
    if (windowKind > TUMBLING) {
      foldWindows(table, keyId, e, x, Long.MIN_VALUE);
      return;
    }
    int g = table.findOrInsertGroup(keyId, window == null ? 0 : Math.floorDiv(e.eventTime(), windowSize) * windowSize);
    addTo(table, g, e, x);
  }

  /**
   * Adds event {@code e} to every window of key {@code keyId} that holds it and ends after
   * {@code lateEnd}; returns {@link #FOLDED} and/or {@link #LATE}. Allocates nothing (a zoned window
   * calls {@code java.time} only when an event leaves the last window seen).
   */
  private int foldWindows(GroupTable table, int keyId, EventReader e, Scratch x, long lateEnd) {
    long t = e.eventTime();
    boolean check = lateEnd != Long.MIN_VALUE;
    switch (windowKind) {
      case NO_WINDOW:
        addTo(table, table.findOrInsertGroup(keyId, 0), e, x);
        return FOLDED;
      case TUMBLING: {
        long s = Math.floorDiv(t, windowSize) * windowSize;
        if (check && s + windowSize <= lateEnd) {
          return LATE;
        }
        addTo(table, table.findOrInsertGroup(keyId, s), e, x);
        return FOLDED;
      }
      case ZONED: {
        if (t < x.zonedStart || t >= x.zonedEnd) {
          x.zonedStart = window.start(t);
          x.zonedEnd = window.end(x.zonedStart);
        }
        if (check && x.zonedEnd <= lateEnd) {
          return LATE;
        }
        addTo(table, table.findOrInsertGroup(keyId, x.zonedStart), e, x);
        return FOLDED;
      }
      case HOPPING: {
        int r = 0;
        long first = t - windowSize; // windows starting after this hold t
        for (long s = Math.floorDiv(t, windowEvery) * windowEvery; s > first; s -= windowEvery) {
          if (check && s + windowSize <= lateEnd) {
            r |= LATE; // older windows end earlier still
            break;
          }
          addTo(table, table.findOrInsertGroup(keyId, s), e, x);
          r |= FOLDED;
        }
        return r;
      }
      default: { // SESSION
        if (check && t + windowSize <= lateEnd) {
          return LATE;
        }
        int g = -1;
        for (int h = table.firstGroupOfKey(keyId); h >= 0; h = table.nextGroupOfKey(h)) {
          if (table.window(h) <= t && t < table.longs[h * table.stride + sessionSlot] + windowSize) {
            g = h; // t is within the gap of this fragment's events, so the fragment stays connected
            break;
          }
        }
        if (g < 0) {
          g = table.findOrInsertGroup(keyId, t);
        }
        int at = g * table.stride + sessionSlot;
        if (t > table.longs[at]) {
          table.longs[at] = t;
        }
        addTo(table, g, e, x);
        return FOLDED;
      }
    }
  }

  /** Adds event {@code e} to the row of group {@code g}. */
  private void addTo(GroupTable table, int g, EventReader e, Scratch x) {
    int lb = g * table.stride;
    if (fused != null) {
      fused.add(table.longs, lb, e, where == null ? 0L : x.skip[0]);
      return;
    }
    int ob = g * objectWidth;
    AggInput in = x.input.at(e.eventTime(), e.partition(), e.offset());
    if (userAggregations != null) {
      mergeUserAggregations(table, lb, ob, x);
    }
    for (int i = 0; i < aggregations.length; i++) {
      if (skipped(i, x) || (userAggregations != null && userAggregations[i])) {
        continue;
      }
      input(i, e, in);
      x.state.bind(table.longs, lb + longBase[i], table.objects, ob + objectBase[i]);
      aggregations[i].add(x.state, in);
    }
  }

  private boolean skipped(int i, Scratch x) {
    return where != null && (x.skip[i >>> 6] & (1L << i)) != 0;
  }

  /** Sets {@code in} to aggregation {@code i}'s argument in event {@code e}. */
  private void input(int i, EventReader e, AggInput in) {
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
  }

  /**
   * Adds the event to a zero accumulator of each user aggregation (in {@link Scratch#user}), before
   * the fold looks up or makes its key and groups: a user {@code add} that throws so leaves the view
   * as it was (no key or window made for the event, no session extended), and the event is left out
   * whole, as a failing expression leaves it. {@link #mergeUserAggregations} then merges these into
   * each group the event falls in (the laws make that the same as adding in place); the built-ins,
   * whose {@code add} never throws, add in place.
   */
  private void addUserAggregations(EventReader e, Scratch x) {
    if (x.user == null || x.user.longs.length < longWidth + 1 || x.user.objects.length < objectWidth + 1) {
      x.user = new UserScratch(new long[longWidth + 1], new Object[objectWidth + 1]);
    }
    UserScratch u = x.user;
    AggInput in = x.input.at(e.eventTime(), e.partition(), e.offset());
    for (int i = 0; i < aggregations.length; i++) {
      if (userAggregations[i] && !skipped(i, x)) {
        input(i, e, in);
        u.state.bind(u.longs, longBase[i], u.objects, objectBase[i]);
        try {
          aggregations[i].zero(u.state);
          aggregations[i].add(u.state, in);
        } catch (Error failed) {
          throw userError(i, "add", failed);
        }
      }
    }
  }

  /**
   * An {@link Error} that user aggregation {@code i} threw in {@code method} (an
   * {@code AssertionError}, a {@code StackOverflowError} of its own recursion) as the exception every
   * layer counts as a failed event, naming the aggregation; the speed layer's thread would stop on
   * the Error itself. The JVM's own errors (out of memory) are thrown as they are.
   */
  private RuntimeException userError(int i, String method, Error e) {
    return aggregationFailure("", i, method, e);
  }

  /**
   * Aggregation {@code i}'s failure {@code e} in {@code method} as an exception naming it (after
   * {@code prefix}); the JVM's own errors (out of memory) are thrown as they are.
   */
  private RuntimeException aggregationFailure(String prefix, int i, String method, Throwable e) {
    if (e instanceof VirtualMachineError && !(e instanceof StackOverflowError)) {
      throw (VirtualMachineError) e;
    }
    return new IllegalStateException(prefix + "aggregation '" + names[i] + "' (" + spec.aggregates().get(names[i])
        + ") threw in " + method + ": " + e, e);
  }

  /** Merges the event's user accumulators ({@link #addUserAggregations}) into the group at the given bases. */
  private void mergeUserAggregations(GroupTable table, int lb, int ob, Scratch x) {
    UserScratch u = x.user;
    for (int i = 0; i < aggregations.length; i++) {
      if (userAggregations[i] && !skipped(i, x)) {
        x.state.bind(table.longs, lb + longBase[i], table.objects, ob + objectBase[i]);
        u.state.bind(u.longs, longBase[i], u.objects, objectBase[i]);
        try {
          aggregations[i].merge(x.state, u.state);
        } catch (Error e) {
          throw userError(i, "merge", e);
        }
      }
    }
  }

  /** A row's worth of accumulator slots for {@link #addUserAggregations}, per thread. */
  static final class UserScratch {
    final long[] longs;
    final Object[] objects;
    final AccumulatorState state = new AccumulatorState();

    UserScratch(long[] longs, Object[] objects) {
      this.longs = longs;
      this.objects = objects;
    }
  }

  /** Merges row {@code from} into row {@code into} (both given by their arrays and bases). */
  void merge(long[] intoLongs, int intoLb, Object[] intoObjects, int intoOb, long[] fromLongs, int fromLb,
      Object[] fromObjects, int fromOb, Scratch x) {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(intoLongs, intoLb + longBase[i], intoObjects, intoOb + objectBase[i]);
      x.other.bind(fromLongs, fromLb + longBase[i], fromObjects, fromOb + objectBase[i]);
      try {
        aggregations[i].merge(x.state, x.other);
      } catch (RuntimeException | Error e) { // only a user aggregation's can: name it and the view
        throw failedIn(i, "merge", e);
      }
    }
    if (sessionSlot >= 0 && fromLongs[fromLb + sessionSlot] > intoLongs[intoLb + sessionSlot]) {
      intoLongs[intoLb + sessionSlot] = fromLongs[fromLb + sessionSlot];
    }
  }

  /** The named results of a row, in the view's order (an immutable map). */
  Map<String, Object> result(long[] longs, int lb, Object[] objects, int ob, Scratch x) {
    Object[] values = new Object[aggregations.length];
    for (int i = 0; i < aggregations.length; i++) {
      values[i] = result(i, longs, lb, objects, ob, x);
    }
    return new ResultValues(names, values);
  }

  /** How many aggregations the row holds. */
  int aggregationCount() {
    return aggregations.length;
  }

  /** The name of aggregation {@code i}, its key in {@link #result}. */
  String name(int i) {
    return names[i];
  }

  /** How aggregation {@code i}'s result reads from its slots ({@link NumericFold#resultForm}). */
  int resultForm(int i) {
    return resultForms[i];
  }

  /** Where aggregation {@code i}'s long slots start in a row. */
  int longSlot(int i) {
    return longBase[i];
  }

  /** The result of aggregation {@code i} of the row at the given bases. */
  Object result(int i, long[] longs, int lb, Object[] objects, int ob, Scratch x) {
    x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
    try {
      return aggregations[i].result(x.state);
    } catch (RuntimeException | Error e) { // only a user aggregation's can: name it and the view
      throw failedIn(i, "result", e);
    }
  }

  /**
   * What aggregation {@code i} threw in {@code method} on a path that has no event to leave out (a
   * read's merge of Base and Delta, a result), as an exception that names the view and the
   * aggregation; the JVM's own errors (out of memory) are thrown as they are.
   */
  private RuntimeException failedIn(int i, String method, Throwable e) {
    return aggregationFailure("view '" + spec.name() + "': ", i, method, e);
  }

  void writeRow(DataOutput out, long[] longs, int lb, Object[] objects, int ob, Scratch x) throws IOException {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      try {
        aggregations[i].write(x.state, out);
      } catch (RuntimeException e) {
        throw new IllegalStateException("the accumulator of aggregation '" + names[i] + "' ("
            + spec.aggregates().get(names[i]) + ") does not write: " + e, e);
      } catch (IOException e) {
        if (userAggregations == null || !userAggregations[i]) {
          throw e; // a built-in's write fails only where its output does: the file's error, as it is
        }
        // a user aggregation's own code may throw it too: the failure names the accumulator it wrote
        throw new IOException("writing the accumulator of view '" + spec.name() + "' aggregation '" + names[i]
            + "' (" + spec.aggregates().get(names[i]) + ") failed: " + e, e);
      }
    }
    if (sessionSlot >= 0) {
      out.writeLong(longs[lb + sessionSlot]);
    }
  }

  void readRow(DataInput in, long[] longs, int lb, Object[] objects, int ob, Scratch x) throws IOException {
    for (int i = 0; i < aggregations.length; i++) {
      x.state.bind(longs, lb + longBase[i], objects, ob + objectBase[i]);
      try {
        aggregations[i].read(x.state, in);
      } catch (IOException | RuntimeException e) {
        throw new IOException("the accumulator of aggregation '" + names[i] + "' (" + spec.aggregates().get(names[i])
            + ") does not read" + (i == 0 ? "" : " (or one before it in the row read more or less than it wrote)")
            + ": " + e.getMessage(), e);
      }
    }
    if (sessionSlot >= 0) {
      longs[lb + sessionSlot] = in.readLong();
    }
  }

  List<String> names() {
    return List.of(names);
  }
}
