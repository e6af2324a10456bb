package dev.braid.server.http;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.AsOf;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.Status;
import dev.braid.VersionInfo;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/** The wire form of Braid's values: how each result, status and error looks in JSON. */
final class Json {

  /** Limits that keep a hostile body from costing unbounded memory or stack. */
  static final ObjectMapper MAPPER = com.fasterxml.jackson.databind.json.JsonMapper.builder()
      .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build(); // a field twice is refused

  /**
   * {@link #MAPPER} with one level more, for the array around a JSON body's events: each event may
   * then nest as deep as an NDJSON line's ({@link dev.braid.ingest.Ingestor#MAX_EVENT_DEPTH}).
   */
  private static final ObjectMapper EVENT_ARRAY;

  static {
    MAPPER.getFactory().setStreamReadConstraints(limits(dev.braid.ingest.Ingestor.MAX_EVENT_DEPTH));
    EVENT_ARRAY = MAPPER.copy();
    EVENT_ARRAY.getFactory().setStreamReadConstraints(limits(dev.braid.ingest.Ingestor.MAX_EVENT_DEPTH + 1));
  }

  private static StreamReadConstraints limits(int depth) {
    return StreamReadConstraints.builder().maxNestingDepth(depth).maxNumberLength(dev.braid.ingest.Ingestor.MAX_NUMBER_LENGTH).maxStringLength(16 << 20)
        .build();
  }

  private Json() {}

  static ArrayNode cut(Cut c) {
    ArrayNode a = MAPPER.createArrayNode();
    if (c != null) {
      for (long x : c.toArray()) {
        a.add(x);
      }
    }
    return a;
  }

