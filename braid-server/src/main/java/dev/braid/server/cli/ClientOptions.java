package dev.braid.server.cli;

import picocli.CommandLine.Option;

/** Options of every command that talks to a running server. */
public final class ClientOptions {

  @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:BRAID_URL:-http://127.0.0.1:8080}",
      description = "the Braid server (default: ${DEFAULT-VALUE}; env BRAID_URL)")
  String url;

  @Option(names = "--json", description = "print the server's JSON instead of a table; a failure is one JSON object on standard error")
  boolean json;

  /**
   * The description of {@code --timeout} says this default; {@code braid ingest} and {@code braid push}
   * have their own, in {@code BraidHelp.properties} under their command's name.
   */
  @Option(names = "--timeout", paramLabel = "SECONDS", descriptionKey = "timeout",
      description = "seconds to wait for an answer of the server (default: 600)")
  Integer timeoutSeconds;

  /** The default of {@code --timeout}, in seconds. */
  static final int DEFAULT_TIMEOUT_SECONDS = 600;

  /** {@code --timeout}, or {@code defaultSeconds} without it; refused below one second. */
  int timeoutSeconds(int defaultSeconds) {
    int t = timeoutSeconds == null ? defaultSeconds : timeoutSeconds;
    if (t < 1) {
      throw new BraidCli.CommandFailedException("--timeout must be at least 1 second, got " + t, 2);
    }
    return t;
  }

  /**
   * {@code " --url URL"} for a command this one suggests, so that it reaches the same server when
   * pasted; empty for the default server.
   */
  String urlOption() {
    return url == null || url.equals("http://127.0.0.1:8080") ? "" : " --url " + url;
  }

  /** A client of the server at {@code --url} that waits {@code --timeout} for each answer. */
  BraidClient http() {
    return new BraidClient(url, java.time.Duration.ofSeconds(timeoutSeconds(DEFAULT_TIMEOUT_SECONDS)));
  }
}
