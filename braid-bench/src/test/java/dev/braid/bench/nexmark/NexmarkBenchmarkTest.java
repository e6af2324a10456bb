package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code braid bench nexmark} through its entry point at a small size, so the harness
 * cannot rot: every query, Braid (speed, batch, http) and DuckDB, answers checked against the naive
 * reference; the forked child-JVM protocol; and that a wrong engine is caught and named.
 */
class NexmarkBenchmarkTest {

  /** A Braid engine that loses one row of every result: the harness must notice. */
  static final class LosesARow implements NexmarkEngine {
    @Override
    public List<String> modes() {
      return List.of("batch");
    }

    @Override
    public double distinctRse(String mode) {
      return BraidNexmarkViews.DISTINCT_RSE;
    }

    @Override
    public Report run(Task task, NexmarkResult.RowSink result) throws Exception {
      boolean[] first = {true};
      Report r = new BraidNexmark().run(new Task(task.query(), task.events(), task.config(), "batch", task.warmup(),
          task.runs(), task.parallelism(), task.workDir(), task.progress()), (key, longs, doubles) -> {
            if (!first[0]) {
              result.row(key, longs, doubles);
            }
            first[0] = false;
          });
      return r;
    }
  }

  @BeforeAll
  static void registerTheBrokenEngine() {
    if (!NexmarkEngines.has("loses-a-row")) {
      NexmarkEngines.register("loses-a-row", LosesARow::new);
    }
  }

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    int code;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      code = NexmarkBenchmark.execute(args);
    } finally {
      System.setOut(originalOut);
      System.setErr(originalErr);
    }
    Run r = new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    System.out.println(r.out);
    System.out.println(r.err);
    return r;
  }

  @Test
  void shouldHaveBraidAndDuckDbAgreeWithTheNaiveReferenceOnEveryQuery(@TempDir Path dir) throws Exception {
    Run r = run("--events", "100000", "--query", "q5,q7,q15,q16,q17", "--engines", "braid,duckdb", "--modes",
        "speed,batch", "--runs", "1", "--warmup", "0", "--no-fork", "--json", "--dir", dir.toString());
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode doc = new ObjectMapper().readTree(r.out());
    List<String> ran = new ArrayList<>();
    for (JsonNode result : doc.path("results")) {
      String what = result.path("query").asText() + " " + result.path("engine").asText() + " "
          + result.path("mode").asText();
      ran.add(what);
      assertThat(result.has("failure")).as(what + ": " + result.path("failure").asText()).isFalse();
      assertThat(result.path("agrees").asBoolean()).as(what).isTrue();
      assertThat(result.path("rows").asLong()).as(what).isPositive();
      assertThat(result.path("bidsPerSecond").asDouble()).as(what).isPositive();
    }
    assertThat(ran).hasSize(5 * 3).contains("q17 braid batch", "q17 duckdb batch", "q5 braid speed");
    assertThat(doc.path("differences")).isEmpty();
  }

  @Test
  void shouldIngestThroughHttpIntoARealServerAndAgree(@TempDir Path dir) {
    Run r = run("--events", "100000", "--query", "q15", "--engines", "braid", "--modes", "http", "--runs", "1",
        "--warmup", "0", "--no-fork", "--dir", dir.toString());
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).contains("braid http q15: 1 rows, agree with the naive reference")
        .containsPattern("q15 +braid +http +[0-9.]+ M/s");
  }

  @Test
  void shouldRunKafkaStreamsAgainstItsOwnBrokerAndCompareItWithBraid(@TempDir Path dir) {
    Run r = run("--events", "20000", "--query", "q7", "--engines", "braid,kstreams", "--modes", "speed,alos",
        "--runs", "1", "--warmup", "0", "--no-fork", "--dir", dir.toString());
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).contains("kstreams alos q7: 80 rows, agree with the naive reference")
        .containsPattern("kstreams: produced 18,400 bids to topic nexmark-bids \\(2 partitions\\)")
        .containsPattern("q7 +kstreams +alos +[0-9.]+ M/s .* speed [0-9.]+x");
    assertThat(r.out() + r.err()).as("the broker's formatter dump is not relayed").doesNotContain("Bootstrap metadata");
  }

  @Test
  void shouldRunEachEngineInAJvmOfItsOwnAndPrintOneTable(@TempDir Path dir) {
    Run r = run("--events", "20000", "--query", "q7", "--engines", "duckdb", "--runs", "2", "--warmup", "0",
        "--child-java-opts", "-Xmx256m", "--dir", dir.toString());
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).contains("duckdb batch q7: 80 rows, agree with the naive reference")
        // 18,400 bids take DuckDB a few ms, under the 10 ms step of the process CPU clock: no per-CPU figure.
        .containsPattern("q7 +duckdb +batch +[0-9.]+ M/s \\([0-9.]+-[0-9.]+\\) +- +[0-9]+ MiB")
        .contains("per CPU-second is '-' where the runs used under 0.5 s of CPU each");
    assertThat(r.err()).doesNotContain("Using incubator modules");
  }

  @Test
  void shouldGiveARatePerCpuSecondOnlyForRunsLongEnoughToTimeTheirCpu() {
    assertThat(new NexmarkEngine.Measurement(100_000_000L, 800_000_000L).bidsPerCpuSecond(4_000_000))
        .isEqualTo(5_000_000.0);
    assertThat(new NexmarkEngine.Measurement(100_000_000L, 500_000_000L).bidsPerCpuSecond(1_000_000))
        .isEqualTo(2_000_000.0);
    assertThat(new NexmarkEngine.Measurement(5_000_000L, 10_000_000L).bidsPerCpuSecond(18_400)).isNaN();
    assertThat(new NexmarkEngine.Measurement(5_000_000L, 0).bidsPerCpuSecond(18_400)).isNaN();
  }

  @Test
  void shouldFailWithExitCodeTwoNamingTheEngineThatDiffers(@TempDir Path dir) {
    Run r = run("--events", "20000", "--query", "q17", "--engines", "duckdb,loses-a-row", "--runs", "1",
        "--warmup", "0", "--no-fork", "--dir", dir.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.out()).contains("ENGINES DISAGREE")
        .contains("loses-a-row batch q17: row a=000000000000,d=2026-01-01 is missing (naive has it)")
        .contains("is missing (duckdb has it)");
  }

  /** The differences come before the table; the engine that differs gets its speed, but no ratio or verdict. */
  @Test
  void shouldPrintTheDifferencesFirstAndNoRatioForTheEngineThatDiffers(@TempDir Path dir) {
    Run r = run("--events", "20000", "--query", "q17", "--engines", "braid,duckdb,loses-a-row", "--modes", "batch",
        "--runs", "1", "--warmup", "0", "--no-fork", "--dir", dir.toString());
    assertThat(r.code()).isEqualTo(2);
    String out = r.out();
    assertThat(out.indexOf("ENGINES DISAGREE")).as(out).isNotNegative().isLessThan(out.indexOf("Results ("));
    assertThat(out.indexOf("is missing (naive has it)")).isLessThan(out.indexOf("Results ("));
    assertThat(out).containsPattern("q17 +loses-a-row +batch +[0-9.]+ M/s .*not comparable: its answers differ")
        .doesNotContainPattern("q17 +loses-a-row +batch .*batch [0-9.]+x")
        .containsPattern("q17 +duckdb +batch +[0-9.]+ M/s .* batch [0-9.]+x")
        .containsPattern("goal: q17: braid batch >= 1x duckdb batch: .*(meets|misses)");
  }

  /** A goal whose two sides answered differently gets no verdict, whatever the speeds. */
  @Test
  void shouldJudgeNoGoalWhenBraidsAnswersDiffer() {
    NexmarkBenchmark.Outcome braid = outcome("braid", "batch", false);
    NexmarkBenchmark.Outcome duckdb = outcome("duckdb", "batch", true);
    assertThat(NexmarkBenchmark.goals(List.of(braid, duckdb)))
        .containsExactly("q17: braid batch >= 1x duckdb batch: not judged, the answers differ");
    braid.agrees = true;
    assertThat(NexmarkBenchmark.goals(List.of(braid, duckdb))).singleElement().asString()
        .startsWith("q17: braid batch >= 1x duckdb batch: 1.00x per CPU-second (meets)");
  }

  private static NexmarkBenchmark.Outcome outcome(String engine, String mode, boolean agrees) {
    NexmarkBenchmark.Outcome o = new NexmarkBenchmark.Outcome();
    o.engine = engine;
    o.mode = mode;
    o.query = NexmarkQuery.Q17;
    o.agrees = agrees;
    o.report = new NexmarkBenchmark.ChildReport(engine, mode, "q17", 1_000_000, 920_000, 0,
        List.of(new NexmarkEngine.Measurement(1_000_000_000L, 1_000_000_000L)), -1, Map.of(), 10);
    return o;
  }

  @Test
  void shouldRefuseUnknownQueriesEnginesAndModesListingTheValidOnes() {
    Run r = run("--query", "q99", "--engines", "braid,spark", "--modes", "turbo");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("unknown query 'q99'; valid: q5, q7, q15, q16, q17")
        .contains("unknown engine 'spark'; valid: braid, duckdb, flink, kstreams")
        .contains("unknown mode 'turbo' for engines [braid]; valid: speed, batch, http");
  }

  @Test
  void shouldKnowTheEnginesOfThisVersion() {
    assertThat(NexmarkEngines.names()).startsWith("naive", "braid", "duckdb", "flink").contains("kstreams");
    assertThat(NexmarkEngines.problem("flink")).isNull();
    assertThat(NexmarkEngines.problem("kstreams")).isNull();
    assertThat(Map.of("braid", NexmarkEngines.create("braid").modes(), "kstreams",
        NexmarkEngines.create("kstreams").modes())).containsEntry("braid", List.of("speed", "batch", "http"))
        .containsEntry("kstreams", List.of("alos", "eos"));
    assertThat(NexmarkEngines.create("flink").modes()).containsExactly("streaming", "batch");
  }
}
