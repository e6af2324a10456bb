package dev.braid.bench.nexmark;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * One bid as a Kafka record: what {@link NexmarkEmitters#toKafka} produces and the Kafka Streams
 * peer ({@link KafkaStreamsNexmark}) reads. Compact binary, written and read by hand (no Java
 * serialization, no schema registry):
 *
 * <pre>
 *   key    0                8
 *          +----------------+
 *          | auction        |     8 bytes, big-endian: what Kafka's LongSerializer writes,
 *          +----------------+     so the key reads back with Serdes.Long()
 *
 *   value  0        8        16       24       32                 length
 *          +--------+--------+--------+--------+------------------+
 *          | auction| bidder | price  | time   | channel          |
 *          +--------+--------+--------+--------+------------------+
 *          longs big-endian; price in cents; time = event time, epoch millis;
 *          channel = UTF-8, the rest of the value (its length is length - 32)
 * </pre>
 *
 * The record's own timestamp is the event time as well, but the Streams app takes event time from
 * the value (its timestamp extractor), as it would from data whose producer set no timestamp.
 */
final class KafkaBidDescriptor {

  static final int AUCTION_OFFSET = 0;
  static final int BIDDER_OFFSET = 8;
  static final int PRICE_OFFSET = 16;
  static final int TIME_OFFSET = 24;
  static final int CHANNEL_OFFSET = 32;
  static final int KEY_LENGTH = 8;

  /** A decoded bid, the value type of the Streams app's input stream. */
  record Bid(long auction, long bidder, long price, long time, String channel) {}

  /** The value {@link Serde}: serializes a {@link Bid} as above; deserializing checks the length. */
  static final Serde<Bid> SERDE = new Serde<>() {
    @Override
    public Serializer<Bid> serializer() {
      return (topic, bid) -> bid == null ? null
          : encodeValue(bid.auction(), bid.bidder(), bid.price(), bid.time(),
              bid.channel().getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public Deserializer<Bid> deserializer() {
      return (topic, data) -> data == null ? null : decodeValue(topic, data);
    }
  };

  private KafkaBidDescriptor() {}

  /** The key of a bid on {@code auction}. */
  static byte[] encodeKey(long auction) {
    byte[] key = new byte[KEY_LENGTH];
    NexmarkEmitters.putLong(key, 0, auction);
    return key;
  }

  /** The value of a bid whose channel is {@code channelUtf8} (kept by reference only during the call). */
  static byte[] encodeValue(long auction, long bidder, long price, long time, byte[] channelUtf8) {
    byte[] v = new byte[CHANNEL_OFFSET + channelUtf8.length];
    NexmarkEmitters.putLong(v, AUCTION_OFFSET, auction);
    NexmarkEmitters.putLong(v, BIDDER_OFFSET, bidder);
    NexmarkEmitters.putLong(v, PRICE_OFFSET, price);
    NexmarkEmitters.putLong(v, TIME_OFFSET, time);
    System.arraycopy(channelUtf8, 0, v, CHANNEL_OFFSET, channelUtf8.length);
    return v;
  }

  /**
   * Decodes a value.
   *
   * @throws IllegalArgumentException when {@code data} is shorter than the fixed part, naming {@code topic}
   */
  static Bid decodeValue(String topic, byte[] data) {
    if (data.length < CHANNEL_OFFSET) {
      throw new IllegalArgumentException("a bid value on topic " + topic + " has " + data.length
          + " bytes, fewer than the " + CHANNEL_OFFSET + " of its fixed part");
    }
    return new Bid(getLong(data, AUCTION_OFFSET), getLong(data, BIDDER_OFFSET), getLong(data, PRICE_OFFSET),
        getLong(data, TIME_OFFSET),
        new String(data, CHANNEL_OFFSET, data.length - CHANNEL_OFFSET, StandardCharsets.UTF_8));
  }

  static long getLong(byte[] b, int at) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[at + i] & 0xFF);
    }
    return v;
  }
}
