package dev.braid.view;

import dev.braid.log.Cut;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The speed layer of one stream: one thread per partition tails the log and folds each event into
 * the Delta of every version that follows that partition (the current version of each view on the
 * stream, plus any version being built).
 *
 * <h2>Single writer</h2>
 * A partition's thread is the only writer of that partition's Deltas. Other threads talk to it by
 * message: {@link #attach} and {@link #detach} enqueue commands that the thread runs between
 * batches. It takes each Delta's write lock once per {@value #FOLD_BATCH} events and moves the
 * Delta's position in the same critical section, so readers see state and position together.
 *
 * <h2>Joining late</h2>
 * A new version's Delta starts at its cut, usually behind the partition thread. On attach, the
 * thread first replays {@code [cut, its position)} into the new Delta with a second reader, then
 * folds new events into old and new Deltas alike, so the two advance in lockstep from then on.
 *
 * <h2>Waking</h2>
 * An idle thread waits on the log's append signal ({@link LogReader#awaitData}), not on a timer.
 */
final class SpeedLayer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SpeedLayer.class);
  static final int FOLD_BATCH = 256;
  /** Longest wait before re-checking; appends and commands wake the thread long before. */
  private static final long IDLE_WAIT_MILLIS = 200;

  private final LogStream stream;
  private final Worker[] workers;

  SpeedLayer(LogStream stream) {
    this.stream = stream;
    this.workers = new Worker[stream.partitions()];
    for (int p = 0; p < workers.length; p++) {
      workers[p] = new Worker(p);
    }
  }

  void start() {
    for (Worker w : workers) {
      w.thread.start();
    }
  }

  /** Starts following {@code delta} on every partition; completes once every partition has caught up. */
  CompletableFuture<Void> attach(Delta delta, ViewProgram program) {
    CompletableFuture<?>[] all = new CompletableFuture<?>[workers.length];
    for (int p = 0; p < workers.length; p++) {
      all[p] = workers[p].attach(delta.partitions[p], program);
    }
    return CompletableFuture.allOf(all);
  }

  /** Stops following {@code delta}; completes when no partition thread touches it any more. */
  CompletableFuture<Void> detach(Delta delta) {
    CompletableFuture<?>[] all = new CompletableFuture<?>[workers.length];
    for (int p = 0; p < workers.length; p++) {
      all[p] = workers[p].detach(delta.partitions[p]);
    }
    return CompletableFuture.allOf(all);
  }

  /** The read position of every partition thread. */
  Cut position() {
    long[] out = new long[workers.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = workers[p].position.get();
    }
    return Cut.of(out);
  }

  /** Events that failed in an expression or an aggregation and were skipped, over all partitions. */
  long errors() {
    long e = 0;
    for (Worker w : workers) {
      e += w.errors.get();
    }
    return e;
  }

  /** Waits until every partition thread has read up to {@code target}; false on timeout. */
  boolean awaitPosition(Cut target, long timeout, TimeUnit unit) throws InterruptedException {
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    for (int p = 0; p < workers.length; p++) {
      while (workers[p].position.get() < target.offset(p) || workers[p].hasPendingCommands()) {
        if (System.nanoTime() > deadline) {
          return false;
        }
        Thread.sleep(1);
      }
    }
    return true;
  }

  @Override
  public void close() {
    // No interrupt: an interrupt during a FileChannel read would close the channel; wake instead.
    for (Worker w : workers) {
      w.running = false;
      w.wake();
    }
    for (Worker w : workers) {
      try {
        w.thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** A Delta of one partition and the program that folds into it. */
  private static final class Target {
    final PartitionDelta delta;
    final ViewProgram program;
    final ViewProgram.Scratch scratch;
    /** Groups by the stream's key, so {@link RecordChunk#touch} helps (see there). */
    final boolean keyPartitioned;
    long stamp;
    long foldedInBatch;

    Target(PartitionDelta delta, ViewProgram program) {
      this.delta = delta;
      this.program = program;
      this.scratch = program.scratch();
      this.keyPartitioned = BatchLayer.isKeyPartitioned(program);
    }
  }

  private final class Worker implements Runnable {
    final int partition;
    final Thread thread;
    final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();
    final List<Target> targets = new ArrayList<>();
    final AtomicLong position = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    volatile boolean running = true;
    private volatile LogReader reader;
    private final RecordChunk chunk = new RecordChunk();

    Worker(int partition) {
      this.partition = partition;
      this.thread = new Thread(this, "braid-speed-" + stream.name() + "-p" + partition);
      this.thread.setDaemon(true);
    }

    boolean hasPendingCommands() {
      return !commands.isEmpty();
    }

    /** Queues a command and wakes the thread from whatever wait it is in. */
    void submit(Runnable command) {
      commands.add(command);
      wake();
    }

    void wake() {
      LogReader r = reader;
      if (r != null) {
        r.wakeup();
      }
      java.util.concurrent.locks.LockSupport.unpark(thread);
    }

    CompletableFuture<Void> attach(PartitionDelta delta, ViewProgram program) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      submit(() -> {
        try {
          Target t = new Target(delta, program);
          if (reader == null) {
            reader = stream.reader(partition, delta.writerPosition());
            position.set(reader.position());
          } else if (delta.writerPosition() < reader.position()) {
            catchUp(t, reader.position());
          }
          targets.add(t);
          done.complete(null);
        } catch (RuntimeException e) {
          done.completeExceptionally(e);
        }
      });
      return done;
    }

    CompletableFuture<Void> detach(PartitionDelta delta) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      submit(() -> {
        targets.removeIf(t -> t.delta == delta);
        done.complete(null);
      });
      return done;
    }

    /** Replays {@code [t's position, until)} into {@code t} alone. */
    private void catchUp(Target t, long until) {
      try (LogReader r = stream.reader(partition, t.delta.writerPosition())) {
        List<Target> one = List.of(t);
        while (r.position() < until) {
          RecordCursor c = r.poll();
          if (!fold(c, one, until)) {
            break;
          }
        }
      }
    }

    @Override
    public void run() {
      while (running) {
        try {
          Runnable cmd;
          while ((cmd = commands.poll()) != null) {
            cmd.run();
          }
          if (reader == null || targets.isEmpty()) {
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(IDLE_WAIT_MILLIS));
            continue;
          }
          RecordCursor c = reader.poll();
          if (!fold(c, targets, Long.MAX_VALUE)) {
            reader.awaitData(IDLE_WAIT_MILLIS, TimeUnit.MILLISECONDS);
          }
          position.set(reader.position());
        } catch (InterruptedException e) {
          if (!running) {
            break;
          }
        } catch (RuntimeException e) {
          // A failing log read is not per-event: report it and retry after a pause rather than dying.
          LOG.error("speed layer of stream '{}' partition {} failed; retrying in 1 s", stream.name(), partition, e);
          try {
            Thread.sleep(1000);
          } catch (InterruptedException ie) {
            if (!running) {
              break;
            }
          }
        }
      }
      if (reader != null) {
        reader.close();
      }
    }

    /**
     * Folds the cursor's records below {@code until} into {@code into}, taking each Delta's write
     * lock once per {@link #FOLD_BATCH} records. Returns false when the cursor was empty.
     */
    private boolean fold(RecordCursor c, List<Target> into, long until) {
      boolean more = c.next() && c.offset() < until;
      if (!more) {
        return false;
      }
      while (more) {
        for (Target t : into) {
          t.stamp = t.delta.lock.writeLock();
          t.foldedInBatch = 0;
        }
        long last = -1;
        int n = 0;
        try {
          do {
            RecordChunk k = chunk;
            more = k.fill(c, until, FOLD_BATCH - n);
            for (Target t : into) {
              if (t.keyPartitioned) {
                k.touch(t.delta.table);
              }
            }
            for (int j = 0; j < k.size; j++) {
              long offset = k.offset[j];
              for (Target t : into) {
                if (offset < t.delta.writerPosition()) {
                  continue;
                }
                try {
                  if (t.program.apply(t.delta.table, t.scratch, k, j, partition)) {
                    t.foldedInBatch++;
                  }
                } catch (RuntimeException e) {
                  reportEventError(t, offset, e);
                }
              }
              last = offset;
              n++;
            }
            k.clear();
          } while (more && n < FOLD_BATCH);
        } finally {
          for (Target t : into) {
            if (last >= t.delta.writerPosition()) {
              t.delta.advance(last + 1, t.foldedInBatch);
            }
            t.delta.lock.unlockWrite(t.stamp);
          }
        }
      }
      return true;
    }

    private void reportEventError(Target t, long offset, RuntimeException e) {
      long n = errors.incrementAndGet();
      if (n <= 10 || n % 10_000 == 0) {
        LOG.warn("view '{}': skipped event at offset {} of stream '{}' partition {} ({} skipped so far): {}",
            t.program.spec.name(), offset, stream.name(), partition, n, e.toString());
      }
    }
  }
}
