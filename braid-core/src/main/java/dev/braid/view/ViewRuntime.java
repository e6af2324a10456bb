package dev.braid.view;

import dev.braid.AsOf;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.spec.ViewSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
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
 */
final class ViewRuntime {

  private static final Logger LOG = LoggerFactory.getLogger(ViewRuntime.class);
  static final int KEEP_BACKUPS = 2;

  final String name;
  final ViewSpec spec;
  private final LogStream stream;
  private final SpeedLayer speed;
  private final Path dir;
  private final Runnable persist;
  private final EngineOptions options;

  private volatile Version current;
  private final List<Version> versions = new ArrayList<>(); // guarded by this
  private long nextId; // guarded by this
  private final Object batchLock = new Object();
  private final ThreadLocal<ViewProgram.Scratch> readScratch;
  private final AtomicLong batchErrors = new AtomicLong();
  volatile BatchProgress batchProgress;
  /** What the last successful batch cycle did (null before the first). */
  volatile BatchLayer.Stats lastBatch;
  private final boolean keyPartitioned;

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
    this.keyPartitioned = BatchLayer.isKeyPartitioned(program);
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up
  // ---------------------------------------------------------------------------------------------

  /** Restores the versions recorded in the catalog, or starts version 1 (empty Base at the log's start). */
  void restore(VersionCatalog.ViewEntry entry, ViewProgram program) throws IOException, InterruptedException {
    synchronized (this) {
      nextId = entry == null ? 1 : entry.next();
      Version cur = null;
      if (entry != null) {
        for (VersionCatalog.Entry e : entry.versions()) {
          boolean sameDefinition = e.definition().equals(spec.definition());
          if (e.state() == VersionState.CURRENT && sameDefinition) {
            BaseFile base = e.base() == null ? null : BaseFile.open(dir.resolve(e.base()));
            cur = new Version(e.id(), program, e.cut(), base, e.base(), e.createdAt(), VersionState.CURRENT);
            versions.add(cur);
          } else {
            VersionState st = e.state() == VersionState.CURRENT ? VersionState.BACKUP : e.state();
            if (e.state() == VersionState.CURRENT) {
              LOG.warn("view '{}': the definition changed since version {} was built; starting a new version "
                  + "that replays the log (old: {}; new: {})", name, e.id(), e.definition(), spec.definition());
            }
            Version v = new Version(e.id(), program, e.cut(), null, e.base(), e.createdAt(), st);
            v.failure = e.failure();
            versions.add(v);
          }
        }
      }
      if (cur == null) {
        cur = new Version(nextId++, program, Cut.zero(stream.partitions()), null, null, System.currentTimeMillis(),
            VersionState.CURRENT);
        versions.add(cur);
      }
      cur.delta = new Delta(program, cur.cut, 1 << 12);
      current = cur;
    }
    await(speed.attach(current.delta, program), "attach version " + current.id);
  }

  synchronized VersionCatalog.ViewEntry catalogEntry() {
    List<VersionCatalog.Entry> list = new ArrayList<>();
    for (Version v : versions) {
      list.add(new VersionCatalog.Entry(v.id, v.state, v.cut, v.baseFileName, v.program.spec.definition(),
          v.createdAtMillis, v.failure));
    }
    return new VersionCatalog.ViewEntry(nextId, list);
  }

