package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link IngestCommand.Lines}: lines with the break that ended each, however the reader hands out its chars. */
class IngestLinesTest {

  /** A reader that returns at most {@code step} chars per read, so a {@code \r\n} can fall across two reads. */
  private static Reader trickle(String text, int step) {
    StringReader in = new StringReader(text);
    return new Reader() {
      @Override
      public int read(char[] cbuf, int off, int len) throws IOException {
        return in.read(cbuf, off, Math.min(len, step));
      }

      @Override
      public void close() {
        in.close();
      }
    };
  }

  private static List<String> lines(String text, int step) throws IOException {
    IngestCommand.Lines lines = new IngestCommand.Lines(trickle(text, step));
    List<String> out = new ArrayList<>();
    for (String line = lines.next(); line != null; line = lines.next()) {
      out.add(line + "|" + lines.end.replace("\r", "CR").replace("\n", "LF"));
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 1 << 16})
  void shouldKeepEachLinesBreak(int step) throws IOException {
    assertThat(lines("a,b\r\n\"x\r\ny\",1\rlast\nno break", step))
        .containsExactly("a,b|CRLF", "\"x|CRLF", "y\",1|CR", "last|LF", "no break|");
    assertThat(lines("\n\r\n\r", step)).containsExactly("|LF", "|CRLF", "|CR");
    assertThat(lines("", step)).isEmpty();
    assertThat(lines("one\n", step)).containsExactly("one|LF");
  }
}
