package dev.braid.server.cli;

import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code braid server}: the engine behind the HTTP API, until Ctrl-C or SIGTERM. */
@Command(name = "server", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Run Braid (log, batch and speed layers, serving) behind the HTTP API.")
public final class ServerCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Option(names = "--spec", required = true, paramLabel = "FILE", description = "pipeline spec (YAML)")
  Path specFile;

  @Option(names = "--data", defaultValue = "./data", paramLabel = "DIR",
      description = "data directory (default: ${DEFAULT-VALUE})")
  Path data;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "8080",
      description = "HTTP port, 0 for any free port (default: ${DEFAULT-VALUE})")
  int port;

  @Option(names = "--bind", paramLabel = "ADDR", defaultValue = "127.0.0.1",
      description = "address to listen on (default: ${DEFAULT-VALUE})")
  String bind;

  @Option(names = "--max-body", defaultValue = "16MiB", paramLabel = "SIZE", converter = ByteSizeConverter.class,
      description = "largest request body accepted: bytes, or with a unit, e.g. 512KiB, 16MiB, 1GiB (binary: "
          + "k, KB and KiB all mean 1024 bytes); at most 1GiB (default: ${DEFAULT-VALUE})")
  long maxBody;

  /** The largest {@code --max-body}: a request body is held in memory whole. */
  static final long MAX_BODY_LIMIT = 1L << 30;

  /**
   * Parses a size in bytes: a whole number, optionally followed by a unit {@code k}, {@code m} or
   * {@code g} (with or without {@code B} or {@code iB}, any case), all binary: {@code 16m},
   * {@code 16MB} and {@code 16MiB} are 16,777,216 bytes.
   */
  static final class ByteSizeConverter implements CommandLine.ITypeConverter<Long> {
    private static final java.util.regex.Pattern SIZE =
        java.util.regex.Pattern.compile("(\\d+)\\s*(?:([kmgKMG])(?:[iI]?[bB])?|[bB])?");

    @Override
    public Long convert(String value) {
      java.util.regex.Matcher m = SIZE.matcher(value.strip());
      if (!m.matches()) {
        throw new CommandLine.TypeConversionException("'" + value + "' is not a size: give bytes, or a number with "
            + "a unit such as 512KiB, 16MiB or 1GiB");
      }
      int shift = m.group(2) == null ? 0 : switch (Character.toLowerCase(m.group(2).charAt(0))) {
        case 'k' -> 10;
        case 'm' -> 20;
        default -> 30;
      };
      try {
        long n = Long.parseLong(m.group(1));
        if (n > (Long.MAX_VALUE >> shift)) {
          throw new NumberFormatException();
        }
        return n << shift;
      } catch (NumberFormatException e) {
        throw new CommandLine.TypeConversionException("'" + value + "' is too large a size");
      }
    }
  }

  @Option(names = "--reprocess-changed", description = "for every view whose definition in the spec differs from "
      + "the version serving it, start a reprocess with the spec's definition (without it, such views keep their "
      + "logic and the server says so)")
  boolean reprocessChanged;

  @Option(names = "--checkpoint-every", paramLabel = "DURATION", defaultValue = "30s",
      converter = DemoCommand.DurationConverter.class, description = "how often each view's state is checkpointed, "
      + "which bounds the log replay after a crash; 0s checkpoints only on shutdown (default: ${DEFAULT-VALUE})")
  java.time.Duration checkpointEvery;

  @Option(names = "--selectors", paramLabel = "N", defaultValue = "0",
      description = "HTTP selector threads, which also answer point reads; 0 for one per CPU, at most "
          + BraidServer.Config.MAX_DEFAULT_SELECTORS + " (default: ${DEFAULT-VALUE})")
  int selectors;

  /**
   * Refuses a {@code --bind} that is not an address of this machine (or the wildcard), before the
   * data directory is locked: the listener could never open, and Javalin reports every bind
   * failure as a port in use.
   */
  private void checkBindAddress() {
    java.net.InetAddress address;
    try {
      address = java.net.InetAddress.getByName(bind);
    } catch (java.net.UnknownHostException e) {
      throw new CommandLine.ParameterException(command.commandLine(),
          "--bind " + bind + " is not an IP address or a host name this machine can resolve");
    }
    boolean local;
    try {
      local = address.isAnyLocalAddress() || address.isLoopbackAddress()
          || java.net.NetworkInterface.getByInetAddress(address) != null;
    } catch (java.net.SocketException e) {
      local = true; // cannot tell: let the listener try
    }
    if (!local) {
      throw new CommandLine.ParameterException(command.commandLine(), "--bind " + bind + " (" + address.getHostAddress()
          + ") is not an address of this machine; use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or "
          + "one of its interfaces' addresses");
    }
  }

  @Override
  public Integer call() throws Exception {
    if (port < 0 || port > 65_535) {
      throw new CommandLine.ParameterException(command.commandLine(),
          "--port must be a TCP port, 1 to 65535 (or 0 for any free one), got " + port);
    }
    if (maxBody < 1 || maxBody > MAX_BODY_LIMIT) {
      throw new CommandLine.ParameterException(command.commandLine(),
          "--max-body must be between 1 byte and 1GiB, got " + maxBody + " bytes");
    }
    if (selectors < 0) {
      throw new CommandLine.ParameterException(command.commandLine(),
          "--selectors must be 0 (one per CPU) or more, got " + selectors);
    }
    checkBindAddress();
    PipelineSpec spec;
    try {
      spec = PipelineSpec.load(specFile);
    } catch (SpecException e) {
      e.errors().forEach(err -> command.commandLine().getErr().println("braid: error: " + err));
      command.commandLine().getErr().flush();
      return 2;
    }
    BraidServer server;
    try {
      server = BraidServer.start(spec, data, BraidServer.Config.defaults().withBind(bind).withPort(port)
          .withMaxBodyBytes(maxBody).withCheckpointEvery(checkpointEvery).withSelectors(selectors));
    } catch (io.javalin.util.JavalinBindException e) {
      // Javalin says "already in use" for every bind failure: the innermost cause tells which it was.
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      String why = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
      throw new BraidCli.CommandFailedException(why.contains("already in use")
          ? String.format("port %d on %s is taken by another process: stop it, or choose another --port (0 picks a "
              + "free one)", port, bind)
          : String.format("cannot listen on %s port %d: %s", bind, port, why), 1);
    } catch (IllegalStateException e) {
      throw new BraidCli.CommandFailedException(e.getMessage(), 1);
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "braid-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    // Listening is not yet serving: until the engine has opened (or failed to), requests answer 503.
    command.commandLine().getOut().printf("Braid is listening on %s (data in %s) and starting; Ctrl-C stops it%n",
        server.url(), data.toAbsolutePath().normalize());
    command.commandLine().getOut().flush();
    try {
      server.awaitReady(1, TimeUnit.HOURS);
    } catch (IllegalStateException e) {
      Runtime.getRuntime().removeShutdownHook(hook);
      server.close();
      throw new BraidCli.CommandFailedException(e.getMessage(), 1); // "Braid could not start: ..."
    }
    java.io.PrintWriter out = command.commandLine().getOut(); // the engine's log says "Braid is ready on ..."
    if (reprocessChanged) {
      server.reprocessChangedViews().forEach((view, version) -> out.printf("view %s: it did not serve the spec file's "
          + "definition; reprocessing with it into version %d (follow it with `braid versions %s`)%n", view, version,
          view));
    } else {
      for (dev.braid.Status.ViewStatus v : server.braid().status().views()) {
        if (v.specChanged()) {
          out.printf("view %s: the spec defines it differently from version %d, which keeps serving; run `braid "
              + "reprocess %s --spec %s` or restart with --reprocess-changed%n", v.name(), v.currentVersion(),
              v.name(), specFile);
        } else if (v.specDiffers()) {
          out.printf("view %s: version %d serves a definition from `braid reprocess`, not the one in %s (a reprocess "
              + "does not edit the file); put it in the file to keep them in step, or restart with --reprocess-changed "
              + "to go back to the file's%n", v.name(), v.currentVersion(), specFile);
        }
      }
    }
    out.flush();
    stopped.await();
    return 0;
  }
}
