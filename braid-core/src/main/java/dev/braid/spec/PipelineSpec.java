package dev.braid.spec;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.braid.agg.AggregateCall;
import dev.braid.agg.Aggregations;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.expr.ExpressionException;
import dev.braid.expr.Expressions;
import dev.braid.log.Durability;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A pipeline: streams and the views computed from them. Load one from YAML with {@link #load} or
 * build one in Java with {@link #builder()}; either way {@link #validate()} checks the whole spec and
 * reports every error with its path. No spec that fails validation is ever started.
 *
 * <pre>{@code
 * streams:
 *   transactions:
 *     partitions: 4
 *     key: user_id
 *     time: ts                      # event-time field, or `ingest`
 *     time_unit: ms                 # numbers in timestamp fields: ms (default) or s (epoch seconds)
 *     max_out_of_order: 30s         # watermark = a partition's largest event time - this (default 0)
 *     idle_after: 1m                # a partition silent this long no longer holds the watermark back
 *     max_future: 1h                # reject events timed further after their ingest (default: no limit)
 *     durability: os                # fsync | interval:100 | os
 *     id: txn_id                    # optional event-id field: re-sent events are not appended twice
 *     dedup_window: 24h             # how long ids are remembered (default 24h)
 *     fields: {user_id: string, amount: double, merchant: string, ts: timestamp}
 *     rules: ["amount >= 0.0"]
 * views:
 *   spend_by_user:
 *     from: transactions
 *     filter: "amount > 0.0"
 *     group_by: user_id
 *     window: {tumbling: 1h}        # or {tumbling: 1d, zone: Europe/Berlin}, {hopping: {size: 1h, every: 5m}},
 *                                   # {session: {gap: 30m}}
 *     allowed_lateness: 10m         # later events wait for the next batch cycle (default: no bound)
 *     aggregate: {n: count, total: sum(amount), merchants: count_distinct(merchant)}
 *     batch: {every: 1h}
 * }</pre>
 */
public record PipelineSpec(String source, Map<String, StreamSpec> streams, Map<String, ViewSpec> views,
    Map<String, TableSpec> tables) {

  private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,63}");
  private static final Set<String> STREAM_KEYS = Set.of("partitions", "key", "time", "fields", "rules", "durability",
      "id", "dedup_window", "time_unit", "max_out_of_order", "idle_after", "max_future");
  private static final Set<String> VIEW_KEYS = Set.of("from", "filter", "group_by", "window", "aggregate", "batch",
      "mode", "keep", "retain", "allowed_lateness");
  /** Words CEL does not accept as identifiers: a field named so could never be used in an expression. */
  private static final Set<String> CEL_RESERVED = Set.of("true", "false", "null", "in", "as", "break", "const",
      "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
      "void", "while");
  private static final int MAX_KEEP = 100;
  private static final Set<String> TABLE_KEYS = Set.of("partitions", "key", "time", "fields", "ttl", "durability",
      "keep");
  private static final String FIELDS_REQUIRED = "is required: a mapping of field names to types";
  private static final String AGGREGATE_REQUIRED =
      "is required: a mapping of output names to aggregations, e.g. {n: count}";

  public PipelineSpec {
    streams = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(streams));
    views = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(views));
    tables = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tables));
  }

  /** A spec without tables. */
  public PipelineSpec(String source, Map<String, StreamSpec> streams, Map<String, ViewSpec> views) {
    this(source, streams, views, Map.of());
  }

  public TableSpec table(String name) {
    return tables.get(name);
  }

  public StreamSpec stream(String name) {
    return streams.get(name);
  }

  public ViewSpec view(String name) {
    return views.get(name);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds a spec in Java. */
  public static final class Builder {
    private final Map<String, StreamSpec> streams = new LinkedHashMap<>();
    private final Map<String, ViewSpec> views = new LinkedHashMap<>();
    private final Map<String, TableSpec> tables = new LinkedHashMap<>();

    public Builder table(TableSpec t) {
      java.util.Objects.requireNonNull(t, "the table given to the spec's builder is null");
      if (tables.put(t.name(), t) != null) {
        throw new IllegalArgumentException("tables." + t.name() + ": duplicate table '" + t.name() + "'");
      }
      return this;
    }

    public Builder stream(StreamSpec s) {
      java.util.Objects.requireNonNull(s, "the stream given to the spec's builder is null");
      if (streams.put(s.name(), s) != null) {
        throw new IllegalArgumentException("streams." + s.name() + ": duplicate stream '" + s.name()
            + "': a spec defines each stream once");
      }
      return this;
    }

    public Builder view(ViewSpec v) {
      java.util.Objects.requireNonNull(v, "the view given to the spec's builder is null");
      if (views.put(v.name(), v) != null) {
        throw new IllegalArgumentException("views." + v.name() + ": duplicate view '" + v.name()
            + "': a spec defines each view once");
      }
      return this;
    }

    /** The spec, validated; throws {@link SpecException} listing every error. */
    public PipelineSpec build() {
      PipelineSpec spec = new PipelineSpec("java", streams, views, tables);
      spec.validate();
      return spec;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Loading
  // ---------------------------------------------------------------------------------------------

  /** Loads and validates a YAML spec file. */
  public static PipelineSpec load(Path file) {
    java.util.Objects.requireNonNull(file, "the spec file's path is null");
    String text;
    try {
      text = Files.readString(file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new SpecException(List.of(new SpecError(file.toString(), "", "no such file")));
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new SpecException(List.of(new SpecError(file.toString(), "", "the file is not UTF-8 text; save it as "
          + "UTF-8")));
    } catch (IOException e) {
      String why = Files.isDirectory(file) ? "it is a directory; give the spec file (e.g. braid.yaml) in it"
          : "cannot read the file: " + (e instanceof java.nio.file.FileSystemException f && f.getReason() != null
              ? f.getReason() : e.getMessage());
      throw new SpecException(List.of(new SpecError(file.toString(), "", why)));
    }
    return parse(text, file.toString());
  }

  /** Jackson's message for a key given twice in one mapping. */
  private static final java.util.regex.Pattern DUPLICATE_KEY = java.util.regex.Pattern.compile("Duplicate field '(.*)'");

  /**
   * The paths where the YAML reader found a problem (a missing key, a `from` that is a list, ...):
   * check() would only repeat it there in other words; an aggregate the reader refused also leaves
   * its view without it, so the view's {@code aggregate} counts as reported.
   */
  private static Set<String> reported(List<SpecError> errors) {
    Set<String> reported = new java.util.HashSet<>();
    for (SpecError e : errors) {
      reported.add(e.path());
      if (e.path().matches("views\\.[^.]+\\.aggregate\\..+")) {
        reported.add(e.path().substring(0, e.path().indexOf(".aggregate.") + ".aggregate".length()));
      }
    }
    return reported;
  }

  /**
   * The one YAML (or JSON) document of {@code text}; anything after it (a second document, text
   * after a JSON object's closing brace) is refused, naming where it starts, rather than ignored: a
   * reprocess body of a definition and a stray line would otherwise replace the view with the
   * definition alone.
   */
  private static JsonNode readOne(ObjectMapper mapper, String text, String source, String what)
      throws java.io.IOException {
    try (JsonParser p = mapper.createParser(text)) {
      JsonNode root = mapper.readTree(p);
      if (root == null) {
        return null;
      }
      String found;
      JsonLocation loc;
      try {
        if (p.nextToken() == null) {
          return root;
        }
        found = "'" + oneLine(String.valueOf(p.getText())) + "'";
        loc = p.currentTokenLocation();
      } catch (JsonProcessingException e) { // what follows is not even a value (YAML: no document start)
        found = oneLine(e.getOriginalMessage());
        loc = e.getLocation();
      }
      String at = loc == null ? "" : "line " + loc.getLineNr() + ", column " + loc.getColumnNr();
      throw new SpecException(List.of(new SpecError(source, at, "there is more after " + what + " (" + found
          + "): send one " + (what.equals("the spec") ? "YAML document" : "mapping")
          + "; a second document or text after its end is not read")));
    }
  }

  /**
   * A parse error as a spec error: at the spec path where the parser stopped when it knows one (a
   * duplicate key: {@code views.v.aggregate.n}), with the line and column in the message; else at
   * the line and column.
   */
  private static SpecError syntaxError(String source, JsonProcessingException e, String what) {
    JsonLocation loc = e.getLocation();
    String at = loc == null ? "" : "line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    if (dev.braid.ingest.Ingestor.tooDeep(e)) { // Jackson's message names its setting, not the text's problem
      return new SpecError(source, at, what + ": it nests maps and lists more than "
          + e.getOriginalMessage().replaceAll("(?s).*maximum allowed \\((\\d+).*", "$1") + " levels deep");
    }
    String path = e.getProcessor() instanceof JsonParser parser ? dottedPath(parser.getParsingContext()) : "";
    java.util.regex.Matcher duplicate = DUPLICATE_KEY.matcher(String.valueOf(e.getOriginalMessage()));
    if (duplicate.matches() && path.contains(".")) {
      return duplicateKey(source, path, duplicate.group(1), at);
    }
    String reason = oneLine(e.getOriginalMessage()) + indentationHint(e);
    if (path.isEmpty()) {
      return new SpecError(source, at, what + ": " + reason);
    }
    return new SpecError(source, path, what + (at.isEmpty() ? "" : " at " + at) + ": " + reason);
  }

  /**
   * What the YAML reader's words for a key indented unlike the keys before it mean ("expected <block
   * end>, but found '<block mapping start>'"), naming the line of that key (the reader's problem
   * mark; the error's own location is where the reader stopped, often the line before, and its path
   * is the mapping being read). Empty for any other error.
   */
  private static String indentationHint(JsonProcessingException e) {
    String message = e.getOriginalMessage();
    if (message == null || !message.contains("expected <block end>")
        || !message.contains("found '<block mapping start>'")
        || !(e.getCause() instanceof org.yaml.snakeyaml.error.MarkedYAMLException m) || m.getProblemMark() == null) {
      return "";
    }
    return " (line " + (m.getProblemMark().getLine() + 1) + " is indented unlike the keys before it: the keys of"
        + " one mapping start in the same column, and a value's keys further right than its own key)";
  }

  /**
   * A YAML reader's message on one line: its parts joined by "; ", without the excerpts of the text
   * it quotes (a {@code  in 'reader', line L, column C:} line, the text, a caret line), since the error
   * names the line and column already.
   */
  private static String oneLine(String message) {
    List<String> parts = new ArrayList<>();
    String[] lines = String.valueOf(message).split("\\R");
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].startsWith(" in '")) {
        i += 2; // the quoted line and its caret
      } else if (!lines[i].isBlank()) {
        parts.add(lines[i].strip());
      }
    }
    return String.join("; ", parts);
  }

  /**
   * A key given twice in one mapping, at {@code path} (its second place, {@code at}): legal to a YAML
   * reader, which keeps the last one, but a spec names each thing once.
   */
  private static SpecError duplicateKey(String source, String path, String name, String at) {
    String parent = path.contains(".") ? path.substring(0, path.lastIndexOf('.')) : "";
    String kind = parent.equals("streams") ? "stream" : parent.equals("views") ? "view"
        : parent.equals("tables") ? "table" : parent.matches("views\\.[^.]+\\.aggregate") ? "aggregate"
        : parent.matches("(streams|tables)\\.[^.]+\\.fields") ? "field" : "key";
    return new SpecError(source, path, String.format("duplicate %s '%s'%s: a spec names each %s once", kind, name,
        at.isEmpty() ? "" : " (again at " + at + ")", kind));
  }

  /** How the error about a YAML alias begins (see {@link #withoutErrorsUnderAliases}). */
  private static final String ALIAS = "a YAML alias (*";

  /**
   * {@code errors} without those at or under the path of a YAML alias other than the alias's own:
   * read as its anchor's name, an alias fails every check of what should be there, which would blame
   * the value rather than the alias.
   */
  private static List<SpecError> withoutErrorsUnderAliases(List<SpecError> errors) {
    List<String> aliases = errors.stream().filter(e -> e.message().startsWith(ALIAS)).map(SpecError::path).toList();
    if (aliases.isEmpty()) {
      return errors;
    }
    return errors.stream().filter(e -> e.message().startsWith(ALIAS) || aliases.stream().noneMatch(a ->
        e.path().equals(a) || e.path().startsWith(a + ".") || e.path().startsWith(a + "["))).toList();
  }

  /**
   * Every key given twice in one mapping of {@code yaml}, and every YAML alias, in the order they appear: the spec is read on
   * (with the last of each, as YAML does) so that one run names its other errors too.
   */
  private static List<SpecError> duplicateKeys(ObjectMapper mapper, String yaml, String source)
      throws java.io.IOException {
    List<SpecError> found = new ArrayList<>();
    try (JsonParser p = mapper.getFactory().createParser(yaml)) {
      java.util.Deque<Set<String>> names = new java.util.ArrayDeque<>();
      for (com.fasterxml.jackson.core.JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
        if (t == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
          names.push(new java.util.HashSet<>());
        } else if (t == com.fasterxml.jackson.core.JsonToken.END_OBJECT) {
          names.pop();
        } else if (t == com.fasterxml.jackson.core.JsonToken.FIELD_NAME && !names.peek().add(p.currentName())) {
          JsonLocation loc = p.currentTokenLocation(); // where the key starts, not where the reader is after it
          found.add(duplicateKey(source, dottedPath(p.getParsingContext()), p.currentName(),
              "line " + loc.getLineNr() + ", column " + loc.getColumnNr()));
        } else if (p instanceof com.fasterxml.jackson.dataformat.yaml.YAMLParser y && y.isCurrentAlias()) {
          // read as the text of the anchor's name, which every check after this would misname
          JsonLocation loc = p.currentTokenLocation();
          found.add(new SpecError(source, dottedPath(p.getParsingContext()), ALIAS + p.getText()
              + ", line " + loc.getLineNr() + ") is not supported: write the value out in full"));
        }
      }
    }
    return found;
  }

  /** {@code streams.s.rules[0]} from a parsing context, innermost last. */
  private static String dottedPath(com.fasterxml.jackson.core.JsonStreamContext context) {
    List<String> parts = new ArrayList<>();
    for (com.fasterxml.jackson.core.JsonStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inArray()) {
        parts.add(0, "[" + Math.max(0, c.getCurrentIndex()) + "]");
      } else if (c.getCurrentName() != null) {
        parts.add(0, c.getCurrentName());
      }
    }
    StringBuilder sb = new StringBuilder();
    for (String part : parts) {
      if (sb.length() > 0 && !part.startsWith("[")) {
        sb.append('.');
      }
      sb.append(part);
    }
    return sb.toString();
  }

  /**
   * A reader of YAML with YAML 1.2's words: {@code yes}, {@code no}, {@code on} and {@code off} are
   * text, as field names, not the booleans YAML 1.1 made of them ({@code group_by: no} grouped every
   * event under the constant false, and {@code filter: off} dropped them all, with a valid spec).
   */
  static ObjectMapper yamlMapper() {
    return new ObjectMapper(new YAMLFactory()
        .enable(com.fasterxml.jackson.dataformat.yaml.YAMLParser.Feature.PARSE_BOOLEAN_LIKE_WORDS_AS_STRINGS));
  }

  /**
   * Every whole number of {@code yaml} written in a form YAML 1.1 reads otherwise than a person
   * would: with a leading 0 ({@code partitions: 010} made 8 partitions, for good) or a base prefix
   * ({@code 0x10}, {@code 0o10}, {@code 0b10}).
   */
  private static List<SpecError> numberForms(ObjectMapper mapper, String yaml, String source)
      throws java.io.IOException {
    List<SpecError> found = new ArrayList<>();
    try (JsonParser p = mapper.getFactory().createParser(yaml)) {
      int depth = 0;
      for (com.fasterxml.jackson.core.JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
        depth += t.isStructStart() ? 1 : t.isStructEnd() ? -1 : 0;
        if (t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_INT) {
          String text = p.getText().replace("_", "");
          String digits = text.startsWith("-") || text.startsWith("+") ? text.substring(1) : text;
          if (digits.length() > 1 && digits.charAt(0) == '0') {
            char base = Character.toLowerCase(digits.charAt(1));
            String form = base == 'x' ? "a hexadecimal" : base == 'b' ? "a binary" : "an octal";
            found.add(new SpecError(source, dottedPath(p.getParsingContext()), "'" + p.getText() + "' is read by YAML "
                + "as " + form + " number, " + p.getBigIntegerValue() + ": write the number in decimal, without a "
                + "leading 0"));
          }
        }
        if (depth == 0) {
          break; // the first document's value: what follows it is the reader's to refuse (readOne)
        }
      }
    } catch (JsonProcessingException e) {
      return found; // not valid YAML: readOne says where
    }
    return found;
  }

  /** Parses and validates YAML text; {@code source} names it in errors. */
  public static PipelineSpec parse(String yaml, String source) {
    java.util.Objects.requireNonNull(yaml, "the spec's YAML text is null");
    ObjectMapper mapper = yamlMapper();
    JsonNode root;
    List<SpecError> errors = new ArrayList<>();
    try {
      errors.addAll(duplicateKeys(mapper, yaml, source));
      errors.addAll(numberForms(mapper, yaml, source));
      root = readOne(mapper, yaml, source, "the spec");
    } catch (JsonProcessingException e) {
      throw new SpecException(List.of(syntaxError(source, e, "not valid YAML")));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e); // a String has no I/O to fail
    }
    Reader r = new Reader(source, errors);
    if (root == null || root.isMissingNode() || root.isNull()) {
      throw new SpecException(List.of(new SpecError(source, "", "the spec is empty; it needs `streams:`")));
    }
    if (!root.isObject()) {
      throw new SpecException(List.of(new SpecError(source, "", "the spec must be a mapping with `streams:` and `views:`")));
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!k.equals("streams") && !k.equals("views") && !k.equals("tables")) {
        errors.add(new SpecError(source, k, "unknown section; expected streams, views or tables"));
      }
    }
    Map<String, StreamSpec> streams = new LinkedHashMap<>();
    JsonNode sn = root.path("streams");
    if (!sn.isMissingNode()) {
      if (!sn.isObject()) {
        errors.add(new SpecError(source, "streams", "must be a mapping of stream names to streams"));
      } else {
        sn.fields().forEachRemaining(e -> {
          StreamSpec s = r.stream(e.getKey(), e.getValue());
          if (s != null) {
            streams.put(s.name(), s);
          }
        });
      }
    }
    Map<String, ViewSpec> views = new LinkedHashMap<>();
    JsonNode vn = root.path("views");
    if (!vn.isMissingNode() && !vn.isNull()) {
      if (!vn.isObject()) {
        errors.add(new SpecError(source, "views", "must be a mapping of view names to views"));
      } else {
        vn.fields().forEachRemaining(e -> {
          ViewSpec v = r.view(e.getKey(), e.getValue());
          if (v != null) {
            views.put(v.name(), v);
          }
        });
      }
    }
    // A stream that leaves `time` out has ingest time, as one that says `time: ingest`; a window over
    // it is by arrival time, which a spec that forgot `time: ts` would not mean: say so unless written.
    views.values().forEach(v -> {
      JsonNode stream = sn.path(String.valueOf(v.from()));
      if (v.window() != null && streams.containsKey(v.from()) && stream.isObject() && !stream.has("time")) {
        List<String> timeFields = new ArrayList<>();
        streams.get(v.from()).fields().forEach((f, t) -> {
          if (t == FieldType.TIMESTAMP) {
            timeFields.add(f);
          }
        });
        errors.add(new SpecError(source, "views." + v.name() + ".window", "stream '" + v.from() + "' names no "
            + "event-time field, so these windows would follow arrival time; set `time:` on the stream to "
            + (timeFields.isEmpty() ? "a timestamp or long field" : "its timestamp field (" + String.join(", ",
            timeFields) + ")") + ", or write `time: ingest` to window by arrival time"));
      }
    });
    Map<String, TableSpec> tables = new LinkedHashMap<>();
    JsonNode tn = root.path("tables");
    if (!tn.isMissingNode() && !tn.isNull()) {
      if (!tn.isObject()) {
        errors.add(new SpecError(source, "tables", "must be a mapping of table names to tables"));
      } else {
        tn.fields().forEachRemaining(e -> {
          TableSpec t = r.table(e.getKey(), e.getValue());
          if (t != null) {
            tables.put(t.name(), t);
          }
        });
      }
    }
    PipelineSpec spec = new PipelineSpec(source, streams, views, tables);
    Set<String> reported = reported(errors);
    for (SpecError e : spec.check(r.incomplete)) {
      if (!reported.contains(e.path())) {
        errors.add(e);
      }
    }
    if (!errors.isEmpty()) {
      throw new SpecException(withoutErrorsUnderAliases(errors));
    }
    return spec;
  }

  /** Maps YAML nodes to spec records, collecting errors with their paths. */
  private static final class Reader {
    private final String source;
    private final List<SpecError> errors;
    /** Streams with a field left out because its type was bad, with the names of those fields. */
    final Map<String, Set<String>> incomplete = new java.util.HashMap<>();

    Reader(String source, List<SpecError> errors) {
      this.source = source;
      this.errors = errors;
    }

    private void error(String path, String message) {
      errors.add(new SpecError(source, path, message));
    }

    /**
     * The named calls of an {@code aggregate} mapping into {@code out}. A call with a comma written
     * in a flow mapping ({@code {n: count, t: top_k(k, 5)}}) reaches here split in two entries,
     * {@code t: "top_k(k"} and {@code "5)": null}: that is reported once, with the fix, rather than
     * as a bad call, a bad name and an unknown aggregation.
     */
    void aggregates(JsonNode an, String path, Map<String, String> out) {
      List<Map.Entry<String, JsonNode>> entries = new ArrayList<>();
      an.fields().forEachRemaining(entries::add);
      for (int i = 0; i < entries.size(); i++) {
        String name = entries.get(i).getKey();
        JsonNode v = entries.get(i).getValue();
        String call = v.isValueNode() && !v.isNull() ? v.asText() : null;
        if (call != null && call.indexOf('(') >= 0 && call.indexOf(')') < 0) {
          // the pieces after it: entries without a value, up to the one that closes the call
          int last = i;
          while (last + 1 < entries.size() && entries.get(last + 1).getValue().isNull()
              && entries.get(last).getKey().indexOf(')') < 0) {
            last++;
          }
          if (last > i && entries.get(last).getKey().indexOf(')') >= 0) {
            StringBuilder whole = new StringBuilder(call);
            for (int j = i + 1; j <= last; j++) {
              whole.append(", ").append(entries.get(j).getKey());
            }
            error(path + "." + name, String.format("'%s' was split at its commas: in a YAML flow mapping {...} a "
                + "comma ends an entry; quote the call (%s: '%s') or write the aggregates one per line", whole, name,
                whole));
            i = last;
            continue;
          }
          if (entries.stream().anyMatch(e -> isPiece(e.getKey(), e.getValue()))) {
            // its piece went elsewhere (a piece such as "3)" given twice in the mapping keeps its first
            // place): say what happened all the same
            error(path + "." + name, String.format("'%s' has no closing ')': if the call held a comma, in a YAML "
                + "flow mapping {...} the comma ended the entry; quote the call (%s: '%s, ...)') or write the "
                + "aggregates one per line", call, name, call));
            continue;
          }
        }
        if (isPiece(name, v) && entries.stream().anyMatch(e -> e.getValue().isTextual()
            && e.getValue().asText().indexOf('(') >= 0 && e.getValue().asText().indexOf(')') < 0)) {
          continue; // the rest of a call split at a comma, reported with the call's own entry
        }
        if (call == null) {
          error(path + "." + name, "needs a call such as count or sum(field), got " + (v.isNull() ? "nothing" : v));
          continue;
        }
        out.put(name, call);
      }
      if (entries.stream().anyMatch(e -> isPiece(e.getKey(), e.getValue()))) {
        // a piece given twice is not a name given twice: the calls' errors above say what happened
        errors.removeIf(e -> e.path().startsWith(path + ".") && e.message().startsWith("duplicate ")
            && e.path().substring(path.length() + 1).indexOf(')') >= 0);
      }
    }

    /** Whether an entry of an aggregate mapping is the rest of a call split at a comma ({@code "5)": null}). */
    private static boolean isPiece(String name, JsonNode value) {
      return value.isNull() && name.indexOf(')') >= 0 && name.indexOf('(') < 0;
    }

    private void unknownKeys(JsonNode node, Set<String> allowed, String path) {
      node.fieldNames().forEachRemaining(k -> {
        if (!allowed.contains(k)) {
          error(path + "." + k, "unknown key; expected one of " + String.join(", ", new java.util.TreeSet<>(allowed)));
        }
      });
    }

    private String text(JsonNode node, String key, String path, boolean required) {
      JsonNode v = node.get(key);
      if (v == null || v.isNull()) {
        if (required) {
          error(path + "." + key, "is required");
        }
        return null;
      }
      if (!v.isValueNode()) {
        error(path + "." + key, "must be a single value, got " + (v.isObject() ? "a mapping" : "a list"));
        return null;
      }
      return v.asText();
    }

    private int wholeNumber(JsonNode node, String key, String path, int def) {
      JsonNode n = node.get(key);
      if (n == null) {
        return def;
      }
      if (!n.canConvertToInt() || !n.isIntegralNumber()) {
        error(path + "." + key, "must be a whole number, got " + n);
        return def;
      }
      return n.intValue();
    }

    private Durability durability(JsonNode node, String path) {
      String d = text(node, "durability", path, false);
      if (d != null) {
        try {
          return Durability.parse(d);
        } catch (IllegalArgumentException ex) {
          error(path + ".durability", ex.getMessage());
        }
      }
      return Durability.os();
    }

    /**
     * Whether {@code fields} of {@code path} is missing, not a mapping or empty, said so: a list of
     * names was reported as missing ({@code fields: [u, ts]}: "is required").
     */
    private boolean fieldsMissing(JsonNode fn, String path) {
      if (fn == null || fn.isNull() || fn.isObject() && fn.isEmpty()) {
        error(path + ".fields", FIELDS_REQUIRED);
        return true;
      }
      if (!fn.isObject()) {
        error(path + ".fields", "must be a mapping of field names to types ({user: string, amount: double}), got "
            + (fn.isArray() ? "a list" : "'" + fn.asText() + "'"));
        return true;
      }
      return false;
    }

    StreamSpec stream(String name, JsonNode node) {
      String path = "streams." + name;
      if (!node.isObject()) {
        error(path, "must be a mapping with partitions, key, time and fields");
        return null;
      }
      unknownKeys(node, STREAM_KEYS, path);
      int partitions = wholeNumber(node, "partitions", path, 4);
      String key = text(node, "key", path, true);
      String time = text(node, "time", path, false);
      boolean ingestTime = "ingest".equals(time);
      if (ingestTime) {
        time = null;
      }
      Map<String, FieldType> fields = new LinkedHashMap<>();
      JsonNode fn = node.get("fields");
      if (ingestTime && fn != null && fn.isObject() && fn.has("ingest")) {
        error(path + ".time", "'ingest' means the time each event is ingested, but the stream also has a field "
            + "named 'ingest', which it would leave aside: to take that field's time, rename it (and time) to another "
            + "name; to take the ingest time, rename the field");
      }
      if (!fieldsMissing(fn, path)) {
        fn.fields().forEachRemaining(e -> {
          if (e.getValue().isNull()) {
            error(path + ".fields." + e.getKey(), "no type given: write the field's type after its name");
            incomplete.computeIfAbsent(name, k -> new java.util.LinkedHashSet<>()).add(e.getKey());
            return;
          }
          if (!e.getValue().isValueNode()) {
            error(path + ".fields." + e.getKey(), "the type must be a name (string, long, ...), got " + (e.getValue()
                .isArray() ? "a list" : "a mapping"));
            incomplete.computeIfAbsent(name, k -> new java.util.LinkedHashSet<>()).add(e.getKey());
            return;
          }
          try {
            fields.put(e.getKey(), FieldType.parse(e.getValue().asText()));
          } catch (IllegalArgumentException ex) {
            error(path + ".fields." + e.getKey(), ex.getMessage());
            incomplete.computeIfAbsent(name, k -> new java.util.LinkedHashSet<>()).add(e.getKey());
          }
        });
      }
      List<String> rules = new ArrayList<>();
      JsonNode rn = node.get("rules");
      if (rn != null) {
        if (!rn.isArray()) {
          error(path + ".rules", "must be a list of conditions");
        } else {
          rn.forEach(x -> rules.add(x.asText()));
        }
      }
      Durability durability = durability(node, path);
      String id = text(node, "id", path, false);
      java.time.Duration dedupWindow = StreamSpec.DEFAULT_DEDUP_WINDOW;
      String dw = text(node, "dedup_window", path, false);
      if (dw != null) {
        try {
          dedupWindow = Durations.parse(dw);
        } catch (IllegalArgumentException ex) {
          error(path + ".dedup_window", ex.getMessage());
        }
      }
      StreamSpec.TimeUnit unit = null;
      String tu = text(node, "time_unit", path, false);
      if (tu != null) {
        try {
          unit = StreamSpec.TimeUnit.parse(tu);
        } catch (IllegalArgumentException ex) {
          error(path + ".time_unit", ex.getMessage());
        }
      }
      java.time.Duration maxOutOfOrder = optionalDuration(node, "max_out_of_order", path, true);
      java.time.Duration idleAfter = optionalDuration(node, "idle_after", path, false);
      java.time.Duration maxFuture = optionalDuration(node, "max_future", path, false);
      return new StreamSpec(name, partitions, key, time, fields, rules, durability, id, dedupWindow, unit,
          maxOutOfOrder, idleAfter, maxFuture);
    }

    /** A duration option, or null when absent or invalid (the error is recorded with its path). */
    private java.time.Duration optionalDuration(JsonNode node, String field, String path, boolean zeroAllowed) {
      String text = text(node, field, path, false);
      if (text == null) {
        return null;
      }
      try {
        return zeroAllowed ? Durations.parseAllowingZero(text) : Durations.parse(text);
      } catch (IllegalArgumentException ex) {
        error(path + "." + field, ex.getMessage());
        return null;
      }
    }

    TableSpec table(String name, JsonNode node) {
      String path = "tables." + name;
      if (!node.isObject()) {
        error(path, "must be a mapping with key and fields");
        return null;
      }
      unknownKeys(node, TABLE_KEYS, path);
      int partitions = wholeNumber(node, "partitions", path, 4);
      int keep = wholeNumber(node, "keep", path, TableSpec.DEFAULT_KEEP);
      String key = text(node, "key", path, true);
      String time = text(node, "time", path, false);
      Map<String, TableFieldType> fields = new LinkedHashMap<>();
      JsonNode fn = node.get("fields");
      if (!fieldsMissing(fn, path)) {
        List<Map.Entry<String, JsonNode>> entries = new ArrayList<>();
        fn.fields().forEachRemaining(entries::add);
        for (int i = 0; i < entries.size(); i++) {
          String field = entries.get(i).getKey();
          JsonNode v = entries.get(i).getValue();
          if (v.isNull()) {
            error(path + ".fields." + field, "no type given: write the field's type after its name");
            continue;
          }
          if (!v.isValueNode()) {
            error(path + ".fields." + field, "the type must be a name (string, long, set<string>, ...), got "
                + (v.isArray() ? "a list" : "a mapping"));
            continue;
          }
          String type = v.asText();
          if (type.contains("<") && !type.contains(">") && i + 1 < entries.size()
              && entries.get(i + 1).getValue().isNull() && entries.get(i + 1).getKey().endsWith(">")) {
            String whole = type + "," + entries.get(++i).getKey(); // the rest of the type, read as a field name
            error(path + ".fields." + field, String.format("'%s' was split at its comma: in a YAML flow mapping {...} "
                + "a comma ends an entry; quote the type (%s: '%s') or write the fields one per line", whole, field,
                whole));
            continue;
          }
          try {
            fields.put(field, TableFieldType.parse(type));
          } catch (IllegalArgumentException ex) {
            error(path + ".fields." + field, ex.getMessage());
          }
        }
      }
      Duration ttl = null;
      String tt = text(node, "ttl", path, false);
      if (tt != null) {
        try {
          ttl = Durations.parse(tt);
        } catch (IllegalArgumentException ex) {
          error(path + ".ttl", ex.getMessage());
        }
      }
      Durability durability = durability(node, path);
      return new TableSpec(name, partitions, key, time, fields, ttl, durability, keep);
    }

    ViewSpec view(String name, JsonNode node) {
      String path = "views." + name;
      if (!node.isObject()) {
        error(path, "must be a mapping with from, group_by and aggregate");
        return null;
      }
      unknownKeys(node, VIEW_KEYS, path);
      String from = text(node, "from", path, true);
      String filter = text(node, "filter", path, false);
      String groupBy = text(node, "group_by", path, true);
      WindowSpec window = window(node.get("window"), path + ".window");
      Map<String, String> aggregates = new LinkedHashMap<>();
      JsonNode an = node.get("aggregate");
      if (an != null && !an.isNull() && !an.isObject()) {
        error(path + ".aggregate", "must be a mapping of output names to aggregations, e.g. {n: count}, got "
            + (an.isTextual() ? "'" + an.asText() + "'" : an.toString()));
      } else if (an == null || an.isEmpty()) {
        error(path + ".aggregate", AGGREGATE_REQUIRED);
      } else {
        aggregates(an, path + ".aggregate", aggregates);
      }
      Duration every = null;
      JsonNode bn = node.get("batch");
      if (bn != null && !bn.isNull()) {
        if (!bn.isObject() || bn.get("every") == null) {
          error(path + ".batch", "must be {every: <duration>}, e.g. {every: 1h}");
        } else {
          unknownKeys(bn, Set.of("every"), path + ".batch");
          try {
            every = Durations.parse(bn.get("every").asText());
          } catch (IllegalArgumentException ex) {
            error(path + ".batch.every", ex.getMessage());
          }
        }
      }
      ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
      String m = text(node, "mode", path, false);
      if (m != null) {
        if (m.equalsIgnoreCase("lambda")) {
          mode = ViewSpec.Mode.LAMBDA;
        } else if (m.equalsIgnoreCase("kappa")) {
          mode = ViewSpec.Mode.KAPPA;
        } else {
          error(path + ".mode", "unknown mode '" + m + "'; expected lambda or kappa");
        }
      }
      int keep = ViewSpec.DEFAULT_KEEP;
      JsonNode kn = node.get("keep");
      if (kn != null && !kn.isNull()) {
        if (!kn.isIntegralNumber() || !kn.canConvertToInt()) {
          error(path + ".keep", "must be a whole number of backup versions, got " + kn);
        } else {
          keep = kn.intValue();
        }
      }
      Duration retain = null;
      String rt = text(node, "retain", path, false);
      if (rt != null) {
        try {
          retain = Durations.parse(rt);
        } catch (IllegalArgumentException ex) {
          error(path + ".retain", ex.getMessage());
        }
      }
      Duration lateness = optionalDuration(node, "allowed_lateness", path, true);
      return new ViewSpec(name, from, filter, groupBy, window, aggregates, every, mode, keep, retain, lateness);
    }

    private static final String WINDOW_FORMS = "must be {tumbling: <duration>} (optionally with zone: <region>), "
        + "{hopping: {size: <duration>, every: <duration>}} or {session: {gap: <duration>}}, e.g. {tumbling: 1h}";

    /** Parses {@code window:}; null when absent or invalid (errors recorded with their paths). */
    private WindowSpec window(JsonNode wn, String path) {
      if (wn == null || wn.isNull()) {
        return null;
      }
      if (!wn.isObject()) {
        error(path, WINDOW_FORMS);
        return null;
      }
      List<String> kinds = new ArrayList<>();
      for (String k : List.of("tumbling", "hopping", "session")) {
        if (wn.has(k)) {
          kinds.add(k);
        }
      }
      if (kinds.size() != 1) {
        error(path, kinds.isEmpty() ? WINDOW_FORMS : "has " + String.join(" and ", kinds) + "; a window has one kind");
        return null;
      }
      String kind = kinds.get(0);
      unknownKeys(wn, kind.equals("tumbling") ? Set.of("tumbling", "zone") : Set.of(kind), path);
      try {
        switch (kind) {
          case "tumbling": {
            Duration size = windowDuration(wn.get("tumbling"), path + ".tumbling");
            java.time.ZoneId zone = null;
            JsonNode zn = wn.get("zone");
            if (zn != null && !zn.isNull()) {
              try {
                zone = java.time.ZoneId.of(zn.asText());
              } catch (java.time.DateTimeException ex) {
                error(path + ".zone", "unknown time zone '" + zn.asText() + "': use a region like Europe/Berlin or an "
                    + "offset like +05:30");
                return null;
              }
            }
            if (size == null) {
              return null;
            }
            try {
              return WindowSpec.tumbling(size, zone);
            } catch (IllegalArgumentException ex) {
              error(path + (zone != null ? ".zone" : ".tumbling"), ex.getMessage());
              return null;
            }
          }
          case "hopping": {
            JsonNode h = wn.get("hopping");
            if (!h.isObject() || h.get("size") == null || h.get("every") == null) {
              error(path + ".hopping", "must be {size: <duration>, every: <duration>}, e.g. {size: 1h, every: 5m}");
              return null;
            }
            unknownKeys(h, Set.of("size", "every"), path + ".hopping");
            Duration size = windowDuration(h.get("size"), path + ".hopping.size");
            Duration every = windowDuration(h.get("every"), path + ".hopping.every");
            if (size == null || every == null) {
              return null;
            }
            try {
              return WindowSpec.hopping(size, every);
            } catch (IllegalArgumentException ex) {
              error(path + ".hopping.every", ex.getMessage());
              return null;
            }
          }
          default: {
            JsonNode h = wn.get("session");
            if (!h.isObject() || h.get("gap") == null) {
              error(path + ".session", "must be {gap: <duration>}, e.g. {gap: 30m}");
              return null;
            }
            unknownKeys(h, Set.of("gap"), path + ".session");
            Duration gap = windowDuration(h.get("gap"), path + ".session.gap");
            return gap == null ? null : WindowSpec.session(gap);
          }
        }
      } catch (IllegalArgumentException ex) {
        error(path, ex.getMessage());
        return null;
      }
    }

    private Duration windowDuration(JsonNode n, String path) {
      if (n == null || !n.isValueNode()) {
        error(path, "must be a duration like 30s, 5m, 1h or 1d");
        return null;
      }
      try {
        Duration d = Durations.parse(n.asText());
        if (d.isZero()) {
          error(path, "must be positive, got " + n.asText());
          return null;
        }
        return d;
      } catch (IllegalArgumentException ex) {
        error(path, ex.getMessage());
        return null;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One view's definition on its own (reprocess, the version catalog)
  // ---------------------------------------------------------------------------------------------

  /**
   * Parses a new definition of view {@code name} against this spec's streams and validates it. The
   * text (YAML or JSON) is either the view itself, in the form it has under {@code views:}
   * ({@code {from: tx, group_by: user, aggregate: {n: count}}}), or a whole pipeline spec, from which
   * {@code views.<name>} is taken. Errors name paths in the text as sent: {@code aggregate.total}
   * for the view alone, {@code views.<name>.aggregate.total} in a whole spec.
   *
   * @throws SpecException listing every error
   */
  public ViewSpec parseView(String name, String text, String source) {
    return parseView(name, text, source, null);
  }

  /**
   * {@link #parseView(String, String, String)}, reading a definition without {@code mode} or
   * {@code keep} as of {@code current}'s (null: lambda and the default keep), as a reprocess of a
   * view reads it: a reprocess cannot change the mode, and a new definition that does not name how
   * many backups to keep keeps as many as before, so it need not repeat either.
   */
  public ViewSpec parseView(String name, String text, String source, ViewSpec current) {
    ObjectMapper mapper = yamlMapper();
    mapper.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    JsonNode root;
    List<SpecError> numbers;
    try {
      numbers = numberForms(mapper, text, source);
      root = readOne(mapper, text, source, "the definition");
    } catch (JsonProcessingException e) {
      throw new SpecException(List.of(syntaxError(source, e, "not valid YAML or JSON")));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e); // a String has no I/O to fail
    }
    if (root == null || root.isMissingNode() || root.isNull() || !root.isObject()) {
      throw new SpecException(List.of(new SpecError(source, "", "the definition must be a mapping with from, "
          + "group_by and aggregate (or a whole spec with views." + name + ")")));
    }
    String prefix = "";
    JsonNode node = root;
    if (root.has("views") || root.has("streams") || root.has("tables")) { // a whole spec, not a view alone
      prefix = "views." + name;
      node = root.path("views").path(name);
      if (!node.isObject()) {
        throw new SpecException(List.of(new SpecError(source, prefix, "the spec has no view '" + name + "'")));
      }
    }
    if (current != null && node.isObject() && !node.has("mode")) {
      ((com.fasterxml.jackson.databind.node.ObjectNode) node).put("mode",
          current.mode().name().toLowerCase(java.util.Locale.ROOT));
    }
    if (current != null && node.isObject() && !node.has("keep")) {
      ((com.fasterxml.jackson.databind.node.ObjectNode) node).put("keep", current.keep());
    }
    List<SpecError> errors = new ArrayList<>(numbers);
    Reader reader = new Reader(source, errors);
    ViewSpec view = reader.view(name, node);
    if (view != null && errors.isEmpty() && !prefix.isEmpty()) {
      streamDiffers(root, view.from(), source, errors);
    }
    if (view != null) {
      // every error, as a spec file's: the checks too where the reader found a problem elsewhere (a
      // bad duration hid an unknown group_by field), not where it found one (see parse)
      Set<String> reported = reported(errors);
      Map<String, ViewSpec> one = new LinkedHashMap<>();
      one.put(name, view);
      String own = "views." + name;
      for (SpecError e : new PipelineSpec(source, streams, one).check()) {
        if ((e.path().equals(own) || e.path().startsWith(own + ".")) && !reported.contains(e.path())) {
          errors.add(e);
        }
      }
    }
    if (!errors.isEmpty()) {
      String own = "views." + name;
      List<SpecError> relative = new ArrayList<>();
      for (SpecError e : errors) {
        String path = e.path();
        if (prefix.isEmpty() && (path.equals(own) || path.startsWith(own + "."))) {
          path = path.length() == own.length() ? "" : path.substring(own.length() + 1);
        }
        relative.add(new SpecError(e.source(), path, e.message()));
      }
      throw new SpecException(relative);
    }
    return view;
  }

  /**
   * In a whole spec sent for one view, its stream {@code from} must be defined as this spec defines
   * it: the view is computed over the stream that runs, so a file whose stream differs (more
   * partitions, another field) describes a view that would not be the one built.
   */
  private void streamDiffers(JsonNode root, String from, String source, List<SpecError> errors) {
    JsonNode node = root.path("streams").path(from);
    StreamSpec running = streams.get(from);
    if (!node.isObject() || running == null) {
      return;
    }
    List<SpecError> invalid = new ArrayList<>();
    StreamSpec sent = new Reader(source, invalid).stream(from, node);
    if (sent == null || !invalid.isEmpty() || sent.equals(running)) {
      return; // an invalid stream in the file says nothing about the view: it is checked against the running one
    }
    List<String> differences = new ArrayList<>();
    for (java.lang.reflect.RecordComponent c : StreamSpec.class.getRecordComponents()) {
      try {
        Object a = c.getAccessor().invoke(sent);
        Object b = c.getAccessor().invoke(running);
        if (!java.util.Objects.equals(a, b)) {
          differences.add(specKey(c.getName()) + " " + specText(a) + ", not " + specText(b));
        }
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot read StreamSpec." + c.getName(), e);
      }
    }
    errors.add(new SpecError(source, "streams." + from, "differs from the stream the server runs ("
        + String.join("; ", differences) + "): a reprocess changes only the view and reads the stream as it "
        + "runs; send the view alone or a spec whose stream '" + from + "' is the running one"));
  }

  /** A stream setting's key as a spec writes it: {@code maxOutOfOrder} is {@code max_out_of_order}. */
  private static String specKey(String component) {
    return component.equals("dedupWindow") ? "dedup_window"
        : component.replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
  }

  /** A stream setting as a spec writes it: field types by their spec names, durations as 30s, none as "none". */
  private static String specText(Object value) {
    if (value == null) {
      return "none";
    }
    if (value instanceof Duration d) {
      return Durations.format(d);
    }
    if (value instanceof StreamSpec.TimeUnit u) {
      return u.specName();
    }
    if (value instanceof Map<?, ?> m) {
      StringBuilder b = new StringBuilder("{");
      m.forEach((k, v) -> b.append(b.length() > 1 ? ", " : "").append(k).append(": ")
          .append(v instanceof FieldType t ? t.specName() : v));
      return b.append('}').toString();
    }
    return String.valueOf(value);
  }

  /**
   * The definition of {@code view} as JSON in the form it has under {@code views:} in a spec, so that
   * {@link #parseView} reads it back to an equal view.
   */
  public static String viewDocument(ViewSpec view) {
    com.fasterxml.jackson.databind.node.ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("from", view.from());
    if (view.filter() != null) {
      o.put("filter", view.filter());
    }
    o.put("group_by", view.groupBy());
    WindowSpec w = view.window();
    if (w != null) {
      com.fasterxml.jackson.databind.node.ObjectNode wo = o.putObject("window");
      switch (w.kind()) {
        case TUMBLING:
          wo.put("tumbling", Durations.format(w.size()));
          if (w.zone() != null) {
            wo.put("zone", w.zone().getId());
          }
          break;
        case HOPPING:
          wo.putObject("hopping").put("size", Durations.format(w.size())).put("every", Durations.format(w.every()));
          break;
        default:
          wo.putObject("session").put("gap", Durations.format(w.gap()));
      }
    }
    com.fasterxml.jackson.databind.node.ObjectNode agg = o.putObject("aggregate");
    view.aggregates().forEach(agg::put);
    if (view.batchEvery() != null) {
      o.putObject("batch").put("every", Durations.format(view.batchEvery()));
    }
    o.put("mode", view.mode().name().toLowerCase(java.util.Locale.ROOT));
    o.put("keep", view.keep());
    if (view.retain() != null) {
      o.put("retain", Durations.format(view.retain()));
    }
    if (view.allowedLateness() != null) {
      o.put("allowed_lateness", Durations.format(view.allowedLateness()));
    }
    return o.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Validation
  // ---------------------------------------------------------------------------------------------

  /** Throws {@link SpecException} listing every error; returns normally when the spec is valid. */
  public void validate() {
    List<SpecError> errors = check();
    if (!errors.isEmpty()) {
      throw new SpecException(errors);
    }
  }

  /** Every error of the spec, empty when it is valid. */
  public List<SpecError> check() {
    return check(Map.of());
  }

  /**
   * @param incomplete streams that lost fields the YAML reader could not read (a bad type), with
   *     those fields' names: only their own settings are checked, and that the key, time and id
   *     fields exist, or every rule, key and view using such a field would be reported as well, as
   *     unknown
   */
  private List<SpecError> check(Map<String, Set<String>> incomplete) {
    List<SpecError> errors = new ArrayList<>();
    Map<String, EventSchema> schemas = new LinkedHashMap<>();
    // Per stream that lost fields to a bad type: those fields. Its rules and views are checked with the
    // lost fields declared untyped (CEL's dyn), so one run names every other error.
    Map<String, Set<String>> lostFields = new LinkedHashMap<>();
    // Required parts are checked here as well as by the YAML reader, so that a spec built in Java
    // is refused the same way (the reader's duplicates are dropped in parse).
    for (StreamSpec s : streams.values()) {
      String path = "streams." + s.name();
      if (!NAME.matcher(s.name()).matches()) {
        errors.add(new SpecError(source, path, "invalid name: use letters, digits and '_', starting with a letter"));
      }
      if (s.partitions() < 1 || s.partitions() > 4096) {
        errors.add(new SpecError(source, path + ".partitions", "must be in 1..4096, got " + s.partitions()));
      }
      if (incomplete.containsKey(s.name())) {
        Set<String> declared = new java.util.LinkedHashSet<>(s.fields().keySet());
        declared.addAll(incomplete.get(s.name()));
        for (String[] role : new String[][] {{"key", s.key()}, {"time", s.time()}, {"id", s.id()}}) {
          if (role[1] != null && !declared.contains(role[1])) {
            errors.add(new SpecError(source, path + "." + role[0], "'" + role[1] + "' is not a field (fields: "
                + String.join(", ", declared) + ")"));
          }
        }
        timeAndIdTypesFit(s, errors);
        // its rules and views are checked against the fields that could be read, the lost ones untyped
        EventSchema readable = readableSchema(s);
        if (readable != null) {
          checkRules(s, new Expressions(readable, incomplete.get(s.name())), errors);
          schemas.put(s.name(), readable);
          lostFields.put(s.name(), incomplete.get(s.name()));
        }
        continue;
      }
      if (s.fields().isEmpty()) {
        errors.add(new SpecError(source, path + ".fields", FIELDS_REQUIRED));
        if (s.key() == null) {
          errors.add(new SpecError(source, path + ".key", "is required"));
        }
        continue;
      }
      for (String f : s.fields().keySet()) {
        if (!NAME.matcher(f).matches() || CEL_RESERVED.contains(f)) {
          errors.add(new SpecError(source, path + ".fields." + f, "invalid field name: use letters, digits and '_', "
              + "starting with a letter, and not a word reserved in expressions (" + String.join(", ",
              new java.util.TreeSet<>(CEL_RESERVED)) + ")"));
        }
      }
      // key and time are independent: report both before giving up on this stream
      boolean usable = true;
      if (s.key() == null) {
        errors.add(new SpecError(source, path + ".key", "is required"));
        usable = false;
      } else if (!s.fields().containsKey(s.key())) {
        errors.add(new SpecError(source, path + ".key", "'" + s.key() + "' is not a field (fields: "
            + String.join(", ", s.fields().keySet()) + ")"));
        usable = false;
      }
      if (s.time() != null && !s.fields().containsKey(s.time())) {
        errors.add(new SpecError(source, path + ".time", "'" + s.time() + "' is not a field; name a timestamp field or "
            + "write `time: ingest`"));
        usable = false;
      }
      if (s.id() != null && !s.fields().containsKey(s.id())) {
        errors.add(new SpecError(source, path + ".id", "'" + s.id() + "' is not a field (fields: "
            + String.join(", ", s.fields().keySet()) + ")"));
      }
      usable &= timeAndIdTypesFit(s, errors);
      if (s.maxOutOfOrder().isNegative()) {
        errors.add(new SpecError(source, path + ".max_out_of_order", "must not be negative, got " + s.maxOutOfOrder()));
      }
      tooLong(s.maxOutOfOrder(), path + ".max_out_of_order", errors);
      if (s.idleAfter().isNegative() || s.idleAfter().isZero()) {
        errors.add(new SpecError(source, path + ".idle_after", "must be positive, got " + s.idleAfter()));
      }
      if (s.dedupWindow().isNegative() || s.dedupWindow().isZero()) {
        errors.add(new SpecError(source, path + ".dedup_window", "must be positive, got " + s.dedupWindow()));
      }
      if (s.maxFuture() != null && (s.maxFuture().isNegative() || s.maxFuture().isZero())) {
        errors.add(new SpecError(source, path + ".max_future", "must be positive, got " + s.maxFuture()));
      }
      EventSchema schema;
      try {
        // A bad key or time field is reported above; the rules and views are still checked, against
        // the stream's fields with a stand-in key (its first field) and the ingest time, so that one
        // run of validate names every error.
        schema = usable ? s.schema() : new EventSchema(s.name(), s.fields(),
            s.fields().containsKey(s.key()) ? s.key() : s.fields().keySet().iterator().next(),
            s.time() != null && timeFieldOk(s) ? s.time() : null, s.timeUnit().millis());
      } catch (IllegalArgumentException e) {
        errors.add(new SpecError(source, path + ".fields", e.getMessage()));
        continue;
      }
      schemas.put(s.name(), schema);
      checkRules(s, new Expressions(schema), errors);
    }
    for (ViewSpec v : views.values()) {
      String path = "views." + v.name();
      if (!NAME.matcher(v.name()).matches()) {
        errors.add(new SpecError(source, path, "invalid name: use letters, digits and '_', starting with a letter"));
      }
      if (streams.containsKey(v.name())) {
        errors.add(new SpecError(source, path, "a stream has the same name; names of streams and views must differ"));
      }
      if (v.from() == null) {
        errors.add(new SpecError(source, path + ".from", "is required"));
      }
      if (v.groupBy() == null) {
        errors.add(new SpecError(source, path + ".group_by", "is required"));
      }
      if (v.aggregates().isEmpty()) {
        errors.add(new SpecError(source, path + ".aggregate", AGGREGATE_REQUIRED));
      }
      for (String out : v.aggregates().keySet()) {
        if (!NAME.matcher(out).matches()) {
          errors.add(new SpecError(source, path + ".aggregate." + out, "invalid output name: use letters, digits "
              + "and '_', starting with a letter"));
        }
      }
      Duration every = v.batchEvery();
      if (every != null && (every.compareTo(Duration.ofMillis(1)) < 0
          || every.compareTo(Duration.ofMillis(Long.MAX_VALUE)) > 0)) {
        errors.add(new SpecError(source, path + ".batch.every", "must be from 1ms to " + Long.MAX_VALUE + "ms, got "
            + every));
      }
      if (v.keep() < 0 || v.keep() > MAX_KEEP) {
        errors.add(new SpecError(source, path + ".keep", "must be in 0.." + MAX_KEEP + ", got " + v.keep()));
      }
      if (v.retain() != null && (v.mode() != ViewSpec.Mode.KAPPA || v.window() == null)) {
        errors.add(new SpecError(source, path + ".retain", "only a windowed kappa view evicts old windows; "
            + (v.window() == null && v.mode() != ViewSpec.Mode.KAPPA ? "add a window and mode: kappa"
            : v.window() == null ? "add a window" : "add mode: kappa") + ", or remove retain"));
      }
      if (v.allowedLateness() != null && v.window() == null) {
        errors.add(new SpecError(source, path + ".allowed_lateness", "only a windowed view has late events; add a "
            + "window or remove allowed_lateness"));
      }
      tooLong(v.allowedLateness(), path + ".allowed_lateness", errors);
      tooLong(v.retain(), path + ".retain", errors);
      retainTooShort(v, path, errors);
      if (v.allowedLateness() != null && v.allowedLateness().isNegative()) {
        errors.add(new SpecError(source, path + ".allowed_lateness", "must not be negative, got "
            + v.allowedLateness()));
      }
      if (every != null && v.mode() == ViewSpec.Mode.KAPPA) {
        // the engine would silently never run it: a kappa view has no batch layer
        errors.add(new SpecError(source, path + ".batch", "a kappa view has no batch layer; remove batch or use "
            + "mode: lambda"));
      }
      if (v.from() == null) {
        continue;
      }
      if (!streams.containsKey(v.from())) {
        errors.add(new SpecError(source, path + ".from", tables.containsKey(v.from())
            ? "'" + v.from() + "' is a table, and a view reads a stream: a table is read by key (GET /v1/tables/"
                + v.from() + "/rows/{key})"
            : "unknown stream '" + v.from() + "' (streams: "
                + (streams.isEmpty() ? "none" : String.join(", ", streams.keySet())) + ")"));
        continue;
      }
      EventSchema schema = schemas.get(v.from());
      if (schema == null) {
        continue; // the stream itself is invalid and already reported
      }
      Set<String> lost = lostFields.getOrDefault(v.from(), Set.of());
      Expressions ex = new Expressions(schema, lost);
      if (v.filter() != null) {
        try {
          ex.checkCondition(v.filter());
        } catch (ExpressionException e) {
          errors.add(new SpecError(source, path + ".filter", e.getMessage()));
        }
      }
      if (v.groupBy() != null) {
        try {
          ex.checkKey(v.groupBy());
        } catch (ExpressionException e) {
          errors.add(new SpecError(source, path + ".group_by", "neither a field of '" + v.from() + "' (fields: "
              + fieldList(schema, lost) + ") nor a valid key expression: " + e.getMessage()));
        }
      }
      for (Map.Entry<String, String> a : v.aggregates().entrySet()) {
        String apath = path + ".aggregate." + a.getKey();
        try {
          AggregateCall call = Aggregations.parse(a.getValue());
          FieldType argType = null;
          if (call.field() != null && lost.contains(call.field())) {
            // its type is unknown (the field's own error is reported): the aggregation's name,
            // parameters and condition are still checked, the parameters as right when some type takes them
            Aggregations.factory(call.function());
            IllegalArgumentException refused = null; // long's reason: the type most aggregations take
            for (FieldType t : List.of(FieldType.LONG, FieldType.DOUBLE, FieldType.STRING, FieldType.BOOLEAN,
                FieldType.TIMESTAMP)) {
              try {
                Aggregations.create(call, t);
                refused = null;
                break;
              } catch (IllegalArgumentException e) {
                refused = refused == null ? e : refused;
              }
            }
            if (refused != null) {
              throw refused;
            }
          } else if (call.field() != null) {
            EventSchema.Field f = schema.find(call.field());
            if (f == null) {
              errors.add(new SpecError(source, apath, "unknown field '" + call.field() + "' of stream '" + v.from()
                  + "' (fields: " + fieldList(schema, lost) + ")"));
              continue;
            }
            argType = f.type();
          }
          if (call.field() == null || !lost.contains(call.field())) {
            // create, not factory(..).create: it also turns a user factory's other exceptions into errors
            Aggregations.create(call, argType);
          }
          if (call.where() != null) {
            try {
              ex.checkCondition(call.where());
            } catch (ExpressionException e) {
              errors.add(new SpecError(source, apath, "where: " + e.getMessage()));
            }
          }
        } catch (IllegalArgumentException e) {
          errors.add(new SpecError(source, apath, e.getMessage()));
        }
      }
    }
    checkTables(errors);
    return errors;
  }

  /**
   * The source name of the view definitions a version catalog records: they were checked when they
   * were accepted, and a rule added since (see {@link #retainTooShort}) does not refuse them at a
   * restart.
   */
  public static final String RECORDED = "catalog.json";

  /**
   * An error when view {@code v}'s {@code retain} would evict windows before they close even on a
   * single partition whose events come in order but for its stream's {@code max_out_of_order}:
   * windows are evicted once they start before the start of the window holding (end of the latest
   * window - retain), and close only {@code allowed_lateness} after the watermark (the largest event
   * time - {@code max_out_of_order}) passed their end. For tumbling windows that takes
   * {@code size + allowed_lateness + max_out_of_order} (a zoned day an hour more, for a change of
   * clocks); for hopping ones {@code 2 size - every + ...}. A session has no upper bound (it goes on
   * as long as its events do), but one of a single event closes when the watermark is two gaps past
   * it, and is read only while it starts after the horizon (the latest session's end, one gap after
   * the latest event, less retain): {@code 3 gap + ...} (a retain below one gap hid every session,
   * and none was ever sent closed). Not applied to {@link #RECORDED} definitions.
   */
  private void retainTooShort(ViewSpec v, String path, List<SpecError> errors) {
    WindowSpec w = v.window();
    StreamSpec s = streams.get(v.from());
    if (v.retain() == null || w == null || v.mode() != ViewSpec.Mode.KAPPA
        || s == null || RECORDED.equals(source) || v.retain().compareTo(Durations.MAX) > 0) {
      return;
    }
    Duration lateness = v.allowedLateness() == null || v.allowedLateness().isNegative() ? Duration.ZERO
        : v.allowedLateness().compareTo(Durations.MAX) > 0 ? Durations.MAX : v.allowedLateness();
    Duration ooo = s.maxOutOfOrder().isNegative() ? Duration.ZERO
        : s.maxOutOfOrder().compareTo(Durations.MAX) > 0 ? Durations.MAX : s.maxOutOfOrder();
    Duration span;
    String spanText;
    if (w.kind() == WindowSpec.Kind.HOPPING) {
      span = w.size().multipliedBy(2).minus(w.every());
      spanText = "two window sizes less the hop: " + Durations.format(span);
    } else if (w.kind() == WindowSpec.Kind.SESSION) {
      span = w.gap().multipliedBy(3);
      spanText = "three gaps of " + Durations.format(w.gap()) + " for a session of one event (a longer session needs "
          + "its length more)";
    } else if (w.zoned()) {
      span = w.size().plusHours(1);
      spanText = "the window's " + Durations.format(w.size()) + " and an hour for a change of clocks";
    } else {
      span = w.size();
      spanText = "the window's " + Durations.format(span);
    }
    Duration min = span.plus(lateness).plus(ooo);
    if (v.retain().compareTo(min) < 0) {
      errors.add(new SpecError(source, path + ".retain", String.format("must be at least %s (%s%s%s), got %s: a "
          + "shorter retain evicts windows before the watermark closes them, and the events still coming for them "
          + "would be lost to the view", Durations.format(min), spanText,
          lateness.isZero() ? "" : ", plus allowed_lateness " + Durations.format(lateness),
          ooo.isZero() ? "" : ", plus the max_out_of_order " + Durations.format(ooo) + " of stream '" + s.name() + "'",
          Durations.format(v.retain()))));
    }
  }

  /** The fields of {@code schema} for an error, and the {@code lost} ones (of a type that could not be read). */
  private static String fieldList(EventSchema schema, Set<String> lost) {
    return String.join(", ", schema.types().keySet())
        + (lost.isEmpty() ? "" : "; of an unknown type: " + String.join(", ", lost));
  }

  /**
   * An error when {@code d} is over {@link Durations#MAX} (set through the Java builder; a spec
   * file's parse refuses it).
   */
  private void tooLong(Duration d, String path, List<SpecError> errors) {
    if (d != null && d.compareTo(Durations.MAX) > 0) {
      errors.add(new SpecError(source, path, "must be at most " + Durations.format(Durations.MAX)
          + " (10,000 years), got " + Durations.format(d)));
    }
  }

  /**
   * Checks that stream {@code s}'s time field is a timestamp or long and its event-id field a string or
   * long, where they name fields of a known type; returns whether the time field's type fits.
   */
  private boolean timeAndIdTypesFit(StreamSpec s, List<SpecError> errors) {
    String path = "streams." + s.name();
    boolean fits = true;
    FieldType time = s.time() == null ? null : s.fields().get(s.time());
    if (time != null && time != FieldType.TIMESTAMP && time != FieldType.LONG) {
      errors.add(new SpecError(source, path + ".time", "'" + s.time() + "' is a " + time.specName()
          + " field; the time field must be a timestamp or long"));
      fits = false;
    }
    FieldType id = s.id() == null ? null : s.fields().get(s.id());
    if (id != null && id != FieldType.STRING && id != FieldType.LONG) {
      errors.add(new SpecError(source, path + ".id", "'" + s.id() + "' is a " + id.specName()
          + " field; the event-id field must be a string or long"));
    }
    return fits;
  }

  /**
   * A schema of the fields of {@code s} that could be read (a field of a bad type is left out), with
   * a stand-in key and no time field, to check expressions against; null when there is none.
   */
  private static EventSchema readableSchema(StreamSpec s) {
    if (s.fields().isEmpty()) {
      return null;
    }
    try {
      String key = s.fields().containsKey(s.key()) ? s.key() : s.fields().keySet().iterator().next();
      return new EventSchema(s.name(), s.fields(), key, null, s.timeUnit().millis());
    } catch (IllegalArgumentException e) {
      return null; // the stream's own errors are reported already
    }
  }

  /**
   * Checks stream {@code s}'s rules with {@code ex}. For a stream that lost fields to a bad type,
   * {@code ex} declares them untyped, so a rule naming one is still checked everywhere else.
   */
  private void checkRules(StreamSpec s, Expressions ex, List<SpecError> errors) {
    for (int i = 0; i < s.rules().size(); i++) {
      try {
        ex.checkCondition(s.rules().get(i));
      } catch (ExpressionException e) {
        errors.add(new SpecError(source, "streams." + s.name() + ".rules[" + i + "]", e.getMessage()));
      }
    }
  }

  /** Whether stream {@code s}'s time field is a field of a type that can hold event time. */
  private static boolean timeFieldOk(StreamSpec s) {
    FieldType t = s.fields().get(s.time());
    return t == FieldType.TIMESTAMP || t == FieldType.LONG;
  }

  private void checkTables(List<SpecError> errors) {
    for (TableSpec t : tables.values()) {
      String path = "tables." + t.name();
      if (!NAME.matcher(t.name()).matches()) {
        errors.add(new SpecError(source, path, "invalid name: use letters, digits and '_', starting with a letter"));
      }
      if (streams.containsKey(t.name()) || views.containsKey(t.name())) {
        errors.add(new SpecError(source, path, "a stream or view has the same name; names of streams, views and "
            + "tables must differ"));
      }
      if (t.partitions() < 1 || t.partitions() > 4096) {
        errors.add(new SpecError(source, path + ".partitions", "must be in 1..4096, got " + t.partitions()));
      }
      if (t.keep() < 0 || t.keep() > MAX_KEEP) {
        errors.add(new SpecError(source, path + ".keep", "must be in 0.." + MAX_KEEP + ", got " + t.keep()));
      }
      if (t.ttl() != null && t.ttl().toMillis() < 1) {
        errors.add(new SpecError(source, path + ".ttl", "must be at least 1ms, got " + Durations.format(t.ttl())));
      }
      if (t.fields().isEmpty()) {
        continue; // reported by the reader (or below for Java specs)
      }
      for (String f : t.fields().keySet()) {
        if (!NAME.matcher(f).matches()) {
          errors.add(new SpecError(source, path + ".fields." + f, "invalid field name: use letters, digits and '_', "
              + "starting with a letter"));
        } else if (f.equals(TableSpec.TIMESTAMP_FIELD)) {
          errors.add(new SpecError(source, path + ".fields." + f, "the name '" + f + "' is reserved: a write's body "
              + "field of that name gives the write's timestamp; name the field otherwise"));
        }
      }
      if (t.key() == null) {
        errors.add(new SpecError(source, path + ".key", "is required"));
      } else {
        TableFieldType kt = t.fields().get(t.key());
        if (kt == null) {
          errors.add(new SpecError(source, path + ".key", "unknown field '" + t.key() + "' (fields: "
              + String.join(", ", t.fields().keySet()) + ")"));
        } else if (kt.isCollection() || !(kt.element() == FieldType.STRING || kt.element() == FieldType.LONG)) {
          errors.add(new SpecError(source, path + ".key", "the key field '" + t.key() + "' must be a string or long, "
              + "not " + kt.specName()));
        }
      }
      if (t.time() != null) {
        TableFieldType tt = t.fields().get(t.time());
        if (tt == null) {
          errors.add(new SpecError(source, path + ".time", "unknown field '" + t.time() + "' (fields: "
              + String.join(", ", t.fields().keySet()) + ")"));
        } else if (tt.isCollection() || !(tt.element() == FieldType.TIMESTAMP || tt.element() == FieldType.LONG)) {
          errors.add(new SpecError(source, path + ".time", "the time field '" + t.time() + "' must be a timestamp or "
              + "long, not " + tt.specName()));
        }
      }
    }
  }
}
