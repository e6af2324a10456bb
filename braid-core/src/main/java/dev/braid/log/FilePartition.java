package dev.braid.log;

import static dev.braid.log.RecordBatchDescriptor.BASE_OFFSET_OFFSET;
import static dev.braid.log.RecordBatchDescriptor.COUNT_OFFSET;

import com.sun.nio.file.ExtendedOpenOption;
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
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
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
 * <h2>Durability: group commit</h2>
 * Under {@code fsync}, an appender returns only once an fsync that started after its write ended
 * has finished. While appenders overlap (one comes to wait while an fsync runs or another waits),
 * the fsyncs run on one thread per partition, the <em>syncer</em> (named
 * {@code braid-fsync-<stream>-<partition>}), back to back: the next fsync never waits for an
 * appender's thread to wake up and start it. An appender that waits alone runs its fsync itself.
 *
 * <ol>
 *   <li>An appender whose end offset is not yet durable takes {@link #syncLock} and adds itself
 *       with that offset to the {@link #waiting} list. If no syncer runs, no fsync runs and no one
 *       else waits, it runs the fsync of the next step on its own thread: starting or waking a
 *       syncer and being woken by it would cost two wake-ups of a parked thread. Otherwise it wakes
 *       the syncer (or starts one if none runs), releases the lock and parks.
 *   <li>An fsync notes the published end offset (every batch below it is in the page cache),
 *       <em>releases the lock</em> and fsyncs the active segment. Then it takes the lock again,
 *       publishes the offset it noted as durable, and settles every waiter that offset covers.
 *       While waiters are left (they wrote after it noted the end), the syncer starts the next
 *       fsync at once, which covers every batch written meanwhile; it unparks the settled waiters
 *       just before, outside the lock. If an appender's own fsync runs, the syncer waits for its
 *       end and takes over from there. So one fsync runs at a time, each covers everything
 *       written while the previous one ran, and the batches per fsync grow with the load. Writes
 *       are not blocked by the fsync: {@link #writeLock} is independent of it.
 *   <li>A waiter reads its outcome from a field of its own and takes no lock to return, so the
 *       waiters an fsync covered wake side by side; threads woken through a {@code Condition}
 *       would have to take the lock again one after the other, a wake-up of a parked thread each.
 *   <li>The syncer ends when no one waits and appenders have not overlapped for
 *       {@link #SYNCER_IDLE_NANOS} (1 s). So a log with many quiet partitions holds no thread for
 *       them, and a lone appender soon runs its own fsyncs again.
 * </ol>
 *
 * {@link #sync()} (the {@code interval} policy, {@code flush}, close) waits the same way under
 * every durability; alone, as the {@code interval} thread usually is, it runs its own fsync, so a
 * partition without overlapping appenders never starts a syncer. No wake-up is lost: a waiter joins
 * the list and wakes the syncer under the lock, the syncer looks at the list under the lock before
 * it idles, it ends only while the list is empty, and nothing but settling takes a waiter off the
 * list (an appender running its own fsync repeats it until it is settled). The durable offset is
 * published only for what a finished fsync covered, and never moves back. An fsync reads the end
 * offset <em>before</em> the segment list: a roll between the two reads only makes it force a newer
 * segment, while the batches below the end it noted sit in the segment it forces or in sealed
 * segments, which a roll fsyncs before it publishes them. Rolling a segment also moves the durable
 * offset to the new segment's base (settling the waiters that covers).
 *
 * <h2>Storage faults</h2>
 * A full disk, a read-only or unwritable directory, or a device error surfaces as a
 * {@link LogWriteException} ({@link StorageFullException} for a full disk) naming the stream,
 * partition, file and the operating system's reason. No fault leaves a stuck state behind: no flag
 * closes the partition, and once the cause is gone the next append works without a reopen.
 *
 * <ul>
 *   <li><b>A failed write</b> publishes nothing: the bytes of the batch that reached the file are
 *       cut (truncated back to the published size), the end offset is unchanged, and the next
 *       append lands at the same position and offset. Should the cut itself fail, the next batch
 *       overwrites the stray bytes, a roll or a close cuts what is left past the published size,
 *       and recovery would cut them as a torn tail. Readers never see them.
 *   <li><b>A failed roll</b> (fsync of the old segment, its index, the new segment file or the
 *       directory fsync) leaves the old segment active and unpublished files removed; the next
 *       append tries the roll again.
 *   <li><b>A failed fsync</b> is not retried as such: after a failed {@code fsync} Linux may have
 *       marked the dirty pages clean (or dropped them) and reports success on the next one, so a
 *       plain retry could acknowledge records that are not on disk. Every appender waiting when it
 *       fails gets the failure, those it was to cover and those that waited for the next fsync
 *       alike: its batch is <em>not acknowledged</em>. The batches stay in the log, though,
 *       rather than being truncated: they were published before the fsync (readers, and so the
 *       speed layer, may already have folded them), and cutting published records would make
 *       views count events the log no longer holds. Their outcome is unknown to the client, which
 *       retries (an idempotency key makes that safe). Durability is then re-established before
 *       anything is acknowledged again: once an appender (or the {@code interval} sync, or close)
 *       waits for durability again, the next fsync is a repair: it reads every batch not known
 *       durable back from the page cache, checks its CRC, writes it again (which makes the pages
 *       dirty again, so the next fsync really writes them) and fsyncs. Only a waiter starts a
 *       repair, so on a disk that keeps failing the syncer does not loop: each appender that
 *       waits gets the new failure. If the repair works, the durable offset moves on and appends
 *       are acknowledged as before; if the read-back fails its checks, the pages were dropped,
 *       the data after the durable offset is lost, and the partition keeps failing until the log
 *       is reopened (recovery then cuts the torn tail).
 * </ul>
 *
 * <p>{@link #close()} refuses new appends, fsyncs what was written (like any appender, so after a
 * running fsync), stops the syncer (which ends after the fsync it runs, settling the waiters that
 * covers), waits for an fsync an appender runs, and then wakes every waiter left. Those its fsync
 * covered have returned normally; if that fsync failed, the others got the failure as above. A
 * waiter never outlives the partition: one left uncovered after close gets a {@link LogException}
 * that says the partition was closed.
 *
 * <h2>Preallocation</h2>
 * An fsync that extends a file also commits the file system's journal (new size, new blocks); on
 * the development VM an 80 KB write + fdatasync takes p50 210 us that way against 126 us when it
 * overwrites blocks already written (docs/PERFORMANCE.md). So under {@code fsync}
 * the active segment is zero-filled ahead of the writer, {@value #PREALLOCATE_STEP} bytes at a time
 * on the log's background thread, with direct I/O (the zeros never sit dirty in the page cache,
 * where an fsync of the group commit would have to write them), and each step is fsynced by the
 * background thread itself. The writer's end ({@link Segment#size}) stays the logical end; the file
 * is longer. While a piece of a step is written nothing is written at or past its start
 * ({@link #fillFrom}); steps start up to {@value #PREALLOCATE_LEAD_STEPS} steps ahead, so appenders
 * rarely wait. Zeroing doubles the bytes written: when the writer catches up with the zeros (the
 * disk is the limit, as for one writer of large batches) the segment is appended to without
 * preallocation until the next roll. A roll
 * and {@link #close()} truncate the file to its logical end, so sealed and cleanly closed segments
 * hold batches only. After a crash the zeros past the last batch are a torn tail like any other:
 * recovery cuts them (a batch length of 0 is never valid). If the file system refuses direct I/O,
 * the partition appends without preallocating.
 *
 * <p><b>Off by default</b> ({@code -D}{@value #PREALLOCATE_PROPERTY}{@code =true} turns it on). On
 * the development VM, measured back to back on an idle machine with 8 fsync appenders, the zero
 * fill's own writes and fsyncs compete with the group commit's: the same rate (1.16 vs 1.17-1.19 M
 * events/s) with an ack p99 of 3.0-3.2 ms against 1.55-1.9 ms without it (docs/PERFORMANCE.md). It
 * helped only while the machine was saturated by other work.
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

  /** Serializes appends, rolls and close; never held across an fsync of the group commit. */
  private final Object writeLock = new Object();
  /** Guards the group commit state below; never held across an fsync. */
  private final ReentrantLock syncLock = new ReentrantLock();
  /** The idle syncer waits on it for a thread that waits for durability, or for close. */
  private final Condition syncWanted = syncLock.newCondition();
  /** Signalled when an appender's own fsync ends; the syncer and close wait on it for that. */
  private final Condition passEnded = syncLock.newCondition();
  private final Object appendSignal = new Object();

  /** Segments in offset order; replaced (copy on write) when the writer rolls. */
  private volatile Segment[] segments;
  /** Next offset to assign; every record below it is readable. */
  private volatile long endOffset;
  /** Every record below it has been fsynced; only grows. */
  private final AtomicLong durableOffset = new AtomicLong();
  private volatile int waiters;

  /** The syncer thread ends once appenders have not overlapped for this long (and no one waits). */
  static final long SYNCER_IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** Package-private so that tests can make the syncer end sooner. */
  volatile long syncerIdleNanos = SYNCER_IDLE_NANOS;

  // guarded by syncLock: the group commit
  /** Threads waiting for durability, each until the syncer settles it. */
  private final List<DurabilityWaiter> waiting = new ArrayList<>();
  /** The thread that runs the fsyncs, or null when none runs (appenders did not overlap for a while). */
  private Thread syncer;
  /** When a thread last came to wait while an fsync ran or another thread waited ({@link System#nanoTime}). */
  private long lastOverlap;
  /** An fsync or a rewrite runs (the syncer's or an appender's), covering the records below {@link #syncTarget}. */
  private boolean syncing;
  private long syncTarget;
  /** The fsync failure not yet repaired by a rewrite (see "Storage faults" above), else null. */
  private LogWriteException syncFailure;
  private boolean syncClosed;

  // guarded by writeLock
  private boolean writeClosed;

  /** The system property that turns preallocation of {@code fsync} segments on. */
  static final String PREALLOCATE_PROPERTY = "braid.log.preallocate";
  /** Bytes zero-filled per preallocation step (a multiple of {@link #PREALLOCATE_ALIGNMENT}). */
  static final long PREALLOCATE_STEP = 4L << 20;
  /** A step is scheduled once fewer than this many steps of zeros are left ahead of the writer. */
  static final int PREALLOCATE_LEAD_STEPS = 2;
  /** Bytes of one direct write of a step; an appender waits for at most one. */
  static final int PREALLOCATE_WRITE = 256 << 10;
  /** Direct I/O alignment of positions, lengths and buffers. */
  static final int PREALLOCATE_ALIGNMENT = 4096;

  /** Runs preallocation steps; null when this partition does not preallocate. */
  private final Executor preallocator;
  // guarded by writeLock: preallocation of the active segment
  /** Bytes of the active segment file below it are written (batches or zeros). */
  private long zeroedEnd;
  /** Start of the zero fill that runs now (nothing may be written at or past it), else MAX_VALUE. */
  private long fillFrom = Long.MAX_VALUE;
  private boolean fillScheduled;
  /** Direct I/O failed: this partition never preallocates again. */
  private boolean preallocationOff;
  /** The writer caught up with the zeros: the active segment is not preallocated further. */
  private boolean segmentPreallocationOff;
  /** A piece of zeros was written to the active segment. */
  private boolean zeroedThisSegment;

  /** How the group commit makes the active segment durable; tests put in one that blocks or fails. */
  @FunctionalInterface
  interface Forcer {
    void force(FileChannel channel) throws IOException;
  }

  static final Forcer FDATASYNC = channel -> channel.force(false);

  /** Package-private so that tests can hold a fsync in flight or fail it. */
  volatile Forcer forcer = FDATASYNC;

  /**
   * How batches (and new segments' headers) are written to a segment file; tests put in one that
   * fails like a full disk, after writing part of the bytes or none.
   */
  @FunctionalInterface
  interface Writer {
    void write(FileChannel channel, ByteBuffer bytes, long position) throws IOException;
  }

  static final Writer POSITIONAL = FilePartition::writeFully;

  /** Package-private so that tests can make writes fail (a full disk, an I/O error). */
  volatile Writer writer = POSITIONAL;

  // guarded by writeLock
  private final BatchCheck writerCheck = new BatchCheck();

  private final RecoveryReport recovery;

  private FilePartition(String stream, int partition, Path dir, StreamConfig config, List<Segment> segments,
      long endOffset, RecoveryReport recovery, Executor preallocator) {
    this.preallocator = config.durability().mode() == Durability.Mode.FSYNC && Boolean.getBoolean(PREALLOCATE_PROPERTY)
        ? preallocator : null;
    this.stream = stream;
    this.partition = partition;
    this.dir = dir;
    this.config = config;
    this.segments = segments.toArray(new Segment[0]);
    this.endOffset = endOffset;
    this.durableOffset.set(endOffset);
    this.recovery = recovery;
    this.zeroedEnd = this.segments[this.segments.length - 1].size;
  }

  // ---------------------------------------------------------------------------------------------
  // Open and recovery
  // ---------------------------------------------------------------------------------------------

  static FilePartition create(String stream, int partition, Path dir, StreamConfig config) {
    try {
      Files.createDirectories(dir);
      Segment first = createSegment(dir, partition, config.firstOffset(), POSITIONAL);
      FileLog.fsyncDirectory(dir);
      return new FilePartition(stream, partition, dir, config, List.of(first), config.firstOffset(), null, null);
    } catch (IOException e) {
      throw new LogException("cannot create partition directory " + dir + ": " + LogException.describe(e), e);
    }
  }

  /**
   * Opens and recovers the partition in {@code dir}. Under {@code fsync} durability its active
   * segment is preallocated by tasks run on {@code preallocator} (null: never).
   */
  static FilePartition open(String stream, int partition, Path dir, StreamConfig config, Executor preallocator) {
    List<Long> bases = new ArrayList<>();
    java.util.Set<Long> indexed = new java.util.HashSet<>(); // base offsets of the segments with an index file
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (SegmentDescriptor.SEGMENT_NAME.matcher(name).matches()) {
          bases.add(segmentBase(f, dir));
        } else if (SegmentDescriptor.INDEX_NAME.matcher(name).matches()) {
          indexed.add(segmentBase(f, dir));
        } else if (name.endsWith(".tmp") && Files.isRegularFile(f)
            && SegmentDescriptor.INDEX_NAME.matcher(name.substring(0, name.length() - 4)).matches()) {
          Files.delete(f); // an index write that a crash interrupted; it is rebuilt below
          LOG.info("removed leftover temporary file {}", f);
        } else if (!SegmentDescriptor.CUT_NAME.matcher(name).matches()) {
          throw new LogException(String.format(
              "foreign file %s in partition directory %s: only <20-digit offset>.log and .idx files (and the .cut "
                  + "tails recovery kept aside) belong here",
              name, dir));
        }
      }
    } catch (IOException e) {
      throw new LogException("cannot list partition directory " + dir + ": " + LogException.describe(e), e);
    }
    bases.sort(null);
    try {
      if (bases.isEmpty()) {
        // A stream is created whole, every partition with its first segment (FileLog.createStream):
        // a partition without one lost its segments, and starting it afresh would hand out their offsets again.
        throw new CorruptLogException(dir, 0, "the partition directory holds no segment file (a stream's partitions "
            + "are created with their first segment, " + SegmentDescriptor.segmentName(config.firstOffset())
            + "): its segments were deleted");
      }
      boolean previousIndexed = bases.size() > 1 && indexed.contains(bases.get(bases.size() - 2));
      List<Segment> segments = new ArrayList<>();
      try {
        missingSegments(dir, bases, indexed, config.firstOffset());
        List<Segment> unindexed = new ArrayList<>();
        for (int i = 0; i < bases.size() - 1; i++) {
          segments.add(openSealed(dir, partition, bases.get(i), bases.get(i + 1), unindexed));
        }
        long activeBase = bases.get(bases.size() - 1);
        RecoveryReport[] report = new RecoveryReport[1];
        Segment active = recoverActive(stream, dir, partition, activeBase, previousIndexed, report);
        segments.add(active);
        // Only now that the whole partition opened: an index written for a segment that a stray file
        // after it made look sealed would make it sealed for good once the stray file is removed. And
        // only as a help: the index is in memory, and the next open rebuilds a file that is missing (a
        // failure here, a full disk say, must not fail an open that has cut a torn tail already)
        for (Segment s : unindexed) {
          try {
            writeIndex(dir, s);
          } catch (IOException e) {
            LOG.warn("could not write the index of {}; the next open rebuilds it: {}", s.file,
                LogException.describe(e));
          }
        }
        long end = report[0].endOffset();
        return new FilePartition(stream, partition, dir, config, segments, end,
            report[0].truncatedBytes() > 0 ? report[0] : null, preallocator);
      } catch (IOException | RuntimeException e) {
        segments.forEach(Segment::closeQuietly);
        if (e instanceof CorruptLogException) {
          renamedSegments(dir, partition, bases); // a rename explains the refusal better than the gap it left
        }
        throw e;
      }
    } catch (IOException e) {
      throw new LogException("cannot open partition directory " + dir + ": " + LogException.describe(e), e);
    }
  }

  /**
   * Once opening refused the partition: throws for a segment file whose whole, valid header names
   * another first offset than its file name (the file was renamed), so that the rename is named
   * rather than the gap it left after the segment before it. Only on a refusal, so a healthy open
   * reads no header twice. A header that is torn or damaged explains nothing here.
   */
  private static void renamedSegments(Path dir, int partition, List<Long> bases) {
    for (long base : bases) {
      Path file = dir.resolve(SegmentDescriptor.segmentName(base));
      long named;
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        if (ch.size() < SegmentDescriptor.HEADER_LENGTH) {
          continue;
        }
        ByteBuffer h = readHeader(ch, file);
        named = h.getLong(SegmentDescriptor.BASE_OFFSET_OFFSET);
        if (named == base || SegmentDescriptor.checkHeader(h, partition, named) != null) {
          continue;
        }
      } catch (IOException unreadable) {
        continue; // no explanation from this file: the refusal stands as it is
      }
      throw new CorruptLogException(file, 0, String.format("the segment's header says it starts at offset %d, its "
          + "file name at %d: the file was renamed (its name must be %s)", named, base,
          SegmentDescriptor.segmentName(named)));
    }
  }


  /**
   * Refuses a partition whose first or last segments are gone (the gaps between segments are found
   * as each sealed one is verified). The log is the master dataset and is never trimmed, so its first
   * segment starts at offset 0; and a segment gets its index only once the segment after it exists
   * (see {@link #roll}), so the last segment having one means the segments after it were deleted.
   * Opening either would serve a log that silently starts late or rewinds (and then reuses offsets).
   */
  private static void missingSegments(Path dir, List<Long> bases, java.util.Set<Long> indexed, long firstOffset) {
    for (long base : indexed) {
      if (!bases.contains(base)) {
        throw new CorruptLogException(dir.resolve(SegmentDescriptor.indexName(base)), 0, "an index without its segment "
            + SegmentDescriptor.segmentName(base) + ": the segment was deleted (an index is written only for a "
            + "segment that holds batches)");
      }
    }
    long first = bases.get(0);
    if (first > firstOffset) {
      throw new CorruptLogException(dir.resolve(SegmentDescriptor.segmentName(first)), 0, String.format("the partition's "
          + "first segment starts at offset %d: the segments holding offsets %d to %d are missing (Braid never deletes "
          + "segments)", first, firstOffset, first - 1));
    }
    if (first < firstOffset) {
      throw new CorruptLogException(dir.resolve(SegmentDescriptor.segmentName(first)), 0, String.format("the partition's "
          + "first segment starts at offset %d, before the stream's first offset %d (first.offset in %s): the segment "
          + "belongs to another stream, or the stream description was edited", first, firstOffset,
          FileLog.STREAM_PROPERTIES));
    }
    long last = bases.get(bases.size() - 1);
    Path index = dir.resolve(SegmentDescriptor.indexName(last));
    if (indexed.contains(last)) {
      throw new CorruptLogException(dir.resolve(SegmentDescriptor.segmentName(last)), 0, String.format("the last "
          + "segment is sealed (it has its index, %s, written only once the next segment exists) but no segment "
          + "follows it: the segments after it are missing (if none was deleted, deleting %s opens this segment as "
          + "the last one)", index.getFileName(), index.getFileName()));
    }
  }

  private static Segment createSegment(Path dir, int partition, long baseOffset, Writer writer) throws IOException {
    Path file = dir.resolve(SegmentDescriptor.segmentName(baseOffset));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      writer.write(ch, SegmentDescriptor.header(partition, baseOffset), 0);
      ch.force(true);
    } catch (IOException | RuntimeException e) {
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

  /** Opens and verifies a sealed segment; adds it to {@code unindexed} when its index file is to be written. */
  private static Segment openSealed(Path dir, int partition, long base, long nextBase, List<Segment> unindexed)
      throws IOException {
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
      if (!verifySealed(dir, seg, nextBase)) {
        unindexed.add(seg);
      }
    } catch (IOException | RuntimeException e) {
      seg.closeQuietly();
      throw e;
    }
    return seg;
  }

  /**
   * Verifies a sealed segment, loading its index or rebuilding it in memory; returns whether its index
   * file was whole (else the caller writes one).
   */
  private static boolean verifySealed(Path dir, Segment seg, long nextBase) throws IOException {
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
    if (scan.validEnd != size && indexed) {
      // The tail seen from the index's last entry is not whole: the index may be what is damaged (an
      // entry pointing into a batch, another segment's index), so the whole segment decides.
      seg.dropIndex();
      ScanResult whole = scan(seg, SegmentDescriptor.HEADER_LENGTH, seg.baseOffset, seg);
      if (whole.validEnd == size) {
        LOG.warn("index {} is damaged (its last entry does not lead to whole batches: {}); rebuilding it from its "
            + "segment, which is whole", indexFile, scan.problem);
        indexed = false;
      }
      scan = whole;
    }
    // A segment is sealed only once it holds a batch, so one without batches lost them.
    long end = scan.endOffset < 0 ? seg.baseOffset : scan.endOffset;
    if (end > nextBase) { // before the tail's check: the segment may be the real active one, its tail torn
      throw new CorruptLogException(dir.resolve(SegmentDescriptor.segmentName(nextBase)), 0, String.format("the segment "
          + "before it, %s, holds offsets up to %d, so no segment can start at %d: this file does not belong to the "
          + "partition (a stray or copied file); move it away", file.getFileName(), end - 1, nextBase));
    }
    if (scan.validEnd != size) {
      throw new CorruptLogException(file, scan.validEnd, "sealed segment: " + scan.problem);
    }
    if (end != nextBase) {
      throw new CorruptLogException(file, scan.validEnd, String.format("sealed segment ends at offset %d but the next "
          + "segment, %s, starts at %d: offsets %d to %d are missing (%s)", end, SegmentDescriptor.segmentName(nextBase),
          nextBase, end, nextBase - 1, end == seg.baseOffset ? "this segment lost its batches"
          : "segment " + SegmentDescriptor.segmentName(end) + " was deleted, or this one was cut"));
    }
    return indexed; // else open writes the index once the whole partition opened
  }

  /**
   * The base offset a segment or index file's name gives; a name whose 20 digits are past the
   * largest offset, or a directory so named, is a foreign entry.
   */
  private static long segmentBase(Path f, Path dir) {
    String name = f.getFileName().toString();
    if (!Files.isRegularFile(f)) {
      throw new LogException(String.format("foreign entry %s in partition directory %s: it is named like a log file "
          + "but is not a file", name, dir));
    }
    try {
      return SegmentDescriptor.baseOffsetOf(name);
    } catch (NumberFormatException e) {
      throw new LogException(String.format("foreign file %s in partition directory %s: its name is past the largest "
          + "offset, %d", name, dir, Long.MAX_VALUE));
    }
  }

  private static Segment recoverActive(String stream, Path dir, int partition, long base, boolean previousIndexed,
      RecoveryReport[] report) throws IOException {
    Path file = dir.resolve(SegmentDescriptor.segmentName(base));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      return recoverActive(stream, file, ch, partition, base, previousIndexed, report);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static Segment recoverActive(String stream, Path file, FileChannel ch, int partition, long base,
      boolean previousIndexed, RecoveryReport[] report) throws IOException {
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
    if (tornHeader && previousIndexed) {
      // A roll makes the new segment's header durable before it writes the old segment's index.
      ch.close();
      throw new CorruptLogException(file, 0, "the segment's header is torn, but the segment before it has its index, "
          + "which a roll writes only once this segment's header is on disk: the segment was damaged after it was "
          + "made, and whatever batches it held are lost");
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
    WholeAfter whole = null;
    if (cut > 0) {
      whole = wholeBatchesAfter(ch, scan.validEnd, size);
      Path kept = keepAside(file, ch, scan.validEnd, size);
      ch.truncate(scan.validEnd);
      ch.force(true);
      seg.size = scan.validEnd;
      LOG.warn("stream '{}' partition {}: recovered {} — kept {} bytes (offsets up to {}), cut {} bytes of torn or "
          + "corrupt tail at byte {} ({}){}{}", stream, partition, file, scan.validEnd, end, cut, scan.validEnd,
          scan.problem, kept == null ? "; the cut bytes were all zeros"
              : "; the cut bytes are kept in " + kept + " (never read by Braid: inspect it, then delete it)",
          whole == null ? "" : String.format("; %d whole batches with valid checksums (offsets %d to %d) followed the "
              + "damaged one and were cut with it: damage inside the segment, not a torn write", whole.batches,
              whole.fromOffset, whole.toOffset - 1));
    }
    report[0] = whole == null ? new RecoveryReport(stream, partition, file, scan.validEnd, cut, end, cut > 0 ? 1 : 0)
        : new RecoveryReport(stream, partition, file, scan.validEnd, cut, end, 1, whole.batches, whole.fromOffset,
            whole.toOffset);
    return seg;
  }

  /** Whole batches found after a damaged one: how many, and the offsets they hold. */
  private record WholeAfter(int batches, long fromOffset, long toOffset) {}

  /**
   * Looks past the damaged batch at {@code from} for a whole batch (its magic, a plausible length and
   * its CRC32C all right) and follows the batches after it; null when there is none, as after a
   * torn write. Only to tell the two apart in what recovery reports: the batches are cut either way,
   * since offsets are dense and the damaged batch's records are gone.
   */
  private static WholeAfter wholeBatchesAfter(FileChannel ch, long from, long size) throws IOException {
    long length = size - from;
    if (length < RecordBatchDescriptor.HEADER_LENGTH + 1 || length > Integer.MAX_VALUE) {
      return null;
    }
    ByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, from, length);
    int limit = m.limit();
    BatchCheck check = new BatchCheck();
    for (int q = 1; q + RecordBatchDescriptor.HEADER_LENGTH <= limit; q++) {
      if (m.getShort(q + RecordBatchDescriptor.MAGIC_OFFSET) != RecordBatchDescriptor.MAGIC
          || !BatchCheck.plausibleLength(m.getInt(q)) || q + 4L + m.getInt(q) > limit || check.check(m, q, -1) != null) {
        continue;
      }
      long first = m.getLong(q + BASE_OFFSET_OFFSET);
      long to = first;
      int batches = 0;
      for (int p = q; p + 4 <= limit; batches++) {
        int len = m.getInt(p);
        if (!BatchCheck.plausibleLength(len) || p + 4L + len > limit || check.check(m, p, to) != null) {
          break;
        }
        to = m.getLong(p + BASE_OFFSET_OFFSET) + m.getInt(p + COUNT_OFFSET);
        p += 4 + len;
      }
      return new WholeAfter(batches, first, to);
    }
    return null;
  }

  /**
   * Copies bytes {@code [from, to)} of the active segment {@code file}, which recovery is about to cut,
   * to {@code <file>.<from>.cut} beside it (made durable before the cut), unless they are all zeros
   * (a preallocated tail, or pages a crash never wrote). A torn write cuts only the last batches, but
   * one damaged byte in the middle of the segment cuts every batch after it too: the copy keeps them
   * for a person to inspect rather than losing them with the truncation. Returns the copy, or null.
   */
  private static Path keepAside(Path file, FileChannel ch, long from, long to) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    boolean zeros = true;
    for (long pos = from; pos < to && zeros; ) {
      buf.clear().limit((int) Math.min(buf.capacity(), to - pos));
      int n = ch.read(buf, pos);
      if (n <= 0) {
        break;
      }
      for (int i = 0; i < n && zeros; i++) {
        zeros = buf.get(i) == 0;
      }
      pos += n;
    }
    if (zeros) {
      return null;
    }
    // Never over an earlier recovery's copy at the same byte: its bytes may be all that is left of them.
    int copy = 1;
    while (Files.exists(RecoveryReport.cutCopy(file, from, copy))) {
      copy++;
    }
    Path aside = RecoveryReport.cutCopy(file, from, copy);
    try (FileChannel out = FileChannel.open(aside, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      long pos = from;
      while (pos < to) {
        long n = ch.transferTo(pos, to - pos, out);
        if (n <= 0) {
          throw new IOException("could not copy bytes " + pos + ".." + to + " of " + file + " to " + aside);
        }
        pos += n;
      }
      out.force(true);
    }
    FileLog.fsyncDirectory(file.getParent());
    return aside;
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
      if (length == 0) {
        return new ScanResult(pos, endOffset, "zeros after the last batch: preallocated space or a torn write");
      }
      if (!BatchCheck.plausibleLength(length)) {
        return new ScanResult(pos, endOffset, "impossible batch length " + length);
      }
      long total = 4L + length;
      if (pos + total > size) {
        return new ScanResult(pos, endOffset, "torn batch: " + total + " bytes declared, " + (size - pos) + " present");
      }
      if (total > buf.capacity()) {
        // proven whole before the buffer grows: a damaged length must not allocate what it claims
        String bad = check.checkLarge(seg.channel, pos, (int) total, buf, expected);
        if (bad != null) {
          return new ScanResult(pos, endOffset, bad);
        }
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
    boolean interrupted = Interrupts.holdBack();
    try {
      return appendUninterrupted(batch);
    } finally {
      Interrupts.restore(interrupted);
    }
  }

  private AppendResult appendUninterrupted(RecordBatchBuilder batch) {
    long base;
    int count = batch.count();
    boolean interrupted = false;
    try {
      synchronized (writeLock) {
        interrupted = awaitRoomToWrite(batch.sizeInBytes());
        base = endOffset;
        ByteBuffer bytes = batch.seal(base);
        writerCheck.stamp(bytes);
        int size = bytes.remaining();
        Segment active = segments[segments.length - 1];
        if (active.size + size > config.segmentBytes() && active.size > SegmentDescriptor.HEADER_LENGTH) {
          active = roll(active, base);
        }
        long position = active.size;
        int start = bytes.position();
        for (int attempt = 0; ; attempt++) {
          try {
            writer.write(active.channel, bytes, position);
            break;
          } catch (IOException e) {
            // Nothing was published: readers and the next append still see the old end. Cut whatever
            // part of the batch reached the file so the next append starts at a batch boundary.
            interrupted |= Thread.interrupted(); // the one that closed the channel, kept for the caller: not for the cut
            reopenAfterInterrupt(e);
            truncateQuietly(active, position);
            zeroedEnd = Math.min(zeroedEnd, position);
            // Another thread's interrupt (one in its own fsync) closed the channel under this write, or
            // before it: this append was not interrupted, so it writes again on the channel opened again.
            boolean notOurs = e instanceof java.nio.channels.ClosedChannelException
                && !(e instanceof java.nio.channels.ClosedByInterruptException);
            if (!notOurs || attempt == 2) {
              throw LogWriteException.of(stream, partition, active.file,
                  String.format("append of %d records at offset %d (byte %d) to", count, base, position), e);
            }
            bytes.position(start);
          }
        }
        active.maybeIndex(base, position);
        active.size = position + size;
        endOffset = base + count;
        maybePreallocate(active);
      }
      if (waiters > 0) {
        synchronized (appendSignal) {
          appendSignal.notifyAll();
        }
      }
      if (config.durability().mode() == Durability.Mode.FSYNC) {
        try {
          awaitDurable(base + count);
        } catch (LogWriteException e) {
          // written and published (readers and the views see them), only not made durable: the caller learns where
          throw e.published(AppendResult.consecutive(partition, base, count));
        }
      }
      return AppendResult.consecutive(partition, base, count);
    } finally {
      Interrupts.restore(interrupted);
    }
  }

  /**
   * Waits, holding {@link #writeLock} between waits, until a batch of {@code size} bytes may be
   * written: a running zero fill must not be overwritten, and a roll must not truncate under it.
   * Returns whether the thread was interrupted meanwhile (the interrupt is kept for later).
   */
  private boolean awaitRoomToWrite(int size) {
    boolean interrupted = false;
    while (true) {
      if (writeClosed) {
        throw new LogException(String.format("stream '%s' partition %d is closed", stream, partition));
      }
      Segment active = segments[segments.length - 1];
      boolean rolls = active.size + size > config.segmentBytes() && active.size > SegmentDescriptor.HEADER_LENGTH;
      if (fillFrom == Long.MAX_VALUE || (!rolls && active.size + size <= fillFrom)) {
        return interrupted;
      }
      try {
        writeLock.wait();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
  }

  /**
   * Opens again the segment files whose channels an interrupt closed, when {@code failure} is (or was
   * caused by) the {@code ClosedChannelException} that says so: one interrupted appender must not
   * leave the partition refusing every append until the log is reopened. Called by an appender under
   * the write lock (so before {@link #close} begins) or during an fsync (which close waits for before
   * it closes the files): never after the files were closed. Returns whether a channel was opened again.
   */
  private boolean reopenAfterInterrupt(Throwable failure) {
    Throwable t = failure;
    while (t != null && !(t instanceof java.nio.channels.ClosedChannelException)) {
      t = t.getCause();
    }
    if (t == null) {
      return false;
    }
    boolean reopened = false;
    for (Segment s : segments) {
      try {
        if (s.reopenIfClosed()) {
          reopened = true;
          LOG.warn("stream '{}' partition {}: an interrupted thread closed the channel of {} during its I/O; opened "
              + "it again", stream, partition, s.file);
        }
      } catch (IOException e) {
        failure.addSuppressed(e);
      }
    }
    return reopened;
  }

  private static void truncateQuietly(Segment s, long position) {
    try {
      s.channel.truncate(position);
    } catch (IOException suppressed) {
      LOG.warn("could not truncate {} after a failed write; recovery will cut the torn batch", s.file);
    }
  }

  /**
   * Seals {@code active} and starts a new segment at {@code nextBase}; caller holds the write lock.
   * If a step fails, the partition stays as it was (the new segment file, if made, is removed) and
   * the next append tries again; a failed fsync of the old segment counts as a failed fsync of the
   * group commit (see "Storage faults" in the class comment).
   */
  private Segment roll(Segment active, long nextBase) {
    Path at = active.file;
    String step = "rolling to a new segment: cutting the tail of";
    Segment next = null;
    LogWriteException pending = syncFailure();
    try {
      if (zeroedEnd > active.size || (active.channel.isOpen() && active.channel.size() > active.size)) {
        active.channel.truncate(active.size); // sealed segments hold batches only
        zeroedEnd = active.size;
      }
      step = "rolling to a new segment: fsync of";
      try {
        if (pending != null) {
          rewriteUnsynced(); // a plain fsync after a failed one proves nothing
        }
        active.channel.force(true);
      } catch (IOException e) {
        recordSyncFailure(LogWriteException.of(stream, partition, at, "fsync of", e));
        throw e;
      }
      // The next segment first, durably, then the sealed one's index: an index on the last segment
      // then always means segments after it were lost (see missingSegments).
      at = dir.resolve(SegmentDescriptor.segmentName(nextBase));
      step = "rolling to a new segment: creating";
      next = createSegment(dir, partition, nextBase, writer);
      at = dir;
      step = "rolling to a new segment: fsync of the directory";
      FileLog.fsyncDirectory(dir);
      at = dir.resolve(SegmentDescriptor.indexName(active.baseOffset));
      step = "rolling to a new segment: writing the index";
      writeIndex(dir, active);
    } catch (IOException e) {
      reopenAfterInterrupt(e); // the sealed segment's channel: the next append rolls again
      if (next != null) {
        next.closeQuietly();
        try {
          // the index first: without the next segment, an index would mark this one's successors lost
          Files.deleteIfExists(dir.resolve(SegmentDescriptor.indexName(active.baseOffset)));
          Files.deleteIfExists(next.file); // else every later roll would fail to create it anew
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw LogWriteException.of(stream, partition, at, step, e);
    }
    {
      Segment[] grown = java.util.Arrays.copyOf(segments, segments.length + 1);
      grown[grown.length - 1] = next;
      segments = grown;
      zeroedEnd = next.size;
      segmentPreallocationOff = false;
      zeroedThisSegment = false;
      List<Thread> settled = new ArrayList<>();
      syncLock.lock();
      try {
        // After a failed fsync a later one proves nothing about the pages that failed, unless they
        // were rewritten first (as above, when the failure was already known).
        if (syncFailure == pending) {
          syncFailure = null;
          advanceDurable(nextBase, settled);
        }
      } finally {
        syncLock.unlock();
      }
      unparkAll(settled);
      return next;
    }
  }

  private LogWriteException syncFailure() {
    syncLock.lock();
    try {
      return syncFailure;
    } finally {
      syncLock.unlock();
    }
  }

  /** A roll's fsync of the sealed segment failed: like a failed fsync of the group commit. */
  private void recordSyncFailure(LogWriteException failure) {
    List<Thread> settled = new ArrayList<>();
    syncLock.lock();
    try {
      if (syncFailure == null) {
        syncFailure = failure;
        failWaiters(failure, settled);
      }
    } finally {
      syncLock.unlock();
    }
    unparkAll(settled);
  }

  /**
   * Re-establishes durability after a failed fsync: reads every batch at or past the durable
   * offset back from the page cache, checks it, writes it again (so its pages are dirty again and
   * the next fsync really writes them), and fsyncs each segment touched. Returns the end offset
   * that is then durable. Needs no lock: it writes the bytes already there, below the published
   * size, which no appender touches. Throws if a batch read back fails its checks: the page cache
   * no longer holds what was written, and that data is lost.
   */
  private long rewriteUnsynced() throws IOException {
    long target = endOffset; // before the segments, as in syncOnce
    Segment[] segs = segments;
    long from = durableOffset.get();
    int i = segs.length - 1;
    while (i > 0 && segs[i].baseOffset > from) {
      i--;
    }
    BatchCheck check = new BatchCheck();
    ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    for (; i < segs.length; i++) {
      Segment s = segs[i];
      long end = s.size;
      long pos = s.baseOffset >= from ? SegmentDescriptor.HEADER_LENGTH : s.floorPosition(from);
      while (pos < end) {
        buf.clear().limit(4);
        readFully(s.channel, buf, pos);
        int length = buf.getInt(0);
        long total = 4L + length;
        if (!BatchCheck.plausibleLength(length) || pos + total > end) {
          throw new IOException(String.format("the batch at byte %d of %s reads back with an impossible length %d "
              + "after a failed fsync: the data is lost; reopen the log", pos, s.file, length));
        }
        if (total > buf.capacity()) {
          buf = ByteBuffer.allocate((int) total);
        }
        buf.clear().limit((int) total);
        readFully(s.channel, buf, pos);
        String bad = check.check(buf, 0, -1);
        if (bad != null) {
          throw new IOException(String.format("the batch at byte %d of %s reads back damaged after a failed fsync "
              + "(%s): the data is lost; reopen the log", pos, s.file, bad));
        }
        buf.flip();
        writer.write(s.channel, buf, pos);
        pos += total;
      }
      forcer.force(s.channel);
    }
    return target;
  }

  // ---------------------------------------------------------------------------------------------
  // Preallocation
  // ---------------------------------------------------------------------------------------------

  /** Schedules a zero-fill step when the writer comes near the zeroed end; caller holds the write lock. */
  private void maybePreallocate(Segment active) {
    if (preallocator == null || preallocationOff || segmentPreallocationOff || fillScheduled || writeClosed
        || zeroedEnd - active.size >= PREALLOCATE_LEAD_STEPS * PREALLOCATE_STEP
        || zeroedEnd >= preallocationLimit()) {
      return;
    }
    fillScheduled = true;
    try {
      preallocator.execute(this::preallocateStep);
    } catch (RejectedExecutionException closing) {
      // the log is closing; appends go on without preallocation
    }
  }

  /** Where preallocation of a segment stops: the size at which it rolls, aligned up. */
  private long preallocationLimit() {
    return alignUp(config.segmentBytes());
  }

  private static long alignUp(long position) {
    return (position + PREALLOCATE_ALIGNMENT - 1) / PREALLOCATE_ALIGNMENT * PREALLOCATE_ALIGNMENT;
  }

  /**
   * One zero-fill step of the active segment, on the preallocator thread. It writes
   * {@value #PREALLOCATE_WRITE}-byte pieces, each reserved under the write lock and written outside
   * it, so an appender waits for one piece at most. If the writer has caught up with the zeros, the
   * disk cannot take both the batches and the zeros: the step stops and the segment is appended to
   * without preallocation until the next roll.
   */
  private void preallocateStep() {
    Segment active;
    long from;
    long to;
    synchronized (writeLock) {
      active = segments[segments.length - 1];
      from = alignUp(Math.max(zeroedEnd, active.size));
      to = Math.min(from + PREALLOCATE_STEP, preallocationLimit());
      if (writeClosed || preallocationOff || segmentPreallocationOff || from >= to) {
        fillScheduled = false;
        return;
      }
      if (zeroedThisSegment && active.size > zeroedEnd) {
        // The writer overtook the zeros between two steps.
        fillScheduled = false;
        segmentPreallocationOff = true;
        return;
      }
    }
    Throwable failure = null;
    boolean caughtUp = false;
    try (FileChannel ch = FileChannel.open(active.file, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
      ByteBuffer zeros = Zeros.BUFFER.duplicate();
      for (long pos = from; pos < to && failure == null; ) {
        long pieceEnd = Math.min(pos + PREALLOCATE_WRITE, to);
        synchronized (writeLock) {
          if (writeClosed || segments[segments.length - 1] != active) {
            break;
          }
          if (active.size > pos) {
            caughtUp = true;
            break;
          }
          fillFrom = pos;
        }
        try {
          zeros.clear().limit((int) (pieceEnd - pos));
          while (zeros.hasRemaining()) {
            pos += ch.write(zeros, pos);
          }
        } catch (IOException | RuntimeException e) {
          failure = e;
        } finally {
          synchronized (writeLock) {
            fillFrom = Long.MAX_VALUE;
            if (failure == null) {
              zeroedEnd = pieceEnd;
              zeroedThisSegment = true;
            }
            writeLock.notifyAll();
          }
        }
      }
      if (failure == null) {
        // Commit the new size and blocks now, on this thread, rather than in the group commit's next fsync.
        ch.force(false);
      }
    } catch (IOException | RuntimeException e) {
      failure = failure == null ? e : failure;
    } finally {
      synchronized (writeLock) {
        fillScheduled = false;
        if (failure != null) {
          preallocationOff = true;
        } else if (caughtUp) {
          segmentPreallocationOff = true;
        } else {
          maybePreallocate(segments[segments.length - 1]);
        }
      }
    }
    if (failure != null) {
      LOG.warn("stream '{}' partition {}: cannot preallocate {} with direct I/O ({}); appending without "
          + "preallocation, so each fsync also commits the file size", stream, partition, active.file, failure.toString());
    } else if (caughtUp) {
      LOG.debug("stream '{}' partition {}: the writer caught up with the zeros in {}; not preallocating it further",
          stream, partition, active.file);
    }
  }

  /** One aligned direct buffer of zeros, made on first use; only read from, by duplicates. */
  private static final class Zeros {
    static final ByteBuffer BUFFER = ByteBuffer.allocateDirect(PREALLOCATE_WRITE + PREALLOCATE_ALIGNMENT)
        .alignedSlice(PREALLOCATE_ALIGNMENT).limit(PREALLOCATE_WRITE).slice();
  }

  // ---------------------------------------------------------------------------------------------
  // Group commit
  // ---------------------------------------------------------------------------------------------

  /** How a wait in {@link #awaitDurable} ended; decided by the syncer (or a roll, or close). */
  private enum Outcome { DURABLE, FAILED, CLOSED }

  /** One thread parked in {@link #awaitDurable} until its records are durable. */
  private static final class DurabilityWaiter {
    final Thread thread;
    /** Every record below it must be durable. */
    final long offset;
    /** The fsync failure that ended the wait; written before {@link #outcome}. */
    LogWriteException failure;
    /** Null while the thread waits; set once, under {@link #syncLock}, then the thread is unparked. */
    volatile Outcome outcome;

    DurabilityWaiter(Thread thread, long offset) {
      this.thread = thread;
      this.offset = offset;
    }
  }

  /**
   * Blocks until every record below {@code offset} is on disk: runs an fsync that covers it if it
   * waits alone, else asks the syncer for one and parks until told how it went (group commit, see
   * the class comment). Throws if an fsync fails while it waits or the partition closes first. The
   * caller has set its interrupt aside; one that arrives during the wait neither ends it nor reaches
   * a channel, and is kept for the caller.
   */
  void awaitDurable(long offset) {
    if (durableOffset.get() >= offset) {
      return;
    }
    DurabilityWaiter w = new DurabilityWaiter(Thread.currentThread(), offset);
    boolean interrupted = false;
    List<Thread> settled = null;
    syncLock.lock();
    try {
      if (durableOffset.get() >= offset) {
        return;
      }
      if (syncClosed) {
        throw closedBeforeDurable(offset);
      }
      boolean overlapping = syncing || !waiting.isEmpty();
      if (overlapping) {
        lastOverlap = System.nanoTime();
      }
      waiting.add(w);
      if (!overlapping && syncer == null) {
        // Nobody to share an fsync with: run it here rather than start a syncer and be woken.
        settled = new ArrayList<>();
        try {
          do { // a second round only if a roll's repair overlapped a rewrite (see syncOnce)
            interrupted |= syncOnce(settled);
          } while (w.outcome == null && !syncClosed);
        } finally {
          passEnded.signalAll();
        }
      } else {
        requestSync(w);
      }
    } finally {
      syncLock.unlock();
      if (settled != null) {
        unparkAll(settled);
      }
    }
    while (w.outcome == null) {
      LockSupport.park(this);
      interrupted |= Thread.interrupted(); // else park would return at once from now on
    }
    Interrupts.restore(interrupted);
    if (w.outcome == Outcome.FAILED) {
      throw LogWriteException.of(stream, partition, w.failure.file(),
          String.format("records below offset %d are not acknowledged: fsync of", offset),
          (IOException) w.failure.getCause());
    }
    if (w.outcome == Outcome.CLOSED) {
      throw closedBeforeDurable(offset);
    }
  }

  private LogException closedBeforeDurable(long offset) {
    return new LogException(String.format(
        "stream '%s' partition %d was closed while an append waited for the fsync of offsets below %d; "
            + "only offsets below %d are known to be durable", stream, partition, offset, durableOffset.get()));
  }

  /**
   * Has the syncer serve the new waiter {@code w}: wakes it if it idles, or starts one if none
   * runs. Caller holds {@link #syncLock}.
   */
  private void requestSync(DurabilityWaiter w) {
    if (syncer != null) {
      syncWanted.signal();
      return;
    }
    Thread t = new Thread(this::runSyncer, "braid-fsync-" + stream + "-" + partition);
    t.setDaemon(true);
    try {
      t.start();
    } catch (OutOfMemoryError e) { // "unable to create native thread"
      waiting.remove(w);
      throw new LogException(String.format("stream '%s' partition %d: cannot start the fsync thread: %s",
          stream, partition, e), e);
    }
    syncer = t;
  }

  /**
   * The syncer thread's loop: while a thread waits for durability, one fsync (or, after a failed
   * one, a rewrite) after another with nothing in between but publishing the outcome. It ends once
   * no one waits and appenders have not overlapped for {@link #syncerIdleNanos}, or, after the
   * fsync it runs, when the partition closes.
   */
  private void runSyncer() {
    // Waiters the last fsync settled; unparked outside the lock so that appenders can queue up
    // for the next fsync meanwhile.
    List<Thread> settled = new ArrayList<>();
    syncLock.lock();
    try {
      while (!syncClosed) {
        if (syncing) {
          passEnded.awaitUninterruptibly(); // an appender's own fsync: the next one is the syncer's
        } else if (!waiting.isEmpty()) {
          syncOnce(settled);
        } else if (!settled.isEmpty()) {
          syncLock.unlock();
          try {
            unparkAll(settled);
          } finally {
            syncLock.lock();
          }
        } else {
          long left = lastOverlap + syncerIdleNanos - System.nanoTime();
          if (left <= 0) {
            return; // a lone appender runs its own fsync again
          }
          try {
            syncWanted.awaitNanos(left);
          } catch (InterruptedException ignored) {
            // nobody but close stops the syncer; it holds no interrupt across its I/O either
          }
        }
      }
    } finally {
      syncer = null;
      syncLock.unlock();
      unparkAll(settled);
    }
  }

  /**
   * One fsync of the group commit, or the rewrite that repairs a failed one; run by the syncer, or
   * by an appender that waits alone, with {@link #syncLock} held, which it releases during the I/O.
   * First unparks the waiters the previous fsync settled ({@code settled}); adds those this one
   * settles. Returns whether the calling thread's interrupt status was set (it is cleared: an
   * interrupt would close the channel under every appender).
   */
  private boolean syncOnce(List<Thread> settled) {
    LogWriteException pending = syncFailure;
    long target = endOffset; // before the segments: see the class comment
    Segment[] segs = segments;
    Segment active = segs[segs.length - 1];
    syncing = true;
    syncTarget = target;
    Throwable failure = null;
    boolean interrupted = false;
    syncLock.unlock();
    try {
      unparkAll(settled);
      interrupted = Thread.interrupted();
      for (int attempt = 0; ; attempt++) {
        try {
          if (pending == null && attempt == 0) {
            forcer.force(active.channel);
          } else {
            target = rewriteUnsynced(); // a plain fsync after a failed one proves nothing
          }
          break;
        } catch (java.nio.channels.ClosedChannelException closed) {
          // An interrupt closed the channel: this thread's (an appender running its own fsync), or
          // another's in a write. The fsync ran to its end in the kernel, but how it ended is lost with
          // the descriptor, and a plain fsync after a failure would prove nothing: the batches it was to
          // cover are written again and fsynced, as after a failed fsync, on the file opened again. A
          // few times, so that the appenders waiting in this group commit are not failed for an
          // interrupt that was not theirs.
          reopenAfterInterrupt(closed);
          interrupted |= Thread.interrupted();
          if (attempt == 2) {
            throw closed;
          }
        }
      }
    } catch (Throwable t) {
      failure = t;
      reopenAfterInterrupt(t); // so that the next round's rewrite can run
    } finally {
      syncLock.lock();
      syncing = false;
    }
    if (failure == null) {
      if (pending == null ? syncFailure == null : syncFailure == pending) {
        syncFailure = null;
        advanceDurable(target, settled);
        if (pending != null) {
          LOG.info("stream '{}' partition {}: rewrote and fsynced the records from a failed fsync; durable up to "
              + "offset {} again", stream, partition, target);
        }
      }
      // else a roll failed or repaired meanwhile: the waiters left wait for the next round
      return interrupted;
    }
    IOException cause = failure instanceof IOException io ? io
        : new IOException("unexpected failure: " + failure, failure);
    LogWriteException f = pending == null
        ? LogWriteException.of(stream, partition, active.file, "fsync of", cause)
        : LogWriteException.of(stream, partition, pending.file(),
            "rewriting the batches not yet durable after a failed fsync in", cause);
    if (syncFailure == null) {
      LOG.error("stream '{}' partition {}: fsync of {} failed: {}; the records waiting for it are not acknowledged "
          + "and will be rewritten before the next fsync", stream, partition, active.file, cause.toString());
    }
    if (syncFailure == null || syncFailure == pending) {
      syncFailure = f;
    }
    failWaiters(f, settled);
    if (failure instanceof Error e) {
      throw e;
    }
    return interrupted;
  }

  /** Publishes {@code target} as durable and settles the waiters it covers; caller holds {@link #syncLock}. */
  private void advanceDurable(long target, List<Thread> settled) {
    long durable = durableOffset.accumulateAndGet(target, Math::max);
    int kept = 0;
    for (int i = 0; i < waiting.size(); i++) {
      DurabilityWaiter w = waiting.get(i);
      if (w.offset <= durable) {
        w.outcome = Outcome.DURABLE;
        settled.add(w.thread);
      } else {
        waiting.set(kept++, w);
      }
    }
    waiting.subList(kept, waiting.size()).clear();
  }

  /**
   * Settles every waiter with {@code failure}: each was waiting when an fsync failed, so none is
   * acknowledged, and a rewrite runs only once someone waits again. Caller holds {@link #syncLock}.
   */
  private void failWaiters(LogWriteException failure, List<Thread> settled) {
    for (DurabilityWaiter w : waiting) {
      w.failure = failure;
      w.outcome = Outcome.FAILED;
      settled.add(w.thread);
    }
    waiting.clear();
  }

  private static void unparkAll(List<Thread> threads) {
    Thread self = Thread.currentThread();
    for (int i = 0; i < threads.size(); i++) {
      if (threads.get(i) != self) {
        LockSupport.unpark(threads.get(i));
      }
    }
    threads.clear();
  }

  /** Makes every record appended so far durable (group commit with concurrent appenders). */
  void sync() {
    boolean interrupted = Interrupts.holdBack();
    try {
      awaitDurable(endOffset);
    } finally {
      Interrupts.restore(interrupted);
    }
  }

  /** Whether records were appended that no fsync has covered yet. */
  boolean isDirty() {
    return durableOffset.get() < endOffset;
  }

  /** Every record below this offset has been fsynced. */
  long durableOffset() {
    return durableOffset.get();
  }

  /**
   * Threads waiting for an fsync that has not started yet (the running one, if any, does not cover
   * them); for tests.
   */
  int durabilityWaiters() {
    syncLock.lock();
    try {
      long covered = syncing ? syncTarget : durableOffset.get();
      return (int) waiting.stream().filter(w -> w.offset > covered).count();
    } finally {
      syncLock.unlock();
    }
  }

  /** The syncer thread, or null while none runs; for tests. */
  Thread syncerThread() {
    syncLock.lock();
    try {
      return syncer;
    } finally {
      syncLock.unlock();
    }
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

  /**
   * Refuses further appends, fsyncs what was written, waits for a running fsync, wakes every waiter
   * (see the class comment) and closes the segment files. Throws if the final fsync failed, after
   * closing the files.
   */
  void close() {
    synchronized (writeLock) {
      if (writeClosed) {
        return;
      }
      writeClosed = true;
      RuntimeException failure = null;
      boolean interrupted = false;
      while (fillFrom != Long.MAX_VALUE) {
        try {
          writeLock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      Segment active = segments[segments.length - 1];
      try {
        if (zeroedEnd > active.size || (active.channel.isOpen() && active.channel.size() > active.size)) {
          // A cleanly closed segment holds batches only; the fsync below makes the new size durable.
          active.channel.truncate(active.size);
          zeroedEnd = active.size;
          active.channel.force(true);
        }
      } catch (IOException e) {
        failure = new LogException(String.format("stream '%s' partition %d: cannot cut the preallocated tail of %s: %s",
            stream, partition, active.file, e.getMessage()), e);
      }
      try {
        sync();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
      Thread running;
      syncLock.lock();
      try {
        syncClosed = true;
        syncWanted.signal();
        running = syncer;
      } finally {
        syncLock.unlock();
      }
      // The syncer ends after the fsync it runs (which settles the waiters it covers), and the
      // files must outlive that fsync.
      while (running != null && running.isAlive()) {
        try {
          running.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      Interrupts.restore(interrupted);
      List<Thread> settled = new ArrayList<>();
      syncLock.lock();
      try {
        while (syncing) {
          passEnded.awaitUninterruptibly(); // an appender's own fsync (or a sync() caller's)
        }
        for (DurabilityWaiter w : waiting) {
          w.outcome = Outcome.CLOSED;
          settled.add(w.thread);
        }
        waiting.clear();
      } finally {
        syncLock.unlock();
      }
      unparkAll(settled);
      for (Segment s : segments) {
        if (failure == null) {
          s.close();
        } else {
          s.closeQuietly();
        }
      }
      if (failure != null) {
        throw failure;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------


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
    return new UncheckedIOException(what + ": " + LogException.describe(e), e);
  }
}
