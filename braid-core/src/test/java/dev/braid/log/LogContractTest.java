package dev.braid.log;

import static dev.braid.log.LogTestSupport.append;
import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.randomRecords;
import static dev.braid.log.LogTestSupport.readAll;
import static dev.braid.log.LogTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.log.LogTestSupport.Rec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@link Log} contract, written once for every implementation: a subclass supplies how to open
 * a log on a directory, and runs every test here. Nothing here assumes dense offsets: expected
 * offsets always come from {@link AppendResult}s, and "past the end" means past
 * {@link LogStream#endOffset(int)}.
 */
abstract class LogContractTest {

  @TempDir
  Path dir;

  Log log;

  /** Opens the log kept in {@code dir}, creating it when the directory is empty. */
  protected abstract Log openLog(Path dir);

  /** The configuration the contract tests create streams with; a subclass may tune it. */
  protected StreamConfig streamConfig(int partitions) {
    return StreamConfig.of(partitions);
  }

  @BeforeEach
  void openTheLog() {
    log = openLog(dir);
  }

  @AfterEach
  void closeTheLog() {
    if (log != null) {
      log.close();
    }
  }

  /** Closes the log and opens it again on the same directory. */
  final void reopen() {
    log.close();
    log = null;
    log = openLog(dir);
  }

  // ---------------------------------------------------------------------------------------------
  // Streams
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldCreateAStreamWithTheRequestedPartitions() {
    LogStream s = log.createStream("orders", streamConfig(3));

    assertThat(s.name()).isEqualTo("orders");
    assertThat(s.partitions()).isEqualTo(3);
    assertThat(log.hasStream("orders")).isTrue();
    assertThat(log.stream("orders").partitions()).isEqualTo(3);
    for (int p = 0; p < 3; p++) {
      assertThat(s.endOffset(p)).as("end of empty partition %d", p).isEqualTo(s.startOffset(p));
      assertThat(readAll(s, p, s.startOffset(p))).as("partition %d", p).isEmpty();
    }
  }

  @Test
  void shouldListStreamsSortedAndKeepThemAcrossReopen() {
    log.createStream("zeta", streamConfig(1));
    log.createStream("alpha", streamConfig(4));
    log.createStream("mid", streamConfig(2));

    assertThat(log.streams()).containsExactly("alpha", "mid", "zeta");
    reopen();
    assertThat(log.streams()).containsExactly("alpha", "mid", "zeta");
    assertThat(log.stream("alpha").partitions()).isEqualTo(4);
    assertThat(log.stream("mid").partitions()).isEqualTo(2);
  }

  /** A deleted stream is gone, also after a reopen, and its name can be created anew, empty. */
  @Test
  void shouldDeleteAStreamAndLetItsNameBeCreatedAgain() {
    LogStream doomed = log.createStream("derived", streamConfig(2));
    appendTexts(doomed, 1, "x", 3);
    List<Rec> kept = appendTexts(log.createStream("events", streamConfig(1)), 0, "e", 2);

    log.deleteStream("derived");
    log.deleteStream("derived"); // nothing to do
    log.deleteStream("never-was");

    assertThat(log.hasStream("derived")).isFalse();
    assertThat(log.streams()).containsExactly("events");
    assertThatThrownBy(() -> log.stream("derived")).isInstanceOf(UnknownStreamException.class);
    reopen();
    assertThat(log.streams()).containsExactly("events");
    assertThat(readAll(log.stream("events"), 0, log.stream("events").startOffset(0))).isEqualTo(kept);
    LogStream again = log.createStream("derived", streamConfig(2));
    assertThat(readAll(again, 1, again.startOffset(1))).as("a new stream, empty").isEmpty();
  }

  @Test
  void shouldRefuseToCreateAStreamTwice() {
    log.createStream("orders", streamConfig(2));

    assertThatThrownBy(() -> log.createStream("orders", streamConfig(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("orders");
  }

  @Test
  void shouldReturnTheExistingStreamFromGetOrCreate() {
    LogStream created = log.getOrCreateStream("orders", streamConfig(2));
    List<Rec> appended = appendTexts(created, 1, "x", 3);

    LogStream again = log.getOrCreateStream("orders", streamConfig(2));

    assertThat(again.partitions()).isEqualTo(2);
    assertThat(readAll(again, 1, again.startOffset(1))).isEqualTo(appended);
  }

  @Test
  void shouldRefuseGetOrCreateWithAnotherPartitionCount() {
    log.createStream("orders", streamConfig(3));

    assertThatThrownBy(() -> log.getOrCreateStream("orders", streamConfig(5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'orders'")
        .hasMessageContaining("3 partitions")
        .hasMessageContaining("5");
    reopen();
    assertThatThrownBy(() -> log.getOrCreateStream("orders", streamConfig(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'orders'")
        .hasMessageContaining("3 partitions")
        .hasMessageContaining("1");
  }

  @Test
  void shouldNameTheUnknownStreamAndTheKnownOnes() {
    assertThatThrownBy(() -> log.stream("nope"))
        .isInstanceOf(UnknownStreamException.class)
        .hasMessageContaining("'nope'")
        .hasMessageContaining("(none)");

    log.createStream("beta", streamConfig(1));
    log.createStream("alpha", streamConfig(1));

    assertThatThrownBy(() -> log.stream("nope"))
        .isInstanceOf(UnknownStreamException.class)
        .hasMessageContaining("'nope'")
        .hasMessageContaining("alpha, beta");
    assertThat(log.hasStream("nope")).isFalse();
  }

  // ---------------------------------------------------------------------------------------------
  // Append and read
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldReadBackEveryRecordAtTheOffsetItsAppendReturned() {
    LogStream s = log.createStream("orders", streamConfig(3));
    List<List<Rec>> expected = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    Random random = new Random(7);
    for (int batch = 0; batch < 30; batch++) {
      int p = batch % 3;
      expected.get(p).addAll(append(s, p, randomRecords(random, 1 + random.nextInt(6))));
    }

    for (int p = 0; p < 3; p++) {
      assertThat(readAll(s, p, s.startOffset(p))).as("partition %d", p).isEqualTo(expected.get(p));
    }
  }

  @Test
  void shouldReturnIncreasingOffsetsWithinAndAcrossBatches() {
    LogStream s = log.createStream("orders", streamConfig(1));
    RecordBatchBuilder b = new RecordBatchBuilder();
    long previous = -1;
    for (int batch = 0; batch < 10; batch++) {
      b.clear();
      for (int i = 0; i <= batch; i++) {
        b.add(utf8("k"), utf8("v" + i), i, i);
      }
      AppendResult r = s.append(0, b);
      assertThat(r.partition()).isZero();
      assertThat(r.count()).isEqualTo(batch + 1);
      for (int i = 0; i < r.count(); i++) {
        assertThat(r.offset(i)).as("batch %d record %d", batch, i).isGreaterThan(previous);
        previous = r.offset(i);
      }
      assertThat(s.endOffset(0)).isGreaterThan(r.lastOffset());
    }
  }

  @Test
  void shouldAppendNothingForAnEmptyBuilder() {
    LogStream s = log.createStream("orders", streamConfig(1));
    long end = s.endOffset(0);

    AppendResult r = s.append(0, new RecordBatchBuilder());

    assertThat(r.count()).isZero();
    assertThat(s.endOffset(0)).isEqualTo(end);
  }

  @Test
  void shouldKeepTheBuilderSoItCanBeAppendedAgain() {
    LogStream s = log.createStream("orders", streamConfig(1));
    RecordBatchBuilder b = new RecordBatchBuilder().add(utf8("k"), utf8("v"), 1, 2);

    AppendResult first = s.append(0, b);
    AppendResult second = s.append(0, b);

    assertThat(second.firstOffset()).isGreaterThan(first.lastOffset());
    assertThat(readAll(s, 0, s.startOffset(0))).extracting(Rec::offset)
        .containsExactly(first.firstOffset(), second.firstOffset());
  }

  @Test
  void shouldSeekIntoTheMiddleOfABatch() {
    LogStream s = log.createStream("orders", streamConfig(1));
    List<Rec> all = new ArrayList<>(appendTexts(s, 0, "a", 4));
    List<Rec> middle = appendTexts(s, 0, "b", 5);
    all.addAll(middle);
    all.addAll(appendTexts(s, 0, "c", 3));

    for (int i = 0; i < all.size(); i++) {
      assertThat(readAll(s, 0, all.get(i).offset())).as("reading from record %d", i)
          .isEqualTo(all.subList(i, all.size()));
    }
    try (LogReader r = s.reader(0, s.startOffset(0))) {
      r.seek(middle.get(2).offset());
      assertThat(r.position()).isEqualTo(middle.get(2).offset());
      RecordCursor c = r.poll();
      assertThat(c.next()).isTrue();
      assertThat(Rec.at(c)).isEqualTo(middle.get(2));
    }
  }

  @Test
  void shouldSeekBackwardsAndReadAgain() {
    LogStream s = log.createStream("orders", streamConfig(1));
    List<Rec> all = appendTexts(s, 0, "a", 6);
    try (LogReader r = s.reader(0, s.startOffset(0))) {
      assertThat(LogTestSupport.drain(r)).isEqualTo(all);
      r.seek(all.get(1).offset());
      assertThat(LogTestSupport.drain(r)).isEqualTo(all.subList(1, all.size()));
    }
  }

  @Test
  void shouldReadNothingAtTheEndAndThenWhatIsAppendedAfter() {
    LogStream s = log.createStream("orders", streamConfig(2));
    appendTexts(s, 0, "before", 3);
    try (LogReader r = s.reader(0, s.endOffset(0))) {
      assertThat(r.position()).isEqualTo(s.endOffset(0));
      assertThat(r.poll().next()).isFalse();

      List<Rec> after = appendTexts(s, 0, "after", 2);

      assertThat(LogTestSupport.drain(r)).isEqualTo(after);
      assertThat(r.position()).isEqualTo(s.endOffset(0));
      assertThat(r.partition()).isZero();
    }
  }

  @Test
  void shouldRefuseToReadPastTheEnd() {
    LogStream s = log.createStream("orders", streamConfig(2));
    appendTexts(s, 1, "x", 3);
    long end = s.endOffset(1);

    assertThatThrownBy(() -> s.reader(1, end + 1))
        .isInstanceOf(OffsetOutOfRangeException.class)
        .hasMessageContaining("'orders'")
        .hasMessageContaining("partition 1")
        .hasMessageContaining(Long.toString(end + 1));
    try (LogReader r = s.reader(1, end)) {
      assertThatThrownBy(() -> r.seek(end + 10))
          .isInstanceOf(OffsetOutOfRangeException.class)
          .hasMessageContaining(Long.toString(end + 10));
      assertThat(r.position()).as("a refused seek leaves the reader where it was").isEqualTo(end);
    }
    assertThatThrownBy(() -> s.reader(0, s.endOffset(0) + 1)).isInstanceOf(OffsetOutOfRangeException.class);
    assertThatThrownBy(() -> s.reader(1, -1)).isInstanceOf(OffsetOutOfRangeException.class)
        .hasMessageContaining("offset -1 of stream 'orders' partition 1 is negative").hasMessageNotContaining("past");
  }

  @Test
  void shouldAdvanceTheEndOffsetOfOnlyTheAppendedPartition() {
    LogStream s = log.createStream("orders", streamConfig(3));
    Cut before = s.end();

    List<Rec> appended = appendTexts(s, 1, "x", 4);

    assertThat(s.endOffset(0)).isEqualTo(before.offset(0));
    assertThat(s.endOffset(2)).isEqualTo(before.offset(2));
    assertThat(s.endOffset(1)).isGreaterThan(appended.get(3).offset());
    Cut after = s.end();
    assertThat(after.compare(before)).isEqualTo(Cut.Order.AFTER);
    assertThat(before.compare(after)).isEqualTo(Cut.Order.BEFORE);
    assertThat(after.isAtOrAfter(before)).isTrue();
    for (Rec r : appended) {
      assertThat(after.contains(1, r.offset())).as("end cut holds %s", r).isTrue();
      assertThat(before.contains(1, r.offset())).as("earlier cut lacks %s", r).isFalse();
    }
  }

  @Test
  void shouldServeTheRecordsInsideACutExactly() {
    LogStream s = log.createStream("orders", streamConfig(2));
    List<Rec> first = appendTexts(s, 0, "first", 3);
    appendTexts(s, 1, "first", 2);
    Cut cut = s.end();
    List<Rec> second = appendTexts(s, 0, "second", 3);
    appendTexts(s, 1, "second", 1);

    List<Rec> inside = readAll(s, 0, s.startOffset(0)).stream()
        .filter(r -> cut.contains(0, r.offset())).toList();
    List<Rec> outside = readAll(s, 0, cut.offset(0));

    assertThat(inside).isEqualTo(first);
    assertThat(outside).isEqualTo(second);
    assertThat(Cut.parse(cut.toString())).isEqualTo(cut);
    assertThat(cut.max(s.end())).isEqualTo(s.end());
    assertThat(s.end().compare(cut)).isEqualTo(Cut.Order.AFTER);
  }

  @Test
  void shouldRefuseARecordOverMaxRecordBytesNamingBothSizes() {
    LogStream s = log.createStream("orders", streamConfig(1).withMaxRecordBytes(1000));
    long end = s.endOffset(0);
    RecordBatchBuilder b = new RecordBatchBuilder(); // accepts up to the default 1 MiB itself
    b.add(new byte[10], new byte[990], 0, 0);
    b.add(new byte[1], new byte[1000], 0, 0);

    assertThatThrownBy(() -> s.append(0, b))
        .isInstanceOf(RecordTooLargeException.class)
        .hasMessageContaining("1001 bytes")
        .hasMessageContaining("1000 bytes");
    assertThat(s.endOffset(0)).as("nothing of the refused batch was appended").isEqualTo(end);

    AppendResult ok = s.append(0, new RecordBatchBuilder().add(new byte[10], new byte[990], 0, 0));
    assertThat(readAll(s, 0, s.startOffset(0))).extracting(Rec::offset).containsExactly(ok.firstOffset());
    RecordBatchBuilder strict = new RecordBatchBuilder(64, 1000);
    assertThatThrownBy(() -> strict.add(new byte[500], new byte[501], 0, 0))
        .isInstanceOf(RecordTooLargeException.class)
        .hasMessageContaining("1001 bytes")
        .hasMessageContaining("1000 bytes");
  }

  @Test
  void shouldRefuseAPartitionOutsideTheStream() {
    LogStream s = log.createStream("orders", streamConfig(2));

    assertThatThrownBy(() -> s.append(2, new RecordBatchBuilder().add(utf8("k"), utf8("v"), 0, 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'orders'");
    assertThatThrownBy(() -> s.reader(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> s.endOffset(5)).isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------------------------------------
  // Durability across reopen
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 42, 9001})
  void shouldKeepEveryRecordByteForByteAcrossReopen(long seed) {
    Random random = new Random(seed);
    LogStream s = log.createStream("orders", streamConfig(3));
    List<List<Rec>> expected = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    for (int batch = 0; batch < 40; batch++) {
      int p = random.nextInt(3);
      expected.get(p).addAll(append(s, p, randomRecords(random, 1 + random.nextInt(8))));
    }
    Cut end = s.end();

    reopen();

    LogStream again = log.stream("orders");
    assertThat(again.end()).as("seed %d", seed).isEqualTo(end);
    for (int p = 0; p < 3; p++) {
      assertThat(readAll(again, p, again.startOffset(p))).as("seed %d partition %d", seed, p)
          .isEqualTo(expected.get(p));
    }
    List<Rec> more = append(again, 0, randomRecords(random, 3));
    expected.get(0).addAll(more);
    assertThat(more.get(0).offset()).as("seed %d", seed).isGreaterThanOrEqualTo(end.offset(0));
    assertThat(readAll(again, 0, again.startOffset(0))).as("seed %d", seed).isEqualTo(expected.get(0));
  }

  /**
   * {@link LogStream#firstOffsetIngestedAtOrAfter} against a linear scan, over ingest times that
   * mostly rise but step back by less than the slack, as concurrent writers' stamps do.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 42, 9001})
  void shouldFindTheFirstOffsetIngestedAtOrAfterATimeAsALinearScanDoes(long seed) {
    Random random = new Random(seed);
    LogStream s = log.createStream("clicks", streamConfig(1));
    List<Rec> all = new ArrayList<>();
    long time = 1_000_000;
    for (int batch = 0; batch < 300; batch++) {
      List<Rec> records = new ArrayList<>();
      long stamp = time - random.nextInt((int) LogStream.INGEST_TIME_SLACK_MILLIS);
      for (int i = 1 + random.nextInt(20); i > 0; i--) {
        records.add(Rec.of(0, utf8("k"), utf8("v" + batch), 0, stamp));
      }
      all.addAll(append(s, 0, records));
      time += random.nextInt(3) == 0 ? random.nextInt(20_000) : random.nextInt(50);
    }
    long end = s.endOffset(0);
    for (int q = 0; q < 200; q++) {
      long t = q == 0 ? 0 : q == 1 ? time + 10_000 : 990_000 + (long) (random.nextDouble() * (time - 980_000));
      long bound = random.nextInt(4) == 0 ? all.get(random.nextInt(all.size())).offset() : end;
      long expected = bound;
      for (Rec r : all) {
        if (r.offset() < bound && r.ingestTime() >= t) {
          expected = r.offset();
          break;
        }
      }
      assertThat(s.firstOffsetIngestedAtOrAfter(0, t, bound)).as("seed %d, time %d, end %d", seed, t, bound)
          .isEqualTo(expected);
    }
  }

  @Test
  void shouldKeepTheStreamConfigAcrossReopen() {
    StreamConfig config = streamConfig(2).withMaxRecordBytes(4321);
    log.createStream("orders", config);

    reopen();

    assertThat(log.stream("orders").config()).isEqualTo(config);
  }

  // ---------------------------------------------------------------------------------------------
  // Waiting for data
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldWakeAWaitingReaderWhenARecordIsAppended() throws Exception {
    LogStream s = log.createStream("orders", streamConfig(2));
    try (LogReader r = s.reader(1, s.endOffset(1))) {
      FutureTask<Boolean> woke = new FutureTask<>(() -> r.awaitData(1, TimeUnit.HOURS));
      Thread waiter = new Thread(woke, "awaiting-reader");
      waiter.start();
      awaitWaiting(waiter);
      appendTexts(s, 0, "other partition", 1);
      assertThat(woke).as("an append to another partition must not satisfy the wait").isNotDone();

      List<Rec> appended = appendTexts(s, 1, "wake", 1);

      // The wait is an hour, so returning at all shows that the append woke the reader.
      assertThat(woke.get(30, TimeUnit.SECONDS)).isTrue();
      assertThat(LogTestSupport.drain(r)).isEqualTo(appended);
    }
  }

  @Test
  void shouldReturnFalseFromAwaitDataWhenWokenUpFromAnotherThread() throws Exception {
    LogStream s = log.createStream("orders", streamConfig(1));
    try (LogReader r = s.reader(0, s.endOffset(0))) {
      FutureTask<Boolean> woke = new FutureTask<>(() -> r.awaitData(1, TimeUnit.HOURS));
      Thread waiter = new Thread(woke, "awaiting-reader");
      waiter.start();
      awaitWaiting(waiter);
      r.wakeup();
      // The wait is an hour, so returning at all shows that wakeup() ended it.
      assertThat(woke.get(30, TimeUnit.SECONDS)).isFalse();
      r.wakeup(); // a wake-up with nobody waiting ends the next wait
      assertThat(r.awaitData(1, TimeUnit.HOURS)).isFalse();
      assertThat(r.awaitData(10, TimeUnit.MILLISECONDS)).isFalse();
    }
  }

  @Test
  void shouldReturnFromAwaitDataAtOnceWhenRecordsAreWaiting() throws Exception {
    LogStream s = log.createStream("orders", streamConfig(1));
    appendTexts(s, 0, "x", 2);
    try (LogReader r = s.reader(0, s.startOffset(0))) {
      assertThat(r.awaitData(1, TimeUnit.HOURS)).isTrue();
    }
  }

  @Test
  void shouldTimeOutAwaitDataWhenNothingIsAppended() throws Exception {
    LogStream s = log.createStream("orders", streamConfig(1));
    appendTexts(s, 0, "x", 2);
    try (LogReader r = s.reader(0, s.endOffset(0))) {
      assertThat(r.awaitData(20, TimeUnit.MILLISECONDS)).isFalse();
      assertThat(r.awaitData(0, TimeUnit.MILLISECONDS)).isFalse();
    }
  }

  @Test
  void shouldStopAwaitingDataWhenInterrupted() throws Exception {
    LogStream s = log.createStream("orders", streamConfig(1));
    try (LogReader r = s.reader(0, s.endOffset(0))) {
      FutureTask<String> outcome = new FutureTask<>(() -> {
        try {
          return "returned " + r.awaitData(1, TimeUnit.HOURS);
        } catch (InterruptedException e) {
          return "interrupted";
        }
      });
      Thread waiter = new Thread(outcome, "awaiting-reader");
      waiter.start();
      awaitWaiting(waiter);

      waiter.interrupt();

      assertThat(outcome.get(30, TimeUnit.SECONDS)).isEqualTo("interrupted");
    }
  }

  /**
   * Spins until {@code thread} is parked in a wait, so that the append that follows has to wake
   * it. An implementation that waits some other way (say, in a network poll) is given ten seconds,
   * after which the test goes on: it then still checks the wake-up, just not that the reader was
   * already waiting.
   */
  static void awaitWaiting(Thread thread) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (thread.getState() != Thread.State.TIMED_WAITING && thread.getState() != Thread.State.WAITING
        && System.nanoTime() < giveUp) {
      assertThat(thread.getState()).as("waiter state").isNotEqualTo(Thread.State.TERMINATED);
      Thread.onSpinWait();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Partitioning
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldSendAKeyToTheSamePinnedPartitionInEveryStream() {
    LogStream four = log.createStream("four", streamConfig(4));
    LogStream sixteen = log.createStream("sixteen", streamConfig(16));

    // Pinned values (murmur3_32, seed 0, cross-checked with Guava's murmur3_32_fixed): a change
    // here would move existing keys to other partitions.
    assertThat(four.partitionFor(utf8("hello"))).isEqualTo(3);
    assertThat(four.partitionFor(utf8("user-42"))).isEqualTo(0);
    assertThat(four.partitionFor(utf8("k"))).isEqualTo(1);
    assertThat(four.partitionFor(utf8("a"))).isEqualTo(2);
    assertThat(four.partitionFor(utf8(""))).isEqualTo(0);
    assertThat(sixteen.partitionFor(utf8("hello"))).isEqualTo(7);
    assertThat(sixteen.partitionFor(utf8("ab"))).isEqualTo(15);
    assertThat(sixteen.partitionFor(utf8("abcde"))).isEqualTo(6);

    reopen();
    assertThat(log.stream("four").partitionFor(utf8("hello"))).isEqualTo(3);
    assertThat(log.stream("sixteen").partitionFor(utf8("ab"))).isEqualTo(15);
  }

  @Test
  void shouldSpreadKeysOverEveryPartition() {
    LogStream s = log.createStream("orders", streamConfig(8));
    long[] counts = new long[8];
    LongStream.range(0, 8000).forEach(i -> counts[s.partitionFor(utf8("user-" + i))]++);

    for (int p = 0; p < 8; p++) {
      assertThat(counts[p]).as("keys in partition %d of 8000 keys", p).isBetween(800L, 1200L);
    }
  }
}
