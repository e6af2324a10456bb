package dev.braid.view;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.ChangeEvent;
import dev.braid.Subscription;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import dev.braid.spec.WindowSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The changes stream of one windowed view: the result of each window when the watermark closes
 * it, and a correction each time a closed window's result changes after that (see
 * {@link ChangeEvent} for the exact semantics). Events are JSON records in the one-partition log
 * stream {@code <view>.changes}; an event's id is its offset there.
 *
 * <h2>How windows are found</h2>
 * A <em>pass</em> reads the stream's watermark {@code W}, then keys of the current version with a
 * merged read (Base, closed-window runs and Delta), and compares each window closed at the
 * <em>close line</em> {@code W - allowed_lateness} with what the feed emitted for it: never emitted
 * (or retracted since) → {@code close}; emitted with a different result → {@code correction}; emitted
 * and no longer in the read → {@code retract}. A window is closed when its
 * end is at or below the close line; a session one gap later ({@link ViewProgram#closesAt}), since
 * until then an event that is not late can still join it. The watermark is read before the Delta's
 * locks, and a speed-layer thread publishes its largest event time inside its write lock, so the
 * reads hold every event that moved the watermark.
 *
 * <p>Which keys a pass reads:
 * <ul>
 *   <li><em>Full pass</em>: every key of the version. The first pass after the feed starts (so a
 *       restart reads once what the log may not have emitted yet), after the current version
 *       changed (a reprocess or rollback switch: a new Base can change any key), and after a pass
 *       that stopped early (a damaged Base). A batch cycle's swap is followed incrementally when
 *       the new version is an exact successor of the one the last pass read
 *       ({@link #exactSuccessorDelta}: its Base then changes no key's result, unless the replaced
 *       Delta left out a late event, which makes the pass full).
 *   <li><em>Incremental pass</em>, otherwise: (a) the keys the speed layer folded an event into
 *       since the last pass that a pass may need — each windowed Delta's table marks a folded key's
 *       id in a bit set (one bit-or on the fold path): {@link GroupTable#markChanged} when the
 *       event's time is below the close line as the fold read it under its write lock
 *       ({@code ViewProgram.markBelow}; sessions: every event), {@link GroupTable#markOpened} when
 *       the fold only made a group above it (the drain takes the new windows' ends from the table
 *       and reads the key only if one has closed since: {@link PartitionDelta#drainChanged}); an
 *       event above the line that made no group only changes windows still open, which an earlier
 *       read noted in (b) — and the pass drains
 *       the marks of every partition under its write lock <em>before</em> it reads any key, so an
 *       event folded later is either in the read or marked for the next pass (its fold reads a
 *       watermark at least this pass's); and (b) the keys
 *       whose earliest window still open at their last read closes at or below the new close line
 *       (kept by close line, {@code openByEnd}). Any other key was read after its last change with
 *       all its windows closed and compared, or with its open windows closing later: reading it again
 *       would find nothing, so a key whose windows are all closed, emitted and untouched is never
 *       read again. The cost of a pass is the keys that changed or have a window due, not the
 *       history.
 * </ul>
 * Groups only move between a Delta's table, its closed-window runs and the Base without their
 * merged results changing (a spill, a merge of runs) or disappear below the retention horizon,
 * which a read hides anyway; neither needs a read. A spill or eviction replaces the version's
 * Delta by a compacted copy whose groups are copied unmarked: the old Delta then names the copy as
 * its {@link Delta#successor} (once the copy folds every event the old one does), and the drain
 * walks from the Delta it drained last along that chain, so marks made before the copy are drained
 * from the old Delta and later ones from the copy. A chain that does not lead to the current Delta
 * means a full pass.
 *
 * <p>When a pass runs: off the ingest and read paths, and only when it can find something:
 * <ul>
 *   <li>the current version changed (a batch cycle's swap: its corrections follow within
 *       {@value #PASS_MILLIS} ms);
 *   <li>the watermark reached the <em>next close</em>: the smallest close line of a window the
 *       last pass saw open, or sooner the next boundary of the window kind after the last pass's
 *       close line (a tumbling window's end, the next hop, or one session gap), so a window created
 *       after that pass is not missed;
 *   <li>the watermark moved, or the Delta folded events without moving it, and
 *       {@value #SWEEP_MILLIS} ms have passed since the last pass: a sweep for what the two rules
 *       above cannot foresee (an event the speed layer added to a window already closed, without
 *       {@code allowed_lateness} or from a partition idle behind the watermark; a session that
 *       closes before the next boundary).
 * </ul>
 * With live traffic an incremental sweep reads the keys that received events in the last
 * {@value #SWEEP_MILLIS} s, and a pass at a window boundary the keys whose windows closed there.
 *
 * <h2>Retractions</h2>
 * A window written that its key's read no longer holds closed is retracted: a late event that a
 * batch cycle folded in merged its session into the one before, moved its start or joined it to a
 * session still open, or a reprocess or rollback changed the windows or dropped the key. The
 * compare of a key counts the windows of the read that hold one written and not retracted
 * ({@link EmittedWindows#live}): a closed window at its start, an open one only with its result and
 * end as written ({@link #windowHash}); when fewer hold, the key is noted, and after the pass's
 * reads one scan of the written windows ({@link #retract}) withdraws each of a noted key that the
 * read did not hold, above the read version's retention horizon. A full pass reads the keys with
 * windows written too ({@link #readEmittedNotRead}), so a key the version lacks is read and retracted;
 * a switch to a version without windows retracts all ({@link #retractAll}). A pass whose reads all
 * hold pays one compare per key.
 *
 * <h2>Exactly once</h2>
 * Only the feed's thread (or a test calling {@link #pass} under the same lock) writes the log. The
 * feed remembers, per emitted {@code (key, window start)}, the id and a 64-bit hash of the emitted
 * result and end; it updates that after the append, and at start loads it from the file it saved
 * and reads the log after it ({@link #recoverAtStart}), or rebuilds it from the whole log
 * ({@link #recover}), so a restart emits no window twice. An append that fails after its records
 * reached the log (an fsync that failed) and records another writer appended are read back before
 * anything is saved ({@link #takeInUnread}), so the saved file covers only records it took in.
 * Entries of windows that retention evicted
 * (below the version's horizon) are dropped; otherwise the memory is one entry per closed window,
 * about 40 bytes ({@link EmittedWindows}).
 *
 * <h2>Retention</h2>
 * The changes log is an ordinary log stream with the view stream's durability and is kept whole,
 * like every Braid stream: a client can resume from any id ever emitted.
 */
final class ChangeFeed implements AutoCloseable {

  /** The suffix of a view's changes log in the {@link dev.braid.log.Log}. */
  static final String SUFFIX = ".changes";
  static final long PASS_MILLIS = 100;
  static final long SWEEP_MILLIS = 5_000;
  private static final int APPEND_CHUNK = 512;
  private static final Logger LOG = LoggerFactory.getLogger(ChangeFeed.class);
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.USE_LONG_FOR_INTS);

  private final String view;
  private final ViewRuntime runtime;
  private final SpeedLayer speed;
  private final LogStream log;
  private final LongSupplier clock;
  // guarded by this: the emitted windows, (key, window start) -> {id, hash}
  private final EmittedWindows emitted = new EmittedWindows();
  // guarded by this: the records' JSON and the results' hashes
  private final ChangeJson json = new ChangeJson();
  private final List<Sub> subscriptions = new CopyOnWriteArrayList<>();
  /** False for a feed that reads every key at every pass (the reference of the property test). */
  private final boolean incremental;
  // The state of incremental passes, guarded by this (see the class comment).
  /** Per key with a window still open at the last pass, the close line of the earliest to close. */
  private final Map<String, Long> openEnd = new HashMap<>();
  /** The same, by close line: the keys whose earliest open window closes there. */
  private final java.util.TreeMap<Long, Set<String>> openByEnd = new java.util.TreeMap<>();
  /** The newest Delta the last pass drained changed keys from, and its version. */
  private Delta lastDelta;
  private long lastVersionOfDelta = -1;
  /** Set when a pass stopped before it read every key it meant to: the next one reads all. */
  private boolean needFull = true;
  private long prunedHorizon = Long.MIN_VALUE;
  private long passes;
  private long keysRead;
  private long lastWatermark = Long.MIN_VALUE;
  /**
   * The close line of the last pass that drained the Deltas' marks ({@code MIN_VALUE}: none yet).
   * A fold marked after it read a close line at least this (see {@link PartitionDelta#drainChanged}).
   */
  private long lastCloseLine = Long.MIN_VALUE;
  private long lastVersion = -1;
  /** The version the last pass read (see {@link #exactSuccessorDelta}). */
  private Version lastSeen;
  /** Version changes that the feed followed without a full pass (for status and tests). */
  private long swapsWithoutFullPass;
  /** The close line {@code W - lateness} at which the next pass has something to close (see the class comment). */
  private long nextClose = Long.MIN_VALUE;
  private long lastPassNanos;
  /** {@link #folded} of the version when the last pass began. */
  private long lastFolded;
  private volatile boolean closed;
  private Thread thread;
  private final Object sleeper = new Object();
  /** Where {@link #saveEmitted} writes; null for a feed that saves nothing. */
  private final java.nio.file.Path savedEmitted;
  /** The id of the newest changes-log record {@link #emitted} holds (-1: none), and of the newest one saved. */
  private long lastRecordId = -1;
  private long savedLastId = -1;
  /** The horizon {@link #emitted} was pruned at when it was saved last. */
  private long savedHorizon = Long.MIN_VALUE;
  /** Records {@link #scan} decoded whole, not hashed where they lie (for tests). */
  private long decodedWhole;
  /** At the last start: the windows loaded from {@link #savedEmitted}, and the changes read from the log. */
  private long startLoaded;
  private long startRead;

  ChangeFeed(String view, ViewRuntime runtime, SpeedLayer speed, LogStream log, LongSupplier clock) {
    this(view, runtime, speed, log, clock, true, null);
  }

  /**
   * @param incremental false to read every key at every pass (and leave the Deltas' change marks
   *     alone): the naive feed that tests compare the incremental one with
   * @param savedEmitted the file {@link #saveEmitted} writes and {@link #recoverAtStart} reads
   *     ({@link EmittedSnapshot}); null for none
   */
  ChangeFeed(String view, ViewRuntime runtime, SpeedLayer speed, LogStream log, LongSupplier clock,
      boolean incremental, java.nio.file.Path savedEmitted) {
    this.savedEmitted = savedEmitted;
    this.incremental = incremental;
    this.view = view;
    this.runtime = runtime;
    this.speed = speed;
    this.log = log;
    this.clock = clock;
  }

  /**
   * Rebuilds what was emitted from the changes log, one record at a time. A record this feed wrote
   * starts with its values ({@link ChangeJson#values}); they are written again straight from the
   * parser's tokens and hashed ({@link ChangeJson#hashCopy}), and only kind, key, start and end are
   * read of the rest: no tree and no map of the values (about 4 us per window before, most of a
   * restart with millions of windows emitted). A record that does not start with its values is
   * decoded whole.
   * Returns how many records it read.
   */
  synchronized long recover() {
    emitted.clear();
    lastRecordId = -1;
    return scan(log.startOffset(0));
  }

  /**
   * At start: loads what was emitted from the file {@link #saveEmitted} wrote, then reads the
   * changes log only after the record it covers; without a usable file, {@link #recover}.
   */
  synchronized void recoverAtStart() {
    if (savedEmitted != null && java.nio.file.Files.exists(savedEmitted)) {
      String refused;
      try {
        EmittedSnapshot.Loaded saved = EmittedSnapshot.read(savedEmitted, emitted, ChangeJson.FORMAT);
        refused = coverMismatch(saved);
        if (refused == null) {
          lastRecordId = saved.lastId();
          savedLastId = saved.lastId();
          prunedHorizon = saved.horizon();
          savedHorizon = saved.horizon();
          long after = scan(saved.lastId() + 1);
          startLoaded = saved.windows();
          startRead = after;
          LOG.info("changes feed of view '{}': {} emitted windows loaded from {}, and {} changes after it",
              view, saved.windows(), savedEmitted, after);
          return;
        }
      } catch (EmittedSnapshot.Refused e) {
        refused = e.getMessage();
      } catch (IOException | RuntimeException e) {
        refused = e.toString();
      }
      LOG.warn("changes feed of view '{}': not using {} ({}); reading its changes log whole", view, savedEmitted,
          refused);
      try {
        java.nio.file.Files.deleteIfExists(savedEmitted);
      } catch (IOException e) {
        LOG.warn("changes feed of view '{}': could not delete {}: {}", view, savedEmitted, e.toString());
      }
    }
    prunedHorizon = Long.MIN_VALUE;
    savedLastId = -1; // nothing saved stands (a read of the log after the file may have failed half-way)
    savedHorizon = Long.MIN_VALUE;
    startLoaded = 0;
    startRead = recover();
  }

  /**
   * At the last start: the windows loaded from the saved file, and the changes read from the log;
   * then the records read back decoded whole since the feed was made (for tests).
   */
  synchronized long[] startStats() {
    return new long[] {startLoaded, startRead, decodedWhole};
  }

  /**
   * Takes in the records after the last one {@link #emitted} holds: those of an append that failed
   * after they reached the log, and any another writer appended. Returns how many. A log that
   * starts past 0 (a view created under a dropped one's name) is read from its start.
   */
  synchronized long takeInUnread() {
    return scan(Math.max(lastRecordId + 1, log.startOffset(0)));
  }

  /** Why the changes log does not hold what {@code saved} covers; null when it does. */
  private String coverMismatch(EmittedSnapshot.Loaded saved) {
    long id = saved.lastId();
    if (id < log.startOffset(0) || id >= log.endOffset(0)) {
      long start = log.startOffset(0);
      long end = log.endOffset(0);
      return "it covers the changes up to id " + id + ", and the changes log holds "
          + (end <= start ? "no changes" : "ids " + start + " to " + (end - 1) + " (ends before id " + end + ")");
    }
    Long hash = valueHash(id);
    if (hash == null) {
      return "the changes log has no record with id " + id;
    }
    if (hash != saved.lastHash()) {
      return "the change with id " + id + " is not the one it covers";
    }
    return null;
  }

  /** {@link BatchLayer#hash64} of the value of the changes-log record with id {@code id}, or null when there is none. */
  private Long valueHash(long id) {
    try (LogReader r = log.reader(0, id)) {
      RecordCursor c = r.poll();
      if (!c.next() || c.offset() != id) {
        return null;
      }
      return BatchLayer.hash64(c.buffer(), c.valueOffset(), c.valueLength());
    }
  }

  /** Adds the records from id {@code from} on to {@link #emitted}; returns how many. */
  private long scan(long from) {
    if (from >= log.endOffset(0)) {
      return 0;
    }
    long n = 0;
    RecoveredRecord scan = new RecoveredRecord();
    try (LogReader r = log.reader(0, from)) {
      for (RecordCursor c = r.poll(); ; c = r.poll()) {
        boolean any = false;
        while (c.next()) {
          any = true;
          if (!scan.read(c)) {
            decodedWhole++;
            ChangeEvent e = decode(c);
            scan.key = e.key();
            scan.start = e.start();
            scan.retract = e.kind() == ChangeEvent.Kind.RETRACT;
            scan.hash = scan.retract ? 0 : windowHash(json.hash(e.values()), e.end());
          }
          remember(scan.key, scan.start, c.offset(), scan.retract ? EmittedWindows.RETRACTED : scan.hash);
          lastRecordId = c.offset();
          n++;
        }
        if (!any) {
          return n;
        }
      }
    }
  }

  /** After a pass, what was emitted is saved once this many changes, and a quarter of the windows emitted, are not saved. */
  static final long SAVE_EVERY_CHANGES = 100_000;

  /**
   * Saves what was emitted ({@link EmittedSnapshot}), after taking in any record it has not
   * ({@link #takeInUnread}): at close ({@code always}) when anything changed since the last save,
   * and after a pass when nothing was saved yet (the file is also the sign, at start, that the view's
   * changes log held changes: {@code Engine.refuseLostChangesLog}), when the retention horizon moved,
   * or when the changes not saved yet number
   * {@link #SAVE_EVERY_CHANGES} or a quarter of the windows emitted, whichever is more (so that the
   * saves cost time in proportion to the changes emitted). A failure is logged: the next start reads
   * more of the log, nothing is lost.
   */
  synchronized void saveEmitted(boolean always) {
    if (savedEmitted == null) {
      return;
    }
    try {
      takeInUnread();
      boolean changed = lastRecordId != savedLastId || prunedHorizon != savedHorizon;
      if (lastRecordId < 0 || !changed
          || !always && savedLastId >= 0 && prunedHorizon == savedHorizon
              && lastRecordId - savedLastId < Math.max(SAVE_EVERY_CHANGES, emitted.size() / 4)) {
        return;
      }
      Long hash = valueHash(lastRecordId);
      if (hash == null) {
        throw new IOException("the changes log has no record with id " + lastRecordId);
      }
      java.nio.file.Files.createDirectories(savedEmitted.getParent());
      EmittedSnapshot.write(savedEmitted, emitted, lastRecordId, hash, prunedHorizon, ChangeJson.FORMAT);
      savedLastId = lastRecordId;
      savedHorizon = prunedHorizon;
    } catch (IOException | RuntimeException e) {
      LOG.warn("changes feed of view '{}': could not save its emitted windows to {}: {}", view, savedEmitted,
          e.toString());
    }
  }

  /** What {@link #recover} needs of one changes-log record, read with a streaming parser. */
  private final class RecoveredRecord {
    private byte[] bytes = new byte[1024];
    String key;
    long start;
    long hash;
    boolean retract;

    /** Reads the record at {@code c}; false when it does not start with its values. */
    boolean read(RecordCursor c) {
      int n = c.valueLength();
      if (n > bytes.length) {
        bytes = new byte[Math.max(n, 2 * bytes.length)];
      }
      c.buffer().get(c.valueOffset(), bytes, 0, n);
      try (JsonParser p = JSON.getFactory().createParser(bytes, 0, n)) {
        if (p.nextToken() != JsonToken.START_OBJECT || !"values".equals(p.nextFieldName())
            || p.nextToken() != JsonToken.START_OBJECT) {
          return false;
        }
        long valuesHash = json.hashCopy(p);
        String kind = null;
        long end = 0;
        key = null;
        start = 0;
        boolean hasEnd = false;
        boolean hasStart = false;
        // the fields after the values, up to the last of these four (ChangeJson#finish writes them first)
        for (String name = p.nextFieldName(); name != null && !(hasEnd && hasStart && kind != null && key != null);
            name = p.nextFieldName()) {
          if (p.nextToken() == null) {
            return false;
          }
          switch (name) {
            case "kind" -> kind = p.getText();
            case "key" -> key = p.getText();
            case "start" -> {
              start = p.getLongValue();
              hasStart = true;
            }
            case "end" -> {
              end = p.getLongValue();
              hasEnd = true;
            }
            default -> p.skipChildren(); // a scalar stays as it is
          }
        }
        if (kind == null || key == null || !hasStart || !hasEnd) {
          return false;
        }
        retract = kind(kind, c.offset()) == ChangeEvent.Kind.RETRACT;
        hash = windowHash(valuesHash, end);
        return true;
      } catch (IOException e) {
        return false; // decoded whole, which names the record
      }
    }
  }

  /**
   * What the feed compares of a window: its values' hash mixed with its end, so that a window whose
   * end moved with the same values (a session a late event extended or merged; a reprocess that
   * changed the window size) is corrected too.
   */
  static long windowHash(long valuesHash, long end) {
    long x = valuesHash ^ (end * 0x9E37_79B9_7F4A_7C15L);
    x ^= x >>> 32;
    x *= 0xD6E8_FEB8_6659_FD93L;
    return x ^ (x >>> 32);
  }

  void start() {
    thread = new Thread(this::run, "braid-changes-" + view);
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    while (!closed) {
      try {
        if (passDue(speed.watermark(), runtime.current(), System.nanoTime())) {
          pass();
          saveEmitted(false);
        }
        pause(PASS_MILLIS);
      } catch (RuntimeException e) {
        if (closed) {
          return;
        }
        LOG.error("changes feed of view '{}': a pass failed; retrying", view, e);
        pause(PASS_MILLIS * 10);
      }
    }
  }

  /** Waits without an interrupt: the thread appends to the log, whose channels an interrupt closes. */
  private void pause(long millis) {
    synchronized (sleeper) {
      if (!closed) {
        try {
          sleeper.wait(millis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closed = true;
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Emitting
  // ---------------------------------------------------------------------------------------------

  /** Whether a pass now could emit something (see the class comment); {@code nanoNow} from {@link System#nanoTime}. */
  synchronized boolean passDue(long w, Version v, long nanoNow) {
    if (v.id != lastVersion) {
      return true;
    }
    if (w == Long.MIN_VALUE) {
      return false;
    }
    boolean sweep = nanoNow - lastPassNanos >= TimeUnit.MILLISECONDS.toNanos(SWEEP_MILLIS);
    if (w == lastWatermark) {
      // Events that did not move the watermark can still make or change a window below the close line
      // (an old event without allowed_lateness, or one from a partition idle behind the watermark).
      return sweep && folded(v) != lastFolded;
    }
    return w - Math.max(0, v.program.allowedLateness) >= nextClose || sweep;
  }

  /** How many log positions {@code v}'s Delta has moved past, over all partitions: changes when it folds events. */
  private static long folded(Version v) {
    Delta d = v.delta;
    if (d == null) {
      return 0;
    }
    Cut position = d.position();
    long sum = 0;
    for (int p = 0; p < position.partitions(); p++) {
      sum += position.offset(p);
    }
    return sum;
  }

  /**
   * The next close line after {@code closeAtOrBelow} at which a window of this kind may close,
   * whatever events arrive: never later than the true next close, sometimes earlier (one pass
   * that finds nothing).
   */
  private static long nextBoundary(WindowSpec window, long closeAtOrBelow) {
    long next = switch (window.kind()) {
      case TUMBLING -> window.end(window.start(closeAtOrBelow));
      case HOPPING -> saturatedAdd(closeAtOrBelow, window.every().toMillis());
      case SESSION -> saturatedAdd(closeAtOrBelow, window.gap().toMillis());
    };
    return Math.max(next, saturatedAdd(closeAtOrBelow, 1));
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? Long.MAX_VALUE : r;
  }

  /** Emits every window closed and not yet emitted, and every correction; returns how many events. */
  synchronized int pass() {
    long w = speed.watermark();
    Version v = runtime.current();
    boolean newVersion = v.id != lastVersion;
    Delta successorDelta = newVersion ? exactSuccessorDelta(v) : null; // before lastSeen moves on
    boolean full = !incremental || needFull || newVersion && successorDelta == null;
    lastWatermark = w;
    lastVersion = v.id;
    lastSeen = v;
    lastFolded = folded(v);
    lastPassNanos = System.nanoTime();
    if (w == Long.MIN_VALUE || v.program.window == null) {
      nextClose = Long.MIN_VALUE;
      needFull = full || newVersion; // nothing was read or drained: the version is still to be read whole
      if (v.program.window != null || !newVersion) {
        return 0;
      }
      try {
        return retractAll(v.id, w); // a version without windows has none of the windows emitted
      } catch (RuntimeException e) {
        lastVersion = -1; // the next pass tries again
        throw e;
      }
    }
    long lateness = Math.max(0, v.program.allowedLateness);
    long closeAtOrBelow = w - lateness;
    long horizon = v.horizon;
    if (horizon < prunedHorizon) {
      // a version that keeps windows the last one evicted (a reprocess with a longer retain, a
      // rollback): what was emitted for them is in the log only
      recover();
      prunedHorizon = Long.MIN_VALUE;
    }
    if (horizon != Long.MIN_VALUE && horizon != prunedHorizon) {
      emitted.removeBelow(horizon);
      prunedHorizon = horizon;
    }
    // Which keys to read. Marks are drained before any key is read (and after the watermark), so
    // an event folded after the drain is either seen by the read below or marked for the next pass.
    java.util.Collection<String> keys;
    Map<String, Long> opened = new HashMap<>();
    if (incremental) {
      java.util.Set<String> changed = new java.util.HashSet<>();
      if (successorDelta != null && !full) {
        // the replaced version's marks up to its detach, then the new version's since its catch-up began
        drainFrom(lastDelta, v.program, changed, opened, closeAtOrBelow);
        lastDelta = drainFrom(successorDelta, v.program, changed, opened, closeAtOrBelow);
        lastVersionOfDelta = v.id;
        swapsWithoutFullPass++;
      } else {
        full |= !drainChanged(v, full ? null : changed, opened, closeAtOrBelow);
      }
      if (!full) {
        for (Set<String> due : openByEnd.headMap(closeAtOrBelow, true).values()) {
          changed.addAll(due);
        }
        keys = changed;
      } else {
        keys = null; // every key: walked below
      }
    } else {
      keys = null;
    }
    lastCloseLine = closeAtOrBelow;
    if (full) {
      openByEnd.clear();
      openEnd.clear();
    } else {
      // Keys whose new windows are all still open: no read, only their earliest close line (see drainChanged).
      for (Map.Entry<String, Long> o : opened.entrySet()) {
        String key = o.getKey();
        Long known = openEnd.get(key);
        if (!keys.contains(key) && (known == null || o.getValue() < known)) {
          noteOpen(key, o.getValue());
        }
      }
    }
    // Marks are drained and due keys taken: a pass that fails from here (a failed append, a read
    // error) must not leave them lost, so the next pass is full until this one completes.
    needFull = true;
    passes++;
    // Appended a chunk at a time as the keys are read, so a pass that closes millions of windows
    // (a first pass over a long history) holds one chunk of events, not all of them.
    Pending out = new Pending(clock.getAsLong());
    Compare compare = new Compare(closeAtOrBelow, w, out);
    KeyReads reads = new KeyReads(compare, out);
    boolean complete;
    if (keys != null) {
      complete = true;
      for (String key : keys) {
        if (!reads.read(key)) {
          complete = false;
          break;
        }
      }
    } else {
      complete = runtime.forEachKey(reads) && readEmittedNotRead(compare, reads);
    }
    int emittedNow = reads.emitted + append(out);
    if (!complete) {
      // a damaged Base: the keys not read yet are read by a full pass, tried again at every watermark
      // move until it is repaired
      nextClose = Long.MIN_VALUE;
      return emittedNow;
    }
    emittedNow += retract(compare.vanished, w, out);
    needFull = false;
    long next = nextBoundary(v.program.window, closeAtOrBelow);
    nextClose = openByEnd.isEmpty() ? next : Math.min(next, openByEnd.firstKey());
    return emittedNow;
  }

  /**
   * Reads one key after another for a pass: compares each key's windows ({@link Compare}) and
   * appends what they emit a chunk at a time; stops at a damaged Base.
   */
  private final class KeyReads implements ViewRuntime.KeyVisitor {
    private final Compare compare;
    private final Pending out;
    int emitted;

    KeyReads(Compare compare, Pending out) {
      this.compare = compare;
      this.out = out;
    }

    /** Reads {@code key}, found where no walk says; false when a read stopped. */
    boolean read(String key) {
      return visit(key, key.getBytes(StandardCharsets.UTF_8), ViewRuntime.KeyHint.NONE);
    }

    @Override
    public boolean visit(String key, byte[] utf8, ViewRuntime.KeyHint hint) {
      keysRead++;
      compare.key(key, utf8);
      ViewRuntime.WindowsRead read;
      try {
        read = runtime.readWindows(utf8, hint, compare);
      } catch (dev.braid.UnavailableException e) {
        return false; // a damaged Base: nothing more until it is repaired
      }
      compare.endKey(read);
      noteOpen(key, compare.open);
      if (out.size() >= APPEND_CHUNK) {
        emitted += append(out);
      }
      return true;
    }
  }

  /**
   * After a full pass walked the version's keys: reads the keys with windows emitted and not
   * retracted that the walk did not read, which the version no longer holds (a reprocess that
   * filters them out or groups otherwise, a rollback), so that their windows are retracted. False
   * when a read stopped.
   */
  private boolean readEmittedNotRead(Compare compare, KeyReads reads) {
    List<String> missed = new ArrayList<>();
    emitted.forEachLiveKey((key, id) -> {
      if (!compare.wasRead(id)) {
        missed.add(key);
      }
    });
    for (String key : missed) {
      if (!reads.read(key)) {
        return false;
      }
    }
    return true;
  }

  /** Retracts every window emitted and not retracted: the version {@code version} has no windows. */
  private int retractAll(long version, long watermark) {
    Map<Integer, Vanished> all = new HashMap<>();
    emitted.forEachLiveKey((key, id) -> all.put(id, new Vanished(key, new long[0], Long.MIN_VALUE, version)));
    return retract(all, watermark, new Pending(clock.getAsLong()));
  }

  /**
   * Compares each window of one key's merged read with what the feed emitted for it and queues a
   * close or correction where they differ; notes the earliest close line of a window still open,
   * and the keys whose read lacks a window emitted for them (to {@link #retract}). One per pass,
   * reused for every key.
   */
  private final class Compare implements ViewRuntime.WindowRow {
    private final long closeAtOrBelow;
    private final long watermark;
    private final Pending out;
    private String key;
    /** The key's UTF-8 bytes, the changes' record key. */
    private byte[] keyBytes;
    /** The key's id in {@link #emitted}, -1 until something was emitted for it. */
    private int seen;
    /** Nothing was emitted for the key before this pass: every closed window of it is new. */
    private boolean fresh;
    /** The close line of the key's earliest window to close ({@code Long.MAX_VALUE}: none open). */
    long open;
    /**
     * The starts of the closed windows the read holds (and of open ones emitted as they are now),
     * ascending; kept for a key with windows emitted only.
     */
    private long[] starts = new long[16];
    private int startCount;
    /** How many windows of the read are emitted, not retracted, and held. */
    private int matched;
    /** Per key id, the keys whose read lacked a window emitted for them. */
    final Map<Integer, Vanished> vanished = new HashMap<>();
    /** The ids in {@link #emitted} of the keys this pass read. */
    private final java.util.BitSet readIds = new java.util.BitSet();

    Compare(long closeAtOrBelow, long watermark, Pending out) {
      this.closeAtOrBelow = closeAtOrBelow;
      this.watermark = watermark;
      this.out = out;
    }

    void key(String k, byte[] utf8) {
      key = k;
      keyBytes = utf8;
      seen = emitted.keyId(k);
      fresh = seen < 0;
      if (seen >= 0) {
        readIds.set(seen);
      }
      open = Long.MAX_VALUE;
      startCount = 0;
      matched = 0;
    }

    @Override
    public void window(ViewRuntime.WindowsRead read, long start, long end, boolean isFinal, long[] longs,
        Object[] objects) {
      int prior = fresh ? -1 : emitted.find(seen, start);
      boolean again = prior >= 0 && emitted.retracted(prior);
      boolean live = prior >= 0 && !again;
      long closes = read.program().closesAt(end); // a session closes a gap after its end
      if (closes > closeAtOrBelow) {
        open = Math.min(open, closes);
        // Emitted, and open now: held as emitted if its result and end are as emitted (the close
        // line can stand lower, e.g. after a restart while a partition is not idle yet); else a
        // session a late event reopened, retracted until it closes again.
        if (live && emitted.hash(prior) == windowHash(json.values(read.program(), longs, objects, read.scratch()), end)) {
          held(start);
          matched++;
        }
        if (live) {
          json.abandon();
        }
        return;
      }
      if (!fresh) {
        held(start); // emitted now if not before: not to retract after this pass's append
        matched += live ? 1 : 0;
      }
      long h = windowHash(json.values(read.program(), longs, objects, read.scratch()), end);
      if (live && emitted.hash(prior) == h) {
        json.abandon();
        return;
      }
      if (seen < 0) {
        seen = emitted.intern(key);
        readIds.set(seen);
      }
      boolean close = prior < 0 || again; // a window retracted and seen again is closed anew
      json.finish(close ? ChangeEvent.Kind.CLOSE : ChangeEvent.Kind.CORRECTION, key, start, end, isFinal,
          close ? -1 : emitted.id(prior), read.version(), watermark);
      out.add(keyBytes, seen, prior, start, h, json);
    }

    /** Notes that the read holds a closed window at {@code start} (the reads give windows by start). */
    private void held(long start) {
      if (startCount == starts.length) {
        starts = java.util.Arrays.copyOf(starts, 2 * startCount);
      }
      starts[startCount++] = start;
    }

    /** Whether this pass read the key with id {@code keyId} in {@link #emitted}. */
    boolean wasRead(int keyId) {
      return readIds.get(keyId);
    }

    /**
     * After the key's {@code read} (null: the version read has no windows, and retracts nothing):
     * notes the key when the read lacks a window emitted for it.
     */
    void endKey(ViewRuntime.WindowsRead read) {
      if (read != null && !fresh && matched < emitted.live(seen)) {
        vanished.put(seen, new Vanished(key, java.util.Arrays.copyOf(starts, startCount), read.horizon(),
            read.version()));
      }
    }
  }

  /**
   * A key whose read lacked a window emitted for it: the starts the read held (ascending), the
   * horizon below which it left windows out (retention, not retraction), and the version read.
   */
  private record Vanished(String key, long[] starts, long horizon, long version) {}

  /**
   * Retracts every window emitted and not retracted for a key of {@code vanished} that its read
   * did not hold (above that read's horizon): one scan of the emitted windows, in the passes that
   * found such a key only. Each retraction carries the values, end and state of the event it
   * withdraws, read back from the log. Returns how many events it appended.
   */
  private int retract(Map<Integer, Vanished> vanished, long watermark, Pending out) {
    if (vanished.isEmpty()) {
      return 0;
    }
    int appended = 0;
    try (PointReads reads = new PointReads()) {
      for (int e = 0, size = emitted.size(); e < size; e++) {
        Vanished v = vanished.get(emitted.keyOf(e));
        long start = emitted.start(e);
        if (v == null || emitted.retracted(e) || start < v.horizon()
            || java.util.Arrays.binarySearch(v.starts(), start) >= 0) {
          continue;
        }
        ChangeEvent withdrawn = reads.get(emitted.id(e));
        json.retraction(withdrawn.values(), v.key(), start, withdrawn.end(),
            withdrawn.state() == ViewResult.WindowState.FINAL, withdrawn.id(), v.version(), watermark);
        out.add(v.key().getBytes(StandardCharsets.UTF_8), emitted.keyOf(e), e, start, EmittedWindows.RETRACTED, json);
        if (out.size() >= APPEND_CHUNK) {
          appended += append(out);
        }
      }
    }
    vanished.clear();
    return appended + append(out);
  }

  /**
   * Drains the keys marked in {@code v}'s Deltas since the last drain (see
   * {@link PartitionDelta#drainChanged}): those a pass must read into {@code into} (null: drops
   * every mark, for a full pass), and the keys whose folds only opened windows closing after
   * {@code closeLine} into {@code opened}, with the earliest close line of them. Walks from the Delta drained
   * last along the chain of compacted copies that replaced it (see {@link Delta#successor}) to the
   * newest. Returns false when that chain does not lead to {@code v}'s Delta (another version, or
   * the first pass): then only a full pass is exact.
   */
  private boolean drainChanged(Version v, java.util.Set<String> into, Map<String, Long> opened, long closeLine) {
    Delta current = v.delta;
    Delta start = lastDelta != null && lastVersionOfDelta == v.id ? lastDelta : current;
    boolean reached = false;
    for (Delta d = start; d != null; d = d.successor) {
      reached |= d == current;
    }
    Delta tail = drainFrom(start, v.program, into, opened, closeLine); // null for a full pass: marks cleared only
    if (tail != null) {
      lastDelta = tail;
      lastVersionOfDelta = v.id;
    }
    return reached;
  }

  /** Drains the marks of {@code d} and of every Delta after it along {@link Delta#successor}; returns the last. */
  private Delta drainFrom(Delta d, ViewProgram p, java.util.Set<String> into, Map<String, Long> opened,
      long closeLine) {
    Delta tail = d;
    for (; d != null; d = d.successor) {
      for (PartitionDelta pd : d.partitions) {
        pd.drainChanged(p, lastCloseLine, closeLine, into, opened);
      }
      tail = d;
    }
    return tail;
  }

  /**
   * {@code v}'s Delta when {@code v}, which became current since the last pass, gives every key
   * the merged result the version the last pass read ({@link #lastSeen}) gave, except for keys
   * whose marks say they changed: then the pass after the swap drains both versions' marks instead
   * of reading every key. So for a batch cycle's swap when:
   * <ul>
   *   <li>both were built by this process's batch cycles (so each has a Base over {@code [0, cut)}:
   *       not a reprocess from an offset, which lacks the history before it) and every aggregation
   *       of the view is {@linkplain dev.braid.agg.Aggregation#splitInvariant split-invariant};
   *   <li>{@code v} replaced exactly that version, with the same definition, a cut at or after its
   *       cut and the same retention horizon;
   *   <li>the replaced version's Delta is detached (it folds nothing more), the last pass drained
   *       it or a Delta before it on its chain of compacted copies, and it had folded up to
   *       {@code v}'s cut in every partition (so every event the new Base adds was marked in it);
   *   <li>it left out no event as later than {@code allowed_lateness} since its cut, as far as it
   *       counted from its cut ({@link PartitionDelta#dropsKnown}: not loaded from a checkpoint),
   *       and neither did {@code v}'s Delta: the Base folds such events in, and that is the one way
   *       the two versions' reads differ (lateness decisions depend on the log and on each
   *       version's seed for partitions empty at its cut);
   *   <li>{@code v}'s Delta is the one it was swapped in with, not a compacted copy, whose groups
   *       are copied unmarked.
   * </ul>
   * Anything else (a rollback, a reprocess, the first swap after a start, a swap that is still
   * detaching, a late event left out, a sketch or double aggregation) means a full pass: null. The
   * pass drains from the Delta returned, which a compaction may replace meanwhile (its chain of
   * copies leads on from it).
   */
  private Delta exactSuccessorDelta(Version v) {
    Version seen = lastSeen;
    Delta newDelta = v.delta;
    if (!incremental || needFull || seen == null || !v.fromBatchCycle || !seen.fromBatchCycle
        || v.replacedId != seen.id || v.id <= seen.id || v.program == null || !v.program.splitInvariant
        || !java.util.Objects.equals(v.definition, seen.definition) || !v.cut.isAtOrAfter(seen.cut)
        || v.horizon != seen.horizon || seen.delta != null || lastDelta == null || lastVersionOfDelta != seen.id
        || newDelta == null || newDelta.compactedCopy) {
      return null;
    }
    Delta tail = lastDelta;
    while (tail.successor != null) {
      tail = tail.successor;
    }
    for (int p = 0; p < tail.partitions.length; p++) {
      // the replaced Delta folded up to the new cut and left nothing out; the new one (at or past
      // the replaced one's position: ViewRuntime.swap) left out nothing either, though it may decide
      // lateness from another seed for a partition that was empty at its cut (Delta.seedEventTimes)
      if (!foldedAllFrom(tail.partitions[p], v.cut.offset(p)) || !foldedAllFrom(newDelta.partitions[p], 0)) {
        return null;
      }
    }
    return newDelta;
  }

  /** Whether {@code pd} knows it left out no late event since its cut, and is at or past {@code offset}. */
  private static boolean foldedAllFrom(PartitionDelta pd, long offset) {
    long stamp = pd.lock.readLock();
    try {
      return pd.dropsKnown && pd.droppedLate == 0 && pd.writerPosition() >= offset;
    } finally {
      pd.lock.unlockRead(stamp);
    }
  }

  /** Records the close line of {@code key}'s earliest window still open after this pass ({@code MAX_VALUE}: none). */
  private void noteOpen(String key, long end) {
    Long was = end == Long.MAX_VALUE ? openEnd.remove(key) : openEnd.put(key, end);
    if (was != null && was != end) {
      Set<String> at = openByEnd.get(was);
      at.remove(key);
      if (at.isEmpty()) {
        openByEnd.remove(was);
      }
    }
    if (end != Long.MAX_VALUE && (was == null || was != end)) {
      openByEnd.computeIfAbsent(end, e -> new java.util.HashSet<>()).add(key);
    }
  }

  /** Passes run and keys they read since the feed started (for status and tests). */
  synchronized long[] passStats() {
    return new long[] {passes, keysRead, swapsWithoutFullPass};
  }

  /** Appends the events in {@code out} to the changes log, remembers them, empties {@code out}; returns how many. */
  private int append(Pending out) {
    int n = out.size();
    if (n == 0) {
      return 0;
    }
    dev.braid.log.AppendResult appended;
    try {
      appended = log.append(0, out.batch);
    } catch (RuntimeException e) {
      try {
        takeInUnread(); // what of the batch reached the log is emitted: remembered as read back
      } catch (RuntimeException readBack) {
        e.addSuppressed(readBack);
      }
      throw e;
    }
    for (int j = 0; j < n; j++) {
      if (out.entries[j] >= 0) {
        emitted.update(out.entries[j], appended.offset(j), out.hashes[j]);
      } else {
        emitted.add(out.keyIds[j], out.starts[j], appended.offset(j), out.hashes[j]);
      }
    }
    lastRecordId = appended.offset(n - 1);
    out.clear();
    return n;
  }

  /**
   * The events of a pass not appended yet: their records in one batch, and what to remember of
   * each: its key's id in {@link #emitted}, the entry it corrects there (-1 for a close), its window
   * start and its result's hash.
   */
  private final class Pending {
    final RecordBatchBuilder batch = new RecordBatchBuilder(64 * 1024, log.config().maxRecordBytes());
    int[] keyIds = new int[APPEND_CHUNK];
    int[] entries = new int[APPEND_CHUNK];
    long[] starts = new long[APPEND_CHUNK];
    long[] hashes = new long[APPEND_CHUNK];
    private int size;
    final long ingestTime;

    Pending(long ingestTime) {
      this.ingestTime = ingestTime;
    }

    int size() {
      return size;
    }

    /** Adds the record {@code json} holds; the caller appends once {@link #size} reaches {@code APPEND_CHUNK}. */
    void add(byte[] k, int keyId, int entry, long start, long hash, ChangeJson json) {
      int i = size;
      if (i == starts.length) { // one key's windows can overshoot the chunk
        keyIds = java.util.Arrays.copyOf(keyIds, 2 * i);
        entries = java.util.Arrays.copyOf(entries, 2 * i);
        starts = java.util.Arrays.copyOf(starts, 2 * i);
        hashes = java.util.Arrays.copyOf(hashes, 2 * i);
      }
      batch.add(k, 0, k.length, json.array(), 0, json.size(), start, ingestTime);
      keyIds[i] = keyId;
      entries[i] = entry;
      starts[i] = start;
      hashes[i] = hash;
      size = i + 1;
    }

    void clear() {
      batch.clear();
      size = 0;
    }
  }

  private void remember(String key, long start, long id, long hash) {
    emitted.put(key, start, id, hash);
  }

  /** What the feed remembers of window {@code start} of {@code key}: {@code {id, hash}}, or null (for tests). */
  synchronized long[] emittedEntry(String key, long start) {
    int entry = emitted.find(emitted.keyId(key), start);
    return entry < 0 ? null : new long[] {emitted.id(entry), emitted.hash(entry)};
  }

  /** Windows emitted so far (for status and tests). */
  synchronized int emittedWindows() {
    return emitted.size();
  }

  // ---------------------------------------------------------------------------------------------
  // Reading and subscriptions
  // ---------------------------------------------------------------------------------------------

  /** The id the next event will get. */
  long endId() {
    return log.endOffset(0);
  }

  private long checkFrom(long from) {
    long end = log.endOffset(0);
    if (from < 0 || from > end) {
      throw new IllegalArgumentException(String.format(
          "change id %d is out of range for view '%s': ids run from %d to %d (the next id)", from, view,
          log.startOffset(0), end));
    }
    return Math.max(from, log.startOffset(0));
  }

  /**
   * Single events of the changes log by id, for a pass's retractions, through one reader: forward
   * from the last one read, seeking only back or far ahead. The emitted windows are visited in the
   * order they were written, so their ids mostly rise, and a switch that retracts a hundred thousand
   * windows reads the log once instead of a fetch (1 MiB) per retraction, which took about 1 ms each.
   */
  private final class PointReads implements AutoCloseable {

    /** Records past the last one read beyond which a read seeks instead of reading on. */
    private static final long FAR = 4096;
    private LogReader reader;
    private RecordCursor cursor;
    private long last = Long.MIN_VALUE;

    ChangeEvent get(long id) {
      boolean polled = false;
      if (cursor == null || id <= last || id - last > FAR) {
        if (reader == null) {
          reader = log.reader(0, checkFrom(id));
        } else {
          reader.seek(checkFrom(id));
        }
        cursor = reader.poll();
        polled = true;
      }
      while (true) {
        boolean any = false;
        boolean passed = false;
        while (cursor.next()) {
          any = true;
          long offset = cursor.offset();
          if (offset == id) {
            last = offset;
            return decode(cursor);
          }
          if (offset > id) {
            passed = true;
            break;
          }
        }
        if (passed || !any && polled) {
          throw new IllegalStateException(String.format("view '%s': change %d, which a retraction withdraws, is not "
              + "in the changes log (ids %d to %d)", view, id, log.startOffset(0), log.endOffset(0)));
        }
        cursor = reader.poll();
        polled = true;
      }
    }

    @Override
    public void close() {
      if (reader != null) {
        reader.close();
      }
    }
  }

  /** Up to {@code limit} events from id {@code from} on. */
  List<ChangeEvent> read(long from, int limit) {
    long start = checkFrom(from);
    List<ChangeEvent> out = new ArrayList<>();
    if (start >= log.endOffset(0)) {
      return out;
    }
    try (LogReader r = log.reader(0, start)) {
      while (out.size() < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (out.size() < limit && c.next()) {
          any = true;
          out.add(decode(c));
        }
        if (!any) {
          break;
        }
      }
    }
    return out;
  }

  private ChangeEvent decode(RecordCursor c) {
    try {
      JsonNode o = JSON.readTree(c.value());
      @SuppressWarnings("unchecked")
      Map<String, Object> values = JSON.treeToValue(o.path("values"), java.util.LinkedHashMap.class);
      return new ChangeEvent(c.offset(), view,
          kind(o.path("kind").asText(), c.offset()),
          o.path("key").asText(), o.path("start").asLong(), o.path("end").asLong(), values,
          "final".equals(o.path("state").asText()) ? ViewResult.WindowState.FINAL
              : ViewResult.WindowState.PROVISIONAL,
          o.path("corrects").asLong(), o.path("version").asLong(), o.path("watermark").asLong(), c.ingestTime());
    } catch (IOException e) {
      throw new IllegalStateException("changes-log record at offset " + c.offset() + " of view '" + view
          + "' is not JSON", e);
    }
  }

  private ChangeEvent.Kind kind(String wire, long offset) {
    return switch (wire) {
      case "close" -> ChangeEvent.Kind.CLOSE;
      case "correction" -> ChangeEvent.Kind.CORRECTION;
      case "retract" -> ChangeEvent.Kind.RETRACT;
      default -> throw new IllegalStateException("changes-log record at offset " + offset + " of view '" + view
          + "' has an unknown kind '" + wire + "'");
    };
  }

  /** Starts a subscription from id {@code from}; {@code filter} (null: all) selects events. */
  Subscription subscribe(long from, Predicate<ChangeEvent> filter, Consumer<ChangeEvent> consumer) {
    if (closed) {
      throw new IllegalStateException("the changes feed of view '" + view + "' is closed");
    }
    Sub s = new Sub(checkFrom(from), filter, consumer);
    subscriptions.add(s);
    s.thread.start();
    return s;
  }

  private final class Sub implements Subscription {
    private final Predicate<ChangeEvent> filter;
    private final Consumer<ChangeEvent> consumer;
    private final Thread thread;
    private volatile long next;
    private volatile boolean stopped;
    private volatile Throwable failure;
    private volatile LogReader reader;

    Sub(long from, Predicate<ChangeEvent> filter, Consumer<ChangeEvent> consumer) {
      this.next = from;
      this.filter = filter;
      this.consumer = consumer;
      this.thread = new Thread(this::loop, "braid-subscription-" + view);
      thread.setDaemon(true);
    }

    private void loop() {
      try (LogReader r = log.reader(0, next)) {
        reader = r;
        while (!stopped) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (!stopped && c.next()) {
            any = true;
            ChangeEvent e = decode(c);
            if (filter == null || filter.test(e)) {
              consumer.accept(e);
            }
            next = e.id() + 1;
          }
          if (!any && !stopped) {
            r.awaitData(1, TimeUnit.SECONDS);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException | Error e) {
        if (!stopped) {
          failure = e;
          LOG.warn("subscription to the changes of view '{}' ended: the consumer threw", view, e);
        }
      } finally {
        stopped = true;
        subscriptions.remove(this);
      }
    }

    @Override
    public long nextId() {
      return next;
    }

    @Override
    public boolean isClosed() {
      return stopped;
    }

    @Override
    public Throwable failure() {
      return failure;
    }

    /**
     * Stops the subscription: waits up to {@value #CONSUMER_GRACE_MILLIS} ms for a consumer call in
     * progress to return, then interrupts the consumer's thread and waits a second more. A consumer
     * that still does not return is left to end on its own (its thread is a daemon, and it gets no
     * further event): a consumer that never returned held {@code close} of the subscription and of
     * the engine forever.
     */
    @Override
    public void close() {
      stop();
      awaitStopped(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONSUMER_GRACE_MILLIS));
    }

    /** Asks the loop to stop after the consumer call in progress, if any. */
    void stop() {
      stopped = true;
      LogReader r = reader;
      if (r != null) {
        r.wakeup();
      }
    }

    /**
     * Waits for the consumer's thread until {@code graceEnd} ({@link System#nanoTime}), then interrupts
     * it and waits a second more (an interrupt of the caller while it waits cuts the waiting short,
     * but the consumer is interrupted all the same; one pending before, as in a {@code finally} after
     * catching one, is set aside until the wait is over). Returns at once on the consumer's own thread.
     */
    void awaitStopped(long graceEnd) {
      if (Thread.currentThread() == thread) {
        return;
      }
      long start = System.nanoTime();
      boolean pending = dev.braid.log.Interrupts.holdBack();
      boolean interrupted = false;
      try {
        thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(graceEnd - System.nanoTime())));
      } catch (InterruptedException e) {
        interrupted = true;
      }
      if (thread.isAlive()) {
        thread.interrupt();
        if (!interrupted) {
          try {
            thread.join(1_000);
          } catch (InterruptedException e) {
            interrupted = true;
          }
        }
      }
      if (thread.isAlive()) {
        LOG.warn("subscription to the changes of view '{}': its consumer has not returned {} ms after close{}; it is "
            + "left to end on its own and gets no further event", view,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start),
            interrupted ? " (the closing thread was interrupted while it waited)" : "");
      }
      dev.braid.log.Interrupts.restore(interrupted || pending);
    }
  }

  /** Whether {@code t} is the thread of one of this feed's subscriptions, which runs its consumer. */
  boolean isConsumerThread(Thread t) {
    for (Sub s : subscriptions) {
      if (s.thread == t) {
        return true;
      }
    }
    return false;
  }

  /** How long closing a subscription waits for a consumer call in progress before it interrupts it. */
  static final long CONSUMER_GRACE_MILLIS = 5_000;

  @Override
  public void close() {
    closed = true;
    synchronized (sleeper) {
      sleeper.notifyAll();
    }
    if (thread != null) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // every consumer asked to stop first, then each awaited within one grace period for them all
    List<Sub> subs = List.copyOf(subscriptions);
    subs.forEach(Sub::stop);
    long graceEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONSUMER_GRACE_MILLIS);
    for (Sub s : subs) {
      s.awaitStopped(graceEnd);
    }
    boolean interrupted = Thread.interrupted(); // the last write must not fail on an interrupt of the waits above
    try {
      saveEmitted(true);
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

}
