package dev.braid.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.Braid;
import dev.braid.ChangeEvent;
import dev.braid.Subscription;
import dev.braid.UnknownNameException;
import io.javalin.http.Context;
import io.javalin.http.sse.SseClient;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code GET /v1/views/{view}/changes}: a view's changes stream (see {@link ChangeEvent}) as
 * server-sent events. Each event has {@code id:} (the change id), {@code event:} ({@code close},
 * {@code correction} or {@code retract}) and {@code data:} (one line of JSON). The stream starts after the id in the
 * {@code Last-Event-ID} header when there is one (a reconnecting browser or client sends it), else
 * at {@code ?from=} (default 0, the first change ever emitted); {@code ?key=} keeps one key's events.
 * A request that does not ask for {@code text/event-stream} (no {@code Accept}, one that takes
 * only JSON, or one that takes JSON with a higher {@code q} or the stream with {@code q=0}) gets a
 * page of JSON instead: {@code {view, events, next, caughtUp}}, {@code ?limit=} events
 * (1-1000, default 100) from {@code from}; page on with {@code from=next}.
 * Everything is checked before the stream starts, so a bad request gets a problem document: an
 * unknown view is {@code 404}, a view without a window, a malformed or out-of-range id is
 * {@code 400}, a request that accepts neither {@code text/event-stream} nor JSON is {@code 406}.
 *
 * <p>Each connection is a {@link Braid#subscribe subscription}: its thread writes to the client, so
 * a slow client holds up only itself (the changes log is the buffer); no Jetty thread waits while
 * the connection is open. The subscription ends when the client goes away or the server stops: a
 * stop first ends every stream ({@link #closeAll}), since a graceful stop waits for the requests in
 * flight and a changes stream would never finish by itself.
 *
 * <p>Every {@code keepAliveMillis} each open stream gets a comment line ({@code : keep-alive}): a
 * proxy does not cut a quiet stream as idle, and a client that went away is noticed by a failed
 * write (the first write after a peer closes usually succeeds, so within about two intervals),
 * which ends its subscription and frees its thread (on a view without changes nothing else would
 * ever write to it). Writes to one client are serialized on it. A subscription is closed on its
 * own thread pool, never by a thread that holds a client: closing joins the subscription's thread,
 * which may be waiting for that client to deliver an event.
 */
final class ChangesHandler {

  private final Set<SseClient> open = ConcurrentHashMap.newKeySet();
  private volatile boolean stopping;
  private final java.util.concurrent.ScheduledExecutorService keepAlive =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "braid-changes-keep-alive");
        t.setDaemon(true);
        return t;
      });

  /** Closes subscriptions (each close joins its thread) away from the threads that write to clients. */
  private final java.util.concurrent.ExecutorService closer = java.util.concurrent.Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "braid-changes-close");
    t.setDaemon(true);
    return t;
  });

  ChangesHandler(long keepAliveMillis) {
    keepAlive.scheduleWithFixedDelay(this::sendKeepAlives, keepAliveMillis, keepAliveMillis,
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Open streams, for tests. */
  int openStreams() {
    return open.size();
  }

  private void sendKeepAlives() {
    for (SseClient client : open) {
      try {
        synchronized (client) {
          if (!client.terminated()) {
            // a failed write closes the client, whose onClose hands its subscription to the closer
            client.sendComment("keep-alive");
          }
        }
      } catch (Throwable e) { // one client's failure must not end the keep-alives of the others
        LOG.warn("changes stream: keep-alive to a client failed: {}", e.toString());
        open.remove(client);
      }
    }
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ChangesHandler.class);

  /** Ends every open stream, and each one that starts from now on. */
  void closeAll() {
    stopping = true;
    keepAlive.shutdownNow();
    closer.shutdown(); // the closes handed to it still run; the ones from now on run here
    open.forEach(SseClient::close);
    try {
      if (!closer.awaitTermination(15, java.util.concurrent.TimeUnit.SECONDS)) { // before the engine closes
        LOG.warn("changes streams: subscriptions still closing after 15 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static final String LAST_EVENT_ID = "Last-Event-ID";

  void handle(Context ctx, Braid b) throws Exception {
    String view = ctx.pathParam("view");
    String asked = ctx.queryParam("key");
    long from = from(ctx);
    try {
      b.changes(view, from, 0); // refuses an unknown view, a view without a window and an id out of range
    } catch (UnknownNameException e) {
      throw e;
    } catch (IllegalArgumentException e) {
      String last = ctx.header(LAST_EVENT_ID);
      if (last != null && !last.isBlank()) { // the id after it was out of range: name what the client sent
        throw Problem.badRequest("bad-last-event-id", String.format("Last-Event-ID %s is not an id that the changes "
            + "of view '%s' have sent yet: it names the last event a client received", last.trim(), view));
      }
      throw Problem.badRequest("bad-changes-request", e.getMessage());
    }
    String key = asked == null ? null : groupKey(b, view, asked);
    String accept = ctx.header("Accept");
    // A stream when the client names it and takes it at least as gladly as JSON (q-values count: a
    // client that prefers JSON, or refuses the stream with q=0, gets pages); no Accept gets JSON.
    boolean anything = accept == null || accept.isBlank();
    double stream = anything ? 0 : AcceptHeader.quality(accept, "text/event-stream", true);
    double json = anything ? 1 : AcceptHeader.quality(accept, "application/json", false);
    if (stream <= 0 || stream < json) {
      if (json <= 0) {
        throw new Problem(406, "not-acceptable", "Not acceptable", "the changes of a view are server-sent events "
            + "('Accept: text/event-stream') or pages of JSON ('Accept: application/json'), not '" + accept + "'");
      }
      page(ctx, b, view, key, from);
      return;
    }
    if (ctx.queryParam("limit") != null) {
      throw Problem.badRequest("bad-parameter", "'limit' sizes a page of JSON ('Accept: application/json'); a stream "
          + "of server-sent events has no limit");
    }
    if (ctx.method() == io.javalin.http.HandlerType.HEAD) { // the stream's headers, without opening it
      ctx.contentType("text/event-stream");
      return;
    }
    openEventStream(ctx, client -> {
      client.keepAlive();
      Subscription s = b.subscribe(view, from, key, e -> {
        synchronized (client) {
          if (!client.terminated()) {
            client.sendEvent(e.kind().wireName(), json(e), Long.toString(e.id()));
          }
        }
      });
      open.add(client);
      client.onClose(() -> {
        open.remove(client);
        closeLater(s);
      });
      if (client.terminated()) {
        open.remove(client);
        closeLater(s);
      } else if (stopping) {
        client.close(); // began as the server stopped
      }
    });
  }

  /**
   * Answers {@code ctx} with a stream of server-sent events and hands its client to {@code stream} in
   * an asynchronous task without a timeout. Javalin's {@code SseHandler} does the same, but only when
   * the {@code Accept} header holds {@code text/event-stream} in lower case; media types are
   * case-insensitive, and {@code Accept: Text/Event-Stream}, chosen as a stream above, got an empty
   * {@code 200} from it.
   */
  private static void openEventStream(Context ctx, java.util.function.Consumer<SseClient> stream)
      throws java.io.IOException {
    jakarta.servlet.http.HttpServletResponse res = ctx.res();
    res.setStatus(200);
    res.setCharacterEncoding("UTF-8");
    res.setContentType("text/event-stream");
    res.addHeader("Connection", "close"); // the stream ends with its connection
    res.addHeader("Cache-Control", "no-cache");
    res.addHeader("X-Accel-Buffering", "no"); // a proxy in front must not hold events back
    res.flushBuffer(); // the headers now: a client sees the stream open before the first event
    ctx.async(config -> config.timeout = 0, () -> stream.accept(new SseClient(ctx)));
  }

  /** Events a page request scans at most, however few match its {@code key}. */
  static final int PAGE_SCAN = 100_000;
  private static final int SCAN_CHUNK = 1_000;

  /**
   * A page of the changes as JSON: up to {@code limit} events (of {@code key} only, when given) from
   * id {@code from} on, {@code next} (the id to ask for next: after the last event scanned) and
   * {@code caughtUp} (the scan reached the newest event; a page can be empty and not caught up when
   * {@value #PAGE_SCAN} events of other keys came first).
   */
  private static void page(Context ctx, Braid b, String view, String key, long from) {
    int limit = BraidServer.limitParam(ctx);
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("view", view);
    com.fasterxml.jackson.databind.node.ArrayNode events = o.putArray("events");
    long next = from;
    boolean caughtUp = false;
    int scanned = 0;
    while (events.size() < limit && scanned < PAGE_SCAN) {
      List<ChangeEvent> chunk = b.changes(view, next, SCAN_CHUNK);
      for (ChangeEvent e : chunk) {
        next = e.id() + 1;
        scanned++;
        if (key == null || key.equals(e.key())) {
          events.add(node(e));
          if (events.size() == limit) {
            break;
          }
        }
      }
      if (chunk.size() < SCAN_CHUNK && events.size() < limit) {
        caughtUp = true;
        break;
      }
    }
    if (!caughtUp && events.size() == limit) { // a page that ends at the newest event says so
      caughtUp = b.changes(view, next, 1).isEmpty();
    }
    o.put("next", next).put("caughtUp", caughtUp);
    try {
      ctx.status(200).contentType("application/json").result(Json.MAPPER.writeValueAsBytes(o));
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Closes {@code s} on the closer's thread (or here, once the handler is stopped). */
  private void closeLater(Subscription s) {
    try {
      closer.execute(s::close);
    } catch (java.util.concurrent.RejectedExecutionException stopped) {
      s.close(); // the server stops: closeAll ended every stream, and no thread waits on this client
    }
  }

  /** {@code key} as the view writes it: 070 follows the group 70 of a long key, as a read of 070 reads it. */
  private static String groupKey(Braid b, String view, String key) {
    try {
      return b.groupKey(view, key);
    } catch (dev.braid.BadKeyException e) {
      throw Problem.badRequest("bad-key", e.getMessage() + "; nothing was sent");
    }
  }

  /** The first id to send: after {@code Last-Event-ID} when present, else {@code ?from=}. */
  private static long from(Context ctx) {
    // two ids: one of them would be taken, and the client gets a change twice or misses some
    String last = BraidServer.oneHeader(ctx, LAST_EVENT_ID, "conflicting-last-event-id", "nothing was sent");
    if (last != null && !last.isBlank()) {
      try {
        long id = Long.parseLong(last.trim());
        if (id < 0) {
          throw new NumberFormatException();
        }
        // the largest id has no next one: from it, the range check names the ids the view has
        return id == Long.MAX_VALUE ? id : id + 1;
      } catch (NumberFormatException e) {
        throw Problem.badRequest("bad-last-event-id", String.format(
            "Last-Event-ID '%s' is not a change id (a non-negative integer sent as the 'id' of an event)", last));
      }
    }
    String from = ctx.queryParam("from");
    if (from == null) {
      return 0;
    }
    try {
      long f = Long.parseLong(from);
      if (f < 0) {
        throw new NumberFormatException();
      }
      return f;
    } catch (NumberFormatException e) {
      throw Problem.badRequest("bad-parameter", String.format("from '%s' is not a change id (a non-negative integer)",
          from));
    }
  }

  /** One event as one line of JSON. */
  static String json(ChangeEvent e) {
    try {
      return Json.MAPPER.writeValueAsString(node(e));
    } catch (JsonProcessingException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  /** One event as JSON: what an SSE event's data and an element of a page's {@code events} hold. */
  static ObjectNode node(ChangeEvent e) {
    ObjectNode o = Json.MAPPER.createObjectNode();
    o.put("id", e.id()).put("view", e.view()).put("kind", e.kind().wireName()).put("key", e.key())
        .put("start", e.start()).put("end", e.end()).put("state", e.state().name().toLowerCase(Locale.ROOT));
    o.set("values", Json.MAPPER.valueToTree(e.values()));
    if (e.corrects() >= 0) {
      o.put("corrects", e.corrects());
    }
    o.put("version", e.version()).put("watermark", e.watermarkMillis()).put("emittedAt", e.emittedAtMillis());
    return o;
  }
}
