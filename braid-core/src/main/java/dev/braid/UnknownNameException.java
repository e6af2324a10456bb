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
    super(String.format("unknown %s %s; %s are: %s%s", kind, quoted(name), kind.endsWith("sh") ? kind + "es" : kind + "s",
        listed(known), more));
    this.kind = kind;
    this.name = name;
  }

  /** Characters of an unknown name a message repeats at most. */
  static final int ECHOED = 100;

  /**
   * {@code name} in quotes, cut to its first {@value #ECHOED} characters with its length after it when
   * longer: a message names what was asked for, not the 8 kB a client sent in its place.
   */
  public static String quoted(String name) {
    if (name == null || name.length() <= ECHOED) {
      return "'" + name + "'";
    }
    int end = Character.isHighSurrogate(name.charAt(ECHOED - 1)) ? ECHOED - 1 : ECHOED; // not half a character
    return "'" + name.substring(0, end) + "...' (" + name.length() + " characters)";
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
