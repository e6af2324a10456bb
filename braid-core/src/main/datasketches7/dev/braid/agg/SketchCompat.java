package dev.braid.agg;

import java.util.function.ObjLongConsumer;
import org.apache.datasketches.common.ArrayOfStringsSerDe;
import org.apache.datasketches.frequencies.ErrorType;
import org.apache.datasketches.frequencies.ItemsSketch;
import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.TgtHllType;
import org.apache.datasketches.hll.Union;
import org.apache.datasketches.kll.KllDoublesSketch;
import org.apache.datasketches.memory.Memory;

/**
 * The few Apache DataSketches calls whose names differ between releases, for DataSketches 7
 * (JDK 17 to 24; its memory layer needs {@code --add-modules=jdk.incubator.foreign} on JDK 17).
 * The build compiles this file or its DataSketches 9 twin ({@code src/main/datasketches9}, JDK 25
 * and newer) and nothing else differs: both write DataSketches' documented serialization format.
 */
final class SketchCompat {

  private static final ArrayOfStringsSerDe STRINGS = new ArrayOfStringsSerDe();

  private SketchCompat() {}

  /** The union of {@code sketches} as a new sketch of {@code lgK} and {@code type}; the inputs are unchanged. */
  static HllSketch union(int lgK, TgtHllType type, HllSketch... sketches) {
    Union union = new Union(lgK);
    for (HllSketch sketch : sketches) {
      union.update(sketch);
    }
    return union.getResult(type);
  }

  static KllDoublesSketch heapifyKll(byte[] bytes) {
    return KllDoublesSketch.heapify(Memory.wrap(bytes));
  }

  /** A frequent-items sketch of strings. */
  static final class FrequentStrings {
    private final ItemsSketch<String> sketch;

    FrequentStrings(int maxMapSize) {
      this(new ItemsSketch<>(maxMapSize));
    }

    private FrequentStrings(ItemsSketch<String> sketch) {
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
      for (ItemsSketch.Row<String> row : sketch.getFrequentItems(0, ErrorType.NO_FALSE_NEGATIVES)) {
        action.accept(row.getItem(), row.getEstimate());
      }
    }

    byte[] toByteArray() {
      return sketch.toByteArray(STRINGS);
    }

    /** The sketch's documented a priori error bound on any estimate, for a map size and a stream length. */
    static double aprioriError(int maxMapSize, long n) {
      return ItemsSketch.getAprioriError(maxMapSize, n);
    }

    static FrequentStrings heapify(byte[] bytes) {
      return new FrequentStrings(ItemsSketch.getInstance(Memory.wrap(bytes), STRINGS));
    }
  }
}
