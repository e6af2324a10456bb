package dev.braid.table;

import java.util.ArrayList;
import java.util.List;

/**
 * CSV (RFC 4180 quoting, comma separated) with a header line naming the table's fields; cells of
 * collection fields hold JSON ({@code ["a","b"]}, {@code {"k":1.5}}); an empty cell is an absent
 * value, except that a quoted empty cell ({@code ""}) of a string field is the empty string. A
 * quoted cell may hold line breaks ({@link CsvRecords}: chunks are cut at record ends).
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
    String bad = CsvRecords.split(header.strip(), cols);
    if (bad != null) {
      throw new IllegalArgumentException("CSV header (line 1): " + bad);
    }
    String twice = CsvRecords.duplicate(cols);
    if (twice != null) {
      throw new IllegalArgumentException("CSV header (line 1) names field '" + twice + "' twice");
    }
    int[] map = new int[cols.size()];
    for (int i = 0; i < cols.size(); i++) {
      map[i] = fields.index(cols.get(i).strip());
      if (map[i] < 0) {
        throw new IllegalArgumentException("CSV header (line 1), column " + (i + 1) + ": unknown field '" + cols.get(i)
            + "' (fields: " + String.join(", ", fields.names()) + ")");
      }
    }
    if (!cols.stream().map(String::strip).toList().contains(fields.keyName())) {
      // every row would be a bad row for it: one failure instead, as for an unknown column
      throw new IllegalArgumentException("CSV header (line 1) has no column for the key field '" + fields.keyName()
          + "' (columns: " + String.join(", ", cols) + ")");
    }
    List<String> cells = new ArrayList<>();
    return (buf, from, to, sink) -> {
      int line = 0; // of the record's first line
      int p = from;
      while (p < to) {
        int e = CsvRecords.recordEnd(buf, p, to); // a line break inside quotes is part of a cell
        int lines = 1;
        for (int i = p; i < e; i++) {
          if (buf[i] == '\n') {
            lines++;
          }
        }
        line++;
        int end = e > p && buf[e - 1] == '\r' ? e - 1 : e;
        if (end > p) {
          String text = new String(buf, p, end - p, java.nio.charset.StandardCharsets.UTF_8);
          sink.begin(line);
          cells.clear();
          // the decoder put U+FFFD in place of bytes that are not UTF-8: refused, not stored as another text
          String why = text.indexOf('\uFFFD') >= 0 ? CsvRecords.notUtf8(buf, p, end - p) : null;
          why = why != null ? why : CsvRecords.split(text, cells, true);
          if (why != null) {
            sink.fail(why);
          } else if (cells.size() != map.length) {
            sink.fail("expected " + map.length + " cells (as in the header), got " + cells.size());
          } else {
            for (int i = 0; i < map.length; i++) {
              String c = cells.get(i);
              if (c == null || c.isEmpty() && !fields.isString(map[i])) {
                sink.nullValue(map[i]);
              } else {
                sink.text(map[i], c);
              }
            }
          }
          sink.end();
        }
        line += lines - 1;
        p = e + 1;
      }
    };
  }

  @Override
  public int lastRecordEnd(byte[] buf, int len) {
    return CsvRecords.lastRecordEnd(buf, len);
  }
}
