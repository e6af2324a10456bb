package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.VersionState;
import dev.braid.log.CorruptLogException;
import dev.braid.log.Cut;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable record of every view's versions: which is current, the cut of each, where its Base
 * lives, and its definition. Stored as {@code catalog.json} and replaced atomically (temporary file,
 * fsync, rename, directory fsync), so after a crash the catalog is either the old or the new one.
 * The catalog is the commit point of a batch cycle: a Base file that no catalog entry names is an
 * orphan of an interrupted cycle and is deleted on start.
 *
 * <pre>{@code
 * {"format": 1, "views": {"spend": {"next": 4, "specDefinition": "from=...;...", "versions": [
 *   {"id": 3, "state": "current", "cut": [120, 98], "base": "v3.base",
 *    "definition": "from=...;...", "spec": {"from": "tx", "group_by": "user", ...},
 *    "createdAt": 1795330000000, "baseSkipped": 2, "baseWithoutKey": 15}]}}}
 * }</pre>
 *
 * A version still {@code building} (a reprocess) is built again after a restart, from its cut;
 * {@code "hold": true} marks one whose reprocess waits for an activation once it has caught up. A
 * {@code backup} with {@code "rollback": true} is one a rollback is making current (it stays a backup
 * on disk until its switch): a restart resumes the rollback.
 * {@code "lateFloor": [t0, t1, ...]} (views with {@code allowed_lateness}) is the event time per
 * partition below which the version's lateness reference at its cut never falls: the reference the
 * version before it had there (see {@code Version#lateFloor}).
 *
 * {@code definition} is {@link dev.braid.spec.ViewSpec#definition()}, compared with the spec file's;
 * {@code spec} is the version's full definition (a view as written under {@code views:}), so that a
 * version built by a reprocess can be rebuilt after a restart. {@code specDefinition} is the spec
 * file's definition of the view when the catalog was written: a change of the file shows as a
 * difference to it (catalogs written before these fields existed lack them).
 *
 * <p>{@code "dropped": {"spend": {"next": 7, "nextChange": 1200}}} keeps, per name of a view that
 * {@code braid drop} removed, the version id and the changes feed's event id it reached, so that a
 * view created again under that name continues from them: a version id or a change id a client
 * holds never names something else (a reader of the old changes feed resuming with its last id gets
 * the new view's events from the first). A build that predates the section drops it when it writes
 * the catalog.
 */
public final class VersionCatalog {

  private static final Logger LOG = LoggerFactory.getLogger(VersionCatalog.class);

  /**
   * One version as recorded. {@code baseSkipped} and {@code baseWithoutKey} are the events before
   * the cut that a view version's Base left out, because an expression or an aggregation failed on
   * them or because they have no value for the group key; -1 when not known (a table's version, or a
   * catalog written before these fields existed), and recorded only for a version with a Base.
   * {@code rollback} marks a backup that a rollback is making current: a restart resumes the rollback.
   */
  public record Entry(long id, VersionState state, Cut cut, String base, String definition, String document,
      long createdAt, String failure, long baseSkipped, long baseWithoutKey, boolean hold, long[] lateFloor,
      boolean rollback) {

    /** A version that no rollback is making current. */
    public Entry(long id, VersionState state, Cut cut, String base, String definition, String document,
        long createdAt, String failure, long baseSkipped, long baseWithoutKey, boolean hold, long[] lateFloor) {
      this(id, state, cut, base, definition, document, createdAt, failure, baseSkipped, baseWithoutKey, hold,
          lateFloor, false);
    }

    /** A version without a lateness floor (see {@code Version#lateFloor}). */
    public Entry(long id, VersionState state, Cut cut, String base, String definition, String document,
        long createdAt, String failure, long baseSkipped, long baseWithoutKey, boolean hold) {
      this(id, state, cut, base, definition, document, createdAt, failure, baseSkipped, baseWithoutKey, hold, null);
    }

    /** A version that is not a reprocess held for activation. */
    public Entry(long id, VersionState state, Cut cut, String base, String definition, String document,
        long createdAt, String failure, long baseSkipped, long baseWithoutKey) {
      this(id, state, cut, base, definition, document, createdAt, failure, baseSkipped, baseWithoutKey, false);
    }

    /** A version without counts of left-out events (a table's). */
    public Entry(long id, VersionState state, Cut cut, String base, String definition, String document,
        long createdAt, String failure) {
      this(id, state, cut, base, definition, document, createdAt, failure, -1, -1);
    }
  }

  /** One view as recorded; {@code specDefinition} may be null (older catalogs). */
  public record ViewEntry(long next, String specDefinition, List<Entry> versions) {}

  /**
   * What a dropped view's name reached: its next version id, and the next id of its changes feed
   * (the end of its changes log; 0 if it had none).
   */
  public record Dropped(long next, long nextChange) {

    /** What both reached: the larger of each. */
    Dropped max(Dropped other) {
      return other == null ? this : new Dropped(Math.max(next, other.next), Math.max(nextChange, other.nextChange));
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a catalog of format 1 holds at its top level. */
  private static final List<String> SECTIONS = List.of("format", "views", "tables", "dropped");

  private final Path file;

  VersionCatalog(Path file) {
    this.file = file;
  }

  /**
   * Deletes the temporary file of a store that a crash interrupted: the rename never happened, so
   * the catalog on disk is the previous one, whole. Returns whether there was one.
   */
  boolean removeInterruptedStore() throws IOException {
    return Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".tmp"));
  }

  /**
   * Refuses to start without a catalog when {@code dataDir} holds files of earlier versions. A missing
   * catalog would otherwise look like a first start: every version would begin afresh and the files
   * no catalog names would be swept as orphans, among them tables' Bases, whose pushed rows exist
   * nowhere else. A crash cannot leave that state (the first catalog is stored before any Base,
   * checkpoint or closed-window run is written), so it means the file was lost or removed.
   */
  void requirePresentFor(Path dataDir) throws IOException {
    if (Files.exists(file)) {
      return;
    }
    List<Path> kept = new ArrayList<>();
    for (String section : List.of("views", "tables")) {
      Path dir = dataDir.resolve(section);
      if (Files.isDirectory(dir)) {
        try (var files = Files.walk(dir, 2)) {
          files.filter(f -> Files.isRegularFile(f) && isVersionFile(f.getFileName().toString())).forEach(kept::add);
        }
      }
    }
    // a Base first: what a missing catalog puts at stake (a checkpoint or run can be rebuilt)
    kept.sort(java.util.Comparator.comparing((Path f) -> !f.getFileName().toString().endsWith(".base"))
        .thenComparing(Path::toString));
    if (!kept.isEmpty()) {
      throw new IllegalStateException(String.format("the version catalog %s is missing, but %s holds %d file%s of "
          + "the versions it would name (%s%s); restore %s from a backup, or, to start every view and table afresh "
          + "from the log (a table's pushed rows are then lost), move the directories views/ and tables/ away",
          file, dataDir, kept.size(), kept.size() == 1 ? "" : "s", dataDir.relativize(kept.get(0)),
          kept.size() == 1 ? "" : ", ...", file.getFileName()));
    }
  }

  /**
   * What to do about a damaged catalog (Braid replaces it atomically, so only a damaged disk or an
   * edit makes one): as for a missing one with version files beside it.
   */
  private static final String DAMAGED_REMEDY = "; restore it from a backup, or, to start every view and table "
      + "afresh from the log (a table's pushed rows are then lost), move it and the directories views/ and "
      + "tables/ away";

  static boolean isVersionFile(String name) {
    return name.endsWith(".base") || name.endsWith(".ckpt") || name.endsWith(".closed");
  }

  Map<String, ViewEntry> load() {
    return load("views");
  }

  /** The tables' versions (section {@code tables}; same form as a view's). */
  Map<String, ViewEntry> loadTables() {
    return load("tables");
  }

  /** The names of dropped views and what each reached (section {@code dropped}). */
  Map<String, Dropped> loadDropped() {
    Map<String, Dropped> out = new LinkedHashMap<>();
    JsonNode root = readRoot();
    if (root != null) {
      root.path("dropped").fields().forEachRemaining(e -> out.put(e.getKey(),
          new Dropped(Math.max(1, e.getValue().path("next").asLong(1)), Math.max(0, e.getValue().path("nextChange")
              .asLong(0)))));
    }
    return out;
  }

  private Map<String, ViewEntry> load(String section) {
    Map<String, ViewEntry> out = new LinkedHashMap<>();
    JsonNode root = readRoot();
    return root == null ? out : load(root, section, out);
  }

  /** The catalog's JSON, checked for its format; null when there is no catalog yet. */
  private JsonNode readRoot() {
    if (!Files.exists(file)) {
      return null;
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new CorruptLogException("catalog", file, jsonOffset(e), "version catalog is not valid JSON: "
          + jsonProblem(e) + DAMAGED_REMEDY);
    }
    if (root != null && root.path("format").asInt() > 1) {
      throw new IllegalStateException("the version catalog " + file + " has format " + root.path("format").asInt()
          + ", written by a newer Braid build than this one, which reads format 1: run that build");
    }
    if (root == null || root.path("format").asInt() != 1) {
      throw new CorruptLogException("catalog", file, 0, "version catalog has an unknown format" + DAMAGED_REMEDY);
    }
    for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!SECTIONS.contains(name)) { // a section renamed would read as one without entries, whose files are deleted
        throw damaged("'" + name + "' is not a section of a catalog (" + String.join(", ", SECTIONS) + ")");
      }
    }
    return root;
  }

  /**
   * Checks the form of {@code section} before anything is read from it: a catalog that Braid did not
   * write whole (an edit, a damaged disk) but that is still JSON must not read as a catalog without
   * views, tables or versions, whose files the start would then delete as orphans; nor may it give
   * the next version an id that a version has, whose Base would be written over.
   */
  private void check(JsonNode root, String section) {
    JsonNode sec = root.path(section);
    if (sec.isMissingNode() && !section.equals("views")) {
      return; // written only when there is something to write
    }
    if (!sec.isObject()) {
      throw damaged("'" + section + "' is " + describe(sec) + ", not an object naming each of its " + section);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = sec.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String at = section + "." + e.getKey();
      JsonNode entry = e.getValue();
      JsonNode next = entry.path("next");
      if (!entry.isObject() || !next.canConvertToLong() || !next.isIntegralNumber() || next.asLong() < 1) {
        throw damaged(at + (entry.isObject() ? ".next is " + describe(next) + ", not a version id (a whole number "
            + "from 1)" : " is " + describe(entry) + ", not an object"));
      }
      if (!entry.path("versions").isArray()) {
        throw damaged(at + ".versions is " + describe(entry.path("versions")) + ", not an array of versions");
      }
      Set<Long> ids = new HashSet<>();
      int i = 0;
      for (JsonNode v : entry.path("versions")) {
        String vat = at + ".versions[" + i++ + "]";
        JsonNode id = v.path("id");
        if (!v.isObject() || !id.isIntegralNumber() || !id.canConvertToLong() || id.asLong() < 1) {
          throw damaged(vat + (v.isObject() ? ".id is " + describe(id) + ", not a version id (a whole number from 1)"
              : " is " + describe(v) + ", not an object"));
        }
        if (!ids.add(id.asLong())) {
          throw damaged(vat + ".id " + id.asLong() + " is the id of another version of " + e.getKey() + " too");
        }
        if (id.asLong() >= next.asLong()) {
          throw damaged(vat + ".id " + id.asLong() + " is not below " + at + ".next (" + next.asLong() + "): the next "
              + "version would take the id of an existing one, and write over its files");
        }
        if (!v.path("state").isTextual()) {
          throw damaged(vat + ".state is " + describe(v.path("state")) + ", not a version state");
        }
        JsonNode cut = v.path("cut");
        boolean offsets = cut.isArray();
        for (JsonNode o : cut) {
          offsets &= o.isIntegralNumber() && o.canConvertToLong() && o.asLong() >= 0;
        }
        if (!offsets) {
          throw damaged(vat + ".cut is " + describe(cut) + ", not an array of offsets (whole numbers from 0)");
        }
      }
    }
  }

  private CorruptLogException damaged(String what) {
    return new CorruptLogException("catalog", file, 0, "version catalog is damaged: " + what + DAMAGED_REMEDY);
  }

  /** A JSON value in a few words, for a message. */
  private static String describe(JsonNode n) {
    if (n.isMissingNode()) {
      return "missing";
    }
    String text = n.toString();
    return text.length() > 40 ? text.substring(0, 40) + "..." : text;
  }

  private Map<String, ViewEntry> load(JsonNode root, String section, Map<String, ViewEntry> out) {
    check(root, section);
    root.path(section).fields().forEachRemaining(e -> {
      List<Entry> versions = new ArrayList<>();
      for (JsonNode v : e.getValue().path("versions")) {
        long[] cut = new long[v.path("cut").size()];
        for (int i = 0; i < cut.length; i++) {
          cut[i] = v.path("cut").get(i).asLong();
        }
        versions.add(new Entry(v.path("id").asLong(), state(section, e.getKey(), v.path("state").asText()),
            Cut.of(cut), v.path("base").isNull() ? null : v.path("base").asText(null),
            v.path("definition").asText(), v.path("spec").isObject() ? v.path("spec").toString() : null,
            v.path("createdAt").asLong(), v.path("failure").asText(null), v.path("baseSkipped").asLong(-1),
            v.path("baseWithoutKey").asLong(-1), v.path("hold").asBoolean(false), lateFloor(v.path("lateFloor")),
            v.path("rollback").asBoolean(false)));
      }
      out.put(e.getKey(), new ViewEntry(e.getValue().path("next").asLong(1),
          e.getValue().path("specDefinition").asText(null), versions));
    });
    return out;
  }

  /** Where Jackson stopped reading a JSON file that {@code e} refused, in bytes; 0 when it does not say. */
  static long jsonOffset(IOException e) {
    if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j && j.getLocation() != null) {
      long at = j.getLocation().getByteOffset();
      return at >= 0 ? at : Math.max(0, j.getLocation().getCharOffset());
    }
    return 0;
  }

  /** What was wrong with a JSON file that {@code e} refused, on one line, without Jackson's source note. */
  static String jsonProblem(IOException e) {
    if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
      String what = String.valueOf(j.getOriginalMessage()).replaceAll("\\s+", " ").strip();
      return j.getLocation() == null ? what
          : what + " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")";
    }
    return e.getMessage();
  }

  private VersionState state(String section, String name, String text) {
    try {
      return VersionState.valueOf(text.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new CorruptLogException("catalog", file, 0, String.format(
          "version catalog: %s.%s has a version in state '%s'; "
          + "expected one of %s", section, name, text,
          java.util.Arrays.stream(VersionState.values()).map(s -> s.name().toLowerCase(java.util.Locale.ROOT)).toList()));
    }
  }

  void store(Map<String, ViewEntry> views) {
    store(views, loadTables(), loadDropped());
  }

  /** Stores views, tables and the names of dropped views together, atomically. */
  void store(Map<String, ViewEntry> views, Map<String, ViewEntry> tables, Map<String, Dropped> dropped) {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", 1);
    section(root.putObject("views"), views);
    if (!tables.isEmpty()) {
      section(root.putObject("tables"), tables);
    }
    if (!dropped.isEmpty()) {
      ObjectNode d = root.putObject("dropped");
      dropped.forEach((name, reached) -> d.putObject(name).put("next", reached.next())
          .put("nextChange", reached.nextChange()));
    }
    try {
      replaceAtomically(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    } catch (IOException e) {
      throw new CatalogWriteException("cannot write the version catalog " + file + ": "
          + dev.braid.log.LogException.describe(e), e);
    }
  }

  /**
   * Replaces {@code file} by {@code bytes} so that after a crash it is either the old or the new
   * content: a temporary file beside it, fsync, rename, directory fsync. A failure up to the rename
   * deletes the temporary file (a full disk must not leave a half-written one behind) and throws:
   * the file is unchanged. Once renamed, every process sees the new content, so a failed directory
   * fsync is logged and not thrown: a caller told "not stored" would undo in memory what the file
   * now says (a version it names as current, say), while unsynced it is lost only if the machine
   * itself crashes before the file system writes the directory back.
   */
  static void replaceAtomically(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    boolean interrupted = false; // one that lands during the writes: they run again, and it is kept for the caller
    try {
      try {
        interrupted = dev.braid.log.Interrupts.finish(() -> {
          Files.write(tmp, bytes);
          try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
          }
        });
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
      try {
        interrupted |= dev.braid.log.Interrupts.finish(() -> {
          try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
          }
        });
      } catch (IOException e) {
        LOG.warn("replaced {}, but could not fsync its directory; the new content is in place, and is lost only if "
            + "the machine crashes before the file system writes the directory: {}", file, e.toString());
      }
    } finally {
      dev.braid.log.Interrupts.restore(interrupted);
    }
  }

  /** A version's {@code lateFloor}, one event time per partition, or null when it has none. */
  private static long[] lateFloor(JsonNode n) {
    if (!n.isArray()) {
      return null;
    }
    long[] out = new long[n.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = n.get(i).asLong(Long.MIN_VALUE);
    }
    return out;
  }

  private static void section(ObjectNode vs, Map<String, ViewEntry> views) {
    for (Map.Entry<String, ViewEntry> e : views.entrySet()) {
      ObjectNode v = vs.putObject(e.getKey());
      v.put("next", e.getValue().next());
      if (e.getValue().specDefinition() != null) {
        v.put("specDefinition", e.getValue().specDefinition());
      }
      ArrayNode arr = v.putArray("versions");
      for (Entry en : e.getValue().versions()) {
        ObjectNode o = arr.addObject();
        o.put("id", en.id());
        o.put("state", en.state().label());
        ArrayNode cut = o.putArray("cut");
        for (long x : en.cut().toArray()) {
          cut.add(x);
        }
        o.put("base", en.base());
        o.put("definition", en.definition());
        if (en.document() != null) {
          try {
            o.set("spec", JSON.readTree(en.document()));
          } catch (IOException ex) {
            throw new IllegalStateException("version " + en.id() + " has a definition that is not JSON", ex);
          }
        }
        o.put("createdAt", en.createdAt());
        if (en.failure() != null) {
          o.put("failure", en.failure());
        }
        if (en.hold()) {
          o.put("hold", true);
        }
        if (en.rollback()) {
          o.put("rollback", true);
        }
        if (en.lateFloor() != null) {
          ArrayNode floor = o.putArray("lateFloor");
          for (long t : en.lateFloor()) {
            floor.add(t);
          }
        }
        if (en.base() != null && en.baseSkipped() >= 0 && en.baseWithoutKey() >= 0) {
          o.put("baseSkipped", en.baseSkipped());
          o.put("baseWithoutKey", en.baseWithoutKey());
        }
      }
    }
  }
}
