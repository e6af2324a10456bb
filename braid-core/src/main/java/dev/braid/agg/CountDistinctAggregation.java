package dev.braid.agg;

import dev.braid.event.FieldType;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.TgtHllType;

/**
 * {@code count_distinct(field[, lgK])}: the number of distinct non-null values, exact up to
 * {@value #EXACT_LIMIT} of them and estimated with an Apache DataSketches HLL sketch beyond.
 *
 * <h2>Error bound</h2>
 * Up to {@value #EXACT_LIMIT} distinct values the count is exact (distinctness is judged by
 * {@link AggInput#hash64()}, a 64-bit hash, so collisions are negligible). Beyond, the result is the
 * sketch's composite estimate, rounded, with a relative standard error of about
 * {@code 1.04 / sqrt(2^lgK)}: 1.6% at the default lgK = 12 (so within 3.3% with ~95% confidence,
 * within 4.9% with ~99.7%), 0.8% at lgK = 14. lgK may be 4 to 21; the sketch (HLL_4) takes about
 * {@code 2^(lgK-1)} bytes once it leaves its sparse modes, 2 KiB at lgK = 12.
 *
 * <h2>Why the composite estimate</h2>
 * An HLL sketch that has only seen updates answers with its HIP estimator, one that came out of a
 * union with its composite estimator. Both are functions of different state, so a folded and a
 * merged accumulator over the same values could disagree. The composite estimate depends only on
 * the registers, which are the same however the values were split and merged, so this aggregation
 * gives the same result either way.
 *
 * <h2>State</h2>
 * <pre>
 *   object slot 0: null (no values) | long[] sorted distinct hashes (exact) | HllSketch
 *   long slot 0:   the number of hashes in use in the long[] (its capacity grows 4, 8, ..., 64)
 *   binary: header(kind 0)                                        when empty
 *           header(kind 1) varint(n) n x 8-byte hashes            exact
 *           header(kind 2) varint(length) compact sketch bytes    sketch
 * </pre>
 * {@code add} allocates only when the exact set grows and when the sketch library does.
 */
final class CountDistinctAggregation implements Aggregation {

  @Override
  public boolean splitInvariant() {
    return true;
  }

  /** The most distinct values counted exactly; one more switches to the sketch. */
  static final int EXACT_LIMIT = 64;
  static final int DEFAULT_LG_K = 12;
  private static final TgtHllType HLL_TYPE = TgtHllType.HLL_4;
  private static final int INITIAL_CAPACITY = 4;

  private final int lgK;

  private CountDistinctAggregation(int lgK) {
    this.lgK = lgK;
  }

  static Aggregation create(FieldType type, List<String> parameters) {
    Arguments.requireAnyField("count_distinct", type);
    int lgK = Arguments.optionalIntParameter("count_distinct", "lgK", parameters, DEFAULT_LG_K, 4, 21);
    SketchSupport.requireSerialization("count_distinct");
    return new CountDistinctAggregation(lgK);
  }

  @Override
  public int longSlots() {
    return 1;
  }

  @Override
  public int objectSlots() {
    return 1;
  }

  @Override
  public void zero(AccumulatorState s) {
    s.setLong(0, 0);
    s.setObject(0, null);
  }

  @Override
  public void add(AccumulatorState s, AggInput in) {
    if (!in.isNull()) {
      offer(s, in.hash64());
    }
  }

  private void offer(AccumulatorState s, long hash) {
    Object held = s.getObject(0);
    if (held instanceof HllSketch) {
      ((HllSketch) held).update(hash);
      return;
    }
    long[] set = (long[]) held;
    int size = (int) s.getLong(0);
    int at = set == null ? -1 : Arrays.binarySearch(set, 0, size, hash);
    if (at >= 0) {
      return;
    }
    if (size == EXACT_LIMIT) {
      HllSketch sketch = toSketch(set, size);
      sketch.update(hash);
      s.setObject(0, sketch);
      s.setLong(0, 0);
      return;
    }
    if (set == null) {
      set = new long[INITIAL_CAPACITY];
      s.setObject(0, set);
    } else if (size == set.length) {
      set = Arrays.copyOf(set, Math.min(EXACT_LIMIT, size * 2));
      s.setObject(0, set);
    }
    int insert = -at - 1;
    System.arraycopy(set, insert, set, insert + 1, size - insert);
    set[insert] = hash;
    s.setLong(0, size + 1);
  }

