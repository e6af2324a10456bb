package dev.braid.log;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** A stream of the {@link FileLog}: one {@link FilePartition} per partition directory. */
final class FileLogStream implements LogStream {

  static final Pattern PARTITION_DIR = Pattern.compile("p\\d{5}");

  private final String name;
  private final StreamConfig config;
  private final FilePartition[] partitions;

  private FileLogStream(String name, StreamConfig config, FilePartition[] partitions) {
    this.name = name;
    this.config = config;
    this.partitions = partitions;
  }

  static Path partitionDir(Path streamDir, int partition) {
    return streamDir.resolve(String.format("p%05d", partition));
  }

  /**
   * Opens and recovers every partition; throws {@link LogException} for a foreign file, and
   * {@link CorruptLogException} for a missing or damaged one.
   * {@code preallocator} runs the partitions' preallocation steps (see {@link FilePartition}).
   */
  static FileLogStream open(String name, Path dir, StreamConfig config, Executor preallocator) {
    requireOnlyStreamFiles(dir, config);
    FilePartition[] parts = new FilePartition[config.partitions()];
    try {
      for (int p = 0; p < parts.length; p++) {
        Path pd = partitionDir(dir, p);
        if (!Files.isDirectory(pd)) { // refuses this stream only, as damage inside a partition does
          throw new CorruptLogException(pd, 0, String.format("the partition directory is missing (stream '%s' has %d "
              + "partitions, and a stream's partitions are created with it): its segments were deleted", name,
              config.partitions()));
        }
        parts[p] = FilePartition.open(name, p, pd, config, preallocator);
      }
    } catch (RuntimeException e) {
      // Release the partitions opened so far: the caller may repair the directory and retry.
      for (FilePartition opened : parts) {
        if (opened != null) {
          opened.closeQuietly();
        }
      }
      throw e;
    }
    return new FileLogStream(name, config, parts);
  }

  /** A stray file here is someone else's data or a damaged stream: refuse it rather than ignore it. */
  private static void requireOnlyStreamFiles(Path dir, StreamConfig config) {
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path entry : (Iterable<Path>) entries::iterator) {
        String file = entry.getFileName().toString();
        boolean partition = PARTITION_DIR.matcher(file).matches()
            && Integer.parseInt(file.substring(1)) < config.partitions();
        if (!partition && !file.equals(FileLog.STREAM_PROPERTIES)) {
          throw new LogException(String.format(
              "foreign file %s in stream directory %s: a stream of %d partitions holds only %s and p00000..p%05d",
              file, dir, config.partitions(), FileLog.STREAM_PROPERTIES, config.partitions() - 1));
        }
      }
    } catch (IOException e) {
      throw new LogException("cannot list stream directory " + dir + ": " + LogException.describe(e), e);
    }
  }

  FilePartition partition(int p) {
    if (p < 0 || p >= partitions.length) {
      throw new IllegalArgumentException(String.format("stream '%s' has partitions 0..%d, not %d",
          name, partitions.length - 1, p));
    }
    return partitions[p];
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public StreamConfig config() {
    return config;
  }

  @Override
  public AppendResult append(int partition, RecordBatchBuilder batch) {
    return partition(partition).append(batch);
  }

  @Override
  public LogReader reader(int partition, long fromOffset) {
    return new FileLogReader(partition(partition), fromOffset, FileLog.DEFAULT_FETCH_BYTES);
  }

  @Override
  public long endOffset(int partition) {
    return partition(partition).endOffset();
  }

  @Override
  public long startOffset(int partition) {
    return partition(partition).startOffset();
  }

  @Override
  public void flush() {
    for (FilePartition p : partitions) {
      p.sync();
    }
  }

  void syncDirty() {
    for (FilePartition p : partitions) {
      if (p.isDirty()) {
        p.sync();
      }
    }
  }

  /** Closes every partition, each whatever the others did; throws the first failure, the others suppressed. */
  void close() {
    RuntimeException failure = closeEach(java.util.Arrays.asList(partitions), FilePartition::close);
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * Runs {@code close} on each of {@code items}, whatever the others did; returns the first failure,
   * the later ones suppressed in it, or null.
   */
  static <T> RuntimeException closeEach(Iterable<T> items, java.util.function.Consumer<T> close) {
    RuntimeException failure = null;
    for (T item : items) {
      try {
        close.accept(item);
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    return failure;
  }
}
