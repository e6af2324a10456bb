package dev.braid.server.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** Just enough CSV (RFC 4180 quoting on one line) to turn rows into typed JSON events. */
final class Csv {

  private Csv() {}

  static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cell = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"') {
          if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
            cell.append('"');
            i++;
          } else {
            quoted = false;
          }
        } else {
          cell.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        out.add(cell.toString());
        cell.setLength(0);
      } else {
        cell.append(c);
      }
    }
    out.add(cell.toString());
    return out;
  }

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
