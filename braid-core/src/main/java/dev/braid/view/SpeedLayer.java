package dev.braid.view;

import dev.braid.Status;
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
 * <h2>Watermarks</h2>
 * Each partition's watermark is the largest event time its thread has read minus the stream's
 * {@code max_out_of_order}. The stream's watermark ({@link #watermark()}) is the smallest over the
 * partitions that are not idle — a partition is idle when its thread read no event for
 * {@code idle_after} by the engine's clock — or the largest over all of them when every partition
 * is idle; it never goes back. Lateness is decided per Delta by the partition's own watermark (see
 * {@link ViewProgram#applySpeed}), which is at least the stream's and depends only on the log.
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
  private final long maxOutOfOrder;
  private final long idleAfter;
  private final java.util.function.LongSupplier clock;
  private final LateLog lateLog;
  private final AtomicLong streamWatermark = new AtomicLong(Long.MIN_VALUE);
  /** Why a partition thread stopped for good (an {@link Error} while folding), else null. */
  private volatile String failure;

  /** A speed layer with in-order watermarks, a one-minute idle timeout, the system clock and no late log. */
  SpeedLayer(LogStream stream) {
    this(stream, 0, dev.braid.spec.StreamSpec.DEFAULT_IDLE_AFTER.toMillis(), System::currentTimeMillis, null);
  }

  /**
   * @param maxOutOfOrder the stream's {@code max_out_of_order} in millis
   * @param idleAfter the stream's {@code idle_after} in millis
   * @param clock the engine's clock (epoch millis), for idleness
   * @param lateLog where late events are recorded, or null to record none
   */
  SpeedLayer(LogStream stream, long maxOutOfOrder, long idleAfter, java.util.function.LongSupplier clock,
      LateLog lateLog) {
    this.stream = stream;
    this.maxOutOfOrder = maxOutOfOrder;
    this.idleAfter = idleAfter;
    this.clock = clock;
    this.lateLog = lateLog;
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

  /** How many Deltas partition {@code p}'s thread folds into (for tests). */
  int attached(int p) {
    return workers[p].attached;
  }

  /** The read position of partition {@code p}'s thread: the next offset it will fold. */
  long position(int p) {
    return workers[p].position.get();
  }

  /** The read position of every partition thread. */
  Cut position() {
    long[] out = new long[workers.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = position(p);
    }
    return Cut.of(out);
  }

  long maxOutOfOrderMillis() {
    return maxOutOfOrder;
  }

  long idleAfterMillis() {
    return idleAfter;
  }

  LateLog lateLog() {
    return lateLog;
  }

  /** One partition's watermark for status. */
  record PartitionMark(int partition, long maxEventTime, long watermark, boolean idle) {}

  /** Every partition's watermark, by the engine's clock now. */
  List<PartitionMark> partitionMarks() {
    long now = clock.getAsLong();
    List<PartitionMark> out = new ArrayList<>(workers.length);
    for (Worker w : workers) {
      long max = w.maxEventTime;
      out.add(new PartitionMark(w.partition, max, partitionWatermark(max), isIdle(w, now)));
    }
    return out;
  }

  /**
   * Each partition's largest event time read and the position it was read up to, {@code {position,
   * maxEventTime}} per partition, and the stream's watermark, for {@link #seedMaxEventTimes} after a
   * restart. The time is read before the position, so it may also cover events just past that position.
   */
  EventTimeMarks.Marks eventTimeMarks() {
    long[][] out = new long[workers.length][];
    for (Worker w : workers) {
      long max = w.maxEventTime;
      out[w.partition] = new long[] {w.position.get(), max};
    }
    return new EventTimeMarks.Marks(out, streamWatermark.get());
  }

  /**
   * Seeds each partition's largest event time with {@code marks} (as {@link #eventTimeMarks} gave
   * them before a restart) where the log still holds the position they were recorded at: the
   * threads resume from a Delta's position, after which the events before it, which may hold the
   * partition's largest time, are not read again. Without it a restart moved the watermark back to
   * the largest time after the current version's cut. The stream's watermark starts at the one
   * recorded when the log still holds every position recorded (it never goes back, and partitions
   * idle before the restart are not idle again until {@code idle_after} has passed without events).
   * A partition thread whose first Delta starts after a mark's position (a batch cycle's new version,
   * switched in after the last checkpoint round, and a {@code kill -9} before the next) reads the event
   * times between the two before it folds ({@code Worker.scanEventTimes}). Call before {@link #start}.
   */
  void seedMaxEventTimes(EventTimeMarks.Marks marks) {
    if (marks == null || marks.partitions().length != workers.length) {
      return; // none recorded, or another partition count: the log refuses that anyway
    }
    Cut end = stream.end();
    boolean logHoldsAll = true;
    for (Worker w : workers) {
      long[] m = marks.partitions()[w.partition];
      boolean held = m != null && m.length == 2 && m[0] <= end.offset(w.partition);
      logHoldsAll &= held;
      if (held && m[1] > w.maxEventTime && ViewProgram.inWindowRange(m[1])) { // a mark out of range: see below
        w.maxEventTime = m[1];
      }
      if (held && m[0] >= stream.startOffset(w.partition)) {
        w.markPosition = m[0];
      }
    }
    // marks saved by a build that took event times outside the years 0000-9999 may hold one; such
    // a time moves no watermark (ViewProgram.inWindowRange), and the watermark never goes back
    if (logHoldsAll && marks.watermark() <= dev.braid.event.EventEncoder.MAX_EVENT_TIME) {
      streamWatermark.accumulateAndGet(marks.watermark(), Math::max);
    }
  }

  private long partitionWatermark(long maxEventTime) {
    return maxEventTime == Long.MIN_VALUE ? Long.MIN_VALUE : maxEventTime - maxOutOfOrder;
  }

  private boolean isIdle(Worker w, long now) {
    return now - w.lastEventAt >= idleAfter;
  }

  /** Whether any Delta follows the stream: without one the log is not read, and no watermark is kept. */
  boolean followed() {
    for (Worker w : workers) {
      if (w.attached > 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * The stream's watermark: the smallest partition watermark over partitions that are not idle, or
   * the largest over all partitions when all are idle; {@code Long.MIN_VALUE} before any event.
   * Monotonic: it never moves back, even when an idle partition becomes active behind it.
   */
  long watermark() {
    return streamWatermark.accumulateAndGet(ruleWatermark(), Math::max);
  }

  /**
   * The watermark and whether it stands above what the rule gives now (the smallest over partitions
   * that are not idle), from one reading of the clock: it holds where it reached, after a restart
   * (the partitions' idle clocks start again) or when an idle partition became active behind it.
   */
  Status.Watermark watermarkNow(List<Status.PartitionWatermark> partitions) {
    long rule = ruleWatermark();
    long w = streamWatermark.accumulateAndGet(rule, Math::max);
    return new Status.Watermark(w, partitions, w > rule);
  }

  /**
   * The event time retention may follow: the smallest of the partitions' largest event times over
   * partitions that are not idle, or, when all are idle, over those that had events ({@code
   * Long.MIN_VALUE} when none had). Not the stream watermark's rule, which takes the largest when all
   * are idle: one event far in the future would take it to its year after a quiet minute, and it
   * holds there for good. Not monotonic (retention's horizon is).
   */
  long leastMaxEventTime() {
    long now = clock.getAsLong();
    long minActive = Long.MAX_VALUE;
    long minAll = Long.MAX_VALUE;
    for (Worker w : workers) {
      if (w.maxEventTime == Long.MIN_VALUE) {
        continue;
      }
      minAll = Math.min(minAll, w.maxEventTime);
      if (!isIdle(w, now)) {
        minActive = Math.min(minActive, w.maxEventTime);
      }
    }
    return minActive != Long.MAX_VALUE ? minActive : minAll != Long.MAX_VALUE ? minAll : Long.MIN_VALUE;
  }

  /** The smallest partition watermark over partitions that are not idle, or the largest when all are. */
  private long ruleWatermark() {
    long now = clock.getAsLong();
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    boolean active = false;
    for (Worker w : workers) { // as partitionMarks, without allocating: every read asks
      long wm = partitionWatermark(w.maxEventTime);
      max = Math.max(max, wm);
      if (!isIdle(w, now)) {
        active = true;
        min = Math.min(min, wm);
      }
    }
    return active ? min : max;
  }

  /**
   * Waits until every partition thread has read up to {@code target}; false on timeout. Polls
   * every 1 % of the time waited so far, from 1 to {@value #MAX_POLL_MILLIS} ms: a start-up replay
   * of a second or more then wakes the waiting thread a few hundred times instead of a thousand
   * times a second (each wake-up took a vCPU from the replay), and returns at most 1 % late.
   *
   * @throws dev.braid.log.CorruptLogException when a partition thread stopped short of
   *     {@code target} at damaged log data, which no wait gets past
   * @throws IllegalStateException when a partition thread stopped for good (see {@link #failure})
   */
  boolean awaitPosition(Cut target, long timeout, TimeUnit unit) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + unit.toNanos(timeout);
    for (int p = 0; p < workers.length; p++) {
      // A partition that no Delta follows has nothing to catch up (a stream no view reads is not read)
      while ((workers[p].attached > 0 && workers[p].position.get() < target.offset(p))
          || workers[p].hasPendingCommands()) {
        dev.braid.log.CorruptLogException damage = workers[p].damage;
        if (damage != null) {
          throw damage;
        }
        String stopped = failure;
        if (stopped != null) {
          throw new IllegalStateException(stopped);
        }
        long now = System.nanoTime();
        if (now > deadline) {
          return false;
        }
        Thread.sleep(Math.min(MAX_POLL_MILLIS, Math.max(1, TimeUnit.NANOSECONDS.toMillis(now - start) / 100)));
      }
    }
    return true;
  }

  /**
   * Why this speed layer stopped for good, or null while it runs: a partition thread met an
   * {@link Error} (out of memory, say) part way through a chunk, so the Deltas it fed may hold
   * events past their positions. Their views are refused and take no checkpoint; a restart rebuilds
   * them from their last checkpoint and the log.
   */
  String failure() {
    return failure;
  }

  /** The longest pause between two checks of {@link #awaitPosition}. */
  static final long MAX_POLL_MILLIS = 10;

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
    /** Whether the view has {@code allowed_lateness} (then late events are left out and recorded). */
    final boolean timed;
    long stamp;
    long foldedInBatch;
    /** Whether an event without a group key was reported (once per view and partition). */
    boolean nullKeyReported;
    /**
     * Sizes the table once when a long replay (a start, a catch-up) shows how large it gets; null for
     * a compacted copy, which spills keep small.
     */
    final GrowthProjection growth;

    Target(PartitionDelta delta, ViewProgram program) {
      this.delta = delta;
      this.program = program;
      this.scratch = program.scratch();
      this.keyPartitioned = BatchLayer.isKeyPartitioned(program);
      this.timed = program.allowedLateness >= 0;
      this.growth = delta.compactedCopy ? null : new GrowthProjection();
    }
  }

  /** A command for a partition thread, and the future it completes. */
  private record Command(Runnable run, CompletableFuture<Void> done) {}

  private final class Worker implements Runnable {
    final int partition;
    final Thread thread;
    final ConcurrentLinkedQueue<Command> commands = new ConcurrentLinkedQueue<>();
    /** Set once the thread has stopped: a command queued later fails at once instead of waiting for ever. */
    private volatile boolean exited;
    /** Set when an {@link Error} stopped this thread for good (see {@link #stop}). */
    private boolean stopped;
    final List<Target> targets = new ArrayList<>();
    /** How many Deltas {@link #targets} holds, for other threads (the list is this worker's own). */
    volatile int attached;
    /** Events that failed in an expression or an aggregation of any view on this thread, for the log's throttle. */
    private long failures;
    final AtomicLong position = new AtomicLong();
    volatile boolean running = true;
    private volatile LogReader reader;
    private final RecordChunk chunk = new RecordChunk();
    /** The largest event time this thread has read (or found in a Delta it attached). */
    volatile long maxEventTime = Long.MIN_VALUE;
    /**
     * The position of the mark {@link #seedMaxEventTimes} took {@link #maxEventTime} from, or -1: the
     * events from it up to where the thread starts reading are scanned for their times.
     */
    long markPosition = -1;
    /** When this thread last read an event (engine clock); its start before the first. */
    volatile long lastEventAt = clock.getAsLong();
    /** The damaged log data this thread's last read met (it retries), else null. */
    volatile dev.braid.log.CorruptLogException damage;
    private final List<LateLog.Pending> late = new ArrayList<>();

    Worker(int partition) {
      this.partition = partition;
      this.thread = new Thread(this, "braid-speed-" + stream.name() + "-p" + partition);
      this.thread.setDaemon(true);
    }

    boolean hasPendingCommands() {
      return !commands.isEmpty();
    }

    /**
     * Queues a command that completes {@code done}, and wakes the thread from whatever wait it is in.
     * Once the thread has stopped, {@code done} fails instead (see {@link #failQueued}).
     */
    void submit(Runnable command, CompletableFuture<Void> done) {
      commands.add(new Command(command, done));
      wake();
      if (exited) {
        failQueued();
      }
    }

    /** Fails the commands no thread will run: the speed layer is closed. */
    private void failQueued() {
      Command c;
      while ((c = commands.poll()) != null) {
        String why = failure;
        c.done().completeExceptionally(new IllegalStateException(why != null ? why : "the speed layer of stream '"
            + stream.name() + "' partition " + partition + " is closed"));
      }
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
          long seen = delta.maxEventTime;
          if (seen > maxEventTime) {
            maxEventTime = seen;
          }
          if (reader == null) {
            scanEventTimes(markPosition, delta.writerPosition());
            reader = stream.reader(partition, delta.writerPosition());
            position.set(reader.position());
          } else if (delta.writerPosition() < reader.position()) {
            catchUp(t, reader.position());
          }
          targets.add(t);
          attached = targets.size();
          done.complete(null);
        } catch (RuntimeException e) {
          done.completeExceptionally(e);
        }
      }, done);
      return done;
    }

    CompletableFuture<Void> detach(PartitionDelta delta) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      submit(() -> {
        targets.removeIf(t -> t.delta == delta);
        attached = targets.size();
        done.complete(null);
      }, done);
      return done;
    }

    /**
     * Takes the largest event time of the records in {@code [from, until)} into {@link #maxEventTime},
     * reading only their headers. A restart's marks record each partition's largest time with the
     * position it was read up to, at the last checkpoint round; when the thread starts reading after
     * that position (the current version's Delta starts at a cut a batch cycle took since), the
     * events between were read before the restart and are not folded again, yet may hold the
     * partition's largest time. Nothing to do when {@code from} is -1 or not before {@code until}.
     */
    private void scanEventTimes(long from, long until) {
      if (from < 0 || from >= until) {
        return;
      }
      long max = maxEventTime;
      try (LogReader r = stream.reader(partition, from)) {
        while (r.position() < until) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (c.next() && c.offset() < until) {
            any = true;
            long t = c.eventTime();
            if (t > max && ViewProgram.inWindowRange(t)) {
              max = t;
            }
          }
          if (!any) {
            break;
          }
        }
      }
      maxEventTime = max;
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
          Command cmd;
          while ((cmd = commands.poll()) != null) {
            try {
              cmd.run().run();
            } catch (Throwable e) {
              cmd.done().completeExceptionally(e); // its caller waits for it (a no-op if it completed)
              throw e;
            }
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
          if (damage != null) {
            damage = null; // read past it: the file was fine after all (a read error, not damage)
          }
        } catch (InterruptedException e) {
          if (!running) {
            break;
          }
        } catch (RuntimeException e) {
          if (e instanceof dev.braid.log.CorruptLogException c) {
            damage = c;
          }
          // A failing log read is not per-event: report it and retry after a pause rather than dying.
          LOG.error("speed layer of stream '{}' partition {} failed; retrying in 1 s", stream.name(), partition, e);
          try {
            Thread.sleep(1000);
          } catch (InterruptedException ie) {
            if (!running) {
              break;
            }
          }
        } catch (Error e) {
          stop(e);
          break;
        }
      }
      exited = true;
      failQueued();
      if (reader != null) {
        reader.close();
      }
    }

    /**
     * Stops this thread for good on {@code e} (out of memory, say, part way through a chunk: a Delta
     * may hold events past its position, which no retry or checkpoint may build on). The views of the
     * stream are refused until a restart. Called before the Deltas' write locks are released, so a
     * checkpoint that takes one after them sees {@link SpeedLayer#failure}.
     */
    private void stop(Error e) {
      if (stopped) {
        return;
      }
      stopped = true;
      String why = String.format("the speed layer of stream '%s' partition %d stopped on %s", stream.name(),
          partition, e);
      if (failure == null) {
        failure = why; // the first: what the others met may follow from it
      }
      LOG.error("{}; the views of stream '{}' are refused and take no checkpoint until the server restarts (they "
          + "then rebuild from their last checkpoint and the log)", why, stream.name(), e);
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
            long chunkMax = Long.MIN_VALUE;
            for (int j = 0; j < k.size; j++) {
              long t = k.eventTime[j];
              if (t > chunkMax && ViewProgram.inWindowRange(t)) { // an old log's time out of range moves no watermark
                chunkMax = t;
              }
            }
            // read under the write locks: at or after the watermark of every pass that drained these Deltas
            long watermark = watermark();
            // view by view over the chunk: each view's records in log order, its table and program hot
            for (Target t : into) {
              t.scratch.markBelow = t.program.markBelow(watermark);
              for (int j = firstAtOrAfter(k, t.delta.writerPosition()); j < k.size; j++) {
                try {
                  int r = t.program.applySpeed(t.delta, t.scratch, k, j, maxOutOfOrder);
                  if ((r & ViewProgram.FOLDED) != 0) {
                    t.foldedInBatch++;
                  }
                  if ((r & ViewProgram.LATE) != 0) {
                    noteLate(t, k, j);
                  }
                  if (r == ViewProgram.NULL_KEY && !t.nullKeyReported) {
                    t.nullKeyReported = true;
                    LOG.warn(t.program.nullKeyNote(stream.name(), partition, k.offset[j]));
                  }
                } catch (RuntimeException e) {
                  reportEventError(t, k.offset[j], e);
                }
              }
            }
            if (k.size > 0) {
              last = k.offset[k.size - 1];
              n += k.size;
              if (chunkMax > maxEventTime) {
                maxEventTime = chunkMax;
              }
              lastEventAt = clock.getAsLong();
            }
            k.clear();
          } while (more && n < FOLD_BATCH);
          if (last >= 0) {
            // the log's end, also in a catch-up: from the table's side the stretch to replay goes on past
            // the catch-up's end, in lockstep with the other Deltas of the partition
            long end = stream.endOffset(partition);
            for (Target t : into) {
              if (t.growth != null) {
                t.growth.observe(t.delta.table, last + 1, end);
              }
            }
          }
        } catch (Error e) {
          stop(e); // before the locks are released below
          if (lateLog != null) {
            lateLog.release(late); // counted, never written: reads stop waiting for them
            late.clear();
          }
          throw e;
        } finally {
          for (Target t : into) {
            if (last >= t.delta.writerPosition()) {
              t.delta.advance(last + 1, t.foldedInBatch);
            }
            t.delta.lock.unlockWrite(t.stamp);
          }
          if (lateLog != null) { // after the locks, also when the fold failed part way: what it claimed was folded
            lateLog.recordClaimed(late, partition);
          }
        }
      }
      return true;
    }

    /** The first record of {@code k} at or after {@code position} (records are in offset order). */
    private static int firstAtOrAfter(RecordChunk k, long position) {
      int j = 0;
      while (j < k.size && k.offset[j] < position) {
        j++;
      }
      return j;
    }

    /** Claims a late event for the late log, under the write lock (written after the Deltas' locks are released). */
    private void noteLate(Target t, RecordChunk k, int j) {
      String view = t.program.spec.name();
      if (lateLog == null || !lateLog.claim(view, t.program.lateRule, partition, k.offset[j])) {
        return;
      }
      // against what the lateness decision counted from
      late.add(LateLog.Pending.of(t.program, partition, k, j, t.delta.lateReference(), maxOutOfOrder));
    }

    private void reportEventError(Target t, long offset, RuntimeException e) {
      t.delta.skipped++; // the writer, under the Delta's write lock: what status counts
      long n = ++failures; // for the log only: every version's Delta that skips the event adds to it
      if (n <= 10 || n % 10_000 == 0) {
        LOG.warn("view '{}': skipped event at offset {} of stream '{}' partition {} (failure {} in this partition "
            + "since the engine opened): {}", t.program.spec.name(), offset, stream.name(), partition, n, e.toString());
      }
    }
  }
}
