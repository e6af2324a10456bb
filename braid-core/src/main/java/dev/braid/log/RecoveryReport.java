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
 * @param wholeBatchesCut whole batches with valid checksums found after the damaged one and cut with
 *     it (0 for a torn write, which leaves nothing whole after it): a sign of damage inside the
 *     segment, such as a bad disk block, rather than of a crash
 * @param wholeFromOffset the first offset those batches held (-1 when none)
 * @param wholeToOffset the offset after the last one they held (-1 when none)
 */
public record RecoveryReport(String stream, int partition, Path file, long validBytes, long truncatedBytes,
    long endOffset, int truncations, int wholeBatchesCut, long wholeFromOffset, long wholeToOffset) {

  /** A report without whole batches after the cut point (a clean tail or a torn write). */
  public RecoveryReport(String stream, int partition, Path file, long validBytes, long truncatedBytes,
      long endOffset, int truncations) {
    this(stream, partition, file, validBytes, truncatedBytes, endOffset, truncations, 0, -1, -1);
  }
}
