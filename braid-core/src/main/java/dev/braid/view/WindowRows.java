package dev.braid.view;

import java.util.Arrays;

/**
 * One read's rows of a key by window start, as the read merges them in part by part (the Base,
 * each closed-window run, each Delta table), then iterated by start. It replaced a
 * {@code TreeMap<Long, Row>}, whose {@code put} alone was a tenth of the changes feed's CPU in a
 * Nexmark Q17 replay, where most keys have one or two windows.
 *
 * <p>Rows are kept in the order they were added, in two parallel arrays. A start is looked up by a
 * backward scan while there are at most {@value #SCAN} rows (the last row first: the parts give a
 * key's windows in start order), and through an open-addressing index of the starts once there are
 * more, so a key with thousands of windows (hopping windows) costs O(1) per lookup, never O(n).
 * Iteration sorts once, and only when some row came in below the greatest start (a Delta table can
 * give an earlier window after the Base gave later ones).
 *
 * <p>Not thread-safe: one per read.
 *
 * @param <R> the row type
 */
final class WindowRows<R> {

  /** Up to this many rows, a lookup scans them; past it, they are indexed. */
  static final int SCAN = 8;

  private long[] starts = new long[4];
  private Object[] rows = new Object[4];
  private int size;
  /** Whether the rows are in ascending start order. */
  private boolean sorted = true;
  /** Per slot, the position of a row plus one (0: empty); null while there are at most {@link #SCAN} rows. */
  private int[] index;

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  /**
   * Empties this for another read, keeping its arrays and, past the new size, the rows it held:
   * {@link #spare} gives them back one at a time, so that a reader that reuses one instance (the
   * changes feed reads every key of a view) allocates rows only for more windows than it read before.
   */
  void clear() {
    size = 0;
    sorted = true;
    index = null;
  }

  /** A row a read before {@link #clear} held at the position the next {@link #add} fills, or null. */
  @SuppressWarnings("unchecked")
  R spare() {
    return size < rows.length ? (R) rows[size] : null;
  }

  /** Adds the row of a window at {@code start}, which must not have one yet. */
  void add(long start, R row) {
    int n = size;
    if (n == starts.length) {
      starts = Arrays.copyOf(starts, 2 * n);
      rows = Arrays.copyOf(rows, 2 * n);
    }
    if (n > 0 && start < starts[n - 1]) {
      sorted = false;
    }
    starts[n] = start;
    rows[n] = row;
    size = n + 1;
    if (index != null) {
      if (2 * size > index.length) {
        reindex();
      } else {
        place(index, n);
      }
    } else if (size > SCAN) {
      reindex();
    }
  }

  /** The position of the row at {@code start} (for {@link #row(int)}), or -1. */
  int find(long start) {
    int[] ix = index;
    if (ix == null) {
      for (int i = size - 1; i >= 0; i--) {
        if (starts[i] == start) {
          return i;
        }
      }
      return -1;
    }
    int mask = ix.length - 1;
    for (int s = slot(start, mask); ; s = (s + 1) & mask) {
      int p = ix[s];
      if (p == 0) {
        return -1;
      }
      if (starts[p - 1] == start) {
        return p - 1;
      }
    }
  }

  private static int slot(long start, int mask) {
    long h = start * 0x9E37_79B9_7F4A_7C15L;
    return (int) (h ^ (h >>> 32)) & mask;
  }

  private void place(int[] ix, int position) {
    int mask = ix.length - 1;
    int s = slot(starts[position], mask);
    while (ix[s] != 0) {
      s = (s + 1) & mask;
    }
    ix[s] = position + 1;
  }

  /** Indexes every row in an index at most half full. */
  private void reindex() {
    int capacity = Integer.highestOneBit(Math.max(16, 4 * size - 1));
    int[] ix = new int[capacity];
    for (int i = 0; i < size; i++) {
      place(ix, i);
    }
    index = ix;
  }

  /** Puts the rows in ascending start order if any came in out of it; returns this. */
  WindowRows<R> sort() {
    if (sorted) {
      return this;
    }
    int n = size;
    // starts are distinct: sort them, then look each one's row up (by the positions before the sort)
    long[] order = Arrays.copyOf(starts, n);
    Arrays.sort(order);
    Object[] byStart = rows.clone(); // the spares past n stay where they are
    for (int i = 0; i < n; i++) {
      byStart[i] = rows[find(order[i])];
    }
    System.arraycopy(order, 0, starts, 0, n);
    rows = byStart;
    sorted = true;
    if (index != null) {
      reindex();
    }
    return this;
  }

  /** The start of the {@code i}-th row (in start order after {@link #sort}). */
  long start(int i) {
    return starts[i];
  }

  /** The {@code i}-th row (in start order after {@link #sort}). */
  @SuppressWarnings("unchecked")
  R row(int i) {
    return (R) rows[i];
  }
}
