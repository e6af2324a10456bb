package dev.braid.view;

import dev.braid.log.Cut;
import dev.braid.log.LogStream;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;

/**
 * A checkpoint of a version's Delta: every partition's accumulators together with the position
 * they cover, so that a restart loads it and replays the log only from those positions instead of
 * from the version's cut. State restored this way is exactly-once: a partition's groups and its
 * position are copied under that partition's lock in one critical section, so each event of
 * {@code [cut, position)} is in the copy exactly once and the replay starts right after it.
 *
 * <h2>File</h2>
 * {@code v<version>-<sequence>.ckpt} in the view's directory, written to {@code ... .ckpt.tmp},
 * fsynced, renamed into place and the directory fsynced: a crash leaves either the old set of
 * checkpoints or the new one, plus at most a temporary file that the next start deletes. All
 * integers are big-endian.
 *
 * <pre>
 *   +----------+--------+------------+-----------+--------------+-----------+------------------+
 *   | BRAIDCKP | fmt 4  | version id | created   | window       | parts     | definition       |
 *   | 8 bytes  | int    | long       | at (long) | horizon long | int       | int len + UTF-8  |
 *   +----------+--------+------------+-----------+--------------+-----------+------------------+
 *   closed-window runs (format 3 and later), per partition:
 *                   int run count | (int name length | UTF-8 name) x count
 *   per partition:  long position | long folded events | long max event time | long max event
 *                   time before the cut | long skipped events | long events without a key (both
 *                   format 4, -1 when not known) | int key count | entries
 *   entry, per key: int key length | key | int window count |
 *                   (long window start | int state length | state bytes) x window count
 *   trailer:        int CRC32C of every byte before it
 * </pre>
 *
 * The runs are the partition's {@link ClosedRun}s, named, not copied: they are immutable files in
 * the view's directory, and the engine deletes a run only once neither the current Delta nor any
 * checkpoint on disk names it. Loading a checkpoint opens and verifies its runs; a missing or
 * damaged run refuses the checkpoint like any other damage.
 *
 * <p>A checkpoint is used only when it is whole (the CRC matches and the file ends right after the
 * trailer), belongs to the same version and definition, has one position per partition, and each
 * position lies between the version's cut and the log's end (a log that lost its unsynced tail in a
 * power loss under {@code os} durability can end before a checkpoint taken earlier; that checkpoint
 * would count events the log no longer has, so it is refused). A refused checkpoint is reported
 * with its path and reason and deleted, and the next older one is tried; with none left the Delta is rebuilt
 * from the cut. The two newest checkpoints of a version are kept so that one damaged file still
 * leaves a recent one.
 *
 * <h2>Cost</h2>
 * A partition whose rows are plain longs ({@code count}, {@code sum}, {@code min}, {@code max},
 * ...) is copied under its read lock ({@link GroupTable#snapshot}: the used parts of a few arrays)
 * and serialized after the lock is released, so its speed-layer thread waits only for a few array
 * copies; a partition with object state (sketches, strings) is serialized under the lock, which
 * pauses its thread for as long. fsync and rename happen after the locks are released.
 */
