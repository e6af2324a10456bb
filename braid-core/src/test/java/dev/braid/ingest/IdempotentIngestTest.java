package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.braid.IngestResult;
import dev.braid.event.FieldType;
import dev.braid.log.FileLog;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import dev.braid.spec.StreamSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Idempotent ingest over a real {@link FileLog}: retried requests (same idempotency key) and
 * re-sent events (same id field) are acknowledged with their original positions and appended once,
 * within the dedup window and across a rebuild of the index from the log.
 */
class IdempotentIngestTest {

  private static final int PARTITIONS = 3;

  @TempDir
  Path dir;

  private FileLog log;
  private LogStream stream;
  private final AtomicLong clock = new AtomicLong(1_000_000_000L);

  private static StreamSpec.Builder payments() {
    return StreamSpec.builder("pay").partitions(PARTITIONS).key("user").time("ts")
        .field("user", FieldType.STRING).field("txn", FieldType.STRING).field("seq", FieldType.LONG)
        .field("amount", FieldType.DOUBLE).field("ts", FieldType.TIMESTAMP).rule("amount >= 0.0");
  }

  @BeforeEach
  void openLog() {
    log = FileLog.open(dir.resolve("log"));
    stream = log.createStream("pay", StreamConfig.of(PARTITIONS));
  }

  @AfterEach
  void closeLog() {
    log.close();
  }

  private Ingestor ingestor(StreamSpec spec) {
    return new Ingestor(spec, stream, clock::get);
  }

  private static Map<String, Object> event(String user, String txn, double amount) {
    Map<String, Object> e = new HashMap<>();
    e.put("user", user);
    if (txn != null) {
      e.put("txn", txn);
    }
    e.put("seq", 7L);
    e.put("amount", amount);
    e.put("ts", 1_700_000_000_000L);
    return e;
  }

