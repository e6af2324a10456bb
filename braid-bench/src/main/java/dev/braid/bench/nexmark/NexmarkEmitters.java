package dev.braid.bench.nexmark;

import dev.braid.event.EventDescriptor;
import dev.braid.event.EventEncoder;
import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.spec.StreamSpec;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Where generated events go: a Braid stream (through the in-process log, or through the HTTP
 * ingest of a running server), files (NDJSON, CSV) and a Kafka topic. Every target gets the same
 * bids, field for field, so every engine reads the same data.
 *
 * <h2>The bids stream</h2>
 * {@value #STREAM}: {@code auction} (long, the key), {@code bidder} (long), {@code price} (long,
 * cents), {@code channel} (string), {@code ts} (timestamp, the event time, epoch millis). As NDJSON
 * one bid is {@code {"auction":12,"bidder":3,"price":5012,"channel":"Google","ts":1767225600040}}
 * ({@code braid ingest} takes such files as they are); the CSV file has the header
 * {@code auction,bidder,price,channel,ts} and the same values.
 *
 * <p>To a Kafka topic ({@link #toKafka}) one record per bid, keyed by the auction id, in the compact
 * binary layout of {@link KafkaBidDescriptor} (the one the Kafka Streams peer reads).
 */
public final class NexmarkEmitters {

  public static final String STREAM = "bids";
  /** Bids per append to one partition / per HTTP request. */
  static final int BATCH = 4096;

  private NexmarkEmitters() {}

  /** The bids stream's spec (see the class comment), keyed by auction. */
  public static StreamSpec streamSpec(int partitions) {
    return StreamSpec.builder(STREAM).partitions(partitions).key("auction").time("ts")
        .field("auction", FieldType.LONG).field("bidder", FieldType.LONG).field("price", FieldType.LONG)
        .field("channel", FieldType.STRING).field("ts", FieldType.TIMESTAMP).durability(Durability.os()).build();
  }

  // ---------------------------------------------------------------------------------------------
  // Braid log
  // ---------------------------------------------------------------------------------------------

  /**
   * Appends the bids among events {@code [from, to)} to {@code stream} (of {@link #streamSpec}),
   * partitioned by auction as Braid's ingest would, in batches of up to {@value #BATCH} per
   * partition. The value bytes are laid out per {@link EventDescriptor} directly; the first bid is
   * checked against {@link EventEncoder}, so a change of the format fails here rather than writing
   * other events. Returns the number of bids appended.
   */
  public static long toLog(NexmarkGenerator g, long from, long to, LogStream stream, StreamSpec spec) {
    LogLayout layout = new LogLayout(spec, g);
    int partitions = stream.partitions();
    RecordBatchBuilder[] batches = new RecordBatchBuilder[partitions];
    for (int p = 0; p < partitions; p++) {
      batches[p] = new RecordBatchBuilder();
    }
    long[] n = {0};
    boolean[] checked = {false};
    g.forEachBid(from, to, b -> {
      layout.fill(b);
      if (!checked[0]) {
        layout.check(b);
        checked[0] = true;
      }
      int p = Partitioner.partition(layout.key, 0, layout.keyLength, partitions);
      batches[p].add(layout.key, 0, layout.keyLength, layout.value, 0, layout.valueLength, b.dateTime, 0L);
      if (batches[p].count() == BATCH) {
        stream.append(p, batches[p]);
        batches[p].clear();
      }
      n[0]++;
    });
    for (int p = 0; p < partitions; p++) {
      if (!batches[p].isEmpty()) {
        stream.append(p, batches[p]);
      }
    }
    stream.flush();
    return n[0];
  }

  /** One bid's log record, written in place. */
  private static final class LogLayout {
    final StreamSpec spec;
    final int fields;
    final int auction;
    final int bidder;
    final int price;
    final int channel;
    final int ts;
    final int fixed;
    final byte[][] channelBytes;
    final byte[] key = new byte[20];
    byte[] value;
    int keyLength;
    int valueLength;

    LogLayout(StreamSpec spec, NexmarkGenerator g) {
      this.spec = spec;
      var schema = spec.schema();
      fields = schema.fields().size();
      auction = schema.require("auction").index();
      bidder = schema.require("bidder").index();
      price = schema.require("price").index();
      channel = schema.require("channel").index();
      ts = schema.require("ts").index();
      fixed = EventDescriptor.fixedLength(fields);
      String[] names = g.channels();
      channelBytes = new byte[names.length][];
      int longest = 0;
      for (int c = 0; c < names.length; c++) {
        channelBytes[c] = names[c].getBytes(StandardCharsets.UTF_8);
        longest = Math.max(longest, channelBytes[c].length);
      }
      value = new byte[fixed + longest];
      value[0] = EventDescriptor.VERSION;
    }

    void fill(NexmarkGenerator.Bid b) {
      keyLength = writeDecimal(b.auction, key);
      putLong(value, EventDescriptor.slotOffset(fields, auction), b.auction);
      putLong(value, EventDescriptor.slotOffset(fields, bidder), b.bidder);
      putLong(value, EventDescriptor.slotOffset(fields, price), b.price);
      putLong(value, EventDescriptor.slotOffset(fields, ts), b.dateTime);
      byte[] c = channelBytes[b.channelIndex];
      int slot = EventDescriptor.slotOffset(fields, channel);
      putLong(value, slot, ((long) fixed << 32) | c.length);
      System.arraycopy(c, 0, value, fixed, c.length);
      valueLength = fixed + c.length;
    }

    void check(NexmarkGenerator.Bid b) {
      Map<String, Object> event = new LinkedHashMap<>();
      event.put("auction", b.auction);
      event.put("bidder", b.bidder);
      event.put("price", b.price);
      event.put("channel", b.channel);
      event.put("ts", b.dateTime);
      EventEncoder.Encoded enc = new EventEncoder.Encoded();
      String reason = new EventEncoder(spec.schema()).encode(event, 0L, enc);
      if (reason != null) {
        throw new IllegalStateException("the reference encoder refused a generated bid: " + reason);
      }
      if (!Arrays.equals(value, 0, valueLength, enc.value(), 0, enc.valueLength())
          || !Arrays.equals(key, 0, keyLength, enc.key(), 0, enc.key().length)) {
        throw new IllegalStateException("the Nexmark bid layout differs from EventEncoder's: update "
            + "NexmarkEmitters.LogLayout to the current EventDescriptor");
      }
    }
  }

  /** Writes {@code v >= 0} in decimal ASCII at {@code out[0..]}; returns its length. */
  private static int writeDecimal(long v, byte[] out) {
    int digits = 1;
    for (long x = v; x >= 10; x /= 10) {
      digits++;
    }
    for (int i = digits - 1; i >= 0; i--) {
      out[i] = (byte) ('0' + v % 10);
      v /= 10;
    }
    return digits;
  }

  /** Writes {@code v} big-endian at {@code b[at..at+8)}. */
  static void putLong(byte[] b, int at, long v) {
    for (int i = 7; i >= 0; i--) {
      b[at + i] = (byte) v;
      v >>>= 8;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Text: NDJSON and CSV
  // ---------------------------------------------------------------------------------------------

  /** Appends one bid as an NDJSON line of the bids stream (see the class comment). */
  public static void appendJson(NexmarkGenerator.Bid b, StringBuilder out) {
    out.append("{\"auction\":").append(b.auction).append(",\"bidder\":").append(b.bidder).append(",\"price\":")
        .append(b.price).append(",\"channel\":\"").append(b.channel).append("\",\"ts\":").append(b.dateTime)
        .append("}\n");
  }

  /**
   * Writes the bids among events {@code [from, to)} as NDJSON (the bids stream's fields) or, with
   * {@code allEvents}, every event with a {@code type} of {@code person}, {@code auction} or
   * {@code bid} and its kind's fields. Returns the number of lines written.
   */
  public static long toNdjson(NexmarkGenerator g, long from, long to, Path file, boolean allEvents)
      throws IOException {
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      StringBuilder line = new StringBuilder(256);
      long[] n = {0};
      if (!allEvents) {
        g.forEachBid(from, to, b -> {
          line.setLength(0);
          appendJson(b, line);
          write(w, line);
          n[0]++;
        });
        return n[0];
      }
      g.forEach(from, to, new NexmarkGenerator.EventSink() {
        @Override
        public void person(NexmarkGenerator.Person p) {
          line.setLength(0);
          line.append("{\"type\":\"person\",\"id\":").append(p.id).append(",\"name\":\"").append(p.firstName)
              .append(' ').append(p.lastName).append("\",\"city\":\"").append(p.city).append("\",\"state\":\"")
              .append(p.state).append("\",\"ts\":").append(p.dateTime).append("}\n");
          write(w, line);
          n[0]++;
        }

        @Override
        public void auction(NexmarkGenerator.Auction a) {
          line.setLength(0);
          line.append("{\"type\":\"auction\",\"id\":").append(a.id).append(",\"item\":\"").append(a.item)
              .append("\",\"initialBid\":").append(a.initialBid).append(",\"reserve\":").append(a.reserve)
              .append(",\"ts\":").append(a.dateTime).append(",\"expires\":").append(a.expires)
              .append(",\"seller\":").append(a.seller).append(",\"category\":").append(a.category).append("}\n");
          write(w, line);
          n[0]++;
        }

        @Override
        public void bid(NexmarkGenerator.Bid b) {
          line.setLength(0);
          line.append("{\"type\":\"bid\",");
          int start = line.length();
          appendJson(b, line);
          line.deleteCharAt(start); // the bid's own '{'
          write(w, line);
          n[0]++;
        }
      });
      return n[0];
    }
  }

  /** Writes the bids among events {@code [from, to)} as CSV with a header; returns the number of bids. */
  public static long toCsv(NexmarkGenerator g, long from, long to, Path file) throws IOException {
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      w.write("auction,bidder,price,channel,ts\n");
      StringBuilder line = new StringBuilder(128);
      long[] n = {0};
      g.forEachBid(from, to, b -> {
        line.setLength(0);
        line.append(b.auction).append(',').append(b.bidder).append(',').append(b.price).append(',')
            .append(b.channel).append(',').append(b.dateTime).append('\n');
        write(w, line);
        n[0]++;
      });
      return n[0];
    }
  }

  private static void write(Writer w, CharSequence text) {
    try {
      w.append(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Kafka
  // ---------------------------------------------------------------------------------------------

  /**
   * Produces the bids among events {@code [from, to)} to {@code topic} of the cluster at
   * {@code bootstrapServers}, one record per bid in index order, laid out as
   * {@link KafkaBidDescriptor} says: key the auction, record timestamp the event time. The topic
   * must exist; Kafka's default partitioner spreads the auctions over its partitions (so a topic of
   * {@code parallelism} partitions gives each Streams thread one). The producer is idempotent with
   * {@code acks=all} (Kafka's defaults) and batches up to {@value #KAFKA_BATCH_BYTES} bytes a
   * partition. Returns once every record is acknowledged, with the number of bids.
   *
   * @throws IllegalStateException naming the topic and the first failed record when the broker
   *     refused any
   */
  public static long toKafka(NexmarkGenerator g, long from, long to, String bootstrapServers, String topic) {
    Map<String, Object> config = Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
        ProducerConfig.LINGER_MS_CONFIG, 20,
        ProducerConfig.BATCH_SIZE_CONFIG, KAFKA_BATCH_BYTES,
        ProducerConfig.CLIENT_ID_CONFIG, "braid-nexmark-emitter");
    String[] names = g.channels();
    byte[][] channels = new byte[names.length][];
    for (int c = 0; c < names.length; c++) {
      channels[c] = names[c].getBytes(StandardCharsets.UTF_8);
    }
    AtomicReference<String> failure = new AtomicReference<>();
    long[] n = {0};
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config, new ByteArraySerializer(),
        new ByteArraySerializer())) {
      g.forEachBid(from, to, b -> {
        long index = b.index;
        producer.send(new ProducerRecord<>(topic, null, b.dateTime, KafkaBidDescriptor.encodeKey(b.auction),
            KafkaBidDescriptor.encodeValue(b.auction, b.bidder, b.price, b.dateTime, channels[b.channelIndex])),
            (metadata, e) -> {
              if (e != null) {
                failure.compareAndSet(null, "event " + index + ": " + e);
              }
            });
        n[0]++;
      });
      producer.flush();
    }
    if (failure.get() != null) {
      throw new IllegalStateException("the broker at " + bootstrapServers + " refused bids for topic " + topic
          + ", the first at " + failure.get());
    }
    return n[0];
  }

  /** The producer's {@code batch.size} in {@link #toKafka}. */
  static final int KAFKA_BATCH_BYTES = 256 * 1024;

  // ---------------------------------------------------------------------------------------------
  // HTTP ingest of a running server
  // ---------------------------------------------------------------------------------------------

  /**
   * The bids among events {@code [from, to)} as NDJSON request bodies of up to {@code perRequest}
   * bids each, ready to POST (built before anything is timed).
   */
  public static List<byte[]> ndjsonBodies(NexmarkGenerator g, long from, long to, int perRequest) {
    List<byte[]> bodies = new ArrayList<>();
    StringBuilder body = new StringBuilder(perRequest * 96);
    int[] inBody = {0};
    g.forEachBid(from, to, b -> {
      appendJson(b, body);
      if (++inBody[0] == perRequest) {
        bodies.add(body.toString().getBytes(StandardCharsets.UTF_8));
        body.setLength(0);
        inBody[0] = 0;
      }
    });
    if (inBody[0] > 0) {
      bodies.add(body.toString().getBytes(StandardCharsets.UTF_8));
    }
    return bodies;
  }

  /**
   * POSTs {@code bodies[i]} for {@code i = first, first + step, ...} to
   * {@code <baseUrl>/v1/streams/bids/events} as {@code application/x-ndjson}, one request at a time;
   * throws unless the server accepts every event of every request. Returns the events accepted.
   */
  public static long toHttp(HttpClient client, String baseUrl, List<byte[]> bodies, int first, int step)
      throws IOException, InterruptedException {
    URI uri = URI.create(baseUrl + "/v1/streams/" + STREAM + "/events");
    long accepted = 0;
    for (int i = first; i < bodies.size(); i += step) {
      HttpRequest req = HttpRequest.newBuilder(uri).header("Content-Type", "application/x-ndjson")
          .POST(HttpRequest.BodyPublishers.ofByteArray(bodies.get(i))).build();
      HttpResponse<String> resp = client.send(req, HttpResponse.BodyHandlers.ofString());
      if (resp.statusCode() != 200) {
        throw new IOException("POST " + uri + " answered " + resp.statusCode() + ": " + resp.body());
      }
      String text = resp.body();
      int at = text.indexOf("\"accepted\":");
      if (at < 0) {
        throw new IOException("POST " + uri + " answered without an accepted count: " + text);
      }
      int end = at + 11;
      while (end < text.length() && Character.isDigit(text.charAt(end))) {
        end++;
      }
      long n = Long.parseLong(text.substring(at + 11, end));
      long lines = countLines(bodies.get(i));
      if (n != lines) {
        throw new IOException("POST " + uri + " accepted " + n + " of " + lines + " bids: " + text);
      }
      accepted += n;
    }
    return accepted;
  }

  private static long countLines(byte[] body) {
    long n = 0;
    for (byte b : body) {
      if (b == '\n') {
        n++;
      }
    }
    return n;
  }
}
