package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code top_k(field[, k])}: the k most frequent non-null values, by an Apache DataSketches
 * frequent items sketch of strings ({@link SketchCompat.FrequentStrings}). Values of other types
 * are counted by their string form: {@code 42}, {@code 2.5}, {@code true}, and timestamps in ISO-8601
 * ({@code 2024-05-01T10:00:00Z}). k may be 1 to {@value #MAX_K}, default {@value #DEFAULT_K}.
 *
 * <p>Result: a list of at most k maps {@code {item, estimate: Long}}, by estimate descending, then
 * item ascending; empty when there are no values. An item is a value of the field's type: a
 * {@code Long}, {@code Double}, {@code Boolean} or {@code String}; a timestamp's is its ISO-8601
 * text (as it was counted).
 *
 * <h2>Error bound</h2>
 * The sketch tracks at most {@code 0.75 · maxMapSize} items, with {@code maxMapSize} the smallest
 * power of two at least {@code max(64, 32·k)} (512 for k = 10). While at most that many distinct
 * values have been seen, counts are exact. Beyond, every estimate is an upper bound that exceeds the
 * true count by at most {@code maxError <= 3.5 · N / maxMapSize} (N = number of values; about
 * 0.68% of N for k = 10), and every value with true count above {@code maxError} is kept: the heavy
 * hitters are always found. Merging sketches keeps this bound relative to the merged N, but a
 * merged sketch may differ from the sketch of all values within it: the exact-merge law of this
 * aggregation holds only up to this error bound once the sketch has had to purge.
 *
 * <h2>State</h2>
 * <pre>
 *   object slot 0: null (no values) | SketchCompat.FrequentStrings      long slots: none
 *   binary: header(kind 0)                                   when empty
 *           header(kind 1) varint(length) sketch bytes       (ArrayOfStringsSerDe)
 * </pre>
 */
final class TopKAggregation implements Aggregation {

  static final int DEFAULT_K = 10;
  static final int MAX_K = 1000;
  /** By estimate descending, then item ascending (items of one view are all of one type). */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static final Comparator<Map<String, Object>> ORDER = Comparator
      .comparing((Map<String, Object> m) -> (Long) m.get("estimate")).reversed()
      .thenComparing(m -> (Comparable) m.get("item"));

  private final FieldType type;
  private final int k;
  private final int maxMapSize;

  private TopKAggregation(FieldType type, int k) {
    this.type = type;
    this.k = k;
    this.maxMapSize = maxMapSize(k);
  }

  static Aggregation create(FieldType type, List<String> parameters) {
    Arguments.requireAnyField("top_k", type);
    int k = Arguments.optionalIntParameter("top_k", "k", parameters, DEFAULT_K, 1, MAX_K);
    SketchSupport.requireSerialization("top_k");
    return new TopKAggregation(type, k);
  }

  /** The sketch's maximum map size for {@code k}: the smallest power of two >= max(64, 32·k). */
  static int maxMapSize(int k) {
    int want = Math.max(64, 32 * k);
    return Integer.highestOneBit(want - 1) << 1;
  }

  @Override
  public int longSlots() {
    return 0;
  }

  @Override
  public int objectSlots() {
    return 1;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setObject(0, null);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (in.isNull()) {
      return;
    }
    sketch(s).update(stringForm(in));
  }

  private String stringForm(AggInput in) {
    switch (type) {
      case STRING:
        return in.stringValue();
      case DOUBLE: // -0.0 counts as 0.0: equal numbers are one item, as group keys take them
        return Double.toString(in.doubleValue() == 0 ? 0.0 : in.doubleValue());
      case BOOLEAN:
        return in.longValue() != 0 ? "true" : "false";
      case TIMESTAMP:
        return Instant.ofEpochMilli(in.longValue()).toString();
      default:
        return Long.toString(in.longValue());
    }
  }

  private SketchCompat.FrequentStrings sketch(AccumulatorState s) {
    SketchCompat.FrequentStrings sketch = (SketchCompat.FrequentStrings) s.getObject(0);
    if (sketch == null) {
      sketch = new SketchCompat.FrequentStrings(maxMapSize);
      s.setObject(0, sketch);
    }
    return sketch;
  }

  /** An item counted by its string form as a value of the field's type (see {@link #stringForm}). */
  private Object typed(String item) {
    switch (type) {
      case LONG:
        return Long.parseLong(item);
      case DOUBLE:
        return Double.parseDouble(item);
      case BOOLEAN:
        return Boolean.parseBoolean(item);
      default: // a string, and a timestamp's ISO-8601 text
        return item;
    }
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    SketchCompat.FrequentStrings other = (SketchCompat.FrequentStrings) from.getObject(0);
    if (other != null) {
      sketch(into).merge(other);
    }
  }

  @Override
  public Object result(AccumulatorState s) {
    SketchCompat.FrequentStrings sketch = (SketchCompat.FrequentStrings) s.getObject(0);
    if (sketch == null) {
      return List.of();
    }
    List<Map<String, Object>> items = new ArrayList<>();
    sketch.forEachFrequent((name, estimate) -> {
      Map<String, Object> item = new LinkedHashMap<>(4);
      item.put("item", typed(name));
      item.put("estimate", estimate);
      items.add(item);
    });
    items.sort(ORDER);
    List<Map<String, Object>> top = new ArrayList<>(Math.min(k, items.size()));
    for (Map<String, Object> item : items.subList(0, Math.min(k, items.size()))) {
      top.add(Collections.unmodifiableMap(item));
    }
    return Collections.unmodifiableList(top);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    SketchCompat.FrequentStrings sketch = (SketchCompat.FrequentStrings) s.getObject(0);
    if (sketch == null) {
      AccumulatorCodec.writeHeader(out, 0);
      return;
    }
    AccumulatorCodec.writeHeader(out, 1);
    AccumulatorCodec.writeBytes(out, sketch.toByteArray());
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    zero(s);
    if (AccumulatorCodec.readHeader(in, "top_k", 1) == 0) {
      return;
    }
    byte[] bytes = AccumulatorCodec.readBytes(in);
    try {
      s.setObject(0, SketchCompat.FrequentStrings.heapify(bytes));
    } catch (RuntimeException e) {
      throw new IOException("top_k accumulator: unreadable frequent items sketch: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "top_k(k=" + k + ", maxMapSize=" + maxMapSize + ")";
  }
}
