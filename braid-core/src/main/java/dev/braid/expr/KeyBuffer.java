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

  /** Empties the key, for {@code append}s to build it up. */
  public void clear() {
    length = 0;
  }

  /** Appends {@code len} bytes of {@code source} from {@code offset}. */
  public void append(ByteBuffer source, int offset, int len) {
    ensure(length + len);
    source.get(offset, bytes, length, len);
    length += len;
  }

  /** Appends {@code source}. */
  public void append(byte[] source) {
    ensure(length + source.length);
    System.arraycopy(source, 0, bytes, length, source.length);
    length += source.length;
  }

  /** Appends {@code text}, whose characters are all ASCII (a number's text), one byte each. */
  public void appendAscii(String text) {
    int n = text.length();
    ensure(length + n);
    for (int k = 0; k < n; k++) {
      bytes[length + k] = (byte) text.charAt(k);
    }
    length += n;
  }

  /** Appends the decimal form of {@code v} without allocating. */
  public void appendLong(long v) {
    if (v == Long.MIN_VALUE) {
      append(Long.toString(v).getBytes(StandardCharsets.US_ASCII));
      return;
    }
    int digits = 1;
    long x = v < 0 ? -v : v;
    for (long p = 10; digits < 19 && x >= p; p *= 10) {
      digits++;
    }
    int n = digits + (v < 0 ? 1 : 0);
    ensure(length + n);
    int pos = length + n;
    do {
      bytes[--pos] = (byte) ('0' + (x % 10));
      x /= 10;
    } while (x != 0);
    if (v < 0) {
      bytes[--pos] = '-';
    }
    length += n;
  }

  public byte[] copy() {
    return Arrays.copyOf(bytes, length);
  }

  @Override
  public String toString() {
    return new String(bytes, 0, length, StandardCharsets.UTF_8);
  }

  /** Makes room for {@code len} bytes, keeping the key written so far. */
  private void ensure(int len) {
    if (bytes.length < len) {
      bytes = Arrays.copyOf(bytes, Math.max(len, bytes.length * 2));
    }
  }
}
