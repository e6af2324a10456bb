package dev.braid;

import java.util.Map;

/**
 * What Braid cannot do right now, for health checks and status: streams whose ingest is failing
 * (a full disk, an unwritable data directory; cleared by the next append that succeeds on the
 * partition that failed), views (or streams) refused because a file they depend on is damaged
 * (cleared by a repair), streams whose log was found damaged while running (cleared by the next
 * batch cycle that reads it whole), and views whose checkpoints fail.
 *
 * @param ingest stream name to e.g. {@code failing: no space left on device at /data/log/... (No
 *     space left on device)}; a table's name when the appends of its real-time writes fail
 * @param unavailable view or stream name to why it is refused and how to repair it
 * @param damaged stream name to the damaged log file a batch cycle or a replay met while the engine
 *     ran: the stream still takes events and its views serve their current versions, but no new
 *     version of them can be built, and the next start refuses the stream, until the file is restored
 * @param checkpoints view name to why its last checkpoint could not be written (a full disk, say):
 *     it serves, but a restart replays the log from an older checkpoint; cleared by the next
 *     checkpoint written
 */
public record Faults(Map<String, String> ingest, Map<String, String> unavailable, Map<String, String> damaged,
    Map<String, String> checkpoints) {

  public Faults {
    ingest = Map.copyOf(ingest);
    unavailable = Map.copyOf(unavailable);
    damaged = Map.copyOf(damaged);
    checkpoints = Map.copyOf(checkpoints);
  }

  /** Why a repair of {@code view}, whose version {@code serving} serves, is refused: it is not damaged. */
  public static String notDamaged(String view, long serving) {
    return "view '" + view + "' is not damaged: version " + serving + " serves; nothing to repair";
  }

  /** Why a batch cycle of a kappa view is refused. */
  public static String noBatchLayer(String view) {
    return "view '" + view + "' is a kappa view: it has no batch layer";
  }

  /** Whether nothing is failing. */
  public boolean none() {
    return ingest.isEmpty() && unavailable.isEmpty() && damaged.isEmpty() && checkpoints.isEmpty();
  }
}
