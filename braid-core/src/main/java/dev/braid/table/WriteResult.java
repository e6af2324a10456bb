package dev.braid.table;

/** Where a real-time write went in the table's log, and its logical timestamp (epoch millis). */
public record WriteResult(int partition, long offset, long timestamp) {}
