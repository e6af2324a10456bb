package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.LateEvent;
import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The late log of one stream: the events that a view's speed layer left out because they came
 * later than the view's {@code allowed_lateness}, one JSON record each in the one-partition log
 * stream {@code <stream>.late}.
 *
 * <h2>Once per view, rule and event</h2>
 * Lateness decisions depend only on the log and the view's {@linkplain ViewProgram#lateRule rule}
 * (filter, group key, window, {@code allowed_lateness}; see {@link ViewProgram#applySpeed}), so a
 * replay with the same rule (a restart, a batch cycle's new Delta catching up, a rollback) meets the
 * same late events again. The log keeps, per view, rule and partition, the next event offset not
 * yet recorded; events below it are not recorded twice. A reprocess whose new definition changes
 * the rule replays the log under its own marks, so the events it leaves out are recorded too, also
 * those the old rule had found late. {@link #recover} rebuilds the marks and counts from the late
 * log when the engine opens; records written before rules were recorded carry none and are
 * {@linkplain #adoptUnruled adopted} by the rule of the view's serving version. A partition's marks
 * are advanced by that partition's speed-layer thread and by the threads that replay it into a
 * reprocess's new version, each {@linkplain #claim claiming} an event before it writes it, so an event
 * that both meet is recorded once.
 *
 * <h2>Reads after counts</h2>
 * {@code status} counts an event when it is claimed, before it is written; {@link #read} waits
 * (up to {@link #READ_WAIT_MILLIS}) for the events claimed before it began to be written, so a
 * reader that saw a count finds the events it counts.
 *
 * <h2>Durability</h2>
 * The late log has the stream's durability but is written after the Delta moved; a crash between
 * the two can lose a record (the event itself stays in the stream's log and the batch layer still
 * folds it in: the late log is a record for operators, not the way late data reaches the Base).
 */
final class LateLog {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LateLog.class);

  /** The suffix of a stream's late log in the {@link dev.braid.log.Log}. */
  static final String SUFFIX = ".late";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LogStream log;
  private final int partitions;
  private final LongSupplier clock;
  /** How long {@link #read} waits at most for claimed events to be written. */
  static final long READ_WAIT_MILLIS = 2_000;
  /** Claimed events ({@link #claim}) not yet written ({@link #record}) nor given up; guarded by itself. */
  private final java.util.Set<Claim> unwritten = new java.util.HashSet<>();

  /** One claimed late event: of a view, under a rule, at an offset of a partition. */
  private record Claim(String view, String rule, int partition, long offset) {}
  /** Per view, per lateness rule: what is recorded. */
  private final Map<String, Map<String, Marks>> marks = new ConcurrentHashMap<>();
  /**
   * Per view: the late-log offset of its last {@link #forget} record (a drop of a view of that name);
   * its records before it belong to the dropped view.
   */
  private final Map<String, Long> forgotten = new ConcurrentHashMap<>();
  /** Per view: the rule that its records without a rule were given to ({@link #adoptUnruled}). */
  private final Map<String, String> adopted = new ConcurrentHashMap<>();

  /** Of one view and rule: per partition the next event offset not yet claimed ({@link #claim}), and how many are. */
  private record Marks(AtomicLongArray next, AtomicLong count) {

    void recorded(int partition, long offset) {
      next.accumulateAndGet(partition, offset + 1, Math::max);
      count.incrementAndGet();
    }
  }

  LateLog(LogStream log, int partitions, LongSupplier clock) {
    this.log = log;
    this.partitions = partitions;
    this.clock = clock;
  }

  /** One late event met by a speed-layer or replay thread under lateness rule {@code rule}, not yet written. */
  record Pending(String view, String rule, int partition, long offset, String key, long eventTime, long watermark) {

    /**
     * The late event at {@code k}'s record {@code j}, of {@code program}'s view and rule, found late
     * against {@code lateReference} (the partition Delta's {@link PartitionDelta#lateReference}).
     */
    static Pending of(ViewProgram program, int partition, RecordChunk k, int j, long lateReference,
        long maxOutOfOrder) {
      byte[] key = new byte[k.keyLength[j]];
      k.buffer[j].get(k.keyOffset[j], key);
      return new Pending(program.spec.name(), program.lateRule, partition, k.offset[j],
          new String(key, StandardCharsets.UTF_8), k.eventTime[j],
          lateReference == Long.MIN_VALUE ? lateReference : lateReference - maxOutOfOrder);
    }

    Claim claim() {
      return new Claim(view, rule, partition, offset);
    }
  }

  /** The rule of records written before rules were recorded, until {@link #adoptUnruled}. */
  private static final String UNRULED = "";

  /** Rebuilds the marks and counts from the late log, as if the stream's log holds every offset. */
  void recover() {
    recover(null);
  }

  /**
   * Rebuilds the marks and counts from the late log. {@code streamEnd} is where the stream's log
   * ends now (null: not checked): records of offsets at or past it are of events the log lost with its
   * tail (a power loss under durability {@code os} or {@code interval}), and new events get those
   * offsets again. They count for nothing, and a record saying so is appended once ({@code "lost"}),
   * so that a later start, when the log has grown past them again, does not take them for the new
   * events' records; the new events are then claimed and recorded as any other.
   */
  void recover(Cut streamEnd) {
    lost.clear();
    forEach(0, Long.MAX_VALUE, LOST_KEY, (c, o) -> { // parses only the lost records: a scan of keys
      lost.add(new Lost(c.offset(), o.path("partition").asInt(), o.path("end").asLong()));
      return true;
    });
    long[] beyond = rebuildMarks(streamEnd);
    boolean appended = false;
    for (int p = 0; p < beyond.length; p++) {
      if (beyond[p] > 0) {
        appendLost(p, streamEnd.offset(p));
        LOG.warn("late log '{}': {} records name events at or past offset {} of partition {}, which the stream's log "
            + "no longer holds (it lost its tail): they count for nothing now", log.name(), beyond[p],
            streamEnd.offset(p), p);
        appended = true;
      }
    }
    if (appended) {
      rebuildMarks(null);
    }
  }

  /**
   * Marks and counts from the records that a {@code lost} record does not void; returns per
   * partition how many of those name an offset at or past {@code streamEnd} (none when null).
   */
  private long[] rebuildMarks(Cut streamEnd) {
    marks.clear();
    forgotten.clear();
    long[] beyond = new long[partitions];
    forEach(0, Long.MAX_VALUE, (c, o) -> {
      String view = o.path("view").asText();
      if (o.path("lost").asBoolean(false)) {
        return true;
      }
      if (o.path("forget").asBoolean(false)) {
        marks.remove(view);
        forgotten.put(view, c.offset());
        return true;
      }
      int partition = o.path("partition").asInt();
      long offset = o.path("offset").asLong();
      if (!isLost(c.offset(), partition, offset)) {
        marks(view, o.path("rule").asText(UNRULED)).recorded(partition, offset);
        if (streamEnd != null && partition < beyond.length && offset >= streamEnd.offset(partition)) {
          beyond[partition]++;
        }
      }
      return true;
    });
    return beyond;
  }

  /** A {@code lost} record: the records before it ({@code lateOffset}) of offsets from {@code end} of a partition. */
  private record Lost(long lateOffset, int partition, long end) {}

  private final List<Lost> lost = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Whether the record at {@code lateOffset} names an event that its stream's log lost. */
  private boolean isLost(long lateOffset, int partition, long offset) {
    for (Lost l : lost) {
      if (lateOffset < l.lateOffset() && partition == l.partition() && offset >= l.end()) {
        return true;
      }
    }
    return false;
  }

  private synchronized void appendLost(int partition, long end) {
    RecordBatchBuilder b = new RecordBatchBuilder(256, log.config().maxRecordBytes());
    try {
      b.add(LOST_KEY, JSON.writeValueAsBytes(JSON.createObjectNode().put("lost", true).put("partition", partition)
          .put("end", end)), clock.getAsLong(), clock.getAsLong());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    lost.add(new Lost(log.append(0, b).firstOffset(), partition, end));
  }

  private static final byte[] LOST_KEY = "*lost".getBytes(StandardCharsets.UTF_8);

  /** The views this late log holds marks for (records not forgotten since). */
  java.util.Set<String> viewsRecorded() {
    return java.util.Set.copyOf(marks.keySet());
  }

  /**
   * Records that view {@code view} was dropped: its late events stay in the log, but count for no
   * view of that name from here on (a new one starts with no marks, so it records its own), and
   * {@link #read} shows them as not {@code current}. Writes nothing when the log has no record of it.
   */
  synchronized void forget(String view) {
    if (!marks.containsKey(view)) {
      return;
    }
    RecordBatchBuilder b = new RecordBatchBuilder(256, log.config().maxRecordBytes());
    try {
      b.add(view.getBytes(StandardCharsets.UTF_8), JSON.writeValueAsBytes(JSON.createObjectNode().put("view", view)
          .put("forget", true)), clock.getAsLong(), clock.getAsLong());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long offset = log.append(0, b).firstOffset();
    marks.remove(view);
    adopted.remove(view);
    forgotten.put(view, offset);
  }

  /**
   * Gives the records of {@code view} that carry no rule (written before rules were recorded, when a
   * view had one set of marks) to {@code rule}, the rule of the version that serves the view now;
   * called before the view's versions replay anything.
   */
  void adoptUnruled(String view, String rule) {
    Map<String, Marks> rules = marks.get(view);
    Marks old = rules == null ? null : rules.remove(UNRULED);
    adopted.put(view, rule);
    if (old != null) {
      Marks m = marks(view, rule);
      for (int p = 0; p < partitions; p++) {
        m.next().accumulateAndGet(p, old.next().get(p), Math::max);
      }
      m.count().addAndGet(old.count().get());
    }
  }

  private Marks marks(String view, String rule) {
    return marks.computeIfAbsent(view, v -> new ConcurrentHashMap<>())
        .computeIfAbsent(rule, r -> new Marks(new AtomicLongArray(partitions), new AtomicLong()));
  }

  /**
   * Claims the late event at {@code offset} of {@code partition} for the late log of {@code view}
   * under lateness rule {@code rule}: true, and counted at once, the first time; false if it was
   * claimed or recorded before. While a batch cycle's new version catches up, the old and the new
   * Delta of a view both fold the same records and both find the same events late, and a reprocess's
   * replay and the speed layer can meet the same event under the same rule: each is claimed once.
   * One mark per partition tells: each thread folds a partition's records in offset order, Delta by
   * Delta over a chunk, and Deltas of one view and rule (a batch cycle's old and new) decide lateness
   * alike, so an event late for the second is late for the first wherever both fold it. The caller
   * claims while it holds the Delta's write lock, before it advances the Delta's position, and
   * {@linkplain #recordClaimed records} the claimed events after: {@code status} then counts every
   * late event below the position it reports.
   */
  boolean claim(String view, String rule, int partition, long offset) {
    Marks m = marks(view, rule);
    if (m.next().getAndAccumulate(partition, offset + 1, Math::max) > offset) {
      return false;
    }
    m.count().incrementAndGet();
    synchronized (unwritten) {
      unwritten.add(new Claim(view, rule, partition, offset));
    }
    return true;
  }

  /** Claimed events that are written, or that failed to be: reads stop waiting for them. */
  void release(List<Pending> pending) {
    synchronized (unwritten) {
      for (Pending p : pending) {
        unwritten.remove(p.claim());
      }
      unwritten.notifyAll();
    }
  }

  /**
   * Waits, up to {@link #READ_WAIT_MILLIS}, until the events claimed before now are written or given
   * up; returns whether they are. A checkpoint asks this once it has copied a Delta: the events
   * claimed late below the copied positions then have their records in the late log before the
   * checkpoint says they were folded, so a crash cannot lose a record whose event no replay meets
   * again.
   */
  boolean awaitClaimedWritten() {
    synchronized (unwritten) {
      if (unwritten.isEmpty()) {
        return true;
      }
      java.util.Set<Claim> before = new java.util.HashSet<>(unwritten);
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(READ_WAIT_MILLIS);
      while (true) {
        before.retainAll(unwritten);
        long left = deadline - System.nanoTime();
        if (before.isEmpty() || left <= 0) {
          return before.isEmpty();
        }
        try {
          java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(unwritten, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
  }

  /** Whether the late event at {@code offset} of {@code partition} is not yet claimed for {@code view} under {@code rule}. */
  boolean isNew(String view, String rule, int partition, long offset) {
    return offset >= marks(view, rule).next().get(partition);
  }

  /**
   * {@link #record}s the late events a speed-layer or replay thread claimed in {@code partition} of
   * the stream, then empties {@code late}. A failure is logged, not thrown: the late log is a record
   * for operators, not the data (the events stay in the stream's log).
   */
  void recordClaimed(List<Pending> late, int partition) {
    if (late.isEmpty()) {
      return;
    }
    try {
      record(late);
    } catch (RuntimeException e) {
      LOG.error("could not record {} late events of partition {} in the late log '{}'", late.size(), partition,
          log.name(), e);
    } finally {
      late.clear();
    }
  }

  /**
   * Writes claimed late events ({@link #claim}) to the late log, in order of view, rule and offset.
   * A failed write loses them from the log but not from the counts (until the next start, which
   * counts what the log holds).
   */
  synchronized void record(List<Pending> pending) {
    if (pending.isEmpty()) {
      return;
    }
    long now = clock.getAsLong();
    List<Pending> ordered = new ArrayList<>(pending);
    ordered.sort(java.util.Comparator.comparing(Pending::view).thenComparing(Pending::rule)
        .thenComparingLong(Pending::offset));
    try {
      append(ordered, now);
    } finally {
      release(pending); // written, or lost from the log (not from the counts): no reader waits for them
    }
  }

  private void append(List<Pending> ordered, long now) {
    RecordBatchBuilder b = new RecordBatchBuilder(4096, log.config().maxRecordBytes());
    for (Pending p : ordered) {
      ObjectNode o = JSON.createObjectNode();
      o.put("view", p.view()).put("rule", p.rule()).put("partition", p.partition()).put("offset", p.offset())
          .put("key", p.key()).put("eventTime", p.eventTime()).put("watermark", p.watermark());
      try {
        b.add(p.view().getBytes(StandardCharsets.UTF_8), JSON.writeValueAsBytes(o), p.eventTime(), now);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    log.append(0, b);
  }

  /** Late events recorded for {@code view} under lateness rule {@code rule} (over the late log's whole history). */
  long count(String view, String rule) {
    Map<String, Marks> rules = marks.get(view);
    Marks m = rules == null ? null : rules.get(rule);
    return m == null ? 0 : m.count().get();
  }

  /**
   * Up to {@code limit} late events from late-log offset {@code from} on; {@code currentRule} gives
   * the lateness rule of a view's current version (null for a view that has none now), which decides
   * each event's {@link LateEvent#current}.
   */
  List<LateEvent> read(long from, int limit, java.util.function.Function<String, String> currentRule) {
    awaitClaimedWritten();
    long end = log.endOffset(0);
    if (from > end) { // as for dead letters: a client paging with `next` never asks past the end
      throw new IllegalArgumentException(String.format("from %d is past the end of the late events (the next one "
          + "will be at %d): page from 0, or from the 'next' of the last page", from, end));
    }
    List<LateEvent> out = new ArrayList<>();
    forEach(from, limit, (c, o) -> {
      String view = o.path("view").asText();
      if (o.path("forget").asBoolean(false) || o.path("lost").asBoolean(false)) {
        return false; // a drop's mark, or a lost tail's: not a late event
      }
      String rule = o.path("rule").asText(UNRULED);
      if (rule.equals(UNRULED)) {
        rule = adopted.getOrDefault(view, UNRULED); // given to the rule that served when the engine opened
      }
      String current = currentRule.apply(view);
      boolean counted = current != null && rule.equals(current) && c.offset() > forgotten.getOrDefault(view, -1L)
          && !isLost(c.offset(), o.path("partition").asInt(), o.path("offset").asLong());
      out.add(new LateEvent(c.offset(), view, o.path("partition").asInt(), o.path("offset").asLong(),
          o.path("key").asText(), o.path("eventTime").asLong(), o.path("watermark").asLong(), c.ingestTime(),
          counted));
      return true;
    });
    return out;
  }

  /**
   * Gives records from late-log offset {@code from} on to {@code each}, parsed, until {@code limit}
   * of them were counted: {@code each} says whether a record counts (a {@link #forget} record does not
   * for a page of late events, so a page never ends early on one).
   */
  private void forEach(long from, long limit, java.util.function.BiPredicate<RecordCursor, JsonNode> each) {
    forEach(from, limit, null, each);
  }

  /** As above, for the records whose key is {@code key} only (null: every record); the others are not parsed. */
  private void forEach(long from, long limit, byte[] key,
      java.util.function.BiPredicate<RecordCursor, JsonNode> each) {
    if (from >= log.endOffset(0)) {
      return;
    }
    long n = 0;
    try (LogReader r = log.reader(0, Math.max(from, log.startOffset(0)))) {
      while (n < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (n < limit && c.next()) {
          any = true;
          if ((key == null || keyIs(c, key)) && each.test(c, parse(c))) {
            n++;
          }
        }
        if (!any) {
          break;
        }
      }
    }
  }

  private static boolean keyIs(RecordCursor c, byte[] key) {
    if (c.keyLength() != key.length) {
      return false;
    }
    java.nio.ByteBuffer b = c.buffer();
    for (int i = 0; i < key.length; i++) {
      if (b.get(c.keyOffset() + i) != key[i]) {
        return false;
      }
    }
    return true;
  }

  private static JsonNode parse(RecordCursor c) {
    try {
      return JSON.readTree(c.value());
    } catch (IOException e) {
      throw new IllegalStateException("late-log record at offset " + c.offset() + " is not JSON", e);
    }
  }
}
