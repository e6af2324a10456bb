package dev.braid.view;

import java.util.Arrays;

/**
 * The accumulators of one view over one partition's events: a map {@code (key, window) -> state row}
 * with no object per group and no boxing.
 *
 * <h2>Layout</h2>
 * Keys are interned once in a byte arena and found through an open-addressing table of key ids
 * (linear probing, power-of-two capacity, load factor at most 1/2). Each key heads a singly linked
 * list of its groups, one per window (one in all for a view without windows); new windows go to
 * the head, so in-order events find their window at once. A group's state is a row of
 * {@code longWidth} longs in {@link #longs} and {@code objectWidth} references in {@link #objects},
 * laid out by {@link ViewProgram}.
 *
 * <pre>
 *   table[slot] -> keyId            keyOffset/keyLength/keyHash/keyHead[keyId]
 *   keyHead[keyId] -> groupId       groupNext/groupWindow/groupKey[groupId], longs[groupId * longWidth ...]
 * </pre>
 *
 * <p>Per key about 24 bytes plus the key's bytes, per group 16 bytes plus its state, so a
 * {@code count + sum} view costs about 56 bytes plus the key per key.
 *
 * <h2>Threading</h2>
 * Not thread-safe. One writer owns a table; {@link Delta} guards concurrent readers with a lock
 * that the writer takes once per batch of events, not per event.
 */
final class GroupTable {

  private static final int NONE = -1;

  /** Sets a new group's state row to the aggregations' zero. */
  @FunctionalInterface
  interface RowInit {
    void zero(long[] longs, int longBase, Object[] objects, int objectBase);
  }

  private final RowInit init;

  final int longWidth;
  final int objectWidth;

  // key side
  private int[] table;
  private int mask;
  private byte[] keyBytes;
  private int keyBytesUsed;
  private int[] keyOffset;
  private int[] keyLength;
  private int[] keyHash;
  private int[] keyHead;
  private int keys;

  // group side
  private int[] groupNext;
  private long[] groupWindow;
  private int[] groupKey;
  long[] longs;
  Object[] objects;
  private int groups;

