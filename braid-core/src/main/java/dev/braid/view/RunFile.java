package dev.braid.view;

import dev.braid.log.CorruptLogException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * A sorted run on disk (layout in {@link RunFileDescriptor}): what the batch layer writes when a
 * partition's {@link GroupTable} outgrows its share of the memory budget, and what
 * {@link RunMerger} merges into the Base.
 *
 * @param path where the run is
 * @param keys records (distinct keys) in the run
 * @param groups windows over all records
 * @param bytes the file's length
 */
record RunFile(Path path, long keys, long groups, long bytes) {

  /**
   * Writes every group of {@code table} to a new run at {@code path}, sorted as the descriptor
   * requires; the table is left unchanged. {@code sorter} is scratch reused across calls by one
   * thread.
   */
  static RunFile write(Path path, GroupTable table, ViewProgram program, Sorter sorter) throws IOException {
    try (Writer w = new Writer(path, program, sorter.buffer)) {
      writeSorted(table, sorter, w);
      return w.finish();
    }
  }

  /**
   * Gives every group of {@code table} to {@code sink} in run order: keys as
   * {@link RunFileDescriptor#compareKeys} orders them, each key's windows ascending.
   */
  static void writeSorted(GroupTable table, Sorter sorter, GroupSink sink) throws IOException {
    int n = table.keyCount();
    long[] order = sorter.sortKeys(table);
    for (int i = 0; i < n; i++) {
      int k = (int) order[i];
      int windows = sorter.sortWindows(table, k);
      if (windows == 0) {
        continue;
      }
      sink.beginKey(table.keyBytes(), table.keyOffset(k), table.keyLength(k), table.keyHash(k));
      for (int j = 0; j < windows; j++) {
        int g = sorter.groups[j];
        sink.window(sorter.windows[j], table.longs, g * table.stride, table.objects, g * table.objectWidth);
      }
      sink.endKey();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sorting a table
  // ---------------------------------------------------------------------------------------------

  /** Reusable scratch that orders a table's keys and one key's windows without boxing. */
  static final class Sorter {
    /** The run writer's buffer, reused by every run this scratch writes. */
    final DataBuffer buffer = new DataBuffer(Writer.FLUSH_BYTES + (4 << 10));
    private long[] order = new long[0];
    long[] windows = new long[16];
    int[] groups = new int[16];
    private long[] sortedWindows = new long[16];
    private int[] sortedGroups = new int[16];

    /** Bytes of the sort arrays (they grow to the largest table sorted), not counting {@link #buffer}. */
    long sortBytes() {
      return (long) order.length * 8 + (long) windows.length * 24;
    }

    /**
     * The table's key ids in run order, in the low 32 bits of the first {@code keyCount} longs
     * (the high 32 bits hold the key's hash).
     */
    long[] sortKeys(GroupTable t) {
      int n = t.keyCount();
      if (order.length < n) {
        order = new long[Math.max(n, order.length + (order.length >> 1))];
      }
      for (int k = 0; k < n; k++) {
        order[k] = ((long) t.keyHash(k) << 32) | k; // signed hash in the high word, so a long sort orders by it
      }
      Arrays.sort(order, 0, n);
      for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && (order[j] >> 32) == (order[i] >> 32)) {
          j++;
        }
        if (j - i > 1) {
          sortCollidingKeys(t, i, j); // rare: distinct keys with one 32-bit hash
        }
        i = j;
      }
      return order;
    }

    private void sortCollidingKeys(GroupTable t, int from, int to) {
      byte[] kb = t.keyBytes();
      for (int i = from + 1; i < to; i++) {
        long v = order[i];
        int k = (int) v;
        int j = i - 1;
        while (j >= from) {
          int o = (int) order[j];
          if (Arrays.compareUnsigned(kb, t.keyOffset(o), t.keyOffset(o) + t.keyLength(o), kb, t.keyOffset(k),
              t.keyOffset(k) + t.keyLength(k)) <= 0) {
            break;
          }
          order[j + 1] = order[j];
          j--;
        }
        order[j + 1] = v;
      }
    }

    /**
     * Puts the windows of key {@code k} in ascending order into {@link #windows}, their groups into
     * {@link #groups}; returns how many there are.
     */
    int sortWindows(GroupTable t, int k) {
      int n = 0;
      for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
        if (n == windows.length) {
          windows = Arrays.copyOf(windows, n * 2);
          groups = Arrays.copyOf(groups, n * 2);
          sortedWindows = new long[n * 2];
          sortedGroups = new int[n * 2];
        }
        windows[n] = t.window(g);
        groups[n] = g;
        n++;
      }
      if (n < 2) {
        return n;
      }
      boolean ascending = true;
      boolean descending = true;
      for (int i = 1; i < n; i++) {
        ascending &= windows[i - 1] < windows[i];
        descending &= windows[i - 1] > windows[i];
      }
      if (ascending) {
        return n;
      }
      if (descending) { // the table puts new windows first, so in-order events give this
        for (int i = 0, j = n - 1; i < j; i++, j--) {
          long w = windows[i];
          windows[i] = windows[j];
          windows[j] = w;
          int g = groups[i];
          groups[i] = groups[j];
          groups[j] = g;
        }
        return n;
      }
      System.arraycopy(windows, 0, sortedWindows, 0, n);
      Arrays.sort(sortedWindows, 0, n);
      for (int i = 0; i < n; i++) { // windows of one key are distinct, so each has one place
        sortedGroups[Arrays.binarySearch(sortedWindows, 0, n, windows[i])] = groups[i];
      }
      System.arraycopy(sortedWindows, 0, windows, 0, n);
      System.arraycopy(sortedGroups, 0, groups, 0, n);
      return n;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------------

  /**
   * Streams records into a new run; the caller gives keys in run order. The file is not fsynced (a
   * run does not outlive its batch cycle). Closing a writer that has not finished deletes the file.
   * Not thread-safe.
   */
  static final class Writer implements GroupSink, AutoCloseable {

    static final int FLUSH_BYTES = 64 << 10;

    private final Path path;
    private final ViewProgram program;
    private final ViewProgram.Scratch x;
    private final FileChannel channel;
    private final DataBuffer buf;
    private final CRC32C crc = new CRC32C();
    private long written;
    private long keys;
    private long groups;
    private int windowCountAt = -1;
    private int windows;
    private boolean done;

    /** A writer with its own buffer. */
    Writer(Path path, ViewProgram program) throws IOException {
      this(path, program, new DataBuffer(FLUSH_BYTES + (4 << 10)));
    }

    /** A writer that borrows {@code buffer} (whose content it discards) until it is closed. */
    Writer(Path path, ViewProgram program, DataBuffer buffer) throws IOException {
      this.path = path;
      this.program = program;
      this.x = program.scratch();
      this.buf = buffer;
      buf.reset();
      this.channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      buf.write(RunFileDescriptor.MAGIC);
      buf.writeInt(RunFileDescriptor.VERSION);
      buf.writeInt(program.spec.definition().hashCode());
    }

    @Override
    public void beginKey(byte[] key, int off, int len, int hash) {
      if (windowCountAt >= 0) {
        throw new IllegalStateException("beginKey inside a key: call endKey first");
      }
      if (done) {
        throw new IllegalStateException("the run writer for " + path + " is closed");
      }
      buf.writeInt(len);
      buf.writeInt(hash);
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
    public void endKey() throws IOException {
      requireKey();
      buf.setInt(windowCountAt, windows);
      windowCountAt = -1;
      keys++;
      groups += windows;
      if (buf.size() >= FLUSH_BYTES) {
        flush(true);
      }
    }

    private void requireKey() {
      if (windowCountAt < 0) {
        throw new IllegalStateException("a window outside a key: call beginKey first");
      }
    }

    private void flush(boolean checksum) throws IOException {
      if (checksum) {
        crc.update(buf.array(), 0, buf.size());
      }
      ByteBuffer b = ByteBuffer.wrap(buf.array(), 0, buf.size());
      while (b.hasRemaining()) {
        channel.write(b);
      }
      written += buf.size();
      buf.reset();
    }

    /** Writes the trailer and closes the file. */
    RunFile finish() throws IOException {
      if (windowCountAt >= 0) {
        throw new IllegalStateException("finish inside a key: call endKey first");
      }
      buf.writeInt(RunFileDescriptor.END_OF_RECORDS);
      buf.writeLong(keys);
      buf.writeLong(groups);
      flush(true);
      buf.writeInt((int) crc.getValue());
      flush(false);
      channel.close();
      done = true;
      return new RunFile(path, keys, groups, written);
    }

    @Override
    public void close() throws IOException {
      if (!done) {
        done = true;
        try {
          channel.close();
        } finally {
          Files.deleteIfExists(path);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading
  // ---------------------------------------------------------------------------------------------

  /**
   * Reads a run record by record: {@link #nextKey} positions at the next key, {@link #nextWindow}
   * at the next window of that key. The current key, window and state stay valid until the next
   * call that moves. Checks the header, that keys strictly ascend, and at the end the counts and
   * the CRC. Not thread-safe.
   */
  static final class Reader extends GroupCursor {

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private final RunFile run;
    private final FileChannel channel;
    private final byte[] buf;
    private int pos;
    private int limit;
    private long bufferStart; // file position of buf[0]
    private final CRC32C crc = new CRC32C();
    private int crcFrom; // bytes of buf before this are in crc

    private int windowsLeft;
    private long keysRead;
    private long groupsRead;
    private boolean ended;

    Reader(RunFile run, int bufferBytes, int definitionHash) throws IOException {
      this.run = run;
      this.buf = new byte[Math.max(4096, bufferBytes)];
      this.channel = FileChannel.open(run.path(), StandardOpenOption.READ);
      try {
        need(RunFileDescriptor.HEADER_LENGTH);
        if (!Arrays.equals(buf, 0, 8, RunFileDescriptor.MAGIC, 0, 8)) {
          throw corrupt("not a Braid run file (bad magic)");
        }
        if ((int) INT.get(buf, RunFileDescriptor.VERSION_OFFSET) != RunFileDescriptor.VERSION) {
          throw corrupt("unsupported run format version " + (int) INT.get(buf, RunFileDescriptor.VERSION_OFFSET));
        }
        if ((int) INT.get(buf, RunFileDescriptor.DEFINITION_HASH_OFFSET) != definitionHash) {
          throw new IllegalStateException("run " + run.path() + " was written for another view definition");
        }
        pos = RunFileDescriptor.HEADER_LENGTH;
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }

    RunFile run() {
      return run;
    }

    /** Moves to the next key (skipping windows not read); false at the end of the run. */
    @Override
    boolean nextKey() throws IOException {
      if (ended) {
        return false;
      }
      while (windowsLeft > 0) {
        nextWindow();
      }
      need(4);
      int len = (int) INT.get(buf, pos);
      pos += 4;
      if (len == RunFileDescriptor.END_OF_RECORDS) {
        readTrailer();
        return false;
      }
      if (len < 0) {
        throw corrupt("negative key length " + len);
      }
      startKey(len);
      need(4);
      hash = (int) INT.get(buf, pos);
      pos += 4;
      read(key, len);
      keyLength = len;
      need(4);
      windowsLeft = (int) INT.get(buf, pos);
      pos += 4;
      if (windowsLeft < 0) {
        throw corrupt("negative window count " + windowsLeft);
      }
      if (!inKeyOrder()) {
        throw new IllegalStateException("run " + run.path() + " is not in key order at key " + keysRead);
      }
      keysRead++;
      return true;
    }

    /** Moves to the next window of the current key; false when the key has no more. */
    @Override
    boolean nextWindow() throws IOException {
      if (windowsLeft == 0) {
        return false;
      }
      need(RunFileDescriptor.WINDOW_HEADER_LENGTH);
      window = (long) LONG.get(buf, pos);
      int len = (int) INT.get(buf, pos + 8);
      pos += RunFileDescriptor.WINDOW_HEADER_LENGTH;
      if (len < 0) {
        throw corrupt("negative state length " + len);
      }
      reserveState(len);
      read(state, len);
      stateLength = len;
      windowsLeft--;
      groupsRead++;
      return true;
    }

    private void readTrailer() throws IOException {
      need(RunFileDescriptor.TRAILER_LENGTH - 4);
      long keys = (long) LONG.get(buf, pos);
      long groups = (long) LONG.get(buf, pos + 8);
      pos += 16;
      crc.update(buf, crcFrom, pos - crcFrom);
      crcFrom = pos;
      need(4);
      int expected = (int) INT.get(buf, pos);
      pos += 4;
      if (expected != (int) crc.getValue()) {
        throw corrupt("run fails its CRC");
      }
      if (keys != keysRead || groups != groupsRead) {
        throw corrupt(String.format("run trailer says %d keys and %d groups, read %d and %d", keys, groups,
            keysRead, groupsRead));
      }
      ended = true;
    }

    /** Makes at least {@code n} (at most the buffer's size) bytes available at {@code pos}. */
    private void need(int n) throws IOException {
      if (limit - pos >= n) {
        return;
      }
      crc.update(buf, crcFrom, pos - crcFrom);
      int left = limit - pos;
      System.arraycopy(buf, pos, buf, 0, left);
      bufferStart += pos;
      pos = 0;
      limit = left;
      crcFrom = 0;
      ByteBuffer b = ByteBuffer.wrap(buf);
      while (limit < n) {
        b.limit(buf.length).position(limit);
        int r = channel.read(b);
        if (r < 0) {
          throw corrupt("run ends early");
        }
        limit += r;
      }
    }

    private void read(byte[] into, int len) throws IOException {
      int done = 0;
      while (done < len) {
        if (pos == limit) {
          need(1);
        }
        int k = Math.min(len - done, limit - pos);
        System.arraycopy(buf, pos, into, done, k);
        pos += k;
        done += k;
      }
    }

    private CorruptLogException corrupt(String what) {
      return new CorruptLogException("sorted run", run.path(), bufferStart + pos, what);
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
