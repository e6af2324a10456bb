package dev.braid.log;

import static dev.braid.log.LogTestSupport.append;
import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.drain;
import static dev.braid.log.LogTestSupport.randomRecords;
import static dev.braid.log.LogTestSupport.readAll;
import static dev.braid.log.LogTestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.log.LogTestSupport.Rec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the {@link FileLog} adds to the {@link Log} contract: dense offsets, segment files that roll
 * and are sealed with an index, seeks through that index before and after reopening, the on-disk
 * names, and what an append that fails leaves behind.
 */
class FileLogTest {

  @TempDir
  Path dir;

  private FileLog log;

  @AfterEach
  void closeTheLog() {
    if (log != null) {
      log.close();
    }
  }

  private LogStream open(String stream, StreamConfig config) {
    if (log == null) {
      log = FileLog.open(dir);
    }
    return log.getOrCreateStream(stream, config);
  }

  private LogStream reopen(String stream) {
    log.close();
    log = null;
    log = FileLog.open(dir);
    return log.stream(stream);
  }

  private static FilePartition partition(LogStream s, int p) {
    return ((FileLogStream) s).partition(p);
  }

  private Path partitionDir(String stream, int p) {
    return FileLogStream.partitionDir(dir.resolve(stream), p);
  }

  private static List<String> names(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.map(f -> f.getFileName().toString()).sorted().toList();
    }
  }

  /** Appends seeded random batches until the partition spans at least {@code segments} segments. */
  private static List<Rec> fillSegments(LogStream s, Random random, int segments, int maxBatch) {
    List<Rec> all = new ArrayList<>();
    while (partition(s, 0).segments().length < segments || all.size() < 10) {
      all.addAll(append(s, 0, smallRecords(random, 1 + random.nextInt(maxBatch))));
    }
    return all;
  }

  private static List<Rec> smallRecords(Random random, int count) {
    List<Rec> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte[] key = new byte[random.nextInt(12)];
      byte[] value = new byte[random.nextInt(120)];
      random.nextBytes(key);
      random.nextBytes(value);
      out.add(Rec.of(-1, key, value, random.nextLong(), random.nextLong()));
    }
    return out;
  }

  /** Seeks a fresh reader to every offset and checks the first record it returns. */
  private static void assertEverySeekLandsExactly(LogStream s, List<Rec> all, String context) {
    try (LogReader r = s.reader(0, s.startOffset(0))) {
      for (Rec expected : all) {
        r.seek(expected.offset());
        RecordCursor c = r.poll();
        assertThat(c.next()).as("%s: a record at offset %d", context, expected.offset()).isTrue();
        assertThat(Rec.at(c)).as("%s: seek to %d", context, expected.offset()).isEqualTo(expected);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Offsets, segments and the index
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldAssignDenseOffsetsFromZero() {
    LogStream s = open("orders", StreamConfig.of(2));

    AppendResult a = s.append(1, new RecordBatchBuilder().add(utf8("k"), utf8("a"), 0, 0)
        .add(utf8("k"), utf8("b"), 0, 0));
    AppendResult b = s.append(1, new RecordBatchBuilder().add(utf8("k"), utf8("c"), 0, 0));

    assertThat(a.firstOffset()).isZero();
    assertThat(a.lastOffset()).isEqualTo(1);
    assertThat(b.firstOffset()).isEqualTo(2);
    assertThat(s.endOffset(1)).isEqualTo(3);
    assertThat(s.startOffset(1)).isZero();
    assertThat(s.end()).isEqualTo(Cut.of(0, 3));
    assertThat(a).hasToString("p1[0..1]");
  }

  /**
   * A stream created with a first offset (a dropped view's changes log taken over by a new view of
   * its name) starts every partition there, across rolls, a durability change and reopening; a read
   * before it is refused naming it, and a segment missing at its start is still damage.
   */
  @Test
  void shouldStartAtTheFirstOffsetItWasCreatedWith() throws IOException {
    LogStream s = open("w.changes", StreamConfig.of(1).withSegmentBytes(4096).withFirstOffset(1200));
    assertThat(s.startOffset(0)).isEqualTo(1200);
    assertThat(s.endOffset(0)).isEqualTo(1200);
    assertThat(readAll(s, 0, 1200)).isEmpty();
    List<Rec> all = fillSegments(s, new Random(12), 3, 8);
    assertThat(all.get(0).offset()).isEqualTo(1200);
    assertThat(names(partitionDir("w.changes", 0))).startsWith("00000000000000001200.idx", "00000000000000001200.log");
    assertThatThrownBy(() -> s.reader(0, 1199)).isInstanceOf(OffsetOutOfRangeException.class)
        .hasMessage("offset 1199 of stream 'w.changes' partition 0 is before the partition's first offset 1200 "
            + "(next offset " + s.endOffset(0) + ")");
    log.changeDurability("w.changes", Durability.fsync());
    LogStream again = reopen("w.changes");
    assertThat(again.startOffset(0)).isEqualTo(1200);
    assertThat(readAll(again, 0, 1200)).isEqualTo(all);
    assertEverySeekLandsExactly(again, all, "reopened");
    assertThat(again.append(0, new RecordBatchBuilder().add(utf8("k"), utf8("v"), 0, 0)).firstOffset())
        .isEqualTo(1200 + all.size());
    log.close();
    log = null;
    Files.delete(partitionDir("w.changes", 0).resolve("00000000000000001200.log"));
    Files.delete(partitionDir("w.changes", 0).resolve("00000000000000001200.idx"));
    try (FileLog reopened = FileLog.open(dir)) {
      assertThat(reopened.corruptStreams().get("w.changes")).hasMessageContaining("the segments holding offsets 1200 "
          + "to");
    }
  }

  @Test
  void shouldRollSegmentsAndSealEachWithAnIndex() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(4096));
    List<Rec> all = fillSegments(s, new Random(11), 5, 8);

    List<String> files = names(partitionDir("orders", 0));
    List<String> logs = files.stream().filter(f -> f.endsWith(".log")).toList();
    List<String> indexes = files.stream().filter(f -> f.endsWith(".idx")).toList();
    assertThat(logs).hasSizeGreaterThanOrEqualTo(5);
    assertThat(logs.get(0)).isEqualTo("00000000000000000000.log");
    assertThat(indexes).as("every sealed segment, and only those, has an index")
        .containsExactlyElementsOf(
            logs.subList(0, logs.size() - 1).stream().map(f -> f.replace(".log", ".idx")).toList());
    Segment[] segments = partition(s, 0).segments();
    for (int i = 0; i < segments.length; i++) {
      assertThat(segments[i].file.getFileName().toString()).isEqualTo(logs.get(i));
      assertThat(Files.size(segments[i].file)).as("segment %d", i).isLessThanOrEqualTo(4096);
      if (i > 0) {
        long base = segments[i].baseOffset;
        assertThat(all).as("segment %d starts at a record", i).anyMatch(r -> r.offset() == base);
      }
    }
    assertThat(readAll(s, 0, 0)).isEqualTo(all);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {5, 6})
  void shouldSeekToEveryOffsetOfSealedAndActiveSegmentsBeforeAndAfterReopen(long seed) {
    // 32 KB segments with batches of a few hundred bytes: several index entries per segment.
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(32 << 10));
    List<Rec> all = fillSegments(s, new Random(seed), 4, 6);
    assertEverySeekLandsExactly(s, all, "seed " + seed + " while written");

    LogStream again = reopen("orders");

    assertThat(partition(again, 0).segments()).hasSizeGreaterThanOrEqualTo(4);
    assertEverySeekLandsExactly(again, all, "seed " + seed + " after reopen");
    assertThat(readAll(again, 0, 0)).as("seed %d", seed).isEqualTo(all);
  }

  @Test
  void shouldFindTheSameIndexFloorAfterReopen() {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(32 << 10));
    List<Rec> all = fillSegments(s, new Random(9), 3, 6);
    Segment[] before = partition(s, 0).segments();
    long[][] floors = new long[before.length][];
    for (int i = 0; i < before.length; i++) {
      floors[i] = floors(before[i], all);
    }

    LogStream again = reopen("orders");

    Segment[] after = partition(again, 0).segments();
    assertThat(after).hasSameSizeAs(before);
    for (int i = 0; i < after.length; i++) {
      assertThat(floors(after[i], all)).as("index floors of segment %d", i).isEqualTo(floors[i]);
    }
    assertThat(after[0].lastIndexedPosition()).as("a sealed segment has several index entries")
        .isGreaterThan(SegmentDescriptor.HEADER_LENGTH);
  }

  private static long[] floors(Segment segment, List<Rec> all) {
    return all.stream().filter(r -> r.offset() >= segment.baseOffset).mapToLong(r -> segment.floorPosition(r.offset()))
        .toArray();
  }

  @Test
  void shouldRebuildAMissingOrDamagedIndex() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(32 << 10));
    List<Rec> all = fillSegments(s, new Random(12), 3, 6);
    log.close();
    log = null;
    Path p = partitionDir("orders", 0);
    Path first = p.resolve(SegmentDescriptor.indexName(0));
    byte[] original = Files.readAllBytes(first);
    Path second = p.resolve(names(p).stream().filter(f -> f.endsWith(".idx")).toList().get(1));
    byte[] secondOriginal = Files.readAllBytes(second);
    Files.delete(first);
    Files.write(second, new byte[] {1, 2, 3}); // not whole entries

    LogStream again = open("orders", StreamConfig.of(1));

    assertThat(Files.readAllBytes(first)).as("rebuilt missing index").isEqualTo(original);
    assertThat(Files.readAllBytes(second)).as("rebuilt damaged index").isEqualTo(secondOriginal);
    assertEverySeekLandsExactly(again, all, "rebuilt indexes");
  }

  @Test
  void shouldReadAcrossSegmentBoundariesWithATinyFetchBuffer() {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(4096));
    List<Rec> all = fillSegments(s, new Random(13), 4, 5);

    for (int fetch : new int[] {64, 300, 5000}) {
      try (FileLogReader r = new FileLogReader(partition(s, 0), 0, fetch)) {
        List<Rec> read = new ArrayList<>();
        while (true) {
          RecordCursor c = r.poll();
          int before = read.size();
          while (c.next()) {
            read.add(Rec.at(c));
          }
          if (read.size() == before) {
            break;
          }
          assertThat(r.position()).as("fetch %d: position after a poll", fetch)
              .isEqualTo(read.get(read.size() - 1).offset() + 1);
        }
        assertThat(read).as("fetch %d", fetch).isEqualTo(all);
      }
    }
  }

  @Test
  void shouldPutABatchLargerThanASegmentInASegmentOfItsOwn() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(4096));
    List<Rec> small = appendTexts(s, 0, "small", 3);
    List<Rec> big = append(s, 0,
        List.of(Rec.of(-1, utf8("big"), new byte[10_000], 1, 2), Rec.of(-1, utf8("b2"), new byte[3000], 3, 4)));
    List<Rec> after = appendTexts(s, 0, "after", 2);

    assertThat(partition(s, 0).segments()).hasSize(3);
    List<Rec> all = new ArrayList<>(small);
    all.addAll(big);
    all.addAll(after);
    assertThat(readAll(s, 0, 0)).isEqualTo(all);
    assertThat(readAll(s, 0, big.get(1).offset())).isEqualTo(all.subList(4, all.size()));
    assertThat(readAll(reopen("orders"), 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldSeeRecordsAppendedAfterTheReaderReachedTheEndOfASegmentThatThenRolled() {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(4096));
    List<Rec> first = appendTexts(s, 0, "first", 10);
    try (LogReader r = s.reader(0, 0)) {
      assertThat(drain(r)).isEqualTo(first);
      List<Rec> more = new ArrayList<>();
      while (partition(s, 0).segments().length < 3) {
        more.addAll(appendTexts(s, 0, "more", 7));
      }

      assertThat(drain(r)).isEqualTo(more);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Failures while appending
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldPublishNothingOfAnAppendWhoseWriteFailed() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1));
    List<Rec> before = appendTexts(s, 0, "before", 5);
    s.flush();
    Segment active = partition(s, 0).segments()[0];
    partition(s, 0).writer = (channel, bytes, position) -> { // as a failing disk would, after part of the batch
      bytes.limit(bytes.position() + 7);
      FilePartition.writeFully(channel, bytes, position);
      throw new IOException("Input/output error");
    };

    assertThatThrownBy(() -> appendTexts(s, 0, "lost", 3))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("'orders' partition 0")
        .hasMessageContaining(active.file.toString());
    assertThat(s.endOffset(0)).isEqualTo(5);
    assertThat(active.size).isEqualTo(Files.size(active.file));
    assertThat(readAll(s, 0, 0)).as("readers do not depend on the writer's channel").isEqualTo(before);

    LogStream again = reopen("orders");
    assertThat(log.recoveries()).isEmpty();
    List<Rec> after = appendTexts(again, 0, "after", 2);
    assertThat(after.get(0).offset()).isEqualTo(5);
    List<Rec> all = new ArrayList<>(before);
    all.addAll(after);
    assertThat(readAll(again, 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldKeepThePartitionUsableWhenAnInterruptedThreadReadsAppendsAndFlushes() {
    LogStream s = open("orders", StreamConfig.of(1).withDurability(Durability.fsync()));
    List<Rec> all = new ArrayList<>(appendTexts(s, 0, "before", 3));
    List<Rec> read;
    boolean stillInterrupted;
    // File channels close themselves when a thread that uses them is interrupted; the segment
    // files are shared by every reader and the writer, so one interrupted caller must not close them.
    Thread.currentThread().interrupt();
    try {
      read = readAll(s, 0, 0);
      all.addAll(appendTexts(s, 0, "interrupted", 2));
      s.flush();
      stillInterrupted = Thread.currentThread().isInterrupted();
    } finally {
      Thread.interrupted();
    }

    assertThat(read).isEqualTo(all.subList(0, 3));
    assertThat(stillInterrupted).as("the caller keeps its interrupt").isTrue();
    all.addAll(appendTexts(s, 0, "after", 2));
    assertThat(readAll(s, 0, 0)).isEqualTo(all);
    assertThat(readAll(reopen("orders"), 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldRefuseAppendsWhileASegmentCannotRollAndResumeOnceItCan() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1).withSegmentBytes(4096));
    List<Rec> all = new ArrayList<>();
    while (partition(s, 0).segments()[0].size < 4096 - 200) {
      all.addAll(appendTexts(s, 0, "fill", 4));
    }
    long end = s.endOffset(0);
    Path squatter = partitionDir("orders", 0).resolve(SegmentDescriptor.segmentName(end));
    Files.createDirectory(squatter); // the next segment's file cannot be created

    assertThatThrownBy(() -> append(s, 0, List.of(Rec.of(-1, utf8("k"), new byte[400], 0, 0))))
        .isInstanceOf(LogWriteException.class)
        .hasMessageContaining("rolling to a new segment: creating " + squatter)
        .hasMessageContaining("FileAlreadyExistsException");
    assertThat(s.endOffset(0)).isEqualTo(end);
    assertThat(partition(s, 0).segments()).hasSize(1);
    assertThat(readAll(s, 0, 0)).isEqualTo(all);

    Files.delete(squatter);
    all.addAll(append(s, 0, List.of(Rec.of(-1, utf8("k"), new byte[400], 0, 0))));
    assertThat(all.get(all.size() - 1).offset()).isEqualTo(end);
    assertThat(partition(s, 0).segments()).hasSize(2);
    assertThat(readAll(s, 0, 0)).isEqualTo(all);
    assertThat(readAll(reopen("orders"), 0, 0)).isEqualTo(all);
  }

  @ParameterizedTest(name = "round {0}")
  @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
  void shouldCloseALogWhileItsIntervalSyncRuns(int round) throws Exception {
    LogStream s = open("orders", StreamConfig.of(2).withDurability(Durability.interval(1)));
    List<Rec> all = new ArrayList<>();
    for (int i = 0; i < 40 * round; i++) {
      all.addAll(appendTexts(s, 0, "r" + round, 1));
    }

    assertThatCode(log::close).as("closing while the interval sync may be mid-fsync").doesNotThrowAnyException();
    log = FileLog.open(dir);
    assertThat(log.recoveries()).isEmpty();
    assertThat(readAll(log.stream("orders"), 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldRefuseUseAfterClose() {
    LogStream s = open("orders", StreamConfig.of(1));
    appendTexts(s, 0, "x", 1);
    log.close();

    assertThatThrownBy(() -> log.stream("orders"))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    assertThatThrownBy(() -> log.createStream("other", StreamConfig.of(1))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> log.getOrCreateStream("other", StreamConfig.of(1)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> log.getOrCreateStream("orders", StreamConfig.of(1)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> appendTexts(s, 0, "y", 1)).isInstanceOf(LogException.class);
    assertThatCode(log::close).as("closing twice").doesNotThrowAnyException();
    log = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Names, configuration and the directory layout
  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"", ".hidden", "-dash", "a/b", "a b", "é", "orders.creating", "LOCK"})
  void shouldRefuseStreamNamesThatCannotBeDirectories(String name) {
    log = FileLog.open(dir);

    assertThatThrownBy(() -> log.createStream(name, StreamConfig.of(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + name + "'");
    assertThat(log.streams()).isEmpty();
  }

  @Test
  void shouldAcceptTheLongestAllowedStreamName() {
    log = FileLog.open(dir);
    String longest = "s".repeat(128);

    log.createStream(longest, StreamConfig.of(1));

    assertThatThrownBy(() -> log.createStream("s".repeat(129), StreamConfig.of(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(reopen(longest).name()).isEqualTo(longest);
  }

  @Test
  void shouldKeepStreamsThatLookLikeUnfinishedCreationsApart() throws IOException {
    log = FileLog.open(dir);
    log.createStream("orders", StreamConfig.of(1));
    log.close();
    log = null;
    Files.createDirectories(dir.resolve("half.creating").resolve("p00000"));
    Files.writeString(dir.resolve("half.creating").resolve("stream.properties"), "format=1\n");

    log = FileLog.open(dir);

    assertThat(log.streams()).containsExactly("orders");
    assertThat(dir.resolve("half.creating")).doesNotExist();
  }

  /** A deletion that a crash interrupted after its rename: the next open finishes it. */
  @Test
  void shouldFinishAnInterruptedStreamDeletionOnOpen() throws IOException {
    LogStream s = open("derived", StreamConfig.of(2));
    appendTexts(s, 0, "x", 3);
    log.createStream("orders", StreamConfig.of(1));
    log.close();
    log = null;
    Files.move(dir.resolve("derived"), dir.resolve("derived~deleting"));

    log = FileLog.open(dir);

    assertThat(log.streams()).containsExactly("orders");
    // a stream whose name only looks like a deletion stays
    appendTexts(log.createStream("audit.deleting", StreamConfig.of(1)), 0, "a", 2);
    log.close();
    log = FileLog.open(dir);
    assertThat(log.streams()).containsExactly("audit.deleting", "orders");
    assertThat(dir.resolve("derived~deleting")).doesNotExist();
  }

  @Test
  void shouldRemoveALeftoverIndexTemporaryFile() throws IOException {
    LogStream s = open("orders", StreamConfig.of(1));
    List<Rec> all = appendTexts(s, 0, "x", 3);
    log.close();
    log = null;
    Path tmp = partitionDir("orders", 0).resolve(SegmentDescriptor.indexName(0) + ".tmp");
    Files.write(tmp, new byte[] {1, 2});

    LogStream again = open("orders", StreamConfig.of(1));

    assertThat(tmp).doesNotExist();
    assertThat(readAll(again, 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldRefuseAStreamWhosePartitionDirectoryIsMissing() throws IOException {
    open("orders", StreamConfig.of(3));
    log.close();
    log = null;
    Path p1 = partitionDir("orders", 1);
    try (Stream<Path> files = Files.list(p1)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    Files.delete(p1);

    // The stream is refused, as for damage inside a partition; the log opens.
    try (FileLog opened = FileLog.open(dir)) {
      assertThat(opened.corruptStreams().get("orders"))
          .isInstanceOf(CorruptLogException.class)
          .hasMessageContaining("the partition directory is missing (stream 'orders' has 3 partitions")
          .hasMessageContaining(p1.toString());
      assertThatThrownBy(() -> opened.stream("orders")).isInstanceOf(CorruptLogException.class);
    }
    // The partitions opened before the refusal were closed: the directory can be opened again.
    assertThatCode(() -> FileLog.open(dir).close()).doesNotThrowAnyException();
  }

  @Test
  void shouldRefuseAStreamDirectoryWithoutItsProperties() throws IOException {
    Files.createDirectories(dir.resolve("stray"));

    assertThatThrownBy(() -> FileLog.open(dir))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("stray")
        .hasMessageContaining("stream.properties");
  }

  @Test
  void shouldRefuseAnUnreadableStreamDescription() throws IOException {
    open("orders", StreamConfig.of(1));
    log.close();
    log = null;
    Path props = dir.resolve("orders").resolve("stream.properties");
    Files.writeString(props, Files.readString(props).replace("durability=os", "durability=sometimes"));

    assertThatThrownBy(() -> FileLog.open(dir))
        .isInstanceOf(LogException.class)
        .hasMessageContaining(props.toString())
        .hasMessageContaining("sometimes");
  }

  @Test
  void shouldValidateStreamConfigNamingTheFieldAndValue() {
    assertThatThrownBy(() -> StreamConfig.of(0)).hasMessageContaining("partitions").hasMessageContaining("0");
    assertThatThrownBy(() -> StreamConfig.of(4097)).hasMessageContaining("4097");
    assertThatThrownBy(() -> StreamConfig.of(1).withSegmentBytes(4095))
        .hasMessageContaining("segmentBytes").hasMessageContaining("4095");
    assertThatThrownBy(() -> StreamConfig.of(1).withSegmentBytes(1L << 31))
        .as("segment file positions are stored in 32 bits")
        .hasMessageContaining("segmentBytes").hasMessageContaining(Long.toString(1L << 31));
    assertThatThrownBy(() -> StreamConfig.of(1).withMaxRecordBytes(0)).hasMessageContaining("maxRecordBytes");
    assertThatThrownBy(() -> StreamConfig.of(1).withMaxRecordBytes((64 << 20) + 1))
        .hasMessageContaining("maxRecordBytes");
    assertThatThrownBy(() -> StreamConfig.of(1).withDurability(null)).hasMessageContaining("durability");
    assertThat(StreamConfig.of(1).withSegmentBytes(Integer.MAX_VALUE).segmentBytes()).isEqualTo(Integer.MAX_VALUE);
  }

  @Test
  void shouldParseDurabilityAsItPrintsIt() {
    for (Durability d : List.of(Durability.fsync(), Durability.os(), Durability.interval(250))) {
      assertThat(Durability.parse(d.toString())).isEqualTo(d);
    }
    assertThat(Durability.parse(" FSYNC ")).isEqualTo(Durability.fsync());
    assertThatThrownBy(() -> Durability.parse("interval:0")).hasMessageContaining("positive").hasMessageContaining("0");
    assertThatThrownBy(() -> Durability.parse("interval:soon")).hasMessageContaining("interval:soon");
    assertThatThrownBy(() -> Durability.parse("never"))
        .hasMessageContaining("'never'").hasMessageContaining("fsync, os or interval");
  }

  // ---------------------------------------------------------------------------------------------
  // Builder and results
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldGrowTheBuilderAndReuseItAfterClear() {
    LogStream s = open("orders", StreamConfig.of(1));
    Random random = new Random(14);
    RecordBatchBuilder b = new RecordBatchBuilder(1, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    List<Rec> expected = new ArrayList<>();
    for (int batch = 0; batch < 5; batch++) {
      b.clear();
      assertThat(b.isEmpty()).isTrue();
      assertThat(b.sizeInBytes()).isEqualTo(RecordBatchDescriptor.HEADER_LENGTH);
      List<Rec> recs = randomRecords(random, 20);
      for (Rec r : recs) {
        byte[] key = HexFormat.of().parseHex(r.key());
        byte[] value = HexFormat.of().parseHex(r.value());
        if (random.nextBoolean()) {
          b.add(key, value, r.eventTime(), r.ingestTime());
        } else {
          // the same bytes as slices of a larger buffer
          ByteBuffer source = ByteBuffer.allocate(key.length + value.length + 10);
          source.put(3, key).put(3 + key.length, value);
          b.add(source, 3, key.length, 3 + key.length, value.length, r.eventTime(), r.ingestTime());
        }
      }
      assertThat(b.count()).isEqualTo(20);
      AppendResult result = s.append(0, b);
      for (int i = 0; i < recs.size(); i++) {
        expected.add(recs.get(i).withOffset(result.offset(i)));
      }
    }

    assertThat(readAll(s, 0, 0)).isEqualTo(expected);
  }

  @Test
  void shouldReportOffsetsOfSparseAndEmptyResults() {
    AppendResult sparse = AppendResult.of(2, new long[] {4, 9, 30});
    AppendResult empty = AppendResult.of(0, new long[0]);

    assertThat(sparse.offset(1)).isEqualTo(9);
    assertThat(sparse.firstOffset()).isEqualTo(4);
    assertThat(sparse.lastOffset()).isEqualTo(30);
    assertThat(sparse).hasToString("p2[4..30]");
    assertThat(empty.count()).isZero();
    assertThat(empty).hasToString("p0[]");
    assertThatThrownBy(() -> sparse.offset(3))
        .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("record 3 of a batch of 3");
    assertThatThrownBy(empty::firstOffset).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void shouldChangeAStreamsDurabilityKeepingItsRecordsAndRemember() throws IOException {
    LogStream s = open("orders", StreamConfig.of(2).withDurability(Durability.interval(50)));
    List<Rec> before = appendTexts(s, 1, "a", 20);

    LogStream changed = log.changeDurability("orders", Durability.fsync());
    assertThat(changed.config().durability()).isEqualTo(Durability.fsync());
    assertThat(log.stream("orders")).isSameAs(changed);
    List<Rec> after = appendTexts(changed, 1, "b", 5);
    assertThat(log.changeDurability("orders", Durability.fsync())).as("no change, the same stream").isSameAs(changed);

    // an interrupted change left its new description beside the old one: the old one stands
    Files.writeString(dir.resolve("orders").resolve(FileLog.STREAM_PROPERTIES + ".tmp"), "format=1\n");
    LogStream again = reopen("orders");
    assertThat(again.config().durability()).isEqualTo(Durability.fsync());
    assertThat(dir.resolve("orders").resolve(FileLog.STREAM_PROPERTIES + ".tmp")).doesNotExist();
    List<Rec> all = new ArrayList<>(before);
    all.addAll(after);
    assertThat(readAll(again, 1, 0)).isEqualTo(all);
    assertThat(again.end()).isEqualTo(Cut.of(0, 25));
  }
}
