package dev.braid.bench.nexmark;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A single-node Kafka cluster in this JVM: one KRaft node that is both controller and broker,
 * started with Kafka's own test kit ({@link KafkaClusterTestKit} of {@code kafka-test-common-runtime})
 * in a directory of the caller's, and stopped (its directory deleted) by {@link #close}. No Docker,
 * no other process.
 *
 * <p>Clients reach it at {@code localhost} ({@link #bootstrapServers()}). The test kit pre-binds its
 * listener sockets itself, on the wildcard address and ephemeral ports; nothing here connects
 * anywhere but loopback.
 *
 * <h2>Settings</h2>
 * Kafka's defaults, except what a one-node cluster needs and what a Kafka Streams benchmark on it
 * should not wait for:
 * <ul>
 *   <li>replication factor 1 and min ISR 1 for the internal topics ({@code __consumer_offsets},
 *       {@code __transaction_state}: Kafka's defaults of 3 cannot be met by one broker, and
 *       exactly-once needs the transaction log), one partition each (they are created on the first
 *       group join, inside a measured span);
 *   <li>{@code group.initial.rebalance.delay.ms=0}: by default the group coordinator waits 3 s for
 *       more members before the first assignment of a new consumer group, and every measured run of
 *       the Streams app is a new group.
 * </ul>
 *
 * Threading: {@link #createTopic} and {@link #deleteTopicsStartingWith} may be called from any
 * thread; {@link #close} once.
 */
final class KafkaBroker implements AutoCloseable {

  private static final long ADMIN_TIMEOUT_SECONDS = 60;

  private final KafkaClusterTestKit cluster;
  private final Admin admin;

  private KafkaBroker(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
    this.admin = cluster.admin();
  }

  /**
   * Formats and starts a broker under {@code dir} (created if missing) and waits until it serves.
   *
   * @throws IllegalStateException naming {@code dir} when it does not start; nothing is left running then
   */
  static KafkaBroker start(Path dir) {
    KafkaClusterTestKit cluster = null;
    try {
      Files.createDirectories(dir);
      TestKitNodes nodes = new TestKitNodes.Builder().setCombined(true).setNumControllerNodes(1)
          .setNumBrokerNodes(1).setBaseDirectory(dir).build();
      cluster = new KafkaClusterTestKit.Builder(nodes)
          .setConfigProp("offsets.topic.replication.factor", "1")
          .setConfigProp("offsets.topic.num.partitions", "1")
          .setConfigProp("transaction.state.log.replication.factor", "1")
          .setConfigProp("transaction.state.log.min.isr", "1")
          .setConfigProp("transaction.state.log.num.partitions", "1")
          .setConfigProp("group.initial.rebalance.delay.ms", "0")
          .build();
      formatQuietly(cluster);
      cluster.startup();
      cluster.waitForReadyBrokers();
      return new KafkaBroker(cluster);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      if (cluster != null) {
        try {
          cluster.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw new IllegalStateException("could not start a single-node Kafka broker in " + dir + ": " + e, e);
    }
  }

  /**
   * Formats the node's directories. Kafka's formatter prints what it does to {@code System.out}
   * (a "Bootstrap metadata: ..." dump of every record), which carries a benchmark's results (e.g.
   * {@code --json}) and says nothing a benchmark's reader needs: its lines are kept, and printed to
   * {@code System.err} only when formatting fails, with the failure. Nothing else prints while a
   * broker starts.
   */
  private static void formatQuietly(KafkaClusterTestKit cluster) throws Exception {
    PrintStream out = System.out;
    java.io.ByteArrayOutputStream said = new java.io.ByteArrayOutputStream();
    System.setOut(new PrintStream(said, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      cluster.format();
    } catch (Exception | Error e) {
      System.err.print(said.toString(java.nio.charset.StandardCharsets.UTF_8));
      throw e;
    } finally {
      System.setOut(out);
    }
  }

  /** {@code localhost:<port>}, for a client's {@code bootstrap.servers}. */
  String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  /**
   * Creates topic {@code name} with {@code partitions} partitions, replication factor 1 and
   * {@code retention.ms=-1}: the benchmark's records carry event times that may be far from the
   * wall clock, and time-based retention must not delete them.
   */
  void createTopic(String name, int partitions) {
    NewTopic topic = new NewTopic(name, partitions, (short) 1).configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "-1"));
    await(admin.createTopics(List.of(topic)).all(), "create topic " + name + " with " + partitions + " partitions");
  }

  /** Deletes every topic whose name starts with {@code prefix} (e.g. a Streams app's internal topics). */
  void deleteTopicsStartingWith(String prefix) {
    var names = await(admin.listTopics().names(), "list topics").stream().filter(n -> n.startsWith(prefix)).toList();
    if (!names.isEmpty()) {
      await(admin.deleteTopics(names).all(), "delete topics " + names);
    }
  }

  private static <T> T await(KafkaFuture<T> f, String what) {
    try {
      return f.get(ADMIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting to " + what, e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("could not " + what + ": " + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("could not " + what + " within " + ADMIN_TIMEOUT_SECONDS + " s", e);
    }
  }

  /** Stops the broker and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      admin.close();
    } finally {
      cluster.close();
    }
  }
}
