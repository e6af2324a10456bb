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
}
