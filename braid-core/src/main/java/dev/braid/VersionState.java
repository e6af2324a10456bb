package dev.braid;

/** The lifecycle of a view version: {@code building -> current -> backup -> retired} (or {@code failed}). */
public enum VersionState {
  BUILDING, CURRENT, BACKUP, RETIRED, FAILED;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
