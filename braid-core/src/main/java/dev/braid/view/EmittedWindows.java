package dev.braid.view;

import java.util.Arrays;

/**
 * What a {@link ChangeFeed} emitted per {@code (key, window start)}: the change event's id and a
 * hash of its result. A map with no object per window, because it holds one entry per closed window
 * of the view, for good (a view without {@code retain}): Nexmark's Q5 closes some 15 million
 * (auction, window) pairs over 10 M events, which as {@code HashMap<String, HashMap<Long, long[]>>}
 * (a node, a boxed start and a two-long array per window, about 100 bytes) took 1.5 GB of a 4 GiB
 * heap.
 *
 * <h2>Layout</h2>
 * Keys are interned once ({@link #keyIds}: one {@code String}, an int hash and two to four int
 * slots per key, no map node or boxed id: a {@code HashMap<String, Integer>} was a tenth of a first
 * pass). Entries are dense, in insertion order, in four parallel arrays (start, id, hash, key id:
 * 28 bytes), found through an open-addressing index (linear probing, load factor at most 3/4: 10.7
 * to 21.3 bytes per entry) whose slots hold the entry number and the (key, start) pair's 32-bit
 * hash. A probe compares
 * the hash in the slot and reads the entry's start and key only when it matches. With an index of
 * entry numbers alone, every slot a probe passed read a start from the entry arrays, a cache miss
 * of its own: Q5's 14.6 M windows spent a quarter of the feed's first pass after a start in the
 * probes. So an entry costs 39 to 50 bytes when the arrays are full.
 *
 * <h2>Entries indexed late</h2>
 * A pass emits each {@code (key, start)} at most once, and what it found absent it {@link #add}s
 * without a probe: entries {@code [indexed, size)} are not in the index yet. The next
 * {@link #find} or {@link #put} first indexes them in one loop, whose slot loads do not depend on
 * each other, so the CPU overlaps their cache misses; a probe per emitted window, between the JSON
 * and the append of the next, waited for each miss in turn (a quarter of Q5's first pass).
 *
 * <h2>Retracted windows</h2>
 * A window the feed emitted and that the view no longer has (a late event merged its session into
 * another, or a reprocess changed the windows) is retracted: its entry stays, with the retraction's
 * id and the hash {@link #RETRACTED}, so a window with that start that appears again is closed
 * anew. {@link #live} counts per key the entries not retracted, so that a pass can tell from one
 * compare whether a key's read holds every window emitted for it.
 *
 * <h2>Threading</h2>
 * Not thread-safe; the feed guards it with its own lock.
 */
final class EmittedWindows {

  private static final int NONE = -1;
  /** An empty index slot: its entry half is -1, which no entry number is. */
  private static final long EMPTY = -1L;
  private static final long HASH_BITS = 0xFFFF_FFFF_0000_0000L;
  /**
   * The hash of a retracted entry. A result whose 64-bit hash equals it would read as retracted and
   * be closed again (a chance of 2^-64 per window).
   */
  static final long RETRACTED = 0x5245_5452_4143_5445L; // "RETRACTE"

  private final KeyIds keyIds = new KeyIds();
  private long[] starts = new long[16];
  private long[] ids = new long[16];
  private long[] hashes = new long[16];
  private int[] keys = new int[16];
  /** Per key id, its entries that are not retracted. */
  private int[] live = new int[16];
  private int size;
  /** Entries {@code [0, indexed)} are in the index; the rest were {@link #add}ed since. */
  private int indexed;
  /** Per slot: the pair's hash in the high half, its entry number in the low half; or {@link #EMPTY}. */
  private long[] index = newIndex(32);

  private static long[] newIndex(int capacity) {
    long[] a = new long[capacity];
    Arrays.fill(a, EMPTY);
    return a;
  }

  /** The interned id of {@code key}, or -1 when nothing was emitted for it. */
  int keyId(String key) {
    return keyIds.find(key);
  }

  /** The interned id of {@code key}, interning it if it is new. */
  int intern(String key) {
    int id = keyIds.intern(key);
    if (id == live.length) {
      live = Arrays.copyOf(live, 2 * id);
    }
    return id;
  }

  /** How many windows of interned key {@code keyId} are emitted and not retracted (0 for -1). */
  int live(int keyId) {
    return keyId < 0 ? 0 : live[keyId];
  }

  /** Gives {@code to} each key with a window emitted and not retracted, and its interned id. */
  void forEachLiveKey(java.util.function.ObjIntConsumer<String> to) {
    for (int id = 0, n = keyIds.size(); id < n; id++) {
      if (live[id] > 0) {
        to.accept(keyIds.key(id), id);
      }
    }
  }

  /** Forgets everything: for a rebuild from the changes log. */
  void clear() {
    keyIds.clear();
    Arrays.fill(live, 0);
    size = 0;
    indexed = 0;
    index = newIndex(32);
  }

