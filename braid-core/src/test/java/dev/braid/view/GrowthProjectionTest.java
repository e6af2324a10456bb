package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link GrowthProjection} over real {@link GroupTable}s fed as a writer replaying a log feeds them:
 * an observation after every {@link SpeedLayer#FOLD_BATCH} records. Each case draws its keys with a
 * seeded {@link Random} (the seed is in the test's name and every message), and checks how large the
 * table ends against the count it holds and against what doubling alone gives.
 */
class GrowthProjectionTest {

  private static final int EVENTS = 2_000_000;

  /** What one replay did to its table. */
  private record Replay(int keys, int groups, int keyCapacity, int groupCapacity, int reservations,
      int doublingsAfterFirstReservation) {}

  /**
   * Replays {@code events} records whose key (and window) {@code draw} gives for each position into a
   * new table of 4,096 keys, observing after every fold batch with the log ending at {@code end}.
   */
  private static Replay replay(boolean windowed, long events, long end, LongUnaryOperator draw) {
    GroupTable t = new GroupTable(2, 0, 1 << 12, (l, lb, o, ob) -> { }, windowed);
    GrowthProjection p = new GrowthProjection();
    int reservations = 0;
    int doublings = 0;
    int capacityBefore = t.groupCapacity();
    for (long pos = 0; pos < events; pos++) {
      long d = draw.applyAsLong(pos);
      byte[] key = ("key-" + (windowed ? d >>> 8 : d)).getBytes(StandardCharsets.UTF_8);
      int id = t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
      t.findOrInsertGroup(id, windowed ? d & 0xff : 0L);
      if (t.groupCapacity() != capacityBefore && reservations > 0) {
        doublings++;
      }
      if ((pos + 1) % SpeedLayer.FOLD_BATCH == 0 && p.observe(t, pos + 1, end)) {
        reservations++;
      }
      capacityBefore = t.groupCapacity();
    }
    return new Replay(t.keyCount(), t.groupCount(), t.keyCapacity(), t.groupCapacity(), reservations, doublings);
  }

  /** The capacity doubling alone reaches for {@code n} entries from 4,096. */
  private static int doubled(int n) {
    int c = 1 << 12;
    while (c < n) {
      c *= 2;
    }
    return c;
  }

  /**
   * Keys that keep coming, as Nexmark's auctions do: every record a new key with a fixed chance
   * (windowed: a new (key, window) group, two windows per key). The table reserves once, after a
   * quarter of the replay, close above the final count, and never doubles after it.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5, 6})
  void shouldReserveWhatKeysThatKeepComingEndAt(long seed) {
    Random rnd = new Random(seed);
    boolean windowed = seed % 2 == 0;
    double chance = 0.02 + rnd.nextDouble() * 0.2;
    long[] next = {0};
    Replay r = replay(windowed, EVENTS, EVENTS, pos -> {
      if (rnd.nextDouble() < chance) {
        next[0]++;
      }
      long k = Math.max(0, next[0] - rnd.nextInt(50)); // mostly the newest keys, as bids go to new auctions
      return windowed ? (k << 8) | (k & 1) : k;
    });
    String what = String.format("seed %d (windowed %s, new-key chance %.3f): %s", seed, windowed, chance, r);
    assertThat(r.reservations()).as(what).isBetween(1, 2);
    assertThat(r.doublingsAfterFirstReservation()).as(what).isZero();
    assertThat(r.groupCapacity()).as(what).isGreaterThanOrEqualTo(r.groups())
        .isLessThanOrEqualTo((int) (r.groups() * 1.2));
    assertThat(r.keyCapacity()).as(what).isLessThanOrEqualTo((int) (r.keys() * 1.2) + (1 << 12));
  }

  /**
   * A fixed population of keys drawn uniformly: new keys thin out geometrically, which the projection
   * models, so it reserves no more than about what the table ends with, and never more than doubling
   * would have.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {11, 12, 13, 14, 15, 16})
  void shouldNotOverReserveForAFixedPopulationOfKeys(long seed) {
    Random rnd = new Random(seed);
    int population = 20_000 + rnd.nextInt(500_000);
    Replay r = replay(false, EVENTS, EVENTS, pos -> rnd.nextInt(population));
    String what = String.format("seed %d (%d keys drawn uniformly): %s", seed, population, r);
    assertThat(r.keyCapacity()).as(what).isGreaterThanOrEqualTo(r.keys())
        .isLessThanOrEqualTo(Math.max(doubled(r.keys()), (int) (r.keys() * 1.2)));
  }

  /**
   * A Zipf-like population (key = population^u for uniform u: a heavy tail of rare keys), whose new
   * keys thin out more slowly than geometrically: projected too low, never too high.
   */
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {21, 22, 23})
  void shouldNotOverReserveForAHeavyTail(long seed) {
    Random rnd = new Random(seed);
    double population = 1e6 + rnd.nextInt(4_000_000);
    Replay r = replay(false, EVENTS, EVENTS, pos -> (long) Math.pow(population, rnd.nextDouble()));
    String what = String.format("seed %d (heavy tail over %.0f keys): %s", seed, population, r);
    assertThat(r.keyCapacity()).as(what).isGreaterThanOrEqualTo(r.keys())
        .isLessThanOrEqualTo(Math.max(doubled(r.keys()), (int) (r.keys() * 1.2)));
  }

  /**
   * A burst of new keys after a quiet segment is projected to go on to the end, far above the
   * capacity: one reservation takes at most {@value GrowthProjection#MAX_STEP} times the capacity.
   * A first segment of old keys only, then 520 k new keys in the second (the table doubles to 2^19),
   * with six segments left: projected 3.6 M, reserved 4 x 2^19.
   */
  @Test
  void shouldBoundWhatABurstOfNewKeysReserves() {
    long segment = 2_000_000;
    int burst = 520_000;
    Replay r = replay(false, 2 * segment + 4 * SpeedLayer.FOLD_BATCH, 8 * segment, pos -> pos < segment ? pos % 1000
        : pos < 2 * segment ? 1000 + (pos - segment) * burst / segment : 0);
    assertThat(r.keys()).isEqualTo(1000 + burst);
    assertThat(r.reservations()).as("%s", r).isEqualTo(1);
    assertThat(r.keyCapacity()).as("%s", r).isEqualTo(GrowthProjection.MAX_STEP * (1 << 19));
  }

  /**
   * A Delta caught up over a short stretch (a compacted copy, a batch cycle's new version) then
   * folds live, in lockstep with the others, however far the log runs ahead of it: a live windowed
   * Delta moves its closed windows out of memory, so the backlog says nothing about its size, and
   * nothing past the stretch is projected. New keys on every record, with the log 20 M offsets ahead
   * after a catch-up of 100 k: nothing is reserved.
   */
  @Test
  void shouldNotProjectALiveBacklogPastTheStretch() {
    GroupTable t = new GroupTable(2, 0, 16, (l, lb, o, ob) -> { }, false);
    GrowthProjection p = new GrowthProjection();
    for (int pos = 0; pos < 1_000_000; pos++) {
      byte[] key = ("key-" + pos).getBytes(StandardCharsets.UTF_8);
      t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
      if ((pos + 1) % SpeedLayer.FOLD_BATCH == 0) {
        long end = pos < 100_000 ? 100_000 : pos + 20_000_000L;
        assertThat(p.observe(t, pos + 1, end)).as("observation at %d", pos + 1).isFalse();
      }
    }
    assertThat(t.keyCapacity()).isEqualTo(doubled(1_000_000));
  }

  /** The live speed layer folds at the log's end: nothing is left to project, so nothing is reserved. */
  @Test
  void shouldNotReserveAtTheLogsEnd() {
    GroupTable t = new GroupTable(2, 0, 16, (l, lb, o, ob) -> { }, false);
    GrowthProjection p = new GrowthProjection();
    for (int pos = 0; pos < 1_000_000; pos++) {
      byte[] key = ("key-" + pos).getBytes(StandardCharsets.UTF_8); // every record a new key
      t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
      if ((pos + 1) % SpeedLayer.FOLD_BATCH == 0) {
        assertThat(p.observe(t, pos + 1, pos + 1)).as("observation at %d", pos + 1).isFalse();
      }
    }
    assertThat(t.keyCapacity()).isEqualTo(doubled(1_000_000));
  }

  /**
   * A table emptied (a clear) is measured afresh, not compared with what it held: its rate before
   * the clear is no guide to its rate after. A new key per record up to a clear after the first
   * segment, then two per record: compared across the clear, the segment after it would project a
   * falling rate and reserve; measured afresh, no two segments end after it, so nothing is reserved.
   */
  @Test
  void shouldStartOverOnAClearedTable() {
    GroupTable t = new GroupTable(2, 0, 16, (l, lb, o, ob) -> { }, false);
    GrowthProjection p = new GrowthProjection();
    long end = 4_000_000; // segments of 500 k offsets
    for (int pos = 0; pos < 1_200_000; pos++) {
      if (pos == 600_000) {
        t.clear();
      }
      for (int i = 0; i < (pos < 600_000 ? 1 : 2); i++) {
        byte[] key = ("key-" + pos + "-" + i).getBytes(StandardCharsets.UTF_8);
        t.findOrInsertKey(key, key.length, GroupTable.hash(key, key.length));
      }
      if ((pos + 1) % SpeedLayer.FOLD_BATCH == 0) {
        assertThat(p.observe(t, pos + 1, end)).as("observation at %d", pos + 1).isFalse();
      }
    }
    assertThat(t.keyCount()).isEqualTo(1_200_000);
  }

  /** The projection's arithmetic: linear while the rate holds, a geometric tail when it falls. */
  @Test
  void shouldProjectLinearlyOrGeometrically() {
    GrowthProjection p = new GrowthProjection();
    GroupTable t = new GroupTable(2, 0, 16, (l, lb, o, ob) -> { }, false);
    p.observe(t, 0, 8_000_000); // segments of 1 M offsets
    assertThat(p.projected(1000, 0.01, 0.01, 6)).isEqualTo(1000 + 60_000);
    assertThat(p.projected(1000, 0.01, 0.005, 6)).isEqualTo(1000 + 60_000); // a rate that grew is held
    assertThat(p.projected(1000, 0.01, 0.02, 3)).isEqualTo(1000 + 5_000 + 2_500 + 1_250);
    assertThat(p.projected(1000, 0, 0.02, 3)).isEqualTo(1000);
    assertThat(p.projected(1000, 0.01, 0.02, 0)).isEqualTo(1000);
  }
}
