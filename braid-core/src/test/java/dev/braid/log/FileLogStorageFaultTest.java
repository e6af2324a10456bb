package dev.braid.log;

import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.braid.log.LogTestSupport.Rec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Storage faults in the log (see "Storage faults" in {@link FilePartition}): a full disk, a
 * read-only file system or an I/O error while writing a batch, rolling a segment or fsyncing, and
 * an interrupt that closes the partition's channel during a write or an fsync (at the end).
 *
 * <p><b>How the fault is simulated:</b> with the partition's package-private seams
 * ({@link FilePartition#writer} and {@link FilePartition#forcer}), which write part of a batch and
 * then throw {@code IOException("No space left on device")} (the message the JDK carries for
 * {@code ENOSPC}) or fail the fsync, on every machine. {@code braid-server}'s
 * {@code DiskFullServerTest} runs the same faults for real on a tiny tmpfs where mounting is
 * allowed.
 */
class FileLogStorageFaultTest {

  @TempDir
  Path dir;

  private FileLog log;

  @AfterEach
  void close() {
    Thread.interrupted(); // an interrupt test's
    if (log != null) {
      log.close();
    }
  }

  private LogStream open(StreamConfig config) {
    log = FileLog.open(dir);
    return log.getOrCreateStream("clicks", config);
  }

  private static FilePartition partition(LogStream s) {
    return ((FileLogStream) s).partition(0);
  }

  /** A writer that writes the first {@code partialBytes} bytes of what it is given, then fails like a full disk. */
  private static FilePartition.Writer fullDiskAfter(int partialBytes) {
    return (channel, bytes, position) -> {
      ByteBuffer part = bytes.duplicate();
      part.limit(Math.min(part.limit(), part.position() + partialBytes));
      FilePartition.writeFully(channel, part, position);
      throw new IOException("No space left on device");
    };
  }

  private static Path segmentFile(Path dir, long base) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(f -> f.getFileName().toString().equals(SegmentDescriptor.segmentName(base))).findFirst()
          .orElseThrow();
    }
  }

  @Test
  void shouldRefuseAnAppendOnAFullDiskAndAppendAtTheSameOffsetOnceSpaceReturns() throws IOException {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>(appendTexts(s, 0, "before", 3));
    Path segment = segmentFile(dir, 0);
    long sizeBefore = Files.size(segment);

    p.writer = fullDiskAfter(17); // a torn write: part of the batch reaches the file
    Throwable failed = catchThrowable(() -> appendTexts(s, 0, "refused", 2));

    assertThat(failed).isInstanceOf(StorageFullException.class)
        .hasMessageContaining("stream 'clicks' partition 0")
        .hasMessageContaining(segment.toString())
        .hasMessageContaining("No space left on device");
    StorageFullException full = (StorageFullException) failed;
    assertThat(full.kind()).isEqualTo(LogWriteException.Kind.STORAGE_FULL);
    assertThat(full.file()).isEqualTo(segment);
    assertThat(full.reason()).isEqualTo("No space left on device");
    assertThat(s.endOffset(0)).as("nothing published").isEqualTo(3);
    assertThat(Files.size(segment)).as("the torn bytes are cut").isEqualTo(sizeBefore);
    assertThat(readAll(s, 0, 0)).isEqualTo(acknowledged);

    p.writer = FilePartition.POSITIONAL; // space returns
    List<Rec> after = appendTexts(s, 0, "after", 2);

    assertThat(after.get(0).offset()).as("the next append lands where the refused one would have").isEqualTo(3);
    acknowledged.addAll(after);
    assertThat(readAll(s, 0, 0)).isEqualTo(acknowledged);
    log.close();
    log = FileLog.open(dir);
    assertThat(log.recoveries()).as("nothing torn to cut on reopen").isEmpty();
    assertThat(readAll(log.stream("clicks"), 0, 0)).as("exactly the acknowledged batches").isEqualTo(acknowledged);
  }

  @Test
  void shouldLeaveTheSegmentUnchangedWhenARollToANewSegmentFails() throws IOException {
    LogStream s = open(StreamConfig.of(1).withSegmentBytes(4096));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>();
    while (p.segments().length == 1 && s.endOffset(0) < 10_000) {
      // stop just before the batch that would roll
      if (p.segments()[0].size + 600 > 4096) {
        break;
      }
      acknowledged.addAll(appendTexts(s, 0, "fill-" + s.endOffset(0), 5));
    }
    assertThat(p.segments()).hasSize(1);
    long end = s.endOffset(0);

    p.writer = fullDiskAfter(0); // the new segment's header cannot be written
    Throwable failed = catchThrowable(() -> appendTexts(s, 0, "rolls-".repeat(20), 5));

    assertThat(failed).isInstanceOf(StorageFullException.class)
        .hasMessageContaining("rolling to a new segment: creating")
        .hasMessageContaining(SegmentDescriptor.segmentName(end))
        .hasMessageContaining("No space left on device");
    assertThat(p.segments()).as("still one segment").hasSize(1);
    assertThat(s.endOffset(0)).isEqualTo(end);
    try (Stream<Path> files = Files.walk(dir)) {
      assertThat(files.map(f -> f.getFileName().toString()))
          .as("the half-made segment file is removed").doesNotContain(SegmentDescriptor.segmentName(end));
    }

    p.writer = FilePartition.POSITIONAL;
    List<Rec> after = appendTexts(s, 0, "rolls-".repeat(20), 5);

    assertThat(p.segments()).as("the roll succeeds once space returns").hasSize(2);
    assertThat(after.get(0).offset()).isEqualTo(end);
    acknowledged.addAll(after);
    log.close();
    log = FileLog.open(dir);
    assertThat(readAll(log.stream("clicks"), 0, 0)).isEqualTo(acknowledged);
  }

  @Test
  void shouldNotAcknowledgeABatchWhoseFsyncFailedAndRewriteItBeforeTheNextAcknowledgement() throws IOException {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    List<Rec> acknowledged = new ArrayList<>(appendTexts(s, 0, "before", 2));
    List<Long> writes = new ArrayList<>();
    p.writer = (channel, bytes, position) -> {
      writes.add(position);
      FilePartition.writeFully(channel, bytes, position);
    };
    p.forcer = channel -> {
      throw new IOException("No space left on device");
    };

    Throwable failed = catchThrowable(() -> appendTexts(s, 0, "unknown", 2));

    assertThat(failed).isInstanceOf(StorageFullException.class).hasMessageContaining("fsync of")
        .hasMessageContaining("No space left on device");
    assertThat(p.durableOffset()).as("not acknowledged").isEqualTo(2);
    assertThat(s.endOffset(0)).as("published before the fsync, so kept (see FilePartition)").isEqualTo(4);
    AppendResult published = ((LogWriteException) failed).published();
    assertThat(published).as("the exception says which records are in the log all the same").isNotNull();
    assertThat(published.count()).isEqualTo(2);
    assertThat(published.offset(0)).isEqualTo(2);

    p.forcer = FilePartition.FDATASYNC; // space returns
    writes.clear();
    List<Rec> after = appendTexts(s, 0, "after", 1);

    assertThat(after.get(0).offset()).isEqualTo(4);
    assertThat(p.durableOffset()).isEqualTo(5);
    assertThat(writes).as("the new batch, then the batches not known durable rewritten from the page cache")
        .hasSizeGreaterThanOrEqualTo(3);
    List<Rec> all = readAll(s, 0, 0);
    log.close();
    log = FileLog.open(dir);
    assertThat(log.recoveries()).isEmpty();
    assertThat(readAll(log.stream("clicks"), 0, 0)).isEqualTo(all);
    assertThat(all.subList(0, 2)).isEqualTo(acknowledged);
    assertThat(all.get(4)).isEqualTo(after.get(0));
  }

  @Test
  void shouldKeepRefusingWhileTheFsyncStillFailsAndLetOsDurabilityAppendsThrough() {
    LogStream s = open(StreamConfig.of(1).withDurability(Durability.fsync()));
    FilePartition p = partition(s);
    p.forcer = channel -> {
      throw new IOException("Input/output error");
    };
    Throwable first = catchThrowable(() -> appendTexts(s, 0, "a", 1));
    Throwable second = catchThrowable(() -> appendTexts(s, 0, "b", 1));

    assertThat(first).isInstanceOf(LogWriteException.class).isNotInstanceOf(StorageFullException.class)
        .hasMessageContaining("Input/output error");
    assertThat(((LogWriteException) first).kind()).isEqualTo(LogWriteException.Kind.IO_ERROR);
    assertThat(second).as("the rewrite's own fsync fails too").isInstanceOf(LogWriteException.class)
        .hasMessageContaining("Input/output error");
    assertThat(p.durableOffset()).isZero();

    p.forcer = FilePartition.FDATASYNC;
    s.flush();
    assertThat(p.durableOffset()).as("a flush repairs the partition once fsync works").isEqualTo(2);
  }

  @Test
  void shouldClassifyTheOperatingSystemsReasons() {
    assertThat(LogWriteException.classify(new IOException("No space left on device")))
        .isEqualTo(LogWriteException.Kind.STORAGE_FULL);
    assertThat(LogWriteException.classify(new IOException("Disk quota exceeded")))
        .isEqualTo(LogWriteException.Kind.STORAGE_FULL);
    assertThat(LogWriteException.classify(new java.nio.file.FileSystemException("/d/x", null, "Read-only file system")))
        .isEqualTo(LogWriteException.Kind.UNWRITABLE);
    assertThat(LogWriteException.classify(new java.nio.file.AccessDeniedException("/d/x")))
        .isEqualTo(LogWriteException.Kind.UNWRITABLE);
    assertThat(LogWriteException.classify(new IOException("Input/output error")))
        .isEqualTo(LogWriteException.Kind.IO_ERROR);
    assertThat(LogWriteException.classify(new IOException("File too large")))
        .as("EFBIG is the file size limit, not a full disk").isEqualTo(LogWriteException.Kind.FILE_SIZE_LIMIT);
    assertThat(LogException.describe(new IOException("File too large"))).contains("ulimit -f");
  }

  // ---------------------------------------------------------------------------------------------
  // An interrupt during the I/O
  //
  // An interrupt that lands while an appender's write or fsync is in the kernel makes the JDK close
  // the partition's channel (ClosedByInterruptException); the appender set its pending interrupt
  // aside before the I/O, so only one that arrives during it can. The partition opens the file
  // again: the interrupted write fails (nothing published), the batches of an interrupted fsync are
  // written again and fsynced (how the fsync ended was lost with its descriptor), and every later
  // append works, as an application whose executor's shutdownNow interrupts its ingest threads
  // expects. The interrupts are real ones, set (through the same seams) while the real FileChannel
  // call runs.
  // ---------------------------------------------------------------------------------------------

  /** Reopens the log and reads partition 0 of "clicks" as it is on disk. */
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
