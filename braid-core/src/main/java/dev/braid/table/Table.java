package dev.braid.table;

import dev.braid.VersionInfo;
import java.io.InputStream;
import java.util.List;
import java.util.Map;

/**
 * A table of the hybrid store: versions built by bulk pushes, kept fresh by real-time writes.
 * Get one with {@code braid.table("user_profile")}.
 *
 * <pre>{@code
 * Table t = braid.table("user_profile");
 * PushReport r = t.push(Files.newInputStream(Path.of("profiles.jsonl")), PushOptions.defaults("profiles.jsonl"));
 * t.patch("u1", Patch.builder().add("tags", "vip").build(), null);   // timestamp: now
 * TableRow row = t.get("u1");                                          // row.asOf(): version, push, cut, position
 * }</pre>
 *
 * <p>Writes go to the table's real-time log ({@code <table>.writes}) and are applied to the current
 * version (and to a version being pushed) within milliseconds; a read sees a write once its
 * position is below the read's {@code asOf().position()}. Conflicts resolve per field by (logical
 * timestamp, log position): the later write wins whatever the order of arrival, so replaying writes
 * is harmless. All methods are thread-safe. A null argument (a key, a row, a patch, a push's input)
 * throws {@link NullPointerException} naming it; the timestamps are the one argument null may be.
 *
 * <p>A table whose current version's Base file was found damaged when Braid opened answers reads,
 * writes, incremental pushes and repushes with {@link dev.braid.UnavailableException} (naming the
 * file) until a full push or the activation of a backup replaces that version.
 */
public interface Table {

  String name();

  /** The row of {@code key}, from the current version. */
  TableRow get(String key);

  /**
   * {@code key} as the table stores it: a whole-number key in its canonical decimal form ({@code 070}
   * is row {@code 70}), any other as given.
   *
   * @throws IllegalArgumentException when the key field is a long and {@code key} is not a whole number
   */
  String rowKey(String key);

  List<TableRow> getAll(List<String> keys);

  /**
   * Replaces the whole row (fields not given become absent).
   *
   * @param timestamp the write's logical timestamp (epoch millis, in the years 0000-9999), or null for now
   * @throws IllegalArgumentException for an unknown field or a value of the wrong type, naming it, or
   *     a timestamp out of range
   */
  WriteResult put(String key, Map<String, ?> row, Long timestamp);

  /** Applies a partial update (see {@link Patch}). */
  WriteResult patch(String key, Patch patch, Long timestamp);

  /**
   * Deletes the row: a tombstone at {@code timestamp}; a later PUT or PATCH (higher timestamp)
   * creates the row again, older ones are ignored.
   */
  WriteResult delete(String key, Long timestamp);

  /** Waits until the current version has applied the write; false on timeout. */
  boolean awaitApplied(WriteResult write, long timeoutMillis) throws InterruptedException;

  /**
   * Runs a bulk push from {@code in} (read to its end on the calling thread, parsed in parallel).
   * A full push builds a new version: loads a Base, replays the real-time writes from the start
   * cut, and swaps it in atomically (the current one becomes a backup); reads of the current
   * version go on meanwhile. With {@code waitForSwap == false} it returns once the input is loaded
   * and the replay and swap continue in the background ({@link #push(String)} follows them). A
   * push with too many bad rows, or that fails, is marked {@code failed} with its report, its files
   * are deleted, and the current version is untouched.
   *
   * @throws IllegalStateException when another push of the table is still building
   * @throws IllegalArgumentException for bad options (a since-position of another shape, beyond the
   *     log's end); a header that does not fit the table fails the push (its report says why)
   */
  PushReport push(InputStream in, PushOptions options);

  /**
   * Repush with TTL: builds a new version from the current version's own rows (Base and real-time
   * writes, as of its position now, which becomes the new start cut), dropping every row whose
   * last write is older than the table's {@code ttl}, then replays and swaps it in like a push. It
   * removes expired rows from storage (reads already hide them). Without a TTL it compacts: the
   * Delta's rows move into the new Base. As for every push, a write after the new cut wins over the
   * pushed row even if its logical timestamp is older.
   *
   * @throws IllegalStateException when a push of the table is still building
   */
  PushReport repush(boolean waitForSwap);

  /** The report of push {@code pushId}: in progress, done or failed. */
  PushReport push(String pushId);

  List<VersionInfo> versions();

  /** Makes a backup version current again (rollback): replays the writes since its cut, then swaps. */
  long activate(long versionId);

  /**
   * Cancels the build of version {@code versionId}: a full push or repush that builds it (it stops at
   * its next chunk of rows or batch of writes and fails "cancelled by request", its files deleted), or
   * a rollback to it (an {@link #activate} of a backup: the activation fails saying it was cancelled,
   * and the version stays a backup). Returns once the build has stopped; refused when nothing builds
   * that version, or when it switched in first.
   */
  void cancel(long versionId);
}
