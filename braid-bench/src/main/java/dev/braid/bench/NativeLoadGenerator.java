package dev.braid.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;

/**
 * The point-read load of {@link HttpLoadGenerator}, sent by {@code braid-loadgen}, a small C program
 * (the resource {@code braid-loadgen.c} next to this class) compiled here with the machine's C
 * compiler on first use. Same requests, same modes (closed loop for the peak, open loop at a constant
 * rate with latency from each request's due time), same {@link HttpLoadGenerator.Result}.
 *
 * <h2>Why</h2>
 * On a 2-vCPU machine the client's cost is the server's loss. The Java client shared the server's
 * JVM (or ran a second one) with its own JIT compiles and garbage; the C client is one thread with
 * one epoll set, no runtime, and its CPU time is what the kernel charges it. Where the two clients
 * measure the same latency, the client is not what the tail is made of.
 *
 * <p>The program writes every latency to files in {@code workDir}, which are read back into
 * HdrHistograms here (3 significant digits, as the Java client's), and prints a summary line whose
 * request count, error count, elapsed time, connection waits and own CPU time are taken from it.
 */
final class NativeLoadGenerator implements ReadLoad {

  private static final String SOURCE = "braid-loadgen.c";

  private final Path binary;
  private final Path workDir;
  private final InetSocketAddress address;
  private final String pathPrefix;
  private final int keyDigits;
  private final int keys;
  private final int connections;
  private final LongSupplier cpuNanos;
  private long seed;

  /**
   * @param binary the compiled program ({@link #compile})
   * @param pathPrefix the request path before the key's digits, e.g. {@code /v1/views/by_key/keys/k}
   * @param keyDigits the key's digits, zero-padded; keys are drawn from {@code [0, keys)}
   * @param cpuNanos the server's CPU time so far (the client's own is added from the program's report)
   */
  NativeLoadGenerator(Path binary, Path workDir, InetSocketAddress address, String pathPrefix, int keyDigits, int keys,
      int connections, long seed, LongSupplier cpuNanos) {
    if (connections < 1 || connections > 1024) {
      throw new IllegalArgumentException("connections must be in [1, 1024], got " + connections);
    }
    this.binary = binary;
    this.workDir = workDir;
    this.address = address;
    this.pathPrefix = pathPrefix;
    this.keyDigits = keyDigits;
    this.keys = keys;
    this.connections = connections;
    this.seed = seed;
    this.cpuNanos = cpuNanos;
  }

  /**
   * Compiles the program into {@code dir} with {@code cc} ({@code -O2}) and returns its path.
   *
   * @throws IllegalStateException naming what to install when there is no C compiler, or with the
   *     compiler's output when it fails
   */
  static Path compile(Path dir) throws IOException, InterruptedException {
    Path source = dir.resolve(SOURCE);
    try (InputStream in = NativeLoadGenerator.class.getResourceAsStream(SOURCE)) {
      if (in == null) {
        throw new IllegalStateException(SOURCE + " is missing from the benchmark's class path");
      }
      Files.copy(in, source, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Path binary = dir.resolve("braid-loadgen");
    Process p;
    try {
      p = new ProcessBuilder("cc", "-O2", "-o", binary.toString(), source.toString()).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new IllegalStateException("--client c compiles its load generator with cc, which could not be run ("
          + e.getMessage() + "); install a C compiler, e.g. apt-get install gcc", e);
    }
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("cc could not compile " + source + ":\n" + output);
    }
    return binary;
  }

  @Override
  public HttpLoadGenerator.Result closedLoop(long durationNanos) throws InterruptedException {
    return run("closed", durationNanos, 0);
  }

  @Override
  public HttpLoadGenerator.Result openLoop(long durationNanos, double requestsPerSecond) throws InterruptedException {
    if (!(requestsPerSecond > 0)) {
      throw new IllegalArgumentException("rate must be > 0, got " + requestsPerSecond);
    }
    return run("open", durationNanos, requestsPerSecond);
  }

  private HttpLoadGenerator.Result run(String mode, long durationNanos, double rate) throws InterruptedException {
    Path out = workDir.resolve("run-" + mode);
    List<String> command = List.of(binary.toString(), mode, Integer.toString(address.getPort()), pathPrefix,
        Integer.toString(keyDigits), Integer.toString(keys), Integer.toString(connections),
        String.format(Locale.ROOT, "%.3f", durationNanos / 1e9), String.format(Locale.ROOT, "%.3f", rate),
        Long.toString(seed++), out.toString());
    try {
      long cpu0 = cpuNanos.getAsLong();
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output;
      try (InputStream in = p.getInputStream()) {
        output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (!p.waitFor(TimeUnit.NANOSECONDS.toSeconds(durationNanos) + 60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("braid-loadgen did not finish within a minute after its run");
      }
      long serverCpu = cpuNanos.getAsLong() - cpu0;
      if (p.exitValue() != 0) {
        throw new IllegalStateException("braid-loadgen failed (exit " + p.exitValue() + "): " + output.strip());
      }
      Map<String, String> summary = summary(output);
      long requests = Long.parseLong(summary.get("requests"));
      long kept = Long.parseLong(summary.get("kept"));
      if (kept < requests) {
        throw new IllegalStateException("braid-loadgen kept " + kept + " of " + requests + " latencies: " + output.strip());
      }
      Histogram latency = histogram(Path.of(out + ".latency"));
      Histogram served = histogram(Path.of(out + ".served"));
      Histogram sent = histogram(Path.of(out + ".sent"));
      long elapsed = (long) (Double.parseDouble(summary.get("seconds")) * 1e9);
      long clientCpu = (long) (Double.parseDouble(summary.get("cpu_us_per_request")) * 1e3 * requests);
      return new HttpLoadGenerator.Result(requests, Long.parseLong(summary.get("errors")), elapsed, latency, served,
          serverCpu < 0 ? -1 : serverCpu + clientCpu, sent, Long.parseLong(summary.get("waits")));
    } catch (IOException e) {
      throw new UncheckedIOException("braid-loadgen could not be run: " + e.getMessage(), e);
    } finally {
      for (String suffix : new String[] {".latency", ".served", ".sent"}) {
        try {
          Files.deleteIfExists(Path.of(out + suffix));
        } catch (IOException ignored) {
          // a temporary file in the benchmark's own directory, deleted with it
        }
      }
    }
  }

  /** The key=value pairs of the program's last line. */
  static Map<String, String> summary(String output) {
    String[] lines = output.strip().split("\n");
    Map<String, String> m = new HashMap<>();
    for (String pair : lines[lines.length - 1].trim().split("\\s+")) {
      int eq = pair.indexOf('=');
      if (eq > 0) {
        m.put(pair.substring(0, eq), pair.substring(eq + 1));
      }
    }
    for (String key : new String[] {"requests", "errors", "seconds", "waits", "cpu_us_per_request", "kept"}) {
      if (!m.containsKey(key)) {
        throw new IllegalStateException("braid-loadgen printed no " + key + ": " + output.strip());
      }
    }
    return m;
  }

  /** The latencies of one file (little-endian int64 nanoseconds) in a histogram like the Java client's. */
  static Histogram histogram(Path file) throws IOException {
    Histogram h = HttpLoadGenerator.newHistogram();
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    long max = h.getHighestTrackableValue();
    while (b.remaining() >= Long.BYTES) {
      h.recordValue(Math.min(Math.max(b.getLong(), 0), max)); // a minute and more is a minute: a failed run anyway
    }
    return h;
  }
}
