package dev.braid.server.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 text that refuses bytes that are not UTF-8, where {@link java.io.InputStreamReader} would
 * put U+FFFD in their place (and {@code braid ingest} would send another text than the file's).
 * Every character before the first bad byte is delivered first; the read after them throws
 * {@link NotUtf8Exception}, so a caller counting lines knows the bad one is the line it was reading.
 */
final class StrictUtf8Reader extends Reader {

  /** Bytes of the input that are not UTF-8: the first such byte and its offset in the input. */
  static final class NotUtf8Exception extends IOException {
    final int value;
    final long offset;

    NotUtf8Exception(int value, long offset) {
      super(String.format("byte 0x%02X at byte %,d of the input", value, offset + 1));
      this.value = value;
      this.offset = offset;
    }
  }

  private final InputStream in;
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  private final ByteBuffer bytes = ByteBuffer.allocate(1 << 16).flip();
  /** Decoded characters not handed out yet (room for a surrogate pair, so a read of one char works). */
  private final CharBuffer chars = CharBuffer.allocate(1 << 13).flip();
  /** Bytes of the input before {@link #bytes}' start. */
  private long consumed;
  private boolean eof;
  /** Set once the decoder is flushed at the end: every read after it is the end again. */
  private boolean flushed;
  private NotUtf8Exception failed;

  /**
   * @param in the input
   * @param skipped bytes of the input read before {@code in} starts (a byte-order mark), so that
   *     offsets are the input's
   */
  StrictUtf8Reader(InputStream in, long skipped) {
    this.in = in;
    this.consumed = skipped;
  }

  StrictUtf8Reader(InputStream in) {
    this(in, 0);
  }

  @Override
  public int read(char[] cbuf, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (!chars.hasRemaining() && !decode()) {
      return -1;
    }
    int n = Math.min(len, chars.remaining());
    chars.get(cbuf, off, n);
    return n;
  }

  /**
   * Decodes more characters into {@link #chars} (empty when called); false at the end of the input.
   * Throws at a byte that is not UTF-8 once every character before it has been handed out.
   */
  private boolean decode() throws IOException {
    if (failed != null) {
      throw failed;
    }
    if (flushed) {
      return false;
    }
    chars.clear();
    try {
      while (true) {
        int before = bytes.position();
        CoderResult r = decoder.decode(bytes, chars, eof);
        consumed += bytes.position() - before;
        if (r.isError()) {
          failed = new NotUtf8Exception(bytes.get(bytes.position()) & 0xff, consumed);
          if (chars.position() > 0) {
            return true; // the text before it first
          }
          throw failed;
        }
        if (chars.position() > 0) {
          return true;
        }
        if (eof) {
          decoder.flush(chars); // UTF-8 keeps no state to flush: nothing is written
          flushed = true;
          return false;
        }
        // underflow with nothing decoded: more bytes (keeping an unfinished sequence at the front)
        bytes.compact();
        int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
        if (n < 0) {
          eof = true;
        } else {
          bytes.position(bytes.position() + n);
        }
        bytes.flip();
      }
    } finally {
      chars.flip();
    }
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
