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
import dev.braid.log.StreamConfig;
import dev.braid.spec.ViewSpec;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A radix fold task that runs out of its own buckets folds buckets of another partition's task that
 * is still in pass 2, and the Base is the same as the one-pass fold's: partition 0 gets a handful
 * of events, the others tens of thousands over many small buckets, so with a thread per partition
 * the first task waits for the others to reach pass 2 and then takes some of their buckets. Also
 * with more partitions than threads (a task helps only those already in pass 2), with combined row
 * entries, and with a budget so tight that tables spill to runs; every cycle gives back all the
 * memory it reserved.
 */
class RadixFoldHelpTest {

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(2, 2, 1L << 30, BatchLayer.Combine.NEVER, true),
        Arguments.of(2, 2, 1L << 30, BatchLayer.Combine.ALWAYS, true),
        Arguments.of(3, 3, 1L << 30, BatchLayer.Combine.NEVER, true),
        Arguments.of(3, 2, 1L << 30, BatchLayer.Combine.NEVER, false),
        Arguments.of(2, 2, 96L << 10, BatchLayer.Combine.NEVER, false));
  }

  @ParameterizedTest(name = "{0} partitions, {1} threads, budget {2}, combine {3}")
  @MethodSource("cases")
  @Timeout(120)
  void shouldFoldAnotherPartitionsBucketsOnceItsOwnAreDoneAndBuildTheSameBase(int partitions, int threads, long budget,
      BatchLayer.Combine combine, boolean mustHelp, @TempDir Path dir) throws Exception {
    Map<String, FieldType> fields = new LinkedHashMap<>();
    fields.put("k", FieldType.STRING);
    fields.put("l", FieldType.LONG);
    fields.put("ts", FieldType.TIMESTAMP);
    EventSchema schema = new EventSchema("e", fields, "k", "ts");
    ViewSpec spec = ViewSpec.builder("v").from("e").groupBy("k")
        .aggregate("n", "count").aggregate("total", "sum(l)").aggregate("low", "min(l)").build();
    ViewProgram program = new ViewProgram(spec, schema);
    Random rnd = new Random(7);
    try (FileLog log = FileLog.open(dir.resolve("log"))) {
      LogStream stream = log.getOrCreateStream("e", StreamConfig.of(partitions).withDurability(Durability.os()));
      EventEncoder encoder = new EventEncoder(schema);
      EventEncoder.Encoded enc = new EventEncoder.Encoded();
      RadixFoldPropertyTest.Appender appender = new RadixFoldPropertyTest.Appender(stream);
      Set<ByteBuffer> keys = new LinkedHashSet<>();
      int small = 0;
      for (int i = 0; i < 60_000; i++) {
        String k = "key-" + rnd.nextInt(8_000);
        // the record key is the string's encoding; partition 0 keeps only its first few events
        byte[] key = encodedKey(encoder, k);
        int p = Partitioner.partition(key, 0, key.length, partitions);
        if (p == 0 && small++ >= 5) {
          continue;
        }
        Map<String, Object> event = new HashMap<>();
        event.put("k", k);
        event.put("l", (long) rnd.nextInt(1000) - 500);
        event.put("ts", 1000L + i);
        assertThat(encoder.encode(event, 0L, enc)).isNull();
        keys.add(ByteBuffer.wrap(appender.add(enc)));
      }
      appender.finish();
      Cut cut = stream.end();
      assertThat(cut.offset(0)).isEqualTo(5);

      BatchLayer onePass = new BatchLayer(program, stream, threads, 1L << 30, BatchLayer.Counters.create(),
          false);
      onePass.build(cut, dir.resolve("one-pass.base"), dir.resolve("one-pass.spill"));

      int helped = 0;
      for (int round = 0; round < 5 && (helped == 0 || round < 2); round++) {
        BatchLayer radix = new BatchLayer(program, stream, threads, budget, BatchLayer.Counters.create(),
            true, 16, combine);
        Path base = dir.resolve("radix-" + round + ".base");
        BatchLayer.Stats stats = radix.build(cut, base, dir.resolve("radix-" + round + ".spill"));
        helped += stats.bucketsHelped();
        String as = "round " + round + " (" + stats + ")";
        assertThat(radix.reservedBytes()).as(as + ": bytes still reserved after the cycle").isZero();
        if (budget < 1L << 20) {
          assertThat(stats.runsWritten()).as(as + ": runs spilled under the tight budget").isPositive();
        }
        try (BaseFile expected = BaseFile.open(dir.resolve("one-pass.base")); BaseFile actual = BaseFile.open(base)) {
          RadixFoldPropertyTest.assertSameBase(program, expected, actual, keys, true, as);
        }
      }
      if (mustHelp) {
        assertThat(helped).as("buckets of the larger partitions folded by partition 0's task").isPositive();
      }
    }
  }

  private static byte[] encodedKey(EventEncoder encoder, String k) {
    EventEncoder.Encoded enc = new EventEncoder.Encoded();
    Map<String, Object> event = new HashMap<>();
    event.put("k", k);
    event.put("l", 0L);
    event.put("ts", 0L);
    encoder.encode(event, 0L, enc);
    return enc.key().clone();
  }
}
