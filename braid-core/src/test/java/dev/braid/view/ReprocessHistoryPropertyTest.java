package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.ReprocessOptions;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.testing.Soak;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Guarantee 1 across reprocessings: over seeded random histories of ingests, batch cycles,
 * reprocesses (switched or held), activations of held and backup versions (rollback) and restarts
 * (which build an interrupted reprocess again), every read equals a naive recomputation of the definition of the version that answered it, over
 * the events below its {@code asOf} position.
 */
class ReprocessHistoryPropertyTest {

  static LongStream seeds() {
    return LongStream.range(0, Long.getLong("braid.reprocess.history.seeds", Soak.seeds(30)));
  }

  /** The definitions a history moves between; all are checked by {@link #check}. */
  static List<ViewSpec> definitions(ViewSpec.Mode mode) {
    return List.of(
        ReprocessTest.oldDefinition(mode),
        ReprocessTest.newDefinition(mode),
        ViewSpec.builder("stats").from("tx").groupBy("merchant").aggregate("n", "count").mode(mode).build(),
        ViewSpec.builder("stats").from("tx").filter("qty > 0").groupBy("user").aggregate("n", "count")
            .aggregate("q", "sum(qty)").mode(mode).keep(1).build());
  }

  static void check(ViewResult r, ViewSpec d, List<ReprocessTest.Ev> events, String context) {
    boolean byMerchant = d.groupBy().equals("merchant");
    boolean positive = d.filter() != null;
    List<ReprocessTest.Ev> es = new ArrayList<>();
    for (ReprocessTest.Ev e : events) {
      if (e.offset() < r.asOf().position().offset(e.partition()) && (!positive || e.qty() > 0)
          && (byMerchant ? e.merchant() : e.user()).equals(r.key())) {
        es.add(e);
      }
    }
    String as = context + ": key " + r.key() + " as of " + r.asOf() + " (" + d.definition() + ")";
    assertThat(r.found()).as(as + " found").isEqualTo(!es.isEmpty());
    assertThat(r.values().keySet()).as(as + " outputs").containsExactlyElementsOf(d.aggregates().keySet());
    assertThat(r.values().get("n")).as(as + " n").isEqualTo((long) es.size());
    if (d.aggregates().containsKey("q")) {
      assertThat(r.values().get("q")).as(as + " q").isEqualTo(es.stream().mapToLong(ReprocessTest.Ev::qty).sum());
    }
    if (d.aggregates().containsKey("hi")) {
      assertThat(r.values().get("hi")).as(as + " hi")
          .isEqualTo(es.stream().map(ReprocessTest.Ev::qty).max(Long::compare).orElse(null));
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldServeExactMergeOfTheAnsweringDefinitionAcrossReprocessesRollbacksAndRestarts(long seed,
      @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    ViewSpec.Mode mode = rnd.nextBoolean() ? ViewSpec.Mode.KAPPA : ViewSpec.Mode.LAMBDA;
    int partitions = 1 + rnd.nextInt(3);
    List<ViewSpec> defs = definitions(mode);
    PipelineSpec spec = ReprocessTest.spec(partitions, defs.get(0));
    ReprocessTest.History history = new ReprocessTest.History();
    Braid braid = Braid.open(dir, spec);
    try {
      int steps = 12 + rnd.nextInt(12);
      for (int step = 0; step < steps; step++) {
        String context = String.format("seed %d (%s, %d partitions), step %d", seed, mode, partitions, step);
        int action = rnd.nextInt(100);
        if (action < 35) {
          ReprocessTest.ingest(braid, rnd, 1 + rnd.nextInt(rnd.nextInt(5) == 0 ? 1500 : 60), partitions, history);
        } else if (action < 45 && mode == ViewSpec.Mode.LAMBDA) {
          braid.runBatch("stats");
        } else if (action < 62) {
          ViewSpec d = defs.get(rnd.nextInt(defs.size()));
          boolean hold = rnd.nextInt(3) == 0;
          try {
            braid.reprocess("stats", d, new ReprocessOptions(hold));
          } catch (IllegalStateException e) {
            assertThat(e.getMessage()).as(context).containsAnyOf("still building", "is held for activation");
          }
        } else if (action < 75) {
          if (rnd.nextBoolean()) {
            awaitNoBuild(braid, context); // else a replay may still run: activation waits for it
          }
          // What builds is read before the candidates: a build that ends in between switches its
          // version in, and the backup it pushes out retires, so a candidate listed as a backup
          // may be retired by the time it is activated, but only if something was building here.
          VersionInfo building = building(braid);
          List<VersionInfo> candidates = braid.versions("stats").stream()
              .filter(v -> v.state() == VersionState.BACKUP || v.state() == VersionState.BUILDING).toList();
          if (!candidates.isEmpty()) {
            VersionInfo v = candidates.get(rnd.nextInt(candidates.size()));
            if (building == null && v.state() == VersionState.BACKUP && rnd.nextInt(3) == 0) {
              // a rollback left running: the next steps may read, reprocess, activate or restart beside it (a
              // restart resumes it; the close stops the activation's wait)
              Braid b = braid;
              java.util.concurrent.CompletableFuture<Long> rollback = java.util.concurrent.CompletableFuture
                  .supplyAsync(() -> b.activate("stats", v.id()));
              long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
              while (!rollback.isDone() && stateOf(braid, v.id()) == VersionState.BACKUP) {
                assertThat(System.nanoTime()).as(context + ": the rollback starts").isLessThan(deadline);
                Thread.sleep(1);
              }
              if (rollback.isCompletedExceptionally()) {
                rollback.join(); // nothing else builds: it must not be refused
              }
            } else if (building == null) {
              assertThat(braid.activate("stats", v.id())).as(context).isEqualTo(v.id());
              assertThat(currentId(braid)).as(context).isEqualTo(v.id());
            } else {
              // a backup is refused while a build runs or is held; a build that ended meanwhile
              // lets it through, or retired it
              try {
                assertThat(braid.activate("stats", v.id())).as(context).isEqualTo(v.id());
                if (v.state() == VersionState.BACKUP) {
                  assertThat(building(braid)).as(context).isNull();
                }
              } catch (IllegalStateException e) {
                if (e.getMessage().contains("retired")) {
                  assertThat(stateOf(braid, v.id())).as(context + ": " + e.getMessage()).isEqualTo(VersionState.RETIRED);
                } else {
                  assertThat(v.state()).as(context + ": " + e.getMessage()).isEqualTo(VersionState.BACKUP);
                  assertThat(e.getMessage()).as(context).containsAnyOf("still building", "is held for activation");
                }
              }
            }
          }
        } else if (action < 85) {
          VersionInfo before = building(braid);
          braid.close();
          braid = Braid.open(dir, spec);
          // a reprocess or rollback the restart interrupted is built again (held again if it was); nothing else
          // builds
          VersionInfo after = building(braid);
          if (before == null) {
            assertThat(after).as(context + ": nothing builds after a restart").isNull();
          } else if (after != null) {
            assertThat(after.id()).as(context + ": the interrupted build builds again").isEqualTo(before.id());
            assertThat(after.progress().hold()).as(context + ": held as before").isEqualTo(before.progress().hold());
          }
        } else {
          awaitNoBuild(braid, context);
        }
        for (int r = 0; r < 4; r++) {
          checkRead(braid, braid.get("stats", ReprocessTest.randomKey(rnd)), history, context);
        }
      }
      awaitNoBuild(braid, "seed " + seed + ", final");
      assertThat(((Engine) braid).awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      for (int k = 0; k < 6; k++) {
        checkRead(braid, braid.get("stats", "m" + k), history, "seed " + seed + ", final");
        checkRead(braid, braid.get("stats", "u" + k), history, "seed " + seed + ", final");
      }
    } finally {
      braid.close();
    }
  }

  private static long currentId(Braid b) {
    return b.versions("stats").stream().filter(v -> v.state() == VersionState.CURRENT).findFirst().orElseThrow().id();
  }

  private static VersionState stateOf(Braid b, long id) {
    return b.versions("stats").stream().filter(v -> v.id() == id).findFirst().orElseThrow().state();
  }

  private static VersionInfo building(Braid b) {
    return b.versions("stats").stream().filter(v -> v.progress() != null).findFirst().orElse(null);
  }

  /** Waits until no reprocess is replaying; a held one stays held. */
  private static void awaitNoBuild(Braid b, String context) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      VersionInfo v = building(b);
      if (v == null || v.progress().phase().equals("held")) {
        return;
      }
      Thread.sleep(2);
    }
    throw new AssertionError(context + ": a build did not finish: " + b.versions("stats"));
  }

  private static void checkRead(Braid braid, ViewResult r, ReprocessTest.History history, String context) {
    Map<Long, String> definitionOf = new HashMap<>();
    for (VersionInfo v : braid.versions("stats")) {
      definitionOf.put(v.id(), v.definition());
    }
    String definition = definitionOf.get(r.asOf().version());
    assertThat(definition).as(context + ": the version that answered is unknown").isNotNull();
    ViewSpec d = null;
    for (ViewSpec x : definitions(ViewSpec.Mode.LAMBDA)) {
      if (x.definition().equals(definition)) {
        d = x;
      }
    }
    assertThat(d).as(context + ": unknown definition " + definition).isNotNull();
    check(r, d, history.snapshot(), context);
  }
}
