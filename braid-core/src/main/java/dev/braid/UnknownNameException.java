package dev.braid;

import java.util.Collection;

/** A view, stream or table name that the engine does not have; the message lists the known names. */
public final class UnknownNameException extends IllegalArgumentException {
  private final String kind;
  private final String name;

  public UnknownNameException(String kind, String name, Collection<String> known) {
    super(String.format("unknown %s '%s'; %s are: %s", kind, name, kind.endsWith("sh") ? kind + "es" : kind + "s",
        known.isEmpty() ? "(none)" : String.join(", ", known)));
    this.kind = kind;
    this.name = name;
  }

  public String kind() {
    return kind;
  }

  public String name() {
    return name;
  }
}
