package dev.braid;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.log.Log;
import dev.braid.spec.PipelineSpec;
import dev.braid.view.Engine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Braid embedded in a JVM: the log, the batch and speed layers, and merged reads of every view.
 *
 * <pre>{@code
 * PipelineSpec spec = PipelineSpec.load(Path.of("braid.yaml"));
 * try (Braid braid = Braid.open(Path.of("data"), spec)) {
 *   braid.ingest("transactions", List.of(Map.of("user_id", "u1", "amount", 12.5, "ts", 1700000000000L)));
 *   ViewResult r = braid.get("spend_by_user", "u1");   // merge(base, delta), with r.asOf()
 *   braid.runBatch("spend_by_user");                    // a new Base at the log's end, swapped in
 * }
 * }</pre>
 *
 * <p>Opening restores every view from the version catalog and replays the log from each current
 * version's cut; it returns once the Deltas have caught up with the log as it was at open. All
 * methods are thread-safe. Reads are answered in-process; nothing here opens a network port.
 */
public interface Braid extends AutoCloseable {

  /** Opens (or creates) the data directory for {@code spec}; one process at a time. */
  static Braid open(Path dataDir, PipelineSpec spec) {
    return Engine.open(dataDir, spec, Runtime.getRuntime().availableProcessors());
  }

  PipelineSpec spec();

  /**
   * Appends the valid events and rejects the others with a reason; returns once the accepted events
   * are as durable as the stream's durability promises.
   */
  IngestResult ingest(String stream, List<? extends Map<String, ?>> events);

  /** As {@link #ingest}, for events parsed from JSON. */
  IngestResult ingestJson(String stream, List<JsonNode> events);

  /**
   * As {@link #ingest}, for events given as JSON text, one per element (e.g. NDJSON lines); text
   * that is not JSON is rejected with its line and column; {@code lines[i]} is the line of element
   * {@code i} in the request (null: {@code i + 1}).
   */
  IngestResult ingestText(String stream, List<String> events, int[] lines);

  /**
   * Events that ingest into {@code stream} refused, with their reasons, from dead-letter offset
   * {@code fromOffset} on (at most {@code limit}).
   */
  List<DeadLetter> deadLetters(String stream, long fromOffset, int limit);

  /** The merged result of {@code key} in {@code view}; over all windows for a windowed view. */
  ViewResult get(String view, String key);

  /** For a windowed view: the windows of {@code key} that start in {@code [fromMillis, toMillis)}. */
  ViewResult get(String view, String key, long fromMillis, long toMillis);

  List<ViewResult> getAll(String view, List<String> keys);

  List<VersionInfo> versions(String view);

  /** Runs a batch cycle of {@code view} now; returns the id of the new current version. */
  long runBatch(String view);

  Status status();

  /** The underlying log (for tools and tests). */
  Log log();

  @Override
  void close();
}
