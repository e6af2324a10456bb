package dev.braid.log;

import java.util.Collection;

/** A stream name that the log does not hold. */
public final class UnknownStreamException extends LogException {
  public UnknownStreamException(String name, Collection<String> known) {
    super(String.format("unknown stream '%s'; streams are: %s", name, known.isEmpty() ? "(none)" : String.join(", ", known)));
  }
}
