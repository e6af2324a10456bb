package dev.braid.bench;

import dev.braid.event.EventDescriptor;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The events every engine of the views benchmark folds, defined by a pure function of the event's
 * index so that Braid (from its log), Flink (from a number sequence) and DuckDB (from a table)
 * all see the same {@code --events} events without shipping them between JVMs:
 *
 * <pre>
 *   event i:  key    = keyString(keyIndex(i, keys))   e.g. "key-00031337" (12 bytes)
 *             amount = amount(i)                      an integer in [0, 1000)
 *             ts     = BASE_EVENT_TIME + i            event time, 1 ms apart
 * </pre>
 *
 * Key indices are a hash of {@code i} modulo {@code keys}, so keys arrive in random order and
 * about {@code events / keys} times each (with 10 M events over 1 M keys, some 45 keys never occur).
 * The view is {@code count} and {@code sum(amount)} by key.
 */
final class ViewsEvents {

  static final String STREAM = "events";
  static final String VIEW = "totals";
  static final long BASE_EVENT_TIME = 1_736_154_000_000L;
  static final int KEY_DIGITS = 8;
  static final int MAX_KEYS = 100_000_000;
  private static final byte[] KEY_PREFIX = "key-".getBytes(StandardCharsets.US_ASCII);
  static final int KEY_BYTES = KEY_PREFIX.length + KEY_DIGITS;

  private ViewsEvents() {}

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static int keyIndex(long i, int keys) {
    return (int) Long.remainderUnsigned(mix(i * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L), keys);
  }

  static long amount(long i) {
    return Long.remainderUnsigned(mix(i ^ 0x5DEECE66DL), 1000);
  }

  static long eventTime(long i) {
    return BASE_EVENT_TIME + i;
  }

  /** Writes the key's bytes ({@value #KEY_BYTES} of them) at {@code out[0..]}. */
  static void keyBytes(int key, byte[] out) {
    System.arraycopy(KEY_PREFIX, 0, out, 0, KEY_PREFIX.length);
    int v = key;
    for (int d = KEY_BYTES - 1; d >= KEY_PREFIX.length; d--) {
      out[d] = (byte) ('0' + v % 10);
      v /= 10;
    }
  }

  static String keyString(int key) {
    byte[] b = new byte[KEY_BYTES];
    keyBytes(key, b);
    return new String(b, StandardCharsets.US_ASCII);
  }

  static StreamSpec streamSpec(int partitions) {
    return StreamSpec.builder(STREAM).partitions(partitions).key("key").time("ts")
        .field("key", FieldType.STRING).field("amount", FieldType.LONG).field("ts", FieldType.TIMESTAMP)
        .durability(Durability.os()).build();
  }

  static PipelineSpec pipeline(int partitions) {
    return PipelineSpec.builder().stream(streamSpec(partitions))
        .view(ViewSpec.builder(VIEW).from(STREAM).groupBy("key").aggregate("n", "count")
            .aggregate("total", "sum(amount)").build())
        .build();
  }

  /** Count and sum of one key. */
  record Totals(long count, long sum) {
    Totals plus(long amount) {
      return new Totals(count + 1, sum + amount);
    }
  }

  /** Sample keys spread over the key space (their indices), always including the first and last. */
  static int[] sampleKeys(int keys, int n) {
    int m = Math.min(n, keys);
    int[] out = new int[m];
    for (int j = 0; j < m; j++) {
      out[j] = m == 1 ? 0 : (int) ((long) j * (keys - 1) / (m - 1));
    }
    return out;
  }

  /**
   * The naive answer for the sample keys over events {@code [0, events)}: a plain loop over the
   * generator, knowing nothing of any engine. Keys that no event has get (0, 0).
   */
  static Map<String, Totals> expected(long events, int keys, int[] samples) {
    long[] count = new long[samples.length];
    long[] sum = new long[samples.length];
    int[] sorted = samples.clone();
    Arrays.sort(sorted);
    for (long i = 0; i < events; i++) {
      int j = Arrays.binarySearch(sorted, keyIndex(i, keys));
      if (j >= 0) {
        count[j]++;
        sum[j] += amount(i);
      }
    }
    Map<String, Totals> out = new LinkedHashMap<>();
    for (int j = 0; j < sorted.length; j++) {
      out.put(keyString(sorted[j]), new Totals(count[j], sum[j]));
    }
    return out;
  }

