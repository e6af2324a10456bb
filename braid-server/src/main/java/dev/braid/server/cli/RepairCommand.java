package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid repair VIEW}: rebuild a view whose Base file is damaged. The server moves the damaged
 * file aside as {@code <file>.corrupt}, recomputes the Base from the log at a fresh cut and swaps
 * the new version in; the view serves again. A damaged log segment cannot be repaired this way
 * (the data is gone from the log): restore it from a backup.
 */
@Command(name = "repair", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Rebuild a view whose Base file is corrupt from the log (the damaged file is kept as *.corrupt).")
public final class RepairCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Override
  public Integer call() {
    PrintWriter out = command.commandLine().getOut();
    JsonNode r = BatchCommand.awaitCycle(command, client, view, "repair", "the repair");
    if (client.json) {
      out.println(r.toPrettyString());
    } else if (r.has("built")) {
      out.printf("view %s: repaired; version %d, rebuilt from the log, is current%n", view, r.path("built").asLong());
    } else {
      out.printf("view %s: the repair is still running; see `braid versions %s`%n", view, view);
    }
    out.flush();
    return 0;
  }
}
