package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.IngestResult;
import dev.braid.ReplayProgress;
import dev.braid.ReprocessOptions;
import dev.braid.UnknownNameException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.Partitioner;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.SpecError;
import dev.braid.spec.SpecException;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reprocess (Kappa replay, Lambda recompute + catch-up), the atomic switch, hold and activate,
 * rollback, restarts and failed replays, checked against a naive recomputation of whichever
 * definition the version that answered a read has.
 */
class ReprocessTest {

  /** One ingested event with its place in the log. */
  record Ev(String user, String merchant, long qty, int partition, long offset) {}

  /** The events that {@link #ingest} wrote, in no particular order; shared by the ingest threads. */
  static final class History {
    final List<Ev> events = Collections.synchronizedList(new ArrayList<>());

    List<Ev> snapshot() {
      synchronized (events) {
        return new ArrayList<>(events);
      }
    }
  }

  static ViewSpec oldDefinition(ViewSpec.Mode mode) {
    return ViewSpec.builder("stats").from("tx").groupBy("user").aggregate("n", "count").aggregate("q", "sum(qty)")
        .mode(mode).build();
  }

  /** A different filter, group key and aggregations: nothing of the old state can be reused. */
  static ViewSpec newDefinition(ViewSpec.Mode mode) {
    return ViewSpec.builder("stats").from("tx").filter("qty > 0").groupBy("merchant").aggregate("n", "count")
        .aggregate("q", "sum(qty)").aggregate("hi", "max(qty)").mode(mode).build();
  }

