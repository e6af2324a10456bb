package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.datasketches.kll.KllDoublesSketch;

/**
 * {@code quantiles(field[, k])}: approximate quantiles of a long, double or timestamp field by an
 * Apache DataSketches KLL sketch ({@link KllDoublesSketch}); values are taken as doubles. k may be
 * 8 to 65535, default 200. NaN values are skipped like nulls.
 *
 * <p>Result: a map {@code {p50, p90, p99, min, max, n}}: the quantiles (inclusive search) and the
 * exact minimum and maximum as {@code Double}, and the number of values as {@code Long}. With no
 * values, every entry is null except {@code n = 0}.
 *
 * <h2>Error bound</h2>
 * Up to k values the sketch keeps them all and the quantiles are exact. Beyond, a returned
 * quantile's true normalized rank is within {@code KllSketch.getNormalizedRankError(k, false)} of
 * the requested rank with 99% confidence: 1.33% for k = 200 (2.6% for k = 100, 0.68% for k = 400,
 * 0.28% for k = 1000); the looser double-sided figure for PMF/CDF queries is 1.65% at k = 200. The
 * sketch compacts with random coin flips (a JVM-wide {@link java.util.Random} inside the library),
 * so two sketches of the same values, or a folded and a merged one, can give slightly different
 * quantiles: the exact-merge law holds only up to this bound once the sketch has compacted. min,
 * max and n are always exact.
 *
 * <h2>State</h2>
 * <pre>
 *   object slot 0: null (no values) | KllDoublesSketch      long slots: none
 *   binary: header(kind 0)                                   when empty
 *           header(kind 1) varint(length) compact sketch bytes
 * </pre>
 */
final class QuantilesAggregation implements Aggregation {

  static final int DEFAULT_K = 200;
  private static final Set<FieldType> ACCEPTED = Set.of(FieldType.LONG, FieldType.DOUBLE, FieldType.TIMESTAMP);

  private final int k;

  private QuantilesAggregation(int k) {
    this.k = k;
  }

  static Aggregation create(FieldType type, List<String> parameters) {
    Arguments.requireField("quantiles", type, ACCEPTED);
    int k = Arguments.optionalIntParameter("quantiles", "k", parameters, DEFAULT_K, 8, 65535);
    SketchSupport.requireSerialization("quantiles");
    return new QuantilesAggregation(k);
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
    double value = in.doubleValue();
    if (!Double.isNaN(value)) {
      sketch(s).update(value);
    }
  }

  private KllDoublesSketch sketch(AccumulatorState s) {
    KllDoublesSketch sketch = (KllDoublesSketch) s.getObject(0);
    if (sketch == null) {
      sketch = KllDoublesSketch.newHeapInstance(k);
      s.setObject(0, sketch);
    }
    return sketch;
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    KllDoublesSketch other = (KllDoublesSketch) from.getObject(0);
    if (other != null && !other.isEmpty()) {
      sketch(into).merge(other);
    }
  }

  @Override
  public Object result(AccumulatorState s) {
    KllDoublesSketch sketch = (KllDoublesSketch) s.getObject(0);
    Map<String, Object> result = new LinkedHashMap<>(8);
    boolean empty = sketch == null || sketch.isEmpty();
    result.put("p50", empty ? null : sketch.getQuantile(0.50));
    result.put("p90", empty ? null : sketch.getQuantile(0.90));
    result.put("p99", empty ? null : sketch.getQuantile(0.99));
    result.put("min", empty ? null : sketch.getMinItem());
    result.put("max", empty ? null : sketch.getMaxItem());
    result.put("n", empty ? 0L : sketch.getN());
    return Collections.unmodifiableMap(result);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    KllDoublesSketch sketch = (KllDoublesSketch) s.getObject(0);
    if (sketch == null || sketch.isEmpty()) {
      AccumulatorCodec.writeHeader(out, 0);
      return;
    }
    AccumulatorCodec.writeHeader(out, 1);
    AccumulatorCodec.writeBytes(out, sketch.toByteArray());
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    zero(s);
    if (AccumulatorCodec.readHeader(in, "quantiles", 1) == 0) {
      return;
    }
    byte[] bytes = AccumulatorCodec.readBytes(in);
    try {
      s.setObject(0, SketchCompat.heapifyKll(bytes));
    } catch (RuntimeException e) {
      throw new IOException("quantiles accumulator: unreadable KLL sketch: " + e.getMessage(), e);
    }
  }
}
