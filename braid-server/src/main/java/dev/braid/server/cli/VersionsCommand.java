package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid versions VIEW}: the versions of a view and their cuts. */
@Command(name = "versions", mixinStandardHelpOptions = true, sortOptions = false,
    description = "List the versions of a view (or with --table, of a table): state, cut of the base, position of "
        + "the delta.")
public final class VersionsCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @picocli.CommandLine.Option(names = "--table", description = "VIEW names a table of the hybrid store")
  boolean table;

  @Override
  public Integer call() {
    JsonNode r = new BraidClient(client.url).get((table ? "/v1/tables/" : "/v1/views/") + BraidClient.enc(view)
        + "/versions");
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    Table t = new Table("version", "state", "base cut", "delta position", "base keys", "created");
    for (JsonNode v : r.path("versions")) {
      t.row(v.path("id").asLong(), v.path("state").asText(), v.path("cut"),
          v.path("position").isNull() ? "-" : v.path("position"), v.path("baseKeys").asLong(),
          v.path("createdAt").asText() + (v.has("failure") ? "  failed: " + v.path("failure").asText() : "")
              + progress(v.path("progress")));
    }
    t.print(out);
    return 0;
  }

  /** A building version's progress: phase, events read of total, lag and ETA. */
  static String progress(JsonNode p) {
    if (!p.isObject()) {
      return "";
    }
    return String.format(java.util.Locale.ROOT, "  %s %,d/%,d events, lag %,d%s%s", p.path("phase").asText(),
        p.path("eventsReplayed").asLong(), p.path("eventsTotal").asLong(), p.path("lag").asLong(),
        p.path("etaMillis").isNumber()
            ? String.format(java.util.Locale.ROOT, ", eta %.1f s", p.path("etaMillis").asLong() / 1000.0) : "",
        p.path("hold").asBoolean() ? " (held)" : "");
  }
}
