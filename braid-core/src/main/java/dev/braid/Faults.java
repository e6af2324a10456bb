package dev.braid;

import java.util.Map;

/**
 * What Braid cannot do right now, for health checks and status: streams whose ingest is failing
 * (a full disk, an unwritable data directory; cleared by the next append that succeeds) and views
 * (or streams) refused because a file they depend on is damaged (cleared by a repair).
 *
 * @param ingest stream name to e.g. {@code failing: no space left on device at /data/log/... (No
 *     space left on device)}
 * @param unavailable view or stream name to why it is refused and how to repair it
 */
public record Faults(Map<String, String> ingest, Map<String, String> unavailable) {

  public Faults {
    ingest = Map.copyOf(ingest);
    unavailable = Map.copyOf(unavailable);
  }

  /** Whether nothing is failing. */
  public boolean none() {
    return ingest.isEmpty() && unavailable.isEmpty();
  }
}
