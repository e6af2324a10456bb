package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.Braid;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.ReprocessOptions;
import dev.braid.Status;
import dev.braid.UnknownNameException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.event.EventSchema;
import dev.braid.ingest.Ingestor;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.Log;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.Durations;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecError;
import dev.braid.spec.SpecException;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded engine behind {@link Braid}: wires the log, one {@link Ingestor} and one
 * {@link SpeedLayer} per stream, and one {@link ViewRuntime} per view, and keeps the
 * {@link VersionCatalog} in step. Use {@link Braid#open}; this class is not part of the API.
 *
 * <pre>
 * data/
 *   log/              the FileLog (streams, partitions, segments; LOCK)
 *   views/&lt;view&gt;/     v&lt;id&gt;.base files (immutable Bases); v&lt;id&gt;.spill/ sorted runs while a
 *                     batch cycle that exceeds its memory budget runs; v&lt;id&gt;-&lt;seq&gt;.ckpt
 *                     checkpoints of the current version's Delta (see DeltaCheckpoint);
 *                     v&lt;id&gt;-p&lt;partition&gt;-&lt;seq&gt;.closed closed-window runs of that Delta (ClosedRun)
 *   tables/&lt;table&gt;/   v&lt;id&gt;.base: each kept version's pushed rows (TableBase); v&lt;id&gt;.base.tmp while a
 *                     push loads
 *   catalog.json      every view's and table's versions; replaced atomically
 * </pre>
 */
public final class Engine implements Braid {

  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  /** What a name no dropped view had starts from: version ids at 1, change ids at 0. */
  private static final VersionCatalog.Dropped NEVER_DROPPED = new VersionCatalog.Dropped(1, 0);

  private final Path dataDir;
  private final PipelineSpec spec;
  /**
   * Per stream, the schema its stored events are read with: the spec's fields, and how many of them
   * it had when its first events were stored (see {@link RecordedSchemas}).
   */
  private final Map<String, EventSchema> schemas = new java.util.HashMap<>();
  private final FileLog log;
  private final VersionCatalog catalog;
  private final Map<String, Ingestor> ingestors = new LinkedHashMap<>();
  private final Map<String, SpeedLayer> speedLayers = new LinkedHashMap<>();
  private final Map<String, ViewRuntime> views = new LinkedHashMap<>();
  private final Map<String, ViewProgram> programs = new LinkedHashMap<>();
  private final Map<String, dev.braid.table.TableRuntime> tables = new LinkedHashMap<>();
  /** A table whose start-up replay makes no progress for this long fails the open with the reason. */
  static final long TABLE_STALL_SECONDS = 60;
  /** Guarded by itself. */
  private final Map<String, ChangeFeed> changeFeeds = new LinkedHashMap<>();
  /** The clock the changes feeds stamp their events with (the engine's). */
  private volatile java.util.function.LongSupplier changeClock;
  private final ScheduledExecutorService scheduler;
  /** How long a view's batch schedule goes, at most, without reading the serving definition's {@code batch.every}. */
  private static final long BATCH_SCHEDULE_CHECK_MILLIS = 1_000;
  private final Object catalogLock = new Object();
  /**
   * The views the catalog records that the spec does not define, as the start found them (minus those
   * dropped since): their versions and files are kept until {@link #dropView}. Guarded by catalogLock.
   */
  private final Map<String, VersionCatalog.ViewEntry> retired = new LinkedHashMap<>();
  /**
   * The tables the catalog records that the spec does not define, as the start found them (minus
   * those dropped since): their versions, files and log of writes are kept until {@link #dropTable}.
   * Guarded by catalogLock.
   */
  private final Map<String, VersionCatalog.ViewEntry> retiredTables = new LinkedHashMap<>();
  /** What the names of dropped views reached (see {@link VersionCatalog.Dropped}). Guarded by catalogLock. */
  private final Map<String, VersionCatalog.Dropped> dropped = new LinkedHashMap<>();
  /** Set at the end of {@link #close()}: the catalog is never written after it. Guarded by catalogLock. */
  private boolean catalogClosed;
  private volatile boolean closed;
  /** Held by {@link #close} while it runs, so that a second close waits for the first. */
  private final java.util.concurrent.locks.ReentrantLock closeLock = new java.util.concurrent.locks.ReentrantLock();
  /** Whether {@link #close} has run (guarded by {@link #closeLock}). */
  private boolean closeDone;
  private volatile boolean started;
  /** Writes checkpoints; apart from the batch scheduler so that a long batch cycle never delays one. */
  private final ScheduledExecutorService checkpointer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "braid-checkpoint");
    t.setDaemon(true);
    return t;
  });
  /**
   * Moves closed windows out of windowed views' Deltas (see {@link ViewRuntime#spillClosedWindows}); a
   * thread of its own, off the speed layer's and apart from the batch scheduler, whose batch cycles
   * run for long.
   */
  private final ScheduledExecutorService spiller = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "braid-delta-spill");
    t.setDaemon(true);
    return t;
  });
  /**
   * Per stream, the partitions whose last append failed for lack of space or a storage fault, with
   * why; see {@link #faults()}. A partition's fault clears when an append to that partition succeeds
   * (one to another partition of the stream says nothing of it).
   */
  private final Map<String, Map<Integer, String>> ingestFaults = new java.util.concurrent.ConcurrentHashMap<>();
  /** Streams (and their views) refused because a sealed log segment is damaged. */
  private final Map<String, dev.braid.UnavailableException> refused = new LinkedHashMap<>();

  /** {@link #recoveredLines} of the log, by stream. */
  private final Map<String, List<String>> recovered;

  private Engine(Path dataDir, PipelineSpec spec, FileLog log) {
    this.dataDir = dataDir;
    this.spec = spec;
    this.log = log;
    this.recovered = recoveredLines(log, spec);
    this.catalog = new VersionCatalog(dataDir.resolve("catalog.json"));
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "braid-batch-scheduler");
      t.setDaemon(true);
      return t;
    });
  }

  /** Opens the engine with {@link EngineOptions#defaults()} but {@code batchThreads}; see {@link Braid#open}. */
  public static Engine open(Path dataDir, PipelineSpec spec, int batchThreads) {
    return open(dataDir, spec, EngineOptions.defaults().withBatchThreads(batchThreads));
  }

  /**
   * Opens the engine; see {@link Braid#open}. A pending interrupt of the calling thread is set aside
   * while the files are opened and restored afterwards ({@link dev.braid.log.Interrupts}); one that
   * arrives while the start waits for the speed layers to replay the log ends the start.
   */
  public static Engine open(Path dataDir, PipelineSpec spec, EngineOptions options) {
    return dev.braid.log.Interrupts.setAside(() -> openSettingInterruptAside(dataDir, spec, options));
  }

  private static Engine openSettingInterruptAside(Path dataDir, PipelineSpec spec, EngineOptions options) {
    Objects.requireNonNull(dataDir, "the data directory is null");
    Objects.requireNonNull(spec, "the pipeline spec is null");
    Objects.requireNonNull(options, "the engine options are null");
    spec.validate();
    FileLog log = FileLog.open(dataDir.resolve("log"));
    Engine e = new Engine(dataDir, spec, log);
    try {
      e.start(options);
      return e;
    } catch (RuntimeException | IOException | InterruptedException ex) {
      e.close();
      if (ex instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      if (ex instanceof IOException io) {
        throw new UncheckedIOException("cannot open Braid in " + dataDir, io);
      }
      throw ex instanceof RuntimeException r ? r : new IllegalStateException(ex);
    }
  }

  private void start(EngineOptions options) throws IOException, InterruptedException {
    // Before any stream is opened (which creates the logs of a stream new in the spec): a refused start
    // changes nothing in the data directory
    Map<String, VersionCatalog.ViewEntry> recorded = catalog.load(); // read once: the streams' opening leaves it
    refuseChangedSourceOrMode(recorded);
    Map<String, VersionCatalog.ViewEntry> recordedTables = catalog.loadTables(); // the sweep below leaves it
    // before the schemas are checked: a table of a dropped one's name may have other fields now
    removeDroppedTables(recordedTables.keySet());
    List<String> partitionChanges = partitionChanges();
    RecordedSchemas.Checked stored;
    try {
      stored = RecordedSchemas.check(dataDir, spec); // before anything reads an event
    } catch (IllegalArgumentException e) { // one list of every difference, the partition counts first
      throw partitionChanges.isEmpty() ? e
          : new IllegalArgumentException(String.join("\n", partitionChanges) + "\n" + e.getMessage(), e);
    }
    if (!partitionChanges.isEmpty()) {
      throw new IllegalArgumentException(String.join("\n", partitionChanges) + "\nNothing in " + dataDir
          + " was changed.");
    }
    stored.firstFields().forEach((name, first) -> schemas.put(name, spec.stream(name).schema().withFirstFields(first)));
    refuseCorruptStreams();
    refuseLostLogs(stored);
    refuseUnrecordedTables(recordedTables);
    synchronized (catalogLock) { // before any write of the catalog, which keeps the retired tables' entries
      recordedTables.forEach((name, entry) -> {
        if (!spec.tables().containsKey(name)) {
          retiredTables.put(name, entry);
        }
      });
      if (!retiredTables.isEmpty()) {
        LOG.info("the catalog keeps the versions of {} table(s) that the spec no longer defines: {} (put one back in "
            + "the spec to serve it again, or drop it: braid drop TABLE --table)", retiredTables.size(),
            String.join(", ", retiredTables.keySet()));
      }
    }
    Map<String, EventTimeMarks.Marks> eventTimes = EventTimeMarks.load(dataDir);
    for (StreamSpec s : spec.streams().values()) {
      if (refused.containsKey(s.name())) {
        continue;
      }
      LogStream ls = logStream(s.name(), s.partitions(), s.durability());
      LogStream dead = logStream(s.name() + Ingestor.DEAD_LETTER_SUFFIX, 1, s.durability());
      Ingestor ingestor = new Ingestor(s, schema(s.name()), ls, dead, options.clock());
      LateLog lateLog = new LateLog(logStream(s.name() + LateLog.SUFFIX, 1, s.durability()), s.partitions(),
          options.clock());
      try {
        // These read the stream's logs back; opening the log checked only each sealed segment's tail.
        RecordedSchemas.requireStoredLayout(ls, schema(s.name()), stored.file());
        long t0 = System.nanoTime();
        long ids = ingestor.rebuildDedupIndex();
        LOG.info("stream '{}': rebuilt the dedup index from the log: {} ids of the last {} in {} ms", s.name(), ids,
            Durations.format(s.dedupWindow()), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        lateLog.recover(ls.end()); // the log may have lost a tail its late log names
      } catch (dev.braid.log.CorruptLogException e) {
        LOG.error("stream '{}' is refused: {}; restore the file from a backup and restart", s.name(), e.getMessage());
        refuse(s, e);
        continue;
      }
      ingestors.put(s.name(), ingestor);
      SpeedLayer speed = new SpeedLayer(ls, s.maxOutOfOrder().toMillis(), s.idleAfter().toMillis(), options.clock(),
          lateLog);
      speedLayers.put(s.name(), speed);
      speed.seedMaxEventTimes(eventTimes.get(s.name()));
      speed.start();
    }
    if (catalog.removeInterruptedStore()) {
      LOG.info("removed the temporary file of a catalog update that a crash interrupted; the previous catalog stands");
    }
    catalog.requirePresentFor(dataDir);
    removeUnrecordedViews(recorded.keySet());
    synchronized (catalogLock) {
      dropped.putAll(catalog.loadDropped());
    }
    for (ViewSpec v : spec.views().values()) {
      if (refused.containsKey(v.from())) {
        refused.put(v.name(), refusal("view", v.name(), refused.get(v.from())));
        continue;
      }
      LogStream ls = log.stream(v.from());
      ViewProgram program = new ViewProgram(v, schema(v.from()));
      programs.put(v.name(), program);
      ViewRuntime rt = new ViewRuntime(v, ls, speedLayers.get(v.from()), dataDir.resolve("views").resolve(v.name()),
          this::persistCatalog, options, program);
      speedLayers.get(v.from()).lateLog().adoptUnruled(v.name(), servingLateRule(v, recorded.get(v.name())));
      try {
        rt.restore(recorded.get(v.name()), program, doc -> compileRecorded(v, doc), droppedReached(v.name()).next());
      } catch (dev.braid.log.CorruptLogException e) { // its replay read a damaged segment
        rt.close();
        rt.unmapFiles();
        refuseAttached(spec.stream(v.from()), e);
        continue;
      }
      views.put(v.name(), rt);
    }
    recorded.forEach((name, entry) -> {
      if (!spec.views().containsKey(name)) {
        retired.put(name, entry);
      }
    });
    if (!retired.isEmpty()) {
      LOG.info("the catalog keeps the versions of {} view(s) that the spec no longer defines: {} (put one back in "
          + "the spec to serve it again, or drop it: braid drop VIEW)", retired.size(), String.join(", ",
          retired.keySet()));
    }
    removeOrphans(recorded.keySet());
    persistCatalog();
    for (dev.braid.spec.TableSpec t : spec.tables().values()) {
      if (log.hasStream(t.writesStream())) {
        log.changeDurability(t.writesStream(), t.durability()); // as for streams: the spec may change it
      }
      VersionCatalog.ViewEntry recordedTable = recordedTables.get(t.name());
      if (recordedTable == null && droppedReached(t.name()) != NEVER_DROPPED) {
        // a table under a dropped one's name goes on from the version ids that one reached, as a view does
        recordedTable = new VersionCatalog.ViewEntry(droppedReached(t.name()).next(), null, List.of());
      }
      tables.put(t.name(), dev.braid.table.TableRuntime.open(t, stored.tableFirstFields().get(t.name()), log,
          dataDir.resolve("tables").resolve(t.name()), this::persistCatalog, recordedTable, options.batchThreads()));
    }
    if (tables.values().stream().anyMatch(dev.braid.table.TableRuntime::catalogChangedOnOpen)
        || !recordedTables.keySet().containsAll(tables.keySet())) {
      // a cut lowered to a writes log that lost its tail, an interrupted push marked failed; or a new table,
      // recorded before it can write a Base (see refuseUnrecordedTables)
      persistCatalog();
    }
    for (dev.braid.table.TableRuntime t : tables.values()) {
      t.awaitCaughtUp(TABLE_STALL_SECONDS, TimeUnit.SECONDS); // throws if a follower stopped or stalls
    }
    for (ViewRuntime v : views.values()) {
      v.resumeBuilds(); // only now: a build writes files and the catalog, which the opening above must not race
    }
    for (dev.braid.table.TableRuntime t : tables.values()) {
      t.resumeRollback(); // as a view's: a rollback the restart interrupted, activated again
    }
    // Checkpoints start before the catch-up: a long start-up replay is itself protected by them.
    long checkpointMillis = options.checkpointEvery().toMillis();
    if (checkpointMillis > 0) {
      // Table Deltas only on close (and checkpointAll from tools): see checkpointAll(boolean).
      checkpointer.scheduleWithFixedDelay(() -> checkpointAll(false), checkpointMillis, checkpointMillis,
          TimeUnit.MILLISECONDS);
    }
    // Serve nothing older than the log as it is now: wait for every Delta to catch up.
    for (Map.Entry<String, SpeedLayer> e : List.copyOf(speedLayers.entrySet())) {
      Cut end = log.stream(e.getKey()).end();
      long t0 = System.nanoTime();
      try {
        if (!e.getValue().awaitPosition(end, 1, TimeUnit.HOURS)) {
          throw new IllegalStateException("the speed layer of stream '" + e.getKey() + "' did not catch up in an hour");
        }
      } catch (dev.braid.log.CorruptLogException damage) { // the replay after a checkpoint read a damaged segment
        refuseAttached(spec.stream(e.getKey()), damage);
        continue;
      }
      long caughtUp = System.nanoTime();
      long ms = TimeUnit.NANOSECONDS.toMillis(caughtUp - t0);
      for (ViewRuntime v : views.values()) {
        if (v.spec.from().equals(e.getKey())) {
          v.startupReplayMillis = TimeUnit.NANOSECONDS.toMillis(caughtUp - v.startupAttachNanos);
        }
      }
      if (ms > 1000) {
        LOG.info("stream '{}': replayed the log up to {} in {} ms", e.getKey(), end, ms);
      }
    }
    // The replay rebuilt every window from the log, also those below a view's retention horizon
    // when no checkpoint recorded it (a kill -9 before the first one): evict them before anything
    // reads, so that neither a read nor a changes feed's first pass sees a window the view drops.
    evictExpiredWindows();
    started = true;
    startChangeFeeds(options.clock());
    spiller.scheduleWithFixedDelay(() -> spillClosedWindows(false), SPILL_CHECK_MILLIS, SPILL_CHECK_MILLIS,
        TimeUnit.MILLISECONDS);
    // Window retention: evict periodically; a reprocess may add or change retain, so check every view.
    scheduler.scheduleWithFixedDelay(() -> evictExpiredWindows(false), RETENTION_CHECK_MILLIS, RETENTION_CHECK_MILLIS,
        TimeUnit.MILLISECONDS);
    long opened = System.nanoTime();
    for (ViewSpec v : spec.views().values()) {
      if (v.mode() == ViewSpec.Mode.LAMBDA && views.containsKey(v.name())) {
        scheduler.schedule(() -> scheduledBatch(v.name(), opened), 0, TimeUnit.MILLISECONDS);
      }
    }
    stored.record(); // the open succeeded: only now, and before any event is written with new fields
  }

  /**
   * The batch schedule of view {@code name}: runs a cycle once {@code batch.every} of the definition
   * that serves has passed since {@code since} (the open, or the end of the last scheduled cycle), and
   * schedules itself again. It reads the serving definition each time, at least every second, so a
   * reprocess or a rollback that changes (or removes) {@code batch.every} changes the schedule.
   */
  private void scheduledBatch(String name, long since) {
    // a delayed task still runs after the scheduler's shutdown (stopSchedules): it must start no cycle then
    if (closed || scheduler.isShutdown() || !views.containsKey(name)) {
      return; // a dropped view's schedule ends with it
    }
    java.time.Duration every;
    try {
      every = servingDefinition(name).batchEvery();
    } catch (RuntimeException e) { // dropped, or the engine closing
      return;
    }
    // batch.every may be up to Long.MAX_VALUE ms, which nanoseconds do not hold: such a schedule never comes due
    long everyNanos = every == null || every.toMillis() >= Long.MAX_VALUE / 1_000_000 ? Long.MAX_VALUE
        : every.toNanos();
    long waited = System.nanoTime() - since;
    long next = since;
    if (every != null && waited >= everyNanos) {
      try {
        runBatch(name);
      } catch (dev.braid.log.CorruptLogException ex) { // the view logged the file and the failed version
        LOG.warn("scheduled batch cycle of view '{}' failed on a damaged log file; the next one is in {}",
            name, Durations.format(every));
      } catch (RuntimeException ex) {
        if (closed) { // stopped by the close (which interrupts it): the next start runs the schedule again
          LOG.info("scheduled batch cycle of view '{}' stopped by the close: {}", name, ex.getMessage());
          return;
        }
        LOG.error("scheduled batch cycle of view '{}' failed", name, ex);
      }
      next = System.nanoTime();
      waited = 0;
    }
    long left = everyNanos - waited;
    long delay = Math.min(left, TimeUnit.MILLISECONDS.toNanos(BATCH_SCHEDULE_CHECK_MILLIS));
    long from = next;
    try {
      scheduler.schedule(() -> scheduledBatch(name, from), delay, TimeUnit.NANOSECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // the scheduler is shut down: no more cycles
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Damaged files and storage faults
  // ---------------------------------------------------------------------------------------------

  /**
   * Refuses every stream of the spec whose log (or dead-letter or late log) has a damaged sealed
   * segment that opening the log found (see {@link #refuse}).
   */
  private void refuseCorruptStreams() {
    Map<String, dev.braid.log.CorruptLogException> corrupt = log.corruptStreams();
    for (StreamSpec s : spec.streams().values()) {
      dev.braid.log.CorruptLogException e = corrupt.get(s.name());
      if (e == null) {
        e = corrupt.get(s.name() + Ingestor.DEAD_LETTER_SUFFIX);
      }
      if (e == null) {
        e = corrupt.get(s.name() + LateLog.SUFFIX);
      }
      if (e != null) {
        refuse(s, e);
      }
    }
  }

  /**
   * Refuses a stream one of whose logs (its events, dead letters or late events) is gone although an
   * earlier open created it (its directory was deleted or moved): opening would create an empty log
   * in its place, and its views would serve nothing of the events acknowledged before, or its
   * rejected or late events would be gone, without a word. A table whose log of writes is gone stops
   * the start: its rows would lose every write since their push.
   */
  private void refuseLostLogs(RecordedSchemas.Checked stored) {
    for (StreamSpec s : spec.streams().values()) {
      if (refused.containsKey(s.name()) || !stored.recordedBefore(s.name())) {
        continue;
      }
      for (String[] kept : new String[][] {{s.name(), "log"},
          {s.name() + Ingestor.DEAD_LETTER_SUFFIX, "dead-letter log"}, {s.name() + LateLog.SUFFIX, "late-event log"}}) {
        if (!log.hasStream(kept[0]) && !log.corruptStreams().containsKey(kept[0])) {
          Path dir = dataDir.resolve("log").resolve(kept[0]);
          dev.braid.log.CorruptLogException e = new dev.braid.log.CorruptLogException("stream", dir, 0, "stream '"
              + s.name() + "' is recorded in " + stored.file() + ", so its logs were created here, but its " + kept[1]
              + " directory is missing; nothing was created in its place");
          LOG.error("stream '{}' is refused: {}; restore the directory from a backup and restart", s.name(),
              e.getMessage());
          refuse(s, e, "what it held exists nowhere else: stop the server, restore " + dir + " from a backup and "
              + "start it again (to give the stream up, start on a new data directory)");
          break;
        }
      }
    }
    for (dev.braid.spec.TableSpec t : spec.tables().values()) {
      if (stored.tableRecordedBefore(t.name()) && !log.hasStream(t.writesStream())
          && !log.corruptStreams().containsKey(t.writesStream())) { // a damaged one: the table says so as it opens
        Path dir = dataDir.resolve("log").resolve(t.writesStream());
        throw new dev.braid.log.CorruptLogException("stream", dir, 0, "table '" + t.name() + "' is recorded in "
            + stored.file() + ", so its log of writes was created here, but its directory is missing; nothing was "
            + "created in its place: its rows would lose every write since their push. Stop, restore " + dir
            + " from a backup and start again");
      }
    }
  }

  /**
   * Stops the start when a table of the spec that the catalog does not record has pushed Bases in its
   * directory: the catalog lost its entry (an edit, a damaged disk), and opening it as a new table
   * would delete them as orphans, while its pushed rows exist nowhere else. A new table is recorded
   * as soon as it opens, before any push or repush can write a Base.
   */
  private void refuseUnrecordedTables(Map<String, VersionCatalog.ViewEntry> recordedTables) throws IOException {
    for (String table : spec.tables().keySet()) {
      Path d = dataDir.resolve("tables").resolve(table);
      if (recordedTables.containsKey(table) || !Files.isDirectory(d)) {
        continue;
      }
      try (Stream<Path> files = Files.list(d)) {
        if (files.anyMatch(f -> Files.isRegularFile(f) && f.getFileName().toString().endsWith(".base"))) {
          throw new dev.braid.log.CorruptLogException("catalog", dataDir.resolve("catalog.json"), 0,
              "the version catalog records no table '" + table + "', but " + d + " holds Bases of it, whose "
              + "pushed rows exist nowhere else; restore the catalog from a backup, or, if the table had no pushed "
              + "rows (only real-time writes, which its log keeps) or they are gone for good, remove " + d);
        }
      }
    }
  }

  /**
   * Refuses stream {@code s}, one of whose log files is damaged ({@code e}: found when the log opened
   * or when the start-up read it back): the stream takes no events and its views serve nothing, while
   * the other streams and views work. Its data is never skipped: the operator restores the segment
   * file from a backup.
   */
  private void refuse(StreamSpec s, dev.braid.log.CorruptLogException e) {
    refuse(s, e, "data in a sealed segment cannot be recomputed: stop the server, restore " + e.file()
        + " from a backup and start it again (see README, \"When the disk is full or a file is corrupt\")");
  }

  private void refuse(StreamSpec s, dev.braid.log.CorruptLogException e, String remedy) {
    refused.put(s.name(), new dev.braid.UnavailableException("stream", s.name(), e.file(), e.getMessage(), remedy));
  }

  /**
   * Refuses stream {@code s} whose damage ({@code e}) its views' start-up replay found, after its
   * speed layer started and views attached: stops those, then refuses the stream and every view on
   * it as {@link #refuse} does.
   */
  private void refuseAttached(StreamSpec s, dev.braid.log.CorruptLogException e) {
    LOG.error("stream '{}' is refused: {}; restore the file from a backup and restart", s.name(), e.getMessage());
    refuse(s, e);
    ingestors.remove(s.name());
    SpeedLayer speed = speedLayers.remove(s.name());
    if (speed != null) {
      speed.close();
    }
    for (ViewSpec v : spec.views().values()) {
      if (v.from().equals(s.name())) {
        ViewRuntime rt = views.remove(v.name());
        programs.remove(v.name());
        if (rt != null) {
          rt.close();
          rt.unmapFiles();
        }
        refused.put(v.name(), refusal("view", v.name(), refused.get(s.name())));
      }
    }
  }

  private static dev.braid.UnavailableException refusal(String kind, String name, dev.braid.UnavailableException cause) {
    return new dev.braid.UnavailableException(kind, name, cause.file(), "its stream '" + cause.name() + "' is "
        + "refused: " + cause.reason(), cause.repair());
  }

  private IngestResult tracked(String stream, java.util.function.Supplier<IngestResult> ingest) {
    requireOpen();
    dev.braid.UnavailableException r = refused.get(stream);
    if (r != null) {
      throw r;
    }
    try {
      IngestResult result = ingest.get();
      Map<Integer, String> failing = ingestFaults.get(stream);
      if (failing != null) {
        result.positions().keySet().forEach(failing::remove);
      }
      return result;
    } catch (dev.braid.log.LogWriteException e) {
      ingestFaults.computeIfAbsent(stream, k -> new java.util.concurrent.ConcurrentSkipListMap<>())
          .put(e.partition(), e.failing());
      throw e;
    }
  }

  /**
   * Puts under {@code name} the lowest failing partition's reason of {@code failing} (partition to
   * reason), and how many more partitions fail ({@code whose}: of the stream, of its writes); nothing
   * when none fails.
   */
  private static void putFailing(Map<String, String> out, String name, Map<Integer, String> failing, String whose) {
    Iterator<String> why = failing.values().iterator();
    if (why.hasNext()) {
      out.put(name, why.next() + (failing.size() > 1 ? " (and " + (failing.size() - 1) + " more partition"
          + (failing.size() > 2 ? "s" : "") + " " + whose + ")" : ""));
    }
  }

  @Override
  public dev.braid.Faults faults() {
    requireOpen(); // a closed engine's views have no faults to report: it answered none, as if all were well
    Map<String, String> unavailable = new LinkedHashMap<>();
    refused.forEach((name, e) -> unavailable.put(name, e.getMessage()));
    for (ViewRuntime v : views.values()) {
      String damage = v.damage();
      String stopped = v.speedFailure();
      if (damage != null) {
        unavailable.put(v.name, "view '" + v.name + "' is unavailable: " + damage + "; run `braid repair " + v.name
            + "`");
      } else if (stopped != null) {
        unavailable.put(v.name, "view '" + v.name + "' is unavailable: " + stopped + "; restart the server");
      }
    }
    for (dev.braid.table.TableRuntime t : tables.values()) {
      dev.braid.UnavailableException damage = t.damage();
      String f = t.failure();
      if (damage != null) {
        unavailable.put(t.name(), damage.getMessage());
      } else if (f != null) {
        unavailable.put(t.name(), f + "; restart the server");
      }
    }
    Map<String, String> ingest = new LinkedHashMap<>();
    ingestFaults.forEach((stream, failing) -> putFailing(ingest, stream, failing, "of the stream"));
    for (dev.braid.table.TableRuntime t : tables.values()) { // a table's real-time writes, under its name
      putFailing(ingest, t.name(), t.writeFaults(), "of its writes");
    }
    Map<String, String> checkpoints = new LinkedHashMap<>();
    for (ViewRuntime v : views.values()) {
      String failing = v.checkpointFailure();
      if (failing != null) {
        checkpoints.put(v.name, "failing: " + failing);
      }
    }
    return new dev.braid.Faults(ingest, unavailable, logDamage(), checkpoints);
  }

  /**
   * Streams whose log a view's batch cycle or replay found damaged while the engine ran, with the
   * newest such finding, unless a batch cycle of any of their views read the log whole after it.
   */
  private Map<String, String> logDamage() {
    Map<String, ViewRuntime> found = new LinkedHashMap<>();
    Map<String, Long> readWhole = new HashMap<>();
    for (ViewRuntime v : views.values()) {
      String stream = v.spec.from();
      readWhole.merge(stream, v.logReadWholeStamp(), Math::max);
      ViewRuntime seen = found.get(stream);
      if (v.logDamage() != null && (seen == null || v.logDamageStamp() > seen.logDamageStamp())) {
        found.put(stream, v);
      }
    }
    Map<String, String> damaged = new LinkedHashMap<>();
    found.forEach((stream, v) -> {
      if (!refused.containsKey(stream) && v.logDamageStamp() > readWhole.get(stream)) {
        damaged.put(stream, v.logDamage());
      }
    });
    return damaged;
  }

  @Override
  public long repair(String view) {
    requireOpen();
    ViewRuntime v = view(view);
    boolean interrupted = dev.braid.log.Interrupts.holdBack(); // as for a batch cycle, which a repair is
    try {
      return v.repair();
    } catch (InterruptedException e) {
      interrupted = true;
      throw new IllegalStateException("repair of view '" + view + "' was interrupted", e);
    } catch (IOException e) {
      throw new UncheckedIOException("repair of view '" + view + "' failed: " + e.getMessage(), e);
    } finally {
      dev.braid.log.Interrupts.restore(interrupted);
    }
  }

  /**
   * Deletes the files and changes logs of views the catalog does not record, before any view is
   * built: what a drop that a crash cut short left (the catalog is written first). A view of the
   * spec that is not recorded is new and has none of its own, so none of a dropped view of its name
   * (a checkpoint, an emitted-windows snapshot, a changes log) can be taken for its state.
   */
  private void removeUnrecordedViews(Set<String> recordedViews) throws IOException {
    Path root = dataDir.resolve("views");
    if (Files.isDirectory(root)) {
      Set<String> droppedNames = catalog.loadDropped().keySet();
      try (Stream<Path> dirs = Files.list(root)) {
        for (Path d : (Iterable<Path>) dirs::iterator) {
          String name = d.getFileName().toString();
          if (!recordedViews.contains(name) && Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) {
            if (!droppedNames.contains(name) && holdsVersionFiles(d)) {
              // a drop records the name before it deletes: files of a name neither recorded nor dropped
              // mean a catalog that lost an entry (an edit, a damaged disk), not a drop cut short
              throw new dev.braid.log.CorruptLogException("catalog", dataDir.resolve("catalog.json"), 0,
                  "the version catalog records no view '" + name + "', neither as a view nor as dropped, but " + d
                  + " holds its versions' files; restore the catalog from a backup, or, if view '" + name + "' is "
                  + "gone for good, remove " + d);
            }
            BatchLayer.deleteTree(d);
            LOG.info("removed {}: the files of a dropped view, which the catalog no longer records", d);
          }
        }
      }
    }
    Set<String> logs = new java.util.TreeSet<>(log.streams());
    logs.addAll(log.corruptStreams().keySet()); // a damaged one is deleted all the same: nothing reads it again
    for (String name : logs) {
      if (name.endsWith(ChangeFeed.SUFFIX)
          && !recordedViews.contains(name.substring(0, name.length() - ChangeFeed.SUFFIX.length()))) {
        log.deleteStream(name);
        LOG.info("removed log stream '{}': the changes log of a dropped view, which the catalog no longer records",
            name);
      }
    }
    // late events of a view the catalog does not record count for no view of its name: the drop writes
    // that in each late log, and here it is written where the drop could not (its stream was not open, or
    // a crash came first)
    for (Map.Entry<String, SpeedLayer> speed : speedLayers.entrySet()) {
      for (String view : speed.getValue().lateLog().viewsRecorded()) {
        if (!recordedViews.contains(view)) {
          speed.getValue().lateLog().forget(view);
          LOG.info("stream '{}': the late events of dropped view '{}' no longer count for a view of that name",
              speed.getKey(), view);
        }
      }
    }
  }

  /** Whether {@code dir} holds a Base, checkpoint or closed-window run of a view version. */
  private static boolean holdsVersionFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir, 2)) {
      return files.anyMatch(f -> Files.isRegularFile(f) && VersionCatalog.isVersionFile(f.getFileName().toString()));
    }
  }

  /**
   * Deletes files no catalog entry names: leftovers of a batch cycle a crash interrupted (a
   * {@code v<id>.base.tmp}, or a {@code v<id>.spill} directory of sorted runs, deleted with its
   * contents).
   */
  private void removeOrphans(Set<String> recordedViews) throws IOException {
    Path root = dataDir.resolve("views");
    if (!Files.isDirectory(root)) {
      return;
    }
    try (Stream<Path> dirs = Files.list(root)) {
      for (Path d : (Iterable<Path>) dirs::iterator) {
        String view = d.getFileName().toString();
        ViewRuntime rt = views.get(view);
        Set<String> keep = rt == null ? Set.of() : new HashSet<>(rt.referencedFiles());
        if (rt == null && recordedViews.contains(view)) {
          continue; // a view no longer in the spec: keep its files, the catalog still lists it
        }
        try (Stream<Path> files = Files.list(d)) {
          for (Path f : (Iterable<Path>) files::iterator) {
            if (!keep.contains(f.getFileName().toString()) && !f.getFileName().toString().endsWith(".corrupt")) {
              if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
                BatchLayer.deleteTree(f);
              } else {
                Files.delete(f);
              }
              LOG.info("removed orphaned file {} (left by an interrupted batch cycle, checkpoint or save of a changes "
                  + "feed, or a retired version)", f);
            }
          }
        }
      }
    }
  }

  /** How long a clean close waits for the speed layers to fold the log's tail before its checkpoint. */
  static final long CLOSE_CATCH_UP_SECONDS = 10;

  /** How often the window retention of kappa views with {@code retain} runs. */
  static final long RETENTION_CHECK_MILLIS = 10_000;
  /** How often the engine looks for a view that a reprocess or rollback gave a window, to start its changes feed. */
  static final long FEED_CHECK_MILLIS = 1_000;

  /** How often windowed views are checked for closed windows to move out of memory. */
  static final long SPILL_CHECK_MILLIS = 1_000;

  /**
   * Moves every windowed view's closed windows out of its in-memory Delta into closed-window runs
   * now, where enough are closed (see {@link EngineOptions#withDeltaSpillGroups}); returns the (key,
   * window) groups moved. The engine does this by itself every second; call it to do it now (tools,
   * benchmarks).
   */
  public long spillClosedWindows() {
    requireOpen();
    return spillClosedWindows(true);
  }

  private long spillClosedWindows(boolean force) {
    long moved = 0;
    for (ViewRuntime v : views.values()) {
      try {
        moved += v.spillClosedWindows(force);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return moved;
      } catch (IOException | RuntimeException e) {
        LOG.error("view '{}': moving closed windows out of memory failed; they stay in memory: {}", v.name,
            e.toString());
      }
    }
    return moved;
  }

  private void evictExpiredWindows() {
    evictExpiredWindows(true);
  }

  /** Retention of every view; unless {@code wait}, a view whose batch cycle runs is left to the next check. */
  private void evictExpiredWindows(boolean wait) {
    for (ViewRuntime v : views.values()) {
      try {
        v.evictExpiredWindows(wait);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        LOG.error("window retention of view '{}' failed", v.name, e);
      }
    }
  }

  /** The program of a version's recorded definition, or null (logged) when it no longer compiles. */
  /**
   * The {@linkplain ViewProgram#lateRule lateness rule} of the version of {@code file}'s view that
   * the catalog records as current: its recorded definition's, or the file's when there is none.
   */
  private String servingLateRule(ViewSpec file, VersionCatalog.ViewEntry recorded) {
    if (recorded != null) {
      for (VersionCatalog.Entry e : recorded.versions()) {
        if (e.state() == VersionState.CURRENT && e.document() != null) {
          try {
            return ViewProgram.lateRule(spec.parseView(file.name(), e.document(), PipelineSpec.RECORDED));
          } catch (RuntimeException notParsed) { // the restore says why; the file's rule is the best guess
            break;
          }
        }
      }
    }
    return ViewProgram.lateRule(file);
  }

  /** The schema that reads stream {@code name}'s stored events: the spec's fields, and which came first. */
  private EventSchema schema(String name) {
    return schemas.get(name);
  }

  /**
   * The streams and tables whose partition count in the spec differs from their log's, each named
   * as the user knows it (a table, not its internal writes stream): the partition of a key depends
   * on the count, so it cannot change.
   */
  private List<String> partitionChanges() {
    List<String> problems = new ArrayList<>();
    for (StreamSpec s : spec.streams().values()) {
      partitionChange("stream", s.name(), "its log", s.name(), s.partitions(), problems);
    }
    for (dev.braid.spec.TableSpec t : spec.tables().values()) {
      partitionChange("table", t.name(), "its log of writes", t.writesStream(), t.partitions(), problems);
    }
    return problems;
  }

  /** Adds to {@code problems} that {@code kind} {@code name}'s log {@code logName} has another partition count. */
  private void partitionChange(String kind, String name, String whose, String logName, int partitions,
      List<String> problems) {
    int had = log.hasStream(logName) ? log.stream(logName).config().partitions() : partitions;
    if (had != partitions) {
      problems.add(String.format("%s '%s' has %d partitions in %s, but the spec gives %d: a %s's partitions cannot "
          + "change (the partition of a key depends on them); put back `partitions: %d`", kind, name, had, whose,
          partitions, kind, had));
    }
  }

  /** Reads the recorded definition documents of {@link #refuseChangedSourceOrMode}. */
  private static final com.fasterxml.jackson.databind.ObjectMapper DOCUMENTS =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** The stream and mode of a version's recorded definition (either null when not recorded). */
  private record Recorded(String from, String mode) {}

  /** The version {@code entry} records as current, or null. */
  private static VersionCatalog.Entry current(VersionCatalog.ViewEntry entry) {
    return entry.versions().stream().filter(e -> e.state() == VersionState.CURRENT).findFirst().orElse(null);
  }

  /** What {@code version}'s definition document records, or null when it has none or cannot be read. */
  private static Recorded recorded(VersionCatalog.Entry version) {
    if (version.document() == null) {
      return null;
    }
    try {
      JsonNode d = DOCUMENTS.readTree(version.document());
      return new Recorded(d.path("from").asText(null), d.path("mode").asText(null));
    } catch (IOException e) {
      return null;
    }
  }

  /** How a user gives a view's name to another definition, for the refusals of {@link #refuseChangedSourceOrMode}. */
  private static String renameOrDrop(String view) {
    return "give the new definition another view name, or drop the old view's versions first (start once with the "
        + "view out of the spec, then run `braid drop " + view + "`)";
  }

  /**
   * Refuses a spec that gives a view with recorded versions another source stream or another mode
   * than they were computed with: a reprocess cannot change either, and at a start the recorded
   * definition would have been compiled against the spec's stream (replaying another stream from
   * the first one's offsets into a version that claims the first) or served in the other mode (a
   * lambda Base under a kappa view, which then never folds late events in). Lists every such view;
   * the data directory is not touched.
   */
  private void refuseChangedSourceOrMode(Map<String, VersionCatalog.ViewEntry> recorded) {
    List<String> problems = new ArrayList<>();
    for (ViewSpec v : spec.views().values()) {
      VersionCatalog.ViewEntry entry = recorded.get(v.name());
      VersionCatalog.Entry current = entry == null ? null : current(entry);
      if (current == null) {
        continue;
      }
      String specMode = v.mode().name().toLowerCase(java.util.Locale.ROOT);
      if (current.document() == null) {
        // a catalog of a build before definition documents: the file's definition wins at restore (the old
        // version becomes a backup), except where the mode shows: a version with a Base is a lambda version
        if (current.base() != null && v.mode() == ViewSpec.Mode.KAPPA) {
          problems.add(String.format("view '%s' is a kappa view in the spec, but its current version has a Base (a "
              + "lambda version), and a view cannot change its mode: put back `mode: lambda`, or %s", v.name(),
              renameOrDrop(v.name())));
        }
        continue;
      }
      Recorded r = recorded(current);
      if (r == null) {
        continue; // not readable: the restore says so, as for any definition that no longer compiles
      }
      String from = r.from();
      String mode = r.mode();
      if (from != null && !from.equals(v.from())) {
        problems.add(String.format("view '%s' reads stream '%s' in the spec, but its versions were computed from "
            + "stream '%s', and a view cannot change its stream: put back `from: %s`, or %s", v.name(), v.from(), from,
            from, renameOrDrop(v.name())));
      }
      if (mode != null && !mode.equals(specMode)) {
        problems.add(String.format("view '%s' is a %s view in the spec, but its versions are %s, and a view cannot "
            + "change its mode: put back `mode: %s`, or %s", v.name(), specMode, mode, mode, renameOrDrop(v.name())));
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("\n", problems) + "\nNothing in " + dataDir
          + " was changed.");
    }
  }

  private ViewProgram compileRecorded(ViewSpec file, String document) {
    try {
      ViewSpec recorded = spec.parseView(file.name(), document, PipelineSpec.RECORDED);
      return new ViewProgram(recorded, schema(file.from()));
    } catch (RuntimeException e) {
      LOG.warn("view '{}': a version's recorded definition no longer compiles against the spec ({}); that version "
          + "cannot be activated", file.name(), e.getMessage());
      return null;
    }
  }

  private void persistCatalog() {
    synchronized (catalogLock) {
      if (catalogClosed) {
        // a thread the close could not wait for (it logged which): the data directory may be open
        // in another engine by now, whose catalog this one must not overwrite
        throw new IllegalStateException("Braid in " + dataDir + " is closed; its catalog is not written again");
      }
      Map<String, VersionCatalog.ViewEntry> all = new LinkedHashMap<>(catalog.load());
      // the views of the spec (a refused one too) and the retired ones: a dropped view is gone
      all.keySet().removeIf(name -> !spec.views().containsKey(name) && !retired.containsKey(name));
      for (ViewRuntime v : views.values()) {
        all.put(v.name, v.catalogEntry());
      }
      Map<String, VersionCatalog.ViewEntry> ts = new LinkedHashMap<>(catalog.loadTables());
      // the tables of the spec and the retired ones: a dropped table is gone
      ts.keySet().removeIf(name -> !spec.tables().containsKey(name) && !retiredTables.containsKey(name));
      for (dev.braid.table.TableRuntime t : tables.values()) {
        ts.put(t.name(), t.catalogEntry());
      }
      dev.braid.log.Interrupts.setAside(() -> { // a reprocess or a push of an interrupted caller
        if (started) { // before: the partition threads have not read yet, and hold the loaded marks
          storeEventTimeMarks(); // first: a crash between the two finds marks at or after the new cut
        }
        catalog.store(all, ts, dropped);
      });
    }
  }

  /** What a dropped view of this name reached; ids from 1 and 0 when none was dropped. */
  private VersionCatalog.Dropped droppedReached(String view) {
    synchronized (catalogLock) {
      return dropped.getOrDefault(view, NEVER_DROPPED);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Braid
  // ---------------------------------------------------------------------------------------------

  @Override
  public PipelineSpec spec() {
    return spec;
  }

  private Ingestor ingestor(String stream) {
    Objects.requireNonNull(stream, "the stream name is null");
    Ingestor i = ingestors.get(stream);
    if (i == null && refused.containsKey(stream)) {
      throw refused.get(stream);
    }
    if (i == null) {
      throw new UnknownNameException("stream", stream, ingestors.keySet());
    }
    return i;
  }

  /** The runtime of view {@code name}, for tests and tools in this package. */
  ViewRuntime viewRuntime(String name) {
    return view(name);
  }

  ViewRuntime view(String name) {
    Objects.requireNonNull(name, "the view name is null");
    ViewRuntime v = views.get(name);
    if (v == null && refused.containsKey(name)) {
      throw refused.get(name);
    }
    if (v == null) {
      throw new UnknownNameException("view", name, views.keySet(), !isRetired(retired, name) ? ""
          : " ('" + name + "' is a retired view: the spec no longer defines it, and its versions are kept; put it back "
              + "in the spec to serve it, or drop it with braid drop " + name + ")");
    }
    return v;
  }

  @Override
  public IngestResult ingest(String stream, List<? extends Map<String, ?>> events) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestMaps(events));
  }

  @Override
  public IngestResult ingest(String stream, List<? extends Map<String, ?>> events, String idempotencyKey) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestMaps(events, idempotencyKey));
  }

  @Override
  public IngestResult ingestJson(String stream, List<JsonNode> events) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestJson(events));
  }

  @Override
  public IngestResult ingestJson(String stream, List<JsonNode> events, String idempotencyKey) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestJson(events, idempotencyKey));
  }

  @Override
  public IngestResult ingestText(String stream, List<String> events, int[] lines) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestText(events, lines));
  }

  @Override
  public IngestResult ingestText(String stream, List<String> events, int[] lines, String idempotencyKey) {
    requireOpen();
    return tracked(stream, () -> ingestor(stream).ingestText(events, lines, idempotencyKey));
  }

  @Override
  public List<DeadLetter> deadLetters(String stream, long fromOffset, int limit) {
    requireOpen();
    if (fromOffset < 0 || limit < 0) {
      throw new IllegalArgumentException("dead letters of stream '" + stream + "': fromOffset and limit must not be "
          + "negative, got " + fromOffset + " and " + limit);
    }
    return ingestor(stream).deadLetters(fromOffset, limit);
  }

  @Override
  public ViewResult get(String view, String key) {
    requireOpen();
    return view(view).get(nonNullKey(view, key));
  }

  @Override
  public ViewResult get(String view, String key, long fromMillis, long toMillis) {
    requireOpen();
    return view(view).get(nonNullKey(view, key), fromMillis, toMillis);
  }

  /** {@code key}, refused with a message that says which read got null (not a bare NPE from deep inside). */
  private static String nonNullKey(String view, String key) {
    if (key == null) {
      throw new NullPointerException("the key read from view '" + view + "' is null: keys are strings (the empty "
          + "string is a key like any other)");
    }
    return key;
  }

  @Override
  public List<ViewResult> getAll(String view, List<String> keys) {
    return getAll(view, keys, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  @Override
  public List<ViewResult> getAll(String view, List<String> keys, long fromMillis, long toMillis) {
    requireOpen();
    java.util.Objects.requireNonNull(keys, () -> "the list of keys read from view '" + view + "' is null");
    ViewRuntime v = view(view);
    List<ViewResult> out = new ArrayList<>(keys.size());
    for (String k : keys) {
      try {
        out.add(v.get(nonNullKey(view, k), fromMillis, toMillis));
      } catch (dev.braid.BadKeyException e) {
        throw new dev.braid.BadKeyException("keys[" + out.size() + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }

  @Override
  public List<VersionInfo> versions(String view) {
    requireOpen();
    return view(view).versions();
  }

  /**
   * {@inheritDoc} When no event came since the current version's cut, that version stays current
   * and its id is returned: a cycle would build the same Base and retire a backup at another cut.
   */
  @Override
  public long runBatch(String view) {
    return runBatch(view, false);
  }

  /**
   * {@link #runBatch(String)}, and with {@code evenWithoutNewEvents} a full cycle also when no
   * event came since the current version's cut (benchmarks recompute the same log again and again).
   */
  public long runBatch(String view, boolean evenWithoutNewEvents) {
    return runBatchCycle(view, evenWithoutNewEvents).version();
  }

  @Override
  public dev.braid.BatchCycle runBatchCycle(String view) {
    return runBatchCycle(view, false);
  }

  private dev.braid.BatchCycle runBatchCycle(String view, boolean evenWithoutNewEvents) {
    requireOpen();
    ViewRuntime v = view(view);
    if (servingDefinition(view).mode() == ViewSpec.Mode.KAPPA) { // as the server checks it
      throw new IllegalArgumentException(dev.braid.Faults.noBatchLayer(view));
    }
    // the cycle writes its Base on the caller's thread: an interrupt pending there would close the Base's channel and
    // fail the version (a FAILED version with ClosedByInterruptException), so it waits until the cycle is done, as
    // for a push or a reprocess
    boolean interrupted = dev.braid.log.Interrupts.holdBack();
    try {
      if (v.damage() != null) {
        // a batch cycle of a damaged view is its repair: the damaged Base is moved aside
        return new dev.braid.BatchCycle(repair(view), true);
      }
      return v.runBatchCycle(evenWithoutNewEvents);
    } catch (InterruptedException e) {
      interrupted = true;
      throw new IllegalStateException("batch cycle of view '" + view + "' was interrupted", e);
    } finally {
      dev.braid.log.Interrupts.restore(interrupted);
    }
  }

  @Override
  public long reprocess(String view, ViewSpec newDefinition, ReprocessOptions options) {
    requireOpen();
    ViewRuntime v = view(view);
    Objects.requireNonNull(newDefinition, () -> "the new definition of a reprocess of view '" + view + "' is null");
    Objects.requireNonNull(options, () -> "the options of a reprocess of view '" + view + "' are null: pass "
        + "ReprocessOptions.defaults() for none");
    String source = "reprocess of view '" + view + "'";
    List<SpecError> errors = new ArrayList<>();
    if (!newDefinition.name().equals(view)) {
      errors.add(new SpecError(source, "", "the definition is of view '" + newDefinition.name() + "', not '" + view
          + "'"));
    }
    if (!Objects.equals(newDefinition.from(), v.spec.from())) {
      errors.add(new SpecError(source, "from", "a reprocess cannot change the source stream (from '" + v.spec.from()
          + "' to '" + newDefinition.from() + "'); define a new view instead"));
    }
    if (newDefinition.mode() != v.spec.mode()) {
      errors.add(new SpecError(source, "mode", "a reprocess cannot change the mode (from "
          + v.spec.mode().name().toLowerCase(java.util.Locale.ROOT) + " to "
          + newDefinition.mode().name().toLowerCase(java.util.Locale.ROOT) + ")"));
    }
    if (!errors.isEmpty()) {
      throw new SpecException(errors);
    }
    // validated as if written by hand, with paths relative to the view's definition
    ViewSpec checked = spec.parseView(view, PipelineSpec.viewDocument(newDefinition), source);
    ViewProgram program = new ViewProgram(checked, schema(checked.from()));
    return v.reprocess(program, options.hold(), options.replayFrom());
  }

  @Override
  public ViewSpec servingDefinition(String view) {
    requireOpen();
    ViewRuntime v = view(view);
    Version cur = v.current();
    return cur.program != null ? cur.program.spec : v.spec;
  }

  @Override
  public long activate(String view, long versionId) {
    requireOpen();
    try {
      return view(view).activate(versionId);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("activation of version " + versionId + " of view '" + view
          + "' was interrupted", e);
    }
  }

  @Override
  public void discard(String view, long versionId) {
    requireOpen();
    try {
      view(view).discard(versionId);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("the discard of version " + versionId + " of view '" + view
          + "' was interrupted", e);
    }
  }

  @Override
  public List<Status.RetiredView> retiredViews() {
    requireOpen();
    List<Status.RetiredView> out = new ArrayList<>();
    synchronized (catalogLock) {
      retired.forEach((name, entry) -> {
        VersionCatalog.Entry current = current(entry);
        Recorded r = current == null ? null : recorded(current);
        out.add(new Status.RetiredView(name, r == null ? null : r.from(), r == null ? null : r.mode(),
            entry.versions().size()));
      });
    }
    return out;
  }

  /** Refuses to drop {@code kind} {@code name} while the spec defines it ({@code defined}). */
  private static void requireNotInSpec(String kind, String name, Set<String> defined) {
    if (defined.contains(name)) {
      throw new IllegalStateException(kind + " '" + name + "' is defined in the spec: only a " + kind + " that the "
          + "spec no longer defines can be dropped (remove it from the spec and restart, then drop it)");
    }
  }

  @Override
  public int dropView(String view) {
    requireOpen();
    Objects.requireNonNull(view, "the view name is null");
    requireNotInSpec("view", view, spec.views().keySet());
    int versions;
    synchronized (catalogLock) {
      VersionCatalog.ViewEntry entry = retired.get(view);
      if (entry == null) {
        throw new UnknownNameException("retired view", view, retired.keySet(), !retiredTables.containsKey(view) ? ""
            : " ('" + view + "' is a retired table: drop it with braid drop " + view + " --table)");
      }
      retired.remove(view);
      VersionCatalog.Dropped before = dropped.get(view);
      dropped.put(view, new VersionCatalog.Dropped(entry.next(), changesEnd(view)).max(before));
      // first: a crash before the rest leaves it to the next start (removeUnrecordedViews)
      persistDrop("view", view, before, () -> retired.put(view, entry));
      versions = entry.versions().size();
    }
    // Its late events stay in the late logs (immutable) but no longer count for a view of its name.
    for (Map.Entry<String, SpeedLayer> speed : speedLayers.entrySet()) {
      try {
        speed.getValue().lateLog().forget(view);
      } catch (RuntimeException e) {
        LOG.warn("view '{}' was dropped, but the late log of stream '{}' could not record it ({}); a new view of "
            + "that name may count the dropped one's late events", view, speed.getKey(), e.toString());
      }
    }
    Path dir = dataDir.resolve("views").resolve(view);
    try {
      if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
        BatchLayer.deleteTree(dir);
      }
      log.deleteStream(view + ChangeFeed.SUFFIX);
      LOG.info("view '{}' dropped: {} version(s) removed from the catalog, its files and changes log deleted", view,
          versions);
    } catch (IOException | RuntimeException e) {
      LOG.warn("view '{}' was dropped from the catalog, but its files or changes log could not all be deleted ({}); "
          + "the next start deletes them", view, e.toString());
    }
    return versions;
  }

  /**
   * The next id of {@code view}'s changes feed: the end of its changes log, 0 without one (or when it
   * is damaged: its end is then unknown, and a new view of the name starts its ids at 0 again).
   */
  private long changesEnd(String view) {
    String name = view + ChangeFeed.SUFFIX;
    return log.hasStream(name) ? log.stream(name).endOffset(0) : 0;
  }

  /**
   * What opening the log cut from each stream's partitions, one line per partition, so that an
   * operator sees it in the status and not only in the log at start: where, how much, and where the
   * cut bytes were kept. A cut of a log Braid keeps beside a stream (its dead letters and late
   * events, and the changes of its views) is listed with the stream, naming that log. Fixed once the
   * log is open, so written once.
   */
  private static Map<String, List<String>> recoveredLines(FileLog log, PipelineSpec spec) {
    Map<String, List<String>> out = new HashMap<>();
    for (dev.braid.log.RecoveryReport r : log.recoveries()) {
      if (r.truncatedBytes() > 0) {
        java.nio.file.Path aside = r.keptAside();
        String owner = r.stream();
        String which = "";
        for (String s : spec.streams().keySet()) {
          if (r.stream().equals(s + Ingestor.DEAD_LETTER_SUFFIX) || r.stream().equals(s + LateLog.SUFFIX)) {
            owner = s;
            which = r.stream().endsWith(LateLog.SUFFIX) ? "the late-event log, " : "the dead-letter log, ";
          }
        }
        for (ViewSpec v : spec.views().values()) {
          if (r.stream().equals(v.name() + ChangeFeed.SUFFIX)) {
            owner = v.from();
            which = "the changes log of view '" + v.name() + "', ";
          }
        }
        out.computeIfAbsent(owner, s -> new ArrayList<>()).add(String.format(java.util.Locale.ROOT,
            "%spartition %d: at start, %,d bytes of a torn or damaged tail were cut from %s at byte %,d (the partition "
                + "now ends at offset %,d); %s%s", which, r.partition(), r.truncatedBytes(), r.file(), r.validBytes(),
            r.endOffset(), aside != null ? "they are kept in " + aside + " for inspection"
                : "they were all zeros (space never written)",
            r.wholeBatchesCut() == 0 ? "" : String.format(java.util.Locale.ROOT, "; %d whole batches with valid "
                + "checksums (offsets %,d to %,d) followed the damaged one and were cut with it: damage inside the "
                + "segment (a bad block?), not a torn write", r.wholeBatchesCut(), r.wholeFromOffset(),
                r.wholeToOffset() - 1)));
      }
    }
    return out;
  }

  @Override
  public Status status() {
    requireOpen();
    List<Status.StreamStatus> streams = new ArrayList<>();
    for (Map.Entry<String, Ingestor> e : ingestors.entrySet()) {
      LogStream s = e.getValue().stream();
      Cut end = s.end();
      long events = 0;
      for (int p = 0; p < end.partitions(); p++) {
        events += end.offset(p) - s.startOffset(p);
      }
      streams.add(new Status.StreamStatus(e.getKey(), s.partitions(), s.config().durability().toString(), end, events,
          e.getValue().acceptedPerSecond(), e.getValue().rejectedPerSecond(), e.getValue().dedupEntries(),
          watermark(speedLayers.get(e.getKey())), recovered.getOrDefault(e.getKey(), List.of())));
    }
    List<Status.ViewStatus> vs = new ArrayList<>();
    for (ViewRuntime v : views.values()) {
      Version cur = v.current();
      Delta d = cur.delta;
      Cut pos = d == null ? cur.cut : d.position();
      long lag = log.stream(v.spec.from()).end().offsetsAfter(pos);
      ViewRuntime.BatchProgress bp = v.batchProgress;
      Delta.LeftOut left = ViewRuntime.leftOut(cur, d);
      // what the serving version does, which a reprocess (or a spec file not yet reprocessed) makes
      // differ from the file's definition
      ViewSpec serving = cur.program != null ? cur.program.spec : v.spec;
      vs.add(new Status.ViewStatus(v.name, v.spec.from(), serving.mode().name().toLowerCase(), cur.id, cur.cut, pos,
          lag, d == null ? 0 : d.keys(), d == null ? 0 : d.memoryBytes(),
          left.skipped(), left.withoutKey(), left.complete(), bp != null, bp == null ? 0 : bp.events().get(),
          bp == null ? 0 : bp.total(), v.building(), v.specChanged(), !serving.definition().equals(v.spec.definition()),
          v.retention(), v.batchCycles(),
          v.batchNanos() / 1e9, v.batchFailures(), v.lastBatchAtMillis(), v.checkpoints(),
          serving.allowedLateness() == null ? null
          : new Status.Lateness(serving.allowedLateness(),
              speedLayers.get(v.spec.from()).lateLog().count(v.name, currentLateRule(v)),
              v.finalUntil()),
          v.deltaState()));
    }
    List<Status.TableStatus> ts = new ArrayList<>();
    for (dev.braid.table.TableRuntime t : tables.values()) {
      Status.TableStatus st = t.status();
      ts.add(st.withRecovered(recovered.getOrDefault(st.stream(), List.of())));
    }
    return new Status(streams, vs, ts);
  }

  @Override
  public dev.braid.table.Table table(String name) {
    requireOpen();
    Objects.requireNonNull(name, "the table name is null");
    dev.braid.table.TableRuntime t = tables.get(name);
    if (t == null) {
      throw new UnknownNameException("table", name, tables.keySet(), !isRetired(retiredTables, name) ? ""
          : " ('" + name + "' is a retired table: the spec no longer defines it, and its versions and writes are "
              + "kept; put it back in the spec to serve it, or drop it with braid drop " + name + " --table)");
    }
    return t;
  }

  /** Whether {@code retiredNames} ({@link #retired} or {@link #retiredTables}) holds {@code name}. */
  private boolean isRetired(Map<String, ?> retiredNames, String name) {
    synchronized (catalogLock) {
      return retiredNames.containsKey(name);
    }
  }

  @Override
  public List<String> retiredTables() {
    requireOpen();
    synchronized (catalogLock) {
      return List.copyOf(retiredTables.keySet());
    }
  }

  @Override
  public int dropTable(String table) {
    requireOpen();
    Objects.requireNonNull(table, "the table name is null");
    requireNotInSpec("table", table, spec.tables().keySet());
    VersionCatalog.ViewEntry entry;
    synchronized (catalogLock) {
      entry = retiredTables.get(table);
      if (entry == null) {
        throw new UnknownNameException("retired table", table, retiredTables.keySet(), !retired.containsKey(table) ? ""
            : " ('" + table + "' is a retired view: drop it with braid drop " + table + ", without --table)");
      }
      // The catalog first, naming the table dropped: a drop cut short after it leaves files that the
      // next start deletes (removeDroppedTables) before anything reads them, whether the spec
      // defines the table again or not.
      retiredTables.remove(table);
      VersionCatalog.Dropped before = dropped.get(table);
      dropped.put(table, new VersionCatalog.Dropped(entry.next(), 0).max(before));
      persistDrop("table", table, before, () -> retiredTables.put(table, entry));
    }
    try {
      removeDroppedTable(table);
      LOG.info("table '{}' dropped: {} version(s) removed from the catalog, its files and log of writes deleted",
          table, entry.versions().size());
    } catch (IOException | RuntimeException e) {
      LOG.warn("table '{}' was dropped from the catalog, but its files, log of writes or recorded fields could not "
          + "all be removed ({}); the next start removes them", table, e.toString());
    }
    return entry.versions().size();
  }

  /**
   * Stores the catalog of a drop of {@code kind} {@code name}; when it cannot be written, puts back
   * what {@code dropped} held for the name ({@code before}, null for nothing) and the retired entry
   * ({@code unretire}), and throws: nothing was dropped. Called under catalogLock.
   */
  private void persistDrop(String kind, String name, VersionCatalog.Dropped before, Runnable unretire) {
    try {
      persistCatalog();
    } catch (RuntimeException e) {
      unretire.run();
      if (before == null) {
        dropped.remove(name);
      } else {
        dropped.put(name, before);
      }
      throw new dev.braid.log.LogException(kind + " '" + name + "' was not dropped (it stays retired): "
          + e.getMessage(), e);
    }
  }

  /**
   * Deletes what dropped table {@code table} left: its directory, its log of writes (a damaged one
   * too) and its recorded fields, so that its name may take a table of other fields. Returns
   * whether anything was there.
   */
  private boolean removeDroppedTable(String table) throws IOException {
    boolean found = false;
    Path dir = dataDir.resolve("tables").resolve(table);
    if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      BatchLayer.deleteTree(dir);
      found = true;
    }
    String writes = table + dev.braid.spec.TableSpec.WRITES_SUFFIX;
    if (log.hasStream(writes) || log.corruptStreams().containsKey(writes)) {
      log.deleteStream(writes);
      found = true;
    }
    return RecordedSchemas.forgetTable(dataDir, table) | found;
  }

  /**
   * At start, before the schemas are checked: removes what a table drop that a crash cut short
   * left (the catalog names the table dropped and records no table of its name).
   */
  private void removeDroppedTables(Set<String> recordedTables) throws IOException {
    for (String name : catalog.loadDropped().keySet()) {
      if (!recordedTables.contains(name) && removeDroppedTable(name)) {
        LOG.info("removed the files, log of writes and recorded fields of dropped table '{}', which a crash left",
            name);
      }
    }
  }


  private static Status.Watermark watermark(SpeedLayer speed) {
    if (speed == null || !speed.followed()) {
      return null; // no view reads the stream: nothing keeps its watermark
    }
    List<Status.PartitionWatermark> parts = new ArrayList<>();
    for (SpeedLayer.PartitionMark m : speed.partitionMarks()) {
      parts.add(new Status.PartitionWatermark(m.partition(), m.watermark(), m.maxEventTime(), m.idle()));
    }
    return speed.watermarkNow(parts);
  }

  // ---------------------------------------------------------------------------------------------
  // Changes streams
  // ---------------------------------------------------------------------------------------------

  /**
   * One changes feed per windowed view, each with its own log stream {@code <view>.changes}; then,
   * every {@value #FEED_CHECK_MILLIS} ms, one for a view that a reprocess or rollback gave a window.
   */
  private void startChangeFeeds(java.util.function.LongSupplier clock) {
    changeClock = clock;
    for (ViewRuntime v : views.values()) {
      ensureChangeFeed(v);
    }
    scheduler.scheduleWithFixedDelay(() -> {
      for (ViewRuntime v : views.values()) {
        try {
          ensureChangeFeed(v);
        } catch (RuntimeException e) {
          LOG.error("could not start the changes feed of view '{}'", v.name, e);
        }
      }
    }, FEED_CHECK_MILLIS, FEED_CHECK_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * The changes feed of {@code v}, started now if it has none yet and the version it serves has a
   * window or its changes log exists; null otherwise. A feed stays once started: after a switch to a
   * definition without a window it retracts the windows emitted, finds nothing more to close, and
   * its log can still be read (after a restart too).
   */
  private ChangeFeed ensureChangeFeed(ViewRuntime v) {
    synchronized (changeFeeds) {
      ChangeFeed f = changeFeeds.get(v.name);
      if (f == null && !closed && changeClock != null
          && (v.current().program.window != null || log.hasStream(v.name + ChangeFeed.SUFFIX))) {
        f = newChangeFeed(v, v.name + ChangeFeed.SUFFIX, true, changeClock);
        changeFeeds.put(v.name, f);
        f.start();
      }
      return f;
    }
  }

  /**
   * A changes feed of {@code view} that writes the log stream {@code logName}, recovered from it and
   * not started: for tests that drive a second feed (a naive one beside the incremental one) with
   * their own passes. At most one incremental feed per view may run passes: each drains the
   * Deltas' change marks.
   */
  ChangeFeed newChangeFeed(String view, String logName, boolean incremental) {
    return newChangeFeed(view(view), logName, incremental, changeClock);
  }

  /**
   * The log stream {@code name}, created with {@code partitions} when missing, with {@code durability}
   * from now on: a spec may change a stream's durability between two starts (not its partitions).
   */
  private LogStream logStream(String name, int partitions, Durability durability) {
    return logStream(name, partitions, durability, 0);
  }

  /** As {@link #logStream(String, int, Durability)}; a stream created now starts at {@code firstOffset}. */
  private LogStream logStream(String name, int partitions, Durability durability, long firstOffset) {
    log.getOrCreateStream(name, StreamConfig.of(partitions).withDurability(durability).withFirstOffset(firstOffset));
    return log.changeDurability(name, durability);
  }

  private ChangeFeed newChangeFeed(ViewRuntime v, String logName, boolean incremental,
      java.util.function.LongSupplier clock) {
    StreamSpec s = spec.stream(v.spec.from());
    java.nio.file.Path saved = logName.equals(v.name + ChangeFeed.SUFFIX) ? v.directory().resolve(EmittedSnapshot.FILE)
        : null; // a test's second feed saves nothing
    if (saved != null && !log.hasStream(logName) && !log.corruptStreams().containsKey(logName)) {
      refuseLostChangesLog(v, logName, saved);
    }
    ChangeFeed f = new ChangeFeed(v.name, v, speedLayers.get(v.spec.from()), logStream(logName, 1, s.durability(),
        saved == null ? 0 : droppedReached(v.name).nextChange()), clock, incremental, saved);
    f.recoverAtStart();
    return f;
  }

  /**
   * Refuses to make the changes log of view {@code v} anew when its feed saved what it emitted (the
   * log's directory was deleted or moved): a log made anew gives ids from 0 again, which a client
   * resuming after an id it saw would skip, or take for the changes it already has.
   */
  private void refuseLostChangesLog(ViewRuntime v, String logName, java.nio.file.Path saved) {
    long lastId = EmittedSnapshot.lastId(saved);
    if (lastId >= 0) {
      Path dir = dataDir.resolve("log").resolve(logName);
      throw new dev.braid.log.CorruptLogException("stream", dir, 0, "the changes log of view '" + v.name
          + "' is missing, and " + saved + " says it held changes up to id " + lastId + "; nothing was created in "
          + "its place: stop, restore " + dir + " from a backup and start again (to start the view's changes anew "
          + "from id 0, which clients must then read from 0 again, delete " + saved + ")");
    }
  }

  /** The changes feed of {@code view}; refuses an unknown view and one without windows. */
  ChangeFeed changeFeed(String view) {
    ViewRuntime v = view(view);
    ChangeFeed f = ensureChangeFeed(v);
    if (f == null) {
      throw new IllegalArgumentException("view '" + v.name + "' has no window, so it has no changes stream");
    }
    return f;
  }

  @Override
  public dev.braid.Subscription subscribe(String view, long fromId,
      java.util.function.Consumer<dev.braid.ChangeEvent> consumer) {
    return subscribe(view, fromId, null, consumer);
  }

  @Override
  public dev.braid.Subscription subscribe(String view, long fromId, String key,
      java.util.function.Consumer<dev.braid.ChangeEvent> consumer) {
    requireOpen();
    java.util.Objects.requireNonNull(consumer, "consumer");
    // the key as the view writes it: 070 follows the group 70 of a long key, as a read of 070 reads it
    String k = key == null ? null : groupKey(view, key);
    return changeFeed(view).subscribe(fromId, k == null ? null : e -> e.key().equals(k), consumer);
  }

  @Override
  public String groupKey(String view, String key) {
    requireOpen();
    return view(view).groupKey(nonNullKey(view, key));
  }

  @Override
  public List<dev.braid.ChangeEvent> changes(String view, long fromId, int limit) {
    requireOpen();
    if (limit < 0) {
      throw new IllegalArgumentException("limit must be >= 0, was " + limit);
    }
    return changeFeed(view).read(fromId, limit);
  }

  @Override
  public List<dev.braid.LateEvent> lateEvents(String stream, long fromOffset, int limit) {
    requireOpen();
    if (fromOffset < 0 || limit < 0) { // as deadLetters
      throw new IllegalArgumentException("late events of stream '" + stream + "': fromOffset and limit must not be "
          + "negative, got " + fromOffset + " and " + limit);
    }
    ingestor(stream); // refuses an unknown or unavailable stream
    SpeedLayer speed = speedLayers.get(stream);
    return speed == null ? List.of() : speed.lateLog().read(fromOffset, limit, view -> {
      ViewRuntime v = views.get(view);
      return v == null || !v.spec.from().equals(stream) ? null : currentLateRule(v);
    });
  }

  /** The lateness rule of view {@code v}'s current version: the one its late events are counted under. */
  private static String currentLateRule(ViewRuntime v) {
    Version cur = v.current();
    return cur.program != null ? cur.program.lateRule
        : ViewProgram.lateRule(v.spec); // a version without a program of its own computes the file's definition
  }

  /** The speed layer of stream {@code stream} (for tests). */
  SpeedLayer speedLayer(String stream) {
    return speedLayers.get(stream);
  }

  @Override
  public Log log() {
    return log;
  }

  /**
   * Waits until every view's Delta has folded the log up to its current end.
   *
   * @throws dev.braid.log.CorruptLogException when a speed layer stopped at damaged log data
   * @throws IllegalStateException when a speed layer stopped for good on an {@link Error} (see
   *     {@link dev.braid.Braid#faults})
   */
  @Override
  public boolean awaitCaughtUp(long timeout, TimeUnit unit) throws InterruptedException {
    requireOpen(); // first: it named the closed log instead
    Objects.requireNonNull(unit, "the time unit is null");
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (Map.Entry<String, SpeedLayer> e : speedLayers.entrySet()) {
      long left = deadline - System.nanoTime();
      if (!e.getValue().awaitPosition(log.stream(e.getKey()).end(), Math.max(0, left), TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("Braid in " + dataDir + " is closed");
    }
  }

  /**
   * Closes the engine; a second call, or one made meanwhile from another thread, returns once the
   * first is done, except on a subscription's consumer thread, which the first close waits for
   * (there it returns at once). A pending interrupt of the calling thread is set aside until then:
   * the close's waits and its last file writes (checkpoints, the log's tails) run to their end.
   */
  @Override
  public void close() {
    if (!closeLock.tryLock()) {
      if (onConsumerThread()) {
        return; // the close under way waits for this consumer to return
      }
      closeLock.lock();
    }
    try {
      if (closeDone) {
        return;
      }
      closed = true;
      try {
        dev.braid.log.Interrupts.setAside(this::closeOnce);
      } finally {
        closeDone = true;
      }
    } finally {
      closeLock.unlock();
    }
  }

  /**
   * Starts no more scheduled work (batch cycles of {@code batch.every}, window eviction); what runs
   * goes on. For a server that is stopping: its wait for requests in flight to finish may last half
   * a minute, and a batch cycle that starts then would only be interrupted by {@link #close}.
   */
  public void stopSchedules() {
    scheduler.shutdown(); // cancels the periodic tasks that are not running
  }

  /** Whether the calling thread runs the consumer of a subscription to one of this engine's views. */
  private boolean onConsumerThread() {
    Thread me = Thread.currentThread();
    synchronized (changeFeeds) {
      return changeFeeds.values().stream().anyMatch(f -> f.isConsumerThread(me));
    }
  }

  /**
   * The steps of {@link #close}. An interrupt that lands during one (cutting its waits short) is set
   * aside before the next and restored at the end: the steps' file writes would fail on it.
   */
  private void closeOnce() {
    dev.braid.log.Interrupts.restore(closeSteps());
  }

  /** Returns whether an interrupt landed during the steps (each step starts with it cleared). */
  private boolean closeSteps() {
    boolean interrupted = false;
    scheduler.shutdownNow();
    // No interrupt for the checkpointer and the spiller: they may be writing a file (an interrupt
    // would close its channel).
    checkpointer.shutdown();
    spiller.shutdown();
    try {
      // A scheduled batch cycle stops at its next interrupt check (or ends); a cycle a caller started
      // is cancelled and awaited by its view's close below.
      if (!scheduler.awaitTermination(1, TimeUnit.MINUTES)) {
        LOG.warn("a scheduled batch cycle did not stop within a minute of close");
      }
      if (!checkpointer.awaitTermination(1, TimeUnit.MINUTES)) {
        LOG.warn("a checkpoint did not finish within a minute of close");
      }
      if (!spiller.awaitTermination(1, TimeUnit.MINUTES)) {
        LOG.warn("moving closed windows out of memory did not finish within a minute of close");
      }
    } catch (InterruptedException e) {
      interrupted = true;
    }
    List<ChangeFeed> feeds;
    synchronized (changeFeeds) { // closed is set: no feed starts after this
      feeds = List.copyOf(changeFeeds.values());
    }
    interrupted |= Thread.interrupted();
    for (ChangeFeed f : feeds) {
      f.close();
      interrupted |= Thread.interrupted();
    }
    for (ViewRuntime v : views.values()) {
      v.close();
      interrupted |= Thread.interrupted();
    }
    if (started) {
      // Fold what the log holds before the final checkpoint, so the next start replays nothing.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_CATCH_UP_SECONDS);
      for (Map.Entry<String, SpeedLayer> e : speedLayers.entrySet()) { // each stream, whatever the others did
        try {
          e.getValue().awaitPosition(log.stream(e.getKey()).end(), Math.max(0, deadline - System.nanoTime()),
              TimeUnit.NANOSECONDS);
        } catch (InterruptedException x) {
          interrupted = true;
          break;
        } catch (dev.braid.log.CorruptLogException | IllegalStateException x) {
          // damaged log data: the checkpoints stand where the speed layer stopped; a speed layer stopped by an
          // Error: its views take no checkpoint
          LOG.error("the speed layer of stream '{}' cannot fold the log's tail before the final checkpoint: {}",
              e.getKey(), x.getMessage());
        }
      }
    }
    for (SpeedLayer s : speedLayers.values()) {
      interrupted |= Thread.interrupted();
      s.close();
    }
    for (dev.braid.table.TableRuntime t : tables.values()) {
      interrupted |= Thread.interrupted();
      t.close();
    }
    interrupted |= Thread.interrupted();
    if (started) {
      checkpointAll(); // the speed layers have stopped: these are the final positions
    }
    for (ViewRuntime v : views.values()) {
      v.unmapFiles();
    }
    for (dev.braid.table.TableRuntime t : tables.values()) {
      t.unmapFiles();
    }
    synchronized (catalogLock) {
      catalogClosed = true;
    }
    interrupted |= Thread.interrupted();
    log.close();
    return interrupted;
  }

  /**
   * Checkpoints the current version of every view whose Delta moved since its last checkpoint (see
   * {@link DeltaCheckpoint}). A failure is logged and shown in status; the view keeps serving and
   * its older checkpoints stay. The engine calls it on its interval and on close; call it to take
   * one now (tools, benchmarks).
   */
  public void checkpointAll() {
    checkpointAll(true);
  }

  /**
   * Checkpoints every view, and with {@code tables} every table's Delta too. The interval leaves
   * tables out: writing a table's Delta checkpoint holds each partition's follower while that
   * partition's rows are serialized (measured: 3.6 s for 480 k rows on 2 partitions, PERFORMANCE.md
   * "Tables"), which would stall real-time writes every interval, and restoring one was only 14 %
   * faster than replaying the writes. A restart after a crash replays from the cut instead.
   */
  private void checkpointAll(boolean tables) {
    for (dev.braid.table.TableRuntime t : tables ? this.tables.values() : List.<dev.braid.table.TableRuntime>of()) {
      try {
        t.checkpoint();
        recovered("table '" + t.name() + "': checkpoint");
      } catch (Throwable e) { // an Error too: a scheduled task that throws never runs again
        failed("table '" + t.name() + "': checkpoint", "the previous one stays", e);
      }
    }
    for (ViewRuntime v : views.values()) {
      try {
        DeltaCheckpoint.Written w = v.checkpoint();
        if (w != null && LOG.isDebugEnabled()) {
          LOG.debug("view '{}': checkpoint {} at {} ({} groups, {} bytes)", v.name, w.path().getFileName(),
              w.position(), w.groups(), w.bytes());
        }
        if (v.checkpointFailure() == null) { // one was written, or none was due after one was: not a skipped round
          recovered("view '" + v.name + "': checkpoint");
        }
      } catch (Throwable e) { // an Error too: a scheduled task that throws never runs again
        failed("view '" + v.name + "': checkpoint", "the previous one stays", e);
      }
    }
    synchronized (catalogLock) {
      if (!catalogClosed) {
        storeEventTimeMarks();
      }
    }
  }

  /**
   * Records each stream's event-time marks ({@link EventTimeMarks}): at every checkpoint round, and
   * with every catalog a started engine stores, so that a version a batch cycle switches in at a
   * later cut never starts after the recorded positions (a {@code kill -9} before the next round
   * would otherwise leave the event times between them to the restart's scan, and with no marks file
   * yet, to nothing). The caller holds {@link #catalogLock}, which keeps two writers of the file apart.
   */
  private void storeEventTimeMarks() {
    Map<String, EventTimeMarks.Marks> marks = new LinkedHashMap<>();
    speedLayers.forEach((stream, speed) -> marks.put(stream, speed.eventTimeMarks()));
    String what = "recording the streams' event-time marks in " + dataDir.resolve(EventTimeMarks.FILE);
    try {
      EventTimeMarks.store(dataDir, marks);
      recovered(what);
    } catch (Throwable e) {
      failed(what, "the ones recorded before stay", e);
    }
  }

  /**
   * The periodic writes (checkpoints, event-time marks) failing now, by what they are, with their
   * last failure and how many rounds failed: a failure is logged when it starts or its reason
   * changes, not every round (an unwritable directory logged an ERROR per view every interval,
   * forever), and its end once, when the write succeeds again.
   */
  private final Map<String, Object[]> failingWrites = new java.util.concurrent.ConcurrentHashMap<>();

  /** Logs the failure of periodic write {@code what} unless the same one was logged for the round before. */
  private void failed(String what, String consequence, Throwable e) {
    String reason = e instanceof IOException io ? io.getClass().getSimpleName() + ": " + dev.braid.log.LogException
        .describe(io) : e instanceof UncheckedIOException u ? dev.braid.log.LogException.describe(u.getCause())
        : e.toString();
    // the same failure, whatever the numbers in it (each checkpoint's file has the next sequence number)
    String kind = reason.replaceAll("[0-9]+", "#");
    Object[][] before = new Object[1][];
    failingWrites.compute(what, (k, was) -> { // atomic: the scheduler's round and a close's may fail together
      before[0] = was;
      return new Object[] {kind, was == null ? 1 : (int) was[1] + 1};
    });
    if (before[0] == null || !before[0][0].equals(kind)) {
      LOG.error("{} failed; {}: {} (tried again every round; logged again when the reason changes, and once when it "
          + "succeeds)", what, consequence, reason);
    }
  }

  /** Logs, once, that periodic write {@code what} succeeds again after failing. */
  private void recovered(String what) {
    Object[] before = failingWrites.remove(what);
    if (before != null) {
      LOG.info("{} succeeds again, after {} failed {}", what, before[1], (int) before[1] == 1 ? "round" : "rounds");
    }
  }
}
