package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link IngestCommand.Lines}: lines with the break that ended each, however the reader hands out its chars;
 * a byte that is not UTF-8 is named by its line and by its offset in the input (a byte-order mark counted).
 */
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

  /** {@code head}, then {@code bad}, then {@code tail}, as bytes; {@code bom} puts a UTF-8 byte-order mark first. */
  private static byte[] bytes(boolean bom, String head, int bad, String tail) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    if (bom) {
      b.write(0xEF);
      b.write(0xBB);
      b.write(0xBF);
    }
    b.writeBytes(head.getBytes(StandardCharsets.UTF_8));
    b.write(bad);
    b.writeBytes(tail.getBytes(StandardCharsets.UTF_8));
    return b.toByteArray();
  }

  /** {@code b} as {@code braid ingest} reads it, handed out at most {@code step} bytes per read. */
  private static java.io.BufferedReader utf8(byte[] b, int step) throws IOException {
    return IngestCommand.utf8Reader(StrictUtf8ReaderTest.trickle(b, step));
  }

  /**
   * A {@code \r} whose look-ahead for a {@code \n} meets the bad byte ends its line there: the lines before
   * are given whole, and the next call names the line that holds the bad byte.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 1 << 16})
  void shouldEndALineAtACarriageReturnBeforeABadByteAndNameTheNextLine(int step) throws IOException {
    for (boolean bom : new boolean[] {false, true}) {
      byte[] input = bytes(bom, "a\rbb\r", 0xE9, "c\n");
      IngestCommand.Lines lines = new IngestCommand.Lines(utf8(input, step));
      assertThat(lines.next()).isEqualTo("a");
      assertThat(lines.end).isEqualTo("\r");
      assertThat(lines.next()).isEqualTo("bb");
      assertThat(lines.end).isEqualTo("\r");
      // the bad byte is the text's 6th byte: the input's 9th after a mark (offsets are printed from 1)
      assertThatThrownBy(lines::next).as("bom %s", bom)
          .isInstanceOf(IngestCommand.BrokenInput.class)
          .hasMessage("line 3 is not UTF-8 text: byte 0xE9 at byte " + (bom ? 9 : 6) + " of the input");
    }
  }

  /** The same through {@link java.io.BufferedReader#readLine}, as NDJSON is read: a mark moves the offset by 3. */
  @ParameterizedTest
  @ValueSource(ints = {1, 2, 1 << 16})
  void shouldCountAByteOrderMarkInTheOffsetOfABadByte(int step) throws IOException {
    for (boolean bom : new boolean[] {false, true}) {
      java.io.BufferedReader r = utf8(bytes(bom, "{}\r\n{\"x\": \"caf", 0xFF, "\"}\n"), step);
      assertThat(r.readLine()).isEqualTo("{}");
      assertThatThrownBy(r::readLine).as("bom %s", bom)
          .isInstanceOf(StrictUtf8Reader.NotUtf8Exception.class)
          .hasMessage("byte 0xFF at byte " + (bom ? 18 : 15) + " of the input");
    }
    // a mark alone, or two bytes of one, is no text and no mark: the first is nothing, the second refused
    assertThat(utf8(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, step).readLine()).isNull();
    assertThatThrownBy(() -> utf8(new byte[] {(byte) 0xEF, (byte) 0xBB}, step).readLine())
        .isInstanceOf(StrictUtf8Reader.NotUtf8Exception.class)
        .hasMessage("byte 0xEF at byte 1 of the input");
  }
}
