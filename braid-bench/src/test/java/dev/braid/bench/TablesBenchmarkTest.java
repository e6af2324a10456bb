package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of the tables benchmark at tiny sizes: every push loads every row, the sample answers
 * equal the naive model (exit code 2 otherwise), and the table of figures is printed.
 */
class TablesBenchmarkTest {

  @Test
  void shouldPushReadAndRestartAndAnswerAsTheNaiveModel(@TempDir Path dir) {
    BenchRun run = BenchRun.of(TablesBenchmark::new, "--rows", "20000", "--runs", "1", "--samples", "200",
        "--reads", "20000", "--writes", "20", "--restart-writes", "2000", "--dir", dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("bulk push from JSON lines").contains("in-process read")
        .contains("real-time write visible in a read").contains("restart from a Delta checkpoint").contains("restart without one")
        .contains("sample keys and as many absent keys equal");
  }
}
