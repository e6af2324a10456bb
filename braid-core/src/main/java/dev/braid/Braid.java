package dev.braid;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braid.log.Log;
import dev.braid.spec.PipelineSpec;
import dev.braid.view.Engine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Braid embedded in a JVM: the log, the batch and speed layers, and merged reads of every view.
 *
 * <pre>{@code
 * PipelineSpec spec = PipelineSpec.load(Path.of("braid.yaml"));
 * try (Braid braid = Braid.open(Path.of("data"), spec)) {
 *   braid.ingest("transactions", List.of(Map.of("user_id", "u1", "amount", 12.5, "merchant", "m1",
 *       "country", "DE", "ts", 1700000000000L)));                // examples/retail/braid.yaml's rules read every field
 *   braid.awaitCaughtUp(10, TimeUnit.SECONDS);               // the speed layer has folded it
 *   ViewResult r = braid.get("spend_by_user", "u1");   // merge(base, delta), with r.asOf()
 *   braid.runBatch("spend_by_user");                    // a new Base at the log's end, swapped in
 * }
 * }</pre>
 *
 * <p>Opening restores every view from the version catalog and replays the log from each current
 * version's cut; it returns once the Deltas have caught up with the log as it was at open. All
 * methods are thread-safe. Reads are answered in-process; nothing here opens a network port.
 */
public interface Braid extends AutoCloseable {

  /** Opens (or creates) the data directory for {@code spec}; one process at a time. */
  static Braid open(Path dataDir, PipelineSpec spec) {
    return Engine.open(dataDir, spec, Runtime.getRuntime().availableProcessors());
  }

  /** Opens Braid as {@link #open(Path, PipelineSpec)} does, with the given engine options. */
  static Braid open(Path dataDir, PipelineSpec spec, dev.braid.view.EngineOptions options) {
    return Engine.open(dataDir, spec, options);
  }

  PipelineSpec spec();

  /**
   * Appends the valid events and rejects the others with a reason; returns once the accepted events
   * are as durable as the stream's durability promises. An event is a map from field names to
   * values: {@code string} fields take a {@code String}; {@code long} fields an {@code Integer},
   * {@code Long}, {@code Short}, {@code Byte}, or a {@code Double}, {@code Float} or
   * {@code BigDecimal} with a whole value in range; {@code double} fields any finite {@code Number}; {@code boolean} fields a {@code Boolean}; {@code timestamp} fields
   * epoch millis as a number (or the stream's {@code time_unit}), an {@link java.time.Instant} or
   * ISO-8601 text with an offset; a missing or null value is null. Anything else (a {@code Date}, an
   * {@code OffsetDateTime}, a null event) rejects that event alone with the reason.
   */
  IngestResult ingest(String stream, List<? extends Map<String, ?>> events);

  /**
   * As {@link #ingest(String, List)}, idempotent under {@code idempotencyKey} (null: none): event
   * {@code i} gets the id {@code idempotencyKey + "#" + i} (unless the stream has an {@code id}
   * field, whose value is the id), and an event whose id was appended within the stream's
   * {@code dedup_window} is not appended again but acknowledged with its original position. So a
   * client that does not know whether a request went through (a timeout, a crash of the server
   * before it answered) sends it again with the same key and gets the first attempt's positions;
   * the events are in the log once. Keys are 1 to 256 printable ASCII characters.
   *
   * <pre>{@code
   * IngestResult r = braid.ingest("transactions", events, "batch-2024-06-01-0042");
   * // a retry returns r's positions again, with r.duplicates() == r.accepted()
   * }</pre>
   *
   * @throws IllegalArgumentException when the key is empty, too long or not printable ASCII
   * @throws IdempotencyConflictException when the key was used within the dedup window for other
   *     events (another count, or other values): nothing of this call is appended
   */
  IngestResult ingest(String stream, List<? extends Map<String, ?>> events, String idempotencyKey);

