package dev.braid;

/**
 * An event that arrived too late for a view's speed layer: at least one of its windows had closed
 * more than the view's {@code allowed_lateness} before, by the watermark of the event's partition.
 * The speed layer did not add it there; it stays in the stream's log, so every batch cycle after it
 * folds it into the view's Base. Kept in the stream's late log ({@code <stream>.late}).
 *
 * @param offset its position in the late log (for paging)
 * @param view the view it was late for
 * @param partition the event's partition in the stream
 * @param eventOffset the event's offset in that partition (where the batch layer reads it)
 * @param key the event's key
 * @param eventTimeMillis its event time
 * @param watermarkMillis the watermark its lateness was decided against: the partition's largest event
 *     time so far minus the stream's {@code max_out_of_order}; for a partition that was idle at the
 *     version's cut and had no event yet, the reference the cut seeded it with (minus
 *     {@code max_out_of_order}), though status shows that partition's watermark as null
 * @param recordedAtMillis when it was recorded
 * @param current whether it was recorded under the lateness rule of the view's current version, the
 *     late events that status counts; false for one recorded by a version that no longer serves or
 *     never served with another filter, key, window or lateness (a reprocess discarded or rolled
 *     away from), and for a view the spec no longer defines
 */
public record LateEvent(long offset, String view, int partition, long eventOffset, String key, long eventTimeMillis,
    long watermarkMillis, long recordedAtMillis, boolean current) {}
