package dev.braid.server.cli;

import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecError;
import dev.braid.spec.SpecException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid validate FILE}: check a spec offline and print every error with its path. */
@Command(name = "validate", mixinStandardHelpOptions = true,
    description = "Check a pipeline spec without starting anything; print every error with its path.")
public final class ValidateCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Parameters(index = "0", paramLabel = "FILE")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = command.commandLine().getOut();
    PrintWriter err = command.commandLine().getErr();
    try {
      PipelineSpec spec = PipelineSpec.load(file);
      out.printf("%s is valid: %d stream%s, %d view%s%n", file, spec.streams().size(),
          spec.streams().size() == 1 ? "" : "s", spec.views().size(), spec.views().size() == 1 ? "" : "s");
      out.flush();
      return 0;
    } catch (SpecException e) {
      for (SpecError error : e.errors()) {
        err.println(error);
      }
      err.printf("%d error%s%n", e.errors().size(), e.errors().size() == 1 ? "" : "s");
      err.flush();
      return 1;
    }
  }
}
