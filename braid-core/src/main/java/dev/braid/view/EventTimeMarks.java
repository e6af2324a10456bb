package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Each stream's per-partition largest event time and the log position it was read up to, and the
 * stream's watermark ({@link SpeedLayer#eventTimeMarks}), kept in {@code event-times.json} in the
 * data directory so that a restart starts the watermark where it was, not at the largest time after
 * the current version's cut (the speed layer resumes from a Delta's position and does not read what
 * is before it again), nor back at the smallest partition's while partitions that were idle before
 * the restart are not idle again yet. Written with every checkpoint round and on close, replaced atomically; a file that
 * cannot be read is only a warning, since the marks are an optimization of the watermark's start.
 *
 * <pre>{@code
 * {"format": 1, "streams": {"sales": [[1204, 1796167854604], [1187, 1796167853990]]},
 *  "watermarks": {"sales": 1796167853990}}
 * }</pre>
 */
final class EventTimeMarks {

  static final String FILE = "event-times.json";
  private static final Logger LOG = LoggerFactory.getLogger(EventTimeMarks.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private EventTimeMarks() {}

  /**
   * One stream's marks: {@code {position, maxEventTime}} per partition, and the stream's watermark
   * ({@code Long.MIN_VALUE} when not recorded: files written before it was).
   */
  record Marks(long[][] partitions, long watermark) {}

  /** The marks recorded in {@code dataDir}, by stream; empty when there are none or they cannot be read. */
  static Map<String, Marks> load(Path dataDir) {
    Path file = dataDir.resolve(FILE);
    Map<String, Marks> out = new LinkedHashMap<>();
    try {
      JsonNode root = JSON.readTree(Files.readAllBytes(file));
      if (root == null || root.path("format").asInt() != 1) {
        throw new IOException("not an event-time marks file of format 1");
      }
      for (Map.Entry<String, JsonNode> e : root.path("streams").properties()) {
        JsonNode parts = e.getValue();
        long[][] marks = new long[parts.size()][];
        for (int p = 0; p < marks.length; p++) {
          JsonNode m = parts.get(p);
          if (!m.isArray() || m.size() != 2 || !m.get(0).canConvertToLong() || !m.get(1).canConvertToLong()) {
            throw new IOException("stream '" + e.getKey() + "' partition " + p + ": expected [position, max event time]");
          }
          marks[p] = new long[] {m.get(0).asLong(), m.get(1).asLong()};
        }
        JsonNode w = root.path("watermarks").path(e.getKey());
        out.put(e.getKey(), new Marks(marks, w.canConvertToLong() ? w.asLong() : Long.MIN_VALUE));
      }
    } catch (NoSuchFileException e) {
      return out;
    } catch (IOException | RuntimeException e) {
      LOG.warn("ignoring {}: {}; watermarks start from the events read after the restart", file, e.getMessage());
      out.clear();
    }
    return out;
  }

  /** Records {@code marks} (by stream) in {@code dataDir}. */
  static void store(Path dataDir, Map<String, Marks> marks) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", 1);
    ObjectNode streams = root.putObject("streams");
    ObjectNode watermarks = root.putObject("watermarks");
    marks.forEach((stream, m) -> {
      ArrayNode a = streams.putArray(stream);
      for (long[] p : m.partitions()) {
        a.addArray().add(p[0]).add(p[1]);
      }
      if (m.watermark() != Long.MIN_VALUE) {
        watermarks.put(stream, m.watermark());
      }
    });
    VersionCatalog.replaceAtomically(dataDir.resolve(FILE), JSON.writeValueAsBytes(root));
  }
}
