package dev.braid.log;

import static dev.braid.log.LogTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.LogTestSupport.Rec;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The group commit of {@code fsync} durability (see {@link FilePartition}): an append is
 * acknowledged only after an fsync that covers it, appenders that arrive while an fsync runs share
 * the next one, writes are not held up by a running fsync, and closing the log or a failing fsync
 * wakes every waiter. A lone appender fsyncs on its own thread; overlapping appenders are served by
 * the partition's syncer thread, which runs the fsyncs back to back, ends when idle, comes back
 * when needed, stops on close and does not loop on a disk that keeps failing. The fsync is replaced
 * by a {@link FilePartition.Forcer} that the test can hold or fail, so the interleavings are forced
 * rather than hoped for; the waits below only guard against a hang (and the syncer's idle time is
 * shortened, so that a test can join the thread when it ends).
 */
class FileLogGroupCommitTest {

  private static final long HANG_GUARD_SECONDS = 30;

  @TempDir
  Path dir;

  private FileLog log;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void cleanUp() {
    pool.shutdownNow();
    if (log != null) {
      try {
        log.close();
      } catch (LogException expectedAfterAFailedFsync) {
        // the failure tests leave a partition whose fsync failed
      }
    }
  }

  private LogStream open(StreamConfig config) {
    log = FileLog.open(dir);
    return log.createStream("commit", config);
  }

  private static FilePartition partition(LogStream s) {
    return ((FileLogStream) s).partition(0);
  }

  private static RecordBatchBuilder batch(String... values) {
    RecordBatchBuilder b = new RecordBatchBuilder(256, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    for (String v : values) {
      b.add("k".getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8), 1, 2);
    }
    return b;
  }

  /**
   * Records the thread and the offsets at the start of every fsync; holds the calls told to until
   * released, then fsyncs, or fails every call once {@link #failWith} is set.
   */
  private static final class RecordingForcer implements FilePartition.Forcer {
    record Force(Thread thread, long durableAtStart, long endAtStart) {}

    final FilePartition p;
    final Queue<Force> forces = new ConcurrentLinkedQueue<>();
    final Map<Integer, CountDownLatch> entered = new ConcurrentHashMap<>();
    final Map<Integer, CountDownLatch> release = new ConcurrentHashMap<>();
    final AtomicInteger calls = new AtomicInteger();
    volatile IOException failWith;

    RecordingForcer(FilePartition p, int... held) {
      this.p = p;
      for (int call : held) {
        entered.put(call, new CountDownLatch(1));
        release.put(call, new CountDownLatch(1));
      }
    }

    @Override
    public void force(FileChannel channel) throws IOException {
      int call = calls.incrementAndGet();
      forces.add(new Force(Thread.currentThread(), p.durableOffset(), p.endOffset()));
      if (release.containsKey(call)) {
        entered.get(call).countDown();
        try {
          release.get(call).await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("test interrupted");
        }
      }
      if (failWith != null) {
        throw failWith;
      }
      FilePartition.FDATASYNC.force(channel);
    }

    void awaitEntered(int call) throws InterruptedException {
      assertThat(entered.get(call).await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("fsync %d started", call).isTrue();
    }

    void release(int call) {
      release.get(call).countDown();
    }
  }

  private static void awaitCondition(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for %s", what).isLessThan(deadline);
      Thread.sleep(1);
    }
  }

  /**
   * Holds an appender in its own fsync (call {@code heldCall} of the forcer) and lets {@code n} more
   * come to wait for the next one; returns the held appender's append, then theirs (two records
   * each).
   */
  private List<Future<AppendResult>> holdLeaderWithFollowers(LogStream s, FilePartition p, RecordingForcer forcer,
      int heldCall, int n) throws Exception {
    List<Future<AppendResult>> appends = new ArrayList<>();
    appends.add(pool.submit(() -> s.append(0, batch("leader"))));
    forcer.awaitEntered(heldCall);
    for (int t = 0; t < n; t++) {
      String v = "follower-" + t;
      appends.add(pool.submit(() -> s.append(0, batch(v, v))));
    }
    awaitCondition(() -> p.durabilityWaiters() == n, n + " appenders waiting for the next fsync");
    return appends;
  }

