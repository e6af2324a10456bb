package dev.braid.log;

import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.braid.log.LogTestSupport.Rec;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An interrupt that lands while an appender's write or fsync is in the kernel makes the JDK close
 * the partition's channel ({@code ClosedByInterruptException}); the appender set its pending
 * interrupt aside before the I/O, so only one that arrives during it can. The partition opens the
 * file again: the interrupted write fails (nothing published), the batches of an interrupted fsync
 * are written again and fsynced (how the fsync ended was lost with its descriptor), and every later
 * append works, as an application
 * whose executor's {@code shutdownNow} interrupts its ingest threads expects. The interrupts here
 * are real ones, set while the real {@code FileChannel} call runs.
 */
class FileLogInterruptedIoTest {

  @TempDir
  Path dir;

  private FileLog log;

  @AfterEach
  void closeTheLog() {
    Thread.interrupted();
    if (log != null) {
      log.close();
    }
  }

  private LogStream open(StreamConfig config) {
    log = FileLog.open(dir);
    return log.createStream("clicks", config);
  }

  private static FilePartition partition(LogStream s) {
    return ((FileLogStream) s).partition(0);
  }

  private List<Rec> reopened() {
    log.close();
    log = FileLog.open(dir);
    return readAll(log.stream("clicks"), 0, 0);
  }

  @Test
  void shouldFailOnlyTheWriteThatAnInterruptCutAndKeepAppending() {
    LogStream s = open(StreamConfig.of(1));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>(appendTexts(s, 0, "before", 3));
    AtomicInteger interruptsLeft = new AtomicInteger(1);
    p.writer = (channel, bytes, position) -> { // the interrupt arrives during the write
      if (interruptsLeft.getAndDecrement() > 0) {
        Thread.currentThread().interrupt();
      }
      FilePartition.writeFully(channel, bytes, position);
    };

    Throwable failed = catchThrowable(() -> appendTexts(s, 0, "cut", 2));
    boolean interrupted = Thread.interrupted();

    assertThat(failed).isInstanceOf(LogWriteException.class).hasMessageContaining("stream 'clicks' partition 0")
        .hasRootCauseInstanceOf(ClosedByInterruptException.class);
    assertThat(interrupted).as("the caller keeps the interrupt").isTrue();
    assertThat(s.endOffset(0)).as("nothing published").isEqualTo(3);
    acknowledged.addAll(appendTexts(s, 0, "after", 2));
    assertThat(acknowledged.get(3).offset()).isEqualTo(3);
    assertThat(readAll(s, 0, 0)).isEqualTo(acknowledged);
    assertThat(reopened()).isEqualTo(acknowledged);
    assertThat(log.recoveries()).as("the cut write left no torn tail").isEmpty();
  }

  @Test
  void shouldRunAnFsyncThatAnInterruptCutAgainAndAcknowledge() {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>(appendTexts(s, 0, "before", 3));
    AtomicInteger interruptsLeft = new AtomicInteger(1);
    p.forcer = channel -> { // the interrupt arrives during the fsync
      if (interruptsLeft.getAndDecrement() > 0) {
        Thread.currentThread().interrupt();
      }
      FilePartition.FDATASYNC.force(channel);
    };

    List<Rec> during = appendTexts(s, 0, "during", 2);
    boolean interrupted = Thread.interrupted();

    assertThat(interruptsLeft.get()).as("the interrupt landed in an fsync").isLessThan(0);
    assertThat(interrupted).as("the caller keeps the interrupt").isTrue();
    assertThat(p.durableOffset()).isEqualTo(5);
    acknowledged.addAll(during);
    acknowledged.addAll(appendTexts(s, 0, "after", 2));
    assertThat(readAll(s, 0, 0)).isEqualTo(acknowledged);
    assertThat(reopened()).isEqualTo(acknowledged);
  }

