package dev.braid.log;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded {@link Log}: streams as directories of segment files on the local disk, laid out as
 * described in {@link SegmentDescriptor}. One process at a time may open a log directory (a
 * {@code LOCK} file holds an OS file lock), and one {@code FileLog} in that process. Retention is
 * infinite: the log is the master dataset.
 *
 * <p>Interrupts: an interrupted FileChannel operation closes its channel. Appends, polls and
 * flushes therefore set a caller's pending interrupt aside during their file I/O and restore it
 * afterwards. A reader reads through a channel of its own, so an interrupt that lands during its
 * read fails that one poll and nothing else. An interrupt that lands during an append's or a
 * flush's own I/O closes the partition's segment file until the log is reopened: do not interrupt
 * threads while they append.
 *
 * <pre>{@code
 * try (FileLog log = FileLog.open(Path.of("data/log"))) {
 *   LogStream s = log.getOrCreateStream("clicks", StreamConfig.of(4));
 *   RecordBatchBuilder b = new RecordBatchBuilder();
 *   b.add(key, value, eventTime, System.currentTimeMillis());
 *   AppendResult r = s.append(s.partitionFor(key), b);
 * }
 * }</pre>
 */
public final class FileLog implements Log {

  private static final Logger LOG = LoggerFactory.getLogger(FileLog.class);
  private static final Pattern STREAM_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  static final String STREAM_PROPERTIES = "stream.properties";
  private static final String CREATING_SUFFIX = ".creating";
  /**
   * A stream being deleted ({@link #deleteStream}): renamed to its name and this first, deleted whole
   * on open. The '~' is in no stream name, so no stream (of any build) is taken for one.
   */
  private static final String DELETING_SUFFIX = "~deleting";
  static final String LOCK_FILE = "LOCK";
  static final int DEFAULT_FETCH_BYTES = 1 << 20;

  /**
   * The directories (real paths) that a FileLog of this JVM holds. The OS lock is held by the
   * process, so it cannot refuse a second open from this process; worse, closing any channel of the
   * LOCK file drops the process's lock (POSIX record locks), which would let another process in.
   * So a second open in this JVM is refused here, before it touches the LOCK file.
   */
  private static final Set<Path> OPEN_DIRECTORIES = ConcurrentHashMap.newKeySet();

  private final Path dir;
  private final Path realDir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  /** The log's background thread: periodic fsyncs of {@code interval} streams, preallocation of {@code fsync} ones. */
  private final ScheduledExecutorService syncer;
  // guarded by this
  private final Map<String, FileLogStream> streams = new TreeMap<>();
  /** The periodic fsyncs of {@code interval} streams, by stream; guarded by this. */
  private final Map<String, java.util.concurrent.ScheduledFuture<?>> intervalSyncs = new java.util.HashMap<>();
  private final List<RecoveryReport> recoveries = new ArrayList<>();
  /** Streams not opened because a sealed segment failed its checks; guarded by this. */
  private final Map<String, CorruptLogException> corruptStreams = new TreeMap<>();
  private boolean closed;

  private FileLog(Path dir, Path realDir, FileChannel lockChannel, FileLock lock) {
    this.dir = dir;
    this.realDir = realDir;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.syncer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "braid-log-sync");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Opens (creating if needed) the log in {@code dir}, recovering every stream's partitions. Throws
   * {@link LogException} if another process or another {@code FileLog} of this process holds the
   * directory, or if it holds a file that does not belong to a log.
   */
  public static FileLog open(Path dir) {
    return Interrupts.setAside(() -> openSettingInterruptAside(dir)); // recovery reads and truncates files
  }

