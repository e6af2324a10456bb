package dev.braid.server.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code braid} command line. Each subcommand is its own class; this one only wires them and
 * decides how errors look: a usage mistake prints the mistake and where to find the command's usage and exits 2,
 * a failure while running prints one line {@code braid: error: ...} and exits 1 (set
 * {@code BRAID_DEBUG=1} for the stack trace), or with {@code --json} one JSON object on standard error
 * ({@link #jsonError}).
 *
 * <p>Tests drive it in-process through {@link #commandLine()} with their own writers.
 */
@Command(
    name = "braid",
    mixinStandardHelpOptions = true,
    resourceBundle = "dev.braid.server.cli.BraidHelp",
    versionProvider = VersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
        "Braid keeps events in an immutable, partitioned log, computes views from it in batch and "
            + "incrementally, and serves the exact merge of the two at a log cut.",
        ""},
    subcommands = {DemoCommand.class, ServerCommand.class, GenerateCommand.class, IngestCommand.class, QueryCommand.class,
        BatchCommand.class, RepairCommand.class, ReprocessCommand.class, ActivateCommand.class, DiscardCommand.class, DropCommand.class,
        VersionsCommand.class, StatusCommand.class, ChangesCommand.class, DeadLettersCommand.class, PushCommand.class,
        RowCommand.class,
        ValidateCommand.class, BenchCommand.class, PrintVersionCommand.class},
    footer = {"", "Run 'braid COMMAND --help' for a command's options."})
public final class BraidCli implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  public static void main(String[] args) {
    StandardOutput stdout = StandardOutput.install();
    int exitCode = commandLine().execute(args);
    System.exit(stdout.exitCode(exitCode, System.err, java.util.Arrays.asList(args).contains("--json")));
  }

  /** A fresh command line with Braid's error handling; set its out/err writers to capture output. */
  public static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new BraidCli());
    cli.setExecutionExceptionHandler(BraidCli::reportFailure);
    cli.setParameterExceptionHandler(BraidCli::reportUsageMistake);
    // numbers in the words the server uses ("must be a whole number"), not picocli's Java types ("is not a long")
    cli.registerConverter(Long.class, v -> wholeNumber(v, Long.MIN_VALUE, Long.MAX_VALUE));
    cli.registerConverter(Long.TYPE, v -> wholeNumber(v, Long.MIN_VALUE, Long.MAX_VALUE));
    cli.registerConverter(Integer.class, v -> (int) wholeNumber(v, Integer.MIN_VALUE, Integer.MAX_VALUE));
    cli.registerConverter(Integer.TYPE, v -> (int) wholeNumber(v, Integer.MIN_VALUE, Integer.MAX_VALUE));
    BenchCommand.configure(cli.getSubcommands().get("bench"));
    return cli;
  }

  /** {@code v} as a whole number from {@code min} to {@code max}, or a conversion error that says so. */
  private static long wholeNumber(String v, long min, long max) {
    try {
      long n = Long.parseLong(v.strip());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      if (!v.strip().matches("[-+]?\\d+")) {
        throw new CommandLine.TypeConversionException("'" + v + "' is not a whole number");
      }
    }
    throw new CommandLine.TypeConversionException("'" + v + "' is out of range: it must be from " + min + " to " + max);
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "Missing command: pick one of "
        + String.join(", ", spec.subcommands().entrySet().stream()
            .filter(c -> !c.getValue().getCommandSpec().usageMessage().hidden()).map(Map.Entry::getKey).toList()));
  }

  /**
   * A usage mistake (an unknown option, a missing argument, a value that does not convert): the
   * mistake in one line {@code braid: error: ...}, picocli's suggestions for a misspelt name, and
   * where to find the command's options; with {@code --json} anywhere on the line, one JSON object
   * as for a failure. Exit code 2.
   */
  private static int reportUsageMistake(ParameterException e, String[] args) {
    CommandLine cli = e.getCommandLine();
    PrintWriter err = cli.getErr();
    int exitCode = cli.getCommandSpec().exitCodeOnInvalidInput();
    if (java.util.Arrays.asList(args).contains("--json")) {
      err.println(jsonError(e, e.getMessage(), exitCode));
      err.flush();
      return exitCode;
    }
    err.println(cli.getColorScheme().errorText("braid: error: " + e.getMessage()));
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    err.println("Run '" + cli.getCommandSpec().qualifiedName() + " --help' for its usage and options.");
    err.flush();
    return exitCode;
  }

  private static int reportFailure(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
    if (e instanceof InterruptNotice.Said said) {
      return said.exitCode(); // the notice said it
    }
    PrintWriter err = cli.getErr();
    String message = e instanceof java.nio.file.FileSystemException f ? describe(f)
        : e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    int exitCode = e instanceof CommandFailedException f ? f.exitCode() : 1;
    if (cli.getParseResult() != null && cli.getParseResult().hasMatchedOption("--json")) {
      err.println(jsonError(e, message, exitCode));
      err.flush();
      return exitCode;
    }
    // the failure's last line is its error; what a message adds on lines after its first (what an
    // ingest's earlier requests did, how to resume) goes above it
    List<String> lines = lines(message);
    for (String note : lines.subList(1, lines.size())) {
      err.println("braid: " + note);
    }
    if ("1".equals(System.getenv("BRAID_DEBUG"))) {
      e.printStackTrace(err);
    } else if (!(e instanceof CommandFailedException) && !(e instanceof java.nio.file.FileSystemException)) {
      err.println("braid: set BRAID_DEBUG=1 for the stack trace");
    }
    err.println(cli.getColorScheme().errorText("braid: error: " + lines.get(0)));
    err.flush();
    return exitCode;
  }

  /** The lines of {@code message} that hold text, without the indentation they were written with. */
  static List<String> lines(String message) {
    List<String> lines = new java.util.ArrayList<>();
    for (String l : message.split("\\R")) {
      if (!l.isBlank()) {
        lines.add(l.strip());
      }
    }
    if (lines.isEmpty()) {
      lines.add(message);
    }
    return lines;
  }

  /**
   * Whether whoever reads {@code out} went away (a pipe into {@code head} that closed): flushes
   * {@code out} and asks it and standard output. The process's standard output is a PrintStream
   * that keeps a broken pipe's error to itself, below picocli's writer, which never sees it.
   */
  static boolean readerGone(java.io.PrintWriter out) {
    return out.checkError() || System.out.checkError();
  }

  /**
   * A failure as one JSON object, for a script that passed {@code --json}: {@code error} (the line
   * {@code braid: error:} would print), {@code exitCode}, and for an error answer of the server its
   * {@code status} and {@code problem} (the RFC 9457 document as the server sent it). It goes to
   * standard error, like the text form, so standard output holds only results.
   */
  static String jsonError(Exception e, String message, int exitCode) {
    com.fasterxml.jackson.databind.node.ObjectNode o = BraidClient.JSON.createObjectNode();
    List<String> lines = lines(message);
    o.put("error", lines.get(0));
    if (lines.size() > 1) { // as printed above the error line without --json
      lines.subList(1, lines.size()).forEach(o.putArray("notes")::add);
    }
    o.put("exitCode", exitCode);
    if (e instanceof BraidClient.ErrorAnswer a) {
      o.put("status", a.status);
      if (a.problem != null && a.problem.isObject() && a.problem.size() > 0) {
        o.set("problem", a.problem);
      }
    }
    return o.toString();
  }

  /**
   * A file system failure in words, with the path: Java's exceptions carry only the path (a missing
   * file's message is its name) or the operating system's reason without it.
   */
  static String describe(java.nio.file.FileSystemException e) {
    String file = e.getFile();
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file or directory: " + file;
    }
    if (e instanceof java.nio.file.FileAlreadyExistsException) {
      return file + " already exists (a file where a directory, or a new file, was expected)";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied: " + file;
    }
    if (e instanceof java.nio.file.NotDirectoryException) {
      return "not a directory: " + file;
    }
    String reason = e.getReason();
    return file == null ? String.valueOf(e.getMessage()) : file + ": " + (reason == null ? "cannot be used" : reason);
  }

  /** An expected failure with a message meant for the user: no stack trace, a chosen exit code. */
  static class CommandFailedException extends RuntimeException {
    private final int exitCode;

    CommandFailedException(String message, int exitCode) {
      super(message);
      this.exitCode = exitCode;
    }

    int exitCode() {
      return exitCode;
    }
  }
}
