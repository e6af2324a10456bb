package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.event.EventDescriptor;
import dev.braid.event.EventSchema;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.TableSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fields that each stream's events and each table's rows were stored with, recorded in
 * {@code schemas.json} in the data directory. An event in the log is stored by field position (a
 * null bitmap and one slot per field, {@code EventDescriptor}), its record key is its key field's
 * text, and a table row is stored by field position too ({@code RowCodec}). So a spec whose fields
 * differ from the recorded ones (a type, the order, a field removed, another key field) would
 * misread every event already stored: reads would fail or return garbage. {@link Engine#open}
 * refuses such a spec, naming each difference, as the log refuses another partition count.
 *
 * <p>One change is safe: new fields after the recorded ones. Each stored event says how many fields
 * it has (events stored before the first such change have the stream's first fields,
 * {@code first_fields}; later ones carry their count), so a field added later reads as null in the
 * events stored before it. The recorded fields then grow, and the first count stays. A table's rows
 * say it the same way: a Base, a checkpoint and a real-time PUT written once the table grew carry
 * their field count, older ones have its first fields, and a field added later is absent from them.
 *
 * <pre>{@code
 * {"format": 2,
 *  "streams": {"sales": {"key": "store", "fields": [{"name": "store", "type": "string"}, ...],
 *                        "first_fields": 4}},
 *  "tables": {"users": {"key": "id", "fields": [{"name": "id", "type": "string"}, ...]}}}
 * }</pre>
 *
 * ({@code first_fields} is written once a stream's or table's fields grew, and the file is then of
 * format {@value #GROWN_FORMAT}, which builds from before fields could grow refuse; a file without it is
 * of format 1, every field a first field.) A stream or table the file does not name yet (new, or
 * stored by a build that kept no such file) is recorded as the spec has it. Entries are never removed: a stream left out of the spec
 * keeps its events in the log, and a spec that adds it back must agree with them. The file is
 * replaced atomically (temporary file, fsync, rename, directory fsync).
 */
final class RecordedSchemas {

  static final String FILE = "schemas.json";
  /**
   * The format of a file in which some stream grew ({@code first_fields}): a build from before
   * streams could grow reads format 1 only, and would otherwise open the directory, ignore
   * {@code first_fields}, misread the events written since and write new ones in the old layout.
   * A file in which no stream grew stays format 1, which such a build still opens.
   */
  static final int GROWN_FORMAT = 2;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RecordedSchemas.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * A stream's or table's key field and its fields in order, each {@code {name, type}}, and how
   * many of them it had when its first events were stored.
   */
  record Schema(String key, List<String[]> fields, int firstFields) {

    static Schema of(StreamSpec s) {
      List<String[]> f = new ArrayList<>();
      s.fields().forEach((name, type) -> f.add(new String[] {name, type.specName()}));
      return new Schema(s.key(), f, f.size());
    }

    static Schema of(TableSpec t) {
      List<String[]> f = new ArrayList<>();
      t.fields().forEach((name, type) -> f.add(new String[] {name, type.specName()}));
      return new Schema(t.key(), f, f.size());
    }

    /**
     * The fields that {@code spec} adds after all of this schema's, when that is its only change
     * (same key, the recorded fields first, in order, with their types); null otherwise.
     */
    List<String[]> addedAtEnd(Schema spec) {
      if (!key.equals(spec.key) || spec.fields.size() <= fields.size()) {
        return null;
      }
      for (int i = 0; i < fields.size(); i++) {
        if (!Arrays.equals(fields.get(i), spec.fields.get(i))) {
          return null;
        }
      }
      return spec.fields.subList(fields.size(), spec.fields.size());
    }

    /** Each way {@code spec} differs from this recorded schema; empty when it does not. */
    List<String> differences(Schema spec) {
      List<String> out = new ArrayList<>();
      if (!key.equals(spec.key)) {
        out.add("its key field was '" + key + "' and the spec says '" + spec.key + "'");
      }
      Map<String, String> was = types(fields);
      Map<String, String> now = types(spec.fields);
      was.forEach((name, type) -> {
        String t = now.get(name);
        if (t == null) {
          out.add("field '" + name + "' (" + type + ") is missing from the spec");
        } else if (!t.equals(type)) {
          out.add("field '" + name + "' was " + type + " and the spec says " + t);
        }
      });
      List<String> order = new ArrayList<>(now.keySet());
      String lastRecorded = order.stream().filter(was::containsKey).reduce((a, b) -> b).orElse(null);
      now.forEach((name, type) -> {
        if (!was.containsKey(name)) {
          // where it is decides: after every recorded field it alone would be taken; before one, it is
          // what is wrong (the order check below sees only the fields both have)
          out.add("field '" + name + "' (" + type + ") is new" + (lastRecorded == null ? "" : order.indexOf(name)
              < order.indexOf(lastRecorded) ? ", and comes before recorded field '" + lastRecorded + "'"
              : " (after the recorded fields, as a new field must be: not what is refused)"));
        }
      });
      // the fields both have, in the order of each: a reordering is named beside the other differences
      List<String> kept = was.keySet().stream().filter(now::containsKey).toList();
      if (!kept.equals(now.keySet().stream().filter(was::containsKey).toList())) {
        out.add("its fields were in the order " + was.keySet() + " and the spec has " + now.keySet());
      }
      return out;
    }

    private static Map<String, String> types(List<String[]> fields) {
      Map<String, String> m = new LinkedHashMap<>();
      for (String[] f : fields) {
        m.put(f[0], f[1]);
      }
      return m;
    }
  }

  private final Path file;
  private final Map<String, Schema> streams;
  private final Map<String, Schema> tables;

  private RecordedSchemas(Path file, Map<String, Schema> streams, Map<String, Schema> tables) {
    this.file = file;
    this.streams = streams;
    this.tables = tables;
  }

  /**
   * What {@link #check} found: per stream of the spec, how many fields it had when its first events
   * were stored ({@link dev.braid.event.EventSchema#firstFields()}), and what the open records once
   * it has succeeded ({@link #record}).
   */
  static final class Checked {
    private final RecordedSchemas recorded;
    private final boolean changed;
    private final List<String> grown;
    private final Map<String, Integer> firstFields;
    private final Map<String, Integer> tableFirstFields;

    /** The streams the file named before this open: each had its logs created by an earlier open. */
    private final java.util.Set<String> streamsBefore;
    /** The same of the tables: each had its log of writes created by an earlier open. */
    private final java.util.Set<String> tablesBefore;

    private Checked(RecordedSchemas recorded, boolean changed, List<String> grown, Map<String, Integer> firstFields,
        Map<String, Integer> tableFirstFields, java.util.Set<String> streamsBefore,
        java.util.Set<String> tablesBefore) {
      this.streamsBefore = streamsBefore;
      this.tablesBefore = tablesBefore;
      this.recorded = recorded;
      this.changed = changed;
      this.grown = grown;
      this.firstFields = firstFields;
      this.tableFirstFields = tableFirstFields;
    }

    Map<String, Integer> firstFields() {
      return firstFields;
    }

    /** Per table of the spec, how many fields it had when its first rows were stored. */
    Map<String, Integer> tableFirstFields() {
      return tableFirstFields;
    }

    /**
     * Whether stream {@code name} was recorded before this open: an open records a stream only once it
     * has created its logs (its events, dead letters and late events), so they then exist, and a
     * missing one was lost (a deleted directory).
     */
    boolean recordedBefore(String name) {
      return streamsBefore.contains(name);
    }

    /** As {@link #recordedBefore}, of table {@code name} and its log of writes. */
    boolean tableRecordedBefore(String name) {
      return tablesBefore.contains(name);
    }

    /** The file these schemas are (or will be) recorded in. */
    Path file() {
      return recorded.file;
    }

    /**
     * Records the streams and tables not recorded yet and the fields they took. Called once the
     * open has succeeded and before any event is written: an open that fails after the check (another
     * partition count, a damaged file) must not leave fields recorded that no event was written with,
     * or the previous spec could no longer open.
     */
    void record() {
      if (changed) {
        recorded.store();
      }
      grown.forEach(LOG::info);
    }
  }

  /**
   * Checks {@code spec}'s streams and tables against {@code dataDir}'s recorded schemas: the same
   * fields, or fields added after all of the recorded ones. Throws
   * {@link IllegalArgumentException} naming every other difference. Records nothing: see
   * {@link Checked#record}.
   */
  static Checked check(Path dataDir, PipelineSpec spec) {
    RecordedSchemas r = load(dataDir.resolve(FILE));
    java.util.Set<String> streamsBefore = java.util.Set.copyOf(r.streams.keySet());
    java.util.Set<String> tablesBefore = java.util.Set.copyOf(r.tables.keySet());
    List<String> problems = new ArrayList<>();
    List<String> grown = new ArrayList<>();
    boolean added = false;
    boolean gotFields = false;
    for (StreamSpec s : spec.streams().values()) {
      int before = problems.size();
      added |= r.check("stream", s.name(), r.streams, Schema.of(s), problems, grown);
      gotFields |= problems.subList(before, problems.size()).stream().anyMatch(p -> p.contains(" is new"));
    }
    for (TableSpec t : spec.tables().values()) {
      int before = problems.size();
      added |= r.check("table", t.name(), r.tables, Schema.of(t), problems, grown);
      gotFields |= problems.subList(before, problems.size()).stream().anyMatch(p -> p.contains(" is new"));
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("\n", problems) + "\nEvents and rows already stored keep the "
          + "fields they were written with (recorded in " + r.file + ")" + (gotFields ? ". A stream or table can "
          + "take new fields after all of its recorded ones (in the events and rows stored before, they read as "
          + "null, a table's lists, sets and maps as empty): list them last, after its recorded fields in their "
          + "order. For any other change"
          : ": to change them") + ", add a stream or table under a new name, or start on a new data directory.");
    }
    Map<String, Integer> first = new TreeMap<>();
    spec.streams().keySet().forEach(name -> first.put(name, r.streams.get(name).firstFields()));
    Map<String, Integer> tableFirst = new TreeMap<>();
    spec.tables().keySet().forEach(name -> tableFirst.put(name, r.tables.get(name).firstFields()));
    return new Checked(r, added, grown, first, tableFirst, streamsBefore, tablesBefore);
  }

  /**
   * Refuses to open when the first or the last event stored in a partition of {@code log} does not
   * have the layout that {@code schema} reads ({@link EventDescriptor#layoutProblem}): the recorded
   * schema does not describe the log (the file was deleted and recorded afresh from a spec with other
   * fields, or edited), and every read would return garbage. Two events per partition: cheap, and
   * the first one checks {@code first_fields}, the last one the fields events are written with now.
   */
  static void requireStoredLayout(LogStream log, EventSchema schema, Path file) {
    for (int p = 0; p < log.partitions(); p++) {
      long start = log.startOffset(p);
      long end = log.endOffset(p);
      if (end <= start) {
        continue;
      }
      for (long at : end - 1 > start ? new long[] {start, end - 1} : new long[] {start}) {
        try (LogReader r = log.reader(p, at)) {
          RecordCursor c = r.poll();
          if (!c.next()) {
            continue;
          }
          String problem = EventDescriptor.layoutProblem(c.buffer(), c.valueOffset(), c.valueLength(), schema);
          if (problem != null) {
            throw new IllegalArgumentException(String.format("stream '%s': the event stored at partition %d, offset "
                + "%d does not have the layout of the fields it would be read with, %s%s (as recorded in %s, or "
                + "taken from the spec where the file does not name the stream yet): %s. Those fields do not "
                + "describe the events in the log (was the file deleted or edited?): restore it from a backup, or "
                + "open with the spec the events were written with.", schema.stream(), p, c.offset(),
                schema.types().keySet(), schema.grown() ? ", of which events stored before the stream grew have the "
                    + "first " + schema.firstFields() : "", file, problem));
          }
        }
      }
    }
  }

  private static String describe(List<String[]> fields) {
    List<String> out = new ArrayList<>();
    fields.forEach(f -> out.add(f[0] + " (" + f[1] + ")"));
    return String.join(", ", out);
  }

  /**
   * Adds a problem for each difference, or records {@code now} if nothing is recorded or it only
   * adds fields after the recorded ones (saying so in {@code grown}); true if it recorded.
   */
  private boolean check(String kind, String name, Map<String, Schema> recorded, Schema now, List<String> problems,
      List<String> grown) {
    Schema was = recorded.get(name);
    if (was == null) {
      recorded.put(name, now);
      return true;
    }
    List<String[]> newFields = was.addedAtEnd(now);
    if (newFields != null) {
      recorded.put(name, new Schema(was.key(), now.fields(), was.firstFields()));
      int n = was.fields().size();
      grown.add(String.format("%s '%s': new fields %s recorded after its %s; the %s stored before them read them "
          + "as %s", kind, name, describe(newFields), n == 1 ? "stored field" : n + " stored ones",
          kind.equals("stream") ? "events" : "rows", kind.equals("stream") ? "null" : "absent (a list, set or map as "
          + "empty)"));
      return true;
    }
    for (String d : was.differences(now)) {
      problems.add(kind + " '" + name + "': " + d);
    }
    return false;
  }

  /**
   * What to do about a damaged schemas file: it names the fields each stream's events were written
   * with, which the log alone cannot tell once a stream grew.
   */
  private static final String DAMAGED_REMEDY = "; restore it from a backup (it records the fields the events in the "
      + "log were written with), or move it away: the start then takes the fields from the spec and refuses a "
      + "stream or table whose stored events or rows do not fit them";

  /**
   * Forgets the fields recorded for table {@code table} (a dropped table): its name may take others.
   * Returns whether they were recorded.
   */
  static boolean forgetTable(Path dataDir, String table) {
    RecordedSchemas r = load(dataDir.resolve(FILE));
    if (r.tables.remove(table) == null) {
      return false;
    }
    r.store();
    return true;
  }

  static RecordedSchemas load(Path file) {
    Map<String, Schema> streams = new LinkedHashMap<>();
    Map<String, Schema> tables = new LinkedHashMap<>();
    JsonNode root;
    try {
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      return new RecordedSchemas(file, streams, tables);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + file + ": " + VersionCatalog.jsonProblem(e) + DAMAGED_REMEDY, e);
    }
    int format = root == null ? 0 : root.path("format").asInt();
    if (root != null && root.isObject() && format > GROWN_FORMAT) {
      throw new IllegalStateException(file + " has format " + format + ", written by a newer Braid build than this "
          + "one, which reads formats 1 and " + GROWN_FORMAT + ": run that build");
    }
    if (root == null || !root.isObject() || format != 1 && format != GROWN_FORMAT) {
      throw new IllegalStateException(file + " is not a Braid schemas file of format 1 or " + GROWN_FORMAT
          + DAMAGED_REMEDY);
    }
    section(file, root.path("streams"), streams);
    section(file, root.path("tables"), tables);
    return new RecordedSchemas(file, streams, tables);
  }

  private static void section(Path file, JsonNode node, Map<String, Schema> into) {
    node.fields().forEachRemaining(e -> {
      JsonNode s = e.getValue();
      if (!s.path("key").isTextual() || !s.path("fields").isArray()) {
        throw new IllegalStateException(file + ": '" + e.getKey() + "' needs a \"key\" and a \"fields\" array");
      }
      List<String[]> fields = new ArrayList<>();
      for (JsonNode f : s.path("fields")) {
        if (!f.path("name").isTextual() || !f.path("type").isTextual()) {
          throw new IllegalStateException(file + ": a field of '" + e.getKey() + "' needs a \"name\" and a \"type\"");
        }
        fields.add(new String[] {f.path("name").asText(), f.path("type").asText()});
      }
      JsonNode first = s.path("first_fields");
      if (!first.isMissingNode() && (!first.canConvertToInt() || !first.isIntegralNumber() || first.asInt() < 1
          || first.asInt() > fields.size())) {
        throw new IllegalStateException(file + ": '" + e.getKey() + "': \"first_fields\" must be a whole number from 1 "
            + "to its " + fields.size() + " fields, not " + first);
      }
      into.put(e.getKey(), new Schema(s.path("key").asText(), fields, first.isMissingNode() ? fields.size()
          : first.asInt()));
    });
  }

  private void store() {
    ObjectNode root = JSON.createObjectNode();
    boolean grown = java.util.stream.Stream.concat(streams.values().stream(), tables.values().stream())
        .anyMatch(x -> x.firstFields() != x.fields().size());
    root.put("format", grown ? GROWN_FORMAT : 1);
    write(root.putObject("streams"), streams);
    write(root.putObject("tables"), tables);
    try {
      Files.createDirectories(file.getParent());
      VersionCatalog.replaceAtomically(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    } catch (IOException e) {
      throw new dev.braid.log.LogException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  private static void write(ObjectNode section, Map<String, Schema> schemas) {
    schemas.forEach((name, s) -> {
      ObjectNode o = section.putObject(name);
      o.put("key", s.key());
      ArrayNode fields = o.putArray("fields");
      for (String[] f : s.fields()) {
        fields.addObject().put("name", f[0]).put("type", f[1]);
      }
      if (s.firstFields() != s.fields().size()) {
        o.put("first_fields", s.firstFields());
      }
    });
  }
}
