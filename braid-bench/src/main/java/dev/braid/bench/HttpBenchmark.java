package dev.braid.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * End-to-end benchmark of the Braid server over HTTP on loopback, against the goals of DESIGN.md.
 * Run it with {@code ./braid bench http} (or {@code java -cp ... dev.braid.bench.HttpBenchmark}).
 *
 * <p>It starts the real {@link BraidServer} in this JVM on an ephemeral loopback port with a fresh
 * temporary data directory and the spec of {@link HttpWorkload} (one stream, a {@code count} +
 * {@code sum} view by key), then loads it over HTTP: {@code --base-events} events, a batch cycle (so
 * reads merge a Base on disk), then {@code --delta-events} more (so they merge a Delta too). It checks
 * that reads of sampled keys return the exact answers, and then measures:
 *
 * <ul>
 *   <li>{@code reads}: peak point reads per second with a closed-loop load ({@code --connections}
 *       keep-alive connections, uniform random keys);
 *   <li>{@code latency}: an open-loop constant-rate run at {@code --rate-fraction} of the median peak,
 *       latency measured from each request's due time (no coordinated omission);
 *   <li>{@code ingest}: NDJSON batches of {@code --ingest-batch} events posted by {@code --ingest-clients}
 *       concurrent clients ({@code os} durability), events per second;
 *   <li>{@code freshness}: one event posted, then its key read in a loop until the event shows; the time
 *       from the ingest response to the first read that shows it.
 * </ul>
 *
 * Each case runs one warm-up run ({@code --warmup-seconds}) and then {@code --runs} measured ones; figures are
 * medians over runs.
 * Client and server share the machine's CPUs, so on a 2-core machine the figures include the load
 * generator's own cost. {@code --client c} sends the point reads of {@code reads} and {@code latency}
 * with {@link NativeLoadGenerator} (a one-thread C program) instead of the Java client, to tell the
 * client's share of that cost from the server's.
 */
@Command(
    name = "braid bench http",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Benchmarks the Braid server over HTTP on loopback: peak point reads/s (closed loop), read "
        + "latency at a constant rate below the peak (open loop, no coordinated omission), NDJSON ingest events/s "
        + "and freshness (ingest ack to visible in a read), against Braid's goals.")
public final class HttpBenchmark implements Callable<Integer> {

  /** The cases, in the order they run and print. */
  enum Case { READS, LATENCY, INGEST, FRESHNESS }

  @Option(names = "--keys", paramLabel = "N", defaultValue = "100000",
      description = "Distinct keys of the view (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(names = "--base-events", paramLabel = "N", defaultValue = "1000000",
      description = "Events ingested before the batch cycle, so into the Base (default: ${DEFAULT-VALUE}).")
  long baseEvents;

  @Option(names = "--delta-events", paramLabel = "N", defaultValue = "200000",
      description = "Events ingested after the batch cycle, so into the Delta (default: ${DEFAULT-VALUE}).")
  long deltaEvents;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of the stream (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--connections", paramLabel = "N", defaultValue = "8",
      description = "Keep-alive connections of the read load, one client thread each (default: ${DEFAULT-VALUE}).")
  int connections;

