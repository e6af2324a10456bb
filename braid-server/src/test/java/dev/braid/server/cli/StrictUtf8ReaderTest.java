package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link StrictUtf8Reader} against {@link String}'s own UTF-8 over seeded random texts (one, two,
 * three and four byte characters, sequences split across the reader's 64 KiB buffer, an input that
 * hands out a few bytes per read, reads of one char and of many): it gives the same text, and with
 * one bad byte put in, every character before it and then the bad byte's value and offset.
 */
class StrictUtf8ReaderTest {

  static IntStream seeds() {
    return IntStream.range(0, 40);
  }

  /** An input that hands out at most {@code step} bytes per read. */
  static InputStream trickle(byte[] b, int step) {
    ByteArrayInputStream in = new ByteArrayInputStream(b);
    return new InputStream() {
      @Override
      public int read() {
        return in.read();
      }

      @Override
      public int read(byte[] buf, int off, int len) {
        return in.read(buf, off, Math.min(len, step));
      }
    };
  }

  private static String text(Random rnd, int chars) {
    StringBuilder sb = new StringBuilder();
    int[] samples = {'a', '\n', 0xe9, 0x20ac, 0x1f600, 0xfffd};
    for (int i = 0; i < chars; i++) {
      sb.appendCodePoint(samples[rnd.nextInt(samples.length)]);
    }
    return sb.toString();
  }

  /** Reads {@code r} to its end (or to its failure) in reads of random sizes into {@code out}. */
  private static void drain(StrictUtf8Reader r, Random rnd, StringBuilder out) throws IOException {
    char[] buf = new char[1 + rnd.nextInt(70_000)];
    for (int n; (n = r.read(buf, 0, rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(buf.length))) >= 0; ) {
      out.append(buf, 0, n);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldReadWhatStringReadsAndStopAtTheFirstBadByte(int seed) throws IOException {
    Random rnd = new Random(seed);
    String text = text(rnd, rnd.nextInt(4) == 0 ? 40_000 + rnd.nextInt(40_000) : rnd.nextInt(200));
    byte[] good = text.getBytes(StandardCharsets.UTF_8);
    int step = rnd.nextBoolean() ? 1 + rnd.nextInt(7) : 1 << 20;

    StringBuilder read = new StringBuilder();
    StrictUtf8Reader r = new StrictUtf8Reader(trickle(good, step));
    drain(r, rnd, read);
    assertThat(read.toString()).as("seed %d", seed).isEqualTo(text);
    assertThat(r.read(new char[4], 0, 4)).as("seed %d: the end again", seed).isEqualTo(-1);

    // a bad byte between two characters: 0xFF never starts a sequence; 0x80 never does either
    int chars = rnd.nextInt(text.codePointCount(0, text.length()) + 1);
    String before = text.substring(0, text.offsetByCodePoints(0, chars));
    int at = before.getBytes(StandardCharsets.UTF_8).length;
    int bad = rnd.nextBoolean() ? 0xFF : 0x80;
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(good, 0, at);
    b.write(bad);
    b.write(good, at, good.length - at);
    StringBuilder partial = new StringBuilder();
    StrictUtf8Reader broken = new StrictUtf8Reader(trickle(b.toByteArray(), step));
    assertThatThrownBy(() -> drain(broken, rnd, partial)).as("seed %d", seed)
        .isInstanceOf(StrictUtf8Reader.NotUtf8Exception.class)
        .satisfies(e -> {
          StrictUtf8Reader.NotUtf8Exception n = (StrictUtf8Reader.NotUtf8Exception) e;
          assertThat(n.value).as("seed %d", seed).isEqualTo(bad);
          assertThat(n.offset).as("seed %d", seed).isEqualTo(at);
        });
    assertThat(partial.toString()).as("seed %d: every character before it", seed).isEqualTo(before);
  }
}
