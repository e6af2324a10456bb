package dev.braid.ingest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.EvaluationException;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import dev.braid.log.AppendResult;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordCursor;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordTooLargeException;
import dev.braid.spec.StreamSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Ingest into one stream: parse, type-check and encode each event once ({@link EventEncoder}),
 * check the stream's rules, route it to its key's partition, and append each partition's events as
 * one batch. A bad event is rejected with its index and reason; the good events of the same request
 * are still appended, and every rejected event is appended, with its reason and its text as sent,
 * to the stream's dead-letter log before the call returns: nothing sent is lost silently.
 * Thread-safe: each calling thread gets its own encoder and batch builders.
 */
public final class Ingestor {

  /** The suffix of a stream's dead-letter log in the {@link dev.braid.log.Log}. */
  public static final String DEAD_LETTER_SUFFIX = ".dead-letters";
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * Reads one event per text and refuses anything after it: by default Jackson stops after the
   * first value, so two events on one NDJSON line would keep the first and silently drop the second.
   */
  private static final ObjectReader ONE_EVENT = JSON.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final int MAX_DEAD_LETTER_TEXT = 64 << 10;

  private final StreamSpec spec;
  private final EventSchema schema;
  private final LogStream stream;
  private final LogStream deadLetters;
  private final List<EventPredicate> rules = new ArrayList<>();
  private final List<String> ruleTexts;
  private final LongSupplier clock;
  private final ThreadLocal<Scratch> scratch;
  private final RateMeter acceptedRate = new RateMeter();
  private final RateMeter rejectedRate = new RateMeter();

  private final class Scratch {
    final EventEncoder encoder = new EventEncoder(schema);
    final EventEncoder.Encoded encoded = new EventEncoder.Encoded();
    final EventReader reader = new EventReader(schema);
    final RecordBatchBuilder[] builders = new RecordBatchBuilder[stream.partitions()];
    @SuppressWarnings("unchecked")
    final List<Integer>[] indexes = new List[stream.partitions()];

    Scratch() {
      for (int p = 0; p < builders.length; p++) {
        builders[p] = new RecordBatchBuilder(16 << 10, stream.config().maxRecordBytes());
        indexes[p] = new ArrayList<>();
      }
    }
  }

  /** An ingestor that keeps no dead letters. */
  public Ingestor(StreamSpec spec, LogStream stream, LongSupplier clock) {
    this(spec, stream, null, clock);
  }

  /**
   * @param deadLetters the log that receives rejected events (one partition), or null to keep none
   */
  public Ingestor(StreamSpec spec, LogStream stream, LogStream deadLetters, LongSupplier clock) {
    this.spec = spec;
    this.deadLetters = deadLetters;
    this.schema = spec.schema();
    this.stream = stream;
    this.clock = clock;
    Expressions ex = new Expressions(schema);
    for (String r : spec.rules()) {
      rules.add(ex.predicate(r));
    }
    this.ruleTexts = List.copyOf(spec.rules());
    this.scratch = ThreadLocal.withInitial(Scratch::new);
  }

  public StreamSpec spec() {
    return spec;
  }

  public LogStream stream() {
    return stream;
  }

  /** One event to encode: the adapter hides whether it came as JSON, text or a Java map. */
  private interface Source {
    String encode(EventEncoder encoder, int index, long now, EventEncoder.Encoded out);

    /** The event as sent, for the dead-letter log. */
    String text(int index);
  }

