package dev.braid.view;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.LateEvent;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The late log of one stream: the events that a view's speed layer left out because they came
 * later than the view's {@code allowed_lateness}, one JSON record each in the one-partition log
 * stream {@code <stream>.late}.
 *
 * <h2>Once per view and event</h2>
 * Lateness decisions depend only on the log (see {@link ViewProgram#applySpeed}), so a replay — a
 * restart, a batch cycle's new Delta catching up, a rollback — meets the same late events again.
 * The log keeps, per view and partition, the next event offset not yet recorded; events below it
 * are not recorded twice. {@link #recover} rebuilds those marks and the per-view counts from the
 * late log when the engine opens. Each partition's marks are advanced by that partition's
 * speed-layer thread only.
 *
 * <h2>Durability</h2>
 * The late log has the stream's durability but is written after the Delta moved; a crash between
 * the two can lose a record (the event itself stays in the stream's log and the batch layer still
 * folds it in: the late log is a record for operators, not the way late data reaches the Base).
 */
final class LateLog {

  /** The suffix of a stream's late log in the {@link dev.braid.log.Log}. */
  static final String SUFFIX = ".late";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LogStream log;
  private final int partitions;
  private final LongSupplier clock;
  private final Map<String, AtomicLongArray> next = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

  LateLog(LogStream log, int partitions, LongSupplier clock) {
    this.log = log;
    this.partitions = partitions;
    this.clock = clock;
  }

  /** One late event met by a speed-layer thread, not yet written. */
  record Pending(String view, int partition, long offset, String key, long eventTime, long watermark) {}

  /** Rebuilds the marks and counts from the late log. */
  void recover() {
    for (LateEvent e : read(0, Integer.MAX_VALUE)) {
      marks(e.view()).accumulateAndGet(e.partition(), e.eventOffset() + 1, Math::max);
      counts.computeIfAbsent(e.view(), v -> new AtomicLong()).incrementAndGet();
    }
  }

  private AtomicLongArray marks(String view) {
    return next.computeIfAbsent(view, v -> new AtomicLongArray(partitions));
  }

  /** Whether the late event at {@code offset} of {@code partition} is not yet recorded for {@code view}. */
  boolean isNew(String view, int partition, long offset) {
    return offset >= marks(view).get(partition);
  }

  /**
   * Records late events of one partition (called by that partition's speed-layer thread), each once:
   * while a batch cycle's new version catches up, the old and the new Delta of a view both fold the
   * same records and both find the same events late, so {@code pending} can name an event twice.
   */
  void record(List<Pending> pending) {
    if (pending.isEmpty()) {
      return;
    }
    long now = clock.getAsLong();
    RecordBatchBuilder b = new RecordBatchBuilder(4096, log.config().maxRecordBytes());
    List<Pending> kept = new ArrayList<>();
    List<Pending> ordered = new ArrayList<>(pending);
    ordered.sort(java.util.Comparator.comparing(Pending::view).thenComparingLong(Pending::offset));
    Pending previous = null;
    for (Pending p : ordered) {
      boolean again = previous != null && previous.view().equals(p.view()) && previous.offset() == p.offset();
      previous = p;
      if (again || !isNew(p.view(), p.partition(), p.offset())) {
        continue;
      }
      ObjectNode o = JSON.createObjectNode();
      o.put("view", p.view()).put("partition", p.partition()).put("offset", p.offset()).put("key", p.key())
          .put("eventTime", p.eventTime()).put("watermark", p.watermark());
      try {
        b.add(p.view().getBytes(StandardCharsets.UTF_8), JSON.writeValueAsBytes(o), p.eventTime(), now);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      kept.add(p);
    }
    if (kept.isEmpty()) {
      return;
    }
    log.append(0, b);
    for (Pending p : kept) {
      marks(p.view()).accumulateAndGet(p.partition(), p.offset() + 1, Math::max);
      counts.computeIfAbsent(p.view(), v -> new AtomicLong()).incrementAndGet();
    }
  }

  /** Late events recorded for {@code view} (over the late log's whole history). */
  long count(String view) {
    AtomicLong c = counts.get(view);
    return c == null ? 0 : c.get();
  }

  /** Up to {@code limit} late events from late-log offset {@code from} on. */
  List<LateEvent> read(long from, int limit) {
    List<LateEvent> out = new ArrayList<>();
    if (from >= log.endOffset(0)) {
      return out;
    }
    try (LogReader r = log.reader(0, Math.max(from, log.startOffset(0)))) {
      while (out.size() < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (c.next() && out.size() < limit) {
          any = true;
          try {
            JsonNode o = JSON.readTree(c.value());
            out.add(new LateEvent(c.offset(), o.path("view").asText(), o.path("partition").asInt(),
                o.path("offset").asLong(), o.path("key").asText(), o.path("eventTime").asLong(),
                o.path("watermark").asLong(), c.ingestTime()));
          } catch (IOException e) {
            throw new IllegalStateException("late-log record at offset " + c.offset() + " is not JSON", e);
          }
        }
        if (!any) {
          break;
        }
      }
    }
    return out;
  }
}
