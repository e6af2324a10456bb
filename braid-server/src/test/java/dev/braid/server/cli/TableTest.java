package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * A key or value holding control characters (a line break from a CSV cell, a terminal escape
 * sequence) prints escaped in a table: it neither breaks the table's rows nor drives the terminal.
 */
class TableTest {

  @Test
  void shouldEscapeControlCharactersInCells() {
    assertThat(Table.visible("plain, ümlaut")).isEqualTo("plain, ümlaut");
    assertThat(Table.visible("multi\nline\ttab\r")).isEqualTo("multi\\nline\\ttab\\r");
    assertThat(Table.visible("abc\u202edef\u2067x")).as("a right-to-left override would reverse the row")
        .isEqualTo("abc\\u202edef\\u2067x");
    assertThat(Table.visible("C:\\new")).as("a backslash and an n are not a line break")
        .isEqualTo("C:\\\\new").isNotEqualTo(Table.visible("C:\new"));
    assertThat(Table.visible("esc\u001b[2J del\u007f c1\u009b")).isEqualTo("esc\\u001b[2J del\\u007f c1\\u009b");

    StringWriter out = new StringWriter();
    new Table("key", "value").row("a\nb", "x\u001b[31mRED").row("c", 1).print(new PrintWriter(out));
    assertThat(out.toString().lines()).containsExactly("key   value", "a\\nb  x\\u001b[31mRED", "c     1");
  }
}
