package dev.braid.table;

import java.util.List;

/**
 * CSV records as RFC 4180 writes them: comma-separated cells, a cell in double quotes may hold
 * commas, line breaks and quotes (doubled: {@code ""}). A record ends at a line break outside
 * quotes, so one record can span several lines. A quote opens a quoted cell only at the cell's
 * start; elsewhere (as in {@code 5"} for five inches) it is text, as many CSV writers leave it.
 * Used by table pushes ({@code braid push}) and by {@code braid ingest} for CSV files.
 */
public final class CsvRecords {

  private CsvRecords() {}

  /**
   * Why the bytes {@code buf[off, off + len)} of a record are not UTF-8 text, naming the first byte
   * that is not and where it is, or null when they are.
   */
  public static String notUtf8(byte[] buf, int off, int len) {
    java.nio.charset.CharsetDecoder d = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
    java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(buf, off, len);
    java.nio.charset.CoderResult r = d.decode(in, java.nio.CharBuffer.allocate(len), true);
    if (!r.isError()) {
      return null;
    }
    return String.format("not UTF-8 text: byte 0x%02X at byte %d of the record", buf[in.position()] & 0xff,
        in.position() - off + 1);
  }

  /**
   * Whether {@code text} (one or more whole lines, from a record's start) ends inside a quoted cell:
   * the record goes on at the next line.
   */
  public static boolean endsInQuotes(CharSequence text) {
    Quotes q = new Quotes();
    for (int i = 0; i < text.length(); i++) {
      q.take(text.charAt(i));
    }
    return q.in;
  }

  /**
   * The index of the last line break of {@code buf[0, len)} that ends a record (one outside quotes,
   * reading from a record's start at 0), or -1 when there is none.
   */
  public static int lastRecordEnd(byte[] buf, int len) {
    int last = -1;
    for (int e = recordEnd(buf, 0, len); e < len; e = recordEnd(buf, e + 1, len)) {
      last = e;
    }
    return last;
  }

  /**
   * The index of the line break that ends the record starting at {@code from} (the first one outside
   * quotes), or {@code to} when the record runs to the end of {@code buf[from, to)}.
   */
  static int recordEnd(byte[] buf, int from, int to) {
    Quotes q = new Quotes();
    for (int i = from; i < to; i++) {
      if (q.take(buf[i])) {
        return i;
      }
    }
    return to;
  }

  /**
   * Where a record's line breaks are, read one character (or byte: the characters that matter are
   * ASCII) at a time, as {@link #split} reads cells: a quote opens a quoted cell only at the cell's
   * start, and inside one a doubled quote is a quote and a single one closes it. A quote anywhere
   * else is a character of its cell: {@code ab"c} is the text {@code ab"c}, and does not make the
   * lines after it part of its record.
   */
  private static final class Quotes {
    /** Inside a quoted cell. */
    boolean in;
    /** The last character closed a quoted cell, unless the next is a quote (a doubled one). */
    private boolean closed;
    private boolean cellStart = true;

    /** Takes the next character; true when it is a line break that ends the record. */
    boolean take(int c) {
      if (in) {
        if (c == '"') {
          in = false;
          closed = true;
        }
        return false;
      }
      if (closed) {
        closed = false;
        if (c == '"') { // "" inside the cell: a quote, and the cell goes on
          in = true;
          return false;
        }
      }
      if (c == '\n') {
        cellStart = true; // the next record's first cell
        return true;
      }
      if (c == '"' && cellStart) {
        in = true;
        cellStart = false;
      } else {
        cellStart = c == ',';
      }
      return false;
    }
  }

  /**
   * Splits one record (without its final line break) into {@code out}'s cells; returns why it is
   * malformed, or null. Quotes are taken only around a whole cell.
   */
  public static String split(CharSequence record, List<String> out) {
    return split(record, out, false);
  }

  /**
   * {@link #split(CharSequence, List)}, with an empty cell that is not quoted added as null when
   * {@code emptyAsNull}: a row's absent value, while a quoted empty cell ({@code ""}) is an empty
   * string (as PostgreSQL's {@code COPY ... CSV} reads them).
   */
  public static String split(CharSequence record, List<String> out, boolean emptyAsNull) {
    StringBuilder cell = new StringBuilder();
    int i = 0;
    int n = record.length();
    while (true) {
      cell.setLength(0);
      if (i < n && record.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= n) {
            return "quoted cell (column " + (out.size() + 1) + ") is never closed: a quote opens it and no quote "
                + "ends it before the end of the input";
          }
          char c = record.charAt(i++);
          if (c == '"') {
            if (i < n && record.charAt(i) == '"') {
              cell.append('"');
              i++;
            } else {
              break;
            }
          } else {
            cell.append(c);
          }
        }
        if (i < n && record.charAt(i) != ',') {
          return "text after a quoted cell (column " + (out.size() + 1) + "); a quote inside a quoted cell is "
              + "written \"\"";
        }
        out.add(cell.toString());
      } else {
        while (i < n && record.charAt(i) != ',') {
          cell.append(record.charAt(i++));
        }
        out.add(emptyAsNull && cell.isEmpty() ? null : cell.toString());
      }
      if (i >= n) {
        return null;
      }
      i++; // the comma
    }
  }

  /** The first name that {@code header} holds twice, or null. */
  public static String duplicate(List<String> header) {
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String h : header) {
      if (!seen.add(h.strip())) {
        return h.strip();
      }
    }
    return null;
  }

  /**
   * Whether {@code s} is a whole number as a CSV cell writes one: an optional sign, then the digits
   * 0-9 ({@link Long#parseLong} takes other scripts' digits too, which a JSON number cannot hold).
   */
  public static boolean isWholeNumber(String s) {
    int i = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+') ? 1 : 0;
    if (i == s.length()) {
      return false;
    }
    for (; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return false;
      }
    }
    return true;
  }

  /** {@code s} as a long when it is a whole number ({@link #isWholeNumber}) that fits one, else null. */
  public static Long wholeNumber(String s) {
    if (!isWholeNumber(s)) {
      return null;
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return null; // past a long
    }
  }

  /**
   * {@code s} as a decimal number (digits, a point, a sign, an exponent), or NaN when it is not one:
   * Java's other forms ({@code NaN}, {@code Infinity}, {@code 0x1p3}, {@code 1d}) are not numbers in
   * CSV. A number too large for a double is infinite.
   */
  public static double decimal(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c < '0' || c > '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
        return Double.NaN;
      }
    }
    try {
      return Double.parseDouble(s); // the grammar on those characters: sign, digits, point, exponent
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }
}
