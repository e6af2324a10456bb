package dev.braid.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.IngestResult;
import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.EvaluationException;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import dev.braid.log.AppendResult;
import dev.braid.log.LogStream;
import dev.braid.log.Partitioner;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordTooLargeException;
import dev.braid.spec.StreamSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Ingest into one stream: parse, type-check and encode each event once ({@link EventEncoder}),
 * check the stream's rules, route it to its key's partition, and append each partition's events as
 * one batch. A bad event is rejected with its index and reason; the good events of the same request
 * are still appended. Thread-safe: each calling thread gets its own encoder and batch builders.
 */
public final class Ingestor {

  private final StreamSpec spec;
  private final EventSchema schema;
  private final LogStream stream;
  private final List<EventPredicate> rules = new ArrayList<>();
  private final List<String> ruleTexts;
  private final LongSupplier clock;
  private final ThreadLocal<Scratch> scratch;

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

  public Ingestor(StreamSpec spec, LogStream stream, LongSupplier clock) {
    this.spec = spec;
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

  /** One event to encode: the adapter hides whether it came as JSON or as a Java map. */
  private interface Source {
    String encode(EventEncoder encoder, int index, long now, EventEncoder.Encoded out);
  }

  public IngestResult ingestJson(List<JsonNode> events) {
    return ingest(events.size(), (enc, i, now, out) -> enc.encode(events.get(i), now, out));
  }

  public IngestResult ingestMaps(List<? extends Map<String, ?>> events) {
    return ingest(events.size(), (enc, i, now, out) -> enc.encode(events.get(i), now, out));
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
    return new IngestResult(stream.name(), accepted, positions, rejections);
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
