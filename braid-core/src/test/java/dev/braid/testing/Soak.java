package dev.braid.testing;

/**
 * How many seeds a property test runs: its CI count times {@code -Dbraid.soak=N} (1 by default).
 * {@code mvn -B -pl braid-core test -Dtest='*PropertyTest' -Dbraid.soak=10} runs every property
 * test of the module over ten times the histories; a failure prints its seed, which a test can
 * then keep in its list (see {@code ChangesIncrementalPropertyTest}).
 */
public final class Soak {

  private Soak() {}

  /** {@code ciSeeds} times the soak factor. */
  public static long seeds(long ciSeeds) {
    long factor = Long.getLong("braid.soak", 1);
    if (factor < 1) {
      throw new IllegalArgumentException("-Dbraid.soak must be 1 or more, not " + factor);
    }
    return ciSeeds * factor;
  }
}
