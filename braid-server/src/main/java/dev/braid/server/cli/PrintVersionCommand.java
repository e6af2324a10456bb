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

  @Override
  public Integer call() {
    for (String line : new VersionProvider().getVersion()) {
      spec.commandLine().getOut().println(line);
    }
    spec.commandLine().getOut().flush();
    return 0;
  }
}
