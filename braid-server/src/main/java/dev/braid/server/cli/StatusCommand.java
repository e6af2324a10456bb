package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code braid status}: streams and views of a running server. */
@Command(name = "status", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Show the streams (end positions), views and tables (current version, cut, lag) of a server.")
public final class StatusCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Override
  public Integer call() {
    JsonNode r = new BraidClient(client.url).get("/v1/status");
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    out.printf("Braid at %s, up %d s, data in %s%n%n", client.url, r.path("uptimeSeconds").asLong(),
        r.path("dataDirectory").asText());
    Table s = new Table("stream", "partitions", "durability", "events", "events/s", "rejected/s", "dedup ids", "end");
    for (JsonNode x : r.path("streams")) {
      s.row(x.path("name").asText(), x.path("partitions").asInt(), x.path("durability").asText(),
          x.path("events").asLong(), String.format(java.util.Locale.ROOT, "%,.1f", x.path("eventsPerSecond").asDouble()),
          String.format(java.util.Locale.ROOT, "%,.1f", x.path("rejectedPerSecond").asDouble()),
          x.path("dedupEntries").asLong(), x.path("end"));
    }
    s.print(out);
    out.println();
    Table v = new Table("view", "stream", "mode", "version", "base cut", "delta position", "lag", "delta keys",
        "batch");
    for (JsonNode x : r.path("views")) {
      String batch = x.has("batch") ? String.format("running %d/%d", x.path("batch").path("eventsRead").asLong(),
          x.path("batch").path("eventsTotal").asLong()) : "-";
      v.row(x.path("name").asText(), x.path("stream").asText(), x.path("mode").asText(),
          x.path("currentVersion").asLong(), x.path("cut"), x.path("position"), x.path("lag").asLong(),
          x.path("deltaKeys").asLong(), batch);
    }
    v.print(out);
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
        if (x.has("push")) {
          out.printf("%ntable %s: %s%n", x.path("name").asText(), PushCommand.summary(x.path("push")));
        }
      }
    }
    for (JsonNode x : r.path("views")) {
      if (x.has("reprocess")) {
        out.printf("%nview %s: building version %d:%s%n", x.path("name").asText(),
            x.path("reprocess").path("version").asLong(), VersionsCommand.progress(x.path("reprocess")));
      }
      if (x.has("retention")) {
        JsonNode rt = x.path("retention");
        out.printf("%nview %s: keeps windows for %s; %s (%d evicted so far)%n", x.path("name").asText(),
            rt.path("retain").asText(), rt.path("horizon").isNull() ? "nothing evicted yet"
                : "windows before " + rt.path("horizon").asText() + " are evicted", rt.path("evictedWindows").asLong());
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
      }
    }
    return 0;
  }
}
