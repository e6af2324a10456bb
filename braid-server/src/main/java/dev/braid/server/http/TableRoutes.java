package dev.braid.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.Braid;
import dev.braid.log.Cut;
import dev.braid.table.Patch;
import dev.braid.table.PushFormat;
import dev.braid.table.PushOptions;
import dev.braid.table.PushReport;
import dev.braid.table.Table;
import dev.braid.table.TableRow;
import dev.braid.table.WriteResult;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The HTTP routes of the hybrid store's tables, under {@code /v1/tables/{t}}: reads (one row, a
 * batch), real-time writes (PUT, PATCH, DELETE of a row), bulk pushes (a streamed JSON-lines or
 * CSV body), push reports, versions and activation. Each maps one to one onto {@link Table}.
 *
 * <p>A write's logical timestamp comes from, in order: the query parameter {@code ts}, the header
 * {@code Braid-Timestamp}, the body field {@code _timestamp} (removed from the row or patch), else
 * the time the server received it. Each is epoch millis or ISO-8601.
 */
final class TableRoutes {

  /** The header that gives a write its logical timestamp. */
  static final String TIMESTAMP_HEADER = "Braid-Timestamp";
  /** The body field that gives a write its logical timestamp. */
  static final String TIMESTAMP_FIELD = dev.braid.spec.TableSpec.TIMESTAMP_FIELD;

  /** How the server reads a bounded request body (413 over its limit). */
  interface BodyReader {
    byte[] read(Context ctx) throws IOException;
  }

  private final Supplier<Braid> ready;
  private final BodyReader body;
  /** Whether the server is stopping: an upload cut off then was most likely cut off by the stop. */
  private final java.util.function.BooleanSupplier stopping;

  private final dev.braid.spec.PipelineSpec spec;

  TableRoutes(dev.braid.spec.PipelineSpec spec, Supplier<Braid> ready, BodyReader body,
      java.util.function.BooleanSupplier stopping) {
    this.spec = spec;
    this.ready = ready;
    this.body = body;
    this.stopping = stopping;
  }

  void register(RoutesConfig routes) {
    BraidServer.getAndHead(routes, "/v1/tables/{table}", params(this::describe));
    BraidServer.getAndHead(routes, "/v1/tables/{table}/rows/{key}", params(this::get));
    routes.post("/v1/tables/{table}/rows:batchGet", params(this::batchGet));
    routes.put("/v1/tables/{table}/rows/{key}", params(this::put, "ts"));
    routes.patch("/v1/tables/{table}/rows/{key}", params(this::patch, "ts"));
    routes.delete("/v1/tables/{table}/rows/{key}", params(this::delete, "ts"));
    routes.post("/v1/tables/{table}/pushes", params(this::push, "wait", "source", "incremental", "allowEmpty", "since",
        "sincePosition", "maxBadRows"));
    BraidServer.getAndHead(routes, "/v1/tables/{table}/pushes/{id}", params(this::pushReport));
    routes.post("/v1/tables/{table}/repush", params(this::repush, "wait"));
    BraidServer.getAndHead(routes, "/v1/tables/{table}/versions", params(this::versions));
    routes.post("/v1/tables/{table}/versions/{id}/activate", params(this::activate));
    routes.delete("/v1/tables/{table}/versions/{id}", params(this::cancel));
  }

  /**
   * A push body that could not be read to its end, named as such (Jetty says only "Early EOF"); while
   * the server stops, its stop is the likely reason (it waits a short idle time for an upload that
   * does not move).
   */
  private IOException cutOff(IOException e) {
    // Jetty's end of a connection that the stop's wait closed has no message
    String why = e.getMessage() != null ? e.getMessage() : "its connection was closed";
    if (stopping.getAsBoolean()) {
      return new IOException("the server is stopping and the upload did not finish before it stopped waiting ("
          + why + "); push the file again once it has restarted", e);
    }
    return new IOException("the request body ended before the push did (" + why + "): the upload was cut "
        + "off or the client went away; push the file again", e);
  }

  /**
   * A push's request body as the push reads it: a read that fails is named by {@link #cutOff}, and
   * {@link #close} (a cancel of the push, from another request's thread) wakes a read that waits for
   * more of an upload that does not move, by interrupting the thread in it: Jetty's blocking read
   * returns the interrupt as a failure then, where it would otherwise wait for the connection's idle
   * timeout. The interrupt is sent only while a read runs, and the reader clears it on its way out,
   * so that it does not outlive the read on a server thread. Closing does not close the request body
   * itself: the container does, after the answer.
   */
  static final class Upload extends FilterInputStream {

