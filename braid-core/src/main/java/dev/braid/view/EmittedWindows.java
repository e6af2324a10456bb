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
 * through an open-addressing index of entry numbers (linear probing, load factor at most 1/2: 8 to
 * 16 bytes per entry). So an entry costs 36 to 44 bytes when the arrays are full.
 *
 * <h2>Threading</h2>
 * Not thread-safe; the feed guards it with its own lock.
 */
final class EmittedWindows {

  private static final int NONE = -1;

  private final Map<String, Integer> keyIds = new HashMap<>();
  private long[] starts = new long[16];
  private long[] ids = new long[16];
  private long[] hashes = new long[16];
  private int[] keys = new int[16];
  private int size;
  private int[] index = newIndex(32);

  private static int[] newIndex(int capacity) {
    int[] a = new int[capacity];
    Arrays.fill(a, NONE);
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
    return index[probe(keyId, start)];
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
    int e = index[slot];
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
      index[slot] = e;
      size++;
      if (size * 2 > index.length) {
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

  private int probe(int keyId, long start) {
    int[] ix = index;
    int m = ix.length - 1;
    int slot = GroupTable.groupHash(keyId, start) & m;
    while (true) {
      int e = ix[slot];
      if (e == NONE || (starts[e] == start && keys[e] == keyId)) {
        return slot;
      }
      slot = (slot + 1) & m;
    }
  }

  private void reindex(int capacity) {
    int[] ix = newIndex(capacity);
    int m = capacity - 1;
    for (int e = 0; e < size; e++) {
      int slot = GroupTable.groupHash(keys[e], starts[e]) & m;
      while (ix[slot] != NONE) {
        slot = (slot + 1) & m;
      }
      ix[slot] = e;
    }
    index = ix;
  }
}
