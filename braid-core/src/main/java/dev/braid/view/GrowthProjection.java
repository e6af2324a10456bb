package dev.braid.view;

/**
 * Tells a writer that folds a stretch of the log into a {@link GroupTable} how large the table will
 * get, so that it grows once ({@link GroupTable#reserve}) instead of doubling its way there.
 *
 * <p>Doubling is cheap per insert, but on its way to a final size N it allocates about 2N of every
 * array and copies about N, each step a fresh allocation that the VM faults in. A start-up replay of
 * Nexmark Q17's 9.2 M bids into a new Delta allocated about 265 MB that way, and the same replay into
 * tables sized right from the start used about half the CPU (docs/PERFORMANCE.md, "Thirty-sixth
 * session"). Nothing tells a new Delta its size beforehand; the replay itself does, part way.
 *
 * <h2>The projection</h2>
 * The stretch is cut into segments of L offsets: an eighth of what was left to read at the first
 * observation, at least {@link #MIN_SEGMENT}. At the end of each segment the projection takes the
 * rate of new keys (and of new groups) per offset in it, r, and in the segment before it, r'. The
 * rates of the segments to come are taken to fall geometrically, by q = min(1, r / r') per segment:
 * the new keys of a fixed population drawn uniformly thin out exactly so (q = e^(-L/K) for K keys),
 * and a stream whose keys keep coming (new auctions, new days) has q = 1. The final count is
 * projected as {@code now + r L (q + q^2 + ... + q^m)} for the m segments left, and when that exceeds
 * the table's capacity the table reserves it and a sixteenth more, at most {@value #MAX_STEP} times
 * its capacity in one step. So the first reservation comes after a quarter of a long replay, before
 * the doublings that allocate most.
 *
 * <p>New keys that thin out more slowly than geometrically (a Zipf tail) are projected too low: the
 * table doubles from there as before. New keys that stop abruptly (a burst, then old keys only) are
 * projected too high, by at most the last segment's rate carried on to the end and at most
 * {@value #MAX_STEP} times the capacity. Offsets stand for events: a log whose offsets have gaps is
 * projected high by its gaps. The stretch ends where the log ended at the first observation: past
 * it (the live speed layer, however far behind the log it runs) nothing is projected, since a live
 * windowed Delta does not keep its closed windows in memory; a new table (a compacted copy) starts a
 * new observation, whose stretch is its short catch-up. A reservation that the heap cannot give
 * is skipped ({@link GroupTable#reserve}).
 *
 * <p>Not thread-safe: one per table writer, called under the table's write lock.
 */
final class GrowthProjection {

  /** The shortest segment, in offsets: shorter ones measure the rates of small stretches too noisily. */
  static final long MIN_SEGMENT = 1 << 16;
  /** The most one reservation multiplies a capacity by. */
  static final int MAX_STEP = 4;

  /** The table observed; another one (a Delta's compacted copy) starts the observation over. */
  private GroupTable table;
  private int clears;
  private long segment;
  /**
   * The end of the stretch, as the first observation saw the log's end: a projection never looks
   * past it. Once live (the log growing as the writer folds), a table's groups need not grow with
   * the log (closed windows move out of memory into runs, by a compacted copy), so a live backlog is
   * no guide to the table's size.
   */
  private long stretchEnd;
  private long segmentStart = -1;
  private int keysAtStart;
  private int groupsAtStart;
  /** New keys and groups per offset in the previous segment; NaN before one has ended. */
  private double keyRate = Double.NaN;
  private double groupRate = Double.NaN;

  /**
   * Observes {@code t} once its writer has folded every record before {@code position} of a log
   * that ends at {@code end}; at a segment's end reserves room in {@code t} when the projection
   * exceeds its capacity. Returns whether it reserved (not when the table skipped the reservation).
   */
  boolean observe(GroupTable t, long position, long end) {
    if (t != table || t.clears() != clears || position < segmentStart) {
      start(t, position, end);
      return false;
    }
    long span = position - segmentStart;
    if (span < segment || segmentStart >= stretchEnd) {
      return false;
    }
    int keys = t.keyCount();
    int groups = t.groupCount();
    if (keys < keysAtStart || groups < groupsAtStart) { // emptied some other way: measure afresh
      start(t, position, end);
      return false;
    }
    double kr = (keys - keysAtStart) / (double) span;
    double gr = (groups - groupsAtStart) / (double) span;
    boolean reserved = false;
    if (!Double.isNaN(keyRate)) {
      double left = Math.max(0, Math.min(end, stretchEnd) - position) / (double) segment;
      long wantKeys = projected(keys, kr, keyRate, left);
      long wantGroups = projected(groups, gr, groupRate, left);
      int keyCap = t.keyCapacity();
      int groupCap = t.groupCapacity();
      if (wantKeys > keyCap || wantGroups > groupCap) {
        reserved = t.reserve(step(wantKeys, keyCap), step(wantGroups, groupCap));
      }
    }
    keyRate = kr;
    groupRate = gr;
    segmentStart = position;
    keysAtStart = keys;
    groupsAtStart = groups;
    return reserved;
  }

  private void start(GroupTable t, long position, long end) {
    table = t;
    clears = t.clears();
    stretchEnd = end;
    segment = Math.max(MIN_SEGMENT, Math.max(0, end - position) / 8);
    segmentStart = position;
    keysAtStart = t.keyCount();
    groupsAtStart = t.groupCount();
    keyRate = Double.NaN;
    groupRate = Double.NaN;
  }

  /**
   * The count a table at {@code now} reaches after {@code segmentsLeft} more segments whose rate of
   * new entries starts at {@code rate} (the last segment's) and falls by {@code rate / previousRate}
   * per segment (not at all if it did not fall).
   */
  long projected(int now, double rate, double previousRate, double segmentsLeft) {
    if (rate <= 0 || segmentsLeft <= 0) {
      return now;
    }
    double q = previousRate <= rate ? 1.0 : rate / previousRate;
    double segments = q >= 1.0 ? segmentsLeft : q * (1 - Math.pow(q, segmentsLeft)) / (1 - q);
    return now + (long) Math.ceil(rate * segment * segments);
  }

  /** The capacity to reserve for {@code wanted} entries in a table that has {@code capacity}. */
  private static int step(long wanted, int capacity) {
    if (wanted <= capacity) {
      return capacity;
    }
    return (int) Math.min(Math.min(wanted + wanted / 16, (long) capacity * MAX_STEP), Integer.MAX_VALUE - 8);
  }
}
