package dev.braid.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.EvaluationException;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import dev.braid.log.AppendResult;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordTooLargeException;
import dev.braid.spec.StreamSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Ingest into one stream: parse, type-check and encode each event once ({@link EventEncoder}),
 * check the stream's rules, route it to its key's partition, and append each partition's events as
 * one batch. A bad event is rejected with its index and reason; the good events of the same request
 * are still appended, and every rejected event is appended, with its reason and its text as sent,
 * to the stream's dead-letter log before the call returns: nothing sent is lost silently.
 * Thread-safe: each calling thread gets its own encoder and batch builders.
 *
 * <h2>Ids and deduplication</h2>
 *
 * An event gets an id when the stream names an id field ({@code id: txn_id}: the field's value) or,
 * otherwise, when the request carries an idempotency key {@code K} (event {@code i} of the request:
 * {@code K#i}). Events with ids are appended in batches that carry the id in every record, and a
 * {@link DedupIndex} remembers them for the stream's {@code dedup_window}: an event whose id was
 * appended within the window, or appears earlier in the same request, is not appended again but
 * acknowledged with the original position and counted in {@link IngestResult#duplicates()}. The
 * index is rebuilt from the log by {@link #rebuildDedupIndex()}. Requests without ids take the
 * original path, untouched.
 */
public final class Ingestor {

  /** The suffix of a stream's dead-letter log in the {@link dev.braid.log.Log}. */
  public static final String DEAD_LETTER_SUFFIX = ".dead-letters";
  /** A field twice in one object is an error, not "the last one wins" (a JSON producer's bug, or two meanings). */
  private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
      .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
  /**
   * Reads one event per text and refuses anything after it: by default Jackson stops after the
   * first value, so two events on one NDJSON line would keep the first and silently drop the second.
   */
  private static final ObjectReader ONE_EVENT;

  /**
   * How deep one event may nest objects and arrays, counting itself, in any body: an NDJSON line,
   * an element of a JSON array (the array is not counted) or a single JSON object. A limit because
   * each level costs parser stack; the same everywhere, so that the content type does not decide
   * whether an event is refused.
   */
  public static final int MAX_EVENT_DEPTH = 64;

  /**
   * How many characters a JSON number may have in any body, as for {@link #MAX_EVENT_DEPTH}: a
   * number too long for its field is then that event's rejection whatever the content type. Long
   * enough for any number a field takes, short enough that reading one costs microseconds.
   */
  public static final int MAX_NUMBER_LENGTH = 1000;

  static {
    JSON.getFactory().setStreamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
        .maxNestingDepth(MAX_EVENT_DEPTH).maxNumberLength(MAX_NUMBER_LENGTH).build());
    ONE_EVENT = JSON.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    TREELESS = JSON.getFactory().rebuild() // an ObjectReader's without() leaves the factory's detection on
        .disable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
  }
  /**
   * Parsers for {@link EventEncoder#tryEncode}, which finds a field given twice itself (Jackson's
   * detection keeps a set of names per object); the limits are {@link #JSON}'s.
   */
  private static final com.fasterxml.jackson.core.JsonFactory TREELESS;
  private static final int MAX_DEAD_LETTER_TEXT = 64 << 10;

  private final StreamSpec spec;
  private final EventSchema schema;
  private final LogStream stream;
  private final LogStream deadLetters;
  private final List<EventPredicate> rules = new ArrayList<>();
  private final List<String> ruleTexts;
  /** The fields each rule reads, by schema index: a rule that read a null one names it when it fails. */
  private final int[][] ruleFields;
  private final LongSupplier clock;
  private final ThreadLocal<Scratch> scratch;
  private final RateMeter acceptedRate = new RateMeter();
  private final RateMeter rejectedRate = new RateMeter();
  private final DedupIndex dedup;
  /** The event-id field's index in the schema, or -1 when the stream has none. */
  private final int idField;
  private final boolean idIsString;

  private final class Scratch {
    final EventEncoder encoder = new EventEncoder(schema);
    final EventEncoder.Encoded encoded = new EventEncoder.Encoded();
    final EventReader reader = new EventReader(schema);
    final RecordBatchBuilder[] builders = new RecordBatchBuilder[stream.partitions()];
    @SuppressWarnings("unchecked")
    final List<Integer>[] indexes = new List[stream.partitions()];
    final Staged staged = new Staged();
    final DedupIndex.Hasher hasher = new DedupIndex.Hasher();
    final Map<DedupIndex.Key, Integer> firstById = new java.util.HashMap<>();

    Scratch() {
      for (int p = 0; p < builders.length; p++) {
        builders[p] = new RecordBatchBuilder(16 << 10, stream.config().maxRecordBytes());
        indexes[p] = new ArrayList<>();
      }
    }
  }

  /** An ingestor that keeps no dead letters. */
  public Ingestor(StreamSpec spec, LogStream stream, LongSupplier clock) {
    this(spec, stream, null, clock);
  }

  /**
   * @param deadLetters the log that receives rejected events (one partition), or null to keep none
   */
  public Ingestor(StreamSpec spec, LogStream stream, LogStream deadLetters, LongSupplier clock) {
    this(spec, spec.schema(), stream, deadLetters, clock);
  }

  /**
   * @param schema the spec's fields as stored in this stream's log ({@link EventSchema#firstFields()}:
   *     which fields it had first, when fields were added since)
   * @param deadLetters the log that receives rejected events (one partition), or null to keep none
   */
  public Ingestor(StreamSpec spec, EventSchema schema, LogStream stream, LogStream deadLetters, LongSupplier clock) {
    if (!schema.types().equals(spec.schema().types())) {
      throw new IllegalArgumentException("schema of stream '" + spec.name() + "' does not have the spec's fields");
    }
    this.spec = spec;
    this.deadLetters = deadLetters;
    this.schema = schema;
    this.stream = stream;
    this.clock = clock;
    Expressions ex = new Expressions(schema);
    for (String r : spec.rules()) {
      rules.add(ex.predicate(r));
    }
    this.ruleTexts = List.copyOf(spec.rules());
    this.ruleFields = ruleTexts.stream()
        .map(r -> ex.fieldsRead(r).stream().mapToInt(EventSchema.Field::index).toArray())
        .toArray(int[][]::new);
    this.scratch = ThreadLocal.withInitial(Scratch::new);
    this.dedup = new DedupIndex(spec.dedupWindow());
    if (spec.id() != null) {
      EventSchema.Field f = schema.require(spec.id());
      this.idField = f.index();
      this.idIsString = f.type() == dev.braid.event.FieldType.STRING;
    } else {
      this.idField = -1;
      this.idIsString = false;
    }
  }

  /** The longest idempotency key accepted, in characters. */
  public static final int MAX_IDEMPOTENCY_KEY_LENGTH = 256;

  /**
   * Why {@code key} cannot be an idempotency key, or null when it can: it must be 1 to
   * {@value #MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters (space to '~').
   */
  public static String checkIdempotencyKey(String key) {
    if (key.isEmpty()) {
      return "is empty";
    }
    if (key.length() > MAX_IDEMPOTENCY_KEY_LENGTH) {
      return "is " + key.length() + " characters long; at most " + MAX_IDEMPOTENCY_KEY_LENGTH;
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x20 || c > 0x7E) {
        return String.format("has a character that is not printable ASCII (U+%04X) at index %d", (int) c, i);
      }
    }
    return null;
  }

  public StreamSpec spec() {
    return spec;
  }

  public LogStream stream() {
    return stream;
  }

  /** One event to encode: the adapter hides whether it came as JSON, text or a Java map. */
  private interface Source {
    String encode(EventEncoder encoder, int index, long now, EventEncoder.Encoded out);

    /** The event as sent, for the dead-letter log. */
    String text(int index);

    /**
     * The event as text that is the same for the same event in any JVM, for a keyed request's hash
     * (see {@link #rejectedRequests}): {@link #text}, but a Java map's fields in name order (the
     * order of a {@code Map.of} differs from one JVM to the next, so a retry after a restart hashed
     * otherwise).
     */
    default String canonicalText(int index) {
      return text(index);
    }
  }

  public IngestResult ingestJson(List<JsonNode> events) {
    return ingestJson(events, null);
  }

  /**
   * As {@link #ingestJson(List)}; with an {@code idempotencyKey} (null for none), a retry of the
   * request within the dedup window is acknowledged with the first attempt's positions.
   *
   * @throws IllegalArgumentException when the key is not a valid idempotency key
   */
  public IngestResult ingestJson(List<JsonNode> events, String idempotencyKey) {
    java.util.Objects.requireNonNull(events, "events (a list of JSON objects) is null");
    return ingest(events.size(), idempotencyKey, new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        return enc.encode(events.get(i), now, out);
      }

      public String text(int i) {
        return String.valueOf(events.get(i));
      }
    });
  }

  /** As {@link #jsonError}, for the text of events: a nesting limit is named as {@link #MAX_EVENT_DEPTH}. */
  public static String eventJsonError(JsonProcessingException e) {
    return tooDeep(e) ? "an event nests objects and arrays more than " + MAX_EVENT_DEPTH + " levels deep"
        : jsonError(e);
  }

  /** Whether {@code e} is Jackson refusing JSON nested deeper than its limit. */
  public static boolean tooDeep(JsonProcessingException e) {
    return e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException
        && e.getOriginalMessage().startsWith("Document nesting depth");
  }

  /**
   * Jackson's description of malformed JSON without the source it names ({@code [Source: REDACTED
   * (...); line: 1, column: 1]} becomes {@code [line: 1, column: 1]}; the caller says where) and
   * without the name of the setting behind a limit ({@code , from `StreamReadConstraints...`}).
   */
  public static String jsonError(JsonProcessingException e) {
    if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException
        && e.getOriginalMessage().contains("FAIL_ON_TRAILING_TOKENS")) {
      return "more JSON after the event's end: one event per line in NDJSON";
    }
    String m = e.getOriginalMessage();
    if (m.startsWith("Duplicate field ")) {
      return "the field " + m.substring("Duplicate field ".length()) + " appears twice in one object";
    }
    // A length past a limit as Jackson reports it is how much it had read when it checked, which
    // hangs on its reused buffers: the same line read 52,731 or 50,605 characters of a name
    m = m.replaceAll("^Name length \\(\\d+\\) exceeds the maximum allowed \\((\\d+)(, from `[^`]*`)?\\)",
            "a field name is longer than the $1 characters a name may have")
        .replaceAll("^String value length \\(\\d+\\) exceeds the maximum allowed \\((\\d+)(, from `[^`]*`)?\\)",
            "a string is longer than the $1 characters a string may have")
        .replaceAll("^Number value length \\(\\d+\\) exceeds the maximum allowed \\((\\d+)(, from `[^`]*`)?\\)",
            "a number is longer than the $1 characters a number may have");
    // Jackson's advice to enable one of its features is for programmers, not for a user's data
    m = m.replaceAll(": enable `?JsonReadFeature\\.ALLOW_NON_NUMERIC_NUMBERS`? to allow", " (JSON has no NaN or Infinity)")
        .replaceAll(":? ?\\(?enable `?JsonReadFeature\\.[A-Z_]+`?[^)\\n]*\\)?", "");
    return m.replaceAll("\\[Source: [^;\\]]*; ", "[").replaceAll(", from `[^`]*`", "");
  }

  /**
   * Ingests events given as JSON text, one per element (e.g. the lines of an NDJSON body); text that
   * is not JSON is rejected with the line and column of the problem. {@code lines[i]} is the line of
   * element {@code i} in the request, for messages (null: {@code i + 1}).
   */
  public IngestResult ingestText(List<String> events, int[] lines) {
    return ingestText(events, lines, null);
  }

  /** As {@link #ingestText(List, int[])}, with an idempotency key; see {@link #ingestJson(List, String)}. */
  public IngestResult ingestText(List<String> events, int[] lines, String idempotencyKey) {
    java.util.Objects.requireNonNull(events, "events (a list of JSON texts) is null");
    if (lines != null && lines.length < events.size()) {
      throw new IllegalArgumentException("lines has " + lines.length + " elements for " + events.size()
          + " events: give the line of every event, or null");
    }
    for (int i = 0; lines != null && i < events.size(); i++) {
      if (lines[i] < 1) { // a rejection would name "line -3"
        throw new IllegalArgumentException("lines[" + i + "] is " + lines[i] + ": lines count from 1");
      }
    }
    return ingest(events.size(), idempotencyKey, new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        JsonNode node;
        String text = events.get(i);
        if (text == null) { // that event alone, as ingestJson rejects a null node
          return "the event is null, not JSON text";
        }
        try (com.fasterxml.jackson.core.JsonParser p = eventParser(text)) {
          if (enc.tryEncode(p, now, out)) {
            return null; // the common event, without a tree
          }
        } catch (java.io.IOException e) {
          // the tree path below names what is wrong
        }
        try {
          node = readEvent(text);
        } catch (JsonProcessingException e) {
          int column = e.getLocation() == null ? -1 : e.getLocation().getColumnNr();
          // Jackson counts lines within the event's own text: its "line: 1" is the request's line named first
          return String.format("not JSON at line %d%s: %s", lines == null ? i + 1 : lines[i],
              column > 0 ? ", column " + column : "", eventJsonError(e)
                  .replaceAll("\\(start marker at \\[line: 1, column: (\\d+)\\]\\)", "(it opens at column $1)"));
        }
        return enc.encode(node, now, out);
      }

      public String text(int i) {
        String text = events.get(i);
        return text == null ? "null" : text; // as the dead-letter log shows a null map
      }
    });
  }

  /**
   * A parser of one event's JSON text for {@link EventEncoder#tryEncode}: the limits of
   * {@link #readEvent}, without its detection of a field given twice (which {@code tryEncode} does).
   */
  static com.fasterxml.jackson.core.JsonParser eventParser(String text) throws java.io.IOException {
    return TREELESS.createParser(text);
  }

  /** One event's JSON text as a tree; refuses anything after the event and a field given twice. */
  static JsonNode readEvent(String text) throws JsonProcessingException {
    return ONE_EVENT.readTree(text);
  }

  public IngestResult ingestMaps(List<? extends Map<String, ?>> events) {
    return ingestMaps(events, null);
  }

  /** As {@link #ingestMaps(List)}, with an idempotency key; see {@link #ingestJson(List, String)}. */
  public IngestResult ingestMaps(List<? extends Map<String, ?>> events, String idempotencyKey) {
    java.util.Objects.requireNonNull(events, "events (a list of maps of field values) is null");
    return ingest(events.size(), idempotencyKey, new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        return enc.encode(events.get(i), now, out);
      }

      public String text(int i) {
        return mapText(events.get(i));
      }

      public String canonicalText(int i) {
        Map<String, ?> e = events.get(i);
        if (e == null) {
          return mapText(null);
        }
        Map<String, Object> sorted = new java.util.TreeMap<>();
        e.forEach((k, v) -> sorted.put(String.valueOf(k), v)); // a null key too
        return mapText(sorted);
      }
    });
  }

  /**
   * A Java event as JSON text for the dead-letter log: values JSON has (strings, numbers, booleans,
   * null, maps and lists of them) as themselves, any other object (a {@code Date}, an
   * {@code OffsetDateTime}) as its {@code toString} text, so the entry shows what was sent; a map
   * that still does not serialize as its {@code toString}.
   */
  static String mapText(Map<?, ?> event) {
    if (event == null) {
      return "null";
    }
    Map<String, Object> shown = new java.util.LinkedHashMap<>();
    event.forEach((k, v) -> shown.put(String.valueOf(k), v == null || v instanceof String || v instanceof Number
        || v instanceof Boolean || v instanceof Map || v instanceof java.util.Collection ? v : String.valueOf(v)));
    try {
      return JSON.writeValueAsString(shown);
    } catch (JsonProcessingException e) {
      return String.valueOf(event);
    }
  }

  private IngestResult ingest(int n, String idempotencyKey, Source source) {
    if (idempotencyKey != null) {
      String bad = checkIdempotencyKey(idempotencyKey);
      if (bad != null) {
        throw new IllegalArgumentException("idempotency key " + bad);
      }
    }
    if (idField >= 0 || idempotencyKey != null) {
      return ingestWithIds(n, idempotencyKey, source);
    }
    Scratch x = scratch.get();
    for (int p = 0; p < x.builders.length; p++) {
      x.builders[p].clear();
      x.indexes[p].clear();
    }
    List<IngestResult.Rejection> rejections = new ArrayList<>();
    long now = clock.getAsLong();
    for (int i = 0; i < n; i++) {
      String error = encode(x, source, i, now);
      if (error != null) {
        rejections.add(new IngestResult.Rejection(i, error));
        continue;
      }
      byte[] key = x.encoded.key();
      int p = Partitioner.partition(key, 0, key.length, stream.partitions());
      try {
        x.builders[p].add(key, 0, key.length, x.encoded.value(), 0, x.encoded.valueLength(), x.encoded.eventTime(),
            now);
        x.indexes[p].add(i);
      } catch (RecordTooLargeException e) {
        rejections.add(new IngestResult.Rejection(i, tooLarge(key.length + x.encoded.valueLength(),
            stream.config().maxRecordBytes())));
      }
    }
    if (!rejections.isEmpty()) {
      recordDeadLetters(rejections, source, now, null, 0);
    }
    Map<Integer, List<Long>> positions = new LinkedHashMap<>();
    int accepted = 0;
    for (int p = 0; p < x.builders.length; p++) {
      if (x.builders[p].isEmpty()) {
        continue;
      }
      AppendResult r;
      try {
        r = stream.append(p, x.builders[p]);
      } catch (dev.braid.log.LogWriteException e) {
        // partitions before this one have their events, and this one too when only its fsync failed: the caller
        // says how many are in the stream
        throw e.noteAppended(accepted + (e.published() == null ? 0 : e.published().count()));
      }
      List<Long> offsets = new ArrayList<>(r.count());
      for (int i = 0; i < r.count(); i++) {
        offsets.add(r.offset(i));
      }
      positions.put(p, offsets);
      accepted += r.count();
    }
    acceptedRate.record(accepted);
    rejectedRate.record(rejections.size());
    return new IngestResult(stream.name(), accepted, positions, rejections);
  }

  /** Why an event of {@code bytes} encoded is refused by a stream that stores at most {@code max} a record. */
  private static String tooLarge(int bytes, int max) {
    return String.format("the event is %,d bytes once encoded (its key, id and fields), over the stream's limit of "
        + "%,d bytes an event: send its large values elsewhere and a reference to them", bytes, max);
  }

  /** Encodes event {@code i} and checks it against the rules; returns why it is rejected, or null. */
  private String encode(Scratch x, Source source, int i, long now) {
    String error = source.encode(x.encoder, i, now, x.encoded);
    return error == null ? admit(x, now) : error;
  }

  /** Checks the encoded event against {@code max_future} and the rules; returns why it is refused, or null. */
  private String admit(Scratch x, long now) {
    String error = null;
    if (spec.maxFuture() != null) {
      long t = x.encoded.eventTime();
      if (t > now && t - now > spec.maxFuture().toMillis()) {
        error = String.format("event time %s is more than max_future (%s) after its ingest time %s",
            java.time.Instant.ofEpochMilli(t), dev.braid.spec.Durations.format(spec.maxFuture()),
            java.time.Instant.ofEpochMilli(now));
      }
    }
    return error == null ? checkRules(x) : error;
  }

  // ---------------------------------------------------------------------------------------------
  // Ingest with ids
  // ---------------------------------------------------------------------------------------------

  /**
   * Encodes and stages every event with its id, claims the distinct ids in the {@link DedupIndex},
   * appends the new ones (ids in the records), commits their positions to the index, and answers
   * every event, new or duplicate, with its position.
   */
  private IngestResult ingestWithIds(int n, String idempotencyKey, Source source) {
    Scratch x = scratch.get();
    Staged st = x.staged;
    st.clear();
    List<IngestResult.Rejection> rejections = new ArrayList<>();
    long now = clock.getAsLong();
    byte[] keyPrefix = idField < 0 ? (idempotencyKey + "#").getBytes(StandardCharsets.UTF_8) : null;
    int maxRecordBytes = stream.config().maxRecordBytes();
    List<long[]> refusedIds = null; // {index, hi, lo} of events refused although their id was read
    for (int i = 0; i < n; i++) {
      String error = source.encode(x.encoder, i, now, x.encoded);
      boolean encoded = error == null;
      if (encoded) {
        error = admit(x, now);
      }
      if (error == null) {
        error = stage(x, st, i, n, keyPrefix, maxRecordBytes);
      }
      if (error != null) {
        rejections.add(new IngestResult.Rejection(i, error));
        if (encoded && keyPrefix == null && hashId(x)) {
          (refusedIds == null ? refusedIds = new ArrayList<>() : refusedIds).add(
              new long[] {i, x.hasher.hi, x.hasher.lo});
        }
      }
    }
    // Distinct ids: a repeat inside the request is answered with its first occurrence's position.
    x.firstById.clear();
    int distinct = 0;
    for (int s = 0; s < st.n; s++) {
      x.hasher.hash(st.data, st.idStart(s), st.idLength[s]);
      st.hi[s] = x.hasher.hi;
      st.lo[s] = x.hasher.lo;
      Integer first = x.firstById.putIfAbsent(new DedupIndex.Key(st.hi[s], st.lo[s]), s);
      st.first[s] = first == null ? s : first;
      if (first == null) {
        st.claimHi[distinct] = st.hi[s];
        st.claimLo[distinct] = st.lo[s];
        st.distinct[distinct++] = s;
      }
    }
    // With an idempotency key, the key itself is claimed too: its entry points at a record the
    // earlier request with the key stored (see storedDifferently), and requests with one key wait
    // for each other here.
    int claims = distinct;
    if (keyPrefix != null) {
      st.ensureClaims(distinct + 1);
      x.hasher.hash(keyPrefix, 0, keyPrefix.length); // "K#", which no event id K'#i/n equals
      st.claimHi[distinct] = x.hasher.hi;
      st.claimLo[distinct] = x.hasher.lo;
      claims++;
    }
    Object owner = new Object();
    try {
      dedup.claim(st.claimHi, st.claimLo, claims, now, owner, st.claimed);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("ingest into '" + stream.name() + "' was interrupted while another request "
          + "appended the same ids; nothing of this request was appended", e);
    }
    long requestHash = 0; // of the request as sent; computed only when needed
    long firstHash = 0; // of the request first sent with the key, when it had rejected events
    if (keyPrefix != null) {
      Difference difference;
      try {
        difference = storedDifferently(st, distinct, n);
        if (st.claimed[distinct] != DedupIndex.NEW) {
          difference = Difference.first(difference, rejectedButStored(x, rejections, keyPrefix, n, now));
        }
        firstHash = rejectedRequestHash(idempotencyKey, now);
        if (difference == null && firstHash != 0) {
          requestHash = requestHash(n, source, x.hasher);
          if (requestHash != firstHash) {
            difference = new Difference(-1, "the request first sent with it had events that were rejected, and this "
                + "one sends other events, or the same ones as other text (its rejected events are stored nowhere a "
                + "retry could be compared with event by event, so a retry must send the text the first request "
                + "sent)", false);
          }
        }
      } catch (RuntimeException e) {
        releaseNew(st, claims, owner); // a log read failed: nothing is appended, and nothing stays reserved
        throw e;
      }
      if (difference != null) {
        releaseNew(st, claims, owner);
        throw new dev.braid.IdempotencyConflictException(stream.name(), idempotencyKey, difference.message(),
            difference.rejectedNow());
      }
    }
    long[] storedEarlier = refusedIds == null ? null : storedEarlier(x, refusedIds, rejections, n, now);
    // A retry whose key an earlier request stored events under: that request recorded its dead
    // letters before appending them, so they are in the dead-letter log already. A request that
    // stored nothing (its events were all rejected, or it stopped between its dead letters and its
    // append: a crash, a failed write) is recognized by its key and hash (rejectedRequests).
    boolean keyedRejections = keyPrefix != null && !rejections.isEmpty();
    boolean storedUnderKey = keyedRejections && st.claimed[distinct] != DedupIndex.NEW;
    if (requestHash == 0 && keyedRejections && !storedUnderKey) {
      requestHash = requestHash(n, source, x.hasher);
    }
    // a first request with rejected events under the key is this one: another was refused above
    boolean deadLettered = storedUnderKey || keyedRejections && firstHash != 0;
    if (!rejections.isEmpty() && !deadLettered) {
      recordDeadLetters(rejections, source, now, keyedRejections ? idempotencyKey : null, requestHash);
      if (keyedRejections) {
        noteRejectedRequest(idempotencyKey, requestHash, now);
      }
    }
    for (int p = 0; p < x.builders.length; p++) {
      x.builders[p].clear();
      x.indexes[p].clear();
    }
    for (int d = 0; d < distinct; d++) {
      int s = st.distinct[d];
      st.position[s] = st.claimed[d];
      st.appended[s] = false;
      if (st.claimed[d] == DedupIndex.NEW) {
        int p = st.partition[s];
        int k = st.start[s];
        x.builders[p].add(st.data, k, st.keyLength[s], st.data, k + st.keyLength[s], st.idLength[s], st.data,
            k + st.keyLength[s] + st.idLength[s], st.valueLength[s], st.eventTime[s], now);
        x.indexes[p].add(s);
      }
    }
    int appended = appendClaimed(x, st, now, owner, keyPrefix == null ? -1 : distinct);
    Map<Integer, List<Long>> positions = new java.util.TreeMap<>();
    int answered = st.n;
    for (int s = 0, i = 0; i < n; i++) { // request order, the staged events' and those stored earlier
      long pos;
      if (s < st.n && st.index[s] == i) {
        pos = st.position[st.first[s++]];
      } else if (storedEarlier != null && storedEarlier[i] != DedupIndex.NEW) {
        long p = storedEarlier[i];
        pos = p >= 0 ? p : st.position[st.first[(int) (IN_REQUEST - p)]]; // see storedEarlier
        answered++;
      } else {
        continue;
      }
      positions.computeIfAbsent(DedupIndex.partition(pos), q -> new ArrayList<>()).add(DedupIndex.offset(pos));
    }
    acceptedRate.record(appended);
    int rejectedBefore = deadLettered ? rejections.size() : 0;
    rejectedRate.record(rejections.size() - rejectedBefore);
    return new IngestResult(stream.name(), answered, positions, rejections, answered - appended, rejectedBefore);
  }

  /**
   * Of the events refused although their id could be read (a rule, {@code max_future} or the record
   * size refused them), those whose id the stream holds or is about to: an earlier request appended
   * it, or an event of this request that was accepted carries it. The stream holds such an event
   * (or will, once this request is appended), so it is answered as the duplicate it is, with that
   * position, instead of as rejected and dead-lettered (a client resending after the stream's rules
   * changed would otherwise be told that an event its views count was refused; a retry of this
   * request would answer it otherwise). Removes them from {@code rejections}.
   *
   * @return per request index, the position of the event stored earlier, {@code IN_REQUEST - s} for
   *     one that staged event {@code s} of this request carries, or {@link DedupIndex#NEW}; null when
   *     there is none
   */
  private long[] storedEarlier(Scratch x, List<long[]> refusedIds, List<IngestResult.Rejection> rejections, int n,
      long now) {
    long[] stored = null;
    for (long[] r : refusedIds) {
      Integer staged = x.firstById.get(new DedupIndex.Key(r[1], r[2]));
      long pos = staged != null ? IN_REQUEST - staged : dedup.lookup(r[1], r[2], now);
      if (pos != DedupIndex.NEW) {
        if (stored == null) {
          stored = new long[n];
          java.util.Arrays.fill(stored, DedupIndex.NEW);
        }
        stored[(int) r[0]] = pos;
      }
    }
    if (stored != null) {
      long[] found = stored;
      rejections.removeIf(r -> found[r.index()] != DedupIndex.NEW);
    }
    return stored;
  }

  /** {@link #storedEarlier}'s mark of an id carried by staged event {@code s}: {@code IN_REQUEST - s}. */
  private static final long IN_REQUEST = -2;

  /**
   * Hashes the id field of the encoded event into {@code x.hasher}, as {@link #stage} lays it out;
   * false when the event has no usable id.
   */
  private boolean hashId(Scratch x) {
    EventEncoder.Encoded e = x.encoded;
    x.reader.wrap(ByteBuffer.wrap(e.value(), 0, e.valueLength()), 0, e.valueLength());
    if (x.reader.isNull(idField)) {
      return false;
    }
    if (idIsString) {
      int length = x.reader.stringLength(idField);
      if (length == 0 || length > dev.braid.log.RecordBatchDescriptor.MAX_ID_BYTES) {
        return false;
      }
      x.hasher.hash(e.value(), x.reader.stringOffset(idField), length);
    } else {
      byte[] digits = Long.toString(x.reader.getLong(idField)).getBytes(StandardCharsets.US_ASCII);
      x.hasher.hash(digits, 0, digits.length);
    }
    return true;
  }

  /** Drops the reservations of the first {@code claims} claimed ids that were new. */
  private void releaseNew(Staged st, int claims, Object owner) {
    for (int d = 0; d < claims; d++) {
      if (st.claimed[d] == DedupIndex.NEW) {
        dedup.release(st.claimHi[d], st.claimLo[d], owner);
      }
    }
  }

  /**
   * For a request with an idempotency key {@code K}: null when it is a retry of the earlier request
   * with the key, as far as that one was stored; else how it differs. Event {@code i} of a request
   * of {@code n} events has the id {@code K#i/n}, whatever the other events are, and the key's own
   * entry ({@code claimed[distinct]}) points at a record of the earlier request:
   * <ul>
   *   <li>that record's id must name the same number of events (a larger request whose first events
   *       match would otherwise append its extra events beside events stored under the next key; a
   *       smaller one would be acknowledged as what it is not);
   *   <li>each event found must be stored with the same key and values (the same bytes, or once the
   *       stream took new fields, the same values in the other encoding).
   * </ul>
   * Reads those records from the log, one reader per partition in offset order: only retries pay
   * for it. A record that retention removed meanwhile cannot be compared and is taken as the same.
   */
  private Difference storedDifferently(Staged st, int distinct, int requestSize) {
    Map<Integer, java.util.TreeMap<Long, Integer>> stored = new java.util.TreeMap<>();
    for (int d = 0; d < distinct; d++) {
      long c = st.claimed[d];
      if (c != DedupIndex.NEW) {
        stored.computeIfAbsent(DedupIndex.partition(c), q -> new java.util.TreeMap<>())
            .put(DedupIndex.offset(c), st.distinct[d]);
      }
    }
    long keyEntry = st.claimed[distinct];
    int keyPartition = keyEntry == DedupIndex.NEW ? -1 : DedupIndex.partition(keyEntry);
    long keyOffset = keyEntry == DedupIndex.NEW ? -1 : DedupIndex.offset(keyEntry);
    if (keyPartition >= 0) {
      stored.computeIfAbsent(keyPartition, q -> new java.util.TreeMap<>());
    }
    String sizeDiffers = null;
    String eventDiffers = null;
    int firstDiffering = -1; // staged index of the first event (in request order) that differs
    EventReader inLog = new EventReader(schema);
    EventReader sent = new EventReader(schema);
    for (Map.Entry<Integer, java.util.TreeMap<Long, Integer>> e : stored.entrySet()) {
      int p = e.getKey();
      java.util.TreeMap<Long, Integer> want = e.getValue();
      long first = want.isEmpty() ? Long.MAX_VALUE : want.firstKey();
      long last = want.isEmpty() ? Long.MIN_VALUE : want.lastKey();
      if (p == keyPartition) {
        first = Math.min(first, keyOffset);
        last = Math.max(last, keyOffset);
      }
      long from = Math.max(first, stream.startOffset(p));
      if (from > last) {
        continue;
      }
      try (LogReader r = stream.reader(p, from)) {
        while (r.position() <= last) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (c.next()) {
            any = true;
            if (p == keyPartition && c.offset() == keyOffset) {
              sizeDiffers = otherSize(c, requestSize);
            }
            Integer s = want.get(c.offset());
            if (s != null && (firstDiffering < 0 || s < firstDiffering) && !sameRecord(st, s, c, inLog, sent)) {
              firstDiffering = s;
              eventDiffers = String.format("event %d differs from the event stored for it at partition %d, offset %d",
                  st.index[s], p, c.offset());
            }
          }
          if (!any) {
            break;
          }
        }
      }
    }
    return sizeDiffers != null ? new Difference(-1, sizeDiffers, false)
        : eventDiffers != null ? new Difference(st.index[firstDiffering], eventDiffers, false) : null;
  }

  /**
   * Why a retry differs from its key's first request: the first event (in request order) that is
   * rejected now and that the first request stored (its id {@code K#i/n} is in the dedup index). It
   * was appended, so answering it as rejected would tell the client otherwise. Null when none.
   */
  private Difference rejectedButStored(Scratch x, List<IngestResult.Rejection> rejections, byte[] keyPrefix,
      int requestSize, long now) {
    byte[] id = new byte[keyPrefix.length + 24]; // two decimal ints and '/'
    System.arraycopy(keyPrefix, 0, id, 0, keyPrefix.length);
    for (IngestResult.Rejection r : rejections) {
      int length = keyPrefix.length + writeDecimal(r.index(), id, keyPrefix.length);
      id[length++] = '/';
      length += writeDecimal(requestSize, id, length);
      x.hasher.hash(id, 0, length);
      long stored = dedup.lookup(x.hasher.hi, x.hasher.lo, now);
      if (stored != DedupIndex.NEW) {
        return new Difference(r.index(), String.format("event %d is stored at partition %d, offset %d by the "
            + "request first sent with this key, and this time it is rejected: %s", r.index(),
            DedupIndex.partition(stored), DedupIndex.offset(stored), r.reason()), true);
      }
    }
    return null;
  }

  /**
   * How a retry differs from the request first sent with its key.
   *
   * @param index the request index of the first event that differs; -1 when the request as a whole does
   * @param rejectedNow the event is the same, but rejected now where the first request stored it
   */
  private record Difference(int index, String message, boolean rejectedNow) {
    /** Of two differences (either may be null), the one about the whole request or the earlier event. */
    static Difference first(Difference a, Difference b) {
      return a == null ? b : b == null || a.index < b.index ? a : b;
    }
  }

  /**
   * Null when the record {@code c} has the id {@code K#i/n} of a request of {@code requestSize}
   * events; else why not.
   */
  private static String otherSize(RecordCursor c, int requestSize) {
    if (c.idOffset() < 0) {
      return null; // not a keyed record: nothing to tell
    }
    String id = StandardCharsets.UTF_8.decode(c.buffer().slice(c.idOffset(), c.idLength())).toString();
    int slash = id.lastIndexOf('/');
    if (slash < id.lastIndexOf('#')) {
      return "that request was stored before ids named its size, so it cannot be told apart from this one";
    }
    String earlier = id.substring(slash + 1);
    return earlier.equals(Integer.toString(requestSize)) ? null
        : "that request had " + earlier + " events, this one has " + requestSize;
  }

  /**
   * Whether staged event {@code s} has the key and values of the record {@code c} is on: the same
   * value bytes, or, once the stream took new fields, the same values in another encoding (an event
   * stored before the growth, sent again after it; see {@link EventReader#sameValues}).
   */
  private boolean sameRecord(Staged st, int s, RecordCursor c, EventReader stored, EventReader sent) {
    int k = st.start[s];
    int v = k + st.keyLength[s] + st.idLength[s];
    if (c.keyLength() != st.keyLength[s]
        || !c.buffer().slice(c.keyOffset(), c.keyLength()).equals(ByteBuffer.wrap(st.data, k, st.keyLength[s]))) {
      return false;
    }
    if (c.valueLength() == st.valueLength[s]
        && c.buffer().slice(c.valueOffset(), c.valueLength()).equals(ByteBuffer.wrap(st.data, v, st.valueLength[s]))) {
      return true;
    }
    return schema.grown() && stored.wrap(c.buffer(), c.valueOffset(), c.valueLength())
        .sameValues(sent.wrap(ByteBuffer.wrap(st.data), v, st.valueLength[s]));
  }

  /**
   * Appends each partition's batch of claimed ids and commits their positions, and, for a request
   * with an idempotency key ({@code keyClaim} its index among the claims, else -1), the key's own
   * entry at the first record appended when the key was new; when an append fails, releases the ids
   * that were not appended (those appended stay committed: they are in the log) and rethrows.
   * Returns the events appended.
   */
  private int appendClaimed(Scratch x, Staged st, long now, Object owner, int keyClaim) {
    int appended = 0;
    boolean keyPending = keyClaim >= 0 && st.claimed[keyClaim] == DedupIndex.NEW;
    try {
      for (int p = 0; p < x.builders.length; p++) {
        if (x.builders[p].isEmpty()) {
          continue;
        }
        AppendResult r;
        dev.braid.log.LogWriteException failed = null;
        try {
          r = stream.append(p, x.builders[p]);
        } catch (dev.braid.log.LogWriteException e) {
          if (e.published() == null) {
            throw e.noteAppended(appended); // those stay committed: a retry with the ids skips them
          }
          // only the fsync failed: the records are in the log, so their ids are committed as any appended ones, and
          // a retry with the ids skips them too (releasing them appended them twice)
          r = e.published();
          failed = e;
        }
        List<Integer> idx = x.indexes[p];
        int n = r.count();
        long[] hi = new long[n];
        long[] lo = new long[n];
        long[] offset = new long[n];
        for (int j = 0; j < n; j++) {
          int s = idx.get(j);
          offset[j] = r.offset(j);
          st.position[s] = DedupIndex.pack(p, offset[j]);
          hi[j] = st.hi[s];
          lo[j] = st.lo[s];
        }
        dedup.commitAll(hi, lo, offset, n, p, now, owner);
        for (int j = 0; j < n; j++) {
          st.appended[idx.get(j)] = true; // after the commit: a failed commit releases them in finally
        }
        if (keyPending && r.count() > 0) {
          dedup.commit(st.claimHi[keyClaim], st.claimLo[keyClaim], p, r.offset(0), now, owner);
          keyPending = false;
        }
        appended += r.count();
        if (failed != null) {
          throw failed.noteAppended(appended);
        }
      }
      return appended;
    } finally {
      for (int q = 0; q < x.builders.length; q++) {
        for (int s : x.indexes[q]) {
          if (!st.appended[s]) {
            dedup.release(st.hi[s], st.lo[s], owner);
          }
        }
      }
      if (keyPending) { // nothing was appended: the key names no stored request
        dedup.release(st.claimHi[keyClaim], st.claimLo[keyClaim], owner);
      }
    }
  }

  /**
   * Stages the encoded event {@code i} with its id into {@code st}; returns why it is rejected, or null.
   */
  private String stage(Scratch x, Staged st, int i, int requestSize, byte[] keyPrefix, int maxRecordBytes) {
    EventEncoder.Encoded e = x.encoded;
    byte[] key = e.key();
    int s = st.begin(i, key.length + MAX_ID_BYTES_STAGED + e.valueLength());
    int k = st.start[s];
    System.arraycopy(key, 0, st.data, k, key.length);
    int idAt = k + key.length;
    int idLength;
    if (keyPrefix != null) {
      System.arraycopy(keyPrefix, 0, st.data, idAt, keyPrefix.length);
      idLength = keyPrefix.length + writeDecimal(i, st.data, idAt + keyPrefix.length);
      st.data[idAt + idLength++] = '/'; // and the request's size: see storedDifferently
      idLength += writeDecimal(requestSize, st.data, idAt + idLength);
    } else {
      ByteBuffer value = ByteBuffer.wrap(e.value(), 0, e.valueLength());
      x.reader.wrap(value, 0, e.valueLength());
      if (x.reader.isNull(idField)) {
        return "event id field '" + spec.id() + "' is missing or null";
      }
      if (idIsString) {
        idLength = x.reader.stringLength(idField);
        if (idLength == 0) {
          return "event id field '" + spec.id() + "' is empty";
        }
        if (idLength > dev.braid.log.RecordBatchDescriptor.MAX_ID_BYTES) {
          return "event id field '" + spec.id() + "' is " + idLength + " bytes of UTF-8; at most "
              + dev.braid.log.RecordBatchDescriptor.MAX_ID_BYTES;
        }
        st.ensure(s, key.length + idLength + e.valueLength());
        System.arraycopy(e.value(), x.reader.stringOffset(idField), st.data, idAt, idLength);
      } else {
        idLength = writeDecimal(x.reader.getLong(idField), st.data, idAt);
      }
    }
    int total = key.length + idLength + e.valueLength();
    if (total > maxRecordBytes) {
      return tooLarge(total, maxRecordBytes);
    }
    System.arraycopy(e.value(), 0, st.data, idAt + idLength, e.valueLength());
    st.commit(s, key.length, idLength, e.valueLength(), e.eventTime(),
        Partitioner.partition(key, 0, key.length, stream.partitions()));
    return null;
  }

  /** Room staged for an id before its length is known: a key id's decimal index or a long's digits. */
  private static final int MAX_ID_BYTES_STAGED = MAX_IDEMPOTENCY_KEY_LENGTH + 1 + 20 + 1 + 20;

  /** Writes {@code v} in decimal (ASCII) at {@code out[at]}; returns the bytes written. */
  private static int writeDecimal(long v, byte[] out, int at) {
    byte[] digits = Long.toString(v).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(digits, 0, out, at, digits.length);
    return digits.length;
  }

  /** Events of one request with their ids, copied out of the encoder; reused by the thread. */
  private static final class Staged {
    byte[] data = new byte[16 << 10];
    int used;
    int n;
    int[] index = new int[64];
    int[] start = new int[64];
    int[] keyLength = new int[64];
    int[] idLength = new int[64];
    int[] valueLength = new int[64];
    int[] partition = new int[64];
    int[] first = new int[64];
    int[] distinct = new int[64];
    long[] eventTime = new long[64];
    long[] hi = new long[64];
    long[] lo = new long[64];
    long[] claimHi = new long[64];
    long[] claimLo = new long[64];
    long[] claimed = new long[64];
    long[] position = new long[64];
    boolean[] appended = new boolean[64];

    void clear() {
      used = 0;
      n = 0;
    }

    int idStart(int s) {
      return start[s] + keyLength[s];
    }

    /** Starts staging event {@code requestIndex} with room for {@code bytes}; returns its slot. */
    int begin(int requestIndex, int bytes) {
      if (n == index.length) {
        int c = n * 2;
        index = java.util.Arrays.copyOf(index, c);
        start = java.util.Arrays.copyOf(start, c);
        keyLength = java.util.Arrays.copyOf(keyLength, c);
        idLength = java.util.Arrays.copyOf(idLength, c);
        valueLength = java.util.Arrays.copyOf(valueLength, c);
        partition = java.util.Arrays.copyOf(partition, c);
        first = java.util.Arrays.copyOf(first, c);
        distinct = java.util.Arrays.copyOf(distinct, c);
        eventTime = java.util.Arrays.copyOf(eventTime, c);
        hi = java.util.Arrays.copyOf(hi, c);
        lo = java.util.Arrays.copyOf(lo, c);
        claimHi = java.util.Arrays.copyOf(claimHi, c);
        claimLo = java.util.Arrays.copyOf(claimLo, c);
        claimed = java.util.Arrays.copyOf(claimed, c);
        position = java.util.Arrays.copyOf(position, c);
        appended = java.util.Arrays.copyOf(appended, c);
      }
      index[n] = requestIndex;
      start[n] = used;
      ensure(n, bytes);
      return n;
    }

    /** Makes room for {@code n} claims (the distinct ids and an idempotency key's own entry). */
    void ensureClaims(int n) {
      if (n > claimHi.length) {
        claimHi = java.util.Arrays.copyOf(claimHi, n);
        claimLo = java.util.Arrays.copyOf(claimLo, n);
        claimed = java.util.Arrays.copyOf(claimed, n);
      }
    }

    /** Makes room for {@code bytes} from the start of slot {@code s}. */
    void ensure(int s, int bytes) {
      long need = (long) start[s] + bytes;
      if (need > data.length) {
        if (need > Integer.MAX_VALUE - 8) {
          throw new IllegalStateException("an ingest request of more than 2 GiB; send smaller requests");
        }
        data = java.util.Arrays.copyOf(data, (int) Math.max(need, Math.min(Integer.MAX_VALUE - 8L, data.length * 2L)));
      }
    }

    /** Completes the slot begun last. */
    void commit(int s, int keyLen, int idLen, int valueLen, long time, int p) {
      keyLength[s] = keyLen;
      idLength[s] = idLen;
      valueLength[s] = valueLen;
      eventTime[s] = time;
      partition[s] = p;
      used = start[s] + keyLen + idLen + valueLen;
      n++;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rebuild and status
  // ---------------------------------------------------------------------------------------------

  /**
   * Fills the dedup index from the log: every record with an id whose ingest time is inside the
   * dedup window. Call once, before the first ingest (the engine does, when it opens the stream).
   * Reads each partition from its first record ingested inside the window (found by
   * {@link LogStream#firstOffsetIngestedAtOrAfter}), so the work grows with the window, not with
   * the log; returns the entries added.
   */
  public long rebuildDedupIndex() {
    long horizon = clock.getAsLong() - dedup.windowMillis();
    rebuildRejectedRequests(horizon);
    DedupIndex.Hasher hasher = new DedupIndex.Hasher();
    byte[] id = new byte[256];
    long added = 0;
    for (int p = 0; p < stream.partitions(); p++) {
      long end = stream.endOffset(p);
      try (LogReader r = stream.reader(p, stream.firstOffsetIngestedAtOrAfter(p, horizon, end))) {
        while (r.position() < end) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (c.next()) {
            any = true;
            int len = c.idLength();
            if (c.idOffset() < 0 || c.ingestTime() < horizon) {
              continue;
            }
            if (len > id.length) {
              id = new byte[Math.max(len, id.length * 2)];
            }
            c.buffer().get(c.idOffset(), id, 0, len);
            hasher.hash(id, 0, len);
            dedup.put(hasher.hi, hasher.lo, p, c.offset(), c.ingestTime());
            if (idField < 0) { // K#i/n: the key's own entry, at any record of its request (see storedDifferently)
              int hash = len - 1;
              while (hash >= 0 && id[hash] != '#') {
                hash--;
              }
              if (hash > 0) {
                hasher.hash(id, 0, hash + 1); // the key's entry: "K#"
                dedup.put(hasher.hi, hasher.lo, p, c.offset(), c.ingestTime());
              }
            }
            added++;
          }
          if (!any) {
            break;
          }
        }
      }
    }
    return added;
  }

  /** Ids the dedup index holds. */
  public long dedupEntries() {
    return dedup.size();
  }

  /** Bytes the dedup index holds. */
  public long dedupMemoryBytes() {
    return dedup.memoryBytes();
  }

  /**
   * Idempotency keys of requests that had rejected events, with a hash of the request, for the
   * dedup window (oldest first; guarded by itself). A request whose events were all rejected
   * appends nothing that its retry could be recognized by, nor does one that stopped between writing
   * its dead letters and appending (a crash, a failed write); so the dead letters of every keyed
   * request name the key ({@code requestKey}, {@code requestHash}), {@link #rebuildDedupIndex} reads
   * them back, and a retry of the same request does not dead-letter its events again. A request with
   * the key and other events is refused ({@link #rejectedRequestHash}): its rejected events are in no
   * record it could be compared with event by event.
   */
  private final LinkedHashMap<String, long[]> rejectedRequests = new LinkedHashMap<>();

  /** A hash of the {@code n} events of a request as sent (the dedup index's hash, over their lines). */
  private static long requestHash(int n, Source source, DedupIndex.Hasher hasher) {
    java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < n; i++) {
      text.writeBytes(source.canonicalText(i).getBytes(StandardCharsets.UTF_8));
      text.write('\n');
    }
    byte[] b = text.toByteArray();
    hasher.hash(b, 0, b.length);
    return hasher.hi;
  }

  /**
   * The hash of the request first sent with {@code key} within the dedup window when some of its
   * events were rejected; 0 when none was, or its dead letters did not name a hash.
   */
  private long rejectedRequestHash(String key, long now) {
    synchronized (rejectedRequests) {
      expireRejectedRequests(now);
      long[] seen = rejectedRequests.get(key);
      return seen == null ? 0 : seen[1];
    }
  }

  private void noteRejectedRequest(String key, long hash, long at) {
    synchronized (rejectedRequests) {
      rejectedRequests.remove(key); // re-inserted last: the map stays in time order
      rejectedRequests.put(key, new long[] {at, hash});
    }
  }

  private void expireRejectedRequests(long now) {
    long horizon = now - dedup.windowMillis();
    for (java.util.Iterator<long[]> it = rejectedRequests.values().iterator(); it.hasNext(); ) {
      if (it.next()[0] >= horizon) {
        break;
      }
      it.remove();
    }
  }

  /** Reads the keyed requests with rejections of the dedup window back from the dead-letter log (see {@link #rejectedRequests}). */
  private void rebuildRejectedRequests(long horizon) {
    if (deadLetters == null) {
      return;
    }
    long end = deadLetters.endOffset(0);
    try (LogReader r = deadLetters.reader(0, deadLetters.firstOffsetIngestedAtOrAfter(0, horizon, end))) {
      while (r.position() < end) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next()) {
          any = true;
          if (c.ingestTime() < horizon || !startsWith(c.buffer(), c.valueOffset(), c.valueLength(), REQUEST_KEY_FIRST)) {
            continue;
          }
          // only its first two fields: the rest (the rejected event's text) can be long, and a request
          // with many rejected events writes as many dead letters under one key
          try (com.fasterxml.jackson.core.JsonParser in = JSON.getFactory().createParser(
              new com.fasterxml.jackson.databind.util.ByteBufferBackedInputStream(
                  c.buffer().slice(c.valueOffset(), c.valueLength())))) {
            if (in.nextToken() == com.fasterxml.jackson.core.JsonToken.START_OBJECT
                && "requestKey".equals(in.nextFieldName())
                && in.nextToken() == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
              String key = in.getText();
              long hash = "requestHash".equals(in.nextFieldName())
                  && in.nextToken() == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_INT ? in.getLongValue() : 0;
              noteRejectedRequest(key, hash, c.ingestTime());
            }
          } catch (java.io.IOException e) {
            throw new IllegalStateException("dead letter at offset " + c.offset() + " is not JSON", e);
          }
        }
        if (!any) {
          break;
        }
      }
    }
  }

  /** How a dead letter of a keyed request begins (see {@link #recordDeadLetters}). */
  private static final byte[] REQUEST_KEY_FIRST = "{\"requestKey\":".getBytes(StandardCharsets.UTF_8);

  private static boolean startsWith(ByteBuffer b, int off, int len, byte[] prefix) {
    if (len < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (b.get(off + i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private void recordDeadLetters(List<IngestResult.Rejection> rejections, Source source, long now, String requestKey,
      long requestHash) {
    if (deadLetters == null) {
      return;
    }
    RecordBatchBuilder b = new RecordBatchBuilder(4096, deadLetters.config().maxRecordBytes());
    byte[] key = stream.name().getBytes(StandardCharsets.UTF_8);
    for (IngestResult.Rejection r : rejections) {
      ObjectNode o = JSON.createObjectNode();
      if (requestKey != null) { // first, so that a start-up finds these without parsing every dead letter
        o.put("requestKey", requestKey);
        o.put("requestHash", requestHash);
      }
      o.put("index", r.index());
      o.put("reason", r.reason());
      String text = source.text(r.index());
      o.put("event", text.length() > MAX_DEAD_LETTER_TEXT ? text.substring(0, MAX_DEAD_LETTER_TEXT) : text);
      o.put("truncated", text.length() > MAX_DEAD_LETTER_TEXT);
      o.put("length", text.length());
      try {
        b.add(key, JSON.writeValueAsBytes(o), now, now);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("cannot encode a dead letter", e);
      }
    }
    deadLetters.append(0, b);
  }

  /** Events accepted per second, over the last ten seconds. */
  public double acceptedPerSecond() {
    return acceptedRate.perSecond();
  }

  /** Events rejected per second, over the last ten seconds. */
  public double rejectedPerSecond() {
    return rejectedRate.perSecond();
  }

  /** Up to {@code limit} dead letters from offset {@code from} on. */
  public List<DeadLetter> deadLetters(long from, int limit) {
    List<DeadLetter> out = new ArrayList<>();
    long end = deadLetters == null ? 0 : deadLetters.endOffset(0);
    if (from > end) { // a client paging with `next` never asks past the end: this offset was not one it got
      throw new IllegalArgumentException(String.format("from %d is past the end of the dead letters of stream '%s' "
          + "(the next one will be at %d): page from 0, or from the 'next' of the last page", from, stream.name(),
          end));
    }
    if (from == end) {
      return out;
    }
    try (LogReader r = deadLetters.reader(0, Math.max(from, deadLetters.startOffset(0)))) {
      while (out.size() < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next() && out.size() < limit) {
          any = true;
          try {
            JsonNode o = JSON.readTree(c.value());
            String event = o.path("event").asText();
            out.add(new DeadLetter(c.offset(), c.ingestTime(), o.path("index").asInt(), o.path("reason").asText(),
                event, o.path("truncated").asBoolean(), o.path("length").asLong(event.length())));
          } catch (java.io.IOException e) {
            throw new IllegalStateException("dead letter at offset " + c.offset() + " is not JSON", e);
          }
        }
        if (!any) {
          break;
        }
      }
    }
    return out;
  }

  private String checkRules(Scratch x) {
    if (rules.isEmpty()) {
      return null;
    }
    EventEncoder.Encoded e = x.encoded;
    x.reader.wrap(ByteBuffer.wrap(e.value(), 0, e.valueLength()), 0, e.valueLength()).at(-1, -1, e.eventTime());
    for (int r = 0; r < rules.size(); r++) {
      try {
        if (!rules.get(r).test(x.reader)) {
          return ruleFailed(x.reader, r);
        }
      } catch (EvaluationException ex) {
        return "rule '" + ruleTexts.get(r) + "' could not be evaluated: " + ex.getMessage();
      }
    }
    return null;
  }

  /**
   * Why rule {@code r} did not hold: a field it reads that the event lacks (or has as null) makes
   * it unknown, and an unknown rule rejects, so the reason names that field; "rule failed: qty > 0"
   * for an event without {@code qty} sends the sender looking for a bad value that is not there.
   */
  private String ruleFailed(EventReader event, int r) {
    for (int f : ruleFields[r]) {
      if (event.isNull(f)) {
        return "missing field '" + schema.field(f).name() + "' (rule " + ruleTexts.get(r) + " reads it)";
      }
    }
    return "rule failed: " + ruleTexts.get(r);
  }
}
