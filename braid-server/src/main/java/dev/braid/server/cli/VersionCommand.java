package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * A command on one version of a view ({@code braid activate|discard VIEW VERSION}): sends one
 * request and prints a line, or the server's answer with {@code --json}.
 */
abstract class VersionCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  /** Whether {@link #view} names a table of the hybrid store (set by the commands that take {@code --table}). */
  boolean table;

  @Parameters(index = "1", paramLabel = "VERSION")
  long version;

  /** Sends the request for {@link #version} of {@link #view} to {@code path} (the version's URL). */
  abstract JsonNode send(BraidClient http, String path);

  /** The line printed on success. */
  abstract String summary(JsonNode answer, double seconds);

  /** The server's answer to {@link #send}: a command may show something while it waits for it. */
  JsonNode answer(BraidClient http, String path) {
    return send(http, path);
  }

  @Override
  public Integer call() {
    long t0 = System.nanoTime();
    JsonNode r = answer(client.http(), (table ? "/v1/tables/" : "/v1/views/") + BraidClient.enc(view) + "/versions/"
        + version);
    PrintWriter out = command.commandLine().getOut();
    out.println(client.json ? r.toPrettyString() : summary(r, (System.nanoTime() - t0) / 1e9));
    out.flush();
    return 0;
  }
}
