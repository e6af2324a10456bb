package dev.braid.expr;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A reused, growable byte buffer holding one group key as UTF-8 text. Not thread-safe. */
public final class KeyBuffer {

  private byte[] bytes = new byte[64];
  private int length;

  public byte[] bytes() {
    return bytes;
  }

  public int length() {
    return length;
  }

  public void set(ByteBuffer source, int offset, int len) {
    ensure(len);
    source.get(offset, bytes, 0, len);
    length = len;
  }

  public void set(byte[] source, int offset, int len) {
    ensure(len);
    System.arraycopy(source, offset, bytes, 0, len);
    length = len;
  }

  public void set(String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    set(b, 0, b.length);
  }

  /** Writes the decimal form of {@code v} without allocating. */
  public void setLong(long v) {
    ensure(20);
    if (v == Long.MIN_VALUE) {
      set(Long.toString(v));
      return;
    }
    int pos = 20;
    boolean negative = v < 0;
    long x = negative ? -v : v;
    byte[] tmp = bytes;
    do {
      tmp[--pos] = (byte) ('0' + (x % 10));
      x /= 10;
    } while (x != 0);
    if (negative) {
      tmp[--pos] = '-';
    }
    length = 20 - pos;
    System.arraycopy(tmp, pos, tmp, 0, length);
  }

  public byte[] copy() {
    return Arrays.copyOf(bytes, length);
  }

  @Override
  public String toString() {
    return new String(bytes, 0, length, StandardCharsets.UTF_8);
  }

  private void ensure(int len) {
    if (bytes.length < len) {
      bytes = new byte[Math.max(len, bytes.length * 2)];
    }
  }
}
