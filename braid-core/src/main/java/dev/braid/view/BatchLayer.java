package dev.braid.view;

import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The batch layer: recomputes a view over {@code [0, cut)} of its stream, one task per partition
 * on a pool of {@code threads}, folding with the same {@link ViewProgram#apply} as the speed layer.
 * When the view groups by something other than the stream's key, one group's events come from
 * several partitions and the per-partition tables are merged into one.
 */
final class BatchLayer {

  private BatchLayer() {}

  /** Tables whose keys are disjoint, ready for {@link BaseFile#write}. */
  static GroupTable[] recompute(ViewProgram program, LogStream stream, Cut cut, int threads, AtomicLong progress,
      AtomicLong errors) throws InterruptedException {
    int partitions = stream.partitions();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, partitions)), r -> {
      Thread t = new Thread(r, "braid-batch-" + program.spec.name());
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<GroupTable>> futures = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        int partition = p;
        futures.add(pool.submit(() -> foldPartition(program, stream, partition, cut.offset(partition), progress, errors)));
      }
      GroupTable[] tables = new GroupTable[partitions];
      for (int p = 0; p < partitions; p++) {
        try {
          tables[p] = futures.get(p).get();
        } catch (ExecutionException e) {
          Throwable c = e.getCause();
          throw c instanceof RuntimeException ? (RuntimeException) c : new IllegalStateException(c);
        }
      }
      if (partitions == 1 || isKeyPartitioned(program)) {
        return tables;
      }
      return new GroupTable[] {mergeAll(program, tables)};
    } finally {
      pool.shutdownNow();
    }
  }

  /** Whether every group's events live in one partition: the view groups by the stream's key field. */
  static boolean isKeyPartitioned(ViewProgram program) {
    return program.spec.groupBy().strip().equals(program.schema.key().name());
  }

  private static GroupTable foldPartition(ViewProgram program, LogStream stream, int partition, long end,
      AtomicLong progress, AtomicLong errors) {
    GroupTable table = program.newTable(1 << 14);
    ViewProgram.Scratch x = program.scratch();
    long start = stream.startOffset(partition);
    try (LogReader r = stream.reader(partition, start)) {
      long counted = 0;
      while (r.position() < end) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next()) {
          long offset = c.offset();
          if (offset >= end) {
            break;
          }
          any = true;
          x.reader.wrap(c.buffer(), c.valueOffset(), c.valueLength()).at(partition, offset, c.eventTime());
          try {
            program.apply(table, x);
          } catch (RuntimeException e) {
            // The speed layer skips such an event too, so Base and Delta still agree.
            errors.incrementAndGet();
          }
          counted++;
        }
        if (!any) {
          break;
        }
        if (counted >= 65536) {
          progress.addAndGet(counted);
          counted = 0;
        }
      }
      progress.addAndGet(counted);
    }
    return table;
  }

  private static GroupTable mergeAll(ViewProgram program, GroupTable[] tables) {
    long keys = 0;
    for (GroupTable t : tables) {
      keys += t.keyCount();
    }
    GroupTable merged = program.newTable((int) Math.min(1 << 24, keys));
    ViewProgram.Scratch x = program.scratch();
    for (GroupTable t : tables) {
      byte[] scratchKey = new byte[64];
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
}
