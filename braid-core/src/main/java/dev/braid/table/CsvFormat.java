package dev.braid.table;

import java.util.ArrayList;
import java.util.List;

/**
 * CSV (RFC 4180 quoting, comma separated) with a header line naming the table's fields; cells of
 * collection fields hold JSON ({@code ["a","b"]}, {@code {"k":1.5}}); an empty cell is an absent
 * value. A quoted cell cannot hold a line break (chunks are cut at line ends).
 */
final class CsvFormat implements PushFormat {

  static final CsvFormat INSTANCE = new CsvFormat();

  @Override
  public String name() {
    return "csv";
  }

  @Override
  public int headerLines() {
    return 1;
  }

  @Override
  public Parser parser(RowSink.Fields fields, String header) {
    if (header != null && header.startsWith("\uFEFF")) {
      header = header.substring(1); // a UTF-8 byte order mark, as spreadsheets write one
    }
    if (header == null || header.isBlank()) {
      throw new IllegalArgumentException("CSV header (line 1) is empty: it must name the fields, e.g. "
          + String.join(",", fields.names()));
    }
    List<String> cols = new ArrayList<>();
    String bad = split(header.strip(), cols);
    if (bad != null) {
      throw new IllegalArgumentException("CSV header (line 1): " + bad);
    }
    int[] map = new int[cols.size()];
    for (int i = 0; i < cols.size(); i++) {
      map[i] = fields.index(cols.get(i).strip());
      if (map[i] < 0) {
        throw new IllegalArgumentException("CSV header (line 1), column " + (i + 1) + ": unknown field '" + cols.get(i)
            + "' (fields: " + String.join(", ", fields.names()) + ")");
      }
    }
    List<String> cells = new ArrayList<>();
    return (buf, from, to, sink) -> {
      int line = 0;
      int p = from;
      while (p < to) {
        int e = p;
        while (e < to && buf[e] != '\n') {
          e++;
        }
        line++;
        int end = e > p && buf[e - 1] == '\r' ? e - 1 : e;
        if (end > p) {
          String text = new String(buf, p, end - p, java.nio.charset.StandardCharsets.UTF_8);
          sink.begin(line);
          cells.clear();
          String why = split(text, cells);
          if (why != null) {
            sink.fail(why);
          } else if (cells.size() != map.length) {
            sink.fail("expected " + map.length + " cells (as in the header), got " + cells.size());
          } else {
            for (int i = 0; i < map.length; i++) {
              String c = cells.get(i);
              if (c == null || c.isEmpty()) {
                sink.nullValue(map[i]);
              } else {
                sink.text(map[i], c);
              }
            }
          }
          sink.end();
        }
        p = e + 1;
      }
    };
  }

  /** Splits one line into cells; returns the reason it is malformed, or null. */
  static String split(String line, List<String> out) {
    StringBuilder cell = new StringBuilder();
    int i = 0;
    int n = line.length();
    while (true) {
      cell.setLength(0);
      if (i < n && line.charAt(i) == '"') {
        i++;
        while (true) {
          if (i >= n) {
            return "unterminated quoted cell (column " + (out.size() + 1) + ")";
          }
          char c = line.charAt(i++);
          if (c == '"') {
            if (i < n && line.charAt(i) == '"') {
              cell.append('"');
              i++;
            } else {
              break;
            }
          } else {
            cell.append(c);
          }
        }
        if (i < n && line.charAt(i) != ',') {
          return "text after a quoted cell (column " + (out.size() + 1) + ")";
        }
      } else {
        while (i < n && line.charAt(i) != ',') {
          cell.append(line.charAt(i++));
        }
      }
      out.add(cell.toString());
      if (i >= n) {
        return null;
      }
      i++; // the comma
    }
  }
}
