package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of the Kappa replay benchmark at tiny sizes: a warm-up and two measured reprocess runs
 * under live ingest, each new version's answers equal to the naive recomputation (the benchmark
 * exits with 2 otherwise), and the table printed.
 */
class ReplayBenchmarkTest {

  @Test
  void shouldReprocessUnderLiveIngestAndServeAnswersEqualToTheNaiveRecomputation(@TempDir Path dir) {
    BenchRun run = BenchRun.of(ReplayBenchmark::new, "--events", "50000", "--keys", "3000", "--runs", "2",
        "--warmup", "1", "--ingest-rate", "5000", "--lead-in-ms", "200", "--samples", "300", "--dir",
        dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("Kappa replay into a new version").contains("freshness during the replay, p99")
        .contains("sample keys + probe keys equal, every run").doesNotContain("DIFFER");
  }

  /** With --rollback the measured runs activate the version that served before (version 1, then 2), checked alike. */
  @Test
  void shouldRollBackUnderLiveIngestAndServeAnswersEqualToTheNaiveRecomputation(@TempDir Path dir) {
    BenchRun run = BenchRun.of(ReplayBenchmark::new, "--events", "50000", "--keys", "3000", "--runs", "2",
        "--warmup", "1", "--rollback", "--ingest-rate", "5000", "--lead-in-ms", "200", "--samples", "300", "--dir",
        dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("benchmark: rollback of").contains("run 1: version 1 current after")
        .contains("run 2: version 2 current after").contains("sample keys + probe keys equal, every run")
        .doesNotContain("DIFFER");
  }

  @Test
  void shouldRefuseARollbackWithoutAWarmUpThatMakesTheBackup(@TempDir Path dir) {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.err; // the refusal's usage message goes there
    int code;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      code = new picocli.CommandLine(new ReplayBenchmark()).execute("--rollback", "--warmup", "0", "--dir",
          dir.toString());
    } finally {
      System.setErr(original);
    }
    assertThat(code).as(err.toString()).isEqualTo(2);
    assertThat(err.toString()).contains("--rollback needs --warmup of at least 1 (the first run reprocesses to make "
        + "the version rolled back to), was 0");
  }
}