  /** Base files in the view directory that the catalog refers to. */
  synchronized List<String> referencedBases() {
    List<String> out = new ArrayList<>();
    for (Version v : versions) {
      if (v.baseFileName != null && v.state != VersionState.RETIRED) {
        out.add(v.baseFileName);
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

  /** The merged result of {@code key}, for windowed views over windows starting in {@code [from, to)}. */
  ViewResult get(String key, long from, long to) {
    byte[] kb = key.getBytes(StandardCharsets.UTF_8);
    while (true) {
      Version v = current;
      Delta d = v.delta;
      if (d == null) {
        continue; // swapped out between the two reads; the next current has a Delta
      }
      return read(v, d, key, kb, from, to);
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

  private ViewResult read(Version v, Delta d, String key, byte[] kb, long from, long to) {
    ViewProgram p = v.program;
    ViewProgram.Scratch x = readScratch.get();
    TreeMap<Long, Row> rows = new TreeMap<>();
    boolean[] found = new boolean[1];
    if (v.base != null) {
      try {
        found[0] = v.base.lookup(kb, kb.length, (window, buffer, offset, length) -> {
          if (window >= from && window < to) {
            Row r = rows.computeIfAbsent(window, w -> new Row(p));
            p.readRow(x.stateInput.reset(buffer, offset, offset + length), r.longs, 0, r.objects, 0, x);
          }
        });
      } catch (IOException e) {
        throw new UncheckedIOException("reading the Base " + v.base.file + " of view '" + name + "'", e);
      }
    }
    int parts = d.partitions.length;
    long[] positions = new long[parts];
    int only = keyPartitioned ? Partitioner.partition(kb, 0, kb.length, parts) : -1;
    int hash = GroupTable.hash(kb, kb.length);
    for (int part = 0; part < parts; part++) {
      PartitionDelta pd = d.partitions[part];
      if (only >= 0 && part != only) {
        positions[part] = pd.position();
        continue;
      }
      long stamp = pd.lock.readLock();
      try {
        GroupTable t = pd.table;
        int keyId = t.findKey(kb, kb.length, hash);
        if (keyId >= 0) {
          found[0] = true;
          for (int g = t.firstGroupOfKey(keyId); g >= 0; g = t.nextGroupOfKey(g)) {
            long window = t.window(g);
            if (window >= from && window < to) {
              Row r = rows.computeIfAbsent(window, w -> new Row(p));
              p.merge(r.longs, 0, r.objects, 0, t.longs, g * t.longWidth, t.objects, g * t.objectWidth, x);
            }
          }
        }
        positions[part] = pd.writerPosition();
      } finally {
        pd.lock.unlockRead(stamp);
      }
    }
    AsOf asOf = new AsOf(v.id, v.cut, Cut.of(positions));
    Row total = new Row(p);
    List<ViewResult.WindowValue> windows = new ArrayList<>();
    for (Map.Entry<Long, Row> e : rows.entrySet()) {
      Row r = e.getValue();
      p.merge(total.longs, 0, total.objects, 0, r.longs, 0, r.objects, 0, x);
      if (p.window != null) {
        windows.add(new ViewResult.WindowValue(e.getKey(), e.getKey() + p.window.sizeMillis(),
            p.result(r.longs, 0, r.objects, 0, x)));
      }
    }
    return new ViewResult(name, key, found[0] && !rows.isEmpty(), p.result(total.longs, 0, total.objects, 0, x),
        windows, asOf);
  }

  // ---------------------------------------------------------------------------------------------
  // Versions and batch cycles
  // ---------------------------------------------------------------------------------------------

  Version current() {
    return current;
  }

  synchronized List<VersionInfo> versions() {
    List<VersionInfo> out = new ArrayList<>();
    for (Version v : versions) {
      Delta d = v.delta;
      long keys = v.base == null ? 0 : v.base.keyCount;
      out.add(new VersionInfo(name, v.id, v.state, v.program.spec.definition(), v.cut,
          d == null ? null : d.position(), keys, v.createdAtMillis, v.failure));
    }
    return out;
  }

  long batchErrors() {
    return batchErrors.get();
  }

  /**
   * Runs one batch cycle now and returns the new current version's id. Blocks while another
   * cycle of this view runs. The cycle recomputes within {@link EngineOptions#batchMemoryBytes()},
   * spilling sorted runs to {@code v<id>.spill/} in the view's directory when it must; they are
   * deleted when the cycle ends, whether it succeeds or fails.
   */
  long runBatch(ViewProgram program) throws InterruptedException {
    synchronized (batchLock) {
      Cut cut = stream.end();
      long id;
      synchronized (this) {
        id = nextId++;
      }
      long total = 0;
      for (int p = 0; p < cut.partitions(); p++) {
        total += cut.offset(p) - stream.startOffset(p);
      }
      BatchLayer.Counters counters = BatchLayer.Counters.create(batchErrors);
      batchProgress = new BatchProgress(id, cut, counters.events(), counters.runsWritten(), total, System.nanoTime());
      long started = System.nanoTime();
      String fileName = "v" + id + ".base";
      Version next;
      BatchLayer.Stats stats;
      try {
        Files.createDirectories(dir);
        BatchLayer batch =
            new BatchLayer(program, stream, options.batchThreads(), options.batchMemoryBytes(), counters);
        stats = batch.build(cut, dir.resolve(fileName), dir.resolve("v" + id + ".spill"));
        BaseFile base = BaseFile.open(dir.resolve(fileName));
        next = new Version(id, program, cut, base, fileName, System.currentTimeMillis(), VersionState.BUILDING);
        next.delta = new Delta(program, cut,
            (int) Math.min(1 << 16, Math.max(1 << 10, stats.keys() / cut.partitions() / 8)));
        synchronized (this) {
          versions.add(next);
        }
        await(speed.attach(next.delta, program), "attach version " + id);
      } catch (IOException e) {
        batchProgress = null;
        failVersion(id, cut, program, fileName, e.toString());
        throw new UncheckedIOException("batch cycle of view '" + name + "' failed writing its Base", e);
      } catch (RuntimeException e) {
        batchProgress = null;
        failVersion(id, cut, program, fileName, e.toString());
        throw e;
      }
      swap(next);
      batchProgress = null;
      lastBatch = stats;
      if (stats.runsWritten() > 0) {
        LOG.info("view '{}': batch cycle built version {} at cut {} ({} keys in the Base) in {} ms; it exceeded its "
            + "memory budget of {} bytes and spilled {} runs ({} bytes, {} intermediate merges)", name, id, cut,
            stats.keys(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), options.batchMemoryBytes(),
            stats.runsWritten(), stats.bytesSpilled(), stats.intermediateMerges());
      } else {
        LOG.info("view '{}': batch cycle built version {} at cut {} ({} keys in the Base) in {} ms", name, id, cut,
            stats.keys(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      }
      return id;
    }
  }

  private void failVersion(long id, Cut cut, ViewProgram program, String fileName, String reason) {
    synchronized (this) {
      versions.removeIf(v -> v.id == id);
      Version failed = new Version(id, program, cut, null, null, System.currentTimeMillis(), VersionState.FAILED);
      failed.failure = reason;
      versions.add(failed);
    }
    try {
      Files.deleteIfExists(dir.resolve(fileName));
      Files.deleteIfExists(dir.resolve(fileName + ".tmp"));
    } catch (IOException e) {
      LOG.warn("could not remove the files of failed version {} of view '{}'", id, name, e);
    }
    LOG.error("view '{}': batch cycle for version {} failed: {}", name, id, reason);
    persist.run();
  }

  /** Makes {@code next} current; its Delta follows the log in lockstep with the current one. */
  private void swap(Version next) throws InterruptedException {
    Version old = current;
    Cut oldPos = old.delta.position();
    Cut newPos = next.delta.position();
    if (!newPos.isAtOrAfter(oldPos)) {
      // Cannot happen while both are attached to the same partition threads; refuse rather than go back.
      throw new IllegalStateException(String.format("view '%s': version %d is at %s, behind version %d at %s",
          name, next.id, newPos, old.id, oldPos));
    }
    synchronized (this) {
      next.state = VersionState.CURRENT;
      current = next;
      old.state = VersionState.BACKUP;
    }
    await(speed.detach(old.delta), "detach version " + old.id);
    old.delta = null;
    retireOldBackups();
    persist.run();
  }

  private void retireOldBackups() {
    List<Version> retire = new ArrayList<>();
    synchronized (this) {
      int backups = 0;
      for (int i = versions.size() - 1; i >= 0; i--) {
        Version v = versions.get(i);
        if (v.state == VersionState.BACKUP && ++backups > KEEP_BACKUPS) {
          v.state = VersionState.RETIRED;
          retire.add(v);
        }
      }
      // Keep the catalog short: forget retired and failed versions beyond the last few.
      int dead = 0;
      for (int i = versions.size() - 1; i >= 0; i--) {
        VersionState s = versions.get(i).state;
        if ((s == VersionState.RETIRED || s == VersionState.FAILED) && ++dead > 8) {
          versions.remove(i);
        }
      }
    }
    for (Version v : retire) {
      if (v.baseFileName != null) {
        try {
          Files.deleteIfExists(dir.resolve(v.baseFileName));
        } catch (IOException e) {
          LOG.warn("could not delete the Base of retired version {} of view '{}'", v.id, name, e);
        }
      }
    }
  }

  private static void await(java.util.concurrent.CompletableFuture<Void> f, String what)
      throws InterruptedException {
    try {
      f.get(10, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof RuntimeException ? (RuntimeException) c : new IllegalStateException(what + " failed", c);
    } catch (TimeoutException e) {
      throw new IllegalStateException(what + " did not finish within 10 minutes");
    }
  }
}
