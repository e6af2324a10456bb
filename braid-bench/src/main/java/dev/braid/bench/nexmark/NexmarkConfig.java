package dev.braid.bench.nexmark;

/**
 * The knobs of the Nexmark auction model ({@link NexmarkGenerator}); every engine of a run is given
 * the same config and so generates the same events.
 *
 * @param seed the seed every random choice derives from
 * @param eventsPerSecond events per second of event time: event {@code i} happens at
 *     {@code baseTime + floor(i * 1000 / eventsPerSecond)} ms. The default,
 *     {@value #DEFAULT_EVENTS_PER_SECOND}, makes 10 M events span 4.6 days, so the per-day queries
 *     (Q15-Q17) see five days
 * @param baseTime event time of event 0, epoch millis (default 2026-01-01T00:00Z, a UTC midnight)
 * @param hotAuctionRatio a bid goes to the current "hot" auction with probability
 *     {@code 1 - 1/hotAuctionRatio} (default 2: half the bids)
 * @param hotBidderRatio a bid comes from the current "hot" bidder with probability
 *     {@code 1 - 1/hotBidderRatio} (default 4: three bids in four)
 * @param inFlightAuctions the other bids go to one of this many most recent auctions, uniformly
 * @param activePeople the other bidders are one of this many most recent persons, uniformly
 * @param tailChannels how many {@code channel-N} channels form the long tail behind the four hot ones
 *     (default 10,000, as the published generators)
 */
public record NexmarkConfig(long seed, long eventsPerSecond, long baseTime, int hotAuctionRatio, int hotBidderRatio,
    int inFlightAuctions, int activePeople, int tailChannels) {

  public static final long DEFAULT_EVENTS_PER_SECOND = 25;
  /** 2026-01-01T00:00:00Z. */
  public static final long DEFAULT_BASE_TIME = 1_767_225_600_000L;

  public NexmarkConfig {
    if (eventsPerSecond < 1 || eventsPerSecond > 1_000_000_000L) {
      throw new IllegalArgumentException("eventsPerSecond must be in [1, 1e9], was " + eventsPerSecond);
    }
    if (hotAuctionRatio < 1 || hotBidderRatio < 1) {
      throw new IllegalArgumentException("hot ratios must be at least 1, were " + hotAuctionRatio + " (auctions) and "
          + hotBidderRatio + " (bidders)");
    }
    if (inFlightAuctions < 1 || activePeople < 1) {
      throw new IllegalArgumentException("inFlightAuctions and activePeople must be at least 1, were "
          + inFlightAuctions + " and " + activePeople);
    }
    if (tailChannels < 0 || tailChannels > 1_000_000) {
      throw new IllegalArgumentException("tailChannels must be in [0, 1000000], was " + tailChannels);
    }
  }

  /** The model's defaults with {@code seed}. */
  public static NexmarkConfig defaults(long seed) {
    return new NexmarkConfig(seed, DEFAULT_EVENTS_PER_SECOND, DEFAULT_BASE_TIME, 2, 4, 100, 1000, 10_000);
  }

  public NexmarkConfig withEventsPerSecond(long rate) {
    return new NexmarkConfig(seed, rate, baseTime, hotAuctionRatio, hotBidderRatio, inFlightAuctions, activePeople,
        tailChannels);
  }

  public NexmarkConfig withSeed(long newSeed) {
    return new NexmarkConfig(newSeed, eventsPerSecond, baseTime, hotAuctionRatio, hotBidderRatio, inFlightAuctions,
        activePeople, tailChannels);
  }
}
