package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A snapshot (what a checkpoint serializes after releasing the writer) iterates exactly like the
 * table it copied, and later changes to the table do not reach it.
 */
class GroupTableSnapshotTest {

  static LongStream seeds() {
    return LongStream.range(0, 40);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldIterateLikeTheTableAndStayUnchangedAfterIt(long seed) {
    Random rnd = new Random(seed);
    boolean windowed = rnd.nextBoolean();
    int width = 1 + rnd.nextInt(3);
    GroupTable t = new GroupTable(width, 0, 1 + rnd.nextInt(64), (l, lb, o, ob) -> { }, windowed);
    int n = rnd.nextInt(3000);
    for (int i = 0; i < n; i++) {
      byte[] key = ("k" + rnd.nextInt(500) + "-".repeat(rnd.nextInt(30))).getBytes(StandardCharsets.UTF_8);
      int id = t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
      int g = t.findOrInsertGroup(id, windowed ? rnd.nextInt(5) * 60_000L : 0);
      t.longs[g * t.stride + rnd.nextInt(width)] += rnd.nextInt(1000);
    }
    List<String> before = contents(t);
    GroupTable s = t.snapshot();
    assertThat(contents(s)).as("seed %d: the snapshot iterates like the table", seed).isEqualTo(before);
    for (int i = 0; i < 200; i++) { // the writer goes on
      byte[] key = ("new" + i).getBytes(StandardCharsets.UTF_8);
      int g = t.findOrInsertGroup(t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length)), 0);
      t.longs[g * t.stride] = 7;
      if (t.groupCount() > 0) {
        t.longs[0]++;
      }
    }
    assertThat(contents(s)).as("seed %d: the snapshot does not change with the table", seed).isEqualTo(before);
  }

  private static List<String> contents(GroupTable t) {
    List<String> out = new ArrayList<>();
    for (int k = 0; k < t.keyCount(); k++) {
      String key = new String(t.keyBytes(), t.keyOffset(k), t.keyLength(k), StandardCharsets.UTF_8);
      for (int g = t.firstGroupOfKey(k); g >= 0; g = t.nextGroupOfKey(g)) {
        StringBuilder row = new StringBuilder(key).append('@').append(t.window(g));
        for (int i = 0; i < t.stride; i++) {
          row.append(',').append(t.longs[g * t.stride + i]);
        }
        out.add(row.toString());
      }
    }
    return out;
  }
}
