package dev.braid.table;

import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import dev.braid.log.MappedFile;
import dev.braid.log.SyncBehind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The immutable Base of a table version: the rows of one push, memory-mapped, with a hash index so
 * that a point read is one probe and one entry. Like the views' {@code BaseFile} (same reasons: no
 * RocksDB, one probe from memory), but for rows of any size and files beyond 2 GiB: the file is
 * mapped in 1 GiB regions and no entry crosses a region boundary.
 *
 * <pre>
 *   0         8       12      16         24         32          40          48        52        56    64
 *   +---------+-------+-------+----------+----------+-----------+-----------+---------+---------+-----+
 *   | BRAIDTBL| ver   | parts | rows     | slots    | index pos | push time | body crc| hdr crc | fld | 0
 *   +---------+-------+-------+----------+----------+-----------+-----------+---------+---------+-----+
 *   ver 1: rows have the table's first fields (fld is 0); ver 2: they have `fld` fields (int), written
 *   once the table's fields grew (see TableLayout#firstFields)
 *   64: the push's start cut, one long per partition
 *   entries (zero padding before an entry that would cross a 1 GiB boundary):
 *       int key hash | int key length | key (UTF-8) | long last-write millis | int row length | row (RowCodec)
 *   index at `index pos`: int hash x slots, then long entry position x slots (0 = empty); linear
 *       probing; slots a power of two, at most 3/4 full
 * </pre>
 *
 * A key pushed twice keeps its later line (the index points at the later entry; {@code rows}
 * counts distinct keys). The body CRC32C covers every byte after the cut; the header CRC bytes
 * [0, 52) and, in version 2, [56, 60). Both are checked on open, so a damaged Base is refused with
 * its path. A table that never grew writes version 1, byte for byte as before tables could grow.
 */
