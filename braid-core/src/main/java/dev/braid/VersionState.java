package dev.braid;

/**
 * The lifecycle of a version: {@code building -> current -> backup -> retired}; a build that fails is
 * {@code failed}, a held reprocess dropped by request {@code discarded}, and a rollback makes a
 * backup current again.
 */
public enum VersionState {
  BUILDING, CURRENT, BACKUP, RETIRED, FAILED,
  /** A reprocess held for activation that was dropped by request instead: it never served. */
  DISCARDED;

  /**
   * How many versions that are {@link #gone} a view or table keeps listing (the newest): older ones
   * are forgotten, so that a catalog does not grow with every failed build or retired backup.
   */
  public static final int GONE_KEPT = 8;

  /** Retired, failed or discarded: the version holds no Base and can never serve (again). */
  public boolean gone() {
    return this == RETIRED || this == FAILED || this == DISCARDED;
  }

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
