package dev.braid.bench.nexmark;

import dev.braid.Braid;
import dev.braid.ViewResult;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Nexmark queries as Braid views over the {@value NexmarkEmitters#STREAM} stream, and how
 * their merged results become {@link NexmarkResult} rows.
 *
 * <h2>Views</h2>
 * Braid's aggregations take a field, not a per-aggregation filter ({@code count(*) FILTER (WHERE
 * ...)} in SQL), and a stream has no derived fields. So a price-range split is a view of its own
 * with a filter, and a query is a few views over the same stream. The speed layer folds all of
 * them in one pass over the log (one thread per partition feeds every Delta); the batch layer
 * recomputes each view with its own pass, which is what {@code runBatch} per view costs today.
 *
 * <pre>
 *   Q15   q15, q15_r1, q15_r2, q15_r3   group_by 'all', window {tumbling: 1d}
 *                                       aggregate {bids: count, bidders: count_distinct(bidder),
 *                                                  auctions: count_distinct(auction)}
 *                                       filters (r1..r3): price &lt; 10000 / price &gt;= 10000 &amp;&amp; price &lt; 1000000 /
 *                                                  price &gt;= 1000000
 *   Q16   q16, q16_r1..3             as Q15, group_by channel
 *   Q17   q17                        group_by auction, window {tumbling: 1d}, aggregate {bids: count,
 *                                    min_price: min(price), max_price: max(price), sum_price: sum(price),
 *                                    avg_price: avg(price)}
 *         q17_r1..3                  the same grouping, filtered by range, aggregate {bids: count}
 *   Q5    q5                         group_by auction, window {hopping: {size: 10s, every: 2s}}, {bids: count}
 *   Q7    q7                         group_by 'all', window {tumbling: 10s}, {max_price: max(price)}
 * </pre>
 *
 * Distinct counts are {@code count_distinct} at its default lgK = 12: exact up to 64 values, then
 * an HLL estimate with a relative standard error of 1.04 / sqrt(4096) = 1.625 %.
 */
final class BraidNexmarkViews {

  /** The group key of the views with one group ({@code group_by: "'all'"}). */
  static final String ALL = "all";
  static final double DISTINCT_RSE = 1.04 / Math.sqrt(4096);
  private static final String[] RANK_FILTERS = {"price < " + NexmarkGenerator.RANK1_BELOW,
      "price >= " + NexmarkGenerator.RANK1_BELOW + " && price < " + NexmarkGenerator.RANK2_BELOW,
      "price >= " + NexmarkGenerator.RANK2_BELOW};

  private BraidNexmarkViews() {}

  /** The pipeline of {@code query}: the bids stream and the query's views. */
  static PipelineSpec pipeline(NexmarkQuery query, int partitions) {
    return pipeline(List.of(query), partitions);
  }

  /** The bids stream and the views of every query in {@code queries} (their names do not clash). */
  static PipelineSpec pipeline(List<NexmarkQuery> queries, int partitions) {
    PipelineSpec.Builder b = PipelineSpec.builder().stream(NexmarkEmitters.streamSpec(partitions));
    for (NexmarkQuery q : queries) {
      views(q).forEach(b::view);
    }
    return b.build();
  }

  static List<ViewSpec> views(NexmarkQuery query) {
    String name = query.cliName();
    List<ViewSpec> out = new ArrayList<>();
    switch (query) {
      case Q15, Q16 -> {
        String groupBy = query == NexmarkQuery.Q15 ? "'" + ALL + "'" : "channel";
        for (int r = 0; r <= 3; r++) {
          out.add(view(rankName(name, r), r, groupBy, WindowSpec.tumbling(Duration.ofDays(1)))
              .aggregate("bids", "count").aggregate("bidders", "count_distinct(bidder)")
              .aggregate("auctions", "count_distinct(auction)").build());
        }
      }
      case Q17 -> {
        out.add(view(name, 0, "auction", WindowSpec.tumbling(Duration.ofDays(1))).aggregate("bids", "count")
            .aggregate("min_price", "min(price)").aggregate("max_price", "max(price)")
            .aggregate("sum_price", "sum(price)").aggregate("avg_price", "avg(price)").build());
        for (int r = 1; r <= 3; r++) {
          out.add(view(rankName(name, r), r, "auction", WindowSpec.tumbling(Duration.ofDays(1)))
              .aggregate("bids", "count").build());
        }
      }
      case Q5 -> out.add(view(name, 0, "auction", WindowSpec.hopping(Duration.ofMillis(NexmarkQuery.Q5_SIZE_MILLIS),
          Duration.ofMillis(NexmarkQuery.Q5_EVERY_MILLIS))).aggregate("bids", "count").build());
      case Q7 -> out.add(view(name, 0, "'" + ALL + "'",
          WindowSpec.tumbling(Duration.ofMillis(NexmarkQuery.Q7_SIZE_MILLIS))).aggregate("max_price", "max(price)")
          .build());
      default -> throw new IllegalStateException("no Braid views for " + query);
    }
    return out;
  }

