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
 * wakes every waiter. The fsync is replaced by a {@link FilePartition.Forcer} that the test can hold
 * or fail, so the interleavings are forced rather than hoped for; the waits below only guard
 * against a hang.
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

  /** A forcer whose first fsync waits for {@link #release}, then fsyncs or fails as told. */
  private static final class HeldForcer implements FilePartition.Forcer {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger calls = new AtomicInteger();
    volatile IOException failFirstWith;

    @Override
    public void force(FileChannel channel) throws IOException {
      if (calls.incrementAndGet() == 1) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("test interrupted");
        }
        if (failFirstWith != null) {
          throw failFirstWith;
        }
      }
      FilePartition.FDATASYNC.force(channel);
    }
  }

  private static void awaitCondition(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for %s", what).isLessThan(deadline);
      Thread.sleep(1);
    }
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
    HeldForcer forcer = new HeldForcer();
    p.forcer = forcer;

    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    assertThat(forcer.entered.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).isTrue();
    List<Future<AppendResult>> followers = new ArrayList<>();
    for (int t = 0; t < 7; t++) {
      String v = "follower-" + t;
      followers.add(pool.submit(() -> s.append(0, batch(v, v))));
    }
    awaitCondition(() -> p.durabilityWaiters() == 7, "7 appenders waiting for the running fsync");

    // The running fsync held up no write: all 15 records are in the page cache and readable.
    assertThat(p.endOffset()).isEqualTo(15);
    assertThat(readAll(s, 0, 0)).hasSize(15);
    assertThat(p.durableOffset()).isZero();
    assertThat(leader.isDone()).isFalse();

    forcer.release.countDown();
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
    HeldForcer forcer = new HeldForcer();
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    assertThat(forcer.entered.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).isTrue();
    Thread[] waiterThread = new Thread[1];
    Future<Boolean> waiter = pool.submit(() -> {
      waiterThread[0] = Thread.currentThread();
      s.append(0, batch("waiter"));
      return Thread.currentThread().isInterrupted();
    });
    awaitCondition(() -> p.durabilityWaiters() == 1, "the second appender waiting");

    waiterThread[0].interrupt(); // it keeps waiting, and must not carry the interrupt into its fsync
    forcer.release.countDown();

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
    HeldForcer forcer = new HeldForcer();
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    assertThat(forcer.entered.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).isTrue();
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
    forcer.release.countDown();

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
    HeldForcer forcer = new HeldForcer();
    forcer.failFirstWith = new IOException("Input/output error (injected)");
    p.forcer = forcer;
    Future<AppendResult> leader = pool.submit(() -> s.append(0, batch("leader")));
    assertThat(forcer.entered.await(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).isTrue();
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

    forcer.release.countDown();

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
}
