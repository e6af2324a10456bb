package dev.braid.log;

/**
 * The positions a log gave to one appended batch, in the order the records were added.
 * Offsets increase but need not be consecutive; use {@link #offset(int)} rather than arithmetic.
 */
public final class AppendResult {

  private final int partition;
  private final long firstOffset;
  private final int count;
  private final long[] offsets; // null when consecutive

  private AppendResult(int partition, long firstOffset, int count, long[] offsets) {
    this.partition = partition;
    this.firstOffset = firstOffset;
    this.count = count;
    this.offsets = offsets;
  }

  /** A batch whose records got the consecutive offsets {@code first .. first + count - 1}. */
  public static AppendResult consecutive(int partition, long first, int count) {
    return new AppendResult(partition, first, count, null);
  }

  /** A batch whose records got the given (increasing) offsets; the array is not copied. */
  public static AppendResult of(int partition, long[] offsets) {
    return new AppendResult(partition, offsets.length == 0 ? -1 : offsets[0], offsets.length, offsets);
  }

  public int partition() {
    return partition;
  }

  public int count() {
    return count;
  }

  /** The offset of the {@code i}-th record of the batch. */
  public long offset(int i) {
    if (i < 0 || i >= count) {
      throw new IndexOutOfBoundsException("record " + i + " of a batch of " + count);
    }
    return offsets == null ? firstOffset + i : offsets[i];
  }

  public long firstOffset() {
    return offset(0);
  }

  public long lastOffset() {
    return offset(count - 1);
  }

  @Override
  public String toString() {
    return count == 0 ? "p" + partition + "[]" : "p" + partition + "[" + firstOffset() + ".." + lastOffset() + "]";
  }
}
