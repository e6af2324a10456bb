package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.IngestResult.Rejection;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.FileLog;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordCursor;
import dev.braid.log.StreamConfig;
import dev.braid.spec.StreamSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ingest over a real {@link FileLog}: good events of a request are appended even when others are
 * refused; each refusal carries the event's index and reason (and lands in the dead-letter log);
 * events go to their key's partition; and the positions returned are where a reader finds them.
 */
class IngestorTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int PARTITIONS = 4;

  @TempDir
  Path dir;

  private FileLog log;
  private LogStream stream;
  private LogStream deadLetters;
  private final AtomicLong clock = new AtomicLong(1_000_000L);

  private static StreamSpec.Builder transactions() {
    return StreamSpec.builder("tx").partitions(PARTITIONS).key("user").time("ts")
        .field("user", FieldType.STRING).field("amount", FieldType.DOUBLE).field("country", FieldType.STRING)
        .field("qty", FieldType.LONG).field("ts", FieldType.TIMESTAMP)
        .rule("amount >= 0.0").rule("country in ['US', 'DE', 'FR', 'IN']");
  }

  @BeforeEach
  void openLog() {
    log = FileLog.open(dir.resolve("log"));
    stream = log.createStream("tx", StreamConfig.of(PARTITIONS));
    deadLetters = log.createStream("tx" + Ingestor.DEAD_LETTER_SUFFIX, StreamConfig.of(1));
  }

  @AfterEach
  void closeLog() {
    log.close();
  }

  private Ingestor ingestor(StreamSpec spec) {
    return new Ingestor(spec, stream, deadLetters, clock::get);
  }

  // ---------------------------------------------------------------------------------------------
  // Good and bad events in one request
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldAppendTheGoodEventsOfABatchAndRejectTheOthersWithIndexAndReason() {
    Ingestor in = ingestor(transactions().build());
    IngestResult r = in.ingestMaps(List.of(
        tx("alice", 10.0, "US", 1L),
        Map.of("amount", 5.0, "country", "US", "ts", 2L),
        tx("bob", 20.0, "DE", 3L),
        Map.of("user", "carol", "amount", "lots", "country", "US", "ts", 4L),
        tx("dave", -1.0, "US", 5L),
        tx("erin", 30.0, "JP", 6L),
        tx("frank", 40.0, "IN", 7L),
        Map.of("user", "gina", "ts", 8L, "colour", "red")));

    assertThat(r.stream()).isEqualTo("tx");
    assertThat(r.accepted()).isEqualTo(3);
    assertThat(r.rejections()).containsExactly(
        new Rejection(1, "missing key field 'user'"),
        new Rejection(3, "field 'amount': expected double, got string \"lots\""),
        new Rejection(4, "rule failed: amount >= 0.0"),
        new Rejection(5, "rule failed: country in ['US', 'DE', 'FR', 'IN']"),
        new Rejection(7, "unknown field 'colour': stream 'tx' has user, amount, country, qty, ts"));
    assertThat(r.positions().values().stream().mapToInt(List::size).sum()).isEqualTo(3);
    assertThat(readAll()).extracting(e -> e.values().get("user")).containsExactlyInAnyOrder("alice", "bob", "frank");
  }

  /**
   * With {@code max_future}, an event timed further after its ingest than that is rejected with both
   * times (a mistyped year would otherwise hold every partition's watermark past the events to
   * come); at the limit, earlier, or without the option, it is taken.
   */
  @Test
  void shouldRejectAnEventTimedFurtherAfterItsIngestThanMaxFuture() {
    clock.set(1_764_000_000_000L); // 2025-11-24T16:00:00Z
    long now = clock.get();
    long hour = 3_600_000L;
    Ingestor in = ingestor(transactions().maxFuture(java.time.Duration.ofHours(1)).build());
    IngestResult r = in.ingestMaps(List.of(tx("alice", 1.0, "US", now + hour), tx("bob", 1.0, "US", now + hour + 1),
        tx("carol", 1.0, "US", now - 365 * 24 * hour), tx("dave", 1.0, "US", 253_402_300_799_000L)));
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.rejections()).containsExactly(
        new Rejection(1, "event time 2025-11-24T17:00:00.001Z is more than max_future (1h) after its ingest time "
            + "2025-11-24T16:00:00Z"),
        new Rejection(3, "event time 9999-12-31T23:59:59Z is more than max_future (1h) after its ingest time "
            + "2025-11-24T16:00:00Z"));
    IngestResult unlimited = ingestor(transactions().build()).ingestMaps(List.of(tx("dave", 1.0, "US",
        253_402_300_799_000L)));
    assertThat(unlimited.rejections()).isEmpty();
  }

  @Test
  void shouldRejectAnEventWhoseRuleReadsAMissingField() {
    IngestResult r = ingestor(transactions().build()).ingestMaps(List.of(
        Map.of("user", "u", "amount", 1.0, "ts", 1L)));
    assertThat(r.rejections()).containsExactly(
        new Rejection(0, "missing field 'country' (rule country in ['US', 'DE', 'FR', 'IN'] reads it)"));
    assertThat(r.accepted()).isZero();
    assertThat(r.positions()).isEmpty();
  }

  @Test
  void shouldKeepAnEventWhoseRuleHoldsWithoutAFieldItReadsAndNameTheFieldOnlyWhenItIsMissing() {
    StreamSpec spec = StreamSpec.builder("tx").partitions(PARTITIONS).key("user").time("ts")
        .field("user", FieldType.STRING).field("amount", FieldType.DOUBLE).field("country", FieldType.STRING)
        .field("ts", FieldType.TIMESTAMP).rule("country == 'US' || amount > 0.0").build();
    Map<String, Object> nullCountry = new java.util.HashMap<>(Map.of("user", "u3", "amount", 2.0, "ts", 1L));
    nullCountry.put("country", null);
    IngestResult r = ingestor(spec).ingestMaps(List.of(Map.of("user", "u1", "amount", 1.0, "ts", 1L),
        tx("u2", -1.0, "DE", 1L), Map.of("user", "u4", "amount", -1.0, "ts", 1L), nullCountry));
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.rejections()).containsExactly(
        new Rejection(1, "rule failed: country == 'US' || amount > 0.0"),
        new Rejection(2, "missing field 'country' (rule country == 'US' || amount > 0.0 reads it)"));
  }

  @Test
  void shouldRejectAnEventWhoseRuleCannotBeEvaluated() {
    StreamSpec spec = transactions().rule("100 / qty > 1").build();
    IngestResult r = ingestor(spec).ingestMaps(List.of(txq("u1", 0L), txq("u2", 5L), txq("u3", 200L)));
    assertThat(r.accepted()).isEqualTo(1);
    assertThat(r.rejections()).hasSize(2);
    assertThat(r.rejections().get(0).index()).isZero();
    assertThat(r.rejections().get(0).reason())
        .startsWith("rule '100 / qty > 1' could not be evaluated: expression '100 / qty > 1' failed: ")
        .contains("/ by zero");
    assertThat(r.rejections().get(1)).isEqualTo(new Rejection(2, "rule failed: 100 / qty > 1"));
  }

  @Test
  void shouldRejectARecordTooLargeForTheStreamAndKeepTheRest() {
    stream = log.createStream("small", StreamConfig.of(PARTITIONS).withMaxRecordBytes(300));
    Ingestor in = new Ingestor(transactions().build(), stream, clock::get);
    IngestResult r = in.ingestMaps(List.of(tx("a", 1.0, "US", 1L), tx("b".repeat(400), 1.0, "US", 2L),
        tx("c", 1.0, "US", 3L)));
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.rejections()).hasSize(1);
    assertThat(r.rejections().get(0).index()).isEqualTo(1);
    assertThat(r.rejections().get(0).reason()).startsWith("the event is ")
        .contains(" bytes once encoded (its key, id and fields), over the stream's limit of 300 bytes an event");
  }

  @Test
  void shouldIngestNothingFromAnEmptyRequest() {
    IngestResult r = ingestor(transactions().build()).ingestMaps(List.of());
    assertThat(r.accepted()).isZero();
    assertThat(r.positions()).isEmpty();
    assertThat(r.rejections()).isEmpty();
    assertThat(stream.end().toArray()).containsOnly(0L);
    assertThat(deadLetters.endOffset(0)).isZero();
  }

  // ---------------------------------------------------------------------------------------------
  // Positions and partitions
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldReturnThePositionsWhereALogReaderFindsEachEvent() {
    Ingestor in = ingestor(transactions().build());
    Random rnd = new Random(42);
    List<Map<String, Object>> sent = new ArrayList<>();
    Map<Integer, List<Long>> positions = new HashMap<>();
    for (int request = 0; request < 5; request++) {
      List<Map<String, Object>> batch = new ArrayList<>();
      for (int i = 0; i < 60; i++) {
        batch.add(tx("user-" + rnd.nextInt(25), rnd.nextInt(1000) / 10.0, "FR", rnd.nextInt(1_000_000)));
      }
      IngestResult r = in.ingestMaps(batch);
      assertThat(r.rejections()).as("request %d", request).isEmpty();
      assertThat(r.accepted()).isEqualTo(batch.size());
      r.positions().forEach((p, offsets) -> positions.computeIfAbsent(p, x -> new ArrayList<>()).addAll(offsets));
      sent.addAll(batch);
    }

    EventSchema schema = transactions().build().schema();
    Map<Integer, List<Long>> read = new HashMap<>();
    Map<String, Object> seenUsers = new HashMap<>();
    for (int p = 0; p < PARTITIONS; p++) {
      for (Read e : readPartition(p, schema)) {
        read.computeIfAbsent(p, x -> new ArrayList<>()).add(e.offset());
        String user = (String) e.values().get("user");
        assertThat(new String(e.key(), StandardCharsets.UTF_8)).isEqualTo(user);
        assertThat(p).as("partition of %s", user).isEqualTo(Partitioner.partition(e.key(), 0, e.key().length,
            PARTITIONS));
        assertThat(seenUsers.putIfAbsent(user, p) == null || seenUsers.get(user).equals(p)).isTrue();
      }
    }
    assertThat(read).isEqualTo(positions);
    assertThat(read.values().stream().mapToInt(List::size).sum()).isEqualTo(sent.size());
    assertThat(read.keySet()).as("25 keys spread over every partition").hasSize(PARTITIONS);
  }

  @Test
  void shouldKeepRequestOrderWithinAPartition() {
    Ingestor in = ingestor(transactions().build());
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      batch.add(txq("same-user", i));
    }
    IngestResult r = in.ingestMaps(batch);
    int p = stream.partitionFor("same-user".getBytes(StandardCharsets.UTF_8));
    assertThat(r.positions()).containsOnlyKeys(p);
    assertThat(readPartition(p, transactions().build().schema())).extracting(e -> e.values().get("qty"))
        .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L);
  }

  @Test
  void shouldRouteANumberKeyByItsDecimalText() {
    stream = log.createStream("by_id", StreamConfig.of(8));
    StreamSpec spec = StreamSpec.builder("by_id").partitions(8).key("id").field("id", FieldType.LONG)
        .field("v", FieldType.DOUBLE).build();
    IngestResult r = new Ingestor(spec, stream, clock::get).ingestMaps(List.of(Map.of("id", -17L, "v", 1.0)));
    byte[] key = "-17".getBytes(StandardCharsets.UTF_8);
    assertThat(r.positions()).containsOnlyKeys(Partitioner.partition(key, 0, key.length, 8));
  }

  @Test
  void shouldRecordEventTimeAndIngestTime() {
    clock.set(5_000L);
    ingestor(transactions().build()).ingestJson(List.of(
        json("{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": \"1970-01-01T00:00:01.5Z\"}")));
    Read e = readAll().get(0);
    assertThat(e.eventTime()).isEqualTo(1_500L);
    assertThat(e.ingestTime()).isEqualTo(5_000L);

    stream = log.createStream("ingest_time", StreamConfig.of(1));
    StreamSpec byIngest = StreamSpec.builder("ingest_time").partitions(1).key("k").field("k", FieldType.STRING).build();
    clock.set(7_000L);
    new Ingestor(byIngest, stream, clock::get).ingestMaps(List.of(Map.of("k", "x")));
    Read stamped = readPartition(0, byIngest.schema()).get(0);
    assertThat(stamped.eventTime()).isEqualTo(7_000L);
    assertThat(stamped.ingestTime()).isEqualTo(7_000L);
  }

  // ---------------------------------------------------------------------------------------------
  // JSON and text input
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldIngestJsonNodes() {
    IngestResult r = ingestor(transactions().build()).ingestJson(List.of(
        json("{\"user\": \"u\", \"amount\": 2, \"country\": \"DE\", \"qty\": 3, \"ts\": 9}"),
        json("[1, 2]"),
        json("{\"user\": \"v\", \"amount\": 2.5, \"country\": \"DE\", \"ts\": \"2026-01-01T00:00:00+01:00\"}")));
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.rejections()).containsExactly(new Rejection(1, "an event must be a JSON object, got an array"));
    assertThat(readAll()).extracting(e -> e.values().get("amount")).containsExactlyInAnyOrder(2.0, 2.5);
  }

  @Test
  void shouldRejectTextThatIsNotJsonWithItsLineAndColumn() {
    Ingestor in = ingestor(transactions().build());
    List<String> lines = List.of("{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}",
        "{\"user\": \"v\", \"amount\": }", "{\"user\": \"w\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 2}");
    IngestResult r = in.ingestText(lines, new int[] {3, 7, 9});
    assertThat(r.accepted()).isEqualTo(2);
    assertThat(r.rejections()).hasSize(1);
    assertThat(r.rejections().get(0).index()).isEqualTo(1);
    assertThat(r.rejections().get(0).reason()).startsWith("not JSON at line 7, column 25: Unexpected character ('}'");

    IngestResult numbered = in.ingestText(List.of("oops"), null);
    assertThat(numbered.rejections().get(0).reason()).startsWith("not JSON at line 1, column ");

    // a null element is that event's rejection, as a null map or JSON node is; lines too few, an argument error
    IngestResult withNull = in.ingestText(java.util.Arrays.asList(null, lines.get(0)), null);
    assertThat(withNull.accepted()).isEqualTo(1);
    assertThat(withNull.rejections()).extracting(Rejection::reason).containsExactly("the event is null, not JSON text");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> in.ingestText(lines, new int[] {3}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("lines has 1 elements for 3 events: give the line of every event, or null");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> in.ingestText(List.of("{"), new int[] {-3}))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("lines[0] is -3: lines count from 1");

    // a line cut short: where its object opens, by column (Jackson's own "line: 1" read as the request's)
    IngestResult cut = in.ingestText(List.of("  {\"user\": \"u3\", \"amount\": \"twelve\""), new int[] {3});
    assertThat(cut.rejections().get(0).reason()).startsWith("not JSON at line 3, column 36: Unexpected end-of-input")
        .endsWith("(it opens at column 3)").doesNotContain("line: 1");
  }

  /**
   * A field name past Jackson's limit is refused with the limit only: the length Jackson reports is
   * how much of the name it had read, which hung on its reused buffers (the same line answered
   * 52,731 alone and 50,605 after other requests; a differential review found it).
   */
  @Test
  void shouldRefuseAFieldNameOverTheLimitInTheSameWordsWhateverCameBefore() {
    Ingestor in = ingestor(transactions().build());
    String longName = "{\"" + "z".repeat(60_000) + "\": 1}";
    String good = "{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}";
    String alone = in.ingestText(List.of(longName), null).rejections().get(0).reason();
    String afterOthers = in.ingestText(List.of(good, good.replace("\"u\"", "\"" + "v".repeat(3_000) + "\""), longName),
        null).rejections().get(0).reason();
    assertThat(alone).isEqualTo("not JSON at line 1: a field name is longer than the 50000 characters a name may have")
        .isEqualTo(afterOthers.replace("line 3", "line 1"));
    // the same for a string past Jackson's limit (a server's --max-body over 20 MB lets one through)
    String longString = "{\"user\": \"" + "s".repeat(20_000_100) + "\", \"ts\": 1}";
    assertThat(in.ingestText(List.of(longString), null).rejections().get(0).reason())
        .isEqualTo("not JSON at line 1: a string is longer than the 20000000 characters a string may have");
  }

  /**
   * A field twice in one event is refused naming it (Jackson would keep the last value); NaN and a
   * number too long to read are refused in words a user can act on, not Jackson's feature names.
   */
  @Test
  void shouldRejectAFieldTwiceNanAndAnOverlongNumberInPlainWords() {
    Ingestor in = ingestor(transactions().build());
    String nines = "9".repeat(5000);
    IngestResult r = in.ingestText(List.of(
        "{\"user\": \"u\", \"amount\": 1.0, \"amount\": 2.0, \"country\": \"US\", \"ts\": 1}",
        "{\"user\": \"u\", \"amount\": NaN, \"country\": \"US\", \"ts\": 1}",
        "{\"user\": \"u\", \"amount\": " + nines + ", \"country\": \"US\", \"ts\": 1}"), null);
    assertThat(r.accepted()).isZero();
    assertThat(r.rejections().get(0).reason())
        .startsWith("not JSON at line 1, column ").contains("the field 'amount' appears twice in one object");
    assertThat(r.rejections().get(1).reason()).contains("(JSON has no NaN or Infinity)")
        .doesNotContain("JsonReadFeature");
    assertThat(r.rejections().get(2).reason()).startsWith("not JSON at line 3").doesNotContain("column 0");
  }

  @Test
  void shouldRejectTwoEventsOnOneLineInsteadOfDroppingTheSecond() {
    String one = "{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}";
    IngestResult r = ingestor(transactions().build()).ingestText(List.of(one + " " + one, one + "  ", one + " x"),
        null);
    assertThat(r.accepted()).as("trailing blanks are fine").isEqualTo(1);
    assertThat(r.rejections()).extracting(Rejection::index).containsExactly(0, 2);
    assertThat(r.rejections().get(0).reason()).startsWith("not JSON at line 1, column " + (one.length() + 2) + ": more JSON after the event's end: one event per line in NDJSON");
    assertThat(r.rejections().get(1).reason()).startsWith("not JSON at line 3, column ");
  }

  // ---------------------------------------------------------------------------------------------
  // Dead letters
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldNotDeadLetterARetriedRequestsRejectionsAgain() {
    Ingestor in = ingestor(transactions().build());
    List<String> request = List.of("{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}",
        "{\"user\": \"v\", \"amount\": -5.0, \"country\": \"US\", \"ts\": 1}");
    IngestResult first = in.ingestText(request, null, "k-2");
    IngestResult retry = in.ingestText(request, null, "k-2");
    assertThat(first.rejections()).extracting(Rejection::index).containsExactly(1);
    assertThat(retry.rejections()).as("the retry is answered the same").isEqualTo(first.rejections());
    assertThat(retry.duplicates()).isEqualTo(1);
    assertThat(in.deadLetters(0, 10)).as("recorded once").hasSize(1);
    in.ingestText(request, null, "k-3"); // another request with the same events: its own dead letter
    assertThat(in.deadLetters(0, 10)).hasSize(2);
  }

  @Test
  void shouldNotDeadLetterARetriedRequestWhoseEventsWereAllRejectedAgainEvenAfterARestart() {
    Ingestor in = ingestor(transactions().build());
    List<String> bad = List.of("{\"user\": \"v\", \"amount\": -5.0, \"country\": \"US\", \"ts\": 1}", "not json");
    in.ingestText(bad, null, "k-9");
    IngestResult retry = in.ingestText(bad, null, "k-9");
    assertThat(retry.rejections()).hasSize(2);
    assertThat(in.deadLetters(0, 10)).as("recorded once").hasSize(2);
    // other events under the key are refused whole (the key names the first request), not recorded
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> in.ingestText(List.of("also not json"), null, "k-9"))
        .isInstanceOf(dev.braid.IdempotencyConflictException.class);
    assertThat(in.deadLetters(0, 10)).hasSize(2);

    Ingestor restarted = ingestor(transactions().build());
    restarted.rebuildDedupIndex();
    restarted.ingestText(bad, null, "k-9");
    assertThat(restarted.deadLetters(0, 10)).as("recognized from the dead-letter log").hasSize(2);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> restarted.ingestText(List.of("also not json"), null,
        "k-9")).as("and the other request refused").isInstanceOf(dev.braid.IdempotencyConflictException.class);
    clock.addAndGet(java.time.Duration.ofDays(2).toMillis()); // past the dedup window: a new request
    restarted.ingestText(List.of("also not json"), null, "k-9");
    assertThat(restarted.deadLetters(0, 10)).hasSize(3);
  }

  /**
   * A keyed request with good and bad events that stopped after its dead letters and before its
   * append (a crash; here an append into a closed log) stored nothing under its key: its retry after
   * a restart appended the good events and dead-lettered the bad ones a second time.
   */
  @Test
  void shouldNotDeadLetterAgainARetryOfARequestThatStoppedBeforeItsAppend() {
    List<String> request = List.of("{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}",
        "{\"user\": \"v\", \"amount\": -5.0, \"country\": \"US\", \"ts\": 1}");
    FileLog gone = FileLog.open(dir.resolve("gone"));
    LogStream closed = gone.createStream("tx", StreamConfig.of(PARTITIONS));
    gone.close();
    Ingestor crashing = new Ingestor(transactions().build(), closed, deadLetters, clock::get);
    assertThatThrownBy(() -> crashing.ingestText(request, null, "k-5")).isInstanceOf(RuntimeException.class);
    assertThat(in(deadLetters)).as("written before the append").isEqualTo(1);

    Ingestor restarted = ingestor(transactions().build());
    restarted.rebuildDedupIndex();
    IngestResult retry = restarted.ingestText(request, null, "k-5");
    assertThat(retry.accepted()).isEqualTo(1);
    assertThat(retry.duplicates()).as("nothing was appended before").isZero();
    assertThat(retry.rejections()).extracting(Rejection::index).containsExactly(1);
    assertThat(restarted.deadLetters(0, 10)).as("recorded once").hasSize(1);
    assertThat(restarted.ingestText(request, null, "k-5").duplicates()).isEqualTo(1);
    assertThat(restarted.deadLetters(0, 10)).hasSize(1);
    restarted.ingestText(request.subList(1, 2), null, "k-6"); // another request: its own dead letter
    assertThat(restarted.deadLetters(0, 10)).hasSize(2);
  }

  /** The same Java events in another field order (a {@code Map.of} in another JVM) are the same request. */
  @Test
  void shouldRecognizeARetryOfJavaEventsWhoseFieldsComeInAnotherOrder() {
    Map<String, Object> good = new java.util.LinkedHashMap<>();
    good.put("user", "u");
    good.put("amount", 1.0);
    good.put("country", "US");
    good.put("ts", 1L);
    Map<String, Object> bad = new java.util.LinkedHashMap<>(good);
    bad.put("amount", -5.0);
    FileLog gone = FileLog.open(dir.resolve("gone"));
    LogStream closed = gone.createStream("tx", StreamConfig.of(PARTITIONS));
    gone.close();
    Ingestor crashing = new Ingestor(transactions().build(), closed, deadLetters, clock::get);
    assertThatThrownBy(() -> crashing.ingestMaps(List.of(good, bad), "k-7")).isInstanceOf(RuntimeException.class);

    Map<String, Object> badReordered = new java.util.LinkedHashMap<>();
    List<String> names = new ArrayList<>(bad.keySet());
    java.util.Collections.reverse(names);
    names.forEach(n -> badReordered.put(n, bad.get(n)));
    Ingestor restarted = ingestor(transactions().build());
    restarted.rebuildDedupIndex();
    IngestResult retry = restarted.ingestMaps(List.of(good, badReordered), "k-7");
    assertThat(retry.accepted()).isEqualTo(1);
    assertThat(restarted.deadLetters(0, 10)).as("recorded once, as first sent").hasSize(1)
        .extracting(DeadLetter::event).first().asString().startsWith("{\"user\":\"u\",\"amount\":-5.0");
  }

  private static long in(LogStream s) {
    long n = 0;
    for (int p = 0; p < s.partitions(); p++) {
      n += s.endOffset(p) - s.startOffset(p);
    }
    return n;
  }

  @Test
  void shouldKeepEveryRejectedEventAsSentInTheDeadLetterLog() {
    clock.set(123L);
    Ingestor in = ingestor(transactions().build());
    in.ingestText(List.of("{\"user\": \"u\", \"amount\": 1.0, \"country\": \"US\", \"ts\": 1}", "not json",
        "{\"user\": \"v\", \"amount\": -5.0, \"country\": \"US\", \"ts\": 1}"), null);
    in.ingestMaps(List.of(Map.of("ts", 1L)));

    List<DeadLetter> dead = in.deadLetters(0, 10);
    assertThat(dead).hasSize(3);
    assertThat(dead.get(0).index()).isEqualTo(1);
    assertThat(dead.get(0).event()).isEqualTo("not json");
    assertThat(dead.get(0).reason()).startsWith("not JSON at line 2");
    assertThat(dead.get(0).receivedAtMillis()).isEqualTo(123L);
    String refused = "{\"user\": \"v\", \"amount\": -5.0, \"country\": \"US\", \"ts\": 1}";
    assertThat(dead.get(1)).isEqualTo(new DeadLetter(1, 123L, 2, "rule failed: amount >= 0.0", refused, false,
        refused.length()));
    assertThat(dead.get(2).reason()).isEqualTo("missing key field 'user'");
    assertThat(dead.get(2).event()).isEqualTo("{\"ts\":1}");

    assertThat(in.deadLetters(1, 1)).extracting(DeadLetter::offset).containsExactly(1L);
    assertThat(in.deadLetters(3, 10)).isEmpty();
    assertThat(readAll()).hasSize(1);
  }

  @Test
  void shouldSayWhenADeadLetterKeepsOnlyThePrefixOfAHugeEvent() {
    String huge = "x".repeat(100_000);
    Ingestor in = ingestor(transactions().build());
    in.ingestText(List.of(huge), null);

    DeadLetter d = in.deadLetters(0, 10).get(0);
    assertThat(d.truncated()).isTrue();
    assertThat(d.length()).isEqualTo(100_000);
    assertThat(d.event()).hasSize(64 << 10).isEqualTo(huge.substring(0, 64 << 10));
    assertThat(d.reason()).startsWith("not JSON at line 1");
  }

  @Test
  void shouldKeepNoDeadLettersWithoutADeadLetterLog() {
    Ingestor in = new Ingestor(transactions().build(), stream, clock::get);
    IngestResult r = in.ingestMaps(List.of(Map.of("ts", 1L)));
    assertThat(r.rejections()).hasSize(1);
    assertThat(in.deadLetters(0, 10)).isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // Threads
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldIngestFromSeveralThreadsAtOnce() throws Exception {
    Ingestor in = ingestor(transactions().build());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<IngestResult>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        results.add(pool.submit(() -> {
          IngestResult last = null;
          for (int request = 0; request < 10; request++) {
            List<Map<String, Object>> batch = new ArrayList<>();
            for (int i = 0; i < 25; i++) {
              batch.add(tx("t" + thread + "-" + i, 1.0, i % 5 == 0 ? "XX" : "US", request));
            }
            last = in.ingestMaps(batch);
            assertThat(last.accepted()).isEqualTo(20);
            assertThat(last.rejections()).extracting(Rejection::index).containsExactly(0, 5, 10, 15, 20);
          }
          return last;
        }));
      }
      for (Future<IngestResult> f : results) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(readAll()).hasSize(4 * 10 * 20);
    assertThat(in.deadLetters(0, 1000)).hasSize(4 * 10 * 5);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  /** One event as a reader finds it. */
  record Read(int partition, long offset, byte[] key, long eventTime, long ingestTime, Map<String, Object> values) {}

  private static Map<String, Object> tx(String user, double amount, String country, long ts) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("user", user);
    m.put("amount", amount);
    m.put("country", country);
    m.put("ts", ts);
    return m;
  }

  private static Map<String, Object> txq(String user, long qty) {
    Map<String, Object> m = tx(user, 1.0, "US", 1L);
    m.put("qty", qty);
    return m;
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private List<Read> readAll() {
    EventSchema schema = transactions().build().schema();
    List<Read> all = new ArrayList<>();
    for (int p = 0; p < stream.partitions(); p++) {
      all.addAll(readPartition(p, schema));
    }
    return all;
  }

  private List<Read> readPartition(int p, EventSchema schema) {
    List<Read> out = new ArrayList<>();
    EventReader reader = new EventReader(schema);
    try (LogReader r = stream.reader(p, 0)) {
      while (true) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next()) {
          any = true;
          reader.wrap(c.buffer(), c.valueOffset(), c.valueLength());
          Map<String, Object> values = new LinkedHashMap<>();
          for (EventSchema.Field f : schema.fields()) {
            values.put(f.name(), reader.get(f.index()));
          }
          out.add(new Read(p, c.offset(), c.key(), c.eventTime(), c.ingestTime(), values));
        }
        if (!any) {
          return out;
        }
      }
    }
  }
}
