package dev.braid.bench.nexmark;

import dev.braid.Braid;
import dev.braid.ViewResult;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The Nexmark queries as Braid views over the {@value NexmarkEmitters#STREAM} stream, and how
 * their merged results become {@link NexmarkResult} rows.
 *
 * <h2>Views</h2>
 * One view per query. A price-range split is an aggregation with a {@code where} condition, as
 * SQL's {@code count(*) FILTER (WHERE ...)} in the Flink and DuckDB versions of the same queries:
 * {@code R1} is {@code price < 10000}, {@code R2} {@code price >= 10000 && price < 1000000},
 * {@code R3} {@code price >= 1000000}.
 *
 * <pre>
 *   Q15   q15   group_by 'all', window {tumbling: 1d}
 *               aggregate {bids: count, bids_r1: count where R1, ... bids_r3,
 *                          bidders: count_distinct(bidder), bidders_r1: count_distinct(bidder) where R1, ...,
 *                          auctions: count_distinct(auction), auctions_r1: ... where R1, ...}
 *   Q16   q16   as Q15, group_by channel
 *   Q17   q17   group_by auction, window {tumbling: 1d}, aggregate {bids: count, bids_r1: count where R1,
 *               bids_r2, bids_r3, min_price: min(price), max_price: max(price), sum_price: sum(price),
 *               avg_price: avg(price)}
 *   Q5    q5    group_by auction, window {hopping: {size: 10s, every: 2s}}, {bids: count}
 *   Q7    q7    group_by 'all', window {tumbling: 10s}, {max_price: max(price)}
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
        ViewSpec.Builder v = view(name, groupBy, WindowSpec.tumbling(Duration.ofDays(1)));
        ranked(v, "bids", "count");
        ranked(v, "bidders", "count_distinct(bidder)");
        ranked(v, "auctions", "count_distinct(auction)");
        out.add(v.build());
      }
      case Q17 -> {
        ViewSpec.Builder v = view(name, "auction", WindowSpec.tumbling(Duration.ofDays(1)));
        ranked(v, "bids", "count");
        out.add(v.aggregate("min_price", "min(price)").aggregate("max_price", "max(price)")
            .aggregate("sum_price", "sum(price)").aggregate("avg_price", "avg(price)").build());
      }
      case Q5 -> out.add(view(name, "auction", WindowSpec.hopping(Duration.ofMillis(NexmarkQuery.Q5_SIZE_MILLIS),
          Duration.ofMillis(NexmarkQuery.Q5_EVERY_MILLIS))).aggregate("bids", "count").build());
      case Q7 -> out.add(view(name, "'" + ALL + "'",
          WindowSpec.tumbling(Duration.ofMillis(NexmarkQuery.Q7_SIZE_MILLIS))).aggregate("max_price", "max(price)")
          .build());
      default -> throw new IllegalStateException("no Braid views for " + query);
    }
    return out;
  }

  private static ViewSpec.Builder view(String name, String groupBy, WindowSpec window) {
    return ViewSpec.builder(name).from(NexmarkEmitters.STREAM).groupBy(groupBy).window(window);
  }

  /** Adds {@code call} as {@code name} and, per price range r, as {@code name_r<r>} with the range's condition. */
  private static void ranked(ViewSpec.Builder v, String name, String call) {
    v.aggregate(name, call);
    for (int r = 1; r <= 3; r++) {
      v.aggregate(name + "_r" + r, call + " where " + RANK_FILTERS[r - 1]);
    }
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

  private static void rankedCounts(Braid braid, String query, String key, String channel, NexmarkResult.RowSink out) {
    long[] v = new long[12];
    double[] none = new double[0];
    for (ViewResult.WindowValue day : braid.get(query, key).windows()) {
      for (int r = 0; r <= 3; r++) {
        String suffix = r == 0 ? "" : "_r" + r;
        v[r] = number(day.values(), "bids" + suffix);
        v[4 + r] = number(day.values(), "bidders" + suffix);
        v[8 + r] = number(day.values(), "auctions" + suffix);
      }
      String d = NexmarkQuery.day(day.start());
      out.row(channel == null ? NexmarkQuery.dayKey(d) : NexmarkQuery.channelDayKey(channel, d), v, none);
    }
  }

  private static void q17(Braid braid, String query, long auction, NexmarkResult.RowSink out) {
    long[] v = new long[7];
    double[] avg = new double[1];
    for (ViewResult.WindowValue w : braid.get(query, Long.toString(auction)).windows()) {
      v[0] = number(w.values(), "bids");
      for (int r = 1; r <= 3; r++) {
        v[r] = number(w.values(), "bids_r" + r);
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
