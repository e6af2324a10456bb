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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A radix fold task that runs out of its own buckets folds buckets of another partition's task that
 * is still in pass 2, and the Base is the same as the one-pass fold's: one partition gets a handful
 * of events, the other tens of thousands over many small buckets, so the first task waits for the
 * second to reach pass 2 and then takes some of its buckets.
 */
class RadixFoldHelpTest {

  @Test
  void shouldFoldAnotherPartitionsBucketsOnceItsOwnAreDoneAndBuildTheSameBase(@TempDir Path dir) throws Exception {
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
      LogStream stream = log.getOrCreateStream("e", StreamConfig.of(2).withDurability(Durability.os()));
      EventEncoder encoder = new EventEncoder(schema);
      EventEncoder.Encoded enc = new EventEncoder.Encoded();
      RadixFoldPropertyTest.Appender appender = new RadixFoldPropertyTest.Appender(stream);
      Set<ByteBuffer> keys = new LinkedHashSet<>();
      int small = 0;
      for (int i = 0; i < 60_000; i++) {
        String k = "key-" + rnd.nextInt(8_000);
        // the record key is the string's encoding; partition 0 keeps only its first few events
        byte[] key = encodedKey(encoder, k);
        int p = Partitioner.partition(key, 0, key.length, 2);
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

      BatchLayer onePass = new BatchLayer(program, stream, 2, 1L << 30, BatchLayer.Counters.create(new AtomicLong()), false);
      onePass.build(cut, dir.resolve("one-pass.base"), dir.resolve("one-pass.spill"));

      int helped = 0;
      for (int round = 0; round < 5 && helped == 0; round++) {
        BatchLayer radix = new BatchLayer(program, stream, 2, 1L << 30, BatchLayer.Counters.create(new AtomicLong()),
            true, 16, BatchLayer.Combine.NEVER);
        Path base = dir.resolve("radix-" + round + ".base");
        BatchLayer.Stats stats = radix.build(cut, base, dir.resolve("radix-" + round + ".spill"));
        helped = stats.bucketsHelped();
        try (BaseFile expected = BaseFile.open(dir.resolve("one-pass.base")); BaseFile actual = BaseFile.open(base)) {
          RadixFoldPropertyTest.assertSameBase(program, expected, actual, keys, true, "round " + round);
        }
      }
      assertThat(helped).as("buckets of partition 1 folded by partition 0's task").isPositive();
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
