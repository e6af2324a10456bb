package dev.braid.event;

import java.util.Locale;

/** The type of one field of a stream's events. */
public enum FieldType {
  STRING,
  LONG,
  DOUBLE,
  BOOLEAN,
  /** Epoch milliseconds; accepted as a number (millis) or an ISO-8601 string. */
  TIMESTAMP;

  /** Whether values of this type are numbers an aggregation can add up. */
  public boolean isNumeric() {
    return this == LONG || this == DOUBLE || this == TIMESTAMP;
  }

  /** Whether this type is stored in the fixed 8-byte section of an encoded event. */
  public boolean isFixedWidth() {
    return this != STRING;
  }

  public String specName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a spec type name: string, long (or int), double (or float), boolean, timestamp. */
  public static FieldType parse(String name) {
    switch (name.strip().toLowerCase(Locale.ROOT)) {
      case "string":
        return STRING;
      case "long":
      case "int":
      case "integer":
        return LONG;
      case "double":
      case "float":
        return DOUBLE;
      case "boolean":
      case "bool":
        return BOOLEAN;
      case "timestamp":
        return TIMESTAMP;
      default:
        throw new IllegalArgumentException(
            "unknown type '" + name + "': expected string, long, double, boolean or timestamp");
    }
  }
}
