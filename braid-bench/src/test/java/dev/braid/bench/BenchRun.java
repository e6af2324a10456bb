package dev.braid.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/**
 * One run of a benchmark command in this JVM, as the smoke tests make it: its standard output
 * captured (and printed again, for the test's log) with its exit code.
 */
record BenchRun(int code, String out) {

  /** Runs the command {@code command} makes (after standard output is redirected: some keep it in a field). */
  static BenchRun of(java.util.function.Supplier<?> command, String... args) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.out;
    int code;
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      code = new CommandLine(command.get()).execute(args);
    } finally {
      System.setOut(original);
    }
    String out = buffer.toString(StandardCharsets.UTF_8);
    System.out.println(out);
    return new BenchRun(code, out);
  }
}
