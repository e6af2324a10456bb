package dev.braid.log;

import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.LogTestSupport.Rec;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@link FileLog} under concurrent use: readers that race writers and segment rolls see whole
 * batches only, in order, without gaps or duplicates; concurrent {@code fsync} appenders share
 * fsyncs and still each get their own offsets; every durability mode keeps what it promises.
 */
class FileLogConcurrencyTest {

  @TempDir
  Path dir;

  private FileLog log;

  @AfterEach
  void closeTheLog() {
    if (log != null) {
      log.close();
    }
  }

  private static FilePartition partition(LogStream s, int p) {
    return ((FileLogStream) s).partition(p);
  }

  /** A record of the race test: which writer, which of its batches, where in the batch. */
  private record Tag(int writer, int batch, int index, int size) {

    static final int LENGTH = 16;

    static Tag of(RecordCursor c) {
      ByteBuffer b = c.buffer();
      int v = c.valueOffset();
      return new Tag(b.getInt(v), b.getInt(v + 4), b.getInt(v + 8), b.getInt(v + 12));
    }

    byte[] value(int padding) {
      return ByteBuffer.allocate(LENGTH + padding).putInt(writer).putInt(batch).putInt(index).putInt(size).array();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Readers racing writers and rolls
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2})
  void shouldShowRacingReadersWholeBatchesInOrderWithoutGapsOrDuplicates(long seed) throws Exception {
    int writers = 2;
    int batchesPerWriter = 700;
    log = FileLog.open(dir);
    LogStream s = log.createStream("race", StreamConfig.of(1).withSegmentBytes(4096));
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    AtomicLongArray firstOffsets = new AtomicLongArray(writers * batchesPerWriter);
    AtomicBoolean writing = new AtomicBoolean(true);
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();

    List<Thread> writerThreads = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      int writer = w;
      writerThreads.add(thread("writer-" + w, failures, start, () -> {
        Random random = new Random(seed * 31 + writer);
        RecordBatchBuilder b = new RecordBatchBuilder(512, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
        for (int batch = 0; batch < batchesPerWriter; batch++) {
          b.clear();
          int size = 1 + random.nextInt(12);
          for (int i = 0; i < size; i++) {
            b.add(new byte[] {(byte) writer}, new Tag(writer, batch, i, size).value(random.nextInt(40)), batch, i);
          }
          firstOffsets.set(writer * batchesPerWriter + batch, s.append(0, b).firstOffset());
        }
      }));
    }
    threads.addAll(writerThreads);
    List<List<String>> readerLogs = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      int reader = r;
      threads.add(thread("reader-" + r, failures, start, () -> {
        String context = "seed " + seed + " reader " + reader;
        int[] nextBatch = new int[writers];
        long nextOffset = 0;
        int batchesSeen = 0;
        try (LogReader lr = s.reader(0, 0)) {
          while (batchesSeen < writers * batchesPerWriter) {
            RecordCursor c = lr.poll();
            Tag open = null; // the batch whose records this poll is going through
            boolean any = false;
            while (c.next()) {
              any = true;
              Tag t = Tag.of(c);
              assertThat(c.offset()).as("%s: offsets without gaps or duplicates", context).isEqualTo(nextOffset++);
              if (open == null) {
                assertThat(t.index()).as("%s: %s starts a batch", context, t).isZero();
                assertThat(t.batch()).as("%s: %s is the writer's next batch", context, t)
                    .isEqualTo(nextBatch[t.writer()]);
              } else {
                assertThat(t).as("%s: the batch goes on", context)
                    .isEqualTo(new Tag(open.writer(), open.batch(), open.index() + 1, open.size()));
              }
              open = t.index() == t.size() - 1 ? null : t;
              if (open == null) {
                nextBatch[t.writer()]++;
                batchesSeen++;
              }
            }
            assertThat(open).as("%s: a poll ends with a whole batch", context).isNull();
            assertThat(lr.position()).as(context).isEqualTo(nextOffset);
            if (!any) {
              assertThat(lr.awaitData(30, TimeUnit.SECONDS)).as("%s: data after %d batches", context, batchesSeen)
                  .isTrue();
            }
          }
        }
      }));
    }
    List<long[]> seeks = new ArrayList<>(); // offset, writer, batch, index
    threads.add(thread("seeker", failures, start, () -> {
      Random random = new Random(seed);
      try (LogReader lr = s.reader(0, 0)) {
        while (writing.get()) {
          long offset = (long) (random.nextDouble() * s.endOffset(0));
          lr.seek(offset);
          RecordCursor c = lr.poll();
          if (c.next()) {
            assertThat(c.offset()).as("seed %d: the first record after seeking to %d", seed, offset).isEqualTo(offset);
            Tag t = Tag.of(c);
            seeks.add(new long[] {offset, t.writer(), t.batch(), t.index()});
          }
        }
      }
    }));

