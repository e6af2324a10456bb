package dev.braid.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Typed JSON values from CSV cells ({@link dev.braid.table.CsvRecords} reads the cells). */
final class Csv {

  private Csv() {}

  /** A number as JSON writes one (no sign but minus, no leading zeros, no bare point), with a short exponent. */
  private static final java.util.regex.Pattern JSON_NUMBER =
      java.util.regex.Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]{1,4})?");

  /**
   * Puts a cell typed as its field, read as {@code braid push} reads a table's CSV cell ({@link
   * dev.braid.table.CsvRecords#isWholeNumber}, {@link dev.braid.table.CsvRecords#decimal}, blanks
   * around a number, boolean or timestamp stripped): numbers and booleans when they are written as
   * such (a long or timestamp cell such as {@code 1e2} or {@code 1.5} as the number, taken or refused
   * by the server as the same number in JSON), a number too large for its field as the number
   * written (so that the server rejects it as a number out of range, not as the string {@code
   * "Infinity"}), else the text, which the server rejects with its own precise reason.
   */
  static void put(ObjectNode o, String name, String cell, String type) {
    String v = cell.strip();
    switch (type) {
      case "long":
      case "timestamp":
        if (dev.braid.table.CsvRecords.isWholeNumber(v)) {
          Long l = dev.braid.table.CsvRecords.wholeNumber(v);
          if (l != null) {
            o.put(name, l.longValue());
          } else {
            o.put(name, new java.math.BigInteger(v)); // past a long
          }
          return;
        }
        if (JSON_NUMBER.matcher(v).matches()) { // 1e2, 1.0: a number, which the server takes or refuses as in JSON
          o.put(name, new java.math.BigDecimal(v));
          return;
        }
        if (type.equals("timestamp")) {
          o.put(name, v); // ISO-8601 text
          return;
        }
        break;
      case "double":
        double x = dev.braid.table.CsvRecords.decimal(v);
        if (Double.isFinite(x)) {
          o.put(name, x);
          return;
        } else if (x == x) {
          try {
            o.put(name, new java.math.BigDecimal(v)); // past a double: the server's reason is about a number
            return;
          } catch (NumberFormatException e) {
            break; // an exponent past an int (1e9999999999): the text, which the server rejects
          }
        }
        break;
      case "boolean":
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
          o.put(name, Boolean.parseBoolean(v));
          return;
        }
        break;
      default:
        break;
    }
    o.put(name, cell);
  }
}
