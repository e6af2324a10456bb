package dev.braid.table;

import java.util.Map;

/**
 * One row of a table as read: its fields (collections never null; absent scalars are missing from
 * the map), or {@code found == false} when the row does not exist (never written, deleted, or
 * expired by the table's TTL).
 */
public record TableRow(String key, boolean found, Map<String, Object> values, TableAsOf asOf) {}