  private HllSketch toSketch(long[] set, int size) {
    HllSketch sketch = new HllSketch(lgK, HLL_TYPE);
    for (int i = 0; i < size; i++) {
      sketch.update(set[i]);
    }
    return sketch;
  }

  @Override
  public void merge(AccumulatorState into, AccumulatorState from) {
    Object other = from.getObject(0);
    if (other == null) {
      return;
    }
    if (other instanceof HllSketch) {
      Object held = into.getObject(0);
      HllSketch otherSketch = (HllSketch) other;
      if (held instanceof HllSketch) {
        into.setObject(0, union((HllSketch) held, otherSketch));
      } else {
        HllSketch sketch = otherSketch.getLgConfigK() == lgK && otherSketch.getTgtHllType() == HLL_TYPE
            ? otherSketch.copy()
            : union(otherSketch);
        long[] set = (long[]) held;
        int size = (int) into.getLong(0);
        for (int i = 0; i < size; i++) {
          sketch.update(set[i]);
        }
        into.setObject(0, sketch);
        into.setLong(0, 0);
      }
      return;
    }
    long[] set = (long[]) other;
    int size = (int) from.getLong(0);
    for (int i = 0; i < size; i++) {
      offer(into, set[i]);
    }
  }

  /** The union of sketches as a new sketch of this aggregation's lgK and type; the inputs are unchanged. */
  private HllSketch union(HllSketch... sketches) {
    return SketchCompat.union(lgK, HLL_TYPE, sketches);
  }

  @Override
  public Object result(AccumulatorState s) {
    Object held = s.getObject(0);
    if (held instanceof HllSketch) {
      return Math.round(((HllSketch) held).getCompositeEstimate());
    }
    return s.getLong(0);
  }

  @Override
  public void write(AccumulatorState s, DataOutput out) throws IOException {
    Object held = s.getObject(0);
    if (held == null) {
      AccumulatorCodec.writeHeader(out, 0);
    } else if (held instanceof HllSketch) {
      AccumulatorCodec.writeHeader(out, 2);
      AccumulatorCodec.writeBytes(out, ((HllSketch) held).toCompactByteArray());
    } else {
      long[] set = (long[]) held;
      int size = (int) s.getLong(0);
      AccumulatorCodec.writeHeader(out, 1);
      AccumulatorCodec.writeVarLong(out, size);
      for (int i = 0; i < size; i++) {
        out.writeLong(set[i]);
      }
    }
  }

  @Override
  public void read(AccumulatorState s, DataInput in) throws IOException {
    zero(s);
    int kind = AccumulatorCodec.readHeader(in, "count_distinct", 2);
    if (kind == 1) {
      long size = AccumulatorCodec.readVarLong(in);
      if (size < 1 || size > EXACT_LIMIT) {
        throw new IOException("count_distinct accumulator: exact set size " + size + " out of range");
      }
      long[] set = new long[(int) size];
      for (int i = 0; i < size; i++) {
        set[i] = in.readLong();
        if (i > 0 && set[i] <= set[i - 1]) {
          throw new IOException("count_distinct accumulator: exact set not sorted (corrupt?)");
        }
      }
      s.setObject(0, set);
      s.setLong(0, size);
    } else if (kind == 2) {
      byte[] bytes = AccumulatorCodec.readBytes(in);
      HllSketch sketch;
      try {
        sketch = HllSketch.heapify(bytes);
      } catch (RuntimeException e) {
        throw new IOException("count_distinct accumulator: unreadable HLL sketch: " + e.getMessage(), e);
      }
      s.setObject(0, sketch);
    }
  }
}
