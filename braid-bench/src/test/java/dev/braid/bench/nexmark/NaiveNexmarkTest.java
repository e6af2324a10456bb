package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class NaiveNexmarkTest {

  private static final long T0 = NexmarkConfig.DEFAULT_BASE_TIME; // 2026-01-01T00:00Z
  private static final long DAY = NexmarkQuery.DAY_MILLIS;

  private static NexmarkGenerator.Bid bid(long auction, long bidder, long price, String channel, long time) {
    NexmarkGenerator.Bid b = new NexmarkGenerator.Bid();
    b.auction = auction;
    b.bidder = bidder;
    b.price = price;
    b.channel = channel;
    b.dateTime = time;
    return b;
  }

  /** Six bids over two days, worked out by hand in the comments of each test. */
  private static final List<NexmarkGenerator.Bid> BIDS = List.of(
      bid(1, 10, 500, "Google", T0 + 1_000),              // day 1, rank 1
      bid(1, 11, 20_000, "Google", T0 + 9_999),           // day 1, rank 2
      bid(2, 10, 9_999, "Apple", T0 + 10_000),            // day 1, rank 1
      bid(1, 10, 1_000_000, "Google", T0 + 11_000),       // day 1, rank 3
      bid(2, 12, 10_000, "Google", T0 + DAY + 5_000),     // day 2, rank 2
      bid(1, 12, 300, "Apple", T0 + DAY + 6_000));        // day 2, rank 1

  private static NexmarkResult run(NexmarkQuery q) {
    return NaiveNexmark.compute(q, sink -> BIDS.forEach(sink::bid));
  }

  @Test
  void shouldCountBidsBiddersAndAuctionsPerDayByPriceRange() {
    NexmarkResult r = run(NexmarkQuery.Q15);
    assertThat(r.rows()).extracting(NexmarkResult.Row::key).containsExactly("d=2026-01-01", "d=2026-01-02");
    // day 1: 4 bids (ranks 1,2,1,3); bidders {10,11}; auctions {1,2}; rank 1: bidders {10}, auctions {1,2}
    assertThat(r.row("d=2026-01-01").longs()).containsExactly(4, 2, 1, 1, 2, 1, 1, 1, 2, 2, 1, 1);
    // day 2: 2 bids (ranks 2,1), bidder {12}, auctions {1,2}
    assertThat(r.row("d=2026-01-02").longs()).containsExactly(2, 1, 1, 0, 1, 1, 1, 0, 2, 1, 1, 0);
  }

  @Test
  void shouldSplitQ15ByChannel() {
    NexmarkResult r = run(NexmarkQuery.Q16);
    assertThat(r.rows()).extracting(NexmarkResult.Row::key).containsExactly("c=Apple,d=2026-01-01",
        "c=Apple,d=2026-01-02", "c=Google,d=2026-01-01", "c=Google,d=2026-01-02");
    assertThat(r.row("c=Google,d=2026-01-01").longs()).containsExactly(3, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1);
    assertThat(r.value("c=Apple,d=2026-01-02", "bids_r1")).isEqualTo(1);
  }

  @Test
  void shouldComputePriceStatisticsPerAuctionPerDay() {
    NexmarkResult r = run(NexmarkQuery.Q17);
    assertThat(r.rows()).extracting(NexmarkResult.Row::key).containsExactly("a=000000000001,d=2026-01-01",
        "a=000000000001,d=2026-01-02", "a=000000000002,d=2026-01-01", "a=000000000002,d=2026-01-02");
    // auction 1, day 1: prices 500, 20000, 1000000
    NexmarkResult.Row a1 = r.row("a=000000000001,d=2026-01-01");
    assertThat(a1.longs()).containsExactly(3, 1, 1, 1, 500, 1_000_000, 1_020_500);
    assertThat(a1.doubles()).containsExactly(1_020_500 / 3.0);
    assertThat(r.row("a=000000000002,d=2026-01-02").longs()).containsExactly(1, 0, 1, 0, 10_000, 10_000, 10_000);
  }

  @Test
  void shouldCountBidsInEveryHoppingWindowThatHoldsThem() {
    NexmarkResult r = run(NexmarkQuery.Q5);
    // auction 1's bids at +1 s, +9.999 s, +11 s: windows start every 2 s and last 10 s.
    // +1 s is in the windows starting -8, -6, -4, -2, 0 s; +9.999 s in 0..8 s; +11 s in 2..10 s
    assertThat(r.value(NexmarkQuery.auctionWindowKey(1, T0 - 8_000), "bids")).isEqualTo(1);
    assertThat(r.value(NexmarkQuery.auctionWindowKey(1, T0), "bids")).isEqualTo(2);
    assertThat(r.value(NexmarkQuery.auctionWindowKey(1, T0 + 2_000), "bids")).isEqualTo(2);
    assertThat(r.value(NexmarkQuery.auctionWindowKey(1, T0 + 10_000), "bids")).isEqualTo(1);
    assertThat(r.row(NexmarkQuery.auctionWindowKey(1, T0 + 12_000))).isNull();
    // 6 bids, each in 5 windows, 30 (auction, window) memberships
    assertThat(r.rows().stream().mapToLong(row -> row.longs()[0]).sum()).isEqualTo(30);
  }

  @Test
  void shouldTakeTheHighestPricePerTumblingWindow() {
    NexmarkResult r = run(NexmarkQuery.Q7);
    assertThat(r.rows()).extracting(NexmarkResult.Row::key).containsExactly(NexmarkQuery.windowKey(T0),
        NexmarkQuery.windowKey(T0 + 10_000), NexmarkQuery.windowKey(T0 + DAY));
    assertThat(r.value(NexmarkQuery.windowKey(T0), "max_price")).isEqualTo(20_000);
    assertThat(r.value(NexmarkQuery.windowKey(T0 + 10_000), "max_price")).isEqualTo(1_000_000);
    assertThat(r.value(NexmarkQuery.windowKey(T0 + DAY), "max_price")).isEqualTo(10_000);
  }
}
