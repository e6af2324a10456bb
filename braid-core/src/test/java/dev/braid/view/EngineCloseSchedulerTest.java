package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Engine#close} returns only once the batch scheduler has stopped, so no scheduled batch
 * cycle still runs against a closed log or writes the catalog after close, and a restart finds the
 * versions close left.
 */
class EngineCloseSchedulerTest {

  @TempDir
  Path dir;

  private static List<Thread> schedulers() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("braid-batch-scheduler") && t.isAlive()).toList();
  }

  @Test
  void shouldStopScheduledBatchCyclesBeforeCloseReturns() throws Exception {
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count")
            .batchEvery(Duration.ofMillis(5)).build())
        .build();
    for (int round = 0; round < 5; round++) {
      List<Thread> before = schedulers(); // an engine another test left open has one too
      Engine engine = Engine.open(dir, spec, EngineOptions.defaults());
      List<Map<String, Object>> events = new ArrayList<>();
      for (int i = 0; i < 20_000; i++) {
        events.add(Map.of("user", "user-" + (i % 2_000), "ts", 1_700_000_000_000L + i));
      }
      engine.ingest("clicks", events);
      Thread.sleep(100 + 50 * round); // batch cycles run every 5 ms meanwhile
      engine.close();
      assertThat(schedulers()).as("a batch scheduler still alive after close, round " + round)
          .allMatch(before::contains);
    }
    try (Engine engine = Engine.open(dir, spec, EngineOptions.defaults())) {
      assertThat(engine.get("per_user", "user-7").values().get("n")).isEqualTo(50L);
    }
  }
}
