package dev.braid.log;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/** Small scenario helpers shared by the log tests: record values, builders, read-everything. */
final class LogTestSupport {

  private static final HexFormat HEX = HexFormat.of();

  private LogTestSupport() {}

  /**
   * One record as read back (or as expected), with key and value in hex so that assertion failures
   * show the bytes and records compare by value.
   */
  record Rec(long offset, String key, String value, long eventTime, long ingestTime) {

    static Rec of(long offset, byte[] key, byte[] value, long eventTime, long ingestTime) {
      return new Rec(offset, HEX.formatHex(key), HEX.formatHex(value), eventTime, ingestTime);
    }

    static Rec at(RecordCursor c) {
      return of(c.offset(), c.key(), c.value(), c.eventTime(), c.ingestTime());
    }

    /** The same record at another offset: for expectations built before the log assigned offsets. */
    Rec withOffset(long offset) {
      return new Rec(offset, key, value, eventTime, ingestTime);
    }

    String valueText() {
      return new String(HEX.parseHex(value), StandardCharsets.UTF_8);
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Appends the records (offsets ignored) as one batch and returns them with their assigned offsets. */
  static List<Rec> append(LogStream stream, int partition, List<Rec> records) {
    RecordBatchBuilder b = new RecordBatchBuilder(256, StreamConfig.DEFAULT_MAX_RECORD_BYTES);
    for (Rec r : records) {
      b.add(HEX.parseHex(r.key()), HEX.parseHex(r.value()), r.eventTime(), r.ingestTime());
    }
    AppendResult result = stream.append(partition, b);
    List<Rec> out = new ArrayList<>(records.size());
    for (int i = 0; i < records.size(); i++) {
      out.add(records.get(i).withOffset(result.offset(i)));
    }
    return out;
  }

  /** Appends {@code count} records whose values are {@code prefix-0, prefix-1, ...}. */
  static List<Rec> appendTexts(LogStream stream, int partition, String prefix, int count) {
    List<Rec> recs = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      recs.add(Rec.of(-1, utf8("k" + i), utf8(prefix + "-" + i), 1_000L + i, 2_000L + i));
    }
    return append(stream, partition, recs);
  }

  /** Random records: keys and values from empty up to a few KB, times including the extremes. */
  static List<Rec> randomRecords(Random random, int count) {
    List<Rec> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      byte[] key = new byte[random.nextInt(4) == 0 ? 0 : random.nextInt(40)];
      byte[] value = new byte[random.nextInt(10) == 0 ? random.nextInt(5000) : random.nextInt(200)];
      random.nextBytes(key);
      random.nextBytes(value);
      long eventTime = switch (random.nextInt(8)) {
        case 0 -> Long.MIN_VALUE;
        case 1 -> Long.MAX_VALUE;
        case 2 -> 0L;
        default -> random.nextLong();
      };
      out.add(Rec.of(-1, key, value, eventTime, random.nextLong()));
    }
    return out;
  }

  /** Every record of {@code partition} from {@code from} to the current end. */
  static List<Rec> readAll(LogStream stream, int partition, long from) {
    try (LogReader reader = stream.reader(partition, from)) {
      return drain(reader);
    }
  }

  /** Polls {@code reader} until a poll comes back empty. */
  static List<Rec> drain(LogReader reader) {
    List<Rec> out = new ArrayList<>();
    while (true) {
      RecordCursor c = reader.poll();
      boolean any = false;
      while (c.next()) {
        out.add(Rec.at(c));
        any = true;
      }
      if (!any) {
        return out;
      }
    }
  }
}
