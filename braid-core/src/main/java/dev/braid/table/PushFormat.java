package dev.braid.table;

import java.util.List;

/**
 * How a bulk push's input is read: JSON lines and CSV are built in ({@link #jsonLines()},
 * {@link #csv()}); Parquet or Avro would be further implementations. The input is cut into chunks
 * at record ends ({@link #lastRecordEnd}: line ends, for CSV those outside quoted cells) and chunks
 * are parsed in parallel, one {@link Parser} per thread.
 *
 * <p>A parser reports each row to a {@link RowSink} field by field and never builds objects for
 * scalar values; the sink checks types and encodes the row. A row the parser cannot read is
 * reported with {@link RowSink#fail} and its line; parsing continues with the next line.
 */
public interface PushFormat {

  /** The name used by {@code braid push --format} and {@code ?format=}: {@code jsonl}, {@code csv}. */
  String name();

  /** Lines at the start of the input that describe it (a CSV header) rather than hold rows. */
  int headerLines();

  /**
   * A parser for one thread.
   *
   * @param header the text of the first {@link #headerLines()} lines, or null when there are none
   * @throws IllegalArgumentException when the header does not fit the table, naming what is wrong
   */
  Parser parser(RowSink.Fields fields, String header);

  /**
   * The index of the last byte of {@code buf[0, len)} that ends a row (a line break), reading from
   * a row's start at 0; -1 when no row ends there. Chunks are cut just after it.
   */
  default int lastRecordEnd(byte[] buf, int len) {
    for (int i = len - 1; i >= 0; i--) {
      if (buf[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** Parses chunks of whole lines. */
  interface Parser {
    /** Parses {@code buf[from, to)}; line numbers are 1-based relative to {@code from}. */
    void parse(byte[] buf, int from, int to, RowSink sink);
  }

  /** Receives parsed rows; implemented by Braid, one per parsing thread. */
  interface RowSink {

    /** The table's fields by name. */
    interface Fields {
      /** The index of field {@code name}, or -1. */
      int index(String name);

      List<String> names();

      /** The table's key field, which every row must have. */
      String keyName();

      /** Whether field {@code field} (by {@link #index}) is a string, not a collection or another scalar. */
      boolean isString(int field);
    }

    /** Starts a row at {@code line} (1-based, relative to the chunk). */
    void begin(int line);

    /** A JSON string (or CSV text of a string field). */
    void string(int field, char[] chars, int off, int len);

    void longValue(int field, long v);

    void doubleValue(int field, double v);

    void booleanValue(int field, boolean v);

    /** Untyped text (a CSV cell): read as the field's type; a collection from its JSON text. */
    void text(int field, String text);

    /** A collection value: a {@code List} of scalars or a {@code Map} of string keys to scalars. */
    void collection(int field, Object value);

    void nullValue(int field);

    /** The current row is bad; {@code reason} says why. Its remaining fields are ignored. */
    void fail(String reason);

    /** Ends the current row. */
    void end();
  }

  static PushFormat jsonLines() {
    return JsonLinesFormat.INSTANCE;
  }

  static PushFormat csv() {
    return CsvFormat.INSTANCE;
  }

  /**
   * The built-in format called {@code name} ({@code jsonl}, {@code ndjson}, {@code json}, {@code csv}).
   *
   * @throws IllegalArgumentException for another name, listing the known ones
   */
  static PushFormat byName(String name) {
    switch (name.toLowerCase(java.util.Locale.ROOT)) {
      case "jsonl":
      case "ndjson":
      case "json":
        return jsonLines();
      case "csv":
        return csv();
      default:
        throw new IllegalArgumentException("unknown push format '" + name + "': expected jsonl or csv");
    }
  }
}
