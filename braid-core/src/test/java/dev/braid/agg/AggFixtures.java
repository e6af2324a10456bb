package dev.braid.agg;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.FieldType;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.apache.datasketches.kll.KllSketch;

/** Seeded event generators and fold / merge / codec helpers shared by the aggregation tests. */
final class AggFixtures {

  private AggFixtures() {}

  /** One event as an aggregation sees it: the argument value (null, Long, Double, String or Boolean) and position. */
  record TestEvent(Object value, long eventTime, int partition, long offset) {}

  /** How values are drawn: the share of nulls and the size of the pool duplicates come from. */
  record Profile(double nullShare, int pool, boolean specials) {
    static final Profile DEFAULT = new Profile(0.1, 20, true);
  }

  private static final String[] STRINGS = {
      "", "a", "b", "US", "DE", "FR", "IN", "merchant-0001", "merchant-0002", "é", "日本", "🙂 emoji", "a longer string, over eight bytes",
  };

  /**
   * {@code n} events with values of {@code type}, event times from a small range (so many ties), and
   * unique {@code (partition, offset)} positions in shuffled arrival order.
   */
  static List<TestEvent> events(Random random, FieldType type, int n, Profile profile) {
    List<TestEvent> events = new ArrayList<>(n);
    long[] nextOffset = new long[4];
    long timeRange = 1 + random.nextInt(50);
    for (int i = 0; i < n; i++) {
      int partition = random.nextInt(4);
      long offset = nextOffset[partition]++;
      long time = 1_700_000_000_000L + random.nextInt((int) timeRange);
      events.add(new TestEvent(value(random, type, profile), time, partition, offset));
    }
    Collections.shuffle(events, random);
    return events;
  }

  static Object value(Random random, FieldType type, Profile profile) {
    if (type == null) {
      return null;
    }
    if (random.nextDouble() < profile.nullShare()) {
      return null;
    }
    boolean pooled = random.nextDouble() < 0.6;
    switch (type) {
      case LONG: {
        if (pooled) {
          return (long) (random.nextInt(profile.pool()) - profile.pool() / 2);
        }
        double r = random.nextDouble();
        if (profile.specials() && r < 0.05) {
          long[] extremes = {Long.MIN_VALUE, Long.MAX_VALUE, 0, -1, 1};
          return extremes[random.nextInt(extremes.length)];
        }
        return r < 0.5 ? random.nextLong() : (long) random.nextInt();
      }
      case TIMESTAMP:
        return pooled
            ? 1_700_000_000_000L + 1000L * random.nextInt(profile.pool())
            : 1_700_000_000_000L + (long) (random.nextGaussian() * 1e9);
      case DOUBLE: {
        if (pooled) {
          return (random.nextInt(profile.pool()) - profile.pool() / 2) * 0.25;
        }
        double r = random.nextDouble();
        if (profile.specials() && r < 0.03) {
          double[] specials = {-0.0, 0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
              Double.MIN_VALUE, -Double.MIN_VALUE};
          return specials[random.nextInt(specials.length)];
        }
        return random.nextGaussian() * Math.pow(10, random.nextInt(10) - 3);
      }
      case STRING:
        return pooled
            ? STRINGS[random.nextInt(Math.min(STRINGS.length, Math.max(1, profile.pool())))]
            : "s" + random.nextInt(Math.max(1, profile.pool() * 5));
      case BOOLEAN:
        return random.nextBoolean();
      default:
        throw new AssertionError(type);
    }
  }

  /** Points {@code in} at one event's value of {@code type} (null type: {@code count} without a field). */
  static AggInput feed(AggInput in, FieldType type, TestEvent e) {
    in.at(e.eventTime(), e.partition(), e.offset());
    Object v = e.value();
    if (v == null) {
      return in.setNull(type);
    }
    switch (type) {
      case STRING:
        return in.setString((String) v);
      case DOUBLE:
        return in.setDouble((Double) v);
      case BOOLEAN:
        return in.setLong(FieldType.BOOLEAN, ((Boolean) v) ? 1 : 0);
      default:
        return in.setLong(type, (Long) v);
    }
  }

