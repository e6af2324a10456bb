package dev.braid.bench;

import dev.braid.log.FileLog;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH micro-benchmarks of the log's two hot paths, in records per second: appending a prepared
 * 1000-record batch ({@code os} durability: seal, CRC, one positional write) and scanning a
 * partition of {@value #SCAN_RECORDS} records with one reader. {@link LogBenchmark} is the
 * end-to-end figure; this isolates the per-record cost of the code.
 *
 * <p>Run with {@code ./braid bench jmh LogJmh} (any JMH options may follow). Each append iteration
 * starts on a fresh log, so the page cache holds at most one iteration's data.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LogJmh {

  static final int BATCH = 1000;
  static final int SCAN_RECORDS = 2_000_000;

  private Path root;
  private FileLog appendLog;
  private LogStream appendStream;
  private final RecordBatchBuilder batch = new RecordBatchBuilder(BATCH * 128, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
  private int appendLogs;

  private FileLog scanLog;
  private LogReader reader;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    root = Files.createTempDirectory("braid-jmh-log-");
    BenchRecords records = new BenchRecords(42);
    records.addTo(batch, 0, BATCH, BenchRecords.BASE_EVENT_TIME);

    scanLog = FileLog.open(root.resolve("scan"));
    LogStream scan = scanLog.createStream("scan", StreamConfig.of(1));
    RecordBatchBuilder b = new RecordBatchBuilder(BATCH * 128, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    for (long i = 0; i < SCAN_RECORDS; i += BATCH) {
      records.addTo(b, i, BATCH, BenchRecords.BASE_EVENT_TIME);
      scan.append(0, b);
      b.clear();
    }
    scan.flush();
    reader = scan.reader(0, 0);
  }

  @Setup(Level.Iteration)
  public void freshAppendLog() {
    closeAppendLog();
    appendLog = FileLog.open(root.resolve("append-" + appendLogs++));
    appendStream = appendLog.createStream("append", StreamConfig.of(1));
  }

  @TearDown(Level.Iteration)
  public void closeAppendLog() {
    if (appendLog != null) {
      Path dir = appendLog.directory();
      appendLog.close();
      LogBenchmark.deleteRecursively(dir);
      appendLog = null;
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    closeAppendLog();
    reader.close();
    scanLog.close();
    LogBenchmark.deleteRecursively(root);
  }

  /** Appends the same prepared batch again: the log re-seals it with the next base offset. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public long appendBatchOs() {
    return appendStream.append(0, batch).lastOffset();
  }

  /** Reads the whole scan partition from offset 0, touching every record. */
  @Benchmark
  @OperationsPerInvocation(SCAN_RECORDS)
  public long scanPartition() {
    reader.seek(0);
    long sum = 0;
    while (true) {
      RecordCursor c = reader.poll();
      if (!c.next()) {
        return sum;
      }
      do {
        sum += c.offset() ^ c.eventTime() ^ c.keyLength() ^ c.valueLength() ^ c.buffer().get(c.keyOffset());
      } while (c.next());
    }
  }
}
