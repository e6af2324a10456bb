package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid discard VIEW VERSION}: drop a reprocess held for activation. */
@Command(name = "discard", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Discard a reprocessed version that is held for activation (braid reprocess --hold): it stops "
        + "following the log, its files are deleted, and another reprocess of the view can start."})
public final class DiscardCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Parameters(index = "1", paramLabel = "VERSION")
  long version;

  @Override
  public Integer call() {
    JsonNode r = new BraidClient(client.url).delete("/v1/views/" + BraidClient.enc(view) + "/versions/" + version);
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
    } else {
      out.printf("view %s: version %d discarded; version %d stays current%n", view, version,
          r.path("current").asLong());
    }
    out.flush();
    return 0;
  }
}