  /** As {@link #ingest}, for events parsed from JSON. */
  IngestResult ingestJson(String stream, List<JsonNode> events);

  /** As {@link #ingest(String, List, String)}, for events parsed from JSON. */
  IngestResult ingestJson(String stream, List<JsonNode> events, String idempotencyKey);

  /**
   * As {@link #ingest}, for events given as JSON text, one per element (e.g. NDJSON lines); text
   * that is not JSON is rejected with its line and column; {@code lines[i]} is the line of element
   * {@code i} in the request (null: {@code i + 1}).
   */
  IngestResult ingestText(String stream, List<String> events, int[] lines);

  /** As {@link #ingest(String, List, String)}, for events given as JSON text (see {@link #ingestText}). */
  IngestResult ingestText(String stream, List<String> events, int[] lines, String idempotencyKey);

  /**
   * Events that ingest into {@code stream} refused, with their reasons, from dead-letter offset
   * {@code fromOffset} on (at most {@code limit}).
   */
  List<DeadLetter> deadLetters(String stream, long fromOffset, int limit);

  /**
   * Waits until every view's speed layer has folded the log up to its end as it was when called
   * (so an event whose ingest returned is in every read after this returns true, but an event later
   * than a view's {@code allowed_lateness}: see {@link AsOf}); false when {@code timeout} passed
   * first.
   *
   * @throws dev.braid.log.CorruptLogException when a speed layer stopped at damaged log data
   * @throws IllegalStateException when a speed layer stopped for good on an {@link Error} (out of
   *     memory, say); {@link #faults} names its views, which are refused until a restart
   */
  boolean awaitCaughtUp(long timeout, java.util.concurrent.TimeUnit unit) throws InterruptedException;

  /**
   * Events of {@code stream} that arrived too late for a view's speed layer (see
   * {@link LateEvent}), from late-log offset {@code fromOffset} on (at most {@code limit}).
   */
  List<LateEvent> lateEvents(String stream, long fromOffset, int limit);

  /**
   * Follows the changes stream of a windowed view (see {@link ChangeEvent}): calls {@code consumer}
   * with every event from id {@code fromId} on (0: from the first; a previous event's
   * {@code id + 1} resumes after it), then with each new one as it is emitted, until the
   * subscription or the engine is closed.
   *
   * <pre>{@code
   * try (Subscription s = braid.subscribe("spend_by_user_hourly", 0, e ->
   *     System.out.println(e.kind() + " " + e.key() + " " + e.start() + " " + e.values()))) {
   *   ...
   * }
   * }</pre>
   *
   * <p>Threading and back-pressure: the consumer runs on the subscription's own thread, one event at
   * a time in id order; the view's changes log is the buffer, so a slow consumer falls behind without
   * holding anything else up. An exception from the consumer ends the subscription (see
   * {@link Subscription#failure()}). Closing the subscription (or the engine) waits up to 5 s for a
   * consumer call in progress, then interrupts the consumer's thread and waits a second more; a
   * consumer that still has not returned is left to end on its own and gets no further event.
   *
   * @throws UnknownNameException when the view does not exist
   * @throws IllegalArgumentException when the view has no changes log: it never had a window (a view
   *     whose window a reprocess removed keeps the log it has), or {@code fromId} is negative or
   *     past the next id to be emitted
   */
  Subscription subscribe(String view, long fromId, java.util.function.Consumer<ChangeEvent> consumer);

  /**
   * As {@link #subscribe(String, long, java.util.function.Consumer)}, only the events of {@code key}
   * (null: all), read as {@link #groupKey} reads it.
   *
   * @throws BadKeyException as {@link #groupKey}
   */
  Subscription subscribe(String view, long fromId, String key, java.util.function.Consumer<ChangeEvent> consumer);