  private static ViewSpec.Builder view(String name, int rank, String groupBy, WindowSpec window) {
    ViewSpec.Builder v = ViewSpec.builder(name).from(NexmarkEmitters.STREAM).groupBy(groupBy).window(window);
    if (rank > 0) {
      v.filter(RANK_FILTERS[rank - 1]);
    }
    return v;
  }

  private static String rankName(String query, int rank) {
    return rank == 0 ? query : query + "_r" + rank;
  }

  /** The names of {@code query}'s views. */
  static List<String> viewNames(NexmarkQuery query) {
    return views(query).stream().map(ViewSpec::name).toList();
  }

  // ---------------------------------------------------------------------------------------------
  // Reading results out
  // ---------------------------------------------------------------------------------------------

  /**
   * Reads {@code query}'s merged results for every key the bids among {@code events} events can
   * have (every auction id, every channel, the one group) and gives them to {@code out} as rows in
   * key order.
   */
  static void read(Braid braid, NexmarkQuery query, NexmarkGenerator g, long events, NexmarkResult.RowSink out) {
    String name = query.cliName();
    switch (query) {
      case Q15 -> rankedCounts(braid, name, ALL, null, out);
      case Q16 -> {
        String[] channels = g.channels();
        Arrays.sort(channels);
        for (String c : channels) {
          rankedCounts(braid, name, c, c, out);
        }
      }
      case Q17 -> {
        long auctions = NexmarkGenerator.auctionCount(events);
        for (long a = 0; a < auctions; a++) {
          q17(braid, name, a, out);
        }
      }
      case Q5 -> {
        long auctions = NexmarkGenerator.auctionCount(events);
        long[] v = new long[1];
        double[] none = new double[0];
        for (long a = 0; a < auctions; a++) {
          for (ViewResult.WindowValue w : braid.get(name, Long.toString(a)).windows()) {
            v[0] = number(w.values(), "bids");
            out.row(NexmarkQuery.auctionWindowKey(a, w.start()), v, none);
          }
        }
      }
      case Q7 -> {
        long[] v = new long[1];
        double[] none = new double[0];
        for (ViewResult.WindowValue w : braid.get(name, ALL).windows()) {
          v[0] = number(w.values(), "max_price");
          out.row(NexmarkQuery.windowKey(w.start()), v, none);
        }
      }
      default -> throw new IllegalStateException("no Braid views for " + query);
    }
  }

  /** Windows of one key in a view, by start; empty when the key has none. */
  private static Map<Long, Map<String, Object>> windows(Braid braid, String view, String key) {
    Map<Long, Map<String, Object>> out = new HashMap<>();
    for (ViewResult.WindowValue w : braid.get(view, key).windows()) {
      out.put(w.start(), w.values());
    }
    return out;
  }

  private static void rankedCounts(Braid braid, String query, String key, String channel, NexmarkResult.RowSink out) {
    List<Map<Long, Map<String, Object>>> ranks = new ArrayList<>();
    for (int r = 0; r <= 3; r++) {
      ranks.add(windows(braid, rankName(query, r), key));
    }
    long[] v = new long[12];
    double[] none = new double[0];
    for (Map.Entry<Long, Map<String, Object>> day : new TreeMap<>(ranks.get(0)).entrySet()) {
      for (int r = 0; r <= 3; r++) {
        Map<String, Object> values = ranks.get(r).get(day.getKey());
        v[r] = values == null ? 0 : number(values, "bids");
        v[4 + r] = values == null ? 0 : number(values, "bidders");
        v[8 + r] = values == null ? 0 : number(values, "auctions");
      }
      String d = NexmarkQuery.day(day.getKey());
      out.row(channel == null ? NexmarkQuery.dayKey(d) : NexmarkQuery.channelDayKey(channel, d), v, none);
    }
  }

  private static void q17(Braid braid, String query, long auction, NexmarkResult.RowSink out) {
    String key = Long.toString(auction);
    List<ViewResult.WindowValue> all = braid.get(query, key).windows();
    if (all.isEmpty()) {
      return;
    }
    List<Map<Long, Map<String, Object>>> ranks = new ArrayList<>();
    for (int r = 1; r <= 3; r++) {
      ranks.add(windows(braid, rankName(query, r), key));
    }
    long[] v = new long[7];
    double[] avg = new double[1];
    for (ViewResult.WindowValue w : all) {
      v[0] = number(w.values(), "bids");
      for (int r = 1; r <= 3; r++) {
        Map<String, Object> values = ranks.get(r - 1).get(w.start());
        v[r] = values == null ? 0 : number(values, "bids");
      }
      v[4] = number(w.values(), "min_price");
      v[5] = number(w.values(), "max_price");
      v[6] = number(w.values(), "sum_price");
      avg[0] = ((Number) w.values().get("avg_price")).doubleValue();
      out.row(NexmarkQuery.auctionDayKey(auction, NexmarkQuery.day(w.start())), v, avg);
    }
  }

  private static long number(Map<String, Object> values, String name) {
    Object v = values.get(name);
    if (!(v instanceof Number n)) {
      throw new IllegalStateException("value '" + name + "' is " + v + ", expected a number, in " + values);
    }
    return n.longValue();
  }
}
