package dev.braid.log;

/**
 * Maps a record key to a partition: {@code (murmur3_32(key, seed 0) & 0x7fffffff) % partitions},
 * where {@code murmur3_32} is Austin Appleby's MurmurHash3 x86 32-bit over the key bytes (for
 * string keys, their UTF-8 bytes). The function is fixed: it does not depend on the JVM, the
 * platform or the Braid version, so a key always lands in the same partition of a stream.
 */
public final class Partitioner {

  private static final int C1 = 0xcc9e2d51;
  private static final int C2 = 0x1b873593;

  private Partitioner() {}

  public static int partition(byte[] key, int offset, int length, int partitions) {
    return (murmur3(key, offset, length, 0) & 0x7fffffff) % partitions;
  }

  /** MurmurHash3 x86 32-bit of {@code bytes[offset, offset + length)}. */
  public static int murmur3(byte[] bytes, int offset, int length, int seed) {
    int h = seed;
    int blocks = length >>> 2;
    for (int i = 0; i < blocks; i++) {
      int p = offset + (i << 2);
      int k = (bytes[p] & 0xff) | (bytes[p + 1] & 0xff) << 8 | (bytes[p + 2] & 0xff) << 16 | (bytes[p + 3] & 0xff) << 24;
      h ^= mixK(k);
      h = Integer.rotateLeft(h, 13) * 5 + 0xe6546b64;
    }
    int tail = offset + (blocks << 2);
    int k = 0;
    switch (length & 3) {
      case 3:
        k ^= (bytes[tail + 2] & 0xff) << 16;
        // fall through
      case 2:
        k ^= (bytes[tail + 1] & 0xff) << 8;
        // fall through
      case 1:
        k ^= bytes[tail] & 0xff;
        h ^= mixK(k);
        break;
      default:
        break;
    }
    h ^= length;
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }

  private static int mixK(int k) {
    k *= C1;
    k = Integer.rotateLeft(k, 15);
    return k * C2;
  }
}
