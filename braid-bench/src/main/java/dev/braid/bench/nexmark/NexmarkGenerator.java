package dev.braid.bench.nexmark;

import java.util.Arrays;

/**
 * The Nexmark auction model: people register, open auctions and bid on them. Written for Braid
 * from the model's published description; every engine of the benchmark generates the same events
 * from a {@link NexmarkConfig} inside its own JVM instead of receiving them.
 *
 * <h2>The event sequence</h2>
 * Events are numbered {@code 0 .. N-1}. Each block of {@value #BLOCK} consecutive events holds,
 * in this order, {@value #PERSONS_PER_BLOCK} person, {@value #AUCTIONS_PER_BLOCK} auctions and
 * {@value #BIDS_PER_BLOCK} bids (the model's 2 % / 6 % / 92 % mix):
 *
 * <pre>
 *   slot in block:  0        1   2   3     4 .. 49
 *   kind:           person   auction x 3   bid x 46
 *   id:             b        3b  3b+1 3b+2 -          (b = index / 50, the block)
 * </pre>
 *
 * So person and auction ids are sequential from 0 and are known from the index alone; a bid in
 * block {@code b} only refers to persons {@code <= b} and auctions {@code <= 3b+2}, which all come
 * before it.
 *
 * <h2>A bid</h2>
 * <ul>
 *   <li><b>auction</b>: with probability {@code 1 - 1/hotAuctionRatio} the hot auction, the latest
 *       auction id rounded down to a multiple of {@value #HOT_ROUNDING} (as the published generators
 *       do: the hot auction changes every 100 auctions); otherwise one of the {@code inFlightAuctions}
 *       latest auctions, uniformly.
 *   <li><b>bidder</b>: with probability {@code 1 - 1/hotBidderRatio} the hot bidder, the latest
 *       person id rounded down to a multiple of {@value #HOT_ROUNDING}, plus one (the published
 *       generators' formula, which names a person not created yet in one block of 100); otherwise
 *       one of the {@code activePeople} latest persons, uniformly.
 *   <li><b>price</b> in cents: {@code round(10^(6u) * 100)} for {@code u} uniform in {@code [0, 1)},
 *       log-uniform in {@code [100, 10^8)}; so each of the price ranges of Q15-Q17 ({@code < 10^4},
 *       {@code < 10^6}, above) holds a third of the bids.
 *   <li><b>channel</b>: half the bids uniformly over the four hot channels {@code Google},
 *       {@code Facebook}, {@code Baidu} and {@code Apple}, the other half uniformly over
 *       {@code channel-0 .. channel-(T-1)} for {@code T = tailChannels} (10,000 by default, as the
 *       published generators; with {@code T = 0} the four hot ones share everything).
 *   <li><b>event time</b> (every event): {@code baseTime + floor(i * 1000 / eventsPerSecond)} ms.
 * </ul>
 *
 * <h2>Randomness and cost</h2>
 * Every random choice of event {@code i} is a SplitMix64 hash of {@code (seed, i, choice)}, so an
 * event is a pure function of its index: engines can generate any range, in any order, in
 * parallel, and get the same events. Filling a {@link Bid} allocates nothing: channels are
 * interned strings from a table built once.
 *
 * <p>Person and auction details (names, cities, categories, reserve prices) are generated too, for
 * the file emitters, but no query reads them. The model's free-text {@code extra} and {@code url}
 * fields are left out: nothing here reads them and they would only add bytes to parse.
 *
 * <p>Threading: an instance is immutable and may be shared; the {@link Bid}, {@link Person} and
 * {@link Auction} holders it fills are not.
 */
public final class NexmarkGenerator {

  public static final int BLOCK = 50;
  public static final int PERSONS_PER_BLOCK = 1;
  public static final int AUCTIONS_PER_BLOCK = 3;
  public static final int BIDS_PER_BLOCK = 46;
  /** The first bid's slot in a block. */
  static final int FIRST_BID_SLOT = PERSONS_PER_BLOCK + AUCTIONS_PER_BLOCK;

  /** The hot channels, which take half the bids between them (the rest is the tail). */
  static final String[] NAMED_CHANNELS = {"Google", "Facebook", "Baidu", "Apple"};
  /** What the hot auction and bidder ids are rounded down to a multiple of (the model's constant). */
  static final int HOT_ROUNDING = 100;

