package dev.braid.view;

import java.io.DataOutput;
import java.io.UTFDataFormatException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A growable, reusable byte array written through {@link DataOutput} (big-endian, like
 * {@link java.io.DataOutputStream}) with no locks and no allocation once it has reached its working
 * size. The Base and run writers assemble a key's entry in one, patch its counts and lengths in
 * place with {@link #setInt}, and hand the bytes to a file channel in large slices.
 *
 * <p>Not thread-safe; one writer owns a buffer.
 */
final class DataBuffer implements DataOutput {

  private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private byte[] bytes;
  private int size;

  DataBuffer(int initialCapacity) {
    this.bytes = new byte[Math.max(64, initialCapacity)];
  }

  byte[] array() {
    return bytes;
  }

  int size() {
    return size;
  }

  void reset() {
    size = 0;
  }

  /** Overwrites the four bytes at {@code position} (which must already be written). */
  /** Appends one window entry in the Base/run layout: window id, state length, encoded state. */
  void writeWindow(long window, ViewProgram program, long[] longs, int longBase, Object[] objects,
      int objectBase, ViewProgram.Scratch x) throws java.io.IOException {
    writeLong(window);
    int lengthAt = size();
    writeInt(0);
    program.writeRow(this, longs, longBase, objects, objectBase, x);
    setInt(lengthAt, size() - lengthAt - 4);
  }

  /** Appends one window entry whose state is already encoded. */
  void writeWindow(long window, byte[] state, int off, int len) {
    writeLong(window);
    writeInt(len);
    write(state, off, len);
  }

  void setInt(int position, int value) {
    if (position < 0 || position + 4 > size) {
      throw new IndexOutOfBoundsException("setInt at " + position + " of a buffer holding " + size + " bytes");
    }
    INT.set(bytes, position, value);
  }

  private void ensure(int more) {
    if (size + more > bytes.length) {
      grow(more);
    }
  }

  private void grow(int more) {
    long cap = Math.max((long) bytes.length * 2, (long) size + more);
    if (cap > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("one entry of more than 2 GiB cannot be written");
    }
    bytes = Arrays.copyOf(bytes, (int) cap);
  }

  @Override
  public void write(int b) {
    ensure(1);
    bytes[size++] = (byte) b;
  }

  @Override
  public void write(byte[] b) {
    write(b, 0, b.length);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, bytes, size, len);
    size += len;
  }

  @Override
  public void writeBoolean(boolean v) {
    write(v ? 1 : 0);
  }

  @Override
  public void writeByte(int v) {
    write(v);
  }

  @Override
  public void writeShort(int v) {
    ensure(2);
    bytes[size] = (byte) (v >>> 8);
    bytes[size + 1] = (byte) v;
    size += 2;
  }

  @Override
  public void writeChar(int v) {
    writeShort(v);
  }

  @Override
  public void writeInt(int v) {
    ensure(4);
    INT.set(bytes, size, v);
    size += 4;
  }

  @Override
  public void writeLong(long v) {
    ensure(8);
    LONG.set(bytes, size, v);
    size += 8;
  }

  @Override
  public void writeFloat(float v) {
    writeInt(Float.floatToIntBits(v));
  }

  @Override
  public void writeDouble(double v) {
    writeLong(Double.doubleToLongBits(v));
  }

  @Override
  public void writeBytes(String s) {
    int n = s.length();
    ensure(n);
    for (int i = 0; i < n; i++) {
      bytes[size++] = (byte) s.charAt(i);
    }
  }

  @Override
  public void writeChars(String s) {
    int n = s.length();
    ensure(2 * n);
    for (int i = 0; i < n; i++) {
      writeShort(s.charAt(i));
    }
  }

  /** Modified UTF-8 with a two-byte length, exactly as {@link java.io.DataOutputStream#writeUTF}. */
  @Override
  public void writeUTF(String s) throws UTFDataFormatException {
    int n = s.length();
    long utf = 0;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      utf += c >= 0x0001 && c <= 0x007F ? 1 : c > 0x07FF ? 3 : 2;
    }
    if (utf > 65535) {
      throw new UTFDataFormatException("encoded string is " + utf + " bytes long; writeUTF takes at most 65535");
    }
    writeShort((int) utf);
    ensure((int) utf);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x0001 && c <= 0x007F) {
        bytes[size++] = (byte) c;
      } else if (c > 0x07FF) {
        bytes[size++] = (byte) (0xE0 | ((c >> 12) & 0x0F));
        bytes[size++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        bytes[size++] = (byte) (0x80 | (c & 0x3F));
      } else {
        bytes[size++] = (byte) (0xC0 | ((c >> 6) & 0x1F));
        bytes[size++] = (byte) (0x80 | (c & 0x3F));
      }
    }
  }
}