    start.countDown();
    for (Thread t : writerThreads) {
      t.join();
    }
    writing.set(false);
    for (Thread t : threads) {
      t.join();
    }

    assertThat(failures).as("seed %d", seed).isEmpty();
    assertThat(partition(s, 0).segments().length).as("the writers rolled segments").isGreaterThan(20);
    assertThat(seeks).as("seed %d: the seeker ran", seed).isNotEmpty();
    for (long[] seek : seeks) {
      long first = firstOffsets.get((int) seek[1] * batchesPerWriter + (int) seek[2]);
      assertThat(first + seek[3]).as("seed %d: seek to %d", seed, seek[0]).isEqualTo(seek[0]);
    }
  }

  /** A started thread that waits for {@code start}, runs {@code body}, and records what it threw. */
  private static Thread thread(String name, Queue<Throwable> failures, CountDownLatch start, ThrowingRunnable body) {
    Thread t = new Thread(() -> {
      try {
        start.await();
        body.run();
      } catch (Throwable e) {
        failures.add(new AssertionError(name + " failed", e));
      }
    }, name);
    t.start();
    return t;
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  @Test
  void shouldKeepServingOthersWhileAReaderThreadIsInterruptedAgainAndAgain() throws Exception {
    // What an executor's shutdownNow does to a reading task: interrupts that land at any moment,
    // including inside a file read.
    log = FileLog.open(dir);
    LogStream s = log.createStream("interrupts", StreamConfig.of(1).withSegmentBytes(64 << 10));
    List<Rec> all = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      all.addAll(appendTexts(s, 0, "before " + i, 5));
    }
    AtomicBoolean reading = new AtomicBoolean(true);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    CountDownLatch running = new CountDownLatch(1);
    Thread victim = thread("victim", failures, start, () -> {
      try (LogReader r = s.reader(0, 0)) {
        running.countDown();
        while (reading.get()) {
          try {
            r.seek(0);
            while (r.poll().next()) {
              // read on
            }
          } catch (LogException e) {
            Thread.interrupted(); // an interrupt may fail this reader's read, and only that
          }
        }
      }
    });
    start.countDown();
    running.await();
    for (int i = 0; i < 1000; i++) {
      victim.interrupt();
      all.addAll(appendTexts(s, 0, "during " + i, 1));
    }
    reading.set(false);
    victim.join();

    assertThat(failures).isEmpty();
    all.addAll(appendTexts(s, 0, "after", 3));
    assertThat(readAll(s, 0, 0)).isEqualTo(all);
  }

  // ---------------------------------------------------------------------------------------------
  // Group commit and durability modes
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldGiveEveryConcurrentFsyncAppenderItsOwnDurableOffsets() throws Exception {
    int threads = 8;
    int appends = 120;
    log = FileLog.open(dir);
    LogStream s = log.createStream("commit", StreamConfig.of(2).withDurability(Durability.fsync()));
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    Queue<long[]> acks = new ConcurrentLinkedQueue<>(); // partition, offset, thread, append, index
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> appenders = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      appenders.add(thread("appender-" + t, failures, start, () -> {
        RecordBatchBuilder b = new RecordBatchBuilder(256, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
        for (int a = 0; a < appends; a++) {
          int partition = (thread + a) % 2;
          int count = 1 + a % 3;
          b.clear();
          for (int i = 0; i < count; i++) {
            b.add(new byte[] {(byte) thread}, (thread + "/" + a + "/" + i).getBytes(), a, i);
          }
          AppendResult r = s.append(partition, b);
          // Acknowledged under fsync: the partition's durable offset covers the batch already.
          assertThat(partition(s, partition).durableOffset()).isGreaterThan(r.lastOffset());
          for (int i = 0; i < count; i++) {
            acks.add(new long[] {partition, r.offset(i), thread, a, i});
          }
        }
      }));
    }
    start.countDown();
    for (Thread t : appenders) {
      t.join();
    }

    assertThat(failures).isEmpty();
    int records = threads * (appends / 3) * (1 + 2 + 3);
    assertThat(acks).hasSize(records);
    List<List<Rec>> logged = List.of(readAll(s, 0, 0), readAll(s, 1, 0));
    Set<String> distinct = new HashSet<>();
    for (long[] ack : acks) {
      int p = (int) ack[0];
      assertThat(distinct.add(p + "@" + ack[1])).as("offset %d of partition %d given once", ack[1], p).isTrue();
      assertThat(logged.get(p).get((int) ack[1]).valueText()).as("record at p%d@%d", p, ack[1])
          .isEqualTo(ack[2] + "/" + ack[3] + "/" + ack[4]);
    }
    assertThat(logged.get(0).size() + logged.get(1).size()).isEqualTo(records);
    assertThat(s.end()).isEqualTo(Cut.of(logged.get(0).size(), logged.get(1).size()));
  }

  @Test
  void shouldAcknowledgeOsDurabilityWithoutFsyncAndFlushOnDemand() {
    log = FileLog.open(dir);
    LogStream s = log.createStream("os", StreamConfig.of(3).withDurability(Durability.os()));
    List<List<Rec>> appended = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      appended.add(appendTexts(s, p, "os", 4 + p));
      assertThat(partition(s, p).durableOffset()).as("os durability does not fsync an append").isZero();
      assertThat(partition(s, p).isDirty()).isTrue();
    }

    s.flush();

    for (int p = 0; p < 3; p++) {
      assertThat(partition(s, p).durableOffset()).as("flushed partition %d", p).isEqualTo(s.endOffset(p));
      assertThat(partition(s, p).isDirty()).isFalse();
    }
    log.close();
    log = FileLog.open(dir);
    LogStream again = log.stream("os");
    for (int p = 0; p < 3; p++) {
      assertThat(readAll(again, p, 0)).isEqualTo(appended.get(p));
    }
  }

  @Test
  void shouldFsyncIntervalDurabilityInTheBackground() throws Exception {
    log = FileLog.open(dir);
    LogStream s = log.createStream("interval", StreamConfig.of(2).withDurability(Durability.interval(10)));
    List<Rec> appended = appendTexts(s, 1, "interval", 5);
    FilePartition p = partition(s, 1);

    // Wait for the background sync; the bound only guards against a hang.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (p.durableOffset() < s.endOffset(1) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }

    assertThat(p.durableOffset()).as("synced by the interval task, without flush").isEqualTo(s.endOffset(1));
    assertThat(p.isDirty()).isFalse();
    assertThat(readAll(s, 1, 0)).isEqualTo(appended);
    log.close();
    log = FileLog.open(dir);
    assertThat(log.stream("interval").config().durability()).isEqualTo(Durability.interval(10));
    assertThat(readAll(log.stream("interval"), 1, 0)).isEqualTo(appended);
  }

  @Test
  void shouldMakeEverythingDurableWhenRollingASegment() {
    log = FileLog.open(dir);
    LogStream s = log.createStream("roll", StreamConfig.of(1).withSegmentBytes(4096));
    FilePartition p = partition(s, 0);
    while (p.segments().length < 3) {
      appendTexts(s, 0, "roll", 5);
    }

    // The sealed segments were fsynced before the roll; only the active one may be dirty.
    assertThat(p.durableOffset()).isEqualTo(p.segments()[2].baseOffset);
    s.flush();
    assertThat(p.durableOffset()).isEqualTo(s.endOffset(0));
  }
}
