package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;

/** {@code braid discard VIEW VERSION}: drop a reprocess held for activation. */
@Command(name = "discard", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Discard a reprocessed version that is held for activation (braid reprocess --hold): it stops "
        + "following the log, its files are deleted, and another reprocess of the view can start."})
public final class DiscardCommand extends VersionCommand {

  @Override
  JsonNode send(BraidClient http, String path) {
    return http.delete(path);
  }

  @Override
  String summary(JsonNode answer, double seconds) {
    return String.format("view %s: version %d discarded; version %d stays current", view, version,
        answer.path("current").asLong());
  }
}
