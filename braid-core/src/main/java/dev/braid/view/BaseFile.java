package dev.braid.view;

import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import dev.braid.log.MappedFile;
import dev.braid.log.SyncBehind;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.zip.CRC32C;

/**
 * The immutable, on-disk Base of a version: every group's accumulators over {@code [0, cut)}, with a
 * hash index so a point read costs one probe into a memory-mapped file.
 *
 * <p>Why not RocksDB: a Base is written once and read by key. A read-only RocksDB built with
 * {@code SstFileWriter} measured p50 ~3 us and p99 6-9 us per {@code get} on this machine kind with
 * default options; an open-addressing index in a mapped file answers from memory in well under a
 * microsecond, needs no native library, and is ~80 lines.
 *
 * <pre>
 *   0          8       12      16          24          32          40     44       48       52       56
 *   +----------+-------+-------+-----------+-----------+-----------+------+--------+--------+--------+------+
 *   | BRAIDBAS | ver 1 | parts | key count | group cnt | table pos | slots| def.crc| body crc| hdr crc| 0   |
 *   +----------+-------+-------+-----------+-----------+-----------+------+--------+--------+--------+------+
 *   64: cut, one long per partition
 *   entries, one per key:  int key length | key bytes | int window count |
 *                          (long window start | int state length | state bytes) x window count
 *   table at `table pos`:  `slots` x (int key hash | int entry position, 0 = empty), linear probing
 * </pre>
 *
 * The body CRC32C covers every byte after the header (cut, entries, table); the header CRC covers
 * bytes [0, 52). Both are checked when the file is opened, so a damaged Base is refused with its
 * path instead of serving wrong answers (the body is not read again right after this process wrote
 * it: see {@link #openWritten}). Files are limited to 2 GiB (one mapping).
 *
 * <p>Entries come in no particular key order (table order after an in-memory batch cycle, the
 * {@link RunFileDescriptor} order after one that spilled) and an entry's windows in no particular
 * order; readers find entries through the index only. {@link Writer} is the only code that writes
 * this format.
 */
