package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
  }

  @Test
  void shouldListExactlyTheCommandsThatExistInHelp() {
    Run r = braid("--help");

    assertThat(r.exitCode()).isZero();
    assertThat(r.out()).contains("Usage: braid", "Commands:");
    // Every command listed runs, and every command that runs is listed: help never advertises
    // a command of a later issue.
    Set<String> registered = BraidCli.commandLine().getSubcommands().keySet();
    assertThat(listedCommands(r.out())).containsExactlyInAnyOrderElementsOf(registered);
    assertThat(registered).contains("demo", "bench");
  }

  @Test
  void shouldRunTheDemoAndPrintItsSummaryAsJson() {
    Path data = temp.resolve("data");

    Run r = braid("demo", "--events", "20000", "--data", data.toString(), "--json");

    assertThat(r.exitCode()).as("stderr: %s", r.err()).isZero();
    String json = r.out().strip();
    assertThat(json).startsWith("{").endsWith("}");
    assertThat(json).contains("\"stream\":\"sales\"", "\"partitions\":4", "\"durability\":\"os\"",
        "\"events\":20000", "\"kept\":true");
    long[] offsets = endOffsets(json);
    assertThat(offsets).hasSize(4);
    assertThat(Arrays.stream(offsets).sum()).isEqualTo(20000);
    assertThat(Arrays.stream(offsets).min().getAsLong()).isPositive();
    assertThat(json).containsPattern("\"scan\":\\{\"readers\":4,\"events\":20000,");
    assertThat(longField(json, "diskBytes")).isGreaterThan(20000L * 24);
    assertThat(Files.isDirectory(data.resolve("log").resolve("sales"))).isTrue();
  }

  @Test
  void shouldWriteTheSameEventsForTheSameSeed() {
    Run first = braid("demo", "--events", "5000", "--data", temp.resolve("a").toString(), "--json", "--no-progress");
    Run second = braid("demo", "--events", "5000", "--data", temp.resolve("b").toString(), "--json", "--no-progress");
    Run otherSeed = braid("demo", "--events", "5000", "--data", temp.resolve("c").toString(), "--json",
        "--no-progress", "--seed", "7");

    assertThat(endOffsets(first.out())).containsExactly(endOffsets(second.out()));
    assertThat(longField(first.out(), "recordBytes")).isEqualTo(longField(second.out(), "recordBytes"));
    assertThat(endOffsets(otherSeed.out())).isNotEqualTo(endOffsets(first.out()));
  }

  @Test
  void shouldPrintAHumanSummaryAndDeleteTheTemporaryDirectory() {
    Run r = braid("demo", "--events", "3000", "--no-progress");

    assertThat(r.exitCode()).as("stderr: %s", r.err()).isZero();
    assertThat(r.out()).contains("Wrote 3,000 retail sales events to stream 'sales' (4 partitions, durability os)",
        "end cut", "on disk", "Read back 3,000 events with 4 readers", "deleted on exit");
    Matcher m = Pattern.compile("Data: (\\S+)").matcher(r.out());
    assertThat(m.find()).isTrue();
    assertThat(Path.of(m.group(1))).doesNotExist();
  }

  @Test
  void shouldRejectAnUnknownOptionWithItsName() {
    Run r = braid("demo", "--bogus");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("Unknown option: '--bogus'", "Usage: braid demo");
    assertThat(r.out()).isEmpty();
  }

  @Test
  void shouldRejectANegativeEventCount() {
    Run r = braid("demo", "--events", "-5", "--no-progress");

    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.err()).contains("--events must be 0 or more, got -5");
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
    assertThat(r.err()).contains("Missing command: pick one of demo, ");
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

  private static long[] endOffsets(String json) {
    Matcher m = Pattern.compile("\"endOffsets\":\\[([0-9, ]*)]").matcher(json);
    assertThat(m.find()).as("endOffsets in %s", json).isTrue();
    return Arrays.stream(m.group(1).split(",")).map(String::strip).mapToLong(Long::parseLong).toArray();
  }

  private static long longField(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":(\\d+)").matcher(json);
    assertThat(m.find()).as("%s in %s", name, json).isTrue();
    return Long.parseLong(m.group(1));
  }
}