  private static final String[] FIRST_NAMES = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie",
      "Sarah", "Deiter", "Walter"};
  private static final String[] LAST_NAMES = {"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith",
      "Jones", "Noris"};
  private static final String[] CITIES = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend",
      "Redmond", "Seattle", "Kent", "Cheyenne"};
  private static final String[] STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  private static final String[] ITEMS = {"lamp", "chair", "bicycle", "painting", "vase", "clock", "camera", "rug",
      "guitar", "watch"};
  private static final int CATEGORIES = 5;
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;

  /** What event {@code i} is. */
  public enum Kind { PERSON, AUCTION, BID }

  /** A bid, filled in place by {@link #bid}. */
  public static final class Bid {
    public long auction;
    public long bidder;
    /** Cents. */
    public long price;
    public String channel;
    /** Index into {@link #channels()}. */
    public int channelIndex;
    /** Event time, epoch millis. */
    public long dateTime;
    /** The event's index in the sequence. */
    public long index;
  }

  /** A person, filled in place by {@link #person}. */
  public static final class Person {
    public long id;
    public String firstName;
    public String lastName;
    public String city;
    public String state;
    public long dateTime;
  }

  /** An auction, filled in place by {@link #auction}. */
  public static final class Auction {
    public long id;
    public String item;
    /** Cents. */
    public long initialBid;
    /** Cents. */
    public long reserve;
    public long dateTime;
    public long expires;
    public long seller;
    public int category;
  }

  /** Receives bids; the {@link Bid} is reused for the next one, so copy what you keep. */
  @FunctionalInterface
  public interface BidSink {
    void bid(Bid bid);
  }

  /** Receives every kind of event; the holders are reused. */
  public interface EventSink {
    void person(Person p);

    void auction(Auction a);

    void bid(Bid b);
  }

  private final NexmarkConfig config;
  private final long base;
  private final String[] channels;

  public NexmarkGenerator(NexmarkConfig config) {
    this.config = config;
    this.base = mix(config.seed() ^ 0x6A09E667F3BCC909L);
    this.channels = new String[NAMED_CHANNELS.length + config.tailChannels()];
    System.arraycopy(NAMED_CHANNELS, 0, channels, 0, NAMED_CHANNELS.length);
    for (int t = 0; t < config.tailChannels(); t++) {
      channels[NAMED_CHANNELS.length + t] = ("channel-" + t).intern();
    }
  }

  public NexmarkConfig config() {
    return config;
  }

  /** Every channel a bid can have; {@link Bid#channelIndex} indexes it. */
  public String[] channels() {
    return channels.clone();
  }

  // ---------------------------------------------------------------------------------------------
  // The sequence
  // ---------------------------------------------------------------------------------------------

  public static Kind kind(long index) {
    int slot = (int) (index % BLOCK);
    return slot < PERSONS_PER_BLOCK ? Kind.PERSON : slot < FIRST_BID_SLOT ? Kind.AUCTION : Kind.BID;
  }

  /** How many of events {@code [0, events)} are bids. */
  public static long bidCount(long events) {
    long blocks = events / BLOCK;
    int rest = (int) (events % BLOCK);
    return blocks * BIDS_PER_BLOCK + Math.max(0, rest - FIRST_BID_SLOT);
  }

  /** How many of events {@code [0, events)} are persons (the next person id). */
  public static long personCount(long events) {
    return (events + BLOCK - 1) / BLOCK;
  }

  /** How many of events {@code [0, events)} are auctions (the next auction id). */
  public static long auctionCount(long events) {
    long blocks = events / BLOCK;
    int rest = (int) (events % BLOCK);
    return blocks * AUCTIONS_PER_BLOCK + Math.max(0, Math.min(rest, FIRST_BID_SLOT) - PERSONS_PER_BLOCK);
  }

  /** The event index of the {@code n}-th bid (from 0). */
  public static long bidIndex(long n) {
    return n / BIDS_PER_BLOCK * BLOCK + FIRST_BID_SLOT + n % BIDS_PER_BLOCK;
  }

  /** Event time of event {@code index}, epoch millis. */
  public long eventTime(long index) {
    return config.baseTime() + index * 1000L / config.eventsPerSecond(); // exact below 9.2e15 events
  }

  // ---------------------------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------------------------

  /**
   * Fills {@code out} with bid event {@code index}.
   *
   * @throws IllegalArgumentException when event {@code index} is not a bid
   */
  public void bid(long index, Bid out) {
    if (kind(index) != Kind.BID) {
      throw new IllegalArgumentException("event " + index + " is a " + kind(index) + ", not a bid");
    }
    long block = index / BLOCK;
    long lastAuction = block * AUCTIONS_PER_BLOCK + AUCTIONS_PER_BLOCK - 1;
    long lastPerson = block;
    long s = base + index * (GOLDEN << 3);
    long r1 = mix(s + GOLDEN);
    long r2 = mix(s + 2 * GOLDEN);
    long r3 = mix(s + 3 * GOLDEN);
    long r4 = mix(s + 4 * GOLDEN);
    long r5 = mix(s + 5 * GOLDEN);
    long r6 = mix(s + 6 * GOLDEN);

    if (below(r1, config.hotAuctionRatio()) > 0) {
      out.auction = lastAuction / HOT_ROUNDING * HOT_ROUNDING;
    } else {
      out.auction = lastAuction - below(r5, (int) Math.min(config.inFlightAuctions(), lastAuction + 1));
    }
    if (below(r2, config.hotBidderRatio()) > 0) {
      out.bidder = lastPerson / HOT_ROUNDING * HOT_ROUNDING + 1;
    } else {
      out.bidder = lastPerson - below(r6, (int) Math.min(config.activePeople(), lastPerson + 1));
    }
    out.price = Math.round(Math.pow(10.0, unit(r3) * 6.0) * 100.0);
    out.channelIndex = channel(unit(r4));
    out.channel = channels[out.channelIndex];
    out.dateTime = eventTime(index);
    out.index = index;
  }

  /** Fills {@code out} with person event {@code index}; throws when it is not a person. */
  public void person(long index, Person out) {
    if (kind(index) != Kind.PERSON) {
      throw new IllegalArgumentException("event " + index + " is a " + kind(index) + ", not a person");
    }
    long s = base + index * (GOLDEN << 3);
    out.id = index / BLOCK;
    out.firstName = FIRST_NAMES[below(mix(s + GOLDEN), FIRST_NAMES.length)];
    out.lastName = LAST_NAMES[below(mix(s + 2 * GOLDEN), LAST_NAMES.length)];
    out.city = CITIES[below(mix(s + 3 * GOLDEN), CITIES.length)];
    out.state = STATES[below(mix(s + 4 * GOLDEN), STATES.length)];
    out.dateTime = eventTime(index);
  }

  /** Fills {@code out} with auction event {@code index}; throws when it is not an auction. */
  public void auction(long index, Auction out) {
    if (kind(index) != Kind.AUCTION) {
      throw new IllegalArgumentException("event " + index + " is a " + kind(index) + ", not an auction");
    }
    long block = index / BLOCK;
    long s = base + index * (GOLDEN << 3);
    long r1 = mix(s + GOLDEN);
    long r2 = mix(s + 2 * GOLDEN);
    out.id = block * AUCTIONS_PER_BLOCK + (index % BLOCK) - PERSONS_PER_BLOCK;
    out.item = ITEMS[below(r1, ITEMS.length)];
    out.initialBid = Math.round(Math.pow(10.0, unit(r2) * 6.0) * 100.0);
    out.reserve = out.initialBid + Math.round(Math.pow(10.0, unit(mix(s + 3 * GOLDEN)) * 6.0) * 100.0);
    out.dateTime = eventTime(index);
    // open for as long as the model keeps it among the in-flight auctions
    long openEvents = (long) config.inFlightAuctions() * BLOCK / AUCTIONS_PER_BLOCK;
    out.expires = eventTime(index + openEvents);
    long hot = config.hotBidderRatio();
    out.seller = below(mix(s + 4 * GOLDEN), 2) == 0 ? block / hot * hot
        : block - below(mix(s + 5 * GOLDEN), (int) Math.min(config.activePeople(), block + 1));
    out.category = below(mix(s + 6 * GOLDEN), CATEGORIES);
  }

  /** Calls {@code sink} with every bid among events {@code [from, to)}, in index order. */
  public void forEachBid(long from, long to, BidSink sink) {
    Bid b = new Bid();
    for (long i = from; i < to; i++) {
      if (i % BLOCK < FIRST_BID_SLOT) {
        i = i - i % BLOCK + FIRST_BID_SLOT;
        if (i >= to) {
          break;
        }
      }
      bid(i, b);
      sink.bid(b);
    }
  }

  /** Calls {@code sink} with every event among {@code [from, to)}, in index order. */
  public void forEach(long from, long to, EventSink sink) {
    Person p = new Person();
    Auction a = new Auction();
    Bid b = new Bid();
    for (long i = from; i < to; i++) {
      switch (kind(i)) {
        case PERSON -> {
          person(i, p);
          sink.person(p);
        }
        case AUCTION -> {
          auction(i, a);
          sink.auction(a);
        }
        default -> {
          bid(i, b);
          sink.bid(b);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Price ranges (Q15-Q17)
  // ---------------------------------------------------------------------------------------------

  /** Upper bound (exclusive) of price range 1, cents. */
  public static final long RANK1_BELOW = 10_000;
  /** Upper bound (exclusive) of price range 2, cents. */
  public static final long RANK2_BELOW = 1_000_000;

  /** The price range of {@code price}: 1 below {@value #RANK1_BELOW}, 2 below {@value #RANK2_BELOW}, else 3. */
  public static int rank(long price) {
    return price < RANK1_BELOW ? 1 : price < RANK2_BELOW ? 2 : 3;
  }

  // ---------------------------------------------------------------------------------------------

  private int channel(double u) {
    int tail = channels.length - NAMED_CHANNELS.length;
    if (tail == 0 || u < 0.5) {
      int c = (int) ((tail == 0 ? u : u * 2) * NAMED_CHANNELS.length);
      return Math.min(c, NAMED_CHANNELS.length - 1);
    }
    int t = (int) ((u - 0.5) * 2 * tail);
    return NAMED_CHANNELS.length + Math.min(t, tail - 1);
  }

  /** Uniform in {@code [0, n)} from the high 32 bits of {@code r}. */
  private static int below(long r, int n) {
    return (int) (((r >>> 32) * n) >>> 32);
  }

  /** Uniform in {@code [0, 1)} from the high 53 bits of {@code r}. */
  private static double unit(long r) {
    return (r >>> 11) * 0x1.0p-53;
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  @Override
  public String toString() {
    return "NexmarkGenerator" + config + " channels " + Arrays.toString(NAMED_CHANNELS) + " + " + config.tailChannels();
  }
}
