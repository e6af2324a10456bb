package dev.braid.log;

import static dev.braid.log.LogTestSupport.append;
import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.readAll;
import static dev.braid.testing.TestFiles.copyTree;
import static dev.braid.testing.TestFiles.deleteTree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.braid.log.LogTestSupport.Rec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What opening a {@link FileLog} does with what a crash, a torn write, bit rot or a stranger left
 * on disk: a torn or damaged tail of the active segment is cut back to the last whole batch and
 * reported; damage anywhere else is refused loudly with the file and byte position, never skipped.
 */
class FileLogRecoveryTest {

  private static final String STREAM = "s";

  @TempDir
  Path tmp;

  /**
   * A closed log whose single partition has at least two sealed 4 KB segments and an active
   * segment of at least {@code activeBatches} batches.
   *
   * @param records every record, in offset order
   * @param active the active segment file
   * @param starts file position of each batch of the active segment, then its size
   * @param ends end offset after each batch of the active segment (index-aligned with starts)
   */
  private record Layout(Path dir, List<Rec> records, Path active, long[] starts, long[] ends) {

    int batches() {
      return ends.length;
    }

    long size() {
      return starts[starts.length - 1];
    }

    /** The records below {@code endOffset}. */
    List<Rec> before(long endOffset) {
      return records.stream().filter(r -> r.offset() < endOffset).toList();
    }

    /** Index of the active-segment batch holding byte {@code position}. */
    int batchAt(long position) {
      int j = 0;
      while (starts[j + 1] <= position) {
        j++;
      }
      return j;
    }

    /** The end offset of the batch before batch {@code j} (the segment's base for j = 0). */
    long endBefore(int j) {
      return j == 0 ? SegmentDescriptor.baseOffsetOf(active.getFileName().toString()) : ends[j - 1];
    }

    Layout movedTo(Path other) {
      return new Layout(other, records, other.resolve(dir.relativize(active)), starts, ends);
    }
  }

