package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of the restart benchmark at tiny sizes: every restart restores the checkpoint (the
 * benchmark fails otherwise), every open answers as the naive recomputation does (exit code 2
 * otherwise), and the table is printed.
 */
class RestartBenchmarkTest {

  @Test
  void shouldRestartFromTheCheckpointAndAnswerAsTheNaiveRecomputation(@TempDir Path dir) {
    BenchRun run = BenchRun.of(RestartBenchmark::new, "--events", "400000", "--checkpoint-age", "10000",
        "--keys", "3000", "--runs", "2", "--samples", "300", "--checkpoint-every-ms", "1", "--dir", dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("restart to serving, without the replay").contains("(replayed 10,000 events")
        .contains("checkpoint overhead at the default interval").contains("300 sample keys equal after every open")
        .contains("restart with a reprocess held for activation").contains("with the held version's checkpoint: held "
            + "again after");
  }
}
