package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.StreamConfig;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The batch layer's radix fold (scatter events into buckets by key hash, fold each bucket alone,
 * write buckets to the Base from both threads) builds the same Base as the one-pass fold: over
 * seeded random views that it applies to (every key type; {@code count}, {@code sum}, {@code min},
 * {@code max} over long, double and timestamp fields with nulls; with and without a filter), random
 * events on 1 to 3 partitions and 1 to 3 threads, with an ample budget (no spills, buckets written
 * straight to the Base), a budget that makes some buckets or rounds spill, and a tiny one (many
 * rounds, runs merged), every key's entry in the Base holds the same windows and state bytes, the
 * key and group counts agree, and a tiny budget is still honoured.
 */
class RadixFoldPropertyTest {

  private static final FieldType[] KEY_TYPES = {
      FieldType.STRING, FieldType.LONG, FieldType.DOUBLE, FieldType.BOOLEAN, FieldType.TIMESTAMP};
  private static final String[] FUSED = {
      "count", "count(l)", "count(d)", "sum(l)", "sum(d)", "min(l)", "max(l)", "min(d)", "max(d)", "min(ts)",
      "max(ts)"};
  private static final long AMPLE = 1L << 30;

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.radixSeeds", Soak.seeds(60)));
  }

  private static EventSchema schema(FieldType keyType) {
    Map<String, FieldType> f = new LinkedHashMap<>();
    f.put("l", FieldType.LONG);
    f.put("k", keyType);
    f.put("d", FieldType.DOUBLE);
    f.put("ts", FieldType.TIMESTAMP);
    return new EventSchema("e", f, "k", "ts");
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldBuildTheSameBaseAsTheOnePassFold(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    FieldType keyType = KEY_TYPES[rnd.nextInt(KEY_TYPES.length)];
    EventSchema schema = schema(keyType);
    ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy("k");
    int n = 1 + rnd.nextInt(rnd.nextBoolean() ? 5 : 12); // more than 5: null flags in an int of their own
    for (int i = 0; i < n; i++) {
      b.aggregate("a" + i, FUSED[rnd.nextInt(FUSED.length)] + FoldFastPathTest.randomWhere(rnd));
    }
    if (rnd.nextInt(3) == 0) {
      b.filter("l > 0");
    }
    ViewSpec spec = b.build();
    ViewProgram program = new ViewProgram(spec, schema);
    int partitions = 1 + rnd.nextInt(3);
    int threads = 1 + rnd.nextInt(3);
    int events = rnd.nextInt(8) == 0 ? rnd.nextInt(5) : rnd.nextInt(6000);
    int keySpace = 1 + rnd.nextInt(rnd.nextBoolean() ? 30 : 3000);
    long tiny = 4096 + rnd.nextInt(60 * 1024);
    long middle = 64 * 1024 + rnd.nextInt(512 * 1024);
    String context = String.format("seed %d (key %s, %s, %d partitions, %d threads, %d events over <= %d keys, "
        + "budgets %d / %d)", seed, keyType, spec.aggregates(), partitions, threads, events, keySpace, middle, tiny);
    assertThat(BatchLayer.canFoldByRadix(program)).as(context).isTrue();
    context += ", " + eventsPerBucket(seed) + " events per bucket, combine " + combine(seed);

    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      LogStream stream = log.getOrCreateStream("e", StreamConfig.of(partitions).withDurability(Durability.os()));
      Set<ByteBuffer> keys = append(stream, schema, keyType, events, keySpace, rnd);
      Cut cut = stream.end();

      BaseFile expected = build(program, stream, cut, threads, AMPLE, false, dir, "one-pass", context);
      for (long budget : new long[] {AMPLE, middle, tiny}) {
        BatchLayer.Counters counters = BatchLayer.Counters.create();
        BatchLayer layer =
            new BatchLayer(program, stream, threads, budget, counters, true, eventsPerBucket(seed), combine(seed));
        assertThat(layer.foldsByRadix()).as(context).isTrue();
        Path base = dir.resolve("radix-" + budget + ".base");
        BatchLayer.Stats stats = layer.build(cut, base, dir.resolve("radix-" + budget + ".spill"));
        String as = context + ", radix fold with budget " + budget;
        assertThat(counters.events().get()).as(as + ": events read").isEqualTo(events);
        assertThat(counters.errors().get()).as(as + ": errors").isZero();
        if (budget != AMPLE) {
          int tasks = Math.min(threads, partitions);
          // As the one-pass fold: over the budget only by the small table and buckets each task may keep.
          assertThat(stats.peakReservedBytes()).as(as + ": peak reserved bytes")
              .isLessThanOrEqualTo(budget + tasks * (16L << 10));
        }
        // Without spills every group folds its events in log order: the same state, bit for bit. A
        // spill merges partial states (as the one-pass fold's spills do), which for double sums may
        // differ in the last bits of the state but not in what a read returns.
        boolean exact = stats.runsWritten() == 0;
        try (BaseFile actual = BaseFile.open(base)) {
          assertSameBase(program, expected, actual, keys, exact, as);
        }
      }
      expected.close();
    }
  }

  private static BaseFile build(ViewProgram program, LogStream stream, Cut cut, int threads, long budget,
      boolean radix, Path dir, String name, String context) throws Exception {
    BatchLayer layer = new BatchLayer(program, stream, threads, budget,
        BatchLayer.Counters.create(), radix);
    assertThat(layer.foldsByRadix()).as(context).isEqualTo(radix);
    Path base = dir.resolve(name + ".base");
    layer.build(cut, base, dir.resolve(name + ".spill"));
    return BaseFile.open(base);
  }

  static void assertSameBase(ViewProgram program, BaseFile expected, BaseFile actual, Set<ByteBuffer> keys,
      boolean exact, String as) throws IOException {
    assertThat(actual.keyCount).as(as + ": keys").isEqualTo(expected.keyCount);
    assertThat(actual.groupCount).as(as + ": groups").isEqualTo(expected.groupCount);
    assertThat(actual.cut).as(as + ": cut").isEqualTo(expected.cut);
    long found = 0;
    for (ByteBuffer k : keys) {
      byte[] key = Arrays.copyOf(k.array(), k.remaining());
      List<String> e = windows(program, expected, key, exact);
      List<String> a = windows(program, actual, key, exact);
      assertThat(a).as(as + ": windows and " + (exact ? "state bytes" : "results") + " of key "
          + Arrays.toString(key)).isEqualTo(e);
      found += e == null ? 0 : 1;
    }
    assertThat(found).as(as + ": every key of the Base is one of the events' keys").isEqualTo(expected.keyCount);
  }

  /** A key's windows and their state bytes (or results) in a Base, or null when it is not there. */
  private static List<String> windows(ViewProgram program, BaseFile base, byte[] key, boolean exact)
      throws IOException {
    List<String> out = new ArrayList<>();
    ViewProgram.Scratch x = program.scratch();
    boolean present = base.lookup(key, key.length, (window, buffer, off, len) -> {
      byte[] state = new byte[len];
      buffer.get(off, state);
      if (exact) {
        out.add(window + ":" + Arrays.toString(state));
      } else {
        long[] longs = new long[Math.max(1, program.longWidth)];
        Object[] objects = new Object[program.objectWidth];
        program.readRow(new DataInputStream(new ByteArrayInputStream(state)), longs, 0, objects, 0, x);
        out.add(window + ":" + program.result(longs, 0, objects, 0, x));
      }
    });
    return present ? out : null;
  }

  /** Appends random events; returns the distinct record keys. */
  private static Set<ByteBuffer> append(LogStream stream, EventSchema schema, FieldType keyType, int events,
      int keySpace, Random rnd) {
    EventEncoder encoder = new EventEncoder(schema);
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    Appender appender = new Appender(stream);
    Set<ByteBuffer> keys = new LinkedHashSet<>();
    for (int i = 0; i < events; i++) {
      Map<String, Object> event = new HashMap<>();
      event.put("k", key(rnd, keyType, keySpace));
      event.put("ts", (long) (1000 + i + rnd.nextInt(20)));
      event.put("l", rnd.nextInt(5) == 0 ? null : (long) rnd.nextInt(201) - 100 + (rnd.nextInt(50) == 0 ? Long.MAX_VALUE : 0));
      event.put("d", rnd.nextInt(5) == 0 ? null : rnd.nextGaussian() * Math.pow(10, rnd.nextInt(30) - 15));
      String reason = encoder.encode(event, 0L, enc);
      if (reason != null) {
        throw new AssertionError(reason + ": " + event);
      }
      keys.add(ByteBuffer.wrap(appender.add(enc)));
    }
    appender.finish();
    return keys;
  }

  /** Appends encoded events to their key's partition in batches of 500, in the order given. */
  static final class Appender {
    private final LogStream stream;
    private final RecordBatchBuilder[] batches;

    Appender(LogStream stream) {
      this.stream = stream;
      this.batches = new RecordBatchBuilder[stream.partitions()];
      for (int p = 0; p < batches.length; p++) {
        batches[p] = new RecordBatchBuilder();
      }
    }

    /** Adds the event; returns a copy of its record key. */
    byte[] add(EventEncoder.Encoded enc) {
      byte[] k = enc.key().clone();
      int p = Partitioner.partition(k, 0, k.length, batches.length);
      batches[p].add(k, Arrays.copyOf(enc.value(), enc.valueLength()), enc.eventTime(), 0L);
      if (batches[p].count() == 500) {
        stream.append(p, batches[p]);
        batches[p].clear();
      }
      return k;
    }

    /** Appends what is left and flushes the stream. */
    void finish() {
      for (int p = 0; p < batches.length; p++) {
        if (batches[p].count() > 0) {
          stream.append(p, batches[p]);
        }
      }
      stream.flush();
    }
  }

  private static Object key(Random rnd, FieldType keyType, int keySpace) {
    int i = rnd.nextInt(keySpace);
    switch (keyType) {
      case STRING: {
        // lengths 0 to 40, so that every tail of the 8-byte hash and compare is hit
        if (i % 7 == 0) {
          return "";
        }
        StringBuilder s = new StringBuilder("k").append(i);
        for (int j = 0; j < i % 41; j++) {
          s.append(j % 5 == 0 ? 'é' : (char) ('a' + j % 3));
        }
        return s.toString();
      }
      case LONG:
        return i % 50 == 0 ? Long.MIN_VALUE + i : (long) i - keySpace / 2;
      case DOUBLE:
        return i == 0 ? -0.0 : i / 4.0;
      case BOOLEAN:
        return (i & 1) == 0;
      default:
        return (long) i;
    }
  }

  /**
   * The radix fold's events per bucket for {@code seed}: mostly a few dozen, so that a few thousand
   * events spread over many buckets (their staging, growth and rounds), sometimes the default, under
   * which they all go to one. From a Random of its own, so the seed's history is what it was.
   */
  static int eventsPerBucket(long seed) {
    java.util.Random r = new java.util.Random(seed * 0x9E3779B97F4A7C15L + 17);
    return r.nextInt(4) == 0 ? BatchLayer.EVENTS_PER_BUCKET : 8 + r.nextInt(120);
  }

  /**
   * Whether the radix fold of seed {@code seed} combines events: a third each adaptive (as in
   * production; some partitions pass the first judgement at {@value BatchLayer#COMBINE_WINDOW}
   * events), always and never.
   */
  static BatchLayer.Combine combine(long seed) {
    java.util.Random r = new java.util.Random(seed * 0xC2B2AE3D27D4EB4FL + 29);
    return BatchLayer.Combine.values()[r.nextInt(3)];
  }
}
