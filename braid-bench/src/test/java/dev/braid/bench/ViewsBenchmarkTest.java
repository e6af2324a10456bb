package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of the views benchmark at tiny sizes: every engine runs (in this JVM) and their answers
 * for the sample keys agree with the naive loop, so the benchmark compares speeds of equal answers.
 */
class ViewsBenchmarkTest {

  @Test
  void shouldHaveBraidFlinkAndDuckDbAgreeOnEverySampleKey(@TempDir Path dir) {
    BenchRun run = BenchRun.of(ViewsBenchmark::new, "--events", "20000", "--keys", "2000", "--runs", "1",
        "--warmup", "0", "--reads", "2000", "--extra-events", "500", "--samples", "200", "--no-fork",
        "--dir", dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("answers agree on all sample keys")
        .contains("speed layer vs Flink keyed reduce").contains("DuckDB");
  }

  @Test
  void shouldMatchTheNaiveAnswerComputedAnotherWay() {
    int keys = 50;
    long events = 5000;
    Map<String, long[]> direct = new HashMap<>();
    for (long i = 0; i < events; i++) {
      long[] t = direct.computeIfAbsent(ViewsEvents.keyString(ViewsEvents.keyIndex(i, keys)), k -> new long[2]);
      t[0]++;
      t[1] += ViewsEvents.amount(i);
    }
    Map<String, ViewsEvents.Totals> expected = ViewsEvents.expected(events, keys, ViewsEvents.sampleKeys(keys, keys));
    assertThat(expected).hasSize(keys);
    expected.forEach((key, totals) -> {
      long[] d = direct.getOrDefault(key, new long[2]);
      assertThat(new long[] {totals.count(), totals.sum()}).as(key).containsExactly(d[0], d[1]);
    });
  }
}