  private static <T> T result(Future<T> f) throws Exception {
    return f.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
  }

  private static Throwable failure(Future<?> f) throws Exception {
    try {
      f.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldAcknowledgeEveryFsyncAppendOnlyOnceAnFsyncCoveredIt() throws Exception {
    int threads = 8;
    int appends = 300;
    // Small segments, so rolls (which fsync the sealed segment themselves) interleave with commits.
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()).withSegmentBytes(64 << 10));
    FilePartition p = partition(s);
    // What real fsyncs covered, seen independently of the partition's own bookkeeping: a force
    // covers every batch whose write ended before it started, so every offset below the end
    // offset read at its start.
    AtomicLong forced = new AtomicLong();
    AtomicInteger forces = new AtomicInteger();
    p.forcer = channel -> {
      long end = p.endOffset();
      FilePartition.FDATASYNC.force(channel);
      forced.accumulateAndGet(end, Math::max);
      forces.incrementAndGet();
    };
    Queue<String> violations = new ConcurrentLinkedQueue<>();
    Map<Long, String> acked = new ConcurrentHashMap<>();
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> appenders = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      appenders.add(pool.submit(() -> {
        start.await();
        for (int a = 0; a < appends; a++) {
          String[] values = new String[1 + (thread + a) % 5];
          for (int i = 0; i < values.length; i++) {
            values[i] = thread + "/" + a + "/" + i;
          }
          AppendResult r = s.append(0, batch(values));
          long durable = p.durableOffset();
          Segment[] segs = p.segments();
          long coveredByFsyncOrRoll = Math.max(forced.get(), segs[segs.length - 1].baseOffset);
          if (r.lastOffset() >= durable || r.lastOffset() >= coveredByFsyncOrRoll) {
            violations.add(String.format("ack of offsets %d..%d with durable offset %d, fsynced below %d",
                r.firstOffset(), r.lastOffset(), durable, coveredByFsyncOrRoll));
          }
          for (int i = 0; i < values.length; i++) {
            acked.put(r.offset(i), values[i]);
          }
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : appenders) {
      result(f);
    }

    assertThat(violations).as("acknowledgements ahead of an fsync").isEmpty();
    assertThat(forces.get()).as("fsyncs run").isPositive();
    assertThat(p.isDirty()).isFalse();
    log.close();
    log = FileLog.open(dir);
    List<Rec> all = readAll(log.stream("commit"), 0, 0);
    assertThat(all).hasSize(acked.size());
    Map<Long, String> read = new HashMap<>();
    all.forEach(r -> read.put(r.offset(), r.valueText()));
    assertThat(read).isEqualTo(acked);
  }

  @Test
  void shouldCoverEveryAppendThatArrivedDuringAnFsyncWithOneMoreFsync() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    p.forcer = forcer;

    List<Future<AppendResult>> appends = holdLeaderWithFollowers(s, p, forcer, 1, 7);
    Future<AppendResult> leader = appends.get(0);
    List<Future<AppendResult>> followers = appends.subList(1, appends.size());

    // The running fsync held up no write: all 15 records are in the page cache and readable.
    assertThat(p.endOffset()).isEqualTo(15);
    assertThat(readAll(s, 0, 0)).hasSize(15);
    assertThat(p.durableOffset()).isZero();
    assertThat(leader.isDone()).isFalse();

    forcer.release(1);
    assertThat(result(leader).lastOffset()).isZero();
    for (Future<AppendResult> f : followers) {
      assertThat(result(f).lastOffset()).isLessThan(p.durableOffset());
    }
    assertThat(p.durableOffset()).isEqualTo(15);
    assertThat(forcer.calls.get()).as("one fsync for the leader, one shared by the 7 that waited").isEqualTo(2);
  }

  @Test
  void shouldKeepTheChannelOpenWhenAWaitingAppenderIsInterrupted() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    forcer.awaitEntered(1);
    Thread[] waiterThread = new Thread[1];
    Future<Boolean> waiter = pool.submit(() -> {
      waiterThread[0] = Thread.currentThread();
      s.append(0, batch("waiter"));
      return Thread.currentThread().isInterrupted();
    });
    awaitCondition(() -> p.durabilityWaiters() == 1, "the second appender waiting");

    waiterThread[0].interrupt(); // it keeps waiting, and must not carry the interrupt into its fsync
    forcer.release(1);

    result(leader);
    assertThat(result(waiter)).as("the interrupted appender keeps its interrupt").isTrue();
    assertThat(p.durableOffset()).isEqualTo(2);
    s.append(0, batch("after"));
    assertThat(readAll(s, 0, 0)).extracting(Rec::valueText).containsExactly("leader", "waiter", "after");
  }

  @Test
  void shouldAcknowledgeWaitingAppendersWhenTheLogClosesWhileAnFsyncRuns() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    forcer.awaitEntered(1);
    List<Future<AppendResult>> waiting = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      String v = "waiting-" + t;
      waiting.add(pool.submit(() -> s.append(0, batch(v))));
    }
    awaitCondition(() -> p.durabilityWaiters() == 3, "3 appenders waiting");