  /**
   * An appender that waits alone runs the fsync on its own thread: an interrupt there closes the
   * channel that every appender writes through. Another appender, never interrupted, that writes in
   * that moment writes again on the file opened again, and the interrupted one is acknowledged too.
   */
  @Test
  void shouldNotFailAnotherAppendersWriteWhenAnInterruptClosesTheChannelInAnFsync() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>(appendTexts(s, 0, "before", 3));
    Thread main = Thread.currentThread();
    java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch mainWrote = new java.util.concurrent.CountDownLatch(1);
    AtomicInteger interruptsLeft = new AtomicInteger(1);
    p.writer = (channel, bytes, position) -> {
      FilePartition.writeFully(channel, bytes, position);
      if (Thread.currentThread() == main) {
        mainWrote.countDown();
      }
    };
    p.forcer = channel -> {
      if (Thread.currentThread().getName().equals("victim") && interruptsLeft.getAndDecrement() > 0) {
        Thread.currentThread().interrupt(); // lands during the victim's own fsync: the channel closes
        try {
          FilePartition.FDATASYNC.force(channel);
        } finally {
          closed.countDown();
          try {
            mainWrote.await(10, java.util.concurrent.TimeUnit.SECONDS); // the other appender writes meanwhile
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }
      FilePartition.FDATASYNC.force(channel);
    };
    List<Rec> victims = new ArrayList<>();
    Queue<Throwable> failed = new ConcurrentLinkedQueue<>();
    Thread victim = new Thread(() -> {
      try {
        victims.addAll(appendTexts(s, 0, "victim", 2));
      } catch (Throwable t) {
        failed.add(t);
      }
    }, "victim");
    victim.start();
    assertThat(closed.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    List<Rec> mine = appendTexts(s, 0, "mine", 2);
    victim.join(30_000);

    assertThat(failed).as("the interrupted fsync's batches are written again and fsynced").isEmpty();
    acknowledged.addAll(victims);
    acknowledged.addAll(mine);
    assertThat(readAll(s, 0, 0)).isEqualTo(acknowledged);
    assertThat(reopened()).isEqualTo(acknowledged);
  }

  /**
   * What {@code shutdownNow} does, again and again: interrupts at any moment of an appender's work,
   * with fsync durability and segment rolls. Every acknowledged append is in the log, in order, the
   * appender's failures are only the I/O an interrupt cut, and appends work afterwards.
   */
  @Test
  void shouldKeepAcceptingAppendsWhileAnAppenderIsInterruptedAgainAndAgain() throws Exception {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()).withSegmentBytes(64 << 10));
    List<Rec> acknowledged = new ArrayList<>();
    Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    AtomicInteger cut = new AtomicInteger();
    AtomicBoolean appending = new AtomicBoolean(true);
    Thread victim = new Thread(() -> {
      try {
        for (int i = 0; appending.get(); i++) {
          try {
            acknowledged.addAll(appendTexts(s, 0, "victim " + i, 1 + i % 3));
          } catch (LogWriteException e) {
            cut.incrementAndGet(); // an interrupt cut its write or fsync
          }
          Thread.interrupted();
        }
      } catch (Throwable t) {
        unexpected.add(t);
      }
    }, "victim");
    victim.start();
    java.util.Random random = new java.util.Random(11);
    for (int i = 0; i < 500; i++) { // about one every 2 ms: an fsync here takes 0.2-2 ms
      victim.interrupt();
      java.util.concurrent.locks.LockSupport.parkNanos(random.nextInt(4_000_000));
    }
    appending.set(false);
    victim.join();

    assertThat(unexpected).isEmpty();
    List<Rec> after = appendTexts(s, 0, "after", 3);
    List<Rec> all = readAll(s, 0, 0);
    if (!acknowledged.isEmpty()) { // (every append may have been cut on a slow disk)
      assertThat(all).as("%d appends cut", cut.get()).containsSubsequence(acknowledged);
    }
    assertThat(all).as("only what was appended").allMatch(r -> new String(java.util.HexFormat.of().parseHex(r.value()),
        java.nio.charset.StandardCharsets.UTF_8).matches("(victim [0-9]+|after)-[0-9]+"));
    assertThat(all).endsWith(after.toArray(Rec[]::new));
    assertThat(reopened()).isEqualTo(all);
  }
}
