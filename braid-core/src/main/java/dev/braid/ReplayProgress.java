package dev.braid;

/**
 * Progress of a version being built by a reprocess or a rollback.
 *
 * @param phase {@code batch} (a Lambda view's batch recompute of the new Base), {@code replay} (the
 *     log replayed into the new Delta), {@code held} (caught up and following the log, waiting for
 *     activation) or {@code switching}
 * @param eventsReplayed events the new version has read so far (batch recompute and replay)
 * @param eventsTotal events it has to read to reach the log's end as it is now
 * @param eventsPerSecond the average rate since the build started, until it caught up; a version
 *     that then follows the log (held) keeps the rate it caught up at
 * @param etaMillis the time left at that rate, or -1 when unknown
 * @param lag events in the log that the new version has not read yet
 * @param hold whether the switch waits for {@link Braid#activate}
 * @param skippedEvents events read so far that the new version leaves out because an expression or
 *     an aggregation failed on them (its Base's and its Delta's), as {@code skippedEvents} in
 *     {@link Status} counts them for the current version: a held version shows them before it serves
 * @param eventsFromCheckpoint of {@code eventsReplayed}, those a restart that interrupted the build kept for it
 *     (0 when it was built again from its cut): the events its Delta's newest checkpoint holds, and a lambda
 *     version's Base's, whose file was kept; the build then reads only the events after the checkpoint, and the
 *     rate counts only the events it read
 * @param rollback whether the version is a backup being made current again (a rollback), not a reprocess's new one
 */
public record ReplayProgress(long version, String phase, long eventsReplayed, long eventsTotal,
    double eventsPerSecond, long etaMillis, long lag, boolean hold, long skippedEvents, long eventsFromCheckpoint,
    boolean rollback) {}
