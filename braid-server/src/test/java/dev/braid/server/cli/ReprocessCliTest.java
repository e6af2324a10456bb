package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.server.http.BraidServer;
import dev.braid.spec.PipelineSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code braid reprocess} and {@code braid activate} against a real server on a loopback port. */
class ReprocessCliTest {

  static final String SPEC = """
      streams:
        sales:
          partitions: 2
          key: product
          time: ts
          fields: {product: string, store: string, units: long, ts: timestamp}
      views:
        by_product:
          from: sales
          group_by: product
          mode: kappa
          aggregate: {n: count}
      """;

  @TempDir
  Path dir;

  BraidServer server;

  record Run(int exit, String out, String err) {}

  @BeforeEach
  void start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "t.yaml"), dir.resolve("data"),
        BraidServer.Config.defaults().withPort(0)).awaitReady(30, TimeUnit.SECONDS);
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      events.add(Map.of("product", "p" + (i % 7), "store", "s" + (i % 3), "units", (long) (i % 4), "ts", (long) i));
    }
    assertThat(server.braid().ingest("sales", events).accepted()).isEqualTo(3000);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  Run braid(String... args) {
    CommandLine cli = BraidCli.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  String url() {
    return "--url=" + server.url();
  }

  Path write(String name, String text) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, text);
    return f;
  }

  @Test
  void shouldReprocessFromAWholeSpecFileWithAProgressBarUntilCurrentThenRollBack() throws Exception {
    Path spec = write("new.yaml", SPEC.replace("group_by: product", "group_by: store"));
    Run r = braid("reprocess", "by_product", "--spec", spec.toString(), url(), "--poll-millis=20");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).containsPattern("view by_product: version 2 is current after [0-9.]+ s");
    assertThat(r.err()).contains("reprocess by_product v2");
    Run q = braid("query", "by_product", "s1", url(), "--json");
    JsonNode x = new ObjectMapper().readTree(q.out());
    assertThat(x.path("values").path("n").asLong()).isEqualTo(1000);
    assertThat(x.path("asOf").path("version").asLong()).isEqualTo(2);
    assertThat(braid("query", "by_product", "s1", url()).out())
        .contains("as of version 2 (kappa: no batch layer): the delta holds the log from its start up to [");

    Path later = write("later.yaml", "from: sales\ngroup_by: store\nmode: kappa\naggregate: {n: count}\n");
    Run bogus = braid("reprocess", "by_product", "--spec", later.toString(), "--from", "bogus", url());
    assertThat(bogus.exit()).isEqualTo(2);
    assertThat(bogus.err()).contains("--from must be start, end or a cut such as [120,98] (one offset per partition), "
        + "got 'bogus'").doesNotContain("query parameter").doesNotContain("[bogus]");
    Path binary = dir.resolve("binary.yaml");
    Files.write(binary, new byte[] {(byte) 0xFF, (byte) 0xFE, 'f', 0, 'r', 0}); // UTF-16, as some editors save
    Run notUtf8 = braid("reprocess", "by_product", "--spec", binary.toString(), url());
    assertThat(notUtf8.exit()).isEqualTo(2);
    assertThat(notUtf8.err()).contains(binary + " is not UTF-8 text: give the view's new definition as YAML or JSON "
        + "in UTF-8").doesNotContain("ingested");
    Run badVersion = braid("activate", "by_product", "abc", url());
    assertThat(badVersion.exit()).isEqualTo(2);
    assertThat(badVersion.err()).contains("'abc' is not a whole number").doesNotContain("long");
    assertThat(braid("discard", "by_product", "99999999999999999999", url()).err())
        .contains("'99999999999999999999' is out of range: it must be from " + Long.MIN_VALUE + " to "
            + Long.MAX_VALUE);
    Run fromEnd = braid("reprocess", "by_product", "--spec", later.toString(), "--from", "END", url(),
        "--poll-millis=20", "--no-progress");
    assertThat(fromEnd.exit()).as(fromEnd.err()).isZero();
    Run q3 = braid("query", "by_product", "s1", url());
    assertThat(q3.out()).as("the events before its replay start are not counted, and it says so")
        .contains("from cut [").contains("(its replay start: events before it are not counted)")
        .doesNotContain("base covers");
    assertThat(braid("versions", "by_product", url(), "--json").out()).contains("\"mode\" : \"kappa\"");
    assertThat(braid("activate", "by_product", "2", url()).exit()).isZero();

    Run v = braid("versions", "by_product", url());
    assertThat(v.out()).contains("backup").contains("current");
    Run a = braid("activate", "by_product", "1", url());
    assertThat(a.exit()).as(a.err()).isZero();
    assertThat(a.out()).contains("version 1 is current after");
    assertThat(server.braid().get("by_product", "p3").values().get("n")).isEqualTo(429L);
    Run again = braid("activate", "by_product", "1", url());
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(again.out()).contains("view by_product: version 1 was current already; nothing changed");
    assertThat(braid("activate", "by_product", "1", url(), "--json").out()).contains("\"alreadyCurrent\" : true");
  }

  /**
   * A rollback replays the log into the backup before it switches: {@code braid activate} follows it with a progress
   * bar while the server's answer is pending, then prints the summary; {@code --no-progress} and {@code --json} draw
   * none.
   */
  @Test
  void shouldFollowARollbackWithAProgressBar() throws Exception {
    List<Map<String, Object>> events = new ArrayList<>();
    for (int i = 0; i < 60_000; i++) {
      events.add(Map.of("product", "p" + (i % 7), "store", "s" + (i % 3), "units", (long) (i % 4), "ts", (long) i));
    }
    assertThat(server.braid().ingest("sales", events).accepted()).isEqualTo(60_000);
    // version 2 costs microseconds an event (the same count): its rollback replays 63,000 events for a while
    String slow = "units >= 0" + " && product.matches('^p[0-9]+$')".repeat(40);
    Path slowView = write("slow.yaml", "from: sales\ngroup_by: product\nmode: kappa\nfilter: \"" + slow
        + "\"\naggregate: {n: count}\n");
    assertThat(braid("reprocess", "by_product", "--spec", slowView.toString(), url(), "--poll-millis=20",
        "--no-progress").exit()).isZero();
    Path plain = write("plain.yaml", "from: sales\ngroup_by: product\nmode: kappa\naggregate: {n: count}\n");
    assertThat(braid("reprocess", "by_product", "--spec", plain.toString(), url(), "--poll-millis=20",
        "--no-progress").exit()).isZero();

    // a rollback cancelled part way: it stays a backup, and the activation that asked for it fails saying so
    java.util.concurrent.CompletableFuture<Run> cancelled = java.util.concurrent.CompletableFuture.supplyAsync(() ->
        braid("activate", "by_product", "2", url(), "--poll-millis=20", "--no-progress"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (server.braid().versions("by_product").stream().noneMatch(v -> v.id() == 2 && v.progress() != null
        && v.progress().eventsReplayed() > 0)) {
      assertThat(System.nanoTime()).as("the rollback replays").isLessThan(deadline);
      Thread.sleep(2);
    }
    Run d = braid("discard", "by_product", "2", url());
    assertThat(d.exit()).as(d.err()).isZero();
    assertThat(d.out()).contains("view by_product: the rollback to version 2 is cancelled; it is a backup again, and "
        + "version 3 stays current");
    Run stopped = cancelled.get(30, TimeUnit.SECONDS);
    assertThat(stopped.exit()).isNotZero();
    assertThat(stopped.err()).contains("cancelled by request");

    Run a = braid("activate", "by_product", "2", url(), "--poll-millis=20");
    assertThat(a.exit()).as(a.err()).isZero();
    assertThat(a.out()).containsPattern("view by_product: version 2 is current after [0-9.]+ s");
    assertThat(a.err()).as("a bar while the rollback replays").contains("activate by_product v2").contains("events");
    assertThat(server.braid().get("by_product", "p3").values().get("n")).isEqualTo(9000L);

    Run quiet = braid("activate", "by_product", "3", url(), "--poll-millis=20", "--no-progress");
    assertThat(quiet.exit()).as(quiet.err()).isZero();
    assertThat(quiet.err()).as("no bar").doesNotContain("activate by_product");
    Run json = braid("activate", "by_product", "2", url(), "--poll-millis=20", "--json");
    assertThat(json.exit()).as(json.err()).isZero();
    assertThat(json.err()).as("no bar").doesNotContain("activate by_product");
    assertThat(new ObjectMapper().readTree(json.out()).path("current").asLong()).as(json.out()).isEqualTo(2);

    Run refused = braid("activate", "by_product", "9", url(), "--poll-millis=20");
    assertThat(refused.exit()).isNotZero();
    assertThat(refused.err()).contains("version").contains("9");
  }

  @Test
  void shouldHoldWhenAskedAndActivateOnCommand() throws Exception {
    Path view = write("view.yaml", "from: sales\ngroup_by: store\nmode: kappa\naggregate: {n: count, u: sum(units)}\n");
    Run r = braid("reprocess", "by_product", "--spec", view.toString(), "--hold", url(), "--poll-millis=20",
        "--no-progress");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("version 2 has caught up and is held").contains("braid activate by_product 2");
    assertThat(r.err()).as("no progress bar").doesNotContain("reprocess by_product");
    Run v = braid("versions", "by_product", url());
    assertThat(v.out()).containsPattern("2 +held ").doesNotContain("building")
        .contains("caught up with 3,000 events (lag 0); `braid activate by_product 2` makes it current");
    Run st = braid("status", url());
    assertThat(st.out()).contains("view by_product: version 2 is held: caught up with 3,000 events (lag 0); "
        + "`braid activate by_product 2` makes it current");
    Run a = braid("activate", "by_product", "2", url());
    assertThat(a.exit()).as(a.err()).isZero();
    assertThat(server.braid().get("by_product", "s0").values()).containsEntry("n", 1000L);

    // a script learns which version it started and that it is held (the versions list says "building" for it)
    Run json = braid("reprocess", "by_product", "--spec", view.toString(), "--hold", url(), "--poll-millis=20",
        "--json");
    assertThat(json.exit()).as(json.err()).isZero();
    JsonNode o = new ObjectMapper().readTree(json.out());
    assertThat(o.path("version").asLong()).isEqualTo(3);
    assertThat(o.path("outcome").asText()).isEqualTo("held");
    assertThat(o.path("versions").findValuesAsText("state")).contains("building", "current");
  }

  /** A held version says how many events its definition fails on before it serves (README: "look before it serves"). */
  @Test
  void shouldSayWhatAHeldVersionLeavesOutBeforeItServes() throws Exception {
    Path view = write("view.yaml", "from: sales\ngroup_by: store\nmode: kappa\nfilter: 'units > 1 || 100 / (units - "
        + "units) > 0'\naggregate: {n: count}\n");
    Run r = braid("reprocess", "by_product", "--spec", view.toString(), "--hold", url(), "--poll-millis=20",
        "--no-progress");
    assertThat(r.exit()).as(r.err()).isZero();
    long failing = server.braid().status().views().get(0).skippedEvents(); // the current version: none
    assertThat(failing).isZero();
    JsonNode progress = new ObjectMapper().readTree(braid("versions", "by_product", url(), "--json").out()).path("versions")
        .findValues("progress").get(0);
    long skipped = progress.path("skippedEvents").asLong();
    assertThat(skipped).as("the events with units 0 and 1 fail on the division").isEqualTo(1_500);
    String says = String.format(java.util.Locale.ROOT, "it leaves out %,d events on which an expression or aggregation "
        + "failed", skipped);
    assertThat(r.out()).contains("version 2 has caught up and is held; " + says);
    assertThat(braid("versions", "by_product", url()).out()).contains(says);
    assertThat(braid("status", url()).out()).contains("view by_product: version 2 is held: caught up with 3,000 events "
        + "(lag 0); " + says);
  }

  @Test
  void shouldDiscardAHeldVersionOnCommand() throws Exception {
    Path view = write("view.yaml", "from: sales\ngroup_by: store\nmode: kappa\naggregate: {n: count}\n");
    Run r = braid("reprocess", "by_product", "--spec", view.toString(), "--hold", url(), "--poll-millis=20");
    assertThat(r.exit()).as(r.err()).isZero();
    Run d = braid("discard", "by_product", "2", url());
    assertThat(d.exit()).as(d.err()).isZero();
    assertThat(d.out()).contains("view by_product: version 2 discarded; version 1 stays current");
    Run again = braid("discard", "by_product", "1", url());
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err()).contains("only a reprocess that is held for activation can be discarded", "(HTTP 409)");
  }

  @Test
  void shouldFailWithTheServersDetailForBadDefinitionsAndFailedReplays() throws Exception {
    Path bad = write("bad.yaml", "from: sales\ngroup_by: store\nmode: kappa\naggregate: {n: median(units)}\n");
    Run r = braid("reprocess", "by_product", "--spec", bad.toString(), url());
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.err()).contains(bad + ": invalid definition of view 'by_product': aggregate.n").contains("HTTP 400");
    Path whole = write("whole.yaml", SPEC + "  other:\n    from: sales\n    group_by: store\n"
        + "    aggregate: {n: count\n");
    Run w = braid("reprocess", "by_product", "--spec", whole.toString(), url());
    assertThat(w.exit()).isEqualTo(1);
    assertThat(w.err()).as("a file that does not parse is named by line, not blamed on by_product")
        .contains(whole + ": the definition sent to reprocess view 'by_product' is not valid YAML or JSON at line ")
        .doesNotContain("invalid definition of view");
    Path empty = write("empty.yaml", "\n");
    Run e = braid("reprocess", "by_product", "--spec", empty.toString(), url());
    assertThat(e.exit()).isEqualTo(2);
    assertThat(e.err()).contains(empty + " is empty: give the view's new definition");

    Path failing = write("failing.yaml", "from: sales\ngroup_by: store\nmode: kappa\nfilter: \"6 / units > 1\"\n"
        + "aggregate: {n: count}\n");
    // a definition that fails on some events leaves them out, counted, as the spec file's would
    Run f = braid("reprocess", "by_product", "--spec", failing.toString(), url(), "--poll-millis=20");
    assertThat(f.exit()).as(f.out() + f.err()).isZero();
    assertThat(f.out()).contains("view by_product: version 2 is current")
        .containsPattern("it leaves out [0-9,]+ events? on which an expression or aggregation failed");

    Run missing = braid("reprocess", "by_product", "--spec", dir.resolve("none.yaml").toString(), url());
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).contains("no such file: " + dir.resolve("none.yaml"));
    Run noVersion = braid("activate", "by_product", "42", url());
    assertThat(noVersion.exit()).isEqualTo(1);
    assertThat(noVersion.err()).contains("unknown version").contains("HTTP 404");
  }
}
