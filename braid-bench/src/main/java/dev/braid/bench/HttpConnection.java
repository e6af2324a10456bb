package dev.braid.bench;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One HTTP/1.1 keep-alive connection over a blocking socket channel, for load generation on loopback.
 *
 * <p>Why not {@code java.net.http.HttpClient}: it costs tens of microseconds and several objects per
 * request (futures, header maps, a selector thread hop), more than the server spends answering a point
 * read, so on a 2-core machine it would measure the client. This one writes a prepared request with
 * one {@code write}, reads the response into a reused buffer and parses only the status line,
 * {@code Content-Length} and chunked framing: nothing is allocated per request unless the response
 * outgrows the buffer.
 *
 * <p>Not thread-safe: one connection per thread. No pipelining: one request in flight.
 */
final class HttpConnection implements Closeable {

  private static final byte[] CONTENT_LENGTH = "content-length:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CHUNKED = "transfer-encoding: chunked".getBytes(StandardCharsets.US_ASCII);

  private final SocketChannel channel;
  private byte[] buf = new byte[16 << 10];
  private ByteBuffer bufView = ByteBuffer.wrap(buf);
  /** Bytes of {@link #buf} filled by reads. */
  private int filled;
  private int bodyStart;
  private int bodyLength;
  private int status;

  /**
   * Connects. The channel blocks without a timeout: a blocking {@code SocketChannel} reads with one
   * system call, where a {@code Socket} with a timeout polls first; callers that must not hang close
   * the connection from another thread ({@link #close} unblocks a read).
   */
  HttpConnection(InetSocketAddress address) throws IOException {
    channel = SocketChannel.open();
    channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
    channel.connect(address);
  }

  /** {@code GET path} as request bytes. */
  static byte[] get(String path) {
    return ("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  /** {@code POST path} with a body, as request bytes. */
  static byte[] post(String path, String contentType, byte[] body) {
    byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + contentType
        + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] r = Arrays.copyOf(head, head.length + body.length);
    System.arraycopy(body, 0, r, head.length, body.length);
    return r;
  }

  /** Sends a whole request and reads its response; returns the status code. */
  int exchange(byte[] request) throws IOException {
    return exchange(request, 0, request.length);
  }

  int exchange(byte[] request, int offset, int length) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(request, offset, length);
    while (b.hasRemaining()) {
      channel.write(b);
    }
    return readResponse();
  }

  int status() {
    return status;
  }

  /** The last response's body as text (allocates: for checks, not for the timed loop). */
  String body() {
    return new String(buf, bodyStart, bodyLength, StandardCharsets.UTF_8);
  }

  /** Whether the last response's body contains {@code needle} (ASCII), without allocating. */
  boolean bodyContains(byte[] needle) {
    return indexOf(buf, bodyStart, bodyStart + bodyLength, needle, false) >= 0;
  }

  private int readResponse() throws IOException {
    filled = 0;
    int headerEnd;
    while ((headerEnd = headerEnd(buf, filled)) < 0) {
      fill();
    }
    status = status(buf, filled);
    int length = contentLength(buf, headerEnd);
    if (length >= 0) {
      bodyStart = headerEnd;
      bodyLength = length;
      while (filled < headerEnd + length) {
        fill();
      }
    } else if (indexOf(buf, 0, headerEnd, CHUNKED, true) >= 0) {
      readChunked(headerEnd);
    } else {
      bodyStart = headerEnd;
      bodyLength = 0; // 204/304 or a response without a body
    }
    return status;
  }

  /**
   * The length of the whole response at the start of {@code buf[0, filled)} if it has arrived,
   * else -1: for a non-blocking reader of {@code Content-Length} responses (a chunked one throws).
   */
  static int completeResponseLength(byte[] buf, int filled) throws IOException {
    int headerEnd = headerEnd(buf, filled);
    if (headerEnd < 0) {
      return -1;
    }
    int length = contentLength(buf, headerEnd);
    if (length < 0) {
      if (indexOf(buf, 0, headerEnd, CHUNKED, true) >= 0) {
        throw new IOException("a chunked response; this reader takes Content-Length responses only");
      }
      length = 0;
    }
    return filled >= headerEnd + length ? headerEnd + length : -1;
  }

  /** The status code of the response whose header is at {@code buf[0 ..]}. */
  static int status(byte[] buf, int filled) throws IOException {
    if (filled < 12 || buf[0] != 'H') {
      throw new IOException("not an HTTP response: " + new String(buf, 0, Math.min(filled, 80), StandardCharsets.ISO_8859_1));
    }
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  }

  /** The {@code Content-Length} in the header {@code buf[0, headerEnd)}, or -1 if it has none. */
  private static int contentLength(byte[] buf, int headerEnd) {
    int cl = indexOf(buf, 0, headerEnd, CONTENT_LENGTH, true);
    if (cl < 0) {
      return -1;
    }
    int i = cl + CONTENT_LENGTH.length;
    while (buf[i] == ' ') {
      i++;
    }
    int length = 0;
    while (buf[i] >= '0' && buf[i] <= '9') {
      length = length * 10 + (buf[i++] - '0');
    }
    return length;
  }

  /** Decodes a chunked body in place, so that the body is contiguous from {@code start}. */
  private void readChunked(int start) throws IOException {
    int write = start;
    int read = start;
    while (true) {
      int lineEnd;
      while ((lineEnd = indexOf(buf, read, filled, CRLF, false)) < 0) {
        fill();
      }
      int size = 0;
      for (int i = read; i < lineEnd; i++) {
        int d = Character.digit(buf[i], 16);
        if (d < 0) {
          break; // chunk extensions
        }
        size = size * 16 + d;
      }
      read = lineEnd + 2;
      while (filled < read + size + 2) {
        fill();
      }
      if (size == 0) {
        bodyStart = start;
        bodyLength = write - start;
        return; // no trailers are expected from Jetty here
      }
      System.arraycopy(buf, read, buf, write, size);
      write += size;
      read += size + 2;
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};

  /** Where the body starts: past the header's blank line in {@code buf[0, filled)}, or -1. */
  private static int headerEnd(byte[] buf, int filled) {
    for (int i = 3; i < filled; i++) {
      if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
        return i + 1;
      }
    }
    return -1;
  }

  private void fill() throws IOException {
    if (filled == buf.length) {
      buf = Arrays.copyOf(buf, buf.length * 2);
      bufView = ByteBuffer.wrap(buf);
    }
    bufView.limit(buf.length).position(filled);
    int n = channel.read(bufView);
    if (n < 0) {
      throw new EOFException("the server closed the connection");
    }
    filled += n;
  }

  private static int indexOf(byte[] a, int from, int to, byte[] needle, boolean ignoreAsciiCase) {
    outer:
    for (int i = from; i <= to - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        byte b = a[i + j];
        if (ignoreAsciiCase && b >= 'A' && b <= 'Z') {
          b += 'a' - 'A';
        }
        if (b != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
