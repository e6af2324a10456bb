package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BatchLayer#sameBytes} against {@link Arrays#equals} over seeded random slices: every length
 * from 0 to 40 (whole words, a masked last word, and the byte-wise tail near either end), both byte
 * orders, heap and direct buffers, random bytes after each slice, and pairs that differ in one byte
 * anywhere (the last byte of a masked word included).
 */
class SameBytesTest {

  static LongStream seeds() {
    return LongStream.range(0, 40);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldAgreeWithArraysEquals(long seed) {
    Random rnd = new Random(seed);
    for (int round = 0; round < 400; round++) {
      int len = rnd.nextInt(41);
      byte[] key = new byte[len];
      rnd.nextBytes(key);
      // the buffer's slice: at an offset, then 0 to 9 random bytes (the masked load may or may not fit)
      int off = rnd.nextInt(5);
      int after = rnd.nextInt(10);
      int size = off + len + after;
      ByteBuffer b = rnd.nextBoolean() ? ByteBuffer.allocate(size) : ByteBuffer.allocateDirect(size);
      b.order(rnd.nextBoolean() ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < b.capacity(); i++) {
        b.put(i, (byte) rnd.nextInt());
      }
      for (int i = 0; i < len; i++) {
        b.put(off + i, key[i]);
      }
      // the array's slice: the same bytes, or the same but one, at an offset, random bytes after
      byte[] other = key.clone();
      boolean differ = len > 0 && rnd.nextBoolean();
      if (differ) {
        int at = rnd.nextBoolean() ? len - 1 : rnd.nextInt(len);
        other[at] ^= (byte) (1 + rnd.nextInt(255));
      }
      int at = rnd.nextInt(5);
      byte[] a = new byte[at + len + rnd.nextInt(10)];
      rnd.nextBytes(a);
      System.arraycopy(other, 0, a, at, len);

      assertThat(BatchLayer.sameBytes(b, off, a, at, len))
          .as("seed %d round %d: len %d, off %d, at %d, %s, %s", seed, round, len, off, at, b.order(),
              b.isDirect() ? "direct" : "heap")
          .isEqualTo(Arrays.equals(key, other)).isEqualTo(!differ);
    }
  }
}
