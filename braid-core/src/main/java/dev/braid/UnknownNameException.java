package dev.braid;

import java.util.Collection;

/** A view, stream or table name that the engine does not have; the message lists the known names. */
public final class UnknownNameException extends IllegalArgumentException {
  private final String kind;
  private final String name;

  /** Names a message lists at most; the count of the rest follows them. */
  static final int LISTED = 20;

  public UnknownNameException(String kind, String name, Collection<String> known) {
    this(kind, name, known, "");
  }

  /** As above, with {@code more} (starting with its own separator) after the known names. */
  public UnknownNameException(String kind, String name, Collection<String> known, String more) {
    super(String.format("unknown %s '%s'; %s are: %s%s", kind, name, kind.endsWith("sh") ? kind + "es" : kind + "s",
        listed(known), more));
    this.kind = kind;
    this.name = name;
  }

  /** The known names, the first {@value #LISTED} of them and how many more there are. */
  private static String listed(Collection<String> known) {
    if (known.isEmpty()) {
      return "(none)";
    }
    if (known.size() <= LISTED) {
      return String.join(", ", known);
    }
    return String.join(", ", known.stream().limit(LISTED).toList()) + " and " + (known.size() - LISTED) + " more";
  }

  public String kind() {
    return kind;
  }

  public String name() {
    return name;
  }
}
