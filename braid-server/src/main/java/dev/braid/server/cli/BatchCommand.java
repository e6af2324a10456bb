package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid batch VIEW}: run a batch cycle now and swap its version in. */
@Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Run a batch cycle of a view now: recompute its base at the log's end and make it current.")
public final class BatchCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Override
  public Integer call() {
    PrintWriter out = command.commandLine().getOut();
    long t0 = System.nanoTime();
    JsonNode r = awaitCycle(command, client, view, "batch", "the batch cycle");
    if (client.json) {
      out.println(r.toPrettyString());
    } else if (r.path("unchanged").asBoolean()) {
      out.printf("view %s: %s%n", view, r.path("detail").asText());
    } else if (r.has("built")) {
      long id = r.path("built").asLong();
      JsonNode v = null;
      for (JsonNode x : r.path("versions")) {
        if (x.path("id").asLong() == id) {
          v = x;
        }
      }
      out.printf("view %s: version %d is current (base at cut %s, %d keys) after %.1f s%n", view, id,
          v == null ? "?" : v.path("cut"), v == null ? 0 : v.path("baseKeys").asLong(),
          seconds(r.path("batch"), (System.nanoTime() - t0) / 1e9));
    } else {
      out.printf("view %s: the batch cycle is still running; see `braid versions %s`%n", view, view);
    }
    out.flush();
    return 0;
  }

  /**
   * Posts {@code /v1/views/VIEW/ENDPOINT} (a batch cycle or a repair) and waits for its answer, the
   * server's answer within {@link BraidClient#serverWaitSeconds}; Ctrl-C meanwhile says that
   * {@code what} goes on in the server.
   */
  static JsonNode awaitCycle(CommandSpec command, ClientOptions client, String view, String endpoint, String what) {
    InterruptNotice onSignal = new InterruptNotice(command.commandLine().getErr(), client.json, endpoint,
        () -> "interrupted while waiting for " + what + " of view " + view + "; if the server got the request, "
            + what + " goes on there: `braid versions " + view + "` shows it");
    try {
      BraidClient http = client.http();
      return http.post("/v1/views/" + BraidClient.enc(view) + "/" + endpoint + "?wait=" + http.serverWaitSeconds(),
          null, new byte[0]);
    } finally {
      onSignal.close();
    }
  }

  /**
   * How long the cycle took by the server's clock ({@code batch.startedAt} to {@code finishedAt}),
   * else {@code measured} here (which counts this command's own start-up too).
   */
  static double seconds(JsonNode batch, double measured) {
    try {
      return java.time.Duration.between(java.time.Instant.parse(batch.path("startedAt").asText()),
          java.time.Instant.parse(batch.path("finishedAt").asText())).toNanos() / 1e9;
    } catch (java.time.format.DateTimeParseException e) {
      return measured;
    }
  }
}
