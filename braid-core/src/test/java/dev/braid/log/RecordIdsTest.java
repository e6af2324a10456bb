package dev.braid.log;

import static dev.braid.log.LogTestSupport.utf8;
import static dev.braid.log.RecordBatchDescriptor.*;
import static dev.braid.testing.TestFiles.copyTree;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Records with ids ({@link RecordBatchDescriptor#FLAG_IDS}): they round-trip through append and
 * read, recovery cuts a torn batch with ids back to the whole batches before it, a batch holds ids
 * on all records or none, damaged id lengths and unknown flags are refused, and batches without ids
 * keep their old layout byte for byte.
 */
class RecordIdsTest {

  @TempDir
  Path dir;

  /** A record as read back, with its id (null when none). */
  record Read(long offset, String key, String id, String value, long eventTime, long ingestTime) {
    static Read at(RecordCursor c) {
      return new Read(c.offset(), new String(c.key()), c.id(), new String(c.value()), c.eventTime(), c.ingestTime());
    }
  }

  private static List<Read> readAll(LogStream s, int partition) {
    List<Read> out = new ArrayList<>();
    try (LogReader r = s.reader(partition, s.startOffset(partition))) {
      while (r.position() < s.endOffset(partition)) {
        RecordCursor c = r.poll();
        while (c.next()) {
          out.add(Read.at(c));
          if (c.id() == null) {
            assertThat(c.idOffset()).isEqualTo(-1);
            assertThat(c.idLength()).isZero();
          }
        }
      }
    }
    return out;
  }

  private static RecordBatchBuilder withIds(List<Read> records) {
    RecordBatchBuilder b = new RecordBatchBuilder(64, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    for (Read r : records) {
      byte[] k = utf8(r.key());
      byte[] id = utf8(r.id());
      byte[] v = utf8(r.value());
      b.add(k, 0, k.length, id, 0, id.length, v, 0, v.length, r.eventTime(), r.ingestTime());
    }
    return b;
  }

  private static List<Read> randomRecords(Random rnd, int n, long firstOffset) {
    List<Read> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new Read(firstOffset + i, "k" + rnd.nextInt(1000), "id-" + "x".repeat(rnd.nextInt(300)) + i,
          "v".repeat(rnd.nextInt(50)), rnd.nextInt(1_000_000), 1000 + i));
    }
    return out;
  }

  @Test
  void shouldRoundTripRecordsWithIdsBesideBatchesWithout() {
    Random rnd = new Random(7);
    List<Read> expected = new ArrayList<>();
    try (FileLog log = FileLog.open(dir)) {
      LogStream s = log.createStream("s", StreamConfig.of(1));
      for (int batch = 0; batch < 20; batch++) {
        long first = s.endOffset(0);
        if (batch % 3 == 2) {
          RecordBatchBuilder b = new RecordBatchBuilder();
          b.add(utf8("plain"), utf8("value" + batch), 5, 6);
          s.append(0, b);
          expected.add(new Read(first, "plain", null, "value" + batch, 5, 6));
        } else {
          List<Read> recs = randomRecords(rnd, 1 + rnd.nextInt(30), first);
          s.append(0, withIds(recs));
          expected.addAll(recs);
        }
      }
      // an empty id and an empty key and value are legal in the log
      s.append(0, withIds(List.of(new Read(s.endOffset(0), "", "", "", 1, 2))));
      expected.add(new Read(expected.size(), "", "", "", 1, 2));
      assertThat(readAll(s, 0)).containsExactlyElementsOf(expected);
    }
    try (FileLog log = FileLog.open(dir)) {
      assertThat(readAll(log.stream("s"), 0)).as("after reopening (recovery scans the batches)")
          .containsExactlyElementsOf(expected);
    }
  }


  @Test
  void shouldRefuseMixingRecordsWithAndWithoutIdsInOneBatch() {
    RecordBatchBuilder b = new RecordBatchBuilder();
    b.add(utf8("k"), utf8("v"), 1, 1);
    byte[] id = utf8("id");
    assertThatThrownBy(() -> b.add(utf8("k"), 0, 1, id, 0, 2, utf8("v"), 0, 1, 1, 1))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("records without ids");
    b.clear();
    b.add(utf8("k"), 0, 1, id, 0, 2, utf8("v"), 0, 1, 1, 1);
    assertThatThrownBy(() -> b.add(utf8("k"), utf8("v"), 1, 1))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("carries an id on every record");
    assertThat(b.count()).isEqualTo(1);
    b.clear();
    b.add(utf8("k"), utf8("v"), 1, 1); // a cleared builder may start without ids again
    assertThat(b.hasIds()).isFalse();
  }

  @Test
  void shouldCountTheIdAgainstTheRecordSizeLimit() {
    RecordBatchBuilder b = new RecordBatchBuilder(64, 10);
    byte[] id = utf8("123456");
    assertThatThrownBy(() -> b.add(utf8("key"), 0, 3, id, 0, 6, utf8("va"), 0, 2, 1, 1))
        .isInstanceOf(RecordTooLargeException.class);
    assertThatThrownBy(() -> b.add(utf8("k"), 0, 1, new byte[MAX_ID_BYTES + 1], 0, MAX_ID_BYTES + 1, utf8("v"), 0,
        1, 1, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 65535");
  }

  @Test
  void shouldKeepTheWholeBatchesWithIdsBeforeATornOneAtEveryByte() throws IOException {
    Random rnd = new Random(11);
    List<Read> first = randomRecords(rnd, 5, 0);
    List<Read> second = randomRecords(rnd, 4, 5);
    Path master = dir.resolve("master");
    try (FileLog log = FileLog.open(master)) {
      LogStream s = log.createStream("s", StreamConfig.of(1));
      s.append(0, withIds(first));
      s.append(0, withIds(second));
    }
    Path seg = FileLogStream.partitionDir(master.resolve("s"), 0).resolve(SegmentDescriptor.segmentName(0));
    byte[] bytes = Files.readAllBytes(seg);
    long secondStart = SegmentDescriptor.HEADER_LENGTH + 4L + ByteBuffer.wrap(bytes, SegmentDescriptor.HEADER_LENGTH,
        4).getInt();
    int secondEnd = (int) (secondStart + 4 + ByteBuffer.wrap(bytes, (int) secondStart, 4).getInt());
    for (long cut = secondStart + 1; cut < secondEnd; cut += 7) {
      Path copy = dir.resolve("cut" + cut);
      copyTree(master, copy);
      Path copySeg = FileLogStream.partitionDir(copy.resolve("s"), 0).resolve(SegmentDescriptor.segmentName(0));
      try (RandomAccessFile f = new RandomAccessFile(copySeg.toFile(), "rw")) {
        f.setLength(cut);
      }
      try (FileLog log = FileLog.open(copy)) {
        LogStream s = log.stream("s");
        assertThat(readAll(s, 0)).as("cut at byte %d", cut).containsExactlyElementsOf(first);
        s.append(0, withIds(List.of(new Read(5, "k", "after", "v", 1, 1))));
        assertThat(readAll(s, 0).get(5).id()).isEqualTo("after");
      }
    }
  }

  private static ByteBuffer sealedBatchWithIds() {
    RecordBatchBuilder b = new RecordBatchBuilder();
    b.add(utf8("key"), 0, 3, utf8("the-id"), 0, 6, utf8("value"), 0, 5, 1, 2);
    ByteBuffer batch = b.seal(0);
    ByteBuffer copy = ByteBuffer.allocate(batch.remaining());
    copy.put(batch).flip();
    return copy;
  }

  @Test
  void shouldRefuseAnIdLengthThatRunsPastItsRecord() {
    ByteBuffer batch = sealedBatchWithIds();
    BatchCheck check = new BatchCheck();
    check.stamp(batch);
    assertThat(check.check(batch, 0, 0)).isNull();
    batch.putShort(HEADER_LENGTH + RECORD_HEADER_LENGTH + 3, (short) 100);
    check.stamp(batch);
    assertThat(check.check(batch, 0, 0)).isEqualTo("record 0 has an impossible id length");
  }

  @Test
  void shouldRefuseABatchWithUnknownFlags() {
    ByteBuffer batch = sealedBatchWithIds();
    batch.putShort(FLAGS_OFFSET, (short) 0x0003);
    BatchCheck check = new BatchCheck();
    check.stamp(batch);
    assertThat(check.check(batch, 0, 0)).isEqualTo("unknown batch flags 0x0003");
  }

  @Test
  void shouldLayOutABatchWithoutIdsExactlyAsBefore() {
    RecordBatchBuilder b = new RecordBatchBuilder();
    b.add(utf8("ab"), utf8("xyz"), 7, 9);
    ByteBuffer batch = b.seal(42);
    // the format of magic 1 before ids: flags 0, and record = length | event time | ingest time | key length | key | value
    assertThat(batch.getShort(FLAGS_OFFSET)).isZero();
    int r = HEADER_LENGTH;
    assertThat(batch.getInt(r)).isEqualTo(20 + 2 + 3);
    assertThat(batch.getLong(r + 4)).isEqualTo(7);
    assertThat(batch.getLong(r + 12)).isEqualTo(9);
    assertThat(batch.getInt(r + 20)).isEqualTo(2);
    assertThat(new String(new byte[] {batch.get(r + 24), batch.get(r + 25)})).isEqualTo("ab");
    assertThat(new String(new byte[] {batch.get(r + 26), batch.get(r + 27), batch.get(r + 28)})).isEqualTo("xyz");
    assertThat(batch.limit()).isEqualTo(HEADER_LENGTH + 4 + 25);
    BatchRecordCursor c = new BatchRecordCursor();
    c.reset(batch, 0, batch.limit(), 0);
    assertThat(c.next()).isTrue();
    assertThat(Read.at(c)).isEqualTo(new Read(42, "ab", null, "xyz", 7, 9));
    assertThat(c.next()).isFalse();
  }
}
