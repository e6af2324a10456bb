package dev.braid.ingest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The ids one stream appended within its dedup window: id -> (partition, offset, ingest time).
 * {@link Ingestor} asks it which events of a request are new before appending them, so a retried
 * request or a re-sent event is acknowledged with its original position instead of being appended
 * twice.
 *
 * <h2>Design</h2>
 *
 * <p><b>The log is the truth.</b> Ids are stored in the log records themselves (see
 * {@link dev.braid.log.RecordBatchDescriptor#FLAG_IDS}); this index is only a cache of them, filled
 * as events are appended and rebuilt from the log when the engine opens. So dedup state is exactly
 * as durable as the events: an event the log kept after a crash is found again, one the crash tore
 * off is appended again on retry.
 *
 * <p><b>Keys.</b> An id is kept as the first 128 bits of its SHA-256 (of its UTF-8 bytes), not as a
 * string: two different ids are taken for one only if those 128 bits collide, about {@code n^2 /
 * 2^129} for {@code n} ids (1e-25 for 5 M), and a cryptographic hash keeps a client from crafting
 * such collisions to suppress someone else's events.
 *
 * <p><b>Memory.</b> Entries live in open-addressing tables of four longs per slot (hash high,
 * hash low, partition and offset packed, ingest time): 32 bytes per slot, at a load factor between
 * 3/8 and 3/4, so 43-85 bytes per entry (54 B/id measured for 5 M ids by {@code braid bench ingest}; see
 * docs/PERFORMANCE.md). Ids older than the
 * window stay until their whole generation expires, up to a quarter window more.
 *
 * <p><b>Eviction by generation.</b> The window is cut into four spans by ingest time; each span's
 * ids go to their own table, and a table is dropped whole when its newest possible entry is older
 * than the window: amortized O(1), no tombstones. A lookup probes the (at most five) live tables,
 * newest first, and ignores an entry older than the window, so the horizon is exact to the
 * millisecond.
 *
 * <p><b>Concurrency.</b> Two requests carrying the same new id must not both append it. A request
 * {@link #claim claims} all its ids at once: ids already appended come back with their positions;
 * new ones are reserved for it, and a request that meets an id reserved by another waits (holding no
 * reservation of its own, so no two requests wait on each other) until that one {@link #commit
 * commits} or {@link #release releases} it. Every method synchronizes on the index; the lock guards
 * the tables and the reservations, and is held for a few lookups per event, never during an append.
 */
final class DedupIndex {

  /** {@link #claim} result: the id was reserved for the caller, who must append the event. */
  static final long NEW = -1;
  private static final int GENERATIONS = 4;
  private static final int PARTITION_BITS = 12; // StreamSpec allows up to 4096 partitions

  private final long windowMillis;
  private final long spanMillis;
  /** Oldest first. */
  private final ArrayDeque<Table> tables = new ArrayDeque<>();
  /** Ids reserved by requests that are appending them, with the request that holds each. */
  private final Map<Key, Object> pending = new HashMap<>();

  /** An id's 128-bit key. */
  record Key(long hi, long lo) {}

  DedupIndex(java.time.Duration window) {
    this.windowMillis = window.toMillis();
    this.spanMillis = Math.max(1, windowMillis / GENERATIONS);
  }

  long windowMillis() {
    return windowMillis;
  }

  /** Entries held (including ones past the window whose generation is not dropped yet). */
  synchronized long size() {
    long n = 0;
    for (Table t : tables) {
      n += t.size;
    }
    return n;
  }

  /** Bytes the tables hold. */
  synchronized long memoryBytes() {
    long n = 0;
    for (Table t : tables) {
      n += 16L + 8L * t.slots.length;
    }
    return n;
  }

  static long pack(int partition, long offset) {
    return offset << PARTITION_BITS | partition;
  }

  static int partition(long packed) {
    return (int) (packed & ((1 << PARTITION_BITS) - 1));
  }

  static long offset(long packed) {
    return packed >>> PARTITION_BITS;
  }

  // ---------------------------------------------------------------------------------------------
  // Claims
  // ---------------------------------------------------------------------------------------------

  /**
   * For each of the {@code n} distinct ids {@code (hi[i], lo[i])}: sets {@code out[i]} to the packed
   * position ({@link #pack}) of the id's event when it was appended at or after {@code now - window},
   * else reserves the id for {@code owner} and sets {@code out[i] = NEW}. Waits while another owner
   * holds one of the ids. The caller must {@link #commit} or {@link #release} every id reserved.
   */
  synchronized void claim(long[] hi, long[] lo, int n, long now, Object owner, long[] out)
      throws InterruptedException {
    outer:
    while (true) {
      for (int i = 0; i < n; i++) {
        Object holder = pending.get(new Key(hi[i], lo[i]));
        if (holder != null && holder != owner) {
          wait();
          continue outer;
        }
      }
      break;
    }
    long horizon = now - windowMillis;
    touched += touch(hi, n, horizon);
    for (int i = 0; i < n; i++) {
      long found = find(hi[i], lo[i], horizon);
      if (found >= 0) {
        out[i] = found;
      } else {
        out[i] = NEW;
        pending.put(new Key(hi[i], lo[i]), owner);
      }
    }
  }

  /**
   * The packed position of the id's event when it was appended at or after {@code now - window},
   * else {@link #NEW}; reserves nothing (a retry's rejected event, checked against what its key's
   * first request stored: see {@code Ingestor.storedDifferently}).
   */
  synchronized long lookup(long hi, long lo, long now) {
    long found = find(hi, lo, now - windowMillis);
    return found >= 0 ? found : NEW;
  }

  /** Keeps {@link #touch}'s loads from being optimized away. */
  private long touched;

  /**
   * Loads the first slot of each id of {@code hi[0, n)} in each live table, all ids of one table
   * before the next: a lookup of a new id misses the cache in every table (a million ids are tens of
   * MB of slots), and these loads do not wait for each other, so their misses overlap instead of
   * coming one lookup at a time. A hint: it changes no state.
   */
  private long touch(long[] hi, int n, long horizon) {
    long sink = 0;
    for (Iterator<Table> it = tables.descendingIterator(); it.hasNext(); ) {
      Table t = it.next();
      if (t.generation * spanMillis + spanMillis <= horizon) {
        break;
      }
      long[] slots = t.slots;
      int mask = t.mask;
      for (int i = 0; i < n; i++) {
        sink += slots[(Table.index(hi[i]) & mask) * 4 + 1];
      }
    }
    return sink;
  }

  /**
   * {@link #commit} of ids {@code hi/lo[0, n)} appended to {@code partition} at {@code offset[0, n)},
   * under one lock, waking waiting claims once.
   */
  synchronized void commitAll(long[] hi, long[] lo, long[] offset, int n, int partition, long ingestTime,
      Object owner) {
    for (int i = 0; i < n; i++) {
      pending.remove(new Key(hi[i], lo[i]), owner);
      put(hi[i], lo[i], partition, offset[i], ingestTime);
    }
    notifyAll();
  }

  /** Records that the reserved id was appended at {@code (partition, offset)}; wakes waiting claims. */
  synchronized void commit(long hi, long lo, int partition, long offset, long ingestTime, Object owner) {
    pending.remove(new Key(hi, lo), owner);
    put(hi, lo, partition, offset, ingestTime);
    notifyAll();
  }

  /** Drops the reservation of an id that was not appended (the append failed). */
  synchronized void release(long hi, long lo, Object owner) {
    pending.remove(new Key(hi, lo), owner);
    notifyAll();
  }

  /** Adds an id read from the log (rebuild) or appended; a newer entry for the same id wins. */
  synchronized void put(long hi, long lo, int partition, long offset, long ingestTime) {
    if ((long) partition >>> PARTITION_BITS != 0 || offset >>> (64 - PARTITION_BITS) != 0) {
      throw new IllegalArgumentException("position p" + partition + "@" + offset + " does not fit a dedup entry");
    }
    evictBefore(ingestTime - windowMillis);
    long generation = Math.floorDiv(ingestTime, spanMillis);
    table(generation).put(hi, lo | 1, pack(partition, offset), ingestTime);
  }

  /** The packed position of the newest entry for the id with ingest time at or after {@code horizon}, or -1. */
  private long find(long hi, long lo, long horizon) {
    long key = lo | 1;
    for (Iterator<Table> it = tables.descendingIterator(); it.hasNext(); ) {
      Table t = it.next();
      if (t.generation * spanMillis + spanMillis <= horizon) {
        break; // this one and older ones hold nothing inside the window
      }
      int s = t.find(hi, key);
      if (s >= 0 && t.slots[s + 3] >= horizon) {
        return t.slots[s + 2];
      }
    }
    return -1;
  }

  /** The table of {@code generation}, created (in generation order) when missing. */
  private Table table(long generation) {
    Table newest = tables.peekLast();
    if (newest == null || newest.generation < generation) {
      Table t = new Table(generation, newest == null ? 1024 : Math.max(1024, newest.size));
      tables.addLast(t);
      return t;
    }
    for (Iterator<Table> it = tables.descendingIterator(); it.hasNext(); ) {
      Table t = it.next();
      if (t.generation == generation) {
        return t;
      }
      if (t.generation < generation) {
        break;
      }
    }
    // An older generation than the newest but missing (e.g. a rebuild reads partitions one after
    // another): insert it in order. Rare, so a linear rebuild of the deque is fine.
    Table created = new Table(generation, 1024);
    ArrayDeque<Table> ordered = new ArrayDeque<>(tables.size() + 1);
    boolean added = false;
    for (Table t : tables) {
      if (!added && t.generation > generation) {
        ordered.addLast(created);
        added = true;
      }
      ordered.addLast(t);
    }
    tables.clear();
    tables.addAll(ordered);
    return created;
  }

  /** Drops the tables whose every entry is older than {@code horizon}. */
  private void evictBefore(long horizon) {
    while (!tables.isEmpty() && tables.peekFirst().generation * spanMillis + spanMillis <= horizon) {
      tables.pollFirst();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Hashing
  // ---------------------------------------------------------------------------------------------

  /** Hashes ids to their 128-bit keys; one per thread (holds a MessageDigest). */
  static final class Hasher {
    private final MessageDigest sha;
    private final byte[] digest = new byte[32];
    long hi;
    long lo;

    Hasher() {
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java runtime has SHA-256", e);
      }
    }

    /** Hashes {@code id[off, off + len)} into {@link #hi} and {@link #lo}. */
    void hash(byte[] id, int off, int len) {
      sha.update(id, off, len);
      try {
        sha.digest(digest, 0, 32);
      } catch (java.security.DigestException e) {
        throw new IllegalStateException(e);
      }
      hi = longAt(0);
      lo = longAt(8);
    }

    void hash(String id) {
      byte[] b = id.getBytes(StandardCharsets.UTF_8);
      hash(b, 0, b.length);
    }

    private long longAt(int i) {
      long v = 0;
      for (int k = 0; k < 8; k++) {
        v = v << 8 | (digest[i + k] & 0xFF);
      }
      return v;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One generation's table
  // ---------------------------------------------------------------------------------------------

  /** Linear probing over slots of four longs: hi, lo (never 0, so 0 marks a free slot), packed position, ingest time. */
  private static final class Table {
    final long generation;
    long[] slots;
    int mask;
    int size;

    Table(long generation, int expected) {
      this.generation = generation;
      int cap = Integer.highestOneBit((int) Math.min(1 << 29, Math.max(16, expected * 4L / 3))) << 1;
      slots = new long[cap * 4];
      mask = cap - 1;
    }

    int find(long hi, long lo) {
      int i = index(hi, lo);
      while (true) {
        int s = i * 4;
        long l = slots[s + 1];
        if (l == 0) {
          return -1;
        }
        if (l == lo && slots[s] == hi) {
          return s;
        }
        i = (i + 1) & mask;
      }
    }

    void put(long hi, long lo, long packed, long ingestTime) {
      int s = find(hi, lo);
      if (s >= 0) {
        if (ingestTime >= slots[s + 3]) {
          slots[s + 2] = packed;
          slots[s + 3] = ingestTime;
        }
        return;
      }
      if ((size + 1) * 4L > (mask + 1) * 3L) {
        grow();
      }
      insert(hi, lo, packed, ingestTime);
      size++;
    }

    private void insert(long hi, long lo, long packed, long ingestTime) {
      int i = index(hi, lo);
      while (slots[i * 4 + 1] != 0) {
        i = (i + 1) & mask;
      }
      int s = i * 4;
      slots[s] = hi;
      slots[s + 1] = lo;
      slots[s + 2] = packed;
      slots[s + 3] = ingestTime;
    }

    private int index(long hi, long lo) {
      return index(hi) & mask;
    }

    /** The slot of a key with high word {@code hi} before the mask. */
    static int index(long hi) {
      return (int) (hi ^ (hi >>> 32));
    }

    private void grow() {
      long[] old = slots;
      slots = new long[old.length * 2];
      mask = slots.length / 4 - 1;
      for (int s = 0; s < old.length; s += 4) {
        if (old[s + 1] != 0) {
          insert(old[s], old[s + 1], old[s + 2], old[s + 3]);
        }
      }
    }
  }
}
