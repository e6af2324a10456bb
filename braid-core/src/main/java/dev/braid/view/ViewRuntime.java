package dev.braid.view;

import dev.braid.AsOf;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import dev.braid.log.LogStream;
import dev.braid.log.MappedFile;
import dev.braid.log.Partitioner;
import dev.braid.spec.ViewSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One view at run time: its versions, the current one, merged reads, and batch cycles.
 *
 * <h2>Reads</h2>
 * A read takes the current version once, so it sees one version, never a mix. It merges the
 * Base's accumulators for the key with the Delta's of each partition (only the key's partition
 * when the view groups by the stream's key), each under that partition's read lock, and reports
 * the positions it saw as {@link AsOf}.
 *
 * <h2>Batch cycle (Lambda)</h2>
 * Pick cut {@code C} = the log's end; recompute the Base over {@code [0, C)}; write it; start a new
 * version whose Delta the speed layer replays from {@code C} up to where it is and then advances
 * in lockstep with the current one; swap atomically (the new Delta is then exactly at the old one's
 * position, so reads never go back); the old version becomes {@code backup}. One cycle at a time.
 *
 * <h2>Reprocess and rollback</h2>
 * A reprocess adds a {@code building} version with a new definition (a kappa view's from the log's
 * start, a lambda view's with a Base recomputed at the log's end), which the builder thread replays
 * up to near the log's end and hands to the speed layer; once it follows the log in lockstep with
 * the current version it is swapped in exactly as a batch cycle's version (or held until
 * {@link #activate}). Activating a backup (rollback) rebuilds its Delta the same way. Swaps of batch
 * cycles, reprocesses and rollbacks all hold {@code batchLock}, so they never interleave; one
 * reprocess or rollback runs at a time. See {@link #restore} for what a restart keeps.
 */
final class ViewRuntime {

  private static final Logger LOG = LoggerFactory.getLogger(ViewRuntime.class);
  /** A replay attaches the new Delta to the speed layer once it is at most this many events behind. */
  static final long ATTACH_LAG = 1_024;

  final String name;
  final ViewSpec spec;
  private final LogStream stream;
  private final SpeedLayer speed;
  private final Path dir;
  private final Runnable persist;
  private final EngineOptions options;

  private volatile Version current;
  /**
   * The spec file's definition of the view as last acknowledged: when the view was created, or when
   * a reprocess ran. A spec file that differs from it changed the view since (see {@link #restore}).
   */
  private volatile String acknowledgedSpec;
  private final List<Version> versions = new ArrayList<>(); // guarded by this
  private long nextId; // guarded by this
  private final java.util.concurrent.locks.ReentrantLock batchLock = new java.util.concurrent.locks.ReentrantLock();
  private final ThreadLocal<ViewProgram.Scratch> readScratch;
  /** Per thread, what {@link #readWindows(byte[], KeyHint, WindowRow)} reuses from one key's read to the next. */
  private final ThreadLocal<WindowReads> windowReads = ThreadLocal.withInitial(WindowReads::new);
  /**
   * Keys per partition a Delta is first sized for when nothing says how many it will hold (a view's
   * first start, a start without a checkpoint, a replay into a new version): small, so that a
   * server with hundreds of quiet views does not hold megabytes of empty tables for each (at 4,096 a
   * view of 4 partitions took about 1.2 MB before its first event); a busy view's tables double
   * from here in a few steps.
   */
  static final int FIRST_DELTA_KEYS = 1 << 8;
  private final AtomicLong batchCycles = new AtomicLong();
  private final AtomicLong batchNanos = new AtomicLong();
  /**
   * Batch cycles that failed with an exception (not those a close stopped, nor one a reprocess
   * superseded); the server log says why each one failed.
   */
  private final AtomicLong batchFailures = new AtomicLong();
  volatile BatchProgress batchProgress;
  /** What the last successful batch cycle did (null before the first). */
  volatile BatchLayer.Stats lastBatch;
  /**
   * When the last batch cycle that succeeded (built a version, or found no new event) ended; 0 when
   * none is known. Kept across restarts in {@link #LAST_BATCH_FILE}.
   */
  private volatile long lastBatchAtMillis;
  /** The view directory's file holding {@link #lastBatchAtMillis} as decimal text. */
  static final String LAST_BATCH_FILE = "last-batch";

  /**
   * Progress of the running batch cycle, for status.
   *
   * @param runsWritten sorted runs spilled so far because the cycle exceeded its memory budget
   */
  record BatchProgress(long version, Cut cut, AtomicLong events, AtomicLong runsWritten, long total,
      long startedAtNanos) {}

  ViewRuntime(ViewSpec spec, LogStream stream, SpeedLayer speed, Path dir, Runnable persist, EngineOptions options,
      ViewProgram program) {
    this.name = spec.name();
    this.spec = spec;
    this.stream = stream;
    this.speed = speed;
    this.dir = dir;
    this.persist = persist;
    this.options = options;
    this.readScratch = ThreadLocal.withInitial(program::scratch);
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up
  // ---------------------------------------------------------------------------------------------

  /**
   * Restores the versions recorded in the catalog, or starts version 1 (empty Base at the log's start).
   *
   * <p>What wins after a restart: the catalog. Its current version stays current, with the
   * definition it was built with (a reprocessed one included). When the spec file now defines the
   * view differently from what the catalog recorded as the file's definition, the engine does not
   * silently replace the view's logic: it logs the difference and reports it
   * ({@link #specChanged()}, in status) until a reprocess (with the file's definition or any other)
   * acknowledges it. Only when the current version cannot be rebuilt from the catalog (a catalog
   * that predates full definitions, or a definition that no longer compiles against the stream)
   * does the file win: the old version becomes a {@code backup} and a new version with the file's
   * definition replays the log before the engine opens. A version that was still {@code building}
   * (a reprocess the restart interrupted) is built again from its cut once the current version
   * serves, held for activation if it was (from its newest checkpoint when it has one; else a Kappa
   * version replays the log from its start cut again and a lambda version recomputes its Base at its
   * cut again); only one whose definition no longer compiles is marked {@code failed}. A backup the
   * catalog marks as being rolled back to is rolled back to again, from its newest checkpoint if it
   * has one, with its own Base.
   *
   * @param compile turns a version's recorded definition document into a program, or null when it
   *     no longer compiles against the stream
   * @param firstId the id of the view's first version when the catalog does not record it: 1, or
   *     what a dropped view of the same name reached
   */
  void restore(VersionCatalog.ViewEntry entry, ViewProgram program, Function<String, ViewProgram> compile,
      long firstId) throws IOException, InterruptedException {
    List<Version> resumed = new ArrayList<>();
    synchronized (this) {
      nextId = entry == null ? firstId : entry.next();
      String fileDefinition = spec.definition();
      Version cur = null;
      if (entry != null) {
        String recorded = entry.specDefinition();
        if (recorded == null) { // a catalog from before reprocess: its current version came from the file
          recorded = entry.versions().stream().filter(e -> e.state() == VersionState.CURRENT)
              .map(VersionCatalog.Entry::definition).findFirst().orElse(fileDefinition);
        }
        boolean fileChanged = !recorded.equals(fileDefinition);
        acknowledgedSpec = recorded;
        for (VersionCatalog.Entry e : entry.versions()) {
          ViewProgram p = e.definition().equals(fileDefinition) ? program
              : e.document() == null ? null : compile.apply(e.document());
          String document = e.document() != null ? e.document()
              : p == null ? null : dev.braid.spec.PipelineSpec.viewDocument(p.spec);
          VersionState st = e.state();
          String failure = e.failure();
          if (st == VersionState.CURRENT) {
            if (p != null) {
              BaseFile base = openBaseOrNoteDamage(e.base(), e.cut());
              Cut cut = e.base() == null ? cappedAtLogEnd(e.id(), e.cut(), "replays") : e.cut();
              cur = new Version(e.id(), p, e.definition(), document, cut, base, e.base(), e.createdAt(),
                  VersionState.CURRENT);
              restoreBaseCounts(cur, e);
              if (e.base() != null && base == null) {
                damaged = cur; // noted by openBaseOrNoteDamage; reads are refused until a repair
              }
              versions.add(cur);
              continue;
            }
            st = VersionState.BACKUP;
            LOG.warn("view '{}': the definition of version {} cannot be rebuilt from the catalog; starting a new "
                + "version with the spec file's definition that replays the log (old: {}; new: {}); version {} stays "
                + "as a backup", name, e.id(), e.definition(), fileDefinition, e.id());
          } else if (st == VersionState.BUILDING && p != null) {
            // a reprocess the restart interrupted: built again from its cut once the current version serves,
            // or from the log's end where the log lost its tail below that cut (see partitionPastEnd)
            Cut cut = cappedAtLogEnd(e.id(), e.cut(), "is built again");
            Version v = new Version(e.id(), p, e.definition(), document, cut, null, e.base(), e.createdAt(),
                VersionState.BUILDING);
            v.rebuild = new Rebuild(false, e.hold());
            v.rebuild.resumed = true;
            v.lateFloor = e.lateFloor();
            // recorded once its Base was built (-1 before): a Base kept from before the restart keeps them
            v.baseSkipped = e.base() == null ? 0 : e.baseSkipped();
            v.baseWithoutKey = e.base() == null ? 0 : e.baseWithoutKey();
            if (v.baseFileName != null) {
              v.rebuild.phase = "batch";
            }
            versions.add(v);
            resumed.add(v);
            continue;
          } else if (st == VersionState.BACKUP && e.rollback() && p != null) {
            // a rollback the restart interrupted: resumed once the current version serves, with the backup's Base
            // and from its newest checkpoint if it has one
            Version v = new Version(e.id(), p, e.definition(), document, e.cut(), null, e.base(), e.createdAt(),
                VersionState.BUILDING);
            restoreBaseCounts(v, e);
            v.lateFloor = e.lateFloor();
            v.rebuild = new Rebuild(true, false);
            v.rebuild.resumed = true;
            versions.add(v);
            resumed.add(v);
            continue;
          } else if (st == VersionState.BACKUP && e.rollback()) {
            LOG.warn("view '{}': a rollback to version {} was under way when the engine stopped, but its definition "
                + "no longer compiles against the stream; it stays a backup", name, e.id());
          } else if (st == VersionState.BUILDING) {
            st = VersionState.FAILED;
            failure = "interrupted by a restart, and its definition no longer compiles against the stream";
            LOG.warn("view '{}': version {} was still building when the engine stopped, and its definition no "
                + "longer compiles; it is discarded", name, e.id());
          }
          Version v = new Version(e.id(), p, e.definition(), document, e.cut(), null, e.base(), e.createdAt(), st);
          v.failure = failure;
          restoreBaseCounts(v, e);
          versions.add(v);
        }
      }
      if (cur == null) {
        cur = new Version(nextId++, program, Cut.zero(stream.partitions()), null, null, System.currentTimeMillis(),
            VersionState.CURRENT);
        versions.add(cur);
        acknowledgedSpec = fileDefinition;
      } else if (acknowledgedSpec.equals(fileDefinition) || cur.definition.equals(fileDefinition)) {
        acknowledgedSpec = fileDefinition;
      } else {
        // what to do is the caller's to say: the server prints the command, or reprocesses when started with
        // --reprocess-changed (this line told that server to start with the flag it had)
        LOG.warn("view '{}': the spec file defines the view differently from version {}, which keeps serving until "
            + "a reprocess switches to the file's definition (serving: {}; spec file: {})", name, cur.id,
            cur.definition, fileDefinition);
      }
      // numbered after every file there, also when the Base is damaged: a new checkpoint must not be pruned in
      // favour of an older one, a spill must not write over a run an older checkpoint names
      for (DeltaCheckpoint.FileRef f : DeltaCheckpoint.list(dir)) {
        checkpointSequence = Math.max(checkpointSequence, f.sequence() + 1);
      }
      for (Path f : ClosedRun.list(dir)) {
        runSequence = Math.max(runSequence, ClosedRun.sequence(f.getFileName().toString()) + 1);
      }
      cur.delta = cur == damaged ? new Delta(cur.program, cur.cut.min(stream.end()), FIRST_DELTA_KEYS)
          : restoreDelta(cur);
      current = cur;
    }
    readLastBatch();
    startupAttachNanos = System.nanoTime(); // the replay after the checkpoint (or the cut) starts now
    // a view attached after another of its stream catches up to it inside the attach: the whole log, without
    // a checkpoint, so as long as the start's own wait for the speed layers (Engine.start)
    attachAndAwait(current.delta, current.program, "attach version " + current.id, 60);
    toResume = resumed;
  }

  /** Reprocesses that {@link #restore} found interrupted, until {@link #resumeBuilds} starts them. */
  private List<Version> toResume = List.of();

  /**
   * Starts building again the reprocesses that a restart interrupted (see {@link #restore}). The
   * engine calls it once it has opened: a build writes files and the catalog, which the rest of the
   * opening (removing orphans, storing the catalog) must not race.
   */
  void resumeBuilds() throws IOException {
    List<Version> resumed = toResume;
    toResume = List.of();
    for (Version v : resumed) {
      Rebuild rb = v.rebuild;
      LOG.info("view '{}': resuming the {} version {}, which a restart interrupted (from its newest checkpoint if "
          + "it has one, else {}{})", name, rb.rollback ? "rollback to" : "reprocess into", v.id,
          v.baseFileName == null || rb.rollback ? "replaying the log from " + v.cut
          : "batch recompute at " + v.cut + ", then catch-up", rb.hold ? "; held for activation once caught up" : "");
      builder.execute(() -> build(v, rb));
    }
  }

  /**
   * The Delta of the restored current version: loaded from its newest usable checkpoint (see
   * {@link DeltaCheckpoint}), or empty at the version's cut when there is none. The speed layer
   * then replays the log from the Delta's positions. Refused checkpoints are logged with their
   * path and reason.
   */
  private Delta restoreDelta(Version v) throws IOException {
    List<DeltaCheckpoint.Refused> refused = new ArrayList<>();
    DeltaCheckpoint.Loaded loaded = v.program == null ? null : loadNewestCheckpoint(v, refused);
    Cut end = stream.end();
    List<String> refusedText = refused.stream().map(r -> r.path().getFileName() + ": " + r.reason()).toList();
    if (loaded == null) {
      startup = new StartupRestore(null, v.cut, end, refusedText);
      return seeded(new Delta(v.program, v.cut, FIRST_DELTA_KEYS), v.program, v.cut, v.lateFloor);
    }
    v.horizon = loaded.horizon();
    lastCheckpoint = CheckpointRecord.of(v.id, loaded);
    startup = new StartupRestore(loaded.file().path().getFileName().toString(), loaded.position(), end, refusedText);
    LOG.info("view '{}': version {} restored from checkpoint {} at {} ({} keys); replaying {} events after it", name,
        v.id, loaded.file().path().getFileName(), loaded.position(), loaded.delta().keys(),
        end.offsetsAfter(loaded.position()));
    return loaded.delta();
  }

  /**
   * The newest usable checkpoint of {@code v} loaded into a Delta, or null; each one refused on the way is logged
   * with its reason, added to {@code refused} and deleted: it can never be used, and a newer checkpoint must not be
   * pruned in its favour.
   */
  private DeltaCheckpoint.Loaded loadNewestCheckpoint(Version v, List<DeltaCheckpoint.Refused> refused)
      throws IOException {
    DeltaCheckpoint.Loaded loaded = DeltaCheckpoint.loadNewest(dir, v.id, v.definition, v.cut, stream, v.program,
        refused);
    for (DeltaCheckpoint.Refused r : refused) {
      LOG.warn("view '{}': checkpoint {} cannot be used: {}; deleted it and tried an older one", name, r.path(),
          r.reason());
      Files.deleteIfExists(r.path());
    }
    return loaded;
  }

  /**
   * Loads the Delta of {@code v}, a reprocess that a restart interrupted, from its newest usable checkpoint, on the
   * builder thread (the engine opens without waiting for it): one exists once its replay had run for a checkpoint
   * interval, or had caught up (held for activation, most often), or was stopped by a clean close. The build then
   * replays the log from the checkpoint's positions, not from the version's cut (and a lambda version keeps the
   * Base it had built). Without one, {@code v.delta} stays null and the version is built again from its cut.
   */
  private void restoreBuildDelta(Version v) throws IOException {
    DeltaCheckpoint.Loaded loaded = loadNewestCheckpoint(v, new ArrayList<>());
    if (loaded == null) {
      return;
    }
    v.delta = loaded.delta();
    v.horizon = loaded.horizon();
    v.rebuild.restoredEvents = loaded.position().offsetsAfter(v.cut);
    buildCheckpoint = CheckpointRecord.of(v.id, loaded);
    LOG.info("view '{}': version {} (a {} the restart interrupted) restored from checkpoint {} at {} ({} "
        + "keys); its build replays the {} events after it", name, v.id, v.rebuild.rollback ? "rollback" : "reprocess",
        loaded.file().path().getFileName(),
        loaded.position(), loaded.delta().keys(), stream.end().offsetsAfter(loaded.position()));
  }

  /**
   * Seeds a new Delta at {@code cut} with each partition's largest event time before the cut, when
   * the view has {@code allowed_lateness} (its lateness decisions and {@code final} windows depend
   * on it); other views start from {@code Long.MIN_VALUE} and skip the scan.
   */
  private Delta seeded(Delta d, ViewProgram program, Cut cut, long[] lateFloor) {
    if (program.allowedLateness >= 0 && program.window != null) {
      d.seedEventTimes(stream, cut, speed.idleAfterMillis());
      if (lateFloor != null && lateFloor.length == d.partitions.length) {
        for (int p = 0; p < lateFloor.length; p++) {
          d.partitions[p].raiseCutMaxEventTime(lateFloor[p]);
        }
      }
    }
    return d;
  }

  /** The larger of two lateness floors, partition by partition (either may be null). */
  private static long[] maxFloor(long[] a, long[] b) {
    if (a == null || b == null || a.length != b.length) {
      return a == null ? b : a;
    }
    long[] out = new long[a.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = Math.max(a[p], b[p]);
    }
    return out;
  }

  /**
   * The lateness floor of a version at {@code cut} built while {@code serving} is current (see
   * {@code Version#lateFloor}): per partition, the larger of {@code serving}'s own floor and its
   * Delta's reference at its cut; null when the cut is before {@code serving}'s (a replay from an
   * earlier cut decides as the log did then) or {@code serving} knows none. Only lambda versions take
   * one (batch cycles, lambda reprocesses): no batch layer folds in what a kappa version's speed
   * layer finds late, so a kappa replay decides from the log alone.
   */
  private static long[] lateFloor(Version serving, Cut cut) {
    Delta d = serving.delta;
    if (d == null || !cut.isAtOrAfter(serving.cut) || d.partitions.length != cut.partitions()) {
      return null;
    }
    long[] floor = new long[d.partitions.length];
    boolean any = false;
    long[] before = serving.lateFloor;
    for (int p = 0; p < floor.length; p++) {
      floor[p] = Math.max(d.partitions[p].cutMaxEventTime,
          before != null && before.length == floor.length ? before[p] : Long.MIN_VALUE);
      any |= floor[p] != Long.MIN_VALUE;
    }
    return any ? floor : null;
  }

  /** Sets the events {@code v}'s Base left out as catalog entry {@code e} recorded them (none without a Base). */
  private static void restoreBaseCounts(Version v, VersionCatalog.Entry e) {
    v.lateFloor = e.lateFloor();
    v.baseSkipped = e.base() == null ? 0 : e.baseSkipped();
    v.baseWithoutKey = e.base() == null ? 0 : e.baseWithoutKey();
  }

  synchronized VersionCatalog.ViewEntry catalogEntry() {
    PendingSwitch p = pendingSwitch;
    if (p == null) {
      return entryOf(versions);
    }
    // a switch being stored ({@link #swap}): the states of the moment, switched
    Switch sw = applySwitch(p.next, p.old);
    try {
      java.util.Set<Long> ids = new java.util.HashSet<>();
      for (Version r : sw.retired()) {
        ids.add(r.id);
      }
      if (p.retiredIds == null) {
        p.retiredIds = ids;
      } else {
        p.retiredIds.retainAll(ids);
      }
      return entryOf(versions);
    } finally {
      sw.undo(versions);
    }
  }

  private VersionCatalog.ViewEntry entryOf(List<Version> versions) {
    List<VersionCatalog.Entry> list = new ArrayList<>();
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (v.state == VersionState.BUILDING && rb == null) {
        // a batch cycle's version before its swap: not committed (its Base is an orphan after a
        // crash), and not a reprocess that a restart would build again
        continue;
      }
      // a backup being rolled back is still a backup on disk until it is switched in, marked so that a restart
      // resumes the rollback
      boolean rollback = v.state == VersionState.BUILDING && rb != null && rb.rollback;
      VersionState st = rollback ? VersionState.BACKUP : v.state;
      list.add(new VersionCatalog.Entry(v.id, st, v.cut, v.baseFileName, v.definition, v.document,
          v.createdAtMillis, v.failure, v.baseSkipped, v.baseWithoutKey, rb != null && !rb.rollback && rb.hold,
          v.lateFloor, rollback));
    }
    return new VersionCatalog.ViewEntry(nextId, acknowledgedSpec, list);
  }

  /**
   * Files in the view directory that must stay: the Bases the catalog refers to, the checkpoints of the
   * current version and of a reprocess or rollback that builds, the closed-window runs the current Delta or those
   * checkpoints name, the changes feed's saved emitted windows ({@link EmittedSnapshot#FILE}) and the last
   * batch cycle's end ({@link #LAST_BATCH_FILE}). Anything else there is an orphan of an interrupted
   * operation (see {@code Engine#removeOrphans}).
   */
  synchronized List<String> referencedFiles() throws IOException {
    List<String> out = new ArrayList<>();
    out.add(EmittedSnapshot.FILE); // the changes feed's, when the view has one
    out.add(LAST_BATCH_FILE);
    for (Version v : versions) {
      if (v.baseFileName != null && !v.state.gone()) {
        out.add(v.baseFileName);
      }
    }
    java.util.Set<Long> checkpointed = checkpointedVersions();
    for (DeltaCheckpoint.FileRef f : DeltaCheckpoint.list(dir)) {
      if (checkpointed.contains(f.version())) {
        out.add(f.path().getFileName().toString());
        out.addAll(DeltaCheckpoint.runNames(f.path())); // an older checkpoint may name runs merged since
      }
    }
    Delta d = current.delta;
    if (d != null) {
      for (ClosedRun r : d.runs()) {
        out.add(r.name);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------------------------

  /** The merged result of {@code key} over all windows. */
  ViewResult get(String key) {
    return get(key, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  /**
   * The merged result of {@code key}, for windowed views over windows starting in {@code [from, to)}.
   *
   * @throws IllegalArgumentException for a range ({@code from} or {@code to} not the unbounded
   *     default) when the current version has no windows: its one group per key has no start to
   *     select by; and for {@code from} after {@code to}
   */
  ViewResult get(String key, long from, long to) {
    if (from > to) {
      throw new IllegalArgumentException(String.format("the range [from, to) of view '%s' ends before it starts: "
          + "from is %s, to is %s", name, Instant.ofEpochMilli(from), Instant.ofEpochMilli(to)));
    }
    ViewProgram p = current.program;
    if ((from != Long.MIN_VALUE || to != Long.MAX_VALUE) && p != null && p.window == null) {
      throw new IllegalArgumentException(String.format("view '%s' has no windows: a time range (from, to) selects "
          + "windows of a windowed view; read the key without one", name));
    }
    while (true) {
      // the key in the form of the version read: a reprocess may change group_by's type (text to a long)
      Version v = current;
      String k = v.program == null ? key : v.program.readKey(key);
      Merged m = mergedCurrent(k.getBytes(StandardCharsets.UTF_8), KeyHint.NONE, from, to, true, null);
      if (m.version == v.id || v.program == null) {
        return result(k, m);
      }
      // a swap between the two: read the key again in the form of the version now current
    }
  }

  /** {@code key} as the current version writes its groups' keys (see {@link dev.braid.Braid#groupKey}). */
  String groupKey(String key) {
    ViewProgram p = current.program;
    return p == null ? key : p.readKey(key);
  }

  /** {@link #merged} of the current version, whichever it is when its Delta is read. */
  private Merged mergedCurrent(byte[] kb, KeyHint hint, long from, long to, boolean withAsOf, Merged reuse) {
    while (true) {
      Version v = current;
      if (v == damaged) {
        throw unavailable();
      }
      String stopped = speed.failure();
      if (stopped != null) {
        throw speedLayerStopped(stopped);
      }
      Delta d = v.delta;
      if (d == null) {
        continue; // swapped out between the two reads; the next current has a Delta
      }
      try {
        return merged(v, d, kb, hint, from, to, withAsOf, reuse);
      } catch (MappedFile.ClosedException e) {
        rethrowUnlessReplaced(e, v, d); // else read the new version or Delta
      }
    }
  }

  /**
   * Visits every key of the current version that has a group in its Base or Delta once, for a full
   * pass of the changes feed, until {@code visitor} returns false; returns whether every key was
   * visited.
   *
   * <p>The parts are walked in the order they hold their keys (the Base by its index, each Delta
   * partition's closed-window runs, then its table by key id, so the read that follows finds each
   * key's info a line or so after the last), without collecting the keys first: a set of millions
   * of strings cost about half of a full pass. A 64-bit hash of each key visited is kept instead; a
   * key whose hash was seen is looked up in the parts walked before its own, and visited unless one
   * holds it (a collision of two keys' hashes visits both). A Delta partition's table is read a
   * chunk of keys at a time under its read lock, never while the visitor runs. The walk holds the
   * mappings of the Base and runs it walks until it ends: a spill or a swap meanwhile (which closes
   * runs it merged, or a retired version's Base) only delays their unmapping, and the walk goes on
   * over the parts it began with (what changes meanwhile is marked for the feed's next pass).
   */
  boolean forEachKey(KeyVisitor visitor) {
    return forEachKey(visitor, java.util.function.LongUnaryOperator.identity());
  }

  /** {@link #forEachKey(KeyVisitor)} of the keys alone (for tests). */
  boolean forEachKey(java.util.function.Predicate<String> visitor) {
    return forEachKey((key, utf8, hint) -> visitor.test(key));
  }

  /** {@link #forEachKey(java.util.function.Predicate)} with each key's hash passed through {@code hashes} (tests make them collide). */
  boolean forEachKey(java.util.function.Predicate<String> visitor, java.util.function.LongUnaryOperator hashes) {
    return forEachKey((key, utf8, hint) -> visitor.test(key), hashes);
  }

  /** A visitor of {@link #forEachKey}'s keys. */
  interface KeyVisitor {
    /**
     * Visits {@code key}, whose UTF-8 bytes are {@code utf8} (the visitor may keep them), found
     * where {@code hint} says, for {@link #readWindows(byte[], KeyHint, WindowRow)}. False
     * stops the walk.
     */
    boolean visit(String key, byte[] utf8, KeyHint hint);
  }

  /**
   * Where a walk of a version grouped by the stream's key found a key: the stream partition whose
   * Delta holds it, among {@code partitions} (-1: not known, for a key found in the Base or by a
   * walk of a version grouped otherwise, where a key's events may be in any partition). A read of
   * a version grouped by the stream's key reads that partition only, and takes it from the hint
   * instead of hashing the key again when the Delta it reads has as many partitions: it is the
   * partition the stream gives the key, the same in any version grouped by the stream's key (a
   * reprocess or rollback may swap versions while a walk goes on).
   */
  record KeyHint(int partition, int partitions) {
    static final KeyHint NONE = new KeyHint(-1, 0);
  }

  /** {@link #forEachKey(KeyVisitor)} with each key's hash passed through {@code hashes} (tests make them collide). */
  boolean forEachKey(KeyVisitor visitor, java.util.function.LongUnaryOperator hashes) {
    while (true) {
      Version v = current;
      Delta d = v.delta;
      if (d == null) {
        continue; // swapped out between the two reads; the next current has a Delta
      }
      List<BaseFile> held = new ArrayList<>();
      try {
        if (v.base != null) {
          v.base.retain();
          held.add(v.base);
        }
        for (PartitionDelta pd : d.partitions) {
          for (ClosedRun run : pd.runs) {
            run.base.retain();
            held.add(run.base);
          }
        }
      } catch (MappedFile.ClosedException e) {
        held.forEach(BaseFile::release);
        rethrowUnlessReplaced(e, v, d);
        continue; // closed by a swap or spill before the walk held it: walk what is current now
      }
      try {
        return new KeyWalk(v, d, visitor, hashes).walk();
      } finally {
        held.forEach(BaseFile::release);
      }
    }
  }

  /** One walk of {@link #forEachKey} over the parts of a version and one of its Deltas. */
  private static final class KeyWalk {
    private static final int TABLE_CHUNK = 1024;
    private final Version v;
    private final Delta d;
    private final KeyVisitor visitor;
    private final java.util.function.LongUnaryOperator hashes;
    /** The parts walked so far, the one being walked last: where a key whose hash was seen is looked up. */
    private final List<Part> parts = new ArrayList<>();
    private final HashSet64 seen;

    KeyWalk(Version v, Delta d, KeyVisitor visitor, java.util.function.LongUnaryOperator hashes) {
      this.v = v;
      this.d = d;
      this.visitor = visitor;
      this.hashes = hashes;
      // sized for the largest part (the parts share most of their keys: their sum can be many times
      // too large); the set grows when the parts hold more keys together
      long expected = v.base != null ? v.base.keyCount : 0;
      for (PartitionDelta pd : d.partitions) {
        expected = Math.max(expected, pd.table.keyCount());
        for (ClosedRun run : pd.runs) {
          expected = Math.max(expected, run.base.keyCount);
        }
      }
      seen = new HashSet64(expected);
    }

    boolean walk() {
      if (v.base != null && !walkBase(v.base, -1)) {
        return false;
      }
      for (PartitionDelta pd : d.partitions) {
        for (ClosedRun run : pd.runs) {
          if (!walkBase(run.base, pd.partition)) {
            return false;
          }
        }
        if (!walkTable(pd)) {
          return false;
        }
      }
      return true;
    }

    private boolean walkBase(BaseFile base, int partition) {
      parts.add(new Part(base, null, partition));
      KeyHint hint = partition < 0 || !v.keyPartitioned ? KeyHint.NONE : new KeyHint(partition, d.partitions.length);
      return base.forEachKey((b, off, len) -> {
        byte[] key = new byte[len];
        b.get(off, key, 0, len);
        return offer(key, BatchLayer.hash64(b, off, len), hint);
      });
    }

    private boolean walkTable(PartitionDelta pd) {
      parts.add(new Part(null, pd, pd.partition));
      KeyHint hint = v.keyPartitioned ? new KeyHint(pd.partition, d.partitions.length) : KeyHint.NONE;
      byte[][] chunk = new byte[TABLE_CHUNK][];
      for (int next = 0; ; ) {
        int n = 0;
        boolean more;
        long stamp = pd.lock.readLock();
        try {
          GroupTable t = pd.table;
          byte[] kb = t.keyBytes();
          int keys = t.keyCount();
          for (; next < keys && n < TABLE_CHUNK; next++) {
            if (t.firstGroupOfKey(next) >= 0) {
              int off = t.keyOffset(next);
              chunk[n++] = java.util.Arrays.copyOfRange(kb, off, off + t.keyLength(next));
            }
          }
          more = next < keys;
        } finally {
          pd.lock.unlockRead(stamp);
        }
        for (int i = 0; i < n; i++) {
          byte[] k = chunk[i];
          if (!offer(k, BatchLayer.hash64(ByteBuffer.wrap(k), 0, k.length), hint)) {
            return false;
          }
        }
        if (!more) {
          return true;
        }
      }
    }

    /** Visits the key unless a part walked before its own holds it; false when the visitor stops the walk. */
    private boolean offer(byte[] k, long hash, KeyHint hint) {
      if (!seen.add(hashes.applyAsLong(hash)) && inEarlierPart(k, k.length)) {
        return true;
      }
      return visitor.visit(new String(k, StandardCharsets.UTF_8), k, hint);
    }

    private boolean inEarlierPart(byte[] k, int len) {
      // a view grouped by the stream's key holds each key in the Base and its own partition only
      int own = v.keyPartitioned ? Partitioner.partition(k, 0, len, d.partitions.length) : -1;
      for (int i = 0, n = parts.size() - 1; i < n; i++) {
        Part part = parts.get(i);
        if ((own < 0 || part.partition < 0 || part.partition == own) && part.contains(k, len)) {
          return true;
        }
      }
      return false;
    }

    /**
     * One part of the walk: a Base or closed-window run ({@code base}), or a Delta partition's table
     * ({@code table}); {@code partition} is the Delta partition it belongs to, -1 for the version's Base.
     */
    private record Part(BaseFile base, PartitionDelta table, int partition) {
      boolean contains(byte[] k, int len) {
        if (base != null) {
          return base.contains(k, len);
        }
        long stamp = table.lock.readLock();
        try {
          GroupTable t = table.table;
          int id = t.findKey(k, len, GroupTable.hash(k, len));
          return id >= 0 && t.firstGroupOfKey(id) >= 0;
        } finally {
          table.lock.unlockRead(stamp);
        }
      }
    }
  }

  /** A set of 64-bit values (open addressing, linear probing, kept at most half full). */
  static final class HashSet64 {
    private long[] slots;
    private boolean hasZero;
    private int size;

    HashSet64(long expected) {
      slots = new long[capacityFor(expected)];
    }

    private static int capacityFor(long n) {
      long c = Long.highestOneBit(Math.max(8, Math.min(1L << 29, n * 2)) - 1) << 1;
      return (int) Math.min(1 << 30, c);
    }

    /** Adds {@code h}; false when it was there already. */
    boolean add(long h) {
      if (h == 0) {
        boolean added = !hasZero;
        hasZero = true;
        return added;
      }
      long[] s = slots;
      int mask = s.length - 1;
      for (int i = (int) (h ^ (h >>> 32)) & mask; ; i = (i + 1) & mask) {
        long e = s[i];
        if (e == h) {
          return false;
        }
        if (e == 0) {
          s[i] = h;
          if (++size * 2 > s.length && s.length < (1 << 30)) {
            grow();
          }
          return true;
        }
      }
    }

    private void grow() {
      long[] old = slots;
      long[] s = new long[old.length * 2];
      int mask = s.length - 1;
      for (long h : old) {
        if (h != 0) {
          int i = (int) (h ^ (h >>> 32)) & mask;
          while (s[i] != 0) {
            i = (i + 1) & mask;
          }
          s[i] = h;
        }
      }
      slots = s;
    }
  }

  /**
   * Rethrows {@code e}, a read of version {@code v} through Delta {@code d} finding a Base or run
   * closed, unless {@code v} was swapped out (and retired, possible with {@code keep: 0}) or its
   * Delta replaced (and a run it held closed) since the read began: then the caller reads again. The
   * serving version's Base and its Delta's runs are never closed, so otherwise it is not a race.
   */
  private void rethrowUnlessReplaced(MappedFile.ClosedException e, Version v, Delta d) {
    if (v == current && v.delta == d) {
      throw e;
    }
  }

  private static final class Row {
    final long[] longs;
    final Object[] objects;

    Row(ViewProgram p) {
      longs = new long[Math.max(1, p.longWidth)];
      objects = new Object[Math.max(1, p.objectWidth)];
      p.zero(longs, 0, objects, 0);
    }
  }

  private ViewResult result(String key, Merged m) {
    ViewProgram p = m.program;
    ViewProgram.Scratch x = m.scratch;
    if (m.windows == null) { // no windows: the key's one row
      Row r = m.only != null ? m.only : new Row(p);
      return new ViewResult(name, key, m.found && m.only != null, p.result(r.longs, 0, r.objects, 0, x), List.of(),
          m.asOf);
    }
    Row total = new Row(p);
    WindowRows<Row> rows = m.windows.sort();
    List<ViewResult.WindowValue> windows = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.row(i);
      long start = rows.start(i);
      p.merge(total.longs, 0, total.objects, 0, r.longs, 0, r.objects, 0, x);
      long end = p.windowEnd(start, r.longs, 0);
      windows.add(new ViewResult.WindowValue(start, end, p.result(r.longs, 0, r.objects, 0, x),
          m.isFinal(end) ? ViewResult.WindowState.FINAL : ViewResult.WindowState.PROVISIONAL));
    }
    // Hopping windows overlap: their merge would count each event once per window that holds it.
    Map<String, Object> values = p.windowKind == ViewProgram.HOPPING ? Map.of()
        : p.result(total.longs, 0, total.objects, 0, x);
    // read-only as its values are (a caller could clear the list a result handed out)
    return new ViewResult(name, key, m.found && !rows.isEmpty(), values,
        java.util.Collections.unmodifiableList(windows), m.asOf);
  }

  /** One window of a key's merged result, for {@link #readWindows}. */
  interface WindowRow {
    /**
     * Receives the window at {@code start}; {@code longs} and {@code objects} hold its merged state
     * row at base 0, laid out by {@code read.program()}, and are only valid during the call. The
     * call must not read another key through {@link #readWindows} on its thread: the thread's reads
     * share one set of rows ({@link WindowReads}).
     */
    void window(WindowsRead read, long start, long end, boolean isFinal, long[] longs, Object[] objects);
  }

  /**
   * Reads {@code key}'s merged result as {@link #get} does and gives each window's merged state row
   * to {@code out}, in start order, without building result maps (the changes feed renders the rows
   * itself). Returns what it read from, or null when the version read has no windows.
   */
  WindowsRead readWindows(String key, WindowRow out) {
    return readWindows(key.getBytes(StandardCharsets.UTF_8), KeyHint.NONE, out);
  }

  /** {@link #readWindows(String, WindowRow)} of the key whose UTF-8 bytes are {@code utf8}, found where {@code hint} says. */
  WindowsRead readWindows(byte[] utf8, KeyHint hint, WindowRow out) {
    WindowReads reads = windowReads.get();
    Merged m = mergedCurrent(utf8, hint, Long.MIN_VALUE, Long.MAX_VALUE, false, reads.merged);
    reads.merged = m;
    if (m.windows == null) {
      return null;
    }
    WindowsRead read = reads.last;
    if (read == null || read.program() != m.program || read.scratch() != m.scratch || read.version() != m.version
        || read.horizon() != m.horizon) {
      read = reads.last = new WindowsRead(m.program, m.scratch, m.version, m.horizon);
    }
    WindowRows<Row> rows = m.windows.sort();
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.row(i);
      long end = m.program.windowEnd(rows.start(i), r.longs, 0);
      out.window(read, rows.start(i), end, m.isFinal(end), r.longs, r.objects);
    }
    return read;
  }

  /**
   * A thread's last {@link Merged} of {@link #readWindows(byte[], KeyHint, WindowRow)}, emptied and
   * filled again for the next key, and its last {@link WindowsRead}: the changes feed's full pass
   * reads every key of a view, and allocated a read's objects, arrays and rows afresh per key (about
   * 0.8 KB per key in a Nexmark Q17 pass).
   */
  private static final class WindowReads {
    Merged merged;
    WindowsRead last;
  }

  /**
   * What {@link #readWindows} reads from: the rows' program, a scratch for rendering them, the
   * version, and its retention horizon (windows starting before it are not in the read).
   */
  record WindowsRead(ViewProgram program, ViewProgram.Scratch scratch, long version, long horizon) {}

  /**
   * One read's merged rows of a key, filled part by part (Base, runs, Delta tables) before they
   * become results. A view without windows has one row per key (window start 0) and needs no map;
   * a windowed view's rows are by window start (sessions merged at the end). As the visitor of a
   * Base or run lookup it takes the rows in {@code [from, to)}: a Base's row is read into a fresh
   * row (the Base is the first part read), a run's row is decoded and merged. {@code asOf} is null
   * when the read did not ask for it.
   */
  private static final class Merged implements BaseFile.WindowVisitor {
    final ViewProgram program;
    final ViewProgram.Scratch scratch;
    private long from;
    private long to;
    /** The key's row in a view without windows, null until a part holds it. */
    Row only;
    /** The key's rows by window start in a windowed view; null in a view without windows. */
    WindowRows<Row> windows;
    /** Whether a lookup's rows are merged (a closed-window run's) rather than read as the first. */
    private boolean merging;
    /** A run's decoded row, reused when rows are plain longs (a merge keeps no reference to them). */
    private Row decoded;
    boolean found;
    long version;
    /** The version's retention horizon: windows that start before it are left out. */
    long horizon;
    AsOf asOf;
    long finalUntil;

    Merged(ViewProgram program, ViewProgram.Scratch scratch, long from, long to) {
      this.program = program;
      this.scratch = scratch;
      this.from = from;
      this.to = to;
      this.windows = program.window == null ? null : new WindowRows<>();
    }

    /** Empties this for a read of another key of the same program (see {@link #readWindows(byte[], KeyHint, WindowRow)}). */
    Merged reset(long from, long to) {
      this.from = from;
      this.to = to;
      only = null;
      if (windows != null) { // a windowed program's (sessions may have replaced the one it began with)
        windows.clear();
      }
      merging = false;
      found = false;
      version = 0;
      horizon = 0;
      asOf = null;
      finalUntil = 0;
      return this;
    }

    /** The row of the window at {@code start}, zero when new. */
    Row row(long start) {
      if (windows == null) {
        return only != null ? only : (only = new Row(program));
      }
      int at = windows.find(start);
      if (at >= 0) {
        return windows.row(at);
      }
      Row r = windows.spare(); // a row a read before this one held, when this Merged is reused
      if (r == null) {
        r = new Row(program);
      } else {
        program.zero(r.longs, 0, r.objects, 0);
      }
      windows.add(start, r);
      return r;
    }

    boolean isFinal(long end) {
      return finalUntil != Long.MIN_VALUE && end <= finalUntil;
    }

    /** Looks {@code kb} up in a Base: its rows are the first the read finds. */
    boolean readBase(BaseFile base, byte[] kb) throws IOException {
      merging = false;
      return base.lookup(kb, kb.length, this);
    }

    /** Looks {@code kb} up in a closed-window run and merges its rows in. */
    boolean mergeRun(ClosedRun run, byte[] kb) throws IOException {
      merging = true;
      return run.lookup(kb, kb.length, this);
    }

    @Override
    public void visit(long window, ByteBuffer buffer, int offset, int length) throws IOException {
      if (window < from || window >= to) {
        return;
      }
      ViewProgram p = program;
      ViewProgram.Scratch x = scratch;
      if (!merging) {
        Row r = row(window);
        p.readRow(x.stateInput.reset(buffer, offset, offset + length), r.longs, 0, r.objects, 0, x);
        return;
      }
      // a merge may keep a reference to a decoded state object: a fresh row unless rows are plain longs
      Row tmp = p.objectWidth != 0 ? new Row(p) : decoded != null ? decoded : (decoded = new Row(p));
      p.readRow(x.stateInput.reset(buffer, offset, offset + length), tmp.longs, 0, tmp.objects, 0, x);
      Row r = row(window);
      p.merge(r.longs, 0, r.objects, 0, tmp.longs, 0, tmp.objects, 0, x);
    }
  }

  /**
   * {@code kb}'s rows in {@code v}: its Base, then each Delta partition's runs and table. With
   * {@code withAsOf} false (the changes feed, which needs the version only) the read leaves out its
   * {@code asOf}: the other partitions' positions, whose read waits while their writers hold the lock.
   */
  private Merged merged(Version v, Delta d, byte[] kb, KeyHint hint, long requestedFrom, long requestedTo,
      boolean withAsOf, Merged reuse) {
    ViewProgram p = v.program;
    boolean sessions = p.sessionSlot >= 0;
    long wantedFrom = Math.max(requestedFrom, v.horizon); // evicted windows are gone, and not read if recreated
    // session fragments outside the range may merge into a session inside it: read them all
    long from = sessions ? Long.MIN_VALUE : wantedFrom;
    long to = sessions ? Long.MAX_VALUE : requestedTo;
    ViewProgram.Scratch x = readScratch.get(); // per thread; depends only on the stream's schema
    Merged m = reuse != null && reuse.program == p && reuse.scratch == x ? reuse.reset(from, to)
        : new Merged(p, x, from, to);
    if (v.base != null) {
      try {
        m.found = m.readBase(v.base, kb);
      } catch (IOException e) {
        throw new UncheckedIOException("reading the Base " + v.base.file + " of view '" + name + "'", e);
      }
    }
    int parts = d.partitions.length;
    long[] positions = withAsOf ? new long[parts] : null;
    int only = !v.keyPartitioned ? -1
        : hint.partition() >= 0 && hint.partitions() == parts ? hint.partition()
        : Partitioner.partition(kb, 0, kb.length, parts);
    int hash = GroupTable.hash(kb, kb.length);
    for (int part = 0; part < parts; part++) {
      PartitionDelta pd = d.partitions[part];
      if (only >= 0 && part != only) {
        if (withAsOf) {
          positions[part] = pd.position();
        }
        continue;
      }
      for (ClosedRun run : pd.runs) { // immutable: read without the lock
        try {
          m.found |= m.mergeRun(run, kb);
        } catch (IOException e) {
          throw new UncheckedIOException("reading the closed-window run " + run.name + " of view '" + name + "'", e);
        }
      }
      long stamp = pd.lock.readLock();
      try {
        GroupTable t = pd.table;
        int keyId = t.findKey(kb, kb.length, hash);
        if (keyId >= 0) {
          m.found = true;
          long step = p.windowStep();
          long starts = step > 0 ? startsBetween(from, to, step) : Long.MAX_VALUE;
          if (starts < t.groupCountOfKey(keyId)) {
            // a narrow range of a key with many windows: look its possible starts up, O(range / step)
            long w = (Math.floorDiv(from - 1, step) + 1) * step;
            for (long i = 0; i < starts; i++, w += step) {
              int g = t.findGroup(keyId, w);
              if (g >= 0) {
                Row r = m.row(w);
                p.merge(r.longs, 0, r.objects, 0, t.longs, g * t.stride, t.objects, g * t.objectWidth, x);
              }
            }
          } else {
            for (int g = t.firstGroupOfKey(keyId); g >= 0; g = t.nextGroupOfKey(g)) {
              long window = t.window(g);
              if (window >= from && window < to) {
                Row r = m.row(window);
                p.merge(r.longs, 0, r.objects, 0, t.longs, g * t.stride, t.objects, g * t.objectWidth, x);
              }
            }
          }
        }
        if (withAsOf) {
          positions[part] = pd.writerPosition();
        }
      } finally {
        pd.lock.unlockRead(stamp);
      }
    }
    m.version = v.id;
    m.horizon = v.horizon;
    m.asOf = withAsOf ? new AsOf(v.id, v.cut, Cut.of(positions), speed.watermark()) : null;
    m.finalUntil = finalUntil(p, d);
    if (sessions) {
      m.windows = mergeSessions(p, m.windows, wantedFrom, requestedTo, x);
    }
    return m;
  }

  /**
   * Merges session fragments (by start) into sessions: a fragment that starts before the running
   * session's last event plus the gap is connected to it (some event of each is within the gap of
   * one of the other), so the two are one session; then keeps the sessions that start in
   * {@code [from, to)}. Fragments come from the Base, every partition's Delta and several fold
   * tables, so a session that spans the cut or partitions is one session here.
   */
  /**
   * How many multiples of {@code step} lie in {@code [from, to)}: the window starts a read of that
   * range can find, for views whose windows start at multiples of {@code step}. Saturates at
   * {@code Long.MAX_VALUE} (an unbounded range).
   */
  static long startsBetween(long from, long to, long step) {
    if (from == Long.MIN_VALUE || to == Long.MAX_VALUE) {
      return Long.MAX_VALUE;
    }
    if (to <= from) {
      return 0;
    }
    long first = Math.floorDiv(from - 1, step) + 1; // in units of step
    long last = Math.floorDiv(to - 1, step);
    return last < first ? 0 : (double) last - first + 1 >= Long.MAX_VALUE ? Long.MAX_VALUE : last - first + 1;
  }

  private static WindowRows<Row> mergeSessions(ViewProgram p, WindowRows<Row> fragments, long from, long to,
      ViewProgram.Scratch x) {
    WindowRows<Row> out = new WindowRows<>();
    long gap = p.sessionGap();
    long start = 0;
    Row cur = null;
    fragments.sort();
    for (int i = 0; i < fragments.size(); i++) {
      Row r = fragments.row(i);
      long fragment = fragments.start(i);
      if (cur != null && fragment < cur.longs[p.sessionSlot] + gap) {
        p.merge(cur.longs, 0, cur.objects, 0, r.longs, 0, r.objects, 0, x);
        continue;
      }
      if (cur != null && start >= from && start < to) {
        out.add(start, cur);
      }
      start = fragment;
      cur = r;
    }
    if (cur != null && start >= from && start < to) {
      out.add(start, cur);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Versions and batch cycles
  // ---------------------------------------------------------------------------------------------

  Version current() {
    return current;
  }

  /** The versions by id (the list itself holds backups in the order they stopped serving). */
  synchronized List<VersionInfo> versions() {
    List<VersionInfo> out = new ArrayList<>();
    List<Version> byId = new ArrayList<>(versions);
    byId.sort(java.util.Comparator.comparingLong(v -> v.id));
    for (Version v : byId) {
      Delta d = v.delta;
      BaseFile open = v.base;
      long keys = v.state.gone() ? 0 : open != null ? open.keyCount : baseKeysOnDisk(v); // gone: no Base
      Rebuild rb = v.rebuild;
      out.add(new VersionInfo(name, v.id, v.state, v.definition, v.cut, d == null ? null : d.position(), keys,
          v.createdAtMillis, v.failure, rb == null ? null : progress(v, rb)));
    }
    return out;
  }

  /**
   * The key count of version {@code v}'s Base while it is not open (a backup after a restart opens
   * its Base only when it is activated), from the file's header, read once; 0 without a Base file.
   */
  private long baseKeysOnDisk(Version v) {
    if (v.baseFileName == null || v.state.gone()) {
      return 0;
    }
    if (v.baseKeysOnDisk < 0) {
      long n = BaseFile.headerKeyCount(dir.resolve(v.baseFileName));
      if (n < 0) {
        return 0; // unreadable now (an interrupted caller, say): asked again next time, not cached as 0
      }
      v.baseKeysOnDisk = n;
    }
    return v.baseKeysOnDisk;
  }

  /** Batch cycles that built a version since the engine opened. */
  long batchCycles() {
    return batchCycles.get();
  }

  /** Their total duration. */
  long batchNanos() {
    return batchNanos.get();
  }

  long batchFailures() {
    return batchFailures.get();
  }

  /**
   * When the last batch cycle that succeeded ended (one that built a version, or found no event
   * since the current cut), also one before a restart; when none is recorded (data of a build
   * before the record, or a lost file), when the current version was created (a version a batch
   * cycle built: once its Base was written, near the cycle's end). 0 for a view with no Base.
   */
  long lastBatchAtMillis() {
    long last = lastBatchAtMillis;
    Version cur = current;
    return last != 0 ? last : cur.base == null ? 0 : cur.createdAtMillis;
  }

  /**
   * Records that a batch cycle succeeded now, in memory and in {@link #LAST_BATCH_FILE} (written
   * aside and renamed, not fsynced: a record lost to a power failure only makes the time older).
   */
  private void noteBatchSucceeded() {
    long now = System.currentTimeMillis();
    lastBatchAtMillis = now;
    Path tmp = dir.resolve(LAST_BATCH_FILE + ".tmp");
    try {
      Files.writeString(tmp, Long.toString(now));
      Files.move(tmp, dir.resolve(LAST_BATCH_FILE), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) { // status and metrics only: the cycle succeeded all the same
      LOG.warn("view '{}': could not record when its batch cycle ended in {}: {}", name, dir.resolve(LAST_BATCH_FILE),
          e.toString());
    }
  }

  /** Reads {@link #LAST_BATCH_FILE}, if there is one that holds a time; at the engine's start. */
  private void readLastBatch() {
    Path f = dir.resolve(LAST_BATCH_FILE);
    try {
      if (Files.exists(f)) {
        lastBatchAtMillis = Long.parseLong(Files.readString(f).strip());
      }
    } catch (IOException | RuntimeException e) { // as if none: the current version's creation stands for it
      LOG.warn("view '{}': could not read when its last batch cycle ended from {}: {}", name, f, e.toString());
    }
  }

  /**
   * Events of the log up to the position of version {@code v} (whose Delta is {@code d}, or null)
   * that it left out: its Base's before the cut and its Delta's after, each event once however many
   * batch cycles or restarts it went through. Not complete when the Base's counts or a partition's
   * are not known (data written before they were recorded); the next batch cycle counts them anew.
   */
  static Delta.LeftOut leftOut(Version v, Delta d) {
    Delta.LeftOut delta = d == null ? new Delta.LeftOut(0, 0, true) : d.leftOut();
    long baseSkipped = v.baseSkipped;
    long baseWithoutKey = v.baseWithoutKey;
    return new Delta.LeftOut(Math.max(0, baseSkipped) + delta.skipped(),
        Math.max(0, baseWithoutKey) + delta.withoutKey(), delta.complete() && baseSkipped >= 0 && baseWithoutKey >= 0);
  }

  /**
   * Runs one batch cycle now and returns the new current version's id; when no event came since
   * the current version's cut and it has a Base, returns that version's id without a cycle (a cycle
   * would build the same Base). Blocks while another
   * cycle of this view runs. The cycle recomputes within {@link EngineOptions#batchMemoryBytes()},
   * spilling sorted runs to {@code v<id>.spill/} in the view's directory when it must; they are
   * deleted when the cycle ends, whether it succeeds or fails. The cycle computes the current
   * version's definition (which a reprocess may have changed).
   */
  long runBatch() throws InterruptedException {
    return runBatch(false);
  }

  /**
   * {@link #runBatch()}; with {@code evenWithoutNewEvents}, a cycle also when no event came since the current cut.
   *
   * <p>A reprocess or rollback that has caught up and waits to switch in (it needs {@link #batchLock})
   * goes first: the cycle then computes the definition it brings. One that comes to wait while the
   * cycle computes supersedes the cycle's version, built with the definition that is about to stop
   * serving: that version is dropped unserved (it would be current for an instant, then a backup
   * that retires an older rollback point), the switch happens, and the cycle runs again with the new
   * definition, so the caller still gets a version of what the view now computes.
   */
  long runBatch(boolean evenWithoutNewEvents) throws InterruptedException {
    return runBatchCycle(evenWithoutNewEvents).version();
  }

  /** {@link #runBatch(boolean)}, saying whether this call built the version it returns. */
  dev.braid.BatchCycle runBatchCycle(boolean evenWithoutNewEvents) throws InterruptedException {
    cyclesRunning.incrementAndGet();
    batchLock.lock();
    try {
      while (true) {
        if (closing) {
          throw new IllegalStateException("view '" + name + "': Braid is closing; no batch cycle starts");
        }
        switchInWaiting();
        dev.braid.BatchCycle cycle = runBatchOnce(evenWithoutNewEvents);
        if (cycle != null) {
          return cycle;
        }
      }
    } finally {
      batchLock.unlock();
      cyclesRunning.decrementAndGet();
    }
  }

  /** Takes {@link #batchLock}: waits for it, or unless {@code wait} only if it is free; whether it was taken. */
  private boolean lockBatch(boolean wait) {
    if (wait) {
      batchLock.lock();
      return true;
    }
    return batchLock.tryLock();
  }

  /** Whether {@code t} waits for {@link #batchLock} (for tests that order two cycles). */
  boolean batchLockQueued(Thread t) {
    return batchLock.hasQueuedThread(t);
  }

  /** Batch cycles in {@link #runBatchCycle} (waiting for {@link #batchLock} or running), for {@link #close} to await. */
  private final AtomicInteger cyclesRunning = new AtomicInteger();
  /** The batch layer of the cycle running now, for {@link #close} to cancel; else null. */
  private volatile BatchLayer cycleLayer;

  /** Test hook: runs once, in the next batch cycle, after its version is built and before its switch. */
  volatile Runnable beforeBatchSwap;

  /** Test hook: runs once, in the next switch, when reads have moved to the new version and before the tidy-up. */
  volatile Runnable afterSwitch;

  /** The version of a reprocess or rollback that waits for {@link #batchLock} to switch in, or null. */
  synchronized Version waitingToSwitch() {
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (v.state == VersionState.BUILDING && rb != null && rb.switchWaiting) {
        return v;
      }
    }
    return null;
  }

  /** Switches in the version {@link #waitingToSwitch()} finds, if any; the caller holds {@link #batchLock}. */
  private void switchInWaiting() throws InterruptedException {
    Version v = waitingToSwitch();
    Rebuild rb = v == null ? null : v.rebuild;
    if (rb != null) {
      switchIn(v, rb);
    }
  }

  /**
   * One batch cycle under {@link #batchLock}: what it did, or null when a reprocess or rollback
   * came to wait for its switch while the cycle computed (see {@link #runBatch(boolean)}); the
   * cycle's version is then dropped and nothing else changed.
   */
  private dev.braid.BatchCycle runBatchOnce(boolean evenWithoutNewEvents) throws InterruptedException {
    {
      ViewProgram program = current.program;
      Cut cut = stream.end();
      Version serving = current;
      if (!evenWithoutNewEvents && serving.base != null && serving.cut.equals(cut) && serving.baseSkipped >= 0 && serving.baseWithoutKey >= 0) {
        // The same definition over the same events gives the same Base: a new version would only
        // retire a backup at another cut, the rollback point a user may still want.
        LOG.info("view '{}': no events since the cut {} of version {}; it stays current", name, cut, serving.id);
        noteBatchSucceeded();
        return new dev.braid.BatchCycle(serving.id, false);
      }
      long id;
      synchronized (this) {
        id = nextId++;
      }
      long total = 0;
      for (int p = 0; p < cut.partitions(); p++) {
        total += cut.offset(p) - stream.startOffset(p);
      }
      long readStamp = LOG_READS.incrementAndGet();
      BatchLayer.Counters counters = BatchLayer.Counters.create();
      batchProgress = new BatchProgress(id, cut, counters.events(), counters.runsWritten(), total, System.nanoTime());
      long started = System.nanoTime();
      String fileName = "v" + id + ".base";
      Version next;
      BatchLayer.Stats stats;
      BaseFile base = null;
      try {
        Files.createDirectories(dir);
        BatchLayer batch =
            new BatchLayer(program, stream, options.batchThreads(), options.batchMemoryBytes(), counters);
        cycleLayer = batch;
        if (closing) {
          batch.cancel(); // close may have looked for a layer to cancel just before this one was set
        }
        try {
          stats = batch.build(cut, dir.resolve(fileName), dir.resolve("v" + id + ".spill"));
        } finally {
          cycleLayer = null;
        }
        long failed = counters.errors().get();
        // the serving version leaves out the same events when they fail the same way every time (a division
        // by zero in a filter): then the empty Base is the right answer, and the cycle goes on. Its count is
        // comparable only when known (not so for a catalog of a build that did not record it) and when its
        // Delta has read up to the cut (a Delta behind it has not met the failures between)
        Delta servingDelta = serving == null ? null : serving.delta;
        Delta.LeftOut servingLeftOut = serving == null ? null : leftOut(serving, servingDelta);
        boolean comparable = servingLeftOut != null && servingLeftOut.complete()
            && (servingDelta == null ? serving.cut.isAtOrAfter(cut) : servingDelta.position().isAtOrAfter(cut));
        if (failed > 0 && failed >= counters.admitted() && comparable && failed > servingLeftOut.skipped()) {
          // an expression or aggregation that fails on every event it did not fail on before (a user merge that
          // throws, say) would swap an empty Base in for good data: a failed cycle, the current version serving.
          // Events the filter left out do not count: a selective view fails on every event it admits alike.
          throw new IllegalStateException(String.format("view '%s': the batch cycle failed on every one of the %,d "
              + "events it read%s (an expression or an aggregation threw), so its Base would hold none of them; "
              + "the current version keeps serving. The first failure: %s", name, failed,
              counters.filteredOut().get() == 0 ? "" : String.format(" that its filter admitted (%,d more were "
                  + "filtered out)", counters.filteredOut().get()), counters.firstError().get()));
        }
        base = BaseFile.openWritten(dir.resolve(fileName), stats.base());
        next = new Version(id, program, cut, base, fileName, System.currentTimeMillis(), VersionState.BUILDING);
        next.fromBatchCycle = true;
        next.baseSkipped = counters.errors().get();
        next.baseWithoutKey = counters.withoutKey().get();
        next.lateFloor = lateFloor(serving, cut);
        next.delta = seeded(new Delta(program, cut,
            (int) Math.min(1 << 16, Math.max(1 << 10, stats.keys() / cut.partitions() / 8))), program, cut,
            next.lateFloor);
        synchronized (this) {
          versions.add(next);
        }
        attachAndAwait(next.delta, program, "attach version " + id, 10);
      } catch (IOException | RuntimeException e) {
        batchProgress = null;
        closeIfOpen(base);
        Version waiting = e instanceof java.util.concurrent.CancellationException && !closing ? waitingToSwitch()
            : null;
        if (waiting != null) { // stopped for the switch that came to wait (switchIn): dropped, as at its end
          deleteBaseFiles(id, fileName);
          LOG.info("view '{}': the batch cycle of version {} stopped part way and is dropped: {} version {} switches "
              + "in, and the cycle runs again with the definition it brings", name, id, waiting.rebuild != null
              && waiting.rebuild.rollback ? "the rollback to" : "the reprocessed", waiting.id);
          return null;
        }
        if (closing) {
          // stopped by the close: nothing recorded or deleted (the next start's orphan sweep removes the
          // Base), so that a cycle the close could not wait for never writes behind its back
          throw new IllegalStateException("view '" + name + "': the batch cycle of version " + id
              + " stopped: Braid is closing", e);
        }
        batchFailures.incrementAndGet();
        failVersion(id, cut, program, fileName, failureReason(e));
        if (e instanceof IOException io) {
          throw new UncheckedIOException("batch cycle of view '" + name + "' failed writing its Base: " + e, io);
        }
        throw (RuntimeException) e;
      }
      logReadWholeStamp = readStamp; // every segment before the cut read back whole, from after this stamp on
      Runnable hook = beforeBatchSwap;
      if (hook != null) {
        beforeBatchSwap = null;
        hook.run();
      }
      Version waiting = waitingToSwitch();
      if (waiting != null) {
        batchProgress = null;
        dropSuperseded(next, waiting);
        return null;
      }
      try {
        swap(next);
      } catch (CatalogNotStored e) {
        batchProgress = null;
        // Its Base stays on disk: another thread's catalog may have stored the switch while this one
        // failed (a restart then serves the version whole); if none did, the next start's orphan sweep
        // removes the file.
        batchFailures.incrementAndGet();
        dropUnserved(next, false);
        RuntimeException notStored = e.failure();
        String reason = "could not record version " + id + " as current: " + notStored.getMessage();
        try {
          failVersion(id, cut, program, null, reason);
        } catch (RuntimeException alsoNotStored) {
          notStored.addSuppressed(alsoNotStored);
        }
        throw notStored;
      } catch (RuntimeException | InterruptedException refused) {
        batchProgress = null; // refused before the switch (a Delta behind the current one): nothing changed
        if (!closing) {
          batchFailures.incrementAndGet();
        }
        dropUnserved(next, true);
        throw refused;
      }
      batchProgress = null;
      lastBatch = stats;
      noteWithoutKey(id, program, counters);
      noteFailures(id, counters);
      batchCycles.incrementAndGet();
      batchNanos.addAndGet(System.nanoTime() - started);
      noteBatchSucceeded();
      if (stats.runsWritten() > 0) {
        LOG.info("view '{}': batch cycle built version {} at cut {} ({} keys in the Base) in {} ms; it exceeded its "
            + "memory budget of {} bytes and spilled {} runs ({} bytes, {} intermediate merges)", name, id, cut,
            stats.keys(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), options.batchMemoryBytes(),
            stats.runsWritten(), stats.bytesSpilled(), stats.intermediateMerges());
      } else {
        LOG.info("view '{}': batch cycle built version {} at cut {} ({} keys in the Base) in {} ms", name, id, cut,
            stats.keys(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      }
      return new dev.braid.BatchCycle(id, true);
    }
  }

  /**
   * Logs how many events the Base of version {@code id} left out for having no value for the group
   * key, when there were any: the speed layer reports the first such event of each partition (a
   * warning), and this gives the count over the log before the cut (at INFO, as the cycle's own line).
   */
  private void noteWithoutKey(long id, ViewProgram program, BatchLayer.Counters counters) {
    long n = counters.withoutKey().get();
    if (n > 0) {
      LOG.info("view '{}': the Base of version {} leaves out {} {} of stream '{}' with no value for group_by '{}'",
          name, id, n, n == 1 ? "event" : "events", stream.name(), program.spec.groupBy());
    }
  }

  /**
   * Logs how many events the Base of version {@code id} left out because an expression or an
   * aggregation failed on them, with the first failure, when there were any (the speed layer logs
   * the first ones after the cut itself).
   */
  private void noteFailures(long id, BatchLayer.Counters counters) {
    long n = counters.errors().get();
    if (n > 0) {
      LOG.warn("view '{}': the Base of version {} leaves out {} {} of stream '{}' on which an expression or an "
          + "aggregation failed; the first: {}", name, id, n, n == 1 ? "event" : "events", stream.name(),
          String.valueOf(counters.firstError().get())); // as text: a Throwable last would print its stack
    }
  }

  /**
   * Drops the version {@code next} a batch cycle built and never served, because {@code waiting}
   * is about to switch in with another definition.
   */
  private void dropSuperseded(Version next, Version waiting) throws InterruptedException {
    dropUnserved(next, true);
    LOG.info("view '{}': version {} of the batch cycle is dropped unserved: {} version {} ({}) switches in, and the "
        + "cycle runs again {}", name, next.id,
        waiting.rebuild != null && waiting.rebuild.rollback ? "the rollback to" : "the reprocessed", waiting.id,
        waiting.definition.equals(next.definition) ? "the same definition" : "another definition",
        waiting.definition.equals(next.definition) ? "after it" : "with its definition");
  }

  /**
   * Detaches the Delta of batch-cycle version {@code next}, which never served, forgets it and, with
   * {@code deleteBase}, deletes its Base.
   */
  private void dropUnserved(Version next, boolean deleteBase) throws InterruptedException {
    Delta delta = next.delta;
    try {
      await(speed.detach(delta), "detach version " + next.id);
    } finally {
      closeRuns(delta.runs(), List.of());
      next.delta = null;
      synchronized (this) {
        versions.remove(next);
      }
      closeIfOpen(next.base);
      next.base = null;
      if (deleteBase) {
        deleteBaseFiles(next.id, next.baseFileName);
      }
    }
  }

  private void failVersion(long id, Cut cut, ViewProgram program, String fileName, String reason) {
    if (fileName != null) {
      deleteBaseFiles(id, fileName); // before the state says failed: whoever sees it finds no file left
    }
    synchronized (this) {
      versions.removeIf(v -> v.id == id);
      Version failed = new Version(id, program, cut, null, null, System.currentTimeMillis(), VersionState.FAILED);
      failed.failure = reason;
      versions.add(failed);
    }
    LOG.error("view '{}': batch cycle for version {} failed: {}", name, id, reason);
    persist.run();
  }

  /** Deletes the Base file of failed version {@code id} and its temporary file, if they exist. */
  private void deleteBaseFiles(long id, String fileName) {
    if (closing) {
      return; // the next start's orphan sweep removes it; by then another engine may own a file of that name
    }
    try {
      Files.deleteIfExists(dir.resolve(fileName));
      Files.deleteIfExists(dir.resolve(fileName + ".tmp"));
    } catch (IOException e) {
      LOG.warn("could not remove the files of failed version {} of view '{}'", id, name, e);
    }
  }

  /**
   * Makes {@code next} current; its Delta follows the log in lockstep with the current one. Callers
   * hold {@link #batchLock}, so swaps of batch cycles, reprocesses and rollbacks never interleave.
   *
   * <p>The catalog is written first, with {@code next} current, and the versions' states and reads
   * switch together only once it is stored: a version that served a read is in the catalog, so a
   * restart serves it again and never hands its id to another version. When the catalog cannot be
   * written (a full disk), nothing changed: the current version keeps serving, and the exception
   * propagates; the caller decides what becomes of {@code next}.
   */
  private void swap(Version next) throws InterruptedException {
    Version old = current;
    // Under the locks, the old Delta (attached first) before the new one: read without them, a fold batch that has
    // moved the old one and not yet the new one showed the new one behind by up to a batch, and failed the swap
    Cut oldPos = old.delta.positionLocked();
    Cut newPos = next.delta.positionLocked();
    if (!newPos.isAtOrAfter(oldPos)) {
      // Cannot happen while both are attached to the same partition threads; refuse rather than go back.
      throw new IllegalStateException(String.format("view '%s': version %d is at %s, behind version %d at %s",
          name, next.id, newPos, old.id, oldPos));
    }
    // From here the catalog is stored as if switched (catalogEntry applies the switch to the states
    // of the moment and puts them back), while the versions listed and the version read stay as
    // they are until it is stored.
    PendingSwitch pending = new PendingSwitch(next, old);
    boolean replacesDamaged;
    synchronized (this) {
      pendingSwitch = pending;
      replacesDamaged = old == damaged;
    }
    if (replacesDamaged) {
      // Before the catalog names the version failed: the next start deletes a failed version's file, and
      // keeps one moved aside (a repair moved it already). Stored or not, the view copes with the move.
      try {
        moveAside(damagedFile);
      } catch (IOException e) {
        LOG.warn("view '{}': cannot move the damaged Base {} aside (the next start deletes it): {}", name,
            damagedFile, e.toString());
      }
    }
    boolean stored = false;
    try {
      persist.run(); // before reads switch, and before the files go: the catalog never names a Base that is gone
      stored = true;
    } catch (RuntimeException notStored) {
      throw new CatalogNotStored(notStored);
    } finally {
      if (!stored) { // an Error too: later catalogs must not keep storing a switch that did not happen
        synchronized (this) {
          pendingSwitch = null;
        }
      }
    }
    List<Version> retired;
    List<Version> kept = new ArrayList<>(); // retired now, but a catalog stored meanwhile listed them as backups
    Delta oldDelta = old.delta;
    synchronized (this) {
      retired = new ArrayList<>(applySwitch(next, old).retired());
      // delete only what every catalog stored meanwhile had retired too (the rest goes at the next start)
      for (Version r : retired) {
        if (pending.retiredIds == null || !pending.retiredIds.contains(r.id)) {
          kept.add(r);
        }
      }
      retired.removeAll(kept);
      pendingSwitch = null;
      next.replacedId = old.id;
      current = next;
      if (old == damaged) { // failed by the switch (see applySwitch): the view serves again
        // Its Delta first: a read that took it for current before the switch and then found it no longer
        // damaged would merge its Delta without its Base (it now finds no Delta and reads the new one)
        old.delta = null;
        damaged = null;
      }
    }
    Runnable hook = afterSwitch;
    if (hook != null) {
      afterSwitch = null;
      hook.run();
    }
    // Committed: what follows tidies up, and a failure of it is logged, not thrown (the caller would
    // take the switch for not done).
    boolean interrupted = false;
    try {
      await(speed.detach(oldDelta), "detach version " + old.id);
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (RuntimeException e) {
      LOG.error("view '{}': version {} is current; version {} could not be detached from the speed layer: {}", name,
          next.id, old.id, e.toString());
    }
    synchronized (checkpointLock) { // a reprocess that switched in: its own checkpoint is the current version's now
      CheckpointRecord b = buildCheckpoint;
      if (b != null && b.version() == next.id) {
        lastCheckpoint = b;
        buildCheckpoint = null;
      }
    }
    try {
      closeRuns(oldDelta.runs(), List.of()); // nothing reads them once current moved on; the speed layer never does
      synchronized (this) { // a rollback to it that started since the switch has its own Delta (see activate)
        if (old.delta == oldDelta) {
          old.delta = null;
        }
      }
      for (Version r : kept) {
        closeIfOpen(r.base); // retired in memory: never activated again, so unmapped now
      }
      if (!closing) { // a cycle the close could not wait for leaves files to the next start's orphan sweep
        deleteBases(retired);
        pruneCheckpoints(); // the old version's checkpoints no longer matter
        deleteUnreferencedRuns(); // the old version's closed-window runs
      } else {
        for (Version r : retired) {
          closeIfOpen(r.base);
        }
      }
    } catch (RuntimeException e) {
      LOG.error("view '{}': version {} is current; tidying up after version {} failed (the next start removes what "
          + "is left): {}", name, next.id, old.id, e.toString());
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** A switch whose catalog is being stored: {@link #catalogEntry} stores it as done. */
  private static final class PendingSwitch {
    final Version next;
    final Version old;
    /** Ids of the versions retired in every catalog entry made for it, or null before the first. Guarded by the runtime. */
    java.util.Set<Long> retiredIds;

    PendingSwitch(Version next, Version old) {
      this.next = next;
      this.old = old;
    }
  }

  /** Guarded by this; see {@link #swap}. */
  private PendingSwitch pendingSwitch;

  /** The catalog could not be written for a switch, which did not happen; the cause is the write's failure. */
  static final class CatalogNotStored extends RuntimeException {
    CatalogNotStored(RuntimeException cause) {
      super(cause.getMessage(), cause);
    }

    RuntimeException failure() {
      return (RuntimeException) getCause();
    }
  }

  /** A switch applied to the versions' states, and how to put them back. */
  private record Switch(List<Version> retired, List<Version> before, Version next, VersionState nextBefore,
      Rebuild rebuildBefore, Version old, String oldFailureBefore) {
    /** Puts {@code versions} and the states back; the caller holds the runtime's monitor. */
    void undo(List<Version> versions) {
      versions.clear();
      versions.addAll(before);
      next.state = nextBefore;
      next.rebuild = rebuildBefore;
      old.state = VersionState.CURRENT;
      old.failure = oldFailureBefore;
      for (Version r : retired) {
        r.state = VersionState.BACKUP;
      }
    }
  }

  /**
   * Marks {@code next} current and {@code old} a backup, retiring backups beyond keep; the caller holds
   * this. An {@code old} whose Base failed its checks at start-up ({@link #damaged}) is failed instead:
   * it is no version to go back to, and counted among the backups it retired the oldest one.
   */
  private Switch applySwitch(Version next, Version old) {
    List<Version> before = new ArrayList<>(versions);
    VersionState nextBefore = next.state;
    Rebuild rebuildBefore = next.rebuild;
    String oldFailureBefore = old.failure;
    next.state = VersionState.CURRENT;
    next.rebuild = null;
    if (old == damaged) {
      old.state = VersionState.FAILED;
      old.failure = damage + "; replaced by version " + next.id;
    } else {
      old.state = VersionState.BACKUP;
    }
    // Last in the list, which holds the backups in the order they stopped serving (the catalog
    // keeps it): the ones beyond keep retired are those that stopped serving longest ago, so a
    // rollback does not make the version it rolled away from the first to go.
    versions.remove(old);
    versions.add(old);
    // In the same step: no one sees more backups than keep, the oldest of them activatable, once
    // nothing builds (its Base is closed and deleted after the catalog no longer names it).
    List<Version> retired = retireOldBackups(next.program.spec.keep());
    return new Switch(retired, before, next, nextBefore, rebuildBefore, old, oldFailureBefore);
  }

  private static void closeIfOpen(BaseFile base) {
    if (base != null) {
      base.close();
    }
  }

  /**
   * Marks the backups beyond the spec's {@code keep} retired and forgets the oldest dead versions;
   * returns the versions retired, whose Bases {@link #deleteBases} closes, and deletes once the
   * catalog no longer lists them as backups.
   */
  private List<Version> retireOldBackups(int keep) {
    List<Version> retire = new ArrayList<>();
    synchronized (this) {
      int backups = 0;
      for (int i = versions.size() - 1; i >= 0; i--) {
        Version v = versions.get(i);
        if (v.state == VersionState.BACKUP && ++backups > keep) {
          v.state = VersionState.RETIRED;
          retire.add(v);
        }
      }
      // Keep the catalog short: forget retired and failed versions beyond the last few.
      int dead = 0;
      for (int i = versions.size() - 1; i >= 0; i--) {
        VersionState s = versions.get(i).state;
        if (s.gone() && ++dead > VersionState.GONE_KEPT) {
          versions.remove(i);
        }
      }
    }
    return retire;
  }

  /** Closes the Bases of {@code retired} versions and, if {@code delete}, deletes their files. */
  private void deleteBases(List<Version> retired) {
    for (Version v : retired) {
      closeIfOpen(v.base); // unmapped once reads in progress end (see MappedFile: why)
      if (v.baseFileName != null) {
        try {
          Files.deleteIfExists(dir.resolve(v.baseFileName));
        } catch (IOException e) {
          LOG.warn("could not delete the Base of retired version {} of view '{}'", v.id, name, e);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Damaged Base and repair
  // ---------------------------------------------------------------------------------------------

  /** The current version whose Base could not be opened at start-up, until a repair replaces it; else null. */
  /** See {@link #logDamage()}. */
  private volatile String logDamage;
  private volatile long logDamageStamp;
  /** Orders the findings of log damage and the whole reads of a log, across the views of an engine. */
  private static final AtomicLong LOG_READS = new AtomicLong();
  private volatile long logReadWholeStamp;

  private volatile Version damaged;
  /** What was wrong with its Base (file, byte offset, check). */
  private volatile String damage;
  private volatile Path damagedFile;

  /**
   * Opens the Base of the current version at start-up; when it fails its checks or is missing, notes
   * the damage (logged, reported by {@link #damage()}) and returns null, so that only this view is
   * refused (reads answer {@link dev.braid.UnavailableException}) instead of the engine failing to
   * open or the view serving a Delta without its Base.
   */
  private BaseFile openBaseOrNoteDamage(String fileName, Cut cut) throws IOException {
    if (fileName == null) {
      return null;
    }
    Path file = dir.resolve(fileName);
    try {
      BaseFile base = BaseFile.open(file);
      damage = baseMismatch(file, base.cut, cut);
      if (damage == null) {
        return base;
      }
      base.close();
    } catch (dev.braid.log.CorruptLogException e) {
      damage = e.getMessage();
    } catch (java.nio.file.NoSuchFileException e) {
      damage = "base file " + file + " is missing";
    }
    damagedFile = file;
    LOG.error("view '{}': {}; the view is refused until `braid repair {}` rebuilds its Base from the log", name,
        damage, name);
    return null;
  }

  /**
   * Why a Base whose file records {@code fileCut} cannot serve as the Base of a version whose catalog
   * entry says {@code cut}, or null when it can. A Base counts every event before its cut, so it must
   * be the catalog's cut, and the log must still hold that cut: a log whose tail was lost after the
   * Base was computed (a power loss under durability {@code os} or {@code interval}) would number new
   * events with offsets the Base already counts, and the Delta would skip them.
   */
  private String baseMismatch(Path file, Cut fileCut, Cut cut) {
    if (!fileCut.equals(cut)) {
      return String.format("base file %s was computed at cut %s, but the version catalog records cut %s for it",
          file, fileCut, cut);
    }
    int p = partitionPastEnd(cut);
    if (p >= 0) {
      return String.format("base file %s counts the events of stream '%s' partition %d up to offset %d, but the "
          + "log of that partition now ends at offset %d: its tail was lost after the Base was computed (a crash "
          + "with durability os or interval loses what was not yet synced), so the Base holds events the log no "
          + "longer has", file, stream.name(), p, cut.offset(p), stream.end().offset(p));
    }
    return null;
  }

  /**
   * The first partition where {@code cut} is past the log's end, or -1. A version whose cut is past
   * the end was made before the log lost its tail: new events get the lost offsets again, and a
   * Delta that starts at the cut would never see them.
   */
  /**
   * {@code cut} of version {@code id} as a restart restores a version without a Base (a reprocess
   * being built, a kappa version that replays from a chosen cut): where the log lost its tail below it
   * (a power loss under durability {@code os} or {@code interval}), the log's end, logged, so that the
   * events that now take the lost offsets are counted and the speed layer does not read past the end.
   * {@code then} says what the version does from the capped cut.
   */
  private Cut cappedAtLogEnd(long id, Cut cut, String then) {
    int past = partitionPastEnd(cut);
    if (past < 0) {
      return cut;
    }
    Cut capped = cut.min(stream.end());
    LOG.warn("view '{}': version {} was at cut {}, but the log of stream '{}' partition {} now ends at offset {} "
        + "(its tail was lost); it {} from cut {}", name, id, cut, stream.name(), past, stream.end().offset(past),
        then, capped);
    return capped;
  }

  private int partitionPastEnd(Cut cut) {
    Cut end = stream.end();
    for (int p = 0; p < cut.partitions(); p++) {
      if (cut.offset(p) > end.offset(p)) {
        return p;
      }
    }
    return -1;
  }

  /** Why the view is refused, or null when it serves. */
  String damage() {
    return damaged == null ? null : damage;
  }

  /** Why the view is refused while its speed layer has stopped for good (see {@link SpeedLayer#failure}). */
  private dev.braid.UnavailableException speedLayerStopped(String why) {
    return new dev.braid.UnavailableException("view", name, null, why + " (its Delta may hold part of a batch of "
        + "events past its position)", "restart the server: the view is rebuilt from its last checkpoint and the log");
  }

  /** Why the view is refused because its speed layer stopped, or null while the speed layer runs. */
  String speedFailure() {
    return speed.failure();
  }

  private dev.braid.UnavailableException unavailable() {
    return new dev.braid.UnavailableException("view", name, damagedFile, damage,
        "run `braid repair " + name + "` (POST /v1/views/" + name + "/repair) to rebuild its Base from the log");
  }

  /**
   * Rebuilds the damaged Base: moves the file aside as {@code <name>.corrupt}, runs a batch cycle at
   * a fresh cut (the Base is recomputed from the log; the damaged file is never read) and swaps the
   * new version in; the damaged version is marked {@code failed} with what was wrong. Returns the
   * new version's id.
   */
  long repair() throws InterruptedException, IOException {
    batchLock.lock();
    try {
      Version bad = damaged;
      if (bad == null || current != bad) {
        throw new IllegalStateException(dev.braid.Faults.notDamaged(name, current.id));
      }
      Path aside = moveAside(damagedFile);
      long id = runBatch();
      bad.state = VersionState.FAILED;
      bad.failure = damage + "; moved aside to " + aside.getFileName() + " and rebuilt from the log as version " + id;
      damaged = null;
      persist.run();
      LOG.info("view '{}': repaired; version {} rebuilt from the log serves", name, id);
      return id;
    } finally {
      batchLock.unlock();
    }
  }

  /**
   * Moves the damaged Base {@code file} aside as {@code <file>.corrupt}, which the orphan clean-up
   * spares, when it is still there; returns that path. A repair calls it before its batch cycle reads
   * the log; a switch that replaced the damaged version otherwise calls it after.
   */
  private Path moveAside(Path file) throws IOException {
    Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
    if (Files.exists(file)) {
      Files.move(file, aside, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      LOG.warn("view '{}': moved the damaged Base {} aside to {}", name, file, aside);
    }
    return aside;
  }

  // ---------------------------------------------------------------------------------------------
  // Reprocess and rollback
  // ---------------------------------------------------------------------------------------------

  /** The state of a version's build, for progress and for whoever waits for the switch. */
  static final class Rebuild {
    final boolean rollback;
    /** When the build started; for a resumed build, when it started again (its rate counts from there). */
    volatile long startedAtNanos = System.nanoTime();
    /** Naps the replay threads took to let the live speed layer catch up (see {@link ReplayYield}). */
    final AtomicLong yielded = new AtomicLong();
    /** The batch recompute's counters while it runs (lambda reprocess), else null. */
    volatile BatchLayer.Counters batch;
    /** Events the replay left out because the definition failed on them (each counted in its Delta too). */
    final AtomicLong skipped = new AtomicLong();
    /** Events in the log before the version's cut that the batch recompute reads. */
    volatile long batchTotal;
    /**
     * Events that a restart kept for this build, which it does not read again: those a checkpoint of its Delta
     * restored, and a lambda version's Base's when its Base file was kept.
     */
    volatile long restoredEvents;
    /** Events before the cut of a lambda version whose Base a restart kept (its batch recompute's, not run again). */
    volatile long baseKeptEvents;
    /** Set when an {@code Error} escaped the replay part way through an event: its Delta is never checkpointed. */
    volatile boolean damaged;
    /** Set for a build that a restart interrupted and {@link #restore} resumes (from its checkpoint, if any). */
    volatile boolean resumed;
    /** Set when a close stopped the replay between batches: its Delta is whole up to its positions. */
    volatile boolean stoppedWhole;
    volatile String phase;
    volatile boolean hold;
    /** Set when the version's Base file is missing or damaged: a failed rollback then marks it failed. */
    volatile boolean baseUnusable;
    /** Set when one partition's replay failed, so that the others stop; and when a rollback is cancelled. */
    volatile boolean aborted;
    /** Set when a rollback is cancelled ({@link #discard}): its replay stops and the version stays a backup. */
    volatile boolean cancelled;
    /** The batch recompute of a lambda reprocess while it runs, for {@link #close} to cancel. */
    volatile BatchLayer layer;
    /** Whether the new Delta is attached to the speed layer (caught up and following the log). */
    volatile boolean attached;
    /**
     * The build's rate once caught up (events read per second of the build), or -1 before: a version
     * that then follows the log (held) reports the rate it caught up at, not one falling with the
     * time it waits.
     */
    volatile double caughtUpRate = -1;
    /** Set when the switch waits for {@link #batchLock}: a batch cycle then lets it go first. */
    volatile boolean switchWaiting;
    /**
     * Completes with the version id once it is current; exceptionally when the build fails, or when
     * a switch could not be recorded and the version is held again (a new future then waits for the
     * next activation).
     */
    volatile java.util.concurrent.CompletableFuture<Long> done = new java.util.concurrent.CompletableFuture<>();

    Rebuild(boolean rollback, boolean hold) {
      this.rollback = rollback;
      this.hold = hold;
      this.phase = "replay";
    }
  }

  /**
   * A reprocessed version whose switch the catalog could not record: it is held for activation again
   * (see {@link #switchIn}); the message says so and the cause is the catalog's failure.
   */
  static final class SwitchNotStored extends IllegalStateException {
    SwitchNotStored(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** A failure of a replay that makes the version fail; the message is the reason. */
  private static final class ReplayFailure extends RuntimeException {
    ReplayFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Held while a rollback's start is recorded and its build handed to {@link #builder}, and by close's shutdown. */
  private final Object builderGate = new Object();
  private final java.util.concurrent.ExecutorService builder =
      java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "braid-reprocess");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY); // the live speed layer comes first
        return t;
      });
  private volatile boolean closing;

  /**
   * Whether the spec file defines the view differently from its serving version and no reprocess has
   * acknowledged the change since it was noticed at start-up.
   */
  boolean specChanged() {
    return !spec.definition().equals(acknowledgedSpec);
  }

  /**
   * Creates a {@code building} version of {@code program} and builds it in the background (see
   * {@link dev.braid.Braid#reprocess}); returns its id. It acknowledges a change of the spec file.
   */
  long reprocess(ViewProgram program, boolean hold, Cut replayFrom) {
    Version v;
    Rebuild rb = new Rebuild(false, hold);
    boolean kappa = program.spec.mode() == ViewSpec.Mode.KAPPA;
    if (replayFrom != null) {
      requireReplayStart(kappa, replayFrom);
    }
    String acknowledgedBefore;
    synchronized (this) {
      requireNoBuild();
      acknowledgedBefore = acknowledgedSpec;
      acknowledgedSpec = spec.definition();
      long id = nextId++;
      Cut cut = kappa ? (replayFrom != null ? replayFrom : Cut.zero(stream.partitions())) : stream.end();
      v = new Version(id, program, cut, null, kappa ? null : "v" + id + ".base", System.currentTimeMillis(),
          VersionState.BUILDING);
      if (!kappa) {
        rb.phase = "batch";
        v.lateFloor = lateFloor(current, cut); // now: a batch cycle may switch in a later cut before the build seeds
        v.baseSkipped = -1; // unknown until its Base is built (the catalog records them then)
        v.baseWithoutKey = -1;
      }
      v.rebuild = rb;
      versions.add(v);
    }
    try {
      persist.run();
    } catch (RuntimeException | Error notStored) {
      // Never built: without this, the version stayed building in memory, and refused every later
      // reprocess and rollback until a restart. Failed, not forgotten: another thread's catalog write
      // may have recorded it building meanwhile, and the next one must say it failed.
      synchronized (this) {
        v.state = VersionState.FAILED;
        v.failure = "its catalog could not be written, so it was not built: " + notStored.getMessage();
        v.rebuild = null;
        acknowledgedSpec = acknowledgedBefore;
      }
      rb.done.completeExceptionally(notStored);
      try {
        persist.run();
      } catch (RuntimeException | Error again) {
        notStored.addSuppressed(again);
      }
      throw notStored;
    }
    LOG.info("view '{}': reprocessing into version {} ({}; {})", name, v.id, kappa
        ? "replaying the log from " + (replayFrom == null ? "its start" : v.cut.toString())
        : "batch recompute at " + v.cut + ", then catch-up", v.definition);
    builder.execute(() -> build(v, rb));
    return v.id;
  }

  /** A replay start must be a kappa view's, with one offset per partition, within the log. */
  private void requireReplayStart(boolean kappa, Cut from) {
    if (!kappa) {
      throw new IllegalArgumentException("view '" + name + "' is a lambda view: its new version takes a Base at a "
          + "fresh cut, so it has no replay start; a replay start applies to kappa views");
    }
    if (from.partitions() != stream.partitions()) {
      throw new IllegalArgumentException(String.format("replay start %s has %d offsets; stream '%s' has %d partitions",
          from, from.partitions(), stream.name(), stream.partitions()));
    }
    for (int p = 0; p < from.partitions(); p++) {
      long start = stream.startOffset(p);
      long end = stream.endOffset(p);
      if (from.offset(p) < start || from.offset(p) > end) {
        throw new IllegalArgumentException(String.format("replay start %s: offset %d of partition %d is outside the "
            + "log, which holds offsets [%d, %d) there: a start is %d to %d (its end: nothing to replay)", from,
            from.offset(p), p, start, end, start, end));
      }
    }
  }

  /** The view's versions by id, each with its state ({@code sales/3 (backup)}), for an unknown id's message. */
  private synchronized List<String> versionNames() {
    return versions.stream().sorted(java.util.Comparator.comparingLong(x -> x.id))
        .map(x -> name + "/" + x.id + " (" + x.state.label() + ")").toList();
  }

  /** Makes version {@code id} current (see {@link dev.braid.Braid#activate}); blocks until it is. */
  long activate(long id) throws InterruptedException {
    Version v;
    Rebuild rb;
    java.util.concurrent.CompletableFuture<Long> done;
    boolean rollback = false;
    synchronized (this) {
      v = versions.stream().filter(x -> x.id == id).findFirst().orElse(null);
      if (v == null) {
        throw new dev.braid.UnknownNameException("version", name + "/" + id,
            versionNames());
      }
      if (v.state == VersionState.CURRENT) {
        return id;
      }
      if (v.state == VersionState.BUILDING) {
        rb = v.rebuild;
        if (rb == null) {
          throw new IllegalStateException(String.format("version %d of view '%s' is being built by a batch cycle; it "
              + "becomes current when the cycle ends", id, name));
        }
        rb.hold = false;
        done = rb.done; // read here: a switch that cannot be recorded holds the version again with a new one
      } else if (v.state == VersionState.BACKUP) {
        if (v.program == null) {
          throw new IllegalStateException(String.format("version %d of view '%s' cannot be activated: the catalog "
              + "does not hold its full definition (%s)", id, name, v.definition));
        }
        requireNoBuild();
        rb = new Rebuild(true, false);
        done = rb.done;
        // A backup keeps no Delta, except for the moment after the switch that made it one, until that swap's
        // tidy-up drops the Delta it served (detached, its runs closed): never the rollback's to replay into or
        // to checkpoint
        v.delta = null;
        v.rebuild = rb;
        v.state = VersionState.BUILDING;
        rollback = true;
      } else {
        throw new IllegalStateException(String.format("version %d of view '%s' is %s%s and cannot be activated", id,
            name, v.state.label(), v.failure == null ? "" : " (" + v.failure + ")"));
      }
    }
    if (rollback) {
      startRollback(v, rb);
    }
    if (rb.attached && v.state == VersionState.BUILDING) {
      switchIn(v, rb); // held and caught up: switch now, in this thread
    }
    try {
      return done.get();
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable c = e.getCause();
      for (Throwable x = c; rb.rollback && x != null; x = x.getCause()) {
        if (x instanceof CatalogWriteException notStored) {
          throw notStored; // the rollback's switch could not be recorded: a backup still, as one not started
        }
      }
      throw new IllegalStateException(String.format("version %d of view '%s' could not be activated: %s", id, name,
          c.getMessage()), c);
    }
  }

  /**
   * Starts the rollback to backup {@code v}, which {@link #activate} has just marked building: first
   * the catalog records it (a restart resumes it), then the builder replays. A rollback whose start
   * cannot be recorded does not start (its switch could not be recorded either): {@code v} is a
   * backup again and the catalog's error is thrown as it is. So is one the closing engine refuses.
   */
  private void startRollback(Version v, Rebuild rb) {
    synchronized (builderGate) { // a close shuts the builder down before or after, never between the two
      if (builder.isShutdown()) { // a closed engine writes no catalog: say why in the activation's words
        throw notStarted(v, rb, new IllegalStateException(String.format("version %d of view '%s' cannot be "
            + "activated: the engine is closing", v.id, name)));
      }
      try {
        persist.run(); // marks the backup as being rolled back to: a restart resumes the rollback
      } catch (RuntimeException notStored) {
        LOG.warn("view '{}': the rollback to version {} did not start: the catalog could not record it ({}); it is "
            + "still a backup", name, v.id, notStored.getMessage());
        throw notStarted(v, rb, notStored);
      }
      builder.execute(() -> build(v, rb)); // not shut down: close takes the gate to do that
    }
  }

  /** Makes {@code v}, whose rollback did not start, a backup as before; returns {@code why}, which waiters get too. */
  private RuntimeException notStarted(Version v, Rebuild rb, RuntimeException why) {
    synchronized (this) {
      if (v.rebuild == rb) { // the next catalog written records it so
        v.rebuild = null;
        v.state = VersionState.BACKUP;
      }
    }
    rb.done.completeExceptionally(why); // another caller waiting for this activation hears it too
    return why;
  }

  /** One reprocess or rollback at a time (batch cycles may run beside it). Guarded by this. */
  private void requireNoBuild() {
    for (Version x : versions) {
      Rebuild rb = x.rebuild;
      if (x.state == VersionState.BUILDING && rb != null) {
        String state = !rb.hold ? "is still building; wait until it is current"
            : rb.attached ? "has caught up and is held for activation; activate it or discard it"
            : "is still building (to be held once it has caught up); activate it (it switches in once it has caught "
                + "up), or wait until it is held to discard it";
        throw new IllegalStateException(String.format("version %d of view '%s' %s before another reprocess or a "
            + "rollback (one runs at a time)", x.id, name, state));
      }
    }
  }

  /**
   * Builds {@code v} on the builder thread: for a lambda reprocess a Base at its cut; then a Delta
   * replayed from the cut by this thread (not the speed layer's) until it is close to the log's
   * end; then the speed layer takes the Delta over (catching up the rest in its own thread, so it
   * is in lockstep with the current version); then, unless held, the switch.
   */
  private void build(Version v, Rebuild rb) {
    try {
      ViewProgram program = v.program;
      int past = rb.rollback ? partitionPastEnd(v.cut) : -1;
      if (past >= 0) {
        rb.baseUnusable = true; // the log will not hold those events again: failed, not back to backup
        throw new ReplayFailure(String.format("version %d was made at cut %s, but the log of stream '%s' partition %d "
            + "now ends at offset %d (its tail was lost after it): it %s events the log no longer has, and would miss "
            + "the new events that get their offsets; reprocess the view instead", v.id, v.cut, stream.name(), past,
            stream.end().offset(past), v.baseFileName != null ? "counts" : "starts after"), null);
      }
      Delta restored = null; // from a checkpoint (see restoreBuildDelta): the replay goes on from its positions
      if (rb.resumed) {
        rb.startedAtNanos = System.nanoTime(); // its rate counts from here, not from the engine's start
        rb.phase = "replay";
        restoreBuildDelta(v);
        restored = v.delta;
      }
      if (v.baseFileName != null) {
        Path file = dir.resolve(v.baseFileName);
        // a Base is kept with its counts of the events it left out, which the catalog records once it is built
        // (a crash in between leaves them unknown: it is built again)
        // (a rollback's Base is the backup's own, opened below as for any rollback)
        boolean countsKnown = v.baseSkipped >= 0 && v.baseWithoutKey >= 0;
        if (restored != null && !rb.rollback && (!countsKnown || !openRestoredBase(v, file))) {
          restored = null;
          v.delta = null;
          rb.restoredEvents = 0;
          buildCheckpoint = null; // a Delta rebuilt from the cut has none yet
        } else if (restored != null && !rb.rollback) {
          rb.baseKeptEvents = eventsBefore(v.cut);
          rb.restoredEvents += rb.baseKeptEvents;
        }
        if (restored == null || rb.rollback) {
          if (!rb.rollback) {
            rb.phase = "batch";
            Files.deleteIfExists(file); // what an interrupted batch recompute wrote of it
            buildBase(v, rb, program, file);
            try {
              persist.run(); // the Base's counts, so that a restart that keeps the Base keeps them
            } catch (RuntimeException notStored) {
              LOG.warn("view '{}': could not record the Base of version {} in the catalog ({}); a restart before "
                  + "its switch builds it again", name, v.id, notStored.getMessage());
            }
          }
          BaseFile previous = v.base; // a backup's, open since it was current: checked again before it serves
          try {
            v.base = openToServe(v, file);
          } catch (ReplayFailure unusable) {
            rb.baseUnusable = true;
            throw unusable;
          }
          closeIfOpen(previous);
        }
      }
      rb.phase = "replay";
      Delta delta = restored;
      if (delta == null) {
        if (!rb.rollback && program.spec.mode() != ViewSpec.Mode.KAPPA) {
          // a batch cycle may have switched in a version at a cut at or below this one since the reprocess began
          v.lateFloor = maxFloor(v.lateFloor, lateFloor(current, v.cut));
        }
        delta = seeded(new Delta(program, v.cut, replayKeysHint(v)), program, v.cut, v.lateFloor);
        synchronized (this) { // with the tidy-up of the swap that made it a backup, which drops the Delta it served
          v.delta = delta;
        }
      }
      replay(v, rb, delta);
      if (rb.cancelled) {
        throw new ReplayFailure(CANCELLED, null);
      }
      if (closing) {
        rb.stoppedWhole = true; // between batches: the close's checkpoint takes the Delta as it is
        throw new ReplayFailure(CLOSED, null);
      }
      if (rb.yielded.get() > 0) {
        LOG.info("view '{}': the replay into version {} waited {} ms in all for the live speed layer to catch up",
            name, v.id, rb.yielded.get() * ReplayYield.PAUSE_NANOS / 1_000_000);
      }
      attachAndAwait(delta, program, "attach version " + v.id, 10);
      rb.caughtUpRate = progress(v, rb).eventsPerSecond();
      rb.attached = true;
      if (rb.cancelled) { // a rollback cancelled while it attached
        throw new ReplayFailure(CANCELLED, null);
      }
      if (rb.hold) {
        rb.phase = "held";
        LOG.info("view '{}': version {} has caught up and is held for activation", name, v.id);
        if (!rb.hold) { // activated while we got here
          switchIn(v, rb);
        }
        return;
      }
      switchIn(v, rb);
    } catch (SwitchNotStored held) {
      // held for activation again, with the reason logged and given to whoever waited
    } catch (Throwable e) {
      // stopped by the close (a cancelled recompute, say): building again at the next start, not failed
      fail(v, rb, closing ? CLOSED : e instanceof ReplayFailure ? e.getMessage() : failureReason(e), e);
    }
  }

  /**
   * What a failed build of a version says about why: the exception, or, when a damaged log file
   * stopped it, that file, where and what (also kept as {@link #logDamage()}: the stream takes
   * events and the current version serves, but no build can read past the damage).
   */
  private String failureReason(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof CorruptLogException d && d.kind().equals(CorruptLogException.LOG_FILE)) {
        logDamageStamp = LOG_READS.incrementAndGet();
        logDamage = "the log of stream '" + stream.name() + "' is damaged: " + d.getMessage() + "; events are still "
            + "taken and views serve their current versions, but no batch cycle, reprocess or rollback of a view on "
            + "it can read past the damage, and the next start refuses the stream: restore " + d.file()
            + " from a backup";
        return d.getMessage() + "; restore " + d.file() + " from a backup";
      }
    }
    // Braid's own refusals of this view say what went wrong in their message; other exceptions (a user
    // aggregation's, the JDK's) need their class to say it
    String own = "view '" + name + "': ";
    if ((e.getClass() == IllegalStateException.class || e.getClass() == IllegalArgumentException.class)
        && e.getMessage() != null && e.getMessage().startsWith(own)) {
      return e.getMessage().substring(own.length());
    }
    return e.toString();
  }

  /**
   * Why builds of this view's versions cannot read its stream's log (a damaged segment that a batch
   * cycle or a replay met while the engine ran), or null: the stream's damage, unless a batch cycle
   * of this view or another on the stream has read the log whole since ({@link #logReadWholeStamp()}).
   */
  String logDamage() {
    return logDamage;
  }

  /** When {@link #logDamage()} was found, as a stamp of {@code LOG_READS}; 0 if never. */
  long logDamageStamp() {
    return logDamageStamp;
  }

  /**
   * When the newest batch cycle that read the stream's log up to its cut without damage started, as
   * a stamp of {@code LOG_READS}; 0 if none did.
   */
  long logReadWholeStamp() {
    return logReadWholeStamp;
  }

  /**
   * Opens the Base {@code file} of {@code v} for a build or an activation; a missing or damaged file
   * fails the build with what is wrong with it (a repair that a crash interrupted may have moved it
   * aside as {@code .corrupt}), not with an exception's class name.
   */
  private static BaseFile openToServe(Version v, Path file) throws IOException {
    try {
      return BaseFile.open(file);
    } catch (java.nio.file.NoSuchFileException e) {
      Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
      throw new ReplayFailure(String.format("the Base file %s of version %d is missing%s", file, v.id,
          Files.exists(aside) ? " (a repair moved it aside as " + aside.getFileName() + ": it failed its checks)" : ""),
          e);
    } catch (dev.braid.log.CorruptLogException e) {
      throw new ReplayFailure("the Base of version " + v.id + " is damaged: " + e.getMessage(), e);
    }
  }

  /**
   * Opens the Base of {@code v}, whose Delta a restart restored from a checkpoint (so the Base was whole when it was
   * taken); returns false, with the file deleted, when it is missing or damaged: the version is then built again
   * from its cut, Base and Delta.
   */
  private boolean openRestoredBase(Version v, Path file) throws IOException {
    try {
      v.base = openToServe(v, file);
      return true;
    } catch (ReplayFailure unusable) {
      LOG.warn("view '{}': {}; recomputing it at {} and replaying the log from there instead of from the checkpoint",
          name, unusable.getMessage(), v.cut);
      Files.deleteIfExists(file);
      return false;
    }
  }

  private void buildBase(Version v, Rebuild rb, ViewProgram program, Path file) throws IOException,
      InterruptedException {
    rb.batchTotal = eventsBefore(v.cut);
    BatchLayer.Counters counters = BatchLayer.Counters.create();
    rb.batch = counters;
    Files.createDirectories(dir);
    BatchLayer layer = new BatchLayer(program, stream, options.batchThreads(), options.batchMemoryBytes(), counters);
    rb.layer = layer;
    if (closing) {
      throw new ReplayFailure(CLOSED, null);
    }
    try {
      layer.build(v.cut, file, dir.resolve("v" + v.id + ".spill"));
    } finally {
      rb.layer = null;
    }
    noteWithoutKey(v.id, program, counters);
    v.baseWithoutKey = counters.withoutKey().get();
    // As for the spec file's definition: events an expression or aggregation fails on are left out,
    // counted (status: skippedEvents) and logged, not a reason to refuse the version.
    v.baseSkipped = counters.errors().get();
    noteFailures(v.id, counters);
  }

  /** Events the log holds before {@code cut}: what a batch recompute at it reads. */
  private long eventsBefore(Cut cut) {
    long total = 0;
    for (int p = 0; p < cut.partitions(); p++) {
      total += Math.max(0, cut.offset(p) - stream.startOffset(p));
    }
    return total;
  }

  /**
   * Keys per partition to size the Delta of a version being built for. A version without a Base (a
   * Kappa reprocess, or a rollback to one) that replays from the same cut as the current version
   * ends up with about the keys the current version's Delta holds: its tables start at that size (a
   * hint, at most 4 M keys per partition) instead of growing there by doubling, each doubling
   * copying the table's arrays and rehashing its keys. A version with a Base only replays the events
   * after its cut, and one that replays from another cut ({@code --from}) may hold far fewer keys:
   * both start small.
   */
  private int replayKeysHint(Version v) {
    Version c = current;
    if (v.baseFileName != null || c == null || c.delta == null || !v.cut.equals(c.cut)) {
      return FIRST_DELTA_KEYS;
    }
    long perPartition = c.delta.keys() / Math.max(1, v.cut.partitions());
    return (int) Math.max(FIRST_DELTA_KEYS, Math.min(1 << 22, perPartition + perPartition / 8));
  }

  /**
   * Replays the log into {@code delta} until it is at most {@link #ATTACH_LAG} events behind the end,
   * partitions in parallel on up to {@link EngineOptions#batchThreads()} threads (each partition's
   * Delta has one writer per round) that wait for the live speed layer when it lags
   * ({@link ReplayYield}).
   */
  private void replay(Version v, Rebuild rb, Delta delta) throws InterruptedException {
    ViewProgram program = v.program;
    int threads = Math.min(delta.partitions.length, options.batchThreads());
    java.util.concurrent.ExecutorService pool = threads <= 1 ? null
        : java.util.concurrent.Executors.newFixedThreadPool(threads, r -> {
          Thread t = new Thread(r, "braid-replay-" + name);
          t.setDaemon(true);
          t.setPriority(Thread.MIN_PRIORITY);
          return t;
        });
    try {
      ViewProgram.Scratch x = program.scratch();
      while (!closing && !rb.cancelled) {
        Cut end = stream.end();
        long lag = 0;
        for (PartitionDelta pd : delta.partitions) {
          lag += Math.max(0, end.offset(pd.partition) - pd.writerPosition());
        }
        if (lag <= ATTACH_LAG) {
          return;
        }
        if (pool == null) {
          for (PartitionDelta pd : delta.partitions) {
            replayPartition(v, rb, pd, program, x, end.offset(pd.partition));
          }
          continue;
        }
        List<java.util.concurrent.Future<?>> rounds = new ArrayList<>();
        for (PartitionDelta pd : delta.partitions) {
          long until = end.offset(pd.partition);
          rounds.add(pool.submit(() -> replayPartition(v, rb, pd, program, program.scratch(), until)));
        }
        RuntimeException failure = null;
        for (java.util.concurrent.Future<?> f : rounds) {
          try {
            f.get();
          } catch (ExecutionException e) {
            rb.aborted = true; // the other partitions stop at their next poll
            Throwable c = e.getCause();
            if (failure == null || (c instanceof ReplayFailure && !(failure instanceof ReplayFailure))) {
              failure = c instanceof RuntimeException r ? r : new IllegalStateException(c);
            }
          }
        }
        if (failure != null) {
          throw failure;
        }
      }
    } finally {
      if (pool != null) {
        pool.shutdown();
      }
    }
  }

  private void replayPartition(Version v, Rebuild rb, PartitionDelta pd, ViewProgram program,
      ViewProgram.Scratch x, long until) {
    if (pd.writerPosition() >= until) {
      return;
    }
    // Folds a chunk at a time, touching the chunk's keys in the table first, as the speed layer does
    // (see RecordChunk): on a table of a million keys that overlaps the lookups' cache misses.
    RecordChunk k = new RecordChunk();
    boolean touch = BatchLayer.isKeyPartitioned(program);
    int part = pd.partition;
    java.util.function.LongSupplier liveLag = () -> stream.endOffset(part) - speed.position(part);
    ReplayYield yield = new ReplayYield();
    boolean nullKeyReported = false;
    // the events this version leaves out as late, recorded under its rule as the speed layer records them
    LateLog lateLog = speed.lateLog();
    List<LateLog.Pending> late = new ArrayList<>();
    GrowthProjection growth = new GrowthProjection(); // sizes the table once the replay shows how large it gets
    try (dev.braid.log.LogReader r = stream.reader(pd.partition, pd.writerPosition())) {
      while (r.position() < until && !closing && !rb.aborted) {
        rb.yielded.addAndGet(yield.await(liveLag));
        dev.braid.log.RecordCursor c = r.poll();
        boolean more = c.next() && c.offset() < until;
        if (!more) {
          break;
        }
        // The write lock is taken per REPLAY_LOCK_BATCH records, not per poll, and a reader waiting for it is let in
        // between: a poll can hold millions of records, and an expensive definition folds them for seconds, in
        // which a checkpoint of this Delta (and the Delta's sizes, read under the read locks) would wait.
        while (more && !closing && !rb.aborted) {
          long last = -1;
          long folded = 0;
          int n = 0;
          long stamp = pd.lock.writeLock();
          try {
            do {
              more = k.fill(c, until, RecordChunk.CAPACITY);
              if (touch) {
                k.touch(pd.table);
              }
              for (int j = 0; j < k.size; j++) {
                long offset = k.offset[j];
                try {
                  int result = program.applySpeed(pd, x, k, j, speed.maxOutOfOrderMillis());
                  if ((result & ViewProgram.LATE) != 0 && lateLog != null
                      && lateLog.claim(name, program.lateRule, pd.partition, offset)) {
                    late.add(LateLog.Pending.of(program, pd.partition, k, j, pd.lateReference(),
                        speed.maxOutOfOrderMillis()));
                  }
                  if ((result & ViewProgram.FOLDED) != 0) {
                    folded++;
                  } else if (result == ViewProgram.NULL_KEY && !nullKeyReported) {
                    nullKeyReported = true; // as the speed layer reports it
                    LOG.warn(program.nullKeyNote(stream.name(), pd.partition, offset));
                  }
                } catch (Error e) {
                  rb.damaged = true; // part way through an event, under the lock: no checkpoint may copy this Delta
                  throw e;
                } catch (RuntimeException e) { // left out and counted, as the speed layer does
                  pd.skipped++;
                  long skipped = rb.skipped.incrementAndGet();
                  if (skipped <= 10 || skipped % 10_000 == 0) {
                    LOG.warn("view '{}': version {} skipped the event at offset {} of stream '{}' partition {} "
                        + "(failure {} of this build): {}", name, v.id, offset, stream.name(), pd.partition, skipped,
                        e.toString());
                  }
                }
                last = offset;
              }
              n += k.size;
              k.clear();
            } while (more && n < REPLAY_LOCK_BATCH);
            if (last >= 0) {
              growth.observe(pd.table, last + 1, until);
            }
          } finally {
            if (last >= 0) {
              pd.advance(last + 1, folded);
            }
            pd.lock.unlockWrite(stamp);
            if (lateLog != null) { // after the lock, also when the replay failed part way: what it claimed was folded
              lateLog.recordClaimed(late, pd.partition);
            }
          }
          pd.letWaitingReadersIn(); // a checkpoint of this Delta, the build's progress
        }
      }
    }
  }

  /**
   * Records a replay folds under one hold of a partition's write lock: about 0.4 ms at 10 M events/s, and 120 ms
   * for a definition that costs 30 microseconds an event. The speed layer's 256 cost the replay about a tenth of
   * its rate on the replay benchmark (PERFORMANCE.md, forty-sixth session).
   */
  static final int REPLAY_LOCK_BATCH = 4096;

  /** Why a discarded version did not switch in (its {@code failure}, beside its state). */
  private static final String DISCARDED = "discarded by request before activation";
  private static final String CANCELLED = "cancelled by request";

  /** Whether {@link #close} gave up waiting for a reprocess to stop; for tests. */
  volatile boolean closeTimedOut;

  /**
   * For tests: of version {@code id}'s build, {events its recompute read, events it had to read},
   * or null when it has no recompute.
   */
  synchronized long[] recomputeProgress(long id) {
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (v.id == id && rb != null && rb.batch != null) {
        return new long[] {rb.batch.events().get(), rb.batchTotal};
      }
    }
    return null;
  }

  /**
   * Discards version {@code id}, a reprocess held for activation (see {@link dev.braid.Braid#discard}), or cancels
   * the rollback to it: its replay stops between batches (waited for, up to a minute) and it stays a backup.
   */
  void discard(long id) throws InterruptedException {
    Version v;
    Rebuild rb;
    java.util.concurrent.CompletableFuture<Long> rolledBack = null;
    batchLock.lock();
    try {
      synchronized (this) {
        v = versions.stream().filter(x -> x.id == id).findFirst().orElse(null);
        if (v == null) {
          throw new dev.braid.UnknownNameException("version", name + "/" + id,
              versionNames());
        }
        rb = v.rebuild;
        if (v.state == VersionState.BUILDING && rb != null && rb.rollback) {
          rb.cancelled = true; // its replay stops at the next batch; a switch waiting for the lock we hold never comes
          rb.aborted = true;
          rolledBack = rb.done; // waited for below, outside this monitor: the builder's failure path takes it
        } else if (v.state != VersionState.BUILDING || rb == null || !rb.hold || !rb.attached) {
          throw new IllegalStateException(String.format("version %d of view '%s' is %s%s: only a reprocess that is "
              + "held for activation can be discarded (and a rollback that runs cancelled)%s", id, name,
              v.state.label(), v.state == VersionState.BUILDING && rb != null && !rb.attached ? " and still replaying"
              : "", v.state == VersionState.BACKUP ? "; to serve it again, activate it (a rollback)" : ""));
        } else {
          rb.hold = true; // an activate that races us finds the version failed, not switched
        }
      }
      if (rolledBack == null) {
        fail(v, rb, DISCARDED);
      } else if (rb.attached) {
        fail(v, rb, CANCELLED); // caught up: it only waits for this lock to switch in
      }
    } finally {
      batchLock.unlock();
    }
    if (rolledBack != null) {
      try {
        rolledBack.get(1, TimeUnit.MINUTES);
        throw new IllegalStateException(String.format("version %d of view '%s' became current before the rollback to "
            + "it could be cancelled", id, name));
      } catch (java.util.concurrent.ExecutionException stopped) {
        // cancelled: a backup again (or failed, when its own failure came first: it says why)
      } catch (java.util.concurrent.TimeoutException e) {
        throw new IllegalStateException(String.format("the rollback to version %d of view '%s' was asked to stop, "
            + "but its replay has not stopped within a minute", id, name), e);
      }
    }
  }

  /**
   * Switches {@code v} in, once: under {@link #batchLock}, so a running batch cycle finishes first.
   * A held version is left alone (an activation clears the hold first). When the catalog cannot
   * record the switch (a full disk), a reprocessed version is held for activation, not failed, so
   * its replay is not lost: whoever waited for it is told why, and the {@link SwitchNotStored}
   * thrown says so; a rollback's exception propagates (the version goes back to being a backup).
   */
  private void switchIn(Version v, Rebuild rb) throws InterruptedException {
    rb.switchWaiting = true;
    BatchLayer computing = cycleLayer;
    if (computing != null) {
      computing.cancel(); // its version would be dropped for this switch: it stops at its next check, not its end
    }
    if (!lockToSwitch(rb)) {
      return; // the batch cycle that held the lock gave way and switched it in (or its switch failed): done says
    }
    try {
      rb.switchWaiting = false;
      if (v.state != VersionState.BUILDING || v.rebuild != rb || rb.hold) {
        return;
      }
      if (rb.cancelled) { // a rollback cancelled after it checked: it never switches in
        fail(v, rb, CANCELLED);
        return;
      }
      rb.phase = "switching";
      Version old = current;
      try {
        try { // before reads and the changes feed see it: windows below its horizon never show
          evictExpired(v);
        } catch (RuntimeException e) { // not worth failing the switch for: the periodic eviction tries again
          LOG.warn("view '{}': could not evict the windows version {} drops before switching to it: {}", name, v.id,
              e.toString());
        }
        swap(v);
      } catch (CatalogNotStored e) {
        RuntimeException notStored = e.failure();
        if (rb.rollback) {
          throw notStored;
        }
        String reason = String.format("could not record version %d of view '%s' as current: %s; it is held for "
            + "activation (activate it once the cause is fixed, or discard it)", v.id, name, notStored.getMessage());
        java.util.concurrent.CompletableFuture<Long> waited;
        synchronized (this) { // with activate, which clears the hold and reads the future under this
          rb.hold = true;
          rb.phase = "held";
          waited = rb.done;
          rb.done = new java.util.concurrent.CompletableFuture<>();
        }
        LOG.error("view '{}': {}", name, reason);
        SwitchNotStored held = new SwitchNotStored(reason, notStored);
        waited.completeExceptionally(held);
        throw held;
      }
      v.rebuild = null;
      LOG.info("view '{}': version {} is current{}; version {} is {}", name, v.id,
          rb.rollback ? " again (rollback)" : "", old.id, old.state == VersionState.FAILED
              ? "failed (its Base was damaged)" : old.state == VersionState.RETIRED ? "retired (keep: "
              + v.program.spec.keep() + " backups)" : "a backup");
    } finally {
      batchLock.unlock();
    }
    rb.done.complete(v.id);
  }

  /**
   * Takes {@link #batchLock} for {@link #switchIn}, or returns false once {@code rb}'s switch is done
   * without it: a batch cycle that holds the lock drops its version when it sees the switch
   * waiting, switches the version in itself ({@link #switchInWaiting}) and runs again, which can
   * take as long as a cycle; an activation must answer once its version is current, not after that.
   */
  private boolean lockToSwitch(Rebuild rb) throws InterruptedException {
    while (!batchLock.tryLock()) {
      try {
        rb.done.get(10, TimeUnit.MILLISECONDS);
        return false;
      } catch (java.util.concurrent.TimeoutException stillWaiting) {
        // the cycle computes on; try the lock again
      } catch (java.util.concurrent.ExecutionException failed) {
        return false; // the switch the cycle made failed: the caller reads why from done
      }
    }
    return true;
  }

  private void fail(Version v, Rebuild rb, String reason) {
    fail(v, rb, reason, null);
  }

  /** {@link #fail(Version, Rebuild, String)}, giving whoever waits for the version {@code cause} too (or null). */
  private void fail(Version v, Rebuild rb, String reason, Throwable cause) {
    if (rb.attached) {
      try {
        await(speed.detach(v.delta), "detach version " + v.id);
      } catch (InterruptedException | RuntimeException e) {
        LOG.warn("view '{}': could not detach failed version {}", name, v.id, e);
      }
    }
    if (closing && reason.equals(CLOSED)) {
      // Stopped, not failed: the version stays building (and held, if it was) in the catalog, and the
      // next start builds it again, from the checkpoint the close takes of a replay it stopped between chunks.
      // A discard or a real failure during the close is recorded below.
      if (!rb.stoppedWhole || rb.attached) {
        v.delta = null;
      }
      rb.done.completeExceptionally(new IllegalStateException(CLOSED));
      return;
    }
    v.delta = null;
    if (!rb.rollback && v.baseFileName != null) {
      deleteBaseFiles(v.id, v.baseFileName); // before the state says failed (the mapping outlives the file)
    }
    BaseFile dropped;
    synchronized (this) {
      v.rebuild = null;
      dropped = v.base;
      if (rb.rollback && !rb.baseUnusable) {
        v.state = VersionState.BACKUP; // its Base stays for another try
        v.base = null;
      } else {
        v.state = reason.equals(DISCARDED) ? VersionState.DISCARDED : VersionState.FAILED;
        v.failure = reason;
        v.base = null;
      }
    }
    closeIfOpen(dropped); // unmapped once reads in progress end (none should be: it never served)
    synchronized (checkpointLock) { // a later rollback to the same version must not take the pruned files for its own
      CheckpointRecord b = buildCheckpoint;
      if (b != null && b.version() == v.id) {
        buildCheckpoint = null;
      }
    }
    pruneCheckpoints(); // its checkpoints: nothing restores it again
    if (reason.equals(DISCARDED)) {
      LOG.info("view '{}': version {} {}; version {} keeps serving", name, v.id, reason, current.id);
    } else if (reason.equals(CANCELLED)) {
      LOG.info("view '{}': the rollback to version {} was {}; it is a backup again, and version {} keeps serving",
          name, v.id, reason, current.id);
    } else {
      LOG.error("view '{}': {} of version {} failed; version {} keeps serving: {}", name,
          rb.rollback ? "rollback" : "reprocess", v.id, current.id, reason);
    }
    try {
      persist.run();
    } catch (RuntimeException notStored) {
      // the failure stands in memory; a restart finds the version as the catalog last stored it
      LOG.error("view '{}': could not record that version {} failed: {}", name, v.id, notStored.getMessage());
    }
    rb.done.completeExceptionally(new IllegalStateException(reason, cause));
  }

  /** Progress of {@code v}'s build. */
  dev.braid.ReplayProgress progress(Version v, Rebuild rb) {
    Cut end = stream.end();
    Delta d = v.delta;
    BatchLayer.Counters batch = rb.batch;
    long batchRead = batch == null ? rb.baseKeptEvents : batch.events().get();
    // replayed and lag from one read of the Delta's positions, so that their sum is the events from
    // the cut to the log's end (a counter added to after each chunk drifted from the positions)
    long replayed = 0;
    long lag = 0;
    for (int p = 0; p < end.partitions(); p++) {
      long from = d == null ? v.cut.offset(p) : d.partitions[p].position();
      replayed += Math.max(0, from - v.cut.offset(p));
      lag += Math.max(0, end.offset(p) - from);
    }
    long read = batchRead + replayed;
    if (d == null && batch != null) {
      lag += Math.max(0, rb.batchTotal - batchRead);
    }
    double seconds = Math.max(1e-3, (System.nanoTime() - rb.startedAtNanos) / 1e9);
    double rate = rb.caughtUpRate >= 0 ? rb.caughtUpRate : Math.max(0, read - rb.restoredEvents) / seconds;
    long eta = rate <= 0 ? -1 : (long) (lag / rate * 1000);
    return new dev.braid.ReplayProgress(v.id, rb.phase, read, read + lag, rate, eta, lag, rb.hold,
        // while a lambda version's Base is recomputed, the events it left out so far (counted in the Base once built)
        leftOut(v, d).skipped() + (batch != null && v.baseSkipped < 0 ? batch.errors().get() : 0),
        rb.restoredEvents, rb.rollback);
  }

  /** The version a reprocess or rollback is building, with its progress, or null. */
  synchronized dev.braid.ReplayProgress building() {
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (rb != null) {
        return progress(v, rb);
      }
    }
    return null;
  }

  /** Why a build stopped when the engine closed: not a failure (see {@link #fail}). */
  private static final String CLOSED = "the engine closed";

  /**
   * Stops a running build without recording a failure: the catalog keeps it {@code building}, and
   * the next start builds it again (see {@link #restore}).
   */
  void close() {
    closing = true;
    synchronized (this) {
      for (Version v : versions) {
        Rebuild rb = v.rebuild;
        BatchLayer layer = rb == null ? null : rb.layer;
        if (layer != null) {
          layer.cancel(); // a lambda reprocess's recompute: it starts again from its cut at the next start
        }
      }
    }
    BatchLayer cycle = cycleLayer;
    if (cycle != null) {
      cycle.cancel(); // a batch cycle a caller started (the engine's scheduler stops its own)
    }
    awaitCycles();
    synchronized (builderGate) { // not between a rollback's mark in the catalog and its build (startRollback)
      builder.shutdown();
    }
    try {
      if (!builder.awaitTermination(30, TimeUnit.SECONDS)) {
        closeTimedOut = true;
        LOG.warn("view '{}': a reprocess did not stop within 30 s", name);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits, up to {@value #CLOSE_CYCLE_WAIT_SECONDS} s, until no batch cycle runs: a cycle past its
   * recompute finishes its swap while the speed layer still runs, one still reading the log was
   * cancelled above and ends at its next check.
   */
  private void awaitCycles() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_CYCLE_WAIT_SECONDS);
    while (cyclesRunning.get() > 0) {
      if (System.nanoTime() > deadline) {
        LOG.warn("view '{}': a batch cycle did not stop within {} s of close", name, CLOSE_CYCLE_WAIT_SECONDS);
        return;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private static final int CLOSE_CYCLE_WAIT_SECONDS = 60;

  /**
   * Unmaps every version's Base and its Delta's closed-window runs: the engine calls it on close,
   * once the layers have stopped and the last checkpoint is written, so that the files are not held
   * until a garbage collection (which, for a deleted data directory, also holds its disk space).
   * Reads in progress finish first ({@link MappedFile}); later ones throw
   * {@link MappedFile.ClosedException}.
   */
  synchronized void unmapFiles() {
    for (Version v : versions) {
      closeIfOpen(v.base);
      Delta d = v.delta;
      if (d != null) {
        closeRuns(d.runs(), List.of());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Checkpoints
  // ---------------------------------------------------------------------------------------------

  /**
   * A checkpoint written or restored: its version, file, position, time, the retention horizon it
   * holds, and the closed-window runs it names.
   */
  record CheckpointRecord(long version, String file, Cut position, long takenAtMillis, long horizon,
      java.util.Set<String> runs) {

    /** The checkpoint {@code w} just written of {@code d}, the Delta of version {@code version}. */
    static CheckpointRecord of(long version, DeltaCheckpoint.Written w, long horizon, Delta d) {
      return new CheckpointRecord(version, w.path().getFileName().toString(), w.position(), w.createdAtMillis(),
          horizon, runNames(d));
    }

    /** The checkpoint {@code l} of version {@code version}, just loaded. */
    static CheckpointRecord of(long version, DeltaCheckpoint.Loaded l) {
      return new CheckpointRecord(version, l.file().path().getFileName().toString(), l.position(),
          l.createdAtMillis(), l.horizon(), runNames(l.delta()));
    }
  }

  /** The names of {@code d}'s closed-window runs. */
  private static java.util.Set<String> runNames(Delta d) {
    java.util.Set<String> out = new java.util.HashSet<>();
    for (ClosedRun r : d.runs()) {
      out.add(r.name);
    }
    return out;
  }

  /**
   * What the start-up restored: the checkpoint loaded (null when the Delta was rebuilt from the
   * version's cut), the position the replay started from, the log's end it replayed to, and the
   * checkpoints refused with their reasons. {@code replayMillis} is set once the replay is done.
   */
  record StartupRestore(String checkpoint, Cut from, Cut to, List<String> refused) {}

  private final Object checkpointLock = new Object();
  private long checkpointSequence = 1; // guarded by checkpointLock after restore
  private volatile CheckpointRecord lastCheckpoint;
  /** The checkpoint last written or restored of a reprocess's version ({@link #checkpointedBuild}), or null. */
  private volatile CheckpointRecord buildCheckpoint;
  /** When a checkpoint was last found to hold the Delta as it is (nothing moved since it was written). */
  private volatile long checkpointCurrentAtMillis;
  private volatile StartupRestore startup;
  volatile long startupReplayMillis = -1;
  /** When the restored Delta was handed to the speed layer, which replays the log from its positions. */
  volatile long startupAttachNanos;
  private final AtomicLong checkpointsWritten = new AtomicLong();
  private final AtomicLong checkpointFailures = new AtomicLong();
  private volatile String checkpointError;

  /**
   * Writes a checkpoint of the current version's Delta when it moved, retention evicted windows or its runs changed
   * since the last one (see {@link DeltaCheckpoint}), and one of a reprocess's Delta ({@link #checkpointedBuild}:
   * replaying, held for activation, or about to switch in) when it moved, so that a restart restores that version
   * too instead of replaying the log from its cut again; prunes older ones. Returns what was
   * written of the current version, or null when nothing was due or the speed layer has stopped (see
   * {@link SpeedLayer#failure}). An I/O failure of the current version's is counted, reported in status and
   * thrown, one of the building version's logged; the previous checkpoints stay.
   */
  DeltaCheckpoint.Written checkpoint() throws IOException {
    synchronized (checkpointLock) {
      if (speed.failure() != null) {
        // a stopped speed layer's Delta may hold events past its position, which a restart from a checkpoint of
        // it would count twice (the speed layer logged it, and faults say so)
        return null;
      }
      Version v = current;
      Delta d = v.delta;
      long horizon = v.horizon;
      DeltaCheckpoint.Written w = null;
      IOException failed = null;
      if (d != null && v.program != null) {
        if (holds(lastCheckpoint, v, d, horizon)) {
          checkpointCurrentAtMillis = System.currentTimeMillis(); // it still holds all a crash now would replay
        } else {
          try {
            w = writeCheckpoint(v, d, horizon, true);
          } catch (IOException e) {
            failed = e; // thrown once the building version had its turn: the disk may fail one file, not both
          }
          if (w != null) {
            lastCheckpoint = CheckpointRecord.of(v.id, w, horizon, d);
          }
        }
      }
      checkpointBuild();
      if (failed != null) {
        throw failed;
      }
      return w;
    }
  }

  /**
   * The building half of {@link #checkpoint}: writes a checkpoint of the Delta of {@link #checkpointedBuild} when it
   * moved. A failure is logged and retried at the next round; the view's checkpoint status speaks of its current
   * version.
   */
  private void checkpointBuild() {
    Version b = checkpointedBuild();
    Delta d = b == null ? null : b.delta;
    long horizon = b == null ? 0 : b.horizon;
    Rebuild rb = b == null ? null : b.rebuild; // null once it has switched in meanwhile
    boolean rollback = rb != null && rb.rollback;
    // a kappa build or a rollback that has folded nothing yet holds nothing a restart could not rebuild at no cost;
    // a lambda reprocess's checkpoint keeps its Base, however little its Delta holds
    if (d == null || holds(buildCheckpoint, b, d, horizon)
        || (b.baseFileName == null || rollback) && d.position().offsetsAfter(b.cut) == 0) {
      return;
    }
    try {
      DeltaCheckpoint.Written w = writeCheckpoint(b, d, horizon, false);
      if (w != null) {
        buildCheckpoint = CheckpointRecord.of(b.id, w, horizon, d);
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("view '{}': could not checkpoint version {}, which a reprocess builds (the next round tries again): "
          + "{}", name, b.id, e.toString());
    }
  }

  /**
   * Whether checkpoint {@code last} holds Delta {@code d} of {@code v} as it is: the same version, position and
   * horizon, and the same closed-window runs (a spill moves closed windows into a new run without moving the
   * position: a checkpoint must name that run, or the next start removes it as an orphan and holds its groups in
   * memory again; ClosedRunCheckpointTest).
   */
  private static boolean holds(CheckpointRecord last, Version v, Delta d, long horizon) {
    return last != null && last.version() == v.id && last.position().equals(d.position()) && last.horizon() == horizon
        && last.runs().equals(runNames(d));
  }

  /**
   * Writes a checkpoint of {@code d}, the Delta of {@code v}, and prunes older ones; of the {@code current} version,
   * it is counted in status (written, failed, the last error). Holds checkpointLock.
   */
  private DeltaCheckpoint.Written writeCheckpoint(Version v, Delta d, long horizon, boolean current)
      throws IOException {
    Rebuild rb = v.rebuild;
    try {
      DeltaCheckpoint.Written w = DeltaCheckpoint.write(dir, v.id, checkpointSequence++, v.definition, horizon,
          // asked again once the state is copied (see SpeedLayer.stop, and Rebuild.damaged for a replay); and the
          // late events claimed below the copied positions must be in the late log first, or a crash after the
          // checkpoint loses their records
          v.program, d, () -> speed.failure() == null && (current || rb == null || !rb.damaged)
              && speed.lateLog().awaitClaimedWritten());
      if (w == null) {
        return null;
      }
      if (current) {
        checkpointsWritten.incrementAndGet();
        checkpointError = null;
      }
      DeltaCheckpoint.prune(dir, checkpointedVersions());
      deleteUnreferencedRuns(); // runs merged away that only the pruned checkpoint named
      return w;
    } catch (IOException | RuntimeException | Error e) {
      if (current) {
        checkpointFailures.incrementAndGet();
        checkpointError = e.toString();
      }
      throw e;
    }
  }

  /**
   * The version of a reprocess or rollback that has a Delta: one replaying the log (a lambda version's once its Base is
   * built), or one that has caught up and follows it (held for activation, or about to switch in); or null.
   * The replay folds a batch at a time under each partition's lock and moves the position with it, as the speed
   * layer does, so a checkpoint copies a consistent state at any point (not after an {@code Error} part way
   * through an event: {@code Rebuild.damaged}). A rollback's Delta is checkpointed the same way: a restart
   * resumes it too.
   */
  private synchronized Version checkpointedBuild() {
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (v.state == VersionState.BUILDING && rb != null && !rb.damaged && v.delta != null) {
        return v;
      }
    }
    return null;
  }

  /**
   * The versions whose checkpoints stay on disk: the current one, and a reprocess or rollback that builds (whose
   * newest checkpoint a restart restores, see {@link #restore}).
   */
  private synchronized java.util.Set<Long> checkpointedVersions() {
    java.util.Set<Long> out = new java.util.HashSet<>();
    out.add(current.id);
    for (Version v : versions) {
      Rebuild rb = v.rebuild;
      if (v.state == VersionState.BUILDING && rb != null) {
        out.add(v.id);
      }
    }
    return out;
  }

  /** Deletes the checkpoints of versions that no longer need them ({@link #checkpointedVersions}). */
  private void pruneCheckpoints() {
    synchronized (checkpointLock) {
      try {
        DeltaCheckpoint.prune(dir, checkpointedVersions());
      } catch (IOException e) {
        LOG.warn("view '{}': could not delete checkpoints no longer used: {}", name, e.toString());
      }
    }
  }

  /** Why the last checkpoint could not be written, or null when it was (or none was tried). */
  String checkpointFailure() {
    return checkpointError;
  }

  /** The view's directory: its Bases and checkpoints. */
  Path directory() {
    return dir;
  }

  /** Checkpoints and the start-up restore, for status. */
  dev.braid.Status.Checkpoints checkpoints() {
    CheckpointRecord last = lastCheckpoint;
    StartupRestore st = startup;
    if (last != null && last.version() != current.id) {
      last = null; // a swap since: the new version has none yet
    }
    return new dev.braid.Status.Checkpoints(last == null ? null : last.file(), last == null ? null : last.position(),
        last == null ? 0 : last.takenAtMillis(), last == null ? 0 : Math.max(last.takenAtMillis(),
            checkpointCurrentAtMillis), checkpointsWritten.get(), checkpointFailures.get(), checkpointError,
        st == null ? null : st.checkpoint(), st == null ? List.of() : st.refused(),
        st == null ? 0 : st.to().offsetsAfter(st.from()), startupReplayMillis);
  }

  // ---------------------------------------------------------------------------------------------
  // Window retention (kappa views with `retain`) and closed-window runs
  // ---------------------------------------------------------------------------------------------

  private final AtomicLong evictedWindows = new AtomicLong();
  private final AtomicLong spills = new AtomicLong();
  private final AtomicLong spilledGroups = new AtomicLong();
  private final AtomicLong spillNanos = new AtomicLong();
  private final AtomicLong spillLockMaxNanos = new AtomicLong();
  /** Next sequence number of a run file name. Guarded by checkpointLock. */
  private long runSequence = 1;
  /**
   * Per partition, the {@link #closedMark} at which the last spill check scanned it; a check scans
   * again only when a partition's closed-window end has crossed a window boundary since.
   */
  private volatile long[] checkedMarks;

  /**
   * Evicts the current version's windows that start more than {@code retain} before the end of
   * the latest window in its Delta (the latest event time seen, to the window), and returns how
   * many (key, window) groups went, closed-window runs included. The Delta is replaced by a
   * compacted copy (see {@link #rebuild}); runs whose windows all start before the horizon are
   * dropped, and merges of runs leave such windows out. Runs under {@code batchLock}, so it never
   * meets a swap.
   */
  long evictExpiredWindows() throws InterruptedException {
    return evictExpiredWindows(true);
  }

  /**
   * {@link #evictExpiredWindows()}; unless {@code wait}, evicts nothing (returns 0) while a batch
   * cycle, swap or spill of this view holds {@code batchLock}: the periodic check, whose thread
   * must not wait on one view (the next check evicts).
   */
  long evictExpiredWindows(boolean wait) throws InterruptedException {
    ViewProgram cp = current.program;
    if (cp == null || cp.spec.retain() == null) {
      return 0; // without taking batchLock, which a batch cycle may hold for long
    }
    if (!lockBatch(wait)) {
      return 0;
    }
    try {
      return evictExpired(current);
    } finally {
      batchLock.unlock();
    }
  }

  /**
   * Whether retention acts on closed-window run {@code r} at {@code horizon}: drops it when all its
   * windows are below, rewrites it when at least half its span is. A run with less below keeps its
   * windows until then (reads leave them out by the version's horizon): size-tiered merges leave one
   * old run over most of a {@code retain}, and rewriting it for each window the horizon passes would
   * rewrite about {@code retain / window} times the groups it evicts.
   */
  static boolean worthEvicting(ClosedRun r, long horizon) {
    return r.maxRetentionKey < horizon
        || r.minRetentionKey < horizon && horizon - r.minRetentionKey >= (r.maxRetentionKey - r.minRetentionKey) / 2;
  }

  /**
   * {@link #evictExpiredWindows} of version {@code v}: the current one, or one a reprocess or
   * rollback is about to switch to (its horizon is unknown until this runs, and reads and the
   * changes feed would see windows it drops). Caller holds {@link #batchLock}.
   */
  private long evictExpired(Version v) throws InterruptedException {
    ViewProgram p = v.program;
    Delta old = v.delta;
    if (p == null || p.spec.retain() == null || p.window == null || old == null) {
      return 0;
    }
    // The end of the latest window: a zoned day's own end (23 or 25 hours on a change of clocks),
    // a session's last event plus the gap (a long session moves it as it goes on).
    long latestEnd = Long.MIN_VALUE;
    boolean sessions = p.window.kind() == dev.braid.spec.WindowSpec.Kind.SESSION;
    long latestStart = Long.MIN_VALUE; // other windows: the latest start's end, computed once (java.time when zoned)
    for (PartitionDelta pd : old.partitions) {
      for (ClosedRun r : pd.runs) {
        if (sessions) {
          latestEnd = Math.max(latestEnd, r.maxRetentionKey + 1);
        } else {
          latestStart = Math.max(latestStart, r.maxWindow);
        }
      }
      long stamp = pd.lock.readLock();
      try {
        GroupTable t = pd.table;
        for (int g = 0; g < t.groupCount(); g++) {
          if (sessions) {
            latestEnd = Math.max(latestEnd, p.windowEnd(t.window(g), t.longs, g * t.stride));
          } else {
            latestStart = Math.max(latestStart, t.window(g));
          }
        }
      } finally {
        pd.lock.unlockRead(stamp);
      }
    }
    if (latestStart != Long.MIN_VALUE) {
      latestEnd = p.window.end(latestStart);
    }
    // The latest window is that of the largest event time of any one partition, so one event far in the future
    // (a mistyped year) would evict every window of every key, and hide every event after it. Retention goes no
    // further than the least of the active partitions' largest event times (of all partitions', when all are
    // idle): such an event moves it only when its partition is the only active one.
    long seenByAll = speed.leastMaxEventTime();
    if (latestEnd == Long.MIN_VALUE || seenByAll == Long.MIN_VALUE) {
      return 0;
    }
    latestEnd = Math.min(latestEnd, p.window.end(p.window.start(seenByAll))); // a session: a one-event one's end
    long horizon = Math.max(v.horizon, p.window.start(latestEnd - p.spec.retain().toMillis()));
    long expired = 0; // including windows that late events recreated below an earlier horizon
    for (PartitionDelta pd : old.partitions) {
      for (ClosedRun r : pd.runs) {
        if (worthEvicting(r, horizon)) {
          expired++;
        }
      }
      long stamp = pd.lock.readLock();
      try {
        GroupTable t = pd.table;
        for (int g = 0; g < t.groupCount(); g++) {
          if (p.retentionKey(t.window(g), t.longs, g * t.stride) < horizon) {
            expired++;
          }
        }
      } finally {
        pd.lock.unlockRead(stamp);
      }
    }
    if (expired == 0) {
      v.horizon = horizon;
      return 0;
    }
    long evicted = rebuild(v, horizon, null).evicted();
    evictedWindows.addAndGet(evicted);
    LOG.info("view '{}': evicted {} windows that start before {} (retain {})", name, evicted,
        java.time.Instant.ofEpochMilli(horizon), dev.braid.spec.Durations.format(p.spec.retain()));
    return evicted;
  }

  /**
   * Moves the current version's closed windows out of its in-memory Delta into closed-window runs
   * on disk ({@link ClosedRun}), so the Delta's memory stays bounded by the windows still open;
   * returns the (key, window) groups moved. Reads merge Base, runs and the in-memory Delta, so they
   * answer exactly as before.
   *
   * <p>A group is <em>closed</em> at a partition when the speed layer will not add to it again:
   * with {@code allowed_lateness}, when its window ends at or before the partition's
   * {@code max event time - max_out_of_order - allowed_lateness} (the bound below which
   * {@link ViewProgram#applySpeed} leaves events out); a session fragment when its last event plus
   * <em>twice</em> the gap is at or before that bound (an event that is not late starts less than a
   * gap before it, so it can neither join the fragment nor start one that connects to it). Without
   * {@code allowed_lateness} the speed layer adds every event, so "closed" can only mean closed by
   * the partition's watermark ({@code max event time - max_out_of_order}): a straggler older than
   * that recreates its group in memory, the read merges it with the run (exact either way), and the
   * next spill moves it out again; such a view's memory is bounded by open windows only as far as
   * its events respect {@code max_out_of_order}.
   *
   * <p>A spill happens when it is worth its cost: at least {@link EngineOptions#deltaSpillGroups()}
   * closed groups, and at least as many closed as open ones (the copy of the open groups that a
   * spill makes is then paid for by the groups it moves out). With {@code force} false (the engine's
   * periodic check), a partition is scanned only when its closed-window end crossed a window
   * boundary since the last check, so an idle check costs a few reads per partition. Runs under
   * {@code batchLock}, off the speed layer's threads.
   */
  long spillClosedWindows(boolean force) throws InterruptedException, IOException {
    ViewProgram cp = current.program;
    if (cp == null || cp.window == null) {
      return 0;
    }
    if (!lockBatch(force)) {
      return 0; // a batch cycle, swap or eviction holds it (maybe for long): the next check spills; never wait,
      // or one view's batch cycle stops the spills of every view and holds up the close (see Engine.closeSteps)
    }
    try {
      Version v = current;
      ViewProgram p = v.program;
      Delta d = v.delta;
      if (p == null || p.window == null || d == null) {
        return 0;
      }
      long[] marks = checkedMarks;
      if (marks == null || marks.length != d.partitions.length) {
        marks = new long[d.partitions.length];
        java.util.Arrays.fill(marks, Long.MIN_VALUE);
      }
      boolean due = force;
      long[] now = new long[marks.length];
      for (PartitionDelta pd : d.partitions) {
        now[pd.partition] = closedMark(p, closedEnd(p, pd.lateReferenceLocked()));
        due |= now[pd.partition] != marks[pd.partition];
      }
      if (!due) {
        return 0;
      }
      checkedMarks = now;
      long closed = 0;
      long total = 0;
      long[] closedIn = new long[d.partitions.length];
      long[] openIn = new long[d.partitions.length];
      for (PartitionDelta pd : d.partitions) {
        long stamp = pd.lock.readLock();
        try {
          GroupTable t = pd.table;
          long end = closedEnd(p, pd.lateReference());
          for (int g = 0, n = t.groupCount(); g < n; g++) {
            total++;
            if (p.retentionKey(t.window(g), t.longs, g * t.stride) >= v.horizon && isClosed(p, t, g, end)) {
              closed++;
              closedIn[pd.partition]++;
            } else {
              openIn[pd.partition]++;
            }
          }
        } finally {
          pd.lock.unlockRead(stamp);
        }
      }
      if (closed == 0 || closed < options.deltaSpillGroups() || closed * 2 < total) {
        return 0;
      }
      long started = System.nanoTime();
      Rebuilt r = rebuild(v, v.horizon, new long[][] {openIn, closedIn});
      spillNanos.addAndGet(System.nanoTime() - started);
      spills.incrementAndGet();
      spilledGroups.addAndGet(r.spilled());
      evictedWindows.addAndGet(r.evicted());
      if (LOG.isDebugEnabled()) {
        long left = 0; // counted after the rebuild: the speed layer went on adding groups meanwhile
        for (PartitionDelta pd : d.partitions) {
          left += pd.table.groupCount();
        }
        LOG.debug("view '{}': moved {} closed (key, window) groups of version {} to runs; {} groups are in memory",
            name, r.spilled(), v.id, left);
      }
      return r.spilled();
    } finally {
      batchLock.unlock();
    }
  }

  /** The keys to size a table for {@code groups} groups of {@code from}'s keys: at most its keys, at least 1,024. */
  private static int expectedKeys(long groups, GroupTable from) {
    return (int) Math.max(1 << 10, Math.min(groups, from.keyCount()));
  }

  /** What {@link #rebuild} did: groups dropped below the horizon (in memory and in runs) and groups spilled. */
  private record Rebuilt(long evicted, long spilled) {}

  /**
   * Replaces {@code v}'s Delta by a compacted copy: each partition's groups are copied (merged into
   * zero rows, so no state object is shared) under that partition's read lock together with its
   * position, leaving out groups whose window starts before {@code horizon}; with
   * {@code spillCounts} (per partition, the groups {@link #spillClosedWindows} found open, then
   * closed; null: no spill), closed groups go to a new closed-window run of the partition instead,
   * written after the lock is released. Runs whose windows all start before the horizon are
   * dropped. The copy is attached to the speed layer, which catches it up from the copied positions
   * and folds it in lockstep; then the version is switched to it and the old Delta detached. A read
   * sees either Delta, and the copy is never behind the old one, so positions never go back; an
   * event after a copied position that falls into a spilled group (possible without
   * {@code allowed_lateness}) recreates it in memory, and the read merges both. Caller holds
   * {@code batchLock}; runs are written and unreferenced ones deleted under {@code checkpointLock},
   * so a checkpoint never sees a half-made set.
   */
  private Rebuilt rebuild(Version v, long horizon, long[][] spillCounts) throws InterruptedException {
    boolean spill = spillCounts != null;
    ViewProgram p = v.program;
    Delta old = v.delta;
    ViewProgram.Scratch x = p.scratch();
    PartitionDelta[] copies = new PartitionDelta[old.partitions.length];
    long evicted = 0;
    long spilled = 0;
    List<ClosedRun> created = new ArrayList<>(); // runs this rebuild wrote, merged ones included
    synchronized (checkpointLock) {
      try {
        if (spill) {
          Files.createDirectories(dir);
        }
        for (PartitionDelta pd : old.partitions) {
          // Sized by the groups the check before found open and closed (a key has at least one;
          // both grow if more came since): a copy sized for every key of the table, most of whose
          // windows had closed, and a closed table grown by doubling from 1,024 keys were a quarter
          // of a spill's allocation in a Nexmark Q17 replay.
          GroupTable closed = spill ? p.newTable(expectedKeys(spillCounts[1][pd.partition], pd.table)) : null;
          GroupTable copy;
          long position;
          long folded;
          long droppedLate;
          boolean dropsKnown;
          long skipped;
          long withoutKey;
          long end;
          long maxEventTime;
          GroupTable source;
          long stamp = pd.lock.readLock();
          long locked = System.nanoTime();
          try {
            GroupTable t = pd.table;
            position = pd.writerPosition();
            folded = pd.foldedUnlocked();
            droppedLate = pd.droppedLate;
            dropsKnown = pd.dropsKnown;
            skipped = pd.skipped;
            withoutKey = pd.withoutKey;
            maxEventTime = pd.maxEventTime; // as of the position: the catch-up decides lateness from there
            end = spill ? closedEnd(p, pd.lateReference()) : Long.MIN_VALUE;
            // Rows of plain longs: copy the arrays under the lock and sort the groups out after it,
            // so the speed layer waits for a few array copies; else sort them out under the lock.
            source = t.canSnapshot() ? t.snapshot() : t;
            copy = p.newTable(spill ? expectedKeys(spillCounts[0][pd.partition], source)
                : Math.max(16, source.keyCount()));
            if (source == t) {
              evicted += copyGroups(p, t, horizon, spill, end, copy, closed, x);
            }
          } finally {
            pd.lock.unlockRead(stamp);
            spillLockMaxNanos.accumulateAndGet(System.nanoTime() - locked, Math::max);
          }
          if (source != pd.table) {
            evicted += copyGroups(p, source, horizon, spill, end, copy, closed, x);
          }
          List<ClosedRun> runs = new ArrayList<>();
          for (ClosedRun r : pd.runs) {
            if (r.maxRetentionKey < horizon) {
              evicted += r.groups();
            } else if (worthEvicting(r, horizon)) {
              // straddles the horizon, half of it or more below: rewritten without the windows below it, so that
              // they are counted as evicted, leave the disk, and the next retention check does not find it again
              ClosedRun kept = ClosedRun.merge(dir, ClosedRun.fileName(v.id, pd.partition, runSequence++),
                  List.of(r), p, horizon, position);
              evicted += r.groups() - kept.groups();
              created.add(kept);
              runs.add(kept);
            } else {
              runs.add(r);
            }
          }
          if (closed != null && closed.groupCount() > 0) {
            spilled += closed.groupCount();
            ClosedRun run = ClosedRun.write(dir, ClosedRun.fileName(v.id, pd.partition, runSequence++), closed, p,
                position);
            created.add(run);
            runs.add(run);
            mergeRuns(v, pd.partition, runs, horizon, position, created);
          }
          PartitionDelta c = new PartitionDelta(pd.partition, copy, position);
          c.compactedCopy = true;
          c.restoreFolded(folded);
          c.droppedLate = droppedLate;
          c.dropsKnown = dropsKnown;
          c.skipped = skipped;
          c.withoutKey = withoutKey;
          c.countsKnown = pd.countsKnown; // set before the Delta was shared, never changed
          c.cutMaxEventTime = pd.cutMaxEventTime;
          c.maxEventTime = maxEventTime;
          c.runs = runs.toArray(PartitionDelta.NO_RUNS);
          copies[pd.partition] = c;
        }
      } catch (IOException | RuntimeException e) { // a run that fails its own checks is a RuntimeException
        closeRuns(created, List.of()); // nothing reads them: the Delta stays as it was
        deleteUnreferencedRuns(); // the runs this attempt wrote
        if (e instanceof IOException io) {
          throw new UncheckedIOException("view '" + name + "': writing a closed-window run failed: " + io, io);
        }
        throw (RuntimeException) e;
      }
      Delta compacted = new Delta(copies);
      compacted.compactedCopy = true;
      try {
        attachAndAwait(compacted, p, "attach the compacted Delta of version " + v.id, 10);
      } catch (InterruptedException | RuntimeException e) {
        closeRuns(created, old.runs()); // the old Delta stays; nothing reads what this attempt wrote
        deleteUnreferencedRuns(); // nor will: an idle view takes no checkpoint that would delete them
        throw e;
      }
      old.successor = compacted; // for the changes feed's drain of changed keys (see Delta#successor)
      v.horizon = horizon; // before the switch: a window an old read still finds is hidden at once
      v.delta = compacted;
      try {
        await(speed.detach(old), "detach the old Delta of version " + v.id);
      } finally { // the speed layer never reads runs: they close whether or not the detach went through
        List<ClosedRun> dropped = new ArrayList<>(old.runs()); // evicted, or merged into a new run
        dropped.addAll(created); // merged into a later one within this rebuild
        closeRuns(dropped, compacted.runs());
      }
      deleteUnreferencedRuns();
    }
    return new Rebuilt(evicted, spilled);
  }

  /**
   * Copies the groups of {@code from} (a Delta's table or a {@link GroupTable#snapshot} of it) that
   * start at or after {@code horizon}: closed ones (with {@code spill}, see {@link #isClosed}) into
   * {@code closed}, the others into {@code open}, each merged into a zero row so nothing is shared.
   * Returns the groups left out below the horizon. Walks key by key, so each key is looked up once
   * per target table, straight from {@code from}'s key bytes.
   */
  private static long copyGroups(ViewProgram p, GroupTable from, long horizon, boolean spill, long end,
      GroupTable open, GroupTable closed, ViewProgram.Scratch x) {
    long evicted = 0;
    ByteBuffer arena = ByteBuffer.wrap(from.keyBytes());
    for (int k = 0, keys = from.keyCount(); k < keys; k++) {
      int inOpen = -1;
      int inClosed = -1;
      for (int g = from.firstGroupOfKey(k); g >= 0; g = from.nextGroupOfKey(g)) {
        long w = from.window(g);
        if (p.retentionKey(w, from.longs, g * from.stride) < horizon) {
          evicted++;
          continue;
        }
        GroupTable into;
        int keyId;
        if (spill && isClosed(p, from, g, end)) {
          into = closed;
          keyId = inClosed = inClosed >= 0 ? inClosed : insertKey(from, k, closed, arena);
        } else {
          into = open;
          keyId = inOpen = inOpen >= 0 ? inOpen : insertKey(from, k, open, arena);
        }
        int c = into.findOrInsertGroup(keyId, w);
        p.merge(into.longs, c * into.stride, into.objects, c * into.objectWidth, from.longs, g * from.stride,
            from.objects, g * from.objectWidth, x);
      }
    }
    return evicted;
  }

  private static int insertKey(GroupTable from, int k, GroupTable into, ByteBuffer arena) {
    int off = from.keyOffset(k);
    int len = from.keyLength(k);
    return into.findOrInsertKey(arena, off, len, GroupTable.hash(from.keyBytes(), off, len));
  }

  /** Runs of one partition beyond which all are merged into one. */
  static final int MAX_RUNS = 16;

  /**
   * Keeps a partition's runs few (a read probes each): after a new run is added, the newest two are
   * merged while the older is at most twice the newer (size-tiered, so a group is rewritten about
   * log(runs) times), and all of them once there are more than {@link #MAX_RUNS}.
   */
  private void mergeRuns(Version v, int partition, List<ClosedRun> runs, long horizon, long position,
      List<ClosedRun> created) throws IOException {
    while (runs.size() > 1) {
      int n = runs.size();
      int from = n > MAX_RUNS ? 0 : runs.get(n - 2).bytes() <= 2 * runs.get(n - 1).bytes() ? n - 2 : -1;
      if (from < 0) {
        return;
      }
      List<ClosedRun> parts = new ArrayList<>(runs.subList(from, n));
      ClosedRun merged = ClosedRun.merge(dir, ClosedRun.fileName(v.id, partition, runSequence++), parts, v.program,
          horizon, position);
      runs.subList(from, n).clear();
      runs.add(merged);
      created.add(merged);
    }
  }

  /**
   * Closes the runs of {@code runs} that {@code kept} does not hold (by identity): no Delta that a
   * read can reach holds them any more. Reads in progress keep their mappings until they end.
   */
  private static void closeRuns(List<ClosedRun> runs, List<ClosedRun> kept) {
    java.util.Set<ClosedRun> keep = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    keep.addAll(kept);
    for (ClosedRun r : runs) {
      if (!keep.contains(r)) {
        r.close();
      }
    }
  }

  /**
   * Deletes the closed-window runs in the view's directory that neither the current version's Delta
   * nor a checkpoint on disk names. Holds {@code checkpointLock}.
   */
  private void deleteUnreferencedRuns() {
    synchronized (checkpointLock) {
      try {
        java.util.Set<String> keep = referencedRuns();
        for (Path f : ClosedRun.list(dir)) {
          if (!keep.contains(f.getFileName().toString())) {
            Files.deleteIfExists(f);
          }
        }
      } catch (IOException e) {
        LOG.warn("view '{}': could not delete closed-window runs no longer used: {}", name, e.toString());
      }
    }
  }

  /** Runs the current Delta or a checkpoint on disk names. */
  private java.util.Set<String> referencedRuns() throws IOException {
    java.util.Set<String> keep = new java.util.HashSet<>();
    Delta d = current.delta;
    if (d != null) {
      for (ClosedRun r : d.runs()) {
        keep.add(r.name);
      }
    }
    for (DeltaCheckpoint.FileRef f : DeltaCheckpoint.list(dir)) {
      keep.addAll(DeltaCheckpoint.runNames(f.path()));
    }
    return keep;
  }

  /**
   * The end below which windows are closed at a partition whose largest event time is {@code max}:
   * {@link ViewProgram#lateEnd} with {@code allowed_lateness}, else the partition's watermark;
   * {@code Long.MIN_VALUE} when nothing is closed.
   */
  private long closedEnd(ViewProgram p, long max) {
    if (p.allowedLateness >= 0) {
      return p.lateEnd(max, speed.maxOutOfOrderMillis());
    }
    long back = speed.maxOutOfOrderMillis();
    return max == Long.MIN_VALUE || max < Long.MIN_VALUE + back + 1 ? Long.MIN_VALUE : max - back;
  }

  /** Whether group {@code g} of {@code t} is closed below {@code end} (see {@link #spillClosedWindows}). */
  private static boolean isClosed(ViewProgram p, GroupTable t, int g, long end) {
    if (end == Long.MIN_VALUE) {
      return false;
    }
    if (p.sessionSlot >= 0 && t.longs[g * t.stride + p.sessionSlot] == Long.MIN_VALUE) {
      return false; // a fragment without an event yet
    }
    return p.closesAt(p.windowEnd(t.window(g), t.longs, g * t.stride)) <= end;
  }

  /** A number that changes when {@code end} crosses a boundary at which windows close. */
  private static long closedMark(ViewProgram p, long end) {
    if (end == Long.MIN_VALUE) {
      return Long.MIN_VALUE;
    }
    return switch (p.windowKind) {
      case ViewProgram.ZONED -> p.window.start(end);
      case ViewProgram.HOPPING -> Math.floorDiv(end, p.window.every().toMillis());
      case ViewProgram.SESSION -> Math.floorDiv(end, Math.max(1, p.sessionGap()));
      default -> Math.floorDiv(end, p.window.sizeMillis());
    };
  }

  /**
   * Windows of the current version that end at or before this are read as {@code final} (see
   * {@link #read}); {@code Long.MIN_VALUE} when none is, or the view has no {@code allowed_lateness}.
   */
  long finalUntil() {
    Version v = current;
    Delta d = v.delta;
    return d == null || v.program == null ? Long.MIN_VALUE : finalUntil(v.program, d);
  }

  /**
   * The end at or before which a window of Delta {@code d}'s version is final: closed
   * ({@link ViewProgram#closesAt}) by the Delta's cut watermark minus {@code allowed_lateness}, that
   * is that bound, less the gap for a session; {@code Long.MIN_VALUE} without lateness or cut watermark.
   */
  private long finalUntil(ViewProgram p, Delta d) {
    if (p.allowedLateness < 0) {
      return Long.MIN_VALUE;
    }
    long closedBelow = d.cutWatermark(speed.maxOutOfOrderMillis());
    long back = p.allowedLateness + p.closeDelay();
    return closedBelow == Long.MIN_VALUE || closedBelow < Long.MIN_VALUE + back + 1
        ? Long.MIN_VALUE : closedBelow - back;
  }

  /** The current Delta's memory and runs, for status. */
  dev.braid.Status.DeltaState deltaState() {
    Delta d = current.delta;
    if (d == null) {
      return null;
    }
    List<ClosedRun> runs = d.runs();
    long groups = 0;
    long bytes = 0;
    for (ClosedRun r : runs) {
      groups += r.groups();
      bytes += r.bytes();
    }
    return new dev.braid.Status.DeltaState(d.groups(), d.memoryBytes(), runs.size(), groups, bytes, spills.get(),
        spilledGroups.get(), TimeUnit.NANOSECONDS.toMillis(spillNanos.get()),
        TimeUnit.NANOSECONDS.toMicros(spillLockMaxNanos.get()));
  }

  /** Window retention for status, or null when the current version has none. */
  dev.braid.Status.Retention retention() {
    Version v = current;
    if (v.program == null || v.program.spec.retain() == null) {
      return null;
    }
    return new dev.braid.Status.Retention(v.program.spec.retain(), v.horizon, evictedWindows.get());
  }

  /** Waits up to 10 minutes for a speed-layer command. */
  private static void await(java.util.concurrent.CompletableFuture<Void> f, String what)
      throws InterruptedException {
    await(f, what, 10);
  }

  private static void await(java.util.concurrent.CompletableFuture<Void> f, String what, long minutes)
      throws InterruptedException {
    try {
      f.get(minutes, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof RuntimeException ? (RuntimeException) c : new IllegalStateException(what + " failed", c);
    } catch (TimeoutException e) {
      throw new IllegalStateException(what + " did not finish within " + minutes + " minutes");
    }
  }

  /**
   * Attaches {@code delta} to the speed layer and waits up to {@code minutes} for every partition to
   * have caught up. When that fails or times out, the Delta is detached again (the detach is queued
   * after the attach on every partition's thread), so that a Delta its caller gave up on is not
   * folded for ever, on all partitions or on those that did attach it.
   */
  private void attachAndAwait(Delta delta, ViewProgram program, String what, long minutes)
      throws InterruptedException {
    java.util.concurrent.CompletableFuture<Void> f = speed.attach(delta, program);
    try {
      await(f, what, minutes);
    } catch (RuntimeException | InterruptedException | Error e) {
      speed.detach(delta);
      throw e;
    }
  }
}