    Future<?> closing = pool.submit(() -> {
      log.close();
      return null;
    });
    // close refuses new appends, then fsyncs what was written: it waits for the running fsync too.
    awaitCondition(() -> p.durabilityWaiters() == 4, "close waiting for the running fsync");
    forcer.release(1);

    result(closing);
    result(leader);
    for (Future<AppendResult> f : waiting) {
      assertThat(result(f).lastOffset()).as("covered by the final fsync of close").isLessThan(4);
    }
    assertThat(p.durableOffset()).isEqualTo(4);
    Throwable late = failure(pool.submit(() -> s.append(0, batch("late"))));
    assertThat(late).isInstanceOf(LogException.class).hasMessageContaining("'commit' partition 0 is closed");
    log = FileLog.open(dir);
    assertThat(log.recoveries()).isEmpty();
    assertThat(readAll(log.stream("commit"), 0, 0)).hasSize(4);
  }

  @Test
  void shouldFailEveryWaiterAndCloseWithTheCauseWhenTheFsyncFails() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    forcer.failWith = new IOException("Input/output error (injected)");
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    forcer.awaitEntered(1);
    List<Future<AppendResult>> waiting = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      String v = "waiting-" + t;
      waiting.add(pool.submit(() -> s.append(0, batch(v))));
    }
    awaitCondition(() -> p.durabilityWaiters() == 3, "3 appenders waiting");
    Future<?> closing = pool.submit(() -> {
      log.close();
      return null;
    });
    awaitCondition(() -> p.durabilityWaiters() == 4, "close waiting for the running fsync");

    forcer.release(1);

    List<Future<?>> all = new ArrayList<>(waiting);
    all.add(leader);
    all.add(closing);
    for (Future<?> f : all) {
      Throwable t = failure(f);
      assertThat(t).isInstanceOf(LogException.class).hasMessageContaining("'commit' partition 0")
          .hasMessageContaining("fsync").hasMessageContaining("Input/output error (injected)");
    }
    assertThat(p.durableOffset()).as("nothing is called durable after a failed fsync").isZero();
    assertThat(forcer.calls.get()).as("a failed fsync is not retried").isEqualTo(1);
    log = null; // closed, with the failure reported above
    // The data reached the page cache; a reopen finds it (the fsync failure was injected).
    log = FileLog.open(dir);
    assertThat(readAll(log.stream("commit"), 0, 0)).hasSize(4);
  }

  @Test
  void shouldAcknowledgeAgainAfterAFailedFsyncOnlyByRewritingWhatItFailedToCover() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    s.append(0, batch("before"));
    p.forcer = channel -> {
      throw new IOException("No space left on device (injected)");
    };
    Throwable first = failure(pool.submit(() -> s.append(0, batch("failed"))));
    AtomicInteger rewrites = new AtomicInteger();
    p.writer = (channel, bytes, position) -> {
      rewrites.incrementAndGet();
      FilePartition.writeFully(channel, bytes, position);
    };
    p.forcer = FilePartition.FDATASYNC; // the disk "recovers": a plain retried fsync would report success

    AppendResult second = pool.submit(() -> s.append(0, batch("after"))).get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);

    assertThat(first).isInstanceOf(LogWriteException.class).hasMessageContaining("No space left on device (injected)");
    assertThat(second.offset(0)).isEqualTo(2);
    assertThat(rewrites.get()).as("the new batch, then the rewrite of the two not known durable (from the index "
        + "entry at or before them)").isGreaterThanOrEqualTo(3);
    assertThat(p.durableOffset()).isEqualTo(3);
  }

  /**
   * Makes two appenders overlap: the first one's own fsync (call {@code heldCall} of the forcer)
   * is held until the second waits, so the second is left to the syncer. Returns both appends.
   */
  private List<Future<AppendResult>> overlap(LogStream s, FilePartition p, RecordingForcer forcer, int heldCall)
      throws Exception {
    List<Future<AppendResult>> appends = holdLeaderWithFollowers(s, p, forcer, heldCall, 1);
    forcer.release(heldCall);
    return appends;
  }

  private static void awaitEnd(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(HANG_GUARD_SECONDS));
    assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
  }

  @Test
  void shouldRunTheFsyncOfALoneAppenderOnItsOwnThread() {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p);
    p.forcer = forcer;

    s.append(0, batch("one"));
    s.append(0, batch("two"));

    assertThat(forcer.forces).extracting(RecordingForcer.Force::thread).containsExactly(Thread.currentThread(),
        Thread.currentThread());
    assertThat(p.syncerThread()).as("no thread to wake, none started").isNull();
    assertThat(p.durableOffset()).isEqualTo(2);
  }

  @Test
  void shouldStartTheNextFsyncOnTheSyncerThreadOnceThePreviousEndsAndAcknowledgeTheCoveredMeanwhile()
      throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1, 2, 3);
    p.forcer = forcer;
    List<Future<AppendResult>> appends = holdLeaderWithFollowers(s, p, forcer, 1, 7);
    Future<AppendResult> leader = appends.get(0);
    List<Future<AppendResult>> followers = appends.subList(1, appends.size());

    forcer.release(1);
    forcer.awaitEntered(2);
    // The syncer's fsync runs; the appender the first one covered is acknowledged meanwhile.
    assertThat(result(leader).lastOffset()).isZero();
    assertThat(followers).noneMatch(Future::isDone);
    Future<AppendResult> late = pool.submit(() -> s.append(0, batch("late")));
    awaitCondition(() -> p.durabilityWaiters() == 1, "an appender waiting for the third fsync");
    forcer.release(2);
    forcer.awaitEntered(3);
    for (Future<AppendResult> f : followers) {
      assertThat(result(f).lastOffset()).isLessThan(15);
    }
    forcer.release(3);
    assertThat(result(late).lastOffset()).isEqualTo(15);

    assertThat(forcer.forces).hasSize(3);
    RecordingForcer.Force first = forcer.forces.poll();
    RecordingForcer.Force second = forcer.forces.poll();
    RecordingForcer.Force third = forcer.forces.poll();
    assertThat(first.thread().getName()).as("the leader's own fsync").doesNotStartWith("braid-fsync");
    assertThat(second.thread().getName()).isEqualTo("braid-fsync-commit-0");
    assertThat(third.thread()).as("no appender's thread runs the next fsync: none has to wake for it")
        .isSameAs(second.thread());
    assertThat(first.endAtStart()).isEqualTo(1);
    assertThat(second.durableAtStart()).as("each fsync's outcome is published before the next starts").isEqualTo(1);
    assertThat(second.endAtStart()).as("one fsync for everything written meanwhile").isEqualTo(15);
    assertThat(third.durableAtStart()).isEqualTo(15);
    assertThat(third.endAtStart()).isEqualTo(16);
    assertThat(p.durableOffset()).isEqualTo(16);
  }

  @Test
  void shouldEndTheSyncerThreadWhenIdleAndStartAnotherWhenAppendersOverlapAgain() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1, 3);
    p.forcer = forcer;
    p.syncerIdleNanos = TimeUnit.MILLISECONDS.toNanos(20);

    for (Future<AppendResult> f : overlap(s, p, forcer, 1)) {
      result(f);
    }
    forcer.forces.poll();
    Thread firstSyncer = forcer.forces.poll().thread();
    awaitEnd(firstSyncer);
    assertThat(p.syncerThread()).isNull();

    for (Future<AppendResult> f : overlap(s, p, forcer, 3)) {
      result(f);
    }
    forcer.forces.poll();
    Thread secondSyncer = forcer.forces.poll().thread();

    assertThat(firstSyncer.getName()).isEqualTo("braid-fsync-commit-0");
    assertThat(secondSyncer).isNotSameAs(firstSyncer);
    assertThat(secondSyncer.getName()).isEqualTo("braid-fsync-commit-0");
    assertThat(secondSyncer.isDaemon()).isTrue();
    assertThat(p.durableOffset()).isEqualTo(6);
    awaitEnd(secondSyncer);
  }

  @Test
  void shouldStopTheSyncerThreadOnClose() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    p.forcer = forcer;
    p.syncerIdleNanos = TimeUnit.HOURS.toNanos(1);
    for (Future<AppendResult> f : overlap(s, p, forcer, 1)) {
      result(f);
    }
    Thread syncer = p.syncerThread();
    assertThat(syncer).isNotNull();
    assertThat(syncer.isAlive()).isTrue();

    log.close();

    assertThat(syncer.isAlive()).as("close waits for the syncer to end").isFalse();
    assertThat(p.syncerThread()).isNull();
    log = null;
  }

  @Test
  void shouldNotRetryOrRewriteOnAFailingDiskWhileNoAppenderWaits() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    RecordingForcer forcer = new RecordingForcer(p, 1);
    forcer.failWith = new IOException("Input/output error (injected)");
    p.forcer = forcer;
    p.syncerIdleNanos = TimeUnit.MILLISECONDS.toNanos(20);

    List<Future<AppendResult>> overlapping = overlap(s, p, forcer, 1);
    for (Future<AppendResult> f : overlapping) {
      assertThat(failure(f)).as("waiting when the fsync failed").isInstanceOf(LogWriteException.class)
          .hasMessageContaining("Input/output error (injected)");
    }
    Thread syncer = p.syncerThread();
    if (syncer != null) {
      awaitEnd(syncer); // it goes idle and ends: it would not while it kept rewriting
    }
    assertThat(forcer.calls.get()).as("the failed fsync, nothing since").isEqualTo(1);

    Throwable next = failure(pool.submit(() -> s.append(0, batch("next"))));

    assertThat(next).as("the rewrite for the appender that waits fails too").isInstanceOf(LogWriteException.class)
        .hasMessageContaining("Input/output error (injected)");
    assertThat(forcer.calls.get()).as("one rewrite, for the one appender that waited").isEqualTo(2);
    assertThat(p.durableOffset()).isZero();
  }
}