    /** What a read's failure becomes when no cancel closed the stream: {@link #cutOff} for a request body. */
    private final java.util.function.UnaryOperator<IOException> failure;
    private Thread reading;
    private boolean closed;

    Upload(InputStream body, java.util.function.UnaryOperator<IOException> failure) {
      super(body);
      this.failure = failure;
    }

    @Override
    public int read() throws IOException {
      enter();
      try {
        return super.read();
      } catch (IOException e) {
        throw failed(e);
      } finally {
        leave();
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      enter();
      try {
        return super.read(b, off, len);
      } catch (IOException e) {
        throw failed(e);
      } finally {
        leave();
      }
    }

    private synchronized void enter() throws IOException {
      if (closed) {
        throw new IOException("the push's upload was closed: the push was cancelled");
      }
      reading = Thread.currentThread();
    }

    private void leave() {
      boolean wasClosed;
      synchronized (this) {
        reading = null;
        wasClosed = closed;
      }
      if (wasClosed) {
        Thread.interrupted(); // the close's interrupt, if it came after the read had its answer
      }
    }

    private synchronized IOException failed(IOException e) {
      return closed ? new IOException("the push's upload was closed while a read waited for more of it: the "
          + "push was cancelled", e) : failure.apply(e);
    }

    @Override
    public synchronized void close() {
      closed = true;
      if (reading != null && reading != Thread.currentThread()) {
        reading.interrupt();
      }
    }
  }

  /** The body of a write or a batchGet, which is JSON: another {@code Content-Type} is a 415 naming it. */
  private byte[] jsonBody(Context ctx, String what) throws IOException {
    String type = BraidServer.mediaType(ctx);
    if (!type.equals("application/json")) {
      throw new Problem(415, "unsupported-media-type", "Unsupported media type", "send " + what
          + " as application/json, not " + (type.isEmpty() ? "without a Content-Type" : "'" + type + "'"));
    }
    return body.read(ctx);
  }

  private Table table(Context ctx) {
    return ready.get().table(ctx.pathParam("table")); // 404 unknown-table for a name not in the spec
  }

  // ---------------------------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------------------------

  private void get(Context ctx) {
    Table t = table(ctx);
    ok(ctx, row(t.name(), t.get(rowKey(t, ctx))));
  }

  /** The path's key as table {@code t} stores it; a key a long key field cannot take is a 400. */
  private static String rowKey(Table t, Context ctx) {
    try {
      return t.rowKey(ctx.pathParam("key"));
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-key", "table '" + t.name() + "': " + e.getMessage() + "; nothing was read or "
          + "written");
    }
  }

  private void batchGet(Context ctx) throws IOException {
    Table t = table(ctx);
    JsonNode root = parseObject(jsonBody(ctx, "{\"keys\": [...]}"), "{\"keys\": [\"k1\", \"k2\"]}");
    for (java.util.Iterator<String> names = root.fieldNames(); names.hasNext(); ) { // before the keys, as for a view
      String name = names.next();
      if (!name.equals("keys")) {
        throw Problem.badRequest("unknown-field", "unknown field '" + name + "' in the body; a batchGet of a table "
            + "takes {\"keys\": [...]}");
      }
    }
    List<String> list = BraidServer.keys(root);
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("table", t.name());
    ArrayNode rows = o.putArray("rows");
    for (int i = 0; i < list.size(); i++) {
      try {
        list.set(i, t.rowKey(list.get(i)));
      } catch (IllegalArgumentException e) {
        throw Problem.badRequest("bad-key", "keys[" + i + "]: table '" + t.name() + "': " + e.getMessage()
            + "; nothing was read");
      }
    }
    for (TableRow r : t.getAll(list)) {
      rows.add(row(t.name(), r));
    }
    ok(ctx, o);
  }

