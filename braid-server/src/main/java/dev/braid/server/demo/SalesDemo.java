package dev.braid.server.demo;

import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordBatchDescriptor;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * The demo's job, without any console: write {@code events} generated retail sales into stream
 * {@value #STREAM} of an embedded {@link FileLog}, then read every partition back with its own
 * reader, and report what happened and how fast.
 *
 * <p>Events go to {@link LogStream#partitionFor(byte[])} of their key, in batches of
 * {@value #BATCH_RECORDS} built per partition, so each partition sees whole batches in generation
 * order.
 */
public final class SalesDemo {

  public static final String STREAM = "sales";
  public static final int PARTITIONS = 4;
  public static final int BATCH_RECORDS = 1000;

  private SalesDemo() {}

  /** What one scan of the whole stream, one reader per partition, found. */
  public record ScanReport(int readers, long events, long recordBytes, double seconds) {}

  /**
   * What the demo did.
   *
   * @param events events written by this run
   * @param cut the stream's end cut after the run: per partition, the next offset
   * @param recordBytes bytes of the records written (record header, key and value; see {@link RecordBatchDescriptor})
   * @param writeSeconds time to generate and append the events
   * @param diskBytes size of the log directory after the run
   */
  public record Report(long events, String stream, int partitions, Durability durability, Cut cut,
      long recordBytes, double writeSeconds, long diskBytes, Path logDir, long minEventTime, long maxEventTime,
      ScanReport scan) {}

  /**
   * Runs the demo against the log in {@code logDir} (created if missing). If stream {@value #STREAM}
   * exists, the events are appended after what it holds. {@code progress} receives the number of
   * events appended so far, after every batch.
   */
  public static Report run(Path logDir, long events, long seed, LongConsumer progress) {
    if (events < 0) {
      throw new IllegalArgumentException("events must not be negative, got " + events);
    }
    StreamConfig config = StreamConfig.of(PARTITIONS).withDurability(Durability.os());
    try (FileLog log = FileLog.open(logDir)) {
      LogStream stream = log.getOrCreateStream(STREAM, config);
      int partitions = stream.partitions();
      RecordBatchBuilder[] batches = new RecordBatchBuilder[partitions];
      for (int p = 0; p < partitions; p++) {
        batches[p] = new RecordBatchBuilder(BATCH_RECORDS * 160, stream.config().maxRecordBytes());
      }
      SalesEventGenerator gen = new SalesEventGenerator(seed, SalesEventGenerator.DEFAULT_START_MILLIS);
      long minTime = Long.MAX_VALUE;
      long maxTime = Long.MIN_VALUE;
      long recordBytes = 0;
      long appended = 0;
      progress.accept(0);

      long start = System.nanoTime();
      for (long i = 0; i < events; i++) {
        gen.next();
        byte[] key = gen.key();
        int p = stream.partitionFor(key);
        RecordBatchBuilder b = batches[p];
        b.add(key, 0, key.length, gen.value(), 0, gen.valueLength(), gen.eventTime(), System.currentTimeMillis());
        minTime = Math.min(minTime, gen.eventTime());
        maxTime = Math.max(maxTime, gen.eventTime());
        if (b.count() == BATCH_RECORDS) {
          recordBytes += append(stream, p, b);
          appended += BATCH_RECORDS;
          progress.accept(appended);
        }
      }
      for (int p = 0; p < partitions; p++) {
        if (!batches[p].isEmpty()) {
          appended += batches[p].count();
          recordBytes += append(stream, p, batches[p]);
        }
      }
      double writeSeconds = (System.nanoTime() - start) / 1e9;
      progress.accept(appended);

      Cut cut = stream.end();
      ScanReport scan = scanAll(stream, cut);
      return new Report(events, STREAM, partitions, stream.config().durability(), cut, recordBytes, writeSeconds,
          directorySize(logDir), logDir, events == 0 ? 0 : minTime, events == 0 ? 0 : maxTime, scan);
    }
  }

  private static long append(LogStream stream, int partition, RecordBatchBuilder b) {
    long bytes = b.sizeInBytes() - RecordBatchDescriptor.HEADER_LENGTH;
    stream.append(partition, b);
    b.clear();
    return bytes;
  }

  /** Reads every partition from its start to {@code end}, one reader (and thread) per partition. */
  static ScanReport scanAll(LogStream stream, Cut end) {
    int partitions = stream.partitions();
    ExecutorService pool = Executors.newFixedThreadPool(partitions, r -> {
      Thread t = new Thread(r, "braid-demo-reader");
      t.setDaemon(true);
      return t;
    });
    try {
      long start = System.nanoTime();
      List<Future<long[]>> results = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        int partition = p;
        results.add(pool.submit(() -> scanPartition(stream, partition, end.offset(partition))));
      }
      long events = 0;
      long bytes = 0;
      for (Future<long[]> f : results) {
        long[] r = f.get();
        events += r[0];
        bytes += r[1];
      }
      return new ScanReport(partitions, events, bytes, (System.nanoTime() - start) / 1e9);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while reading the log back", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof RuntimeException re ? re : new IllegalStateException(cause);
    } finally {
      pool.shutdownNow();
    }
  }

  private static long[] scanPartition(LogStream stream, int partition, long endOffset) {
    long events = 0;
    long bytes = 0;
    try (LogReader reader = stream.reader(partition, stream.startOffset(partition))) {
      while (reader.position() < endOffset) {
        RecordCursor c = reader.poll();
        boolean any = false;
        while (c.next() && c.offset() < endOffset) {
          any = true;
          events++;
          bytes += RecordBatchDescriptor.RECORD_HEADER_LENGTH + c.keyLength() + c.valueLength();
        }
        if (!any) {
          break; // the end moved backwards: cannot happen in an append-only log, but never spin
        }
      }
    }
    return new long[] {events, bytes};
  }

  static long directorySize(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(f -> {
        try {
          return Files.size(f);
        } catch (IOException e) {
          return 0; // a file that vanished does not take space
        }
      }).sum();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot measure " + dir, e);
    }
  }
}
