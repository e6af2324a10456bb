package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An activation that comes while a batch cycle of the old definition folds the log stops that fold
 * part way (the cycle's version would be dropped for the switch anyway) instead of waiting for its
 * end: the activation answers, and the cycle runs again with the new definition. Before, the
 * activation waited out the whole fold (42 s in a black-box test) and then the cycle's work was
 * thrown away.
 */
class BatchCycleGivesWayTest {

  private static final int EVENTS = 400_000;

  @TempDir
  Path dir;

  @Test
  void shouldStopARunningBatchCyclesFoldWhenAnActivationComesToWait() throws Exception {
    // a filter of some microseconds an event, so that the fold of 200,000 events a partition takes a while
    ViewSpec old = ViewSpec.builder("stats").from("tx").filter("qty >= 0" + " && user.matches('^u[0-9]+$')".repeat(8))
        .groupBy("user").aggregate("n", "count").build();
    ViewSpec next = ViewSpec.builder("stats").from("tx").groupBy("merchant").aggregate("n", "count").build();
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, old))) {
      List<Map<String, Object>> chunk = new ArrayList<>();
      for (int i = 0; i < EVENTS; i++) {
        chunk.add(Map.of("user", "u" + (i % 1000), "merchant", "m" + (i % 6), "qty", 1L, "ts", 1_700_000_000_000L + i));
        if (chunk.size() == 10_000) {
          braid.ingest("tx", chunk);
          chunk.clear();
        }
      }
      long held = braid.reprocess("stats", next, ReprocessOptions.held());
      ReprocessTest.awaitHeld(braid, held);
      braid.ingest("tx", List.of(Map.of("user", "u1", "merchant", "m0", "qty", 1L, "ts", 1_800_000_000_000L)));
      ViewRuntime runtime = ((Engine) braid).viewRuntime("stats");

      CompletableFuture<Long> cycle = CompletableFuture.supplyAsync(() -> braid.runBatch("stats"));
      AtomicLong read = null; // the events the first cycle's fold has read
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (read == null || read.get() == 0) {
        ViewRuntime.BatchProgress p = runtime.batchProgress;
        read = p == null ? null : p.events();
        assertThat(cycle).as("the cycle still folds when it is seen reading").isNotDone();
        assertThat(System.nanoTime()).as("the fold reports progress").isLessThan(deadline);
        Thread.onSpinWait();
      }

      assertThat(braid.activate("stats", held)).isEqualTo(held);
      long built = cycle.get(60, TimeUnit.SECONDS);

      assertThat(read.get()).as("the old definition's fold stopped part way").isLessThan(EVENTS);
      assertThat(built).as("the cycle ran again").isGreaterThan(held + 1);
      assertThat(ReprocessTest.version(braid, built).definition()).isEqualTo(next.definition());
      assertThat(braid.versions("stats")).extracting(dev.braid.VersionInfo::id).doesNotContain(held + 1);
      assertThat(braid.get("stats", "m0").values().get("n")).isEqualTo((long) (EVENTS + 5) / 6 + 1);
    }
  }
}
