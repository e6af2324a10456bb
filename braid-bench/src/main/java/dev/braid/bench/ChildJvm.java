package dev.braid.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A benchmark's child JVM: its standard output goes to this JVM's as is; its standard error is
 * relayed line by line to this JVM's {@code System.err} without the launcher's warning about the
 * foreign-memory incubator module, which {@link ViewsBenchmark#childJvmOptions} adds on JDK 17 and
 * 18 and which every child would print once, between the benchmark's progress lines. Every other
 * line, errors and stack traces included, is relayed unchanged.
 */
public final class ChildJvm {

  /** The line the JDK 17 and 18 launcher prints for {@code --add-modules=jdk.incubator.foreign}. */
  static final String INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.foreign";

  private final Process process;
  private final Thread relay;

  private ChildJvm(Process process, Thread relay) {
    this.process = process;
    this.relay = relay;
  }

  /** Starts {@code command} (a {@code java} command line). */
  public static ChildJvm start(List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
    PrintStream err = System.err;
    Thread relay = new Thread(() -> relay(p.getErrorStream(), err), "braid-bench-child-stderr");
    relay.setDaemon(true);
    relay.start();
    return new ChildJvm(p, relay);
  }

  public Process process() {
    return process;
  }

  /**
   * Waits (up to 5 s) until the relay has passed on the child's last lines, so that they come
   * before what this JVM prints next; call it once the child has ended.
   */
  public void awaitOutput() throws InterruptedException {
    relay.join(5_000);
  }

  /** Copies {@code in}'s lines to {@code to}, leaving out {@link #INCUBATOR_WARNING}, until {@code in} ends. */
  static void relay(InputStream in, PrintStream to) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        if (!line.equals(INCUBATOR_WARNING)) {
          to.println(line);
        }
      }
    } catch (IOException e) {
      to.println("(the child JVM's standard error could not be read further: " + e.getMessage() + ")");
    }
    to.flush();
  }
}
