package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid drop VIEW [--table]}: drop a retired view's (or table's) versions and files. */
@Command(name = "drop", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Drop a retired view: one the spec no longer defines, whose versions the server still keeps "
        + "(braid status lists them). Its versions leave the catalog and its files are deleted, so its name can be "
        + "given to a view of another stream or mode. A view the spec defines is refused. With --table, a retired "
        + "table: its pushed rows, log of writes and recorded fields go, so its name can take other fields."})
public final class DropCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @picocli.CommandLine.Option(names = "--table", description = "VIEW names a retired table")
  boolean table;

  @Override
  public Integer call() {
    if (view.isBlank()) {
      throw new picocli.CommandLine.ParameterException(command.commandLine(), "VIEW must not be empty");
    }
    JsonNode r = client.http().delete((table ? "/v1/tables/" : "/v1/views/") + BraidClient.enc(view));
    PrintWriter out = command.commandLine().getOut();
    out.println(client.json ? r.toPrettyString() : table
        ? String.format("table %s dropped: %d version(s), its pushed rows and its log of writes deleted", view,
            r.path("droppedVersions").asInt())
        : String.format("view %s dropped: %d version(s) and its files deleted, with its changes feed if it had one",
            view, r.path("droppedVersions").asInt()));
    out.flush();
    return 0;
  }
}