  /**
   * Up to {@code limit} events of the changes stream of a windowed view from id {@code fromId} on
   * (fewer when the stream has fewer); does not wait for new ones.
   *
   * @throws UnknownNameException when the view does not exist
   * @throws IllegalArgumentException as {@link #subscribe(String, long, java.util.function.Consumer)}
   */
  List<ChangeEvent> changes(String view, long fromId, int limit);

  /**
   * {@code key} as view {@code view} writes the keys of its groups (and of its changes): for a view
   * grouped by a number, the number it names in its canonical text ({@code 070} is {@code 70} of a
   * long key, {@code 7e1} is {@code 70.0} of a double one); any other key as it is.
   *
   * @throws BadKeyException when no group of the view can have the key
   */
  String groupKey(String view, String key);

  /**
   * The merged result of {@code key} in {@code view}; over all windows for a windowed view. A key of a
   * view grouped by a number is read as the number it names ({@code 070} is the group {@code 70} of a
   * long key, {@code 70} the group {@code 70.0} of a double one), and the result carries the key as
   * the view writes it.
   *
   * @throws BadKeyException when no group of the view can have the key: a key that is not a number
   *     where the view groups by one
   */
  ViewResult get(String view, String key);

  /**
   * For a windowed view: the windows of {@code key} that start in {@code [fromMillis, toMillis)}.
   *
   * @throws IllegalArgumentException when the view (its current version) has no windows, unless the
   *     range is {@code [Long.MIN_VALUE, Long.MAX_VALUE)}
   * @throws BadKeyException as {@link #get(String, String)}
   */
  ViewResult get(String view, String key, long fromMillis, long toMillis);

  /**
   * {@link #get(String, String)} of each of {@code keys}, in their order.
   *
   * @throws BadKeyException as {@link #get(String, String)}, its message naming the key's index
   *     ({@code keys[3]: ...})
   */
  List<ViewResult> getAll(String view, List<String> keys);

  /**
   * {@link #get(String, String, long, long)} of each of {@code keys}, in their order.
   *
   * @throws IllegalArgumentException as {@link #get(String, String, long, long)}
   */
  List<ViewResult> getAll(String view, List<String> keys, long fromMillis, long toMillis);

  List<VersionInfo> versions(String view);

  /**
   * Runs a batch cycle of {@code view} now; returns the id of the current version once it is done:
   * the one it built, or, when no event came since the current version's cut, that version (which
   * stays current: see {@link #runBatchCycle}).
   *
   * @throws UnknownNameException when the view does not exist
   * @throws IllegalArgumentException when the view is a kappa view: it has no batch layer (reprocess it)
   */
  long runBatch(String view);

  /** {@link #runBatch} (and its exceptions), saying whether this call built the version (see {@link BatchCycle}). */
  BatchCycle runBatchCycle(String view);

  /**
   * Starts building a new version of {@code view} with {@code newDefinition} and returns its id at
   * once; the version is {@code building} while it is built in the background, and its progress is
   * in {@link #versions} and {@link #status}. A kappa view's version replays the log from its start
   * into a new Delta; a lambda view's version gets a Base recomputed at the log's end and a Delta
   * that catches up from there. Once the new version has caught up with the current one it becomes
   * current atomically (the current one becomes {@code backup}) unless {@code options} hold it for
   * {@link #activate}. Reads see the old version or the new one, never a mix, and never an earlier
   * position. Events on which the new definition fails at run time are left out and counted
   * ({@code skippedEvents} in {@link #status}), as for the spec's definition. If the build fails (an IO error)
   * the version becomes {@code failed} with the reason and the current version keeps serving.
   *
   * @param newDefinition the new definition; its name, source stream and mode must be the view's
   *     (see {@link PipelineSpec#parseView}); it is validated against the spec's streams
   * @param options how to run it, not null ({@link ReprocessOptions#defaults()} for none)
   * @throws dev.braid.spec.SpecException when the definition is invalid, naming each error's path
   * @throws IllegalStateException when another version of the view is still building
   */
  long reprocess(String view, dev.braid.spec.ViewSpec newDefinition, ReprocessOptions options);

