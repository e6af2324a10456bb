package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What the changes feed remembers per emitted (key, window start) behaves as a
 * {@code HashMap<(key, start), {id, hash}>} over seeded random puts, a pass's adds (indexed late)
 * and updates, overwrites (corrections), evictions below a horizon and growth.
 */
class EmittedWindowsTest {

  static LongStream seeds() {
    return LongStream.range(0, 30);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldRememberEveryEmittedWindowAsAHashMapWould(long seed) {
    // and counts per key the windows not retracted, across puts, updates and evictions
    Random rnd = new Random(seed);
    EmittedWindows w = new EmittedWindows();
    Map<List<Object>, long[]> model = new HashMap<>();
    int keys = 1 + rnd.nextInt(300);
    for (int step = 0, n = 5_000 + rnd.nextInt(20_000); step < n; step++) {
      String at = "seed " + seed + ", step " + step;
      String key = "k" + rnd.nextInt(keys);
      long start = 2_000L * (rnd.nextInt(4_000) - 100);
      int op = rnd.nextInt(100);
      if (op == 0) {
        long horizon = 2_000L * rnd.nextInt(2_000);
        w.removeBelow(horizon);
        model.keySet().removeIf(k -> (Long) k.get(1) < horizon);
      } else if (op < 30) {
        long[] v = {rnd.nextLong(), rnd.nextInt(4) == 0 ? EmittedWindows.RETRACTED : rnd.nextLong()};
        w.put(key, start, v[0], v[1]);
        model.put(List.of(key, start), v);
      } else if (op < 60) { // as a changes-feed pass: a key never emitted adds without a find
        long[] v = {rnd.nextLong(), rnd.nextInt(4) == 0 ? EmittedWindows.RETRACTED : rnd.nextLong()};
        int k = w.keyId(key);
        int e = k < 0 ? -1 : w.find(k, start);
        if (e >= 0) {
          w.update(e, v[0], v[1]);
        } else {
          w.add(w.intern(key), start, v[0], v[1]);
        }
        model.put(List.of(key, start), v);
      } else {
        long[] want = model.get(List.of(key, start));
        int e = w.find(w.keyId(key), start);
        assertThat(e >= 0).as("%s: (%s, %d) remembered", at, key, start).isEqualTo(want != null);
        if (want != null) {
          assertThat(new long[] {w.id(e), w.hash(e)}).as("%s: (%s, %d)", at, key, start).containsExactly(want);
        }
      }
      assertThat(w.size()).as(at).isEqualTo(model.size());
      if (op == 1 || step == n - 1) {
        Map<Object, Integer> live = new HashMap<>();
        model.forEach((k, v) -> live.merge(k.get(0), v[1] == EmittedWindows.RETRACTED ? 0 : 1, Integer::sum));
        for (int i = 0; i < keys; i++) {
          assertThat(w.live(w.keyId("k" + i))).as("%s: windows of k%d not retracted", at, i)
              .isEqualTo(live.getOrDefault("k" + i, 0));
        }
      }
    }
    model.forEach((k, v) -> {
      int e = w.find(w.keyId((String) k.get(0)), (Long) k.get(1));
      assertThat(e).as("seed %d: %s at the end", seed, k).isGreaterThanOrEqualTo(0);
      assertThat(new long[] {w.id(e), w.hash(e)}).as("seed %d: %s at the end", seed, k).containsExactly(v);
    });
  }

  /**
   * The interned keys behave as a map from key to the order it was first interned in, across
   * growth, keys whose {@code String} hashes are equal ("Aa" and "BB" make 2^n such keys), unknown
   * keys and a clear.
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldInternKeysAsALinkedHashMapWould(long seed) {
    Random rnd = new Random(seed);
    EmittedWindows.KeyIds ids = new EmittedWindows.KeyIds();
    Map<String, Integer> model = new java.util.LinkedHashMap<>();
    for (int round = 0; round < 2; round++) {
      int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 40 : 50_000);
      for (int i = 0; i < n; i++) {
        String key = rnd.nextInt(3) == 0 ? collidingKey(rnd.nextInt(1 << 10)) : "k" + rnd.nextInt(2 * n);
        String at = "seed " + seed + ", round " + round + ", step " + i + ", key " + key;
        Integer want = model.get(key);
        if (rnd.nextBoolean()) {
          assertThat(ids.find(key)).as(at).isEqualTo(want == null ? -1 : want);
        } else {
          int id = ids.intern(key);
          model.putIfAbsent(key, model.size());
          assertThat(id).as(at).isEqualTo(model.get(key));
        }
        assertThat(ids.size()).as(at).isEqualTo(model.size());
      }
      model.forEach((key, id) -> {
        assertThat(ids.find(key)).as("seed %d: %s", seed, key).isEqualTo(id);
        assertThat(ids.key(id)).as("seed %d: key %d", seed, id).isEqualTo(key);
      });
      ids.clear();
      model.clear();
      assertThat(ids.find("k1")).as("seed %d: after clear", seed).isEqualTo(-1);
    }
  }

  /**
   * {@code writeTo} stages its output a block at a time; its bytes are those of writing each field
   * through {@link java.io.DataOutputStream} (the layout {@link EmittedSnapshot} documents), across
   * block boundaries, with a key longer than a block, and read back they give the same windows.
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldWriteTheSnapshotLayoutFieldByField(long seed) throws Exception {
    Random rnd = new Random(seed);
    EmittedWindows w = new EmittedWindows();
    List<String> keys = new java.util.ArrayList<>();
    int n = rnd.nextInt(3) == 0 ? rnd.nextInt(3) : 1 + rnd.nextInt(5_000);
    for (int i = 0; i < n; i++) {
      String key = i == n / 2 && seed % 3 == 0 ? "long-" + "x".repeat(70_000 + rnd.nextInt(200_000))
          : rnd.nextInt(5) == 0 ? "k\u00e9" + i : "k" + i;
      keys.add(key);
      for (int j = 0, windows = 1 + rnd.nextInt(3); j < windows; j++) {
        w.put(key, 60_000L * j, rnd.nextLong(), rnd.nextLong());
      }
    }
    java.io.ByteArrayOutputStream staged = new java.io.ByteArrayOutputStream();
    java.io.DataOutputStream out = new java.io.DataOutputStream(staged);
    w.writeTo(out);
    out.flush();
    java.io.ByteArrayOutputStream fieldByField = new java.io.ByteArrayOutputStream();
    java.io.DataOutputStream ref = new java.io.DataOutputStream(fieldByField);
    ref.writeInt(keys.size());
    for (String key : keys) { // interned in this order: ids 0, 1, ...
      byte[] b = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      ref.writeInt(b.length);
      ref.write(b);
    }
    ref.writeInt(w.size());
    for (int e = 0; e < w.size(); e++) {
      ref.writeInt(w.keyOf(e));
      ref.writeLong(w.start(e));
      ref.writeLong(w.id(e));
      ref.writeLong(w.hash(e));
    }
    ref.flush();
    assertThat(staged.toByteArray()).as("seed %d: %d keys, %d windows", seed, keys.size(), w.size())
        .isEqualTo(fieldByField.toByteArray());
    EmittedWindows back = new EmittedWindows();
    back.readFrom(new java.io.DataInputStream(new java.io.ByteArrayInputStream(staged.toByteArray())), staged.size());
    assertThat(back.size()).isEqualTo(w.size());
    for (int e = 0; e < w.size(); e++) {
      int b = back.find(back.keyId(keys.get(w.keyOf(e))), w.start(e));
      assertThat(new long[] {back.id(b), back.hash(b)}).as("seed %d, entry %d", seed, e)
          .containsExactly(w.id(e), w.hash(e));
    }
  }

  /** The {@code bits}-th of 1024 keys of ten two-letter blocks, each "Aa" or "BB": all have the same {@code hashCode}. */
  private static String collidingKey(int bits) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      b.append((bits >>> i & 1) == 0 ? "Aa" : "BB");
    }
    return b.toString();
  }

  /**
   * Two (key, start) pairs whose 32-bit hashes are equal (found by a birthday search over interned
   * key ids and starts) share a hash in the index and are still told apart by their key and start.
   */
  @org.junit.jupiter.api.Test
  void shouldTellApartWindowsWhoseHashesCollide() {
    EmittedWindows w = new EmittedWindows();
    int keys = 1000;
    for (int k = 0; k < keys; k++) {
      w.put("c" + k, -1L, k, k); // interns "c<k>" as key id k
    }
    Map<Integer, long[]> seen = new HashMap<>();
    long[] a = null;
    long[] b = null;
    for (int k = 0; k < keys && b == null; k++) {
      for (long start = 0; start < 400_000L && b == null; start += 1000) {
        long[] pair = {k, start};
        long[] other = seen.putIfAbsent(GroupTable.groupHash(k, start), pair);
        if (other != null) {
          a = other;
          b = pair;
        }
      }
    }
    assertThat(b).as("a pair of colliding hashes among 400,000 pairs").isNotNull();
    String keyA = "c" + a[0];
    String keyB = "c" + b[0];
    w.put(keyA, a[1], 7, 70);
    assertThat(w.find(w.keyId(keyB), b[1])).as("%s at %d, not emitted, shares the hash of %s at %d", keyB, b[1],
        keyA, a[1]).isEqualTo(-1);
    w.put(keyB, b[1], 8, 80);
    int ea = w.find(w.keyId(keyA), a[1]);
    int eb = w.find(w.keyId(keyB), b[1]);
    assertThat(ea).isNotEqualTo(eb);
    assertThat(new long[] {w.id(ea), w.hash(ea), w.id(eb), w.hash(eb)}).containsExactly(7, 70, 8, 80);
    assertThat(w.size()).isEqualTo(keys + 2);
  }

  /**
   * A first pass adds a window for each of thousands of new keys with no find between (so none is
   * indexed yet), and retention then evicts some: the eviction indexes the rest, however many more
   * than the index had room for (it used to keep the index's size and probe forever for a free slot).
   */
  @org.junit.jupiter.api.Test
  void shouldEvictAfterManyAddsThatNoFindIndexed() {
    EmittedWindows w = new EmittedWindows();
    for (int k = 0; k < 10_000; k++) {
      w.add(w.intern("k" + k), (k % 10) * 1_000L, k, k);
    }
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
        () -> w.removeBelow(5_000));
    assertThat(w.size()).isEqualTo(5_000);
    for (int k = 0; k < 10_000; k++) {
      int e = w.find(w.keyId("k" + k), (k % 10) * 1_000L);
      assertThat(e >= 0).as("k%d at %d", k, (k % 10) * 1_000).isEqualTo(k % 10 >= 5);
      if (e >= 0) {
        assertThat(w.id(e)).isEqualTo(k);
      }
    }
  }
}
