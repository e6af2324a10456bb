package dev.braid.bench.nexmark;

import dev.braid.bench.ViewsBenchmark;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * Kafka Streams 4.3 as a Nexmark engine ({@code kstreams}): the queries written by hand with its
 * DSL ({@link KafkaStreamsQueries}), against a single-node KRaft broker in this JVM
 * ({@link KafkaBroker}).
 *
 * <table>
 *   <caption>Modes</caption>
 *   <tr><th>mode</th><th>{@code processing.guarantee}</th></tr>
 *   <tr><td>{@code alos} (the main one)</td><td>{@code at_least_once} (exactly-once off)</td></tr>
 *   <tr><td>{@code eos}</td><td>{@code exactly_once_v2}</td></tr>
 * </table>
 *
 * <h2>A run</h2>
 * Not measured: the broker starts in {@code workDir}, topic {@value #INPUT} is created with
 * {@code parallelism} partitions, and the bids are produced to it ({@link NexmarkEmitters#toKafka}).
 * Then each run, warm-up or measured, is a new Streams app (a new {@code application.id}, so a new
 * consumer group reading the topic from the start, new internal topics and new state):
 *
 * <ul>
 *   <li><b>The measured span</b> runs from {@code new KafkaStreams(...)} (it creates the app's
 *       clients and threads) and {@code start()} until its threads have processed every record the
 *       query puts through them: each bid of the input topic once, plus each bid once more per
 *       repartition topic the topology has (its {@code map}s are one to one, so that count is
 *       known: {@code bids * (1 + repartition topics)}). Processed is Kafka Streams' own count, the
 *       sum over its threads of the {@code stream-thread-metrics} {@code process-total}, which a
 *       thread adds to after the records went through every processor of their subtopology, state
 *       store writes included; it is polled every {@value #POLL_MILLIS} ms. At that point every
 *       bid's contribution is in the state stores (their caches and RocksDB); nothing waits for a
 *       commit, which in {@code alos} comes every 30 s ({@code commit.interval.ms}'s default) and in
 *       {@code eos} every 100 ms. Exactly-once's transactions are still inside the span: a
 *       repartition topic's records reach the next task only once the producing task committed.
 *   <li>CPU is the whole process's over that span: Kafka Streams' threads and, since the broker
 *       runs in this JVM, the broker's work of serving the fetches and storing the repartition and
 *       changelog records. {@code streamThreadCpuShare} (an extra of the report) says which part
 *       the Streams threads took; the peak RSS includes the broker too.
 *   <li>A run fails, naming the counts, when Kafka Streams stops with an error, processes more
 *       records than there are (some twice), drops any ({@code dropped-records-total}: late or
 *       unreadable), or makes no progress for {@value #STALL_SECONDS} s.
 * </ul>
 *
 * After the last run, before that app is closed, the rows are read out of its window stores by
 * interactive queries ({@link KafkaStreamsQueries#read}, not measured). Each app is then closed,
 * its local state deleted ({@code cleanUp}) and its internal topics deleted.
 *
 * <h2>Settings</h2>
 * Kafka Streams' defaults (caching on, 10 MB; RocksDB stores with changelogs; Kafka's producer and
 * consumer settings), except: {@code num.stream.threads = parallelism}, the
 * {@code processing.guarantee} of the mode, {@code state.dir} in {@code workDir}, and two settings
 * without which the answer would not be complete:
 * <ul>
 *   <li>the windows' grace period and retention cover the whole input (see
 *       {@link KafkaStreamsQueries});
 *   <li>{@code topic.retention.ms=-1}: the internal topics keep their records. A window store's
 *       changelog is created with {@code retention.ms} = the window retention plus a day, and the
 *       broker applies it to the records' timestamps, which are the bids' event times: with the
 *       generator's default start (2026-01-01) they can lie months before the wall clock, and the
 *       broker's retention check (every 5 minutes) deleted changelog segments under a running app
 *       (a task restored from such a changelog would lose state; the broker also dropped the
 *       producers' idempotence state with the segments and rejected their next appends with a
 *       retriable {@code OutOfOrderSequenceException}, logged at ERROR).
 * </ul>
 * Kafka Streams still purges each repartition topic up to its committed offset
 * ({@code deleteRecords}); in {@code eos} the broker then rejects the next transactional append
 * of a producer whose state the purge removed with the same retriable error (Kafka's transactions
 * v2 want sequence 0 there) and logs it at ERROR, and the producer retries. That is Kafka's own
 * behaviour on every run with a repartition topic; the answers are not affected.
 * The broker's settings are {@link KafkaBroker}'s.
 */
final class KafkaStreamsNexmark implements NexmarkEngine {

  static final String NAME = "kstreams";
  /** The input topic. */
  static final String INPUT = "nexmark-bids";
  static final long POLL_MILLIS = 2;
  static final long STALL_SECONDS = 120;

  @Override
  public List<String> modes() {
    return List.of("alos", "eos");
  }

  @Override
  public double distinctRse(String mode) {
    return 0; // exact: one store entry per (bidder or auction, day)
  }

  @Override
  public Report run(Task task, NexmarkResult.RowSink result) throws Exception {
    guarantee(task.mode());
    try (KafkaBroker broker = KafkaBroker.start(task.workDir().resolve("kafka"))) {
      broker.createTopic(INPUT, task.parallelism());
      long t0 = System.nanoTime();
      long bids = NexmarkEmitters.toKafka(new NexmarkGenerator(task.config()), 0, task.events(),
          broker.bootstrapServers(), INPUT);
      double emitSeconds = (System.nanoTime() - t0) / 1e9;
      task.progress().accept(String.format(Locale.ROOT, "kstreams: produced %,d bids to topic %s (%d partitions) "
          + "of the broker at %s in %.1f s (not measured)", bids, INPUT, task.parallelism(),
          broker.bootstrapServers(), emitSeconds));
      Report r = runOn(broker, INPUT, task, result);
      Map<String, Double> extras = new java.util.TreeMap<>(r.extras());
      extras.put("emitSeconds", emitSeconds);
      return new Report(r.runs(), extras);
    }
  }

  /**
   * The runs of {@code task} on {@code broker}, whose {@code topic} holds the bids of the task's
   * events already (see the class comment).
   */
  Report runOn(KafkaBroker broker, String topic, Task task, NexmarkResult.RowSink result) throws Exception {
    String guarantee = guarantee(task.mode());
    NexmarkGenerator g = new NexmarkGenerator(task.config());
    long first = g.eventTime(0);
    long last = g.eventTime(Math.max(0, task.events() - 1));
    long grace = last - first + 1;
    List<Measurement> runs = new ArrayList<>();
    double[] startup = new double[task.runs()];
    double[] threadShare = new double[task.runs()];
    int repartitions = 0;
    for (int r = 0; r < task.warmup() + task.runs(); r++) {
      String label = r < task.warmup() ? "warm-up " + (r + 1) : "run " + (r - task.warmup() + 1);
      String appId = "braid-nexmark-" + task.query().cliName() + "-" + task.mode() + "-" + (r + 1) + "-"
          + UUID.randomUUID().toString().substring(0, 8);
      Topology topology = KafkaStreamsQueries.topology(task.query(), topic, grace);
      repartitions = KafkaStreamsQueries.repartitionTopics(topology).size();
      long expected = task.bids() * (1 + repartitions);
      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, task.parallelism());
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
      props.put(StreamsConfig.STATE_DIR_CONFIG, task.workDir().resolve("kstreams-state").toString());
      // internal topics keep every record: see "Settings" in the class comment
      props.put(StreamsConfig.topicPrefix(TopicConfig.RETENTION_MS_CONFIG), "-1");

      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong runningAt = new AtomicLong(-1);
      long cpu0 = NexmarkEngine.processCpuNanos();
      long t0 = System.nanoTime();
      KafkaStreams streams = new KafkaStreams(topology, props);
      try {
        streams.setUncaughtExceptionHandler(e -> {
          failure.compareAndSet(null, e);
          return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
          if (now == KafkaStreams.State.RUNNING) {
            runningAt.compareAndSet(-1, System.nanoTime());
          }
        });
        streams.start();
        long processed = awaitProcessed(streams, task.parallelism(), expected, failure, repartitions);
        long nanos = System.nanoTime() - t0;
        long cpu = NexmarkEngine.processCpuNanos() - cpu0;
        long threadCpu = streamThreadCpuNanos(appId);
        long dropped = sumMetric(streams, "stream-task-metrics", "dropped-records-total");
        if (processed != expected || dropped != 0) {
          throw new IllegalStateException(String.format(Locale.ROOT, "Kafka Streams processed %,d records where "
              + "there are %,d (%,d bids, %d repartition topics) and dropped %,d: %s", processed, expected,
              task.bids(), repartitions, dropped, processed > expected ? "some were processed twice"
                  : "some were dropped (late beyond the grace period, or unreadable)"));
        }
        // the first time the app reached RUNNING: joined its group, created its topics and stores
        double startMillis = runningAt.get() < 0 ? nanos / 1e6 : (runningAt.get() - t0) / 1e6;
        task.progress().accept(String.format(Locale.ROOT, "kstreams %s %s: %,d bids (%,d records with %d "
            + "repartition topic(s)) processed into the state stores in %.0f ms (running after %.0f ms), %.0f ms "
            + "of CPU, %.0f %% of it in the Streams threads", task.mode(), label, task.bids(), processed,
            repartitions, nanos / 1e6, startMillis, cpu / 1e6, 100.0 * threadCpu / Math.max(1, cpu)));
        if (r >= task.warmup()) {
          int i = r - task.warmup();
          runs.add(new Measurement(nanos, cpu));
          startup[i] = startMillis;
          threadShare[i] = (double) threadCpu / Math.max(1, cpu);
        }
        if (r == task.warmup() + task.runs() - 1) {
          KafkaStreamsQueries.read(streams, task.query(), NexmarkGenerator.auctionCount(task.events()),
              first - NexmarkQuery.DAY_MILLIS, last, result);
        }
      } finally {
        if (streams.close(Duration.ofMinutes(1))) { // else its threads still run: leave its state alone
          streams.cleanUp();
        }
        broker.deleteTopicsStartingWith(appId + "-");
      }
    }
    return new Report(runs, Map.of("startupMillis", ViewsBenchmark.median(startup), "streamThreadCpuShare",
        ViewsBenchmark.median(threadShare), "repartitionTopics", (double) repartitions));
  }

  private static String guarantee(String mode) {
    return switch (mode) {
      case "alos" -> StreamsConfig.AT_LEAST_ONCE;
      case "eos" -> StreamsConfig.EXACTLY_ONCE_V2;
      default -> throw new IllegalArgumentException("kstreams has no mode '" + mode + "'; it has alos, eos");
    };
  }

  /**
   * Waits until the threads of {@code streams} have processed {@code expected} records in all
   * (see the class comment); returns how many they processed.
   */
  private static long awaitProcessed(KafkaStreams streams, int threads, long expected,
      AtomicReference<Throwable> failure, int repartitions) throws InterruptedException {
    List<Metric> counters = List.of();
    long seen = -1;
    long progressAt = System.nanoTime();
    while (true) {
      if (failure.get() != null) {
        throw new IllegalStateException("Kafka Streams failed: " + failure.get(), failure.get());
      }
      KafkaStreams.State state = streams.state();
      if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.PENDING_ERROR
          || state == KafkaStreams.State.NOT_RUNNING || state == KafkaStreams.State.PENDING_SHUTDOWN) {
        throw new IllegalStateException("Kafka Streams stopped (state " + state + ") after processing " + seen
            + " of " + expected + " records");
      }
      if (counters.size() < threads) {
        counters = metrics(streams, "stream-thread-metrics", "process-total");
      }
      long processed = 0;
      for (Metric m : counters) {
        processed += (long) ((Number) m.metricValue()).doubleValue();
      }
      if (processed >= expected) {
        return processed;
      }
      long now = System.nanoTime();
      if (processed != seen) {
        seen = processed;
        progressAt = now;
      } else if (now - progressAt > STALL_SECONDS * 1_000_000_000L) {
        throw new IllegalStateException(String.format(Locale.ROOT, "Kafka Streams processed %,d of %,d records "
            + "(bids through %d repartition topics) and nothing more for %d s (state %s)", processed, expected,
            repartitions, STALL_SECONDS, state));
      }
      Thread.sleep(POLL_MILLIS);
    }
  }

  private static List<Metric> metrics(KafkaStreams streams, String group, String name) {
    List<Metric> found = new ArrayList<>();
    for (Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
      if (e.getKey().group().equals(group) && e.getKey().name().equals(name)) {
        found.add(e.getValue());
      }
    }
    return found;
  }

  private static long sumMetric(KafkaStreams streams, String group, String name) {
    long sum = 0;
    for (Metric m : metrics(streams, group, name)) {
      sum += (long) ((Number) m.metricValue()).doubleValue();
    }
    return sum;
  }

  /** CPU time of the live Streams threads of app {@code appId} (named {@code <appId>-<uuid>-StreamThread-<n>}). */
  private static long streamThreadCpuNanos(String appId) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith(appId) && t.getName().contains("-StreamThread-")) {
        sum += Math.max(0, mx.getThreadCpuTime(t.getId()));
      }
    }
    return sum;
  }
}
