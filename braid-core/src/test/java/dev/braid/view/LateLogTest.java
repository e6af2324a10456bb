package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.LateEvent;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.StreamConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The late log records each late event once per view and lateness rule, on a real file log. */
class LateLogTest {

  @TempDir
  Path dir;

  private static LateLog.Pending late(String view, long offset) {
    return late(view, "r1", offset);
  }

  private static LateLog.Pending late(String view, String rule, long offset) {
    return new LateLog.Pending(view, rule, 1, offset, "k" + offset, 1_000 + offset, 5_000);
  }

  /** As the speed layer and the replays do: each event claimed as it is found late, then the claimed ones written. */
  private static void found(LateLog late, List<LateLog.Pending> pending) {
    late.record(pending.stream().filter(p -> late.claim(p.view(), p.rule(), p.partition(), p.offset())).toList());
  }

  @Test
  void shouldRecordAnEventThatTwoDeltasOfAViewFoundLateOnce() {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      // the old version's Delta and the new one's, catching up, fold the same chunk: both find 5 and 9
      // late; the new one started later in the chunk, so only the old one saw 3
      found(late, List.of(late("v", 3), late("v", 5), late("v", 9), late("w", 5), late("v", 5), late("v", 9)));
      found(late, List.of(late("v", 9), late("v", 11))); // the next chunk

      assertThat(late.read(0, 100, view -> view.equals("v") ? "r1" : null))
          .extracting(e -> e.view() + "@" + e.eventOffset() + (e.current() ? "" : " (not current)"))
          .containsExactly("v@3", "v@5", "v@9", "w@5 (not current)", "v@11");
      assertThat(late.count("v", "r1")).isEqualTo(4);
      assertThat(late.count("w", "r1")).isEqualTo(1);

      LateLog recovered = new LateLog(log.stream("s.late"), 2, () -> 43L);
      recovered.recover();
      assertThat(recovered.count("v", "r1")).isEqualTo(4);
      assertThat(recovered.isNew("v", "r1", 1, 11)).isFalse();
      assertThat(recovered.isNew("v", "r1", 1, 12)).isTrue();
    }
  }

  /**
   * A read finds the events counted before it began: one claimed (counted in status) but not yet
   * written is waited for, and a read does not wait for a claim it began before.
   */
  @Test
  void shouldWaitForClaimedEventsBeforeItReads() throws Exception {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      assertThat(late.claim("v", "r1", 1, 7)).isTrue();
      assertThat(late.count("v", "r1")).as("counted when claimed").isEqualTo(1);
      java.util.concurrent.CompletableFuture<List<LateEvent>> read =
          java.util.concurrent.CompletableFuture.supplyAsync(() -> late.read(0, 10, view -> "r1"));
      Thread.sleep(100);
      assertThat(read).as("a read waits while the claimed event is not written").isNotDone();
      late.record(List.of(late("v", 7)));
      assertThat(read.get(10, java.util.concurrent.TimeUnit.SECONDS)).extracting(LateEvent::eventOffset)
          .containsExactly(7L);

      assertThat(late.claim("v", "r1", 1, 8)).isTrue();
      late.release(List.of(late("v", 8))); // its thread failed: counted, never written
      assertThat(late.read(0, 10, view -> "r1")).extracting(LateEvent::eventOffset).containsExactly(7L);
    }
  }

  /**
   * A reprocessed version whose definition changes the lateness rule replays the whole log: the
   * events it finds late are recorded under its rule, also those the old rule recorded, and each
   * rule counts its own.
   */
  @Test
  void shouldRecordTheEventsANewRuleFindsLateUnderThatRule() {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      found(late, List.of(late("v", "r1", 5), late("v", "r1", 9)));

      assertThat(late.isNew("v", "r2", 1, 5)).isTrue();
      found(late, List.of(late("v", "r2", 2), late("v", "r2", 5), late("v", "r2", 9), late("v", "r2", 10)));

      assertThat(late.count("v", "r1")).isEqualTo(2);
      assertThat(late.count("v", "r2")).isEqualTo(4);
      // with r2's version discarded, r1 serves: a reader tells r2's records apart
      assertThat(late.read(0, 10, view -> "r1")).extracting(e -> e.eventOffset() + (e.current() ? "" : "?"))
          .containsExactly("5", "9", "2?", "5?", "9?", "10?");
      LateLog recovered = new LateLog(log.stream("s.late"), 2, () -> 43L);
      recovered.recover();
      assertThat(recovered.count("v", "r2")).isEqualTo(4);
      assertThat(recovered.isNew("v", "r1", 1, 10)).isTrue();
      assertThat(recovered.isNew("v", "r2", 1, 10)).isFalse();
    }
  }

  /** Records written before rules were recorded count for the rule of the version that serves the view. */
  @Test
  void shouldGiveRecordsWithoutARuleToTheServingVersionsRule() {
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.getOrCreateStream("s.late", StreamConfig.of(1));
      RecordBatchBuilder b = new RecordBatchBuilder(4096, s.config().maxRecordBytes());
      for (long offset : new long[] {4, 8}) {
        b.add("v".getBytes(StandardCharsets.UTF_8), ("{\"view\":\"v\",\"partition\":0,\"offset\":" + offset
            + ",\"key\":\"k\",\"eventTime\":1,\"watermark\":2}").getBytes(StandardCharsets.UTF_8), 1, 1);
      }
      s.append(0, b);
      LateLog late = new LateLog(s, 2, () -> 42L);
      late.recover();

      late.adoptUnruled("v", "r1");

      assertThat(late.count("v", "r1")).isEqualTo(2);
      assertThat(late.isNew("v", "r1", 0, 8)).isFalse();
      assertThat(late.isNew("v", "r1", 0, 9)).isTrue();
      assertThat(late.isNew("v", "r2", 0, 8)).as("another rule records them again").isTrue();
      assertThat(late.read(0, 10, view -> "r1")).extracting(e -> e.view() + "@" + e.eventOffset() + "/" + e.current())
          .containsExactly("v@4/true", "v@8/true");
      // once another rule serves, the adopted records are not current (as status no longer counts them)
      assertThat(late.read(0, 10, view -> "r2")).extracting(LateEvent::current).containsExactly(false, false);
    }
  }

  /**
   * A dropped view's records stay, but a view of its name starts without them: its marks and count
   * are empty (so it records the same events again) and reads show the old ones as not current,
   * also after a recover.
   */
  @Test
  void shouldForgetADroppedViewsRecords() {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      found(late, List.of(late("v", 3), late("v", 5), late("w", 5)));
      long end = log.stream("s.late").endOffset(0);
      late.forget("nobody");
      assertThat(log.stream("s.late").endOffset(0)).as("nothing to forget: nothing written").isEqualTo(end);

      late.forget("v");

      assertThat(late.count("v", "r1")).isZero();
      assertThat(late.count("w", "r1")).isEqualTo(1);
      assertThat(late.isNew("v", "r1", 1, 5)).isTrue();
      found(late, List.of(late("v", 5)));
      late.forget("w");
      found(late, List.of(late("w", 9)));
      // paged one at a time, the forget records between do not end a page early
      List<String> paged = new java.util.ArrayList<>();
      for (long from = 0; ; ) {
        List<LateEvent> page = late.read(from, 1, view -> "r1");
        if (page.isEmpty()) {
          break;
        }
        paged.add(page.get(0).view() + "@" + page.get(0).eventOffset());
        from = page.get(0).offset() + 1;
      }
      assertThat(paged).containsExactly("v@3", "v@5", "w@5", "v@5", "w@9");
      for (LateLog l : List.of(late, recovered(log))) {
        assertThat(l.count("v", "r1")).isEqualTo(1);
        assertThat(l.isNew("v", "r1", 1, 5)).isFalse();
        assertThat(l.read(0, 10, view -> "r1")).extracting(e -> e.view() + "@" + e.eventOffset() + "/" + e.current())
            .containsExactly("v@3/false", "v@5/false", "w@5/false", "v@5/true", "w@9/true");
      }
    }
  }

  /**
   * Records of events that the stream's log lost with its tail (a power loss under durability os)
   * count for nothing once the log is seen to end before them: the new events that get those offsets
   * are claimed and recorded as any other, and a later start, with the log grown past them again,
   * does not take the old records for theirs (found by the crash review: the new late events were
   * left out of a kappa view and never recorded).
   */
  @Test
  void shouldForgetRecordsOfEventsTheStreamsLogLost() {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      found(late, List.of(late("v", 1), late("v", 2), late("v", 3)));
      assertThat(late.count("v", "r1")).isEqualTo(3);

      LateLog afterLoss = new LateLog(log.stream("s.late"), 2, () -> 43L);
      afterLoss.recover(dev.braid.log.Cut.of(5, 2)); // partition 1 now ends at offset 2: events 2 and 3 are gone
      assertThat(afterLoss.count("v", "r1")).isEqualTo(1);
      assertThat(afterLoss.isNew("v", "r1", 1, 2)).as("offset 2 names a new event now").isTrue();
      found(afterLoss, List.of(late("v", 2)));
      assertThat(afterLoss.read(0, 10, view -> "r1")).extracting(e -> e.eventOffset() + "/" + e.current())
          .containsExactly("1/true", "2/false", "3/false", "2/true");

      LateLog later = new LateLog(log.stream("s.late"), 2, () -> 44L);
      later.recover(dev.braid.log.Cut.of(5, 9)); // the log grew past them again
      assertThat(later.count("v", "r1")).isEqualTo(2);
      assertThat(later.isNew("v", "r1", 1, 3)).as("the lost record of 3 does not stand for the new event 3").isTrue();
      assertThat(later.read(0, 10, view -> "r1")).extracting(e -> e.eventOffset() + "/" + e.current())
          .containsExactly("1/true", "2/false", "3/false", "2/true");
    }
  }

  private static LateLog recovered(FileLog log) {
    LateLog l = new LateLog(log.stream("s.late"), 2, () -> 43L);
    l.recover();
    return l;
  }
}
