package dev.braid.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code braid version}: what {@code braid --version} prints, for those who type it as a command. */
@Command(name = "version", hidden = true, mixinStandardHelpOptions = true, description = "Print Braid's and Java's versions (as --version does).")
final class PrintVersionCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @picocli.CommandLine.Option(names = "--json", description = "print the versions as one JSON object")
  boolean json;

  @Override
  public Integer call() {
    java.io.PrintWriter out = spec.commandLine().getOut();
    if (json) {
      com.fasterxml.jackson.databind.node.ObjectNode o = BraidClient.JSON.createObjectNode();
      o.put("braid", VersionProvider.braidVersion());
      o.put("java", System.getProperty("java.version"));
      o.put("vm", System.getProperty("java.vm.name"));
      o.put("vendor", System.getProperty("java.vendor"));
      out.println(o.toPrettyString());
    } else {
      for (String line : new VersionProvider().getVersion()) {
        out.println(line);
      }
    }
    out.flush();
    return 0;
  }
}