  public IngestResult ingestJson(List<JsonNode> events) {
    return ingest(events.size(), new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        return enc.encode(events.get(i), now, out);
      }

      public String text(int i) {
        return String.valueOf(events.get(i));
      }
    });
  }

  /**
   * Ingests events given as JSON text, one per element (e.g. the lines of an NDJSON body); text that
   * is not JSON is rejected with the line and column of the problem. {@code lines[i]} is the line of
   * element {@code i} in the request, for messages (null: {@code i + 1}).
   */
  public IngestResult ingestText(List<String> events, int[] lines) {
    return ingest(events.size(), new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        JsonNode node;
        try {
          node = ONE_EVENT.readTree(events.get(i));
        } catch (JsonProcessingException e) {
          return String.format("not JSON at line %d, column %d: %s", lines == null ? i + 1 : lines[i],
              e.getLocation() == null ? 0 : e.getLocation().getColumnNr(), e.getOriginalMessage());
        }
        return enc.encode(node, now, out);
      }

      public String text(int i) {
        return events.get(i);
      }
    });
  }

  public IngestResult ingestMaps(List<? extends Map<String, ?>> events) {
    return ingest(events.size(), new Source() {
      public String encode(EventEncoder enc, int i, long now, EventEncoder.Encoded out) {
        return enc.encode(events.get(i), now, out);
      }

      public String text(int i) {
        try {
          return JSON.writeValueAsString(events.get(i));
        } catch (JsonProcessingException e) {
          return String.valueOf(events.get(i));
        }
      }
    });
  }

  private IngestResult ingest(int n, Source source) {
    Scratch x = scratch.get();
    for (int p = 0; p < x.builders.length; p++) {
      x.builders[p].clear();
      x.indexes[p].clear();
    }
    List<IngestResult.Rejection> rejections = new ArrayList<>();
    long now = clock.getAsLong();
    for (int i = 0; i < n; i++) {
      String error = source.encode(x.encoder, i, now, x.encoded);
      if (error == null) {
        error = checkRules(x);
      }
      if (error != null) {
        rejections.add(new IngestResult.Rejection(i, error));
        continue;
      }
      byte[] key = x.encoded.key();
      int p = Partitioner.partition(key, 0, key.length, stream.partitions());
      try {
        x.builders[p].add(key, 0, key.length, x.encoded.value(), 0, x.encoded.valueLength(), x.encoded.eventTime(),
            now);
        x.indexes[p].add(i);
      } catch (RecordTooLargeException e) {
        rejections.add(new IngestResult.Rejection(i, e.getMessage()));
      }
    }
    if (!rejections.isEmpty()) {
      recordDeadLetters(rejections, source, now);
    }
    Map<Integer, List<Long>> positions = new LinkedHashMap<>();
    int accepted = 0;
    for (int p = 0; p < x.builders.length; p++) {
      if (x.builders[p].isEmpty()) {
        continue;
      }
      AppendResult r = stream.append(p, x.builders[p]);
      List<Long> offsets = new ArrayList<>(r.count());
      for (int i = 0; i < r.count(); i++) {
        offsets.add(r.offset(i));
      }
      positions.put(p, offsets);
      accepted += r.count();
    }
    acceptedRate.record(accepted);
    rejectedRate.record(rejections.size());
    return new IngestResult(stream.name(), accepted, positions, rejections);
  }

  private void recordDeadLetters(List<IngestResult.Rejection> rejections, Source source, long now) {
    if (deadLetters == null) {
      return;
    }
    RecordBatchBuilder b = new RecordBatchBuilder(4096, deadLetters.config().maxRecordBytes());
    byte[] key = stream.name().getBytes(StandardCharsets.UTF_8);
    for (IngestResult.Rejection r : rejections) {
      ObjectNode o = JSON.createObjectNode();
      o.put("index", r.index());
      o.put("reason", r.reason());
      String text = source.text(r.index());
      o.put("event", text.length() > MAX_DEAD_LETTER_TEXT ? text.substring(0, MAX_DEAD_LETTER_TEXT) : text);
      o.put("truncated", text.length() > MAX_DEAD_LETTER_TEXT);
      o.put("length", text.length());
      try {
        b.add(key, JSON.writeValueAsBytes(o), now, now);
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("cannot encode a dead letter", e);
      }
    }
    deadLetters.append(0, b);
  }

  /** Events accepted per second, over the last ten seconds. */
  public double acceptedPerSecond() {
    return acceptedRate.perSecond();
  }

  /** Events rejected per second, over the last ten seconds. */
  public double rejectedPerSecond() {
    return rejectedRate.perSecond();
  }

  /** Up to {@code limit} dead letters from offset {@code from} on. */
  public List<DeadLetter> deadLetters(long from, int limit) {
    List<DeadLetter> out = new ArrayList<>();
    if (deadLetters == null || from >= deadLetters.endOffset(0)) {
      return out;
    }
    try (LogReader r = deadLetters.reader(0, Math.max(from, deadLetters.startOffset(0)))) {
      while (out.size() < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next() && out.size() < limit) {
          any = true;
          try {
            JsonNode o = JSON.readTree(c.value());
            String event = o.path("event").asText();
            out.add(new DeadLetter(c.offset(), c.ingestTime(), o.path("index").asInt(), o.path("reason").asText(),
                event, o.path("truncated").asBoolean(), o.path("length").asLong(event.length())));
          } catch (java.io.IOException e) {
            throw new IllegalStateException("dead letter at offset " + c.offset() + " is not JSON", e);
          }
        }
        if (!any) {
          break;
        }
      }
    }
    return out;
  }

  private String checkRules(Scratch x) {
    if (rules.isEmpty()) {
      return null;
    }
    EventEncoder.Encoded e = x.encoded;
    x.reader.wrap(ByteBuffer.wrap(e.value(), 0, e.valueLength()), 0, e.valueLength()).at(-1, -1, e.eventTime());
    for (int r = 0; r < rules.size(); r++) {
      try {
        if (!rules.get(r).test(x.reader)) {
          return "rule failed: " + ruleTexts.get(r);
        }
      } catch (EvaluationException ex) {
        return "rule '" + ruleTexts.get(r) + "' could not be evaluated: " + ex.getMessage();
      }
    }
    return null;
  }
}