final class TableBase implements AutoCloseable {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'T', 'B', 'L'};
  /** The kind of file that a {@link CorruptLogException} of a damaged table Base names. */
  static final String KIND = "table Base";
  static final int VERSION = 1;
  /** The version of a Base whose header gives its rows' field count. */
  static final int VERSION_COUNTED = 2;
  static final int HEADER = 64;
  static final long REGION = 1L << 30;
  /** Entry header: hash, key length (then key), and after the key: last write, row length. */
  static final int ENTRY_FIXED = 4 + 4 + 8 + 4;

  final Path file;
  final Cut cut;
  final long rows;
  final long pushTime;
  /** How many of the table's fields its rows have ({@link RowCodec#decode}). */
  final int fields;
  private final MappedByteBuffer[] regions;
  private final MappedByteBuffer hashes;
  private final MappedByteBuffer positions;
  private final long slotMask;
  /** The mappings, shared by reads in progress and released once this Base is closed and they end. */
  private final MappedFile mapped;

  private TableBase(Path file, Cut cut, long rows, long pushTime, int fields, MappedByteBuffer[] regions,
      MappedByteBuffer hashes, MappedByteBuffer positions, long slots, MappedFile mapped) {
    this.file = file;
    this.cut = cut;
    this.rows = rows;
    this.pushTime = pushTime;
    this.fields = fields;
    this.regions = regions;
    this.hashes = hashes;
    this.positions = positions;
    this.slotMask = slots - 1;
    this.mapped = mapped;
  }

  static int hash(byte[] key, int off, int len) {
    return dev.braid.log.Partitioner.murmur3(key, off, len, 0x5bd1e995);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading
  // ---------------------------------------------------------------------------------------------

  /**
   * The row count (distinct keys) in the header of the table base {@code file}, without mapping it;
   * -1 if the file is missing or its header is not a valid one.
   */
  static long headerRows(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return header(ch, file).getLong(16);
    } catch (IOException | CorruptLogException e) {
      return -1;
    }
  }

  /**
   * The checked header of the table base open in {@code ch}.
   *
   * @throws CorruptLogException naming {@code file} if it is shorter than a header, of another format
   *     or its header's checksum fails
   */
  private static ByteBuffer header(FileChannel ch, Path file) throws IOException {
    if (ch.size() < HEADER) {
      throw new CorruptLogException(KIND, file, 0, "table base is shorter than its header");
    }
    ByteBuffer h = ByteBuffer.allocate(HEADER);
    while (h.hasRemaining() && ch.read(h, h.position()) >= 0) {
      // read the whole header
    }
    h.flip();
    byte[] magic = new byte[8];
    h.get(magic);
    int version = h.getInt(8);
    if (!Arrays.equals(magic, MAGIC) || version != VERSION && version != VERSION_COUNTED) {
      throw new CorruptLogException(KIND, file, 0, "not a table base of format " + VERSION + " or " + VERSION_COUNTED);
    }
    if (headerCrc(h.array(), version) != h.getInt(52)) {
      throw new CorruptLogException(KIND, file, 52, "table base header checksum mismatch");
    }
    return h;
  }

  /**
   * Opens the Base {@code file} of a table whose fields are {@code layout}'s.
   *
   * @throws CorruptLogException naming the file when it fails its checks, or its rows have more
   *     fields than the table
   */
  /** The CRC32C of a header of format {@code version}: bytes [0, 52), and in version 2 the field count too. */
  private static int headerCrc(byte[] h, int version) {
    CRC32C hc = new CRC32C();
    hc.update(h, 0, 52);
    if (version == VERSION_COUNTED) {
      hc.update(h, 56, 4);
    }
    return (int) hc.getValue();
  }

  static TableBase open(Path file, TableLayout layout) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer h = header(ch, file);
      int fields = h.getInt(8) == VERSION ? layout.firstFields : h.getInt(56);
      if (fields < 1 || fields > layout.size()) {
        throw new CorruptLogException(KIND, file, 56, "its rows have " + fields + " fields, but table '"
            + layout.spec.name() + "' has " + layout.size() + " (" + String.join(", ", layout.names) + ")");
      }
      int parts = h.getInt(12);
      long rows = h.getLong(16);
      long slots = h.getLong(24);
      long indexPos = h.getLong(32);
      long pushTime = h.getLong(40);
      int bodyCrc = h.getInt(48);
      long dataStart = HEADER + 8L * parts;
      if (indexPos + slots * 12 != size || indexPos < dataStart || Long.bitCount(slots) != 1) {
        throw new CorruptLogException(KIND, file, 32, "table base index does not fit the file (index at " + indexPos
            + ", " + slots + " slots, file " + size + " bytes)");
      }
      ByteBuffer cutBuf = ByteBuffer.allocate(8 * parts);
      ch.read(cutBuf, HEADER);
      cutBuf.flip();
      long[] cut = new long[parts];
      for (int p = 0; p < parts; p++) {
        cut[p] = cutBuf.getLong();
      }
      int nRegions = (int) ((indexPos + REGION - 1) / REGION);
      MappedByteBuffer[] regions = new MappedByteBuffer[Math.max(1, nRegions)];
      List<ByteBuffer> made = new ArrayList<>(); // every mapping made so far, released if the Base is refused
      try {
        for (int r = 0; r < regions.length; r++) {
          long start = r * REGION;
          regions[r] = ch.map(FileChannel.MapMode.READ_ONLY, start, Math.min(REGION, indexPos - start));
          made.add(regions[r]);
        }
        MappedByteBuffer hashes = ch.map(FileChannel.MapMode.READ_ONLY, indexPos, slots * 4);
        made.add(hashes);
        MappedByteBuffer positions = ch.map(FileChannel.MapMode.READ_ONLY, indexPos + slots * 4, slots * 8);
        made.add(positions);
        CRC32C crc = new CRC32C();
        for (int r = 0; r < regions.length; r++) {
          ByteBuffer d = regions[r].duplicate();
          if (r == 0) {
            d.position((int) dataStart);
          }
          crc.update(d);
        }
        crc.update(hashes.duplicate());
        crc.update(positions.duplicate());
        if ((int) crc.getValue() != bodyCrc) {
          throw new CorruptLogException(KIND, file, dataStart, "table base body checksum mismatch");
        }
        return new TableBase(file, Cut.of(cut), rows, pushTime, fields, regions, hashes, positions, slots,
            new MappedFile(file, made));
      } catch (IOException | RuntimeException e) {
        new MappedFile(file, made).close(); // a refused Base is unmapped at once: its file may be deleted next
        throw e;
      }
    }
  }

  /** Reads the row of one entry of a Base; see {@link #read}. */
  interface EntryReader<T> {
    /** {@code row} spans the entry's row, {@code written} is its last-write millis. */
    T read(long written, Bytes.Reader row);
  }

  /**
   * The row of {@code key} as {@code entry} reads it, or null when the Base has no such key.
   * {@code reader} is pointed at the mapping, which stays mapped until {@code entry} returns:
   * {@code entry} must copy what it keeps (as {@link RowCodec#decode} does). Thread-safe with one
   * {@code reader} per thread.
   *
   * @throws MappedFile.ClosedException when the Base was closed (its version retired) before the read began
   */
  <T> T read(byte[] key, Bytes.Reader reader, EntryReader<T> entry) {
    mapped.retain();
    try {
      long at = find(key, key.length);
      return at < 0 ? null : entry.read(row(at, reader), reader);
    } finally {
      mapped.release();
    }
  }

  /** The first row in index order as {@code entry} reads it (see {@link #read}), or null when the Base has none. */
  <T> T firstEntry(Bytes.Reader reader, EntryReader<T> entry) {
    mapped.retain();
    try {
      for (long s = 0; s <= slotMask; s++) {
        long pos = positions.getLong((int) (s * 8));
        if (pos != 0) {
          return entry.read(row(pos, reader), reader);
        }
      }
      return null;
    } finally {
      mapped.release();
    }
  }

  /** The position of {@code key}'s entry, or -1. The caller holds a read of the mapping. */
  private long find(byte[] key, int len) {
    int hash = hash(key, 0, len);
    for (long s = hash & slotMask; ; s = (s + 1) & slotMask) {
      long pos = positions.getLong((int) (s * 8));
      if (pos == 0) {
        return -1;
      }
      if (hashes.getInt((int) (s * 4)) == hash && keyEquals(pos, key, len)) {
        return pos;
      }
    }
  }

  private boolean keyEquals(long pos, byte[] key, int len) {
    ByteBuffer r = regions[(int) (pos / REGION)];
    int at = (int) (pos % REGION);
    if (r.getInt(at + 4) != len) {
      return false;
    }
    at += 8;
    for (int i = 0; i < len; i++) {
      if (r.get(at + i) != key[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Points {@code reader} at the row of the entry at {@code pos}; returns the row's last-write
   * millis. The caller holds a read of the mapping.
   */
  private long row(long pos, Bytes.Reader reader) {
    ByteBuffer r = regions[(int) (pos / REGION)];
    int at = (int) (pos % REGION);
    int keyLen = r.getInt(at + 4);
    int p = at + 8 + keyLen;
    long written = r.getLong(p);
    int rowLen = r.getInt(p + 8);
    reader.reset(r, p + 12, p + 12 + rowLen);
    return written;
  }

  /** Slots {@link #copyRows} reads between two runs of its check. */
  static final int CHECK_SLOTS = 1 << 16;
  private static final int CHECK_SLOTS_MASK = CHECK_SLOTS - 1;

  /**
   * Copies to {@code w} every row of this Base whose key falls in partition {@code p} of
   * {@code parts}, is not in {@code skip} (rows a write touched since) and was last written at or
   * after {@code ttlCutoff}; counts the expired ones in {@code counts[1]}. Returns the rows copied.
   * Runs {@code check} every {@value #CHECK_SLOTS} slots (it throws to stop the copy: a repush cancelled).
   *
   * @throws MappedFile.ClosedException when the Base was closed (its version retired) before the copy began
   */
  long copyRows(int p, int parts, java.util.Map<String, ?> skip, long ttlCutoff, Writer w, Bytes entry,
      long[] counts, Runnable check) throws IOException {
    mapped.retain();
    try {
      return copyMappedRows(p, parts, skip, ttlCutoff, w, entry, counts, check);
    } finally {
      mapped.release();
    }
  }

  private long copyMappedRows(int p, int parts, java.util.Map<String, ?> skip, long ttlCutoff, Writer w,
      Bytes entry, long[] counts, Runnable check) throws IOException {
    long copied = 0;
    byte[] key = new byte[64];
    for (long s = 0; s <= slotMask; s++) {
      if ((s & CHECK_SLOTS_MASK) == CHECK_SLOTS_MASK) {
        check.run();
      }
      long pos = positions.getLong((int) (s * 8));
      if (pos == 0) {
        continue;
      }
      ByteBuffer r = regions[(int) (pos / REGION)];
      int at = (int) (pos % REGION);
      int keyLen = r.getInt(at + 4);
      if (key.length < keyLen) {
        key = new byte[keyLen];
      }
      r.get(at + 8, key, 0, keyLen);
      if (dev.braid.log.Partitioner.partition(key, 0, keyLen, parts) != p) {
        continue;
      }
      String k = new String(key, 0, keyLen, java.nio.charset.StandardCharsets.UTF_8);
      if (skip.containsKey(k)) {
        continue;
      }
      long written = r.getLong(at + 8 + keyLen);
      if (written < ttlCutoff) {
        counts[1]++;
        continue;
      }
      int rowLen = r.getInt(at + 16 + keyLen);
      int n = ENTRY_FIXED + keyLen + rowLen;
      entry.clear();
      entry.ensure(n);
      r.get(at, entry.buf, 0, n);
      entry.len = n;
      if (fields != w.fields) { // a Base stored before the table's fields grew: its rows take the new ones as absent
        int rowAt = ENTRY_FIXED + keyLen;
        int widened = RowCodec.widen(entry, rowAt, rowLen, fields, w.fields);
        ByteBuffer.wrap(entry.buf, rowAt - 4, 4).putInt(widened);
      }
      w.append(entry.buf, 0, entry.len);
      copied++;
    }
    return copied;
  }

  long sizeBytes() {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Gives up the owner's hold on the mappings: they are released (unmapped) once the reads in
   * progress have ended, and every later read throws {@link MappedFile.ClosedException}. Idempotent.
   * Why unmap at all: see {@link MappedFile}.
   */
  @Override
  public void close() {
    mapped.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes a Base: entries in any order through {@link #append}, then {@link #finish} builds the
   * index in the file, writes the header, fsyncs and renames the temporary file into place. Memory:
   * 12 bytes per entry (hash and position) until finish, and 12 more while finish orders them; the
   * index itself is built in a mapping of the file, not on the heap. Closing an unfinished writer
   * deletes its temporary file. Not thread-safe: one writer thread.
   */
  static final class Writer implements AutoCloseable {
    private static final int FLUSH = 1 << 20;
    /**
     * Bytes written between background syncs of the file ({@link SyncBehind}). Without them a push
     * of 2 GB left nearly all of it to the final fsync: about 3 s at the end of a 10 M-row push,
     * with nothing else to do.
     */
    private static final long SYNC_BEHIND = 64L << 20;

    private final Path target;
    private final Path tmp;
    private final FileChannel ch;
    private Cut cut;
    private final long pushTime;
    /** The field count of the rows appended (every field of the table). */
    final int fields;
    private final int version;
    private final ByteBuffer out = ByteBuffer.allocateDirect(FLUSH + 64);
    private final CRC32C crc = new CRC32C();
    private long written; // file position of out's start
    private long[] pos = new long[1 << 16];
    private int[] hashes = new int[1 << 16];
    private long count;
    private long rows;
    private boolean finished;
    private final SyncBehind sync;

    /** A writer of rows with every field of {@code layout} (version 2 once its fields grew, else 1). */
    Writer(Path target, Cut cut, long pushTime, TableLayout layout) throws IOException {
      this.fields = layout.size();
      this.version = layout.grown() ? VERSION_COUNTED : VERSION;
      this.target = target;
      this.tmp = target.resolveSibling(target.getFileName() + ".tmp");
      this.cut = cut;
      this.pushTime = pushTime;
      this.ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.READ, StandardOpenOption.WRITE);
      this.sync = new SyncBehind(ch, SYNC_BEHIND, "braid-base-sync");
      written = HEADER + 8L * cut.partitions();
      ByteBuffer c = ByteBuffer.allocate(8 * cut.partitions());
      for (long o : cut.toArray()) {
        c.putLong(o);
      }
      c.flip();
      ch.write(c, HEADER);
    }

    /** Replaces the start cut written by the constructor (a repush knows its cut only after copying rows). */
    void setCut(Cut c) throws IOException {
      if (c.partitions() != cut.partitions()) {
        throw new IllegalArgumentException("cut " + c + " has " + c.partitions() + " partitions, not " + cut.partitions());
      }
      ByteBuffer b = ByteBuffer.allocate(8 * c.partitions());
      for (long o : c.toArray()) {
        b.putLong(o);
      }
      b.flip();
      ch.write(b, HEADER);
      cut = c;
    }

    Path tmpFile() {
      return tmp;
    }

    long entries() {
      return count;
    }

    /** Appends entries laid out as above, back to back in {@code buf[off, off + len)}. */
    void append(byte[] buf, int off, int len) throws IOException {
      int p = off;
      int end = off + len;
      while (p < end) {
        int hash = readInt(buf, p);
        int keyLen = readInt(buf, p + 4);
        int rowLen = readInt(buf, p + 16 + keyLen);
        int n = ENTRY_FIXED + keyLen + rowLen;
        if (n > REGION) {
          throw new IllegalArgumentException("a row of " + n + " bytes exceeds the 1 GiB limit");
        }
        long at = written + out.position();
        if (at / REGION != (at + n - 1) / REGION) {
          pad((int) (REGION - at % REGION));
          at = written + out.position();
        }
        if (out.remaining() < n) {
          flush();
        }
        if (n > out.capacity()) {
          ByteBuffer big = ByteBuffer.wrap(buf, p, n);
          crc.update(ByteBuffer.wrap(buf, p, n));
          while (big.hasRemaining()) {
            written += ch.write(big, written);
          }
        } else {
          out.put(buf, p, n);
        }
        add(hash, at);
        p += n;
      }
    }

    private static int readInt(byte[] b, int p) {
      return (b[p] << 24) | ((b[p + 1] & 0xff) << 16) | ((b[p + 2] & 0xff) << 8) | (b[p + 3] & 0xff);
    }

    private void pad(int n) throws IOException {
      while (n > 0) {
        if (!out.hasRemaining()) {
          flush();
        }
        int k = Math.min(n, out.remaining());
        for (int i = 0; i < k; i++) {
          out.put((byte) 0);
        }
        n -= k;
      }
    }

    private void add(int hash, long at) {
      if (count == pos.length) {
        if (count >= Integer.MAX_VALUE - 16) {
          throw new IllegalStateException("a push holds at most " + (Integer.MAX_VALUE - 16) + " rows");
        }
        int n = (int) Math.min(Integer.MAX_VALUE - 8, count * 2);
        pos = Arrays.copyOf(pos, n);
        hashes = Arrays.copyOf(hashes, n);
      }
      pos[(int) count] = at;
      hashes[(int) count] = hash;
      count++;
    }

    private void flush() throws IOException {
      out.flip();
      crc.update(out.duplicate());
      while (out.hasRemaining()) {
        written += ch.write(out, written);
      }
      out.clear();
      sync.written(written);
    }

    /** Builds the index, writes the header, fsyncs and renames into place; returns the distinct keys. */
    long finish() throws IOException {
      flush();
      pad((int) ((8 - written % 8) % 8));
      flush();
      sync.await(tmp);
      long indexPos = written;
      long slots = Long.highestOneBit(Math.max(16, count + count / 3 + 1) - 1) << 1;
      if (slots * 8 > Integer.MAX_VALUE) {
        throw new IllegalStateException("a push holds at most " + (Integer.MAX_VALUE / 16) + " distinct keys");
      }
      ch.write(ByteBuffer.allocate(1), indexPos + slots * 12 - 1); // size the file
      MappedByteBuffer hs = ch.map(FileChannel.MapMode.READ_WRITE, indexPos, slots * 4);
      MappedByteBuffer ps = ch.map(FileChannel.MapMode.READ_WRITE, indexPos + slots * 4, slots * 8);
      int nRegions = (int) Math.max(1, (indexPos + REGION - 1) / REGION);
      MappedByteBuffer[] regions = new MappedByteBuffer[nRegions];
      for (int r = 0; r < nRegions; r++) {
        regions[r] = ch.map(FileChannel.MapMode.READ_ONLY, r * REGION, Math.min(REGION, indexPos - r * REGION));
      }
      // Released at once, not by the GC: left mapped, a retired Base's deleted file kept its disk
      // space and page cache until a GC collected these buffers (see MappedFile).
      List<ByteBuffer> all = new ArrayList<>(List.of(regions));
      all.add(hs);
      all.add(ps);
      MappedFile mapped = new MappedFile(tmp, all);
      try {
        rows = placeIndex(hs, ps, regions, slots); // drops pos and hashes
        crc.update(hs.duplicate().clear());
        crc.update(ps.duplicate().clear());
        hs.force();
        ps.force();
      } finally {
        mapped.close();
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.BIG_ENDIAN);
      h.put(MAGIC).putInt(version).putInt(cut.partitions()).putLong(rows).putLong(slots).putLong(indexPos)
          .putLong(pushTime).putInt((int) crc.getValue());
      if (version == VERSION_COUNTED) {
        h.putInt(56, fields);
      }
      h.putInt(52, headerCrc(h.array(), version));
      h.clear();
      ch.write(h, 0);
      ch.force(true);
      ch.close();
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      }
      finished = true;
      return rows;
    }

    /**
     * Fills the index (hash and position per slot, linear probing) as inserting the entries one by
     * one in input order would, up to the order of keys within a cluster: each key at the first free
     * slot at or after its home slot {@code hash & (slots - 1)}, a later entry of a key replacing the
     * earlier one. But it places them in order of home slot, so the index is written front to back.
     * Inserting in input order cost two cache misses and often a page fault per entry in an index
     * of 12 bytes per slot (190 MB for 10 M rows): about 2 s of a push, on one thread, while nothing
     * else ran.
     *
     * <p>The order comes from two stable counting sorts by halves of the home slot: entries are
     * scattered into buckets of consecutive home slots (sequential reads, and as many write streams
     * as buckets: 4096 for 10 M rows), then each bucket, a few thousand entries that fit in cache,
     * is ordered by home slot and placed. Entries of one key have one hash, hence one home, and keep
     * their input order within it: duplicates are found among the keys already placed from the same
     * home. Keys that run past the last slot are placed at the end by probing from their home round
     * to the front, as an insert would wrap; every slot from their home to the end is taken by then,
     * so lookups find them.
     *
     * @return the distinct keys
     */
    private long placeIndex(MappedByteBuffer hs, MappedByteBuffer ps, MappedByteBuffer[] regions, long slots) {
      int n = (int) count;
      long mask = slots - 1;
      int slotBits = Long.numberOfTrailingZeros(slots);
      int shift = slotBits / 2; // home = bucket << shift | offset in the bucket
      int low = (1 << shift) - 1;
      int buckets = (int) (slots >>> shift);
      int[] start = new int[buckets + 1];
      for (int i = 0; i < n; i++) {
        start[(int) ((hashes[i] & mask) >>> shift) + 1]++;
      }
      int largest = 0;
      for (int b = 0; b < buckets; b++) {
        largest = Math.max(largest, start[b + 1]);
        start[b + 1] += start[b];
      }
      int[] hash = new int[n];
      long[] at = new long[n];
      int[] fill = Arrays.copyOf(start, buckets);
      for (int i = 0; i < n; i++) {
        int k = fill[(int) ((hashes[i] & mask) >>> shift)]++;
        hash[k] = hashes[i];
        at[k] = pos[i];
      }
      pos = null;
      hashes = null;
      int[] order = new int[largest];
      int[] offsets = new int[low + 2];
      long distinct = 0;
      long next = 0; // the first slot the front-to-back pass has not filled
      // The distinct keys of the current home so far: their entries, and their slots (or, for a key
      // past the last slot, -1 - its index in the overflow list).
      int[] homeEntry = new int[8];
      long[] homeSlot = new long[8];
      int homeKeys = 0;
      int[] overflow = new int[8];
      int overflowed = 0;
      for (int b = 0; b < buckets; b++) {
        int from = start[b];
        int m = start[b + 1] - from;
        Arrays.fill(offsets, 0); // a counting sort by offset in the bucket, stable
        for (int j = from; j < from + m; j++) {
          offsets[(hash[j] & low) + 1]++;
        }
        for (int o = 0; o <= low; o++) {
          offsets[o + 1] += offsets[o];
        }
        for (int j = from; j < from + m; j++) {
          order[offsets[hash[j] & low]++] = j;
        }
        long home = -1;
        for (int j = 0; j < m; j++) {
          int i = order[j];
          long h = hash[i] & mask;
          if (h != home) {
            home = h;
            homeKeys = 0;
          }
          int same = -1;
          for (int q = 0; q < homeKeys && same < 0; q++) {
            int e = homeEntry[q];
            if (hash[e] == hash[i] && sameKey(regions, at[e], at[i])) {
              same = q;
            }
          }
          if (same >= 0) { // a later line of a key already placed: it wins
            long s = homeSlot[same];
            if (s >= 0) {
              ps.putLong((int) (s * 8), at[i]);
            } else {
              overflow[(int) (-1 - s)] = i;
            }
            homeEntry[same] = i;
            continue;
          }
          long s = Math.max(h, next);
          if (s < slots) {
            hs.putInt((int) (s * 4), hash[i]);
            ps.putLong((int) (s * 8), at[i]);
            next = s + 1;
          } else {
            if (overflowed == overflow.length) {
              overflow = Arrays.copyOf(overflow, overflowed * 2);
            }
            overflow[overflowed] = i;
            s = -1 - overflowed++;
          }
          if (homeKeys == homeEntry.length) {
            homeEntry = Arrays.copyOf(homeEntry, homeKeys * 2);
            homeSlot = Arrays.copyOf(homeSlot, homeKeys * 2);
          }
          homeEntry[homeKeys] = i;
          homeSlot[homeKeys++] = s;
          distinct++;
        }
      }
      for (int k = 0; k < overflowed; k++) {
        int i = overflow[k];
        long s = hash[i] & mask;
        while (ps.getLong((int) (s * 8)) != 0) {
          s = (s + 1) & mask;
        }
        hs.putInt((int) (s * 4), hash[i]);
        ps.putLong((int) (s * 8), at[i]);
      }
      return distinct;
    }

    private static boolean sameKey(MappedByteBuffer[] regions, long a, long b) {
      ByteBuffer ra = regions[(int) (a / REGION)];
      ByteBuffer rb = regions[(int) (b / REGION)];
      int pa = (int) (a % REGION);
      int pb = (int) (b % REGION);
      int len = ra.getInt(pa + 4);
      if (rb.getInt(pb + 4) != len) {
        return false;
      }
      return ra.slice(pa + 8, len).equals(rb.slice(pb + 8, len));
    }

    @Override
    public void close() throws IOException {
      if (!finished) {
        try {
          sync.await(tmp);
        } catch (IOException e) {
          // the file is deleted below: a failed sync of it no longer matters
        }
        ch.close();
        Files.deleteIfExists(tmp);
      }
    }
  }
}
