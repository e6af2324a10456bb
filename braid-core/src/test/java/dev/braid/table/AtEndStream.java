package dev.braid.table;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * A push's input: {@code text}, and at its end, once, before the end is reported, {@code atEnd} (an
 * upload that holds there, or a fault set up while the push has its rows but has not switched yet).
 */
final class AtEndStream extends InputStream {

  /** What runs at the end of the input. */
  interface AtEnd {
    void run() throws Exception;
  }

  private final InputStream rows;
  private final AtEnd atEnd;
  private boolean ran;

  AtEndStream(String text, AtEnd atEnd) {
    this.rows = new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
    this.atEnd = atEnd;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = rows.read(b, off, len);
    if (n >= 0 || ran) {
      return n;
    }
    ran = true;
    try {
      atEnd.run();
    } catch (IOException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } catch (Exception e) {
      throw new IOException(e);
    }
    return -1;
  }
}
