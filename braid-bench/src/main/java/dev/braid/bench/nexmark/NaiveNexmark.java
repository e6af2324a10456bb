package dev.braid.bench.nexmark;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The reference answer of every query: a plain loop over the generator's bids into
 * {@code java.util} maps and sets, with exact distinct counts. It knows nothing of any engine;
 * every engine's result is compared with it.
 *
 * <p>It favours being obviously right over speed or memory (a boxed key and a map entry per group;
 * Q5 over 10 M events holds some ten million groups), and runs in a child JVM of its own in the
 * harness like any engine.
 */
public final class NaiveNexmark {

  public static final String NAME = "naive";

  private NaiveNexmark() {}

  /** Some bids, given one by one to a sink (which may keep nothing of the {@code Bid} it is given). */
  @FunctionalInterface
  public interface Bids {
    void forEach(NexmarkGenerator.BidSink sink);
  }

  /** The result of {@code query} over the bids among events {@code [0, events)} of {@code generator}. */
  public static NexmarkResult compute(NexmarkQuery query, NexmarkGenerator generator, long events) {
    return compute(query, sink -> generator.forEachBid(0, events, sink));
  }

  /** The result of {@code query} over {@code bids}. */
  public static NexmarkResult compute(NexmarkQuery query, Bids bids) {
    NexmarkResult.Collector out = new NexmarkResult.Collector(query, NAME, 0.0);
    emit(query, bids, out);
    return out.result();
  }

  /**
   * Computes {@code query} over {@code bids} and gives the rows to {@code out} in ascending key
   * order, holding only the groups (not a second copy of the result), so the reference of a large
   * result streams to a file.
   */
  public static void emit(NexmarkQuery query, Bids bids, NexmarkResult.RowSink out) {
    switch (query) {
      case Q5 -> q5(bids, out);
      case Q7 -> q7(bids, out);
      case Q15 -> rankedCounts(bids, false, out);
      case Q16 -> rankedCounts(bids, true, out);
      case Q17 -> q17(bids, out);
      default -> throw new IllegalStateException("no reference for " + query);
    }
  }

  /** Calls {@code emit} with every group of {@code groups} in {@code order} (the order of their row keys). */
  private static <K, V> void sorted(Map<K, V> groups, Comparator<K> order, BiConsumer<K, V> emit) {
    List<K> keys = new ArrayList<>(groups.keySet());
    keys.sort(order);
    for (K k : keys) {
      emit.accept(k, groups.get(k));
    }
  }

  private record AuctionWindow(long auction, long start) {}

  private static void q5(Bids bids, NexmarkResult.RowSink out) {
    Map<AuctionWindow, long[]> counts = new HashMap<>();
    bids.forEach(b -> {
      // every window [s, s + size) with s a multiple of every and s <= t < s + size
      long last = Math.floorDiv(b.dateTime, NexmarkQuery.Q5_EVERY_MILLIS) * NexmarkQuery.Q5_EVERY_MILLIS;
      for (long s = last; s > b.dateTime - NexmarkQuery.Q5_SIZE_MILLIS; s -= NexmarkQuery.Q5_EVERY_MILLIS) {
        counts.computeIfAbsent(new AuctionWindow(b.auction, s), k -> new long[1])[0]++;
      }
    });
    double[] none = new double[0];
    sorted(counts, Comparator.comparingLong(AuctionWindow::auction).thenComparingLong(AuctionWindow::start),
        (k, v) -> out.row(NexmarkQuery.auctionWindowKey(k.auction(), k.start()), v, none));
  }

  private static void q7(Bids bids, NexmarkResult.RowSink out) {
    Map<Long, long[]> max = new HashMap<>();
    bids.forEach(b -> {
      long start = Math.floorDiv(b.dateTime, NexmarkQuery.Q7_SIZE_MILLIS) * NexmarkQuery.Q7_SIZE_MILLIS;
      long[] m = max.computeIfAbsent(start, k -> new long[] {Long.MIN_VALUE});
      m[0] = Math.max(m[0], b.price);
    });
    double[] none = new double[0];
    sorted(max, Comparator.naturalOrder(), (start, m) -> out.row(NexmarkQuery.windowKey(start), m, none));
  }

  /** Q15 (per day) and Q16 (per channel per day). */
  private static final class RankedCounts {
    final long[] bids = new long[4];
    @SuppressWarnings("unchecked")
    final Set<Long>[] bidders = new Set[] {new HashSet<>(), new HashSet<>(), new HashSet<>(), new HashSet<>()};
    @SuppressWarnings("unchecked")
    final Set<Long>[] auctions = new Set[] {new HashSet<>(), new HashSet<>(), new HashSet<>(), new HashSet<>()};

    void add(NexmarkGenerator.Bid b) {
      int rank = NexmarkGenerator.rank(b.price);
      for (int slot : new int[] {0, rank}) {
        bids[slot]++;
        bidders[slot].add(b.bidder);
        auctions[slot].add(b.auction);
      }
    }

    long[] values() {
      long[] v = new long[12];
      for (int i = 0; i < 4; i++) {
        v[i] = bids[i];
        v[4 + i] = bidders[i].size();
        v[8 + i] = auctions[i].size();
      }
      return v;
    }
  }

  private static void rankedCounts(Bids bids, boolean byChannel, NexmarkResult.RowSink out) {
    Map<String, RankedCounts> groups = new HashMap<>();
    bids.forEach(b -> {
      String day = NexmarkQuery.day(b.dateTime);
      String key = byChannel ? NexmarkQuery.channelDayKey(b.channel, day) : NexmarkQuery.dayKey(day);
      groups.computeIfAbsent(key, k -> new RankedCounts()).add(b);
    });
    double[] none = new double[0];
    sorted(groups, Comparator.naturalOrder(), (k, v) -> out.row(k, v.values(), none));
  }

  private record AuctionDay(long auction, long epochDay) {}

  private static void q17(Bids bids, NexmarkResult.RowSink out) {
    // bids, bids_r1..3, min, max, sum
    Map<AuctionDay, long[]> groups = new HashMap<>();
    bids.forEach(b -> {
      long[] v = groups.computeIfAbsent(new AuctionDay(b.auction, Math.floorDiv(b.dateTime, NexmarkQuery.DAY_MILLIS)),
          k -> new long[] {0, 0, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE, 0});
      v[0]++;
      v[NexmarkGenerator.rank(b.price)]++;
      v[4] = Math.min(v[4], b.price);
      v[5] = Math.max(v[5], b.price);
      v[6] += b.price;
    });
    sorted(groups, Comparator.comparingLong(AuctionDay::auction).thenComparingLong(AuctionDay::epochDay),
        (k, v) -> out.row(
        NexmarkQuery.auctionDayKey(k.auction(), java.time.LocalDate.ofEpochDay(k.epochDay()).toString()), v,
        new double[] {(double) v[6] / v[0]}));
  }
}
