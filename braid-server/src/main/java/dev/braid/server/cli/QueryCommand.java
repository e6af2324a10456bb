package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid query VIEW KEY}: the merged result of one key, and what it is as of. */
@Command(name = "query", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Read the merged (batch base + real-time delta) result of one key of a view.")
public final class QueryCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Parameters(index = "1", paramLabel = "KEY")
  String key;

  @Option(names = "--from", paramLabel = "TIME", description = "windowed views: only windows that start at or after "
      + "TIME (epoch millis, ISO-8601 like 2026-11-22T10:00:00Z or with an offset, or a date: its midnight UTC)")
  String from;

  @Option(names = "--to", paramLabel = "TIME", description = "windowed views: only windows that start before TIME")
  String to;

  @Override
  public Integer call() {
    if (from != null) {
      TimeOption.parse(command.commandLine(), "--from", from); // refused here, naming the option, not by the server
    }
    if (to != null) {
      TimeOption.parse(command.commandLine(), "--to", to);
    }
    StringBuilder path = new StringBuilder("/v1/views/" + BraidClient.enc(view) + "/keys/" + BraidClient.enc(key));
    String sep = "?";
    if (from != null) {
      path.append(sep).append("from=").append(BraidClient.enc(from));
      sep = "&";
    }
    if (to != null) {
      path.append(sep).append("to=").append(BraidClient.enc(to));
    }
    BraidClient http = client.http();
    JsonNode r = read(http, path.toString());
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    // the definition of the version that answered, to show its timestamps as such: a reprocess or an activation
    // between the read and the description would give another version's (a count shown as a date)
    JsonNode described = http.get("/v1/views/" + BraidClient.enc(view));
    for (int tries = 0; tries < 5 && described.path("currentVersion").asLong() != r.path("asOf").path("version")
        .asLong(); tries++) {
      r = read(http, path.toString());
      described = http.get("/v1/views/" + BraidClient.enc(view));
    }
    boolean sameVersion = described.path("currentVersion").asLong() == r.path("asOf").path("version").asLong();
    JsonNode definition = described.path("definition");
    java.util.Set<String> timestamps = sameVersion ? timestampAggregates(http, definition) : java.util.Set.of();
    print(out, r, definition, timestamps);
    out.flush();
    return 0;
  }

  /** The key's merged result: by its path, or through a batchGet of one key when a path cannot name it. */
  private JsonNode read(BraidClient http, String path) {
    JsonNode r;
    if (BraidClient.keyNeedsBody(key)) { // a URL path cannot name it: read it through a batchGet of one key
      com.fasterxml.jackson.databind.node.ObjectNode body = BraidClient.JSON.createObjectNode();
      body.putArray("keys").add(key);
      if (from != null) {
        body.put("from", from);
      }
      if (to != null) {
        body.put("to", to);
      }
      r = http.post("/v1/views/" + BraidClient.enc(view) + "/keys:batchGet", "application/json",
          body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)).path("results").path(0);
    } else {
      r = http.get(path);
    }
    return r;
  }

  private void print(PrintWriter out, JsonNode r, JsonNode definition, java.util.Set<String> timestamps) {
    out.printf("%s[%s]%s%n", view, Table.visible(key), r.path("found").asBoolean() ? ""
        : from != null || to != null ? "  (no window of this key starts in the range: windows are chosen by their start)"
        : "  (no events for this key yet)");
    boolean windowed = r.has("windows");
    if (r.path("values").isEmpty()) { // only a view with hopping windows answers no values
      if (windowed) {
        out.println("(hopping windows overlap, so the windows have no total: each window's values are below)");
      }
    } else {
      Table t = new Table("aggregate", windowed ? "total of the windows below" : "value");
      for (Iterator<Map.Entry<String, JsonNode>> it = r.path("values").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        t.row(e.getKey(), timestamps.contains(e.getKey()) ? instant(e.getValue()) : readable(e.getValue()));
      }
      t.print(out);
    }
    if (windowed) {
      out.println();
      Table w = new Table("window start", "window end", "state", "values");
      for (JsonNode win : r.path("windows")) {
        w.row(java.time.Instant.ofEpochMilli(win.path("start").asLong()),
            java.time.Instant.ofEpochMilli(win.path("end").asLong()), win.path("state").asText("-"),
            shown(win.path("values"), timestamps));
      }
      w.print(out);
    }
    JsonNode a = r.path("asOf");
    boolean kappa = "kappa".equals(definition.path("mode").asText());
    if (!kappa) {
      out.printf("%nas of version %d: base covers the log before cut %s, delta covers up to %s%n",
          a.path("version").asLong(), a.path("cut"), a.path("position"));
    } else {
      boolean fromStart = true;
      for (JsonNode o : a.path("cut")) {
        fromStart &= o.asLong() == 0;
      }
      out.printf("%nas of version %d (kappa: no batch layer): the delta holds the log %s up to %s%n",
          a.path("version").asLong(), fromStart ? "from its start" : "from cut " + a.path("cut")
              + " (its replay start: events before it are not counted)", a.path("position"));
    }
  }

  /** A result value for a person: text as it is, doubles {@link #readable(double)}, the rest as JSON. */
  static String readable(JsonNode v) {
    return v.isNull() ? "null" : v.isTextual() ? v.asText() : v.isDouble() ? readable(v.doubleValue()) : v.toString();
  }

  /**
   * A window's {@code values} as JSON, with the {@code timestamps} aggregates' millis as ISO-8601 text
   * and doubles {@link #readable(double)} (a sum of prices 193.61, not 193.60999999999999).
   */
  static String shown(JsonNode values, java.util.Set<String> timestamps) {
    JsonNode copy = values.deepCopy();
    if (copy instanceof com.fasterxml.jackson.databind.node.ObjectNode o) {
      java.util.List<String> names = new java.util.ArrayList<>();
      o.fieldNames().forEachRemaining(names::add);
      for (String name : names) {
        JsonNode n = o.get(name);
        if (n.isDouble() && Double.isFinite(n.doubleValue())) { // JSON has no NaN
          o.putRawValue(name, new com.fasterxml.jackson.databind.util.RawValue(readable(n.doubleValue())));
        }
      }
      for (String name : timestamps) {
        if (o.has(name)) {
          o.put(name, instant(o.get(name)));
        }
      }
    }
    return copy.toString();
  }

  /** Epoch millis {@code v} as ISO-8601 ({@code 2026-11-22T10:00:00Z}); anything else (null, text) as it is. */
  static String instant(JsonNode v) {
    return v.isIntegralNumber() && v.canConvertToLong() ? java.time.Instant.ofEpochMilli(v.asLong()).toString()
        : readable(v);
  }

  /**
   * The aggregates of {@code definition} (a view's, as {@code GET /v1/views/{view}} gives it) whose
   * value is a timestamp of the stream, in epoch millis: {@code min}, {@code max}, {@code first}
   * and {@code last} of a {@code timestamp} field.
   */
  static java.util.Set<String> timestampAggregates(BraidClient http, JsonNode definition) {
    java.util.Set<String> names = new java.util.HashSet<>();
    JsonNode fields = null;
    for (Iterator<Map.Entry<String, JsonNode>> it = definition.path("aggregate").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      dev.braid.agg.AggregateCall call;
      try {
        call = dev.braid.agg.Aggregations.parse(e.getValue().asText());
      } catch (IllegalArgumentException notKnownHere) { // a newer server's: shown as it comes
        continue;
      }
      if (call.field() != null && java.util.Set.of("min", "max", "first", "last").contains(call.function())) {
        if (fields == null) {
          fields = http.get("/v1/streams/" + BraidClient.enc(definition.path("from").asText())).path("fields");
        }
        if ("timestamp".equals(fields.path(call.field()).asText())) {
          names.add(e.getKey());
        }
      }
    }
    return names;
  }

  /**
   * A double for a person: at most 15 significant digits, so a sum of prices reads 114.15 rather
   * than its binary value 114.14999999999999 ({@code --json} keeps the exact value); very large or
   * small magnitudes in scientific notation.
   */
  static String readable(double d) {
    if (!Double.isFinite(d)) {
      return Double.toString(d);
    }
    java.math.BigDecimal r = new java.math.BigDecimal(d).round(new java.math.MathContext(15)).stripTrailingZeros();
    double a = Math.abs(d);
    return a != 0 && (a >= 1e15 || a < 1e-6) ? r.toString() : r.toPlainString();
  }
}