  private static List<Map<String, Object>> events(int n, String prefix) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(event("u" + (i % 5), prefix + i, i));
    }
    return out;
  }

  /** Every record of the stream: its id, or null. */
  private List<String> idsInLog() {
    List<String> ids = new ArrayList<>();
    for (int p = 0; p < PARTITIONS; p++) {
      try (LogReader r = stream.reader(p, 0)) {
        while (r.position() < stream.endOffset(p)) {
          RecordCursor c = r.poll();
          while (c.next()) {
            ids.add(c.id());
          }
        }
      }
    }
    return ids;
  }

  @Test
  void shouldAcknowledgeRetriedRequestWithOriginalPositions() {
    Ingestor in = ingestor(payments().build());
    IngestResult first = in.ingestMaps(events(10, "t"), "req-1");
    clock.addAndGet(60_000);
    IngestResult retry = in.ingestMaps(events(10, "t"), "req-1");

    assertThat(first.accepted()).isEqualTo(10);
    assertThat(first.duplicates()).isZero();
    assertThat(retry.accepted()).isEqualTo(10);
    assertThat(retry.duplicates()).isEqualTo(10);
    assertThat(retry.positions()).isEqualTo(first.positions());
    assertThat(idsInLog()).hasSize(10).doesNotHaveDuplicates().allMatch(id -> id.startsWith("req-1#"));
  }

  @Test
  void shouldAppendTheSameEventsAgainUnderAnotherKey() {
    Ingestor in = ingestor(payments().build());
    in.ingestMaps(events(4, "t"), "a");
    IngestResult other = in.ingestMaps(events(4, "t"), "b");
    assertThat(other.duplicates()).isZero();
    assertThat(idsInLog()).hasSize(8);
  }

  /**
   * A key reused for other events is refused whole, naming how they differ, and appends nothing:
   * the same number of events with other values, more events whose first ones match (which would
   * otherwise append the extra ones beside events stored under the next key), or fewer.
   */
  @Test
  void shouldRefuseAKeyReusedForOtherEventsOrAnotherNumberOfThem() {
    Ingestor in = ingestor(payments().build());
    IngestResult first = in.ingestMaps(events(4, "t"), "k");
    assertThatThrownBy(() -> in.ingestMaps(events(4, "x"), "k"))
        .isInstanceOf(dev.braid.IdempotencyConflictException.class)
        .hasMessageContaining("Idempotency-Key 'k' was used for other events within the dedup window of stream 'pay'")
        .hasMessageContaining("event 0 differs from the event stored for it at partition")
        .hasMessageContaining("nothing of this request was ingested");
    assertThatThrownBy(() -> in.ingestMaps(events(5, "t"), "k"))
        .isInstanceOf(dev.braid.IdempotencyConflictException.class)
        .hasMessageContaining("that request had 4 events, this one has 5");
    assertThatThrownBy(() -> in.ingestMaps(events(3, "t"), "k"))
        .hasMessageContaining("that request had 4 events, this one has 3");
    assertThat(idsInLog()).hasSize(4);
    IngestResult retry = in.ingestMaps(events(4, "t"), "k");
    assertThat(retry.duplicates()).isEqualTo(4);
    assertThat(retry.positions()).isEqualTo(first.positions());
    // the refused requests claimed nothing: their events go in under a key of their own
    assertThat(in.ingestMaps(events(5, "t"), "k2").duplicates()).isZero();
    assertThat(idsInLog()).hasSize(9);
  }

  /**
   * A retry in which an event the first request stored now fails a rule is refused whole: that
   * event was appended, and answering it as rejected would tell the client otherwise. An event
   * rejected both times is the same answer again.
   */
  @Test
  void shouldRefuseARetryThatRejectsAnEventTheFirstRequestStored() {
    Ingestor in = ingestor(payments().build());
    List<Map<String, Object>> sent = events(4, "t");
    sent.set(3, event("u3", "t3", -1)); // rejected by the rule amount >= 0.0
    IngestResult first = in.ingestMaps(sent, "k");
    assertThat(first.rejections()).extracting(IngestResult.Rejection::index).containsExactly(3);
    List<Map<String, Object>> changed = new ArrayList<>(sent);
    changed.set(2, event("u2", "t2", -1));
    assertThatThrownBy(() -> in.ingestMaps(changed, "k"))
        .isInstanceOf(dev.braid.IdempotencyConflictException.class)
        .hasMessageContaining("Idempotency-Key 'k' of stream 'pay' stored events that this request cannot be answered "
            + "for as before: event 2 is stored at partition")
        .hasMessageContaining("(the event or the stream's rules changed since)")
        .hasMessageContaining("by the request first sent with this key, and this time it is rejected: ")
        .hasMessageContaining("amount >= 0.0");
    changed.set(1, event("u1", "other", 1)); // an earlier event that differs is named first
    assertThatThrownBy(() -> in.ingestMaps(changed, "k")).hasMessageContaining("event 1 differs from the event stored");
    IngestResult retry = in.ingestMaps(sent, "k");
    assertThat(retry.duplicates()).isEqualTo(3);
    assertThat(retry.rejections()).extracting(IngestResult.Rejection::index).containsExactly(3);
    assertThat(idsInLog()).hasSize(3);

    // the same events, after the stream's rules changed (a restart with another spec rebuilds the index)
    Ingestor stricter = ingestor(payments().rule("amount < 1.5").build());
    stricter.rebuildDedupIndex();
    assertThatThrownBy(() -> stricter.ingestMaps(sent, "k"))
        .isInstanceOf(dev.braid.IdempotencyConflictException.class)
        .hasMessageContaining("event 2 is stored at partition")
        .hasMessageContaining("amount < 1.5");
    assertThat(idsInLog()).hasSize(3);
  }

  /**
   * An append that fails part-way keeps the partitions it stored; the retry of that request (the
   * same size, the events found the same) appends the rest.
   */
  @Test
  void shouldAppendTheRestOfARequestWhoseAppendFailedPartWay() {
    FaultyStream failing = new FaultyStream(stream);
    Ingestor in = new Ingestor(payments().build(), failing, clock::get);
    List<Map<String, Object>> batch = events(10, "t");
    int last = -1; // the last partition any event goes to: those before it are appended
    for (Map<String, Object> e : batch) {
      last = Math.max(last, stream.partitionFor(((String) e.get("user")).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
    failing.failAppendsTo = last;
    assertThatThrownBy(() -> in.ingestMaps(batch, "k")).hasMessageContaining("injected");
    int stored = idsInLog().size();
    assertThat(stored).as("the first event's partition was appended").isGreaterThan(0).isLessThan(10);
    failing.failAppendsTo = -1;
    IngestResult retry = in.ingestMaps(batch, "k");
    assertThat(retry.duplicates()).isEqualTo(stored);
    assertThat(idsInLog()).hasSize(10);
  }

  /** A one-event request has no other event to compare: the key's own entry still knows its size. */
  @Test
  void shouldRefuseALargerRequestAfterAOneEventRequestWithTheSameKey() {
    Ingestor in = ingestor(payments().build());
    in.ingestMaps(events(1, "t"), "k");
    assertThatThrownBy(() -> in.ingestMaps(events(3, "t"), "k"))
        .hasMessageContaining("that request had 1 events, this one has 3");
    assertThatThrownBy(() -> in.ingestMaps(events(1, "x"), "k")).hasMessageContaining("event 0 differs");
    assertThat(idsInLog()).containsExactly("k#0/1");
  }

  /**
   * An event's id does not depend on which other events were valid: one rejected at the first
   * attempt (here by max_future, which depends on the clock) and accepted at the retry is appended
   * then, and the others are found, not appended twice.
   */
  @Test
  void shouldNotAppendTwiceWhenTheRetryAcceptsAnEventTheFirstAttemptRejected() {
    clock.set(1_764_000_000_000L);
    Ingestor in = ingestor(payments().maxFuture(java.time.Duration.ofSeconds(10)).build());
    List<Map<String, Object>> batch = events(3, "t");
    batch.get(0).put("ts", clock.get() + 15_000L); // 15 s ahead: rejected now, accepted 6 s later
    for (Map<String, Object> e : batch.subList(1, 3)) {
      e.put("ts", clock.get());
    }
    IngestResult first = in.ingestMaps(batch, "k");
    assertThat(first.rejections()).extracting(IngestResult.Rejection::index).containsExactly(0);
    clock.addAndGet(6_000L);
    IngestResult retry = in.ingestMaps(batch, "k");
    assertThat(retry.rejections()).isEmpty();
    assertThat(retry.duplicates()).isEqualTo(2);
    assertThat(idsInLog()).containsExactlyInAnyOrder("k#0/3", "k#1/3", "k#2/3");
  }

  /** The key's entry is rebuilt from the log at open: a restarted ingest still refuses another size. */
  @Test
  void shouldRefuseAnotherSizeAfterTheIndexIsRebuiltFromTheLog() {
    ingestor(payments().build()).ingestMaps(events(4, "t"), "k");
    Ingestor reopened = ingestor(payments().build());
    assertThat(reopened.rebuildDedupIndex()).isEqualTo(4);
    assertThatThrownBy(() -> reopened.ingestMaps(events(6, "t"), "k"))
        .hasMessageContaining("that request had 4 events, this one has 6");
    assertThat(reopened.ingestMaps(events(4, "t"), "k").duplicates()).isEqualTo(4);
    assertThat(idsInLog()).hasSize(4);
  }

  /** A log read that fails during the comparison releases what the request reserved: the next retry does not wait. */
  @Test
  void shouldReleaseItsClaimsWhenReadingTheStoredEventsFails() throws Exception {
    FaultyStream flaky = new FaultyStream(stream);
    Ingestor in = new Ingestor(payments().build(), flaky, clock::get);
    flaky.failAppendsTo = PARTITIONS - 1; // the first attempt stores part of the request
    assertThatThrownBy(() -> in.ingestMaps(events(5, "t"), "k")).hasMessageContaining("injected");
    int stored = idsInLog().size();
    assertThat(stored).isBetween(1, 4);
    flaky.failAppendsTo = -1;
    flaky.failReads = true; // the retry reserves the missing events' ids, then cannot compare the others
    assertThatThrownBy(() -> in.ingestMaps(events(5, "t"), "k")).hasMessageContaining("injected");
    flaky.failReads = false;
    java.util.concurrent.ExecutorService other = java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      java.util.concurrent.Future<IngestResult> retry = other.submit(() -> in.ingestMaps(events(5, "t"), "k"));
      assertThat(retry.get(10, java.util.concurrent.TimeUnit.SECONDS).duplicates()).isEqualTo(stored);
    } finally {
      other.shutdownNow();
    }
    assertThat(idsInLog()).hasSize(5);
  }

  /**
   * A key whose first request had rejected events, reused for other events, is refused whole, also
   * at the rejected places (found by the HTTP review): before, only the events the first request
   * stored were compared, so another event where it had a rejected one was appended (and one
   * rejected again answered as a duplicate), and the first request's true retry was then refused.
   * The request's hash, which its dead letters name, is compared; it survives a restart.
   */
  @Test
  void shouldRefuseOtherEventsWhereTheFirstRequestHadRejectedOnes() {
    LogStream dead = log.createStream("pay" + Ingestor.DEAD_LETTER_SUFFIX, StreamConfig.of(1));
    Ingestor in = new Ingestor(payments().build(), stream, dead, clock::get);
    List<Map<String, Object>> batch = events(3, "t");
    batch.set(1, event("u1", "t1", -1));
    IngestResult first = in.ingestMaps(batch, "k");
    assertThat(first.rejections()).extracting(IngestResult.Rejection::index).containsExactly(1);
    List<Map<String, Object>> filled = new ArrayList<>(batch);
    filled.set(1, event("u1", "t1", 7));
    List<Map<String, Object>> otherRejected = new ArrayList<>(batch);
    otherRejected.set(1, event("u1", "t1", -2));
    for (List<Map<String, Object>> other : List.of(filled, otherRejected)) {
      assertThatThrownBy(() -> in.ingestMaps(other, "k")).isInstanceOf(dev.braid.IdempotencyConflictException.class)
          .hasMessageContaining("Idempotency-Key 'k' was used for other events")
          .hasMessageContaining("the request first sent with it had events that were rejected, and this one sends "
              + "other events");
    }
    // a first request whose events were all rejected stored nothing, and still names its events
    Ingestor reopened = new Ingestor(payments().build(), stream, dead, clock::get);
    reopened.rebuildDedupIndex();
    assertThatThrownBy(() -> reopened.ingestMaps(filled, "k")).as("after a restart")
        .isInstanceOf(dev.braid.IdempotencyConflictException.class);
    assertThat(reopened.ingestMaps(List.of(event("u2", "r", -1)), "r").rejections()).hasSize(1);
    for (double amount : new double[] {-2, 3}) {
      assertThatThrownBy(() -> reopened.ingestMaps(List.of(event("u2", "r", amount)), "r"))
          .as("amount " + amount).isInstanceOf(dev.braid.IdempotencyConflictException.class);
    }
    assertThat(idsInLog()).containsExactlyInAnyOrder("k#0/3", "k#2/3");
    IngestResult retry = reopened.ingestMaps(batch, "k");
    assertThat(retry.positions()).isEqualTo(first.positions());
    assertThat(retry.rejections()).isEqualTo(first.rejections());
    assertThat(first.rejectedBefore()).isZero();
    assertThat(retry.rejectedBefore()).as("the retry says its rejection was dead-lettered before").isEqualTo(1);
    IngestResult allRejected = reopened.ingestMaps(List.of(event("u2", "r", -1)), "r");
    assertThat(allRejected.rejections()).hasSize(1);
    assertThat(allRejected.rejectedBefore()).as("a retry of a request that stored nothing").isEqualTo(1);
    assertThat(dead.endOffset(0)).as("each rejected event dead-lettered once").isEqualTo(2);
    assertThat(reopened.ingestMaps(List.of(event("u3", "q", -1)), "q").rejectedBefore()).as("a new key").isZero();
  }

  @Test
  void shouldKeepRejectionsAndAcknowledgeTheGoodEventsOfARetry() {
    Ingestor in = ingestor(payments().build());
    List<Map<String, Object>> batch = events(5, "t");
    batch.set(2, event("u1", "t2", -1));
    IngestResult first = in.ingestMaps(batch, "k");
    IngestResult retry = in.ingestMaps(batch, "k");
    assertThat(first.rejections()).extracting(IngestResult.Rejection::index).containsExactly(2);
    assertThat(retry.rejections()).isEqualTo(first.rejections());
    assertThat(retry.positions()).isEqualTo(first.positions());
    assertThat(retry.duplicates()).isEqualTo(4);
    assertThat(idsInLog()).containsExactlyInAnyOrder("k#0/5", "k#1/5", "k#3/5", "k#4/5");
  }

  @Test
  void shouldNotAppendAReSentEventWithTheSameIdField() {
    Ingestor in = ingestor(payments().id("txn").build());
    IngestResult first = in.ingestMaps(List.of(event("ann", "tx-1", 1), event("bob", "tx-2", 2)));
    IngestResult again = in.ingestMaps(List.of(event("bob", "tx-2", 2), event("cid", "tx-3", 3)));
    assertThat(again.accepted()).isEqualTo(2);
    assertThat(again.duplicates()).isEqualTo(1);
    int bobPartition = stream.partitionFor("bob".getBytes());
    assertThat(again.positions().get(bobPartition)).contains(first.positions().get(bobPartition).get(
        first.positions().get(bobPartition).size() - 1));
    assertThat(idsInLog()).containsExactlyInAnyOrder("tx-1", "tx-2", "tx-3");
  }

  /**
   * An event the stream holds, re-sent after the rules changed so that it fails them now, is
   * answered as the duplicate it is (its stored position), not as rejected, and is not
   * dead-lettered: its views count it. So is a refused event whose id an accepted event of the same
   * request carries (a retry of the request would answer it so). A new event that fails is
   * rejected as before.
   */
  @Test
  void shouldAnswerAStoredEventThatTheRulesRefuseNowAsADuplicate() {
    LogStream deadLetters = log.createStream("pay" + Ingestor.DEAD_LETTER_SUFFIX, StreamConfig.of(1));
    Ingestor in = new Ingestor(payments().id("txn").build(), stream, deadLetters, clock::get);
    IngestResult first = in.ingestMaps(List.of(event("ann", "tx-1", 1), event("ann", "tx-2", 2)));
    List<Long> annOffsets = first.positions().get(stream.partitionFor("ann".getBytes()));

    Ingestor stricter = new Ingestor(payments().id("txn").rule("amount < 1.5").build(), stream, deadLetters,
        clock::get);
    stricter.rebuildDedupIndex();
    List<Map<String, Object>> request = List.of(event("ann", "tx-2", 2), event("ann", "tx-3", 5),
        event("ann", "tx-4", 1), event("ann", "tx-5", 9), event("ann", "tx-5", 1), event("ann", "tx-1", 1));
    IngestResult again = stricter.ingestMaps(request);

    assertThat(again.rejections()).containsExactly(new IngestResult.Rejection(1, "rule failed: amount < 1.5"));
    assertThat(again.accepted()).isEqualTo(5);
    assertThat(again.duplicates()).isEqualTo(3);
    List<Long> offsets = again.positions().get(stream.partitionFor("ann".getBytes()));
    assertThat(offsets).as("request order: tx-2, tx-4, tx-5, tx-5, tx-1").hasSize(5);
    assertThat(offsets.get(0)).isEqualTo(annOffsets.get(1));
    assertThat(offsets.get(4)).isEqualTo(annOffsets.get(0));
    assertThat(offsets.get(1)).isGreaterThan(annOffsets.get(1));
    assertThat(offsets.get(3)).isGreaterThan(offsets.get(1));
    assertThat(offsets.get(2)).as("the refused tx-5 is the accepted one's duplicate").isEqualTo(offsets.get(3));
    assertThat(idsInLog()).containsExactlyInAnyOrder("tx-1", "tx-2", "tx-4", "tx-5");
    assertThat(stricter.deadLetters(0, 10)).extracting(d -> d.event())
        .as("only the event refused and not stored").singleElement().asString().contains("tx-3");

    IngestResult retry = stricter.ingestMaps(request);
    assertThat(retry.rejections()).isEqualTo(again.rejections());
    assertThat(retry.positions()).as("a retry is answered as the request was").isEqualTo(again.positions());
    assertThat(retry.duplicates()).isEqualTo(5);
  }

  @Test
  void shouldPreferTheIdFieldOverTheIdempotencyKey() {
    Ingestor in = ingestor(payments().id("txn").build());
    in.ingestMaps(List.of(event("ann", "tx-1", 1)), "key-a");
    IngestResult r = in.ingestMaps(List.of(event("ann", "tx-1", 1)), "key-b");
    assertThat(r.duplicates()).isEqualTo(1);
    assertThat(idsInLog()).containsExactly("tx-1");
  }

  @Test
  void shouldUseTheDecimalValueOfALongIdField() {
    Ingestor in = ingestor(payments().id("seq").build());
    IngestResult r = in.ingestMaps(List.of(event("ann", "a", 1), event("bob", "b", 2)));
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.duplicates()).as("both have seq 7").isEqualTo(1);
    assertThat(idsInLog()).containsExactly("7");
  }

  @Test
  void shouldCountAnIdRepeatedInsideOneRequestAsADuplicate() {
    Ingestor in = ingestor(payments().id("txn").build());
    IngestResult r = in.ingestMaps(List.of(event("ann", "tx-1", 1), event("ann", "tx-1", 1), event("ann", "tx-2", 1)));
    assertThat(r.accepted()).isEqualTo(3);
    assertThat(r.duplicates()).isEqualTo(1);
    List<Long> offsets = r.positions().get(stream.partitionFor("ann".getBytes()));
    assertThat(offsets).hasSize(3);
    assertThat(offsets.get(1)).isEqualTo(offsets.get(0));
    assertThat(idsInLog()).containsExactlyInAnyOrder("tx-1", "tx-2");
  }

  @Test
  void shouldRejectAnEventWithoutItsIdFieldWithTheReason() {
    Ingestor in = ingestor(payments().id("txn").build());
    IngestResult r = in.ingestMaps(List.of(event("ann", null, 1), event("ann", "", 1), event("ann", "tx", 1)));
    assertThat(r.rejections()).containsExactly(
        new IngestResult.Rejection(0, "event id field 'txn' is missing or null"),
        new IngestResult.Rejection(1, "event id field 'txn' is empty"));
    assertThat(r.accepted()).isEqualTo(1);
  }

  @Test
  void shouldRefuseABadIdempotencyKey() {
    Ingestor in = ingestor(payments().build());
    assertThatThrownBy(() -> in.ingestMaps(events(1, "t"), ""))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("idempotency key is empty");
    assertThatThrownBy(() -> in.ingestMaps(events(1, "t"), "x".repeat(257)))
        .hasMessage("idempotency key is 257 characters long; at most 256");
    assertThatThrownBy(() -> in.ingestMaps(events(1, "t"), "a\tb"))
        .hasMessage("idempotency key has a character that is not printable ASCII (U+0009) at index 1");
    assertThat(idsInLog()).isEmpty();
  }

  @Test
  void shouldAppendAgainOnceTheDedupWindowHasPassed() {
    Ingestor in = ingestor(payments().dedupWindow(Duration.ofMinutes(10)).build());
    IngestResult first = in.ingestMaps(events(3, "t"), "k");
    clock.addAndGet(Duration.ofMinutes(10).toMillis() - 1);
    assertThat(in.ingestMaps(events(3, "t"), "k").duplicates()).as("just inside the window").isEqualTo(3);
    clock.addAndGet(2);
    IngestResult late = in.ingestMaps(events(3, "t"), "k");
    assertThat(late.duplicates()).as("past the window").isZero();
    assertThat(late.positions()).isNotEqualTo(first.positions());
    assertThat(idsInLog()).hasSize(6);
  }

  @Test
  void shouldRebuildTheIndexFromTheLogWithinTheWindow() {
    StreamSpec spec = payments().dedupWindow(Duration.ofHours(1)).build();
    Ingestor in = ingestor(spec);
    IngestResult old = in.ingestMaps(events(4, "t"), "old");
    clock.addAndGet(Duration.ofMinutes(40).toMillis());
    IngestResult recent = in.ingestMaps(events(4, "t"), "recent");
    in.ingestMaps(events(2, "t")); // no ids: not indexed
    clock.addAndGet(Duration.ofMinutes(30).toMillis()); // "old" is now 70 minutes old

    Ingestor reopened = ingestor(spec);
    assertThat(reopened.rebuildDedupIndex()).isEqualTo(4);
    assertThat(reopened.dedupEntries()).as("four ids and the key's own entry").isEqualTo(5);
    IngestResult retried = reopened.ingestMaps(events(4, "t"), "recent");
    assertThat(retried.duplicates()).isEqualTo(4);
    assertThat(retried.positions()).isEqualTo(recent.positions());
    assertThat(reopened.ingestMaps(events(4, "t"), "old").duplicates()).as("outside the window").isZero();
    assertThat(old.accepted()).isEqualTo(4);
  }

  /**
   * A rebuild after a long history (hundreds of batches per partition, so the rebuild's search
   * for the window's first record really searches) holds exactly the ids ingested inside the
   * window: a naive model of every id with its last ingest time says which are still duplicates.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "seed {0}")
  @org.junit.jupiter.params.provider.ValueSource(longs = {1, 2, 3})
  void shouldRebuildExactlyTheIdsInsideTheWindowAfterALongHistory(long seed) {
    java.util.Random random = new java.util.Random(seed);
    Duration window = Duration.ofMinutes(30);
    StreamSpec spec = payments().id("txn").dedupWindow(window).build();
    Ingestor in = ingestor(spec);
    Map<String, Long> firstIngested = new HashMap<>();
    for (int request = 0; request < 600; request++) {
      List<Map<String, Object>> batch = new ArrayList<>();
      for (int i = 1 + random.nextInt(5); i > 0; i--) {
        String txn = "t" + random.nextInt(2_000);
        batch.add(event("u" + random.nextInt(50), txn, 1));
        Long seen = firstIngested.get(txn);
        if (seen == null || seen < clock.get() - window.toMillis()) {
          firstIngested.put(txn, clock.get()); // appended (again): a new entry
        }
      }
      in.ingestMaps(batch);
      clock.addAndGet(random.nextInt(20_000));
    }
    long horizon = clock.get() - window.toMillis();
    long inside = firstIngested.values().stream().filter(t -> t >= horizon).count();

    Ingestor reopened = ingestor(spec);
    reopened.rebuildDedupIndex();
    for (Map.Entry<String, Long> e : firstIngested.entrySet()) {
      IngestResult again = reopened.ingestMaps(List.of(event("u0", e.getKey(), 1)));
      assertThat(again.duplicates()).as("seed %d: %s first ingested at %d, horizon %d", seed, e.getKey(),
          e.getValue(), horizon).isEqualTo(e.getValue() >= horizon ? 1 : 0);
    }
    assertThat(inside).as("seed %d: the history must leave ids on both sides of the horizon", seed)
        .isPositive().isLessThan(firstIngested.size());
  }

  @Test
  void shouldLetOnlyOneOfManyConcurrentRequestsWithTheSameKeyAppend() throws Exception {
    Ingestor in = ingestor(payments().build());
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int round = 0; round < 30; round++) {
        CyclicBarrier start = new CyclicBarrier(threads);
        String key = "race-" + round;
        List<Future<IngestResult>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          results.add(pool.submit(() -> {
            start.await();
            return in.ingestMaps(events(20, "t"), key);
          }));
        }
        int appended = 0;
        Map<Integer, List<Long>> positions = null;
        for (Future<IngestResult> f : results) {
          IngestResult r = f.get();
          appended += r.accepted() - r.duplicates();
          if (positions == null) {
            positions = r.positions();
          }
          assertThat(r.positions()).as("round %d", round).isEqualTo(positions);
        }
        assertThat(appended).as("round %d", round).isEqualTo(20);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(idsInLog()).hasSize(30 * 20).doesNotHaveDuplicates();
  }

  @Test
  void shouldReleaseReservationsWhenTheAppendFails() {
    Ingestor in = ingestor(payments().build());
    log.close();
    assertThatThrownBy(() -> in.ingestMaps(events(3, "t"), "k")).isInstanceOf(RuntimeException.class);
    // had the failed request kept its reservations, this retry would wait for them forever
    assertTimeoutPreemptively(Duration.ofMinutes(1), () -> assertThatThrownBy(() -> in.ingestMaps(events(3, "t"), "k"))
        .isInstanceOf(RuntimeException.class));
    assertThat(in.dedupEntries()).isZero();
    log = FileLog.open(dir.resolve("log"));
  }

  /** {@code stream} with faults to inject: appends to one partition fail, or every reader fails to open. */
  private static final class FaultyStream implements LogStream {
    private final LogStream stream;
    volatile int failAppendsTo = -1;
    volatile boolean failReads;

    FaultyStream(LogStream stream) {
      this.stream = stream;
    }

    public String name() {
      return stream.name();
    }

    public dev.braid.log.StreamConfig config() {
      return stream.config();
    }

    public dev.braid.log.AppendResult append(int partition, dev.braid.log.RecordBatchBuilder batch) {
      if (partition == failAppendsTo) {
        throw new IllegalStateException("injected: partition " + partition + " cannot be written");
      }
      return stream.append(partition, batch);
    }

    public LogReader reader(int partition, long fromOffset) {
      if (failReads) {
        throw new IllegalStateException("injected: partition " + partition + " cannot be read");
      }
      return stream.reader(partition, fromOffset);
    }

    public long endOffset(int partition) {
      return stream.endOffset(partition);
    }

    public long startOffset(int partition) {
      return stream.startOffset(partition);
    }

    public void flush() {
      stream.flush();
    }
  }
}
