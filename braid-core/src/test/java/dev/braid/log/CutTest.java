package dev.braid.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Pins {@link Cut}: the partial order, containment, max, and the printed form. */
class CutTest {

  @Test
  void shouldOrderCutsPartitionByPartition() {
    Cut a = Cut.of(1, 5, 3);

    assertThat(a.compare(Cut.of(1, 5, 3))).isEqualTo(Cut.Order.EQUAL);
    assertThat(a.compare(Cut.of(2, 5, 3))).isEqualTo(Cut.Order.BEFORE);
    assertThat(a.compare(Cut.of(0, 5, 3))).isEqualTo(Cut.Order.AFTER);
    assertThat(a.compare(Cut.of(2, 4, 3))).isEqualTo(Cut.Order.CONCURRENT);
    assertThat(a.isAtOrAfter(Cut.of(1, 5, 3))).isTrue();
    assertThat(a.isAtOrAfter(Cut.of(0, 5, 0))).isTrue();
    assertThat(a.isAtOrAfter(Cut.of(2, 4, 3))).isFalse();
    assertThat(a.isAtOrAfter(Cut.of(1, 6, 3))).isFalse();
  }

  @Test
  void shouldCountTheOffsetsBetweenTwoCutsWhereTheLaterIsAhead() {
    assertThat(Cut.of(10, 4, 7).offsetsAfter(Cut.of(3, 4, 9))).as("7 + 0 + none where behind").isEqualTo(7);
    assertThat(Cut.of(3, 4).offsetsAfter(Cut.of(3, 4))).isZero();
    assertThat(Cut.of(0, 0).offsetsAfter(Cut.of(5, 6))).isZero();
  }

  @Test
  void shouldContainExactlyTheOffsetsBelowIt() {
    Cut c = Cut.of(0, 10);

    assertThat(c.contains(0, 0)).isFalse();
    assertThat(c.contains(1, 0)).isTrue();
    assertThat(c.contains(1, 9)).isTrue();
    assertThat(c.contains(1, 10)).isFalse();
    assertThat(Cut.zero(3).contains(2, 0)).isFalse();
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {3, 5, 8, 13})
  void shouldTakeThePartitionWiseMaxAsTheLeastUpperBound(long seed) {
    Random random = new Random(seed);
    for (int i = 0; i < 200; i++) {
      int n = 1 + random.nextInt(6);
      Cut a = randomCut(random, n);
      Cut b = randomCut(random, n);

      Cut max = a.max(b);

      assertThat(max.isAtOrAfter(a)).as("seed %d: %s max %s", seed, a, b).isTrue();
      assertThat(max.isAtOrAfter(b)).as("seed %d: %s max %s", seed, a, b).isTrue();
      assertThat(b.max(a)).as("seed %d", seed).isEqualTo(max);
      assertThat(a.max(a)).as("seed %d", seed).isEqualTo(a);
      for (int p = 0; p < n; p++) {
        assertThat(max.offset(p)).as("seed %d", seed).isIn(a.offset(p), b.offset(p));
      }
      Cut min = a.min(b);
      assertThat(a.isAtOrAfter(min) && b.isAtOrAfter(min)).as("seed %d: %s min %s", seed, a, b).isTrue();
      assertThat(b.min(a)).as("seed %d", seed).isEqualTo(min);
      for (int p = 0; p < n; p++) {
        assertThat(min.offset(p) + max.offset(p)).as("seed %d", seed).isEqualTo(a.offset(p) + b.offset(p));
      }
      Cut.Order ab = a.compare(b);
      Cut.Order ba = b.compare(a);
      assertThat(ba).as("seed %d: %s vs %s", seed, a, b).isEqualTo(switch (ab) {
        case BEFORE -> Cut.Order.AFTER;
        case AFTER -> Cut.Order.BEFORE;
        default -> ab;
      });
      assertThat(ab == Cut.Order.EQUAL).as("seed %d", seed).isEqualTo(a.equals(b));
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {21, 34})
  void shouldParseWhatItPrints(long seed) {
    Random random = new Random(seed);
    for (int i = 0; i < 200; i++) {
      Cut c = randomCut(random, 1 + random.nextInt(10));

      assertThat(Cut.parse(c.toString())).as("seed %d: %s", seed, c).isEqualTo(c);
      assertThat(Cut.parse(c.toString()).hashCode()).isEqualTo(c.hashCode());
    }
    assertThat(Cut.of(12, 40, 0, 7)).hasToString("[12, 40, 0, 7]");
    assertThat(Cut.parse("  [12,40 , 0,7] ")).isEqualTo(Cut.of(12, 40, 0, 7));
  }

  @Test
  void shouldRefuseMalformedCutsWithAPreciseMessage() {
    assertThatThrownBy(() -> Cut.parse("12, 40")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[12, 40, 0, 7]").hasMessageContaining("12, 40");
    assertThatThrownBy(() -> Cut.parse("[1, x, 3]")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("partition 1").hasMessageContaining("'x'");
    assertThatThrownBy(() -> Cut.parse("[1, -2]")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("partition 1 is negative: -2");
    assertThatThrownBy(() -> Cut.of()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least one partition");
    assertThatThrownBy(() -> Cut.of(1).compare(Cut.of(1, 2))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1 vs 2");
    assertThatThrownBy(() -> Cut.of(1).max(Cut.of(1, 2))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Cut.of(5, 5).offsetsAfter(Cut.of(1))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("2 vs 1");
    assertThatThrownBy(() -> Cut.of(5).offsetsAfter(Cut.of(1, 1))).as("a longer cut's extra partitions are not skipped")
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 vs 2");
    assertThatThrownBy(() -> Cut.zero(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void shouldStayImmutable() {
    long[] offsets = {1, 2};
    Cut c = Cut.of(offsets);
    offsets[0] = 99;
    c.toArray()[1] = 99;

    assertThat(c).isEqualTo(Cut.of(1, 2));
    assertThat(c.with(0, 7)).isEqualTo(Cut.of(7, 2));
    assertThat(c).isEqualTo(Cut.of(1, 2));
    assertThat(c.partitions()).isEqualTo(2);
  }

  private static Cut randomCut(Random random, int partitions) {
    long[] offsets = new long[partitions];
    for (int p = 0; p < partitions; p++) {
      offsets[p] = random.nextInt(4) == 0 ? 0 : random.nextInt(5);
    }
    return Cut.of(offsets);
  }
}
