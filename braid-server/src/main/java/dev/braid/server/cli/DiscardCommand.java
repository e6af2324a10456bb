package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;

/** {@code braid discard VIEW VERSION}: drop a reprocess held for activation, or cancel a rollback. */
@Command(name = "discard", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Discard a reprocessed version that is held for activation (braid reprocess --hold): it stops "
        + "following the log, its files are deleted, and another reprocess of the view can start. On a version "
        + "being rolled back to (braid activate of a backup), cancel the rollback: it stays a backup. With --table, "
        + "cancel a push that is building a table's version, or a rollback to a table's backup (braid activate "
        + "--table)."})
public final class DiscardCommand extends VersionCommand {

  @picocli.CommandLine.Option(names = "--table", description = "VIEW names a table of the hybrid store")
  void table(boolean on) {
    table = on;
  }

  @Override
  JsonNode send(BraidClient http, String path) {
    return http.delete(path);
  }

  @Override
  String summary(JsonNode answer, double seconds) {
    String state = "";
    for (JsonNode v : answer.path("versions")) {
      if (v.path("id").asLong() == version) {
        state = v.path("state").asText();
      }
    }
    long current = answer.path("current").asLong();
    if (table && state.equals("failed")) {
      return String.format("table %s: the push building version %d is cancelled; it failed and its files are "
          + "deleted, and version %d stays current", view, version, current);
    }
    if (table || state.equals("backup")) {
      return String.format("%s %s: the rollback to version %d is cancelled; it is a backup again, and version %d "
          + "stays current", table ? "table" : "view", view, version, current);
    }
    return String.format("view %s: version %d discarded; version %d stays current", view, version, current);
  }
}
