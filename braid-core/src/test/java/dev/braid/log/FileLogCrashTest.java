package dev.braid.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.braid.log.LogTestSupport.Rec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guarantee 2 of DESIGN.md with a real process: a record acknowledged under {@code fsync}
 * durability survives {@code kill -9}. A child JVM ({@link CrashAppender}) appends from several
 * threads and prints every acknowledgment; the test kills it with SIGKILL after a seeded number of
 * acknowledgments, reopens the directory, and finds every acknowledged record, byte for byte, at
 * its acknowledged offset. Several rounds run on the same directory, so later rounds also recover
 * what earlier kills left.
 */
class FileLogCrashTest {

  private static final long SEED = 20_240_611L;
  private static final int ROUNDS = 5;
  private static final int THREADS = 4;

  @TempDir
  Path tmp;

  private record Ack(int partition, long offset, String id) {}

  @Test
  void shouldKeepEveryAcknowledgedRecordThroughKillNine() throws Exception {
    Random random = new Random(SEED);
    Path dir = tmp.resolve("log");
    List<Ack> acknowledged = new ArrayList<>();

    for (int round = 0; round < ROUNDS; round++) {
      int killAfter = 1 + random.nextInt(400);
      String context = String.format("seed %d round %d (killed after %d acks)", SEED, round, killAfter);
      List<Ack> acks = runAndKill(dir, round, killAfter, context);
      assertThat(acks.size()).as(context).isGreaterThanOrEqualTo(killAfter);
      acknowledged.addAll(acks);

      try (FileLog log = FileLog.open(dir)) {
        LogStream s = log.stream(CrashAppender.STREAM);
        Set<String> seen = new HashSet<>();
        List<Map<Long, Rec>> byOffset = readEverything(s, seen, context);
        for (Ack ack : acknowledged) {
          Rec found = byOffset.get(ack.partition()).get(ack.offset());
          assertThat(found).as("%s: acknowledged %s", context, ack).isNotNull();
          assertThat(found).as("%s: acknowledged %s", context, ack).isEqualTo(expected(ack.offset(), ack.id()));
        }
      }
    }
  }

  /** Reads every partition whole: offsets dense from 0, every record id once, every record intact. */
  private static List<Map<Long, Rec>> readEverything(LogStream s, Set<String> seen, String context) {
    List<Map<Long, Rec>> byOffset = new ArrayList<>();
    for (int p = 0; p < s.partitions(); p++) {
      byOffset.add(new HashMap<>());
      long expectedOffset = 0;
      for (Rec r : LogTestSupport.readAll(s, p, 0)) {
        assertThat(r.offset()).as("%s: partition %d has no gaps", context, p).isEqualTo(expectedOffset++);
        String id = new String(HexFormat.of().parseHex(r.key()), StandardCharsets.UTF_8);
        assertThat(seen.add(id)).as("%s: record %s appears once", context, id).isTrue();
        // Records written but not yet acknowledged when the kill came may be there too; whatever is
        // there must be whole.
        assertThat(r).as("%s: record %s", context, id).isEqualTo(expected(r.offset(), id));
        byOffset.get(p).put(r.offset(), r);
      }
      assertThat(s.endOffset(p)).as(context).isEqualTo(expectedOffset);
    }
    return byOffset;
  }

  private static Rec expected(long offset, String id) {
    return Rec.of(offset, CrashAppender.key(id), CrashAppender.value(id), CrashAppender.eventTime(id),
        CrashAppender.ingestTime(id));
  }

  /** Runs one {@link CrashAppender} until it acknowledged {@code killAfter} records, then SIGKILLs it. */
  private List<Ack> runAndKill(Path dir, int round, int killAfter, String context) throws Exception {
    Path stderr = tmp.resolve("appender-" + round + ".err");
    List<Ack> acks = new ArrayList<>();
    ReentrantLock lock = new ReentrantLock();
    Condition progressed = lock.newCondition();
    boolean[] ended = {false};
    Process child = ChildJvm.start(stderr, CrashAppender.class, dir.toString(), Integer.toString(round),
        Integer.toString(THREADS));
    try {
      Thread reader = ChildJvm.readLines(child.getInputStream(), line -> {
        lock.lock();
        try {
          if (line.startsWith("ACK ")) {
            String[] f = line.split(" ");
            acks.add(new Ack(Integer.parseInt(f[1]), Long.parseLong(f[2]), f[3]));
          }
          progressed.signalAll();
        } finally {
          lock.unlock();
        }
      });
      Thread ender = new Thread(() -> {
        try {
          reader.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        lock.lock();
        try {
          ended[0] = true;
          progressed.signalAll();
        } finally {
          lock.unlock();
        }
      });
      ender.setDaemon(true);
      ender.start();

      lock.lock();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); // a hang guard, not a timing check
        while (acks.size() < killAfter && !ended[0]) {
          if (!progressed.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
            fail("%s: only %d acknowledgments; child stderr:%n%s", context, acks.size(), ChildJvm.stderrOf(stderr));
          }
        }
        if (ended[0]) {
          fail("%s: the appender ended by itself after %d acknowledgments; stderr:%n%s", context, acks.size(),
              ChildJvm.stderrOf(stderr));
        }
      } finally {
        lock.unlock();
      }

      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).as(context).isTrue();
      assertThat(child.exitValue()).as("%s: the child died of SIGKILL", context).isEqualTo(ChildJvm.KILLED_BY_SIGKILL);
      reader.join(TimeUnit.SECONDS.toMillis(30));
      assertThat(reader.isAlive()).as("%s: stdout fully read", context).isFalse();
      lock.lock();
      try {
        return new ArrayList<>(acks);
      } finally {
        lock.unlock();
      }
    } finally {
      child.destroyForcibly();
    }
  }
}
