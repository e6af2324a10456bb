package dev.braid.view;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The accumulators of one view over one partition's events: a map {@code (key, window) -> state row}
 * with no object per group and no boxing.
 *
 * <h2>Layout</h2>
 * Keys are interned once in a byte arena and found through an open-addressing table of slots
 * (linear probing, power-of-two capacity, load factor at most 1/2). A slot holds the key's 32-bit
 * hash and its id in one {@code long}, so a probe compares hashes without touching the key's own
 * data. A key's offset, length, hash and first group sit side by side in {@link #keyInfo} (one
 * cache line fetch instead of four arrays). Each key heads a singly linked list of its groups, one
 * per window; new windows go to the head, so in-order events find their window at once. A group's
 * state is a row of {@code longWidth} longs in {@link #longs} and {@code objectWidth} references in
 * {@link #objects}, laid out by {@link ViewProgram}.
 *
 * <pre>
 *   slots[s] = hash &lt;&lt; 32 | keyId      keyInfo[keyId * 4 ..] = offset, length, hash, head group
 *   head group -&gt; groupId                groupNext/groupWindow/groupKey[groupId], longs[groupId * longWidth ...]
 * </pre>
 *
 * <h2>One group per key</h2>
 * A table for a view without windows ({@code windowed == false}) has exactly one group per key,
 * created with the key, with the key's id as its group id and window 0. It keeps no group list
 * arrays, and a lookup goes slot, key info, key bytes, state row: four memory accesses per event,
 * which is what bounds the speed layer once the table outgrows the CPU caches.
 *
 * <p>Per key, with capacities between half and all used: the slots 16 to 32 bytes, key info 16,
 * the key's bytes, the state row ({@code 16} bytes for {@code count + sum}), and with windows 16
 * more per group. So a {@code count + sum} view without windows costs about 50 bytes plus the key
 * per key, when arrays are full, up to about twice that just after they doubled.
 *
 * <h2>Threading</h2>
 * Not thread-safe. One writer owns a table; {@link Delta} guards concurrent readers with a lock
 * that the writer takes once per batch of events, not per event.
 */
final class GroupTable {

  private static final int NONE = -1;
  private static final long EMPTY = -1L; // a used slot's low word is a key id, never 0xffffffff
  private static final int INFO = 4;
  private static final int OFFSET = 0;
  private static final int LENGTH = 1;
  private static final int HASH = 2;
  private static final int HEAD = 3;
  /** Big-endian long views of the key arena, to compare keys eight bytes at a time. */
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /** Sets a new group's state row to the aggregations' zero. */
  @FunctionalInterface
  interface RowInit {
    void zero(long[] longs, int longBase, Object[] objects, int objectBase);
  }

  private final RowInit init;
  private final boolean windowed;

  final int longWidth;
  final int objectWidth;

  // key side
  private long[] slots;
  private int mask;
  private byte[] keyBytes;
  private int keyBytesUsed;
  private int[] keyInfo;
  private int keyCapacity;
  private int keys;

  // group side; the three group arrays are null when !windowed
  private int[] groupNext;
  private long[] groupWindow;
  private int[] groupKey;
  private int groupCapacity;
  long[] longs;
  Object[] objects;
  private int groups;

  /** A table whose keys may have several groups, one per window. */
  GroupTable(int longWidth, int objectWidth, int expectedKeys, RowInit init) {
    this(longWidth, objectWidth, expectedKeys, init, true);
  }

  /**
   * @param windowed false for a view without windows: every key then has exactly one group, of
   *     window 0, and {@link #findOrInsertGroup} accepts only window 0
   */
  GroupTable(int longWidth, int objectWidth, int expectedKeys, RowInit init, boolean windowed) {
    this.init = init;
    this.windowed = windowed;
    this.longWidth = longWidth;
    this.objectWidth = objectWidth;
    int capacity = Integer.highestOneBit(Math.max(16, expectedKeys) * 2 - 1) << 1;
    this.slots = new long[capacity];
    Arrays.fill(slots, EMPTY);
    this.mask = capacity - 1;
    int keyCap = Math.max(16, expectedKeys);
    this.keyCapacity = keyCap;
    this.keyBytes = new byte[keyCap * 16];
    this.keyInfo = new int[keyCap * INFO];
    this.groupCapacity = keyCap;
    if (windowed) {
      this.groupNext = new int[keyCap];
      this.groupWindow = new long[keyCap];
      this.groupKey = new int[keyCap];
    }
    this.longs = new long[keyCap * Math.max(1, longWidth)];
    this.objects = objectWidth == 0 ? null : new Object[keyCap * objectWidth];
  }

  int keyCount() {
    return keys;
  }

  int groupCount() {
    return groups;
  }

  /** A 32-bit hash of key bytes (FNV-1a folded with a murmur finalizer); stable, used on disk. */
  static int hash(byte[] key, int len) {
    int h = 0x811c9dc5;
    for (int i = 0; i < len; i++) {
      h = (h ^ (key[i] & 0xff)) * 0x01000193;
    }
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >>> 16);
  }

  /** {@link #hash(byte[], int)} of {@code len} bytes of {@code b} from {@code off} (absolute gets). */
  static int hash(ByteBuffer b, int off, int len) {
    int h = 0x811c9dc5;
    for (int i = off, end = off + len; i < end; i++) {
      h = (h ^ (b.get(i) & 0xff)) * 0x01000193;
    }
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >>> 16);
  }

  /**
   * Loads, for each of {@code hashes[0..n)}, what a lookup of that hash will read (its first slot,
   * then the key's info, state row and bytes), one step at a time across all of them. The loads of
   * one step do not depend on each other, so the CPU overlaps their cache misses instead of waiting
   * for one key's chain of misses before starting the next key's. A hint only: a hash whose first
   * slot holds another key just loads that key. {@code ids} is scratch of at least {@code n}.
   *
   * @return a value derived from the loads, for the caller to keep (so they are not optimized away)
   */
  long touch(int[] hashes, int[] ids, int n) {
    long sink = 0;
    long[] s = slots;
    int m = mask;
    for (int i = 0; i < n; i++) {
      long e = s[hashes[i] & m];
      ids[i] = e == EMPTY ? NONE : (int) e;
    }
    int[] info = keyInfo;
    long[] state = longs;
    int w = Math.max(1, longWidth);
    for (int i = 0; i < n; i++) {
      int id = ids[i];
      if (id != NONE) {
        ids[i] = info[id * INFO + OFFSET];
        sink += state[id * w];
      }
    }
    byte[] kb = keyBytes;
    for (int i = 0; i < n; i++) {
      int off = ids[i];
      if (off != NONE) {
        sink += kb[off];
      }
    }
    return sink;
  }

  /** The slot holding {@code key}, or the empty slot where it would go. */
  private int probe(byte[] key, int len, int hash) {
    long[] s = slots;
    int slot = hash & mask;
    while (true) {
      long e = s[slot];
      if (e == EMPTY || ((int) (e >>> 32) == hash && keyEquals((int) e, key, len))) {
        return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  /**
   * {@link #probe(byte[], int, int)} for a key given as {@code len} bytes of {@code key} from
   * {@code off} (absolute gets): the record's own key slice, so the fold neither copies nor
   * rehashes it.
   */
  private int probe(ByteBuffer key, int off, int len, int hash) {
    long[] s = slots;
    int slot = hash & mask;
    while (true) {
      long e = s[slot];
      if (e == EMPTY || ((int) (e >>> 32) == hash && keyEquals((int) e, key, off, len))) {
        return slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  private boolean keyEquals(int id, ByteBuffer key, int off, int len) {
    int at = id * INFO;
    if (keyInfo[at + LENGTH] != len) {
      return false;
    }
    byte[] kb = keyBytes;
    int k = keyInfo[at + OFFSET];
    int i = 0;
    // Eight bytes at a time, both sides read big-endian (a log buffer is; any other is turned).
    boolean bigEndian = key.order() == ByteOrder.BIG_ENDIAN;
    for (; i + 8 <= len; i += 8) {
      long w = key.getLong(off + i);
      if ((long) LONGS.get(kb, k + i) != (bigEndian ? w : Long.reverseBytes(w))) {
        return false;
      }
    }
    for (; i < len; i++) {
      if (kb[k + i] != key.get(off + i)) {
        return false;
      }
    }
    return true;
  }

  /** {@link #findOrInsertKey(byte[], int, int)} for a key slice of a buffer (see {@link #probe(ByteBuffer, int, int, int)}). */
  int findOrInsertKey(ByteBuffer key, int off, int len, int hash) {
    int slot = probe(key, off, len, hash);
    long e = slots[slot];
    if (e != EMPTY) {
      return (int) e;
    }
    int id = newKey(slot, len, hash);
    key.get(off, keyBytes, keyInfo[id * INFO + OFFSET], len);
    return afterNewKey(id);
  }

  /** The key id of {@code key}, or -1. */
  int findKey(byte[] key, int len, int hash) {
    long e = slots[probe(key, len, hash)];
    return e == EMPTY ? NONE : (int) e;
  }

  private boolean keyEquals(int id, byte[] key, int len) {
    int at = id * INFO;
    if (keyInfo[at + LENGTH] != len) {
      return false;
    }
    int off = keyInfo[at + OFFSET];
    return Arrays.equals(keyBytes, off, off + len, key, 0, len);
  }

  /**
   * The key id of {@code key}, inserting it if new. In a table without windows a new key gets its
   * one group (id = key id) at once.
   */
  int findOrInsertKey(byte[] key, int len, int hash) {
    int slot = probe(key, len, hash);
    long e = slots[slot];
    if (e != EMPTY) {
      return (int) e;
    }
    int id = newKey(slot, len, hash);
    System.arraycopy(key, 0, keyBytes, keyInfo[id * INFO + OFFSET], len);
    return afterNewKey(id);
  }

  /** Reserves a new key's id, its info and {@code len} bytes of arena, and fills empty {@code slot}. */
  private int newKey(int slot, int len, int hash) {
    int id = keys;
    if (id == keyCapacity) {
      growKeys();
    }
    if (keyBytesUsed + len > keyBytes.length) {
      long cap = Math.max((long) keyBytes.length * 2, (long) keyBytesUsed + len);
      if (cap > Integer.MAX_VALUE - 8) {
        throw new IllegalStateException("more than 2 GiB of distinct keys in one partition of a view");
      }
      keyBytes = Arrays.copyOf(keyBytes, (int) cap);
    }
    int at = id * INFO;
    keyInfo[at + OFFSET] = keyBytesUsed;
    keyInfo[at + LENGTH] = len;
    keyInfo[at + HASH] = hash;
    keyInfo[at + HEAD] = NONE;
    keyBytesUsed += len;
    keys++;
    slots[slot] = ((long) hash << 32) | id;
    return id;
  }

  /** Finishes inserting key {@code id} once its bytes are in the arena: rehash, its one group. */
  private int afterNewKey(int id) {
    if (keys * 2 > slots.length) {
      rehash();
    }
    if (!windowed) {
      newGroup(id, 0L);
    }
    return id;
  }

  /** The group of window {@code window} under key id {@code keyId}, or -1. */
  int findGroup(int keyId, long window) {
    if (!windowed) {
      return window == 0L ? keyInfo[keyId * INFO + HEAD] : NONE;
    }
    for (int g = keyInfo[keyId * INFO + HEAD]; g != NONE; g = groupNext[g]) {
      if (groupWindow[g] == window) {
        return g;
      }
    }
    return NONE;
  }

  /**
   * The group of {@code (keyId, window)}, inserting a new one if absent; a new group's row is set
   * to the aggregations' zero by the table's {@link RowInit}.
   */
  int findOrInsertGroup(int keyId, long window) {
    if (!windowed) {
      if (window != 0L) {
        throw new IllegalArgumentException("a table without windows has window 0 only, not " + window);
      }
      return keyId; // its one group, created with the key
    }
    int head = keyInfo[keyId * INFO + HEAD];
    if (head != NONE && groupWindow[head] == window) {
      return head;
    }
    int g = findGroup(keyId, window);
    if (g != NONE) {
      return g;
    }
    return newGroup(keyId, window);
  }

  private int newGroup(int keyId, long window) {
    int g = groups;
    if (g == groupCapacity) {
      growGroups();
    }
    int at = keyId * INFO + HEAD;
    if (windowed) {
      groupNext[g] = keyInfo[at];
      groupWindow[g] = window;
      groupKey[g] = keyId;
    }
    keyInfo[at] = g;
    groups++;
    init.zero(longs, g * longWidth, objects, g * objectWidth);
    return g;
  }

  int firstGroupOfKey(int keyId) {
    return keyInfo[keyId * INFO + HEAD];
  }

  int nextGroupOfKey(int group) {
    return windowed ? groupNext[group] : NONE;
  }

  long window(int group) {
    return windowed ? groupWindow[group] : 0L;
  }

  int keyOf(int group) {
    return windowed ? groupKey[group] : group;
  }

  byte[] keyBytes() {
    return keyBytes;
  }

  int keyOffset(int keyId) {
    return keyInfo[keyId * INFO + OFFSET];
  }

  int keyLength(int keyId) {
    return keyInfo[keyId * INFO + LENGTH];
  }

  int keyHash(int keyId) {
    return keyInfo[keyId * INFO + HASH];
  }

  byte[] keyCopy(int keyId) {
    int off = keyOffset(keyId);
    return Arrays.copyOfRange(keyBytes, off, off + keyLength(keyId));
  }

  /** Heap bytes of the group arrays per group of capacity. */
  private long bytesPerGroup() {
    return (windowed ? 16L : 0L) + (long) Math.max(1, longWidth) * 8 + (objects == null ? 0 : (long) objectWidth * 4);
  }

  /** Approximate heap bytes held by this table. */
  long memoryBytes() {
    return (long) slots.length * 8 + keyBytes.length + (long) keyCapacity * INFO * 4
        + (long) groupCapacity * bytesPerGroup();
  }

  /**
   * Heap bytes the table would hold after inserting one more group under a new key of
   * {@code keyLength} bytes: {@link #memoryBytes()} plus every array that this insertion would have
   * to grow. The batch layer asks before the insertion happens, so a table can be spilled before it
   * grows past its share of the memory budget.
   */
  long memoryBytesAfterInsert(int keyLength) {
    long b = memoryBytes();
    if (keys == keyCapacity) {
      b += (long) keyCapacity * INFO * 4;
    }
    if ((keys + 1) * 2 > slots.length) {
      b += (long) slots.length * 8;
    }
    if (keyBytesUsed + keyLength > keyBytes.length) {
      b += Math.max(keyBytes.length, keyLength);
    }
    if (groups == groupCapacity) {
      b += (long) groupCapacity * bytesPerGroup();
    }
    return b;
  }

  /**
   * Forgets every key and group but keeps the arrays at their size, so a table that the batch
   * layer has spilled fills again without allocating. Drops the references to state objects.
   */
  void clear() {
    Arrays.fill(slots, EMPTY);
    if (objects != null) {
      Arrays.fill(objects, 0, groups * objectWidth, null);
    }
    keys = 0;
    groups = 0;
    keyBytesUsed = 0;
  }

  private void growKeys() {
    keyCapacity *= 2;
    keyInfo = Arrays.copyOf(keyInfo, keyCapacity * INFO);
  }

  private void growGroups() {
    int n = groupCapacity * 2;
    groupCapacity = n;
    if (windowed) {
      groupNext = Arrays.copyOf(groupNext, n);
      groupWindow = Arrays.copyOf(groupWindow, n);
      groupKey = Arrays.copyOf(groupKey, n);
    }
    longs = Arrays.copyOf(longs, n * Math.max(1, longWidth));
    if (objects != null) {
      objects = Arrays.copyOf(objects, n * objectWidth);
    }
  }

  private void rehash() {
    long[] bigger = new long[slots.length * 2];
    Arrays.fill(bigger, EMPTY);
    int m = bigger.length - 1;
    for (int id = 0; id < keys; id++) {
      int hash = keyInfo[id * INFO + HASH];
      int slot = hash & m;
      while (bigger[slot] != EMPTY) {
        slot = (slot + 1) & m;
      }
      bigger[slot] = ((long) hash << 32) | id;
    }
    slots = bigger;
    mask = m;
  }
}
