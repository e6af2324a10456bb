package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code braid status}: streams and views of a running server. */
@Command(name = "status", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Show the streams (end positions, watermarks), views (current version, cut, lag, late events, "
        + "final windows, Delta memory) and tables of a server.")
public final class StatusCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Override
  public Integer call() {
    JsonNode r = client.http().get("/v1/status");
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    out.printf("Braid at %s, up %d s, data in %s%n%n", client.url, r.path("uptimeSeconds").asLong(),
        r.path("dataDirectory").asText());
    problems(r, out);
    Table s = new Table("stream", "partitions", "durability", "events", "events/s", "rejected/s", "dedup ids/keys",
        "end");
    for (JsonNode x : r.path("streams")) {
      s.row(x.path("name").asText(), x.path("partitions").asInt(), x.path("durability").asText(),
          x.path("events").asLong(), String.format(java.util.Locale.ROOT, "%,.1f", x.path("eventsPerSecond").asDouble()),
          String.format(java.util.Locale.ROOT, "%,.1f", x.path("rejectedPerSecond").asDouble()),
          x.path("dedupEntries").asLong(), x.path("end"));
    }
    if (r.path("streams").size() == 0) {
      out.println("no streams");
    } else {
      s.print(out);
    }
    for (JsonNode x : r.path("streams")) {
      for (JsonNode line : x.path("recovered")) {
        out.printf("%nstream %s: %s%n", x.path("name").asText(), line.asText());
      }
      if (x.path("watermark").isObject()) {
        out.printf("%nstream %s: %s%n", x.path("name").asText(), watermark(x.path("watermark")));
      }
    }
    out.println();
    // groups summed over the Delta's partitions, not distinct keys (see Status.ViewStatus#deltaKeys)
    Table v = new Table("view", "stream", "mode", "version", "base cut", "delta position", "lag", "delta groups",
        "batch");
    for (JsonNode x : r.path("views")) {
      String batch = x.has("batch") ? String.format("running %d/%d", x.path("batch").path("eventsRead").asLong(),
          x.path("batch").path("eventsTotal").asLong()) : x.has("lastBatchAt") ? "last ended " + ago(
          java.time.Instant.parse(x.path("lastBatchAt").asText())) : "-";
      v.row(x.path("name").asText(), x.path("stream").asText(), x.path("mode").asText(),
          x.path("currentVersion").asLong(), x.path("cut"), x.path("position"), x.path("lag").asLong(),
          x.path("deltaKeys").asLong(), batch);
    }
    if (r.path("views").size() == 0) {
      out.println("no views");
    } else {
      v.print(out);
    }
    for (JsonNode x : r.path("retiredViews")) {
      out.printf("%nview %s is retired: the spec no longer defines it; its %d version(s)%s are kept (put it back in the "
          + "spec to serve them, or drop them: braid drop %s)%n", x.path("name").asText(), x.path("versions").asInt(),
          x.path("stream").isTextual() ? " of stream " + x.path("stream").asText() : "", x.path("name").asText());
    }
    for (JsonNode x : r.path("retiredTables")) {
      out.printf("%ntable %s is retired: the spec no longer defines it; its versions and writes are kept (put it back "
          + "in the spec to serve them, or drop them: braid drop %s --table)%n", x.asText(), x.asText());
    }
    if (r.path("tables").size() > 0) {
      out.println();
      Table tt = new Table("table", "version", "push", "base cut", "writes position", "lag", "base rows", "delta keys");
      for (JsonNode x : r.path("tables")) {
        tt.row(x.path("name").asText(), x.path("currentVersion").asLong(),
            x.path("pushId").isNull() ? "-" : x.path("pushId").asText(), x.path("cut"), x.path("position"),
            x.path("lag").asLong(), x.path("baseRows").asLong(), x.path("deltaKeys").asLong());
      }
      tt.print(out);
      for (JsonNode x : r.path("tables")) {
        for (JsonNode line : x.path("recovered")) {
          out.printf("%ntable %s: %s%n", x.path("name").asText(), line.asText());
        }
        if (x.has("push")) {
          out.printf("%ntable %s: %s%n", x.path("name").asText(), PushCommand.summary(x.path("push")));
        }
        if (x.has("rollback")) {
          JsonNode rb = x.path("rollback");
          out.printf("%ntable %s: rolling back to version %d: %s%n", x.path("name").asText(),
              rb.path("version").asLong(), VersionsCommand.progress(rb, "writes").strip()
                  .replaceFirst("^rollback, ", ""));
        }
      }
    }
    for (JsonNode x : r.path("views")) {
      if (x.has("reprocess")) {
        JsonNode rp = x.path("reprocess");
        String name = x.path("name").asText();
        long id = rp.path("version").asLong();
        if (VersionsCommand.held(rp)) {
          out.printf("%nview %s: version %d is held: %s%n", name, id, VersionsCommand.heldText(rp, name, id).strip());
        } else {
          out.printf("%nview %s: %s version %d: %s%n", name, rp.path("rollback").asBoolean() ? "rolling back to"
              : "building", id, VersionsCommand.progress(rp, "events").strip().replaceFirst("^rollback, ", ""));
        }
      }
      if (x.has("retention")) {
        JsonNode rt = x.path("retention");
        out.printf("%nview %s: keeps windows for %s; %s (%d evicted since the server started)%n", x.path("name").asText(),
            rt.path("retain").asText(), rt.path("horizon").isNull() ? "nothing evicted yet"
                : "windows before " + rt.path("horizon").asText() + " are evicted", rt.path("evictedWindows").asLong());
      }
      if (x.path("lateness").isObject()) {
        JsonNode l = x.path("lateness");
        long late = l.path("lateEvents").asLong();
        out.printf("%nview %s: allowed lateness %s; %,d late event%s%s; %s%n", x.path("name").asText(),
            l.path("allowedLateness").asText(), late, late == 1 ? "" : "s",
            late == 0 ? "" : x.path("mode").asText().equals("kappa")
                ? " (in the stream's late log; a kappa view has no batch layer, so they are not counted)"
                : " (in the stream's late log; a batch cycle counts those before its cut)",
            l.path("finalUntil").isTextual() ? "windows ending at or before " + l.path("finalUntil").asText()
                + " are final, later ones provisional" : x.path("mode").asText().equals("kappa")
                ? "every window is provisional (a kappa view has no batch layer to make one final)"
                : "no window is final yet (all provisional)");
      }
      long skipped = x.path("skippedEvents").asLong();
      long withoutKey = x.path("eventsWithoutKey").asLong();
      boolean complete = x.path("leftOutCountsComplete").asBoolean(true);
      if (skipped > 0 || withoutKey > 0) {
        out.printf(java.util.Locale.ROOT, "%nview %s: left out %s%,d event%s of the log up to its position: %,d on "
                + "which an expression or an aggregation failed (the server's log shows the first ones), %,d "
                + "without a value for group_by%s%n", x.path("name").asText(), complete ? "" : "at least ",
            skipped + withoutKey, skipped + withoutKey == 1 ? "" : "s", skipped, withoutKey,
            complete ? "" : " (part of its data predates these counts; its next batch cycle counts them all)");
      }
      JsonNode d = x.path("delta");
      if (d.isObject() && (d.path("runs").asInt() > 0 || d.path("spills").asLong() > 0)) {
        out.printf(java.util.Locale.ROOT, "%nview %s: Delta %,d groups in memory (%,d bytes); closed windows: %,d "
                + "groups in %d run%s on disk (%,d bytes)%n", x.path("name").asText(), d.path("groups").asLong(),
            d.path("bytes").asLong(), d.path("runGroups").asLong(), d.path("runs").asInt(),
            d.path("runs").asInt() == 1 ? "" : "s", d.path("runBytes").asLong());
      }
      JsonNode cp = x.path("checkpoints");
      if (cp.isObject()) {
        JsonNode st = cp.path("startup");
        out.printf("%nview %s: %s; start-up %s and replayed %,d events in %d ms%n", x.path("name").asText(),
            cp.path("last").isObject() ? String.format(java.util.Locale.ROOT, "last checkpoint %.0f s ago at %s",
                cp.path("last").path("ageSeconds").asDouble(), cp.path("last").path("position"))
                : "no checkpoint yet",
            st.path("restoredFrom").isNull() ? "restored no checkpoint" : "restored " + st.path("restoredFrom").asText(),
            st.path("replayedEvents").asLong(), st.path("replayMillis").asLong());
        for (JsonNode refused : st.path("refused")) {
          out.printf("  refused checkpoint %s%n", refused.asText());
        }
        if (cp.has("lastError")) {
          out.printf("  the last checkpoint failed: %s%n", cp.path("lastError").asText());
        }
      }
      if (x.path("specChanged").asBoolean()) {
        out.printf("%nview %s: the spec file defines it differently from version %d, which keeps serving; run "
            + "`braid reprocess %s --spec FILE` to switch%n", x.path("name").asText(),
            x.path("currentVersion").asLong(), x.path("name").asText());
      } else if (x.path("specDiffers").asBoolean()) {
        out.printf("%nview %s: version %d serves a definition from `braid reprocess`, not the spec file's (a "
            + "reprocess does not edit the file); `braid server --reprocess-changed` would switch back to the file's%n",
            x.path("name").asText(), x.path("currentVersion").asLong());
      }
    }
    return 0;
  }

  /** Partitions listed one by one up to this many; beyond, the slowest and fastest and the idle ones. */
  static final int LISTED_PARTITIONS = 8;

  /**
   * One line for a stream's watermark: the stream's, then each partition's (or, for many partitions,
   * the slowest and the fastest active one), and the idle ones, which do not hold the watermark back.
   */
  static String watermark(JsonNode w) {
    StringBuilder b = new StringBuilder("watermark ").append(at(w.path("at")));
    if (w.path("held").asBoolean()) {
      b.append(" (held: it never goes back, and the partitions that are not idle are behind it)");
    }
    JsonNode parts = w.path("partitions");
    if (parts.size() <= LISTED_PARTITIONS) {
      b.append("; partitions");
      String sep = " ";
      for (JsonNode p : parts) {
        b.append(sep).append(p.path("partition").asInt()).append(' ').append(at(p.path("at")))
            .append(p.path("idle").asBoolean() ? " (idle)" : "");
        sep = ", ";
      }
      return b.toString();
    }
    JsonNode slowest = null;
    JsonNode fastest = null;
    List<Integer> idle = new ArrayList<>();
    for (JsonNode p : parts) {
      if (p.path("idle").asBoolean()) {
        idle.add(p.path("partition").asInt());
      } else if (p.path("at").isTextual()) {
        java.time.Instant t = java.time.Instant.parse(p.path("at").asText());
        slowest = slowest == null || t.isBefore(java.time.Instant.parse(slowest.path("at").asText())) ? p : slowest;
        fastest = fastest == null || t.isAfter(java.time.Instant.parse(fastest.path("at").asText())) ? p : fastest;
      }
    }
    if (slowest != null) {
      b.append("; slowest active partition ").append(slowest.path("partition").asInt()).append(' ')
          .append(slowest.path("at").asText()).append(", fastest ").append(fastest.path("partition").asInt())
          .append(' ').append(fastest.path("at").asText());
    }
    b.append("; idle partitions ").append(idle.isEmpty() ? "none" : ranges(idle));
    return b.toString();
  }

  private static String at(JsonNode instant) {
    return instant.isTextual() ? instant.asText() : "none yet";
  }

  /** Ascending numbers as ranges: {@code 0, 2-5, 9}. */
  static String ranges(List<Integer> sorted) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < sorted.size(); ) {
      int j = i;
      while (j + 1 < sorted.size() && sorted.get(j + 1) == sorted.get(j) + 1) {
        j++;
      }
      b.append(b.length() == 0 ? "" : ", ").append(sorted.get(i));
      if (j > i) {
        b.append('-').append(sorted.get(j));
      }
      i = j + 1;
    }
    return b.toString();
  }

  /**
   * What the server cannot do right now, first (the faults that make {@code /health} say
   * {@code degraded}): failing ingest, refused streams, views and tables, damaged logs, and views
   * whose checkpoints fail.
   */
  private static void problems(JsonNode r, PrintWriter out) {
    String[][] kinds = {{"ingest", "ingest failing"}, {"unavailable", "unavailable"}, {"damaged", "damaged log"},
        {"checkpoints", "checkpoints failing"}};
    boolean any = false;
    for (String[] kind : kinds) {
      var names = r.path(kind[0]).fieldNames();
      while (names.hasNext()) {
        String name = names.next();
        String why = r.path(kind[0]).path(name).asText();
        out.printf("%s %s: %s%n", kind[1], name, kind[1].endsWith(" failing") && why.startsWith("failing: ")
            ? why.substring("failing: ".length()) : why); // said once
        any = true;
      }
    }
    if (any) {
      out.println();
    }
  }

  /** How long ago {@code t} was, for a person, e.g. {@code 42 s ago}, {@code 5 min ago}, {@code 2 d ago}. */
  static String ago(java.time.Instant t) {
    long s = Math.max(0, java.time.Duration.between(t, java.time.Instant.now()).getSeconds());
    return s < 120 ? s + " s ago" : s < 2 * 3600 ? s / 60 + " min ago" : s < 2 * 86400 ? s / 3600 + " h ago"
        : s / 86400 + " d ago";
  }
}