  static PipelineSpec spec(int partitions, ViewSpec view) {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("tx").partitions(partitions).key("user").time("ts")
            .field("user", FieldType.STRING).field("merchant", FieldType.STRING).field("qty", FieldType.LONG)
            .field("ts", FieldType.TIMESTAMP).build())
        .view(view)
        .build();
  }

  static void ingest(Braid braid, Random rnd, int n, int partitions, History history) {
    List<Map<String, Object>> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("user", "u" + rnd.nextInt(20));
      e.put("merchant", "m" + rnd.nextInt(6));
      e.put("qty", (long) rnd.nextInt(11) - 3);
      e.put("ts", 1_700_000_000_000L + rnd.nextInt(1_000_000));
      batch.add(e);
    }
    IngestResult r = braid.ingest("tx", batch);
    assertThat(r.rejections()).isEmpty();
    Map<Integer, Integer> taken = new HashMap<>();
    List<Ev> out = new ArrayList<>();
    for (Map<String, Object> e : batch) {
      byte[] key = ((String) e.get("user")).getBytes(StandardCharsets.UTF_8);
      int p = Partitioner.partition(key, 0, key.length, partitions);
      int idx = taken.merge(p, 1, Integer::sum) - 1;
      out.add(new Ev((String) e.get("user"), (String) e.get("merchant"), (Long) e.get("qty"), p,
          r.positions().get(p).get(idx)));
    }
    history.events.addAll(out);
  }

  /** Checks {@code r} against a naive recomputation of {@code definition} below its asOf position. */
  static void check(ViewResult r, ViewSpec definition, List<Ev> events, String context) {
    boolean byMerchant = definition.groupBy().equals("merchant");
    List<Ev> es = new ArrayList<>();
    for (Ev e : events) {
      if (e.offset() < r.asOf().position().offset(e.partition())
          && (byMerchant ? e.merchant().equals(r.key()) && e.qty() > 0 : e.user().equals(r.key()))) {
        es.add(e);
      }
    }
    String as = context + ": key " + r.key() + " as of " + r.asOf() + " (" + definition.definition() + ")";
    assertThat(r.found()).as(as + " found").isEqualTo(!es.isEmpty());
    assertThat(r.values().keySet()).as(as + " outputs").containsExactlyElementsOf(definition.aggregates().keySet());
    assertThat(r.values().get("n")).as(as + " n").isEqualTo((long) es.size());
    assertThat(r.values().get("q")).as(as + " q").isEqualTo(es.stream().mapToLong(Ev::qty).sum());
    if (byMerchant) {
      assertThat(r.values().get("hi")).as(as + " hi")
          .isEqualTo(es.stream().map(Ev::qty).max(Long::compare).orElse(null));
    }
  }

  /** {@link #newDefinition}, whose filter lets the same events pass, but costs tens of microseconds an event. */
  static ViewSpec slowDefinition(ViewSpec.Mode mode) {
    String slow = "qty > 0" + " && user.matches('^u[0-9]+$') && merchant.matches('^m[0-9]+$')".repeat(20);
    return ViewSpec.builder("stats").from("tx").filter(slow).groupBy("merchant").aggregate("n", "count")
        .aggregate("q", "sum(qty)").aggregate("hi", "max(qty)").mode(mode).build();
  }

  /**
   * Makes a version of {@link #slowDefinition} a backup ({@link #oldDefinition} serves again) after 5,000 events,
   * then ingests 60,000 more, so that a rollback to it replays for a while; returns its id.
   */
  static long slowBackup(Braid braid, ViewSpec.Mode mode, Random rnd, History history) throws InterruptedException {
    ingest(braid, rnd, 5_000, 2, history);
    long slowId = braid.reprocess("stats", slowDefinition(mode), ReprocessOptions.defaults());
    awaitState(braid, slowId, VersionState.CURRENT);
    long back = braid.reprocess("stats", oldDefinition(mode), ReprocessOptions.defaults());
    awaitState(braid, back, VersionState.CURRENT); // the slow version is a backup now
    for (int i = 0; i < 6; i++) {
      ingest(braid, rnd, 10_000, 2, history);
    }
    return slowId;
  }

  /** Starts {@code activate} of version {@code id} on a thread of its own; what it throws goes to {@code answer}. */
  static Thread startActivation(Braid braid, long id, AtomicReference<Throwable> answer) {
    Thread t = new Thread(() -> {
      try {
        braid.activate("stats", id);
      } catch (Throwable e) {
        answer.set(e);
      }
    });
    t.start();
    return t;
  }

  /** Waits (60 s at most) until the rollback to {@code id} replays with progress that {@code until} accepts. */
  static ReplayProgress awaitRollback(Braid braid, long id, java.util.function.Predicate<ReplayProgress> until)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    ReplayProgress p;
    do {
      p = version(braid, id).progress();
      assertThat(System.nanoTime()).as("rollback under way: %s", braid.versions("stats")).isLessThan(deadline);
      Thread.sleep(1);
    } while (p == null || !p.phase().equals("replay") || !until.test(p));
    return p;
  }

  /** Waits until the speed layer has folded everything the log holds (10 s at most). */
  static void awaitCaughtUp(Braid braid) throws InterruptedException {
    assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
  }

  /** {@link #check}s the six merchants' answers against {@code definition} over every event of {@code history}. */
  static void checkMerchants(Braid braid, ViewSpec definition, History history, String context) {
    for (int m = 0; m < 6; m++) {
      check(braid.get("stats", "m" + m), definition, history.snapshot(), context);
    }
  }

  static String randomKey(Random rnd) {
    return rnd.nextBoolean() ? "u" + rnd.nextInt(21) : "m" + rnd.nextInt(7);
  }

  static VersionInfo version(Braid b, long id) {
    return b.versions("stats").stream().filter(v -> v.id() == id).findFirst().orElseThrow();
  }

  static long currentId(Braid b) {
    return b.versions("stats").stream().filter(v -> v.state() == VersionState.CURRENT).findFirst().orElseThrow().id();
  }

  /** Waits until the reprocess into version {@code id} has caught up and is held for activation. */
  static void awaitHeld(Braid b, long id) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!"held".equals(version(b, id).progress() == null ? null : version(b, id).progress().phase())) {
      assertThat(System.nanoTime()).as("version %d gets held: %s", id, b.versions("stats")).isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  /** Waits until version {@code id} is in {@code state}; fails with the versions on timeout. */
  static VersionInfo awaitState(Braid b, long id, VersionState state) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      VersionInfo v = version(b, id);
      if (v.state() == state) {
        return v;
      }
      Thread.sleep(2);
    }
    throw new AssertionError("version " + id + " did not become " + state + ": " + b.versions("stats"));
  }

  static Stream<Arguments> seedsAndModes() {
    long seeds = Long.getLong("braid.reprocess.seeds", 8);
    return Stream.of(ViewSpec.Mode.values())
        .flatMap(m -> java.util.stream.LongStream.range(0, seeds).mapToObj(s -> Arguments.of(m, s)));
  }

  // ---------------------------------------------------------------------------------------------

  @ParameterizedTest(name = "{0}, seed {1}")
  @MethodSource("seedsAndModes")
  void shouldServeTheOldThenTheNewDefinitionExactlyAndMonotonicallyAcrossASwitchUnderIngest(ViewSpec.Mode mode,
      long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int partitions = 1 + rnd.nextInt(3);
    ViewSpec oldDef = oldDefinition(mode);
    ViewSpec newDef = newDefinition(mode);
    History history = new History();
    String context = "mode " + mode + ", seed " + seed;
    try (Braid braid = Braid.open(dir, spec(partitions, oldDef))) {
      for (int i = 0; i < 6; i++) {
        ingest(braid, rnd, 200 + rnd.nextInt(300), partitions, history); // past ATTACH_LAG: the replay path runs
      }
      if (mode == ViewSpec.Mode.LAMBDA && rnd.nextBoolean()) {
        braid.runBatch("stats");
        ingest(braid, rnd, 50, partitions, history);
      }
      long oldId = currentId(braid);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Random ingestRandom = new Random(rnd.nextLong());
      Thread writer = new Thread(() -> {
        try {
          while (!stop.get()) {
            ingest(braid, ingestRandom, 1 + ingestRandom.nextInt(30), partitions, history);
            Thread.sleep(1);
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        }
      });
      int readers = 3;
      List<List<ViewResult>> seen = new ArrayList<>();
      List<Thread> readerThreads = new ArrayList<>();
      java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
      for (int k = 0; k < readers; k++) {
        List<ViewResult> mine = new ArrayList<>();
        seen.add(mine);
        Random readRandom = new Random(rnd.nextLong());
        readerThreads.add(new Thread(() -> {
          try {
            while (!stop.get()) {
              mine.add(braid.get("stats", randomKey(readRandom)));
              reads.incrementAndGet();
              java.util.concurrent.locks.LockSupport.parkNanos(20_000); // leave the 2 cores some air
            }
          } catch (Throwable t) {
            failure.compareAndSet(null, t);
          }
        }));
      }
      writer.start();
      readerThreads.forEach(Thread::start);
      Thread.sleep(rnd.nextInt(20));
      long newId = braid.reprocess("stats", newDef, ReprocessOptions.defaults());
      assertThat(newId).isGreaterThan(oldId);
      int batch = mode == ViewSpec.Mode.LAMBDA ? rnd.nextInt(3) : 0;
      if (batch == 1) {
        // races the reprocess: the old definition, switched out later; or, when the reprocess comes to
        // wait for its switch while the cycle computes, the new one (the cycle runs again after it)
        braid.runBatch("stats");
      }
      long deadline0 = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (version(braid, newId).state() != VersionState.CURRENT
          && !(batch == 1 && version(braid, newId).state() == VersionState.BACKUP)) {
        assertThat(System.nanoTime()).as("%s: version %d switches in: %s", context, newId, braid.versions("stats"))
            .isLessThan(deadline0);
        Thread.sleep(2);
      }
      if (batch == 2) {
        braid.runBatch("stats"); // after the switch: batch cycles compute the new definition
      }
      Thread.sleep(10 + rnd.nextInt(30));
      // on a loaded machine the readers may not have run since the switch: let them read some more
      long readsAfterSwitch = reads.get() + 3L * readers;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (reads.get() < readsAfterSwitch && System.nanoTime() < deadline) {
        Thread.sleep(1);
      }
      stop.set(true);
      writer.join();
      for (Thread t : readerThreads) {
        t.join();
      }
      assertThat(failure.get()).as(context + ": a reader or the writer failed").isNull();
      assertThat(((Engine) braid).awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      assertThat(version(braid, oldId).state()).as(context).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, newId).progress()).as(context).isNull();
      // which definition each version computes (a batch cycle's version has the current one's)
      Map<Long, ViewSpec> definitionOf = new HashMap<>();
      for (VersionInfo v : braid.versions("stats")) {
        definitionOf.put(v.id(), v.definition().equals(newDef.definition()) ? newDef : oldDef);
      }
      assertThat(definitionOf.get(currentId(braid))).as(context).isSameAs(newDef);
      List<Ev> events = history.snapshot();
      int checked = 0;
      for (int k = 0; k < readers; k++) {
        ViewResult prev = null;
        List<ViewResult> mine = seen.get(k);
        int step = Math.max(1, mine.size() / 200);
        int switchedAt = -1;
        for (int i = 0; i < mine.size(); i++) {
          if (definitionOf.get(mine.get(i).asOf().version()) == newDef) {
            switchedAt = i;
            break;
          }
        }
        for (int i = 0; i < mine.size(); i++) {
          ViewResult r = mine.get(i);
          String where = context + ", reader " + k + ", read " + i;
          ViewSpec def = definitionOf.get(r.asOf().version());
          assertThat(def).as(where + ": unknown version").isNotNull();
          if (prev != null) {
            assertThat(definitionOf.get(prev.asOf().version()) == newDef && def == oldDef)
                .as(where + ": went back to the old definition after the new one").isFalse();
            assertThat(r.asOf().position().isAtOrAfter(prev.asOf().position()))
                .as(where + ": position went back from " + prev.asOf() + " to " + r.asOf()).isTrue();
          }
          // a mixed answer would equal neither definition; check a sample, and every read near the switch
          if (i % step == 0 || (switchedAt >= 0 && Math.abs(i - switchedAt) <= 50)) {
            checked++;
            check(r, def, events, where);
          }
          prev = r;
        }
      }
      assertThat(checked).as(context).isGreaterThan(0);
      assertThat(seen.stream().flatMap(List::stream).map(r -> definitionOf.get(r.asOf().version())).distinct())
          .as(context + ": the readers saw the switch").contains(oldDef, newDef);
      for (int m = 0; m < 6; m++) {
        ViewResult r = braid.get("stats", "m" + m);
        assertThat(definitionOf.get(r.asOf().version())).isSameAs(newDef);
        check(r, newDef, events, context + ", final");
      }
      ViewResult user = braid.get("stats", "u1");
      assertThat(user.found()).as("the new definition has no user keys").isFalse();
    }
  }

  @Test
  void shouldReplayAKappaViewFromAGivenCutCountingOnlyTheEventsFromThere(@TempDir Path dir) throws Exception {
    Random rnd = new Random(11);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.KAPPA)))) {
      ingest(braid, rnd, 1200, 2, history);
      dev.braid.log.Cut from = braid.log().stream("tx").end();
      long id = braid.reprocess("stats", newDefinition(ViewSpec.Mode.KAPPA),
          ReprocessOptions.defaults().withReplayFrom(from));
      awaitState(braid, id, VersionState.CURRENT);
      ingest(braid, rnd, 300, 2, history);
      awaitCaughtUp(braid);

      List<Ev> all = history.snapshot();
      for (int m = 0; m < 6; m++) {
        ViewResult r = braid.get("stats", "m" + m);
        assertThat(r.asOf().version()).isEqualTo(id);
        assertThat(r.asOf().cut()).isEqualTo(from);
        List<Ev> after = all.stream().filter(e -> e.offset() >= from.offset(e.partition())).toList();
        check(r, newDefinition(ViewSpec.Mode.KAPPA), after, "replayed from " + from);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(ViewSpec.Mode.class)
  void shouldDiscardAHeldVersionAndLetAnotherReprocessStart(ViewSpec.Mode mode, @TempDir Path dir) throws Exception {
    Random rnd = new Random(5);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(mode)))) {
      ingest(braid, rnd, 800, 2, history);
      long oldId = currentId(braid);
      long held = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      awaitHeld(braid, held);
      assertThatThrownBy(() -> braid.discard("stats", oldId)).isInstanceOf(IllegalStateException.class)
          .hasMessage("version " + oldId + " of view 'stats' is current: only a reprocess that is held for "
              + "activation can be discarded (and a rollback that runs cancelled)");
      assertThatThrownBy(() -> braid.discard("stats", 99)).isInstanceOf(dev.braid.UnknownNameException.class);

      braid.discard("stats", held);

      VersionInfo gone = version(braid, held);
      assertThat(gone.state()).isEqualTo(VersionState.DISCARDED);
      assertThat(gone.failure()).isEqualTo("discarded by request before activation");
      assertThat(currentId(braid)).isEqualTo(oldId);
      assertThatThrownBy(() -> braid.activate("stats", held)).isInstanceOf(IllegalStateException.class);
      ingest(braid, rnd, 100, 2, history);
      awaitCaughtUp(braid);
      check(braid.get("stats", "u3"), oldDefinition(mode), history.snapshot(), "after the discard");
      Path viewDir = dir.resolve("views").resolve("stats"); // a kappa view writes no Base, maybe no directory
      if (java.nio.file.Files.isDirectory(viewDir)) {
        try (Stream<Path> files = java.nio.file.Files.list(viewDir)) {
          assertThat(files.map(f -> f.getFileName().toString())).noneMatch(f -> f.startsWith("v" + held + "."));
        }
      }
      long next = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.defaults());
      awaitState(braid, next, VersionState.CURRENT);
      check(braid.get("stats", "m1"), newDefinition(mode), history.snapshot(), "after the next reprocess");
    }
  }

  /**
   * A rollback to the version a batch cycle's switch has just made a backup, started before that switch has tidied
   * up: the tidy-up drops the Delta the version served, not the one its rollback replays into, and the rollback
   * switches in with exact answers (it failed with a NullPointerException when the tidy-up dropped its Delta).
   */
  @Test
  void shouldRollBackToTheVersionASwitchJustMadeABackupBeforeItsTidyUp(@TempDir Path dir) throws Exception {
    ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
    Random rnd = new Random(19);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(mode)))) {
      ingest(braid, rnd, 2_000, 2, history);
      long oldId = currentId(braid);
      ViewRuntime runtime = ((Engine) braid).viewRuntime("stats");
      AtomicReference<Object> activated = new AtomicReference<>();
      AtomicReference<String> seen = new AtomicReference<>();
      runtime.afterSwitch = () -> { // the old version is a backup, its Delta not yet dropped: roll back to it now
        Thread activator = new Thread(() -> {
          try {
            activated.set(braid.activate("stats", oldId));
          } catch (Throwable t) {
            activated.set(t);
          }
        });
        activator.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        ReplayProgress p = null;
        while (System.nanoTime() < deadline && activated.get() == null
            && ((p = version(braid, oldId).progress()) == null || p.eventsReplayed() == 0)) {
          Thread.onSpinWait();
        }
        seen.set(String.valueOf(p)); // the rollback replays into its own Delta; its switch waits for the cycle's lock
      };
      long built = braid.runBatch("stats");
      assertThat(built).isGreaterThan(oldId);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (activated.get() == null) {
        assertThat(System.nanoTime()).as("the rollback answers").isLessThan(deadline);
        Thread.sleep(2);
      }
      assertThat(activated.get()).as("the rollback (its progress when the tidy-up went on: %s)", seen.get())
          .isEqualTo(oldId);
      ingest(braid, rnd, 100, 2, history);
      awaitCaughtUp(braid);
      for (int u = 0; u < 20; u++) {
        ViewResult r = braid.get("stats", "u" + u);
        assertThat(r.asOf().version()).isEqualTo(oldId);
        check(r, oldDefinition(mode), history.snapshot(), "rolled back during the switch's tidy-up");
      }
    }
  }

  /**
   * A reprocess whose replay ran ahead of the stream's speed layer (another view on the stream slows it) attaches
   * its Delta past the partition threads; a batch cycle right after its switch attaches its own Delta at its cut,
   * and swaps in with exact answers while the threads catch up with both.
   */
  @Test
  void shouldSwapABatchCycleInAfterASwitchToADeltaAheadOfTheSpeedLayer(@TempDir Path dir) throws Exception {
    ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
    Random rnd = new Random(29);
    History history = new History();
    ViewSpec slow = ViewSpec.builder("slow").from("tx").filter("qty > -100" + " && user.matches('^u[0-9]+$')"
        .repeat(40)).groupBy("user").aggregate("n", "count").build();
    PipelineSpec spec = PipelineSpec.builder().stream(spec(2, oldDefinition(mode)).streams().get("tx"))
        .view(oldDefinition(mode)).view(slow).build();
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 2_000, 2, history);
      awaitCaughtUp(braid);
      for (int i = 0; i < 8; i++) { // the slow view keeps the partition threads behind the log for a while
        ingest(braid, rnd, 10_000, 2, history);
      }
      long id = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.defaults());
      awaitState(braid, id, VersionState.CURRENT);
      ingest(braid, rnd, 100, 2, history); // events after its cut: the cycle builds a version
      long built = braid.runBatch("stats");
      assertThat(built).as("the cycle's version").isGreaterThan(id);
      assertThat(currentId(braid)).isEqualTo(built);
      awaitCaughtUp(braid);
      checkMerchants(braid, newDefinition(mode), history, "a batch cycle right after a switch");
    }
  }

  /**
   * Batch cycles under continuous ingest swap in and answer exactly: each swap compares the new Delta's position with
   * the current one's while the speed layer folds both (read without the locks, that comparison could fail a swap
   * between two releases of a fold batch; {@link DeltaPositionLockTest} pins the locked reads down).
   */
  @Test
  void shouldSwapBatchCyclesInWhileTheSpeedLayerFoldsBothDeltas(@TempDir Path dir) throws Exception {
    Random rnd = new Random(31);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      Thread ingest = new Thread(() -> {
        Random r = new Random(37);
        try {
          while (!stop.get()) {
            ingest(braid, r, 200, 2, history);
            Thread.sleep(1); // a steady stream the speed layer folds as it comes, in batches of a few records
          }
        } catch (Throwable t) {
          failed.set(t);
        }
      });
      ingest.start();
      try {
        for (int i = 0; i < 100 && failed.get() == null; i++) {
          braid.runBatch("stats");
        }
      } finally {
        stop.set(true);
        ingest.join(10_000);
      }
      assertThat(failed.get()).isNull();
      ingest(braid, rnd, 10, 2, history);
      awaitCaughtUp(braid);
      for (int u = 0; u < 20; u++) {
        check(braid.get("stats", "u" + u), oldDefinition(ViewSpec.Mode.LAMBDA), history.snapshot(), "after cycles");
      }
    }
  }

  /**
   * A rollback can be cancelled part way through its replay ({@code discard} of the version being rolled back to):
   * the replay stops, the version is a backup again (with its Base, kept), the current version keeps serving, the
   * activation that asked for it fails saying so, and a later rollback to it replays and switches in as before.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(ViewSpec.Mode.class)
  void shouldCancelARollbackPartWay(ViewSpec.Mode mode, @TempDir Path dir) throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(mode));
    History history = new History();
    Random rnd = new Random(41);
    try (Braid braid = Braid.open(dir, spec)) {
      long slowId = slowBackup(braid, mode, rnd, history);
      long back = currentId(braid);
      AtomicReference<Throwable> answer = new AtomicReference<>();
      Thread rollback = startActivation(braid, slowId, answer);
      awaitRollback(braid, slowId, p -> p.eventsReplayed() >= 1_000 && p.lag() >= 10_000);

      braid.discard("stats", slowId);

      rollback.join(10_000);
      assertThat(answer.get()).as("the activation is told").isNotNull().hasMessageContaining("cancelled by request");
      assertThat(version(braid, slowId).state()).isEqualTo(VersionState.BACKUP);
      assertThat(currentId(braid)).isEqualTo(back);
      ingest(braid, rnd, 100, 2, history);
      awaitCaughtUp(braid);
      check(braid.get("stats", "u4"), oldDefinition(mode), history.snapshot(), "after the cancel");
      assertThat(DeltaCheckpoint.list(dir.resolve("views").resolve("stats"))).as("no checkpoint of it is kept")
          .extracting(DeltaCheckpoint.FileRef::version).doesNotContain(slowId);
      assertThat(braid.activate("stats", slowId)).as("rolled back to after all").isEqualTo(slowId);
      checkMerchants(braid, newDefinition(mode), history, "rolled back to after a cancel");
    }
  }

  /**
   * A close that begins while a rollback's start is being recorded in the catalog: the builder is shut down only
   * after the rollback's build is handed to it, so the close stops the rollback as it stops any (the caller told
   * so) and the next start resumes it, as the catalog says; never "refused" with the catalog marking it.
   */
  @Test
  void shouldResumeARollbackWhoseStartACloseOvertook(@TempDir Path dir) throws Exception {
    Random rnd = new Random(29);
    History history = new History();
    ViewSpec oldDef = oldDefinition(ViewSpec.Mode.KAPPA);
    ViewSpec newDef = newDefinition(ViewSpec.Mode.KAPPA);
    long oldId;
    Braid braid = Braid.open(dir, spec(2, oldDef));
    Throwable answer = null;
    try {
      ingest(braid, rnd, 2_000, 2, history);
      oldId = currentId(braid);
      long next = braid.reprocess("stats", newDef, ReprocessOptions.defaults());
      awaitState(braid, next, VersionState.CURRENT);
      ViewRuntime runtime = ((Engine) braid).viewRuntime("stats");
      java.lang.reflect.Field persist = ViewRuntime.class.getDeclaredField("persist");
      persist.setAccessible(true);
      Runnable real = (Runnable) persist.get(runtime);
      AtomicBoolean once = new AtomicBoolean();
      Braid closing = braid;
      persist.set(runtime, (Runnable) () -> {
        real.run();
        if (once.compareAndSet(false, true)) { // the rollback's start, recorded: the close begins now
          new Thread(closing::close).start();
          try {
            Thread.sleep(300); // time enough for the close to reach the builder, were it not held off
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      });
      try {
        braid.activate("stats", oldId);
      } catch (IllegalStateException e) {
        answer = e;
      }
    } finally {
      braid.close();
    }
    assertThat(answer).as("the close stopped the rollback").isNotNull();
    assertThat(answer.getMessage()).doesNotContain("the engine is closing").contains("the engine closed");
    try (Braid again = Braid.open(dir, spec(2, newDef))) {
      awaitState(again, oldId, VersionState.CURRENT); // resumed: the catalog marked it
      for (int u = 0; u < 20; u++) {
        check(again.get("stats", "u" + u), oldDef, history.snapshot(), "rolled back after the restart");
      }
    }
  }

  /** A rollback asked for once the engine has closed its builder is refused, and the version stays a backup. */
  @Test
  void shouldRefuseARollbackOnceTheBuilderHasStopped(@TempDir Path dir) throws Exception {
    Random rnd = new Random(23);
    History history = new History();
    ViewRuntime runtime;
    long oldId;
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.KAPPA)))) {
      ingest(braid, rnd, 200, 2, history);
      oldId = currentId(braid);
      long next = braid.reprocess("stats", newDefinition(ViewSpec.Mode.KAPPA), ReprocessOptions.defaults());
      awaitState(braid, next, VersionState.CURRENT);
      runtime = ((Engine) braid).viewRuntime("stats");
    }
    assertThatThrownBy(() -> runtime.activate(oldId)).isInstanceOf(IllegalStateException.class)
        .hasMessage("version " + oldId + " of view 'stats' cannot be activated: the engine is closing");
    assertThat(runtime.versions()).filteredOn(v -> v.id() == oldId).extracting(VersionInfo::state)
        .containsExactly(VersionState.BACKUP);
  }

  /**
   * A held reprocess activated while a batch cycle computes the old definition: the cycle's version
   * is dropped unserved, the reprocessed version switches in, and the cycle runs again with its
   * definition, so the batch answers a version of what the view now computes. Without the drop, the
   * cycle's old-definition version would be current for an instant and then retire the older
   * rollback point.
   */
  @Test
  void shouldLetAReprocessThatWaitsToSwitchSupersedeARunningBatchCycle(@TempDir Path dir) throws Exception {
    ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
    Random rnd = new Random(11);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(mode)))) {
      ingest(braid, rnd, 600, 2, history);
      long oldId = currentId(braid);
      long held = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      awaitHeld(braid, held);
      ingest(braid, rnd, 200, 2, history);
      ViewRuntime runtime = ((Engine) braid).viewRuntime("stats");
      AtomicReference<Object> activated = new AtomicReference<>();
      Thread activator = new Thread(() -> {
        try {
          activated.set(braid.activate("stats", held));
        } catch (Throwable t) {
          activated.set(t);
        }
      });
      List<Long> idsWhileBuilt = new ArrayList<>();
      AtomicReference<Object> answeredBeforeTheRerunEnded = new AtomicReference<>();
      runtime.beforeBatchSwap = () -> { // the cycle's version is built; the activation now comes to wait
        braid.versions("stats").forEach(v -> idsWhileBuilt.add(v.id()));
        activator.start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (runtime.waitingToSwitch() == null && System.nanoTime() < until) {
          Thread.onSpinWait();
        }
        runtime.beforeBatchSwap = () -> { // the cycle runs again once the held version is in: activate has answered
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
          while (activated.get() == null && System.nanoTime() < deadline) {
            Thread.onSpinWait();
          }
          answeredBeforeTheRerunEnded.set(activated.get());
        };
      };

      long built = braid.runBatch("stats");
      activator.join(30_000);

      assertThat(answeredBeforeTheRerunEnded.get()).as("the activation answers once its version is current, not "
          + "after the cycle that gave way to it has run again").isEqualTo(held);
      assertThat(activated.get()).isEqualTo(held);
      long dropped = idsWhileBuilt.stream().mapToLong(Long::longValue).max().orElseThrow();
      assertThat(dropped).as("the first cycle's version").isGreaterThan(held);
      assertThat(built).as("the cycle ran again").isGreaterThan(dropped);
      assertThat(currentId(braid)).isEqualTo(built);
      assertThat(version(braid, built).definition()).isEqualTo(newDefinition(mode).definition());
      assertThat(version(braid, held).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, oldId).state()).as("the old definition's rollback point").isEqualTo(VersionState.BACKUP);
      assertThat(braid.versions("stats")).extracting(VersionInfo::id).doesNotContain(dropped);
      try (Stream<Path> files = java.nio.file.Files.list(dir.resolve("views").resolve("stats"))) {
        assertThat(files.map(f -> f.getFileName().toString())).noneMatch(f -> f.startsWith("v" + dropped + "."));
      }
      ingest(braid, rnd, 50, 2, history);
      awaitCaughtUp(braid);
      for (int m = 0; m < 6; m++) {
        ViewResult r = braid.get("stats", "m" + m);
        assertThat(r.asOf().version()).isEqualTo(built);
        check(r, newDefinition(mode), history.snapshot(), "after the superseded cycle");
      }
    }
  }

  @Test
  void shouldRefuseAReplayStartThatIsNotAKappaViewsOrNotInTheLog(@TempDir Path dir) {
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.KAPPA)))) {
      ingest(braid, new Random(3), 50, 2, new History());
      dev.braid.log.Cut end = braid.log().stream("tx").end();
      assertThatThrownBy(() -> braid.reprocess("stats", newDefinition(ViewSpec.Mode.KAPPA),
          ReprocessOptions.defaults().withReplayFrom(dev.braid.log.Cut.of(0, 0, 0))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("has 3 offsets; stream 'tx' has 2 partitions");
      assertThatThrownBy(() -> braid.reprocess("stats", newDefinition(ViewSpec.Mode.KAPPA),
          ReprocessOptions.defaults().withReplayFrom(dev.braid.log.Cut.of(end.offset(0) + 1, 0))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("offset " + (end.offset(0) + 1) + " of partition 0 is outside the log");
    }
    try (Braid braid = Braid.open(dir.resolve("lambda"), spec(2, oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      assertThatThrownBy(() -> braid.reprocess("stats", newDefinition(ViewSpec.Mode.LAMBDA),
          ReprocessOptions.defaults().withReplayFrom(dev.braid.log.Cut.of(0, 0))))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is a lambda view");
    }
  }

  @ParameterizedTest
  @EnumSource(ViewSpec.Mode.class)
  void shouldHoldTheNewVersionUntilItIsActivated(ViewSpec.Mode mode, @TempDir Path dir) throws Exception {
    Random rnd = new Random(7);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(mode)))) {
      ingest(braid, rnd, 1500, 2, history);
      long oldId = currentId(braid);
      long newId = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      ReplayProgress p;
      do {
        Thread.sleep(2);
        p = version(braid, newId).progress();
      } while (!p.phase().equals("held") && System.nanoTime() < deadline);
      assertThat(p.phase()).isEqualTo("held");
      assertThat(p.hold()).isTrue();
      Thread.sleep(20);
      assertThat(version(braid, newId).progress().eventsPerSecond()).as("the rate it caught up at, not falling")
          .isEqualTo(p.eventsPerSecond());
      assertThat(p.eventsReplayed()).isGreaterThanOrEqualTo(1500);
      assertThat(p.eventsTotal()).as("read + lag: the events from the start to the log's end").isEqualTo(1500);
      assertThat(braid.status().views().get(0).reprocess().version()).isEqualTo(newId);
      ingest(braid, rnd, 40, 2, history);
      awaitCaughtUp(braid);
      // held: still building, following the log, and reads stay on the old version
      VersionInfo held = version(braid, newId);
      assertThat(held.state()).isEqualTo(VersionState.BUILDING);
      assertThat(held.position()).isEqualTo(braid.log().stream("tx").end());
      assertThat(braid.get("stats", "u1").asOf().version()).isEqualTo(oldId);
      assertThatThrownBy(() -> braid.reprocess("stats", oldDefinition(mode), ReprocessOptions.defaults()))
          .isInstanceOf(IllegalStateException.class).hasMessageEndingWith("has caught up and is held for "
              + "activation; activate it or discard it before another reprocess or a rollback (one runs at a time)");

      assertThat(braid.activate("stats", newId)).isEqualTo(newId);
      assertThat(version(braid, newId).state()).isEqualTo(VersionState.CURRENT);
      assertThat(version(braid, oldId).state()).isEqualTo(VersionState.BACKUP);
      assertThat(braid.status().views().get(0).reprocess()).isNull();
      ViewResult r = braid.get("stats", "m2");
      assertThat(r.asOf().version()).isEqualTo(newId);
      check(r, newDefinition(mode), history.snapshot(), "after activation");
    }
  }

  @ParameterizedTest
  @EnumSource(ViewSpec.Mode.class)
  void shouldKeepAReprocessedVersionAcrossARestartAndRollBackAfterOne(ViewSpec.Mode mode, @TempDir Path dir)
      throws Exception {
    Random rnd = new Random(11);
    History history = new History();
    PipelineSpec spec = spec(3, oldDefinition(mode));
    long oldId;
    long newId;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 1200, 3, history);
      if (mode == ViewSpec.Mode.LAMBDA) {
        braid.runBatch("stats"); // a backup with a Base file, which rollback must keep using
        ingest(braid, rnd, 100, 3, history);
      }
      oldId = currentId(braid);
      newId = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.defaults());
      awaitState(braid, newId, VersionState.CURRENT);
      ingest(braid, rnd, 100, 3, history);
    }
    if (mode == ViewSpec.Mode.LAMBDA) {
      assertThat(dir.resolve("views/stats/v" + oldId + ".base")).exists();
      assertThat(dir.resolve("views/stats/v" + newId + ".base")).exists();
    }
    try (Braid braid = Braid.open(dir, spec)) {
      // the spec file did not change the view: the reprocessed definition stays current
      ViewResult r = braid.get("stats", "m1");
      assertThat(r.asOf().version()).isEqualTo(newId);
      check(r, newDefinition(mode), history.snapshot(), "after restart");
      assertThat(version(braid, oldId).state()).isEqualTo(VersionState.BACKUP);

      assertThat(braid.activate("stats", oldId)).isEqualTo(oldId);
      assertThat(version(braid, newId).state()).isEqualTo(VersionState.BACKUP);
      ingest(braid, rnd, 60, 3, history);
      awaitCaughtUp(braid);
      for (int u = 0; u < 20; u++) {
        ViewResult x = braid.get("stats", "u" + u);
        assertThat(x.asOf().version()).isEqualTo(oldId);
        check(x, oldDefinition(mode), history.snapshot(), "after rollback");
      }
    }
    try (Braid braid = Braid.open(dir, spec)) {
      ViewResult r = braid.get("stats", "u3");
      assertThat(r.asOf().version()).isEqualTo(oldId);
      check(r, oldDefinition(mode), history.snapshot(), "after rollback and restart");
      // and forward again, to the reprocessed definition restored from the catalog
      braid.activate("stats", newId);
      check(braid.get("stats", "m4"), newDefinition(mode), history.snapshot(), "after a second activation");
    }
  }

  /**
   * A new definition that fails at run time on some events (qty 0 divides by zero; no validation
   * can see it coming) leaves them out and counts them, as the spec file's definition does (the
   * speed layer's rule), in the Base of a Lambda version and in the replay of a Kappa one: the
   * version becomes current and serves exactly the events the definition can fold.
   */
  @ParameterizedTest
  @EnumSource(ViewSpec.Mode.class)
  void shouldLeaveOutAndCountTheEventsTheNewDefinitionFailsOnAsTheSpecPathDoes(ViewSpec.Mode mode,
      @TempDir Path dir) throws Exception {
    Random rnd = new Random(3);
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(mode)))) {
      braid.ingest("tx", List.of(Map.of("user", "u0", "merchant", "m0", "qty", 0L, "ts", 1L)));
      history.events.add(new Ev("u0", "m0", 0, Partitioner.partition("u0".getBytes(StandardCharsets.UTF_8), 0, 2, 2),
          0));
      ingest(braid, rnd, 1500, 2, history);
      ViewSpec failing = ViewSpec.builder("stats").from("tx").filter("100 / qty > 1").groupBy("merchant")
          .aggregate("n", "count").mode(mode).build();

      long id = braid.reprocess("stats", failing, ReprocessOptions.defaults());

      awaitState(braid, id, VersionState.CURRENT);
      awaitCaughtUp(braid);
      List<Ev> all = history.snapshot();
      long zeros = all.stream().filter(e -> e.qty() == 0).count();
      assertThat(zeros).as("the history has events the filter fails on").isPositive();
      dev.braid.Status.ViewStatus st = braid.status().views().get(0);
      assertThat(st.skippedEvents()).isEqualTo(zeros);
      for (String m : List.of("m0", "m1", "m2", "m3", "m4")) {
        long expected = all.stream().filter(e -> e.merchant().equals(m) && e.qty() != 0 && 100 / e.qty() > 1).count();
        assertThat(braid.get("stats", m).values().get("n")).as(m).isEqualTo(expected);
      }
    }
  }

  @Test
  void shouldFailTheVersionOnAnIoErrorAndKeepServing(@TempDir Path dir) throws Exception {
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      ingest(braid, new Random(4), 300, 2, history);
      // the next version's Base file name is taken by a directory: writing the Base fails
      java.nio.file.Files.createDirectories(dir.resolve("views/stats/v2.base/in-the-way"));
      long id = braid.reprocess("stats", newDefinition(ViewSpec.Mode.LAMBDA), ReprocessOptions.defaults());
      assertThat(id).isEqualTo(2);
      VersionInfo failed = awaitState(braid, id, VersionState.FAILED);
      assertThat(failed.failure()).contains("Exception");
      assertThat(currentId(braid)).isEqualTo(1);
      check(braid.get("stats", "u4"), oldDefinition(ViewSpec.Mode.LAMBDA), history.snapshot(), "after an IO error");
    }
    try (Braid braid = Braid.open(dir, spec(2, oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      assertThat(dir.resolve("views/stats/v2.base")).as("removed as an orphan").doesNotExist();
      assertThat(version(braid, 2).state()).isEqualTo(VersionState.FAILED);
      assertThat(currentId(braid)).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @EnumSource(ViewSpec.Mode.class)
  void shouldSwitchAHeldVersionActivatedWhileItIsStillReplayingOnceItHasCaughtUp(ViewSpec.Mode mode,
      @TempDir Path dir) throws Exception {
    History history = new History();
    try (Braid braid = Braid.open(dir, spec(3, oldDefinition(mode)))) {
      Random rnd = new Random(8);
      for (int i = 0; i < 4; i++) {
        ingest(braid, rnd, 1000, 3, history);
      }
      long id = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      assertThat(currentId(braid)).isEqualTo(id);
      awaitCaughtUp(braid);
      check(braid.get("stats", "m0"), newDefinition(mode), history.snapshot(), "activated early");
    }
  }

  static Stream<Arguments> modesHoldsAndStops() {
    return Stream.of(ViewSpec.Mode.values()).flatMap(m -> Stream.of(
        Arguments.of(m, false, false), Arguments.of(m, true, false), Arguments.of(m, true, true)));
  }

  /**
   * A restart resumes a reprocess it interrupted: the version is built again from its cut (held
   * again if it was, including one that had caught up and waited for its activation), while the old
   * version keeps serving, and once current it answers what a full recompute of the new definition
   * over every event, before and after the restart, gives.
   */
  @ParameterizedTest(name = "{0}, held {1}, caught up before the stop {2}")
  @MethodSource("modesHoldsAndStops")
  void shouldResumeAReprocessThatARestartInterrupted(ViewSpec.Mode mode, boolean hold, boolean caughtUp,
      @TempDir Path dir) throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(mode));
    History history = new History();
    Random rnd = new Random(5);
    long oldId;
    long id;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 3000, 2, history);
      oldId = currentId(braid);
      id = braid.reprocess("stats", newDefinition(mode), hold ? ReprocessOptions.held() : ReprocessOptions.defaults());
      if (caughtUp) {
        awaitPhase(braid, id, "held");
      }
    }
    try (Braid braid = Braid.open(dir, spec)) {
      VersionInfo v = version(braid, id);
      if (v.state() != VersionState.CURRENT) { // a resumed build may already be through
        assertThat(v.state()).as("resumed, not failed: %s", v).isEqualTo(VersionState.BUILDING);
      }
      ingest(braid, rnd, 500, 2, history);
      if (hold) {
        awaitPhase(braid, id, "held");
        assertThat(currentId(braid)).as("held again: the old version serves until an activation").isEqualTo(oldId);
        check(braid.get("stats", "u2"), oldDefinition(mode), history.snapshot(), "while held after the restart");
        assertThat(braid.activate("stats", id)).isEqualTo(id);
      } else {
        awaitState(braid, id, VersionState.CURRENT);
      }
      assertThat(currentId(braid)).isEqualTo(id);
      awaitCaughtUp(braid);
      checkMerchants(braid, newDefinition(mode), history, "resumed after a restart");
    }
    try (Braid braid = Braid.open(dir, spec)) { // and it stays current
      assertThat(currentId(braid)).isEqualTo(id);
      check(braid.get("stats", "m1"), newDefinition(mode), history.snapshot(), "after another restart");
    }
  }

  /**
   * A reprocess held for activation is checkpointed beside the current version: a restart restores its Delta
   * (and a lambda version's Base) from the checkpoint and replays only the events after it, not the log from the
   * version's cut. Activated, it answers what a full recompute of the new definition gives; discarded, its
   * checkpoints go with it.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(ViewSpec.Mode.class)
  void shouldRestoreAHeldReprocessFromItsCheckpointAfterARestart(ViewSpec.Mode mode, @TempDir Path dir)
      throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(mode));
    History history = new History();
    Random rnd = new Random(11);
    long oldId;
    long id;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 3000, 2, history);
      oldId = currentId(braid);
      id = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      awaitPhase(braid, id, "held");
      ingest(braid, rnd, 400, 2, history); // the held version follows the log
      awaitCaughtUp(braid);
    } // the close takes the final checkpoints: the current version's and the held one's
    Path viewDir = dir.resolve("views").resolve("stats");
    assertThat(DeltaCheckpoint.list(viewDir)).as("checkpoints of both versions")
        .extracting(DeltaCheckpoint.FileRef::version).contains(oldId, id);
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 300, 2, history);
      awaitPhase(braid, id, "held");
      awaitCaughtUp(braid);
      ReplayProgress p = version(braid, id).progress();
      // a kappa version's Delta holds every event; a lambda version's Delta the ones after its Base's cut, and its
      // Base, kept, the rest
      assertThat(p.eventsFromCheckpoint()).as("restored from the checkpoint the close took: %s", p).isEqualTo(3400);
      if (mode == ViewSpec.Mode.LAMBDA) {
        assertThat(((Engine) braid).view("stats").recomputeProgress(id)).as("its Base kept, not recomputed").isNull();
      }
      assertThat(p.eventsReplayed()).as("read by the build: %s", p).isEqualTo(p.eventsFromCheckpoint() + 300);
      assertThat(currentId(braid)).as("held again: the old version serves").isEqualTo(oldId);
      check(braid.get("stats", "u3"), oldDefinition(mode), history.snapshot(), "while held after the restart");
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      checkMerchants(braid, newDefinition(mode), history, "restored, then activated");
      // another held reprocess, discarded: its checkpoints go
      long again = braid.reprocess("stats", oldDefinition(mode), ReprocessOptions.held());
      awaitPhase(braid, again, "held");
      ingest(braid, rnd, 100, 2, history); // a lambda version's Delta holds something to checkpoint
      awaitCaughtUp(braid);
      ((Engine) braid).checkpointAll();
      assertThat(DeltaCheckpoint.list(viewDir)).extracting(DeltaCheckpoint.FileRef::version).contains(again);
      braid.discard("stats", again);
      assertThat(DeltaCheckpoint.list(viewDir)).as("the discarded version's checkpoints are deleted")
          .extracting(DeltaCheckpoint.FileRef::version).doesNotContain(again, oldId);
    }
    try (Braid braid = Braid.open(dir, spec)) {
      assertThat(currentId(braid)).isEqualTo(id);
      assertThat(braid.status().views().get(0).checkpoints().replayedOnStart()).as("a clean restart replays nothing")
          .isZero();
      check(braid.get("stats", "m2"), newDefinition(mode), history.snapshot(), "after another restart");
    }
  }

  /**
   * A reprocess whose replay a clean close stops part way is checkpointed where it stopped: the next start
   * restores its Delta (a lambda version's Base kept) and replays only the rest, and once current the version
   * answers what a full recompute of its definition gives.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(ViewSpec.Mode.class)
  void shouldResumeAReplayThatACloseStoppedFromItsCheckpoint(ViewSpec.Mode mode, @TempDir Path dir)
      throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(mode));
    ViewSpec slowDefinition = slowDefinition(mode);
    History history = new History();
    Random rnd = new Random(13);
    long id;
    long replayedAtClose;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 10_000, 2, history);
      id = braid.reprocess("stats", slowDefinition, ReprocessOptions.held()); // held: its progress stays to read
      for (int i = 0; i < 6; i++) { // after a lambda version's cut: its Delta replays them
        ingest(braid, rnd, 10_000, 2, history);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      ReplayProgress p;
      do { // part way through the replay of the Delta
        p = version(braid, id).progress();
        assertThat(p).as("still building").isNotNull();
        assertThat(System.nanoTime()).as("replay under way: %s", p).isLessThan(deadline);
        Thread.sleep(1);
      } while (!p.phase().equals("replay") || p.lag() > 50_000);
      replayedAtClose = p.eventsReplayed();
    } // stops the replay between chunks, and checkpoints its Delta
    assertThat(DeltaCheckpoint.list(dir.resolve("views").resolve("stats")))
        .as("the close checkpointed the replay it stopped").extracting(DeltaCheckpoint.FileRef::version).contains(id);
    try (Braid braid = Braid.open(dir, spec)) {
      awaitPhase(braid, id, "held");
      awaitCaughtUp(braid);
      ReplayProgress p = version(braid, id).progress();
      long base = mode == ViewSpec.Mode.KAPPA ? 0 : 10_000; // a lambda version's Base: read before the close
      assertThat(p.eventsFromCheckpoint()).as("restored from the close's checkpoint (%d events read before it): %s",
          replayedAtClose, p).isPositive().isGreaterThanOrEqualTo(replayedAtClose - base);
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      checkMerchants(braid, newDefinition(mode), history, "a replay resumed");
    }
  }

  /**
   * A rollback that a close stops part way through its replay is resumed by the next start, from the checkpoint the
   * close took (a lambda backup keeps its Base): the catalog marks the backup as being rolled back to. Once current
   * the version answers what a full recompute of its definition gives, and a further restart keeps it current.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(ViewSpec.Mode.class)
  void shouldResumeARollbackThatACloseStoppedFromItsCheckpoint(ViewSpec.Mode mode, @TempDir Path dir)
      throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(mode));
    History history = new History();
    Random rnd = new Random(17);
    long slowId;
    long replayedAtClose;
    try (Braid braid = Braid.open(dir, spec)) {
      slowId = slowBackup(braid, mode, rnd, history);
      AtomicReference<Throwable> answer = new AtomicReference<>();
      Thread rollback = startActivation(braid, slowId, answer);
      // part way through the rollback's replay
      ReplayProgress p = awaitRollback(braid, slowId, x -> x.lag() <= 50_000 && x.eventsReplayed() >= 1_000);
      replayedAtClose = p.eventsReplayed();
      assertThat(p.rollback()).as("a rollback's progress says so: %s", p).isTrue();
      braid.close();
      rollback.join(10_000);
      assertThat(answer.get()).as("the activation is told the close stopped it").isNotNull()
          .hasMessageContaining("could not be activated");
    }
    assertThat(DeltaCheckpoint.list(dir.resolve("views").resolve("stats")))
        .as("the close checkpointed the rollback it stopped").extracting(DeltaCheckpoint.FileRef::version)
        .contains(slowId);
    try (Braid braid = Braid.open(dir, spec)) {
      // the rest of the replay takes the slow definition about a second: its progress says what the checkpoint kept
      long fromCheckpoint = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      VersionInfo v;
      while ((v = version(braid, slowId)).state() == VersionState.BUILDING) {
        fromCheckpoint = Math.max(fromCheckpoint, v.progress().eventsFromCheckpoint());
        assertThat(v.progress().rollback()).as("resumed as a rollback: %s", v).isTrue();
        assertThat(System.nanoTime()).as("the rollback resumed gets current: %s", v).isLessThan(deadline);
        Thread.sleep(1);
      }
      assertThat(v.state()).as("the rollback resumed: %s", v).isEqualTo(VersionState.CURRENT);
      assertThat(fromCheckpoint).as("restored from the close's checkpoint (%d events replayed before it)",
          replayedAtClose).isGreaterThanOrEqualTo(replayedAtClose);
      ingest(braid, rnd, 200, 2, history);
      awaitCaughtUp(braid);
      checkMerchants(braid, newDefinition(mode), history, "a rollback resumed");
    }
    try (Braid braid = Braid.open(dir, spec)) {
      assertThat(currentId(braid)).as("current after another restart").isEqualTo(slowId);
      checkMerchants(braid, newDefinition(mode), history, "after another restart");
    }
  }

  /**
   * A held lambda version keeps its Base across a restart with what the Base left out: the events an aggregation
   * failed on are counted as before the restart, while held and once it serves.
   */
  @Test
  void shouldKeepTheCountsOfAHeldLambdaBaseAcrossARestart(@TempDir Path dir) throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(ViewSpec.Mode.LAMBDA));
    // fails (division by zero) on every event of qty -3
    ViewSpec failing = ViewSpec.builder("stats").from("tx").groupBy("merchant").aggregate("n", "count")
        .aggregate("big", "count where 60 / (qty + 3) > 15").mode(ViewSpec.Mode.LAMBDA).build();
    History history = new History();
    Random rnd = new Random(5);
    long id;
    long skipped;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 3000, 2, history);
      id = braid.reprocess("stats", failing, ReprocessOptions.held());
      awaitPhase(braid, id, "held");
      ingest(braid, rnd, 300, 2, history);
      awaitCaughtUp(braid);
      skipped = version(braid, id).progress().skippedEvents();
    }
    long expected = history.snapshot().stream().filter(e -> e.qty() == -3).count();
    assertThat(skipped).as("every event of qty -3, in the Base and in the Delta").isEqualTo(expected);
    try (Braid braid = Braid.open(dir, spec)) {
      awaitPhase(braid, id, "held");
      awaitCaughtUp(braid);
      ReplayProgress p = version(braid, id).progress();
      assertThat(p.eventsFromCheckpoint()).as("%s", p).isEqualTo(3300);
      assertThat(p.skippedEvents()).as("held, after the restart: %s", p).isEqualTo(expected);
      braid.activate("stats", id);
      assertThat(braid.status().views().get(0).skippedEvents()).as("serving").isEqualTo(expected);
    }
  }

  /**
   * While a lambda reprocess recomputes its Base, its progress counts the events the recompute left out so far, not
   * 0 until the Base is built.
   */
  @Test
  void shouldCountSkippedEventsWhileALambdaBaseIsRecomputed(@TempDir Path dir) throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(ViewSpec.Mode.LAMBDA));
    String slow = "qty > -10" + " && user.matches('^u[0-9]+$') && merchant.matches('^m[0-9]+$')".repeat(20);
    ViewSpec failing = ViewSpec.builder("stats").from("tx").filter(slow).groupBy("merchant").aggregate("n", "count")
        .aggregate("big", "count where 60 / (qty + 3) > 15").mode(ViewSpec.Mode.LAMBDA).build();
    History history = new History();
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, new Random(7), 20_000, 2, history);
      long expected = history.snapshot().stream().filter(e -> e.qty() == -3).count();
      long id = braid.reprocess("stats", failing, ReprocessOptions.held());
      long partial = 0; // a count seen while the recompute ran: above 0, below all of them
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      ReplayProgress p = version(braid, id).progress();
      while (p.phase().equals("batch")) {
        if (p.skippedEvents() > 0 && p.skippedEvents() < expected) {
          partial = p.skippedEvents();
        }
        assertThat(System.nanoTime()).as("the recompute ends: %s", p).isLessThan(deadline);
        Thread.sleep(1);
        p = version(braid, id).progress();
      }
      assertThat(partial).as("events left out, counted as the Base was recomputed").isPositive();
      awaitPhase(braid, id, "held");
      assertThat(version(braid, id).progress().skippedEvents()).as("all of them once built").isEqualTo(expected);
    }
  }

  /**
   * A held lambda version whose Delta holds nothing yet (no event after its cut) is checkpointed all the same: the
   * checkpoint is what keeps its Base, which a restart would otherwise recompute.
   */
  @Test
  void shouldKeepTheBaseOfAHeldLambdaVersionWithAnEmptyDelta(@TempDir Path dir) throws Exception {
    PipelineSpec spec = spec(2, oldDefinition(ViewSpec.Mode.LAMBDA));
    History history = new History();
    Random rnd = new Random(6);
    long id;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 3000, 2, history);
      id = braid.reprocess("stats", newDefinition(ViewSpec.Mode.LAMBDA), ReprocessOptions.held());
      awaitPhase(braid, id, "held");
    }
    try (Braid braid = Braid.open(dir, spec)) {
      awaitPhase(braid, id, "held");
      assertThat(((Engine) braid).view("stats").recomputeProgress(id)).as("its Base kept, not recomputed").isNull();
      assertThat(version(braid, id).progress().eventsFromCheckpoint()).isEqualTo(3000);
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      checkMerchants(braid, newDefinition(ViewSpec.Mode.LAMBDA), history, "Base kept");
    }
  }

  /**
   * A held lambda reprocess whose Base file is damaged after its checkpoint was taken is not restored from that
   * checkpoint (whose Delta builds on the Base): its Base is recomputed at its cut and its Delta replayed from
   * there, and it answers as a full recompute gives.
   */
  @Test
  void shouldRecomputeAHeldLambdaReprocessWhoseBaseIsDamaged(@TempDir Path dir) throws Exception {
    ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
    PipelineSpec spec = spec(2, oldDefinition(mode));
    History history = new History();
    Random rnd = new Random(12);
    long id;
    try (Braid braid = Braid.open(dir, spec)) {
      ingest(braid, rnd, 2000, 2, history);
      id = braid.reprocess("stats", newDefinition(mode), ReprocessOptions.held());
      awaitPhase(braid, id, "held");
      ingest(braid, rnd, 300, 2, history);
      awaitCaughtUp(braid);
    }
    Path base = dir.resolve("views").resolve("stats").resolve("v" + id + ".base");
    byte[] bytes = Files.readAllBytes(base);
    bytes[bytes.length / 2] ^= 0x40;
    Files.write(base, bytes);
    try (Braid braid = Braid.open(dir, spec)) {
      awaitPhase(braid, id, "held");
      awaitCaughtUp(braid);
      ReplayProgress p = version(braid, id).progress();
      assertThat(p.eventsFromCheckpoint()).as("built again from its cut: %s", p).isZero();
      assertThat(p.eventsReplayed()).as("the Base recomputed and the Delta replayed: %s", p).isEqualTo(2300);
      assertThat(braid.activate("stats", id)).isEqualTo(id);
      checkMerchants(braid, newDefinition(mode), history, "Base recomputed, activated");
    }
  }

  /**
   * A close while a lambda reprocess recomputes its Base cancels the recompute instead of waiting
   * for it (30 s at most, then the close went on without it): the version stays building and is
   * built again at the next start.
   */
  @Test
  void shouldCancelALambdaReprocessRecomputeOnClose(@TempDir Path dir) throws Exception {
    ViewSpec.Mode mode = ViewSpec.Mode.LAMBDA;
    PipelineSpec spec = spec(2, oldDefinition(mode));
    ViewSpec slowDefinition = slowDefinition(mode);
    History history = new History();
    Random rnd = new Random(13);
    long id;
    ViewRuntime runtime;
    try (Braid braid = Braid.open(dir, spec)) {
      for (int i = 0; i < 20; i++) {
        ingest(braid, rnd, 10_000, 2, history);
      }
      runtime = ((Engine) braid).viewRuntime("stats");
      id = braid.reprocess("stats", slowDefinition, ReprocessOptions.defaults());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      VersionInfo v;
      while ((v = version(braid, id)).progress() == null || v.progress().eventsReplayed() == 0) {
        assertThat(System.nanoTime()).as("the recompute starts: %s", v).isLessThan(deadline);
        Thread.sleep(1);
      }
      assertThat(v.progress().phase()).as("closed while it recomputes: %s", v).isEqualTo("batch");
    }
    assertThat(runtime.closeTimedOut).as("the close did not wait in vain").isFalse();
    long[] read = runtime.recomputeProgress(id);
    assertThat(read).isNotNull();
    assertThat(read[0]).as("the close cancelled the recompute before its end").isLessThan(read[1]);
    try (Braid braid = Braid.open(dir, spec)) {
      VersionInfo v = version(braid, id);
      if (v.state() != VersionState.CURRENT) {
        assertThat(v.state()).as("built again, not failed: %s", v).isEqualTo(VersionState.BUILDING);
      }
      awaitState(braid, id, VersionState.CURRENT);
      awaitCaughtUp(braid);
      checkMerchants(braid, newDefinition(mode), history, "after the cancelled recompute");
    }
  }

  static void awaitPhase(Braid b, long id, String phase) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      VersionInfo v = version(b, id);
      if (v.progress() != null && v.progress().phase().equals(phase)) {
        return;
      }
      assertThat(System.nanoTime()).as("version %d reaches phase %s: %s", id, phase, v).isLessThan(deadline);
      Thread.sleep(2);
    }
  }

  @Test
  void shouldKeepServingAndReportAViewTheSpecFileChangedUntilAReprocessSwitchesToIt(@TempDir Path dir)
      throws Exception {
    History history = new History();
    long reprocessed;
    try (Braid braid = Braid.open(dir, spec(1, oldDefinition(ViewSpec.Mode.KAPPA)))) {
      ingest(braid, new Random(9), 300, 1, history);
      reprocessed = braid.reprocess("stats", newDefinition(ViewSpec.Mode.KAPPA), ReprocessOptions.defaults());
      awaitState(braid, reprocessed, VersionState.CURRENT);
      assertThat(braid.status().views().get(0).specChanged()).as("a reprocess is not a change of the file").isFalse();
    }
    ViewSpec third = ViewSpec.builder("stats").from("tx").groupBy("user").aggregate("n", "count")
        .aggregate("q", "sum(qty)").aggregate("extra", "min(qty)").mode(ViewSpec.Mode.KAPPA).build();
    PipelineSpec changed = spec(1, third);
    for (int restart = 0; restart < 2; restart++) {
      try (Braid braid = Braid.open(dir, changed)) {
        // the file does not silently replace the logic: the reprocessed version keeps serving, and says so
        assertThat(currentId(braid)).isEqualTo(reprocessed);
        assertThat(braid.versions("stats")).hasSize(2);
        assertThat(braid.status().views().get(0).specChanged()).as("restart " + restart).isTrue();
        check(braid.get("stats", "m3"), newDefinition(ViewSpec.Mode.KAPPA), history.snapshot(), "file changed");
      }
    }
    long third3;
    try (Braid braid = Braid.open(dir, changed)) {
      third3 = braid.reprocess("stats", changed.view("stats"), ReprocessOptions.defaults());
      assertThat(braid.status().views().get(0).specChanged()).isFalse();
      awaitState(braid, third3, VersionState.CURRENT);
      assertThat(braid.get("stats", "u2").values()).containsKeys("n", "q", "extra");
    }
    try (Braid braid = Braid.open(dir, changed)) {
      assertThat(currentId(braid)).isEqualTo(third3);
      assertThat(braid.status().views().get(0).specChanged()).isFalse();
      // the reprocessed backup comes back from its recorded definition
      braid.activate("stats", reprocessed);
      check(braid.get("stats", "m3"), newDefinition(ViewSpec.Mode.KAPPA), history.snapshot(), "rollback");
      assertThat(braid.status().views().get(0).specChanged()).as("a rollback is the operator's choice").isFalse();
    }
  }

  @Test
  void shouldLetTheSpecFileWinWhenTheCatalogCannotRebuildTheServingDefinition(@TempDir Path dir) throws Exception {
    PipelineSpec first = spec(1, oldDefinition(ViewSpec.Mode.LAMBDA));
    try (Braid braid = Braid.open(dir, first)) {
      ingest(braid, new Random(2), 50, 1, new History());
    }
    // a catalog written before versions recorded their full definition
    Path catalog = dir.resolve("catalog.json");
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode root =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(catalog.toFile());
    com.fasterxml.jackson.databind.node.ObjectNode stats = (com.fasterxml.jackson.databind.node.ObjectNode) root
        .path("views").path("stats");
    stats.remove("specDefinition");
    stats.path("versions").forEach(v -> ((com.fasterxml.jackson.databind.node.ObjectNode) v).remove("spec"));
    assertThat(root.toString()).doesNotContain("\"spec\"").doesNotContain("specDefinition");
    Files.writeString(catalog, root.toString());
    try (Braid braid = Braid.open(dir, spec(1, newDefinition(ViewSpec.Mode.LAMBDA)))) {
      assertThat(currentId(braid)).isEqualTo(2);
      assertThat(version(braid, 1).state()).isEqualTo(VersionState.BACKUP);
      assertThat(braid.status().views().get(0).specChanged()).isFalse();
      assertThat(braid.get("stats", "m1").values()).containsKey("hi");
      assertThatThrownBy(() -> braid.activate("stats", 1)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("does not hold its full definition");
    }
  }

  @Test
  void shouldRetireBackupsBeyondKeepAndDeleteTheirBases(@TempDir Path dir) throws Exception {
    ViewSpec keepOne = ViewSpec.builder("stats").from("tx").groupBy("user").aggregate("n", "count")
        .aggregate("q", "sum(qty)").keep(1).build();
    try (Braid braid = Braid.open(dir, spec(1, keepOne))) {
      ingest(braid, new Random(1), 100, 1, new History());
      long a = braid.runBatch("stats");
      long b = braid.reprocess("stats", newDefinition(ViewSpec.Mode.LAMBDA), ReprocessOptions.defaults());
      awaitState(braid, b, VersionState.CURRENT);
      // the new definition keeps the default of 2 backups
      long c = ((Engine) braid).runBatch("stats", true);
      long d = ((Engine) braid).runBatch("stats", true);
      assertThat(version(braid, a).state()).isEqualTo(VersionState.RETIRED);
      assertThat(dir.resolve("views/stats/v" + a + ".base")).doesNotExist();
      assertThat(version(braid, b).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, c).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, d).state()).isEqualTo(VersionState.CURRENT);
      assertThat(dir.resolve("views/stats/v" + b + ".base")).exists();
      assertThatThrownBy(() -> braid.activate("stats", a)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("retired");
    }
  }

  /**
   * Backups retire in the order they stopped serving, not by id: after a rollback to an older
   * version, the version rolled away from is the newest backup, and the next swap retires the
   * backup that stopped serving longest ago. The order survives a restart.
   */
  @Test
  void shouldRetireTheBackupThatStoppedServingLongestAgoAfterARollback(@TempDir Path dir) throws Exception {
    ViewSpec keepTwo = ViewSpec.builder("stats").from("tx").groupBy("user").aggregate("n", "count")
        .aggregate("q", "sum(qty)").keep(2).build();
    History history = new History();
    long v2;
    long v3;
    long v4;
    long v5;
    try (Braid braid = Braid.open(dir, spec(1, keepTwo))) {
      ingest(braid, new Random(1), 100, 1, history);
      v2 = ((Engine) braid).runBatch("stats", true);
      v3 = ((Engine) braid).runBatch("stats", true);
      v4 = ((Engine) braid).runBatch("stats", true);
      assertThat(braid.activate("stats", v2)).isEqualTo(v2); // roll back: v4 stopped serving last
      ingest(braid, new Random(2), 20, 1, history);
      v5 = braid.runBatch("stats");
      assertThat(version(braid, v3).state()).as("stopped serving first").isEqualTo(VersionState.RETIRED);
      assertThat(version(braid, v4).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, v2).state()).isEqualTo(VersionState.BACKUP);
      assertThat(braid.versions("stats")).extracting(VersionInfo::id).as("listed by id").isSorted();
    }
    try (Braid braid = Braid.open(dir, spec(1, keepTwo))) {
      ingest(braid, new Random(3), 20, 1, history);
      long v6 = braid.runBatch("stats"); // v5 stops serving: v4 stopped longest ago
      assertThat(version(braid, v4).state()).isEqualTo(VersionState.RETIRED);
      assertThat(version(braid, v2).state()).isEqualTo(VersionState.BACKUP);
      assertThat(version(braid, v5).state()).isEqualTo(VersionState.BACKUP);
      assertThat(currentId(braid)).isEqualTo(v6);
      awaitCaughtUp(braid);
      check(braid.get("stats", "u3"), keepTwo, history.snapshot(), "after the restart");
    }
  }

  @Test
  void shouldRefuseAnInvalidDefinitionWithThePathOfEachError(@TempDir Path dir) {
    try (Braid braid = Braid.open(dir, spec(1, oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      ViewSpec otherStream = ViewSpec.builder("stats").from("nope").groupBy("user").aggregate("n", "count").build();
      assertThatThrownBy(() -> braid.reprocess("stats", otherStream, ReprocessOptions.defaults()))
          .isInstanceOf(SpecException.class)
          .satisfies(e -> assertThat(((SpecException) e).errors()).extracting(SpecError::path).containsExactly("from"));
      ViewSpec kappa = newDefinition(ViewSpec.Mode.KAPPA);
      assertThatThrownBy(() -> braid.reprocess("stats", kappa, ReprocessOptions.defaults()))
          .isInstanceOf(SpecException.class).hasMessageContaining("mode");
      ViewSpec badAgg = ViewSpec.builder("stats").from("tx").groupBy("user").aggregate("n", "count")
          .aggregate("t", "sum(nothing)").build();
      assertThatThrownBy(() -> braid.reprocess("stats", badAgg, ReprocessOptions.defaults()))
          .isInstanceOf(SpecException.class)
          .satisfies(e -> assertThat(((SpecException) e).errors()).extracting(SpecError::path)
              .containsExactly("aggregate.t"));
      assertThatThrownBy(() -> braid.reprocess("nope", badAgg, ReprocessOptions.defaults()))
          .isInstanceOf(UnknownNameException.class);
      assertThatThrownBy(() -> braid.activate("stats", 99)).isInstanceOf(UnknownNameException.class)
          .hasMessage("unknown version 'stats/99'; versions are: stats/1 (current)");
      assertThat(braid.versions("stats")).hasSize(1);
    }
  }

  @Test
  void shouldRoundTripAViewDefinitionThroughItsDocument() {
    PipelineSpec spec = spec(1, oldDefinition(ViewSpec.Mode.LAMBDA));
    ViewSpec v = ViewSpec.builder("stats").from("tx").filter("qty > 1").groupBy("merchant")
        .tumbling(java.time.Duration.ofMinutes(90)).aggregate("n", "count").aggregate("q", "sum(qty)")
        .batchEvery(java.time.Duration.ofSeconds(30)).keep(4).build();
    assertThat(spec.parseView("stats", PipelineSpec.viewDocument(v), "test")).isEqualTo(v);
  }
}
