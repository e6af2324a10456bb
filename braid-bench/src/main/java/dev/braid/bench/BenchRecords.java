package dev.braid.bench;

import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordBatchDescriptor;
import java.util.SplittableRandom;

/**
 * The records every log benchmark appends: 16-byte keys and 60-byte values drawn from pre-generated
 * pools, so that with the 24-byte record header each record takes exactly {@value #RECORD_BYTES}
 * bytes in its batch and building a batch costs copies only (no generation, no allocation).
 */
final class BenchRecords {

  static final int KEY_BYTES = 16;
  static final int VALUE_BYTES = 60;
  static final int RECORD_BYTES = RecordBatchDescriptor.recordSize(KEY_BYTES, VALUE_BYTES);
  /** Event times start here (2025-01-06T09:00:00Z) and advance 1 ms per record. */
  static final long BASE_EVENT_TIME = 1_736_154_000_000L;

  private static final int KEYS = 1 << 16;
  private static final int VALUES = 1 << 10;

  private final byte[] keys = new byte[KEYS * KEY_BYTES];
  private final byte[] values = new byte[VALUES * VALUE_BYTES];

  BenchRecords(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < keys.length; i++) {
      keys[i] = (byte) ('a' + r.nextInt(26));
    }
    for (int i = 0; i < values.length; i++) {
      values[i] = (byte) (' ' + r.nextInt(95));
    }
  }

  /** Adds records {@code first .. first + count - 1} (record {@code i} is the same in every run). */
  void addTo(RecordBatchBuilder batch, long first, int count, long ingestTime) {
    for (long i = first, end = first + count; i < end; i++) {
      long h = i * 0x9E3779B97F4A7C15L;
      int k = (int) (h >>> 48) & (KEYS - 1);
      int v = (int) (h >>> 20) & (VALUES - 1);
      batch.add(keys, k * KEY_BYTES, KEY_BYTES, values, v * VALUE_BYTES, VALUE_BYTES, BASE_EVENT_TIME + i, ingestTime);
    }
  }
}
