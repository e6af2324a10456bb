package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Smoke test of the Flink peer through the engine contract, as the harness's child JVM drives it:
 * rows written through {@link NexmarkResult.FileWriter} (which refuses rows out of key order) and
 * compared with {@link NaiveNexmark}, in both modes.
 */
class FlinkNexmarkTest {

  /**
   * 30,000 events at one event per second from 18:00 UTC: 27,600 bids over two UTC days, so the
   * per-day windows close mid-run, and 27 source chunks, so the readers take several chunks each.
   */
  private static final long EVENTS = 30_000;
  private static final long SEED = 7;
  private static final NexmarkConfig CONFIG = new NexmarkConfig(SEED, 1,
      NexmarkConfig.DEFAULT_BASE_TIME - 6 * 3_600_000L, 2, 4, 100, 1000, 1000);

  private static NexmarkResult runFlink(NexmarkQuery query, String mode, Path dir, List<String> progress)
      throws Exception {
    FlinkNexmark flink = new FlinkNexmark();
    Path file = dir.resolve("result.ndjson");
    try (NexmarkResult.FileWriter out = new NexmarkResult.FileWriter(file, query, FlinkNexmark.NAME,
        flink.distinctRse(mode))) {
      NexmarkEngine.Report report = flink.run(new NexmarkEngine.Task(query, EVENTS, CONFIG, mode, 0, 1, 2,
          dir.resolve("work"), progress::add), out);
      assertThat(report.runs()).hasSize(1);
      assertThat(report.runs().get(0).elapsedNanos()).isPositive();
    }
    return NexmarkResult.read(file);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"q17, streaming", "q17, batch", "q5, streaming", "q5, batch", "q15, streaming", "q15, batch",
      "q7, streaming", "q7, batch"})
  void shouldAgreeWithTheNaiveReference(String queryName, String mode, @TempDir Path dir) throws Exception {
    NexmarkQuery query = NexmarkQuery.parse(queryName);
    List<String> progress = new ArrayList<>();
    NexmarkResult flink = runFlink(query, mode, dir, progress);
    NexmarkResult naive = NaiveNexmark.compute(query, new NexmarkGenerator(CONFIG), EVENTS);

    NexmarkResult.Comparison c = NexmarkResult.compare(naive, flink, "flink " + mode);
    assertThat(c.examples()).as("seed %d, %s %s", SEED, query, mode).isEmpty();
    assertThat(c.rowsCompared()).isEqualTo(naive.rows().size()).isPositive();
    // every window task has a sink writer of its own: two, but one for Q7's and Q15's windowAll
    assertThat(progress).hasSize(2);
    assertThat(progress.get(0)).startsWith("flink " + mode + " run 1: 27,600 bids");
    boolean keyless = query == NexmarkQuery.Q15 || query == NexmarkQuery.Q7;
    assertThat(progress.get(1)).endsWith("rows read back from " + (keyless ? "1 sink file"
        : "2 sink files") + " (not measured)");
    if (query == NexmarkQuery.Q15) {
      assertThat(flink.rows()).extracting(NexmarkResult.Row::key).containsExactly("d=2025-12-31", "d=2026-01-01");
    }
  }

  @Test
  void shouldRefuseAModeItDoesNotHaveNamingItsModes(@TempDir Path dir) {
    assertThatThrownBy(() -> new FlinkNexmark().run(new NexmarkEngine.Task(NexmarkQuery.Q17, EVENTS, CONFIG, "speed",
        0, 1, 2, dir, line -> {}), (key, longs, doubles) -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("flink has no mode 'speed'; it has [streaming, batch]");
  }

  @Test
  void shouldCutTheBidsIntoAscendingChunksCoveringEveryOrdinalOnce() {
    List<Long> bounds = new ArrayList<>();
    new FlinkNexmarkJob.BidSequence(100_000, 2).splitNumberRange(0, 99_999, 2).forEach(s -> {
      bounds.add(s.from());
      bounds.add(s.to());
    });
    // 100,000 / 64 readers' chunks = 1,562 bids a chunk
    assertThat(bounds).hasSize(2 * 65).startsWith(0L, 1_561L, 1_562L).endsWith(99_968L, 99_999L).isSorted();
  }
}
