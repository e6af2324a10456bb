package dev.braid.bench.nexmark;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.datasketches.hll.HllSketch;
import org.apache.datasketches.hll.TgtHllType;
import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.lib.NumberSequenceSource;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessAllWindowFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * The Flink jobs of {@link FlinkNexmark}: each query written by hand with the DataStream API, the
 * way its documentation teaches event-time windows, and the same job in streaming and batch mode.
 *
 * <h2>Shape of every job</h2>
 * <pre>
 *   BidSequence            parallel source of bid ordinals [0, bids) in chunks; timestamp of ordinal n =
 *                          the generator's event time of bid n; monotonous watermarks per reader
 *     -&gt; Project (map)     NexmarkGenerator fills bid n; only the fields the query reads go on   (chained)
 *     -&gt; keyBy / windowAll -&gt; event-time window -&gt; AggregateFunction + window function     (network)
 *     -&gt; RowFiles (sink)   binary rows into a directory of the run                            (chained)
 * </pre>
 *
 * <table>
 *   <caption>The queries</caption>
 *   <tr><th>query</th><th>record after Project</th><th>key, window</th><th>aggregate</th></tr>
 *   <tr><td>Q5</td><td>auction</td><td>auction, sliding 10 s every 2 s</td><td>{@link Count}</td></tr>
 *   <tr><td>Q7</td><td>price</td><td>none ({@code windowAll}), tumbling 10 s</td><td>{@link Max}</td></tr>
 *   <tr><td>Q15</td><td>("", bidder, auction, price)</td><td>none ({@code windowAll}), tumbling 1 day</td>
 *       <td>{@link RankedCounts}</td></tr>
 *   <tr><td>Q16</td><td>(channel, bidder, auction, price)</td><td>channel, tumbling 1 day</td>
 *       <td>{@link RankedCounts}</td></tr>
 *   <tr><td>Q17</td><td>(auction, price)</td><td>auction, tumbling 1 day</td><td>{@link AuctionStats}</td></tr>
 * </table>
 *
 * Flink's window assigners align windows to the epoch, so a 1-day tumbling window is a UTC day and
 * (key, window) is exactly {@link NexmarkQuery}'s (key, day) or (key, window start). A sliding
 * window holds a bid at {@code t} in every window {@code [s, s + 10 s)} with {@code s} a multiple of
 * 2 s and {@code s <= t < s + 10 s}, as the reference does. Q7 and Q15 have no key: their window
 * operator runs as one task, which receives every bid's price (Q7) or fields (Q15) from both
 * readers; so those two queries use one core for their aggregation, whatever the parallelism.
 *
 * <h2>Watermarks</h2>
 * {@link BidSequence} cuts the ordinals into chunks (about 32 per reader, 1,024 to 65,536 bids each)
 * that readers take from Flink's enumerator one at a time, in ascending order, each reading its
 * chunk in ascending order. The generator's event time never decreases with the index, so the
 * timestamps of each reader never decrease: {@code forMonotonousTimestamps} (a bounded
 * out-of-orderness of zero) is exact per reader, and no bid is ever late. The readers differ by up
 * to about a chunk of event time (at the default rate, 65,536 bids are about 48 minutes); Flink
 * takes the minimum of its inputs' watermarks, so that skew only delays when windows fire and how
 * much state waits for them. Should a bid arrive behind the watermark after all, the late-data side
 * output of every window fails the job ({@link FailOnLate}) instead of dropping it silently. (Cutting
 * the range into one half per reader, as {@code fromSequence} does, would be as correct but would
 * hold the second half's windows until the first reader finished: not how a stream arrives.)
 *
 * <h2>Distinct counts</h2>
 * HLL sketches (DataSketches {@code HllSketch}, lgK = {@value #LG_K}, {@code HLL_8}): the same lgK as
 * Braid's {@code count_distinct}, so the same relative standard error, {@link #DISTINCT_RSE}; HLL_8
 * updates fastest of the HLL types. An exact set per (key, day, range) is the other choice; it would
 * cost Flink more per bid and more state.
 *
 * <h2>Output</h2>
 * A window emits {@code (channel or "", auction or 0, window start, values)}; {@link RowFiles} writes
 * each subtask's rows to a file of its own ({@link #readRows} reads them back):
 * <pre>
 *   part-&lt;subtask&gt;-&lt;attempt&gt;:  row* END
 *   row:   ROW (byte 1) | channel (writeUTF) | auction (long) | window start (long, epoch ms)
 *          | n (byte) | n values (long)
 *   END:   byte 0, written when the input ended; a file without it is refused
 * </pre>
 */
final class FlinkNexmarkJob {

  static final int LG_K = 12;
  static final double DISTINCT_RSE = 1.04 / Math.sqrt(1 << LG_K);

  /** A result row: (channel or "", auction or 0, window start in epoch millis, values). */
  static final TypeInformation<Tuple4<String, Long, Long, long[]>> ROW = Types.TUPLE(Types.STRING, Types.LONG,
      Types.LONG, Types.PRIMITIVE_ARRAY(Types.LONG));

  private static final byte ROW_MARK = 1;
  private static final byte END_MARK = 0;

  private FlinkNexmarkJob() {}

  /**
   * Adds the job of {@code query} over the bids of events {@code [0, events)} to {@code env}, its
   * rows going to files in {@code rows}.
   *
   * @throws IllegalArgumentException when those events hold no bid
   */
  static void define(StreamExecutionEnvironment env, NexmarkQuery query, NexmarkConfig config, long events,
      Path rows) {
    long bids = NexmarkGenerator.bidCount(events);
    if (bids < 1) {
      throw new IllegalArgumentException("events [0, " + events + ") hold no bid: Flink's job needs at least one");
    }
    Model model = Model.of(config);
    DataStream<Long> ordinals = env.fromSource(new BidSequence(bids, env.getParallelism()),
        WatermarkStrategy.<Long>forMonotonousTimestamps().withTimestampAssigner(new BidTime(model)), "bids");
    SingleOutputStreamOperator<Tuple4<String, Long, Long, long[]>> out;
    switch (query) {
      case Q5 -> {
        OutputTag<Long> late = new OutputTag<>("late-bids", Types.LONG);
        out = ordinals.map(FieldOf.auction(model)).name("generate bid: auction")
            .keyBy(a -> a, Types.LONG)
            .window(SlidingEventTimeWindows.of(Duration.ofMillis(NexmarkQuery.Q5_SIZE_MILLIS),
                Duration.ofMillis(NexmarkQuery.Q5_EVERY_MILLIS)))
            .sideOutputLateData(late)
            .aggregate(new Count(), KeyedRow.byAuction()).name("q5: bids per auction, sliding 10 s / 2 s");
        out.getSideOutput(late).sinkTo(new FailOnLate<>()).name("fail on a late bid");
      }
      case Q7 -> {
        OutputTag<Long> late = new OutputTag<>("late-bids", Types.LONG);
        out = ordinals.map(FieldOf.price(model)).name("generate bid: price")
            .windowAll(TumblingEventTimeWindows.of(Duration.ofMillis(NexmarkQuery.Q7_SIZE_MILLIS)))
            .sideOutputLateData(late)
            .aggregate(new Max(), new WindowRow()).name("q7: max price, tumbling 10 s");
        out.getSideOutput(late).sinkTo(new FailOnLate<>()).name("fail on a late bid");
      }
      case Q15, Q16 -> {
        boolean byChannel = query == NexmarkQuery.Q16;
        OutputTag<Tuple4<String, Long, Long, Long>> late = new OutputTag<>("late-bids", RankedFields.TYPE);
        DataStream<Tuple4<String, Long, Long, Long>> fields = ordinals.map(new RankedFields(model, byChannel))
            .name("generate bid: " + (byChannel ? "channel, " : "") + "bidder, auction, price");
        TumblingEventTimeWindows day = TumblingEventTimeWindows.of(Duration.ofMillis(NexmarkQuery.DAY_MILLIS));
        out = byChannel
            ? fields.keyBy(f -> f.f0, Types.STRING).window(day).sideOutputLateData(late)
                .aggregate(new RankedCounts(), KeyedRow.byChannel()).name("q16: ranked counts per channel per day")
            : fields.windowAll(day).sideOutputLateData(late)
                .aggregate(new RankedCounts(), new WindowRow()).name("q15: ranked counts per day");
        out.getSideOutput(late).sinkTo(new FailOnLate<>()).name("fail on a late bid");
      }
      case Q17 -> {
        OutputTag<Tuple2<Long, Long>> late = new OutputTag<>("late-bids", AuctionAndPrice.TYPE);
        out = ordinals.map(new AuctionAndPrice(model)).name("generate bid: auction, price")
            .keyBy(f -> f.f0, Types.LONG)
            .window(TumblingEventTimeWindows.of(Duration.ofMillis(NexmarkQuery.DAY_MILLIS)))
            .sideOutputLateData(late)
            .aggregate(new AuctionStats(), KeyedRow.byAuction()).name("q17: auction stats per day");
        out.getSideOutput(late).sinkTo(new FailOnLate<>()).name("fail on a late bid");
      }
      default -> throw new IllegalStateException("no Flink job for " + query);
    }
    // as many writers as windows tasks (one for Q7 and Q15), so the sink is chained, never a shuffle
    out.sinkTo(new RowFiles(rows.toString())).setParallelism(out.getParallelism()).name("rows to files");
  }

  // ---------------------------------------------------------------------------------------------
  // Source
  // ---------------------------------------------------------------------------------------------

  /**
   * The generator's settings, {@link Serializable} only because Flink ships the functions that hold
   * them to its tasks with Java serialization; each task builds its own {@link NexmarkGenerator}.
   */
  record Model(long seed, long eventsPerSecond, long baseTime, int hotAuctionRatio, int hotBidderRatio,
      int inFlightAuctions, int activePeople, int tailChannels) implements Serializable {

    static Model of(NexmarkConfig c) {
      return new Model(c.seed(), c.eventsPerSecond(), c.baseTime(), c.hotAuctionRatio(), c.hotBidderRatio(),
          c.inFlightAuctions(), c.activePeople(), c.tailChannels());
    }

    NexmarkGenerator generator() {
      return new NexmarkGenerator(new NexmarkConfig(seed, eventsPerSecond, baseTime, hotAuctionRatio,
          hotBidderRatio, inFlightAuctions, activePeople, tailChannels));
    }
  }

  /**
   * Bid ordinals {@code [0, bids)} (ordinal {@code n} is event {@link NexmarkGenerator#bidIndex}{@code (n)}),
   * cut into ascending chunks that Flink's enumerator hands to the readers one at a time, first come
   * first served (see the class comment, "Watermarks").
   */
  static final class BidSequence extends NumberSequenceSource {
    private static final long serialVersionUID = 1L;
    static final long MIN_CHUNK = 1 << 10;
    static final long MAX_CHUNK = 1 << 16;
    private final long chunk;

    BidSequence(long bids, int parallelism) {
      super(0, bids - 1);
      this.chunk = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, bids / (32L * parallelism)));
    }

    @Override
    protected List<NumberSequenceSplit> splitNumberRange(long from, long to, int readers) {
      List<NumberSequenceSplit> splits = new ArrayList<>();
      for (long start = from; start <= to; start += chunk) {
        splits.add(new NumberSequenceSplit(Long.toString(splits.size()), start, Math.min(to, start + chunk - 1)));
      }
      return splits;
    }
  }

  /** Timestamp of ordinal {@code n}: the event time of bid {@code n}. */
  static final class BidTime implements SerializableTimestampAssigner<Long> {
    private static final long serialVersionUID = 1L;
    private final Model model;
    private transient NexmarkGenerator generator;

    BidTime(Model model) {
      this.model = model;
    }

    @Override
    public long extractTimestamp(Long ordinal, long recordTimestamp) {
      if (generator == null) {
        generator = model.generator();
      }
      return generator.eventTime(NexmarkGenerator.bidIndex(ordinal));
    }
  }

  /** Generates bid {@code n} from its ordinal and keeps what the query reads. */
  abstract static class Project<T> extends RichMapFunction<Long, T> {
    private static final long serialVersionUID = 1L;
    private final Model model;
    private transient NexmarkGenerator generator;
    private transient NexmarkGenerator.Bid bid;

    Project(Model model) {
      this.model = model;
    }

    @Override
    public void open(OpenContext context) {
      generator = model.generator();
      bid = new NexmarkGenerator.Bid();
    }

    @Override
    public T map(Long ordinal) {
      generator.bid(NexmarkGenerator.bidIndex(ordinal), bid);
      return project(bid);
    }

    abstract T project(NexmarkGenerator.Bid b);
  }

  /** The auction (Q5) or the price (Q7) alone. */
  static final class FieldOf extends Project<Long> {
    private static final long serialVersionUID = 1L;
    private final boolean auction;

    private FieldOf(Model model, boolean auction) {
      super(model);
      this.auction = auction;
    }

    static FieldOf auction(Model model) {
      return new FieldOf(model, true);
    }

    static FieldOf price(Model model) {
      return new FieldOf(model, false);
    }

    @Override
    Long project(NexmarkGenerator.Bid b) {
      return auction ? b.auction : b.price;
    }
  }

  /** (auction, price). */
  static final class AuctionAndPrice extends Project<Tuple2<Long, Long>> {
    private static final long serialVersionUID = 1L;
    static final TypeInformation<Tuple2<Long, Long>> TYPE = Types.TUPLE(Types.LONG, Types.LONG);

    AuctionAndPrice(Model model) {
      super(model);
    }

    @Override
    Tuple2<Long, Long> project(NexmarkGenerator.Bid b) {
      return Tuple2.of(b.auction, b.price);
    }
  }

  /** (channel, bidder, auction, price); Q15 reads no channel and leaves it empty. */
  static final class RankedFields extends Project<Tuple4<String, Long, Long, Long>> {
    private static final long serialVersionUID = 1L;
    static final TypeInformation<Tuple4<String, Long, Long, Long>> TYPE = Types.TUPLE(Types.STRING, Types.LONG,
        Types.LONG, Types.LONG);
    private final boolean withChannel;

    RankedFields(Model model, boolean withChannel) {
      super(model);
      this.withChannel = withChannel;
    }

    @Override
    Tuple4<String, Long, Long, Long> project(NexmarkGenerator.Bid b) {
      return Tuple4.of(withChannel ? b.channel : "", b.bidder, b.auction, b.price);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Aggregates: accumulators are updated in place and are the results
  // ---------------------------------------------------------------------------------------------

  /** An aggregate whose accumulator is its result: values updated in place. */
  abstract static class InPlace<T> implements AggregateFunction<T, long[], long[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public final long[] getResult(long[] acc) {
      return acc;
    }
  }

  /** Q5: {bids}. */
  static final class Count extends InPlace<Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public long[] createAccumulator() {
      return new long[1];
    }

    @Override
    public long[] add(Long auction, long[] acc) {
      acc[0]++;
      return acc;
    }

    @Override
    public long[] merge(long[] a, long[] b) {
      a[0] += b[0];
      return a;
    }
  }

  /** Q7: {max_price}. */
  static final class Max extends InPlace<Long> {
    private static final long serialVersionUID = 1L;

    @Override
    public long[] createAccumulator() {
      return new long[] {Long.MIN_VALUE};
    }

    @Override
    public long[] add(Long price, long[] acc) {
      acc[0] = Math.max(acc[0], price);
      return acc;
    }

    @Override
    public long[] merge(long[] a, long[] b) {
      a[0] = Math.max(a[0], b[0]);
      return a;
    }
  }

  /** Q17: {bids, bids_r1, bids_r2, bids_r3, min_price, max_price, sum_price}; the average is sum / bids. */
  static final class AuctionStats extends InPlace<Tuple2<Long, Long>> {
    private static final long serialVersionUID = 1L;

    @Override
    public long[] createAccumulator() {
      return new long[] {0, 0, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE, 0};
    }

    @Override
    public long[] add(Tuple2<Long, Long> auctionAndPrice, long[] acc) {
      long price = auctionAndPrice.f1;
      acc[0]++;
      acc[NexmarkGenerator.rank(price)]++;
      acc[4] = Math.min(acc[4], price);
      acc[5] = Math.max(acc[5], price);
      acc[6] += price;
      return acc;
    }

    @Override
    public long[] merge(long[] a, long[] b) {
      for (int i = 0; i < 4; i++) {
        a[i] += b[i];
      }
      a[4] = Math.min(a[4], b[4]);
      a[5] = Math.max(a[5], b[5]);
      a[6] += b[6];
      return a;
    }
  }

  /**
   * Q15 and Q16: bids (all, then by range 1-3), distinct bidders and distinct auctions likewise, as
   * {@link NexmarkQuery}'s twelve values.
   */
  static final class RankedCounts
      implements AggregateFunction<Tuple4<String, Long, Long, Long>, RankedCounts.Acc, long[]> {
    private static final long serialVersionUID = 1L;

    /** Slot 0 counts every bid, slot r the bids of price range r. */
    static final class Acc {
      final long[] bids = new long[4];
      final HllSketch[] bidders = new HllSketch[4];
      final HllSketch[] auctions = new HllSketch[4];

      Acc() {
        for (int i = 0; i < 4; i++) {
          bidders[i] = new HllSketch(LG_K, TgtHllType.HLL_8);
          auctions[i] = new HllSketch(LG_K, TgtHllType.HLL_8);
        }
      }

      void add(int slot, long bidder, long auction) {
        bids[slot]++;
        bidders[slot].update(bidder);
        auctions[slot].update(auction);
      }
    }

    @Override
    public Acc createAccumulator() {
      return new Acc();
    }

    @Override
    public Acc add(Tuple4<String, Long, Long, Long> bid, Acc acc) {
      long bidder = bid.f1;
      long auction = bid.f2;
      acc.add(0, bidder, auction);
      acc.add(NexmarkGenerator.rank(bid.f3), bidder, auction);
      return acc;
    }

    @Override
    public long[] getResult(Acc acc) {
      long[] v = new long[12];
      for (int i = 0; i < 4; i++) {
        v[i] = acc.bids[i];
        v[4 + i] = Math.round(acc.bidders[i].getEstimate());
        v[8 + i] = Math.round(acc.auctions[i].getEstimate());
      }
      return v;
    }

    /** Never called: tumbling windows do not merge (sketch unions differ across the DataSketches versions Braid builds with). */
    @Override
    public Acc merge(Acc a, Acc b) {
      throw new UnsupportedOperationException("Q15/Q16 run in tumbling windows, which never merge");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Window functions: the aggregate with its key and window
  // ---------------------------------------------------------------------------------------------

  /** The row of a keyed window: its key is an auction (Q5, Q17) or a channel (Q16). */
  static final class KeyedRow<K> extends ProcessWindowFunction<long[], Tuple4<String, Long, Long, long[]>, K,
      TimeWindow> {
    private static final long serialVersionUID = 1L;
    private final boolean channelKey;

    private KeyedRow(boolean channelKey) {
      this.channelKey = channelKey;
    }

    static KeyedRow<Long> byAuction() {
      return new KeyedRow<>(false);
    }

    static KeyedRow<String> byChannel() {
      return new KeyedRow<>(true);
    }

    @Override
    public void process(K key, Context context, Iterable<long[]> aggregate,
        Collector<Tuple4<String, Long, Long, long[]>> out) {
      long start = context.window().getStart();
      long[] values = aggregate.iterator().next();
      out.collect(channelKey ? Tuple4.of((String) key, 0L, start, values) : Tuple4.of("", (Long) key, start, values));
    }
  }

  static final class WindowRow extends ProcessAllWindowFunction<long[], Tuple4<String, Long, Long, long[]>,
      TimeWindow> {
    private static final long serialVersionUID = 1L;

    @Override
    public void process(Context context, Iterable<long[]> aggregate,
        Collector<Tuple4<String, Long, Long, long[]>> out) {
      out.collect(Tuple4.of("", 0L, context.window().getStart(), aggregate.iterator().next()));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Sinks
  // ---------------------------------------------------------------------------------------------

  /** Writes each subtask's rows to a file of its own in {@code dir} (format in the class comment). */
  static final class RowFiles implements Sink<Tuple4<String, Long, Long, long[]>> {
    private static final long serialVersionUID = 1L;
    private final String dir;

    RowFiles(String dir) {
      this.dir = dir;
    }

    @Override
    public SinkWriter<Tuple4<String, Long, Long, long[]>> createWriter(WriterInitContext context) throws IOException {
      Path file = Path.of(dir, "part-" + context.getTaskInfo().getIndexOfThisSubtask() + "-"
          + context.getTaskInfo().getAttemptNumber());
      DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
      return new SinkWriter<>() {
        @Override
        public void write(Tuple4<String, Long, Long, long[]> row, Context ctx) throws IOException {
          out.writeByte(ROW_MARK);
          out.writeUTF(row.f0);
          out.writeLong(row.f1);
          out.writeLong(row.f2);
          out.writeByte(row.f3.length);
          for (long v : row.f3) {
            out.writeLong(v);
          }
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
          if (endOfInput) {
            out.writeByte(END_MARK);
          }
          out.flush();
        }

        @Override
        public void close() throws IOException {
          out.close();
        }
      };
    }
  }

  /** Fails the job on a bid its window saw behind the watermark, which the watermarks promise never happens. */
  static final class FailOnLate<T> implements Sink<T> {
    private static final long serialVersionUID = 1L;

    @Override
    public SinkWriter<T> createWriter(WriterInitContext context) {
      return new SinkWriter<>() {
        @Override
        public void write(T bid, Context ctx) {
          throw new IllegalStateException("bid " + bid + " with event time " + ctx.timestamp()
              + " reached its window behind the watermark " + ctx.currentWatermark()
              + ": the source's timestamps are not monotonous per reader");
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
      };
    }
  }

  /** A row read back: key parts and values. */
  record Row(String channel, long auction, long start, long[] values) {}

  /**
   * Every row the job's {@link RowFiles} wrote into {@code dir}, in no particular order.
   *
   * @throws IOException naming the file when one is cut short (its writer never saw the input end)
   */
  static List<Row> readRows(Path dir) throws IOException {
    List<Row> rows = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.sorted().toList();
    }
    for (Path f : files) {
      try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(f), 1 << 16))) {
        for (byte mark = in.readByte(); mark != END_MARK; mark = in.readByte()) {
          if (mark != ROW_MARK) {
            throw new IOException(f + ": expected a row or the end mark, found byte " + mark);
          }
          String channel = in.readUTF();
          long auction = in.readLong();
          long start = in.readLong();
          long[] values = new long[in.readByte()];
          for (int i = 0; i < values.length; i++) {
            values[i] = in.readLong();
          }
          rows.add(new Row(channel, auction, start, values));
        }
      } catch (java.io.EOFException e) {
        throw new IOException(f + " ends before its end mark: its writer did not see the end of its input", e);
      }
    }
    return rows;
  }
}
