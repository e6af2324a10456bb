package dev.braid.view;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.ChangeEvent;
import dev.braid.Subscription;
import dev.braid.ViewResult;
import dev.braid.log.LogReader;
import dev.braid.log.LogStream;
import dev.braid.log.RecordBatchBuilder;
import dev.braid.log.RecordCursor;
import dev.braid.spec.WindowSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The changes stream of one windowed view: the result of each window when the watermark closes
 * it, and a correction each time a closed window's result changes after that (see
 * {@link ChangeEvent} for the exact semantics). Events are JSON records in the one-partition log
 * stream {@code <view>.changes}; an event's id is its offset there.
 *
 * <h2>How windows are found</h2>
 * A <em>pass</em> reads the stream's watermark {@code W}, then every key of the current version
 * (Base and Delta) with a merged read, and compares each window whose end is at or below
 * {@code W - allowed_lateness} with what the feed emitted for it: never emitted → {@code close};
 * emitted with a different result → {@code correction}. The watermark is read before the Delta's
 * read locks, and a speed-layer thread publishes its largest event time inside its write lock, so
 * the read holds every event that moved the watermark. A pass costs one merged read per key; it
 * runs off the ingest and read paths, and only when it can find something:
 * <ul>
 *   <li>the current version changed (a batch cycle's swap: its corrections follow within
 *       {@value #PASS_MILLIS} ms);
 *   <li>the watermark reached the <em>next close</em>: the smallest end of a window the last pass
 *       saw open, or sooner the next boundary of the window kind after the last pass's close line
 *       (a tumbling window's end, the next hop, or one session gap), so a window created after
 *       that pass is not missed;
 *   <li>the watermark moved and {@value #SWEEP_MILLIS} ms have passed since the last pass: a sweep
 *       for what the two rules above cannot foresee (an event the speed layer added to a window
 *       already closed, without {@code allowed_lateness} or from a partition idle behind the
 *       watermark; a session that closes before the next boundary).
 * </ul>
 * So with live traffic the feed reads every key once per closing boundary and once per sweep, not
 * every {@value #PASS_MILLIS} ms.
 *
 * <h2>Exactly once</h2>
 * Only the feed's thread (or a test calling {@link #pass} under the same lock) writes the log. The
 * feed remembers, per emitted {@code (key, window start)}, the id and a 64-bit hash of the emitted
 * result; it updates that after the append, and rebuilds it from the log at start
 * ({@link #recover}), so a restart emits no window twice. Entries of windows that retention evicted
 * (below the version's horizon) are dropped; otherwise the memory is one entry per closed window,
 * about 40 bytes ({@link EmittedWindows}).
 *
 * <h2>Retention</h2>
 * The changes log is an ordinary log stream with the view stream's durability and is kept whole,
 * like every Braid stream: a client can resume from any id ever emitted.
 */
final class ChangeFeed implements AutoCloseable {

  /** The suffix of a view's changes log in the {@link dev.braid.log.Log}. */
  static final String SUFFIX = ".changes";
  static final long PASS_MILLIS = 100;
  static final long SWEEP_MILLIS = 5_000;
  private static final int APPEND_CHUNK = 512;
  private static final Logger LOG = LoggerFactory.getLogger(ChangeFeed.class);
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.USE_LONG_FOR_INTS);

  private final String view;
  private final ViewRuntime runtime;
  private final SpeedLayer speed;
  private final LogStream log;
  private final LongSupplier clock;
  // guarded by this: the emitted windows, (key, window start) -> {id, hash}
  private final EmittedWindows emitted = new EmittedWindows();
  private final List<Sub> subscriptions = new CopyOnWriteArrayList<>();
  private long lastWatermark = Long.MIN_VALUE;
  private long lastVersion = -1;
  /** The close line {@code W - lateness} at which the next pass has something to close (see the class comment). */
  private long nextClose = Long.MIN_VALUE;
  private long lastPassNanos;
  private volatile boolean closed;
  private Thread thread;
  private final Object sleeper = new Object();

  ChangeFeed(String view, ViewRuntime runtime, SpeedLayer speed, LogStream log, LongSupplier clock) {
    this.view = view;
    this.runtime = runtime;
    this.speed = speed;
    this.log = log;
    this.clock = clock;
  }

  /** Rebuilds what was emitted from the changes log. */
  synchronized void recover() {
    for (ChangeEvent e : read(log.startOffset(0), Integer.MAX_VALUE)) {
      remember(e.key(), e.start(), e.id(), hash(JSON.valueToTree(e.values())));
    }
  }

  void start() {
    thread = new Thread(this::run, "braid-changes-" + view);
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    while (!closed) {
      try {
        if (passDue(speed.watermark(), runtime.current(), System.nanoTime())) {
          pass();
        }
        pause(PASS_MILLIS);
      } catch (RuntimeException e) {
        if (closed) {
          return;
        }
        LOG.error("changes feed of view '{}': a pass failed; retrying", view, e);
        pause(PASS_MILLIS * 10);
      }
    }
  }

  /** Waits without an interrupt: the thread appends to the log, whose channels an interrupt closes. */
  private void pause(long millis) {
    synchronized (sleeper) {
      if (!closed) {
        try {
          sleeper.wait(millis);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closed = true;
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Emitting
  // ---------------------------------------------------------------------------------------------

  /** Whether a pass now could emit something (see the class comment); {@code nanoNow} from {@link System#nanoTime}. */
  synchronized boolean passDue(long w, Version v, long nanoNow) {
    if (v.id != lastVersion) {
      return true;
    }
    if (w == lastWatermark || w == Long.MIN_VALUE) {
      return false;
    }
    return w - Math.max(0, v.program.allowedLateness) >= nextClose
        || nanoNow - lastPassNanos >= TimeUnit.MILLISECONDS.toNanos(SWEEP_MILLIS);
  }

  /**
   * The next close line after {@code closeAtOrBelow} at which a window of this kind may close,
   * whatever events arrive: never later than the true next close, sometimes earlier (one pass
   * that finds nothing).
   */
  private static long nextBoundary(WindowSpec window, long closeAtOrBelow) {
    long next = switch (window.kind()) {
      case TUMBLING -> window.end(window.start(closeAtOrBelow));
      case HOPPING -> saturatedAdd(closeAtOrBelow, window.every().toMillis());
      case SESSION -> saturatedAdd(closeAtOrBelow, window.gap().toMillis());
    };
    return Math.max(next, saturatedAdd(closeAtOrBelow, 1));
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? Long.MAX_VALUE : r;
  }

  /** Emits every window closed and not yet emitted, and every correction; returns how many events. */
  synchronized int pass() {
    long w = speed.watermark();
    Version v = runtime.current();
    lastWatermark = w;
    lastVersion = v.id;
    lastPassNanos = System.nanoTime();
    if (w == Long.MIN_VALUE || v.program.window == null) {
      nextClose = Long.MIN_VALUE;
      return 0;
    }
    long lateness = Math.max(0, v.program.allowedLateness);
    long closeAtOrBelow = w - lateness;
    long next = nextBoundary(v.program.window, closeAtOrBelow);
    long horizon = v.horizon;
    if (horizon != Long.MIN_VALUE) {
      emitted.removeBelow(horizon);
    }
    // Appended a chunk at a time as the keys are read, so a pass that closes millions of windows
    // (a first pass over a long history) holds one chunk of events, not all of them.
    List<ObjectNode> out = new ArrayList<>();
    List<Object[]> remembered = new ArrayList<>(); // key, start, hash per record of out
    long now = clock.getAsLong();
    int emittedNow = 0;
    for (String key : runtime.keys()) {
      ViewResult r;
      try {
        r = runtime.get(key);
      } catch (dev.braid.UnavailableException e) {
        nextClose = Long.MIN_VALUE; // try again at every watermark move until it is repaired
        return emittedNow + append(out, remembered, now); // a damaged Base: nothing more until it is repaired
      }
      int seen = emitted.keyId(key);
      for (ViewResult.WindowValue wv : r.windows()) {
        if (wv.end() > closeAtOrBelow) {
          next = Math.min(next, wv.end());
          continue;
        }
        JsonNode values = JSON.valueToTree(wv.values());
        long h = hash(values);
        int prior = emitted.find(seen, wv.start());
        if (prior >= 0 && emitted.hash(prior) == h) {
          continue;
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("kind", prior < 0 ? "close" : "correction").put("key", key).put("start", wv.start())
            .put("end", wv.end()).put("state", wv.state().name().toLowerCase(java.util.Locale.ROOT))
            .put("corrects", prior < 0 ? -1 : emitted.id(prior)).put("version", r.asOf().version())
            .put("watermark", w);
        o.set("values", values);
        out.add(o);
        remembered.add(new Object[] {key, wv.start(), h});
      }
      if (out.size() >= APPEND_CHUNK) {
        emittedNow += append(out, remembered, now);
      }
    }
    emittedNow += append(out, remembered, now);
    nextClose = next;
    return emittedNow;
  }

  /** Appends the events in {@code out} to the changes log, remembers them, clears both lists; returns how many. */
  private int append(List<ObjectNode> out, List<Object[]> remembered, long now) {
    int n = out.size();
    if (n == 0) {
      return 0;
    }
    for (int i = 0; i < n; i += APPEND_CHUNK) {
      RecordBatchBuilder b = new RecordBatchBuilder(64 * 1024, log.config().maxRecordBytes());
      int end = Math.min(n, i + APPEND_CHUNK);
      for (int j = i; j < end; j++) {
        try {
          b.add(((String) remembered.get(j)[0]).getBytes(StandardCharsets.UTF_8), JSON.writeValueAsBytes(out.get(j)),
              (Long) remembered.get(j)[1], now);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      dev.braid.log.AppendResult appended = log.append(0, b);
      for (int j = i; j < end; j++) {
        Object[] m = remembered.get(j);
        remember((String) m[0], (Long) m[1], appended.offset(j - i), (Long) m[2]);
      }
    }
    out.clear();
    remembered.clear();
    return n;
  }

  private void remember(String key, long start, long id, long hash) {
    emitted.put(key, start, id, hash);
  }

  /** Windows emitted so far (for status and tests). */
  synchronized int emittedWindows() {
    return emitted.size();
  }

  /** A 64-bit FNV-1a hash of the result's JSON. */
  private static long hash(JsonNode values) {
    byte[] b;
    try {
      b = JSON.writeValueAsBytes(values);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long h = 0xcbf29ce484222325L;
    for (byte x : b) {
      h = (h ^ (x & 0xff)) * 0x100000001b3L;
    }
    return h;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading and subscriptions
  // ---------------------------------------------------------------------------------------------

  /** The id the next event will get. */
  long endId() {
    return log.endOffset(0);
  }

  private long checkFrom(long from) {
    long end = log.endOffset(0);
    if (from < 0 || from > end) {
      throw new IllegalArgumentException(String.format(
          "change id %d is out of range for view '%s': ids run from 0 to %d (the next id)", from, view, end));
    }
    return Math.max(from, log.startOffset(0));
  }

  /** Up to {@code limit} events from id {@code from} on. */
  List<ChangeEvent> read(long from, int limit) {
    long start = checkFrom(from);
    List<ChangeEvent> out = new ArrayList<>();
    if (start >= log.endOffset(0)) {
      return out;
    }
    try (LogReader r = log.reader(0, start)) {
      while (out.size() < limit) {
        RecordCursor c = r.poll();
        boolean any = false;
        while (out.size() < limit && c.next()) {
          any = true;
          out.add(decode(c));
        }
        if (!any) {
          break;
        }
      }
    }
    return out;
  }

  private ChangeEvent decode(RecordCursor c) {
    try {
      JsonNode o = JSON.readTree(c.value());
      @SuppressWarnings("unchecked")
      Map<String, Object> values = JSON.treeToValue(o.path("values"), java.util.LinkedHashMap.class);
      return new ChangeEvent(c.offset(), view,
          "close".equals(o.path("kind").asText()) ? ChangeEvent.Kind.CLOSE : ChangeEvent.Kind.CORRECTION,
          o.path("key").asText(), o.path("start").asLong(), o.path("end").asLong(), values,
          "final".equals(o.path("state").asText()) ? ViewResult.WindowState.FINAL
              : ViewResult.WindowState.PROVISIONAL,
          o.path("corrects").asLong(), o.path("version").asLong(), o.path("watermark").asLong(), c.ingestTime());
    } catch (IOException e) {
      throw new IllegalStateException("changes-log record at offset " + c.offset() + " of view '" + view
          + "' is not JSON", e);
    }
  }

  /** Starts a subscription from id {@code from}; {@code filter} (null: all) selects events. */
  Subscription subscribe(long from, Predicate<ChangeEvent> filter, Consumer<ChangeEvent> consumer) {
    if (closed) {
      throw new IllegalStateException("the changes feed of view '" + view + "' is closed");
    }
    Sub s = new Sub(checkFrom(from), filter, consumer);
    subscriptions.add(s);
    s.thread.start();
    return s;
  }

  private final class Sub implements Subscription {
    private final Predicate<ChangeEvent> filter;
    private final Consumer<ChangeEvent> consumer;
    private final Thread thread;
    private volatile long next;
    private volatile boolean stopped;
    private volatile Throwable failure;
    private volatile LogReader reader;

    Sub(long from, Predicate<ChangeEvent> filter, Consumer<ChangeEvent> consumer) {
      this.next = from;
      this.filter = filter;
      this.consumer = consumer;
      this.thread = new Thread(this::loop, "braid-subscription-" + view);
      thread.setDaemon(true);
    }

    private void loop() {
      try (LogReader r = log.reader(0, next)) {
        reader = r;
        while (!stopped) {
          RecordCursor c = r.poll();
          boolean any = false;
          while (!stopped && c.next()) {
            any = true;
            ChangeEvent e = decode(c);
            if (filter == null || filter.test(e)) {
              consumer.accept(e);
            }
            next = e.id() + 1;
          }
          if (!any && !stopped) {
            r.awaitData(1, TimeUnit.SECONDS);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException | Error e) {
        if (!stopped) {
          failure = e;
          LOG.warn("subscription to the changes of view '{}' ended: the consumer threw", view, e);
        }
      } finally {
        stopped = true;
        subscriptions.remove(this);
      }
    }

    @Override
    public long nextId() {
      return next;
    }

    @Override
    public boolean isClosed() {
      return stopped;
    }

    @Override
    public Throwable failure() {
      return failure;
    }

    @Override
    public void close() {
      stopped = true;
      LogReader r = reader;
      if (r != null) {
        r.wakeup();
      }
      if (Thread.currentThread() != thread) {
        try {
          thread.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    synchronized (sleeper) {
      sleeper.notifyAll();
    }
    if (thread != null) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(10));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (Sub s : subscriptions) {
      s.close();
    }
  }

}