final class BaseFile implements AutoCloseable {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'B', 'A', 'S'};
  /** The kind of file that a {@link CorruptLogException} of a damaged Base names. */
  static final String KIND = "view Base";
  static final int VERSION = 1;
  static final int HEADER_LENGTH = 64;
  private static final int HEADER_CRC_OFFSET = 52;

  final Path file;
  final Cut cut;
  final long keyCount;
  final long groupCount;
  private final MappedByteBuffer map;
  private final int tablePosition;
  private final int slotMask;
  /** The mapping, shared by reads in progress and released once this Base is closed and they end. */
  private final MappedFile mapped;

  private BaseFile(Path file, Cut cut, long keyCount, long groupCount, MappedByteBuffer map, MappedFile mapped,
      int tablePosition, int slots) {
    this.file = file;
    this.cut = cut;
    this.keyCount = keyCount;
    this.groupCount = groupCount;
    this.map = map;
    this.mapped = mapped;
    this.tablePosition = tablePosition;
    this.slotMask = slots - 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes the groups of {@code tables} (whose keys must be disjoint: each key in one table only)
   * to {@code target} atomically through a {@link Writer}; returns what was written. {@code helper},
   * if not null, builds half the index (see {@link Writer#finish(Executor)}).
   */
  static Written write(Path target, ViewProgram program, Cut cut, GroupTable[] tables, Executor helper)
      throws IOException {
    long keys = 0;
    for (GroupTable t : tables) {
      keys += t.keyCount();
    }
    try (Writer w = Writer.begin(target, program, cut, keys)) {
      for (GroupTable t : tables) {
        for (int k = 0; k < t.keyCount(); k++) {
          w.beginKey(t.keyBytes(), t.keyOffset(k), t.keyLength(k), t.keyHash(k));
          for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
            w.window(t.window(g), t.longs, g * t.stride, t.objects, g * t.objectWidth);
          }
          w.endKey();
        }
      }
      return w.finish(helper);
    }
  }

  /** What {@link Writer#finish} wrote: the key and group counts and the CRC32C of the body. */
  record Written(long keys, long groups, int bodyCrc) {}

  /**
   * Streams a Base to disk, one key at a time, in any key order: the only code that writes the
   * format above. The entries go to a temporary file next to {@code target} through a buffer that
   * is handed to the file in slices of about 256 KiB; {@link #finish} appends the hash index, fills
   * in the header, fsyncs, renames the file into place and fsyncs the directory. Closing a writer
   * that has not finished deletes the temporary file.
   *
   * <h2>Memory</h2>
   * Independent of the number of keys except for the hash index: while entries are written the
   * writer keeps each key's (hash, entry position), 8 bytes per key, and {@link #finish} builds the
   * index from them once the key count is known: 8 bytes per slot and 2 to 4 slots per key (load
   * factor at most 1/2, slot count a power of two as the format requires), i.e. 16 to 32 bytes per
   * key, plus 8 bytes per key while it orders the keys by slot. A key's entry is assembled whole in the buffer, so the buffer also grows to the largest
   * single key (all its windows).
   *
   * <h2>Sections</h2>
   * Several threads can serialize entries at once, each into a {@link Section} of its own, and hand
   * a full section to {@link #append(Section)}; only that call (a file write, a checksum update and
   * copying the section's key positions) has to be serialized by the caller. This is how the batch
   * layer's partition tasks write their keys while they fold, instead of one thread writing every
   * key after the fold.
   *
   * <p>Not thread-safe: one thread at a time (callers of {@link #append} hold a lock). Keys must be
   * distinct; the writer does not check it.
   */
  static final class Writer implements GroupSink, AutoCloseable {

    private static final int FLUSH_BYTES = 256 << 10;
    private static final long MAX_FILE = Integer.MAX_VALUE;
    /**
     * Bytes written between background syncs ({@link SyncBehind}): the final fsync of a 67 MB Base
     * (1 M keys) took 30-36 ms of a batch cycle's 0.7 s on the development machine, with the other
     * batch thread idle.
     */
    private static final long SYNC_BEHIND = 16L << 20;
    /** An index is placed a range of 2^this slots (8 KiB) at a time (see {@link #writeIndex}). */
    private static final int RANGE_SLOT_BITS = 10;

    private final Path target;
    private final Path tmp;
    private final ViewProgram program;
    private final Cut cut;
    private final FileChannel channel;
    private final SyncBehind sync;
    /** The cut, then nothing: entries go through {@link #own} or other sections. */
    private final DataBuffer buf = new DataBuffer(1 << 10);
    /** The section that {@link #beginKey}, {@link #window} and {@link #endKey} write entries to. */
    private final Section own;
    private final CRC32C bodyCrc = new CRC32C();
    private long flushed; // bytes of the file already handed to the channel
    /** Key i's hash at [2i], its entry's position at [2i + 1]; the index is built from them by finish. */
    private int[] entries;
    private long keys;
    private long groups;
    private boolean finished;

    private Writer(Path target, ViewProgram program, Cut cut, long expectedKeys, FileChannel channel, Path tmp) {
      this.target = target;
      this.tmp = tmp;
      this.program = program;
      this.own = new Section(program);
      this.cut = cut;
      this.channel = channel;
      this.sync = new SyncBehind(channel, SYNC_BEHIND, "braid-base-sync");
      this.entries = new int[2 * (int) Math.max(16, Math.min(1 << 26, expectedKeys))];
    }

    /** Opens a writer for {@code target}; {@code expectedKeys} sizes the index (it grows if exceeded). */
    static Writer begin(Path target, ViewProgram program, Cut cut, long expectedKeys) throws IOException {
      Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
      FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
      Writer w = new Writer(target, program, cut, expectedKeys, ch, tmp);
      try {
        w.writeFully(ByteBuffer.allocate(HEADER_LENGTH)); // the header is filled in by finish()
        w.flushed = HEADER_LENGTH;
        for (int p = 0; p < cut.partitions(); p++) {
          w.buf.writeLong(cut.offset(p));
        }
        return w;
      } catch (IOException | RuntimeException e) {
        w.close();
        throw e;
      }
    }

    /** The smallest power of two of at least 16 slots that holds {@code keys} at load factor 1/2. */
    private static int slotsFor(long keys) {
      long want = Math.max(16, Math.min(1L << 29, keys * 2));
      return (int) Long.highestOneBit(want - 1) << 1;
    }


    @Override
    public void beginKey(byte[] key, int off, int len, int hash) {
      requireOpen();
      own.beginKey(key, off, len, hash);
    }

    @Override
    public void window(long window, long[] longs, int longBase, Object[] objects, int objectBase)
        throws IOException {
      own.window(window, longs, longBase, objects, objectBase);
    }

    @Override
    public void window(long window, byte[] state, int off, int len) {
      own.window(window, state, off, len);
    }

    @Override
    public void endKey() throws IOException {
      own.endKey();
      if (own.full()) {
        append(own);
      }
    }

    private void requireOpen() {
      if (finished || entries == null) {
        throw new IllegalStateException("the base writer for " + target + " has finished");
      }
    }

    private void addEntry(int hash, int pos) {
      if (2 * keys + 2 > entries.length) {
        if (entries.length >= Integer.MAX_VALUE / 2 - 8) {
          throw new IllegalStateException("too many keys for one Base");
        }
        entries = Arrays.copyOf(entries, entries.length * 2);
      }
      entries[(int) (2 * keys)] = hash;
      entries[(int) (2 * keys + 1)] = pos;
    }

    /**
     * Appends the entries serialized in {@code s} after everything written so far, and empties
     * {@code s}. The caller serializes calls (and all other calls) on this writer.
     */
    void append(Section s) throws IOException {
      if (s != own && own.entryStart >= 0) {
        throw new IllegalStateException("append inside a key: call endKey first");
      }
      requireOpen();
      if (s.entryStart >= 0) {
        throw new IllegalStateException("a section inside a key: call endKey on it first");
      }
      if (s.keys == 0) {
        return;
      }
      if (buf.size() > 0) {
        flush();
      }
      long at = flushed;
      if (at + s.buf.size() > MAX_FILE - 1024) {
        throw new IOException("base would exceed 2 GiB; this version of Braid keeps a Base in one mapped file");
      }
      bodyCrc.update(s.buf.array(), 0, s.buf.size());
      writeFully(ByteBuffer.wrap(s.buf.array(), 0, s.buf.size()));
      flushed += s.buf.size();
      sync.written(flushed);
      int[] e = s.entries;
      for (int i = 0; i < s.keys; i++) {
        addEntry(e[2 * i], (int) (at + e[2 * i + 1]));
        keys++;
      }
      groups += s.groups;
      s.reset();
    }

    private void flush() throws IOException {
      bodyCrc.update(buf.array(), 0, buf.size());
      writeFully(ByteBuffer.wrap(buf.array(), 0, buf.size()));
      flushed += buf.size();
      buf.reset();
      sync.written(flushed);
    }

    private void writeFully(ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        channel.write(b);
      }
    }

    /**
     * Writes the index and the header, makes the file durable and moves it to the target; returns
     * the file's key and group counts and its body CRC, for {@link BaseFile#openWritten}.
     */
    Written finish() throws IOException {
      return finish(null);
    }

    /**
     * {@link #finish()}, building and writing the index in two halves, one of them on {@code helper}
     * when it is not null (see {@link #writeIndex}).
     */
    Written finish(Executor helper) throws IOException {
      if (own.entryStart >= 0) {
        throw new IllegalStateException("finish inside a key: call endKey first");
      }
      requireOpen();
      append(own);
      flush();
      long tablePos = flushed;
      int slotCount = slotsFor(keys);
      if (tablePos + (long) slotCount * 8 > MAX_FILE) {
        throw new IOException("base would exceed 2 GiB; this version of Braid keeps a Base in one mapped file");
      }
      int body = writeIndex(tablePos, slotCount, helper);
      ByteBuffer h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
      h.put(MAGIC).putInt(VERSION).putInt(cut.partitions()).putLong(keys).putLong(groups).putLong(tablePos)
          .putInt(slotCount).putInt(program.spec.definition().hashCode()).putInt(body);
      CRC32C hc = new CRC32C();
      hc.update(h.array(), 0, HEADER_CRC_OFFSET);
      h.putInt((int) hc.getValue()).putInt(0);
      h.flip();
      while (h.hasRemaining()) {
        channel.write(h, h.position());
      }
      sync.await(tmp);
      channel.force(true);
      channel.close();
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      finished = true;
      try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      }
      return new Written(keys, groups, body);
    }

    /** Releases the file; a writer that did not finish deletes its temporary file. */
    @Override
    public void close() throws IOException {
      if (!finished) {
        finished = true; // close once
        entries = null;
        try {
          sync.await(tmp);
        } catch (IOException e) {
          // the file is deleted below: a failed sync of it no longer matters
        }
        try {
          channel.close();
        } finally {
          Files.deleteIfExists(tmp);
        }
      }
    }

    /**
     * The index of the format: every key's (hash, entry position) by linear probing, in memory order,
     * built and written in two halves; with a {@code helper}, the second half on it while the calling
     * thread does the first.
     *
     * <p>Keys are placed in order of their home slot, a range of {@code 2^}{@value #RANGE_SLOT_BITS}
     * slots at a time: a counting sort of the entries by their home's range first (sequential reads,
     * one write stream per range), then each range's keys go to slots that lie together in the cache.
     * Placed in entry order, nearly every key of a large index missed the cache: 31-48 ms of one
     * thread for 1 M keys.
     *
     * <p>The halves: the entries are counted and sorted in two halves (half 0's keys of a range before
     * half 1's, the order one pass would give), and the slots are placed in two regions, the ranges
     * below the middle slot and those above. A key whose probe would leave its region (past the middle,
     * or round from the last slot to the first) is put aside and placed after both regions, probing on
     * as usual. Linear probing takes its keys in any order (a key is found by probing from its home to
     * the first empty slot, and slots never empty again), and each region's keys only read and write
     * their region's slots, so the result is a valid table and the same with or without a helper. Each
     * half of the slot array is then converted, checksummed and written at its own position in the
     * file; the two checksums are joined with {@link Crc32cCombine}. For 1 M keys (a 16 MB index) this
     * took 53 ms on one thread of a 650 ms batch cycle while the other batch thread had nothing to do.
     * Takes 8 bytes per key more, and the slots, until it returns. Returns the CRC32C of the whole body.
     */
    private int writeIndex(long tablePos, int slotCount, Executor helper) throws IOException {
      Index index = new Index(entries, (int) keys, slotCount);
      inHalves(helper, index::count);
      index.offsets();
      inHalves(helper, index::sort);
      inHalves(helper, index::place);
      index.placeSetAside(); // and lets go of the entries and their sorted copy: only the slots are written
      entries = null;
      long half = (long) slotCount * 4; // bytes: the slot array's first or second half
      int[] crcs = new int[2];
      inHalves(helper, h -> crcs[h] = writeSlots(index.slots, h * slotCount, slotCount, tablePos + h * half));
      int body = Crc32cCombine.combine((int) bodyCrc.getValue(), crcs[0], half);
      flushed += 2 * half;
      sync.written(flushed);
      return Crc32cCombine.combine(body, crcs[1], half);
    }

    /** Writes {@code n} ints of {@code slots} from {@code from} big-endian at {@code pos}; returns their CRC32C. */
    private int writeSlots(int[] slots, int from, int n, long pos) throws IOException {
      ByteBuffer slice = ByteBuffer.allocate(FLUSH_BYTES).order(ByteOrder.BIG_ENDIAN);
      CRC32C crc = new CRC32C();
      for (int i = 0; i < n; ) {
        int m = Math.min(n - i, FLUSH_BYTES / 4);
        slice.clear();
        slice.asIntBuffer().put(slots, from + i, m);
        slice.limit(m * 4);
        crc.update(slice.array(), 0, m * 4);
        while (slice.hasRemaining()) {
          pos += channel.write(slice, pos);
        }
        i += m;
      }
      return (int) crc.getValue();
    }

    /** One half of a step of {@link #writeIndex}: half 0 or 1. */
    private interface Half {
      void run(int half) throws IOException;
    }

    /**
     * Runs {@code step} for halves 0 and 1: half 1 on {@code helper} while this thread runs half 0,
     * or both here without one (or when it refuses the task). Returns once both have ended.
     */
    private static void inHalves(Executor helper, Half step) throws IOException {
      FutureTask<Void> other = new FutureTask<>(() -> {
        step.run(1);
        return null;
      });
      boolean handedOff = false;
      if (helper != null) {
        try {
          helper.execute(other);
          handedOff = true;
        } catch (RejectedExecutionException e) {
          // a pool shutting down: do it here
        }
      }
      Throwable failure = null;
      try {
        step.run(0);
      } catch (IOException | RuntimeException | Error e) {
        failure = e;
      }
      if (!handedOff) {
        other.run();
      }
      boolean interrupted = false;
      while (true) {
        try {
          other.get(); // always waited for: both halves use the same arrays and file
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          if (failure == null) {
            failure = e.getCause();
          } else {
            failure.addSuppressed(e.getCause());
          }
          break;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (failure instanceof IOException io) {
        throw io;
      } else if (failure instanceof RuntimeException re) {
        throw re;
      } else if (failure instanceof Error err) {
        throw err;
      } else if (failure != null) {
        throw new IllegalStateException(failure);
      }
    }
  }

  /** The hash index of {@link Writer#writeIndex}, built in two halves; see there. */
  static final class Index {

    /** Every key's (hash, entry position), as the writer kept them. */
    private int[] entries;
    private final int keys;
    private final int mask;
    private final int shift;
    private final int ranges;
    /** The first slot of region 1; region 0 is the slots below it. */
    private final int middle;
    /** Keys per range: of half 0 at [r], of half 1 at [ranges + r]; then where each half's next key of range r goes. */
    private final int[] next;
    /** The entries in order of their home's range. */
    private int[] sorted;
    /** The table: (hash, entry position) per slot, position 0 = empty. */
    final int[] slots;
    /** Indices into {@link #sorted} of the keys whose probe left their region, per region. */
    private final int[][] setAside = new int[2][8];
    private final int[] setAsideCount = new int[2];

    Index(int[] entries, int keys, int slotCount) {
      this.entries = entries;
      this.keys = keys;
      this.mask = slotCount - 1;
      this.shift = Math.min(Writer.RANGE_SLOT_BITS, Integer.numberOfTrailingZeros(slotCount));
      this.ranges = slotCount >>> shift;
      this.middle = (ranges / 2) << shift;
      this.next = new int[2 * ranges];
      this.sorted = new int[2 * keys];
      this.slots = new int[2 * slotCount];
    }

    private int firstEntry(int half) {
      return half == 0 ? 0 : keys / 2;
    }

    private int endEntry(int half) {
      return half == 0 ? keys / 2 : keys;
    }

    /** Counts half {@code half}'s entries per range. */
    void count(int half) {
      int[] e = entries;
      int[] n = next;
      int base = half * ranges;
      for (int i = firstEntry(half), end = endEntry(half); i < end; i++) {
        n[base + ((e[2 * i] & mask) >>> shift)]++;
      }
    }

    /** Turns the counts into where each half's first key of each range goes in {@link #sorted}. */
    void offsets() {
      int at = 0;
      for (int r = 0; r < ranges; r++) {
        int c0 = next[r];
        int c1 = next[ranges + r];
        next[r] = at;
        next[ranges + r] = at + c0;
        at += c0 + c1;
      }
    }

    /** Moves half {@code half}'s entries to their places in {@link #sorted}. */
    void sort(int half) {
      int[] e = entries;
      int[] n = next;
      int[] s = sorted;
      int base = half * ranges;
      for (int i = firstEntry(half), end = endEntry(half); i < end; i++) {
        int k = n[base + ((e[2 * i] & mask) >>> shift)]++;
        s[2 * k] = e[2 * i];
        s[2 * k + 1] = e[2 * i + 1];
      }
    }

    /** Places the keys whose home is in region {@code region}, setting aside those whose probe leaves it. */
    void place(int region) {
      int[] s = sorted;
      int[] t = slots;
      int limit = region == 0 ? middle : mask + 1;
      for (int k = region == 0 ? 0 : firstSortedOfRegion1(), end = region == 0 ? firstSortedOfRegion1() : keys;
          k < end; k++) {
        int hash = s[2 * k];
        int slot = hash & mask;
        while (t[2 * slot + 1] != 0) {
          slot++;
          if (slot == limit) {
            break;
          }
        }
        if (slot == limit) {
          setAside(region, k);
        } else {
          t[2 * slot] = hash;
          t[2 * slot + 1] = s[2 * k + 1];
        }
      }
    }

    /** Index into {@link #sorted} of the first key whose home is in region 1. */
    private int firstSortedOfRegion1() {
      // after sort, next[r] is where half 0's keys of range r ended, i.e. where half 1's began; next[ranges + r]
      // where range r ended. Region 1 begins with range ranges / 2, which begins where range ranges / 2 - 1 ended.
      return ranges / 2 == 0 ? 0 : next[ranges + ranges / 2 - 1];
    }

    private void setAside(int region, int k) {
      int[] list = setAside[region];
      if (setAsideCount[region] == list.length) {
        setAside[region] = list = Arrays.copyOf(list, list.length * 2);
      }
      list[setAsideCount[region]++] = k;
    }

    /**
     * Places the keys set aside, region 0's first, probing on from their home as usual (and round);
     * then drops the entries and their sorted copy.
     */
    void placeSetAside() {
      int[] s = sorted;
      int[] t = slots;
      for (int region = 0; region < 2; region++) {
        for (int j = 0; j < setAsideCount[region]; j++) {
          int k = setAside[region][j];
          int hash = s[2 * k];
          int slot = hash & mask;
          while (t[2 * slot + 1] != 0) {
            slot = (slot + 1) & mask;
          }
          t[2 * slot] = hash;
          t[2 * slot + 1] = s[2 * k + 1];
        }
      }
      entries = null;
      sorted = null;
    }
  }

  /**
   * Entries of a Base serialized by one thread for {@link Writer#append}: the same entry layout,
   * positions relative to the section's start. Reused after each append. Not thread-safe.
   */
  static final class Section implements GroupSink {

    private final ViewProgram program;
    private final ViewProgram.Scratch x;
    private final DataBuffer buf = new DataBuffer(Writer.FLUSH_BYTES + (4 << 10));
    private int[] entries = new int[2 * 4096];
    private int keys;
    private long groups;
    private int entryStart = -1;
    private int windowCountAt;
    private int windows;

    Section(ViewProgram program) {
      this.program = program;
      this.x = program.scratch();
    }

    /** Whether the section holds enough bytes to be appended (about as much as the writer flushes). */
    boolean full() {
      return buf.size() >= Writer.FLUSH_BYTES;
    }

    @Override
    public void beginKey(byte[] key, int off, int len, int hash) {
      if (entryStart >= 0) {
        throw new IllegalStateException("beginKey inside a key: call endKey first");
      }
      if (2 * keys + 2 > entries.length) {
        entries = Arrays.copyOf(entries, entries.length * 2);
      }
      entryStart = buf.size();
      entries[2 * keys] = hash;
      entries[2 * keys + 1] = entryStart;
      buf.writeInt(len);
      buf.write(key, off, len);
      windowCountAt = buf.size();
      buf.writeInt(0);
      windows = 0;
    }

    @Override
    public void window(long window, long[] longs, int longBase, Object[] objects, int objectBase)
        throws IOException {
      requireKey();
      buf.writeWindow(window, program, longs, longBase, objects, objectBase, x);
      windows++;
    }

    @Override
    public void window(long window, byte[] state, int off, int len) {
      requireKey();
      buf.writeWindow(window, state, off, len);
      windows++;
    }

    @Override
    public void endKey() {
      requireKey();
      buf.setInt(windowCountAt, windows);
      keys++;
      groups += windows;
      entryStart = -1;
    }

    private void requireKey() {
      if (entryStart < 0) {
        throw new IllegalStateException("a window outside a key: call beginKey first");
      }
    }

    private void reset() {
      buf.reset();
      keys = 0;
      groups = 0;
    }
  }

  /** A reusable in-memory buffer for one row's serialized state. */
  static final class StateBytes extends java.io.ByteArrayOutputStream {
    final DataOutputStream data = new DataOutputStream(this);

    void copyTo(OutputStream out) throws IOException {
      out.write(buf, 0, count);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading
  // ---------------------------------------------------------------------------------------------

  /** Opens and verifies a Base; throws {@link CorruptLogException} naming the file when it is damaged. */
  /**
   * The key count in {@code file}'s header, read without mapping the file (for listing a version
   * whose Base is not open); -1 when the header cannot be read or fails its CRC.
   */
  static long headerKeyCount(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
      while (h.hasRemaining() && ch.read(h) >= 0) {
        // read the whole header
      }
      CRC32C hc = new CRC32C();
      hc.update(h.array(), 0, HEADER_CRC_OFFSET);
      boolean valid = !h.hasRemaining() && Arrays.equals(Arrays.copyOf(h.array(), 8), MAGIC)
          && (int) hc.getValue() == h.getInt(HEADER_CRC_OFFSET);
      return valid ? h.getLong(16) : -1;
    } catch (IOException e) {
      return -1;
    }
  }

  static BaseFile open(Path file) throws IOException {
    return open(file, null);
  }

  /**
   * Opens the Base this process has just written to {@code file} with {@link Writer#finish}, which
   * returned {@code written}. Checks the header as {@link #open} does and that its body CRC is the one
   * the writer computed, but does not read the body again: those bytes are the page cache the writer
   * has just filled (and made durable), so a second pass would check memory against itself, not the
   * disk, and it was 24 ms, on one thread, of a 650 ms batch cycle over a 67 MB Base. A Base opened
   * any other way (at start, after a restart) is read and checked whole.
   */
  static BaseFile openWritten(Path file, Written written) throws IOException {
    return open(file, written);
  }

  private static BaseFile open(Path file, Written written) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < HEADER_LENGTH) {
        throw new CorruptLogException(KIND, file, 0, "base file is shorter than its header");
      }
      if (size > Integer.MAX_VALUE) {
        throw new CorruptLogException(KIND, file, 0, "base file is larger than 2 GiB");
      }
      MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
      MappedFile mapped = new MappedFile(file, List.of(map));
      try {
        return checked(file, map, mapped, size, written);
      } catch (IOException | RuntimeException e) {
        mapped.close(); // a refused Base is unmapped at once: its file may be deleted or replaced next
        throw e;
      }
    }
  }

  /** The Base of {@code map} once its header (and body, or the writer's figures) check out. */
  private static BaseFile checked(Path file, MappedByteBuffer map, MappedFile mapped, long size, Written written)
      throws IOException {
    map.order(ByteOrder.BIG_ENDIAN);
    byte[] magic = new byte[8];
    map.get(0, magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new CorruptLogException(KIND, file, 0, "not a Braid base file (bad magic)");
    }
    CRC32C hc = new CRC32C();
    ByteBuffer hb = map.duplicate();
    hb.position(0).limit(HEADER_CRC_OFFSET);
    hc.update(hb);
    if ((int) hc.getValue() != map.getInt(HEADER_CRC_OFFSET)) {
      throw new CorruptLogException(KIND, file, 0, "base header fails its CRC");
    }
    if (map.getInt(8) != VERSION) {
      throw new CorruptLogException(KIND, file, 8, "unsupported base format version " + map.getInt(8));
    }
    if (written == null) {
      CRC32C bc = new CRC32C();
      ByteBuffer body = map.duplicate();
      body.position(HEADER_LENGTH).limit((int) size);
      bc.update(body);
      if ((int) bc.getValue() != map.getInt(48)) {
        // what to do about it is the caller's to say (a view's repair, a closed-window run's rebuild)
        throw new CorruptLogException(KIND, file, HEADER_LENGTH, "base body fails its CRC");
      }
    } else if (written.bodyCrc() != map.getInt(48) || written.keys() != map.getLong(16)
        || written.groups() != map.getLong(24)) {
      throw new CorruptLogException(KIND, file, 16, "base file is not the one just written (its counts or body CRC "
          + "differ from the writer's)");
    }
    int partitions = map.getInt(12);
    long[] offsets = new long[partitions];
    for (int p = 0; p < partitions; p++) {
      offsets[p] = map.getLong(HEADER_LENGTH + p * 8);
    }
    long tablePos = map.getLong(32);
    int slots = map.getInt(40);
    if (Integer.bitCount(slots) != 1 || tablePos + (long) slots * 8 != size) {
      throw new CorruptLogException(KIND, file, 32, "base index does not fit the file");
    }
    return new BaseFile(file, Cut.of(offsets), map.getLong(16), map.getLong(24), map, mapped, (int) tablePos,
        slots);
  }

  /** Receives the windows of one key found in the Base. */
  interface WindowVisitor {
    void visit(long window, ByteBuffer buffer, int stateOffset, int stateLength) throws IOException;
  }

  /**
   * Visits every window of {@code key}; returns false when the key is not in the Base. The visitor
   * reads the mapping and must not keep {@code buffer} past its call.
   *
   * @throws MappedFile.ClosedException when the Base was closed before the read began
   */
  boolean lookup(byte[] key, int len, WindowVisitor visitor) throws IOException {
    retain();
    try {
      return find(key, len, visitor);
    } finally {
      release();
    }
  }

  /** Finds {@code key} and visits its windows; a null visitor only finds it. */
  private boolean find(byte[] key, int len, WindowVisitor visitor) throws IOException {
    int hash = GroupTable.hash(key, len);
    int slot = hash & slotMask;
    ByteBuffer m = map;
    while (true) {
      int at = tablePosition + slot * 8;
      int pos = m.getInt(at + 4);
      if (pos == 0) {
        return false;
      }
      if (m.getInt(at) == hash && keyEquals(m, pos, key, len)) {
        if (visitor == null) {
          return true;
        }
        int p = pos + 4 + len;
        int windows = m.getInt(p);
        p += 4;
        for (int w = 0; w < windows; w++) {
          long window = m.getLong(p);
          int stateLen = m.getInt(p + 8);
          visitor.visit(window, m, p + 12, stateLen);
          p += 12 + stateLen;
        }
        return true;
      }
      slot = (slot + 1) & slotMask;
    }
  }

  /** Receives one key of a Base: its UTF-8 bytes in {@code buffer} at {@code [offset, offset + length)}. */
  interface KeyVisitor {
    /** Takes one key; the buffer is the mapping, not to be kept past the call. False stops the walk. */
    boolean key(ByteBuffer buffer, int offset, int length);
  }

  /**
   * Visits every key of the Base, in index order, until the visitor returns false; returns whether
   * it visited them all.
   *
   * @throws MappedFile.ClosedException when the Base was closed before the walk began
   */
  boolean forEachKey(KeyVisitor visitor) {
    retain();
    try {
      ByteBuffer m = map;
      for (int slot = 0; slot <= slotMask; slot++) {
        int pos = m.getInt(tablePosition + slot * 8 + 4);
        if (pos != 0 && !visitor.key(m, pos + 4, m.getInt(pos))) {
          return false;
        }
      }
      return true;
    } finally {
      release();
    }
  }

  /**
   * Whether the Base holds {@code key}.
   *
   * @throws MappedFile.ClosedException when the Base was closed before the read began
   */
  boolean contains(byte[] key, int len) {
    retain();
    try {
      return find(key, len, null);
    } catch (IOException e) {
      throw new AssertionError("no visitor, nothing to fail", e);
    } finally {
      release();
    }
  }

  /**
   * A cursor over the entries in file order, for a Base whose entries were written in
   * {@link RunFileDescriptor} order with ascending windows (a Delta's closed-window run, see
   * {@link ClosedRun}); it checks that order and throws when the file breaks it. The Base's mapping
   * stays until the cursor is closed.
   *
   * @throws MappedFile.ClosedException when the Base was closed before
   */
  GroupCursor cursor() {
    retain();
    return new Cursor();
  }

  private final class Cursor extends GroupCursor {
    private final ByteBuffer m = map.duplicate().order(ByteOrder.BIG_ENDIAN);
    private int pos = HEADER_LENGTH + cut.partitions() * 8;
    private int windowsLeft;
    private boolean released;

    @Override
    public void close() {
      if (!released) {
        released = true;
        release();
      }
    }

    @Override
    boolean nextKey() throws IOException {
      while (windowsLeft > 0) {
        nextWindow();
      }
      if (pos >= tablePosition) {
        return false;
      }
      int len = m.getInt(pos);
      if (len < 0 || pos + 8L + len > tablePosition) {
        throw new CorruptLogException(KIND, file, pos, "impossible key length " + len);
      }
      startKey(len);
      m.get(pos + 4, key, 0, len);
      keyLength = len;
      hash = GroupTable.hash(key, len);
      windowsLeft = m.getInt(pos + 4 + len);
      pos += 8 + len;
      window = Long.MIN_VALUE;
      if (!inKeyOrder()) {
        throw new IllegalStateException("base file " + file + " is not in key order at byte " + pos);
      }
      return true;
    }

    @Override
    boolean nextWindow() throws IOException {
      if (windowsLeft == 0) {
        return false;
      }
      long w = m.getLong(pos);
      int len = m.getInt(pos + 8);
      if (len < 0 || pos + 12L + len > tablePosition) {
        throw new CorruptLogException(KIND, file, pos, "impossible state length " + len);
      }
      if (w <= window && window != Long.MIN_VALUE) {
        throw new IllegalStateException("base file " + file + " has windows out of order at byte " + pos);
      }
      reserveState(len);
      m.get(pos + 12, state, 0, len);
      stateLength = len;
      window = w;
      pos += 12 + len;
      windowsLeft--;
      return true;
    }
  }

  private static boolean keyEquals(ByteBuffer m, int pos, byte[] key, int len) {
    return m.getInt(pos) == len && BatchLayer.sameBytes(m, pos + 4, key, 0, len);
  }

  long sizeBytes() {
    return map.capacity();
  }

  /**
   * Gives up the owner's hold on the mapping: it is released (unmapped) once the reads in progress
   * have ended, and every later read throws {@link MappedFile.ClosedException}. Idempotent. Why
   * unmap at all: see {@link MappedFile}.
   */
  @Override
  public void close() {
    mapped.close();
  }

  /**
   * Counts a read of the mapping in; throws {@link MappedFile.ClosedException} once it is released.
   * Each retain is matched by one {@link #release}.
   */
  void retain() {
    mapped.retain();
  }

  /** Counts a read out; the last one out after {@link #close} releases the mapping. */
  void release() {
    mapped.release();
  }
}
