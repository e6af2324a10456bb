package dev.braid.spec;

import dev.braid.event.FieldType;
import java.util.Locale;
import java.util.Objects;

/**
 * The type of one field of a table: a scalar ({@code string}, {@code long}, {@code double},
 * {@code boolean}, {@code timestamp}) or a collection of scalars: {@code list<T>}, {@code set<T>},
 * {@code map<string,T>}. Collections do not nest.
 *
 * @param kind scalar or which collection
 * @param element the scalar type, or the collection's element (a map's value) type
 */
public record TableFieldType(Kind kind, FieldType element) {

  /** Whether a field holds one value or a collection. */
  public enum Kind { SCALAR, LIST, SET, MAP }

  public TableFieldType {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(element, "element");
  }

  public static TableFieldType scalar(FieldType t) {
    return new TableFieldType(Kind.SCALAR, t);
  }

  public boolean isCollection() {
    return kind != Kind.SCALAR;
  }

  /** The type as written in a spec: {@code map<string,double>}. */
  public String specName() {
    switch (kind) {
      case LIST:
        return "list<" + element.specName() + ">";
      case SET:
        return "set<" + element.specName() + ">";
      case MAP:
        return "map<string," + element.specName() + ">";
      default:
        return element.specName();
    }
  }

  /**
   * Parses a type name: a scalar type name as for streams, {@code list<T>}, {@code set<T>} or
   * {@code map<string,T>} with a scalar {@code T}.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static TableFieldType parse(String name) {
    String s = name.strip().toLowerCase(Locale.ROOT).replace(" ", "");
    int lt = s.indexOf('<');
    if (lt < 0) {
      return scalar(FieldType.parse(s));
    }
    if (!s.endsWith(">")) {
      throw new IllegalArgumentException("unknown type '" + name + "': a collection type ends with '>', e.g. list<string>");
    }
    String outer = s.substring(0, lt);
    String inner = s.substring(lt + 1, s.length() - 1);
    if (inner.contains("<")) {
      throw new IllegalArgumentException("unsupported type '" + name + "': collections do not nest");
    }
    switch (outer) {
      case "list":
        return new TableFieldType(Kind.LIST, element(inner, name));
      case "set":
        return new TableFieldType(Kind.SET, element(inner, name));
      case "map": {
        int comma = inner.indexOf(',');
        if (comma < 0 || !inner.substring(0, comma).equals("string")) {
          throw new IllegalArgumentException("unsupported type '" + name + "': a map is map<string,T> (string keys)");
        }
        return new TableFieldType(Kind.MAP, element(inner.substring(comma + 1), name));
      }
      default:
        throw new IllegalArgumentException("unknown type '" + name + "': expected a scalar type, list<T>, set<T> or "
            + "map<string,T>");
    }
  }

  private static FieldType element(String inner, String whole) {
    try {
      return FieldType.parse(inner);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown element type in '" + whole + "': " + e.getMessage());
    }
  }
}
