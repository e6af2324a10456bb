package dev.braid.agg;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.FieldType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code avg} of a long field is the exact mean rounded once to the nearest double, also when the
 * sum needs more than 53 bits or more than 64 (it was the sum rounded to a double, then divided:
 * one ulp off), over seeded random values of every size.
 */
class LongAvgRoundingTest {

  static LongStream seeds() {
    return LongStream.range(0, 200);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldRoundTheExactMeanOnce(long seed) {
    Random rnd = new Random(seed);
    Aggregation avg = Aggregations.create(Aggregations.parse("avg(v)"), FieldType.LONG);
    AccumulatorState s = AccumulatorState.standalone(avg);
    AggInput in = new AggInput();
    int n = 1 + rnd.nextInt(3000);
    int bits = 1 + rnd.nextInt(63); // small values, values near 2^53, values near 2^63
    BigInteger sum = BigInteger.ZERO;
    for (int i = 0; i < n; i++) {
      long v = rnd.nextLong() >> (63 - bits);
      sum = sum.add(BigInteger.valueOf(v));
      avg.add(s, in.setLong(FieldType.LONG, v));
    }
    double expected = new BigDecimal(sum).divide(BigDecimal.valueOf(n), new MathContext(60)).doubleValue();
    assertThat(avg.result(s)).as("seed %d: %d values of %d bits, sum %s", seed, n, bits, sum).isEqualTo(expected);
  }
}
