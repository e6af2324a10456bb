package dev.braid.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pins {@link Partitioner}: MurmurHash3 x86_32 exactly, and the key to partition mapping, which
 * can never change without moving keys of existing streams.
 */
class PartitionerTest {

  /**
   * Published MurmurHash3 x86_32 vectors (SMHasher, and the values every mmh3 port prints), each
   * also checked against Guava's {@code Hashing.murmur3_32_fixed} when this table was written.
   */
  @ParameterizedTest(name = "\"{0}\" seed {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
      "\"\"|0x00000000|0x00000000",
      "\"\"|0x00000001|0x514e28b7",
      "\"\"|0xffffffff|0x81f16f39",
      "hello|0x00000000|0x248bfa47",
      "The quick brown fox jumps over the lazy dog|0x00000000|0x2e4ff723",
      "Hello, world!|0x9747b28c|0x24884cba",
      "a|0x9747b28c|0x7fa09ea6",
      "abc|0x9747b28c|0xc84a62dd",
      "aaaa|0x9747b28c|0x5a97808a",
      "The quick brown fox jumps over the lazy dog|0x9747b28c|0x2fa826cd",
  })
  void shouldMatchPublishedMurmur3Vectors(String text, String seed, String expected) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);

    int hash = Partitioner.murmur3(bytes, 0, bytes.length, Integer.parseUnsignedInt(seed.substring(2), 16));

    assertThat(hash).as("murmur3('%s', %s)", text, seed).isEqualTo(Integer.parseUnsignedInt(expected.substring(2), 16));
  }

  /**
   * Every tail length (0-3 bytes after the 4-byte blocks), bytes with the high bit set, and
   * non-zero seeds; expected values computed with Guava's {@code Hashing.murmur3_32_fixed(seed)}.
   */
  @ParameterizedTest(name = "{0} seed {1}")
  @CsvSource({
      "'', 0x00000000, 0x00000000",
      "2e, 0xc63b2391, 0x6f825c19",
      "a36f, 0x824652bf, 0x788b5730",
      "3cb887, 0x00000000, 0xa0e35c19",
      "09947a0b, 0xf2ca3bb2, 0x60fb85ec",
      "dbaa8e4a0f, 0xf6e9e7e7, 0xc2f3e08f",
      "3040edc62ad4, 0x00000000, 0x08f7a6e0",
      "3cc99780d264cb, 0x7bb3c940, 0xc48c2584",
      "be704e7d9eb2c742, 0x681bb46f, 0xe35e6856",
      "ea5682549fff29b769, 0x00000000, 0x90d03774",
      "00000000, 0x00000000, 0x2362f9de",
      "ff80c3, 0x00000000, 0xd72f6f59",
  })
  void shouldMatchGuavaMurmur3ForEveryTailLength(String hex, String seed, String expected) {
    byte[] bytes = HexFormat.of().parseHex(hex);

    int hash = Partitioner.murmur3(bytes, 0, bytes.length, Integer.parseUnsignedInt(seed.substring(2), 16));

    assertThat(hash).as("murmur3(%s, %s)", hex, seed).isEqualTo(Integer.parseUnsignedInt(expected.substring(2), 16));
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 17, 2024})
  void shouldHashASliceLikeTheSameBytesOnTheirOwn(long seed) {
    Random random = new Random(seed);
    for (int i = 0; i < 200; i++) {
      byte[] key = new byte[random.nextInt(40)];
      random.nextBytes(key);
      int pad = random.nextInt(8);
      byte[] framed = new byte[pad + key.length + random.nextInt(8)];
      random.nextBytes(framed);
      System.arraycopy(key, 0, framed, pad, key.length);
      int partitions = 1 + random.nextInt(64);

      assertThat(Partitioner.partition(framed, pad, key.length, partitions))
          .as("seed %d key %s", seed, HexFormat.of().formatHex(key))
          .isEqualTo(Partitioner.partition(key, 0, key.length, partitions))
          .isBetween(0, partitions - 1);
    }
  }

  @Test
  void shouldPinKeysToPartitions() {
    assertThat(partition("hello", 4)).isEqualTo(3);
    assertThat(partition("The quick brown fox jumps over the lazy dog", 4)).isEqualTo(3);
    assertThat(partition("a", 4)).isEqualTo(2);
    assertThat(partition("user-42", 4)).isEqualTo(0);
    assertThat(partition("k", 4)).isEqualTo(1);
    assertThat(partition("hello", 16)).isEqualTo(7);
    assertThat(partition("ab", 16)).isEqualTo(15);
    assertThat(partition("abc", 16)).isEqualTo(10);
    assertThat(partition("abcde", 16)).isEqualTo(6);
    assertThat(partition("anything", 1)).isZero();
  }

  @Test
  void shouldKeepPartitionsNonNegativeForNegativeHashes() {
    // 0x81f16f39 style hashes have the sign bit set; the partition must still be in range.
    byte[] key = HexFormat.of().parseHex("ff80c3"); // murmur3 0xd72f6f59 < 0
    assertThat(Partitioner.murmur3(key, 0, key.length, 0)).isNegative();

    assertThat(Partitioner.partition(key, 0, key.length, 7)).isEqualTo((0xd72f6f59 & 0x7fffffff) % 7);
  }

  private static int partition(String key, int partitions) {
    byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
    return Partitioner.partition(bytes, 0, bytes.length, partitions);
  }
}
