package dev.braid.bench;

import dev.braid.ReplayProgress;
import dev.braid.ReprocessOptions;
import dev.braid.Status;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.log.Durability;
import dev.braid.log.FileLog;
import dev.braid.log.LogStream;
import dev.braid.log.StreamConfig;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.ViewSpec;
import dev.braid.spec.WindowSpec;
import dev.braid.view.Engine;
import dev.braid.view.EngineOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The restart benchmark of issue 8: how long a restart takes to serve again, and what checkpoints
 * cost the speed layer. The view is {@code count} + {@code sum(amount)} by key over the events of
 * {@link ViewsEvents}. Run it with {@code ./braid bench restart}.
 *
 * <ol>
 *   <li><b>Set-up (not timed).</b> {@code --events - --checkpoint-age} events are appended to the
 *       log directly; the engine opens (replaying them), takes a checkpoint and closes; then
 *       {@code --checkpoint-age} more events are appended, so the newest checkpoint is that many
 *       events old. The view directory (checkpoint and catalog) is saved.
 *   <li><b>Restart runs.</b> Each run puts the saved view directory back and times
 *       {@code Engine.open} until it returns, which is when the engine serves: the checkpoint is
 *       loaded and the log after it replayed. Status gives the replay's events and duration; the
 *       rest of the time is opening the log and loading the checkpoint. The answers for
 *       {@code --samples} keys are then compared with a naive loop over the generator (any
 *       difference fails the benchmark with exit code 2).
 *   <li><b>Checkpoint overhead.</b> The engine opens with no checkpoint at all, so its speed layer
 *       replays the whole log from the start, once with checkpoints every
 *       {@code --checkpoint-every-ms} (they run during a start-up replay too) and once without,
 *       alternating, {@code --runs} times each. The difference of the median replay times divided by
 *       the checkpoints taken is what one checkpoint costs the replay; over the engine's default
 *       interval that is the overhead a server sees (a checkpoint every second is shown too, as a
 *       stress figure). The time one checkpoint of the full state takes is measured separately.
 *   <li><b>The changes feed at restart.</b> {@code --windowed-events} events over the same keys, and
 *       a view counting them per key per second (tumbling windows of 1 s), whose changes feed emits
 *       every closed window once. After the feed has emitted them all and the engine closed (saving
 *       what the feed emitted), {@code Engine.open} is timed alternately with the saved file and
 *       with it deleted (the feed then reads its whole changes log). The changes log must not grow
 *       across these restarts: a window emitted twice fails the benchmark.
 *   <li><b>A held reprocess at restart.</b> A {@code mode: kappa} view of the same count and sum over
 *       {@code --events} events is reprocessed into a version held for activation (the same aggregates
 *       under other names); once it has caught up the engine closes, checkpointing both versions.
 *       {@code Engine.open} until the held version is held again with no lag is then timed alternately
 *       as it is and with the held version's checkpoints deleted (it then replays the log from its cut,
 *       as every restart did before held versions were checkpointed). Each run activates it at the end
 *       and compares the sample keys with the naive recomputation.
 * </ol>
 */
@Command(
    name = "braid bench restart",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = "Restart time to serving from a checkpoint plus log replay, and the checkpoint overhead on the "
        + "speed layer.")
public final class RestartBenchmark implements Callable<Integer> {

  @Option(names = "--events", paramLabel = "N", defaultValue = "10000000",
      description = "Events in the log at restart (default: ${DEFAULT-VALUE}).")
  long events;

  @Option(names = "--checkpoint-age", paramLabel = "N", defaultValue = "1000000",
      description = "Events appended after the newest checkpoint (default: ${DEFAULT-VALUE}).")
  long age;