final class DeltaCheckpoint {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'C', 'K', 'P'};
  /**
   * 4 added each partition's counts of skipped events and events without a key; 3 added each
   * partition's closed-window runs; 2 added each partition's largest event times (its watermark for
   * lateness decisions); a format 1 checkpoint is refused and the Delta rebuilt from the cut, which
   * recomputes them.
   */
  static final int FORMAT = 4;
  /**
   * Format 3 had no counts; it is still read, and the counts of a Delta loaded from it start at the
   * checkpoint ({@link PartitionDelta#countsKnown} false).
   */
  static final int FORMAT_WITHOUT_COUNTS = 3;
  /** Format 2 had no closed-window runs; it is still read (as a Delta without runs). */
  static final int FORMAT_WITHOUT_RUNS = 2;
  /** Checkpoints of one version kept on disk. */
  static final int KEEP = 2;
  private static final Pattern NAME = Pattern.compile("v(\\d+)-(\\d{12})\\.ckpt");
  private static final int FLUSH_BYTES = 256 << 10;

  /** A checkpoint on disk, named by its version and sequence. */
  record FileRef(Path path, long version, long sequence) {}

  /** A checkpoint that was written: where, the positions it covers, when, and its size. */
  record Written(Path path, long sequence, Cut position, long createdAtMillis, long bytes, long groups) {}

  /** A checkpoint loaded into a fresh Delta. */
  record Loaded(FileRef file, Delta delta, Cut position, long horizon, long createdAtMillis) {}

  /** A checkpoint that could not be used, and why. */
  record Refused(Path path, String reason) {}

  private DeltaCheckpoint() {}

  static String fileName(long version, long sequence) {
    return String.format("v%d-%012d.ckpt", version, sequence);
  }

  /** Whether {@code name} is a checkpoint file (not a temporary one). */
  static boolean isCheckpoint(String name) {
    return NAME.matcher(name).matches();
  }

  /** The checkpoints in {@code dir}, newest first (by version, then sequence). */
  static List<FileRef> list(Path dir) throws IOException {
    List<FileRef> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        if (m.matches()) {
          out.add(new FileRef(f, Long.parseLong(m.group(1)), Long.parseLong(m.group(2))));
        }
      }
    }
    out.sort(Comparator.comparingLong(FileRef::version).thenComparingLong(FileRef::sequence).reversed());
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes a checkpoint of {@code delta}, the Delta of version {@code version} with definition
   * {@code definition}, as {@code dir/v<version>-<sequence>.ckpt}. Safe to call while the speed
   * layer folds into the Delta. Throws on an I/O error after deleting the temporary file. Returns null,
   * writing nothing, when {@code consistent} (asked once every partition's state is copied, before the
   * file is renamed into place) says the copy may not match its positions.
   */
  static Written write(Path dir, long version, long sequence, String definition, long horizon, ViewProgram program,
      Delta delta, java.util.function.BooleanSupplier consistent) throws IOException {
    Files.createDirectories(dir);
    Path target = dir.resolve(fileName(version, sequence));
    Path tmp = dir.resolve(target.getFileName() + ".tmp");
    long created = System.currentTimeMillis();
    long[] positions = new long[delta.partitions.length];
    long groups = 0;
    boolean done = false;
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      Sink out = new Sink(ch);
      DataBuffer b = out.buf;
      b.write(MAGIC);
      b.writeInt(FORMAT);
      b.writeLong(version);
      b.writeLong(created);
      b.writeLong(horizon);
      b.writeInt(delta.partitions.length);
      byte[] def = definition.getBytes(StandardCharsets.UTF_8);
      b.writeInt(def.length);
      b.write(def);
      for (PartitionDelta pd : delta.partitions) { // immutable per PartitionDelta: no lock needed
        b.writeInt(pd.runs.length);
        for (ClosedRun r : pd.runs) {
          byte[] n = r.name.getBytes(StandardCharsets.UTF_8);
          b.writeInt(n.length);
          b.write(n);
        }
      }
      ViewProgram.Scratch x = program.scratch();
      for (PartitionDelta pd : delta.partitions) {
        long stamp = pd.readLockBeforeWriter(); // a replay's Delta: its writer lets it in between batches
        boolean locked = true;
        try {
          GroupTable t = pd.table;
          positions[pd.partition] = pd.writerPosition();
          b.writeLong(pd.writerPosition());
          b.writeLong(pd.foldedUnlocked());
          b.writeLong(pd.maxEventTime);
          b.writeLong(pd.cutMaxEventTime);
          b.writeLong(pd.countsKnown ? pd.skipped : -1);
          b.writeLong(pd.countsKnown ? pd.withoutKey : -1);
          if (t.canSnapshot()) {
            t = t.snapshot(); // and serialize it without holding the writer off
            pd.lock.unlockRead(stamp);
            locked = false;
          }
          b.writeInt(t.keyCount());
          for (int k = 0; k < t.keyCount(); k++) {
            b.writeInt(t.keyLength(k));
            b.write(t.keyBytes(), t.keyOffset(k), t.keyLength(k));
            int countAt = b.size();
            b.writeInt(0);
            int windows = 0;
            for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
              b.writeWindow(t.window(g), program, t.longs, g * t.stride, t.objects, g * t.objectWidth, x);
              windows++;
            }
            b.setInt(countAt, windows);
            groups += windows;
            out.maybeFlush();
          }
        } finally {
          if (locked) {
            pd.lock.unlockRead(stamp);
          }
        }
      }
      out.flush();
      ByteBuffer trailer = ByteBuffer.allocate(4).putInt((int) out.crc.getValue()).flip();
      while (trailer.hasRemaining()) {
        ch.write(trailer);
      }
      ch.force(true);
      done = true;
    } finally {
      if (!done) {
        Files.deleteIfExists(tmp);
      }
    }
    long bytes = Files.size(tmp);
    if (!consistent.getAsBoolean()) { // asked after the copy: the state copied may not match its position
      Files.deleteIfExists(tmp);
      return null;
    }
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
    return new Written(target, sequence, Cut.of(positions), created, bytes, groups);
  }

  /** A buffer that goes to the channel in slices, keeping the CRC of everything written. */
  private static final class Sink {
    final FileChannel channel;
    final DataBuffer buf = new DataBuffer(64 << 10);
    final CRC32C crc = new CRC32C();

    Sink(FileChannel channel) {
      this.channel = channel;
    }

    void maybeFlush() throws IOException {
      if (buf.size() >= FLUSH_BYTES) {
        flush();
      }
    }

    void flush() throws IOException {
      crc.update(buf.array(), 0, buf.size());
      ByteBuffer bb = ByteBuffer.wrap(buf.array(), 0, buf.size());
      while (bb.hasRemaining()) {
        channel.write(bb);
      }
      buf.reset();
    }
  }

  /**
   * Deletes the checkpoints in {@code dir} except the {@link #KEEP} newest of each version in
   * {@code keepVersions} (the current version's, and a reprocess's that follows the log).
   */
  static void prune(Path dir, java.util.Set<Long> keepVersions) throws IOException {
    java.util.Map<Long, Integer> kept = new java.util.HashMap<>();
    for (FileRef f : list(dir)) {
      int n = kept.getOrDefault(f.version(), 0);
      if (keepVersions.contains(f.version()) && n < KEEP) {
        kept.put(f.version(), n + 1);
      } else {
        Files.deleteIfExists(f.path());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Loading
  // ---------------------------------------------------------------------------------------------

  /**
   * Loads the newest usable checkpoint of version {@code version} in {@code dir} into a new Delta,
   * or returns null when there is none; every checkpoint tried and refused is added to
   * {@code refused} (and should be reported by the caller).
   */
  static Loaded loadNewest(Path dir, long version, String definition, Cut cut, LogStream stream, ViewProgram program,
      List<Refused> refused) throws IOException {
    for (FileRef f : list(dir)) {
      if (f.version() != version) {
        continue;
      }
      try {
        return load(f, version, definition, cut, stream, program);
      } catch (InvalidCheckpointException e) {
        refused.add(new Refused(f.path(), e.getMessage()));
      }
    }
    return null;
  }

  private static List<List<String>> readRunNames(DataInputStream in, int partitions, long size)
      throws IOException, InvalidCheckpointException {
    List<List<String>> out = new ArrayList<>(partitions);
    for (int p = 0; p < partitions; p++) {
      int n = in.readInt();
      if (n < 0 || n > size / 5) { // a name takes at least 5 bytes
        throw new InvalidCheckpointException("partition " + p + " has an impossible run count " + n);
      }
      List<String> names = new ArrayList<>(Math.min(n, 1024)); // not sized by a count the CRC has not checked yet
      for (int i = 0; i < n; i++) {
        int len = in.readInt();
        if (len <= 0 || len > 1024) {
          throw new InvalidCheckpointException("a run name of partition " + p + " has an impossible length " + len);
        }
        byte[] b = new byte[len];
        in.readFully(b);
        String name = new String(b, StandardCharsets.UTF_8);
        if (!ClosedRun.isRun(name)) {
          throw new InvalidCheckpointException("partition " + p + " names '" + name + "', which is not a run file");
        }
        names.add(name);
      }
      out.add(names);
    }
    return out;
  }

  /**
   * The closed-window runs that checkpoint {@code file} names, read from its header without checking
   * the whole file (a damaged checkpoint may name fewer or none; it will be refused when loaded).
   */
  static java.util.Set<String> runNames(Path file) {
    java.util.Set<String> out = new java.util.HashSet<>();
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 12))) {
      long size = Files.size(file);
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      int format = in.readInt();
      if (!java.util.Arrays.equals(magic, MAGIC) || (format != FORMAT && format != FORMAT_WITHOUT_COUNTS)) {
        return out;
      }
      in.readLong(); // version
      in.readLong(); // created
      in.readLong(); // horizon
      int partitions = in.readInt();
      int defLength = in.readInt();
      if (partitions < 0 || partitions > 1 << 16 || defLength < 0 || defLength > size) {
        return out;
      }
      in.skipNBytes(defLength);
      for (List<String> names : readRunNames(in, partitions, size)) {
        out.addAll(names);
      }
    } catch (IOException | InvalidCheckpointException e) {
      // unreadable: it names nothing we could use
    }
    return out;
  }

  /** A checkpoint that must not be used; the message says why. */
  static final class InvalidCheckpointException extends Exception {
    InvalidCheckpointException(String message) {
      super(message);
    }
  }

  /**
   * The refusal of a checkpoint whose header does not match the version it would restore: {@code why},
   * unless the file fails its CRC, which is then the reason (a flipped byte in the header reads as
   * another version or definition; the header is checked before the body is read so that a
   * checkpoint of another version costs no full read).
   */
  private static InvalidCheckpointException mismatch(Path file, String why) throws IOException {
    byte[] all = Files.readAllBytes(file);
    if (all.length >= 4) {
      CRC32C crc = new CRC32C();
      crc.update(all, 0, all.length - 4);
      if ((int) crc.getValue() != ByteBuffer.wrap(all, all.length - 4, 4).getInt()) {
        return new InvalidCheckpointException("it fails its CRC");
      }
    }
    return new InvalidCheckpointException(why);
  }

  /** The most keys a partition's table is sized for before they are read (it grows past that as they are). */
  private static final int MAX_PRESIZED_KEYS = 1 << 20;

  static Loaded load(FileRef f, long version, String definition, Cut cut, LogStream stream, ViewProgram program)
      throws IOException, InvalidCheckpointException {
    long size = Files.size(f.path());
    try (InputStream raw = Files.newInputStream(f.path())) {
      CheckedInputStream checked = new CheckedInputStream(new BufferedInputStream(raw, 1 << 16), new CRC32C());
      DataInputStream in = new DataInputStream(checked);
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new InvalidCheckpointException("not a Braid checkpoint (bad magic)");
      }
      int format = in.readInt();
      if (format != FORMAT && format != FORMAT_WITHOUT_COUNTS && format != FORMAT_WITHOUT_RUNS) {
        throw new InvalidCheckpointException("unsupported checkpoint format " + format);
      }
      long v = in.readLong();
      long created = in.readLong();
      long horizon = in.readLong();
      int partitions = in.readInt();
      if (v != version) {
        throw mismatch(f.path(), "it belongs to version " + v + ", not " + version);
      }
      if (partitions != cut.partitions()) {
        throw mismatch(f.path(), "it has " + partitions + " partitions, the stream has " + cut.partitions());
      }
      int defLength = in.readInt();
      if (defLength < 0 || defLength > size) {
        throw new InvalidCheckpointException("its definition length " + defLength + " is impossible");
      }
      byte[] def = new byte[defLength];
      in.readFully(def);
      if (!new String(def, StandardCharsets.UTF_8).equals(definition)) {
        throw mismatch(f.path(), "it was taken with another definition of the view");
      }
      List<List<String>> runNames = format == FORMAT_WITHOUT_RUNS ? null : readRunNames(in, partitions, size);
      PartitionDelta[] parts = new PartitionDelta[partitions];
      long[] positions = new long[partitions];
      ViewProgram.Scratch x = program.scratch();
      byte[] key = new byte[64];
      byte[] state = new byte[256];
      for (int p = 0; p < partitions; p++) {
        long position = in.readLong();
        long folded = in.readLong();
        long maxEventTime = in.readLong();
        long cutMaxEventTime = in.readLong();
        long skipped = format == FORMAT ? in.readLong() : -1;
        long withoutKey = format == FORMAT ? in.readLong() : -1;
        if (skipped < -1 || withoutKey < -1 || (skipped < 0) != (withoutKey < 0)) {
          throw new InvalidCheckpointException("partition " + p + " has an impossible event count");
        }
        int keys = in.readInt();
        if (keys < 0 || keys > size / 8) { // a key takes at least 8 bytes (its length and its window count)
          throw new InvalidCheckpointException("partition " + p + " has an impossible key count " + keys);
        }
        // The CRC is checked at the end: a damaged count must not size a table that exhausts the heap first
        GroupTable table = program.newTable(Math.max(16, Math.min(keys, MAX_PRESIZED_KEYS)));
        for (int k = 0; k < keys; k++) {
          int kl = in.readInt();
          if (kl < 0 || kl > size) {
            throw new InvalidCheckpointException("a key of partition " + p + " has an impossible length " + kl);
          }
          if (kl > key.length) {
            key = new byte[Math.max(kl, key.length * 2)];
          }
          in.readFully(key, 0, kl);
          int keyId = table.findOrInsertKey(key, kl, GroupTable.hash(key, kl));
          int windows = in.readInt();
          if (windows < 0 || windows > size / 12) { // a window takes at least 12 bytes (its start, its length)
            throw new InvalidCheckpointException("a key of partition " + p + " has an impossible window count");
          }
          for (int w = 0; w < windows; w++) {
            long window = in.readLong();
            int sl = in.readInt();
            if (sl < 0 || sl > size) {
              throw new InvalidCheckpointException("a state of partition " + p + " has an impossible length " + sl);
            }
            if (sl > state.length) {
              state = new byte[Math.max(sl, state.length * 2)];
            }
            in.readFully(state, 0, sl);
            int g = table.findOrInsertGroup(keyId, window);
            ByteBufferDataInput stateIn = x.stateInput.reset(ByteBuffer.wrap(state), 0, sl);
            try {
              program.readRow(stateIn, table.longs, g * table.stride, table.objects, g * table.objectWidth, x);
            } catch (IOException e) { // the state is in memory: this is its codec refusing the bytes
              throw new InvalidCheckpointException("a state of partition " + p + " cannot be decoded: "
                  + e.getMessage());
            }
            if (stateIn.position() != sl) {
              throw new InvalidCheckpointException("a state of partition " + p + " has " + (sl - stateIn.position())
                  + " bytes its aggregations did not read");
            }
          }
        }
        PartitionDelta pd = new PartitionDelta(p, table, position);
        pd.restoreFolded(folded);
        pd.countsKnown = skipped >= 0; // an older checkpoint (or one taken from such a Delta) did not count them
        pd.skipped = Math.max(0, skipped);
        pd.withoutKey = Math.max(0, withoutKey);
        pd.dropsKnown = false; // the checkpoint does not record the late events left out before it
        // a checkpoint of a build that took event times outside the years 0000-9999 may hold one:
        // such a time moves no watermark and decides no lateness (ViewProgram.inWindowRange)
        pd.maxEventTime = ViewProgram.inWindowRange(maxEventTime) ? maxEventTime : Long.MIN_VALUE;
        pd.cutMaxEventTime = ViewProgram.inWindowRange(cutMaxEventTime) ? cutMaxEventTime : Long.MIN_VALUE;
        parts[p] = pd;
        positions[p] = position;
      }
      int expected = (int) checked.getChecksum().getValue();
      int stored = in.readInt();
      if (stored != expected) {
        throw new InvalidCheckpointException("it fails its CRC");
      }
      if (in.read() != -1) {
        throw new InvalidCheckpointException("it has bytes after its trailer");
      }
      // Checked after the CRC, so that the reason given for a damaged file is the damage.
      for (int p = 0; p < partitions; p++) {
        if (positions[p] < cut.offset(p) || positions[p] > stream.endOffset(p)) {
          throw new InvalidCheckpointException(String.format("partition %d is at offset %d, outside [cut %d, log end "
              + "%d]; the log lost events the checkpoint counted", p, positions[p], cut.offset(p),
              stream.endOffset(p)));
        }
      }
      if (runNames != null) {
        List<ClosedRun> opened = new ArrayList<>(); // closed again if the checkpoint is refused
        try {
          for (int p = 0; p < partitions; p++) {
            List<ClosedRun> runs = new ArrayList<>();
            for (String n : runNames.get(p)) {
              Path run = f.path().resolveSibling(n);
              try {
                ClosedRun r = ClosedRun.open(run, program);
                runs.add(r);
                opened.add(r);
              } catch (java.nio.file.NoSuchFileException e) {
                throw new InvalidCheckpointException("its closed-window run " + n + " of partition " + p
                    + " is missing");
              } catch (dev.braid.log.CorruptLogException | IllegalStateException e) {
                throw new InvalidCheckpointException("its closed-window run " + n + " of partition " + p
                    + " is damaged: " + e.getMessage());
              }
            }
            parts[p].runs = runs.toArray(PartitionDelta.NO_RUNS);
          }
        } catch (InvalidCheckpointException | IOException | RuntimeException e) {
          opened.forEach(ClosedRun::close);
          throw e;
        }
      }
      return new Loaded(f, new Delta(parts), Cut.of(positions), horizon, created);
    } catch (EOFException e) {
      throw new InvalidCheckpointException("it ends early (torn or truncated)");
    } catch (RuntimeException e) {
      // An aggregation's codec that meets garbage may throw anything; the file is unusable either way.
      throw new InvalidCheckpointException("its state cannot be decoded: " + e);
    }
  }
}
