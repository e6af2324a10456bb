package dev.braid.table;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.UnknownNameException;
import dev.braid.ReplayProgress;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.log.Cut;
import dev.braid.log.Log;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.MappedFile;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import dev.braid.spec.TableFieldType;
import dev.braid.spec.TableSpec;
import dev.braid.view.VersionCatalog;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One table of the hybrid store: its versions, the Delta of real-time writes on the current one,
 * and pushes. Engine-internal (the engine creates one per table; users see {@link Table}).
 *
 * <h2>Design</h2>
 * A table is a view whose aggregation is upsert and whose Base comes from a bulk push. A version
 * is an immutable {@link TableBase} (the pushed rows, or none) at a start cut {@code C} plus a
 * {@link Delta}: the rows touched by real-time writes at or after {@code C}, each a
 * {@link RowState} initialised from the Base row on first touch, so a read is one map probe and,
 * for rows no write touched, one Base probe. One follower thread per partition of the real-time
 * log applies every write to the Delta of every attached version (the current one and one being
 * pushed), so both advance in lockstep; a Delta partition is guarded by its read-write lock
 * (writer: the follower; readers: gets).
 *
 * <h2>A push</h2>
 * {@code building}: the start cut is taken and the version recorded in the catalog; the input is
 * parsed in parallel into {@code v<id>.base} (a temporary file until complete); bad rows over the
 * limit fail the push (files deleted, {@code failed} with its report). Then the writes from the
 * cut are replayed into a new Delta on the pusher's thread with its own log readers, up to the
 * followers' positions; each partition is attached to its follower under the follower's lock
 * (replaying the last few writes there), and the version is swapped in atomically once the catalog
 * naming it current is stored (see {@link #swap}): the old current becomes {@code backup} (its
 * Delta is dropped; {@link #activate} rebuilds one by replay), backups beyond {@code keep} are
 * {@code retired} and their files deleted.
 *
 * <h2>Crashes</h2>
 * The catalog is the commit point. A restart marks a version still {@code building} as
 * {@code failed} ("interrupted"), deletes every file of the table directory that no kept version
 * names (logging each), and rebuilds the current version's Delta: from its checkpoint
 * ({@link #checkpoint}, written on a clean close) plus the writes after it, or, without a valid one
 * (after a crash), by replaying its writes from its cut; a push or a repush moves the cut and so
 * bounds that replay. An activation of a backup (a rollback) marks the backup in the catalog while it
 * replays ({@code "rollback": true}); a crash before its switch leaves it a backup so marked, and the
 * next start activates it again ({@link #resumeRollback}), as does one that a close stopped.
 *
 * <h2>A damaged Base</h2>
 * When the current version's Base fails its checks at start (or is missing), the version gets no
 * Delta and the table is refused ({@link dev.braid.UnavailableException} naming the file) instead
 * of the engine failing to open: a pushed Base cannot be recomputed from the log. A full push or
 * the activation of a backup replaces it; the damaged version is then {@code failed} and its file
 * moved aside as {@code v<id>.base.corrupt}, which the clean-up at start leaves.
 */
public final class TableRuntime implements Table, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(TableRuntime.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_BAD_KEPT = 100;
  /** What a damaged Base's file name gets when a new version replaces it (see {@link #swap}). */
  static final String CORRUPT_SUFFIX = ".corrupt";
  /** Reports of incremental pushes kept, the newest ones (see {@link #incrementalIds}). */
  static final int INCREMENTAL_KEPT = 100;

  /** How long {@link #close} waits for pushes in progress to end (see {@link #inFlight}). */
  static final long CLOSE_WAIT_SECONDS = 60;

  // ---------------------------------------------------------------------------------------------
  // Versions and Deltas
  // ---------------------------------------------------------------------------------------------

  /** The real-time writes applied onto a version, partition by partition. */
  final class Delta {
    final ReentrantReadWriteLock[] locks;
    final HashMap<String, RowState>[] rows;
    final AtomicLongArray position;
    final TableBase base;
    /**
     * Decoding of Base rows on first touch, one reader per partition: each partition has its own
     * writer (its follower, or the pusher's replay), and they run concurrently, so a reader shared
     * by the Delta would be corrupted by two partitions decoding at once.
     */
    private final Bytes.Reader[] readers;

    @SuppressWarnings("unchecked")
    Delta(TableBase base, Cut from) {
      this.base = base;
      int n = from.partitions();
      locks = new ReentrantReadWriteLock[n];
      rows = new HashMap[n];
      position = new AtomicLongArray(from.toArray());
      readers = new Bytes.Reader[n];
      for (int p = 0; p < n; p++) {
        locks[p] = new ReentrantReadWriteLock();
        rows[p] = new HashMap<>();
        readers[p] = new Bytes.Reader();
      }
    }

    /**
     * Applies one write (a record of partition {@code p}, stamped {@code ts}, appended at
     * {@code arrivedAt}); the caller owns partition {@code p}.
     */
    void apply(int p, String key, long ts, long arrivedAt, long offset, byte op, Object decoded) {
      if (offset < position.get(p)) {
        return; // already applied
      }
      locks[p].writeLock().lock();
      try {
        RowState s = rows[p].get(key);
        if (s == null) {
          try {
            s = fromBase(p, key);
          } catch (MappedFile.ClosedException e) {
            // This Delta's version was retired between the follower's pass over its Deltas and this
            // write. Nothing reads it any more, except a read that began before the swap: store
            // nothing, so that such a read looks in the Base, finds it closed and reads the current version.
            return;
          }
          rows[p].put(key, s);
        }
        switch (op) {
          case Writes.PUT:
          case Writes.PUT_COUNTED:
            s.put(ts, arrivedAt, offset, (Object[]) decoded);
            break;
          case Writes.PATCH: {
            @SuppressWarnings("unchecked")
            List<Writes.Op> ops = (List<Writes.Op>) decoded;
            s.patch(ts, arrivedAt, offset, ops);
            break;
          }
          default:
            s.delete(ts, offset);
        }
        position.set(p, offset + 1);
      } finally {
        locks[p].writeLock().unlock();
      }
    }

    /** The row {@code key} starts from: its Base row, or none. */
    private RowState fromBase(int p, String key) {
      if (base != null) {
        RowState s = base.read(key.getBytes(StandardCharsets.UTF_8), readers[p],
            (written, row) -> RowState.fromBase(layout, baseRow(base, row), written));
        if (s != null) {
          return s;
        }
      }
      return new RowState(layout);
    }

    Cut position() {
      long[] o = new long[position.length()];
      for (int i = 0; i < o.length; i++) {
        o[i] = position.get(i);
      }
      return Cut.of(o);
    }

    long keys() {
      long n = 0;
      for (int p = 0; p < rows.length; p++) {
        locks[p].readLock().lock();
        try {
          n += rows[p].size();
        } finally {
          locks[p].readLock().unlock();
        }
      }
      return n;
    }
  }

  /** One version: a Base (or none) at a cut, and while it serves or is built, a Delta. */
  static final class Version {
    final long id;
    volatile VersionState state;
    final Cut cut;
    final String pushId;
    final String baseFile; // file name in the table directory, or null
    final long createdAt;
    volatile String failure;
    volatile TableBase base;
    volatile Delta delta;
    volatile PushReport report;
    /** The rows of the Base file's header, read once for a version whose Base is not open (a backup); -1 until then. */
    volatile long headerRows = -1;
    /** Set by {@link #cancel} while it builds (a push) or is rolled back to: the build stops at its next check. */
    volatile boolean cancelled;
    /** The rows a full push reads while it loads them, for {@link #cancel} to close: a stalled upload wakes. */
    volatile InputStream input;
    /** While {@link #fail} records its push's failure (a cancel answers once the catalog says failed). */
    volatile boolean failing;

    Version(long id, VersionState state, Cut cut, String pushId, String baseFile, long createdAt) {
      this.id = id;
      this.state = state;
      this.cut = cut;
      this.pushId = pushId;
      this.baseFile = baseFile;
      this.createdAt = createdAt;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------------

  final TableSpec spec;
  final TableLayout layout;
  private final LogStream writes;
  private final Path dir;
  private final Runnable persist;
  private final int threads;
  private final ExecutorService parsers;
  private final List<Version> versions = new CopyOnWriteArrayList<>();
  private final Map<String, PushReport> pushes = new ConcurrentHashMap<>();
  /**
   * The ids of the incremental pushes' reports in {@link #pushes}, oldest first: they are kept in
   * memory only, the newest {@link #INCREMENTAL_KEPT}, so that a table fed by incremental pushes
   * for months does not hold a report per push.
   */
  private final java.util.Deque<String> incrementalIds = new java.util.concurrent.ConcurrentLinkedDeque<>();
  /** Tells apart incremental pushes that end in the same millisecond. */
  private final java.util.concurrent.atomic.AtomicLong incrementalCount = new java.util.concurrent.atomic.AtomicLong();
  private volatile Version current;
  private long next = 1; // guarded by this
  private Version building; // guarded by this
  /** A backup whose activation a restart interrupted (see {@link #resumeRollback}), or -1. */
  private long interruptedRollback = -1;
  /**
   * The backup an activation (a rollback) is making current, marked in the catalog so that a restart activates it
   * again; it stays marked when a close stopped the activation. Guarded by this.
   */
  private Version rollbackMarked;
  /** Test hook: runs once, in the next activation of a backup, once the catalog marks it and before its replay. */
  volatile Runnable beforeRollbackReplay;
  /** Test hook: runs once, in the next repush, after its copy of the current rows and before its replay. */
  volatile Runnable beforeRepushReplay;
  /**
   * Test hook: runs in a repush's copy of the current rows as it starts each partition's (holding that
   * partition's follower), given whether the repush is cancelled.
   */
  volatile java.util.function.Consumer<java.util.function.BooleanSupplier> duringRepushCopy;
  /** Rows a repush copies between two looks at whether it is cancelled or the table closes. */
  private static final int COPY_CHECK_EVERY = 4096;
  /**
   * Test hook: runs after each batch of writes a version's replay (a push's or a rollback's) applies before the
   * follower pauses, given whether the build is cancelled.
   */
  volatile java.util.function.Consumer<java.util.function.BooleanSupplier> duringReplay;
  /** The activation of a backup that runs (one at a time, as {@link #building}), for its progress and its cancel. */
  private volatile Rollback rollback;

  /** An activation of backup {@code version} (a rollback) while it replays the writes since its cut and swaps. */
  private static final class Rollback {
    final Version version;
    final long startedAtNanos = System.nanoTime();
    /** {@code replay}, then {@code switching} once every partition is caught up: a cancel comes too late then. */
    volatile String phase = "replay";
    /** Why the catalog could not record that the activation ended without a switch (a restart resumes it), or null. */
    volatile String unmarkFailure;
    /** Counted down when the activation has ended, one way or the other. */
    final java.util.concurrent.CountDownLatch ended = new java.util.concurrent.CountDownLatch(1);

    Rollback(Version version) {
      this.version = version;
    }
  }

  /** Why a push or an activation that {@link #cancel} stopped failed. */
  static final String CANCELLED = "cancelled by request";
  private final Follower[] followers;
  private volatile boolean closed;
  /**
   * Pushes, repushes and activations in progress, their background swaps included (guarded by
   * {@link #gate}). {@link #close} sets {@link #closed}, which makes each of them fail at its next
   * check, then waits for them: none writes a Base, maps a file or stores the catalog after close.
   */
  private int inFlight;
  private final Object gate = new Object();

  private TableRuntime(TableSpec spec, int firstFields, LogStream writes, Path dir, Runnable persist, int threads) {
    this.spec = spec;
    this.layout = new TableLayout(spec, firstFields);
    this.writes = writes;
    this.dir = dir;
    this.persist = persist;
    this.threads = Math.max(1, threads);
    this.parsers = Executors.newFixedThreadPool(this.threads, r -> {
      Thread t = new Thread(r, "braid-push-" + spec.name());
      t.setDaemon(true);
      return t;
    });
    this.followers = new Follower[writes.partitions()];
  }

  /**
   * Opens table {@code spec} in {@code dir} from its catalog record (null: a new table with an empty
   * current version), cleans up what a crash left, replays the current version's writes and starts
   * following the log. {@code persist} stores the catalog (the engine's, shared with views).
   * {@code firstFields}: how many fields the rows stored before the table's fields grew have (as
   * recorded in the data directory's {@code schemas.json}; all of the spec's for a table that never grew).
   */
  public static TableRuntime open(TableSpec spec, int firstFields, Log log, Path dir, Runnable persist,
      VersionCatalog.ViewEntry recorded, int threads) throws IOException {
    LogStream writes = log.getOrCreateStream(spec.writesStream(),
        StreamConfig.of(spec.partitions()).withDurability(spec.durability()));
    if (writes.partitions() != spec.partitions()) {
      throw new IllegalStateException("table '" + spec.name() + "': its log has " + writes.partitions()
          + " partitions but the spec says " + spec.partitions() + "; partitions cannot change");
    }
    Files.createDirectories(dir);
    TableRuntime t = new TableRuntime(spec, firstFields, writes, dir, persist, threads);
    try {
      t.requireWritesLayout();
    } catch (IllegalArgumentException e) {
      t.parsers.shutdownNow();
      throw e;
    }
    t.restore(recorded);
    return t;
  }

  /** The writes of each partition that an open decodes before anything else reads the table. */
  private static final int CHECKED_WRITES = 1_000;

  /**
   * Refuses to open when one of the first {@value #CHECKED_WRITES} writes or the last write stored
   * in a partition of the real-time log does not decode to exactly its bytes with the fields it
   * would be read with. The recorded fields ({@code schemas.json}) then do not describe the stored
   * rows (the file was deleted and recorded afresh from a grown spec, or edited), and reads would
   * fail or return garbage. The first writes check the table's first fields (past the deletes and
   * patches a log may begin with, which any field count decodes), the last one today's. Every
   * later write is decoded as exactly by the follower ({@link #decodeWrite}).
   */
  private void requireWritesLayout() {
    Bytes.Reader r = new Bytes.Reader();
    for (int p = 0; p < writes.partitions(); p++) {
      long start = writes.startOffset(p);
      long end = writes.endOffset(p);
      if (end <= start) {
        continue;
      }
      try (LogReader reader = writes.reader(p, start)) {
        int checked = 0;
        while (checked < CHECKED_WRITES && reader.position() < end) {
          RecordCursor c = reader.poll();
          while (checked < CHECKED_WRITES && c.next()) {
            r.reset(c.buffer(), c.valueOffset(), c.valueOffset() + c.valueLength());
            decodeWrite(r, p, c.offset());
            checked++;
          }
        }
      }
      try (LogReader reader = writes.reader(p, end - 1)) {
        RecordCursor c = reader.poll();
        if (c.next()) {
          r.reset(c.buffer(), c.valueOffset(), c.valueOffset() + c.valueLength());
          decodeWrite(r, p, c.offset());
        }
      }
    }
  }

  /**
   * Decodes the write that {@code r} spans (stored at {@code partition}, {@code offset}; its first
   * byte is its kind): its row (PUT) or operations (PATCH), null for a DELETE.
   *
   * @throws IllegalArgumentException naming the write and the fields it was read with when it does
   *     not decode to exactly its bytes with them (see {@link #layoutRefused})
   */
  private Object decodeWrite(Bytes.Reader r, int partition, long offset) {
    String problem;
    try {
      byte op = (byte) r.u8();
      Object decoded = switch (op) {
        case Writes.PUT, Writes.PUT_COUNTED -> Writes.decodePut(layout, op, r);
        case Writes.PATCH -> Writes.decodePatch(layout, r);
        case Writes.DELETE -> null;
        default -> throw new IllegalArgumentException("unknown write kind " + op);
      };
      if (r.pos == r.end) {
        return decoded;
      }
      problem = leftOver(r);
    } catch (RuntimeException e) { // a truncated value, a field index or count beyond the table's
      problem = String.valueOf(e.getMessage());
    }
    throw layoutRefused("the write stored at partition " + partition + ", offset " + offset, problem);
  }

  private static String leftOver(Bytes.Reader r) {
    return (r.end - r.pos) + " bytes are left over after its last field";
  }

  /**
   * The values of a Base row that {@code r} spans (see {@link TableBase#read}), which must decode to
   * exactly its bytes with the table's fields.
   *
   * @throws IllegalArgumentException naming the Base and the fields it was read with otherwise
   */
  private Object[] baseRow(TableBase base, Bytes.Reader r) {
    String problem;
    try {
      Object[] values = RowCodec.decode(layout, base.fields, r);
      if (r.pos == r.end) {
        return values;
      }
      problem = leftOver(r);
    } catch (RuntimeException e) {
      problem = String.valueOf(e.getMessage());
    }
    throw layoutRefused("a row of " + base.file, problem);
  }

  /**
   * Why the first row of {@code base} (a start-up's current version, or a backup being activated)
   * cannot be read with the table's fields; null when it can.
   */
  private String baseLayoutProblem(TableBase base) {
    try {
      base.firstEntry(new Bytes.Reader(), (written, r) -> baseRow(base, r));
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /**
   * The refusal of a stored write or row that does not decode with the table's fields: they do not
   * describe the rows stored (schemas.json deleted and recorded afresh, or edited).
   */
  private IllegalArgumentException layoutRefused(String what, String problem) {
    return new IllegalArgumentException(String.format("table '%s': %s does not have the layout of the fields it would "
        + "be read with, %s%s (as recorded in the data directory's schemas.json, or taken from the spec where the file "
        + "does not name the table yet): %s. Those fields do not describe the rows stored (was the file deleted or "
        + "edited?): restore it from a backup, or open with the spec the rows were written with.", spec.name(), what,
        List.of(layout.names), layout.grown() ? ", of which rows stored before the table grew have the first "
            + layout.firstFields : "", problem));
  }

  /**
   * The cut of version {@code id} as the real-time writes log holds it now: {@code cut}, or lowered
   * to the log's end where a power loss under durability {@code os} or {@code interval} took the
   * log's tail after the version was pushed. A version's Base is the table at its cut (a push
   * replaces every row, so the writes before its cut are in it or superseded), so the lost writes
   * are not needed; but new writes get the lost offsets again, and a Delta that started at the
   * recorded cut would skip them. The lowered cut is stored with the catalog once every table has
   * opened (so that a later start, with new writes past it, does not lower it again from there).
   */
  private boolean changedOnOpen;

  private Cut withinLog(long id, Cut cut) {
    Cut end = writes.end();
    Cut within = cut.min(end);
    if (within.equals(cut)) {
      return cut;
    }
    LOG.warn("table '{}': version {} was pushed at {} of its writes log, which now ends at {} (its tail was lost, as "
        + "a crash under durability os or interval can); its writes follow from {}", spec.name(), id, cut, end, within);
    changedOnOpen = true;
    return within;
  }

  /**
   * Whether opening changed what the catalog records: it lowered a version's cut to its writes log's
   * end ({@link #withinLog}), or marked a push that a restart interrupted failed. The engine stores
   * the catalog once every table is open (a store during the open would leave this table out).
   */
  public boolean catalogChangedOnOpen() {
    return changedOnOpen;
  }

  private void restore(VersionCatalog.ViewEntry recorded) throws IOException {
    if (recorded != null) {
      next = recorded.next();
      for (VersionCatalog.Entry e : recorded.versions()) {
        JsonNode doc = e.document() == null ? JSON.nullNode() : JSON.readTree(e.document());
        String pushId = doc.path("pushId").asText(null);
        boolean canServe = e.state() == VersionState.CURRENT || e.state() == VersionState.BACKUP;
        Version v = new Version(e.id(), e.state(), canServe ? withinLog(e.id(), e.cut()) : e.cut(), pushId, e.base(),
            e.createdAt());
        v.failure = e.failure();
        if (v.state == VersionState.BUILDING) {
          v.state = VersionState.FAILED;
          String what = pushId != null && pushId.startsWith(spec.name() + "-" + v.id + "-repush-") ? "repush" : "push";
          v.failure = "interrupted by a restart (the process stopped during the " + what + "); " + what + " again";
          changedOnOpen = true;
          LOG.warn("table '{}': push {} (version {}) was interrupted by a restart: marked failed, its files removed",
              spec.name(), pushId, v.id);
        }
        if (pushId != null) {
          v.report = reportFromCatalog(v, doc);
          pushes.put(pushId, v.report);
        }
        if (v.state == VersionState.BACKUP && e.rollback()) {
          interruptedRollback = v.id;
          rollbackMarked = v; // until the activation that resumes it ends: the catalogs stored meanwhile keep the mark
        }
        versions.add(v);
        if (v.state == VersionState.CURRENT) {
          current = v;
        }
      }
    }
    if (current == null) {
      Version v = new Version(next++, VersionState.CURRENT, Cut.zero(writes.partitions()), null, null,
          System.currentTimeMillis());
      versions.add(v);
      current = v;
    }
    int listed = versions.size();
    forgetOldGoneVersions(); // a catalog an older build wrote lists every failed push
    changedOnOpen |= versions.size() != listed;
    removeOrphans();
    if (current.baseFile != null) {
      current.base = openBaseOrNoteDamage(current);
      String problem = current.base == null ? null : baseLayoutProblem(current.base);
      if (problem != null) { // before a follower or a checkpoint reads a row with these fields
        current.base.close();
        parsers.shutdownNow();
        throw new IllegalArgumentException(problem);
      }
    }
    if (damaged == null) {
      current.delta = new Delta(current.base, current.cut);
      restoreCheckpoint(current);
    }
    persist.run();
    Cut end = writes.end();
    for (int p = 0; p < followers.length; p++) {
      // A damaged version has no Delta: the followers only keep pace with the log for the push or
      // activation that replaces it (which replays from its own cut up to them).
      followers[p] = new Follower(p, damaged == null ? current.delta.position.get(p) : end.offset(p));
      if (damaged == null) {
        followers[p].attached.add(current.delta);
      }
      followers[p].start();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Damaged Base
  // ---------------------------------------------------------------------------------------------

  /** The current version whose Base could not be opened at start-up, until a push or activation replaces it. */
  private volatile Version damaged;
  /** What reads, writes, incremental pushes and repushes of the damaged table throw; null when it serves. */
  private volatile dev.braid.UnavailableException damage;

  /**
   * Opens version {@code v}'s Base at start-up; when it fails its checks or is missing, notes the
   * damage (logged, reported by {@link #damage()}) and returns null, so that only this table is
   * refused instead of the engine failing to open or the table serving rows without its Base. A full
   * push or the activation of a backup replaces the version (see {@link #swap}).
   */
  private TableBase openBaseOrNoteDamage(Version v) throws IOException {
    Path file = dir.resolve(v.baseFile);
    String why;
    try {
      return TableBase.open(file, layout);
    } catch (dev.braid.log.CorruptLogException e) {
      why = e.getMessage();
    } catch (java.nio.file.NoSuchFileException e) {
      why = TableBase.KIND + " " + file + " is missing";
    }
    StringBuilder repair = new StringBuilder("push the whole table again (a full push: `braid push ")
        .append(spec.name()).append(" FILE`, POST /v1/tables/").append(spec.name()).append("/pushes)");
    for (int i = versions.size() - 1; i >= 0; i--) {
      Version b = versions.get(i);
      if (b.state == VersionState.BACKUP) {
        repair.append(" or roll back to backup version ").append(b.id).append(" (`braid activate ").append(spec.name())
            .append(' ').append(b.id).append(" --table`; the writes since its cut are replayed)");
        break;
      }
    }
    damage = new dev.braid.UnavailableException("table", spec.name(), file, why, repair.toString());
    damaged = v;
    LOG.error("table '{}' is refused: {}; {}", spec.name(), why, repair);
    return null;
  }

  /** Why the table is refused (its current version's Base is damaged), or null when it serves. */
  public dev.braid.UnavailableException damage() {
    return damage;
  }

  private void requireUndamaged() {
    dev.braid.UnavailableException e = damage;
    if (e != null) {
      throw e;
    }
  }

  /**
   * The report of version {@code v}'s push as the catalog recorded it ({@code doc}): its counts and
   * bad rows, {@code done} unless the version failed (a push interrupted by a restart recorded no
   * counts: all 0). Bad rows recorded as {@code file:line: reason} text (catalogs written before they
   * were objects) are split back.
   */
  private static final java.util.regex.Pattern OLD_BAD_ROW = java.util.regex.Pattern.compile("(?s)(.*?):(\\d+): (.*)");

  private PushReport reportFromCatalog(Version v, JsonNode doc) {
    List<PushReport.BadRow> bad = new ArrayList<>();
    for (JsonNode b : doc.path("bad")) {
      if (b.isObject()) {
        bad.add(new PushReport.BadRow(b.path("file").asText(), b.path("line").asLong(), b.path("reason").asText()));
      } else {
        java.util.regex.Matcher m = OLD_BAD_ROW.matcher(b.asText());
        bad.add(m.matches() ? new PushReport.BadRow(m.group(1), Long.parseLong(m.group(2)), m.group(3))
            : new PushReport.BadRow("", 0, b.asText()));
      }
    }
    boolean failed = v.state == VersionState.FAILED;
    return new PushReport(spec.name(), v.pushId, v.id, failed ? "failed" : "done", doc.path("bytes").asLong(),
        doc.path("rows").asLong(), doc.path("distinctKeys").asLong(), doc.path("expired").asLong(),
        doc.path("badRows").asLong(), List.copyOf(bad), v.cut, doc.path("replayed").asLong(),
        doc.path("seconds").asDouble(), failed ? v.failure : null);
  }

  /**
   * Waits until the current version has applied the log as it is now (for the engine's open).
   * Never waits without bound: throws {@link IllegalStateException} at once when a follower has
   * stopped (naming the partition and why), and when the Delta has not moved for {@code stall}
   * while still behind the log's end (naming the positions), so a stuck start-up fails with a
   * reason instead of hanging.
   */
  public void awaitCaughtUp(long stall, TimeUnit unit) throws InterruptedException {
    if (current.delta == null) {
      return; // damaged: nothing serves, so nothing to catch up (see openBaseOrNoteDamage)
    }
    long stallNanos = unit.toNanos(stall);
    Cut end = writes.end();
    for (int p = 0; p < followers.length; p++) {
      long last = -1;
      long since = System.nanoTime();
      while (true) {
        long at = current.delta.position.get(p);
        if (at >= end.offset(p)) {
          break;
        }
        Throwable failed = followers[p].failure;
        if (failed != null) {
          throw new IllegalStateException("table '" + spec.name() + "': the follower of partition " + p
              + " stopped at offset " + at + " (log end " + end.offset(p) + "): " + failed, failed);
        }
        if (at != last) {
          last = at;
          since = System.nanoTime();
        } else if (System.nanoTime() - since > stallNanos) {
          throw new IllegalStateException("table '" + spec.name() + "': partition " + p + " of its real-time log made "
              + "no progress for " + unit.toSeconds(stall) + " s at offset " + at + " (log end " + end.offset(p)
              + "); its follower thread is " + followers[p].getState());
        }
        Thread.sleep(1);
      }
    }
  }

  /** Why a follower stopped (the table no longer applies that partition's writes), or null. */
  public String failure() {
    for (Follower f : followers) {
      Throwable t = f == null ? null : f.failure;
      if (t != null) {
        return "table '" + spec.name() + "': the follower of partition " + f.p + " stopped: " + t;
      }
    }
    return null;
  }

  private void removeOrphans() throws IOException {
    Set<String> keep = new HashSet<>();
    for (Version v : versions) {
      if ((v.state == VersionState.CURRENT || v.state == VersionState.BACKUP) && v.baseFile != null) {
        keep.add(v.baseFile);
      }
      if (v.state == VersionState.CURRENT) {
        keep.add(checkpointName(v.id));
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (!keep.contains(name) && !name.endsWith(CORRUPT_SUFFIX)) { // a damaged Base moved aside stays
          Files.delete(f);
          LOG.info("table '{}': removed orphaned file {} (left by an interrupted or failed push, or a retired version)",
              spec.name(), f);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints of the current version's Delta
  // ---------------------------------------------------------------------------------------------

  /*
   * File v<id>.ckpt (the current version's Delta), written as v<id>.ckpt.tmp, fsynced, renamed
   * over the last one, directory fsynced (as the views' DeltaCheckpoint):
   *
   *   "BRAIDTDC" | int format 3 | long version id | int partitions | int fields | long ttl millis (-1: none)
   *   per partition: long position | varint rows | rows x (key string, RowState.write)
   *   int CRC32C of every byte before it
   *
   * A restart loads it when it belongs to the current version, its CRC holds and its positions lie
   * in [cut, log end]; otherwise it is refused (logged with the reason) and the Delta is rebuilt by
   * replaying from the cut, as without a checkpoint. The follower then replays from its positions.
   * {@code fields} is how many of the table's fields each row has; a checkpoint written before the
   * table's fields grew (format 1 has its first fields) is refused and the writes replayed instead.
   * A write to an expired row starts a new row (RowState.expireBefore), so what a row holds depends
   * on the ttl: a checkpoint written under another ttl, or by a build before that rule (formats 1
   * and 2) for a table with a ttl, is refused too.
   */
  static final byte[] CKPT_MAGIC = {'B', 'R', 'A', 'I', 'D', 'T', 'D', 'C'};
  static final int CKPT_FORMAT = 3;
  private volatile Cut checkpointed; // position of the last checkpoint written or restored, with its version
  private volatile long checkpointedVersion;
  private volatile String restoredFrom; // what start-up restored, for status and tests

  static String checkpointName(long versionId) {
    return "v" + versionId + ".ckpt";
  }

  /**
   * Writes a checkpoint of the current version's Delta, unless nothing moved since the last one;
   * returns its file or null. Each partition's rows are copied under that partition's read lock
   * (its follower waits meanwhile); partitions are independent, so each one's position is exact.
   */
  public Path checkpoint() throws IOException {
    Version v = current;
    Delta d = v.delta;
    if (d == null) {
      return null;
    }
    Cut at = d.position();
    if (v.id == checkpointedVersion && at.equals(checkpointed)) {
      return null;
    }
    Path file = dir.resolve(checkpointName(v.id));
    Path tmp = dir.resolve(checkpointName(v.id) + ".tmp");
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    long[] positions = new long[d.rows.length];
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
        java.nio.file.StandardOpenOption.WRITE)) {
      Bytes out = new Bytes(1 << 16);
      out.put(CKPT_MAGIC, 0, CKPT_MAGIC.length);
      out.putInt(CKPT_FORMAT);
      out.putLong(v.id);
      out.putInt(d.rows.length);
      out.putInt(layout.size());
      out.putLong(layout.ttlMillis);
      for (int p = 0; p < d.rows.length; p++) {
        d.locks[p].readLock().lock();
        try {
          positions[p] = d.position.get(p);
          out.putLong(positions[p]);
          out.putVarint(d.rows[p].size());
          for (Map.Entry<String, RowState> e : d.rows[p].entrySet()) {
            out.putString(e.getKey());
            e.getValue().write(out);
            if (out.len > (1 << 20)) {
              flushTo(ch, out, crc);
            }
          }
        } finally {
          d.locks[p].readLock().unlock();
        }
      }
      flushTo(ch, out, crc);
      out.putInt((int) crc.getValue());
      flushTo(ch, out, null);
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (java.nio.channels.FileChannel dirCh = java.nio.channels.FileChannel.open(dir,
        java.nio.file.StandardOpenOption.READ)) {
      dirCh.force(true);
    }
    checkpointed = Cut.of(positions);
    checkpointedVersion = v.id;
    try (Stream<Path> files = Files.list(dir)) { // checkpoints of versions no longer current
      for (Path f : (Iterable<Path>) files::iterator) {
        String n = f.getFileName().toString();
        if (n.endsWith(".ckpt") && !n.equals(file.getFileName().toString())) {
          Files.deleteIfExists(f);
        }
      }
    }
    return file;
  }

  private static void flushTo(java.nio.channels.FileChannel ch, Bytes out, java.util.zip.CRC32C crc)
      throws IOException {
    if (crc != null) {
      crc.update(out.buf, 0, out.len);
    }
    ByteBuffer b = ByteBuffer.wrap(out.buf, 0, out.len);
    while (b.hasRemaining()) {
      ch.write(b);
    }
    out.clear();
  }

  /** What the last start-up restored: the checkpoint file and its position, or why it replayed from the cut. */
  public String restoredFrom() {
    return restoredFrom;
  }

  private void restoreCheckpoint(Version v) {
    Path file = dir.resolve(checkpointName(v.id));
    if (!Files.exists(file)) {
      restoredFrom = "no checkpoint: replayed from the cut " + v.cut;
      return;
    }
    String refused;
    try {
      byte[] all = Files.readAllBytes(file);
      refused = loadCheckpoint(v, all);
    } catch (IOException | RuntimeException e) {
      refused = "cannot be read: " + e;
    }
    if (refused != null) {
      v.delta = new Delta(v.base, v.cut); // drop whatever a partial load left
      restoredFrom = "refused " + file + " (" + refused + "): replayed from the cut " + v.cut;
      LOG.warn("table '{}': checkpoint {} refused: {}; replaying the writes from the cut {} instead", spec.name(),
          file, refused, v.cut);
      return;
    }
    restoredFrom = file.getFileName() + " at " + v.delta.position();
    checkpointed = v.delta.position();
    checkpointedVersion = v.id;
    LOG.info("table '{}': restored {} at {}", spec.name(), file, checkpointed);
  }

  /** Loads {@code all} into {@code v.delta}; returns why it is refused, or null. */
  private String loadCheckpoint(Version v, byte[] all) {
    if (all.length < CKPT_MAGIC.length + 4 + 8 + 4 + 4) {
      return "shorter than its header";
    }
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(all, 0, all.length - 4);
    ByteBuffer b = ByteBuffer.wrap(all);
    if ((int) crc.getValue() != b.getInt(all.length - 4)) {
      return "checksum mismatch (torn or damaged)";
    }
    if (!java.util.Arrays.equals(java.util.Arrays.copyOf(all, CKPT_MAGIC.length), CKPT_MAGIC)) {
      return "not a table checkpoint";
    }
    Bytes.Reader r = new Bytes.Reader().reset(b, CKPT_MAGIC.length, all.length - 4);
    int format = r.i32();
    if (format < 1 || format > CKPT_FORMAT) {
      return "format " + format + ", not 1 to " + CKPT_FORMAT;
    }
    long id = r.i64();
    if (id != v.id) {
      return "it is of version " + id + ", not the current " + v.id;
    }
    int parts = r.i32();
    if (parts != v.delta.rows.length) {
      return parts + " partitions, the table has " + v.delta.rows.length;
    }
    int fields = format == 1 ? layout.firstFields : r.i32();
    if (fields != layout.size()) {
      // A PUT replaces the whole row, the fields added since included: a row restored with fewer
      // fields cannot tell which later write a new field must lose to. The replay decodes each PUT
      // with every field and stamps them all.
      return "its rows have " + fields + " fields and the table has " + layout.size() + " now";
    }
    long ttl = format < 3 ? -1 : r.i64();
    if (format < 3 && layout.ttlMillis >= 0) {
      return "written by a build whose writes did not start a new row when they found it expired, and the table "
          + "has a ttl";
    }
    if (ttl != layout.ttlMillis) {
      return "written under " + (ttl < 0 ? "no ttl" : "a ttl of " + ttl + " ms") + ", and the table has "
          + (layout.ttlMillis < 0 ? "none" : "a ttl of " + layout.ttlMillis + " ms") + " now (which rows a write "
          + "found expired depends on it)";
    }
    Cut end = writes.end();
    Delta d = v.delta;
    for (int p = 0; p < parts; p++) {
      long pos = r.i64();
      if (pos < v.cut.offset(p) || pos > end.offset(p)) {
        return "partition " + p + " position " + pos + " is outside [cut " + v.cut.offset(p) + ", log end "
            + end.offset(p) + "]";
      }
      int n = r.varint();
      HashMap<String, RowState> rows = d.rows[p];
      for (int i = 0; i < n; i++) {
        String key = r.string();
        rows.put(key, RowState.read(layout, r));
      }
      d.position.set(p, pos);
    }
    return null;
  }

  /** This table's catalog record. */
  public synchronized VersionCatalog.ViewEntry catalogEntry() {
    // a switch being stored (see swap): the versions as it leaves them
    Switch sw = pendingSwap == null ? null : new Switch(pendingSwap);
    List<Version> order = sw == null ? versions : sw.order;
    Set<Version> forgotten = pastGoneKept(order, sw == null ? x -> x.state : sw::state);
    List<VersionCatalog.Entry> out = new ArrayList<>();
    for (Version v : order) {
      if (forgotten.contains(v)) {
        continue;
      }
      ObjectNode doc = JSON.createObjectNode();
      doc.put("table", spec.name());
      if (v.pushId != null) {
        doc.put("pushId", v.pushId);
      }
      PushReport r = v.report;
      if (r != null) { // the push's report, read back at start (see reportFromCatalog)
        doc.put("rows", r.rows()).put("distinctKeys", r.distinctKeys()).put("badRows", r.badRows())
            .put("expired", r.expired()).put("bytes", r.bytes()).put("replayed", r.replayed())
            .put("seconds", r.seconds());
        var bad = doc.putArray("bad");
        for (PushReport.BadRow b : r.bad()) {
          bad.addObject().put("file", b.file()).put("line", b.line()).put("reason", b.reason());
        }
      }
      VersionState state = sw == null ? v.state : sw.state(v);
      // a backup being activated (a rollback): a restart activates it again
      boolean rollback = rollbackMarked == v && state == VersionState.BACKUP;
      out.add(new VersionCatalog.Entry(v.id, state, v.cut, v.baseFile, definition(), doc.toString(), v.createdAt,
          sw == null ? v.failure : sw.failure(v), -1, -1, false, null, rollback));
    }
    return new VersionCatalog.ViewEntry(next, definition(), out);
  }

  private String definition() {
    StringBuilder sb = new StringBuilder("key=").append(spec.key()).append(";fields=");
    spec.fields().forEach((k, t) -> sb.append(k).append(':').append(t.specName()).append(','));
    if (spec.ttl() != null) {
      sb.append(";ttl=").append(spec.ttl().toMillis()).append("ms");
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Following the real-time log
  // ---------------------------------------------------------------------------------------------

  /** Applies partition {@code p}'s writes to every attached Delta; the partition's single writer. */
  private final class Follower extends Thread {
    final int p;
    final ReentrantLock lock = new ReentrantLock(); // guards attached and the reader's progress
    final List<Delta> attached = new CopyOnWriteArrayList<>();
    final LogReader reader;
    volatile long position;
    volatile Throwable failure; // why the follower stopped, else null

    Follower(int p, long from) {
      super("braid-table-" + spec.name() + "-p" + p);
      setDaemon(true);
      this.p = p;
      this.position = from;
      this.reader = writes.reader(p, from);
    }

    @Override
    public void run() {
      try {
        while (!closed) {
          lock.lock();
          boolean any;
          try {
            any = step(reader, attached, Long.MAX_VALUE);
            position = reader.position();
          } finally {
            lock.unlock();
          }
          if (!any) {
            reader.awaitData(50, TimeUnit.MILLISECONDS);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException | Error e) {
        failure = e;
        LOG.error("table '{}': the follower of partition {} stopped", spec.name(), p, e);
      } finally {
        reader.close();
      }
    }
  }

  /** Applies one poll of {@code reader}'s records below {@code until} to {@code deltas}; false when there were none. */
  private boolean step(LogReader reader, List<Delta> deltas, long until) {
    if (reader.position() >= until) {
      return false;
    }
    RecordCursor c = reader.poll();
    boolean any = false;
    Bytes.Reader r = new Bytes.Reader();
    while (c.next()) {
      if (c.offset() >= until) {
        reader.seek(c.offset());
        break;
      }
      any = true;
      ByteBuffer b = c.buffer();
      byte[] kb = new byte[c.keyLength()];
      b.get(c.keyOffset(), kb);
      String key = new String(kb, StandardCharsets.UTF_8);
      r.reset(b, c.valueOffset(), c.valueOffset() + c.valueLength());
      Object decoded = decodeWrite(r, reader.partition(), c.offset()); // checks the kind byte read here
      byte op = b.get(c.valueOffset());
      for (Delta d : deltas) {
        d.apply(reader.partition(), key, c.eventTime(), c.ingestTime(), c.offset(), op, decoded);
      }
    }
    return any;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------------------------

  @Override
  public String name() {
    return spec.name();
  }

  @Override
  public TableRow get(String rowKey) {
    requireOpen();
    String key = checkKey(rowKey);
    requireUndamaged();
    while (true) {
      Version v = current;
      Delta d = v.delta;
      if (d == null) {
        continue; // swapped out between the two reads
      }
      try {
        return read(v, d, key);
      } catch (MappedFile.ClosedException e) {
        if (current == v) {
          throw e; // not a retirement: the serving version's Base is never closed
        }
        // v was swapped out and retired (keep: 0) while this read ran: read the current version
      }
    }
  }

  /** Row {@code key} as version {@code v}, whose Delta is {@code d}, serves it. */
  private TableRow read(Version v, Delta d, String key) {
    byte[] kb = key.getBytes(StandardCharsets.UTF_8);
    int p = Partitioner.partition(kb, 0, kb.length, writes.partitions());
    Object[] values = null;
    long lastWrite = Long.MAX_VALUE;
    long keyPosition;
    d.locks[p].readLock().lock();
    try {
      // the key's partition position with its state, under the same lock: read after the unlock, a
      // write the follower applies in between would be in asOf but not in the answer
      keyPosition = d.position.get(p);
      RowState s = d.rows[p].get(key);
      if (s != null) {
        values = s.materialize();
        lastWrite = s.lastWrite;
      } else if (d.base != null) {
        TableBase base = d.base;
        BaseRow row = base.read(kb, new Bytes.Reader(), (written, r) -> new BaseRow(baseRow(base, r), written));
        if (row != null) {
          values = row.values();
          lastWrite = row.written();
          for (int f = 0; f < values.length; f++) {
            if (values[f] == null && layout.types[f].isCollection()) {
              values[f] = emptyOf(layout.types[f]);
            }
          }
        }
      }
    } finally {
      d.locks[p].readLock().unlock();
    }
    if (values != null && spec.ttl() != null && lastWrite < System.currentTimeMillis() - spec.ttl().toMillis()) {
      values = null; // expired: lazily dropped on read
    }
    long[] position = d.position().toArray();
    position[p] = keyPosition;
    TableAsOf asOf = new TableAsOf(v.id, v.pushId, v.cut, Cut.of(position));
    if (values == null) {
      return new TableRow(key, false, Map.of(), asOf);
    }
    // the key is a field of every row that exists, also one created by a PATCH or after a DELETE
    values[layout.keyIndex] = layout.types[layout.keyIndex].element() == dev.braid.event.FieldType.LONG
        ? (Object) Long.parseLong(key) : key;
    Map<String, Object> m = new LinkedHashMap<>();
    for (int f = 0; f < values.length; f++) {
      if (values[f] != null) {
        m.put(layout.names[f], values[f]);
      }
    }
    return new TableRow(key, true, m, asOf);
  }

  /**
   * Unmaps every version's Base: the engine calls it on close, after the followers stopped and the
   * last checkpoint is written. Reads in progress finish first ({@link dev.braid.log.MappedFile});
   * later ones throw {@link dev.braid.log.MappedFile.ClosedException}.
   */
  public void unmapFiles() {
    List<Version> all;
    synchronized (this) { // not while a swap moves a version in the list
      all = new ArrayList<>(versions);
    }
    for (Version v : all) {
      closeIfOpen(v.base);
    }
  }

  private static void closeIfOpen(TableBase base) {
    if (base != null) {
      base.close();
    }
  }

  /** A row read from a Base: its values and last-write millis. */
  private record BaseRow(Object[] values, long written) {}

  private static Object emptyOf(TableFieldType t) {
    return t.kind() == TableFieldType.Kind.LIST ? new ArrayList<>()
        : t.kind() == TableFieldType.Kind.SET ? new java.util.LinkedHashSet<>() : new LinkedHashMap<>();
  }

  @Override
  public List<TableRow> getAll(List<String> keys) {
    java.util.Objects.requireNonNull(keys, "the list of row keys is null");
    List<TableRow> out = new ArrayList<>(keys.size());
    for (String k : keys) {
      out.add(get(k));
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes
  // ---------------------------------------------------------------------------------------------

  @Override
  public WriteResult put(String key, Map<String, ?> row, Long timestamp) {
    java.util.Objects.requireNonNull(row, "the row is null (delete a row with delete)");
    String k = checkKey(key);
    Object[] values = Writes.checkRow(layout, row, k);
    Bytes b = new Bytes(256);
    Writes.encodePut(layout, values, b);
    return append(k, b, timestamp);
  }

  @Override
  public WriteResult patch(String key, Patch patch, Long timestamp) {
    java.util.Objects.requireNonNull(patch, "the patch is null");
    List<Writes.Op> ops = Writes.check(layout, patch);
    Bytes b = new Bytes(128);
    Writes.encodePatch(layout, ops, b);
    return append(checkKey(key), b, timestamp);
  }

  @Override
  public WriteResult delete(String key, Long timestamp) {
    Bytes b = new Bytes(4);
    Writes.encodeDelete(b);
    return append(checkKey(key), b, timestamp);
  }

  /**
   * {@code key} as the table stores it: a whole-number key in its canonical decimal form, as a push
   * stores the number ({@code 070}, {@code +70} and {@code 70} are the row {@code 70}; before, a
   * write through a path kept the text, and made a second row of the same id), else as given.
   */
  @Override
  public String rowKey(String key) {
    return checkKey(key);
  }

  private String checkKey(String key) {
    // the empty key is a key, as in pushes and streams
    java.util.Objects.requireNonNull(key, "a row key cannot be null");
    if (layout.types[layout.keyIndex].element() == dev.braid.event.FieldType.LONG) {
      return Long.toString(Writes.parseLongKey(layout, key));
    }
    return key;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("table '" + spec.name() + "' is closed");
    }
  }

  /**
   * Runs a push, repush or activation registered in {@link #inFlight} (close waits for it); fails
   * at once if the table is closed.
   */
  private <T> T inFlight(java.util.function.Supplier<T> operation) {
    synchronized (gate) {
      requireOpen();
      inFlight++;
    }
    try {
      // its Base and catalog writes run on the caller's thread: an interrupt pending there would close their files
      return dev.braid.log.Interrupts.setAside(operation);
    } finally {
      exit();
    }
  }

  private void exit() {
    synchronized (gate) {
      if (--inFlight == 0) {
        gate.notifyAll();
      }
    }
  }

  /** Fails an operation in progress once {@link #close} has begun. */
  /** Whether {@link #close} has begun. */
  boolean isClosed() {
    return closed;
  }

  private void failIfClosed(String what) {
    if (closed) {
      throw new IllegalStateException("table '" + spec.name() + "' was closed during " + what);
    }
  }

  /**
   * Runs a push's replay and swap ({@code finish}) on the caller's thread, or on a new thread when
   * the caller does not wait for the swap; that thread counts as in flight until it ends. Called
   * from inside an operation, which keeps {@link #close} waiting until the thread has registered.
   */
  private void finishSwap(Runnable finish, boolean wait) {
    if (wait) {
      finish.run();
      return;
    }
    synchronized (gate) {
      inFlight++;
    }
    Thread t = new Thread(() -> {
      try {
        finish.run();
      } finally {
        exit();
      }
    }, "braid-push-swap-" + spec.name());
    t.setDaemon(true);
    t.start();
  }

  /** Partition to why its last append of writes failed, until one succeeds there (for health and status). */
  private final Map<Integer, String> writeFaults = new java.util.concurrent.ConcurrentSkipListMap<>();

  /**
   * Why appends of this table's writes fail now, by partition: "failing: no space left on device at
   * FILE (REASON)", as a stream's ingest faults read; empty when the last append to each succeeded.
   */
  public Map<Integer, String> writeFaults() {
    return java.util.Collections.unmodifiableMap(writeFaults);
  }

  /** Appends {@code batch} of writes to partition {@code p}, noting in {@link #writeFaults} whether it failed. */
  private dev.braid.log.AppendResult appendWrites(int p, RecordBatchBuilder batch) {
    try {
      dev.braid.log.AppendResult r = writes.append(p, batch);
      writeFaults.remove(p);
      return r;
    } catch (dev.braid.log.LogWriteException e) {
      writeFaults.put(e.partition(), e.failing());
      throw e;
    }
  }

  private WriteResult append(String key, Bytes value, Long timestamp) {
    requireOpen();
    requireUndamaged(); // a write would go to no Delta now, and to whichever version replaces this one later
    long now = System.currentTimeMillis();
    long ts = timestamp == null ? now : timestamp;
    if (ts < dev.braid.event.EventEncoder.MIN_EVENT_TIME || ts > dev.braid.event.EventEncoder.MAX_EVENT_TIME) {
      // one far ahead would win over every later write of the row
      throw new IllegalArgumentException(String.format("table '%s': the write's timestamp %d is out of range: it "
          + "must lie in the years 0000-9999, as an event time does", spec.name(), ts));
    }
    byte[] kb = key.getBytes(StandardCharsets.UTF_8);
    String tooLarge = tooLargeForAWrite(key, kb.length, value.len);
    if (tooLarge != null) {
      throw new IllegalArgumentException(tooLarge);
    }
    int p = writes.partitionFor(kb);
    RecordBatchBuilder batch = new RecordBatchBuilder(value.len + kb.length + 64, 16 << 20);
    batch.add(kb, 0, kb.length, value.buf, 0, value.len, ts, now);
    long offset = appendWrites(p, batch).firstOffset();
    return new WriteResult(p, offset, ts);
  }

  @Override
  public boolean awaitApplied(WriteResult w, long timeoutMillis) throws InterruptedException {
    java.util.Objects.requireNonNull(w, "the write result is null");
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (true) {
      Delta d = current.delta;
      if (d != null && d.position.get(w.partition()) > w.offset()) {
        return true;
      }
      Throwable failed = followers[w.partition()].failure;
      if (failed != null) {
        throw new IllegalStateException(failure(), failed);
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(0, 200_000);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pushes
  // ---------------------------------------------------------------------------------------------

  @Override
  public PushReport push(String pushId) {
    PushReport r = pushes.get(pushId);
    if (r == null) {
      // newest version first (the message lists the first 20), incremental pushes (no version) last
      List<String> known = pushes.values().stream()
          .sorted(java.util.Comparator.comparingLong(PushReport::version).reversed()
              .thenComparing(PushReport::pushId))
          .map(PushReport::pushId).toList();
      throw new UnknownNameException("push", pushId, known);
    }
    return r;
  }

  @Override
  public PushReport push(InputStream in, PushOptions o) {
    java.util.Objects.requireNonNull(in, "the push's input stream is null");
    java.util.Objects.requireNonNull(o, "the push options are null (PushOptions.defaults(source))");
    if (o.incremental()) {
      requireUndamaged(); // its rows are writes (a full push is a way out of the damage)
    }
    return inFlight(() -> o.incremental() ? incrementalPush(in, o) : fullPush(in, o));
  }

  private PushReport fullPush(InputStream in, PushOptions o) {
    Cut cut = startCut(o);
    Version v;
    synchronized (this) {
      if (building != null) {
        throw new IllegalStateException(busy());
      }
      long id = next++;
      String pushId = spec.name() + "-" + id + "-" + Long.toString(System.currentTimeMillis(), 36);
      v = new Version(id, VersionState.BUILDING, cut, pushId, "v" + id + ".base", System.currentTimeMillis());
      building = v;
      versions.add(v);
    }
    try {
      persist.run();
    } catch (RuntimeException | Error notStored) {
      failUnrecorded(v, notStored); // else it stayed building, and refused every later push until a restart
      throw notStored;
    }
    long t0 = System.nanoTime();
    long pushTime = o.sinceMillis() != null ? o.sinceMillis() : System.currentTimeMillis();
    long ttlCutoff = spec.ttl() == null ? Long.MIN_VALUE : System.currentTimeMillis() - spec.ttl().toMillis();
    PushLoader loader = new PushLoader(layout, o.format(), parsers, threads, pushTime, ttlCutoff);
    long[] counts = new long[3]; // rows, expired, bad
    List<PushReport.BadRow> bad = new ArrayList<>();
    report(v, "loading", loader, counts, bad, 0, t0, null);
    v.input = in;
    if (v.cancelled) {
      closeQuietly(in); // a cancel that came before the input was recorded
    }
    try (TableBase.Writer w = new TableBase.Writer(dir.resolve(v.baseFile), cut, pushTime, layout)) {
      loader.load(in, (chunk, firstLine) -> {
        failIfClosed("push " + v.pushId);
        failIfCancelled(v, null);
        w.append(chunk.entries.buf, 0, chunk.entries.len);
        counts[0] += chunk.rows;
        counts[1] += chunk.expired;
        counts[2] += chunk.badReasons.size();
        for (int i = 0; i < chunk.badReasons.size() && bad.size() < MAX_BAD_KEPT; i++) {
          bad.add(new PushReport.BadRow(o.source(), firstLine + chunk.badLines.get(i)[0], chunk.badReasons.get(i)));
        }
        report(v, "loading", loader, counts, bad, 0, t0, null);
        return o.maxBadPercent() || counts[2] <= o.maxBadRows();
      });
      long total = counts[0] + counts[2];
      boolean tooMany = o.maxBadPercent() ? counts[2] * 100 > o.maxBadRows() * total : counts[2] > o.maxBadRows();
      if (tooMany) {
        return fail(v, loader, counts, bad, t0, tooManyBadRows(o, counts[2], total, bad));
      }
      if (counts[0] == 0 && !o.allowEmpty()) {
        return fail(v, loader, counts, bad, t0, "the push holds no rows" + (counts[1] > 0 ? " (" + counts[1]
            + " expired by the table's ttl)" : "") + (counts[2] > 0 ? " (" + counts[2] + " bad)" : "")
            + ", and a push replaces every row of the table; to empty the table on purpose, push with --allow-empty "
            + "(HTTP: allowEmpty=true)");
      }
      long distinct = w.finish();
      v.base = TableBase.open(dir.resolve(v.baseFile), layout);
      report(v, "replaying", loader, counts, bad, distinct, t0, null);
    } catch (IOException | RuntimeException e) {
      return fail(v, loader, counts, bad, t0, v.cancelled ? cancelledPush(v) // its input closed by the cancel, maybe
          : e instanceof IOException io ? "cannot read or write: " + dev.braid.log.LogException.describe(io)
          : e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return fail(v, loader, counts, bad, t0, "interrupted");
    } finally {
      v.input = null;
    }
    long distinct = v.base.rows;
    Runnable finish = () -> {
      try {
        long replayed = replayAndSwap(v, null);
        report(v, "done", loader, counts, bad, distinct, t0, null, replayed);
      } catch (RuntimeException | InterruptedException e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        fail(v, loader, counts, bad, t0, replayFailure(e), e instanceof SwitchNotStored);
        return;
      }
      storeFinalReport(v);
    };
    finishSwap(finish, o.waitForSwap());
    return v.report;
  }

  /**
   * Stores the catalog again with version {@code v}'s final report, for {@code GET .../pushes/{id}}
   * after a restart. The swap stored the version itself already, so a failure here costs only the
   * report's last counts (a restart reads the ones the swap stored): logged, the push stays done.
   */
  private void storeFinalReport(Version v) {
    try {
      persist.run();
    } catch (RuntimeException e) {
      LOG.warn("table '{}': push {} is done, but storing its final report failed: {}", spec.name(), v.pushId,
          e.toString());
    }
  }

  private void report(Version v, String state, PushLoader loader, long[] counts, List<PushReport.BadRow> bad,
      long distinct, long t0, String failure) {
    report(v, state, loader, counts, bad, distinct, t0, failure, 0);
  }

  private void report(Version v, String state, PushLoader loader, long[] counts, List<PushReport.BadRow> bad,
      long distinct, long t0, String failure, long replayed) {
    PushReport r = new PushReport(spec.name(), v == null ? null : v.pushId, v == null ? 0 : v.id, state,
        loader.bytesRead.get(), counts[0], distinct, counts[1], counts[2], List.copyOf(bad), v == null ? null : v.cut,
        replayed, (System.nanoTime() - t0) / 1e9, failure);
    if (v != null) {
      v.report = r;
      pushes.put(v.pushId, r);
    }
  }

  private PushReport fail(Version v, PushLoader loader, long[] counts, List<PushReport.BadRow> bad, long t0,
      String why) {
    return fail(v, loader, counts, bad, t0, why, false);
  }

  /**
   * Fails version {@code v}'s push. With {@code keepFiles} (its switch could not be stored) its Base
   * stays on disk: another thread's catalog store may have recorded the switch meanwhile (every store
   * while it was pending did), and a restart would then serve the version; if none did, the next
   * start removes the file as one no kept version names.
   */
  private PushReport fail(Version v, PushLoader loader, long[] counts, List<PushReport.BadRow> bad, long t0,
      String why, boolean keepFiles) {
    long replayed = 0;
    synchronized (this) {
      if (current == v) {
        // Made current, and so recorded (swap stores the catalog first), before something after the
        // swap failed: a version that serves is never failed, nor its Base deleted.
        if (building == v) {
          building = null;
        }
        report(v, "done", loader, counts, bad, v.base == null ? 0 : v.base.rows, t0, null);
        LOG.warn("table '{}': push {} is current, but {}", spec.name(), v.pushId, why);
        return v.report;
      }
      v.failing = true;
      v.state = VersionState.FAILED;
      v.failure = why;
      Delta d = v.delta;
      if (d != null && v.cut != null) { // what its replay had read when it failed, for its report
        replayed = d.position().offsetsAfter(v.cut);
      }
      detachDelta(v);
      if (building == v) {
        building = null;
      }
      closeIfOpen(v.base); // a failed replay opened it; nothing reads a version that never served
      v.base = null;
      forgetOldGoneVersions();
    }
    try {
      try {
        if (!keepFiles) {
          Files.deleteIfExists(dir.resolve(v.baseFile));
          Files.deleteIfExists(dir.resolve(v.baseFile + ".tmp"));
        }
      } catch (IOException e) {
        LOG.warn("table '{}': cannot delete the files of failed push {}: {}", spec.name(), v.pushId, e.toString());
      }
      PushReport before = v.report; // the keys its Base held, once written
      report(v, "failed", loader, counts, bad, before == null ? 0 : before.distinctKeys(), t0, why, replayed);
      try {
        persist.run();
      } catch (RuntimeException notStored) { // a full disk, most likely what failed the push too
        LOG.warn("table '{}': push {} failed, and the catalog that says so could not be written ({}); the stored "
            + "catalog names it building, which the next start turns into failed{}", spec.name(), v.pushId,
            notStored.getMessage(), keepFiles ? ", or current, if another store recorded its switch (its Base is "
            + "kept for that)" : "");
      }
    } finally {
      v.failing = false;
    }
    LOG.warn("table '{}': push {} failed: {}", spec.name(), v.pushId, why);
    return v.report;
  }

  /**
   * Forgets the retired and failed versions beyond the newest {@link VersionState#GONE_KEPT}, and
   * their pushes' reports, as a view does: each failed push added one to the catalog for good. The
   * caller holds this table's lock and stores the catalog after.
   */
  private void forgetOldGoneVersions() {
    for (Version v : pastGoneKept(versions, x -> x.state)) {
      versions.remove(v);
      if (v.pushId != null) {
        pushes.remove(v.pushId);
      }
    }
  }

  /** The retired and failed versions of {@code order} (in their {@code state}) beyond the newest {@link VersionState#GONE_KEPT}. */
  private static Set<Version> pastGoneKept(List<Version> order, java.util.function.Function<Version, VersionState> state) {
    Set<Version> out = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    int gone = 0;
    for (int i = order.size() - 1; i >= 0; i--) {
      if (state.apply(order.get(i)).gone() && ++gone > VersionState.GONE_KEPT) {
        out.add(order.get(i));
      }
    }
    return out;
  }

  /** Takes version {@code v}'s Delta off the followers: nothing updates or reads it any more. The caller holds the lock. */
  private void detachDelta(Version v) {
    Delta d = v.delta;
    v.delta = null;
    if (d != null) {
      for (Follower f : followers) {
        f.attached.remove(d);
      }
    }
  }

  /** How far in the future a push's {@code since} may be: clocks of the snapshot's machine and ours differ. */
  private static final long SINCE_SKEW_MILLIS = 60_000;

  private Cut startCut(PushOptions o) {
    Cut end = writes.end();
    if (o.sincePosition() != null) {
      Cut c = o.sincePosition();
      if (c.partitions() != end.partitions()) {
        throw new IllegalArgumentException("since-position " + c + " has " + c.partitions() + " partitions; the log of "
            + "table '" + spec.name() + "' has " + end.partitions());
      }
      for (int p = 0; p < c.partitions(); p++) {
        if (c.offset(p) > end.offset(p) || c.offset(p) < writes.startOffset(p)) {
          throw new IllegalArgumentException("since-position " + c + ": partition " + p + " offset " + c.offset(p)
              + " is outside the log, which holds offsets [" + writes.startOffset(p) + ", " + end.offset(p) + ") there: "
              + "a start cut is " + writes.startOffset(p) + " to " + end.offset(p) + " (its end: no write to replay)");
        }
      }
      return c;
    }
    if (o.sinceMillis() != null) {
      long now = System.currentTimeMillis();
      if (o.sinceMillis() > now + SINCE_SKEW_MILLIS) { // every write would be left out: a mistyped date
        throw new IllegalArgumentException(String.format("since %s is in the future (it is %s now): give the time "
            + "the pushed snapshot was taken, so that the writes from then on are replayed onto it",
            java.time.Instant.ofEpochMilli(o.sinceMillis()), java.time.Instant.ofEpochMilli(now)));
      }
      long[] cut = new long[end.partitions()];
      for (int p = 0; p < cut.length; p++) {
        cut[p] = writes.firstOffsetIngestedAtOrAfter(p, o.sinceMillis(), end.offset(p));
      }
      return Cut.of(cut);
    }
    return end;
  }

  /**
   * Replays the writes from the version's cut, attaches it to the followers and swaps it in; a
   * push's or a rollback's ({@code rb} not null) stops at a batch of writes once cancelled.
   */
  private long replayAndSwap(Version v, Rollback rb) throws InterruptedException {
    Delta d = new Delta(v.base, v.cut);
    v.delta = d;
    long replayed = 0;
    List<Delta> only = List.of(d);
    for (Follower f : followers) {
      try (LogReader r = writes.reader(f.p, v.cut.offset(f.p))) {
        long before = r.position();
        while (step(r, only, f.position)) {
          failIfClosed("the replay of version " + v.id); // bulk replay up to where the follower is
          var hook = duringReplay;
          if (hook != null) {
            hook.accept(() -> v.cancelled);
          }
          failIfCancelled(v, rb);
        }
        f.lock.lock();
        try {
          while (step(r, only, f.position)) {
            failIfCancelled(v, rb); // the last few, with the follower paused
          }
          f.attached.add(d);
        } finally {
          f.lock.unlock();
        }
        replayed += r.position() - before;
      }
    }
    failIfClosed("the replay of version " + v.id);
    synchronized (this) { // a cancel before this point stops it; one after it waits for the switch
      failIfCancelled(v, rb);
      if (rb != null) {
        rb.phase = "switching";
      }
    }
    swap(v);
    return replayed;
  }

  /** A build that {@link #cancel} stopped; its message says which. */
  static final class BuildCancelled extends IllegalStateException {
    BuildCancelled(String message) {
      super(message);
    }
  }

  /** Stops the build of {@code v} once {@link #cancel} asked: a rollback's ({@code rb} not null) or a push's. */
  private void failIfCancelled(Version v, Rollback rb) {
    if (v.cancelled) {
      throw new BuildCancelled(rb != null ? "the rollback to version " + v.id + " of table '" + spec.name()
          + "' was " + CANCELLED + "; it is still a backup" : cancelledPush(v));
    }
  }

  private static String cancelledPush(Version v) {
    return "push " + v.pushId + " (version " + v.id + ") was " + CANCELLED;
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException | RuntimeException e) {
      LOG.debug("closing a cancelled push's input: {}", e.toString());
    }
  }

  /**
   * Marks version {@code v} failed, which was added in memory as building but whose catalog could not
   * be written: nothing of it was built. Failed, not forgotten: another thread's catalog write may
   * have recorded it building meanwhile, and the next one (tried here) must say it failed.
   */
  private void failUnrecorded(Version v, Throwable notStored) {
    synchronized (this) {
      v.state = VersionState.FAILED;
      v.failure = "its catalog could not be written, so it was not built: " + notStored.getMessage();
      if (building == v) {
        building = null;
      }
    }
    try {
      persist.run();
    } catch (RuntimeException | Error again) {
      notStored.addSuppressed(again);
    }
  }

  /** The version being made current while the catalog naming it so is stored (see {@link #swap}), or null. Guarded by this. */
  private Version pendingSwap;

  /**
   * The states a switch to {@code next} leaves the versions in, from those of the moment, without
   * changing them: {@link #catalogEntry} stores them while the switch is pending and {@link #swap}
   * applies them once stored. The caller holds this table's lock.
   */
  private final class Switch {
    final Version old = current;
    /**
     * The versions in the order they stopped serving: the one replaced goes last, after the backups
     * (for retirement) and after a damaged one among the newest that no longer serve, so its failure
     * (where its file went) is not forgotten at once (see {@link #forgetOldGoneVersions}).
     */
    final List<Version> order = new ArrayList<>(versions);
    final Map<Version, VersionState> states = new java.util.IdentityHashMap<>();
    /** Backups beyond the spec's {@code keep}, retired by the switch. */
    final List<Version> retired = new ArrayList<>();
    /** The failure of the replaced version when it is the damaged one (it fails), else null. */
    final String oldFailure;

    Switch(Version next) {
      order.remove(old);
      order.add(old);
      states.put(next, VersionState.CURRENT);
      if (old == damaged) {
        states.put(old, VersionState.FAILED);
        oldFailure = damage.reason() + "; moved aside to " + old.baseFile + CORRUPT_SUFFIX + " and replaced by version "
            + next.id + (next.pushId == null ? "" : " (push " + next.pushId + ")");
      } else {
        states.put(old, VersionState.BACKUP);
        oldFailure = null;
      }
      int backups = 0;
      for (int i = order.size() - 1; i >= 0; i--) {
        Version b = order.get(i);
        if (state(b) == VersionState.BACKUP && ++backups > spec.keep()) {
          states.put(b, VersionState.RETIRED);
          retired.add(b);
        }
      }
    }

    VersionState state(Version v) {
      return states.getOrDefault(v, v.state);
    }

    String failure(Version v) {
      return v == old && oldFailure != null ? oldFailure : v.failure;
    }
  }

  /** The catalog could not be written to make a version current, so it is not; the cause says why. */
  static final class SwitchNotStored extends IllegalStateException {
    SwitchNotStored(Version v, RuntimeException cause) {
      super("could not record version " + v.id + " as current, so it does not serve: " + cause.getMessage(), cause);
    }

    /** The catalog write's own failure, for callers that pass it on as it is. */
    RuntimeException failure() {
      return (RuntimeException) getCause();
    }
  }

  /**
   * Makes {@code v} current, its Delta attached beside the current one's. As for a view, the catalog
   * is written first, naming {@code v} current (see {@link #catalogEntry}), and reads switch only
   * once it is stored: a version that served a read is the one a restart serves again. When the
   * catalog cannot be written (a full disk), nothing changed: the current version keeps serving,
   * and {@link SwitchNotStored} says why; the caller decides what becomes of {@code v}.
   */
  private void swap(Version v) {
    synchronized (this) {
      if (current == v) {
        return;
      }
      pendingSwap = v;
    }
    boolean stored = false;
    try {
      persist.run(); // before reads switch, and before retired Bases go: the catalog never names one that is gone
      stored = true;
    } catch (RuntimeException notStored) {
      throw new SwitchNotStored(v, notStored);
    } finally {
      if (!stored) { // an Error too: later catalogs must not store a switch that did not happen
        synchronized (this) {
          pendingSwap = null;
        }
      }
    }
    List<String> delete = new ArrayList<>();
    String moveAside = null;
    synchronized (this) {
      pendingSwap = null;
      Switch sw = new Switch(v); // what the stored catalog says: nothing else changes versions while v builds
      Version old = sw.old;
      sw.states.forEach((x, state) -> x.state = state);
      versions.remove(old);
      versions.add(old);
      current = v;
      if (building == v) {
        building = null;
      }
      if (old == damaged) {
        old.failure = sw.oldFailure;
        moveAside = old.baseFile;
        damaged = null;
        damage = null;
      }
      detachDelta(old);
      for (Version b : sw.retired) {
        closeIfOpen(b.base); // unmapped once reads in progress end (see MappedFile: why)
        b.base = null;
        if (b.baseFile != null) {
          delete.add(b.baseFile);
        }
      }
      forgetOldGoneVersions();
    }
    for (String f : delete) {
      try {
        Files.deleteIfExists(dir.resolve(f));
      } catch (IOException e) {
        LOG.warn("table '{}': cannot delete retired Base {}: {}", spec.name(), f, e.toString());
      }
    }
    if (moveAside != null) { // kept for inspection; a restart's clean-up leaves it
      Path file = dir.resolve(moveAside);
      Path aside = dir.resolve(moveAside + CORRUPT_SUFFIX);
      try {
        if (Files.exists(file)) {
          Files.move(file, aside, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
          LOG.warn("table '{}': moved the damaged Base {} aside to {}", spec.name(), file, aside);
        }
      } catch (IOException e) {
        LOG.warn("table '{}': cannot move the damaged Base {} aside (a restart removes it): {}", spec.name(), file,
            e.toString());
      }
    }
    LOG.info("table '{}': version {} ({}) is current", spec.name(), v.id, v.pushId == null ? "empty, no push yet"
        : "push " + v.pushId);
  }

  /**
   * Repush with TTL: a new version whose Base is the current version's rows as of its Delta's
   * position now (the start cut), minus rows whose last write is older than the TTL, then replayed
   * and swapped in like any push. Expired rows are dropped from storage, not only hidden on read.
   * As for every push, writes after its cut are newer than its rows whatever their timestamps.
   * Each partition's follower is paused while that partition's rows are copied.
   */
  @Override
  public PushReport repush(boolean waitForSwap) {
    requireUndamaged(); // it would copy the damaged version's rows
    return inFlight(() -> repushEntered(waitForSwap));
  }

  private PushReport repushEntered(boolean waitForSwap) {
    Version cur;
    Version v;
    long t0 = System.nanoTime();
    long now = System.currentTimeMillis();
    long ttlCutoff = spec.ttl() == null ? Long.MIN_VALUE : now - spec.ttl().toMillis();
    long[] counts = new long[3];
    PushLoader none = new PushLoader(layout, PushFormat.jsonLines(), parsers, 1, now, ttlCutoff);
    synchronized (this) {
      if (building != null) {
        throw new IllegalStateException(busy());
      }
      cur = current;
      long id = next++;
      String pushId = spec.name() + "-" + id + "-repush-" + Long.toString(now, 36);
      // Listed and recorded as building from the start, at the cut its copy starts from, so that a cancel
      // or a crash during the copy leaves a failed version with its reason, as a push's load does. Each
      // partition's rows are copied as of that partition's position when the copy reaches it: the
      // version built then (below) has that cut.
      v = new Version(id, VersionState.BUILDING, cur.delta.position(), pushId, "v" + id + ".base", now);
      building = v;
      versions.add(v);
    }
    report(v, "loading", none, counts, List.of(), 0, t0, null);
    try {
      persist.run(); // its id stored as taken before its Base is written: a crash meanwhile does not give it again
    } catch (RuntimeException e) {
      synchronized (this) {
        building = null;
        versions.remove(v);
      }
      pushes.remove(v.pushId);
      throw new IllegalStateException("table '" + spec.name() + "': repush failed: " + e.getMessage(), e);
    }
    Delta d = cur.delta;
    int parts = writes.partitions();
    long[] cut = new long[parts];
    Path tmpTarget = dir.resolve(v.baseFile);
    Version built;
    Version failing = v; // what a failure from here on fails: the copy's version, then the one it built
    try (TableBase.Writer w = new TableBase.Writer(tmpTarget, Cut.zero(parts), now, layout)) {
      Bytes entry = new Bytes(256);
      Bytes row = new Bytes(256);
      Runnable check = () -> {
        failIfClosed("repush " + v.pushId);
        failIfCancelled(v, null);
      };
      for (int p = 0; p < parts; p++) {
        check.run();
        d.locks[p].readLock().lock();
        try {
          cut[p] = d.position.get(p);
          var hook = duringRepushCopy;
          if (hook != null) {
            hook.accept(() -> v.cancelled);
          }
          int sinceCheck = 0;
          for (Map.Entry<String, RowState> e : d.rows[p].entrySet()) {
            if (++sinceCheck == COPY_CHECK_EVERY) {
              sinceCheck = 0;
              check.run();
            }
            Object[] values = e.getValue().materialize();
            if (values == null) {
              continue;
            }
            long written = e.getValue().lastWrite;
            if (written < ttlCutoff) {
              counts[1]++;
              continue;
            }
            row.clear();
            RowCodec.encode(layout, values, row);
            appendEntry(w, entry, e.getKey().getBytes(StandardCharsets.UTF_8), written, row.buf, row.len);
            counts[0]++;
          }
          if (d.base != null) {
            counts[0] += d.base.copyRows(p, parts, d.rows[p], ttlCutoff, w, entry, counts, check);
          }
        } finally {
          d.locks[p].readLock().unlock();
        }
      }
      w.setCut(Cut.of(cut));
      w.finish();
      synchronized (this) {
        built = new Version(v.id, VersionState.BUILDING, Cut.of(cut), v.pushId, v.baseFile, v.createdAt);
        built.cancelled = v.cancelled; // a cancel after the copy's last check stops the replay; a later one finds built
        building = built;
        versions.set(versions.indexOf(v), built);
        failing = built;
      }
      persist.run();
      built.base = TableBase.open(tmpTarget, layout);
      report(built, "replaying", none, counts, List.of(), built.base.rows, t0, null);
    } catch (IOException | RuntimeException e) {
      String why = e instanceof IOException io ? "cannot read or write: " + dev.braid.log.LogException.describe(io)
          : e.getMessage();
      if (e instanceof BuildCancelled) {
        return fail(failing, none, counts, new ArrayList<>(), t0, why); // as a cancelled push: failed, with its report
      }
      fail(failing, none, counts, new ArrayList<>(), t0, "repush failed before its replay: " + why);
      throw new IllegalStateException("table '" + spec.name() + "': repush failed: " + why, e);
    }
    long distinct = built.base.rows;
    Runnable finish = () -> {
      try {
        Runnable hook = beforeRepushReplay;
        if (hook != null) {
          beforeRepushReplay = null;
          hook.run();
        }
        long replayed = replayAndSwap(built, null);
        report(built, "done", none, counts, List.of(), distinct, t0, null, replayed);
      } catch (RuntimeException | InterruptedException e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        fail(built, none, counts, new ArrayList<>(), t0, replayFailure(e), e instanceof SwitchNotStored);
        return;
      }
      storeFinalReport(built);
    };
    finishSwap(finish, waitForSwap);
    return built.report;
  }

  /** Appends one Base entry (layout in {@link TableBase}) to {@code w}. */
  static void appendEntry(TableBase.Writer w, Bytes entry, byte[] key, long written, byte[] row, int rowLen)
      throws IOException {
    entry.clear();
    entry.putInt(TableBase.hash(key, 0, key.length));
    entry.putInt(key.length);
    entry.put(key, 0, key.length);
    entry.putLong(written);
    entry.putInt(rowLen);
    entry.put(row, 0, rowLen);
    w.append(entry.buf, 0, entry.len);
  }

  /** The failure of a push's replay as its report says it: the reason, without a Java class name. */
  static String replayFailure(Exception e) {
    if (e instanceof SwitchNotStored || e instanceof BuildCancelled) {
      return e.getMessage(); // the replay is whole; the switch is what failed, or it was stopped on purpose
    }
    if (e instanceof InterruptedException) {
      return "replay interrupted (its thread was interrupted, as a stop does); send the push again";
    }
    return "replay failed: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
  }

  /**
   * Why a write of row {@code key} ({@code keyBytes} of UTF-8, a value of {@code valueBytes}) cannot
   * go to the real-time log, whose records hold at most its {@code maxRecordBytes}; null if it can.
   */
  private String tooLargeForAWrite(String key, int keyBytes, int valueBytes) {
    int max = writes.config().maxRecordBytes();
    if (keyBytes + valueBytes <= max) {
      return null;
    }
    return String.format("row '%s' is %,d bytes encoded (key and value), and a real-time write holds at most %,d "
        + "bytes; only a full push of the whole table (which replaces every row) takes larger rows (up to "
        + PushLoader.CHUNK / (1 << 20) + " MiB a line)",
        abbreviate(key), keyBytes + valueBytes, max);
  }

  private static String abbreviate(String key) {
    return key.length() <= 64 ? key : key.substring(0, 60) + "...";
  }

  private PushReport incrementalPush(InputStream in, PushOptions o) {
    long t0 = System.nanoTime();
    long now = System.currentTimeMillis();
    long ttlCutoff = spec.ttl() == null ? Long.MIN_VALUE : now - spec.ttl().toMillis();
    PushLoader loader = new PushLoader(layout, o.format(), parsers, threads, now, ttlCutoff);
    long[] counts = new long[3];
    List<PushReport.BadRow> bad = new ArrayList<>();
    int parts = writes.partitions();
    RecordBatchBuilder[] batches = new RecordBatchBuilder[parts];
    for (int p = 0; p < parts; p++) {
      batches[p] = new RecordBatchBuilder(1 << 20, 16 << 20);
    }
    Bytes putHeader = new Bytes(8);
    Writes.putHeader(layout, putHeader);
    int header = putHeader.len; // what each row's write holds before the row
    Bytes value = new Bytes(1024);
    String failure = null;
    long[] notAppliedFrom = {0}; // the first line of the chunk that stopped the push, 0 if none did
    boolean readAll = false; // every row of the input was read (and every good one applied)
    String[] tooLarge = {null};
    long[] pending = new long[parts]; // rows in batches[p], not appended yet
    long[] applied = {0}; // rows appended to the writes log
    boolean appendFailed = false;
    try {
      loader.load(in, (chunk, firstLine) -> {
        failIfClosed("an incremental push");
        counts[2] += chunk.badReasons.size();
        for (int i = 0; i < chunk.badReasons.size() && bad.size() < MAX_BAD_KEPT; i++) {
          bad.add(new PushReport.BadRow(o.source(), firstLine + chunk.badLines.get(i)[0], chunk.badReasons.get(i)));
        }
        counts[1] += chunk.expired;
        if (!o.maxBadPercent() && counts[2] > o.maxBadRows()) {
          notAppliedFrom[0] = firstLine + 1; // firstLine: the lines before this chunk
          return false;
        }
        byte[] e = chunk.entries.buf;
        int at = 0;
        while (at < chunk.entries.len) {
          int keyLen = ByteBuffer.wrap(e, at + 4, 4).getInt();
          long written = ByteBuffer.wrap(e, at + 8 + keyLen, 8).getLong();
          int rowLen = ByteBuffer.wrap(e, at + 16 + keyLen, 4).getInt();
          if (keyLen + header + rowLen > writes.config().maxRecordBytes()) {
            tooLarge[0] = tooLargeForAWrite(new String(e, at + 8, keyLen, StandardCharsets.UTF_8), keyLen,
                header + rowLen);
            return false;
          }
          int p = Partitioner.partition(e, at + 8, keyLen, parts);
          value.clear();
          Writes.putHeader(layout, value);
          value.put(e, at + 20 + keyLen, rowLen);
          batches[p].add(e, at + 8, keyLen, value.buf, 0, value.len, written, now);
          pending[p]++;
          if (batches[p].sizeInBytes() > (1 << 20)) {
            appendWrites(p, batches[p]);
            batches[p].clear();
            applied[0] += pending[p];
            pending[p] = 0;
          }
          at += 20 + keyLen + rowLen;
          counts[0]++;
        }
        return true;
      });
      readAll = tooLarge[0] == null && notAppliedFrom[0] == 0;
      long total = counts[0] + counts[2];
      boolean tooMany = o.maxBadPercent() ? counts[2] * 100 > o.maxBadRows() * total : counts[2] > o.maxBadRows();
      if (tooLarge[0] != null) {
        failure = tooLarge[0];
      } else if (tooMany) {
        failure = tooManyBadRows(o, counts[2], total, bad);
      }
    } catch (dev.braid.log.LogWriteException e) { // the writes log refused an append (a full disk, a file limit)
      failure = e.getMessage();
      appendFailed = true;
    } catch (IOException | RuntimeException e) {
      failure = e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "interrupted";
    } finally {
      for (int p = 0; p < parts; p++) {
        if (!batches[p].isEmpty() && !appendFailed) {
          try {
            appendWrites(p, batches[p]);
            applied[0] += pending[p];
          } catch (dev.braid.log.LogWriteException e) {
            failure = failure == null ? e.getMessage() : failure + "; then " + e.getMessage();
            appendFailed = true;
          }
        }
      }
    }
    counts[0] = applied[0];
    if (failure != null) {
      // what was applied: every row read before the failure, in file order (each is a write now), unless the log
      // refused an append: rows are appended in batches per partition, so those applied are not a prefix
      boolean toTheEnd = readAll && tooLarge[0] == null && notAppliedFrom[0] == 0; // a percentage limit
      failure += "; " + (counts[0] == 0 ? "no row was applied" : appendFailed ? String.format("%,d good %s read "
          + "before it %s applied as writes (in batches per partition: not all the rows before a given line)",
          counts[0], counts[0] == 1 ? "row" : "rows", counts[0] == 1 ? "was" : "were")
          : toTheEnd ? String.format("all %,d good rows were "
          + "applied as writes (with a percentage limit, the share of bad rows is known only at the end)", counts[0])
          : String.format("%,d %s applied as writes%s", counts[0], counts[0] == 1 ? "row before it was"
              : "rows before it were", notAppliedFrom[0] > 0 ? ", none from line " + notAppliedFrom[0] + " on"
              : ", none from it on"));
    }
    String id = spec.name() + "-incremental-" + Long.toString(System.currentTimeMillis(), 36) + "-"
        + incrementalCount.incrementAndGet();
    PushReport r = new PushReport(spec.name(), id, 0, failure == null ? "done" : "failed", loader.bytesRead.get(),
        counts[0], 0, counts[1], counts[2], List.copyOf(bad), writes.end(), 0, (System.nanoTime() - t0) / 1e9,
        failure);
    pushes.put(id, r);
    incrementalIds.addLast(id);
    while (incrementalIds.size() > INCREMENTAL_KEPT) {
      String oldest = incrementalIds.pollFirst();
      if (oldest != null) {
        pushes.remove(oldest);
      }
    }
    return r;
  }

  // ---------------------------------------------------------------------------------------------
  // Versions
  // ---------------------------------------------------------------------------------------------

  /** Rows of version {@code v}'s Base file, which is not open (a backup after a restart): from its header; 0 if none. */
  private long baseRowsOnDisk(Version v) {
    if (v.baseFile == null || v.state != VersionState.BACKUP) {
      return 0; // building (no file yet), failed or retired (no file any more)
    }
    if (v.headerRows < 0) {
      v.headerRows = TableBase.headerRows(dir.resolve(v.baseFile)); // -1 (unreadable) is tried again next time
    }
    return Math.max(0, v.headerRows);
  }

  @Override
  public List<VersionInfo> versions() {
    requireOpen(); // as every other call of a closed table
    List<VersionInfo> out = new ArrayList<>();
    List<Version> byId;
    synchronized (this) {
      byId = new ArrayList<>(versions);
    }
    byId.sort(java.util.Comparator.comparingLong(v -> v.id));
    for (Version v : byId) {
      Delta d = v.delta;
      TableBase base = v.base;
      String def = v.pushId == null ? "empty (no push yet)" : "push " + v.pushId;
      out.add(new VersionInfo(spec.name(), v.id, v.state, def, v.cut, d == null ? null : d.position(),
          base != null ? base.rows : baseRowsOnDisk(v), v.createdAt, v.failure, rollbackProgress(v)));
    }
    return out;
  }

  @Override
  public long activate(long versionId) {
    return inFlight(() -> activateEntered(versionId));
  }

  private long activateEntered(long versionId) {
    Version v = null;
    Rollback rb;
    synchronized (this) { // a swap moves the version it demotes to the end of the list under this lock
      for (Version x : versions) {
        if (x.id == versionId) {
          v = x;
        }
      }
    }
    if (v == null) {
      throw new UnknownNameException("version", spec.name() + "/" + versionId,
          versions.stream().sorted(java.util.Comparator.comparingLong(x -> x.id))
              .map(x -> spec.name() + "/" + x.id + " (" + x.state.label() + ")").toList());
    }
    synchronized (this) { // a swap retires backups under this lock: the state checked here holds
      if (v.state == VersionState.CURRENT) {
        return v.id;
      }
      if (v.state != VersionState.BACKUP) {
        throw new IllegalStateException("version " + versionId + " of table '" + spec.name() + "' is "
            + v.state.label() + "; only a backup can be activated");
      }
      if (building != null) {
        throw new IllegalStateException(busy());
      }
      building = v;
      v.cancelled = false; // a cancel of an earlier rollback to it is no cancel of this one
      rollbackMarked = v;
      rb = new Rollback(v);
      rollback = rb;
    }
    boolean switched = false;
    try {
      try {
        persist.run(); // marks the backup as being activated: a restart activates it again
      } catch (RuntimeException notStored) { // its switch could not be recorded either: it does not start
        synchronized (this) {
          if (rollbackMarked == v) {
            rollbackMarked = null; // the catalog on disk never had the mark, or has it from another write
          }
        }
        LOG.warn("table '{}': the activation of version {} did not start: the catalog could not record it ({}); it is "
            + "still a backup", spec.name(), versionId, notStored.getMessage());
        throw notStored;
      }
      Runnable hook = beforeRollbackReplay;
      if (hook != null) {
        beforeRollbackReplay = null;
        hook.run();
      }
      if (v.base == null && v.baseFile != null) {
        try {
          v.base = TableBase.open(dir.resolve(v.baseFile), layout);
        } catch (dev.braid.log.CorruptLogException e) {
          throw new IllegalStateException("version " + versionId + " of table '" + spec.name() + "' cannot be "
              + "activated: " + e.getMessage() + "; push the whole table again instead", e);
        }
        String problem = baseLayoutProblem(v.base);
        if (problem != null) {
          v.base.close();
          v.base = null;
          throw new IllegalStateException("version " + versionId + " of table '" + spec.name() + "' cannot be "
              + "activated: " + problem);
        }
      }
      try {
        replayAndSwap(v, rb);
        switched = true;
      } catch (RuntimeException | InterruptedException notSwapped) {
        synchronized (this) {
          if (current != v) {
            detachDelta(v); // still a backup, without a Delta, as before; its Base stays open for the next try
          }
        }
        if (notSwapped instanceof SwitchNotStored e) {
          throw e.failure(); // as a view's activation: the catalog write's own error
        }
        throw notSwapped;
      }
      return v.id;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("activation interrupted", e);
    } finally {
      try {
        boolean unmark;
        synchronized (this) {
          if (building == v) {
            building = null;
          }
          if (rollback == rb) {
            rollback = null;
          }
          // stopped by a close: still marked, so the close's catalog has it and the next start activates it
          // again; not one a cancel stopped (the close may have begun while the cancel waited)
          unmark = rollbackMarked == v && (!closed || v.cancelled);
          if (unmark || switched) {
            rollbackMarked = null;
          }
        }
        if (unmark && !switched) {
          rb.unmarkFailure = unmarkRollback(v);
        }
      } finally {
        rb.ended.countDown();
      }
    }
  }

  @Override
  public void cancel(long versionId) {
    Version v;
    Rollback rb;
    synchronized (this) {
      v = building != null && building.id == versionId ? building : null;
      rb = rollback;
      if (v == null) {
        Version known = versions.stream().filter(x -> x.id == versionId).findFirst().orElse(null);
        if (known == null) {
          throw new UnknownNameException("version", spec.name() + "/" + versionId, versions.stream()
              .sorted(java.util.Comparator.comparingLong(x -> x.id))
              .map(x -> spec.name() + "/" + x.id + " (" + x.state.label() + ")").toList());
        }
        throw new IllegalStateException("version " + versionId + " of table '" + spec.name() + "' is "
            + known.state.label() + (known.state == VersionState.BUILDING ? "" : " and neither a push builds it nor "
            + "a rollback to it runs") + ": only a push that is building its version or a rollback that is running "
            + "(an activation of a backup) can be cancelled");
      }
      v.cancelled = true; // the build stops at its next chunk of rows or batch of writes
    }
    InputStream input = v.input;
    if (input != null) {
      closeQuietly(input); // a push waiting for more of its upload stops now, not when the client sends more
    }
    String what = rb != null && rb.version == v ? "the rollback to version " + versionId : "push " + v.pushId
        + " (version " + versionId + ")";
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    try {
      while (!buildEnded(versionId) || rb != null && rb.version == v && rb.ended.getCount() > 0) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(what + " of table '" + spec.name() + "' was asked to stop, but it has not "
              + "stopped within a minute");
        }
        Thread.sleep(2);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for " + what + " of table '" + spec.name()
          + "' to stop", e);
    }
    if (current.id == versionId) {
      throw new IllegalStateException("version " + versionId + " of table '" + spec.name() + "' became current "
          + "before " + (rb != null && rb.version == v ? "the rollback to it" : "its push") + " could be cancelled");
    }
    String unmarked = rb != null && rb.version == v ? rb.unmarkFailure : null;
    if (unmarked != null) {
      throw new IllegalStateException("the rollback to version " + versionId + " of table '" + spec.name() + "' "
          + "stopped, but the catalog could not record that (" + unmarked + "): a restart before the catalog is next "
          + "written resumes it; cancel it again then");
    }
  }

  /** Whether no push builds version {@code id} and no rollback to it runs, and its push's report is final. */
  private synchronized boolean buildEnded(long id) {
    if (building != null && building.id == id || rollback != null && rollback.version.id == id) {
      return false;
    }
    for (Version x : versions) {
      PushReport r = x.report;
      if (x.id == id && (x.failing || r != null && (r.state().equals("loading") || r.state().equals("replaying")))) {
        return false; // failed, and its report or its catalog not written yet
      }
    }
    return true;
  }

  /** The progress of the rollback to {@code v}, or null when none runs. */
  private ReplayProgress rollbackProgress(Version v) {
    Rollback rb = rollback;
    if (rb == null || rb.version != v || v.state == VersionState.CURRENT) { // switched: its tidy-up ends it
      return null;
    }
    Delta d = v.delta;
    Cut pos = d == null ? v.cut : d.position(); // null until the replay begins (the catalog, the Base opened)
    long replayed = pos.offsetsAfter(v.cut);
    long lag = writes.end().offsetsAfter(pos);
    double seconds = (System.nanoTime() - rb.startedAtNanos) / 1e9;
    double rate = seconds > 0 ? replayed / seconds : 0;
    long eta = rate > 0 ? (long) (lag / rate * 1000) : -1;
    return new ReplayProgress(v.id, rb.phase, replayed, replayed + lag, rate, eta, lag, false, 0, 0, true);
  }

  /** Why a push, repush or activation cannot start now: a push builds, or a rollback runs. The caller holds this. */
  private String busy() {
    return "table '" + spec.name() + "': " + (building.state == VersionState.BACKUP ? "the rollback to version "
        + building.id + " is running; wait for it" : "push " + building.pushId + " (version " + building.id
        + ") is still building; wait for it");
  }

  /**
   * Stores the catalog without the mark of a rollback to {@code v} that ended without its switch (best effort);
   * returns why it could not, or null.
   */
  private String unmarkRollback(Version v) {
    try {
      persist.run();
      return null;
    } catch (RuntimeException notStored) {
      LOG.warn("table '{}': could not record that the activation of version {} ended without a switch ({}); a "
          + "restart before the catalog is next written activates it again", spec.name(), v.id,
          notStored.getMessage());
      return notStored.getMessage();
    }
  }

  /**
   * Activates again the backup whose activation (a rollback) a restart interrupted, on a thread of its own: the
   * engine calls it once it has opened. A failure is logged; the version stays a backup.
   */
  public void resumeRollback() {
    long id = interruptedRollback;
    interruptedRollback = -1;
    if (id < 0) {
      return;
    }
    LOG.info("table '{}': resuming the rollback to version {}, which a restart interrupted (replaying its writes "
        + "since its cut)", spec.name(), id);
    Thread t = new Thread(() -> {
      try {
        long t0 = System.nanoTime();
        activate(id);
        LOG.info("table '{}': version {} is current again (the rollback resumed after a restart, {} ms)",
            spec.name(), id, (System.nanoTime() - t0) / 1_000_000);
      } catch (RuntimeException e) {
        if (e instanceof BuildCancelled) {
          LOG.info("table '{}': the rollback to version {} that a restart resumed was cancelled; it stays a backup",
              spec.name(), id);
        } else {
          LOG.error("table '{}': the rollback to version {} that a restart interrupted failed; it stays a backup: {}",
              spec.name(), id, e.getMessage());
        }
        Version marked;
        synchronized (this) { // refused before it began (not a backup any more, say): marked still
          marked = rollbackMarked != null && rollbackMarked.id == id && building != rollbackMarked && !closed
              ? rollbackMarked : null; // not while another activation of it runs, which keeps its mark
          if (marked != null) {
            rollbackMarked = null;
          }
        }
        if (marked != null) {
          unmarkRollback(marked);
        }
      }
    }, "braid-table-rollback-" + spec.name());
    t.setDaemon(true);
    t.start();
  }

  // ---------------------------------------------------------------------------------------------
  // Status
  // ---------------------------------------------------------------------------------------------

  /** This table's line in {@code status}. */
  public dev.braid.Status.TableStatus status() {
    Version v = current;
    Delta d = v.delta;
    Cut pos = d == null ? v.cut : d.position();
    long lag = writes.end().offsetsAfter(pos);
    Version b;
    synchronized (this) {
      b = building;
    }
    PushReport r = b == null || b.state == VersionState.BACKUP ? null : b.report; // a rollback is no push
    TableBase base = v.base;
    Rollback rb = rollback;
    return new dev.braid.Status.TableStatus(spec.name(), spec.writesStream(), v.id, v.pushId, v.cut, pos, lag,
        base == null ? 0 : base.rows, d == null ? 0 : d.keys(), r, rb == null ? null : rollbackProgress(rb.version),
        List.of());
  }

  @Override
  public void close() {
    synchronized (gate) {
      closed = true;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_WAIT_SECONDS);
      try {
        for (long left; inFlight > 0 && (left = deadline - System.nanoTime()) > 0; ) {
          TimeUnit.NANOSECONDS.timedWait(gate, left);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (inFlight > 0) {
        LOG.warn("table '{}': {} push(es) still running {} s after close began", spec.name(), inFlight,
            CLOSE_WAIT_SECONDS);
      }
    }
    for (Runnable dropped : parsers.shutdownNow()) {
      if (dropped instanceof java.util.concurrent.Future<?> f) {
        f.cancel(false); // a push's reader waits for it in order: it hears that it never ran
      }
    }
    for (Follower f : followers) {
      if (f != null) {
        f.reader.wakeup();
      }
    }
    for (Follower f : followers) {
      if (f != null) {
        try {
          f.join(5000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /**
   * Why a push failed on its bad rows, in words that fit both the HTTP parameter and the command
   * line's option that set the limit.
   */
  private static String tooManyBadRows(PushOptions o, long badRows, long total, List<?> bad) {
    return badRows + (badRows == 1 ? " bad row" : " bad rows") + (o.maxBadPercent() ? " of " + total : "")
        + (badRows == 1 ? " exceeds" : " exceed") + " the limit of " + o.maxBadRows()
        + (o.maxBadPercent() ? "%" : o.maxBadRows() == 1 ? " bad row" : " bad rows")
        + " (maxBadRows; braid push --max-bad-rows)" + (bad.isEmpty() ? "" : "; first: " + bad.get(0));
  }

}
