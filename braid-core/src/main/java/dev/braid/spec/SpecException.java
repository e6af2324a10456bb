package dev.braid.spec;

import java.util.List;
import java.util.stream.Collectors;

/** A spec that failed to load or validate; lists every error found, each with its path. */
public final class SpecException extends IllegalArgumentException {
  private final List<SpecError> errors;

  public SpecException(List<SpecError> errors) {
    super(errors.size() == 1 ? "invalid spec: " + errors.get(0)
        : "invalid spec, " + errors.size() + " errors:\n  " + errors.stream().map(SpecError::toString)
            .collect(Collectors.joining("\n  ")));
    this.errors = List.copyOf(errors);
  }

  public List<SpecError> errors() {
    return errors;
  }
}