  GroupTable(int longWidth, int objectWidth, int expectedKeys, RowInit init) {
    this.init = init;
    this.longWidth = longWidth;
    this.objectWidth = objectWidth;
    int capacity = Integer.highestOneBit(Math.max(16, expectedKeys) * 2 - 1) << 1;
    this.table = new int[capacity];
    Arrays.fill(table, NONE);
    this.mask = capacity - 1;
    int keyCap = Math.max(16, expectedKeys);
    this.keyBytes = new byte[keyCap * 16];
    this.keyOffset = new int[keyCap];
    this.keyLength = new int[keyCap];
    this.keyHash = new int[keyCap];
    this.keyHead = new int[keyCap];
    this.groupNext = new int[keyCap];
    this.groupWindow = new long[keyCap];
    this.groupKey = new int[keyCap];
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

  /** The key id of {@code key}, or -1. */
  int findKey(byte[] key, int len, int hash) {
    int slot = hash & mask;
    while (true) {
      int id = table[slot];
      if (id == NONE) {
        return NONE;
      }
      if (keyHash[id] == hash && keyEquals(id, key, len)) {
        return id;
      }
      slot = (slot + 1) & mask;
    }
  }

  private boolean keyEquals(int id, byte[] key, int len) {
    if (keyLength[id] != len) {
      return false;
    }
    return Arrays.equals(keyBytes, keyOffset[id], keyOffset[id] + len, key, 0, len);
  }

  /** The key id of {@code key}, inserting it if new. */
  int findOrInsertKey(byte[] key, int len, int hash) {
    int slot = hash & mask;
    while (true) {
      int id = table[slot];
      if (id == NONE) {
        break;
      }
      if (keyHash[id] == hash && keyEquals(id, key, len)) {
        return id;
      }
      slot = (slot + 1) & mask;
    }
    int id = keys;
    if (id == keyOffset.length) {
      growKeys();
    }
    if (keyBytesUsed + len > keyBytes.length) {
      long cap = Math.max((long) keyBytes.length * 2, (long) keyBytesUsed + len);
      if (cap > Integer.MAX_VALUE - 8) {
        throw new IllegalStateException("more than 2 GiB of distinct keys in one partition of a view");
      }
      keyBytes = Arrays.copyOf(keyBytes, (int) cap);
    }
    System.arraycopy(key, 0, keyBytes, keyBytesUsed, len);
    keyOffset[id] = keyBytesUsed;
    keyLength[id] = len;
    keyHash[id] = hash;
    keyHead[id] = NONE;
    keyBytesUsed += len;
    keys++;
    table[slot] = id;
    if (keys * 2 > table.length) {
      rehash();
    }
    return id;
  }

  /** The group of window {@code window} under key id {@code keyId}, or -1. */
  int findGroup(int keyId, long window) {
    for (int g = keyHead[keyId]; g != NONE; g = groupNext[g]) {
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
    int head = keyHead[keyId];
    if (head != NONE && groupWindow[head] == window) {
      return head;
    }
    int g = findGroup(keyId, window);
    if (g != NONE) {
      return g;
    }
    g = groups;
    if (g == groupNext.length) {
      growGroups();
    }
    groupNext[g] = head;
    groupWindow[g] = window;
    groupKey[g] = keyId;
    keyHead[keyId] = g;
    groups++;
    init.zero(longs, g * longWidth, objects, g * objectWidth);
    return g;
  }

  int firstGroupOfKey(int keyId) {
    return keyHead[keyId];
  }

  int nextGroupOfKey(int group) {
    return groupNext[group];
  }

  long window(int group) {
    return groupWindow[group];
  }

  int keyOf(int group) {
    return groupKey[group];
  }

  byte[] keyBytes() {
    return keyBytes;
  }

  int keyOffset(int keyId) {
    return keyOffset[keyId];
  }

  int keyLength(int keyId) {
    return keyLength[keyId];
  }

  int keyHash(int keyId) {
    return keyHash[keyId];
  }

  byte[] keyCopy(int keyId) {
    return Arrays.copyOfRange(keyBytes, keyOffset[keyId], keyOffset[keyId] + keyLength[keyId]);
  }

  /** Approximate heap bytes held by this table. */
  long memoryBytes() {
    long b = (long) table.length * 4 + keyBytes.length + (long) keyOffset.length * 16 + (long) groupNext.length * 16
        + (long) longs.length * 8;
    if (objects != null) {
      b += (long) objects.length * 4;
    }
    return b;
  }

  /**
   * Heap bytes the table would hold after inserting one more group under a new key of
   * {@code keyLength} bytes: {@link #memoryBytes()} plus every array that this insertion would have
   * to grow. The batch layer asks before the insertion happens, so a table can be spilled before it
   * grows past its share of the memory budget.
   */
  long memoryBytesAfterInsert(int keyLength) {
    long b = memoryBytes();
    if (keys == keyOffset.length) {
      b += (long) keyOffset.length * 16;
    }
    if ((keys + 1) * 2 > table.length) {
      b += (long) table.length * 4;
    }
    if (keyBytesUsed + keyLength > keyBytes.length) {
      b += Math.max(keyBytes.length, keyLength);
    }
    if (groups == groupNext.length) {
      b += (long) groupNext.length * 16 + (long) longs.length * 8 + (objects == null ? 0 : (long) objects.length * 4);
    }
    return b;
  }

  /**
   * Forgets every key and group but keeps the arrays at their size, so a table that the batch
   * layer has spilled fills again without allocating. Drops the references to state objects.
   */
  void clear() {
    Arrays.fill(table, NONE);
    if (objects != null) {
      Arrays.fill(objects, 0, groups * objectWidth, null);
    }
    keys = 0;
    groups = 0;
    keyBytesUsed = 0;
  }

  private void growKeys() {
    int n = keyOffset.length * 2;
    keyOffset = Arrays.copyOf(keyOffset, n);
    keyLength = Arrays.copyOf(keyLength, n);
    keyHash = Arrays.copyOf(keyHash, n);
    keyHead = Arrays.copyOf(keyHead, n);
  }

  private void growGroups() {
    int n = groupNext.length * 2;
    groupNext = Arrays.copyOf(groupNext, n);
    groupWindow = Arrays.copyOf(groupWindow, n);
    groupKey = Arrays.copyOf(groupKey, n);
    longs = Arrays.copyOf(longs, n * Math.max(1, longWidth));
    if (objects != null) {
      objects = Arrays.copyOf(objects, n * objectWidth);
    }
  }

  private void rehash() {
    int[] bigger = new int[table.length * 2];
    Arrays.fill(bigger, NONE);
    int m = bigger.length - 1;
    for (int id = 0; id < keys; id++) {
      int slot = keyHash[id] & m;
      while (bigger[slot] != NONE) {
        slot = (slot + 1) & m;
      }
      bigger[slot] = id;
    }
    table = bigger;
    mask = m;
  }
}