  /** Writes the keys and entries, as {@link EmittedSnapshot} lays them out. */
  void writeTo(java.io.DataOutputStream out) throws java.io.IOException {
    // Staged a block at a time (the bytes DataOutputStream's writeInt and writeLong give): a call
    // per field into the stream was 6 % of a Nexmark Q17 pass that saved 600 k windows.
    java.nio.ByteBuffer block = java.nio.ByteBuffer.allocate(1 << 16); // big-endian
    block.putInt(keyIds.size());
    for (int id = 0, n = keyIds.size(); id < n; id++) {
      byte[] b = keyIds.key(id).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      if (block.remaining() < 4 + b.length) {
        drain(block, out);
      }
      block.putInt(b.length);
      if (block.remaining() < b.length) { // a key longer than a block
        drain(block, out);
        out.write(b);
      } else {
        block.put(b);
      }
    }
    if (block.remaining() < 4) {
      drain(block, out);
    }
    block.putInt(size);
    for (int e = 0; e < size; e++) {
      if (block.remaining() < 28) {
        drain(block, out);
      }
      block.putInt(keys[e]).putLong(starts[e]).putLong(ids[e]).putLong(hashes[e]);
    }
    drain(block, out);
  }

  private static void drain(java.nio.ByteBuffer block, java.io.DataOutputStream out) throws java.io.IOException {
    out.write(block.array(), 0, block.position());
    block.clear();
  }

  /**
   * Replaces the content with what {@link #writeTo} wrote, which is {@code bytes} long: the bytes
   * left bound every count and length read (a damaged one must not size an array before the CRC is
   * read). Throws {@link IllegalArgumentException} naming what does not fit.
   */
  void readFrom(java.io.DataInputStream in, long bytes) throws java.io.IOException {
    clear();
    long left = bytes - 4;
    int keyCount = in.readInt();
    if (keyCount < 0 || keyCount > left / 4) {
      throw new IllegalArgumentException("its key count " + keyCount + " does not fit in " + bytes + " bytes");
    }
    for (int i = 0; i < keyCount; i++) {
      int n = in.readInt();
      left -= 4;
      if (n < 0 || n > left) {
        throw new IllegalArgumentException("key " + i + " has a length of " + n + " bytes, and " + left + " are left");
      }
      left -= n;
      byte[] b = new byte[n];
      in.readFully(b);
      if (intern(new String(b, java.nio.charset.StandardCharsets.UTF_8)) != i) {
        throw new IllegalArgumentException("key " + i + " is there twice");
      }
    }
    int entries = in.readInt();
    left -= 4;
    if (entries < 0 || entries > left / 28) {
      throw new IllegalArgumentException("its entry count " + entries + " does not fit in the " + left
          + " bytes left");
    }
    for (int e = 0; e < entries; e++) {
      int key = in.readInt();
      if (key < 0 || key >= keyCount) {
        throw new IllegalArgumentException("entry " + e + " names key " + key + " of " + keyCount);
      }
      append(key, in.readLong(), in.readLong(), in.readLong());
    }
    reindex(capacityFor(size, 32));
  }

  /** The smallest power of two at least {@code atLeast} that holds {@code entries} at a load of at most 3/4. */
  private static int capacityFor(int entries, int atLeast) {
    int capacity = atLeast;
    while (entries * 4L > capacity * 3L) {
      if (capacity >= 1 << 30) {
        throw new IllegalStateException("more than " + (3L << 28) + " emitted windows: the index cannot grow further");
      }
      capacity *= 2;
    }
    return capacity;
  }

  /** Whether entry {@code entry} (from {@link #find}) was retracted last. */
  boolean retracted(int entry) {
    return hashes[entry] == RETRACTED;
  }

  long start(int entry) {
    return starts[entry];
  }

  int keyOf(int entry) {
    return keys[entry];
  }

  /** The entry of {@code (keyId, start)}, or -1. */
  int find(int keyId, long start) {
    if (keyId < 0) {
      return NONE;
    }
    indexAdded();
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
    int k = intern(key);
    indexAdded();
    int slot = probe(k, start);
    int e = (int) index[slot];
    if (e == NONE) {
      e = append(k, start, id, hash);
      index[slot] = slotValue(GroupTable.groupHash(k, start), e);
      indexed = size;
      if (size * 4L > index.length * 3L) {
        reindex(index.length * 2);
      }
    } else {
      update(e, id, hash);
    }
  }

  /**
   * Records the window {@code start} of interned key {@code keyId} as emitted, as event {@code id}
   * with result hash {@code hash}, when {@link #find} said it was not: the caller must not add a pair
   * twice, nor a pair {@code find} would find. Indexed at the next {@code find} or {@code put}.
   */
  void add(int keyId, long start, long id, long hash) {
    append(keyId, start, id, hash);
  }

  /** Records that entry {@code entry} (from {@link #find}) was emitted again, as event {@code id} with result hash {@code hash}. */
  void update(int entry, long id, long hash) {
    live[keys[entry]] += (hash == RETRACTED ? 0 : 1) - (hashes[entry] == RETRACTED ? 0 : 1);
    ids[entry] = id;
    hashes[entry] = hash;
  }

