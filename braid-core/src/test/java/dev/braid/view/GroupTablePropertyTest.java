package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.testing.Soak;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A {@link GroupTable} behaves as a {@code HashMap<(key, window), row>} over seeded random
 * operations: lookups and inserts through both key paths, many and out-of-order windows per key
 * (one hot key gets thousands), rows updated in place, {@link GroupTable#clear}, the spill and
 * eviction copy that {@code ViewRuntime.rebuild} makes (groups below a horizon dropped, closed ones
 * moved to another table, from the table or from its {@link GroupTable#snapshot}), growth from
 * a tiny initial size, and growth in one step to a reserved size ({@link GroupTable#reserve}).
 * Checks lookups of present and absent groups, group ids that never move, each key's list of groups
 * against the model, and the counts.
 */
class GroupTablePropertyTest {

  /** The batch layer reserves a table's memory before creating it: the estimate is what the table then holds. */
  @Test
  void shouldKnowTheMemoryOfANewTableBeforeCreatingIt() {
    for (boolean windowed : new boolean[] {false, true}) {
      for (int keys : new int[] {0, 1, 15, 16, 17, 100, 4096, 5000}) {
        for (int[] width : new int[][] {{0, 0}, {1, 0}, {7, 0}, {2, 3}}) {
          GroupTable t = new GroupTable(width[0], width[1], keys, (l, lb, o, ob) -> { }, windowed);
          assertThat(GroupTable.memoryBytes(width[0], width[1], keys, windowed))
              .as("windowed %s, %d keys, widths %s", windowed, keys, Arrays.toString(width))
              .isEqualTo(t.memoryBytes());
        }
      }
    }
  }


  private static final int WIDTH = 2;
  /** What a new row holds: the last slot is set by the table's init, so a stale row after clear shows. */
  private static final long ZERO_MARK = 42;

  static Stream<Arguments> seeds() {
    return LongStream.range(0, Soak.seeds(60)).boxed().flatMap(s -> Stream.of(Arguments.of(s, true), Arguments.of(s, false)));
  }

  /** The naive model: key -> window -> row, plus the group id the table gave each (key, window). */
  private static final class Model {
    final Map<String, Map<Long, long[]>> rows = new HashMap<>();
    final Map<String, Map<Long, Integer>> ids = new HashMap<>();

    int groups() {
      return rows.values().stream().mapToInt(Map::size).sum();
    }

    void clear() {
      rows.clear();
      ids.clear();
    }
  }

  @ParameterizedTest(name = "seed {0}, windowed {1}")
  @MethodSource("seeds")
  void shouldBehaveAsAHashMapOfKeyAndWindowToRow(long seed, boolean windowed) {
    Random rnd = new Random(seed);
    String ctx = "seed " + seed + ", windowed " + windowed;
    GroupTable t = newTable(windowed, 1 + rnd.nextInt(40));
    Model m = new Model();
    int keyPool = 1 + rnd.nextInt(rnd.nextBoolean() ? 20 : 400);
    int steps = 2_000 + rnd.nextInt(12_000);
    for (int step = 0; step < steps; step++) {
      String at = ctx + ", step " + step;
      int op = rnd.nextInt(1000);
      if (op < 2) {
        t.clear();
        m.clear();
      } else if (op < 6) {
        t = spill(t, m, rnd, windowed, at);
      } else if (op < 10) {
        reserve(t, rnd, windowed, at);
      } else if (op < 60) {
        checkAbsent(t, m, rnd, windowed, keyPool, at);
      } else {
        String key = key(rnd, keyPool);
        long window = windowed ? window(rnd, key) : 0L;
        int id = insertKey(t, key, rnd.nextInt(3), rnd);
        Integer known = m.ids.getOrDefault(key, Map.of()).get(window);
        int g = rnd.nextInt(4) == 0 && known != null ? t.findGroup(id, window) : t.findOrInsertGroup(id, window);
        if (known != null) {
          assertThat(g).as("%s: group of (%s, %d) keeps its id", at, key, window).isEqualTo(known);
        } else {
          assertThat(g).as("%s: a new group takes the next id", at).isEqualTo(m.groups());
          long[] zero = new long[WIDTH];
          zero[WIDTH - 1] = ZERO_MARK;
          m.rows.computeIfAbsent(key, k -> new HashMap<>()).put(window, zero);
          m.ids.computeIfAbsent(key, k -> new HashMap<>()).put(window, g);
        }
        long[] row = m.rows.get(key).get(window);
        assertThat(Arrays.copyOfRange(t.longs, g * t.stride, g * t.stride + WIDTH)).as("%s: row of (%s, %d)", at, key,
            window).containsExactly(row);
        int slot = rnd.nextInt(WIDTH);
        long add = rnd.nextInt(1000);
        t.longs[g * t.stride + slot] += add;
        row[slot] += add;
        assertThat(t.memoryBytesAfterInsert(16)).as(at).isGreaterThanOrEqualTo(t.memoryBytes());
      }
      if (step % 997 == 0) {
        checkAll(t, m, at, true);
      }
    }
    checkAll(t, m, ctx + ", at the end", true);
    checkAll(t.snapshot(), m, ctx + ", its snapshot", false);
  }

  /**
   * {@link GroupTable#reserve} of a random room, at times less than the table has: afterwards it
   * has at least that room (and never less than before), and the model checks that every key, group
   * and row stayed where it was.
   */
  private static void reserve(GroupTable t, Random rnd, boolean windowed, String at) {
    int keyCap = t.keyCapacity();
    int groupCap = t.groupCapacity();
    long bytes = t.memoryBytes();
    int wantKeys = t.keyCount() + rnd.nextInt(3 * keyCap + 1);
    int wantGroups = t.groupCount() + rnd.nextInt(3 * groupCap + 1);
    assertThat(t.reserve(wantKeys, wantGroups)).as("%s: reserve(%d, %d) with the heap to spare", at, wantKeys,
        wantGroups).isTrue();
    String what = String.format("%s: reserve(%d, %d) of capacities %d / %d", at, wantKeys, wantGroups, keyCap, groupCap);
    assertThat(t.keyCapacity()).as(what).isEqualTo(Math.max(keyCap, wantKeys));
    assertThat(t.groupCapacity()).as(what).isEqualTo(windowed ? Math.max(groupCap, wantGroups) : t.keyCapacity());
    assertThat(t.memoryBytes()).as(what).isGreaterThanOrEqualTo(bytes);
    if (wantKeys <= keyCap && (!windowed || wantGroups <= groupCap)) {
      assertThat(t.memoryBytes()).as(what + ": room it had already allocates nothing").isEqualTo(bytes);
    }
  }

  /**
   * A reservation that the heap cannot give (a table of wide rows asking for 2^26 groups, tens of
   * gigabytes) is skipped and leaves the table as it was; one it can give keeps the state objects of
   * a table that has them, beside its rows.
   */
  @Test
  void shouldSkipAReservationTheHeapCannotGiveAndKeepObjectState() {
    for (boolean windowed : new boolean[] {false, true}) {
      GroupTable t = new GroupTable(64, 2, 16, (l, lb, o, ob) -> o[ob] = "zero", windowed);
      for (int i = 0; i < 1_000; i++) {
        byte[] key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
        int g = t.findOrInsertGroup(t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length)),
            windowed ? i % 3 : 0L);
        t.longs[g * t.stride] = i;
        t.objects[g * t.objectWidth + 1] = "object of " + i;
      }
      long bytes = t.memoryBytes();
      int keyCap = t.keyCapacity();
      int groupCap = t.groupCapacity();
      assertThat(t.reserve(GroupTable.MAX_RESERVED, GroupTable.MAX_RESERVED)).as("windowed %s", windowed).isFalse();
      assertThat(t.memoryBytes()).isEqualTo(bytes);
      assertThat(t.keyCapacity()).isEqualTo(keyCap);
      assertThat(t.groupCapacity()).isEqualTo(groupCap);

      assertThat(t.reserve(5_000, 7_000)).as("windowed %s", windowed).isTrue();
      assertThat(t.keyCapacity()).isEqualTo(5_000);
      assertThat(t.groupCapacity()).isEqualTo(windowed ? 7_000 : 5_000);
      for (int i = 0; i < 1_000; i++) {
        byte[] key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
        int id = t.findKey(key, key.length, GroupTable.hash(key, key.length));
        int g = t.findGroup(id, windowed ? i % 3 : 0L);
        assertThat(t.longs[g * t.stride]).as("windowed %s, row of key %d", windowed, i).isEqualTo(i);
        assertThat(t.objects[g * t.objectWidth]).isEqualTo("zero");
        assertThat(t.objects[g * t.objectWidth + 1]).isEqualTo("object of " + i);
      }
    }
  }

  private static GroupTable newTable(boolean windowed, int expectedKeys) {
    return new GroupTable(WIDTH, 0, expectedKeys, (l, lb, o, ob) -> {
      for (int i = 0; i < WIDTH; i++) {
        l[lb + i] = i == WIDTH - 1 ? ZERO_MARK : 0;
      }
    }, windowed);
  }

  /**
   * Two pairs of keys with equal hashes, so that lookups get past the hash to the key comparison:
   * short keys that the key info's prefix tells apart, and long keys with equal prefixes that only
   * the arena's bytes tell apart.
   */
  private static final String[] COLLIDING = Stream.of(collidingPair("c"),
      collidingPair("keys-that-differ-past-the-prefix-only-")).flatMap(Arrays::stream).toArray(String[]::new);

  /**
   * The first two keys {@code prefix + i}, i of 7 digits so that their lengths are equal, whose
   * {@link GroupTable#hash(byte[], int)} are equal.
   */
  private static String[] collidingPair(String prefix) {
    Map<Integer, Integer> seen = new HashMap<>();
    for (int i = 1_000_000; ; i++) {
      byte[] b = (prefix + i).getBytes(StandardCharsets.UTF_8);
      Integer earlier = seen.putIfAbsent(GroupTable.hash(b, b.length), i);
      if (earlier != null) {
        return new String[] {prefix + earlier, prefix + i};
      }
    }
  }

  /**
   * Mostly a pool key, some longer than the 16-byte prefix, some of the colliding pairs; one hot key
   * ({@code "all"}, as a view grouped by a constant has) often.
   */
  private static String key(Random rnd, int pool) {
    if (rnd.nextInt(4) == 0) {
      return "all";
    }
    String k = "k" + rnd.nextInt(pool);
    return switch (rnd.nextInt(16)) {
      case 0, 1 -> k + "-a-key-longer-than-its-16-byte-prefix";
      case 2 -> "keys-that-differ-past-the-prefix-only-" + k;
      case 3 -> COLLIDING[rnd.nextInt(COLLIDING.length)];
      default -> k;
    };
  }

  /**
   * Tumbling-like starts of 10 s, in random order: the hot key's span thousands of windows, other
   * keys' a few or about twice {@link GroupTable#WALK}; sometimes negative and extreme starts.
   */
  private static long window(Random rnd, String key) {
    int r = rnd.nextInt(100);
    if (r == 0) {
      return rnd.nextBoolean() ? Long.MIN_VALUE + rnd.nextInt(3) : Long.MAX_VALUE - rnd.nextInt(3);
    }
    if (r < 3) {
      return -10_000L * rnd.nextInt(50);
    }
    // about GroupTable.WALK windows for some keys, so many keys cross into the group index
    int span = key.equals("all") ? 5_000 : key.length() % 2 == 0 ? 8 : 2 * GroupTable.WALK;
    return 10_000L * rnd.nextInt(span);
  }

  /**
   * Path 0: the key's bytes, alone or followed by random ones; 1 and 2: a slice of a record buffer
   * (the fold's path), big- or little-endian, with 0 to 9 random bytes after the key, as a record's fields follow its key: a
   * comparison that reads past the key must ignore them, and one near the buffer's end must not read
   * past it.
   */
  private static int insertKey(GroupTable t, String key, int path, Random rnd) {
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    int hash = GroupTable.hash(b, b.length);
    if (path == 0) { // an array of the key's length, or a larger scratch array with bytes after it
      byte[] a = b;
      if (rnd.nextBoolean()) {
        a = new byte[b.length + 1 + rnd.nextInt(12)];
        rnd.nextBytes(a);
        System.arraycopy(b, 0, a, 0, b.length);
      }
      return t.findOrInsertKey(a, b.length, hash);
    }
    byte[] record = new byte[3 + b.length + rnd.nextInt(10)];
    rnd.nextBytes(record);
    ByteBuffer buf = ByteBuffer.wrap(record).order(path == 1 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
    buf.put(3, b);
    return t.findOrInsertKey(buf, 3, b.length, hash);
  }

  /** Lookups of groups and keys the model does not have find nothing. */
  private static void checkAbsent(GroupTable t, Model m, Random rnd, boolean windowed, int pool, String at) {
    String key = key(rnd, pool * 2);
    byte[] b = key.getBytes(StandardCharsets.UTF_8);
    int id = t.findKey(b, b.length, GroupTable.hash(b, b.length));
    // every key interned has a group: the copy interns a key with its first group
    assertThat(id >= 0).as("%s: key %s is found", at, key).isEqualTo(m.rows.containsKey(key));
    if (id < 0) {
      return;
    }
    long window = windowed ? window(rnd, key) + (rnd.nextBoolean() ? 1 : 0) : 0L;
    Integer want = m.ids.get(key).get(window);
    assertThat(t.findGroup(id, window)).as("%s: group of (%s, %d)", at, key, window)
        .isEqualTo(want == null ? -1 : want);
  }

  /**
   * The copy that {@code ViewRuntime.copyGroups} makes: groups below a horizon are dropped, those
   * below a closed end go to a table of their own (checked against the model, then dropped as a
   * run would hold them), the rest into a fresh table that replaces {@code t}.
   */
  private static GroupTable spill(GroupTable t, Model m, Random rnd, boolean windowed, String at) {
    GroupTable from = rnd.nextBoolean() ? t.snapshot() : t;
    long horizon = windowed ? 10_000L * (rnd.nextInt(200) - 20) : Long.MIN_VALUE;
    long closedBelow = windowed ? horizon + 10_000L * rnd.nextInt(2_000) : Long.MIN_VALUE;
    GroupTable open = newTable(windowed, 1 + rnd.nextInt(40));
    GroupTable closed = newTable(windowed, 16);
    Model openModel = new Model();
    Model closedModel = new Model();
    for (int k = 0; k < from.keyCount(); k++) {
      String key = new String(from.keyBytes(), from.keyOffset(k), from.keyLength(k), StandardCharsets.UTF_8);
      List<Integer> groups = new ArrayList<>();
      for (int g = from.firstGroupOfKey(k); g >= 0; g = from.nextGroupOfKey(g)) {
        groups.add(g);
      }
      for (int g : groups) {
        long w = from.window(g);
        if (w < horizon) {
          continue;
        }
        boolean isClosed = w < closedBelow;
        GroupTable into = isClosed ? closed : open;
        Model intoModel = isClosed ? closedModel : openModel;
        int c = into.findOrInsertGroup(insertKey(into, key, rnd.nextInt(3), rnd), w);
        for (int j = 0; j < WIDTH; j++) {
          into.longs[c * into.stride + j] = from.longs[g * from.stride + j];
        }
        intoModel.rows.computeIfAbsent(key, x -> new HashMap<>()).put(w, m.rows.get(key).get(w).clone());
        intoModel.ids.computeIfAbsent(key, x -> new HashMap<>()).put(w, c);
      }
    }
    checkAll(closed, closedModel, at + ", closed groups spilled", true);
    m.rows.clear();
    m.rows.putAll(openModel.rows);
    m.ids.clear();
    m.ids.putAll(openModel.ids);
    return open;
  }

  /**
   * Every group of the model has its row, and each key's list holds exactly its windows; with
   * {@code lookups} (not for a snapshot, which supports iteration only) each group is found by lookup.
   */
  private static void checkAll(GroupTable t, Model m, String at, boolean lookups) {
    assertThat(t.groupCount()).as("%s: groups", at).isEqualTo(m.groups());
    Set<String> seen = new HashSet<>();
    for (int k = 0; k < t.keyCount(); k++) {
      String key = new String(t.keyBytes(), t.keyOffset(k), t.keyLength(k), StandardCharsets.UTF_8);
      assertThat(seen.add(key)).as("%s: key %s interned once", at, key).isTrue();
      Map<Long, Integer> want = m.ids.getOrDefault(key, Map.of());
      Map<Long, Integer> got = new HashMap<>();
      int n = 0;
      for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
        assertThat(got.put(t.window(g), g)).as("%s: key %s lists window %d once", at, key, t.window(g)).isNull();
        assertThat(t.keyOf(g)).as("%s: key of group %d", at, g).isEqualTo(k);
        n++;
      }
      assertThat(got).as("%s: groups of key %s", at, key).isEqualTo(want);
      assertThat(t.groupCountOfKey(k)).as("%s: group count of key %s", at, key).isEqualTo(n);
      if (lookups) {
        for (Map.Entry<Long, Integer> e : want.entrySet()) {
          assertThat(t.findGroup(k, e.getKey())).as("%s: lookup of (%s, %d)", at, key, e.getKey())
              .isEqualTo(e.getValue());
        }
      }
      for (Map.Entry<Long, Integer> e : want.entrySet()) {
        int g = e.getValue();
        assertThat(Arrays.copyOfRange(t.longs, g * t.stride, g * t.stride + WIDTH)).as("%s: row of (%s, %d)", at, key,
            e.getKey()).containsExactly(m.rows.get(key).get(e.getKey()));
      }
    }
    assertThat(seen).as("%s: keys with groups", at).containsAll(m.rows.keySet());
  }
}
