package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of {@code braid bench eventtime} at a tiny size: it runs, closed windows move out of memory in
 * the flowing phase, and its answers match the naive loop.
 */
class EventTimeBenchmarkTest {

  @Test
  void shouldRunTheEventTimeSuiteAndAgreeWithTheNaiveLoop(@TempDir Path dir) {
    BenchRun run = BenchRun.of(EventTimeBenchmark::new, "--events", "30000", "--keys", "200", "--runs", "1",
        "--warmup", "0", "--events-per-second", "100", "--flow-slice", "6000", "--spill-groups", "50", "--dir",
        dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("answers agree with the naive loop").contains("result: speed layer")
        .contains("result: Delta memory while events flow").containsPattern("moved [0-9,]+ groups");
  }
}
