package dev.braid.view;

import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import java.io.BufferedOutputStream;
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
 * path instead of serving wrong answers. Files are limited to 2 GiB (one mapping).
 */
final class BaseFile implements AutoCloseable {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'B', 'A', 'S'};
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

  private BaseFile(Path file, Cut cut, long keyCount, long groupCount, MappedByteBuffer map, int tablePosition,
      int slots) {
    this.file = file;
    this.cut = cut;
    this.keyCount = keyCount;
    this.groupCount = groupCount;
    this.map = map;
    this.tablePosition = tablePosition;
    this.slotMask = slots - 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes the groups of {@code tables} (whose keys must be disjoint: each key in one table only)
   * to {@code target} atomically: a temporary file, fsync, rename, directory fsync.
   */
  static void write(Path target, ViewProgram program, Cut cut, GroupTable[] tables) throws IOException {
    long keys = 0;
    for (GroupTable t : tables) {
      keys += t.keyCount();
    }
    int slots = Integer.highestOneBit((int) Math.max(16, Math.min(1L << 29, keys * 2)) - 1) << 1;
    int[] slotHash = new int[slots];
    int[] slotPos = new int[slots];
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    CRC32C bodyCrc = new CRC32C();
    long groups = 0;
    try (CountingOutput counting = new CountingOutput(Files.newOutputStream(tmp), bodyCrc);
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(counting, 1 << 16))) {
      out.write(new byte[HEADER_LENGTH]);
      out.flush();
      counting.crcFrom = HEADER_LENGTH;
      for (int p = 0; p < cut.partitions(); p++) {
        out.writeLong(cut.offset(p));
      }
      ViewProgram.Scratch x = program.scratch();
      for (GroupTable t : tables) {
        for (int k = 0; k < t.keyCount(); k++) {
          out.flush();
          long pos = counting.count;
          if (pos > Integer.MAX_VALUE - 1024) {
            throw new IOException("base would exceed 2 GiB; this version of Braid keeps a Base in one mapped file");
          }
          int hash = t.keyHash(k);
          int slot = hash & (slots - 1);
          while (slotPos[slot] != 0) {
            slot = (slot + 1) & (slots - 1);
          }
          slotHash[slot] = hash;
          slotPos[slot] = (int) pos;
          int len = t.keyLength(k);
          out.writeInt(len);
          out.write(t.keyBytes(), t.keyOffset(k), len);
          int windows = 0;
          for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
            windows++;
          }
          out.writeInt(windows);
          for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
            out.writeLong(t.window(g));
            StateBytes sb = x.stateBytes();
            sb.reset();
            program.writeRow(sb.data, t.longs, g * t.longWidth, t.objects, g * t.objectWidth, x);
            out.writeInt(sb.size());
            sb.copyTo(out);
            groups++;
          }
        }
      }
      out.flush();
      long tablePos = counting.count;
      if (tablePos + (long) slots * 8 > Integer.MAX_VALUE) {
        throw new IOException("base would exceed 2 GiB; this version of Braid keeps a Base in one mapped file");
      }
      for (int s = 0; s < slots; s++) {
        out.writeInt(slotHash[s]);
        out.writeInt(slotPos[s]);
      }
      out.flush();
      ByteBuffer h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
      h.put(MAGIC).putInt(VERSION).putInt(cut.partitions()).putLong(keys).putLong(groups).putLong(tablePos)
          .putInt(slots).putInt(program.spec.definition().hashCode()).putInt((int) bodyCrc.getValue());
      CRC32C hc = new CRC32C();
      hc.update(h.array(), 0, HEADER_CRC_OFFSET);
      h.putInt((int) hc.getValue()).putInt(0);
      h.flip();
      out.flush();
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        while (h.hasRemaining()) {
          ch.write(h, h.position());
        }
        ch.force(true);
      }
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
  }

  /** Counts bytes written and feeds those past {@code crcFrom} to a CRC. */
  private static final class CountingOutput extends OutputStream {
    private final OutputStream out;
    private final CRC32C crc;
    long count;
    long crcFrom = Long.MAX_VALUE;

    CountingOutput(OutputStream out, CRC32C crc) {
      this.out = out;
      this.crc = crc;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      if (count >= crcFrom) {
        crc.update(b);
      }
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      if (count >= crcFrom) {
        crc.update(b, off, len);
      }
      count += len;
    }

    @Override
    public void close() throws IOException {
      out.close();
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
  static BaseFile open(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < HEADER_LENGTH) {
        throw new CorruptLogException(file, 0, "base file is shorter than its header");
      }
      if (size > Integer.MAX_VALUE) {
        throw new CorruptLogException(file, 0, "base file is larger than 2 GiB");
      }
      MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
      map.order(ByteOrder.BIG_ENDIAN);
      byte[] magic = new byte[8];
      map.get(0, magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new CorruptLogException(file, 0, "not a Braid base file (bad magic)");
      }
      CRC32C hc = new CRC32C();
      ByteBuffer hb = map.duplicate();
      hb.position(0).limit(HEADER_CRC_OFFSET);
      hc.update(hb);
      if ((int) hc.getValue() != map.getInt(HEADER_CRC_OFFSET)) {
        throw new CorruptLogException(file, 0, "base header fails its CRC");
      }
      if (map.getInt(8) != VERSION) {
        throw new CorruptLogException(file, 8, "unsupported base format version " + map.getInt(8));
      }
      CRC32C bc = new CRC32C();
      ByteBuffer body = map.duplicate();
      body.position(HEADER_LENGTH).limit((int) size);
      bc.update(body);
      if ((int) bc.getValue() != map.getInt(48)) {
        throw new CorruptLogException(file, HEADER_LENGTH, "base body fails its CRC; rebuild it from the log with a "
            + "batch cycle");
      }
      int partitions = map.getInt(12);
      long[] offsets = new long[partitions];
      for (int p = 0; p < partitions; p++) {
        offsets[p] = map.getLong(HEADER_LENGTH + p * 8);
      }
      long tablePos = map.getLong(32);
      int slots = map.getInt(40);
      if (Integer.bitCount(slots) != 1 || tablePos + (long) slots * 8 != size) {
        throw new CorruptLogException(file, 32, "base index does not fit the file");
      }
      return new BaseFile(file, Cut.of(offsets), map.getLong(16), map.getLong(24), map, (int) tablePos, slots);
    }
  }

  /** Receives the windows of one key found in the Base. */
  interface WindowVisitor {
    void visit(long window, ByteBuffer buffer, int stateOffset, int stateLength) throws IOException;
  }

  /** Visits every window of {@code key}; returns false when the key is not in the Base. */
  boolean lookup(byte[] key, int len, WindowVisitor visitor) throws IOException {
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

  private static boolean keyEquals(ByteBuffer m, int pos, byte[] key, int len) {
    if (m.getInt(pos) != len) {
      return false;
    }
    int base = pos + 4;
    for (int i = 0; i < len; i++) {
      if (m.get(base + i) != key[i]) {
        return false;
      }
    }
    return true;
  }

  long sizeBytes() {
    return map.capacity();
  }

  @Override
  public void close() {
    // A mapped buffer is unmapped by the GC; nothing else to release.
  }
}
