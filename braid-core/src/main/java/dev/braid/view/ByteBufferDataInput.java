package dev.braid.view;

import java.io.DataInput;
import java.io.EOFException;
import java.nio.ByteBuffer;

/** A {@link DataInput} over a region of a (possibly memory-mapped) buffer, read with absolute gets. */
final class ByteBufferDataInput implements DataInput {

  private ByteBuffer buffer;
  private int position;
  private int limit;

  ByteBufferDataInput reset(ByteBuffer buffer, int position, int limit) {
    this.buffer = buffer;
    this.position = position;
    this.limit = limit;
    return this;
  }

  int position() {
    return position;
  }

  private int take(int n) throws EOFException {
    if (position + n > limit) {
      throw new EOFException("read of " + n + " bytes past the end of an accumulator at byte " + position);
    }
    int p = position;
    position += n;
    return p;
  }

  @Override
  public void readFully(byte[] b) throws EOFException {
    readFully(b, 0, b.length);
  }

  @Override
  public void readFully(byte[] b, int off, int len) throws EOFException {
    buffer.get(take(len), b, off, len);
  }

  @Override
  public int skipBytes(int n) throws EOFException {
    take(n);
    return n;
  }

  @Override
  public boolean readBoolean() throws EOFException {
    return buffer.get(take(1)) != 0;
  }

  @Override
  public byte readByte() throws EOFException {
    return buffer.get(take(1));
  }

  @Override
  public int readUnsignedByte() throws EOFException {
    return buffer.get(take(1)) & 0xff;
  }

  @Override
  public short readShort() throws EOFException {
    return buffer.getShort(take(2));
  }

  @Override
  public int readUnsignedShort() throws EOFException {
    return buffer.getShort(take(2)) & 0xffff;
  }

  @Override
  public char readChar() throws EOFException {
    return buffer.getChar(take(2));
  }

  @Override
  public int readInt() throws EOFException {
    return buffer.getInt(take(4));
  }

  @Override
  public long readLong() throws EOFException {
    return buffer.getLong(take(8));
  }

  @Override
  public float readFloat() throws EOFException {
    return buffer.getFloat(take(4));
  }

  @Override
  public double readDouble() throws EOFException {
    return buffer.getDouble(take(8));
  }

  @Override
  public String readLine() {
    throw new UnsupportedOperationException("readLine is not part of the accumulator codec");
  }

  @Override
  public String readUTF() throws java.io.IOException {
    return java.io.DataInputStream.readUTF(this); // reads the length and bytes through this input
  }
}
