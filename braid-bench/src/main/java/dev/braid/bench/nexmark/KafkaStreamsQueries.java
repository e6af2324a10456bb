package dev.braid.bench.nexmark;

import dev.braid.bench.nexmark.KafkaBidDescriptor.Bid;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyWindowStore;
import org.apache.kafka.streams.state.WindowStore;
import org.apache.kafka.streams.state.WindowStoreIterator;

/**
 * The five queries written by hand with the Kafka Streams DSL, and how their answers are read back
 * out of the state stores (interactive queries) in {@link NexmarkQuery}'s key order.
 *
 * <h2>The topologies</h2>
 * The input is topic {@code topic}, keyed by auction, values {@link KafkaBidDescriptor.Bid}s, event
 * time from the value ({@link #BID_TIME}). Every query is a windowed aggregation into a RocksDB
 * window store; Kafka Streams aligns windows to the epoch, so a 1-day tumbling window is a UTC day:
 *
 * <table>
 *   <caption>One topology per query ("repartition" = a round trip through an internal topic)</caption>
 *   <tr><th>query</th><th>DSL</th><th>repartitions</th></tr>
 *   <tr><td>Q5</td><td>{@code groupByKey} (auction) . hopping 10 s / 2 s . {@code count}</td><td>0</td></tr>
 *   <tr><td>Q7</td><td>{@code map} to (one key, price) . {@code groupByKey} . tumbling 10 s .
 *       {@code reduce(max)}</td><td>1</td></tr>
 *   <tr><td>Q15</td><td>bids: {@code map} to (one key, range) . day . {@code aggregate} counts[4];
 *       bidders: {@code map} to (bidder, range) . day . {@code aggregate} a mask of the ranges bid in;
 *       auctions: {@code mapValues} to the range (key stays the auction) . day . mask</td><td>2</td></tr>
 *   <tr><td>Q16</td><td>as Q15 with the channel in every key: (channel), (channel, bidder), (channel,
 *       auction)</td><td>3</td></tr>
 *   <tr><td>Q17</td><td>{@code groupByKey} (auction) . day . {@code aggregate} bids, bids by range,
 *       min, max, sum</td><td>0</td></tr>
 * </table>
 *
 * <h2>Exact distinct counts</h2>
 * A distinct count is kept as Kafka Streams keeps sets: one store entry per (bidder or auction,
 * day), its value a 3-bit mask of the price ranges it bid in; the count of a day is the number of
 * entries of that day with the range's bit set, counted when the result is read. The store holds
 * every event's contribution as soon as the event is processed; keeping the counts live would take
 * a second {@code KTable.groupBy} stage, which sees the first stage's updates only when its cache is
 * flushed (every {@code commit.interval.ms}). A set as one aggregate value (a {@code Set} per day)
 * is no option: Kafka Streams' cache and stores hold serialized values, so every bid would
 * serialize the whole set.
 *
 * <h2>Windows stay open for the whole input</h2>
 * Every window's grace period is the event-time span of the input (and its store's retention the
 * window size plus that), so no bid is ever late and no window expires before it is read. The
 * benchmark asks for the final answer over a finite input; with Kafka Streams' default of no grace,
 * the bids that a repartition topic receives from two upstream tasks, interleaved out of event-time
 * order, would be dropped as late.
 */
final class KafkaStreamsQueries {

  /** The single key of Q7's and Q15's global groups. */
  static final long ALL = 0L;

  /** Event time of a bid: its value's {@code time}, not the record's timestamp. */
  static final TimestampExtractor BID_TIME = (record, partitionTime) -> {
    if (record.value() instanceof Bid bid) {
      return bid.time();
    }
    throw new IllegalArgumentException("the record at offset " + record.offset() + " of " + record.topic() + "-"
        + record.partition() + " holds no bid: " + record.value());
  };

  private static final double[] NONE = new double[0];
  private static final Duration DAY = Duration.ofMillis(NexmarkQuery.DAY_MILLIS);
  private static final Duration STORE_WAIT = Duration.ofSeconds(60);

  private KafkaStreamsQueries() {}

  // ---------------------------------------------------------------------------------------------
  // Topologies
  // ---------------------------------------------------------------------------------------------

  /** The store of {@code part} ({@code bids}, {@code bidders}, {@code auctions}, ...) of {@code query}. */
  static String storeName(NexmarkQuery query, String part) {
    return query.cliName() + "-" + part;
  }

