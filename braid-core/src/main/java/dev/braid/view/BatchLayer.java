package dev.braid.view;

import dev.braid.agg.NumericFold;
import dev.braid.event.EventReader;
import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The batch layer: recomputes a view over {@code [0, cut)} of its stream and writes the Base, one
 * task per partition on a pool of {@code threads}, folding with the same {@link ViewProgram#apply}
 * as the speed layer, within a memory budget. One instance builds one Base.
 *
 * <h2>The memory budget</h2>
 * A cycle's budget {@code B} bytes is shared by its partition tasks through one account of reserved
 * bytes. A running task may hold a table of at most {@code share = B / t}, where {@code t} is the
 * number of tasks that run at once ({@code min(threads, partitions)}), so running tasks alone never
 * exceed {@code B}. After each event that created a group the task asks what its table would hold
 * if the next event grew it ({@link GroupTable#memoryBytesAfterInsert}), plus the scratch that
 * sorting it for a spill takes, plus, for aggregations with object state (sketches, strings), the
 * groups times an estimate of their objects' heap (sampled from their serialized size, and
 * measured exactly at each spill). It reserves that (an eighth more when it can, so that a growing
 * table does not touch the shared account for every key). When that exceeds the share, or the
 * account cannot reserve it, the task <em>spills</em>: it writes the table as a sorted run
 * ({@link RunFileDescriptor}) into the cycle's spill directory and clears it, keeping the arrays,
 * and goes on folding. So the budget is checked once per new group, not per event.
 *
 * <p>A finished partition's table stays in memory, still reserved, while nothing has spilled, so a
 * view that fits is written from memory as before. Once anything has spilled the finished tables
 * would only be spilled at the end, so a running task that cannot reserve spills them first
 * (ownership passes through a queue) and tasks that finish later spill their own.
 *
 * <h2>Writing the Base</h2>
 * <ul>
 *   <li>Nothing spilled and the view groups by the stream's key (or has one partition): the tables
 *       have disjoint keys and stream into {@link BaseFile.Writer} as they are.
 *   <li>Nothing spilled, other grouping: one group's events come from several partitions. If the
 *       tables hold at most {@code B / 2}, they are merged in memory (the merged table is at most as
 *       large as its inputs) and written; otherwise they are spilled as below.
 *   <li>Something spilled: the remaining tables are spilled too (in parallel) and
 *       {@link RunMerger} merges all runs, by (key hash, key bytes, window), into the Base writer.
 * </ul>
 *
 * The spill directory is created on the first spill and deleted, with every run, when
 * {@link #build} returns or throws. A crash leaves it to {@code Engine.removeOrphans}.
 *
 * <h2>What the budget does not cover</h2>
 * The transient old array while a table doubles one (it becomes garbage at once), per-event garbage,
 * the log readers' buffers, a spill's 64 KiB write buffer, the growth of existing groups' state
 * objects between two new groups, and a table of {@value #MIN_GROUPS_PER_RUN} groups that each task
 * may hold even when its share is smaller (spilling tinier runs would only thrash). The merge takes its
 * read buffers from the budget (see {@link RunMerger}); the Base writer's hash index (16 to 32 bytes
 * per key, see {@link BaseFile.Writer}) is outside it.
 */
final class BatchLayer {

  /** The radix fold's events per bucket aimed at: a partition's record count over this gives its bucket count. */
  static final int EVENTS_PER_BUCKET = 32 << 10;
  /** Events between two judgements of whether the radix fold's combining pays (see {@link RadixFold}). */
  static final int COMBINE_WINDOW = 4096;
  private static final Object[] NO_OBJECTS = new Object[0];
  private static final VarHandle BIG_LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /**
   * Whether the radix fold combines the events of a group before they go to its bucket: by default
   * while a quarter of them find their group in the combine table; tests force either way.
   */
  enum Combine { ADAPTIVE, ALWAYS, NEVER }

  private static final Logger LOG = LoggerFactory.getLogger(BatchLayer.class);

  /** Events between progress reports and cancellation checks. */
  private static final int REPORT_EVERY = 1 << 16;
  /** Key bytes assumed for the next key when predicting a table's growth. */
  private static final int NEXT_KEY_BYTES = 64;
  /** New groups between two samples of the object state's size. */
  private static final int SAMPLE_EVERY = 1024;
  private static final int MAX_INITIAL_KEYS = 1 << 14;
  /** A table is not spilled before it holds this many groups, however small its share. */
  static final int MIN_GROUPS_PER_RUN = 16;

  /**
   * Counters of a running cycle, read by status while it runs.
   *
   * @param withoutKey events the filter admitted that have no value for the view's group key, which
   *     the Base leaves out (as the speed layer does)
   * @param firstError the first exception of an event counted in {@code errors}, for the cycle's log line
   */
  record Counters(AtomicLong events, AtomicLong errors, AtomicLong runsWritten, AtomicLong withoutKey,
      AtomicLong filteredOut, java.util.concurrent.atomic.AtomicReference<RuntimeException> firstError) {
    static Counters create() {
      return new Counters(new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong(), new AtomicLong(),
          new java.util.concurrent.atomic.AtomicReference<>());
    }

    /** The events read that the view's filter did not leave out (those it failed on included). */
    long admitted() {
      return events.get() - filteredOut.get();
    }

    /** Counts an event that an expression or an aggregation failed on, keeping the first exception. */
    void failed(RuntimeException e) {
      errors.incrementAndGet();
      firstError.compareAndSet(null, e);
    }
  }

  /**
   * What one cycle did.
   *
   * @param runsWritten runs spilled from partition tables (intermediate merges not counted)
   * @param intermediateMerges merges of runs into runs before the final merge into the Base
   * @param peakReservedBytes the most the tables held at once, by the budget's account
   * @param bucketsHelped buckets of the radix fold's pass 2 folded by another partition's task
   */
  record Stats(BaseFile.Written base, long runsWritten, long bytesSpilled, int intermediateMerges,
      long peakReservedBytes, long foldNanos, long writeNanos, int bucketsHelped) {

    long keys() {
      return base.keys();
    }

    long groups() {
      return base.groups();
    }
  }

  /** A finished partition's table kept in memory, with the bytes reserved for it. */
  private record Held(int partition, GroupTable table, long bytes) {}

  private final ViewProgram program;
  private final boolean radix;
  private final LogStream stream;
  private final int concurrency;
  private final long budget;
  private final long share;
  private final Counters counters;
  /** The radix fold's events per bucket aimed at (by default {@link #EVENTS_PER_BUCKET}). */
  private final int eventsPerBucket;
  private final Combine combine;
  private final AtomicLong reserved = new AtomicLong();
  private final AtomicLong peakReserved = new AtomicLong();
  private final ConcurrentLinkedQueue<Held> held = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<RunFile> runs = new ConcurrentLinkedQueue<>();
  private final AtomicLong bytesSpilled = new AtomicLong();
  private final AtomicInteger runIds = new AtomicInteger();
  private volatile boolean spilled;
  private volatile boolean cancelled;

  /**
   * Stops a {@link #build} in progress (from another thread): its folds stop at their next check
   * (every {@value #REPORT_EVERY} events) and it throws a {@link CancellationException}.
   */
  void cancel() {
    cancelled = true;
  }
  private Path spillDir; // set once by build
  private boolean spillDirCreated; // guarded by this

  /**
   * @param threads at most this many partitions are folded at once
   * @param memoryBudget bytes for the cycle's tables (and the merge's buffers), shared by all tasks
   */
  BatchLayer(ViewProgram program, LogStream stream, int threads, long memoryBudget, Counters counters) {
    this(program, stream, threads, memoryBudget, counters, true);
  }

  /**
   * @param radixWhenPossible false to fold every view through one table per partition (the path
   *     that views the radix fold does not take use); for tests and measurements that compare the two
   */
  BatchLayer(ViewProgram program, LogStream stream, int threads, long memoryBudget, Counters counters,
      boolean radixWhenPossible) {
    this(program, stream, threads, memoryBudget, counters, radixWhenPossible, EVENTS_PER_BUCKET, Combine.ADAPTIVE);
  }

  /**
   * @param eventsPerBucket the radix fold's events per bucket aimed at (its default
   *     {@value #EVENTS_PER_BUCKET}); tests make it small, so that a few thousand events spread
   *     over many buckets
   * @param combine whether the radix fold combines events ({@link Combine#ADAPTIVE} by default)
   */
  BatchLayer(ViewProgram program, LogStream stream, int threads, long memoryBudget, Counters counters,
      boolean radixWhenPossible, int eventsPerBucket, Combine combine) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, was " + threads);
    }
    if (memoryBudget < 1) {
      throw new IllegalArgumentException("memoryBudget must be positive, was " + memoryBudget);
    }
    this.program = program;
    this.radix = radixWhenPossible && canFoldByRadix(program);
    this.stream = stream;
    this.concurrency = Math.max(1, Math.min(threads, stream.partitions()));
    this.budget = memoryBudget;
    this.share = Math.max(1, memoryBudget / concurrency);
    this.counters = counters;
    this.eventsPerBucket = Math.max(1, eventsPerBucket);
    this.combine = combine;
  }

  /** Whether every group's events live in one partition: the view groups by the stream's key field. */
  static boolean isKeyPartitioned(ViewProgram program) {
    return program.spec.groupBy().strip().equals(program.schema.key().name());
  }

  /**
   * Whether the radix fold applies: the view groups by the stream's key (each key's events in one
   * partition, the record's key slice is the group key), has no windows or tumbling (fixed or zoned)
   * or hopping ones, and its row is fused by a {@link NumericFold} of at most
   * {@value RadixFold#MAX_OPS} aggregations. Session windows are not: which fragment an event joins
   * depends on the key's fragments so far, not on the event alone.
   */
  static boolean canFoldByRadix(ViewProgram program) {
    NumericFold f = program.fusedFold();
    return program.groupsByRecordKey() && program.windowKind != ViewProgram.SESSION && f != null
        && f.ops() <= RadixFold.MAX_OPS;
  }

  /** Whether this cycle folds by radix partitions ({@link #canFoldByRadix} and not turned off). */
  boolean foldsByRadix() {
    return radix;
  }

  /**
   * Recomputes the view over {@code [0, cut)} and writes its Base to {@code base} (atomically, see
   * {@link BaseFile.Writer}). Runs go to {@code spillDir}, which is deleted before this returns or
   * throws.
   */
  Stats build(Cut cut, Path base, Path spillDir) throws IOException, InterruptedException {
    if (this.spillDir != null) {
      throw new IllegalStateException("a BatchLayer builds one Base; make a new one per cycle");
    }
    this.spillDir = spillDir;
    long started = System.nanoTime();
    int partitions = stream.partitions();
    ExecutorService pool = Executors.newFixedThreadPool(concurrency, r -> {
      Thread t = new Thread(r, "braid-batch-" + program.spec.name());
      t.setDaemon(true);
      return t;
    });
    try {
      if (radix) {
        return buildByRadix(cut, base, pool, started);
      }
      List<Future<?>> tasks = new ArrayList<>(partitions);
      for (int p = 0; p < partitions; p++) {
        Fold fold = new Fold(p);
        long end = cut.offset(p);
        tasks.add(pool.submit(() -> {
          fold.run(end);
          return null;
        }));
      }
      awaitAll(tasks);
      long folded = System.nanoTime();
      boolean inMemory = !spilled && (partitions == 1 || isKeyPartitioned(program) || reserved.get() <= budget / 2);
      Built built = inMemory ? new Built(writeFromMemory(cut, base, pool), 0) : writeFromRuns(cut, base, pool);
      return new Stats(built.base(), counters.runsWritten().get(), bytesSpilled.get(), built.merges(),
          peakReserved.get(), folded - started, System.nanoTime() - folded, 0);
    } finally {
      cancelled = true;
      shutdown(pool);
      held.clear();
      try {
        deleteTree(spillDir);
      } catch (IOException e) {
        LOG.warn("could not delete the spill directory {}; the next start removes it", spillDir, e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Folding one partition
  // ---------------------------------------------------------------------------------------------

  /** One partition's task: its table, the bytes it has reserved, its scratch. Owned by one thread. */
  private final class Fold {
    private final int partition;
    private final ViewProgram.Scratch x = program.scratch();
    private final RecordChunk chunk = new RecordChunk();
    private final boolean touch = isKeyPartitioned(program);
    private final RunFile.Sorter sorter = new RunFile.Sorter();
    private final DataBuffer sample = program.objectWidth == 0 ? null : new DataBuffer(256);
    private GroupTable table;
    private long mine;
    private int groupsSeen;
    private int sampleCountdown = 64;
    private long objectBytesPerGroup = 16L * program.objectWidth;
    private long random;

    Fold(int partition) {
      this.partition = partition;
      this.random = 0x9E3779B97F4A7C15L * (partition + 1);
    }

    void run(long end) throws IOException {
      newTable();
      try (LogReader r = stream.reader(partition, stream.startOffset(partition))) {
        long counted = 0;
        long withoutKey = 0;
        long filteredOut = 0;
        while (r.position() < end) {
          RecordCursor c = r.poll();
          boolean any = false;
          boolean more = c.next() && c.offset() < end;
          while (more) {
            more = chunk.fill(c, end, RecordChunk.CAPACITY);
            if (touch) {
              chunk.touch(table);
            }
            for (int j = 0; j < chunk.size; j++) {
              any = true;
              try {
                int folded = program.apply(table, x, chunk, j, partition);
                if (folded == ViewProgram.NULL_KEY) {
                  withoutKey++;
                } else if (folded == 0) {
                  filteredOut++;
                }
              } catch (RuntimeException e) {
                // The speed layer skips such an event too, so Base and Delta still agree.
                counters.failed(e);
              }
              counted++;
              if (table.groupCount() != groupsSeen) {
                afterNewGroup();
              }
            }
            chunk.clear();
          }
          if (!any) {
            break;
          }
          if (counted >= REPORT_EVERY) {
            counters.events().addAndGet(counted);
            counted = 0;
            if (cancelled) {
              throw new CancellationException("batch cycle of view '" + program.spec.name() + "' was abandoned");
            }
          }
        }
        counters.events().addAndGet(counted);
        counters.withoutKey().addAndGet(withoutKey);
        counters.filteredOut().addAndGet(filteredOut);
      }
      finish();
    }

    /**
     * Starts with a table sized to a quarter of the share at most, smaller when the account cannot
     * reserve that, and at least room for {@value #MIN_GROUPS_PER_RUN} keys, reserved even beyond the
     * budget.
     */
    private void newTable() {
      long perKey = tableBytes(1 << 12) >> 12; // about, to pick a first size
      int keys = (int) Math.min(MAX_INITIAL_KEYS, Long.highestOneBit(Math.max(1, share / perKey / 4)));
      while (keys > MIN_GROUPS_PER_RUN && !tryReserve(tableBytes(keys))) {
        keys >>= 2;
      }
      if (keys > MIN_GROUPS_PER_RUN) {
        mine = tableBytes(keys);
      } else {
        keys = MIN_GROUPS_PER_RUN;
        mine = 0;
      }
      table = program.newTable(keys);
      long actual = table.memoryBytes();
      if (actual > mine) {
        forceReserve(actual - mine);
      } else {
        release(mine - actual);
      }
      mine = actual;
    }

    /** Bytes the table may hold before the next event is folded (see the class comment). */
    private long footprint() {
      long b = table.memoryBytesAfterInsert(NEXT_KEY_BYTES) + Math.max(sorter.sortBytes(),
          8L * (table.keyCount() + 1));
      if (sample != null) {
        b += (long) table.groupCount() * objectBytesPerGroup;
      }
      return b;
    }

    private void afterNewGroup() throws IOException {
      int groups = table.groupCount();
      if (sample != null) {
        sampleCountdown -= groups - groupsSeen;
        if (sampleCountdown <= 0) {
          sampleObjectBytes();
          sampleCountdown = SAMPLE_EVERY;
        }
      }
      groupsSeen = groups;
      long need = footprint();
      if (need <= mine) {
        return;
      }
      if (need <= share) {
        // Reserve an eighth ahead, so that a growing table does not touch the shared account per key.
        long ahead = Math.min(share, need + need / 8);
        if (tryReserve(ahead - mine)) {
          mine = ahead;
          return;
        }
        if (reserve(need - mine, sorter)) {
          mine = need;
          return;
        }
      }
      if (table.groupCount() < MIN_GROUPS_PER_RUN) { // a share too small for even this: overshoot, not thrash
        forceReserve(need - mine);
        mine = need;
        return;
      }
      RunFile run = spill(partition, table, sorter);
      if (sample != null && run.groups() > 0) {
        objectBytesPerGroup = Math.max(16L * program.objectWidth, run.bytes() / run.groups());
      }
      groupsSeen = 0;
      long after = footprint(); // the cleared table keeps its arrays
      if (after > mine) {
        forceReserve(after - mine);
        mine = after;
      }
    }

    /** Serializes one random group's row to refresh the estimate of object state per group. */
    private void sampleObjectBytes() throws IOException {
      random ^= random << 13;
      random ^= random >>> 7;
      random ^= random << 17;
      int g = (int) Math.floorMod(random, (long) table.groupCount());
      sample.reset();
      program.writeRow(sample, table.longs, g * table.stride, table.objects, g * table.objectWidth, x);
      long estimate = sample.size() + 16L * program.objectWidth;
      objectBytesPerGroup = (objectBytesPerGroup * 3 + estimate) / 4;
    }

    private void finish() throws IOException {
      GroupTable t = table;
      table = null;
      if (t.keyCount() == 0) {
        release(mine);
      } else if (spilled) {
        spill(partition, t, sorter);
        release(mine);
      } else {
        held.add(new Held(partition, t, mine));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The radix fold
  // ---------------------------------------------------------------------------------------------

  /**
   * Folds every partition with a {@link RadixFold}, whose tasks append finished buckets straight to
   * the Base writer, then merges whatever they spilled into it.
   */
  private Stats buildByRadix(Cut cut, Path base, ExecutorService pool, long started)
      throws IOException, InterruptedException {
    int partitions = stream.partitions();
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, program, cut, 1 << 16)) {
      List<Future<?>> tasks = new ArrayList<>(partitions);
      List<RadixFold> folds = new ArrayList<>(partitions);
      for (int p = 0; p < partitions; p++) {
        folds.add(new RadixFold(p, w, folds));
      }
      for (int p = 0; p < partitions; p++) {
        RadixFold fold = folds.get(p);
        long end = cut.offset(p);
        tasks.add(pool.submit(() -> {
          fold.run(end);
          return null;
        }));
      }
      awaitAll(tasks);
      long folded = System.nanoTime();
      List<RunFile> all = new ArrayList<>(runs);
      runs.clear();
      int merges = 0;
      if (!all.isEmpty()) {
        // Runs hold the keys of buckets that did not fit, disjoint from every key already appended.
        RunMerger merger = new RunMerger(program, budget);
        merger.mergeAll(all, w, () -> newRunPath("merge"));
        merges = merger.intermediateMerges();
      }
      BaseFile.Written written = w.finish(pool); // the pool's threads are idle now: one builds half the index
      int helped = folds.stream().mapToInt(f -> f.helped).sum();
      return new Stats(written, counters.runsWritten().get(), bytesSpilled.get(), merges,
          peakReserved.get(), folded - started, System.nanoTime() - folded, helped);
    }
  }

  /**
   * One partition's task when the view {@link #canFoldByRadix}: the fold in two passes, after
   * DuckDB's radix-partitioned aggregation.
   *
   * <h2>Why</h2>
   * Folding events one by one into a table of a million keys misses the caches on every event (slot,
   * key info, state row), however well the misses overlap. A batch cycle sees all its events up front,
   * so it can first move them to where their key's state will be: <b>pass 1</b> reads the partition
   * and appends each event, as (hash, key bytes, the values its aggregations read), to one of
   * {@code P} buckets chosen by the hash's top bits, writing {@code P} sequential streams; <b>pass
   * 2</b> folds one bucket at a time into a table that holds only that bucket's keys (a few thousand,
   * small enough for the L2 cache), then writes the bucket's groups to the Base and clears the table
   * for the next bucket. Keys of different buckets (and partitions) are disjoint, so a bucket's groups
   * are final once the bucket is folded, and both threads write to the Base as they go, each through a
   * {@link BaseFile.Section} of its own.
   *
   * <h2>Combining</h2>
   * Where a group's events come close together in the log (Nexmark's bids: half of them go to the
   * latest hot auction, the rest mostly to a few hundred auctions in flight), pass 1 first folds each
   * event into a small direct-mapped <em>combine table</em> of {@value #COMBINE_SLOTS} groups (key
   * hash, key bytes up to {@value #COMBINE_KEY_BYTES}, window start, the row), as DuckDB pre-aggregates
   * in a thread-local table before it partitions. A group that loses its slot to another, and every
   * group at the end of the pass, goes to its bucket as a <em>row entry</em>, which pass 2 merges into
   * the table with each aggregation's {@code merge}. On Q17 (10 M events) 92 % of the bids found
   * their group in the table, and the entries fell from one per bid to about one per (auction, day).
   * Only rows whose every op is exact in any order combine ({@link NumericFold#exactInAnyOrder}:
   * counts and long sums, minimums, maximums, averages), so a group's state is the same, bit for bit,
   * as the one-by-one fold's; not hopping windows, whose events go to several groups. Combining stops
   * for the rest of the task (its groups go to their buckets) once fewer than a quarter of
   * {@value BatchLayer#COMBINE_WINDOW} events in a row found their group in the table: with a million
   * keys in random order (the views benchmark) it stops after the first window.
   *
   * <h2>Windows</h2>
   * A windowed view's group is (key, window start). The bucket is still chosen by the key's hash
   * alone, so all windows of a key land in one bucket and a key's Base entry (all its windows) is
   * final once its bucket is folded. Pass 1 computes the event's window start as the one-pass fold
   * does (tumbling: {@code floorDiv(t, size) * size}; zoned: {@link dev.braid.spec.WindowSpec#start},
   * cached per window; hopping: the latest window that holds the event and how many hops back hold it
   * too) and puts it in the entry; pass 2 folds into a windowed {@link GroupTable} and writes each key
   * with its windows in the table's order, as {@link BaseFile#write} writes the one-pass fold's tables
   * (a Base's entry lists its windows in no particular order; readers do not depend on it).
   *
   * <h2>Same results</h2>
   * The hash is a fast one of the record's key slice (8 bytes at a time), used only to pick buckets and
   * table slots; the Base and runs still get each key's {@link GroupTable#hash}, computed once per key.
   * Pass 1 writes a bucket's entries first to its 256 bytes of a small <em>staging area</em> and copies
   * them to the bucket's array a few cache lines at a time, as radix partitioners buffer their output
   * in software ({@link #stage}): with 128 or more buckets, writing each entry straight to its bucket
   * touched a new cache line of one of them every other event, and the views benchmark's batch cycle
   * used 11 % more CPU (docs/PERFORMANCE.md). Staged entries are copied in order, before anything
   * reads the buckets and before an entry too large to stage goes straight to its bucket.
   * A bucket keeps its events in log order, so each group sees its events in the same order as the
   * one-pass fold, through {@link NumericFold#addExtracted}, which applies the same helpers to the
   * values {@link NumericFold#extract} read. Skipped events (filter, null key) and events that throw
   * are handled as {@link ViewProgram#apply} handles them (an event whose values fail to read still
   * creates its key and updates the row up to the failing aggregation, as the one-pass fold would; for a
   * hopping view only in the first of its windows, where the one-pass fold stopped).
   *
   * <h2>The memory budget</h2>
   * The buckets' arrays and the table are reserved from the cycle's account like a {@link Fold}'s
   * table, within the task's share. Buckets are sized from the partition's record count at the first
   * record; when they cannot grow, the task ends a <em>round</em>: it folds every bucket so far into
   * the table, spills the table as a sorted run (spilling it earlier if it outgrows the share), empties
   * the buckets (cutting each, once folded, to its part of half the share, so that the table, not the
   * buckets, gets the memory the buckets held) and reads on; after any round, the last one is flushed the same way, so all of that
   * partition's keys go through runs and {@link RunMerger}. Without rounds, a bucket's array is
   * released as soon as it is folded; a bucket whose table had to be spilled part way goes to runs
   * whole. Not covered: a section's buffer (256 KiB), the staging area (256 bytes per bucket, at most
   * 256 KiB), the combine table ({@value #COMBINE_SLOTS}
   * keys and rows, under 200 KiB for rows of 16 longs) and the Base writer's key positions (8 bytes
   * per key), as for the one-pass fold's Base write.
   *
   * <h2>Bucket entry</h2>
   * <pre>
   *   int hash | int key length (bits 0-25), skip flags of ops 0-4 (bits 26-30: null or where), partial (bit 31)
   *   | [int skip flags of every op, if the row has more than 5 ops; bits 26-30 are then 0]
   *   | [long window start, if windowed] | [int windows, if hopping: starts, every apart, going back]
   *   | key bytes | [int ops applied, if partial] | one long per op that reads a value
   * </pre>
   * A row entry (a combined group) has the partial bit, null flags 0, {@link #ROW} where the ops
   * applied are, and then the group's row ({@code longWidth} longs) instead of values.
   * A row of at most 5 ops (count + sum, the commonest) keeps its null flags in the header, so its
   * entries are as short as before rows of up to {@value #MAX_OPS} ops were taken.
   */
  private final class RadixFold {

    /** The most aggregations a row may have: one bit each in an int of skip flags (see {@link NumericFold#extract}). */
    static final int MAX_OPS = Integer.SIZE;
    /** Rows of at most this many ops keep their null flags in the entry's header. */
    private static final int INLINE_FLAGS = 5;
    private static final int LENGTH_BITS = 26;
    private static final int LENGTH_MASK = (1 << LENGTH_BITS) - 1;
    private static final int PARTIAL = 1 << 31;
    private static final int MAX_BUCKET_BITS = 10;
    private static final int MIN_BUCKET_BYTES = 1 << 10;
    private static final int FIRST_TABLE_KEYS = 1 << 12;
    /** The ops-applied int of a partial entry that marks a <em>row entry</em>: a combined row follows. */
    private static final int ROW = -1;
    private static final int COMBINE_SLOTS = 1 << 10;
    /** Staging bytes per bucket (see {@link #stage}); 0 writes every entry straight to its bucket. */
    private static final int STAGE_BYTES = Math.max(0, Integer.getInteger("braid.batch.stageBytes", 256));
    /** Keys longer than this are not combined. */
    private static final int COMBINE_KEY_BYTES = 32;
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private final int partition;
    private final BaseFile.Writer writer;
    private final BaseFile.Section section = new BaseFile.Section(program);
    private final ViewProgram.Scratch x = program.scratch();
    private final NumericFold fold = program.fusedFold();
    private final int keyField = program.recordKeyField();
    private final int valueBytes = fold.extractedBytes();
    private final int ops = fold.ops();
    /** Whether null flags have an int of their own in an entry (more than {@value #INLINE_FLAGS} ops). */
    private final boolean wideFlags = ops > INLINE_FLAGS;
    private final int windowKind = program.windowKind;
    private final boolean windowed = windowKind != ViewProgram.NO_WINDOW;
    private final long windowSize = windowed ? program.window.sizeMillis() : 0;
    private final long windowEvery = windowKind == ViewProgram.HOPPING ? program.window.every().toMillis() : 0;
    /** Bytes of an entry between its header and its key bytes: flags, window start, window count. */
    private final int extraBytes = (wideFlags ? 4 : 0) + (windowed ? 8 : 0) + (windowKind == ViewProgram.HOPPING ? 4 : 0);
    /** The zoned window the last event fell in, so that {@code java.time} runs once per window. */
    private long zonedStart = 1;
    private long zonedEnd = 0;
    private final RunFile.Sorter sorter = new RunFile.Sorter();
    /** Whether events are combined now; once off (they did not repeat), off for the rest of the task. */
    private boolean combining = combine != Combine.NEVER && fold.exactInAnyOrder() && program.objectWidth == 0
        && windowKind != ViewProgram.HOPPING;
    /**
     * The combine table, direct-mapped by key hash: per slot its key's length (-1: empty), hash,
     * window start and bytes, and the row its events were folded into so far.
     */
    private int[] combinedLength;
    private int[] combinedHash;
    private long[] combinedWindow;
    private byte[] combinedKeys;
    private long[] combinedRows;
    private final int rowWidth = program.longWidth;
    private final long[] row = new long[Math.max(1, program.longWidth)];
    private int windowEvents;
    private int windowHits;
    private int bits;
    /** Per bucket, the array entries are appended to, and how much of it they fill. */
    private byte[][] data;
    private int[] used;
    /**
     * Per bucket, {@link #STAGE_BYTES} of one small array where entries gather before they are
     * copied to the bucket's array a few cache lines at a time, and how much of it they fill: the
     * scatter's stores then hit a few cache-resident lines instead of one new line per bucket.
     */
    private byte[] stage;
    private int[] staged;
    /** The array {@link #place} chose for the entry being written. */
    private byte[] into;
    /**
     * Per bucket, the arrays it filled before {@code data[b]}, oldest first, and how much of each
     * holds entries: a bucket that outgrows its estimate takes another array rather than copying
     * itself into a larger one (Nexmark Q17's keys grow longer as auction ids grow, so the first
     * entry's size underestimated every bucket, and the copies were 15 % of a batch cycle's CPU).
     */
    private byte[][][] sealed;
    private int[][] sealedUsed;
    private int[] sealedCount;
    private long records;
    /** Bytes this task holds reserved: buckets' capacities plus {@link #tableBytes}. */
    private long mine;
    private long tableBytes;
    private GroupTable table;
    private int groupsSeen;
    /** Rounds spilled so far; once one has, every key of this partition goes through runs. */
    private int rounds;
    /** Whether the table was spilled while folding the current bucket. */
    private boolean tableSpilled;

    /** Every partition's fold of this cycle, this one included: whose pass 2 this task may help with. */
    private final List<RadixFold> folds;
    /** Opened once pass 2 may be helped with ({@link #open}) or never will be. */
    private final CountDownLatch gate = new CountDownLatch(1);
    /** Whether other tasks may fold this task's buckets: set before {@link #gate} opens, in pass 2 without rounds. */
    private volatile boolean open;
    /** The next of this task's buckets to fold, for this task and its helpers alike. */
    private final AtomicInteger nextBucket = new AtomicInteger();
    /** How many buckets pass 2 has, and a count down as each is folded, by whichever task claimed it. */
    private int openBuckets;
    private CountDownLatch bucketsDone;
    /** Bytes of this task's buckets that helpers released from the account on its behalf. */
    private final AtomicLong freedByHelpers = new AtomicLong();
    /** Buckets of other tasks this one folded; read once every task has ended. */
    private int helped;

    RadixFold(int partition, BaseFile.Writer writer, List<RadixFold> folds) {
      this.partition = partition;
      this.writer = writer;
      this.folds = folds;
    }

    void run(long end) throws IOException, InterruptedException {
      try {
        long start = stream.startOffset(partition);
        records = Math.max(0, end - start); // an upper bound: offsets may have gaps
        scatter(start, end);
        stopCombining();
        flushStages();
        if (data != null && rounds == 0) {
          openBuckets = data.length;
          bucketsDone = new CountDownLatch(openBuckets);
          open = true;
        }
        gate.countDown(); // pass 2 is open to helpers, or never will be
        if (open) {
          foldBuckets(this);
          bucketsDone.await(); // the buckets helpers claimed
        } else if (data != null) {
          flushRound();
        }
        if (rounds == 0) {
          takeBackFreed();
          helpOthers();
        }
        appendSection();
      } finally {
        gate.countDown(); // whatever happened above: a task waiting for this one's pass 2 goes on
        closeToHelpers();
        data = null;
        sealed = null;
        sealedUsed = null;
        stage = null;
        table = null;
        takeBackFreed();
        release(mine);
        mine = 0;
      }
    }

    /**
     * Takes off {@link #mine} the bytes of this task's buckets that helpers have released from the
     * account, so that this task's table may grow into them.
     */
    private void takeBackFreed() {
      mine -= freedByHelpers.getAndSet(0);
    }

    /**
     * After a failure: claims the buckets no task has claimed yet, then waits for the ones helpers
     * are folding, so that nobody reads this task's buckets once it lets go of them. The helpers
     * finish (or fail) their one bucket each without waiting for anything.
     */
    private void closeToHelpers() {
      if (!open) {
        return;
      }
      int n = openBuckets;
      for (int b = nextBucket.getAndSet(n); b < n; b++) {
        bucketsDone.countDown();
      }
      boolean interrupted = false;
      while (true) {
        try {
          bucketsDone.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }

    /**
     * Once this task's own buckets are folded, folds buckets of the other partitions' tasks that are
     * still in pass 2, so that both threads stay busy to the cycle's end: one partition's scatter
     * often takes 100-150 ms longer than the other's on the 2-vCPU VM. Buckets hold disjoint keys,
     * so a bucket folded by another task's table goes to the Base as it would from its own. When
     * every task has a thread of its own, waits for each to reach pass 2; otherwise helps only those
     * already there (a task still queued needs this thread more, and waiting for it could wait forever).
     */
    private void helpOthers() throws IOException, InterruptedException {
      boolean wait = folds.size() <= concurrency;
      for (RadixFold other : folds) {
        if (other == this) {
          continue;
        }
        if (wait) {
          other.gate.await();
        } else if (other.gate.getCount() > 0) {
          continue;
        }
        if (other.open) {
          foldBuckets(other);
        }
      }
    }

    /** Claims and folds {@code owner}'s buckets, one at a time, until none is left to claim. */
    private void foldBuckets(RadixFold owner) throws IOException {
      // Only a claimed bucket's arrays are read: the owner keeps them until every claimed bucket is done.
      int n = owner.openBuckets;
      for (int b = owner.nextBucket.getAndIncrement(); b < n; b = owner.nextBucket.getAndIncrement()) {
        if (owner == this) {
          takeBackFreed();
        }
        try {
          foldBucket(owner, b);
        } finally {
          owner.bucketsDone.countDown();
        }
      }
    }

    // -- pass 1 ------------------------------------------------------------------------------------

    private void scatter(long start, long end) throws IOException {
      EventReader e = x.reader;
      try (LogReader r = stream.reader(partition, start)) {
        long counted = 0;
        long withoutKey = 0;
        long filteredOut = 0;
        while (r.position() < end) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (c.next() && c.offset() < end) {
            any = true;
            counted++;
            ByteBuffer buf = c.buffer();
            e.wrap(buf, c.valueOffset(), c.valueLength()).at(partition, c.offset(), c.eventTime());
            try {
              if (!program.admit(e, x)) {
                filteredOut++;
                continue;
              }
              if (e.isNull(keyField)) {
                withoutKey++;
                continue;
              }
            } catch (RuntimeException ex) {
              counters.failed(ex); // as the one-pass fold: skipped, counted
              continue;
            }
            append(buf, c.keyOffset(), c.keyLength(), e);
          }
          if (!any) {
            break;
          }
          if (counted >= REPORT_EVERY) {
            counters.events().addAndGet(counted);
            counted = 0;
            if (cancelled) {
              throw new CancellationException("batch cycle of view '" + program.spec.name() + "' was abandoned");
            }
          }
        }
        counters.events().addAndGet(counted);
        counters.withoutKey().addAndGet(withoutKey);
        counters.filteredOut().addAndGet(filteredOut);
      }
    }

    private void append(ByteBuffer buf, int keyOffset, int keyLength, EventReader e) throws IOException {
      if (keyLength > LENGTH_MASK) {
        throw new IllegalStateException("a record key of " + keyLength + " bytes is longer than a bucket entry takes");
      }
      int hash = hash(buf, keyOffset, keyLength);
      if (data == null) {
        createBuckets(8 + extraBytes + keyLength + valueBytes);
      }
      if (combining && keyLength <= COMBINE_KEY_BYTES) {
        combine(buf, keyOffset, keyLength, hash, e);
        return;
      }
      int b = bits == 0 ? 0 : hash >>> (32 - bits);
      int need = 12 + extraBytes + keyLength + valueBytes; // room for the partial case's extra int too
      int at = place(b, need);
      byte[] a = into;
      int keyAt = at + 8 + extraBytes;
      if (windowed) {
        writeWindows(a, at + 8 + (wideFlags ? 4 : 0), e.eventTime());
      }
      int values = keyAt + keyLength;
      int header = keyLength;
      long skip = x.skip[0]; // all zero without where conditions
      int nulls;
      try {
        nulls = (int) fold.extract(e, a, values, ops, skip);
      } catch (RuntimeException ex) {
        counters.failed(ex); // the one-pass fold counts it and keeps what it did
        int limit = fold.opsBeforeFailure(e, skip);
        INT.set(a, values, limit);
        values += 4;
        header |= PARTIAL;
        nulls = (int) fold.extract(e, a, values, limit, skip);
      }
      INT.set(a, at, hash);
      if (wideFlags) {
        INT.set(a, at + 4, header);
        INT.set(a, at + 8, nulls);
      } else {
        INT.set(a, at + 4, header | (nulls << LENGTH_BITS));
      }
      buf.get(keyOffset, a, keyAt, keyLength);
      placed(b, values + valueBytes);
    }

    /**
     * Where the next entry of bucket {@code b}, of at most {@code need} bytes, goes: sets {@link #into}
     * to the staging area or the bucket's array and returns the offset in it. Keeps room in the
     * bucket's array for what its staging holds, so that {@link #flushStage} never has to grow it.
     */
    private int place(int b, int need) throws IOException {
      if (used[b] + staged[b] + need > data[b].length) {
        flushStage(b);
        growBucket(b, need);
      }
      if (need <= STAGE_BYTES) {
        if (staged[b] + need > STAGE_BYTES) {
          flushStage(b);
        }
        into = stage;
        return b * STAGE_BYTES + staged[b];
      }
      flushStage(b); // a large entry goes straight to the bucket, after what was staged before it
      into = data[b];
      return used[b];
    }

    /** Records that the entry {@link #place} placed ends at {@code end}. */
    private void placed(int b, int end) {
      if (into == stage) {
        staged[b] = end - b * STAGE_BYTES;
      } else {
        used[b] = end;
      }
    }

    /** Copies bucket {@code b}'s staged entries to the end of its array (which has room for them). */
    private void flushStage(int b) {
      int n = staged[b];
      if (n > 0) {
        System.arraycopy(stage, b * STAGE_BYTES, data[b], used[b], n);
        used[b] += n;
        staged[b] = 0;
      }
    }

    /** Copies every bucket's staged entries to its array: before anything reads the buckets. */
    private void flushStages() {
      if (data != null) {
        for (int b = 0; b < data.length; b++) {
          flushStage(b);
        }
      }
    }

    /**
     * Writes at {@code a[at ..]} the start of the window of event time {@code t} and, for hopping
     * windows, how many windows hold it: the same starts, in the same order, as the one-pass fold
     * ({@code ViewProgram.foldWindows}) computes.
     */
    private void writeWindows(byte[] a, int at, long t) {
      switch (windowKind) {
        case ViewProgram.TUMBLING:
        case ViewProgram.ZONED:
          LONG.set(a, at, windowStart(t));
          break;
        default: { // HOPPING
          long last = Math.floorDiv(t, windowEvery) * windowEvery;
          long first = t - windowSize; // windows starting after this hold t
          int n = 0;
          for (long s = last; s > first; s -= windowEvery) {
            n++;
          }
          LONG.set(a, at, last);
          INT.set(a, at + 8, n);
        }
      }
    }

    /** The start of the tumbling (fixed or zoned) window that holds event time {@code t}. */
    private long windowStart(long t) {
      if (windowKind == ViewProgram.TUMBLING) {
        return Math.floorDiv(t, windowSize) * windowSize;
      }
      if (t < zonedStart || t >= zonedEnd) {
        zonedStart = program.window.start(t);
        zonedEnd = program.window.end(zonedStart);
      }
      return zonedStart;
    }

    // -- combining ---------------------------------------------------------------------------------

    /**
     * Folds the event into its group's row in the combine table, evicting the group that held its
     * slot (as a row entry) if another did; then, every {@value BatchLayer#COMBINE_WINDOW} events,
     * stops combining if fewer than a quarter of them found their group there (see the class comment).
     */
    private void combine(ByteBuffer buf, int keyOffset, int keyLength, int hash, EventReader e) throws IOException {
      if (combinedLength == null) {
        combinedLength = new int[COMBINE_SLOTS];
        java.util.Arrays.fill(combinedLength, -1);
        combinedHash = new int[COMBINE_SLOTS];
        combinedWindow = new long[COMBINE_SLOTS];
        combinedKeys = new byte[COMBINE_SLOTS * COMBINE_KEY_BYTES];
        combinedRows = new long[COMBINE_SLOTS * rowWidth];
      }
      long window = windowed ? windowStart(e.eventTime()) : 0;
      int s = hash & (COMBINE_SLOTS - 1);
      int keyAt = s * COMBINE_KEY_BYTES;
      boolean hit = combinedLength[s] == keyLength && combinedHash[s] == hash && combinedWindow[s] == window
          && sameBytes(buf, keyOffset, combinedKeys, keyAt, keyLength);
      if (!hit) {
        if (combinedLength[s] >= 0) {
          evict(s);
        }
        combinedLength[s] = keyLength;
        combinedHash[s] = hash;
        combinedWindow[s] = window;
        buf.get(keyOffset, combinedKeys, keyAt, keyLength);
        program.zero(combinedRows, s * rowWidth, NO_OBJECTS, 0);
      }
      try {
        fold.add(combinedRows, s * rowWidth, e, x.skip[0]);
      } catch (RuntimeException ex) {
        counters.failed(ex); // as the one-pass fold: the ops before the failing one stay added
      }
      windowHits += hit ? 1 : 0;
      if (++windowEvents == COMBINE_WINDOW) {
        if (combine == Combine.ADAPTIVE && windowHits < COMBINE_WINDOW / 4) {
          stopCombining();
        }
        windowEvents = 0;
        windowHits = 0;
      }
    }

    /** Evicts every group of the combine table into its bucket; events are appended one by one from now on. */
    private void stopCombining() throws IOException {
      combining = false;
      if (combinedLength != null) {
        for (int s = 0; s < COMBINE_SLOTS; s++) {
          if (combinedLength[s] >= 0) {
            evict(s);
          }
        }
        combinedLength = null;
        combinedHash = null;
        combinedWindow = null;
        combinedKeys = null;
        combinedRows = null;
      }
    }

    /**
     * Appends slot {@code s}'s group to its bucket as a row entry: the header of a partial entry with
     * null flags 0, its window start, key bytes, {@link #ROW} where a partial entry's op count is,
     * and the row's longs.
     */
    private void evict(int s) throws IOException {
      int len = combinedLength[s];
      int hash = combinedHash[s];
      int b = bits == 0 ? 0 : hash >>> (32 - bits);
      int need = 12 + extraBytes + len + 8 * rowWidth;
      int at = place(b, need);
      byte[] a = into;
      INT.set(a, at, hash);
      INT.set(a, at + 4, len | PARTIAL);
      if (wideFlags) {
        INT.set(a, at + 8, 0);
      }
      if (windowed) {
        LONG.set(a, at + 8 + (wideFlags ? 4 : 0), combinedWindow[s]);
      }
      int keyAt = at + 8 + extraBytes;
      System.arraycopy(combinedKeys, s * COMBINE_KEY_BYTES, a, keyAt, len);
      int rowAt = keyAt + len;
      INT.set(a, rowAt, ROW);
      rowAt += 4;
      for (int i = 0; i < rowWidth; i++) {
        LONG.set(a, rowAt + 8 * i, combinedRows[s * rowWidth + i]);
      }
      placed(b, rowAt + 8 * rowWidth);
      combinedLength[s] = -1;
    }

    /** Buckets for the partition's records, sized from the first entry, within the share. */
    private void createBuckets(int entryBytes) {
      int want = (int) Math.min(MAX_BUCKET_BITS, Math.max(0, 63 - Long.numberOfLeadingZeros(
          Math.max(1, records / eventsPerBucket))));
      while (want > 0 && ((long) MIN_BUCKET_BYTES << want) > share / 4) {
        want--;
      }
      bits = want;
      int n = 1 << bits;
      data = new byte[n][];
      used = new int[n];
      stage = new byte[n * STAGE_BYTES];
      staged = new int[n];
      sealed = new byte[n][][];
      sealedUsed = new int[n][];
      sealedCount = new int[n];
      long perBucket = Math.max(MIN_BUCKET_BYTES, records * entryBytes / n + records * entryBytes / n / 16);
      long allowed = Math.max(MIN_BUCKET_BYTES, (share * 3 / 4) / n);
      int capacity = (int) Math.min(Integer.MAX_VALUE - 64, perBucket);
      if (!grow((long) capacity * n)) {
        capacity = (int) Math.min(capacity, allowed);
        while (capacity > MIN_BUCKET_BYTES && !grow((long) capacity * n)) {
          capacity >>= 1;
        }
        if (capacity <= MIN_BUCKET_BYTES) {
          capacity = MIN_BUCKET_BYTES;
          forceReserve((long) capacity * n); // the floor, as a Fold's smallest table
          mine += (long) capacity * n;
        }
      }
      for (int b = 0; b < n; b++) {
        data[b] = new byte[capacity];
      }
    }

    /**
     * Makes room for {@code need} more bytes in bucket {@code b}: seals its array and gives it
     * another, a quarter of what it holds (the estimate was short by a little, or the keys' hashes
     * are skewed), or ends a round when that does not fit the share.
     */
    private void growBucket(int b, int need) throws IOException {
      long cap = Math.min(Integer.MAX_VALUE - 64, Math.max(need, Math.max(MIN_BUCKET_BYTES, bucketBytes(b) / 4)));
      if (grow(cap)) {
        if (used[b] > 0) {
          seal(b);
        } else { // an empty array too small for one entry: nothing to keep
          release(data[b].length);
          mine -= data[b].length;
        }
        data[b] = new byte[(int) cap];
        used[b] = 0;
        return;
      }
      flushRound();
      if (need > data[b].length) { // one entry larger than a bucket: take it, as a Fold takes a tiny table
        forceReserve(need - data[b].length);
        mine += need - data[b].length;
        data[b] = new byte[need];
      }
    }

    private void seal(int b) {
      int c = sealedCount[b];
      if (sealed[b] == null) {
        sealed[b] = new byte[4][];
        sealedUsed[b] = new int[4];
      } else if (c == sealed[b].length) {
        sealed[b] = java.util.Arrays.copyOf(sealed[b], c * 2);
        sealedUsed[b] = java.util.Arrays.copyOf(sealedUsed[b], c * 2);
      }
      sealed[b][c] = data[b];
      sealedUsed[b][c] = used[b];
      sealedCount[b] = c + 1;
    }

    /** The bytes bucket {@code b}'s arrays hold, sealed and current. */
    private long bucketBytes(int b) {
      long n = data[b].length;
      for (int i = 0; i < sealedCount[b]; i++) {
        n += sealed[b][i].length;
      }
      return n;
    }

    /** Lets go of bucket {@code b}'s sealed arrays (their entries folded) and gives back their bytes. */
    private long dropSealed(int b) {
      long freed = dropSealedArrays(b);
      release(freed);
      mine -= freed;
      return freed;
    }

    /** Lets go of bucket {@code b}'s sealed arrays and returns their bytes, for the caller to account. */
    private long dropSealedArrays(int b) {
      long freed = 0;
      for (int i = 0; i < sealedCount[b]; i++) {
        freed += sealed[b][i].length;
      }
      sealed[b] = null;
      sealedUsed[b] = null;
      sealedCount[b] = 0;
      return freed;
    }

    // -- pass 2 ------------------------------------------------------------------------------------

    /**
     * Folds {@code owner}'s bucket {@code b} alone into this task's table and writes its groups to the
     * Base (or runs, if it did not fit), then lets go of the bucket's arrays.
     */
    private void foldBucket(RadixFold owner, int b) throws IOException {
      if (owner.used[b] > 0 || owner.sealedCount[b] > 0) {
        tableSpilled = false;
        if (table == null) {
          newTable();
        } else {
          table.clear();
          groupsSeen = 0;
        }
        foldInto(owner, b);
        if (tableSpilled) {
          spillTable(); // part of this bucket is in a run: the rest must be too
        } else {
          writeGroups(table);
        }
      }
      long freed = owner.data[b].length + owner.dropSealedArrays(b);
      owner.data[b] = new byte[0];
      owner.used[b] = 0;
      release(freed);
      if (owner == this) {
        mine -= freed;
      } else {
        owner.freedByHelpers.addAndGet(freed);
        helped++;
      }
    }

    /**
     * Folds every bucket into the table, spills it as a run and empties the buckets. A round starts
     * when the buckets cannot grow, i.e. when they hold about the whole share, so the table would be
     * left a few groups and spill a run of a few keys for every few new keys (thousands of runs). So
     * each bucket, once folded, is cut to its part of half the share, and the table grows into what
     * that frees, in this round and the next ones.
     */
    private void flushRound() throws IOException {
      flushStages();
      if (table == null) {
        newTable();
      }
      long bucketBytes = 0;
      for (int b = 0; b < data.length; b++) {
        bucketBytes += bucketBytes(b);
      }
      int target = (int) Math.min(Integer.MAX_VALUE - 64, Math.max(MIN_BUCKET_BYTES, share / 2 / data.length));
      for (int b = 0; b < data.length; b++) {
        foldInto(this, b);
        used[b] = 0;
        bucketBytes -= dropSealed(b);
        int cut = data[b].length - target;
        if (cut > 0 && bucketBytes > share / 2) {
          data[b] = new byte[target];
          bucketBytes -= cut;
          release(cut);
          mine -= cut;
        }
      }
      spillTable();
      rounds++;
    }

    /** Folds every entry of {@code owner}'s bucket {@code b} into this task's table, its sealed arrays first. */
    private void foldInto(RadixFold owner, int b) throws IOException {
      for (int i = 0; i < owner.sealedCount[b]; i++) {
        foldEntries(owner.sealed[b][i], owner.sealedUsed[b][i]);
      }
      foldEntries(owner.data[b], owner.used[b]);
    }

    private void foldEntries(byte[] a, int end) throws IOException {
      ByteBuffer view = ByteBuffer.wrap(a); // big-endian, as the entries were written
      int at = 0;
      while (at < end) {
        int hash = (int) INT.get(a, at);
        int header = (int) INT.get(a, at + 4);
        int len = header & LENGTH_MASK;
        int keyAt = at + 8 + extraBytes;
        int values = keyAt + len;
        int limit = ops;
        if (header < 0) {
          limit = (int) INT.get(a, values);
          values += 4;
        }
        int k = table.findOrInsertKey(view, keyAt, len, hash);
        if (limit == ROW) {
          mergeRow(k, a, at, values);
          at = values + 8 * rowWidth;
          continue;
        }
        int nulls = wideFlags ? (int) INT.get(a, at + 8) : (header >>> LENGTH_BITS) & 0x1f;
        if (!windowed) {
          fold.addExtracted(table.longs, k * table.stride, a, values, nulls, limit);
          if (table.groupCount() != groupsSeen) {
            afterNewKey();
          }
        } else {
          int w = at + 8 + (wideFlags ? 4 : 0);
          long start = (long) LONG.get(a, w);
          int windows = windowKind == ViewProgram.HOPPING ? (int) INT.get(a, w + 8) : 1;
          if (header < 0) {
            windows = Math.min(windows, 1); // the one-pass fold threw in the first window
          }
          for (int i = 0; i < windows; i++, start -= windowEvery) {
            if (table.keyCount() == 0) { // spilled after the entry's previous window
              k = table.findOrInsertKey(view, keyAt, len, hash);
            }
            int g = table.findOrInsertGroup(k, start);
            fold.addExtracted(table.longs, g * table.stride, a, values, nulls, limit);
            if (table.groupCount() != groupsSeen) { // per group: a hopping entry may add several
              afterNewKey();
            }
          }
        }
        at = values + valueBytes;
      }
    }

    /** Merges the combined row at {@code a[values ..]} (a row entry at {@code a[at]}) into key {@code k}'s group. */
    private void mergeRow(int k, byte[] a, int at, int values) throws IOException {
      for (int i = 0; i < rowWidth; i++) {
        row[i] = (long) LONG.get(a, values + 8 * i);
      }
      int g = windowed ? table.findOrInsertGroup(k, (long) LONG.get(a, at + 8 + (wideFlags ? 4 : 0))) : k;
      program.merge(table.longs, g * table.stride, table.objects, g * table.objectWidth, row, 0, NO_OBJECTS, 0, x);
      if (table.groupCount() != groupsSeen) {
        afterNewKey();
      }
    }

    private void newTable() {
      int keys = FIRST_TABLE_KEYS;
      while (keys > MIN_GROUPS_PER_RUN && !grow(tableBytes(keys))) {
        keys >>= 2;
      }
      if (keys <= MIN_GROUPS_PER_RUN) {
        keys = MIN_GROUPS_PER_RUN;
        forceReserve(tableBytes(keys));
        mine += tableBytes(keys);
      }
      long reservedForTable = tableBytes(keys);
      table = program.newTable(keys);
      long actual = table.memoryBytes();
      if (actual > reservedForTable) {
        forceReserve(actual - reservedForTable);
        mine += actual - reservedForTable;
      } else {
        release(reservedForTable - actual);
        mine -= reservedForTable - actual;
      }
      tableBytes = actual;
      groupsSeen = 0;
    }

    /**
     * After the table gained a group (and folded its event): reserves what it may grow to before the
     * next group, or spills it, leaving it empty, when that does not fit the share.
     */
    private void afterNewKey() throws IOException {
      groupsSeen = table.groupCount();
      long need = table.memoryBytesAfterInsert(64) + Math.max(sorter.sortBytes(), 8L * (table.keyCount() + 1));
      if (need <= tableBytes) {
        return;
      }
      long ahead = need + need / 8;
      if (grow(ahead - tableBytes)) {
        tableBytes = ahead;
        return;
      }
      if (grow(need - tableBytes)) {
        tableBytes = need;
        return;
      }
      if (table.groupCount() < MIN_GROUPS_PER_RUN) {
        forceReserve(need - tableBytes);
        mine += need - tableBytes;
        tableBytes = need;
        return;
      }
      spillTable();
    }

    private void spillTable() throws IOException {
      if (table.keyCount() > 0) {
        spill(partition, table, sorter);
        tableSpilled = true;
      }
      groupsSeen = 0;
      long after = table.memoryBytes() + Math.max(sorter.sortBytes(), 8L * (table.keyCount() + 1));
      if (after > tableBytes) {
        forceReserve(after - tableBytes);
        mine += after - tableBytes;
        tableBytes = after;
      }
    }

    /**
     * Writes every key of the table, with its windows in the table's order (as {@link BaseFile#write}),
     * to this task's section, appending full sections to the Base.
     */
    private void writeGroups(GroupTable t) throws IOException {
      BaseFile.Section s = section;
      for (int k = 0; k < t.keyCount(); k++) {
        s.beginKey(t.keyBytes(), t.keyOffset(k), t.keyLength(k), t.keyHash(k));
        for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
          s.window(t.window(g), t.longs, g * t.stride, t.objects, g * t.objectWidth);
        }
        s.endKey();
        if (s.full()) {
          appendSection();
        }
      }
    }

    private void appendSection() throws IOException {
      synchronized (writer) {
        writer.append(section);
      }
    }

    /** Reserves {@code bytes} more for this task if they fit its share and the account. */
    private boolean grow(long bytes) {
      if (bytes <= 0) {
        return true;
      }
      if (mine + bytes > share || !tryReserve(bytes)) {
        return false;
      }
      mine += bytes;
      return true;
    }
  }

  /**
   * Whether {@code len} bytes of {@code b} from {@code off} equal those of {@code a} from {@code at}:
   * 8 bytes at a time, whatever the buffer's byte order; the last 1 to 7 as one 8-byte load on
   * each side, masked to them, where both have the 8 bytes (Nexmark's auction keys are 7 bytes).
   */
  static boolean sameBytes(ByteBuffer b, int off, byte[] a, int at, int len) {
    boolean big = b.order() == ByteOrder.BIG_ENDIAN;
    int i = 0;
    for (; i + 8 <= len; i += 8) {
      long w = b.getLong(off + i);
      if ((big ? w : Long.reverseBytes(w)) != (long) BIG_LONGS.get(a, at + i)) {
        return false;
      }
    }
    if (i < len && off + i + 8 <= b.limit() && at + i + 8 <= a.length) {
      long w = b.getLong(off + i);
      long mask = -1L << ((i + 8 - len) << 3); // the first len - i bytes, big-endian
      return (((big ? w : Long.reverseBytes(w)) ^ (long) BIG_LONGS.get(a, at + i)) & mask) == 0;
    }
    for (; i < len; i++) {
      if (b.get(off + i) != a[at + i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * The radix fold's hash of a record's key slice: the low 32 bits of {@link #hash64}. Picks
   * buckets and table slots only; never stored.
   */
  static int hash(ByteBuffer b, int off, int len) {
    return (int) hash64(b, off, len);
  }

  /**
   * A 64-bit hash of {@code len} bytes of {@code b} from {@code off}: 8 bytes at a time, multiply
   * and fold, then a final mix; the same value whatever the buffer's byte order. In memory only
   * (the radix fold's buckets, the changes feed's result hashes).
   */
  static long hash64(ByteBuffer b, int off, int len) {
    boolean big = b.order() == ByteOrder.BIG_ENDIAN;
    long h = 0x9E3779B97F4A7C15L ^ len;
    int i = 0;
    for (; i + 8 <= len; i += 8) {
      long w = b.getLong(off + i);
      h = (h ^ (big ? w : Long.reverseBytes(w))) * 0xC2B2AE3D27D4EB4FL;
      h ^= h >>> 29;
    }
    if (i + 4 <= len) {
      int w = b.getInt(off + i);
      h = (h ^ ((big ? w : Integer.reverseBytes(w)) & 0xFFFFFFFFL)) * 0xC2B2AE3D27D4EB4FL;
      i += 4;
    }
    for (; i < len; i++) {
      h = (h ^ (b.get(off + i) & 0xFF)) * 0xC2B2AE3D27D4EB4FL;
    }
    h ^= h >>> 32;
    h *= 0xFF51AFD7ED558CCDL;
    h ^= h >>> 29;
    return h;
  }

  // ---------------------------------------------------------------------------------------------
  // The budget and spilling
  // ---------------------------------------------------------------------------------------------

  /** Bytes the budget's account holds reserved now (all of it is given back once a cycle ends). */
  long reservedBytes() {
    return reserved.get();
  }

  private boolean tryReserve(long bytes) {
    while (true) {
      long u = reserved.get();
      if (bytes > budget - u) {
        return false;
      }
      if (reserved.compareAndSet(u, u + bytes)) {
        peakReserved.accumulateAndGet(u + bytes, Math::max);
        return true;
      }
    }
  }

  /** The memory a fold table for {@code keys} expected keys allocates when created. */
  private long tableBytes(int keys) {
    return GroupTable.memoryBytes(program.longWidth, program.objectWidth, keys, program.window != null);
  }

  private void forceReserve(long bytes) {
    peakReserved.accumulateAndGet(reserved.addAndGet(bytes), Math::max);
  }

  /** Reserves {@code bytes}, spilling finished tables to make room; false if even that is not enough. */
  private boolean reserve(long bytes, RunFile.Sorter sorter) throws IOException {
    if (tryReserve(bytes)) {
      return true;
    }
    Held h;
    while ((h = held.poll()) != null) {
      spill(h.partition(), h.table(), sorter);
      release(h.bytes());
      if (tryReserve(bytes)) {
        return true;
      }
    }
    return false;
  }

  private void release(long bytes) {
    reserved.addAndGet(-bytes);
  }

  /** Writes {@code table} as a run and clears it. */
  private RunFile spill(int partition, GroupTable table, RunFile.Sorter sorter) throws IOException {
    spilled = true;
    RunFile run = RunFile.write(newRunPath("p" + partition), table, program, sorter);
    runs.add(run);
    bytesSpilled.addAndGet(run.bytes());
    counters.runsWritten().incrementAndGet();
    table.clear();
    return run;
  }

  private synchronized Path newRunPath(String prefix) throws IOException {
    if (!spillDirCreated) {
      Files.createDirectories(spillDir);
      spillDirCreated = true;
    }
    return spillDir.resolve(prefix + "-" + runIds.getAndIncrement() + ".run");
  }

  // ---------------------------------------------------------------------------------------------
  // Writing the Base
  // ---------------------------------------------------------------------------------------------

  /** A Base written, and how many intermediate merges of runs it took. */
  private record Built(BaseFile.Written base, int merges) {}

  private BaseFile.Written writeFromMemory(Cut cut, Path base, ExecutorService pool) throws IOException {
    List<Held> list = new ArrayList<>(held);
    held.clear();
    list.sort(Comparator.comparingInt(Held::partition));
    GroupTable[] tables = new GroupTable[list.size()];
    for (int i = 0; i < tables.length; i++) {
      tables[i] = list.get(i).table();
    }
    if (tables.length > 1 && !isKeyPartitioned(program)) {
      tables = new GroupTable[] {mergeAll(program, tables)};
    }
    return BaseFile.write(base, program, cut, tables, pool);
  }

  /** Spills what is still in memory, then merges every run into the Base. */
  private Built writeFromRuns(Cut cut, Path base, ExecutorService pool) throws IOException, InterruptedException {
    List<Future<?>> spills = new ArrayList<>();
    Held h;
    while ((h = held.poll()) != null) {
      Held table = h;
      spills.add(pool.submit(() -> {
        spill(table.partition(), table.table(), new RunFile.Sorter());
        release(table.bytes());
        return null;
      }));
    }
    awaitAll(spills);
    List<RunFile> all = new ArrayList<>(runs);
    runs.clear();
    long expectedKeys = 0;
    for (RunFile r : all) {
      expectedKeys = Math.max(expectedKeys, r.keys()); // a lower bound; the index grows if needed
    }
    RunMerger merger = new RunMerger(program, budget);
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, program, cut, expectedKeys)) {
      merger.mergeAll(all, w, () -> newRunPath("merge"));
      return new Built(w.finish(pool), merger.intermediateMerges());
    }
  }

  /** Merges per-partition tables of a view not grouped by the stream key into one table. */
  private static GroupTable mergeAll(ViewProgram program, GroupTable[] tables) {
    long keys = 0;
    for (GroupTable t : tables) {
      keys += t.keyCount();
    }
    GroupTable merged = program.newTable((int) Math.min(1 << 24, keys));
    ViewProgram.Scratch x = program.scratch();
    byte[] scratchKey = new byte[64];
    for (GroupTable t : tables) {
      for (int k = 0; k < t.keyCount(); k++) {
        int len = t.keyLength(k);
        if (scratchKey.length < len) {
          scratchKey = new byte[len * 2];
        }
        System.arraycopy(t.keyBytes(), t.keyOffset(k), scratchKey, 0, len);
        int mk = merged.findOrInsertKey(scratchKey, len, t.keyHash(k));
        for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
          int mg = merged.findOrInsertGroup(mk, t.window(g));
          program.merge(merged.longs, mg * merged.stride, merged.objects, mg * merged.objectWidth,
              t.longs, g * t.stride, t.objects, g * t.objectWidth, x);
        }
      }
    }
    return merged;
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks and files
  // ---------------------------------------------------------------------------------------------

  private static void awaitAll(List<Future<?>> tasks) throws IOException, InterruptedException {
    for (Future<?> f : tasks) {
      try {
        f.get();
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof IOException io) {
          throw io;
        }
        if (c instanceof RuntimeException re) {
          throw re;
        }
        if (c instanceof Error err) {
          throw err;
        }
        throw new IllegalStateException(c);
      }
    }
  }

  private void shutdown(ExecutorService pool) {
    pool.shutdownNow();
    try {
      if (!pool.awaitTermination(1, TimeUnit.MINUTES)) {
        LOG.warn("batch tasks of view '{}' did not stop within a minute", program.spec.name());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Deletes {@code root} and everything under it; nothing if it does not exist. */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree(root, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
        if (e instanceof NoSuchFileException) {
          return FileVisitResult.CONTINUE;
        }
        throw e;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
        if (e != null && !(e instanceof NoSuchFileException)) {
          throw e;
        }
        Files.deleteIfExists(dir);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
