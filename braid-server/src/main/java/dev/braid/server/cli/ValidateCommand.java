package dev.braid.server.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecError;
import dev.braid.spec.SpecException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid validate FILE}: check a spec offline and print every error with its path. */
@Command(name = "validate", mixinStandardHelpOptions = true,
    description = "Check a pipeline spec without starting anything; print every error with its path.")
public final class ValidateCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Parameters(index = "0", paramLabel = "FILE", description = "the spec file to check (YAML), e.g. braid.yaml")
  Path file;

  @Option(names = "--json", description = "print one JSON object on standard output: {\"file\", \"valid\", "
      + "\"streams\", \"views\", \"tables\"} or {\"file\", \"valid\": false, \"errors\": [{\"path\", \"message\"}]}")
  boolean json;

  @Override
  public Integer call() {
    PrintWriter out = command.commandLine().getOut();
    PrintWriter err = command.commandLine().getErr();
    ObjectNode result = BraidClient.JSON.createObjectNode().put("file", file.toString());
    try {
      PipelineSpec spec = PipelineSpec.load(file);
      if (json) {
        result.put("valid", true).put("streams", spec.streams().size()).put("views", spec.views().size())
            .put("tables", spec.tables().size());
        out.println(result);
        out.flush();
        return 0;
      }
      out.printf("%s is valid: %s, %s, %s%n", file, count(spec.streams().size(), "stream"),
          count(spec.views().size(), "view"), count(spec.tables().size(), "table"));
      out.flush();
      return 0;
    } catch (SpecException e) {
      if (json) {
        ArrayNode errors = result.put("valid", false).putArray("errors");
        for (SpecError error : e.errors()) {
          errors.addObject().put("path", error.path()).put("message", error.message());
        }
        out.println(result);
        out.flush();
        return 1;
      }
      // how many, then one `braid: error:` line each, as every failing command ends (and `braid server` prints them)
      err.printf("braid: %s: %d error%s%n", file, e.errors().size(), e.errors().size() == 1 ? "" : "s");
      for (SpecError error : e.errors()) {
        err.println("braid: error: " + error);
      }
      err.flush();
      return 1;
    }
  }

  private static String count(int n, String what) {
    return n + " " + what + (n == 1 ? "" : "s");
  }
}
