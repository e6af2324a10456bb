package dev.braid.agg;

import java.lang.foreign.MemorySegment;
import java.util.function.ObjLongConsumer;
import org.apache.datasketches.common.ArrayOfStringsSerDe;
import org.apache.datasketches.frequencies.ErrorType;
import org.apache.datasketches.frequencies.FrequentItemsSketch;
import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.HllUnion;
import org.apache.datasketches.hll.TgtHllType;
import org.apache.datasketches.kll.KllDoublesSketch;

/**
 * The few Apache DataSketches calls whose names differ between releases, for DataSketches 9
 * (JDK 25 and newer, on {@code java.lang.foreign}). The build compiles this file or its
 * DataSketches 7 twin ({@code src/main/datasketches7}, JDK 17 to 24) and nothing else differs:
 * both write the same sketch bytes, DataSketches' stable serialization format.
 */
final class SketchCompat {

  private static final ArrayOfStringsSerDe STRINGS = new ArrayOfStringsSerDe();

  private SketchCompat() {}

  /** The union of {@code sketches} as a new sketch of {@code lgK} and {@code type}; the inputs are unchanged. */
  static HllSketch union(int lgK, TgtHllType type, HllSketch... sketches) {
    HllUnion union = new HllUnion(lgK);
    for (HllSketch sketch : sketches) {
      union.update(sketch);
    }
    return union.getResult(type);
  }

  static KllDoublesSketch heapifyKll(byte[] bytes) {
    return KllDoublesSketch.heapify(MemorySegment.ofArray(bytes));
  }

  /** A frequent-items sketch of strings. */
  static final class FrequentStrings {
    private final FrequentItemsSketch<String> sketch;

    FrequentStrings(int maxMapSize) {
      this(new FrequentItemsSketch<>(maxMapSize));
    }

    private FrequentStrings(FrequentItemsSketch<String> sketch) {
      this.sketch = sketch;
    }

    void update(String item) {
      sketch.update(item);
    }

    void merge(FrequentStrings other) {
      sketch.merge(other.sketch);
    }

    /** Every item that may be frequent (no false negatives), with its estimated count. */
    void forEachFrequent(ObjLongConsumer<String> action) {
      for (FrequentItemsSketch.Row<String> row : sketch.getFrequentItems(0, ErrorType.NO_FALSE_NEGATIVES)) {
        action.accept(row.getItem(), row.getEstimate());
      }
    }

    byte[] toByteArray() {
      return sketch.toByteArray(STRINGS);
    }

    /** The sketch's documented a priori error bound on any estimate, for a map size and a stream length. */
    static double aprioriError(int maxMapSize, long n) {
      return FrequentItemsSketch.getAprioriError(maxMapSize, n);
    }

    static FrequentStrings heapify(byte[] bytes) {
      return new FrequentStrings(FrequentItemsSketch.getInstance(MemorySegment.ofArray(bytes), STRINGS));
    }
  }
}