  static AccumulatorState fold(Aggregation agg, FieldType type, List<TestEvent> events) {
    AccumulatorState s = AccumulatorState.standalone(agg);
    addAll(agg, type, s, events);
    return s;
  }

  static void addAll(Aggregation agg, FieldType type, AccumulatorState s, List<TestEvent> events) {
    AggInput in = new AggInput();
    for (TestEvent e : events) {
      agg.add(s, feed(in, type, e));
    }
  }

  /** A fresh accumulator holding the merge of {@code parts} in the given order. */
  static AccumulatorState mergeAll(Aggregation agg, List<AccumulatorState> parts) {
    AccumulatorState s = AccumulatorState.standalone(agg);
    for (AccumulatorState part : parts) {
      agg.merge(s, part);
    }
    return s;
  }

  /** {@code events} cut at random points into {@code 2..5} contiguous parts, some possibly empty. */
  static List<List<TestEvent>> contiguousParts(Random random, List<TestEvent> events) {
    int parts = 2 + random.nextInt(4);
    List<Integer> cuts = new ArrayList<>();
    for (int i = 0; i < parts - 1; i++) {
      cuts.add(random.nextInt(events.size() + 1));
    }
    Collections.sort(cuts);
    List<List<TestEvent>> result = new ArrayList<>();
    int from = 0;
    for (int cut : cuts) {
      result.add(events.subList(from, cut));
      from = cut;
    }
    result.add(events.subList(from, events.size()));
    return result;
  }

  /** Each event assigned to one of {@code 2..5} parts at random, as grouping across partitions does. */
  static List<List<TestEvent>> scatteredParts(Random random, List<TestEvent> events) {
    int parts = 2 + random.nextInt(4);
    List<List<TestEvent>> result = new ArrayList<>();
    for (int i = 0; i < parts; i++) {
      result.add(new ArrayList<>());
    }
    for (TestEvent e : events) {
      result.get(random.nextInt(parts)).add(e);
    }
    return result;
  }

  static List<AccumulatorState> foldEach(Aggregation agg, FieldType type, List<List<TestEvent>> parts) {
    List<AccumulatorState> states = new ArrayList<>();
    for (List<TestEvent> part : parts) {
      states.add(fold(agg, type, part));
    }
    return states;
  }

  static byte[] write(Aggregation agg, AccumulatorState s) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      agg.write(s, out);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Reads {@code bytes} into an accumulator over arrays full of junk (so a read that relies on a
   * prior {@code zero} fails) and checks that the read consumed every byte.
   */
  static AccumulatorState read(Aggregation agg, byte[] bytes) {
    long[] longs = new long[Math.max(1, agg.longSlots())];
    java.util.Arrays.fill(longs, 0x5A5A5A5A5A5A5A5AL);
    Object[] objects = new Object[Math.max(1, agg.objectSlots())];
    java.util.Arrays.fill(objects, new Object());
    AccumulatorState s = new AccumulatorState().bind(longs, 0, objects, 0);
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
      agg.read(s, in);
      assertThat(in.available()).as("bytes left after read").isZero();
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static AccumulatorState roundTrip(Aggregation agg, AccumulatorState s) {
    return read(agg, write(agg, s));
  }

  /** Seeds the JVM-wide Random that KLL sketches compact with, so quantile tests are reproducible. */
  static void seedKll(long seed) {
    try {
      Field f = KllSketch.class.getDeclaredField("random");
      f.setAccessible(true);
      ((Random) f.get(null)).setSeed(seed);
    } catch (ReflectiveOperationException | RuntimeException e) {
      // A later DataSketches without this field: tests still hold, just not bit-for-bit reproducible.
    }
  }
}
