package dev.braid.table;

import dev.braid.log.Cut;
import java.util.List;

/**
 * The outcome of a push, so far or final.
 *
 * @param pushId the push's id; {@code version} the version it builds (0 for an incremental push)
 * @param state {@code loading}, {@code replaying}, {@code done} (current, or applied for an
 *     incremental push) or {@code failed}
 * @param rows rows read and kept; {@code distinctKeys} the Base's keys (a later line of a key wins;
 *     0 for an incremental push, which builds no Base, and for a push that failed before its Base was
 *     written)
 * @param expired rows dropped because their last write is older than the table's TTL
 * @param badRows rows refused; {@code bad} the first 100 of them, each with file, line and reason
 * @param cut of a full push the start cut: writes from it on are replayed onto the new version; of
 *     an incremental push the end of the table's writes once its rows were appended as writes
 * @param failure why the push failed, or null
 */
public record PushReport(String table, String pushId, long version, String state, long bytes, long rows,
    long distinctKeys, long expired, long badRows, List<BadRow> bad, Cut cut, long replayed, double seconds,
    String failure) {

  /** A refused row: where it is and why. */
  public record BadRow(String file, long line, String reason) {
    @Override
    public String toString() {
      return file + ":" + line + ": " + reason;
    }
  }
}
