package dev.braid.agg;

import org.apache.datasketches.hll.HllSketch;

/**
 * Whether this JVM can serialize Apache DataSketches sketches, probed once.
 *
 * <p>DataSketches 7 reads and writes sketch bytes through datasketches-memory 4, which on Java 17
 * is built on the incubating foreign-memory API: unless the JVM starts with
 * {@code --add-modules=jdk.incubator.foreign}, updating and merging sketches works but every
 * {@code toByteArray}/{@code heapify} fails with {@code NoClassDefFoundError:
 * jdk/incubator/foreign/MemorySegment}. The sketch aggregations check this when they are created,
 * so a view that could never be checkpointed is refused at start-up, not at its first checkpoint.
 */
final class SketchSupport {

  static final String JVM_OPTION = "--add-modules=jdk.incubator.foreign";

  private static final String PROBLEM = probe();

  private SketchSupport() {}

  /**
   * @throws IllegalArgumentException naming the JVM option to add, if sketches cannot be serialized
   */
  static void requireSerialization(String aggregation) {
    if (PROBLEM != null) {
      throw new IllegalArgumentException(aggregation + " needs the JVM option " + JVM_OPTION
          + ": DataSketches 7 on Java 17 stores sketches through the incubating foreign-memory API"
          + " (probe failed with " + PROBLEM + ")");
    }
  }

  private static String probe() {
    try {
      HllSketch.heapify(new HllSketch(4).toCompactByteArray());
      return null;
    } catch (LinkageError | RuntimeException e) {
      return e.toString();
    }
  }
}
