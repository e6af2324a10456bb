package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.stream.LongStream;
import java.util.zip.CRC32C;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Crc32cCombine} against {@link CRC32C} over the whole: random data, random split points. */
class Crc32cCombineTest {

  static LongStream seeds() {
    return LongStream.range(0, 40);
  }

  private static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldGiveTheCrcOfTheConcatenation(long seed) {
    Random rnd = new Random(seed);
    int length = rnd.nextInt(4) == 0 ? rnd.nextInt(16) : rnd.nextInt(1 << 20);
    byte[] data = new byte[length];
    rnd.nextBytes(data);
    int split = length == 0 ? 0 : rnd.nextInt(length + 1); // 0 and length included: empty halves
    int whole = crc(data, 0, length);

    int combined = Crc32cCombine.combine(crc(data, 0, split), crc(data, split, length - split), length - split);

    assertThat(combined).as("seed %d: %d bytes split at %d", seed, length, split).isEqualTo(whole);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldCombineThreePiecesInOrder(long seed) {
    Random rnd = new Random(seed);
    byte[] data = new byte[1000 + rnd.nextInt(100_000)];
    rnd.nextBytes(data);
    int a = rnd.nextInt(data.length);
    int b = a + rnd.nextInt(data.length - a + 1);
    int ab = Crc32cCombine.combine(crc(data, 0, a), crc(data, a, b - a), b - a);

    int abc = Crc32cCombine.combine(ab, crc(data, b, data.length - b), data.length - b);

    assertThat(abc).as("seed %d: %d bytes split at %d and %d", seed, data.length, a, b)
        .isEqualTo(crc(data, 0, data.length));
  }
}
