package dev.braid.server.cli;

import picocli.CommandLine.Option;

/** Options of every command that talks to a running server. */
public final class ClientOptions {

  @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:BRAID_URL:-http://127.0.0.1:8080}",
      description = "the Braid server (default: ${DEFAULT-VALUE}; env BRAID_URL)")
  String url;

  @Option(names = "--json", description = "print the server's JSON instead of a table; a failure is one JSON object on standard error")
  boolean json;
}
