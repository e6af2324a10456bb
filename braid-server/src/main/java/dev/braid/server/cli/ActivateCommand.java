package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import picocli.CommandLine.Command;

/** {@code braid activate VIEW VERSION}: switch in a held version, or roll back to a backup. */
@Command(name = "activate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Make a version of a view current: a held reprocess, or a backup (rollback; it catches up "
        + "with the log first). Returns once the version is current. One reprocess or rollback runs at a time: "
        + "while a reprocess is building or held, a rollback is refused until it is activated or discarded. With "
        + "--table, a backup version of a table (its real-time writes since its cut are replayed first)."})
public final class ActivateCommand extends VersionCommand {

  @picocli.CommandLine.Option(names = "--table", description = "VIEW names a table of the hybrid store")
  void table(boolean on) {
    table = on;
  }

  @Override
  JsonNode send(BraidClient http, String path) {
    return http.post(path + "/activate", null, new byte[0]);
  }

  @Override
  String summary(JsonNode answer, double seconds) {
    if (answer.path("alreadyCurrent").asBoolean()) {
      return String.format(Locale.ROOT, "%s %s: version %d was current already; nothing changed", table ? "table"
          : "view", view, version);
    }
    return String.format(Locale.ROOT, "%s %s: version %d is current after %.1f s", table ? "table" : "view", view, version, seconds);
  }
}
