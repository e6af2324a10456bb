package dev.braid.log;

import java.nio.file.Path;

/**
 * What opening a partition found at the tail of its active segment.
 *
 * @param file the active segment file
 * @param validBytes bytes kept
 * @param truncatedBytes bytes cut from a torn or corrupt tail (0 when the tail was clean)
 * @param endOffset the partition's end offset after recovery
 * @param truncations 1 when something was cut, else 0
 */
public record RecoveryReport(String stream, int partition, Path file, long validBytes, long truncatedBytes,
    long endOffset, int truncations) {}
