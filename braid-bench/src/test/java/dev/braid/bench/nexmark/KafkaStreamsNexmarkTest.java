package dev.braid.bench.nexmark;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Kafka Streams peer against a real single-node KRaft broker in this JVM: the Kafka emitter
 * writes a small Nexmark stream to a topic once; Q5, Q15, Q16, Q17 in {@code alos} and Q5, Q15, Q17
 * in {@code eos} run on it and must give the naive reference's rows, in key order (Q7 runs through
 * the harness in {@code NexmarkBenchmarkTest}). The broker is stopped after the class, whatever
 * failed.
 */
class KafkaStreamsNexmarkTest {

  /**
   * One event per second from 21:00 UTC: the bids cross midnight (two days for Q15-Q17) and give
   * Q5's and Q7's windows several bids each.
   */
  static final NexmarkConfig CONFIG = new NexmarkConfig(7, 1, NexmarkConfig.DEFAULT_BASE_TIME - 3 * 3_600_000L, 2, 4,
      100, 1000, 12);
  static final long EVENTS = 12_000;
  static final int PARTITIONS = 2;
  static final String TOPIC = "bids-under-test";

  @TempDir
  static Path dir;
  static KafkaBroker broker;

  @BeforeAll
  static void startTheBrokerAndEmitTheBids() {
    broker = KafkaBroker.start(dir.resolve("kafka"));
    broker.createTopic(TOPIC, PARTITIONS);
    long bids = NexmarkEmitters.toKafka(new NexmarkGenerator(CONFIG), 0, EVENTS, broker.bootstrapServers(), TOPIC);
    assertThat(bids).isEqualTo(NexmarkGenerator.bidCount(EVENTS));
  }

  @AfterAll
  static void stopTheBroker() throws Exception {
    if (broker != null) {
      broker.close();
    }
  }

  @Test
  void shouldEmitEveryBidOnceKeyedByAuctionWithItsEventTimeInTheDescriptorsLayout() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
    List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = List.of(new TopicPartition(TOPIC, 0), new TopicPartition(TOPIC, 1));
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      assertThat(end.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(NexmarkGenerator.bidCount(EVENTS));
      assertThat(end.values()).allMatch(n -> n > 0); // the auctions spread over both partitions
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (records.size() < NexmarkGenerator.bidCount(EVENTS) && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(records::add);
      }
    }
    NexmarkGenerator g = new NexmarkGenerator(CONFIG);
    long[] expected = new long[3];
    g.forEachBid(0, EVENTS, b -> {
      expected[0] += b.price;
      expected[1] += b.bidder;
      expected[2] += b.channel.length();
    });
    long[] actual = new long[3];
    long[] lastTime = new long[PARTITIONS];
    for (ConsumerRecord<byte[], byte[]> r : records) {
      KafkaBidDescriptor.Bid bid = KafkaBidDescriptor.decodeValue(r.topic(), r.value());
      assertThat(r.key()).isEqualTo(KafkaBidDescriptor.encodeKey(bid.auction()));
      assertThat(r.timestamp()).isEqualTo(bid.time());
      assertThat(bid.time()).as("event time order within partition %d", r.partition())
          .isGreaterThanOrEqualTo(lastTime[r.partition()]);
      lastTime[r.partition()] = bid.time();
      actual[0] += bid.price();
      actual[1] += bid.bidder();
      actual[2] += bid.channel().length();
    }
    assertThat(records).hasSize((int) NexmarkGenerator.bidCount(EVENTS));
    assertThat(actual).as("sums of price, bidder and channel length").containsExactly(expected);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"q17, alos", "q17, eos", "q5, alos", "q5, eos", "q15, alos", "q15, eos", "q16, alos"})
  void shouldGiveTheNaiveAnswerInKeyOrder(String queryName, String mode) throws Exception {
    NexmarkQuery query = NexmarkQuery.parse(queryName);
    NexmarkEngine.Task task = new NexmarkEngine.Task(query, EVENTS, CONFIG, mode, 0, 1, PARTITIONS,
        dir.resolve(queryName + "-" + mode), System.out::println);
    NexmarkResult.Collector rows = new NexmarkResult.Collector(query, KafkaStreamsNexmark.NAME, 0);
    List<String> keys = new ArrayList<>();
    NexmarkEngine.Report report = new KafkaStreamsNexmark().runOn(broker, TOPIC, task, (key, longs, doubles) -> {
      keys.add(key);
      rows.row(key, longs, doubles);
    });

    assertThat(report.runs()).hasSize(1);
    assertThat(report.runs().get(0).elapsedNanos()).isPositive();
    assertThat(keys).as("rows in ascending key order, each once").isSorted().doesNotHaveDuplicates();
    NexmarkResult.Comparison c = NexmarkResult.compare(NaiveNexmark.compute(query, new NexmarkGenerator(CONFIG),
        EVENTS), rows.result(), KafkaStreamsNexmark.NAME);
    assertThat(c.examples()).as("%s %s: %d of %d rows differ", query, mode, c.differences(), c.rowsCompared())
        .isEmpty();
    assertThat(c.rowsCompared()).isPositive();
  }

  @Test
  void shouldRefuseAnUnknownModeNamingTheValidOnes() {
    NexmarkEngine.Task task = new NexmarkEngine.Task(NexmarkQuery.Q17, EVENTS, CONFIG, "turbo", 0, 1, PARTITIONS,
        dir.resolve("turbo"), System.out::println);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new KafkaStreamsNexmark().runOn(broker, TOPIC, task,
        (k, l, d) -> { }))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("kstreams has no mode 'turbo'; it has alos, eos");
  }
}
