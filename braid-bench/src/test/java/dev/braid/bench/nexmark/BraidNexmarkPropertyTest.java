package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.LogStream;
import dev.braid.spec.PipelineSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Braid's merged results equal the naive reference for random generator configs: the views of all
 * five queries in one engine; the bids before a random cut recomputed by the batch layer into a
 * Base, the rest folded by the speed layer into the Delta; every row of every query read through
 * {@code get} (Base merged with Delta) and compared with {@link NaiveNexmark} over all the bids.
 */
class BraidNexmarkPropertyTest {

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void shouldMergeBaseAndDeltaIntoTheNaiveAnswerOfEveryQuery(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    NexmarkConfig config = new NexmarkConfig(rnd.nextLong(), 1 + rnd.nextInt(2_000),
        NexmarkConfig.DEFAULT_BASE_TIME + rnd.nextInt(86_400_000), 1 + rnd.nextInt(4), 1 + rnd.nextInt(5),
        1 + rnd.nextInt(200), 1 + rnd.nextInt(2_000), rnd.nextInt(50));
    long events = 2_000 + rnd.nextInt(30_000);
    long cut = rnd.nextInt((int) events + 1);
    int partitions = 1 + rnd.nextInt(3);
    String what = String.format("seed %d: %s, %d events, cut at event %d, %d partitions", seed, config, events, cut,
        partitions);
    NexmarkGenerator g = new NexmarkGenerator(config);
    List<NexmarkQuery> queries = List.of(NexmarkQuery.values());
    PipelineSpec spec = BraidNexmarkViews.pipeline(queries, partitions);
    try (Engine engine = Engine.open(dir, spec, EngineOptions.defaults().withBatchThreads(2)
        .withCheckpointEvery(Duration.ZERO))) {
      LogStream stream = engine.log().stream(NexmarkEmitters.STREAM);
      NexmarkEmitters.toLog(g, 0, cut, stream, spec.streams().get(NexmarkEmitters.STREAM));
      assertThat(engine.awaitCaughtUp(1, TimeUnit.MINUTES)).as(what).isTrue();
      for (NexmarkQuery q : queries) {
        for (String v : BraidNexmarkViews.viewNames(q)) {
          engine.runBatch(v, true);
        }
      }
      NexmarkEmitters.toLog(g, cut, events, stream, spec.streams().get(NexmarkEmitters.STREAM));
      assertThat(engine.awaitCaughtUp(1, TimeUnit.MINUTES)).as(what).isTrue();
      for (NexmarkQuery q : queries) {
        NexmarkResult.Collector braid = new NexmarkResult.Collector(q, "braid", BraidNexmarkViews.DISTINCT_RSE);
        BraidNexmarkViews.read(engine, q, g, events, braid);
        NexmarkResult.Comparison c = NexmarkResult.compare(NaiveNexmark.compute(q, g, events), braid.result(),
            "braid");
        assertThat(c.examples()).as("%s, %s: %d of %d rows differ", what, q, c.differences(), c.rowsCompared())
            .isEmpty();
        assertThat(c.rowsCompared()).as(what).isPositive();
      }
    }
  }
}
