package dev.braid.view;

/**
 * Combines the CRC32C of two adjacent byte ranges into the CRC32C of both: {@code crc(A ++ B)} from
 * {@code crc(A)}, {@code crc(B)} and B's length, so that two threads can checksum the two halves of
 * one region of a file at once ({@link BaseFile.Writer} writes a Base's index that way).
 *
 * <h2>Why it works</h2>
 * A CRC is the remainder of the message, as a polynomial over GF(2), times {@code x^32}, modulo the
 * generator; the register's initial and final inversions add terms that depend only on lengths. For
 * the concatenation, A's remainder has to be moved past B's {@code 8 * len(B)} bits, which is a
 * multiplication by {@code x^(8 len(B))} modulo the generator, and then the two are added (XOR); the
 * inversions cancel out in that sum as they do in zlib's {@code crc32_combine}. Polynomials are held
 * as the CRC register holds them, reflected: bit 31 is the coefficient of {@code x^0}, bit 0 that of
 * {@code x^31}.
 */
final class Crc32cCombine {

  /** CRC-32C's generator (Castagnoli), reflected, without its {@code x^32} term. */
  private static final int POLY = 0x82F63B78;
  /** {@code x^0}, reflected. */
  private static final int ONE = 1 << 31;

  private Crc32cCombine() {}

  /** The CRC32C of A followed by B, given A's CRC, B's CRC and B's length in bytes (0 or more). */
  static int combine(int crcA, int crcB, long lengthB) {
    if (lengthB < 0) {
      throw new IllegalArgumentException("negative length " + lengthB);
    }
    return multiply(xPowerOfEightTimes(lengthB), crcA) ^ crcB;
  }

  /** {@code a * b} modulo the generator, both reflected. */
  static int multiply(int a, int b) {
    int product = 0;
    for (int bit = ONE; bit != 0; bit >>>= 1) {
      if ((a & bit) != 0) {
        product ^= b;
      }
      b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1; // b * x
    }
    return product;
  }

  /** {@code x^(8 n)} modulo the generator, reflected, by squaring. */
  private static int xPowerOfEightTimes(long n) {
    int result = ONE;
    int square = ONE >>> 8; // x^8
    for (long m = n; m != 0; m >>>= 1) {
      if ((m & 1) != 0) {
        result = multiply(result, square);
      }
      square = multiply(square, square);
    }
    return result;
  }
}