  static ObjectNode row(String table, TableRow r) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("table", table);
    o.put("key", r.key());
    o.put("found", r.found());
    o.set("values", Json.MAPPER.valueToTree(r.values()));
    ObjectNode a = o.putObject("asOf");
    a.put("version", r.asOf().version());
    if (r.asOf().pushId() == null) {
      a.putNull("pushId");
    } else {
      a.put("pushId", r.asOf().pushId());
    }
    a.set("cut", Json.cut(r.asOf().cut()));
    a.set("position", Json.cut(r.asOf().position()));
    return o;
  }

  // ---------------------------------------------------------------------------------------------
  // Writes
  // ---------------------------------------------------------------------------------------------

  private void put(Context ctx) throws IOException {
    Table t = table(ctx);
    ObjectNode row = parseObject(jsonBody(ctx, "the row"), "the row as a JSON object");
    Long ts = timestamp(ctx, row);
    @SuppressWarnings("unchecked")
    Map<String, Object> values = Json.MAPPER.convertValue(row, Map.class);
    String key = rowKey(t, ctx);
    WriteResult w;
    try {
      w = t.put(key, values, ts);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("invalid-row", "table '" + t.name() + "': " + e.getMessage() + "; nothing was written");
    }
    ok(ctx, written(t.name(), key, "put", w));
  }

  private void patch(Context ctx) throws IOException {
    Table t = table(ctx);
    ObjectNode json = parseObject(jsonBody(ctx, "the patch"),
        "{\"set\": {...}, \"add\": {...}, \"remove\": {...}, \"put\": {...}}");
    Long ts = timestamp(ctx, json);
    String key = rowKey(t, ctx);
    WriteResult w;
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> m = Json.MAPPER.convertValue(json, Map.class);
      w = t.patch(key, Patch.fromJson(m), ts);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("invalid-patch", "table '" + t.name() + "': " + e.getMessage()
          + "; nothing was written");
    }
    ok(ctx, written(t.name(), key, "patch", w));
  }

  /**
   * A DELETE may send its timestamp as a body {@code {"_timestamp": ...}} as a PUT or PATCH does;
   * a body with anything else is a 400 rather than ignored.
   */
  private void delete(Context ctx) throws IOException {
    Table t = table(ctx);
    byte[] raw = body.read(ctx);
    ObjectNode json = null;
    if (raw.length > 0) {
      String type = BraidServer.mediaType(ctx);
      if (!type.equals("application/json")) {
        throw new Problem(415, "unsupported-media-type", "Unsupported media type", "a DELETE's body, when it has "
            + "one, is {\"" + TIMESTAMP_FIELD + "\": ...} as application/json, not " + (type.isEmpty()
            ? "without a Content-Type" : "'" + type + "'") + "; nothing was deleted");
      }
      json = parseObject(raw, "{\"" + TIMESTAMP_FIELD + "\": ...} or no body");
    }
    Long ts = timestamp(ctx, json);
    if (json != null && json.size() > 0) {
      List<String> others = new ArrayList<>();
      json.fieldNames().forEachRemaining(others::add);
      throw Problem.badRequest("invalid-delete", "table '" + t.name() + "': a DELETE's body holds only "
          + TIMESTAMP_FIELD + " (the write's timestamp), not " + String.join(", ", others) + "; nothing was deleted");
    }
    String key = rowKey(t, ctx);
    WriteResult w;
    try {
      w = t.delete(key, ts);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("invalid-key", "table '" + t.name() + "': " + e.getMessage());
    }
    ok(ctx, written(t.name(), key, "delete", w));
  }

  private static ObjectNode written(String table, String key, String op, WriteResult w) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("table", table);
    o.put("key", key);
    o.put("op", op);
    o.put("partition", w.partition());
    o.put("offset", w.offset());
    o.put("timestamp", w.timestamp());
    return o;
  }

  /**
   * The write's logical timestamp (see the class comment), or null for the time of ingest; one out
   * of the years 0000-9999 is a 400, as an event time is (one far in the future would win over every
   * later write of the row).
   */
  private static Long timestamp(Context ctx, ObjectNode body) {
    Long t = givenTimestamp(ctx, body);
    long min = dev.braid.event.EventEncoder.MIN_EVENT_TIME;
    long max = dev.braid.event.EventEncoder.MAX_EVENT_TIME;
    if (t != null && (t < min || t > max)) {
      throw Problem.badRequest("bad-timestamp", "the write's timestamp " + t + " is out of range: it must lie in the "
          + "years 0000-9999 (epoch millis " + min + " to " + max + "); nothing was written");
    }
    return t;
  }

  /**
   * The write's timestamp from {@code ?ts=}, the {@code Braid-Timestamp} header or the body's
   * {@code _timestamp} (removed from the body), or null when none is given; two of them that
   * differ are a 400, naming both.
   */
  private static Long givenTimestamp(Context ctx, ObjectNode body) {
    String q = ctx.queryParam("ts");
    if (q != null && q.isBlank()) { // as every other parameter: empty is a mistake, not "none"
      throw Problem.badRequest("bad-timestamp", "query parameter 'ts' is empty: give epoch millis or ISO-8601 "
          + "text, or leave the parameter out for the time the write arrives; nothing was written");
    }
    String h = ctx.header(TIMESTAMP_HEADER);
    List<String> where = new ArrayList<>();
    List<Long> given = new ArrayList<>();
    if (q != null) {
      where.add("query parameter 'ts'");
      given.add(time("query parameter 'ts'", q));
    }
    if (h != null && !h.isBlank()) {
      where.add("header " + TIMESTAMP_HEADER);
      given.add(time("header " + TIMESTAMP_HEADER, h));
    }
    if (body != null && body.has(TIMESTAMP_FIELD)) {
      where.add("body field " + TIMESTAMP_FIELD);
      given.add(bodyTimestamp(body.remove(TIMESTAMP_FIELD)));
    }
    for (int i = 1; i < given.size(); i++) {
      if (!given.get(i).equals(given.get(0))) {
        throw Problem.badRequest("bad-timestamp", "the write has two timestamps: " + where.get(0) + " says "
            + given.get(0) + " and " + where.get(i) + " says " + given.get(i) + "; give one; nothing was written");
      }
    }
    return given.isEmpty() ? null : given.get(0);
  }

  /** The body's {@code _timestamp}: epoch millis as a number, or text as every time the API takes. */
  private static long bodyTimestamp(JsonNode f) {
    if (f.isIntegralNumber()) {
      if (!f.canConvertToLong()) { // asLong would wrap it
        throw Problem.badRequest("bad-timestamp", "body field " + TIMESTAMP_FIELD + " " + f + " is out of range: "
            + "epoch milliseconds must fit in a long; nothing was written");
      }
      return f.asLong();
    }
    if (f.isTextual()) {
      return time("body field " + TIMESTAMP_FIELD, f.asText());
    }
    throw Problem.badRequest("bad-timestamp", "body field " + TIMESTAMP_FIELD + " must be epoch millis or "
        + "ISO-8601 text, got " + f);
  }

  static long time(String where, String v) {
    return BraidServer.epochMillis("bad-timestamp", where, v);
  }

  private static ObjectNode parseObject(byte[] bytes, String expected) {
    JsonNode root = Json.parse(bytes, "");
    if (root == null || root.isMissingNode()) {
      throw Problem.badRequest("empty-body", "the body is empty: send " + expected);
    }
    if (!(root instanceof ObjectNode o)) {
      throw Problem.badRequest("malformed-json", "the body must be a JSON object (" + expected + "), not "
          + root.getNodeType().name().toLowerCase(Locale.ROOT));
    }
    return o;
  }

  // ---------------------------------------------------------------------------------------------
  // Pushes
  // ---------------------------------------------------------------------------------------------

  /**
   * {@code POST /v1/tables/{t}/pushes}: the body (JSON lines or CSV, by {@code Content-Type}) is
   * streamed into the push, never held whole. With {@code wait=true} (the default) the answer is the
   * final report (200 when done, 422 with the report when the push failed); with {@code wait=false}
   * it is 202 once the body is loaded, with {@code Location} to follow the replay and swap.
   */
  private void push(Context ctx) throws IOException {
    Table t = table(ctx);
    String type = mediaType(ctx);
    PushFormat format;
    if (type.equals("application/x-ndjson") || type.equals("application/jsonl") || type.equals("application/ndjson")) {
      format = PushFormat.jsonLines();
    } else if (type.equals("text/csv")) {
      format = PushFormat.csv();
    } else {
      throw new Problem(415, "unsupported-media-type", "Unsupported media type", "send a push as "
          + "application/x-ndjson (JSON lines) or text/csv (a header line naming the fields), not '"
          + (type.isEmpty() ? "(no Content-Type)" : type) + "'");
    }
    boolean wait = bool(ctx, "wait", true);
    String source = ctx.queryParam("source");
    PushOptions o = PushOptions.defaults(source == null || source.isBlank() ? "request body" : source.strip())
        .withFormat(format).incremental(bool(ctx, "incremental", false)).waitForSwap(wait)
        .allowEmpty(bool(ctx, "allowEmpty", false));
    String since = ctx.queryParam("since");
    String sincePosition = ctx.queryParam("sincePosition");
    if (since != null && sincePosition != null) {
      throw Problem.badRequest("bad-parameter", "give since or sincePosition, not both");
    }
    if (o.incremental() && (since != null || sincePosition != null)) {
      throw Problem.badRequest("bad-parameter", PushOptions.INCREMENTAL_WITH_SINCE);
    }
    if (since != null) {
      o = o.since(time("query parameter 'since'", since));
    }
    if (sincePosition != null) {
      try {
        o = o.sincePosition(Cut.parseWithOrWithoutBrackets(sincePosition));
      } catch (IllegalArgumentException e) {
        throw Problem.badRequest("bad-parameter", "query parameter 'sincePosition' must be a cut like [120,98]: "
            + e.getMessage());
      }
    }
    String maxBad = ctx.queryParam("maxBadRows");
    if (maxBad != null) {
      try {
        o = o.maxBadRows(maxBad);
      } catch (IllegalArgumentException e) {
        throw Problem.badRequest("bad-parameter", "query parameter 'maxBadRows': " + e.getMessage());
      }
    }
    BraidServer.refuseContentEncoding(ctx);
    PushReport r;
    try (InputStream in = new Upload(ctx.req().getInputStream(), this::cutOff)) {
      r = t.push(in, o);
    } catch (IllegalArgumentException e) {
      throw Problem.badRequest("bad-push", "table '" + t.name() + "': " + e.getMessage());
    } catch (IllegalStateException e) {
      throw new Problem(409, "push-conflict", "Conflict", e.getMessage());
    }
    answer(ctx, t, r, wait);
  }

  private void repush(Context ctx) {
    Table t = table(ctx);
    boolean wait = bool(ctx, "wait", true);
    PushReport r;
    try {
      r = t.repush(wait);
    } catch (IllegalStateException e) {
      throw new Problem(409, "push-conflict", "Conflict", e.getMessage());
    }
    answer(ctx, t, r, wait);
  }

  private static void answer(Context ctx, Table t, PushReport r, boolean wait) {
    ObjectNode o = report(t, r);
    if (r.state().equals("failed")) {
      // an incremental push (version 0) builds no version: its failure says which rows it applied
      String detail = r.failure() + (r.version() == 0 ? "" : "; the current version is unchanged");
      Problem storage = storageFailure(t, r.failure(), detail);
      Problem problem = storage != null ? storage : new Problem(422, "push-failed", "Push failed", detail);
      ObjectNode p = Json.problem(problem, ctx.path());
      p.set("report", o);
      ctx.status(problem.status()).contentType("application/problem+json").result(bytes(p));
      return;
    }
    if (!wait && !r.state().equals("done")) {
      ctx.status(202).header("Location", "/v1/tables/" + t.name() + "/pushes/" + r.pushId());
      ctx.contentType("application/json").result(bytes(o));
      return;
    }
    ok(ctx, o);
  }

  /**
   * The {@code 507} of a push that failed because storage refused a write (a full disk, a file at the
   * process's file size limit): the data is not at fault, and the push can be sent again once the
   * fault is fixed; null for any other failure. Only the failure's own storage part is read (a full
   * push's "cannot read or write: ...", an incremental push's refused append to the writes log), never
   * a bad row's reason, which quotes the pushed data.
   */
  private static Problem storageFailure(Table t, String failure, String detail) {
    if (failure == null || !(failure.startsWith("cannot read or write: ")
        || failure.startsWith("stream '" + t.name() + dev.braid.spec.TableSpec.WRITES_SUFFIX + "' "))) {
      return null;
    }
    return BraidServer.storageFull(new IOException(failure), detail);
  }

  private void pushReport(Context ctx) {
    Table t = table(ctx);
    ok(ctx, report(t, t.push(ctx.pathParam("id"))));
  }

  /**
   * {@link #report(PushReport)} with, for a full push that is done, {@code versionState}: the state
   * of the version it built now ({@code current}, or {@code backup} and so on once later pushes or a
   * rollback replaced it), so that a report read long after the push does not suggest it is current.
   */
  static ObjectNode report(Table t, PushReport r) {
    ObjectNode o = report(r);
    if (r.version() > 0 && r.state().equals("done")) {
      for (dev.braid.VersionInfo v : t.versions()) {
        if (v.id() == r.version()) {
          o.put("versionState", v.state().label());
          break;
        }
      }
    }
    return o;
  }

  static ObjectNode report(PushReport r) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("table", r.table());
    o.put("pushId", r.pushId());
    o.put("version", r.version());
    o.put("state", r.state());
    o.put("bytes", r.bytes());
    o.put("rows", r.rows());
    if (r.version() > 0) { // an incremental push builds no Base, so it counts no distinct keys
      o.put("distinctKeys", r.distinctKeys());
    }
    o.put("expired", r.expired());
    o.put("badRows", r.badRows());
    ArrayNode bad = o.putArray("bad");
    for (PushReport.BadRow b : r.bad()) {
      bad.addObject().put("file", b.file()).put("line", b.line()).put("reason", b.reason());
    }
    o.set("cut", Json.cut(r.cut()));
    o.put("replayed", r.replayed());
    o.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
    o.put("rowsPerSecond", r.seconds() > 0 ? Math.round(r.rows() / r.seconds()) : 0);
    if (r.failure() != null) {
      o.put("failure", r.failure());
    }
    return o;
  }

  // ---------------------------------------------------------------------------------------------
  // Versions
  // ---------------------------------------------------------------------------------------------

  /**
   * {@code GET /v1/tables/{table}}: the table as its spec defines it (key, fields and their types,
   * partitions, time field, ttl, durability, keep) and its current version.
   */
  private void describe(Context ctx) {
    Table t = table(ctx); // 404 unknown-table
    dev.braid.spec.TableSpec ts = spec.table(t.name());
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("name", ts.name());
    o.put("key", ts.key());
    ObjectNode fields = o.putObject("fields");
    ts.fields().forEach((f, type) -> fields.put(f, type.specName()));
    o.put("partitions", ts.partitions());
    if (ts.time() != null) {
      o.put("time", ts.time());
    }
    if (ts.ttl() != null) {
      o.put("ttl", dev.braid.spec.Durations.format(ts.ttl()));
    }
    o.put("durability", ts.durability().toString());
    o.put("keep", ts.keep());
    t.versions().stream().filter(v -> v.state() == dev.braid.VersionState.CURRENT).findFirst()
        .ifPresent(v -> o.put("currentVersion", v.id()));
    ok(ctx, o);
  }

  private void versions(Context ctx) {
    ok(ctx, tableVersions(table(ctx)));
  }

  /** A table's versions, as a view's are answered ({@link Json#versions}), named as the table's. */
  private static ObjectNode tableVersions(Table t) {
    ObjectNode o = Json.versions(t.name(), t.versions());
    o.remove("view");
    o.put("table", t.name());
    return o;
  }

  /** {@code DELETE .../versions/{id}}: cancels the push that builds that version, or the rollback to it. */
  private void cancel(Context ctx) {
    Table t = table(ctx);
    long id = BraidServer.versionId(ctx);
    try {
      t.cancel(id);
    } catch (IllegalStateException e) {
      throw new Problem(409, "cannot-cancel", "Conflict", e.getMessage());
    }
    ObjectNode o = tableVersions(t);
    o.put("cancelled", id);
    ok(ctx, o);
  }

  private void activate(Context ctx) {
    Table t = table(ctx);
    long id = BraidServer.versionId(ctx);
    boolean wasCurrent = BraidServer.isCurrent(t.versions(), id);
    try {
      t.activate(id);
    } catch (IllegalStateException e) {
      throw new Problem(409, "cannot-activate", "Conflict", e.getMessage());
    } catch (dev.braid.view.CatalogWriteException e) { // the catalog could not record the start or the switch
      throw BraidServer.activationNotRecorded("table", t.name(), id, e);
    }
    ObjectNode o = tableVersions(t);
    o.put("activated", id);
    o.put("alreadyCurrent", wasCurrent);
    ok(ctx, o);
  }

  // ---------------------------------------------------------------------------------------------

  private static io.javalin.http.Handler params(io.javalin.http.Handler handler, String... names) {
    return BraidServer.params(handler, names);
  }

  private static boolean bool(Context ctx, String name, boolean def) {
    return BraidServer.boolParam(ctx, name, def);
  }

  private static String mediaType(Context ctx) {
    return BraidServer.mediaType(ctx);
  }

  private static byte[] bytes(JsonNode n) {
    return BraidServer.write(n);
  }

  private static void ok(Context ctx, JsonNode body) {
    BraidServer.ok(ctx, body);
  }
}
