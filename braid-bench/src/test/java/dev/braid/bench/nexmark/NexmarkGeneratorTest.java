package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NexmarkGeneratorTest {

  private static final long EVENTS = 100_000;

  private static List<long[]> bids(NexmarkGenerator g, long from, long to) {
    List<long[]> out = new ArrayList<>();
    g.forEachBid(from, to, b -> out.add(new long[] {b.index, b.auction, b.bidder, b.price, b.channelIndex,
        b.dateTime}));
    return out;
  }

  @Test
  void shouldGenerateTheSameEventsFromTheSameSeedAndOthersFromAnother() {
    NexmarkGenerator a = new NexmarkGenerator(NexmarkConfig.defaults(7));
    NexmarkGenerator b = new NexmarkGenerator(NexmarkConfig.defaults(7));
    NexmarkGenerator c = new NexmarkGenerator(NexmarkConfig.defaults(8));
    List<long[]> first = bids(a, 0, 5_000);
    assertThat(bids(b, 0, 5_000)).usingRecursiveComparison().isEqualTo(first);
    assertThat(bids(c, 0, 5_000)).usingRecursiveComparison().isNotEqualTo(first);
    // an event is a function of its index: a range in the middle equals the same part of the whole
    List<long[]> middle = bids(a, 1_234, 3_210);
    List<long[]> slice = first.stream().filter(x -> x[0] >= 1_234 && x[0] < 3_210).toList();
    assertThat(middle).usingRecursiveComparison().isEqualTo(slice);
  }

  @Test
  void shouldHaveTheModelsTwoSixNinetyTwoMix() {
    Map<NexmarkGenerator.Kind, Long> kinds = new HashMap<>();
    for (long i = 0; i < EVENTS; i++) {
      kinds.merge(NexmarkGenerator.kind(i), 1L, Long::sum);
    }
    assertThat(kinds).containsEntry(NexmarkGenerator.Kind.PERSON, EVENTS * 2 / 100)
        .containsEntry(NexmarkGenerator.Kind.AUCTION, EVENTS * 6 / 100)
        .containsEntry(NexmarkGenerator.Kind.BID, EVENTS * 92 / 100);
    for (long n : new long[] {0, 1, 4, 5, 49, 50, 51, 54, 55, 99_999, 100_000, 100_017}) {
      long bids = 0;
      long persons = 0;
      long auctions = 0;
      for (long i = 0; i < n; i++) {
        switch (NexmarkGenerator.kind(i)) {
          case BID -> bids++;
          case PERSON -> persons++;
          default -> auctions++;
        }
      }
      assertThat(NexmarkGenerator.bidCount(n)).as("bids among %d events", n).isEqualTo(bids);
      assertThat(NexmarkGenerator.personCount(n)).as("persons among %d events", n).isEqualTo(persons);
      assertThat(NexmarkGenerator.auctionCount(n)).as("auctions among %d events", n).isEqualTo(auctions);
    }
    NexmarkGenerator g = new NexmarkGenerator(NexmarkConfig.defaults(1));
    long[] seen = {0};
    g.forEachBid(0, EVENTS, b -> {
      assertThat(NexmarkGenerator.bidIndex(seen[0])).isEqualTo(b.index);
      seen[0]++;
    });
    assertThat(seen[0]).isEqualTo(NexmarkGenerator.bidCount(EVENTS));
  }

  @Test
  void shouldOnlyBidOnAuctionsAndByPersonsThatExistAlready() {
    NexmarkGenerator g = new NexmarkGenerator(NexmarkConfig.defaults(3));
    NexmarkGenerator.Person p = new NexmarkGenerator.Person();
    NexmarkGenerator.Auction a = new NexmarkGenerator.Auction();
    long[] persons = {0};
    long[] auctions = {0};
    g.forEach(0, EVENTS, new NexmarkGenerator.EventSink() {
      @Override
      public void person(NexmarkGenerator.Person person) {
        assertThat(person.id).isEqualTo(persons[0]++);
      }

      @Override
      public void auction(NexmarkGenerator.Auction auction) {
        assertThat(auction.id).isEqualTo(auctions[0]++);
        assertThat(auction.seller).isBetween(0L, persons[0] - 1);
        assertThat(auction.reserve).isGreaterThan(auction.initialBid);
        assertThat(auction.expires).isGreaterThan(auction.dateTime);
      }

      @Override
      public void bid(NexmarkGenerator.Bid b) {
        assertThat(b.auction).as("auction of bid %d", b.index).isBetween(0L, auctions[0] - 1);
        assertThat(b.auction).as("auction of bid %d is in flight", b.index).isGreaterThan(auctions[0] - 1 - 100);
        // the model's hot bidder is the latest person rounded down to 100, plus one: in the first block of
        // each 100 it is the next person, not yet created
        assertThat(b.bidder).as("bidder of bid %d", b.index).isBetween(0L, persons[0]);
        assertThat(b.price).isBetween(100L, 100_000_000L);
      }
    });
    g.person(50, p);
    assertThat(p.id).isEqualTo(1);
    g.auction(53, a);
    assertThat(a.id).isEqualTo(5);
    assertThatThrownBy(() -> g.bid(50, new NexmarkGenerator.Bid())).hasMessageContaining("event 50 is a PERSON");
  }

  @Test
  void shouldSkewAuctionsBiddersPricesAndChannelsAsDocumented() {
    NexmarkGenerator g = new NexmarkGenerator(NexmarkConfig.defaults(11));
    long[] hotAuction = {0};
    long[] hotBidder = {0};
    long[] ranks = new long[4];
    Map<String, Long> channels = new HashMap<>();
    long[] n = {0};
    g.forEachBid(0, EVENTS, b -> {
      long block = b.index / NexmarkGenerator.BLOCK;
      if (b.auction == (block * 3 + 2) / 100 * 100) {
        hotAuction[0]++;
      }
      if (b.bidder == block / 100 * 100 + 1) {
        hotBidder[0]++;
      }
      ranks[NexmarkGenerator.rank(b.price)]++;
      channels.merge(b.channel, 1L, Long::sum);
      n[0]++;
    });
    // hot ones: 1/2 and 3/4 of bids, plus the uniform draws that happen to hit them
    assertThat((double) hotAuction[0] / n[0]).isBetween(0.49, 0.53);
    assertThat((double) hotBidder[0] / n[0]).isBetween(0.74, 0.77);
    for (int r = 1; r <= 3; r++) {
      assertThat((double) ranks[r] / n[0]).as("share of price range %d", r).isBetween(0.32, 0.35);
    }
    for (String hot : List.of("Google", "Facebook", "Baidu", "Apple")) {
      assertThat((double) channels.get(hot) / n[0]).as(hot).isBetween(0.12, 0.13); // half the bids among four
    }
    assertThat(channels.keySet().stream().filter(c -> c.startsWith("channel-")).count())
        .as("the tail: half the bids over 10,000 channels").isGreaterThan(9_800);
  }

  @Test
  void shouldAdvanceEventTimeAtTheConfiguredRate() {
    NexmarkGenerator g = new NexmarkGenerator(NexmarkConfig.defaults(1));
    assertThat(g.eventTime(0)).isEqualTo(NexmarkConfig.DEFAULT_BASE_TIME);
    assertThat(g.eventTime(25)).isEqualTo(NexmarkConfig.DEFAULT_BASE_TIME + 1000);
    // 10 M events span between 4 and 5 days at the default rate
    long span = g.eventTime(10_000_000) - g.eventTime(0);
    assertThat(span).isBetween(4 * NexmarkQuery.DAY_MILLIS, 5 * NexmarkQuery.DAY_MILLIS);
    NexmarkGenerator fast = new NexmarkGenerator(NexmarkConfig.defaults(1).withEventsPerSecond(1000));
    assertThat(fast.eventTime(1500)).isEqualTo(NexmarkConfig.DEFAULT_BASE_TIME + 1500);
  }
}
