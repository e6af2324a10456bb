package dev.braid.log;

import java.nio.file.Path;

/** A stream of the {@link FileLog}: one {@link FilePartition} per partition directory. */
final class FileLogStream implements LogStream {

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

  static FileLogStream open(String name, Path dir, StreamConfig config) {
    FilePartition[] parts = new FilePartition[config.partitions()];
    for (int p = 0; p < parts.length; p++) {
      Path pd = partitionDir(dir, p);
      if (!java.nio.file.Files.isDirectory(pd)) {
        throw new LogException(String.format("stream '%s' has %d partitions but directory %s is missing",
            name, config.partitions(), pd));
      }
      parts[p] = FilePartition.open(name, p, pd, config);
    }
    return new FileLogStream(name, config, parts);
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

  void close() {
    for (FilePartition p : partitions) {
      p.close();
    }
  }
}