  static ObjectNode asOf(AsOf a) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("version", a.version());
    o.set("cut", cut(a.cut()));
    o.set("position", cut(a.position()));
    if (a.watermarkMillis() == Long.MIN_VALUE) {
      o.putNull("watermark");
    } else {
      o.put("watermark", a.watermarkMillis());
    }
    return o;
  }

  private static String state(ViewResult.WindowValue w) {
    return w.state() == ViewResult.WindowState.FINAL ? "final" : "provisional";
  }

  /** Epoch millis as ISO-8601 text, or null for {@code Long.MIN_VALUE} (none yet). */
  static String instant(long millis) {
    return millis == Long.MIN_VALUE ? null : java.time.Instant.ofEpochMilli(millis).toString();
  }

  static ObjectNode result(ViewResult r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("view", r.view());
    o.put("key", r.key());
    o.put("found", r.found());
    o.set("values", MAPPER.valueToTree(r.values()));
    if (!r.windows().isEmpty()) {
      ArrayNode ws = o.putArray("windows");
      for (ViewResult.WindowValue w : r.windows()) {
        ObjectNode wo = ws.addObject();
        wo.put("start", w.start());
        wo.put("end", w.end());
        wo.put("state", state(w));
        wo.set("values", MAPPER.valueToTree(w.values()));
      }
    }
    o.set("asOf", asOf(r.asOf()));
    return o;
  }

  /**
   * {@link #result} written straight to bytes, the same fields in the same order and the same text as
   * Jackson writes for the tree: the point-read path answers tens of thousands of these a second, and
   * a tree plus a Jackson generator per read cost more than the engine's read itself.
   *
   * <p>Values of the built-in scalar results (null, {@code Long}, {@code Integer}, {@code Double},
   * {@code String}, {@code Boolean}) are written here; a result with any other value (a list or map
   * from a sketch aggregation) goes through Jackson, as before.
   */
  static byte[] resultBytes(ViewResult r) {
    boolean scalar = scalar(r.values());
    for (ViewResult.WindowValue x : r.windows()) {
      scalar &= scalar(x.values());
    }
    if (!scalar) {
      try {
        return MAPPER.writeValueAsBytes(result(r));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
    ByteWriter w = ByteWriter.LOCAL.get();
    w.reset();
    w.raw("{\"view\":").string(r.view()).raw(",\"key\":").string(r.key()).raw(",\"found\":")
        .raw(r.found() ? "true" : "false").raw(",\"values\":");
    values(w, r.values());
    if (!r.windows().isEmpty()) {
      w.raw(",\"windows\":[");
      boolean first = true;
      for (ViewResult.WindowValue x : r.windows()) {
        w.raw(first ? "{\"start\":" : ",{\"start\":").number(x.start()).raw(",\"end\":").number(x.end())
            .raw(",\"state\":\"").raw(state(x)).raw("\",\"values\":");
        values(w, x.values());
        w.raw("}");
        first = false;
      }
      w.raw("]");
    }
    w.raw(",\"asOf\":{\"version\":").number(r.asOf().version()).raw(",\"cut\":");
    cut(w, r.asOf().cut());
    w.raw(",\"position\":");
    cut(w, r.asOf().position());
    w.raw(",\"watermark\":");
    if (r.asOf().watermarkMillis() == Long.MIN_VALUE) {
      w.raw("null");
    } else {
      w.number(r.asOf().watermarkMillis());
    }
    w.raw("}}");
    return w.toByteArray();
  }

  private static boolean scalar(Map<String, Object> values) {
    for (Object v : values.values()) {
      if (v != null && !(v instanceof Long) && !(v instanceof Integer) && !(v instanceof Double)
          && !(v instanceof String) && !(v instanceof Boolean)) {
        return false;
      }
    }
    return true;
  }

  private static void values(ByteWriter w, Map<String, Object> values) {
    w.raw("{");
    values.forEach(new ValueWriter(w)); // a result map's forEach passes its entries without an object per entry
    w.raw("}");
  }

  /** Writes the members of a JSON object of scalar values, comma-separated. */
  private static final class ValueWriter implements BiConsumer<String, Object> {
    private final ByteWriter w;
    private boolean first = true;

    ValueWriter(ByteWriter w) {
      this.w = w;
    }

    @Override
    public void accept(String name, Object v) {
      if (!first) {
        w.raw(",");
      }
      first = false;
      w.string(name).raw(":");
      if (v == null) {
        w.raw("null");
      } else if (v instanceof Long l) {
        w.number(l);
      } else if (v instanceof Integer i) {
        w.number(i);
      } else if (v instanceof Double d) {
        if (d.isNaN() || d.isInfinite()) {
          w.string(d.toString()); // as Jackson: non-finite numbers are quoted
        } else {
          w.raw(d.toString());
        }
      } else if (v instanceof Boolean b) {
        w.raw(b ? "true" : "false");
      } else {
        w.string((String) v);
      }
    }
  }

  private static void cut(ByteWriter w, Cut c) {
    w.raw("[");
    if (c != null) {
      long[] a = c.toArray();
      for (int i = 0; i < a.length; i++) {
        if (i > 0) {
          w.raw(",");
        }
        w.number(a[i]);
      }
    }
    w.raw("]");
  }

  /** A growable byte buffer that writes JSON text as Jackson does; one per thread, reused. */
  static final class ByteWriter {
    static final ThreadLocal<ByteWriter> LOCAL = ThreadLocal.withInitial(ByteWriter::new);
    private static final byte[] HEX = "0123456789ABCDEF".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private byte[] buf = new byte[512];
    private int size;

    void reset() {
      size = 0;
    }

    byte[] toByteArray() {
      return java.util.Arrays.copyOf(buf, size);
    }

    private void ensure(int more) {
      if (size + more > buf.length) {
        buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, size + more));
      }
    }

    /** ASCII text as it is. */
    ByteWriter raw(String ascii) {
      int n = ascii.length();
      ensure(n);
      for (int i = 0; i < n; i++) {
        buf[size++] = (byte) ascii.charAt(i);
      }
      return this;
    }

    ByteWriter number(long x) {
      if (x < 0) {
        if (x == Long.MIN_VALUE) {
          return raw(Long.toString(x));
        }
        ensure(1);
        buf[size++] = '-';
        x = -x;
      }
      int digits = 1;
      for (long p = 10; digits < 19 && x >= p; p *= 10) {
        digits++;
      }
      ensure(digits);
      for (int i = size + digits - 1; i >= size; i--) {
        buf[i] = (byte) ('0' + x % 10);
        x /= 10;
      }
      size += digits;
      return this;
    }

    /** A JSON string: quotes, backslashes and control characters escaped as Jackson does, UTF-8 otherwise. */
    ByteWriter string(String s) {
      int n = s.length();
      ensure(n * 6 + 2);
      buf[size++] = '"';
      for (int i = 0; i < n; i++) {
        char c = s.charAt(i);
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
          buf[size++] = (byte) c;
        } else if (c == '"' || c == '\\') {
          buf[size++] = '\\';
          buf[size++] = (byte) c;
        } else if (c < 0x20) {
          buf[size++] = '\\';
          switch (c) {
            case '\n' -> buf[size++] = 'n';
            case '\r' -> buf[size++] = 'r';
            case '\t' -> buf[size++] = 't';
            case '\b' -> buf[size++] = 'b';
            case '\f' -> buf[size++] = 'f';
            default -> {
              buf[size++] = 'u';
              buf[size++] = '0';
              buf[size++] = '0';
              buf[size++] = HEX[c >> 4];
              buf[size++] = HEX[c & 0xF];
            }
          }
        } else if (c < 0x800) {
          buf[size++] = (byte) (0xC0 | (c >> 6));
          buf[size++] = (byte) (0x80 | (c & 0x3F));
        } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, s.charAt(++i));
          buf[size++] = (byte) (0xF0 | (cp >> 18));
          buf[size++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
          buf[size++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
          buf[size++] = (byte) (0x80 | (cp & 0x3F));
        } else {
          // a lone surrogate cannot be UTF-8: Jackson fails on it, here it becomes U+FFFD
          if (Character.isSurrogate(c)) {
            c = '\uFFFD';
          }
          buf[size++] = (byte) (0xE0 | (c >> 12));
          buf[size++] = (byte) (0x80 | ((c >> 6) & 0x3F));
          buf[size++] = (byte) (0x80 | (c & 0x3F));
        }
      }
      buf[size++] = '"';
      return this;
    }
  }

  static ObjectNode ingest(IngestResult r, int[] lines) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("stream", r.stream());
    o.put("accepted", r.accepted());
    o.put("rejected", r.rejections().size());
    o.put("duplicates", r.duplicates());
    if (r.rejectedBefore() > 0) { // a retry: its rejected events are in the dead-letter log once, from the first
      o.put("rejectedBefore", r.rejectedBefore());
    }
    ObjectNode pos = o.putObject("positions");
    for (Map.Entry<Integer, List<Long>> e : r.positions().entrySet()) {
      ArrayNode a = pos.putArray(Integer.toString(e.getKey()));
      e.getValue().forEach(a::add);
    }
    ArrayNode rej = o.putArray("rejections");
    for (IngestResult.Rejection x : r.rejections()) {
      ObjectNode ro = rej.addObject();
      ro.put("index", x.index());
      if (lines != null) {
        ro.put("line", lines[x.index()]);
      }
      ro.put("reason", x.reason());
    }
    return o;
  }

  static ObjectNode version(VersionInfo v) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", v.id());
    o.put("state", v.state().label());
    o.set("cut", cut(v.cut()));
    if (v.position() != null) {
      o.set("position", cut(v.position()));
    } else {
      o.putNull("position");
    }
    if (v.state().gone()) {
      o.putNull("baseKeys"); // its Base is deleted: no count to give, and 0 would read as an empty Base
    } else {
      o.put("baseKeys", v.baseKeys());
    }
    o.put("createdAt", java.time.Instant.ofEpochMilli(v.createdAtMillis()).toString());
    o.put("definition", v.definition());
    if (v.failure() != null) {
      o.put("failure", v.failure());
    }
    if (v.progress() != null) {
      o.set("progress", progress(v.progress()));
    }
    return o;
  }

  /** Progress of a version being built by a reprocess or a rollback. */
  static ObjectNode progress(dev.braid.ReplayProgress p) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("version", p.version());
    o.put("phase", p.phase());
    o.put("eventsReplayed", p.eventsReplayed());
    o.put("eventsTotal", p.eventsTotal());
    o.put("eventsPerSecond", Math.round(p.eventsPerSecond()));
    if (p.etaMillis() >= 0) {
      o.put("etaMillis", p.etaMillis());
    } else {
      o.putNull("etaMillis");
    }
    o.put("lag", p.lag());
    o.put("hold", p.hold());
    o.put("skippedEvents", p.skippedEvents());
    o.put("eventsFromCheckpoint", p.eventsFromCheckpoint());
    o.put("rollback", p.rollback());
    return o;
  }

  static ObjectNode versions(String view, List<VersionInfo> versions) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("view", view);
    versions.stream().filter(v -> v.state() == dev.braid.VersionState.CURRENT).findFirst()
        .ifPresent(v -> o.put("current", v.id()));
    ArrayNode a = o.putArray("versions");
    versions.forEach(v -> a.add(version(v)));
    return o;
  }

  static ObjectNode status(Status s) {
    ObjectNode o = MAPPER.createObjectNode();
    ArrayNode streams = o.putArray("streams");
    for (Status.StreamStatus st : s.streams()) {
      ObjectNode so = streams.addObject();
      so.put("name", st.name());
      so.put("partitions", st.partitions());
      so.put("durability", st.durability());
      so.set("end", cut(st.end()));
      so.put("events", st.events());
      so.put("eventsPerSecond", Math.round(st.eventsPerSecond() * 10) / 10.0);
      so.put("rejectedPerSecond", Math.round(st.rejectedPerSecond() * 10) / 10.0);
      so.put("dedupEntries", st.dedupEntries());
      if (!st.recovered().isEmpty()) {
        ArrayNode rec = so.putArray("recovered");
        st.recovered().forEach(rec::add);
      }
      if (st.watermark() != null) {
        ObjectNode wm = so.putObject("watermark");
        wm.put("at", instant(st.watermark().millis()));
        wm.put("millis", st.watermark().millis() == Long.MIN_VALUE ? null : st.watermark().millis());
        wm.put("held", st.watermark().held());
        ArrayNode ps = wm.putArray("partitions");
        for (Status.PartitionWatermark p : st.watermark().partitions()) {
          ObjectNode po = ps.addObject();
          po.put("partition", p.partition());
          po.put("at", instant(p.millis()));
          po.put("maxEventTime", instant(p.maxEventTimeMillis()));
          po.put("idle", p.idle());
        }
      }
    }
    ArrayNode views = o.putArray("views");
    for (Status.ViewStatus v : s.views()) {
      ObjectNode vo = views.addObject();
      vo.put("name", v.name());
      vo.put("stream", v.stream());
      vo.put("mode", v.mode());
      vo.put("currentVersion", v.currentVersion());
      vo.set("cut", cut(v.cut()));
      vo.set("position", cut(v.position()));
      vo.put("lag", v.lag());
      vo.put("deltaKeys", v.deltaKeys());
      vo.put("deltaBytes", v.deltaBytes());
      vo.put("skippedEvents", v.skippedEvents());
      vo.put("eventsWithoutKey", v.eventsWithoutKey());
      if (!v.leftOutCountsComplete()) {
        vo.put("leftOutCountsComplete", false); // the two counts are lower bounds
      }
      vo.put("batchCycles", v.batchCycles()); // since the server started, as the metrics count them
      vo.put("batchFailures", v.batchFailures());
      if (v.lastBatchAtMillis() > 0) {
        vo.put("lastBatchAt", java.time.Instant.ofEpochMilli(v.lastBatchAtMillis()).toString());
      }
      if (v.batchRunning()) {
        ObjectNode b = vo.putObject("batch");
        b.put("eventsRead", v.batchEventsRead());
        b.put("eventsTotal", v.batchEventsTotal());
      }
      if (v.reprocess() != null) {
        vo.set("reprocess", progress(v.reprocess()));
      }
      if (v.specChanged()) {
        vo.put("specChanged", true);
      }
      if (v.specDiffers()) {
        vo.put("specDiffers", true);
      }
      if (v.retention() != null) {
        ObjectNode r = vo.putObject("retention");
        r.put("retain", dev.braid.spec.Durations.format(v.retention().retain()));
        if (v.retention().horizonMillis() == Long.MIN_VALUE) {
          r.putNull("horizon");
        } else {
          r.put("horizon", java.time.Instant.ofEpochMilli(v.retention().horizonMillis()).toString());
        }
        r.put("evictedWindows", v.retention().evictedWindows());
      }
      if (v.lateness() != null) {
        ObjectNode l = vo.putObject("lateness");
        java.time.Duration allowed = v.lateness().allowedLateness();
        // "0s", not format's "0d" (which the definitions stored since the first release keep)
        l.put("allowedLateness", allowed.isZero() ? "0s" : dev.braid.spec.Durations.format(allowed));
        l.put("lateEvents", v.lateness().lateEvents());
        l.put("finalUntil", instant(v.lateness().finalUntilMillis()));
      }
      if (v.delta() != null) {
        ObjectNode d = vo.putObject("delta");
        d.put("groups", v.delta().groups());
        d.put("bytes", v.delta().bytes());
        d.put("runs", v.delta().runs());
        d.put("runGroups", v.delta().runGroups());
        d.put("runBytes", v.delta().runBytes());
        d.put("spills", v.delta().spills());
        d.put("spilledGroups", v.delta().spilledGroups());
        d.put("spillMillis", v.delta().spillMillis());
        d.put("spillLockMaxMicros", v.delta().spillLockMaxMicros());
      }
      vo.set("checkpoints", checkpoints(v.checkpoints()));
    }
    ArrayNode tables = o.putArray("tables");
    for (Status.TableStatus t : s.tables()) {
      ObjectNode to = tables.addObject();
      to.put("name", t.name());
      to.put("stream", t.stream());
      to.put("currentVersion", t.currentVersion());
      if (t.pushId() == null) {
        to.putNull("pushId");
      } else {
        to.put("pushId", t.pushId());
      }
      to.set("cut", cut(t.cut()));
      to.set("position", cut(t.position()));
      to.put("lag", t.lag());
      to.put("baseRows", t.baseRows());
      to.put("deltaKeys", t.deltaKeys());
      if (!t.recovered().isEmpty()) {
        ArrayNode rec = to.putArray("recovered");
        t.recovered().forEach(rec::add);
      }
      if (t.push() != null) {
        to.set("push", TableRoutes.report(t.push()));
      }
      if (t.rollback() != null) {
        to.set("rollback", progress(t.rollback()));
      }
    }
    return o;
  }

  private static ObjectNode checkpoints(Status.Checkpoints c) {
    ObjectNode o = MAPPER.createObjectNode();
    if (c.lastFile() == null) {
      o.putNull("last");
    } else {
      ObjectNode last = o.putObject("last");
      last.put("file", c.lastFile());
      last.set("position", cut(c.lastPosition()));
      last.put("takenAt", java.time.Instant.ofEpochMilli(c.lastAtMillis()).toString());
      last.put("ageSeconds", Math.max(0, System.currentTimeMillis() - c.lastAtMillis()) / 1000.0);
      // since it last held the Delta as it is (a quiet view's checkpoint stays current): about a crash's replay
      last.put("currentSeconds", Math.max(0, System.currentTimeMillis() - c.currentAtMillis()) / 1000.0);
    }
    o.put("written", c.written());
    o.put("failures", c.failures());
    if (c.lastError() != null) {
      o.put("lastError", c.lastError());
    }
    ObjectNode st = o.putObject("startup");
    if (c.restoredFrom() == null) {
      st.putNull("restoredFrom");
    } else {
      st.put("restoredFrom", c.restoredFrom());
    }
    ArrayNode refused = st.putArray("refused");
    c.refused().forEach(refused::add);
    st.put("replayedEvents", c.replayedOnStart());
    st.put("replayMillis", c.replayMillis());
    return o;
  }

  static ObjectNode deadLetters(String stream, List<DeadLetter> letters, long next) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("stream", stream);
    ArrayNode a = o.putArray("deadLetters");
    for (DeadLetter d : letters) {
      ObjectNode x = a.addObject();
      x.put("offset", d.offset());
      x.put("receivedAt", java.time.Instant.ofEpochMilli(d.receivedAtMillis()).toString());
      x.put("index", d.index());
      x.put("reason", d.reason());
      x.put("event", d.event());
      if (d.truncated()) {
        x.put("truncated", true);
        x.put("length", d.length());
      }
    }
    o.put("next", next);
    return o;
  }

  static ObjectNode lateEvents(String stream, List<dev.braid.LateEvent> events, long next) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("stream", stream);
    ArrayNode a = o.putArray("lateEvents");
    for (dev.braid.LateEvent e : events) {
      ObjectNode x = a.addObject();
      x.put("offset", e.offset());
      x.put("view", e.view());
      x.put("partition", e.partition());
      x.put("eventOffset", e.eventOffset());
      x.put("key", e.key());
      x.put("eventTime", instant(e.eventTimeMillis()));
      x.put("watermark", instant(e.watermarkMillis()));
      x.put("recordedAt", instant(e.recordedAtMillis()));
      x.put("current", e.current());
    }
    o.put("next", next);
    return o;
  }

  static ObjectNode problem(Problem p, String instance) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("type", p.type());
    o.put("title", p.title());
    o.put("status", p.status());
    o.put("detail", p.detail());
    if (instance != null && !instance.isEmpty()) { // a URL Jetty could not parse leaves no path to name
      o.put("instance", instance);
    }
    return o;
  }

  /**
   * The one JSON value of a request body, or null when it is empty. Malformed JSON, and anything
   * after the value (a second value, or NDJSON sent as {@code application/json}), are a 400
   * {@code malformed-json} problem naming the line and column; {@code consequence} ends its detail
   * (e.g. {@code "; nothing was ingested"}).
   */
  static JsonNode parse(byte[] body, String consequence) {
    return parse(MAPPER, body, consequence, false);
  }

  /**
   * A JSON body of events, an array or one object, parsed as {@link #parse} does; an event nested
   * deeper than {@link dev.braid.ingest.Ingestor#MAX_EVENT_DEPTH} is refused as in an NDJSON line.
   */
  static JsonNode parseEvents(byte[] body, String consequence) {
    int i = 0;
    while (i < body.length && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'
        || body[i] == (byte) 0xEF || body[i] == (byte) 0xBB || body[i] == (byte) 0xBF)) { // a byte-order mark too
      i++;
    }
    return parse(i < body.length && body[i] == '[' ? EVENT_ARRAY : MAPPER, body, consequence, true);
  }

  private static JsonNode parse(ObjectMapper mapper, byte[] body, String consequence, boolean events) {
    try (com.fasterxml.jackson.core.JsonParser p = mapper.getFactory().createParser(body)) {
      JsonNode root = mapper.readTree(p);
      if (root != null && p.nextToken() != null) {
        com.fasterxml.jackson.core.JsonLocation at = p.currentTokenLocation();
        throw Problem.badRequest("malformed-json", String.format("the body holds more than one JSON value: another "
            + "starts at line %d, column %d; send one JSON value (events as one array, or one event per line as "
            + "application/x-ndjson)%s", at.getLineNr(), at.getColumnNr(), consequence));
      }
      return root;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
      String where = at == null || at.getLineNr() < 1 ? "" : String.format(" at line %d, column %d", at.getLineNr(),
          at.getColumnNr());
      throw Problem.badRequest("malformed-json", "the body is not valid JSON" + where + ": "
          + (events ? dev.braid.ingest.Ingestor.eventJsonError(e) : dev.braid.ingest.Ingestor.tooDeep(e)
              ? "it nests objects and arrays more than " + dev.braid.ingest.Ingestor.MAX_EVENT_DEPTH + " levels deep"
              : dev.braid.ingest.Ingestor.jsonError(e))
          + consequence);
    } catch (java.io.IOException e) {
      throw Problem.badRequest("malformed-json", "the body cannot be read as JSON: " + e.getMessage() + consequence);
    }
  }
}
