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
    JsonNode r = client.http().get((table ? "/v1/tables/" : "/v1/views/") + BraidClient.enc(view)
        + "/versions");
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    Table t = new Table("version", "state", "base cut", "delta position", "base keys", "created");
    for (JsonNode v : r.path("versions")) {
      boolean held = held(v.path("progress"));
      t.row(v.path("id").asLong(), held ? "held" : v.path("state").asText(), v.path("cut"),
          v.path("position").isNull() ? "-" : v.path("position"),
          v.path("baseKeys").isNumber() ? v.path("baseKeys").asLong() : "-", // a gone version's Base is deleted
          v.path("createdAt").asText() + (v.has("failure") ? "  " + (v.path("state").asText().equals("discarded")
              ? "" : "failed: ") + v.path("failure").asText() : "")
              + (held ? heldText(v.path("progress"), view, v.path("id").asLong())
                  : progress(v.path("progress"), table ? "writes" : "events")));
    }
    t.print(out);
    JsonNode batch = r.path("batch");
    if (batch.isObject()) {
      String state = batch.path("state").asText();
      // a repair or a batch cycle, as the server names what ran (a scheduled cycle's record has none)
      String what = batch.path("what").asText("batch cycle");
      out.println(state.equals("running") ? String.format(java.util.Locale.ROOT, "%s running%s", what,
          batch.has("eventsTotal") ? String.format(java.util.Locale.ROOT, ": %,d/%,d events read",
              batch.path("eventsRead").asLong(), batch.path("eventsTotal").asLong()) : "")
          : state.equals("failed") ? "last " + what + " failed at " + batch.path("finishedAt").asText() + ": "
              + batch.path("failure").asText()
          : state.equals("refused") ? "last " + what + " asked for was refused at "
              + batch.path("finishedAt").asText() + ": " + batch.path("reason").asText()
          : batch.path("unchanged").asBoolean() ? "last " + what + ", at " + batch.path("finishedAt").asText()
              + ", found no events since version " + batch.path("built").asLong() + "'s cut: it stays current"
          : "last " + what + " built version " + batch.path("built").asLong() + " at "
              + batch.path("finishedAt").asText());
    }
    out.flush();
    return 0;
  }

  /** Whether {@code p}, a version's progress, is a reprocess that has caught up and waits for an activation. */
  static boolean held(JsonNode p) {
    return p.path("phase").asText().equals("held");
  }

  /** A held version's progress: caught up, and the command that makes it current. */
  static String heldText(JsonNode p, String view, long version) {
    long read = p.path("eventsReplayed").asLong();
    return String.format(java.util.Locale.ROOT, "  caught up with %,d %s%s (lag %,d)%s; `braid activate %s %d` "
        + "makes it current", read, read == 1 ? "event" : "events", restoredText(p), p.path("lag").asLong(),
        skippedText(p), view, version);
  }

  /** How many of a building version's events a checkpoint restored at start-up, or nothing when none did. */
  static String restoredText(JsonNode p) {
    long restored = p.path("eventsFromCheckpoint").asLong();
    return restored <= 0 ? "" : String.format(java.util.Locale.ROOT, ", %,d of them restored from its checkpoint",
        restored);
  }

  /** What a building version's progress says it leaves out, or nothing when it leaves out no event. */
  static String skippedText(JsonNode p) {
    long skipped = p.path("skippedEvents").asLong();
    return skipped <= 0 ? "" : "; " + leftOut(skipped) + " (the server log has the first)";
  }

  /** {@code it leaves out N events on which an expression or aggregation failed}. */
  static String leftOut(long skipped) {
    return String.format(java.util.Locale.ROOT, "it leaves out %,d %s on which an expression or aggregation failed",
        skipped, skipped == 1 ? "event" : "events");
  }

  /**
   * A building version's progress: a rollback's says so, then phase, records read of total ({@code unit}: a view
   * reads events, a table's rollback writes), lag and ETA.
   */
  static String progress(JsonNode p, String unit) {
    if (!p.isObject()) {
      return "";
    }
    return String.format(java.util.Locale.ROOT, "  %s%s %,d/%,d %s%s, lag %,d%s%s",
        p.path("rollback").asBoolean() ? "rollback, " : "", p.path("phase").asText(),
        p.path("eventsReplayed").asLong(), p.path("eventsTotal").asLong(), unit, restoredText(p),
        p.path("lag").asLong(),
        p.path("etaMillis").isNumber()
            ? String.format(java.util.Locale.ROOT, ", eta %.1f s", p.path("etaMillis").asLong() / 1000.0) : "",
        p.path("hold").asBoolean() ? " (to be held once caught up)" : "");
  }
}
