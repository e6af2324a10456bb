package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Smoke test of the Kappa replay benchmark at tiny sizes: a warm-up and two measured reprocess runs
 * under live ingest, each new version's answers equal to the naive recomputation (the benchmark
 * exits with 2 otherwise), and the table printed.
 */
class ReplayBenchmarkTest {

  @Test
  void shouldReprocessUnderLiveIngestAndServeAnswersEqualToTheNaiveRecomputation(@TempDir Path dir) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.out;
    int code;
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      code = new CommandLine(new ReplayBenchmark()).execute("--events", "50000", "--keys", "3000", "--runs", "2",
          "--warmup", "1", "--ingest-rate", "5000", "--lead-in-ms", "200", "--samples", "300", "--dir",
          dir.toString());
    } finally {
      System.setOut(original);
    }
    String out = buffer.toString(StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("Kappa replay into a new version").contains("freshness during the replay, p99")
        .contains("sample keys + probe keys equal, every run").doesNotContain("DIFFER");
  }
}
