package dev.braid.bench;

import dev.braid.agg.AccumulatorState;
import dev.braid.agg.AggregateCall;
import dev.braid.agg.Aggregation;
import dev.braid.agg.Aggregations;
import dev.braid.agg.NumericFold;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH micro-benchmark of {@link NumericFold#add}, the per-event fold of the batch layer's combine
 * step and of the speed layer, in nanoseconds per event: {@value #EVENTS} encoded bids with
 * Nexmark's log-uniform prices folded into {@value #ROWS} rows (all in cache, so this is the fold's
 * own cost, not memory's). Rows:
 *
 * <ul>
 *   <li>{@code q17}: Nexmark Q17's row, {@code count}, three {@code count where} one price range
 *       each (every event takes exactly one, as the skip masks the where conditions give), then
 *       {@code min}, {@code max}, {@code sum} and {@code avg} of the price;
 *   <li>{@code count_sum}: the commonest row, which the fold has a path of its own for;
 *   <li>{@code min_max_sum}: three ops on one field, no conditions.
 * </ul>
 *
 * <p>Run with {@code ./braid bench jmh FoldJmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FoldJmh {

  static final int EVENTS = 4096;
  static final int ROWS = 256;
  private static final long RANK1_BELOW = 10_000;
  private static final long RANK2_BELOW = 1_000_000;

  @Param({"q17", "count_sum", "min_max_sum"})
  public String row;

  private NumericFold fold;
  private long[] longs;
  private int width;
  private ByteBuffer events;
  private final int[] offset = new int[EVENTS];
  private final int[] length = new int[EVENTS];
  private final long[] skip = new long[EVENTS];
  private EventReader reader;

  @Setup
  public void setUp() {
    Map<String, FieldType> fields = new LinkedHashMap<>();
    fields.put("auction", FieldType.LONG);
    fields.put("price", FieldType.LONG);
    fields.put("ts", FieldType.TIMESTAMP);
    EventSchema schema = new EventSchema("bids", fields, "auction", "ts");
    String[] calls = switch (row) {
      case "q17" -> new String[] {"count", "count", "count", "count", "min(price)", "max(price)", "sum(price)",
          "avg(price)"};
      case "count_sum" -> new String[] {"count", "sum(price)"};
      case "min_max_sum" -> new String[] {"min(price)", "max(price)", "sum(price)"};
      default -> throw new IllegalArgumentException("unknown row " + row);
    };
    Aggregation[] aggs = new Aggregation[calls.length];
    int[] field = new int[calls.length];
    FieldType[] type = new FieldType[calls.length];
    int[] base = new int[calls.length];
    for (int i = 0; i < calls.length; i++) {
      AggregateCall call = Aggregations.parse(calls[i]);
      field[i] = call.field() == null ? -1 : schema.require(call.field()).index();
      type[i] = call.field() == null ? null : schema.require(call.field()).type();
      aggs[i] = Aggregations.create(call, type[i]);
      base[i] = width;
      width += aggs[i].longSlots();
    }
    fold = NumericFold.of(aggs, field, type, base);
    if (fold == null) {
      throw new IllegalStateException("row " + row + " is not fused");
    }
    longs = new long[ROWS * width];
    AccumulatorState s = new AccumulatorState();
    for (int r = 0; r < ROWS; r++) {
      for (int i = 0; i < aggs.length; i++) {
        aggs[i].zero(s.bind(longs, r * width + base[i], new Object[1], 0));
      }
    }

    Random rnd = new Random(42);
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded encoded = new EventEncoder.Encoded();
    ByteBuffer all = ByteBuffer.allocate(EVENTS * 64);
    for (int e = 0; e < EVENTS; e++) {
      long price = Math.round(Math.pow(10.0, rnd.nextDouble() * 6.0) * 100.0); // as Nexmark's generator
      Map<String, Object> bid = new LinkedHashMap<>();
      bid.put("auction", (long) rnd.nextInt(ROWS));
      bid.put("price", price);
      bid.put("ts", BenchRecords.BASE_EVENT_TIME + e);
      String rejected = encoder.encode(bid, 0L, encoded);
      if (rejected != null) {
        throw new IllegalStateException("the benchmark's bid is invalid: " + rejected);
      }
      offset[e] = all.position();
      length[e] = encoded.valueLength();
      all.put(encoded.value(), 0, encoded.valueLength());
      if (row.equals("q17")) { // ops 1-3 take one price range each; an event skips the two it is not in
        int rank = price < RANK1_BELOW ? 1 : price < RANK2_BELOW ? 2 : 3;
        skip[e] = 0b1110L & ~(1L << rank);
      }
    }
    events = all;
    reader = new EventReader(schema);
  }

  @Benchmark
  @OperationsPerInvocation(EVENTS)
  public long add() {
    EventReader e = reader;
    for (int i = 0; i < EVENTS; i++) {
      e.wrap(events, offset[i], length[i]);
      fold.add(longs, (i & (ROWS - 1)) * width, e, skip[i]);
    }
    return longs[0];
  }
}