  /**
   * Appends events {@code [from, to)} to the stream, in batches of up to 4096 per partition, each
   * partitioned by its key as Braid's ingest would. The value bytes are laid out by
   * {@link EventDescriptor} directly (checked against {@link EventEncoder} at the start, so a change
   * of the format fails here rather than silently producing other events).
   */
  static void append(LogStream stream, StreamSpec spec, long from, long to, int keys) {
    EventSchema schema = spec.schema();
    int fields = schema.fields().size();
    int keyField = schema.require("key").index();
    int amountField = schema.require("amount").index();
    int tsField = schema.require("ts").index();
    int fixed = EventDescriptor.fixedLength(fields);
    byte[] value = new byte[fixed + KEY_BYTES];
    byte[] key = new byte[KEY_BYTES];
    value[0] = EventDescriptor.VERSION;
    putInt(value, EventDescriptor.slotOffset(fields, keyField), fixed);
    putInt(value, EventDescriptor.slotOffset(fields, keyField) + 4, KEY_BYTES);
    checkLayout(spec, value, key, keys, from, fields, amountField, tsField, fixed);

    int partitions = stream.partitions();
    RecordBatchBuilder[] batches = new RecordBatchBuilder[partitions];
    for (int p = 0; p < partitions; p++) {
      batches[p] = new RecordBatchBuilder();
    }
    for (long i = from; i < to; i++) {
      fill(value, key, keys, i, fields, amountField, tsField, fixed);
      int p = Partitioner.partition(key, 0, KEY_BYTES, partitions);
      batches[p].add(key, value, eventTime(i), 0L);
      if (batches[p].count() == 4096) {
        stream.append(p, batches[p]);
        batches[p].clear();
      }
    }
    for (int p = 0; p < partitions; p++) {
      if (!batches[p].isEmpty()) {
        stream.append(p, batches[p]);
      }
    }
    stream.flush();
  }

  private static void fill(byte[] value, byte[] key, int keys, long i, int fields, int amountField, int tsField,
      int fixed) {
    keyBytes(keyIndex(i, keys), key);
    System.arraycopy(key, 0, value, fixed, KEY_BYTES);
    putLong(value, EventDescriptor.slotOffset(fields, amountField), amount(i));
    putLong(value, EventDescriptor.slotOffset(fields, tsField), eventTime(i));
  }

  private static void checkLayout(StreamSpec spec, byte[] value, byte[] key, int keys, long i, int fields,
      int amountField, int tsField, int fixed) {
    fill(value, key, keys, i, fields, amountField, tsField, fixed);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    String reason = new EventEncoder(spec.schema()).encode(Map.of("key", keyString(keyIndex(i, keys)),
        "amount", amount(i), "ts", eventTime(i)), 0L, enc);
    if (reason != null) {
      throw new IllegalStateException("the reference encoder refused a generated event: " + reason);
    }
    if (!Arrays.equals(value, 0, value.length, enc.value(), 0, enc.valueLength())
        || !Arrays.equals(key, enc.key())) {
      throw new IllegalStateException("the benchmark's event layout differs from EventEncoder's: "
          + "update ViewsEvents.append to the current EventDescriptor");
    }
  }

  private static void putInt(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 24);
    b[at + 1] = (byte) (v >>> 16);
    b[at + 2] = (byte) (v >>> 8);
    b[at + 3] = (byte) v;
  }

  private static void putLong(byte[] b, int at, long v) {
    putInt(b, at, (int) (v >>> 32));
    putInt(b, at + 4, (int) v);
  }
}
