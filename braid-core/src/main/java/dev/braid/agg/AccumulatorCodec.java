package dev.braid.agg;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The building blocks of the built-in accumulators' binary forms.
 *
 * <p>Every built-in accumulator starts with one header byte: the format version in the high
 * nibble and an aggregation-specific kind in the low nibble (for example "empty" or "holds a
 * value"), so an empty accumulator costs one byte and a reader can refuse a format it does not
 * know instead of misreading it.
 *
 * <pre>
 *   bit  7      4 3      0
 *       +--------+--------+---------------------------
 *       | version|  kind  | payload (per aggregation) ...
 *       +--------+--------+---------------------------
 * </pre>
 *
 * <p>Integers are written as LEB128 varints (zig-zag encoded when they may be negative), doubles as
 * their 8 raw bytes, strings and sketches as a varint length followed by the bytes.
 */
final class AccumulatorCodec {

  /** The format version this build writes and reads. */
  static final int VERSION = 1;

  /** Refuses lengths beyond this when reading, so a corrupt length cannot exhaust the heap. */
  private static final int MAX_BYTES = 1 << 28;

  private AccumulatorCodec() {}

  static void writeHeader(DataOutput out, int kind) throws IOException {
    out.writeByte((VERSION << 4) | kind);
  }

  /** Reads a header byte and returns its kind, or throws if the version or kind is unknown. */
  static int readHeader(DataInput in, String aggregation, int maxKind) throws IOException {
    int header = in.readUnsignedByte();
    int version = header >>> 4;
    int kind = header & 0x0F;
    if (version != VERSION) {
      throw new IOException(String.format(
          "%s accumulator has format version %d; this build reads version %d", aggregation, version, VERSION));
    }
    if (kind > maxKind) {
      throw new IOException(String.format("%s accumulator has unknown kind %d (corrupt?)", aggregation, kind));
    }
    return kind;
  }

  static void writeVarLong(DataOutput out, long value) throws IOException {
    while ((value & ~0x7FL) != 0) {
      out.writeByte((int) ((value & 0x7F) | 0x80));
      value >>>= 7;
    }
    out.writeByte((int) value);
  }

  static long readVarLong(DataInput in) throws IOException {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      int b = in.readUnsignedByte();
      value |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return value;
      }
    }
    throw new IOException("malformed varint: more than 10 bytes");
  }

  static void writeZigZag(DataOutput out, long value) throws IOException {
    writeVarLong(out, (value << 1) ^ (value >> 63));
  }

  static long readZigZag(DataInput in) throws IOException {
    long v = readVarLong(in);
    return (v >>> 1) ^ -(v & 1);
  }

  static void writeBytes(DataOutput out, byte[] bytes) throws IOException {
    writeVarLong(out, bytes.length);
    out.write(bytes);
  }

  static byte[] readBytes(DataInput in) throws IOException {
    long length = readVarLong(in);
    if (length < 0 || length > MAX_BYTES) {
      throw new IOException("malformed accumulator: byte length " + length + " out of range");
    }
    byte[] bytes = new byte[(int) length];
    in.readFully(bytes);
    return bytes;
  }
}
