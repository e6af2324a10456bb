package dev.braid.bench;

import java.nio.charset.StandardCharsets;

/**
 * The data of the HTTP benchmark: one stream of small events and a {@code count} + {@code sum} view by
 * key, with events generated from their index so that the right answer for any key is known.
 *
 * <p>Event {@code i} has key {@code key(i % keys)} and value {@code i % 7 + 1}. Keys are fixed-width
 * ({@code k} and {@value #KEY_DIGITS} digits), so every read request has the same length and the load
 * generator rewrites only the digits of a prepared request.
 */
final class HttpWorkload {

  static final String STREAM = "events";
  static final String VIEW = "by_key";
  static final int KEY_DIGITS = 8;

  static String spec(int partitions) {
    return """
        streams:
          %s:
            partitions: %d
            key: k
            durability: os
            fields: {k: string, v: long}
        views:
          %s:
            from: %s
            group_by: k
            aggregate: {n: count, total: sum(v)}
        """.formatted(STREAM, partitions, VIEW, STREAM);
  }

  final int keys;

  HttpWorkload(int keys) {
    if (keys < 1 || keys >= 100_000_000) {
      throw new IllegalArgumentException("keys must be in [1, 10^8), got " + keys);
    }
    this.keys = keys;
  }

  static String key(long k) {
    StringBuilder s = new StringBuilder(KEY_DIGITS + 1).append('k');
    String digits = Long.toString(k);
    for (int i = digits.length(); i < KEY_DIGITS; i++) {
      s.append('0');
    }
    return s.append(digits).toString();
  }

  static long value(long i) {
    return i % 7 + 1;
  }

  /** NDJSON of events {@code [from, from + count)}, one line each. */
  byte[] ndjson(long from, int count) {
    StringBuilder s = new StringBuilder(count * 32);
    for (long i = from; i < from + count; i++) {
      s.append("{\"k\":\"").append(key(i % keys)).append("\",\"v\":").append(value(i)).append("}\n");
    }
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** The {@code count} of key {@code k} over events {@code [0, events)}. */
  long expectedCount(int k, long events) {
    return k < events ? (events - 1 - k) / keys + 1 : 0;
  }

  /** The {@code sum(v)} of key {@code k} over events {@code [0, events)}. */
  long expectedSum(int k, long events) {
    long sum = 0;
    for (long i = k; i < events; i += keys) {
      sum += value(i);
    }
    return sum;
  }

  /** The read path of key {@code k}. */
  static String readPath(String key) {
    return "/v1/views/" + VIEW + "/keys/" + key;
  }

  static String ingestPath() {
    return "/v1/streams/" + STREAM + "/events";
  }
}
