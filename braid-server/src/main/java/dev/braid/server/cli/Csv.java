package dev.braid.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Typed JSON values from CSV cells ({@link dev.braid.table.CsvRecords} reads the cells). */
final class Csv {

  private Csv() {}

  /**
   * Puts a cell typed as its field: numbers and booleans when they parse, else the text as is, so
   * the server rejects a bad cell with its own precise reason.
   */
  static void put(ObjectNode o, String name, String cell, String type) {
    String v = cell.strip();
    try {
      switch (type) {
        case "long":
        case "timestamp":
          o.put(name, Long.parseLong(v));
          return;
        case "double":
          o.put(name, Double.parseDouble(v));
          return;
        case "boolean":
          if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            o.put(name, Boolean.parseBoolean(v));
            return;
          }
          break;
        default:
          break;
      }
    } catch (NumberFormatException e) {
      // fall through: send the text
    }
    o.put(name, cell);
  }
}