  @Option(names = "--keys", paramLabel = "N", defaultValue = "1000000",
      description = "Distinct keys (default: ${DEFAULT-VALUE}).")
  int keys;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "2",
      description = "Partitions of the stream (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--checkpoint-every-ms", paramLabel = "MS", defaultValue = "200",
      description = "Checkpoint interval while measuring the overhead (default: ${DEFAULT-VALUE}).")
  long checkpointEveryMs;

  @Option(names = "--runs", paramLabel = "N", defaultValue = "3",
      description = "Measured runs of each kind (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--samples", paramLabel = "N", defaultValue = "1000",
      description = "Keys checked against a naive recomputation (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(names = "--windowed-events", paramLabel = "N", defaultValue = "2000000",
      description = "Events of the changes-feed restart: a per-key, per-second count whose closed windows the "
          + "feed emits, restarted with and without its saved emitted windows; 0 skips it (default: ${DEFAULT-VALUE}).")
  long windowedEvents;

  @Option(names = "--held", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Time a restart with a reprocess held for activation, with and without its checkpoint "
          + "(default: ${DEFAULT-VALUE}).")
  boolean held;

  @Option(names = "--dir", paramLabel = "DIR",
      description = "Where to create the temporary working directory (default: java.io.tmpdir).")
  Path dir;

  private final PrintStream out = System.out;

  public static void main(String[] args) {
    System.exit(new CommandLine(new RestartBenchmark()).execute(args));
  }

  private void progress(String format, Object... args) {
    out.println("  " + String.format(Locale.ROOT, format, args));
    out.flush();
  }

  private static final EngineOptions MANUAL = EngineOptions.defaults().withCheckpointEvery(Duration.ZERO);

  @Override
  public Integer call() throws Exception {
    if (events < 1 || age < 0 || age > events || keys < 1 || keys > ViewsEvents.MAX_KEYS || partitions < 1
        || runs < 1 || samples < 1 || checkpointEveryMs < 1) {
      throw new CommandLine.ParameterException(new CommandLine(this), "need --events >= 1, 0 <= --checkpoint-age <= "
          + "--events, --keys in [1, " + ViewsEvents.MAX_KEYS + "], and --partitions, --runs, --samples, "
          + "--checkpoint-every-ms >= 1");
    }
    Path root = Files.createTempDirectory(dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir,
        "braid-bench-restart-");
    try {
      out.printf(Locale.ROOT, "Braid restart benchmark: count + sum(amount) by key, %,d events over %,d keys, %d "
              + "partitions, newest checkpoint %,d events old%n", events, keys, partitions, age);
      out.printf(Locale.ROOT, "  machine: %d CPUs, Java %s, max heap %d MB, load average %s; work dir %s%n",
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
          Runtime.getRuntime().maxMemory() >> 20, ViewsBenchmark.loadAverage(), root);
      Path data = root.resolve("braid");
      PipelineSpec spec = ViewsEvents.pipeline(partitions);
      append(data, 0, events - age);
      long t0 = System.nanoTime();
      double checkpointSeconds;
      try (Engine e = Engine.open(data, spec, MANUAL)) {
        progress("set-up: the engine replayed %,d events in %.1f s", events - age, (System.nanoTime() - t0) / 1e9);
        long c0 = System.nanoTime();
        e.checkpointAll();
        checkpointSeconds = (System.nanoTime() - c0) / 1e9;
      }
      append(data, events - age, events);
      Path saved = root.resolve("saved");
      copyTree(data.resolve("views"), saved.resolve("views"));
      Files.copy(data.resolve("catalog.json"), saved.resolve("catalog.json"));
      long checkpointBytes = sizeOf(saved.resolve("views"));
      progress("set-up: a checkpoint of the full state took %.2f s (%,d bytes); then %,d events appended after it",
          checkpointSeconds, checkpointBytes, age);

      int[] sampleKeys = ViewsEvents.sampleKeys(keys, samples);
      Map<String, ViewsEvents.Totals> expected = ViewsEvents.expected(events, keys, sampleKeys);
      List<String> disagreements = new ArrayList<>();
      double[] total = new double[runs];
      double[] replaySeconds = new double[runs];
      double[] replayed = new double[runs];
      for (int r = 0; r < runs; r++) {
        restore(saved, data);
        long s0 = System.nanoTime();
        try (Engine e = Engine.open(data, spec, MANUAL)) {
          total[r] = (System.nanoTime() - s0) / 1e9;
          Status.Checkpoints c = e.status().views().get(0).checkpoints();
          if (c.restoredFrom() == null) {
            throw new IllegalStateException("the restart did not restore the checkpoint: " + c.refused());
          }
          replayed[r] = c.replayedOnStart();
          replaySeconds[r] = Math.max(1, c.replayMillis()) / 1e3; // millisecond resolution
          check(e, expected, disagreements);
        }
        progress("restart %d: serving after %.2f s (replayed %,.0f events in %.2f s)", r + 1, total[r], replayed[r],
            replaySeconds[r]);
      }

      double[] withRate = new double[runs];
      double[] withoutRate = new double[runs];
      double[] checkpointsTaken = new double[runs];
      for (int r = 0; r < runs; r++) {
        for (boolean with : new boolean[] {false, true}) {
          deleteViews(data);
          EngineOptions o = with ? EngineOptions.defaults().withCheckpointEvery(Duration.ofMillis(checkpointEveryMs))
              : MANUAL;
          long s0 = System.nanoTime();
          long written;
          try (Engine e = Engine.open(data, spec, o)) {
            double secs = (System.nanoTime() - s0) / 1e9;
            written = e.status().views().get(0).checkpoints().written();
            (with ? withRate : withoutRate)[r] = events / secs;
            if (with) {
              checkpointsTaken[r] = written;
            }
            check(e, expected, disagreements);
          }
          progress("full replay %s checkpoints: %.2f M events/s (%d checkpoints during it)", with ? "with" : "without",
              (with ? withRate : withoutRate)[r] / 1e6, written);
        }
      }

      double loadSeconds = ViewsBenchmark.median(total) - ViewsBenchmark.median(replaySeconds);
      double replayRate = ViewsBenchmark.median(replayed) / ViewsBenchmark.median(replaySeconds);
      double overhead = 1 - ViewsBenchmark.median(withRate) / ViewsBenchmark.median(withoutRate);
      // What one checkpoint costs the replay (wall seconds), and so the share of any interval it takes.
      double extraSeconds = events / ViewsBenchmark.median(withRate) - events / ViewsBenchmark.median(withoutRate);
      double perCheckpoint = Math.max(0, extraSeconds) / Math.max(1, ViewsBenchmark.median(checkpointsTaken));
      double atDefault = perCheckpoint / EngineOptions.DEFAULT_CHECKPOINT_EVERY.toSeconds();
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"restart to serving, without the replay", String.format(Locale.ROOT,
          "%.2f s (open the log, load a %,d-byte checkpoint); whole restart %.2f s %s", loadSeconds, checkpointBytes,
          ViewsBenchmark.median(total), ReplayBenchmark.spread(total, 1, "%.2f")), "<= 2 s",
          ReplayBenchmark.verdict(loadSeconds <= 2, 2 / loadSeconds)});
      rows.add(new String[] {"replay after the checkpoint", String.format(Locale.ROOT, "%.2f M events/s (%,.0f "
          + "events in %.2f s)", replayRate / 1e6, ViewsBenchmark.median(replayed),
          ViewsBenchmark.median(replaySeconds)), ">= 10 M events/s",
          ReplayBenchmark.verdict(replayRate >= 10e6, replayRate / 10e6)});
      rows.add(new String[] {"checkpoint overhead, a checkpoint every " + checkpointEveryMs + " ms (stress)",
          String.format(Locale.ROOT, "%.1f %% (%.2f M/s with %s, %.2f M/s without %s; %.0f checkpoints per replay, "
              + "%.3f s of replay each)", overhead * 100, ViewsBenchmark.median(withRate) / 1e6,
              ReplayBenchmark.spread(withRate, 1e6, "%.2f"), ViewsBenchmark.median(withoutRate) / 1e6,
              ReplayBenchmark.spread(withoutRate, 1e6, "%.2f"), ViewsBenchmark.median(checkpointsTaken), perCheckpoint),
          "-", "-"});
      boolean measuredCost = ViewsBenchmark.median(checkpointsTaken) >= 1;
      rows.add(new String[] {"checkpoint overhead at the default interval ("
          + EngineOptions.DEFAULT_CHECKPOINT_EVERY.toSeconds() + " s)", measuredCost ? String.format(Locale.ROOT,
              "%.2f %% (the measured cost of one checkpoint over the interval)", atDefault * 100)
              : "no checkpoint fell in the replays: lower --checkpoint-every-ms or raise --events", "<= 5 %",
          !measuredCost ? "-" : ReplayBenchmark.verdict(atDefault <= 0.05, atDefault <= 0 ? 1 : 0.05 / atDefault)});
      rows.add(new String[] {"one checkpoint of the full state", String.format(Locale.ROOT, "%.2f s, %,d bytes (%,d "
          + "keys)", checkpointSeconds, checkpointBytes, Math.min(keys, events)), "-", "-"});
      if (windowedEvents > 0) {
        changesFeedRows(root.resolve("windows"), rows, disagreements);
      }
      if (held) {
        heldReprocessRows(root.resolve("held"), rows, disagreements, expected);
      }
      rows.add(new String[] {"answers vs naive recomputation", disagreements.isEmpty()
          ? String.format(Locale.ROOT, "%d sample keys equal after every open", sampleKeys.length)
          : disagreements.size() + " differ", "equal", disagreements.isEmpty() ? "meets" : "FAILS"});
      out.printf(Locale.ROOT, "%nResults (median of %d runs, range in brackets; load average now %s):%n", runs,
          ViewsBenchmark.loadAverage());
      ReplayBenchmark.printRows(out, rows);
      if (!disagreements.isEmpty()) {
        disagreements.stream().limit(20).forEach(d -> out.println("  " + d));
        return 2;
      }
      return 0;
    } finally {
      LogBenchmark.deleteRecursively(root);
    }
  }

  static final String WINDOWED_VIEW = "per_second";

  /** The changes feed's restart with and without its saved emitted windows (see the class comment). */
  private void changesFeedRows(Path data, List<String[]> rows, List<String> disagreements) throws Exception {
    append(data, 0, windowedEvents);
    PipelineSpec spec = PipelineSpec.builder().stream(ViewsEvents.streamSpec(partitions))
        .view(ViewSpec.builder(WINDOWED_VIEW).from(ViewsEvents.STREAM).groupBy("key")
            .window(WindowSpec.tumbling(Duration.ofSeconds(1))).aggregate("n", "count").build())
        .build();
    String changes = WINDOWED_VIEW + ".changes";
    long t0 = System.nanoTime();
    long emitted;
    try (Engine e = Engine.open(data, spec, MANUAL)) {
      emitted = awaitStable(e, changes);
    }
    Path saved = data.resolve("views").resolve(WINDOWED_VIEW).resolve("changes.emitted");
    long savedBytes = Files.size(saved);
    progress("set-up: the changes feed emitted %,d windows of %,d events in %.1f s; saved at close in %,d bytes",
        emitted, windowedEvents, (System.nanoTime() - t0) / 1e9, savedBytes);
    double[] with = new double[runs];
    double[] without = new double[runs];
    long end;
    for (int r = 0; r < runs; r++) {
      for (boolean useSaved : new boolean[] {true, false}) {
        if (!useSaved) {
          Files.deleteIfExists(saved); // the close saves it again
        }
        long s0 = System.nanoTime();
        try (Engine e = Engine.open(data, spec, MANUAL)) {
          (useSaved ? with : without)[r] = (System.nanoTime() - s0) / 1e9;
        }
        progress("restart %d %s the saved emitted windows: serving after %.2f s", r + 1, useSaved ? "with" : "without",
            (useSaved ? with : without)[r]);
      }
    }
    // A feed's first pass after a start compares every window with what it emitted. A close waits for
    // a pass under way, so one more start that stays open a second checks that nothing is emitted twice.
    try (Engine e = Engine.open(data, spec, MANUAL)) {
      Thread.sleep(1_000);
    }
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      end = log.stream(changes).endOffset(0);
    }
    if (end != emitted) {
      disagreements.add(String.format(Locale.ROOT, "the changes feed emitted %,d changes again across %d restarts",
          end - emitted, 2 * runs + 1));
    }
    rows.add(new String[] {"restart with " + String.format(Locale.ROOT, "%,d", emitted) + " windows emitted",
        String.format(Locale.ROOT, "%.2f s %s with the saved emitted windows (%,d bytes), %.2f s %s reading the "
            + "changes log whole; %,d changes emitted again", ViewsBenchmark.median(with),
            ReplayBenchmark.spread(with, 1, "%.2f"), savedBytes, ViewsBenchmark.median(without),
            ReplayBenchmark.spread(without, 1, "%.2f"), end - emitted), "-", end == emitted ? "-" : "FAILS"});
  }

  /** A restart with a reprocess held for activation, with and without its checkpoint (see the class comment). */
  private void heldReprocessRows(Path data, List<String[]> rows, List<String> disagreements,
      Map<String, ViewsEvents.Totals> expected) throws Exception {
    append(data, 0, events);
    PipelineSpec spec = PipelineSpec.builder().stream(ViewsEvents.streamSpec(partitions))
        .view(ReplayBenchmark.definition(0)).build();
    long t0 = System.nanoTime();
    long id;
    try (Engine e = Engine.open(data, spec, MANUAL)) {
      id = e.reprocess(ViewsEvents.VIEW, ReplayBenchmark.definition(1), ReprocessOptions.held());
      awaitHeld(e, id);
    }
    Path saved = data.resolveSibling("held-saved");
    copyTree(data.resolve("views"), saved.resolve("views"));
    Files.copy(data.resolve("catalog.json"), saved.resolve("catalog.json"));
    progress("set-up: version %d of the kappa view replayed %,d events, is held, and the close checkpointed it "
        + "(%.1f s in all)", id, events, (System.nanoTime() - t0) / 1e9);
    double[] with = new double[runs];
    double[] without = new double[runs];
    for (int r = 0; r < runs; r++) {
      for (boolean useCheckpoint : new boolean[] {true, false}) {
        restore(saved, data);
        if (!useCheckpoint) {
          try (Stream<Path> files = Files.list(data.resolve("views").resolve(ViewsEvents.VIEW))) {
            for (Path f : (Iterable<Path>) files::iterator) {
              if (f.getFileName().toString().matches("v" + id + "-\\d+\\.ckpt")) {
                Files.delete(f);
              }
            }
          }
        }
        long s0 = System.nanoTime();
        try (Engine e = Engine.open(data, spec, MANUAL)) {
          ReplayProgress p = awaitHeld(e, id);
          (useCheckpoint ? with : without)[r] = (System.nanoTime() - s0) / 1e9;
          if (p.eventsFromCheckpoint() != (useCheckpoint ? events : 0)) {
            disagreements.add(String.format(Locale.ROOT, "the held version restored %,d events from its checkpoint, "
                + "not %,d", p.eventsFromCheckpoint(), useCheckpoint ? events : 0));
          }
          e.activate(ViewsEvents.VIEW, id);
          check(e, expected, disagreements, ReplayBenchmark.OUTPUTS[1]);
        }
        progress("restart %d %s the held version's checkpoint: held again after %.2f s", r + 1,
            useCheckpoint ? "with" : "without", (useCheckpoint ? with : without)[r]);
      }
    }
    rows.add(new String[] {"restart with a reprocess held for activation", String.format(Locale.ROOT, "held again "
        + "after %.2f s %s from its checkpoint, %.2f s %s replaying its %,d events from its cut",
        ViewsBenchmark.median(with), ReplayBenchmark.spread(with, 1, "%.2f"), ViewsBenchmark.median(without),
        ReplayBenchmark.spread(without, 1, "%.2f"), events), "-", "-"});
  }

  /** Waits until version {@code id} is held for activation with no lag; returns its progress then. */
  private static ReplayProgress awaitHeld(Engine e, long id) throws InterruptedException {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (VersionInfo v : e.versions(ViewsEvents.VIEW)) {
        ReplayProgress p = v.progress();
        if (v.id() == id && p != null && p.phase().equals("held") && p.lag() == 0) {
          return p;
        }
        if (v.id() == id && v.state() == VersionState.FAILED) {
          throw new IllegalStateException("version " + id + " failed: " + v.failure());
        }
      }
      Thread.sleep(1);
    }
    throw new IllegalStateException("version " + id + " was not held within 30 minutes");
  }

  /** Waits until the speed layer caught up and the changes log stopped growing for two seconds; returns its end. */
  private static long awaitStable(Engine e, String changes) throws InterruptedException {
    e.awaitCaughtUp(10, java.util.concurrent.TimeUnit.MINUTES);
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(10);
    long last = -1;
    int stable = 0;
    while (stable < 4 && System.nanoTime() < deadline) {
      Thread.sleep(500);
      long end = e.log().hasStream(changes) ? e.log().stream(changes).endOffset(0) : 0;
      stable = end == last && end > 0 ? stable + 1 : 0;
      last = end;
    }
    if (stable < 4) {
      throw new IllegalStateException("the changes feed of view '" + WINDOWED_VIEW + "' did not settle in 10 minutes");
    }
    return last;
  }

  private void append(Path data, long from, long to) {
    try (FileLog log = FileLog.open(data.resolve("log"))) {
      LogStream s = log.getOrCreateStream(ViewsEvents.STREAM, StreamConfig.of(partitions)
          .withDurability(Durability.os()));
      ViewsEvents.append(s, ViewsEvents.streamSpec(partitions), from, to, keys);
    }
  }

  private static void check(Engine e, Map<String, ViewsEvents.Totals> expected, List<String> disagreements) {
    check(e, expected, disagreements, ReplayBenchmark.OUTPUTS[0]);
  }

  /** Compares the sample keys' count and sum, read under {@code outputs} (their names), with {@code expected}. */
  private static void check(Engine e, Map<String, ViewsEvents.Totals> expected, List<String> disagreements,
      String[] outputs) {
    for (Map.Entry<String, ViewsEvents.Totals> x : expected.entrySet()) {
      ViewResult r = e.get(ViewsEvents.VIEW, x.getKey());
      long n = r.found() ? ((Number) r.values().get(outputs[0])).longValue() : 0;
      long sum = r.found() ? ((Number) r.values().get(outputs[1])).longValue() : 0;
      if (n != x.getValue().count() || sum != x.getValue().sum()) {
        disagreements.add(String.format(Locale.ROOT, "%s: braid (%d, %d), naive (%d, %d)", x.getKey(), n, sum,
            x.getValue().count(), x.getValue().sum()));
      }
    }
  }

  /** Puts the saved view directory and catalog back, so every restart finds the same checkpoint. */
  private static void restore(Path saved, Path data) throws IOException {
    deleteViews(data);
    copyTree(saved.resolve("views"), data.resolve("views"));
    Files.copy(saved.resolve("catalog.json"), data.resolve("catalog.json"));
  }

  private static void deleteViews(Path data) throws IOException {
    LogBenchmark.deleteRecursively(data.resolve("views"));
    Files.deleteIfExists(data.resolve("catalog.json"));
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path f : (Iterable<Path>) all::iterator) {
        Path target = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(target);
        } else {
          Files.copy(f, target);
        }
      }
    }
  }

  private static long sizeOf(Path root) throws IOException {
    try (Stream<Path> all = Files.walk(root)) {
      return all.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }
}
