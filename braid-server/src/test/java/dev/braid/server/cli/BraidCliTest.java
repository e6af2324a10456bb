package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Runs the {@code braid} command line in-process, as a user would type it, with captured output. */
class BraidCliTest {

  @TempDir
  Path temp;

  /** What one command run printed and returned. */
  record Run(int exitCode, String out, String err) {}

  private static Run braid(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = BraidCli.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void shouldPrintTheVersionOfTheBuild() {
    Run r = braid("--version");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).startsWith("braid " + VersionProvider.braidVersion());
    assertThat(VersionProvider.braidVersion()).matches("\\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
    assertThat(r.out()).contains("Java " + System.getProperty("java.version"));
    Run typed = braid("version"); // as people type it: the same, though help does not list it
    assertThat(typed.exitCode()).isZero();
    assertThat(typed.out()).isEqualTo(r.out());
    Run json = braid("version", "--json");
    assertThat(json.exitCode()).isZero();
    assertThat(json.out()).contains("\"braid\" : \"" + VersionProvider.braidVersion() + "\"")
        .contains("\"java\" : \"" + System.getProperty("java.version") + "\"");
  }

  @Test
  void shouldListExactlyTheCommandsThatExistInHelp() {
    Run r = braid("--help");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).contains("Usage: braid", "Commands:");
    // Every command listed runs, and every command that runs is listed: help never advertises
    // a command of a later issue.
    Set<String> registered = new java.util.TreeSet<>(BraidCli.commandLine().getSubcommands().keySet());
    assertThat(registered.remove("version")).as("`braid version`, hidden: --version is the listed way").isTrue();
    assertThat(listedCommands(r.out())).containsExactlyInAnyOrderElementsOf(registered);
    assertThat(registered).contains("demo", "bench");
  }

  @Test
  void shouldRefuseANegativeSelectorCountBeforeStartingAServer() {
    Run r = braid("server", "--spec", temp.resolve("never-read.yaml").toString(), "--data", temp.resolve("d").toString(),
        "--selectors", "-1");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--selectors must be 0 (one per CPU) or more, got -1");
    assertThat(temp.resolve("d")).doesNotExist();
  }

  @Test
  void shouldDefaultToOneSelectorThreadPerCpuUpToFour() {
    int cpus = Runtime.getRuntime().availableProcessors();
    assertThat(dev.braid.server.http.BraidServer.Config.defaults().selectorThreads()).isEqualTo(Math.min(4, cpus));
    assertThat(dev.braid.server.http.BraidServer.Config.defaults().withSelectors(3).selectorThreads()).isEqualTo(3);
  }

