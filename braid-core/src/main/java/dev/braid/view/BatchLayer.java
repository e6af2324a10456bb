package dev.braid.view;

import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import java.io.IOException;
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

  /** Counters of a running cycle, read by status while it runs. */
  record Counters(AtomicLong events, AtomicLong errors, AtomicLong runsWritten) {
    static Counters create(AtomicLong errors) {
      return new Counters(new AtomicLong(), errors, new AtomicLong());
    }
  }

  /**
   * What one cycle did.
   *
   * @param runsWritten runs spilled from partition tables (intermediate merges not counted)
   * @param intermediateMerges merges of runs into runs before the final merge into the Base
   * @param peakReservedBytes the most the tables held at once, by the budget's account
   */
  record Stats(long keys, long groups, long runsWritten, long bytesSpilled, int intermediateMerges,
      long peakReservedBytes, long foldNanos, long writeNanos) {}

  /** A finished partition's table kept in memory, with the bytes reserved for it. */
  private record Held(int partition, GroupTable table, long bytes) {}

  private final ViewProgram program;
  private final LogStream stream;
  private final int concurrency;
  private final long budget;
  private final long share;
  private final Counters counters;
  private final AtomicLong reserved = new AtomicLong();
  private final AtomicLong peakReserved = new AtomicLong();
  private final ConcurrentLinkedQueue<Held> held = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<RunFile> runs = new ConcurrentLinkedQueue<>();
  private final AtomicLong bytesSpilled = new AtomicLong();
  private final AtomicInteger runIds = new AtomicInteger();
  private volatile boolean spilled;
  private volatile boolean cancelled;
  private Path spillDir; // set once by build
  private boolean spillDirCreated; // guarded by this

  /**
   * @param threads at most this many partitions are folded at once
   * @param memoryBudget bytes for the cycle's tables (and the merge's buffers), shared by all tasks
   */
  BatchLayer(ViewProgram program, LogStream stream, int threads, long memoryBudget, Counters counters) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, was " + threads);
    }
    if (memoryBudget < 1) {
      throw new IllegalArgumentException("memoryBudget must be positive, was " + memoryBudget);
    }
    this.program = program;
    this.stream = stream;
    this.concurrency = Math.max(1, Math.min(threads, stream.partitions()));
    this.budget = memoryBudget;
    this.share = Math.max(1, memoryBudget / concurrency);
    this.counters = counters;
  }

  /** Whether every group's events live in one partition: the view groups by the stream's key field. */
  static boolean isKeyPartitioned(ViewProgram program) {
    return program.spec.groupBy().strip().equals(program.schema.key().name());
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
      long[] written = inMemory ? writeFromMemory(cut, base) : writeFromRuns(cut, base, pool);
      return new Stats(written[0], written[1], counters.runsWritten().get(), bytesSpilled.get(), (int) written[2],
          peakReserved.get(), folded - started, System.nanoTime() - folded);
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
                program.apply(table, x, chunk, j, partition);
              } catch (RuntimeException e) {
                // The speed layer skips such an event too, so Base and Delta still agree.
                counters.errors().incrementAndGet();
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
      }
      finish();
    }

    /**
     * Starts with a table sized to a quarter of the share at most, smaller when the account cannot
     * reserve that, and at least room for {@value #MIN_GROUPS_PER_RUN} keys, reserved even beyond the
     * budget.
     */
    private void newTable() {
      long perKey = 56 + 8L * Math.max(1, program.longWidth) + 4L * program.objectWidth; // GroupTable's arrays
      int keys = (int) Math.min(MAX_INITIAL_KEYS, Long.highestOneBit(Math.max(1, share / perKey / 4)));
      while (keys > MIN_GROUPS_PER_RUN && !tryReserve(keys * perKey)) {
        keys >>= 2;
      }
      if (keys > MIN_GROUPS_PER_RUN) {
        mine = keys * perKey;
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
      program.writeRow(sample, table.longs, g * table.longWidth, table.objects, g * table.objectWidth, x);
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
  // The budget and spilling
  // ---------------------------------------------------------------------------------------------

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

  /** Keys, groups, intermediate merges. */
  private long[] writeFromMemory(Cut cut, Path base) throws IOException {
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
    long groups = 0;
    for (GroupTable t : tables) {
      groups += t.groupCount();
    }
    long keys = BaseFile.write(base, program, cut, tables);
    return new long[] {keys, groups, 0};
  }

  /** Spills what is still in memory, then merges every run into the Base. */
  private long[] writeFromRuns(Cut cut, Path base, ExecutorService pool) throws IOException, InterruptedException {
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
      w.finish();
      return new long[] {w.keys(), w.groups(), merger.intermediateMerges()};
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
          program.merge(merged.longs, mg * merged.longWidth, merged.objects, mg * merged.objectWidth,
              t.longs, g * t.longWidth, t.objects, g * t.objectWidth, x);
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
