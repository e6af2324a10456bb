package dev.braid.log;

import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable vector of per-partition log offsets: the exact boundary between what a Base covers
 * and what a Delta covers.
 *
 * <p>Offset {@code c[p]} is the <em>next</em> offset of partition {@code p}: the range {@code [0, C)}
 * holds every record of partition {@code p} whose offset is below {@code c[p]}. Offsets are ordered
 * but need not be dense (a Kafka log leaves gaps), so a cut never implies how many records it covers.
 *
 * <p>Cuts are partially ordered: {@code a} is at or after {@code b} when every partition of {@code a}
 * is at or after the same partition of {@code b}. Two cuts that disagree in direction are
 * {@linkplain Order#CONCURRENT concurrent}.
 */
public final class Cut {

  /** How one cut relates to another. */
  public enum Order { BEFORE, EQUAL, AFTER, CONCURRENT }

  private final long[] offsets;

  private Cut(long[] offsets) {
    this.offsets = offsets;
  }

  /** A cut with the given next offsets, one per partition; the array is copied. */
  public static Cut of(long... offsets) {
    Objects.requireNonNull(offsets, "offsets");
    if (offsets.length == 0) {
      throw new IllegalArgumentException("a cut needs at least one partition");
    }
    for (int p = 0; p < offsets.length; p++) {
      if (offsets[p] < 0) {
        throw new IllegalArgumentException(
            String.format("offset of partition %d is negative: %d", p, offsets[p]));
      }
    }
    return new Cut(offsets.clone());
  }

  /** The cut before any record: every partition at offset 0. */
  public static Cut zero(int partitions) {
    if (partitions <= 0) {
      throw new IllegalArgumentException("partitions must be positive: " + partitions);
    }
    return new Cut(new long[partitions]);
  }

  public int partitions() {
    return offsets.length;
  }

  /** The next offset of {@code partition}: records below it are inside the cut. */
  public long offset(int partition) {
    return offsets[partition];
  }

  /** A copy of the offsets. */
  public long[] toArray() {
    return offsets.clone();
  }

  /** Whether the record at {@code offset} of {@code partition} is inside {@code [0, this)}. */
  public boolean contains(int partition, long offset) {
    return offset < offsets[partition];
  }

  /** This cut with one partition moved to {@code offset}. */
  public Cut with(int partition, long offset) {
    long[] copy = offsets.clone();
    copy[partition] = offset;
    return Cut.of(copy);
  }

  /** Compares partition by partition; both cuts must have the same number of partitions. */
  public Order compare(Cut other) {
    requireSameShape(other);
    boolean before = false;
    boolean after = false;
    for (int p = 0; p < offsets.length; p++) {
      if (offsets[p] < other.offsets[p]) {
        before = true;
      } else if (offsets[p] > other.offsets[p]) {
        after = true;
      }
    }
    if (before && after) {
      return Order.CONCURRENT;
    }
    return before ? Order.BEFORE : after ? Order.AFTER : Order.EQUAL;
  }

  /** Whether every partition of this cut is at or after the same partition of {@code other}. */
  public boolean isAtOrAfter(Cut other) {
    Order order = compare(other);
    return order == Order.AFTER || order == Order.EQUAL;
  }

  /**
   * The offsets from {@code from} up to this cut, summed over this cut's partitions (none where this cut is
   * behind): the records between them in a log whose offsets are dense, as the file log's are.
   *
   * @throws IllegalArgumentException when the cuts have different partition counts
   */
  public long offsetsAfter(Cut from) {
    requireSameShape(from);
    long n = 0;
    for (int p = 0; p < offsets.length; p++) {
      n += Math.max(0, offsets[p] - from.offsets[p]);
    }
    return n;
  }

  /** The partition-wise maximum of the two cuts. */
  public Cut max(Cut other) {
    requireSameShape(other);
    long[] out = new long[offsets.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = Math.max(offsets[p], other.offsets[p]);
    }
    return new Cut(out);
  }

  /** The partition-wise minimum of the two cuts. */
  public Cut min(Cut other) {
    requireSameShape(other);
    long[] out = new long[offsets.length];
    for (int p = 0; p < out.length; p++) {
      out[p] = Math.min(offsets[p], other.offsets[p]);
    }
    return new Cut(out);
  }

  private void requireSameShape(Cut other) {
    Objects.requireNonNull(other, "other");
    if (other.offsets.length != offsets.length) {
      throw new IllegalArgumentException(String.format(
          "cuts have different partition counts: %d vs %d", offsets.length, other.offsets.length));
    }
  }

  /**
   * {@link #parse}, also of the offsets without brackets ({@code 12,40,0,7}), as people type a cut
   * in a query parameter or a command-line option.
   */
  public static Cut parseWithOrWithoutBrackets(String text) {
    String t = Objects.requireNonNull(text, "text").strip();
    return parse(t.startsWith("[") ? t : "[" + t + "]");
  }

  /** Parses the form printed by {@link #toString()}: {@code [12, 40, 0, 7]}. */
  public static Cut parse(String text) {
    Objects.requireNonNull(text, "text");
    String body = text.strip();
    if (!body.startsWith("[") || !body.endsWith("]")) {
      throw new IllegalArgumentException("a cut looks like [12, 40, 0, 7], got: " + text);
    }
    String[] parts = body.substring(1, body.length() - 1).split(",");
    long[] out = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Long.parseLong(parts[i].strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            String.format("partition %d of cut %s is not a number: '%s'", i, text, parts[i].strip()));
      }
    }
    return Cut.of(out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Cut && Arrays.equals(offsets, ((Cut) o).offsets);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(offsets);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    for (int p = 0; p < offsets.length; p++) {
      if (p > 0) {
        sb.append(", ");
      }
      sb.append(offsets[p]);
    }
    return sb.append(']').toString();
  }
}