  /**
   * The topology of {@code query} over {@code topic}, its windows open for {@code graceMillis}
   * after their end (see the class comment).
   */
  static Topology topology(NexmarkQuery query, String topic, long graceMillis) {
    Duration grace = Duration.ofMillis(graceMillis);
    StreamsBuilder builder = new StreamsBuilder();
    KStream<Long, Bid> bids = builder.stream(topic,
        Consumed.with(Serdes.Long(), KafkaBidDescriptor.SERDE).withTimestampExtractor(BID_TIME));
    TimeWindows days = TimeWindows.ofSizeAndGrace(DAY, grace);
    switch (query) {
      case Q5 -> bids.groupByKey(Grouped.with(Serdes.Long(), KafkaBidDescriptor.SERDE))
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(NexmarkQuery.Q5_SIZE_MILLIS), grace)
              .advanceBy(Duration.ofMillis(NexmarkQuery.Q5_EVERY_MILLIS)))
          .count(windowStore(storeName(query, "bids"), Serdes.Long(), Serdes.Long(), NexmarkQuery.Q5_SIZE_MILLIS,
              grace));
      case Q7 -> bids.map((auction, bid) -> KeyValue.pair(ALL, bid.price()))
          .groupByKey(Grouped.with(storeName(query, "prices"), Serdes.Long(), Serdes.Long()))
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(NexmarkQuery.Q7_SIZE_MILLIS), grace))
          .reduce(Math::max, windowStore(storeName(query, "max"), Serdes.Long(), Serdes.Long(),
              NexmarkQuery.Q7_SIZE_MILLIS, grace));
      case Q15 -> {
        bids.map((auction, bid) -> KeyValue.pair(ALL, NexmarkGenerator.rank(bid.price())))
            .groupByKey(Grouped.with(storeName(query, "bids"), Serdes.Long(), Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> new long[4], KafkaStreamsQueries::countRange,
                windowStore(storeName(query, "bids"), Serdes.Long(), longArraySerde(4), DAY.toMillis(), grace));
        bids.map((auction, bid) -> KeyValue.pair(bid.bidder(), NexmarkGenerator.rank(bid.price())))
            .groupByKey(Grouped.with(storeName(query, "bidders"), Serdes.Long(), Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> 0, KafkaStreamsQueries::markRange,
                windowStore(storeName(query, "bidders"), Serdes.Long(), Serdes.Integer(), DAY.toMillis(), grace));
        bids.mapValues(bid -> NexmarkGenerator.rank(bid.price()))
            .groupByKey(Grouped.with(Serdes.Long(), Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> 0, KafkaStreamsQueries::markRange,
                windowStore(storeName(query, "auctions"), Serdes.Long(), Serdes.Integer(), DAY.toMillis(), grace));
      }
      case Q16 -> {
        bids.map((auction, bid) -> KeyValue.pair(bid.channel(), NexmarkGenerator.rank(bid.price())))
            .groupByKey(Grouped.with(storeName(query, "bids"), Serdes.String(), Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> new long[4], KafkaStreamsQueries::countRange,
                windowStore(storeName(query, "bids"), Serdes.String(), longArraySerde(4), DAY.toMillis(), grace));
        bids.map((auction, bid) -> KeyValue.pair(new ChannelId(bid.channel(), bid.bidder()),
                NexmarkGenerator.rank(bid.price())))
            .groupByKey(Grouped.with(storeName(query, "bidders"), ChannelId.SERDE, Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> 0, KafkaStreamsQueries::markRange,
                windowStore(storeName(query, "bidders"), ChannelId.SERDE, Serdes.Integer(), DAY.toMillis(), grace));
        bids.map((auction, bid) -> KeyValue.pair(new ChannelId(bid.channel(), auction),
                NexmarkGenerator.rank(bid.price())))
            .groupByKey(Grouped.with(storeName(query, "auctions"), ChannelId.SERDE, Serdes.Integer()))
            .windowedBy(days)
            .aggregate(() -> 0, KafkaStreamsQueries::markRange,
                windowStore(storeName(query, "auctions"), ChannelId.SERDE, Serdes.Integer(), DAY.toMillis(), grace));
      }
      case Q17 -> bids.groupByKey(Grouped.with(Serdes.Long(), KafkaBidDescriptor.SERDE))
          .windowedBy(days)
          .aggregate(() -> new long[] {0, 0, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE, 0}, (auction, bid, s) -> {
            s[0]++;
            s[NexmarkGenerator.rank(bid.price())]++;
            s[4] = Math.min(s[4], bid.price());
            s[5] = Math.max(s[5], bid.price());
            s[6] += bid.price();
            return s;
          }, windowStore(storeName(query, "stats"), Serdes.Long(), longArraySerde(7), DAY.toMillis(), grace));
      default -> throw new IllegalArgumentException("no Kafka Streams topology for " + query);
    }
    return builder.build();
  }

  /** counts[0] all bids, counts[r] those of price range {@code r}. */
  private static long[] countRange(Object key, Integer range, long[] counts) {
    counts[0]++;
    counts[range]++;
    return counts;
  }

  /** Sets the bit of price range {@code range} in {@code mask}. */
  private static Integer markRange(Object key, Integer range, Integer mask) {
    return mask | (1 << range);
  }

  private static <K, V> Materialized<K, V, WindowStore<Bytes, byte[]>> windowStore(String name, Serde<K> keys,
      Serde<V> values, long sizeMillis, Duration grace) {
    return Materialized.<K, V, WindowStore<Bytes, byte[]>>as(name).withKeySerde(keys).withValueSerde(values)
        .withRetention(Duration.ofMillis(sizeMillis).plus(grace));
  }

  /** The internal repartition topics {@code topology} reads: each carries every bid once more. */
  static Set<String> repartitionTopics(Topology topology) {
    Set<String> topics = new HashSet<>();
    for (TopologyDescription.Subtopology s : topology.describe().subtopologies()) {
      for (TopologyDescription.Node n : s.nodes()) {
        if (n instanceof TopologyDescription.Source source && source.topicSet() != null) {
          source.topicSet().stream().filter(t -> t.endsWith("-repartition")).forEach(topics::add);
        }
      }
    }
    return topics;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading the answer
  // ---------------------------------------------------------------------------------------------

  /**
   * Gives {@code out} every row of {@code query} from the stores of the running {@code streams}, in
   * ascending key order. {@code auctions} bounds the auction ids (Q5, Q17 walk them in order, one
   * {@code fetch} each); {@code from} and {@code to} bound the window starts, epoch millis.
   */
  static void read(KafkaStreams streams, NexmarkQuery query, long auctions, long from, long to,
      NexmarkResult.RowSink out) {
    Instant t0 = Instant.ofEpochMilli(from);
    Instant t1 = Instant.ofEpochMilli(to);
    switch (query) {
      case Q5 -> {
        ReadOnlyWindowStore<Long, Long> counts = store(streams, storeName(query, "bids"));
        long[] v = new long[1];
        for (long a = 0; a < auctions; a++) {
          try (WindowStoreIterator<Long> it = counts.fetch(a, t0, t1)) {
            while (it.hasNext()) {
              KeyValue<Long, Long> w = it.next();
              v[0] = w.value;
              out.row(NexmarkQuery.auctionWindowKey(a, w.key), v, NONE);
            }
          }
        }
      }
      case Q7 -> {
        ReadOnlyWindowStore<Long, Long> max = store(streams, storeName(query, "max"));
        long[] v = new long[1];
        try (WindowStoreIterator<Long> it = max.fetch(ALL, t0, t1)) {
          while (it.hasNext()) {
            KeyValue<Long, Long> w = it.next();
            v[0] = w.value;
            out.row(NexmarkQuery.windowKey(w.key), v, NONE);
          }
        }
      }
      case Q15 -> readRankedCounts(streams, query, (Long all) -> null, (Long id) -> null, out);
      case Q16 -> readRankedCounts(streams, query, (String channel) -> channel, ChannelId::channel, out);
      case Q17 -> {
        ReadOnlyWindowStore<Long, long[]> stats = store(streams, storeName(query, "stats"));
        double[] avg = new double[1];
        for (long a = 0; a < auctions; a++) {
          try (WindowStoreIterator<long[]> it = stats.fetch(a, t0, t1)) {
            while (it.hasNext()) {
              KeyValue<Long, long[]> w = it.next();
              avg[0] = (double) w.value[6] / w.value[0];
              out.row(NexmarkQuery.auctionDayKey(a, NexmarkQuery.day(w.key)), w.value, avg);
            }
          }
        }
      }
      default -> throw new IllegalArgumentException("no Kafka Streams reader for " + query);
    }
  }

  /**
   * Q15 and Q16: the bid counts per (group, day) as stored, the distinct counts by counting the
   * (group, id, day) entries of the bidders and auctions stores. {@code channelOfBids} and
   * {@code channelOfIds} give the channel of a key (null in Q15).
   */
  private static <B, D> void readRankedCounts(KafkaStreams streams, NexmarkQuery query,
      Function<B, String> channelOfBids, Function<D, String> channelOfIds, NexmarkResult.RowSink out) {
    TreeMap<String, long[]> rows = new TreeMap<>();
    ReadOnlyWindowStore<B, long[]> bids = store(streams, storeName(query, "bids"));
    try (KeyValueIterator<Windowed<B>, long[]> it = bids.all()) {
      while (it.hasNext()) {
        KeyValue<Windowed<B>, long[]> e = it.next();
        long[] row = row(rows, query, channelOfBids.apply(e.key.key()), e.key.window().start());
        for (int i = 0; i < 4; i++) {
          row[i] += e.value[i];
        }
      }
    }
    String[] distinct = {"bidders", "auctions"};
    for (int d = 0; d < distinct.length; d++) {
      int at = 4 + 4 * d;
      ReadOnlyWindowStore<D, Integer> masks = store(streams, storeName(query, distinct[d]));
      try (KeyValueIterator<Windowed<D>, Integer> it = masks.all()) {
        while (it.hasNext()) {
          KeyValue<Windowed<D>, Integer> e = it.next();
          long[] row = row(rows, query, channelOfIds.apply(e.key.key()), e.key.window().start());
          row[at]++;
          for (int r = 1; r <= 3; r++) {
            row[at + r] += (e.value >>> r) & 1;
          }
        }
      }
    }
    rows.forEach((key, values) -> out.row(key, values, NONE));
  }

  private static long[] row(TreeMap<String, long[]> rows, NexmarkQuery query, String channel, long dayStart) {
    String day = NexmarkQuery.day(dayStart);
    String key = query == NexmarkQuery.Q15 ? NexmarkQuery.dayKey(day) : NexmarkQuery.channelDayKey(channel, day);
    return rows.computeIfAbsent(key, k -> new long[12]);
  }

  /** The window store {@code name} of the running {@code streams}, waiting out a rebalance. */
  private static <K, V> ReadOnlyWindowStore<K, V> store(KafkaStreams streams, String name) {
    long deadline = System.nanoTime() + STORE_WAIT.toNanos();
    while (true) {
      try {
        return streams.store(StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<K, V>windowStore()));
      } catch (InvalidStateStoreException e) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("store " + name + " was not queryable within " + STORE_WAIT.toSeconds()
              + " s (Kafka Streams state " + streams.state() + ")", e);
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while waiting for store " + name, ie);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Serdes of the keys and aggregates (written by hand: no Java serialization)
  // ---------------------------------------------------------------------------------------------

  /** Q16's key of a bidder or an auction in a channel. */
  record ChannelId(String channel, long id) {

    /** Layout: the channel's UTF-8 bytes, then {@code id}, 8 bytes big-endian. */
    static final Serde<ChannelId> SERDE = Serdes.serdeFrom(
        (Serializer<ChannelId>) (topic, k) -> {
          if (k == null) {
            return null;
          }
          byte[] channel = k.channel().getBytes(StandardCharsets.UTF_8);
          byte[] b = new byte[channel.length + 8];
          System.arraycopy(channel, 0, b, 0, channel.length);
          NexmarkEmitters.putLong(b, channel.length, k.id());
          return b;
        },
        (Deserializer<ChannelId>) (topic, b) -> {
          if (b == null) {
            return null;
          }
          if (b.length < 8) {
            throw new IllegalArgumentException("a (channel, id) key on " + topic + " has " + b.length
                + " bytes, fewer than the id's 8");
          }
          return new ChannelId(new String(b, 0, b.length - 8, StandardCharsets.UTF_8),
              KafkaBidDescriptor.getLong(b, b.length - 8));
        });
  }

  /** A serde of {@code long[length]}: {@code 8 * length} bytes, big-endian. */
  static Serde<long[]> longArraySerde(int length) {
    Serializer<long[]> serializer = (topic, values) -> {
      if (values == null) {
        return null;
      }
      byte[] b = new byte[8 * length];
      for (int i = 0; i < length; i++) {
        NexmarkEmitters.putLong(b, 8 * i, values[i]);
      }
      return b;
    };
    Deserializer<long[]> deserializer = (topic, b) -> {
      if (b == null) {
        return null;
      }
      if (b.length != 8 * length) {
        throw new IllegalArgumentException("an aggregate of " + length + " longs on " + topic + " has " + b.length
            + " bytes, not " + 8 * length);
      }
      long[] values = new long[length];
      for (int i = 0; i < length; i++) {
        values[i] = KafkaBidDescriptor.getLong(b, 8 * i);
      }
      return values;
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }
}
