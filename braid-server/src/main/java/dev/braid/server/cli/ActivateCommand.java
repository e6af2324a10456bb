package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid activate VIEW VERSION}: switch in a held version, or roll back to a backup. */
@Command(name = "activate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Make a version of a view current: a held reprocess, or a backup (rollback; it catches up "
        + "with the log first). Returns once the version is current."})
public final class ActivateCommand implements Callable<Integer> {

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
    long t0 = System.nanoTime();
    JsonNode r = new BraidClient(client.url).post("/v1/views/" + BraidClient.enc(view) + "/versions/" + version
        + "/activate", null, new byte[0]);
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
    } else {
      out.printf("view %s: version %d is current after %.1f s%n", view, version, (System.nanoTime() - t0) / 1e9);
    }
    out.flush();
    return 0;
  }
}
