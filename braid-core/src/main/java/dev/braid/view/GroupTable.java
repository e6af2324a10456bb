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
 * data. A key's <em>info</em> is three longs: its length and arena offset, then its first 16 bytes
 * (with windows a fourth: its group count and newest group), so a key of up to 16 bytes is compared
 * without reading the arena (a lookup of a record's key slice,
 * {@link #findOrInsertKey(ByteBuffer, int, int, int)}, does; the arena keeps every key whole for the
 * other readers). A key's hash is kept in its slot only. A group's state is a row in {@link #longs}
 * starting at {@code group * }{@link #stride} ({@code longWidth} longs laid out by
 * {@link ViewProgram}) and {@code objectWidth} references in {@link #objects}. Without windows the
 * key's info sits in its row right after the state, so a lookup and the fold after it read one
 * 40-byte row (for {@code count + sum}) instead of a 24-byte info and a 16-byte state row in two
 * arrays: about one cache line less per event once the table outgrows the caches. With windows the
 * info has an array of its own, {@link #keyInfo}, 32 bytes per key.
 *
 * <h2>Groups of a windowed table</h2>
 * Each group has a 16-byte {@link #groupEntry}: its window, its key id and the key's next older
 * group, so the entries chain each key's groups, newest first, from the key info's {@code HEAD}.
 * A lookup of (key id, window) first checks the head (in-order events fall into the key's newest
 * window), then walks at most {@link #WALK} groups down the list: those are the groups events mostly
 * hit, recently written and likely cached. A key with more groups than that also has all of them in
 * a second open-addressing table, {@link #groupSlots} (linear probing, load factor at most 1/2),
 * whose slots hold group ids only and are compared against the entries. So a lookup costs O(1)
 * expected however many windows a key has: the one key of a view grouped by a constant with 40,000
 * tumbling windows costs as much as an auction in five hopping windows. (Before the index a lookup
 * walked the whole list: O(W) per event and O(W^2) per key, 74 % of Nexmark Q7's CPU.) The lists
 * serve what enumerates one key's windows: reads, a session view's fragment search, spills,
 * checkpoints, run sorting.
 *
 * <pre>
 *   slots[s] = hash &lt;&lt; 32 | keyId
 *   without windows: longs[keyId * stride ..] = state[longWidth], length &lt;&lt; 32 | offset, prefix[2]
 *   with windows:    keyInfo[6 + keyId * 4 ..] = length &lt;&lt; 32 | offset, prefix[2], groups &lt;&lt; 32 | head group
 *                    longs[groupId * stride ..] = state[longWidth]
 *   groupSlots[groupHash(keyId, window) ..] = groupId      (groups of keys with more than WALK only)
 *   groupEntry[2 groupId ..] = window, next &lt;&lt; 32 | keyId
 * </pre>
 *
 * <h2>One group per key</h2>
 * A table for a view without windows ({@code windowed == false}) has exactly one group per key,
 * created with the key, with the key's id as its group id and window 0. It keeps no group list
 * arrays, and a lookup of a key slice goes slot, then the key's row (info and state; plus the arena
 * for a key longer than 16 bytes): two memory accesses per event, which is what bounds the speed
 * layer once the table outgrows the CPU caches.
 *
 * <p>Per key, with capacities between half and all used: the slots 16 to 32 bytes, key info 24 (in
 * the row; 32 with windows), the key's bytes, the state ({@code 16} bytes for {@code count + sum}). So a
 * {@code count + sum} view without windows costs about 60 bytes plus the key per key, when arrays
 * are full, up to about twice that just after they doubled. With windows each group costs its entry
 * (16 bytes), its row, and when its key has more than {@link #WALK} groups its slot in the group index
 * (8 to 16): 24 to 40 bytes for a {@code count} per (key, window) group when the arrays are full.
 *
 * <h2>Threading</h2>
 * Not thread-safe. One writer owns a table; {@link Delta} guards concurrent readers with a lock
 * that the writer takes once per batch of events, not per event.
 */
final class GroupTable {

  private static final int NONE = -1;
  /** Slots past a key's first that {@link #touch} looks at for its hash. */
  private static final int TOUCH_WALK = 7;
  private static final long EMPTY = -1L; // a used slot's low word is a key id, never 0xffffffff
  /** Key info word 0: the key's length (high word) and its offset in the arena (low word). */
  private static final int PLACE = 0;
  /** Key info words 1 and 2: the key's first {@value #PREFIX_BYTES} bytes, big-endian, zero-padded. */
  private static final int PREFIX = 1;
  private static final int PREFIX_BYTES = 16;
  /**
   * Key info word 3, with windows only: how many groups the key has (high word) and its newest
   * group (low word). Without windows a key's one group has the key's id.
   */
  private static final int GROUPS = 3;
  /** Longs of key info per key: at the end of its row without windows, in {@link #keyInfo} with. */
  private static final int ROW_INFO_LONGS = 3;
  private static final int INFO_LONGS = 4;
  /**
   * Groups of a key found by walking its list; a key with more has all its groups in the group
   * index too. Its newest groups are the ones events mostly hit, and recently written, so a walk
   * from the head is cheaper than keeping every group in the index: each index insert and each probe
   * is a cache miss in a large table. Nexmark Q5 at 3 M events (auctions with tens of hopping
   * windows each) folded 1.6 M bids per CPU-second with 8 or 16 here and 3.4 M with 64, as fast as
   * walking whole lists (3.3 M).
   */
  static final int WALK = 64;
  /** Key bytes per expected key, and group-index slots, in a new table (see {@link #memoryBytes(int, int, int, boolean)}). */
  private static final int FIRST_KEY_BYTES = 16;
  private static final int FIRST_GROUP_SLOTS = 16;
  /**
   * Longs of padding before key 0's info in a windowed table's {@link #keyInfo}. A large array
   * starts a G1 region, and its elements 16 bytes (the array header) after that: 6 longs more put
   * key 0's info at the start of a 64-byte line, so every key's 32 bytes of info are within one line.
   */
  private static final int INFO_BASE = 6;
  /** Big-endian long views of the key arena, to compare keys eight bytes at a time. */
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  /** Sets a new group's state row to the aggregations' zero. */
  @FunctionalInterface
  interface RowInit {
    void zero(long[] longs, int longBase, Object[] objects, int objectBase);
  }

  private final RowInit init;
  private final boolean windowed;

  /**
   * Longs per group in {@link #longs}: a group {@code g}'s state row starts at {@code g * stride}.
   * With windows the stride is the program's {@code longWidth}; without, the key's info follows its
   * state in the same row ({@value #ROW_INFO_LONGS} longs more), so a lookup and the fold that
   * follows it read one row instead of a key info line and a state line.
   */
  final int stride;
  /** Longs of aggregation state at the start of each row (the program's {@code longWidth}). */
  private final int stateLongs;
  final int objectWidth;

  // key side
  private long[] slots;
  private int mask;
  private byte[] keyBytes;
  private int keyBytesUsed;
  /**
   * Key info ({@link #PLACE}, {@link #PREFIX}, {@link #GROUPS}; see {@link #info}): with windows its
   * own array, 32 bytes per key (two keys per cache line); without, the same array as
   * {@link #longs}, 24 bytes at the end of each key's row.
   */
  private long[] keyInfo;
  private int keyCapacity;
  private int keys;

  // group side; the group index and entries are null when !windowed
  /**
   * The groups of keys with more than {@link #WALK} groups, by {@link #groupHash} of (key id,
   * window), or {@link #NONE}; load factor at most 1/2.
   */
  private int[] groupSlots;
  private int groupMask;
  /** Groups in {@link #groupSlots}. */
  private int indexed;
  /** Two longs per group: its window, then its key id (low word) and the key's next older group (high word). */
  private long[] groupEntry;
  private int groupCapacity;
  long[] longs;
  /** How many times {@link #clear} ran: key ids stay valid until the next clear. */
  private int clears;
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
    this.stateLongs = longWidth;
    this.stride = windowed ? longWidth : longWidth + ROW_INFO_LONGS;
    this.objectWidth = objectWidth;
    int capacity = slotCapacity(expectedKeys);
    this.slots = new long[capacity];
    Arrays.fill(slots, EMPTY);
    this.mask = capacity - 1;
    int keyCap = keyCapacity(expectedKeys);
    this.keyCapacity = keyCap;
    this.keyBytes = new byte[keyCap * FIRST_KEY_BYTES];
    this.groupCapacity = keyCap;
    if (windowed) {
      this.groupSlots = new int[FIRST_GROUP_SLOTS];
      Arrays.fill(groupSlots, NONE);
      this.groupMask = FIRST_GROUP_SLOTS - 1;
      this.groupEntry = new long[keyCap * 2];
    }
    this.longs = new long[keyCap * Math.max(1, stride)];
    this.keyInfo = windowed ? new long[INFO_BASE + keyCap * INFO_LONGS] : longs;
    this.objects = objectWidth == 0 ? null : new Object[keyCap * objectWidth];
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots (checkpoints)
  // ---------------------------------------------------------------------------------------------

  /** An empty holder for {@link #snapshot}s of tables shaped like {@code shape}. */
  private GroupTable(GroupTable shape) {
    this.init = shape.init;
    this.windowed = shape.windowed;
    this.stride = shape.stride;
    this.stateLongs = shape.stateLongs;
    this.objectWidth = 0;
  }

  /** Whether {@link #snapshot} can copy this table: its state rows are plain longs. */
  boolean canSnapshot() {
    return objectWidth == 0;
  }

  /**
   * Copies what iterating the table reads — keys, groups, windows, state rows — into a new holder.
   * The copy supports {@link #keyCount}, {@link #keyBytes}, {@link #keyOffset}, {@link #keyLength},
   * {@link #firstGroupOfKey}, {@link #nextGroupOfKey}, {@link #window} and {@link #longs}, not
   * lookups. It is a few array copies of the used parts, so a checkpoint holds the writer off for
   * that long instead of for serializing every group; the copy is garbage once written. Only for
   * tables that {@link #canSnapshot()}.
   */
  GroupTable snapshot() {
    if (!canSnapshot()) {
      throw new IllegalStateException("a table with object state cannot be snapshot by copying arrays");
    }
    GroupTable s = new GroupTable(this);
    s.keyBytes = Arrays.copyOf(keyBytes, keyBytesUsed);
    s.longs = Arrays.copyOf(longs, groups * stride);
    s.keyInfo = windowed ? Arrays.copyOf(keyInfo, INFO_BASE + keys * INFO_LONGS) : s.longs;
    if (windowed) {
      s.groupEntry = Arrays.copyOf(groupEntry, groups * 2);
    }
    s.keyBytesUsed = keyBytesUsed;
    s.keys = keys;
    s.groups = groups;
    return s;
  }

  /** How many times the table was cleared; a key id cached with this value is valid while it is unchanged. */
  int clears() {
    return clears;
  }

  int keyCount() {
    return keys;
  }

  int groupCount() {
    return groups;
  }

  /** A 32-bit hash of key bytes (FNV-1a folded with a murmur finalizer); stable, used on disk. */
  static int hash(byte[] key, int len) {
    return hash(key, 0, len);
  }

  /** {@link #hash(byte[], int)} of {@code len} bytes of {@code key} from {@code off}. */
  static int hash(byte[] key, int off, int len) {
    int h = 0x811c9dc5;
    for (int i = off, end = off + len; i < end; i++) {
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

  /** Where key {@code id}'s info starts in {@link #keyInfo}. */
  private int info(int id) {
    return windowed ? INFO_BASE + id * INFO_LONGS : id * stride + stateLongs;
  }

  private int head(int at) {
    return (int) keyInfo[at + GROUPS];
  }

  private int groupsOfKey(int at) {
    return (int) (keyInfo[at + GROUPS] >>> 32);
  }

  /**
   * Loads, for each of {@code hashes[0..n)}, what a lookup of that hash will read (its first slot,
   * the slot of that hash up to {@value #TOUCH_WALK} further, then that key's info, state row and
   * bytes), one step at a time across all of them. The loads of one step do not depend on each
   * other, so the CPU overlaps their cache misses instead of waiting for one key's chain of misses
   * before starting the next key's. A hint only: a hash found in no slot of the walk (a new key, or
   * one further on) touches no key. {@code ids} is scratch of at least {@code n}.
   *
   * @return a value derived from the loads, for the caller to keep (so they are not optimized away)
   */
  long touch(int[] hashes, int[] ids, int n) {
    long sink = 0;
    long[] s = slots;
    int m = mask;
    for (int i = 0; i < n; i++) { // every first slot's line, the misses side by side
      sink += s[hashes[i] & m];
    }
    // A key whose first slot holds another key (about a third of them at load 1/2) is a slot or two
    // further on, most often in the line just loaded: walk to the slot of the same hash, as the lookup
    // will, so that its own info is touched rather than the other key's.
    for (int i = 0; i < n; i++) {
      int h = hashes[i];
      int slot = h & m;
      long e = s[slot];
      for (int walk = 0; e != EMPTY && (int) (e >>> 32) != h && walk < TOUCH_WALK; walk++) {
        slot = (slot + 1) & m;
        e = s[slot];
      }
      ids[i] = e == EMPTY || (int) (e >>> 32) != h ? NONE : (int) e;
    }
    long[] ki = keyInfo;
    long[] rows = longs;
    for (int i = 0; i < n; i++) {
      int id = ids[i];
      if (id != NONE) {
        int at = info(id);
        // The info's last word, and without windows the row's first: a row may span two cache
        // lines. The key's bytes beyond its prefix, if any, are in the arena.
        sink += ki[at + PREFIX + 1];
        if (!windowed) {
          sink += rows[id * stride];
        }
        long place = ki[at + PLACE];
        ids[i] = (int) (place >>> 32) > PREFIX_BYTES ? (int) place + PREFIX_BYTES : NONE;
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
    long[] info = keyInfo;
    int at = info(id);
    long place = info[at + PLACE];
    if ((int) (place >>> 32) != len) {
      return false;
    }
    // The prefix first, from the key info's own line, eight bytes at a time (both sides big-endian);
    // its words past the key's length are zero, and the lengths are equal.
    boolean bigEndian = key.order() == ByteOrder.BIG_ENDIAN;
    int n = Math.min(len, PREFIX_BYTES);
    for (int q = 0; q < n; q += 8) {
      long w;
      if (q + 8 <= n) {
        long x = key.getLong(off + q);
        w = bigEndian ? x : Long.reverseBytes(x);
      } else if (off + q + 8 <= key.limit()) { // the key's last bytes and what follows them, masked off
        long x = key.getLong(off + q);
        w = (bigEndian ? x : Long.reverseBytes(x)) & (-1L << ((q + 8 - n) << 3));
      } else {
        w = 0;
        for (int j = q; j < q + 8; j++) {
          w = (w << 8) | (j < n ? key.get(off + j) & 0xff : 0);
        }
      }
      if (info[at + PREFIX + (q >> 3)] != w) {
        return false;
      }
    }
    if (len <= PREFIX_BYTES) {
      return true;
    }
    // The rest from the arena, eight bytes at a time.
    byte[] kb = keyBytes;
    int k = (int) place;
    int i = PREFIX_BYTES;
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
    key.get(off, keyBytes, keyOffset(id), len);
    return afterNewKey(id);
  }

  /** The key id of {@code key}, or -1. */
  int findKey(byte[] key, int len, int hash) {
    long e = slots[probe(key, len, hash)];
    return e == EMPTY ? NONE : (int) e;
  }

  /**
   * As {@link #keyEquals(int, ByteBuffer, int, int)} for a key in an array: the prefix from the key
   * info's line, so a key of at most {@value #PREFIX_BYTES} bytes is compared without reading the
   * arena (a reader's lookups in a large table missed the cache there once more).
   */
  private boolean keyEquals(int id, byte[] key, int len) {
    long[] info = keyInfo;
    int at = info(id);
    long place = info[at + PLACE];
    if ((int) (place >>> 32) != len) {
      return false;
    }
    for (int q = 0; q < len && q < PREFIX_BYTES; q += 8) {
      if (info[at + PREFIX + (q >> 3)] != prefixWord(key, 0, len, q)) {
        return false;
      }
    }
    if (len <= PREFIX_BYTES) {
      return true;
    }
    int off = (int) place;
    return Arrays.equals(keyBytes, off + PREFIX_BYTES, off + len, key, PREFIX_BYTES, len);
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
    System.arraycopy(key, 0, keyBytes, keyOffset(id), len);
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
    int at = info(id);
    keyInfo[at + PLACE] = ((long) len << 32) | keyBytesUsed;
    if (windowed) {
      keyInfo[at + GROUPS] = NONE & 0xffffffffL; // no groups, no head
    }
    keyBytesUsed += len;
    keys++;
    slots[slot] = ((long) hash << 32) | id;
    return id;
  }

  /**
   * The prefix word at byte {@code q} of the key {@code a[off, off + len)}: its bytes
   * {@code [q, q + 8)} big-endian, zero past the key's end. One read when the array holds 8 bytes
   * from there, else a byte at a time.
   */
  private static long prefixWord(byte[] a, int off, int len, int q) {
    if (q >= len) {
      return 0;
    }
    if (off + q + 8 <= a.length) {
      long w = (long) LONGS.get(a, off + q);
      return q + 8 <= len ? w : w & (-1L << ((q + 8 - len) << 3));
    }
    long w = 0;
    for (int j = q; j < q + 8; j++) {
      w = (w << 8) | (j < len ? a[off + j] & 0xff : 0);
    }
    return w;
  }

  /** Finishes inserting key {@code id} once its bytes are in the arena: its prefix, rehash, its one group. */
  private int afterNewKey(int id) {
    int at = info(id);
    int len = keyLength(id);
    int off = keyOffset(id);
    for (int q = 0; q < PREFIX_BYTES; q += 8) {
      keyInfo[at + PREFIX + (q >> 3)] = prefixWord(keyBytes, off, len, q);
    }
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
      return window == 0L ? keyId : NONE;
    }
    int at = info(keyId);
    long[] e = groupEntry;
    int g = head(at);
    for (int i = 0; i < WALK && g != NONE; i++, g = (int) (e[(g << 1) + 1] >> 32)) {
      if (e[g << 1] == window) {
        return g;
      }
    }
    return groupsOfKey(at) <= WALK ? NONE : groupSlots[probeGroup(keyId, window)];
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
    // In-order events of a key fall into its newest window: found from the key info just read.
    int head = head(info(keyId));
    if (head != NONE && groupEntry[head << 1] == window) {
      return head;
    }
    int g = findGroup(keyId, window);
    return g != NONE ? g : newGroup(keyId, window);
  }

  /**
   * A 32-bit hash of (key id, window) for {@link #groupSlots} (a murmur3 finalizer; in memory only,
   * never on disk). Also hashes {@link EmittedWindows}' (key id, start) pairs.
   */
  static int groupHash(int keyId, long window) {
    long h = window ^ (keyId * 0x9E3779B97F4A7C15L);
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return (int) (h ^ (h >>> 33));
  }

  /** The index slot holding {@code (keyId, window)}, or the empty slot where it would go. */
  private int probeGroup(int keyId, long window) {
    int[] s = groupSlots;
    long[] e = groupEntry;
    int m = groupMask;
    int slot = groupHash(keyId, window) & m;
    while (true) {
      int g = s[slot];
      if (g == NONE || (e[g << 1] == window && (int) e[(g << 1) + 1] == keyId)) {
        return slot;
      }
      slot = (slot + 1) & m;
    }
  }

  private int newGroup(int keyId, long window) {
    int g = groups;
    if (g == groupCapacity) {
      growGroups();
    }
    if (windowed) {
      int at = info(keyId);
      int n = groupsOfKey(at) + 1;
      // A key that outgrows its walk has all its groups indexed at once, then each new one.
      int adding = n <= WALK ? 0 : n == WALK + 1 ? n : 1;
      if ((indexed + adding) * 2 > groupSlots.length) {
        int capacity = groupSlots.length;
        while ((indexed + adding) * 2 > capacity) {
          capacity *= 2;
        }
        rehashGroups(capacity);
      }
      groupEntry[g << 1] = window;
      groupEntry[(g << 1) + 1] = ((long) head(at) << 32) | (keyId & 0xffffffffL);
      keyInfo[at + GROUPS] = ((long) n << 32) | (g & 0xffffffffL);
      for (int h = g, i = 0; i < adding; i++, h = nextGroupOfKey(h)) {
        groupSlots[probeGroup(keyId, groupEntry[h << 1])] = h;
      }
      indexed += adding;
    }
    groups++;
    init.zero(longs, g * stride, objects, g * objectWidth);
    return g;
  }

  int firstGroupOfKey(int keyId) {
    return windowed ? head(info(keyId)) : keyId;
  }

  /** The group of the same key created before {@code group}, or -1. */
  int nextGroupOfKey(int group) {
    return windowed ? (int) (groupEntry[(group << 1) + 1] >> 32) : NONE;
  }

  /** How many groups key {@code keyId} has (the length of its {@link #firstGroupOfKey} list). */
  int groupCountOfKey(int keyId) {
    return windowed ? groupsOfKey(info(keyId)) : 1;
  }

  long window(int group) {
    return windowed ? groupEntry[group << 1] : 0L;
  }

  int keyOf(int group) {
    return windowed ? (int) groupEntry[(group << 1) + 1] : group;
  }

  byte[] keyBytes() {
    return keyBytes;
  }

  int keyOffset(int keyId) {
    return (int) keyInfo[info(keyId) + PLACE];
  }

  int keyLength(int keyId) {
    return (int) (keyInfo[info(keyId) + PLACE] >>> 32);
  }

  int keyHash(int keyId) {
    int off = keyOffset(keyId);
    return hash(keyBytes, off, keyLength(keyId));
  }

  byte[] keyCopy(int keyId) {
    int off = keyOffset(keyId);
    return Arrays.copyOfRange(keyBytes, off, off + keyLength(keyId));
  }

  /** Heap bytes of the group arrays per group of capacity (not the group index). */
  private long bytesPerGroup() {
    return bytesPerGroup(stateLongs, objects == null ? 0 : objectWidth, windowed);
  }

  /** Heap bytes per group of capacity: its entry with windows, its row (with the key's info without), its objects. */
  private static long bytesPerGroup(int longWidth, int objectWidth, boolean windowed) {
    int stride = windowed ? longWidth : longWidth + ROW_INFO_LONGS;
    return (windowed ? 16L : 0L) + (long) Math.max(1, stride) * 8 + (long) objectWidth * 4;
  }

  private static int slotCapacity(int expectedKeys) {
    return Integer.highestOneBit(Math.max(16, expectedKeys) * 2 - 1) << 1;
  }

  private static int keyCapacity(int expectedKeys) {
    return Math.max(16, expectedKeys);
  }

  /** Heap bytes of key info per key of capacity apart from the rows: with windows only. */
  private static int infoBytes(boolean windowed) {
    return windowed ? INFO_LONGS * 8 : 0;
  }

  /**
   * The {@link #memoryBytes()} of a new table of these dimensions: what its constructor allocates,
   * so the batch layer reserves a table's memory exactly before it creates it.
   */
  static long memoryBytes(int longWidth, int objectWidth, int expectedKeys, boolean windowed) {
    long keyCap = keyCapacity(expectedKeys);
    return slotCapacity(expectedKeys) * 8L + keyCap * FIRST_KEY_BYTES + keyCap * infoBytes(windowed)
        + keyCap * bytesPerGroup(longWidth, objectWidth, windowed) + (windowed ? FIRST_GROUP_SLOTS * 4L : 0L);
  }

  /** Approximate heap bytes held by this table. */
  long memoryBytes() {
    return (long) slots.length * 8 + keyBytes.length + (long) keyCapacity * infoBytes(windowed)
        + (long) groupCapacity * bytesPerGroup() + (windowed ? (long) groupSlots.length * 4 : 0L);
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
      b += (long) keyCapacity * infoBytes(windowed);
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
    if (windowed && (indexed + WALK + 1) * 2 > groupSlots.length) { // at most WALK + 1 groups indexed at once
      b += (long) groupSlots.length * 4;
    }
    return b;
  }

  /**
   * Forgets every key and group but keeps the arrays at their size, so a table that the batch
   * layer has spilled fills again without allocating. Drops the references to state objects.
   */
  void clear() {
    clears++;
    Arrays.fill(slots, EMPTY);
    if (windowed) {
      Arrays.fill(groupSlots, NONE);
      indexed = 0;
    }
    if (objects != null) {
      Arrays.fill(objects, 0, groups * objectWidth, null);
    }
    keys = 0;
    groups = 0;
    keyBytesUsed = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Changed keys (for the changes feed)
  // ---------------------------------------------------------------------------------------------

  /**
   * One bit per key id: the keys that the speed layer folded an event into since the changes feed
   * last drained them, with an event that may have changed a window the feed considers closed
   * ({@link #markChanged}); null when the table does not track changes. Kept apart from the key and
   * group arrays (and grown here, not with them), so the fold pays one bit-set per event and
   * nothing else.
   */
  private long[] changed;
  /**
   * The same for keys whose folds only created groups of windows still open when they were folded
   * ({@link #markOpened}): a pass needs their windows' ends, not a read (see {@code ChangeFeed}).
   */
  private long[] opened;

  /** Starts tracking changed keys (a windowed Delta's table; see {@link PartitionDelta}). */
  void trackChanges() {
    if (windowed && changed == null) {
      changed = new long[Math.max(1, (keyCapacity + 63) >>> 6)];
      opened = new long[changed.length];
    }
  }

  /**
   * Notes that an event was folded into a group of key {@code keyId} that may belong to a window
   * already closed for the changes feed; a no-op unless tracking.
   */
  void markChanged(int keyId) {
    if (changed != null) {
      changed = withBit(changed, keyId);
    }
  }

  /**
   * Notes that an event created a group of key {@code keyId} whose windows all end after the
   * changes feed's close line as the fold read it; a no-op unless tracking.
   */
  void markOpened(int keyId) {
    if (opened != null) {
      opened = withBit(opened, keyId);
    }
  }

  /** Sets bit {@code id} of {@code bits}, grown first when it is too short; returns the set. */
  private static long[] withBit(long[] bits, int id) {
    int w = id >>> 6;
    long[] b = w < bits.length ? bits : Arrays.copyOf(bits, Math.max(w + 1, bits.length * 2));
    b[w] |= 1L << id;
    return b;
  }

  /** Receives a key id from {@link #drainChanged}. */
  interface MarkSink {
    /** {@code changed}: marked by {@link #markChanged}; else only by {@link #markOpened}. */
    void accept(int keyId, boolean changed);
  }

  /**
   * Passes the id of every key marked since the last drain to {@code to} and clears the marks;
   * returns how many. The caller holds the owning Delta's write lock.
   */
  int drainChanged(MarkSink to) {
    long[] c = changed;
    if (c == null) {
      return 0;
    }
    long[] o = opened;
    int n = 0;
    for (int w = 0, words = Math.max(c.length, o.length); w < words; w++) {
      long ch = w < c.length ? c[w] : 0;
      long op = w < o.length ? o[w] : 0;
      long bits = ch | op;
      if (bits != 0) {
        if (w < c.length) {
          c[w] = 0;
        }
        if (w < o.length) {
          o[w] = 0;
        }
        while (bits != 0) {
          long low = bits & -bits;
          to.accept((w << 6) + Long.numberOfTrailingZeros(bits), (ch & low) != 0);
          bits ^= low;
          n++;
        }
      }
    }
    return n;
  }

  private void growKeys() {
    int capacity = keyCapacity * 2;
    if (windowed) {
      keyInfo = Arrays.copyOf(keyInfo, INFO_BASE + capacity * INFO_LONGS);
    } else { // the info is in the rows: a key's one group grows with it
      resizeGroups(capacity);
    }
    keyCapacity = capacity;
  }

  /** Key and group capacities past which {@link #reserve} does not go (a table grows by doubling beyond). */
  static final int MAX_RESERVED = 1 << 26;

  /**
   * Grows the arrays at once to hold {@code wantKeys} keys and, with windows, {@code wantGroups}
   * groups, and the key arena to as many keys of the mean length so far; a no-op where the table has
   * that room already, so it never shrinks. Growing by doubling copies each array about once more
   * and allocates about twice its last size on the way (fresh memory the VM must fault in); a writer
   * that can tell how large its table will get ({@link GrowthProjection}) asks for it once instead.
   * Without windows a key's one group grows with it ({@code wantGroups} is ignored).
   *
   * <p>The room is a guess, so it is not worth failing for: a reservation that would take more than
   * half of the heap not in use, or that the heap cannot give (an {@link OutOfMemoryError} while
   * allocating), is skipped, and the table grows by doubling as before. The new arrays are all
   * allocated before any replaces its old one, so a skipped reservation leaves the table as it was.
   * Returns whether the table now has the room.
   */
  boolean reserve(int wantKeys, int wantGroups) {
    // rows of the widest array must stay addressable by an int (longs: stride per group; entries: 2)
    int limit = Math.min(MAX_RESERVED, (Integer.MAX_VALUE - 16) / Math.max(Math.max(2, stride), objectWidth));
    int k = Math.max(keyCapacity, Math.min(wantKeys, limit));
    int g = windowed ? Math.max(groupCapacity, Math.min(wantGroups, limit)) : k;
    int slotCap = Math.max(slots.length, slotCapacity(k));
    long arena = keys == 0 ? keyBytes.length
        : Math.max(keyBytes.length, Math.min(Integer.MAX_VALUE - 8, (keyBytesUsed + keys - 1L) / keys * k));
    if (k == keyCapacity && g == groupCapacity) {
      return true;
    }
    long bytes = (slotCap > slots.length ? slotCap * 8L : 0) + (arena > keyBytes.length ? arena : 0)
        + (long) k * infoBytes(windowed) + (g > groupCapacity ? (long) g * bytesPerGroup() : 0);
    Runtime rt = Runtime.getRuntime();
    if (bytes > (rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) / 2) {
      return false;
    }
    long[] newSlots;
    byte[] newArena;
    long[] newInfo;
    long[][] groupArrays;
    Object[] newObjects;
    try {
      newSlots = slotCap > slots.length ? rehashed(slotCap) : slots;
      newArena = arena > keyBytes.length ? Arrays.copyOf(keyBytes, (int) arena) : keyBytes;
      newInfo = windowed && k > keyCapacity ? Arrays.copyOf(keyInfo, INFO_BASE + k * INFO_LONGS) : keyInfo;
      groupArrays = g > groupCapacity ? grownGroupArrays(g) : null;
      newObjects = g > groupCapacity && objects != null ? Arrays.copyOf(objects, g * objectWidth) : objects;
    } catch (OutOfMemoryError e) { // nothing replaced yet: the table grows by doubling instead
      return false;
    }
    slots = newSlots;
    mask = newSlots.length - 1;
    keyBytes = newArena;
    keyInfo = newInfo;
    keyCapacity = k;
    if (groupArrays != null) {
      setGroupArrays(g, groupArrays, newObjects);
    }
    return true;
  }

  int keyCapacity() {
    return keyCapacity;
  }

  int groupCapacity() {
    return groupCapacity;
  }

  private void growGroups() {
    resizeGroups(groupCapacity * 2);
  }

  private void resizeGroups(int n) {
    long[][] arrays = grownGroupArrays(n);
    setGroupArrays(n, arrays, objects == null ? null : Arrays.copyOf(objects, n * objectWidth));
  }

  /** Copies of {@link #groupEntry} (null without windows) and {@link #longs} for {@code n} groups. */
  private long[][] grownGroupArrays(int n) {
    long[] entries = windowed ? Arrays.copyOf(groupEntry, n * 2) : null;
    return new long[][] {entries, Arrays.copyOf(longs, n * Math.max(1, stride))};
  }

  /** Puts the group arrays of {@link #grownGroupArrays} in place, all at once once all are allocated. */
  private void setGroupArrays(int n, long[][] arrays, Object[] newObjects) {
    if (windowed) {
      groupEntry = arrays[0];
    }
    longs = arrays[1];
    if (!windowed) {
      keyInfo = longs;
    }
    objects = newObjects;
    groupCapacity = n;
  }

  private void rehash() {
    rehash(slots.length * 2);
  }

  private void rehash(int capacity) {
    slots = rehashed(capacity);
    mask = capacity - 1;
  }

  /** The key slots rehashed into a new array of {@code capacity}; the table is not changed. */
  private long[] rehashed(int capacity) {
    long[] old = slots;
    long[] bigger = new long[capacity];
    Arrays.fill(bigger, EMPTY);
    int m = bigger.length - 1;
    for (long e : old) { // a used slot holds its key's hash and id: no key is read
      if (e != EMPTY) {
        int slot = (int) (e >>> 32) & m;
        while (bigger[slot] != EMPTY) {
          slot = (slot + 1) & m;
        }
        bigger[slot] = e;
      }
    }
    return bigger;
  }

  /** Moves the group index to {@code capacity} slots: its groups are rehashed from their entries. */
  private void rehashGroups(int capacity) {
    int[] bigger = new int[capacity];
    Arrays.fill(bigger, NONE);
    int m = capacity - 1;
    long[] e = groupEntry;
    for (int g : groupSlots) { // the indexed groups only, not every group of the table
      if (g != NONE) {
        int slot = groupHash((int) e[(g << 1) + 1], e[g << 1]) & m;
        while (bigger[slot] != NONE) {
          slot = (slot + 1) & m;
        }
        bigger[slot] = g;
      }
    }
    groupSlots = bigger;
    groupMask = m;
  }
}
