package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Events without a value for the group key are left out of the Base, and the batch layer counts
 * them, with and without a filter, so the batch cycle can say how many it left out. Such a view
 * groups by a field other than the record key (ingest refuses an event without its record key), so
 * the one-pass fold builds its Base (the radix fold groups by the record key).
 */
class BatchWithoutKeyTest {

  @Test
  void shouldCountTheEventsItLeavesOutForHavingNoGroupKey(@TempDir Path dir) throws Exception {
    Map<String, FieldType> fields = new LinkedHashMap<>();
    fields.put("id", FieldType.STRING);
    fields.put("g", FieldType.STRING);
    fields.put("l", FieldType.LONG);
    EventSchema schema = new EventSchema("e", fields, "id", null);
    Random rnd = new Random(7);
    for (boolean filtered : new boolean[] {false, true}) {
      ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy("g").aggregate("n", "count");
      if (filtered) {
        b.filter("l > 0");
      }
      ViewProgram program = new ViewProgram(b.build(), schema);
      try (FileLog log = FileLog.open(dir.resolve("log-" + filtered))) {
        LogStream stream = log.getOrCreateStream("e", StreamConfig.of(2).withDurability(Durability.os()));
        EventEncoder encoder = new EventEncoder(schema);
        EventEncoder.Encoded enc = new EventEncoder.Encoded();
        RadixFoldPropertyTest.Appender appender = new RadixFoldPropertyTest.Appender(stream);
        long expected = 0;
        for (int i = 0; i < 5000; i++) {
          Map<String, Object> event = new HashMap<>();
          event.put("id", "e" + i);
          boolean noKey = rnd.nextInt(7) == 0;
          event.put("g", noKey ? null : "g" + rnd.nextInt(50));
          long l = rnd.nextInt(21) - 10;
          event.put("l", l);
          assertThat(encoder.encode(event, 0L, enc)).isNull();
          appender.add(enc);
          expected += noKey && (!filtered || l > 0) ? 1 : 0;
        }
        appender.finish();
        Cut cut = stream.end();
        BatchLayer.Counters counters = BatchLayer.Counters.create();
        BatchLayer layer = new BatchLayer(program, stream, 2, 1L << 28, counters, true);
        assertThat(layer.foldsByRadix()).isFalse();
        layer.build(cut, dir.resolve("v-" + filtered + ".base"), dir.resolve("v-" + filtered + ".spill"));
        assertThat(expected).isPositive();
        assertThat(counters.withoutKey().get()).as("filtered %s", filtered).isEqualTo(expected);
        assertThat(counters.events().get()).isEqualTo(5000);
      }
    }
  }
}