  @Test
  void shouldFormatEveryCommandsHelpWithoutPicocliWarnings() {
    // A bare '%' in a description (e.g. "1%") is a format error that picocli reports on stderr.
    java.io.PrintStream stderr = System.err;
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      for (String command : BraidCli.commandLine().getSubcommands().keySet()) {
        assertThat(braid(command, "--help").exitCode()).as(command + " --help").isZero();
      }
    } finally {
      System.setErr(stderr);
    }
    assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
  }

  @Test
  void shouldRunTheDemoTourAgainstARealServerAndPrintItAsJson() throws Exception {
    Path data = temp.resolve("data");

    Run r;
    int taken;
    // on a port that is taken, as the text says it uses another, the JSON says which was asked for
    try (java.net.ServerSocket occupied = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      taken = occupied.getLocalPort();
      r = braid("demo", "--port", Integer.toString(taken), "--history", "6000", "--rate", "400", "--duration", "2s",
          "--batch-every", "1s", "--data", data.toString(), "--json", "--no-progress");
    }

    assertThat(r.exitCode()).as("stderr: %s", r.err()).isZero();
    JsonNode tour = new ObjectMapper().readTree(r.out());
    assertThat(tour.path("url").asText()).startsWith("http://127.0.0.1:").doesNotEndWith(":" + taken);
    assertThat(tour.path("portTaken").asInt()).isEqualTo(taken);
    assertThat(tour.path("batch")).hasSize(4);
    JsonNode steps = tour.path("tour");
    assertThat(steps).hasSize(4);
    for (JsonNode step : steps) {
      assertThat(step.path("status").asInt()).as("%s", step).isEqualTo(200);
      assertThat(step.path("command").asText()).startsWith("curl -s ").contains(tour.path("url").asText());
    }
    JsonNode before = steps.get(0).path("answer");
    JsonNode after = steps.get(3).path("answer");
    assertThat(before.path("key").asText()).isEqualTo("WEB");
    assertThat(before.path("found").asBoolean()).isTrue();
    // The Base was built before the live feed started, so the first read has a Delta behind the cut.
    assertThat(DemoCommand.distance(before.path("asOf").path("cut"), before.path("asOf").path("position")))
        .isPositive();
    // The batch cycle swapped in a newer version whose cut is at or past the first read's position,
    // and the merged answer did not go back.
    assertThat(after.path("asOf").path("version").asLong()).isGreaterThan(before.path("asOf").path("version").asLong());
    assertThat(DemoCommand.distance(before.path("asOf").path("position"), after.path("asOf").path("cut")))
        .isNotNegative();
    assertThat(after.path("values").path("sales").asLong())
        .isGreaterThanOrEqualTo(before.path("values").path("sales").asLong());
    assertThat(steps.get(1).path("answer").path("values").path("n").asLong()).isPositive();
    // --data keeps the directory, with the log and the views in it
    assertThat(data.resolve("log").resolve("sales")).isDirectory();
    assertThat(data.resolve("views").resolve("sales_by_store")).isDirectory();
    assertThat(tour.path("eventsBefore").asLong()).isZero();
    assertThat(tour.path("historyLoaded").asLong()).isEqualTo(6000);

    // A second demo on the kept directory goes on from its log: the same day again would count it twice.
    Run again = braid("demo", "--port", "0", "--history", "6000", "--rate", "400", "--duration", "1s",
        "--batch-every", "0s", "--data", data.toString(), "--no-progress");
    assertThat(again.exitCode()).as("stderr: %s", again.err()).isZero();
    Matcher held = Pattern.compile("The log already holds ([0-9,]+) events from an earlier run").matcher(again.out());
    assertThat(held.find()).as("%s", again.out()).isTrue();
    assertThat(Long.parseLong(held.group(1).replace(",", ""))).isGreaterThan(6000);
    assertThat(again.out()).doesNotContain("Loading a day of history", "version 1 of each view")
        .contains("earlier batch cycles");
  }

  @Test
  void shouldNarrateTheTourAsTextAndDeleteTheTemporaryDirectory() {
    Run r = braid("demo", "--port", "0", "--history", "3000", "--rate", "300", "--duration", "1s",
        "--batch-every", "0s", "--no-progress");

    assertThat(r.exitCode()).as("stderr: %s", r.err()).isZero();
    assertThat(r.out()).contains("[1/3] Loading a day of history: 3,000 events", "[2/3] Batch layer",
        "[3/3] Speed layer", "$ curl -s http://127.0.0.1:", "/v1/views/sales_by_store/keys/WEB",
        "$ curl -s -X POST", "exact merge", "stopping:");
    Matcher m = Pattern.compile("data +(\\S+) \\(temporary").matcher(r.out());
    assertThat(m.find()).as("data directory line in %s", r.out()).isTrue();
    assertThat(Path.of(m.group(1))).doesNotExist();
  }

  @Test
  void shouldRejectAZeroDurationAndNegativeGeneratorCountsWithTheValue() {
    Run zero = braid("demo", "--duration", "0s", "--no-progress");
    assertThat(zero.exitCode()).isEqualTo(2);
    assertThat(zero.err()).contains("--duration must be positive (leave it out to run until Ctrl-C)");
    Run count = braid("generate", "sales", "--count", "-3");
    assertThat(count.exitCode()).isEqualTo(2);
    assertThat(count.err()).contains("--count must be 0 (no end) or more, got -3");
    Run rate = braid("generate", "sales", "--rate", "-1");
    assertThat(rate.err()).contains("--rate must be 0 (as fast as possible) or more, got -1");
  }

  @Test
  void shouldRejectANegativeHistory() {
    Run r = braid("demo", "--history", "-5", "--no-progress");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--history must be 0 or more events, got -5");
  }

  @Test
  void shouldGenerateTheSameSalesForTheSameSeedAndStart() throws Exception {
    Run first = braid("generate", "sales", "--count", "2500", "--start", "1700000000000");
    Run second = braid("generate", "sales", "--count", "2500", "--start", "1700000000000");
    Run otherSeed = braid("generate", "sales", "--count", "2500", "--start", "1700000000000", "--seed", "7");

    assertThat(first.exitCode()).as(first.err()).isZero();
    String[] lines = first.out().split("\\R");
    assertThat(lines).hasSize(2500);
    ObjectMapper mapper = new ObjectMapper();
    for (String line : lines) {
      JsonNode e = mapper.readTree(line);
      assertThat(e.path("sku").asText()).as(line).startsWith("sku-");
      assertThat(e.path("qty").asLong()).as(line).isPositive();
      assertThat(e.path("ts").asLong()).as(line).isGreaterThan(1_700_000_000_000L - 10_000);
    }
    assertThat(second.out()).isEqualTo(first.out());
    assertThat(otherSeed.out()).isNotEqualTo(first.out());
    Run iso = braid("generate", "sales", "--count", "2500", "--start", "2023-11-14T22:13:20Z");
    assertThat(iso.out()).as("the same instant as ISO-8601").isEqualTo(first.out());
    Run dated = braid("generate", "sales", "--count", "1", "--start", "2026-12-01");
    assertThat(mapper.readTree(dated.out()).path("ts").asLong()).as("a date is its midnight UTC")
        .isBetween(1_796_083_200_000L, 1_796_083_200_000L + 10_000);
    Run bad = braid("generate", "sales", "--count", "1", "--start", "yesterday");
    assertThat(bad.exitCode()).isEqualTo(2);
    assertThat(bad.err()).contains("--start must be epoch millis, ISO-8601 like 2026-11-22T10:00:00Z (or "
        + "2026-11-22T11:00:00+01:00) or a date (2026-11-22, its midnight UTC); got 'yesterday'");
    Run far = braid("generate", "sales", "--count", "1", "--start", "+300000000-01-01");
    assertThat(far.exitCode()).as("past epoch millis' range: a usage error, " + far.err()).isEqualTo(2);
    assertThat(far.err()).contains("'+300000000-01-01' is out of range: epoch milliseconds must fit in a long");
  }

  @Test
  void shouldGenerateTransactionsAtARateStampedNearTheWallClock() throws Exception {
    long before = System.currentTimeMillis();
    Run r = braid("generate", "transactions", "--count", "300", "--rate", "3000");

    assertThat(r.exitCode()).as(r.err()).isZero();
    String[] lines = r.out().split("\\R");
    assertThat(lines).hasSize(300);
    JsonNode last = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertThat(last.path("user_id").asText()).startsWith("u-");
    // 300 events at 3,000/s span about 100 ms of event time from the start
    assertThat(last.path("ts").asLong()).isBetween(before, System.currentTimeMillis() + 5_000);
  }

  /**
   * {@code braid generate sales --count 0 | head -2}: once the reader closes the pipe, the generator
   * stops, with status 0 (it used to write into the broken pipe for good). A real process, because
   * the broken pipe's error stays in its standard output stream.
   */
  @Test
  void shouldStopWhenTheReaderClosesThePipe() throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "-Xmx128m", dev.braid.server.cli.BraidCli.class.getName(), "generate",
        "sales", "--count", "0").redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try {
      java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
      assertThat(r.readLine()).startsWith("{\"store\":");
      assertThat(r.readLine()).startsWith("{\"store\":");
      p.getInputStream().close(); // as head does after its lines
      assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("the generator stopped").isTrue();
      assertThat(p.exitValue()).isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void shouldRejectAnUnknownGeneratorWithTheChoices() {
    Run r = braid("generate", "orders");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("orders", "sales", "transactions");
  }

  /** A script that passed --json gets its usage mistakes as one JSON object too, on standard error. */
  @Test
  void shouldReportAUsageMistakeAsJsonWhenAskedForJson() throws Exception {
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    Run unknown = braid("status", "--json", "--bogus");
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.out()).isEmpty();
    com.fasterxml.jackson.databind.JsonNode e = json.readTree(unknown.err());
    assertThat(e.path("error").asText()).isEqualTo("Unknown option: '--bogus'");
    assertThat(e.path("exitCode").asInt()).isEqualTo(2);

    Run missing = braid("query", "--json");
    assertThat(missing.exitCode()).isEqualTo(2);
    assertThat(json.readTree(missing.err()).path("error").asText()).startsWith("Missing required parameters");
  }

  @Test
  void shouldRejectAnUnknownOptionWithItsName() {
    Run r = braid("demo", "--bogus");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("braid: error: Unknown option: '--bogus'",
        "Run 'braid demo --help' for its usage and options.").doesNotContain("Usage:");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void shouldRejectAnUnknownCommand() {
    Run r = braid("frobnicate");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Unmatched argument at index 0: 'frobnicate'");
  }

  @Test
  void shouldAskForACommandWhenGivenNone() {
    Run r = braid();

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Missing command: pick one of demo, ").doesNotContainPattern("\\bversion\\b");
  }

  @Test
  void shouldSayEachCommandsOwnTimeoutDefaultInItsHelp() {
    // help is wrapped at the terminal's width: compare with the line breaks and indents as spaces
    java.util.function.Function<String, String> help = command -> braid(command, "--help").out().replaceAll("\\s+", " ");

    assertThat(help.apply("ingest")).contains("--timeout=SECONDS seconds to wait for the answer to each batch")
        .contains("(default: 60)").doesNotContain("default: 600");
    assertThat(help.apply("push")).contains("(default: 6 hours for the upload, 600 for the push's other requests)");
    for (String command : java.util.List.of("query", "status", "batch", "changes")) {
      assertThat(help.apply(command)).as(command).contains("--timeout=SECONDS seconds to wait for an answer of the server (default: 600)")
          .doesNotContain("ingest");
    }
  }

  @Test
  void shouldListTheBenchmarkSuites() {
    Run r = braid("bench", "--help");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).contains("Usage: braid bench", "log", "jmh");
  }

  @Test
  void shouldSayHowToBuildTheBenchmarksWhenTheyAreMissing() {
    Path empty = temp.resolve("no-bench");
    String previous = System.getProperty("braid.bench.dir");
    System.setProperty("braid.bench.dir", empty.toString());
    try {
      Run r = braid("bench", "log", "--events", "10");

      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.err()).contains("braid: error:", "classpath.txt is missing", "mvn -B -q -DskipTests package");
    } finally {
      if (previous == null) {
        System.clearProperty("braid.bench.dir");
      } else {
        System.setProperty("braid.bench.dir", previous);
      }
    }
  }

  /**
   * A server that closes the connection without an answer (it stopped while it worked): a command
   * that changes something says that whether it took effect is unknown and where to look, a read
   * asks whether the server still runs, neither prints a Java exception.
   */
  @Test
  void shouldSayAnUnansweredChangeMayHaveTakenEffect() throws Exception {
    try (java.net.ServerSocket server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Thread closer = new Thread(() -> {
        while (!server.isClosed()) {
          try (java.net.Socket s = server.accept()) {
            byte[] request = new byte[256];
            int n = s.getInputStream().read(request); // take the request, then hang up without an answer
            if (n > 0 && new String(request, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1)
                .startsWith("GET /v1/tables/prof/versions ")) { // but for a push's check that its table exists
              s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16"
                  + "\r\nConnection: close\r\n\r\n{\"versions\": []}").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
          } catch (java.io.IOException e) {
            return;
          }
        }
      });
      closer.setDaemon(true);
      closer.start();
      String url = "--url=http://127.0.0.1:" + server.getLocalPort();
      Run batch = braid("batch", "revenue", url);
      assertThat(batch.exitCode()).isEqualTo(1);
      assertThat(batch.err()).contains("POST /v1/views/revenue/batch to http://127.0.0.1:")
          .contains("got no answer (").contains("whether the request took effect is unknown; look with "
              + "`braid versions revenue` once the server is back")
          .doesNotContain("java.io.IOException");
      Path rows = java.nio.file.Files.writeString(temp.resolve("rows.jsonl"), "{\"id\": \"u1\"}\n");
      Run push = braid("push", "prof", rows.toString(), url);
      assertThat(push.exitCode()).isEqualTo(1);
      assertThat(push.err()).contains("POST /v1/tables/prof/pushes").contains("look with `braid versions prof --table` "
          + "once the server is back");
      assertThat(BraidClient.whereToLook("/v1/streams/sales/events")).isEqualTo("`braid status`");
      assertThat(BraidClient.whereToLook("/v1/views/old")).as("a drop").isEqualTo("`braid status`");
      Run drop = braid("drop", "old", url);
      assertThat(drop.err()).contains("DELETE /v1/views/old").contains("look with `braid status` once");
      Run row = braid("row", "prof", "u1", "u2", url);
      assertThat(row.err()).contains(":batchGet").contains("; is the server still running?");
      assertThat(BraidClient.whereToLook("/v1/views/a%20b/batch")).isEqualTo("`braid versions a b`");
      Run query = braid("query", "revenue", "k", url);
      assertThat(query.exitCode()).isEqualTo(1);
      assertThat(query.err()).contains("GET /v1/views/revenue/keys/k to http://127.0.0.1:")
          .contains("; is the server still running?");
    }
  }

  /** The names in the "Commands:" section of a usage message. */
  private static Set<String> listedCommands(String usage) {
    Set<String> names = new TreeSet<>();
    boolean inCommands = false;
    for (String line : usage.split("\\R")) {
      if (line.equals("Commands:")) {
        inCommands = true;
      } else if (inCommands && line.isBlank()) {
        break;
      } else if (inCommands && line.matches("  \\S.*")) {
        names.add(line.strip().split("\\s+")[0]);
      }
    }
    return names;
  }
}