  @Option(names = "--seconds", paramLabel = "S", defaultValue = "5",
      description = "Length of each read and ingest run in seconds (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "15",
      description = "Length of the warm-up run of each read and ingest case in seconds (default: ${DEFAULT-VALUE}).")
  double warmupSeconds;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3",
      description = "Measured runs per case, after one warm-up run (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--rate-fraction", paramLabel = "F", defaultValue = "0.7",
      description = "Rate of the latency runs as a fraction of the measured peak (default: ${DEFAULT-VALUE}).")
  double rateFraction;

  @Option(names = "--rate", paramLabel = "REQ/S",
      description = "Rate of the latency runs in requests/s (default: --rate-fraction of the measured peak).")
  Double rate;

  @Option(names = "--ingest-clients", paramLabel = "N", defaultValue = "4",
      description = "Concurrent ingest clients (default: ${DEFAULT-VALUE}).")
  int ingestClients;

  @Option(names = "--ingest-batch", paramLabel = "N", defaultValue = "1000",
      description = "Events per NDJSON request (default: ${DEFAULT-VALUE}).")
  int ingestBatch;

  @Option(names = "--freshness-samples", paramLabel = "N", defaultValue = "1000",
      description = "Events timed per freshness run (default: ${DEFAULT-VALUE}).")
  int freshnessSamples;

  @Option(names = "--wrk", paramLabel = "PATH", arity = "0..1", fallbackValue = "wrk",
      description = "Also measure peak reads with wrk (a C load generator: 1 thread, --connections connections) "
          + "as a cross-check of the Java client; PATH defaults to wrk on the PATH.")
  String wrk;

  /** Which program sends the point reads. */
  enum Client { JAVA, C }

  @Option(names = "--client", paramLabel = "java|c", defaultValue = "java",
      converter = ClientConverter.class,
      description = "What sends the point reads: java (this JVM's client) or c (braid-loadgen, a one-thread C "
          + "program compiled here with cc on first use: the same requests and measures at a fraction of the CPU, "
          + "and no JIT or GC of its own; default: ${DEFAULT-VALUE}).")
  Client client;

  /** {@code java} or {@code c}, in any case. */
  static final class ClientConverter implements CommandLine.ITypeConverter<Client> {
    @Override
    public Client convert(String value) {
      try {
        return Client.valueOf(value.strip().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException("expected java or c, got '" + value + "'");
      }
    }
  }

  @Option(names = "--cases", paramLabel = "CASE", split = ",",
      description = "Cases to run, comma-separated, from: reads, latency, ingest, freshness (default: all; "
          + "latency without reads needs --rate).")
  Set<String> cases;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary data directory (default: java.io.tmpdir).")
  Path dir;

  @Option(names = "--isolate", paramLabel = "SERVER_CPUS:CLIENT_CPUS", arity = "0..1", fallbackValue = "0:1",
      description = "Run the server in a JVM of its own pinned to SERVER_CPUS and this load generator on CLIENT_CPUS "
          + "(taskset -c lists; default 0:1), as with a client on another machine, instead of both in this JVM on "
          + "all CPUs. Linux only.")
  String isolate;

  @Option(names = "--selectors", paramLabel = "N", defaultValue = "0",
      description = "The server's HTTP selector threads, which answer point reads (its --selectors; default: "
          + "${DEFAULT-VALUE}, one per CPU of the server, at most 4).")
  int selectors;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
      description = "Seed of the key choices (default: ${DEFAULT-VALUE}).")
  long seed;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] NO_REJECTIONS = "\"rejected\":0".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] FOUND = "\"found\":true".getBytes(StandardCharsets.US_ASCII);

  @Spec
  CommandSpec commandSpec;

  private final PrintStream out;
  private final List<Row> rows = new ArrayList<>();
  private HttpWorkload workload;
  private InetSocketAddress address;
  /** CPU time of the client and the server so far (this process's alone unless --isolate). */
  private LongSupplier cpuNanos = HttpLoadGenerator::processCpuNanos;
  /** Events of the workload's sequence ingested so far: reads of key k must match [0, ingested). */
  private long ingested;
  private long freshKeys;
  /** {@code --client c}'s compiled program (in the benchmark's temporary directory), else null. */
  private Path nativeClient;

  public HttpBenchmark() {
    this(System.out);
  }

  HttpBenchmark(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new HttpBenchmark()).execute(args));
  }

  /** One printed line: a figure, its runs, the goal and the verdict. */
  record Row(String figure, String runs, String median, String goal, String verdict) {}

  /** The rows printed so far (for tests). */
  List<Row> rows() {
    return rows;
  }

  @Override
  public Integer call() throws Exception {
    validate();
    Set<Case> selected = selectedCases();
    workload = new HttpWorkload(keys);
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-http-");
    try {
      out.printf(Locale.ROOT, "Braid HTTP benchmark: %d CPUs, Java %s, load average %s, data in %s%n",
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), loadAverage(), root);
      String specText = HttpWorkload.spec(partitions);
      PipelineSpec spec = PipelineSpec.parse(specText, "http-bench.yaml");
      if (client == Client.C && (selected.contains(Case.READS) || selected.contains(Case.LATENCY))) {
        nativeClient = NativeLoadGenerator.compile(Files.createDirectories(root.resolve("client")));
        out.println("  point reads sent by braid-loadgen (C), compiled to " + nativeClient);
      }
      try (AutoCloseable server = startServer(spec, specText, root)) {
        load();
        boolean ok = true;
        double peak = 0;
        if (selected.contains(Case.READS)) {
          peak = measureReads();
          if (wrk != null) {
            measureReadsWithWrk();
          }
        }
        if (selected.contains(Case.LATENCY)) {
          measureLatency(rate != null ? rate : rateFraction * peak);
        }
        ok &= verifyReads(200);
        if (selected.contains(Case.INGEST)) {
          measureIngest();
        }
        if (selected.contains(Case.FRESHNESS)) {
          measureFreshness();
        }
        printTable();
        out.println("  load average at the end: " + loadAverage());
        return ok ? 0 : 1;
      }
    } finally {
      deleteRecursively(root);
    }
  }

  /**
   * Starts the server: in this JVM, or with {@code --isolate} in a JVM of its own on the given CPUs
   * ({@link IsolatedServer}); sets {@link #address} and {@link #cpuNanos}.
   */
  private AutoCloseable startServer(PipelineSpec spec, String specText, Path root) throws Exception {
    if (isolate == null) {
      BraidServer server = BraidServer.start(spec, root.resolve("data"),
          BraidServer.Config.defaults().withPort(0).withBind("127.0.0.1").withSelectors(selectors));
      try {
        server.awaitReady(120, TimeUnit.SECONDS);
      } catch (Exception e) {
        server.close();
        throw e;
      }
      address = new InetSocketAddress("127.0.0.1", server.port());
      out.printf(Locale.ROOT, "  server on %s, in this JVM, %d selector thread(s)%n", server.url(),
          BraidServer.Config.defaults().withSelectors(selectors).selectorThreads());
      return server;
    }
    IsolatedServer server = IsolatedServer.start(specText, root, isolatedCpus()[0], isolatedCpus()[1], selectors, out);
    address = server.address();
    cpuNanos = () -> HttpLoadGenerator.processCpuNanos() + server.cpuNanos();
    out.println("  server on http://127.0.0.1:" + address.getPort());
    return server;
  }

  /** The command line this command runs in (picocli's), so that usage errors go to its streams. */
  private CommandLine commandLine() {
    return commandSpec != null ? commandSpec.commandLine() : new CommandLine(this);
  }

  /** {@code --isolate}'s server and client CPU lists; validated by {@link #validate}. */
  private String[] isolatedCpus() {
    return isolate.split(":", -1);
  }

  private void validate() {
    if (isolate != null) {
      String[] cpus = isolatedCpus();
      if (cpus.length != 2 || !cpus[0].matches("[0-9][0-9,-]*") || !cpus[1].matches("[0-9][0-9,-]*")) {
        throw new CommandLine.ParameterException(commandLine(),
            "--isolate takes SERVER_CPUS:CLIENT_CPUS, CPU lists as taskset -c takes them (e.g. 0:1 or 0-1:2-3), got '"
                + isolate + "'");
      }
    }
    if (keys < 1 || baseEvents < 0 || deltaEvents < 0 || partitions < 1 || connections < 1 || !(seconds > 0)
        || !(warmupSeconds > 0)
        || runs < 1 || selectors < 0 || !(rateFraction > 0) || ingestClients < 1 || ingestBatch < 1 || freshnessSamples < 1
        || (rate != null && !(rate > 0))) {
      throw new CommandLine.ParameterException(commandLine(), "--keys, --partitions, --connections, --seconds,"
          + " --warmup-seconds, --runs, --rate-fraction, --rate, --ingest-clients, --ingest-batch and --freshness-samples must be"
          + " positive, --base-events, --delta-events and --selectors 0 or more");
    }
  }

  private Set<Case> selectedCases() {
    if (cases == null || cases.isEmpty()) {
      return EnumSet.allOf(Case.class);
    }
    Set<Case> s = EnumSet.noneOf(Case.class);
    for (String name : cases) {
      try {
        s.add(Case.valueOf(name.strip().toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(commandLine(),
            "unknown case '" + name + "': expected reads, latency, ingest or freshness");
      }
    }
    if (s.contains(Case.LATENCY) && !s.contains(Case.READS) && rate == null) {
      throw new CommandLine.ParameterException(commandLine(),
          "the latency case without the reads case needs --rate (the peak it takes a fraction of is not measured)");
    }
    return s;
  }

  // -------------------------------------------------------------------------------------------
  // Loading and checking

  /** Base events, a batch cycle, Delta events; then waits until reads show them all and checks them. */
  private void load() throws Exception {
    long t0 = System.nanoTime();
    ingestSequence(0, baseEvents);
    String built;
    try (HttpConnection c = new HttpConnection(address)) {
      int status = c.exchange(HttpConnection.post("/v1/views/" + HttpWorkload.VIEW + "/batch?wait=600",
          "application/json", new byte[0]));
      if (status != 200) {
        throw new IllegalStateException("the batch cycle answered " + status + ": " + c.body());
      }
      built = JSON.readTree(c.body()).path("built").asText();
    }
    ingestSequence(baseEvents, deltaEvents);
    awaitVisible();
    out.printf(Locale.ROOT, "  loaded %,d events into the Base (version %s) and %,d into the Delta, %,d keys, in %.1f s%n",
        baseEvents, built, deltaEvents, keys, (System.nanoTime() - t0) / 1e9);
    if (!verifyReads(200)) {
      throw new IllegalStateException("reads returned wrong answers after loading; see above");
    }
  }

  /** Ingests events {@code [from, from + n)} of the workload's sequence with the ingest clients. */
  private void ingestSequence(long from, long n) throws Exception {
    AtomicLong next = new AtomicLong(from);
    long end = from + n;
    runClients(ingestClients, conn -> {
      long first;
      while ((first = next.getAndAdd(ingestBatch)) < end) {
        int count = (int) Math.min(ingestBatch, end - first);
        byte[] request = HttpConnection.post(HttpWorkload.ingestPath(), "application/x-ndjson",
            workload.ndjson(first, count));
        int status = conn.exchange(request);
        if (status != 200 || !conn.bodyContains(NO_REJECTIONS)) {
          throw new IllegalStateException("ingest answered " + status + ": " + conn.body());
        }
      }
    });
    ingested = end;
  }

  /** Waits until the last key written has its final count (the speed layer has caught up). */
  private void awaitVisible() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try (HttpConnection c = new HttpConnection(address)) {
      for (int k : sampleKeys(8)) {
        while (true) {
          JsonNode r = read(c, k);
          if (r.path("values").path("n").asLong() == workload.expectedCount(k, ingested)) {
            break;
          }
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("key " + HttpWorkload.key(k) + " did not reach its count within 60 s: " + r);
          }
          Thread.sleep(2);
        }
      }
    }
  }

  /** Reads {@code samples} keys (the first and last among them) and compares them with the exact answers. */
  boolean verifyReads(int samples) throws IOException {
    int wrong = 0;
    try (HttpConnection c = new HttpConnection(address)) {
      for (int k : sampleKeys(samples)) {
        JsonNode r = read(c, k);
        long n = workload.expectedCount(k, ingested);
        long sum = workload.expectedSum(k, ingested);
        boolean right = r.path("key").asText().equals(HttpWorkload.key(k)) && r.path("found").asBoolean() == (n > 0)
            && r.path("values").path("n").asLong() == n && r.path("values").path("total").asLong() == sum
            && (baseEvents == 0 || r.path("asOf").path("version").asLong() > 0);
        if (!right) {
          if (wrong++ < 5) {
            out.printf(Locale.ROOT, "  WRONG: key %s: expected n=%d total=%d, read %s%n", HttpWorkload.key(k), n, sum, r);
          }
        }
      }
    }
    out.printf(Locale.ROOT, "  checked %d reads against the exact answers: %s%n", Math.min(samples, keys),
        wrong == 0 ? "all right" : wrong + " WRONG");
    return wrong == 0;
  }

  private int[] sampleKeys(int samples) {
    int n = Math.min(samples, keys);
    int[] ks = new int[n];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      ks[i] = i == 0 ? 0 : i == 1 ? keys - 1 : i == 2 ? (int) ((ingested - 1) % keys) : r.nextInt(keys);
    }
    return ks;
  }

  private static JsonNode read(HttpConnection c, int k) throws IOException {
    int status = c.exchange(HttpConnection.get(HttpWorkload.readPath(HttpWorkload.key(k))));
    if (status != 200) {
      throw new IllegalStateException("read of " + HttpWorkload.key(k) + " answered " + status + ": " + c.body());
    }
    return JSON.readTree(c.body());
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The read load of {@code --client}, its keys drawn with {@code seed}. */
  private ReadLoad readLoad(long seed) {
    if (client == Client.C) {
      String path = HttpWorkload.readPath(HttpWorkload.key(0));
      return new NativeLoadGenerator(nativeClient, nativeClient.getParent(), address,
          path.substring(0, path.length() - HttpWorkload.KEY_DIGITS), HttpWorkload.KEY_DIGITS, keys, connections, seed,
          cpuNanos);
    }
    return new HttpLoadGenerator(address, keys, connections, seed, cpuNanos);
  }

  private double measureReads() throws Exception {
    ReadLoad gen = readLoad(seed);
    List<HttpLoadGenerator.Result> results = new ArrayList<>();
    for (int i = 0; i <= runs; i++) {
      HttpLoadGenerator.Result r = gen.closedLoop(nanos(i == 0 ? warmupSeconds : seconds));
      progress("reads, closed loop", i, String.format(Locale.ROOT, "%,.0f req/s, service p50 %s p99 %s us, %.0f us CPU/request, %d errors",
          r.perSecond(), us(r.serviceTime(), 50), us(r.serviceTime(), 99), r.cpuMicrosPerRequest(), r.errors()));
      if (i > 0) {
        results.add(r);
      }
    }
    double peak = median(results, HttpLoadGenerator.Result::perSecond);
    long errors = results.stream().mapToLong(HttpLoadGenerator.Result::errors).sum();
    rows.add(new Row(String.format(Locale.ROOT, "point reads, closed loop, %d connections%s", connections, clientNote()),
        join(results, r -> String.format(Locale.ROOT, "%,.0f", r.perSecond())),
        String.format(Locale.ROOT, "%,.0f req/s (%.0f us CPU/req)", peak,
            median(results, HttpLoadGenerator.Result::cpuMicrosPerRequest)), ">= 40 k req/s",
        errors > 0 ? "INVALID (" + errors + " errors)" : peak >= 40_000 ? "meets"
            : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", 100 * peak / 40_000)));
    return peak;
  }

  /** The closed-loop peak again, with wrk as the client: tells how much the Java client costs. */
  private void measureReadsWithWrk() throws Exception {
    Path script = Files.createTempFile("braid-bench-http-", ".lua");
    try {
      Files.writeString(script, String.format(Locale.ROOT, """
          math.randomseed(%d)
          request = function()
            return wrk.format("GET", string.format("/v1/views/%s/keys/k%%0%dd", math.random(0, %d)))
          end
          """, seed, HttpWorkload.VIEW, HttpWorkload.KEY_DIGITS, keys - 1));
      List<Double> rates = new ArrayList<>();
      for (int i = 0; i <= runs; i++) {
        List<String> command = List.of(wrk, "-t1", "-c" + connections, "-d" + Math.max(1, Math.round(seconds)) + "s",
            "-s", script.toString(), "http://127.0.0.1:" + address.getPort());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
          throw new IllegalStateException("wrk failed: " + output);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Requests/sec:\\s+([0-9.]+)").matcher(output);
        if (!m.find() || output.contains("Non-2xx") || output.contains("Socket errors")) {
          throw new IllegalStateException("wrk reported errors or no rate: " + output);
        }
        double r = Double.parseDouble(m.group(1));
        progress("reads, wrk", i, String.format(Locale.ROOT, "%,.0f req/s", r));
        if (i > 0) {
          rates.add(r);
        }
      }
      double med = median(rates);
      rows.add(new Row(String.format(Locale.ROOT, "point reads, wrk -t1 -c%d (cross-check)", connections),
          String.join(" / ", rates.stream().map(r -> String.format(Locale.ROOT, "%,.0f", r)).toList()),
          String.format(Locale.ROOT, "%,.0f req/s", med), ">= 40 k req/s",
          med >= 40_000 ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", 100 * med / 40_000)));
    } finally {
      Files.deleteIfExists(script);
    }
  }

  private void measureLatency(double requestsPerSecond) throws Exception {
    ReadLoad gen = readLoad(seed + 1);
    List<HttpLoadGenerator.Result> results = new ArrayList<>();
    for (int i = 0; i <= runs; i++) {
      if (i == 0) {
        // An unreported first part of the warm-up: the JIT compiles the open loop's sender in full
        // (not only on stack) on its next call, so a warm-up of one call left a ~100 ms compile of
        // the load generator, on one of the two CPUs, inside the first measured run.
        gen.openLoop(nanos(Math.min(2, warmupSeconds / 2)), requestsPerSecond);
      }
      long steal0 = stolenMillis();
      HttpLoadGenerator.Result r = gen.openLoop(nanos(i == 0 ? warmupSeconds : seconds), requestsPerSecond);
      long stolen = stolenMillis() - steal0;
      progress("reads, open loop", i, String.format(Locale.ROOT,
          "%,.0f req/s of %,.0f, latency p50 %s p99 %s p99.9 %s max %s us (due to sent p99 %s us, %,d waits for a free "
              + "connection; sent to answered p99 %s us), %.0f us CPU/request, %d errors%s",
          r.perSecond(), requestsPerSecond, us(r.latency(), 50), us(r.latency(), 99), us(r.latency(), 99.9),
          us(r.latency(), 100), us(r.sendDelay(), 99), r.connectionWaits(), us(r.serviceTime(), 99),
          r.cpuMicrosPerRequest(), r.errors(),
          stolen < 0 ? "" : String.format(Locale.ROOT, ", CPU time stolen by the hypervisor %d ms", stolen)));
      if (i > 0) {
        results.add(r);
      }
    }
    double p99 = median(results, r -> r.latency().getValueAtPercentile(99));
    double achieved = median(results, HttpLoadGenerator.Result::perSecond);
    long errors = results.stream().mapToLong(HttpLoadGenerator.Result::errors).sum();
    rows.add(new Row(String.format(Locale.ROOT, "read latency at %,.0f req/s (open loop%s), p99", requestsPerSecond, clientNote()),
        join(results, r -> us(r.latency(), 99)) + " us",
        String.format(Locale.ROOT, "%s us (p50 %s, p99.9 %s)", fmtUs(p99),
            fmtUs(median(results, r -> r.latency().getValueAtPercentile(50))),
            fmtUs(median(results, r -> r.latency().getValueAtPercentile(99.9)))),
        "p99 <= 1 ms at 70% of 40 k",
        errors > 0 ? "INVALID (" + errors + " errors)"
            : achieved < 0.97 * requestsPerSecond ? String.format(Locale.ROOT, "INVALID (sent only %,.0f req/s)", achieved)
            : p99 <= 1e6 ? (requestsPerSecond >= 28_000 ? "meets" : "meets at this rate (below 28 k)")
            : String.format(Locale.ROOT, "MISSES (p99 %.2f ms)", p99 / 1e6)));
  }

  // -------------------------------------------------------------------------------------------
  // Ingest

  private void measureIngest() throws Exception {
    // Pre-built requests from the workload's key space, cycled; the values no longer match the
    // sequence afterwards, so reads are not checked again after this case.
    int distinct = 64;
    byte[][] requests = new byte[distinct][];
    for (int i = 0; i < distinct; i++) {
      requests[i] = HttpConnection.post(HttpWorkload.ingestPath(), "application/x-ndjson",
          workload.ndjson((long) i * ingestBatch, ingestBatch));
    }
    List<Double> rates = new ArrayList<>();
    for (int i = 0; i <= runs; i++) {
      AtomicLong events = new AtomicLong();
      AtomicLong batches = new AtomicLong();
      long duration = nanos(i == 0 ? warmupSeconds : seconds);
      Histogram ack = HttpLoadGenerator.newHistogram();
      long start = System.nanoTime();
      long end = start + duration;
      runClients(ingestClients, conn -> {
        Histogram h = HttpLoadGenerator.newHistogram();
        int next = (int) (Thread.currentThread().getId() % distinct);
        long t;
        while ((t = System.nanoTime()) < end) {
          int status = conn.exchange(requests[next]);
          if (status != 200 || !conn.bodyContains(NO_REJECTIONS)) {
            throw new IllegalStateException("ingest answered " + status + ": " + conn.body());
          }
          h.recordValue(System.nanoTime() - t);
          events.addAndGet(ingestBatch);
          batches.incrementAndGet();
          next = (next + 1) % distinct;
        }
        synchronized (ack) {
          ack.add(h);
        }
      });
      double secs = (System.nanoTime() - start) / 1e9;
      double r = events.get() / secs;
      progress("ingest", i, String.format(Locale.ROOT, "%,.0f events/s (%,d requests in %.2f s), request p50 %s p99 %s us",
          r, batches.get(), secs, us(ack, 50), us(ack, 99)));
      if (i > 0) {
        rates.add(r);
      }
    }
    double med = median(rates);
    rows.add(new Row(String.format(Locale.ROOT, "ingest NDJSON x %d, %d clients, os", ingestBatch, ingestClients),
        String.join(" / ", rates.stream().map(r -> String.format(Locale.ROOT, "%,.0f", r)).toList()),
        String.format(Locale.ROOT, "%,.0f events/s", med), ">= 300 k events/s",
        med >= 300_000 ? "meets" : String.format(Locale.ROOT, "MISSES (%.0f%% of goal)", 100 * med / 300_000)));
  }

  // -------------------------------------------------------------------------------------------
  // Freshness

  private void measureFreshness() throws Exception {
    List<Histogram> results = new ArrayList<>();
    try (HttpConnection c = new HttpConnection(address)) {
      for (int i = 0; i <= runs; i++) {
        Histogram h = HttpLoadGenerator.newHistogram();
        long polls = 0;
        for (int s = 0; s < freshnessSamples; s++) {
          String key = "f" + (freshKeys++);
          byte[] ingest = HttpConnection.post(HttpWorkload.ingestPath(), "application/x-ndjson",
              ("{\"k\":\"" + key + "\",\"v\":1}\n").getBytes(StandardCharsets.UTF_8));
          byte[] get = HttpConnection.get(HttpWorkload.readPath(key));
          int status = c.exchange(ingest);
          long acked = System.nanoTime();
          if (status != 200 || !c.bodyContains(NO_REJECTIONS)) {
            throw new IllegalStateException("ingest answered " + status + ": " + c.body());
          }
          while (true) {
            status = c.exchange(get);
            polls++;
            if (status != 200) {
              throw new IllegalStateException("read of " + key + " answered " + status + ": " + c.body());
            }
            if (c.bodyContains(FOUND)) {
              break;
            }
            if (System.nanoTime() - acked > TimeUnit.SECONDS.toNanos(30)) {
              throw new IllegalStateException("event of key " + key + " not visible 30 s after its ingest was acknowledged");
            }
          }
          h.recordValue(System.nanoTime() - acked);
        }
        progress("freshness", i, String.format(Locale.ROOT, "%d events, p50 %s p99 %s max %s us, %.1f reads per event",
            freshnessSamples, us(h, 50), us(h, 99), us(h, 100), (double) polls / freshnessSamples));
        if (i > 0) {
          results.add(h);
        }
      }
    }
    double p99 = median(results, h -> h.getValueAtPercentile(99));
    rows.add(new Row("freshness: ingest ack -> visible (os), p99",
        join(results, h -> us(h, 99)) + " us",
        String.format(Locale.ROOT, "%s us (p50 %s, max %s)", fmtUs(p99),
            fmtUs(median(results, h -> h.getValueAtPercentile(50))), fmtUs(median(results, h -> (double) h.getMaxValue()))),
        "p99 <= 10 ms",
        p99 <= 10e6 ? "meets" : String.format(Locale.ROOT, "MISSES (p99 %.1f ms)", p99 / 1e6)));
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  /** A client loop over one connection; may throw. */
  interface ClientLoop {
    void run(HttpConnection conn) throws Exception;
  }

  /** Runs {@code loop} on {@code n} threads, each with its own connection; rethrows the first failure. */
  private void runClients(int n, ClientLoop loop) throws InterruptedException {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(n);
    for (int t = 0; t < n; t++) {
      Thread thread = new Thread(() -> {
        try (HttpConnection c = new HttpConnection(address)) {
          loop.run(c);
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        } finally {
          done.countDown();
        }
      }, "http-client-" + t);
      thread.setDaemon(true);
      thread.start();
    }
    if (!done.await(10, TimeUnit.MINUTES)) {
      throw new IllegalStateException("clients still waiting for responses after 10 minutes");
    }
    if (failure.get() != null) {
      throw new IllegalStateException("a client failed: " + failure.get().getMessage(), failure.get());
    }
  }

  private void progress(String label, int i, String text) {
    out.printf(Locale.ROOT, "  %-20s %s: %s%n", label, i == 0 ? "warm-up" : "run " + i, text);
    out.flush();
  }

  private void printTable() {
    out.println();
    String fmt = "%-48s %-34s %-36s %-28s %s%n";
    out.printf(Locale.ROOT, fmt, "figure", "measured runs", "median", "goal (DESIGN.md)", "verdict");
    for (Row r : rows) {
      out.printf(Locale.ROOT, fmt, r.figure(), r.runs(), r.median(), r.goal(), r.verdict());
    }
    out.println();
    if (client == Client.C) {
      out.println("Point reads were sent by braid-loadgen, a one-thread C program (epoll, the same requests and "
          + "measures as the Java client); ingest and freshness by the Java client.");
    }
    out.println(isolate == null
        ? "Client and server run on the machine's CPUs together (the server in this JVM); each case ran 1 warm-up run first."
        : "The server ran in a JVM of its own on CPU " + isolatedCpus()[0] + ", the client on CPU "
            + isolatedCpus()[1] + "; each case ran 1 warm-up run first.");
    out.println("CPU/req: CPU time of the client and the server together per request during the runs.");
    out.flush();
  }

  /** What the read rows' figures say about the client: nothing for the Java client. */
  private String clientNote() {
    return client == Client.C ? ", C client" : "";
  }

  private static <T> double median(List<T> xs, ToDoubleFunction<T> f) {
    return median(xs.stream().map(x -> f.applyAsDouble(x)).toList());
  }

  private static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }

  private static <T> String join(List<T> xs, java.util.function.Function<T, String> f) {
    return String.join(" / ", xs.stream().map(f).toList());
  }

  private static String us(Histogram h, double percentile) {
    return fmtUs(percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile));
  }

  private static String fmtUs(double nanos) {
    return String.format(Locale.ROOT, "%,.0f", nanos / 1e3);
  }

  private static long nanos(double secs) {
    return (long) (secs * 1e9);
  }

  /**
   * CPU time the hypervisor gave to others while this VM's CPUs wanted to run, all CPUs together
   * ({@code steal} in {@code /proc/stat}, at 100 ticks per second), or -1 where it cannot be read.
   * A vCPU stopped for milliseconds stalls every request in flight on it, whatever the server does.
   */
  private static long stolenMillis() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      return f.length > 8 && f[0].equals("cpu") ? Long.parseLong(f[8]) * 10 : -1;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static void deleteRecursively(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("could not delete " + root + ": " + e.getMessage());
    }
  }
}
