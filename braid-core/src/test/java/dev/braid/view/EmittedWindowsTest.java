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
 * {@code HashMap<(key, start), {id, hash}>} over seeded random puts, overwrites (corrections),
 * evictions below a horizon and growth.
 */
class EmittedWindowsTest {

  static LongStream seeds() {
    return LongStream.range(0, 30);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldRememberEveryEmittedWindowAsAHashMapWould(long seed) {
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
      } else if (op < 60) {
        long[] v = {rnd.nextLong(), rnd.nextLong()};
        w.put(key, start, v[0], v[1]);
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
    }
    model.forEach((k, v) -> {
      int e = w.find(w.keyId((String) k.get(0)), (Long) k.get(1));
      assertThat(e).as("seed %d: %s at the end", seed, k).isGreaterThanOrEqualTo(0);
      assertThat(new long[] {w.id(e), w.hash(e)}).as("seed %d: %s at the end", seed, k).containsExactly(v);
    });
  }
}
