package dev.braid.server.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table with aligned columns, for human-readable command output. */
final class Table {

  private final List<String[]> rows = new ArrayList<>();

  Table(String... header) {
    rows.add(header);
  }

  Table row(Object... cells) {
    String[] r = new String[cells.length];
    for (int i = 0; i < cells.length; i++) {
      r[i] = cells[i] == null ? "-" : cells[i] instanceof JsonText j ? visibleJson(j.text())
          : visible(String.valueOf(cells[i]));
    }
    rows.add(r);
    return this;
  }

  /**
   * {@code text} with its control characters and directional overrides written as escapes (a line
   * break as backslash-n, a tab as backslash-t, the escape character as backslash-u001b, a
   * right-to-left override as backslash-u202e, ...) and its backslashes doubled: a key
   * or value holding a line break or a terminal escape sequence would break the table's rows, or
   * drive the terminal, and a key holding a backslash and an n must not read as one holding a line
   * break. {@code --json} gives the values as they are.
   */
  static String visible(String text) {
    return escape(text, false);
  }

  /**
   * {@link #visible} and, with {@code json}, {@link #visibleJson}: a JSON text keeps its backslashes and has every
   * escaped character written as a backslash-u escape, which JSON reads as that character.
   */
  private static String escape(String text, boolean json) {
    StringBuilder sb = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean escaped = c < 0x20 || c >= 0x7f && c < 0xa0 || c == '\\' && !json || bidi(c);
      if (escaped && sb == null) {
        sb = new StringBuilder(text.length() + 8).append(text, 0, i);
      }
      if (sb != null) {
        if (!escaped) {
          sb.append(c);
        } else if (json) {
          sb.append(String.format("\\u%04x", (int) c));
        } else if (c == '\\') {
          sb.append("\\\\");
        } else if (c == '\n') {
          sb.append("\\n");
        } else if (c == '\t') {
          sb.append("\\t");
        } else if (c == '\r') {
          sb.append("\\r");
        } else {
          sb.append(String.format("\\u%04x", (int) c));
        }
      }
    }
    return sb == null ? text : sb.toString();
  }

  /** A cell that holds JSON text (an event as it was sent): shown by {@link #visibleJson}. */
  record JsonText(String text) {}

  /**
   * {@code json}, JSON text, with its control characters and directional overrides written as JSON's own
   * backslash-u escapes and its backslashes as they are: in JSON a backslash already starts an escape, so
   * doubling it (as {@link #visible} does) would show {@code {"a":"x\"y"}} as {@code {"a":"x\\"y"}}, which is
   * not what was sent, while a control character written as its escape means the same JSON.
   */
  static String visibleJson(String json) {
    return escape(json, true);
  }

  /**
   * Whether {@code c} is a directional formatting character (marks, embeddings, overrides,
   * isolates): printed as it is, a right-to-left override reverses the rest of the line on the
   * terminal, so a table's columns after it read in the wrong order.
   */
  private static boolean bidi(char c) {
    return c == '\u200e' || c == '\u200f' || c >= '\u202a' && c <= '\u202e' || c >= '\u2066' && c <= '\u2069';
  }

  void print(PrintWriter out) {
    int cols = rows.get(0).length;
    int[] width = new int[cols];
    for (String[] r : rows) {
      for (int c = 0; c < cols && c < r.length; c++) {
        width[c] = Math.max(width[c], r[c].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder sb = new StringBuilder();
      for (int c = 0; c < cols && c < r.length; c++) {
        if (c > 0) {
          sb.append("  ");
        }
        sb.append(c == cols - 1 ? r[c] : String.format("%-" + width[c] + "s", r[c]));
      }
      out.println(sb.toString().stripTrailing());
    }
    out.flush();
  }
}
