package dev.braid.table;

import dev.braid.log.Cut;

/**
 * What a table read is as of: the version that answered, the push that built its Base (null for a
 * table never pushed), the push's start cut, and the position up to which the real-time writes have
 * been applied. The row equals the pushed row with every write in {@code [cut, position)} of the
 * table's real-time log applied in (timestamp, position) order.
 */
public record TableAsOf(long version, String pushId, Cut cut, Cut position) {}
