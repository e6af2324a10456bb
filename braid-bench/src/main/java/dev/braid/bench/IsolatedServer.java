package dev.braid.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Braid server in a JVM of its own, pinned to some CPUs with {@code taskset}, while this JVM (the
 * load generator) is pinned to the others: {@code braid bench http --isolate}.
 *
 * <h2>Why</h2>
 * On a 2-vCPU machine a load generator in the server's JVM runs its threads on the same two CPUs as
 * the server's selector thread. A client thread that preempts the selector delays every connection,
 * and the client's garbage pauses the server too, so a latency tail measured that way is largely the
 * client's. A second machine would separate them; pinning the two processes to disjoint CPUs is the
 * nearest thing on one machine: the server gets its CPUs to itself (and the kernel's loopback work
 * that its threads do), and its figures are those of a server with that many CPUs.
 *
 * <p>The server runs exactly as a user runs it: {@code BraidCli server --spec FILE --data DIR --port P
 * --bind 127.0.0.1}, with this JVM's heap and module options, and stops on SIGTERM (its clean
 * shutdown). Its output goes to {@code server.log} beside its data directory. Linux only
 * ({@code taskset} from util-linux).
 */
final class IsolatedServer implements AutoCloseable {

  private static final String MAIN_CLASS = "dev.braid.server.cli.BraidCli";

  private final Process process;
  private final InetSocketAddress address;
  private final Path log;

  private IsolatedServer(Process process, InetSocketAddress address, Path log) {
    this.process = process;
    this.address = address;
    this.log = log;
  }

  /**
   * Starts the server on {@code serverCpus} with {@code spec} (YAML) and a data directory under
   * {@code root}, waits until {@code /health} answers 200, then pins every thread of this JVM to
   * {@code clientCpus}. CPU lists are in {@code taskset -c} form ("0", "1-3"); {@code selectors} is
   * the server's {@code --selectors} (0: one per CPU it may run on).
   */
  static IsolatedServer start(String spec, Path root, String serverCpus, String clientCpus, int selectors,
      PrintStream out)
      throws IOException, InterruptedException {
    Path specFile = root.resolve("http-bench.yaml");
    Files.writeString(specFile, spec, StandardCharsets.UTF_8);
    Path log = root.resolve("server.log");
    int port = freePort();
    List<String> command = new ArrayList<>(List.of("taskset", "-c", serverCpus, javaBinary()));
    command.addAll(jvmOptions());
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), MAIN_CLASS, "server",
        "--spec", specFile.toString(), "--data", root.resolve("data").toString(),
        "--port", Integer.toString(port), "--bind", "127.0.0.1", "--selectors", Integer.toString(selectors)));
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    } catch (IOException e) {
      throw new IllegalStateException("--isolate runs the server under taskset (util-linux), which could not be "
          + "started: " + e.getMessage(), e);
    }
    IsolatedServer server = new IsolatedServer(p, new InetSocketAddress("127.0.0.1", port), log);
    try {
      server.awaitHealthy(TimeUnit.SECONDS.toNanos(120));
      pinThisProcess(clientCpus);
    } catch (IOException | InterruptedException | RuntimeException e) {
      server.close();
      throw e;
    }
    out.printf("  server in its own JVM (pid %d) on CPU %s, this load generator on CPU %s (taskset)%n",
        p.pid(), serverCpus, clientCpus);
    return server;
  }

  InetSocketAddress address() {
    return address;
  }

  /** CPU time the server's process has used so far, in nanoseconds (-1 when the OS does not tell). */
  long cpuNanos() {
    return process.info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
  }

  private void awaitHealthy(long timeoutNanos) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    byte[] health = HttpConnection.get("/health");
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException("the server exited with status " + process.exitValue() + " before it was ready; "
            + "its output:\n" + tail());
      }
      try (HttpConnection c = new HttpConnection(address)) {
        if (c.exchange(health) == 200) {
          return;
        }
      } catch (IOException notYet) {
        // not listening yet
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the server did not answer /health with 200 within "
            + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s; its output:\n" + tail());
      }
      Thread.sleep(50);
    }
  }

  /** Pins every thread of this JVM (and the threads they start later) to {@code cpus}. */
  private static void pinThisProcess(String cpus) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("taskset", "-a", "-p", "-c", cpus, Long.toString(ProcessHandle.current().pid()))
        .redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("taskset could not pin the load generator to CPU " + cpus + ": " + output.strip());
    }
  }

  private String tail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static String javaBinary() {
    return ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  /**
   * This JVM's options for the server's JVM (same heap, same modules), without those that must not
   * be shared by two processes: a flight recording, an agent or a log file would be written by both.
   */
  private static List<String> jvmOptions() {
    List<String> options = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-XX:StartFlightRecording") && !a.startsWith("-agent") && !a.startsWith("-javaagent")
          && !a.startsWith("-Xlog") && !a.startsWith("-XX:+HeapDumpOnOutOfMemoryError")) {
        options.add(a);
      }
    }
    return options;
  }

  /** Stops the server with SIGTERM (its clean shutdown), forcibly after 60 s. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor();
    }
  }
}
