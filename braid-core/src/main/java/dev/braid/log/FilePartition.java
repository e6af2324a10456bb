package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.BASE_OFFSET_OFFSET;
import static dev.braid.log.RecordBatchDescriptor.COUNT_OFFSET;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One partition of a {@link FileLog} stream: a list of segment files, the last of which is active.
 *
 * <h2>Writing</h2>
 * Appends are serialized by {@link #writeLock}: the writer assigns the base offset, stamps the CRC,
 * writes the batch with one positional write, notes it in the sparse index, then publishes the new
 * segment size and end offset (volatile). Readers never look past the published size, so they see
 * whole batches only.
 *
 * <h2>Durability</h2>
 * Under {@code fsync}, an appender waits in {@link #awaitDurable(long)}: the first waiter takes
 * {@link #syncLock}, reads the published end, fsyncs and publishes the durable offset; appenders
 * that queued behind it usually find their batch already covered. This is group commit: N
 * concurrent appenders share one fsync. Rolling a segment fsyncs the sealed segment first, so an
 * fsync of the active segment covers everything before it.
 *
 * <h2>Recovery</h2>
 * On open, sealed segments are checked at their tail (from the last index entry to the end), and
 * the active segment is scanned batch by batch; the first batch that is torn or fails its checks
 * ends the valid prefix, and the file is truncated there. What was cut is logged and counted.
 */
final class FilePartition {

  private static final Logger LOG = LoggerFactory.getLogger(FilePartition.class);

  final String stream;
  final int partition;
  final Path dir;
  private final StreamConfig config;

  private final Object writeLock = new Object();
  private final Object syncLock = new Object();
  private final Object appendSignal = new Object();

  /** Segments in offset order; replaced (copy on write) when the writer rolls. */
  private volatile Segment[] segments;
  /** Next offset to assign; every record below it is readable. */
  private volatile long endOffset;
  private final AtomicLong durableOffset = new AtomicLong();
  private volatile int waiters;
  private volatile boolean dirty;

  // guarded by writeLock
  private final BatchCheck writerCheck = new BatchCheck();

  private final RecoveryReport recovery;

  private FilePartition(String stream, int partition, Path dir, StreamConfig config, List<Segment> segments,
      long endOffset, RecoveryReport recovery) {
    this.stream = stream;
    this.partition = partition;
    this.dir = dir;
    this.config = config;
    this.segments = segments.toArray(new Segment[0]);
    this.endOffset = endOffset;
    this.durableOffset.set(endOffset);
    this.recovery = recovery;
  }

  // ---------------------------------------------------------------------------------------------
  // Open and recovery
  // ---------------------------------------------------------------------------------------------

  static FilePartition create(String stream, int partition, Path dir, StreamConfig config) {
    try {
      Files.createDirectories(dir);
      Segment first = createSegment(dir, partition, 0);
      FileLog.fsyncDirectory(dir);
      return new FilePartition(stream, partition, dir, config, List.of(first), 0, null);
    } catch (IOException e) {
      throw new LogException("cannot create partition directory " + dir + ": " + e.getMessage(), e);
    }
  }

  static FilePartition open(String stream, int partition, Path dir, StreamConfig config) {
    List<Long> bases = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (SegmentDescriptor.SEGMENT_NAME.matcher(name).matches()) {
          bases.add(SegmentDescriptor.baseOffsetOf(name));
        } else if (name.endsWith(".tmp")) {
          Files.delete(f); // an index write that a crash interrupted; it is rebuilt below
          LOG.info("removed leftover temporary file {}", f);
        } else if (!SegmentDescriptor.INDEX_NAME.matcher(name).matches()) {
          throw new LogException(String.format(
              "foreign file %s in partition directory %s: only <20-digit offset>.log and .idx files belong here",
              name, dir));
        }
      }
    } catch (IOException e) {
      throw new LogException("cannot list partition directory " + dir + ": " + e.getMessage(), e);
    }
    bases.sort(null);
    try {
      if (bases.isEmpty()) {
        Segment first = createSegment(dir, partition, 0);
        FileLog.fsyncDirectory(dir);
        return new FilePartition(stream, partition, dir, config, List.of(first), 0, null);
      }
      List<Segment> segments = new ArrayList<>();
      try {
        for (int i = 0; i < bases.size() - 1; i++) {
          segments.add(openSealed(dir, partition, bases.get(i), bases.get(i + 1)));
        }
        long activeBase = bases.get(bases.size() - 1);
        RecoveryReport[] report = new RecoveryReport[1];
        Segment active = recoverActive(stream, dir, partition, activeBase, report);
        segments.add(active);
        long end = report[0].endOffset();
        return new FilePartition(stream, partition, dir, config, segments, end,
            report[0].truncatedBytes() > 0 ? report[0] : null);
      } catch (IOException | RuntimeException e) {
        segments.forEach(Segment::closeQuietly);
        throw e;
      }
    } catch (IOException e) {
      throw new LogException("cannot open partition directory " + dir + ": " + e.getMessage(), e);
    }
  }

  private static Segment createSegment(Path dir, int partition, long baseOffset) throws IOException {
    Path file = dir.resolve(SegmentDescriptor.segmentName(baseOffset));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      writeFully(ch, SegmentDescriptor.header(partition, baseOffset), 0);
      ch.force(true);
    } catch (IOException e) {
      // Remove the half-made file, or every later roll would fail to create it anew.
      ch.close();
      Files.deleteIfExists(file);
      throw e;
    }
    return new Segment(file, baseOffset, ch, SegmentDescriptor.HEADER_LENGTH);
  }

  private static ByteBuffer readHeader(FileChannel ch, Path file) throws IOException {
    ByteBuffer h = ByteBuffer.allocate(SegmentDescriptor.HEADER_LENGTH);
    readFully(ch, h, 0);
    return h;
  }

  private static Segment openSealed(Path dir, int partition, long base, long nextBase) throws IOException {
    Path file = dir.resolve(SegmentDescriptor.segmentName(base));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    long size = ch.size();
    if (size < SegmentDescriptor.HEADER_LENGTH) {
      ch.close();
      throw new CorruptLogException(file, 0, "sealed segment is shorter than its header (" + size + " bytes)");
    }
    String bad = SegmentDescriptor.checkHeader(readHeader(ch, file), partition, base);
    if (bad != null) {
      ch.close();
      throw new CorruptLogException(file, 0, bad);
    }
    Segment seg = new Segment(file, base, ch, size);
    try {
      verifySealed(dir, seg, nextBase);
    } catch (IOException | RuntimeException e) {
      seg.closeQuietly();
      throw e;
    }
    return seg;
  }

  private static void verifySealed(Path dir, Segment seg, long nextBase) throws IOException {
    Path file = seg.file;
    long size = seg.size;
    Path indexFile = dir.resolve(SegmentDescriptor.indexName(seg.baseOffset));
    boolean indexed = false;
    if (Files.exists(indexFile)) {
      indexed = seg.decodeIndex(ByteBuffer.wrap(Files.readAllBytes(indexFile)), size);
      if (!indexed) {
        LOG.warn("index {} is damaged; rebuilding it from its segment", indexFile);
      }
    }
    // Verify the sealed segment's tail (or the whole segment when rebuilding the index): its batches
    // must be whole, valid, and end exactly at the next segment's base offset.
    long from = indexed ? seg.lastIndexedPosition() : SegmentDescriptor.HEADER_LENGTH;
    ScanResult scan = scan(seg, from, indexed ? -1 : seg.baseOffset, indexed ? null : seg);
    if (scan.validEnd != size) {
      throw new CorruptLogException(file, scan.validEnd, "sealed segment: " + scan.problem);
    }
    // A segment is sealed only once it holds a batch, so one without batches lost them.
    long end = scan.endOffset < 0 ? seg.baseOffset : scan.endOffset;
    if (end != nextBase) {
      throw new CorruptLogException(file, scan.validEnd, String.format(
          "sealed segment ends at offset %d but the next segment starts at %d", end, nextBase));
    }
    if (!indexed) {
      writeIndex(dir, seg);
    }
  }

  private static Segment recoverActive(String stream, Path dir, int partition, long base, RecoveryReport[] report)
      throws IOException {
    Path file = dir.resolve(SegmentDescriptor.segmentName(base));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      return recoverActive(stream, file, ch, partition, base, report);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static Segment recoverActive(String stream, Path file, FileChannel ch, int partition, long base,
      RecoveryReport[] report) throws IOException {
    long size = ch.size();
    boolean tornHeader = size < SegmentDescriptor.HEADER_LENGTH;
    if (!tornHeader) {
      ByteBuffer h = readHeader(ch, file);
      String bad = SegmentDescriptor.checkHeader(h, partition, base);
      if (bad != null) {
        boolean allZero = true;
        for (int i = 0; i < h.limit(); i++) {
          allZero &= h.get(i) == 0;
        }
        if (!allZero || size > SegmentDescriptor.HEADER_LENGTH) {
          ch.close();
          throw new CorruptLogException(file, 0, bad);
        }
        tornHeader = true;
      }
    }
    if (tornHeader) {
      // The segment was being created when the process died: it holds no batch yet.
      ch.truncate(0);
      writeFully(ch, SegmentDescriptor.header(partition, base), 0);
      ch.force(true);
      LOG.warn("stream '{}' partition {}: rewrote the torn header of new segment {}", stream, partition, file);
      report[0] = new RecoveryReport(stream, partition, file, SegmentDescriptor.HEADER_LENGTH, size, base,
          size > 0 ? 1 : 0);
      return new Segment(file, base, ch, SegmentDescriptor.HEADER_LENGTH);
    }
    Segment seg = new Segment(file, base, ch, size);
    ScanResult scan = scan(seg, SegmentDescriptor.HEADER_LENGTH, base, seg);
    long end = scan.endOffset < 0 ? base : scan.endOffset;
    long cut = size - scan.validEnd;
    if (cut > 0) {
      ch.truncate(scan.validEnd);
      ch.force(true);
      seg.size = scan.validEnd;
      LOG.warn("stream '{}' partition {}: recovered {} — kept {} bytes (offsets up to {}), cut {} bytes of torn or "
          + "corrupt tail at byte {} ({})", stream, partition, file, scan.validEnd, end, cut, scan.validEnd, scan.problem);
    }
    report[0] = new RecoveryReport(stream, partition, file, scan.validEnd, cut, end, cut > 0 ? 1 : 0);
    return seg;
  }

  private record ScanResult(long validEnd, long endOffset, String problem) {}

  /**
   * Reads batches of {@code seg} from {@code from}; stops at the end of the file or the first batch
   * that is torn or invalid. Indexes batches into {@code indexInto} when given.
   */
  private static ScanResult scan(Segment seg, long from, long expectedBase, Segment indexInto) throws IOException {
    long size = seg.channel.size();
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    BatchCheck check = new BatchCheck();
    long pos = from;
    long expected = expectedBase;
    long endOffset = -1;
    while (pos < size) {
      if (size - pos < 4) {
        return new ScanResult(pos, endOffset, "torn batch length");
      }
      buf.clear().limit(4);
      readFully(seg.channel, buf, pos);
      int length = buf.getInt(0);
      if (!BatchCheck.plausibleLength(length)) {
        return new ScanResult(pos, endOffset, "impossible batch length " + length);
      }
      long total = 4L + length;
      if (pos + total > size) {
        return new ScanResult(pos, endOffset, "torn batch: " + total + " bytes declared, " + (size - pos) + " present");
      }
      if (total > buf.capacity()) {
        buf = ByteBuffer.allocate((int) total);
      }
      buf.clear().limit((int) total);
      readFully(seg.channel, buf, pos);
      String bad = check.check(buf, 0, expected);
      if (bad != null) {
        return new ScanResult(pos, endOffset, bad);
      }
      long base = buf.getLong(BASE_OFFSET_OFFSET);
      int count = buf.getInt(COUNT_OFFSET);
      if (indexInto != null) {
        indexInto.maybeIndex(base, pos);
      }
      endOffset = base + count;
      expected = endOffset;
      pos += total;
    }
    return new ScanResult(pos, endOffset, null);
  }

  private static void writeIndex(Path dir, Segment seg) throws IOException {
    Path target = dir.resolve(SegmentDescriptor.indexName(seg.baseOffset));
    Path tmp = dir.resolve(SegmentDescriptor.indexName(seg.baseOffset) + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      writeFully(ch, seg.encodeIndex(), 0);
      ch.force(true);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    FileLog.fsyncDirectory(dir);
  }

  // ---------------------------------------------------------------------------------------------
  // Append
  // ---------------------------------------------------------------------------------------------

  AppendResult append(RecordBatchBuilder batch) {
    if (batch.isEmpty()) {
      return AppendResult.of(partition, new long[0]);
    }
    // The builder enforces only its own limit; the stream's may be lower.
    if (batch.largestRecordBytes() > config.maxRecordBytes()) {
      throw new RecordTooLargeException(batch.largestRecordBytes(), config.maxRecordBytes());
    }
    boolean interrupted = holdBackInterrupt();
    try {
      return appendUninterrupted(batch);
    } finally {
      restoreInterrupt(interrupted);
    }
  }

  private AppendResult appendUninterrupted(RecordBatchBuilder batch) {
    long base;
    int count = batch.count();
    synchronized (writeLock) {
      base = endOffset;
      ByteBuffer bytes = batch.seal(base);
      writerCheck.stamp(bytes);
      int size = bytes.remaining();
      Segment active = segments[segments.length - 1];
      if (active.size + size > config.segmentBytes() && active.size > SegmentDescriptor.HEADER_LENGTH) {
        active = roll(active, base);
      }
      long position = active.size;
      try {
        writeFully(active.channel, bytes, position);
      } catch (IOException e) {
        // Nothing was published: readers and the next append still see the old end. Cut whatever
        // part of the batch reached the file so the next append starts at a batch boundary.
        truncateQuietly(active, position);
        throw new LogException(String.format("append to stream '%s' partition %d failed writing %s: %s",
            stream, partition, active.file, e.getMessage()), e);
      }
      active.maybeIndex(base, position);
      active.size = position + size;
      endOffset = base + count;
      dirty = true;
    }
    if (waiters > 0) {
      synchronized (appendSignal) {
        appendSignal.notifyAll();
      }
    }
    if (config.durability().mode() == Durability.Mode.FSYNC) {
      awaitDurable(base + count);
    }
    return AppendResult.consecutive(partition, base, count);
  }

  private static void truncateQuietly(Segment s, long position) {
    try {
      s.channel.truncate(position);
    } catch (IOException suppressed) {
      LOG.warn("could not truncate {} after a failed write; recovery will cut the torn batch", s.file);
    }
  }

  /** Seals {@code active} and starts a new segment at {@code nextBase}; caller holds the write lock. */
  private Segment roll(Segment active, long nextBase) {
    try {
      active.channel.force(true);
      writeIndex(dir, active);
      Segment next = createSegment(dir, partition, nextBase);
      FileLog.fsyncDirectory(dir);
      Segment[] grown = java.util.Arrays.copyOf(segments, segments.length + 1);
      grown[grown.length - 1] = next;
      segments = grown;
      durableOffset.accumulateAndGet(nextBase, Math::max);
      return next;
    } catch (IOException e) {
      throw new LogException(String.format("stream '%s' partition %d: cannot roll to a new segment in %s: %s",
          stream, partition, dir, e.getMessage()), e);
    }
  }

  /** Blocks until every record below {@code offset} is on disk (group commit). */
  void awaitDurable(long offset) {
    if (durableOffset.get() >= offset) {
      return;
    }
    synchronized (syncLock) {
      if (durableOffset.get() >= offset) {
        return;
      }
      sync();
    }
  }

  /** Fsyncs the active segment and publishes what it covered. */
  void sync() {
    boolean interrupted = holdBackInterrupt();
    try {
      syncUninterrupted();
    } finally {
      restoreInterrupt(interrupted);
    }
  }

  private void syncUninterrupted() {
    synchronized (syncLock) {
      long end = endOffset;
      Segment[] segs = segments;
      Segment active = segs[segs.length - 1];
      dirty = false;
      try {
        active.channel.force(false);
      } catch (IOException e) {
        dirty = true;
        throw new LogException(String.format("stream '%s' partition %d: fsync of %s failed: %s",
            stream, partition, active.file, e.getMessage()), e);
      }
      durableOffset.accumulateAndGet(end, Math::max);
    }
  }

  boolean isDirty() {
    return dirty;
  }

  /** Every record below this offset has been fsynced. */
  long durableOffset() {
    return durableOffset.get();
  }

  // ---------------------------------------------------------------------------------------------
  // Read side
  // ---------------------------------------------------------------------------------------------

  long endOffset() {
    return endOffset;
  }

  long startOffset() {
    return segments[0].baseOffset;
  }

  Segment[] segments() {
    return segments;
  }

  RecoveryReport recovery() {
    return recovery;
  }

  /** Waits until the end offset passes {@code position}; returns whether it did. */
  boolean awaitAppend(long position, long timeout, TimeUnit unit, java.util.function.BooleanSupplier woken)
      throws InterruptedException {
    if (endOffset > position) {
      return true;
    }
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    synchronized (appendSignal) {
      waiters++;
      try {
        while (endOffset <= position) {
          if (woken.getAsBoolean()) {
            return false;
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          TimeUnit.NANOSECONDS.timedWait(appendSignal, left);
        }
        return true;
      } finally {
        waiters--;
      }
    }
  }

  /** Wakes every reader waiting in {@link #awaitAppend}; each re-checks its own wake-up flag. */
  void signalWaiters() {
    synchronized (appendSignal) {
      appendSignal.notifyAll();
    }
  }

  /** Closes the segment files without syncing; for an open that failed half way. */
  void closeQuietly() {
    for (Segment s : segments) {
      s.closeQuietly();
    }
  }

  void close() {
    synchronized (writeLock) {
      if (dirty) {
        sync();
      }
      for (Segment s : segments) {
        s.close();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Clears the calling thread's interrupt status before file I/O. A FileChannel closes itself when
   * a thread entering or blocked in one of its operations is interrupted, and the writer's channel
   * is shared by every appender: one interrupted caller would break the partition until it is
   * reopened. The status is restored by {@link #restoreInterrupt}. An interrupt that arrives while
   * the I/O runs still closes the channel (see {@link FileLog}).
   */
  static boolean holdBackInterrupt() {
    return Thread.interrupted();
  }

  static void restoreInterrupt(boolean interrupted) {
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      p += ch.write(b, p);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      int n = ch.read(b, p);
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + p);
      }
      p += n;
    }
  }

  static UncheckedIOException unchecked(String what, IOException e) {
    return new UncheckedIOException(what + ": " + e.getMessage(), e);
  }
}
