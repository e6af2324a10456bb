package dev.braid.log;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The child process of {@link FileLogCrashTest}: appends with {@code fsync} durability from a few
 * threads and prints one line per acknowledged record, {@code ACK <partition> <offset> <id>},
 * flushed before the thread appends again. Runs until it is killed (or, as a safety net when the
 * test died first, for at most a minute).
 *
 * <p>Usage: {@code CrashAppender <log dir> <round> <threads>}. Record ids are
 * {@code <round>-<thread>-<batch>-<index>}, so they are unique across rounds; key, value and times
 * are derived from the id ({@link #key}, {@link #value}, {@link #eventTime}), so the test can
 * check every byte without being told them.
 */
public final class CrashAppender {

  static final String STREAM = "crash";
  static final StreamConfig CONFIG =
      new StreamConfig(3, Durability.fsync(), 8192, StreamConfig.DEFAULT_MAX_RECORD_BYTES);

  private CrashAppender() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    String round = args[1];
    int threads = Integer.parseInt(args[2]);
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    PrintStream out = System.out;
    FileLog log = FileLog.open(dir);
    LogStream stream = log.getOrCreateStream(STREAM, CONFIG);
    synchronized (out) {
      out.println("READY");
      out.flush();
    }
    Thread[] workers = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      int thread = t;
      workers[t] = new Thread(() -> {
        RecordBatchBuilder b = new RecordBatchBuilder();
        String[] ids = new String[4];
        for (int batch = 0; System.nanoTime() < deadline; batch++) {
          b.clear();
          int count = 1 + (batch + thread) % 4;
          for (int i = 0; i < count; i++) {
            ids[i] = round + "-" + thread + "-" + batch + "-" + i;
            b.add(key(ids[i]), value(ids[i]), eventTime(ids[i]), ingestTime(ids[i]));
          }
          int partition = (thread + batch) % CONFIG.partitions();
          AppendResult r = stream.append(partition, b);
          synchronized (out) {
            for (int i = 0; i < count; i++) {
              out.println("ACK " + partition + " " + r.offset(i) + " " + ids[i]);
            }
            out.flush();
          }
        }
      }, "appender-" + t);
      workers[t].start();
    }
    for (Thread w : workers) {
      w.join();
    }
    log.close();
  }

  static byte[] key(String id) {
    return id.getBytes(StandardCharsets.UTF_8);
  }

  /** 0 to 600 bytes that depend on the id only. */
  static byte[] value(String id) {
    Random r = new Random(id.hashCode());
    byte[] v = new byte[r.nextInt(601)];
    r.nextBytes(v);
    return v;
  }

  static long eventTime(String id) {
    return new Random(~id.hashCode()).nextLong();
  }

  static long ingestTime(String id) {
    return id.length() * 1_000_003L;
  }
}