  private static FileLog openSettingInterruptAside(Path dir) {
    Objects.requireNonNull(dir, "dir");
    Path realDir;
    try {
      Files.createDirectories(dir);
      realDir = dir.toRealPath();
    } catch (IOException e) {
      throw new LogException("cannot create log directory " + dir + ": " + LogException.describe(e), e);
    }
    if (!OPEN_DIRECTORIES.add(realDir)) {
      throw new LogException(String.format(
          "log directory %s is in use by another FileLog of this process; close that one first", dir));
    }
    FileLog log;
    try {
      log = lock(dir, realDir);
    } catch (RuntimeException e) {
      OPEN_DIRECTORIES.remove(realDir);
      throw e;
    }
    try {
      log.openExisting();
    } catch (RuntimeException e) {
      log.close();
      throw e;
    }
    return log;
  }

  /** Takes the OS lock of {@code dir}; the caller has registered {@code realDir} in this JVM. */
  private static FileLog lock(Path dir, Path realDir) {
    FileChannel ch = null;
    FileLock lock;
    Path lockFile = dir.resolve(LOCK_FILE);
    try {
      ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      lock = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    } catch (IOException e) {
      closeQuietly(ch);
      throw new LogException("cannot lock log directory " + dir + ": " + LogException.describe(e), e);
    }
    if (lock == null) {
      String holder = readHolder(lockFile);
      closeQuietly(ch);
      throw new LogException(String.format("log directory %s is in use by another Braid process%s; stop it or "
          + "use another data directory", dir, holder));
    }
    try {
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.US_ASCII)), 0);
    } catch (IOException e) {
      LOG.debug("could not record the pid in {}", lockFile, e);
    }
    return new FileLog(dir, realDir, ch, lock);
  }

  private static String readHolder(Path lockFile) {
    try {
      String pid = Files.readString(lockFile, StandardCharsets.US_ASCII).strip();
      return pid.isEmpty() ? "" : " (pid " + pid + ")";
    } catch (IOException e) {
      return "";
    }
  }

  private void openExisting() {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      List<Path> sorted = new ArrayList<>();
      entries.forEach(sorted::add);
      sorted.sort(Comparator.naturalOrder());
      for (Path p : sorted) {
        String name = p.getFileName().toString();
        if (name.equals(LOCK_FILE)) {
          continue;
        }
        if (name.endsWith(DELETING_SUFFIX) && Files.isDirectory(p)
            && STREAM_NAME.matcher(name.substring(0, name.length() - DELETING_SUFFIX.length())).matches()) {
          deleteRecursively(p);
          LOG.info("removed {}: a stream deletion that did not finish", p);
          continue;
        }
        if (name.endsWith(CREATING_SUFFIX) && Files.isDirectory(p)) {
          requireUnfinishedCreation(p);
          deleteRecursively(p);
          LOG.info("removed {}: a stream creation that did not finish", p);
          continue;
        }
        if (!Files.isDirectory(p) || !STREAM_NAME.matcher(name).matches()) {
          throw new LogException(String.format("foreign file %s in log directory %s: only stream directories belong here",
              name, dir));
        }
        Path props = p.resolve(STREAM_PROPERTIES);
        if (Files.deleteIfExists(p.resolve(STREAM_PROPERTIES + ".tmp"))) {
          LOG.info("stream '{}': removed the new description of a durability change that a crash interrupted; the "
              + "previous one stands", name);
        }
        if (!Files.isRegularFile(props)) {
          throw new LogException(String.format("directory %s in log directory %s is not a stream: it has no %s",
              name, dir, STREAM_PROPERTIES));
        }
        StreamConfig config = readConfig(props);
        FileLogStream stream;
        try {
          stream = FileLogStream.open(name, p, config, syncer);
        } catch (CorruptLogException e) {
          // Refuse this stream only: the others open and serve. Never skip the damaged data.
          corruptStreams.put(name, e);
          LOG.error("stream '{}' is refused: {}; restore the file from a backup and restart", name, e.getMessage());
          continue;
        }
        streams.put(name, stream);
        for (int i = 0; i < config.partitions(); i++) {
          RecoveryReport r = stream.partition(i).recovery();
          if (r != null) {
            recoveries.add(r);
          }
        }
        schedule(stream);
      }
    } catch (IOException e) {
      throw new LogException("cannot read log directory " + dir + ": " + LogException.describe(e), e);
    }
  }

  /**
   * Refuses a {@code <stream>.creating} directory that {@link #createStream} did not leave: one whose
   * entries are not a stream's description, partition directories and their segment and index
   * files, which open would otherwise delete with whatever else is in it.
   */
  private void requireUnfinishedCreation(Path staging) throws IOException {
    String name = staging.getFileName().toString();
    String foreign = STREAM_NAME.matcher(name.substring(0, name.length() - CREATING_SUFFIX.length())).matches()
        ? null : name;
    try (Stream<Path> entries = Files.list(staging)) {
      for (java.util.Iterator<Path> it = entries.iterator(); foreign == null && it.hasNext(); ) {
        Path e = it.next();
        String n = e.getFileName().toString();
        if (n.equals(STREAM_PROPERTIES) || n.equals(STREAM_PROPERTIES + ".tmp")) {
          continue;
        }
        if (!Files.isDirectory(e) || !FileLogStream.PARTITION_DIR.matcher(n).matches()) {
          foreign = name + "/" + n;
          continue;
        }
        try (Stream<Path> files = Files.list(e)) {
          foreign = files.map(f -> f.getFileName().toString())
              .filter(f -> !SegmentDescriptor.SEGMENT_NAME.matcher(f).matches()
                  && !SegmentDescriptor.INDEX_NAME.matcher(f).matches())
              .findFirst().map(f -> name + "/" + n + "/" + f).orElse(null);
        }
      }
    }
    if (foreign != null) {
      throw new LogException(String.format("foreign file %s in log directory %s: a directory ending in %s holds a "
          + "stream being created (open deletes it), and this one holds other files; move it away", foreign, dir,
          CREATING_SUFFIX));
    }
  }

  private void schedule(FileLogStream stream) {
    Durability d = stream.config().durability();
    if (d.mode() == Durability.Mode.INTERVAL) {
      intervalSyncs.put(stream.name(), syncer.scheduleWithFixedDelay(() -> {
        try {
          stream.syncDirty();
        } catch (RuntimeException e) {
          LOG.error("periodic fsync of stream '{}' failed", stream.name(), e);
        }
      }, d.intervalMillis(), d.intervalMillis(), TimeUnit.MILLISECONDS));
    }
  }

  /**
   * Gives the existing stream {@code name} durability {@code durability} from now on, as a spec that
   * changed its {@code durability:} asks: the stream's description is replaced (atomically) and the
   * stream reopened with it. Its records and offsets stay as they are; under the stronger policies
   * the first fsync also covers what was appended before. The {@link LogStream} returned before for
   * this name is closed: call this before anything appends to or reads the stream. Returns the
   * reopened stream (the same one when its durability already is {@code durability}).
   */
  public synchronized LogStream changeDurability(String name, Durability durability) {
    requireOpen();
    requireNotCorrupt(name);
    FileLogStream old = streams.get(name);
    if (old == null) {
      throw new UnknownStreamException(name, streams.keySet());
    }
    if (old.config().durability().equals(durability)) {
      return old;
    }
    StreamConfig config = old.config().withDurability(durability);
    Path target = dir.resolve(name);
    java.util.concurrent.ScheduledFuture<?> sync = intervalSyncs.remove(name);
    if (sync != null) {
      sync.cancel(false);
    }
    old.close();
    streams.remove(name);
    try {
      Path tmp = target.resolve(STREAM_PROPERTIES + ".tmp");
      writeConfig(tmp, config);
      Files.move(tmp, target.resolve(STREAM_PROPERTIES), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      fsyncDirectory(target);
    } catch (IOException e) {
      throw new LogException("cannot change the durability of stream '" + name + "' in " + target + ": "
          + LogException.describe(e), e);
    }
    FileLogStream stream = FileLogStream.open(name, target, config, syncer);
    streams.put(name, stream);
    schedule(stream);
    LOG.info("stream '{}': durability changed from {} to {}", name, old.config().durability(), durability);
    return stream;
  }

  /** The directory this log lives in. */
  public Path directory() {
    return dir;
  }

  /**
   * Streams that were not opened because a sealed segment (or its header) failed its checks, with
   * the damage (file and byte offset). Such a stream cannot be read, appended to or created anew:
   * every call for it throws its {@link CorruptLogException}. Data in a sealed segment is never
   * skipped; restore the file from a backup and reopen the log.
   */
  public synchronized Map<String, CorruptLogException> corruptStreams() {
    return Map.copyOf(corruptStreams);
  }

  private void requireNotCorrupt(String name) {
    CorruptLogException e = corruptStreams.get(name);
    if (e != null) {
      throw new CorruptLogException(e.file(), e.position(), "stream '" + name + "' is refused: " + e.what());
    }
  }

  /** Partitions whose tail was cut when the log was opened, with what was cut. */
  public synchronized List<RecoveryReport> recoveries() {
    return List.copyOf(recoveries);
  }

  @Override
  public synchronized LogStream createStream(String name, StreamConfig config) {
    requireOpen();
    validateName(name);
    requireNotCorrupt(name);
    Objects.requireNonNull(config, "config");
    if (streams.containsKey(name)) {
      throw new IllegalArgumentException("stream '" + name + "' already exists");
    }
    Path staging = dir.resolve(name + CREATING_SUFFIX);
    Path target = dir.resolve(name);
    try {
      deleteRecursively(staging);
      Files.createDirectories(staging);
      for (int p = 0; p < config.partitions(); p++) {
        FilePartition.create(name, p, FileLogStream.partitionDir(staging, p), config).close();
      }
      writeConfig(staging.resolve(STREAM_PROPERTIES), config);
      fsyncDirectory(staging);
      Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
      fsyncDirectory(dir);
    } catch (IOException e) {
      throw new LogException("cannot create stream '" + name + "' in " + dir + ": " + LogException.describe(e), e);
    }
    FileLogStream stream = FileLogStream.open(name, target, config, syncer);
    streams.put(name, stream);
    schedule(stream);
    LOG.info("created stream '{}' with {} partitions, durability {}", name, config.partitions(), config.durability());
    return stream;
  }

  @Override
  public synchronized LogStream stream(String name) {
    requireOpen();
    requireNotCorrupt(name);
    FileLogStream s = streams.get(name);
    if (s == null) {
      throw new UnknownStreamException(name, streams.keySet());
    }
    return s;
  }

  @Override
  public synchronized LogStream getOrCreateStream(String name, StreamConfig config) {
    requireOpen();
    requireNotCorrupt(name);
    Objects.requireNonNull(config, "config");
    FileLogStream s = streams.get(name);
    if (s == null) {
      return createStream(name, config);
    }
    if (s.config().partitions() != config.partitions()) {
      throw new IllegalArgumentException(String.format(
          "stream '%s' exists with %d partitions; it cannot be reopened with %d (the partition of a key depends on it)",
          name, s.config().partitions(), config.partitions()));
    }
    return s;
  }

  @Override
  public synchronized void deleteStream(String name) {
    requireOpen();
    validateName(name);
    FileLogStream old = streams.remove(name);
    boolean corrupt = corruptStreams.remove(name) != null;
    if (old == null && !corrupt) {
      return;
    }
    java.util.concurrent.ScheduledFuture<?> sync = intervalSyncs.remove(name);
    if (sync != null) {
      sync.cancel(false);
    }
    if (old != null) {
      old.close();
    }
    Path target = dir.resolve(name);
    Path doomed = dir.resolve(name + DELETING_SUFFIX);
    try {
      deleteRecursively(doomed);
      Files.move(target, doomed, StandardCopyOption.ATOMIC_MOVE); // gone at once, for this process and a crash
      fsyncDirectory(dir);
      deleteRecursively(doomed);
    } catch (IOException e) {
      throw new LogException("cannot delete stream '" + name + "' in " + dir + ": " + LogException.describe(e)
          + (Files.exists(doomed) ? " (renamed to " + doomed.getFileName() + ", which the next open deletes)" : ""), e);
    }
    LOG.info("deleted stream '{}'", name);
  }

  @Override
  public synchronized boolean hasStream(String name) {
    return streams.containsKey(name);
  }

  @Override
  public synchronized List<String> streams() {
    return List.copyOf(streams.keySet());
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    Interrupts.setAside(this::closeStreams); // the last truncates and fsyncs must not fail on a pending interrupt
  }

  private void closeStreams() {
    // Let a running interval sync finish: interrupting it (shutdownNow) would close the segment's
    // channel under the final sync below.
    syncer.shutdown();
    boolean interrupted = false;
    try {
      syncer.awaitTermination(Long.MAX_VALUE, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      interrupted = true; // ends the wait (a hung fsync must not hold close forever); restored after the last writes
    }
    RuntimeException failure = FileLogStream.closeEach(streams.values(), FileLogStream::close);
    try {
      lock.release();
    } catch (IOException e) {
      LOG.debug("releasing the log lock failed", e);
    }
    closeQuietly(lockChannel);
    OPEN_DIRECTORIES.remove(realDir);
    Interrupts.restore(interrupted);
    if (failure != null) {
      throw failure;
    }
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the log in " + dir + " is closed");
    }
  }

  private static void validateName(String name) {
    Objects.requireNonNull(name, "name");
    if (!STREAM_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(String.format(
          "invalid stream name '%s': use 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", name));
    }
    // The log directory uses these names itself; a '.creating' directory is deleted on open.
    if (name.equals(LOCK_FILE) || name.endsWith(CREATING_SUFFIX)) {
      throw new IllegalArgumentException(String.format(
          "invalid stream name '%s': '%s' and names ending in '%s' are reserved", name, LOCK_FILE, CREATING_SUFFIX));
    }
  }

  // ---------------------------------------------------------------------------------------------

  private static void writeConfig(Path file, StreamConfig c) throws IOException {
    Properties p = new Properties();
    p.setProperty("format", "1");
    p.setProperty("partitions", Integer.toString(c.partitions()));
    p.setProperty("durability", c.durability().toString());
    p.setProperty("segment.bytes", Long.toString(c.segmentBytes()));
    p.setProperty("max.record.bytes", Integer.toString(c.maxRecordBytes()));
    if (c.firstOffset() > 0) { // only then: a build that predates it opens the others unchanged
      p.setProperty("first.offset", Long.toString(c.firstOffset()));
    }
    try (OutputStream out = Files.newOutputStream(file)) {
      p.store(out, "Braid stream; do not edit");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  private static StreamConfig readConfig(Path file) {
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    } catch (IOException e) {
      throw new LogException("cannot read " + file + ": " + LogException.describe(e), e);
    }
    try {
      if (!"1".equals(p.getProperty("format"))) {
        throw new LogException(file + ": unsupported or missing format '" + p.getProperty("format") + "'");
      }
      return new StreamConfig(Integer.parseInt(required(p, "partitions", file)),
          Durability.parse(required(p, "durability", file)),
          Long.parseLong(required(p, "segment.bytes", file)),
          Integer.parseInt(required(p, "max.record.bytes", file)),
          Long.parseLong(p.getProperty("first.offset", "0").strip()));
    } catch (IllegalArgumentException e) {
      throw new LogException(file + " is not a valid stream description: " + e.getMessage(), e);
    }
  }

  private static String required(Properties p, String key, Path file) {
    String v = p.getProperty(key);
    if (v == null) {
      throw new LogException(file + " lacks '" + key + "'");
    }
    return v.strip();
  }

  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  private static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(q);
      }
    }
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // nothing to do: the channel only held a lock
      }
    }
  }
}
