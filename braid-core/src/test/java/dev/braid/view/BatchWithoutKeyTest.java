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
  void shouldCountTheEventsItLeavesOutForHavingNoGroupKeyOrForItsFilter(@TempDir Path dir) throws Exception {
    Map<String, FieldType> fields = new LinkedHashMap<>();
    fields.put("id", FieldType.STRING);
    fields.put("g", FieldType.STRING);
    fields.put("l", FieldType.LONG);
    EventSchema schema = new EventSchema("e", fields, "id", null);
    Random rnd = new Random(7);
    for (int round = 0; round < 4; round++) {
      boolean filtered = (round & 1) != 0;
      // grouped by the record's key with a fused fold, the cycle folds by radix (its own loop)
      boolean byRecordKey = round >= 2;
      ViewSpec.Builder b = ViewSpec.builder("v").from("e").groupBy(byRecordKey ? "id" : "g").aggregate("n", "count");
      if (filtered) {
        b.filter("l > 0");
      }
      ViewProgram program = new ViewProgram(b.build(), schema);
      try (FileLog log = FileLog.open(dir.resolve("log-" + round))) {
        LogStream stream = log.getOrCreateStream("e", StreamConfig.of(2).withDurability(Durability.os()));
        EventEncoder encoder = new EventEncoder(schema);
        EventEncoder.Encoded enc = new EventEncoder.Encoded();
        RadixFoldPropertyTest.Appender appender = new RadixFoldPropertyTest.Appender(stream);
        long expected = 0;
        long filteredOut = 0;
        for (int i = 0; i < 5000; i++) {
          Map<String, Object> event = new HashMap<>();
          event.put("id", "e" + i);
          boolean noKey = rnd.nextInt(7) == 0;
          event.put("g", noKey ? null : "g" + rnd.nextInt(50));
          long l = rnd.nextInt(21) - 10;
          event.put("l", l);
          assertThat(encoder.encode(event, 0L, enc)).isNull();
          appender.add(enc);
          expected += !byRecordKey && noKey && (!filtered || l > 0) ? 1 : 0;
          filteredOut += filtered && l <= 0 ? 1 : 0;
        }
        appender.finish();
        Cut cut = stream.end();
        BatchLayer.Counters counters = BatchLayer.Counters.create();
        BatchLayer layer = new BatchLayer(program, stream, 2, 1L << 28, counters, true);
        assertThat(layer.foldsByRadix()).isEqualTo(byRecordKey);
        layer.build(cut, dir.resolve("v-" + round + ".base"), dir.resolve("v-" + round + ".spill"));
        assertThat(expected > 0).isEqualTo(!byRecordKey);
        assertThat(filteredOut > 0).isEqualTo(filtered);
        assertThat(counters.withoutKey().get()).as("round %d", round).isEqualTo(expected);
        assertThat(counters.filteredOut().get()).as("round %d", round).isEqualTo(filteredOut);
        assertThat(counters.events().get()).isEqualTo(5000);
        assertThat(counters.admitted()).isEqualTo(5000 - filteredOut);
      }
    }
  }
}