  /**
   * The definition that {@code view}'s current version computes: the spec's, or the one a
   * reprocess switched in (its {@code keep} and mode are what a reprocess without them keeps).
   */
  dev.braid.spec.ViewSpec servingDefinition(String view);

  /**
   * Makes version {@code versionId} of {@code view} current and returns once it is: a held
   * {@code building} version is switched in; one still building is switched in as soon as it has
   * caught up; a {@code backup} (rollback) first gets a new Delta replayed from its cut (a lambda
   * backup keeps its Base file) and is switched in once that has caught up. Activating the current
   * version does nothing.
   *
   * @throws UnknownNameException when the view or the version does not exist
   * @throws IllegalStateException when the version is {@code failed} or {@code retired}, or its build fails
   */
  long activate(String view, long versionId);

  /**
   * Discards a reprocessed version that is held for activation: it stops following the log, its
   * files are deleted and it is marked {@code discarded}, so another reprocess can start. On a
   * version being rolled back to (a backup being activated), cancels the rollback: its replay stops,
   * it stays a backup, and the activation that asked for it fails saying so.
   *
   * @throws UnknownNameException when the view or the version does not exist
   * @throws IllegalStateException when the version is not a held reprocess (still replaying, or not
   *     building at all)
   */
  void discard(String view, long versionId);

  /**
   * The retired views: those whose versions the catalog keeps though the spec no longer defines them.
   * Putting one back in the spec (with the same stream and mode) serves its versions again; {@link
   * #dropView} removes one for good.
   */
  java.util.List<Status.RetiredView> retiredViews();

  /**
   * Drops retired view {@code view} (see {@link #retiredViews}): its versions leave the catalog and
   * its files (Bases, changes feed, closed windows) are deleted, so that its name can be given to a new
   * view of another stream or mode. The late events it recorded stay in its stream's late log, which
   * is immutable, but count for no view of its name any more ({@link LateEvent#current} false).
   * Returns how many versions were dropped.
   *
   * @throws UnknownNameException when no retired view has that name (the message lists those there are)
   * @throws IllegalStateException when the spec defines the view
   */
  int dropView(String view);

  /**
   * The retired tables: those whose versions the catalog keeps though the spec no longer defines
   * them. Putting one back in the spec (with the same fields) serves it again; {@link #dropTable}
   * removes one for good.
   */
  java.util.List<String> retiredTables();

  /**
   * Drops retired table {@code table} (see {@link #retiredTables}): its pushed Bases, checkpoints and
   * log of writes are deleted, its recorded fields forgotten and its versions leave the catalog, so
   * that its name can be given to a new table, with other fields too. Returns how many versions were
   * dropped.
   *
   * @throws UnknownNameException when no retired table has that name (the message lists those there are)
   * @throws IllegalStateException when the spec defines the table
   */
  int dropTable(String table);

  Status status();

  /**
   * Table {@code name} of the hybrid store (declared under {@code tables:}): reads, real-time
   * writes, bulk pushes and versions.
   *
   * @throws UnknownNameException when the spec has no such table
   */
  dev.braid.table.Table table(String name);

  /** Streams whose ingest is failing and views refused because a file is damaged; see {@link Faults}. */
  Faults faults();

  /**
   * Rebuilds a view whose current Base is damaged (see {@link UnavailableException}): the damaged
   * file is moved aside as {@code <name>.corrupt} (kept for inspection, never deleted), a batch
   * cycle recomputes a new Base from the log at a fresh cut, and the new version is swapped in, so
   * the view serves again. Returns the new version's id. Throws {@link IllegalStateException} when
   * the view is not damaged, or when its stream's log is (data the log no longer holds cannot be
   * recomputed: restore the segment file from a backup).
   */
  long repair(String view);

  /** The underlying log (for tools and tests). */
  Log log();

  @Override
  void close();
}
