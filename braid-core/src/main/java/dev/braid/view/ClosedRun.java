package dev.braid.view;

import dev.braid.log.Cut;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An immutable, checksummed file of one partition's <em>closed</em> windows, moved out of a
 * version's in-memory Delta so that the Delta's memory is bounded by the windows still open (see
 * {@code ViewRuntime#spillClosedWindows}). A read of a key merges Base, the runs and the in-memory
 * Delta, in that order; the runs hold the state of their groups as of the position the Delta had
 * when they were spilled, and the in-memory Delta everything after it, so the merge is exact.
 *
 * <h2>File</h2>
 * A run is a {@link BaseFile} (hash index, CRC32C over header and body, memory-mapped, written to a
 * temporary file, fsynced, renamed into place and the directory fsynced), with two extra promises:
 * its entries are in {@link RunFileDescriptor} key order and each key's windows ascend, so runs can
 * be merged by {@link RunMerger} like a batch cycle's sorted runs; its cut is one offset, the
 * partition's position when the groups were taken. Its name is
 * {@code v<version>-p<partition>-<sequence>.closed} in the view's directory.
 *
 * <h2>Lifetime</h2>
 * A run belongs to the Delta of one version. {@code PartitionDelta#runs} lists a partition's runs;
 * a checkpoint of the Delta names them (see {@link DeltaCheckpoint}), so a restart from that
 * checkpoint maps them again. A run that neither the current Delta nor a kept checkpoint names is
 * deleted ({@code ViewRuntime#deleteUnreferencedRuns}): after a merge of runs, after a batch cycle's
 * swap (the new version starts without runs), after eviction of expired windows. A run that no
 * Delta holds any more is closed: a read in progress keeps its mapping until it ends, and a read
 * that finds it closed reads the view's new Delta (see {@code ViewRuntime#mergedCurrent}).
 *
 * <p>Immutable and thread-safe.
 */
final class ClosedRun {

  private static final Pattern NAME = Pattern.compile("v(\\d+)-p(\\d+)-(\\d{12})\\.closed");

  final BaseFile base;
  final String name;
  /** The largest window start in the run. */
  final long maxWindow;
  /** The smallest and largest {@link ViewProgram#retentionKey} of its groups. */
  final long minRetentionKey;
  final long maxRetentionKey;

  private ClosedRun(BaseFile base, String name, long maxWindow, long minRetentionKey, long maxRetentionKey) {
    this.base = base;
    this.name = name;
    this.maxWindow = maxWindow;
    this.minRetentionKey = minRetentionKey;
    this.maxRetentionKey = maxRetentionKey;
  }

  static String fileName(long version, int partition, long sequence) {
    return String.format("v%d-p%d-%012d.closed", version, partition, sequence);
  }

  /** Whether {@code name} is a run's file name. */
  static boolean isRun(String name) {
    return NAME.matcher(name).matches();
  }

  /** The sequence number in a run's file name, or -1 when it is not one. */
  static long sequence(String name) {
    Matcher m = NAME.matcher(name);
    return m.matches() ? Long.parseLong(m.group(3)) : -1;
  }

  /** The run files in {@code dir}. */
  static List<Path> list(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        if (isRun(f.getFileName().toString())) {
          out.add(f);
        }
      }
    }
    return out;
  }

  long groups() {
    return base.groupCount;
  }

  long bytes() {
    return base.sizeBytes();
  }

  /**
   * Lets go of the run's mapping once the reads in progress end (see {@link BaseFile#close}): when
   * no Delta a read can still reach holds it. The file stays while a checkpoint names it.
   */
  void close() {
    base.close();
  }

  /** Visits the windows of {@code key} in the run; false when the key has none here. */
  boolean lookup(byte[] key, int len, BaseFile.WindowVisitor visitor) throws IOException {
    return base.lookup(key, len, visitor);
  }

  /**
   * Writes every group of {@code closed} (a table of one partition's closed groups, copied out of
   * its Delta) as the run {@code dir/name}, durable before it returns.
   */
  static ClosedRun write(Path dir, String name, GroupTable closed, ViewProgram program, long position)
      throws IOException {
    try (BaseFile.Writer w = BaseFile.Writer.begin(dir.resolve(name), program, Cut.of(position), closed.keyCount())) {
      RunFile.writeSorted(closed, new RunFile.Sorter(), w);
      w.finish();
    }
    return open(dir.resolve(name), program);
  }

  /**
   * Merges {@code runs} into the new run {@code dir/name}, leaving out groups whose
   * {@link ViewProgram#retentionKey} is below {@code horizon} (evicted by window retention); a group found in several runs is merged with the
   * view's own merge. The old runs stay on disk (checkpoints may still name them).
   */
  static ClosedRun merge(Path dir, String name, List<ClosedRun> runs, ViewProgram program, long horizon,
      long position) throws IOException {
    GroupCursor[] cursors = new GroupCursor[runs.size()];
    long keys = 0;
    for (ClosedRun r : runs) {
      keys += r.base.keyCount;
    }
    try (BaseFile.Writer w = BaseFile.Writer.begin(dir.resolve(name), program, Cut.of(position), keys)) {
      for (int i = 0; i < cursors.length; i++) {
        cursors[i] = runs.get(i).base.cursor();
      }
      new RunMerger(program, RunMerger.MIN_READ_BUFFER).merge(cursors, new FromHorizon(w, horizon, program));
      w.finish();
    } finally {
      for (GroupCursor c : cursors) {
        if (c != null) {
          c.close();
        }
      }
    }
    return open(dir.resolve(name), program);
  }

  /**
   * Opens and verifies run {@code file} of a view whose groups {@code program} lays out; throws
   * {@link dev.braid.log.CorruptLogException} when it is damaged.
   */
  static ClosedRun open(Path file, ViewProgram program) throws IOException {
    BaseFile base;
    try {
      base = BaseFile.open(file);
    } catch (dev.braid.log.CorruptLogException e) { // named as what it is: a run, not a view's Base
      throw new dev.braid.log.CorruptLogException("closed-window run", file, e.position(), e.what());
    }
    long max = Long.MIN_VALUE;
    long minKey = Long.MAX_VALUE;
    long maxKey = Long.MIN_VALUE;
    try (GroupCursor c = base.cursor()) { // also checks the order that merges rely on
      while (c.nextKey()) {
        while (c.nextWindow()) {
          max = Math.max(max, c.window());
          long key = program.retentionKey(c.window(), c.state(), 0, c.stateLength());
          minKey = Math.min(minKey, key);
          maxKey = Math.max(maxKey, key);
        }
      }
    } catch (IOException | RuntimeException e) {
      base.close(); // refused: unmapped at once, its file may be deleted next
      throw e;
    }
    return new ClosedRun(base, file.getFileName().toString(), max, minKey, maxKey);
  }

  /** Passes on the groups not below a horizon (see {@link ViewProgram#retentionKey}), and a key only when it keeps one. */
  private static final class FromHorizon implements GroupSink {
    private final GroupSink sink;
    private final long horizon;
    private final ViewProgram program;
    private byte[] key = new byte[64];
    private int keyLength;
    private int hash;
    private boolean begun;

    FromHorizon(GroupSink sink, long horizon, ViewProgram program) {
      this.sink = sink;
      this.horizon = horizon;
      this.program = program;
    }

    @Override
    public void beginKey(byte[] k, int off, int len, int h) {
      if (key.length < len) {
        key = new byte[Math.max(len, key.length * 2)];
      }
      System.arraycopy(k, off, key, 0, len);
      keyLength = len;
      hash = h;
      begun = false;
    }

    private boolean keep(long retentionKey) throws IOException {
      if (retentionKey < horizon) {
        return false;
      }
      if (!begun) {
        sink.beginKey(key, 0, keyLength, hash);
        begun = true;
      }
      return true;
    }

    @Override
    public void window(long window, long[] longs, int longBase, Object[] objects, int objectBase)
        throws IOException {
      if (keep(program.retentionKey(window, longs, longBase))) {
        sink.window(window, longs, longBase, objects, objectBase);
      }
    }

    @Override
    public void window(long window, byte[] state, int off, int len) throws IOException {
      if (keep(program.retentionKey(window, state, off, len))) {
        sink.window(window, state, off, len);
      }
    }

    @Override
    public void endKey() throws IOException {
      if (begun) {
        sink.endKey();
      }
    }
  }
}