  private static Layout build(Path dir, long seed, int activeBatches) throws IOException {
    Random random = new Random(seed);
    List<Rec> records = new ArrayList<>();
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(4096));
      FilePartition p = ((FileLogStream) s).partition(0);
      int sinceRoll = 0;
      int segments = 1;
      while (segments < 3 || sinceRoll < activeBatches) {
        List<Rec> batch = new ArrayList<>();
        for (int i = 1 + random.nextInt(3); i > 0; i--) {
          byte[] key = new byte[random.nextInt(6)];
          byte[] value = new byte[random.nextInt(60)];
          random.nextBytes(key);
          random.nextBytes(value);
          batch.add(Rec.of(-1, key, value, random.nextLong(), random.nextLong()));
        }
        records.addAll(append(s, 0, batch));
        sinceRoll = p.segments().length == segments ? sinceRoll + 1 : 1;
        segments = p.segments().length;
      }
    }
    Path partitionDir = FileLogStream.partitionDir(dir.resolve(STREAM), 0);
    Path active;
    try (Stream<Path> files = Files.list(partitionDir)) {
      active = files.filter(f -> f.toString().endsWith(".log")).max(Comparator.naturalOrder()).orElseThrow();
    }
    ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(active));
    List<Long> starts = new ArrayList<>();
    List<Long> ends = new ArrayList<>();
    for (int pos = SegmentDescriptor.HEADER_LENGTH; pos < bytes.limit(); pos += 4 + bytes.getInt(pos)) {
      starts.add((long) pos);
      ends.add(bytes.getLong(pos + RecordBatchDescriptor.BASE_OFFSET_OFFSET)
          + bytes.getInt(pos + RecordBatchDescriptor.COUNT_OFFSET));
    }
    starts.add((long) bytes.limit());
    return new Layout(dir, records, active, starts.stream().mapToLong(Long::longValue).toArray(),
        ends.stream().mapToLong(Long::longValue).toArray());
  }

  private static void truncate(Path file, long size) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(size);
    }
  }

  private static void flipBit(Path file, long position, int bit) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(position);
      int b = f.read();
      f.seek(position);
      f.write(b ^ (1 << bit));
    }
  }

  private static Path segment(Path dir, long base) {
    return FileLogStream.partitionDir(dir.resolve(STREAM), 0).resolve(SegmentDescriptor.segmentName(base));
  }

  /**
   * Opens {@code layout}'s directory and checks that exactly the records below {@code end} are
   * there, that the recovery report is {@code expected} (or absent), and that the partition takes
   * and serves new appends; then that a second open finds nothing to recover.
   */
  private static void assertRecoversTo(Layout layout, long end, RecoveryReport expected, String context) {
    List<Rec> kept = layout.before(end);
    try (FileLog log = FileLog.open(layout.dir())) {
      LogStream s = log.stream(STREAM);
      assertThat(s.endOffset(0)).as(context).isEqualTo(end);
      assertThat(readAll(s, 0, 0)).as(context).isEqualTo(kept);
      if (expected == null) {
        assertThat(log.recoveries()).as(context).isEmpty();
      } else {
        assertThat(log.recoveries()).as(context).containsExactly(expected);
      }
      List<Rec> added = appendTexts(s, 0, "after recovery", 2);
      assertThat(added.get(0).offset()).as(context).isEqualTo(end);
      List<Rec> all = new ArrayList<>(kept);
      all.addAll(added);
      assertThat(readAll(s, 0, 0)).as(context).isEqualTo(all);
      assertThat(readAll(s, 0, end)).as(context).isEqualTo(added);
    }
    try (FileLog again = FileLog.open(layout.dir())) {
      assertThat(again.recoveries()).as("%s, opened a second time", context).isEmpty();
      assertThat(readAll(again.stream(STREAM), 0, 0)).as("%s, opened a second time", context).hasSize(kept.size() + 2);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // A torn or damaged tail of the active segment
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldKeepExactlyTheWholeBatchesBeforeATruncationAtEveryByte() throws IOException {
    Layout template = build(tmp.resolve("template"), 3, 4);
    Layout work = template.movedTo(tmp.resolve("work"));
    int first = template.batches() - 3;
    assertThat(first).isPositive();

    for (long cut = template.starts()[first]; cut < template.size(); cut++) {
      deleteTree(work.dir());
      copyTree(template.dir(), work.dir());
      truncate(work.active(), cut);
      int j = template.batchAt(cut); // batches before j are whole
      long validBytes = template.starts()[j];
      long end = template.endBefore(j);
      RecoveryReport report = cut == validBytes ? null
          : new RecoveryReport(STREAM, 0, work.active(), validBytes, cut - validBytes, end, 1);

      assertRecoversTo(work, end, report, "active segment cut at byte " + cut);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
  void shouldKeepTheRecordsBeforeABitFlippedBatch(long seed) throws IOException {
    Layout layout = build(tmp.resolve("log"), seed, 4);
    Random random = new Random(seed);
    int first = layout.batches() - 3;
    TreeSet<Long> positions = new TreeSet<>();
    for (int n = 1 + random.nextInt(3); positions.size() < n; ) {
      positions.add(layout.starts()[first] + (long) random.nextInt((int) (layout.size() - layout.starts()[first])));
    }
    for (long position : positions) {
      flipBit(layout.active(), position, random.nextInt(8));
    }
    int damaged = layout.batchAt(positions.first());
    long end = layout.endBefore(damaged);
    java.util.Set<Integer> bad = new java.util.HashSet<>();
    positions.forEach(pos -> bad.add(layout.batchAt(pos)));

    assertRecoversTo(layout, end, cutReport(layout, damaged, bad),
        "seed " + seed + ", bits flipped at bytes " + positions + " of " + layout.active());
  }

  /**
   * What recovery reports when the batches {@code bad} of the active segment are damaged, the first
   * being {@code damaged}: everything from it is cut, and the whole batches that follow it (up to the
   * next damaged one) are named as whole.
   */
  private static RecoveryReport cutReport(Layout layout, int damaged, java.util.Set<Integer> bad) {
    long validBytes = layout.starts()[damaged];
    long end = layout.endBefore(damaged);
    int from = damaged + 1;
    while (from < layout.batches() && bad.contains(from)) {
      from++;
    }
    int to = from;
    while (to < layout.batches() && !bad.contains(to)) {
      to++;
    }
    return to == from ? new RecoveryReport(STREAM, 0, layout.active(), validBytes, layout.size() - validBytes, end, 1)
        : new RecoveryReport(STREAM, 0, layout.active(), validBytes, layout.size() - validBytes, end, 1, to - from,
            layout.endBefore(from), layout.ends()[to - 1]);
  }

  @Test
  void shouldKeepTheCutBytesAsideWhenADamagedByteCutsWholeBatchesAfterIt() throws IOException {
    Layout layout = build(tmp.resolve("log"), 31, 6);
    int damaged = 1; // every batch after it is whole, and recovery cuts them all the same
    long validBytes = layout.starts()[damaged];
    flipBit(layout.active(), validBytes + 20, 3);
    byte[] tail = java.util.Arrays.copyOfRange(Files.readAllBytes(layout.active()), (int) validBytes,
        (int) layout.size());
    Path aside = layout.active().resolveSibling(layout.active().getFileName() + "." + validBytes + ".cut");

    RecoveryReport report = cutReport(layout, damaged, java.util.Set.of(damaged));
    assertThat(report.wholeBatchesCut()).as("every batch after the damaged one is whole").isEqualTo(
        layout.batches() - damaged - 1);
    assertRecoversTo(layout, layout.endBefore(damaged), report, "a bit flipped in batch " + damaged);
    assertThat(Files.readAllBytes(aside)).as("the cut bytes, kept aside").isEqualTo(tail);
  }

  @Test
  void shouldCutGarbageAfterTheLastBatch() throws IOException {
    Layout layout = build(tmp.resolve("log"), 21, 2);
    long size = layout.size();
    try (RandomAccessFile f = new RandomAccessFile(layout.active().toFile(), "rw")) {
      f.seek(size);
      f.write(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); // preallocated zeros past the last write
    }

    assertRecoversTo(layout, layout.ends()[layout.batches() - 1],
        new RecoveryReport(STREAM, 0, layout.active(), size, 10, layout.ends()[layout.batches() - 1], 1),
        "zeros after the last batch");
    try (Stream<Path> files = Files.list(layout.active().getParent())) {
      assertThat(files.map(f -> f.getFileName().toString())).as("zeros are not kept aside")
          .noneMatch(n -> n.endsWith(".cut"));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // A torn segment header: the process died while rolling
  // ---------------------------------------------------------------------------------------------

  static IntStream headerLengths() {
    return IntStream.rangeClosed(0, SegmentDescriptor.HEADER_LENGTH);
  }

  /** {@code length} bytes of the new segment's header reached the disk; 32 means 32 zero bytes. */
  @ParameterizedTest(name = "{0} header bytes")
  @MethodSource("headerLengths")
  void shouldRecoverANewSegmentWithATornHeader(int length) throws IOException {
    Layout layout = build(tmp.resolve("log"), 31, 2);
    long end = layout.ends()[layout.batches() - 1];
    Path torn = segment(layout.dir(), end);
    byte[] header = new byte[length];
    if (length < SegmentDescriptor.HEADER_LENGTH) {
      SegmentDescriptor.header(0, end).get(header);
    }
    Files.write(torn, header);

    Layout rolled = new Layout(layout.dir(), layout.records(), torn, new long[] {SegmentDescriptor.HEADER_LENGTH},
        new long[0]);
    assertRecoversTo(rolled, end,
        length == 0 ? null : new RecoveryReport(STREAM, 0, torn, SegmentDescriptor.HEADER_LENGTH, length, end, 1),
        length + " bytes of header");
    assertThat(Files.size(torn)).isGreaterThan(SegmentDescriptor.HEADER_LENGTH);
  }

  @Test
  void shouldRecoverATornHeaderOfTheFirstSegment() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(2));
    }
    Path first = segment(tmp, 0);
    truncate(first, 7);

    try (FileLog log = FileLog.open(tmp)) {
      assertThat(log.recoveries()).containsExactly(
          new RecoveryReport(STREAM, 0, first, SegmentDescriptor.HEADER_LENGTH, 7, 0, 1));
      LogStream s = log.stream(STREAM);
      List<Rec> added = appendTexts(s, 0, "x", 3);
      assertThat(readAll(s, 0, 0)).isEqualTo(added);
    }
  }

  /**
   * Opens the log in {@code dir}, which must refuse stream {@link #STREAM} only (the log opens; the
   * stream cannot be read, appended to or created anew), and returns the damage it reports.
   */
  private static CorruptLogException refusedStream(Path dir) {
    try (FileLog log = FileLog.open(dir)) {
      CorruptLogException e = log.corruptStreams().get(STREAM);
      assertThat(e).as("stream refused").isNotNull();
      assertThat(log.streams()).doesNotContain(STREAM);
      assertThatThrownBy(() -> log.stream(STREAM)).isInstanceOf(CorruptLogException.class)
          .hasMessageContaining(e.file().toString()).hasMessageContaining("is refused");
      assertThatThrownBy(() -> log.getOrCreateStream(STREAM, StreamConfig.of(2)))
          .isInstanceOf(CorruptLogException.class);
      return e;
    }
  }

  @Test
  void shouldRefuseADamagedHeaderOfASegmentThatHoldsBatches() throws IOException {
    Layout layout = build(tmp.resolve("log"), 41, 2);
    flipBit(layout.active(), 3, 0);

    CorruptLogException e = refusedStream(layout.dir());

    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(layout.active());
    assertThat(e.position()).isZero();
    assertThat(e).hasMessageContaining(layout.active().toString()).hasMessageContaining("magic");
  }

  // ---------------------------------------------------------------------------------------------
  // Damage in sealed segments: refused, never skipped
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRefuseToOpenWhenASealedSegmentFailsItsCrc() throws IOException {
    Layout layout = build(tmp.resolve("log"), 51, 2);
    Path sealed = segment(layout.dir(), 0);
    long[] starts = batchStarts(sealed);
    long damaged = starts[starts.length / 2];
    flipBit(sealed, damaged + RecordBatchDescriptor.HEADER_LENGTH + 2, 5);

    CorruptLogException e = refusedStream(layout.dir());

    assertThat(e).as("opening a log whose sealed segment fails its CRC").isNotNull();
    assertThat(e.file()).isEqualTo(sealed);
    assertThat(e.position()).isEqualTo(damaged);
    assertThat(e).hasMessageContaining(sealed.toString()).hasMessageContaining("at byte " + damaged);
    // A refused stream is refused again on the next open: its data is never skipped.
    assertThat(refusedStream(layout.dir())).isNotNull();
  }

  @Test
  void shouldRefuseToReadPastACrcFailureInASealedSegment() throws IOException {
    // Large segments with small batches: the damage lies before the last index entry, where
    // opening does not look, so it must be caught by the reader.
    Path dir = tmp.resolve("log");
    List<Rec> all;
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(64 << 10));
      all = new ArrayList<>();
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 2; i++) {
        all.addAll(appendTexts(s, 0, "batch " + i, 3));
      }
    }
    Path sealed = segment(dir, 0);
    long[] starts = batchStarts(sealed);
    int damagedBatch = 5;
    long damaged = starts[damagedBatch];
    flipBit(sealed, damaged + RecordBatchDescriptor.HEADER_LENGTH + 30, 1);

    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.stream(STREAM);
      assertThat(s.endOffset(0)).isEqualTo(all.size());
      try (LogReader r = s.reader(0, 0)) {
        List<Rec> read = new ArrayList<>();
        CorruptLogException e = catchThrowableOfType(CorruptLogException.class, () -> {
          while (true) {
            RecordCursor c = r.poll();
            while (c.next()) {
              read.add(Rec.at(c));
            }
          }
        });
        assertThat(e).as("reading through a damaged batch").isNotNull();
        assertThat(e.file()).isEqualTo(sealed);
        assertThat(e.position()).isEqualTo(damaged);
        assertThat(e).hasMessageContaining("at byte " + damaged).hasMessageContaining("CRC");
        assertThat(read).as("nothing at or after the damaged batch").isEqualTo(all.subList(0, read.size()));
        assertThat(read.size()).isLessThanOrEqualTo(damagedBatch * 3);
      }
      assertThatThrownBy(() -> readAll(s, 0, all.get(damagedBatch * 3 + 1).offset()))
          .as("seeking into the damaged batch").isInstanceOf(CorruptLogException.class);
    }
  }

  /**
   * A damaged length field that makes a batch look larger than the reader's buffer (but inside the
   * segment) is refused as damage before the buffer grows for it; a batch really that large is read.
   */
  @Test
  void shouldNotGrowTheReadBufferForADamagedBatchLength() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> all = new ArrayList<>();
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(64 << 10));
      all.addAll(appendTexts(s, 0, "x".repeat(3000), 3)); // about 9 KB: larger than the 4 KiB buffer below
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 2; i++) {
        all.addAll(appendTexts(s, 0, "batch " + i, 3));
      }
    }
    Path sealed = segment(dir, 0);
    long[] starts = batchStarts(sealed);
    try (FileLog log = FileLog.open(dir)) {
      FilePartition p = ((FileLogStream) log.stream(STREAM)).partition(0);
      try (FileLogReader r = new FileLogReader(p, 0, 4096)) {
        assertThat(readThrough(r, all.size())).as("a whole batch larger than the buffer").isEqualTo(all);
        assertThat(r.bufferCapacity()).isGreaterThan(4096);
      }
    }

    int damagedBatch = 5;
    long damaged = starts[damagedBatch];
    int length;
    try (RandomAccessFile f = new RandomAccessFile(sealed.toFile(), "rw")) {
      f.seek(damaged);
      length = f.readInt();
      f.seek(damaged);
      f.writeInt(length + 20_000); // still inside the 64 KiB segment
    }
    try (FileLog log = FileLog.open(dir)) {
      FilePartition p = ((FileLogStream) log.stream(STREAM)).partition(0);
      long from = all.get(3).offset(); // after the large batch: the buffer has not grown
      try (FileLogReader r = new FileLogReader(p, from, 4096)) {
        CorruptLogException e = catchThrowableOfType(CorruptLogException.class, () -> readThrough(r, all.size()));
        assertThat(e).as("reading into the batch with the damaged length").isNotNull();
        assertThat(e.file()).isEqualTo(sealed);
        assertThat(e.position()).isEqualTo(damaged);
        assertThat(e).hasMessageContaining("batch of " + (4 + length + 20_000) + " bytes fails its CRC32C");
        assertThat(r.bufferCapacity()).as("the buffer did not grow for it").isEqualTo(4096);
      }
    }
  }

  /** Reads {@code r} until {@code end} records were read or it has nothing more. */
  private static List<Rec> readThrough(LogReader r, int end) {
    List<Rec> read = new ArrayList<>();
    while (read.size() < end) {
      RecordCursor c = r.poll();
      if (!c.next()) {
        break;
      }
      do {
        read.add(Rec.at(c));
      } while (c.next());
    }
    return read;
  }

  @Test
  void shouldRefuseASealedSegmentWithATornTail() throws IOException {
    Layout layout = build(tmp.resolve("log"), 61, 2);
    Path sealed = segment(layout.dir(), 0);
    long size = Files.size(sealed);
    truncate(sealed, size - 5);
    long[] starts = batchStarts(sealed);

    CorruptLogException e = refusedStream(layout.dir());

    assertThat(e).isNotNull();
    assertThat(e.file()).isEqualTo(sealed);
    assertThat(e.position()).isEqualTo(starts[starts.length - 1]);
    assertThat(e).hasMessageContaining("sealed segment");
  }

  @Test
  void shouldRefuseAGapWhereASegmentIsMissing() throws IOException {
    Layout layout = build(tmp.resolve("log"), 71, 2);
    Path partitionDir = FileLogStream.partitionDir(layout.dir().resolve(STREAM), 0);
    List<Path> segments;
    try (Stream<Path> files = Files.list(partitionDir)) {
      segments = files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
    }
    Files.delete(segments.get(1));
    Files.delete(partitionDir.resolve(segments.get(1).getFileName().toString().replace(".log", ".idx")));

    assertThat(refusedStream(layout.dir()))
        .hasMessageContaining(segments.get(0).toString())
        .hasMessageContaining("but the next segment, " + segments.get(2).getFileName() + ", starts at "
            + SegmentDescriptor.baseOffsetOf(segments.get(2).getFileName().toString()))
        .hasMessageContaining("(segment " + segments.get(1).getFileName() + " was deleted, or this one was cut)");
  }

  @Test
  void shouldRefuseASealedSegmentCutBackToItsHeader() throws IOException {
    Layout layout = build(tmp.resolve("log"), 81, 2);
    Path sealed = segment(layout.dir(), 0);
    truncate(sealed, SegmentDescriptor.HEADER_LENGTH);

    CorruptLogException e = refusedStream(layout.dir());

    assertThat(e).as("a sealed segment without batches").isNotNull();
    assertThat(e.file()).isEqualTo(sealed);
    assertThat(e).hasMessageContaining("ends at offset 0 but the next segment, ");
  }

  @Test
  void shouldRefuseAPartitionWhoseFirstSegmentIsMissing() throws IOException {
    Layout layout = build(tmp.resolve("log"), 91, 2);
    Path first = segment(layout.dir(), 0);
    Path second = sortedSegments(layout.dir()).get(1);
    long secondBase = SegmentDescriptor.baseOffsetOf(second.getFileName().toString());
    Files.delete(first);
    Files.delete(first.resolveSibling(SegmentDescriptor.indexName(0)));

    assertThat(refusedStream(layout.dir())).hasMessageContaining(second.toString())
        .hasMessageContaining("the partition's first segment starts at offset " + secondBase + ": the segments holding "
            + "offsets 0 to " + (secondBase - 1) + " are missing");
  }

  @Test
  void shouldRefuseAPartitionWhoseLastSegmentIsMissing() throws IOException {
    Layout layout = build(tmp.resolve("log"), 92, 2);
    List<Path> segments = sortedSegments(layout.dir());
    Files.delete(segments.get(segments.size() - 1)); // the active segment: the one before it has its index
    Path last = segments.get(segments.size() - 2);
    String index = SegmentDescriptor.indexName(SegmentDescriptor.baseOffsetOf(last.getFileName().toString()));

    assertThat(refusedStream(layout.dir())).hasMessageContaining(last.toString())
        .hasMessageContaining("the last segment is sealed (it has its index, " + index)
        .hasMessageContaining("if none was deleted, deleting " + index + " opens this segment as the last one");
    Files.delete(last.resolveSibling(index)); // as the message says: then it opens as the active segment
    try (FileLog log = FileLog.open(layout.dir())) {
      LogStream s = log.stream(STREAM);
      long end = SegmentDescriptor.baseOffsetOf(segments.get(segments.size() - 1).getFileName().toString());
      assertThat(s.endOffset(0)).isEqualTo(end);
      assertThat(readAll(s, 0, 0)).isEqualTo(layout.records().subList(0, (int) end));
    }
  }

  /**
   * An index entry damaged so that it still decodes (ordered, in range) but names another offset
   * than its batch's: a seek through it would start at the wrong batch. The reader checks each batch
   * against the offset it expects, reads the segment from its start instead, and the index file is
   * rebuilt on the next open. Every offset reads exactly the records from it.
   */
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4})
  void shouldReadEveryRecordThroughADamagedIndex(long seed) throws IOException {
    Random random = new Random(seed);
    Path dir = tmp.resolve("log");
    List<Rec> all = new ArrayList<>();
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(64 << 10));
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 2; i++) {
        all.addAll(appendTexts(s, 0, "batch " + i, 1 + random.nextInt(5)));
      }
    }
    Path index = segment(dir, 0).resolveSibling(SegmentDescriptor.indexName(0));
    ByteBuffer entries = ByteBuffer.wrap(Files.readAllBytes(index));
    int n = entries.limit() / SegmentDescriptor.INDEX_ENTRY_LENGTH;
    assertThat(n).as("seed %d: index entries", seed).isGreaterThan(3);
    int k = 1 + random.nextInt(n - 2);
    int before = entries.getInt((k - 1) * SegmentDescriptor.INDEX_ENTRY_LENGTH);
    int at = entries.getInt(k * SegmentDescriptor.INDEX_ENTRY_LENGTH);
    int after = entries.getInt((k + 1) * SegmentDescriptor.INDEX_ENTRY_LENGTH);
    assertThat(at - before).as("seed %d: offsets between entries", seed).isGreaterThan(1);
    // still ordered, so it decodes, but below the batch it points at: a seek to an offset in
    // [wrong, at) through it would start at offset `at` and skip the records before
    int wrong = before + 1 + random.nextInt(at - before - 1);
    entries.putInt(k * SegmentDescriptor.INDEX_ENTRY_LENGTH, wrong);
    Files.write(index, entries.array());

    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.stream(STREAM);
      assertThat(readAll(s, 0, wrong)).as("seed %d: from the offset the damaged entry names", seed)
          .isEqualTo(all.subList(wrong, all.size()));
      for (long from = 0; from <= all.size(); from += 1 + random.nextInt(7)) {
        assertThat(readAll(s, 0, from)).as("seed %d, entry %d, reading from %d", seed, k, from)
            .isEqualTo(all.subList((int) from, all.size()));
      }
    }
    assertThat(index).as("seed %d: the damaged index is deleted", seed).doesNotExist();
    try (FileLog log = FileLog.open(dir)) {
      assertThat(readAll(log.stream(STREAM), 0, all.size() / 2)).isEqualTo(all.subList(all.size() / 2, all.size()));
    }
    assertThat(index).as("seed %d: rebuilt on open", seed).exists();
  }

  /** The first index entry (the segment's first batch) damaged into naming offset 1: reads are exact. */
  @Test
  void shouldReadExactlyThroughADamagedFirstIndexEntry() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> all = sealedSegmentOfSmallBatches(dir);
    editIndex(dir, entries -> {
      assertThat(entries.getInt(4)).as("the first entry is the first batch").isEqualTo(SegmentDescriptor.HEADER_LENGTH);
      entries.putInt(0, 1);
    });
    try (FileLog log = FileLog.open(dir)) {
      for (long from = 0; from < 8; from++) {
        assertThat(readAll(log.stream(STREAM), 0, from)).as("from %d", from)
            .isEqualTo(all.subList((int) from, all.size()));
      }
    }
  }

  @Test
  void shouldRefuseAPartitionDirectoryEmptiedOfItsSegments() throws IOException {
    Layout layout = build(tmp.resolve("log"), 93, 2);
    Path partitionDir = FileLogStream.partitionDir(layout.dir().resolve(STREAM), 0);
    try (Stream<Path> files = Files.list(partitionDir)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    assertThat(refusedStream(layout.dir())).hasMessageContaining(partitionDir.toString())
        .hasMessageContaining("holds no segment file").hasMessageContaining("its segments were deleted");
  }

  @Test
  void shouldRefuseAnIndexWithoutItsSegmentAndAForeignTemporaryFile() throws IOException {
    Layout layout = build(tmp.resolve("log"), 94, 2);
    Path partitionDir = FileLogStream.partitionDir(layout.dir().resolve(STREAM), 0);
    Path orphan = partitionDir.resolve(SegmentDescriptor.indexName(99_999));
    Files.write(orphan, new byte[8]);
    assertThat(refusedStream(layout.dir())).hasMessageContaining(orphan.toString())
        .hasMessageContaining("an index without its segment");
    Files.delete(orphan);
    Path notes = partitionDir.resolve("notes.tmp");
    Files.writeString(notes, "mine");
    assertThatThrownBy(() -> FileLog.open(layout.dir()).close()).hasMessageContaining("foreign file notes.tmp");
    assertThat(notes).as("not deleted as if it were an index write's").exists();
  }

  /** An index entry pointing into a batch at the end of the index: the segment is whole, so the index is rebuilt. */
  @Test
  void shouldRebuildAWellFormedIndexWhoseLastEntryDoesNotLeadToWholeBatches() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> all = sealedSegmentOfSmallBatches(dir);
    Path index = editIndex(dir, entries -> {
      int last = entries.limit() - SegmentDescriptor.INDEX_ENTRY_LENGTH;
      entries.putInt(last + 4, entries.getInt(last + 4) + 7); // into the batch it named
    });
    byte[] damaged = Files.readAllBytes(index);

    try (FileLog log = FileLog.open(dir)) {
      assertThat(log.corruptStreams()).isEmpty();
      assertThat(readAll(log.stream(STREAM), 0, 0)).isEqualTo(all);
    }
    assertThat(Files.readAllBytes(index)).as("rebuilt").isNotEqualTo(damaged);
  }

  /**
   * An active segment cut below its header after the segment before it was sealed with its index:
   * no crash makes that (a roll writes the index after the new header is on disk), so its batches
   * were lost to damage, and the partition is refused rather than started with an empty segment.
   */
  @Test
  void shouldRefuseAnActiveSegmentCutBelowItsHeaderAfterTheSegmentBeforeItWasSealed() throws IOException {
    Layout layout = build(tmp.resolve("log"), 96, 3);
    truncate(layout.active(), 10);
    assertThat(refusedStream(layout.dir())).hasMessageContaining(layout.active().toString())
        .hasMessageContaining("the segment's header is torn, but the segment before it has its index");
  }

  /** Two recoveries that cut at the same byte keep both copies of what they cut. */
  @Test
  void shouldKeepEveryCopyOfCutBytesWhenTwoRecoveriesCutAtTheSameByte() throws IOException {
    Layout layout = build(tmp.resolve("log"), 95, 6);
    long validBytes = layout.starts()[1];
    flipBit(layout.active(), validBytes + 20, 3);
    try (FileLog log = FileLog.open(layout.dir())) {
      appendTexts(log.stream(STREAM), 0, "again", 2); // lands where the cut was
    }
    Path first = layout.active().resolveSibling(layout.active().getFileName() + "." + validBytes + ".cut");
    byte[] firstCopy = Files.readAllBytes(first);
    flipBit(layout.active(), validBytes + 20, 3);
    try (FileLog log = FileLog.open(layout.dir())) {
      assertThat(log.recoveries()).hasSize(1);
    }
    assertThat(Files.readAllBytes(first)).as("the first copy, untouched").isEqualTo(firstCopy);
    Path second = layout.active().resolveSibling(layout.active().getFileName() + "." + validBytes + "-2.cut");
    assertThat(second).exists();
    assertThat(Files.readAllBytes(second)).isNotEqualTo(firstCopy);
  }

  /** Rewrites the index of partition 0's first segment after {@code edit} changed its entries; returns the index. */
  private static Path editIndex(Path dir, java.util.function.Consumer<ByteBuffer> edit) throws IOException {
    Path index = segment(dir, 0).resolveSibling(SegmentDescriptor.indexName(0));
    ByteBuffer entries = ByteBuffer.wrap(Files.readAllBytes(index));
    edit.accept(entries);
    Files.write(index, entries.array());
    return index;
  }

  /** A log whose partition 0 has one sealed 64 KiB segment of 3-record batches (and an index of many entries). */
  private static List<Rec> sealedSegmentOfSmallBatches(Path dir) {
    List<Rec> all = new ArrayList<>();
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(64 << 10));
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 2; i++) {
        all.addAll(appendTexts(s, 0, "batch " + i, 3));
      }
    }
    return all;
  }

  private static List<Path> sortedSegments(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(FileLogStream.partitionDir(dir.resolve(STREAM), 0))) {
      return files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
    }
  }

  /** File positions of the batches of a segment, read from their length fields. */
  private static long[] batchStarts(Path segment) throws IOException {
    ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(segment));
    List<Long> starts = new ArrayList<>();
    for (int pos = SegmentDescriptor.HEADER_LENGTH; pos + 4 <= bytes.limit(); pos += 4 + bytes.getInt(pos)) {
      starts.add((long) pos);
    }
    return starts.stream().mapToLong(Long::longValue).toArray();
  }

  // ---------------------------------------------------------------------------------------------
  // Files that do not belong
  // ---------------------------------------------------------------------------------------------

  /** A renamed segment is named as renamed, not blamed on the gap it leaves after the segment before it. */
  @ParameterizedTest(name = "segment {0}")
  @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1, 2})
  void shouldNameARenamedSegment(int renamed) throws IOException {
    Path dir = tmp.resolve("log");
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(4096));
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 3; i++) {
        appendTexts(s, 0, "batch " + i, 3);
      }
    }
    Path from = sortedSegments(dir).get(renamed);
    long base = Long.parseLong(from.getFileName().toString().substring(0, 20));
    Path to = segment(dir, base + 1);
    Files.move(from, to);
    Path index = from.resolveSibling(SegmentDescriptor.indexName(base));
    if (Files.exists(index)) {
      Files.move(index, to.resolveSibling(SegmentDescriptor.indexName(base + 1)));
    }

    CorruptLogException e = refusedStream(dir);
    assertThat(e.file()).isEqualTo(to);
    assertThat(e).hasMessageContaining("the segment's header says it starts at offset " + base + ", its file name at "
        + (base + 1) + ": the file was renamed (its name must be " + SegmentDescriptor.segmentName(base) + ")");
  }

  @Test
  void shouldRefuseOnlyTheStreamWhosePartitionDirectoryIsMissing() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> other;
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(2));
      appendTexts(s, 1, "lost", 3);
      other = appendTexts(log.createStream("other", StreamConfig.of(1)), 0, "kept", 3);
    }
    Path lost = FileLogStream.partitionDir(dir.resolve(STREAM), 1);
    deleteTree(lost);

    try (FileLog log = FileLog.open(dir)) {
      CorruptLogException e = log.corruptStreams().get(STREAM);
      assertThat(e).as("the stream is refused, not the log").isNotNull();
      assertThat(e.file()).isEqualTo(lost);
      assertThat(e).hasMessageContaining("the partition directory is missing (stream 's' has 2 partitions");
      assertThatThrownBy(() -> log.stream(STREAM)).isInstanceOf(CorruptLogException.class);
      assertThat(readAll(log.stream("other"), 0, 0)).isEqualTo(other);
    }
  }

  @Test
  void shouldRefuseAForeignFileInTheLogDirectory() throws IOException {
    Files.writeString(tmp.resolve("notes.txt"), "hello");

    assertThatThrownBy(() -> FileLog.open(tmp))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("foreign file notes.txt")
        .hasMessageContaining(tmp.toString());
  }

  @Test
  void shouldRefuseAForeignFileInAStreamDirectory() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(2));
    }
    Files.writeString(tmp.resolve(STREAM).resolve("backup.tar"), "hello");

    assertThatThrownBy(() -> FileLog.open(tmp))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("foreign file backup.tar")
        .hasMessageContaining(tmp.resolve(STREAM).toString());
  }

  @Test
  void shouldRefuseAPartitionDirectoryBeyondThePartitionCount() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(2));
    }
    Files.createDirectories(FileLogStream.partitionDir(tmp.resolve(STREAM), 2));

    assertThatThrownBy(() -> FileLog.open(tmp))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("p00002")
        .hasMessageContaining("2 partitions");
  }

  @Test
  void shouldRefuseAForeignFileInAPartitionDirectory() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(2));
    }
    Path partitionDir = FileLogStream.partitionDir(tmp.resolve(STREAM), 1);
    Files.writeString(partitionDir.resolve("00000000000000000000.log.bak"), "hello");

    assertThatThrownBy(() -> FileLog.open(tmp))
        .isInstanceOf(LogException.class)
        .hasMessageContaining("foreign file 00000000000000000000.log.bak")
        .hasMessageContaining(partitionDir.toString());
  }

  /** One partition of two segments (the first sealed, the second active); returns its records. */
  private static List<Rec> twoSegments(Path dir) {
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1).withSegmentBytes(16 << 10));
      List<Rec> all = new ArrayList<>();
      for (int i = 0; ((FileLogStream) s).partition(0).segments().length < 2; i++) {
        all.addAll(appendTexts(s, 0, "batch " + i, 3));
      }
      return all;
    }
  }

  /**
   * A stray segment file after the active one refuses the stream, and the open that refused it
   * leaves the directory as it was: it wrote no index for the segment the stray file made look sealed
   * (which made that segment sealed for good once the stray file was removed). Without the stray
   * file, everything reads again.
   */
  @Test
  void shouldChangeNothingOnDiskWhenAStraySegmentAfterTheActiveOneRefusesTheStream() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> all = twoSegments(dir);
    Path partitionDir = FileLogStream.partitionDir(dir.resolve(STREAM), 0);
    Path stray = segment(dir, all.size());
    byte[] noise = new byte[100];
    new Random(5).nextBytes(noise);
    Files.write(stray, noise);
    List<String> before;
    try (Stream<Path> files = Files.list(partitionDir)) {
      before = files.map(f -> f.getFileName().toString()).sorted().toList();
    }
    try (FileLog log = FileLog.open(dir)) {
      assertThat(log.corruptStreams()).containsKey(STREAM);
    }
    try (Stream<Path> files = Files.list(partitionDir)) {
      assertThat(files.map(f -> f.getFileName().toString()).sorted().toList()).as("no index written")
          .isEqualTo(before);
    }
    Files.delete(stray);
    try (FileLog log = FileLog.open(dir)) {
      assertThat(log.corruptStreams()).isEmpty();
      assertThat(readAll(log.stream(STREAM), 0, 0)).isEqualTo(all);
    }
  }

  /** An empty stray segment inside the active segment's offsets is named as the file that does not belong. */
  @Test
  void shouldNameAStraySegmentInsideAnotherSegmentsOffsets() throws IOException {
    Path dir = tmp.resolve("log");
    List<Rec> all = twoSegments(dir);
    long last = all.get(all.size() - 1).offset();
    Path stray = segment(dir, last); // inside the active segment, which holds up to last
    Files.createFile(stray);
    try (FileLog log = FileLog.open(dir)) {
      CorruptLogException e = log.corruptStreams().get(STREAM);
      assertThat(e).isNotNull();
      assertThat(e.file()).isEqualTo(stray);
      assertThat(e).hasMessageContaining("holds offsets up to " + last + ", so no segment can start at " + last)
          .hasMessageContaining("this file does not belong to the partition");
    }
    // the same when the segment it makes look sealed is the active one with a torn tail, as after a crash:
    // the stray file is named, not the good one's tail
    Files.delete(stray);
    try (FileLog log = FileLog.open(dir)) {
      for (int i = 0; i < 3; i++) {
        appendTexts(log.stream(STREAM), 0, "more " + i, 3);
      }
    }
    Path partitionDir = FileLogStream.partitionDir(dir.resolve(STREAM), 0);
    Path active;
    try (Stream<Path> files = Files.list(partitionDir)) {
      active = files.filter(f -> f.toString().endsWith(".log")).sorted().reduce((a, b) -> b).orElseThrow();
    }
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(active,
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 3);
    }
    Path inside = segment(dir, SegmentDescriptor.baseOffsetOf(active.getFileName().toString()) + 1);
    Files.createFile(inside);
    try (FileLog log = FileLog.open(dir)) {
      assertThat(log.corruptStreams().get(STREAM).file()).isEqualTo(inside);
    }
  }

  /** Entries named like segments that are not segment files are foreign, by name. */
  @Test
  void shouldRefuseEntriesNamedLikeSegmentsThatAreNotSegmentFiles() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(1));
    }
    Path partitionDir = FileLogStream.partitionDir(tmp.resolve(STREAM), 0);
    Path tooLarge = partitionDir.resolve("99999999999999999999.log");
    Files.createFile(tooLarge);
    assertThatThrownBy(() -> FileLog.open(tmp)).isInstanceOf(LogException.class)
        .hasMessageContaining("foreign file 99999999999999999999.log in partition directory " + partitionDir)
        .hasMessageContaining("past the largest offset");
    Files.delete(tooLarge);
    Files.createDirectory(partitionDir.resolve("00000000000000005000.log"));
    assertThatThrownBy(() -> FileLog.open(tmp)).isInstanceOf(LogException.class)
        .hasMessageContaining("foreign entry 00000000000000005000.log")
        .hasMessageContaining("is not a file");
  }

  /**
   * A {@code .creating} directory that a stream creation left is deleted on open; one holding other
   * files is refused as foreign and kept.
   */
  @Test
  void shouldDeleteOnlyWhatAStreamCreationLeft() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      log.createStream(STREAM, StreamConfig.of(1));
    }
    Path left = tmp.resolve("half.creating");
    Files.createDirectories(FileLogStream.partitionDir(left, 0));
    Files.createFile(FileLogStream.partitionDir(left, 0).resolve(SegmentDescriptor.segmentName(0)));
    Files.writeString(left.resolve("stream.properties"), "format=1\n");
    try (FileLog log = FileLog.open(tmp)) {
      assertThat(left).doesNotExist();
    }
    Path precious = tmp.resolve("foo.creating").resolve("data");
    Files.createDirectories(precious.getParent());
    Files.writeString(precious, "precious");
    assertThatThrownBy(() -> FileLog.open(tmp)).isInstanceOf(LogException.class)
        .hasMessageContaining("foreign file foo.creating/data in log directory " + tmp);
    assertThat(precious).hasContent("precious");
  }

  /** An I/O error names the operating system's reason, not the path alone. */
  @Test
  void shouldDescribeAnIoErrorByItsReason() {
    assertThat(LogException.describe(new java.nio.file.AccessDeniedException("/d/p00000/x.log")))
        .isEqualTo("/d/p00000/x.log: permission denied");
    assertThat(LogException.describe(new java.nio.file.NoSuchFileException("/d/x")))
        .isEqualTo("/d/x: no such file or directory");
    assertThat(LogException.describe(new java.nio.file.FileSystemException("/d/x", null, "Input/output error")))
        .isEqualTo("/d/x: Input/output error");
    assertThat(LogException.describe(new java.io.IOException("disk gone"))).isEqualTo("disk gone");
  }

  /** A reader whose segment was deleted under it (its data directory removed) says so, not the path alone. */
  @Test
  void shouldNameAMissingSegmentWhenAReadFails() throws IOException {
    try (FileLog log = FileLog.open(tmp)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1));
      append(s, 0, List.of(Rec.of(-1, new byte[] {1}, new byte[] {2}, 0, 0)));
      Path segment = ((FileLogStream) s).partition(0).segments()[0].file;
      try (LogReader r = s.reader(0, 0)) {
        Files.delete(segment); // before the reader's first read opens it
        assertThatThrownBy(r::poll).isInstanceOf(LogException.class)
            .hasMessageContaining("reading " + segment + " at byte")
            .hasMessageEndingWith(segment + ": no such file or directory");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One owner at a time
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRefuseASecondOpenInTheSameJvmAndKeepTheLockAgainstOtherProcesses() throws Exception {
    Path dir = tmp.resolve("log");
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream(STREAM, StreamConfig.of(1));

      assertThatThrownBy(() -> FileLog.open(dir)).isInstanceOf(LogException.class).hasMessageContaining("in use");
      assertThatThrownBy(() -> FileLog.open(dir.resolve(".").resolve(STREAM).resolve("..")))
          .as("the same directory by another path").isInstanceOf(LogException.class).hasMessageContaining("in use");

      // The refused attempts must not have released this process's lock.
      assertThat(probe(dir)).startsWith("REFUSED").contains("in use");
      appendTexts(s, 0, "still ours", 1);
    }
    assertThat(probe(dir)).as("once closed, another process may open it").isEqualTo("OPENED");
    assertThatCode(() -> FileLog.open(dir).close()).doesNotThrowAnyException();
  }

  @Test
  void shouldRefuseAnOpenWhileAnotherProcessHoldsTheLogUntilThatProcessIsKilled() throws Exception {
    Path stderr = tmp.resolve("holder.err");
    Path dir = tmp.resolve("log");
    Process holder = ChildJvm.start(stderr, OpenProbe.class, dir.toString(), "hold");
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertThat(out.readLine()).as("holder: %s", ChildJvm.stderrOf(stderr)).isEqualTo("OPENED");

      assertThatThrownBy(() -> FileLog.open(dir))
          .isInstanceOf(LogException.class)
          .hasMessageContaining("in use")
          .hasMessageContaining("pid " + holder.pid());

      holder.destroyForcibly();
      assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(holder.exitValue()).as("killed by SIGKILL").isEqualTo(ChildJvm.KILLED_BY_SIGKILL);
      // The OS drops the lock of a killed process; the stale pid in LOCK does not matter.
      assertThatCode(() -> FileLog.open(dir).close()).doesNotThrowAnyException();
    } finally {
      holder.destroyForcibly();
    }
  }

  /** Runs {@link OpenProbe} on {@code dir} in a child JVM and returns the line it printed. */
  private String probe(Path dir) throws Exception {
    Path stderr = tmp.resolve("probe.err");
    Process p = ChildJvm.start(stderr, OpenProbe.class, dir.toString(), "probe");
    try {
      String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(line).as("probe stderr: %s", ChildJvm.stderrOf(stderr)).isNotNull();
      return line;
    } finally {
      p.destroyForcibly();
    }
  }
}
