package dev.braid.table;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable byte buffer with the primitives of the table encodings: big-endian longs and ints,
 * unsigned varints, UTF-8 strings with a varint length. Reused by its owner (one thread); nothing
 * here allocates except to grow.
 */
final class Bytes {

  byte[] buf;
  int len;

  Bytes(int capacity) {
    buf = new byte[Math.max(16, capacity)];
  }

  void clear() {
    len = 0;
  }

  void ensure(int more) {
    if (len + more > buf.length) {
      long want = Math.max((long) buf.length * 2, (long) len + more);
      if (want > Integer.MAX_VALUE - 16) {
        throw new IllegalStateException("buffer would exceed 2 GiB");
      }
      buf = Arrays.copyOf(buf, (int) want);
    }
  }

  byte[] toArray() {
    return Arrays.copyOf(buf, len);
  }

  void put(byte b) {
    ensure(1);
    buf[len++] = b;
  }

  void put(byte[] src, int off, int n) {
    ensure(n);
    System.arraycopy(src, off, buf, len, n);
    len += n;
  }

  void putInt(int v) {
    ensure(4);
    putIntAt(len, v);
    len += 4;
  }

  void putIntAt(int at, int v) {
    buf[at] = (byte) (v >>> 24);
    buf[at + 1] = (byte) (v >>> 16);
    buf[at + 2] = (byte) (v >>> 8);
    buf[at + 3] = (byte) v;
  }

  void putLong(long v) {
    ensure(8);
    for (int i = 7; i >= 0; i--) {
      buf[len + i] = (byte) v;
      v >>>= 8;
    }
    len += 8;
  }

  void putVarint(int v) {
    ensure(5);
    while ((v & ~0x7f) != 0) {
      buf[len++] = (byte) ((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    buf[len++] = (byte) v;
  }

  /**
   * A string as varint UTF-8 length then bytes, encoded straight from the chars. Returns false when
   * the chars hold an unpaired surrogate (not Unicode text; written as its 3 bytes, which a reader
   * decodes as U+FFFD), so that the caller refuses the value.
   */
  boolean putString(char[] c, int off, int n) {
    boolean unicode = true;
    ensure(5 + n * 3);
    int lenAt = len;
    int start = len + 5; // leave room for the longest varint, then move back if shorter
    int p = start;
    int i = off;
    int end = off + n;
    for (; i < end; i++) { // an ASCII run first: one compare per char, a loop the JIT unrolls
      char ch = c[i];
      if (ch >= 0x80) {
        break;
      }
      buf[p++] = (byte) ch;
    }
    for (; i < end; i++) {
      char ch = c[i];
      if (ch < 0x80) {
        buf[p++] = (byte) ch;
      } else if (ch < 0x800) {
        buf[p++] = (byte) (0xc0 | (ch >> 6));
        buf[p++] = (byte) (0x80 | (ch & 0x3f));
      } else if (Character.isHighSurrogate(ch) && i + 1 < end && Character.isLowSurrogate(c[i + 1])) {
        int cp = Character.toCodePoint(ch, c[++i]);
        buf[p++] = (byte) (0xf0 | (cp >> 18));
        buf[p++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
        buf[p++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
        buf[p++] = (byte) (0x80 | (cp & 0x3f));
      } else {
        unicode &= !Character.isSurrogate(ch);
        buf[p++] = (byte) (0xe0 | (ch >> 12));
        buf[p++] = (byte) (0x80 | ((ch >> 6) & 0x3f));
        buf[p++] = (byte) (0x80 | (ch & 0x3f));
      }
    }
    int bytes = p - start;
    len = lenAt;
    putVarint(bytes);
    System.arraycopy(buf, start, buf, len, bytes);
    len += bytes;
    return unicode;
  }

  void putString(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    putVarint(b.length);
    put(b, 0, b.length);
  }

  // ---------------------------------------------------------------------------------------------
  // Reading (a cursor over a ByteBuffer, absolute gets)
  // ---------------------------------------------------------------------------------------------

  /** Reads the encodings above from a buffer region; not thread-safe, reusable by {@link #reset}. */
  static final class Reader {
    ByteBuffer b;
    int pos;
    int end;

    Reader reset(ByteBuffer b, int pos, int end) {
      this.b = b;
      this.pos = pos;
      this.end = end;
      return this;
    }

    boolean hasMore() {
      return pos < end;
    }

    int u8() {
      check(1);
      return b.get(pos++) & 0xff;
    }

    int varint() {
      int v = 0;
      for (int shift = 0; shift < 35; shift += 7) {
        int x = u8();
        v |= (x & 0x7f) << shift;
        if ((x & 0x80) == 0) {
          return v;
        }
      }
      throw new IllegalArgumentException("malformed varint");
    }

    int i32() {
      check(4);
      int v = b.getInt(pos);
      pos += 4;
      return v;
    }

    long i64() {
      check(8);
      long v = b.getLong(pos);
      pos += 8;
      return v;
    }

    String string() {
      int n = varint();
      check(n);
      byte[] tmp = new byte[n];
      b.get(pos, tmp, 0, n);
      pos += n;
      return new String(tmp, StandardCharsets.UTF_8);
    }

    private void check(int n) {
      if (n < 0 || pos + n > end) {
        throw new IllegalArgumentException("truncated encoding at byte " + pos);
      }
    }
  }
}
