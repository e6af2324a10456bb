package dev.braid.log;

import static dev.braid.log.LogTestSupport.appendTexts;
import static dev.braid.log.LogTestSupport.readAll;
import static dev.braid.testing.TestFiles.copyTree;
import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.LogTestSupport.Rec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preallocation under {@code fsync} durability (see {@link FilePartition}): the active segment is
 * zero-filled ahead of the writer, sealed and cleanly closed segments hold batches only, and a
 * segment left with its zeros by a crash recovers to exactly its batches.
 */
class FileLogPreallocationTest {

  @BeforeEach
  void turnPreallocationOn() {
    System.setProperty(FilePartition.PREALLOCATE_PROPERTY, "true"); // off by default: see FilePartition
  }

  @AfterEach
  void turnPreallocationOff() {
    System.clearProperty(FilePartition.PREALLOCATE_PROPERTY);
  }


  private static final String STREAM = "pre";
  /** Two preallocation steps plus a bit: the active segment is zero-filled in more than one step. */
  private static final long SEGMENT_BYTES = 2 * FilePartition.PREALLOCATE_STEP + 8192;

  @TempDir
  Path tmp;

  private FileLog log;

  @AfterEach
  void closeTheLog() {
    if (log != null) {
      log.close();
    }
  }

  private static FilePartition partition(LogStream s) {
    return ((FileLogStream) s).partition(0);
  }

  private static List<Path> segmentFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(FileLogStream.partitionDir(dir.resolve(STREAM), 0))) {
      return files.filter(f -> f.toString().endsWith(".log")).sorted(Comparator.naturalOrder()).toList();
    }
  }

  /** Where the batches of a segment file end, following their length fields up to a zero or the file end. */
  private static long batchesEnd(Path segment) throws IOException {
    ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(segment));
    int pos = SegmentDescriptor.HEADER_LENGTH;
    while (pos + 4 <= bytes.limit() && bytes.getInt(pos) != 0) {
      pos += 4 + bytes.getInt(pos);
    }
    return pos;
  }

  /** Appends until the active segment file is longer than its batches, i.e. a zero fill landed. */
  private static List<Rec> appendUntilPreallocated(LogStream s, Path active) throws Exception {
    List<Rec> all = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); // a hang guard, not a timing check
    all.addAll(appendTexts(s, 0, "first", 20));
    while (Files.size(active) <= partition(s).segments()[partition(s).segments().length - 1].size) {
      assertThat(System.nanoTime()).as("waiting for the first zero fill").isLessThan(deadline);
      Thread.sleep(2);
    }
    all.addAll(appendTexts(s, 0, "more", 20));
    return all;
  }

  @Test
  void shouldZeroFillTheActiveSegmentAheadOfTheWriterAndCutItWhenClosing() throws Exception {
    Path dir = tmp.resolve("log");
    log = FileLog.open(dir);
    LogStream s = log.createStream(STREAM, StreamConfig.of(1).withDurability(Durability.fsync())
        .withSegmentBytes(SEGMENT_BYTES));
    Path active = segmentFiles(dir).get(0);

    List<Rec> all = appendUntilPreallocated(s, active);

    Segment seg = partition(s).segments()[0];
    assertThat(Files.size(active)).as("zeros ahead of the batches").isGreaterThan(seg.size)
        .isLessThanOrEqualTo(SEGMENT_BYTES);
    assertThat(batchesEnd(active)).isEqualTo(seg.size);
    assertThat(readAll(s, 0, 0)).isEqualTo(all);

    log.close();
    assertThat(Files.size(active)).as("a cleanly closed segment holds batches only").isEqualTo(batchesEnd(active));
    log = FileLog.open(dir);
    assertThat(log.recoveries()).isEmpty();
    assertThat(readAll(log.stream(STREAM), 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldSealSegmentsWithBatchesOnly() throws Exception {
    Path dir = tmp.resolve("log");
    log = FileLog.open(dir);
    LogStream s = log.createStream(STREAM, StreamConfig.of(1).withDurability(Durability.fsync())
        .withSegmentBytes(SEGMENT_BYTES));
    List<Rec> all = appendUntilPreallocated(s, segmentFiles(dir).get(0));
    byte[] value = new byte[60_000];
    while (partition(s).segments().length < 3) {
      all.addAll(LogTestSupport.append(s, 0, List.of(Rec.of(-1, new byte[] {1}, value, 0, 0))));
    }

    List<Path> files = segmentFiles(dir);
    for (Path sealed : files.subList(0, files.size() - 1)) {
      assertThat(Files.size(sealed)).as("sealed %s", sealed).isEqualTo(batchesEnd(sealed));
    }
    log.close();
    log = FileLog.open(dir);
    assertThat(log.recoveries()).isEmpty();
    assertThat(readAll(log.stream(STREAM), 0, 0)).isEqualTo(all);
  }

  @Test
  void shouldRecoverExactlyTheBatchesOfASegmentLeftWithItsZerosByACrash() throws Exception {
    Path dir = tmp.resolve("log");
    log = FileLog.open(dir);
    LogStream s = log.createStream(STREAM, StreamConfig.of(1).withDurability(Durability.fsync())
        .withSegmentBytes(SEGMENT_BYTES));
    Path active = segmentFiles(dir).get(0);
    List<Rec> all = appendUntilPreallocated(s, active);
    // What a kill -9 leaves: the files as they are now, zeros included.
    Path crashed = tmp.resolve("crashed");
    copyTree(dir, crashed);
    long batches = partition(s).segments()[0].size;
    long fileSize = Files.size(crashed.resolve(dir.relativize(active)));
    log.close();

    log = FileLog.open(crashed);
    assertThat(log.recoveries()).containsExactly(new RecoveryReport(STREAM, 0, crashed.resolve(dir.relativize(active)),
        batches, fileSize - batches, all.size(), 1));
    LogStream again = log.stream(STREAM);
    assertThat(readAll(again, 0, 0)).isEqualTo(all);
    List<Rec> after = appendTexts(again, 0, "after", 3);
    assertThat(after.get(0).offset()).isEqualTo(all.size());
    all.addAll(after);
    assertThat(readAll(again, 0, 0)).isEqualTo(all);
  }

}
