package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NexmarkResultTest {

  private static NexmarkResult q15(String engine, double rse, long bidders, long bidsR3) {
    NexmarkResult.Collector c = new NexmarkResult.Collector(NexmarkQuery.Q15, engine, rse);
    c.row("d=2026-01-02", new long[] {5, 1, 2, 2, 3, 1, 1, 1, 2, 1, 1, 1}, new double[0]);
    c.row("d=2026-01-01", new long[] {1000, 300, 300, bidsR3, bidders, 1, 1, 1, 2, 1, 1, 1}, new double[0]);
    return c.result();
  }

  @Test
  void shouldAgreeWithinTheSketchBoundAndNameTheFieldThatDiffers() {
    NexmarkResult exact = q15("naive", 0, 800, 400);
    assertThat(NexmarkResult.compare(exact, q15("x", 0, 800, 400), "x").agree()).isTrue();
    // an exact engine must match exactly
    NexmarkResult.Comparison off = NexmarkResult.compare(exact, q15("x", 0, 801, 400), "x");
    assertThat(off.differences()).isEqualTo(1);
    assertThat(off.examples().get(0)).isEqualTo("x: row d=2026-01-01 field bidders is 801, naive has 800");
    // a sketch with rse 1.6 % may be off by floor(6 * 0.016 * 800) = 76 (one value: within the mean's bound too)
    assertThat(NexmarkResult.compare(exact, q15("b", 0.016, 876, 400), "b").agree()).isTrue();
    assertThat(NexmarkResult.compare(exact, q15("b", 0.016, 877, 400), "b").examples().get(0))
        .contains("field bidders is 877, naive has 800 (allowed difference 76)");
    // a small count must be exact: the bound rounds down (1 counted as 0 was let through)
    assertThat(NexmarkResult.compare(q15("naive", 0, 1, 400), q15("b", 0.016, 0, 400), "b").examples())
        .singleElement().asString().contains("field bidders is 0, naive has 1");
    // exact values stay exact whatever the sketch error
    assertThat(NexmarkResult.compare(exact, q15("b", 0.016, 800, 401), "b").agree()).isFalse();
  }

  /**
   * Distinct counts a few per cent off everywhere each pass their own bound, but not the mean-error
   * check; a correct sketch's scatter passes it (seeded, over many rows).
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(longs = {1, 2, 3, 4, 5})
  void shouldCatchDistinctCountsThatAreSystematicallyOff(long seed) {
    java.util.Random random = new java.util.Random(seed);
    double rse = 0.01625;
    int rows = 1 + random.nextInt(1000);
    NexmarkResult.Collector exact = new NexmarkResult.Collector(NexmarkQuery.Q16, "naive", 0);
    NexmarkResult.Collector sketch = new NexmarkResult.Collector(NexmarkQuery.Q16, "sketch", rse);
    NexmarkResult.Collector low = new NexmarkResult.Collector(NexmarkQuery.Q16, "low", rse);
    NexmarkResult.Collector oneColumn = new NexmarkResult.Collector(NexmarkQuery.Q16, "column", rse);
    for (int r = 0; r < rows; r++) {
      long[] truth = new long[12];
      long[] est = new long[12];
      long[] off = new long[12];
      long[] column = new long[12];
      for (int i = 0; i < 12; i++) {
        truth[i] = i < 4 ? random.nextInt(100_000) : 100 + random.nextInt(50_000);
        boolean distinct = i >= 4;
        // a correct sketch: normal error of rse; a wrong engine: 8 % low, with the same scatter
        double noise = distinct ? random.nextGaussian() * rse : 0;
        est[i] = Math.round(truth[i] * (1 + noise));
        off[i] = distinct ? Math.round(truth[i] * (0.92 + noise)) : truth[i];
        column[i] = i == 7 ? Math.round(truth[i] * (0.91 + noise)) : est[i]; // one column 9 % low, the rest right
      }
      String key = NexmarkQuery.channelDayKey("channel-" + r, "2026-01-01");
      exact.row(key, truth, new double[0]);
      sketch.row(key, est, new double[0]);
      low.row(key, off, new double[0]);
      oneColumn.row(key, column, new double[0]);
    }
    NexmarkResult.Comparison good = NexmarkResult.compare(exact.result(), sketch.result(), "sketch");
    assertThat(good.agree()).as("seed %d, %d rows: %s", seed, rows, good.examples()).isTrue();
    NexmarkResult.Comparison bad = NexmarkResult.compare(exact.result(), low.result(), "low");
    assertThat(bad.agree()).as("seed %d, %d rows", seed, rows).isFalse();
    assertThat(bad.examples()).as("seed %d", seed).anySatisfy(x -> assertThat(x).startsWith("low: distinct counts of ")
        .contains("lower than naive's on average over").contains("a systematic error"));
    // one column wrong among eight right ones: pooled, its error was an eighth as large
    NexmarkResult.Comparison col = NexmarkResult.compare(exact.result(), oneColumn.result(), "column");
    assertThat(col.agree()).as("seed %d, %d rows", seed, rows).isFalse();
    assertThat(col.examples()).as("seed %d", seed).anySatisfy(x -> assertThat(x)
        .startsWith("column: distinct counts of " + NexmarkQuery.Q16.longFields().get(7).name() + " are "));
  }

  @Test
  void shouldSortKeysComponentByComponent() {
    assertThat(NexmarkQuery.channelDayKey("channel-1", "2026-01-02"))
        .isLessThan(NexmarkQuery.channelDayKey("channel-10", "2026-01-01"));
    assertThat(NexmarkQuery.auctionWindowKey(9, 20_000)).isLessThan(NexmarkQuery.auctionWindowKey(10, 10_000));
    assertThat(NexmarkQuery.auctionDayKey(1, "2026-12-31")).isLessThan(NexmarkQuery.auctionDayKey(2, "2026-01-01"));
  }

  @Test
  void shouldReportMissingAndExtraRows(@TempDir Path dir) throws Exception {
    NexmarkResult.Collector c = new NexmarkResult.Collector(NexmarkQuery.Q7, "e", 0);
    c.row(NexmarkQuery.windowKey(10_000), new long[] {5}, new double[0]);
    c.row(NexmarkQuery.windowKey(30_000), new long[] {7}, new double[0]);
    NexmarkResult.Collector d = new NexmarkResult.Collector(NexmarkQuery.Q7, "naive", 0);
    d.row(NexmarkQuery.windowKey(10_000), new long[] {5}, new double[0]);
    d.row(NexmarkQuery.windowKey(20_000), new long[] {6}, new double[0]);
    NexmarkResult.Comparison cmp = NexmarkResult.compare(d.result(), c.result(), "e");
    assertThat(cmp.examples()).containsExactly("e: row w=0000000020000 is missing (naive has it)",
        "e: row w=0000000030000 is extra (naive has no such row)");
    // the same through files
    Path a = dir.resolve("a.ndjson");
    Path b = dir.resolve("b.ndjson");
    c.result().write(a);
    d.result().write(b);
    assertThat(NexmarkResult.compareFiles(b, a, "e", 10)).isEqualTo(cmp);
    assertThat(NexmarkResult.read(a).rows()).usingRecursiveFieldByFieldElementComparator()
        .isEqualTo(c.result().rows());
  }

  @Test
  void shouldRoundTripAveragesThroughTheFileExactly(@TempDir Path dir) throws Exception {
    NexmarkResult r = NaiveNexmark.compute(NexmarkQuery.Q17, new NexmarkGenerator(NexmarkConfig.defaults(5)), 5_000);
    Path f = dir.resolve("q17.ndjson");
    r.write(f);
    NexmarkResult back = NexmarkResult.read(f);
    assertThat(back.rows()).hasSize(r.rows().size());
    assertThat(NexmarkResult.compareFiles(f, f, "self", 5).agree()).isTrue();
    for (int i = 0; i < r.rows().size(); i++) {
      assertThat(back.rows().get(i).doubles()).containsExactly(r.rows().get(i).doubles());
    }
  }
}
