package dev.braid;

/**
 * What a batch cycle requested by {@link Braid#runBatchCycle} did.
 *
 * @param version the id of the view's current version when the cycle ended
 * @param built whether this request built that version; false when no event came since the
 *     current version's cut (a cycle would compute the same Base), so that version stays current:
 *     also when another request's cycle, which this one waited for, had just built it
 */
public record BatchCycle(long version, boolean built) {}