  private int append(int keyId, long start, long id, long hash) {
    int e = size;
    if (e == starts.length) {
      int n = e * 2;
      starts = Arrays.copyOf(starts, n);
      ids = Arrays.copyOf(ids, n);
      hashes = Arrays.copyOf(hashes, n);
      keys = Arrays.copyOf(keys, n);
    }
    starts[e] = start;
    keys[e] = keyId;
    ids[e] = id;
    hashes[e] = hash;
    if (hash != RETRACTED) {
      live[keyId]++;
    }
    size++;
    return e;
  }

  /**
   * Puts entries {@code [indexed, size)} in the index: each is a pair the index does not hold (see
   * {@link #add}), so it takes the first empty slot of its probe sequence with no key compared.
   */
  private void indexAdded() {
    if (indexed == size) {
      return;
    }
    if (size * 4L > index.length * 3L) {
      reindex(capacityFor(size, index.length)); // every entry, the added ones too
      return;
    }
    place(index, indexed);
    indexed = size;
  }

  /** Puts entries {@code [from, size)}, none of which {@code ix} holds, in the first empty slot of their probe sequence. */
  private void place(long[] ix, int from) {
    int m = ix.length - 1;
    for (int e = from; e < size; e++) {
      int hash = GroupTable.groupHash(keys[e], starts[e]);
      int slot = hash & m;
      while (ix[slot] != EMPTY) {
        slot = (slot + 1) & m;
      }
      ix[slot] = slotValue(hash, e);
    }
  }

  /** Forgets the windows that start before {@code horizon} (evicted by retention). */
  void removeBelow(long horizon) {
    int kept = 0;
    Arrays.fill(live, 0);
    for (int e = 0; e < size; e++) {
      if (starts[e] >= horizon) {
        if (hashes[e] != RETRACTED) {
          live[keys[e]]++;
        }
        starts[kept] = starts[e];
        ids[kept] = ids[e];
        hashes[kept] = hashes[e];
        keys[kept] = keys[e];
        kept++;
      }
    }
    if (kept != size) {
      size = kept;
      // keys stay interned: a few bytes each, and a key may come back. Entries added since the last
      // find are indexed now too, and there can be more of them than the index had room for.
      reindex(capacityFor(size, index.length));
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
    place(ix, 0);
    index = ix;
    indexed = size;
  }

  /**
   * Interned keys: ids from 0 in the order keys were interned, found through an open-addressing
   * index (linear probing, at most half full) whose slots hold an id plus one.
   */
  static final class KeyIds {
    private String[] byId = new String[16];
    /** Per id, its key's {@code hashCode}, mixed. */
    private int[] hashOf = new int[16];
    private int[] slots = new int[32];
    private int size;

    int size() {
      return size;
    }

    String key(int id) {
      return byId[id];
    }

    /** The id of {@code key}, or -1. */
    int find(String key) {
      int h = mix(key.hashCode());
      int mask = slots.length - 1;
      for (int s = h & mask; ; s = (s + 1) & mask) {
        int id = slots[s] - 1;
        if (id < 0) {
          return NONE;
        }
        if (hashOf[id] == h && byId[id].equals(key)) {
          return id;
        }
      }
    }

    /** The id of {@code key}, the next id when it is new. */
    int intern(String key) {
      int h = mix(key.hashCode());
      int mask = slots.length - 1;
      int s = h & mask;
      for (; ; s = (s + 1) & mask) {
        int id = slots[s] - 1;
        if (id < 0) {
          break;
        }
        if (hashOf[id] == h && byId[id].equals(key)) {
          return id;
        }
      }
      int id = size;
      if (id == byId.length) {
        byId = Arrays.copyOf(byId, 2 * id);
        hashOf = Arrays.copyOf(hashOf, 2 * id);
      }
      byId[id] = key;
      hashOf[id] = h;
      slots[s] = id + 1;
      size = id + 1;
      if (2 * size > slots.length) {
        grow();
      }
      return id;
    }

    void clear() {
      Arrays.fill(byId, 0, size, null);
      Arrays.fill(slots, 0);
      size = 0;
    }

    private void grow() {
      if (slots.length >= 1 << 30) {
        throw new IllegalStateException("more than " + (1 << 29) + " keys with windows emitted: the key index cannot grow");
      }
      int[] grown = new int[2 * slots.length];
      int mask = grown.length - 1;
      for (int id = 0; id < size; id++) {
        int s = hashOf[id] & mask;
        while (grown[s] != 0) {
          s = (s + 1) & mask;
        }
        grown[s] = id + 1;
      }
      slots = grown;
    }

    /** Spreads a string hash's bits (its low bits alone pick the slot). */
    private static int mix(int h) {
      h *= 0x9E3779B9;
      return h ^ (h >>> 16);
    }
  }
}
