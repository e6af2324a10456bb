package dev.braid.view;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * What a {@link ChangeFeed} emitted per {@code (key, window start)}: the change event's id and a
 * hash of its result. A map with no object per window, because it holds one entry per closed window
 * of the view, for good (a view without {@code retain}): Nexmark's Q5 closes some 15 million
 * (auction, window) pairs over 10 M events, which as {@code HashMap<String, HashMap<Long, long[]>>}
 * (a node, a boxed start and a two-long array per window, about 100 bytes) took 1.5 GB of a 4 GiB
 * heap.
 *
 * <h2>Layout</h2>
 * Keys are interned once ({@link #keyIds}: one {@code String} and one map entry per key). Entries
 * are dense, in insertion order, in four parallel arrays (start, id, hash, key id: 28 bytes), found
 * through an open-addressing index (linear probing, load factor at most 3/4: 10.7 to 21.3 bytes per
 * entry) whose slots hold the entry number and the (key, start) pair's 32-bit hash. A probe compares
 * the hash in the slot and reads the entry's start and key only when it matches. With an index of
 * entry numbers alone, every slot a probe passed read a start from the entry arrays, a cache miss
 * of its own: Q5's 14.6 M windows spent a quarter of the feed's first pass after a start in the
 * probes. So an entry costs 39 to 50 bytes when the arrays are full.
 *
 * <h2>Threading</h2>
 * Not thread-safe; the feed guards it with its own lock.
 */
final class EmittedWindows {

  private static final int NONE = -1;
  /** An empty index slot: its entry half is -1, which no entry number is. */
  private static final long EMPTY = -1L;
  private static final long HASH_BITS = 0xFFFF_FFFF_0000_0000L;

  private final Map<String, Integer> keyIds = new HashMap<>();
  private long[] starts = new long[16];
  private long[] ids = new long[16];
  private long[] hashes = new long[16];
  private int[] keys = new int[16];
  private int size;
  /** Per slot: the pair's hash in the high half, its entry number in the low half; or {@link #EMPTY}. */
  private long[] index = newIndex(32);

  private static long[] newIndex(int capacity) {
    long[] a = new long[capacity];
    Arrays.fill(a, EMPTY);
    return a;
  }

  /** The interned id of {@code key}, or -1 when nothing was emitted for it. */
  int keyId(String key) {
    Integer id = keyIds.get(key);
    return id == null ? NONE : id;
  }

  /** The entry of {@code (keyId, start)}, or -1. */
  int find(int keyId, long start) {
    if (keyId < 0) {
      return NONE;
    }
    return (int) index[probe(keyId, start)]; // EMPTY's low half is NONE
  }

  long id(int entry) {
    return ids[entry];
  }

  long hash(int entry) {
    return hashes[entry];
  }

  int size() {
    return size;
  }

  /** Records that the window {@code start} of {@code key} was emitted as event {@code id} with result hash {@code hash}. */
  void put(String key, long start, long id, long hash) {
    int k = keyIds.computeIfAbsent(key, x -> keyIds.size());
    int slot = probe(k, start);
    int e = (int) index[slot];
    if (e == NONE) {
      e = size;
      if (e == starts.length) {
        int n = e * 2;
        starts = Arrays.copyOf(starts, n);
        ids = Arrays.copyOf(ids, n);
        hashes = Arrays.copyOf(hashes, n);
        keys = Arrays.copyOf(keys, n);
      }
      starts[e] = start;
      keys[e] = k;
      index[slot] = slotValue(GroupTable.groupHash(k, start), e);
      size++;
      if (size * 4L > index.length * 3L) {
        reindex(index.length * 2);
      }
    }
    ids[e] = id;
    hashes[e] = hash;
  }

  /** Forgets the windows that start before {@code horizon} (evicted by retention). */
  void removeBelow(long horizon) {
    int kept = 0;
    for (int e = 0; e < size; e++) {
      if (starts[e] >= horizon) {
        starts[kept] = starts[e];
        ids[kept] = ids[e];
        hashes[kept] = hashes[e];
        keys[kept] = keys[e];
        kept++;
      }
    }
    if (kept != size) {
      size = kept;
      reindex(index.length); // keys stay interned: a few bytes each, and a key may come back
    }
  }

  private static long slotValue(int hash, int entry) {
    return ((long) hash << 32) | (entry & 0xFFFF_FFFFL);
  }

  /** The slot of {@code (keyId, start)}: the one that holds its entry, or the empty one where it goes. */
  private int probe(int keyId, long start) {
    long[] ix = index;
    int m = ix.length - 1;
    int hash = GroupTable.groupHash(keyId, start);
    long tag = (long) hash << 32;
    int slot = hash & m;
    while (true) {
      long v = ix[slot];
      if (v == EMPTY) {
        return slot;
      }
      if ((v & HASH_BITS) == tag) {
        int e = (int) v;
        if (starts[e] == start && keys[e] == keyId) {
          return slot;
        }
      }
      slot = (slot + 1) & m;
    }
  }

  private void reindex(int capacity) {
    long[] ix = newIndex(capacity);
    int m = capacity - 1;
    for (int e = 0; e < size; e++) {
      int hash = GroupTable.groupHash(keys[e], starts[e]);
      int slot = hash & m;
      while (ix[slot] != EMPTY) {
        slot = (slot + 1) & m;
      }
      ix[slot] = slotValue(hash, e);
    }
    index = ix;
  }
}
