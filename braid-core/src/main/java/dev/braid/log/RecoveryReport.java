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

  /**
   * The {@code n}th copy (1 for the first) of bytes that recovery cut from {@code segment} at byte
   * {@code from}: {@code <segment>.<from>.cut}, then {@code <segment>.<from>-2.cut}, ... for later
   * recoveries that cut at the same byte.
   */
  static Path cutCopy(Path segment, long from, int n) {
    return segment.resolveSibling(segment.getFileName() + "." + from + (n == 1 ? "" : "-" + n) + ".cut");
  }

  /** The copy of the bytes this recovery cut (the newest at that byte), or null when none was kept (all zeros). */
  public Path keptAside() {
    Path newest = null;
    for (int n = 1; java.nio.file.Files.exists(cutCopy(file, validBytes, n)); n++) {
      newest = cutCopy(file, validBytes, n);
    }
    return newest;
  }

  /** A report without whole batches after the cut point (a clean tail or a torn write). */
  public RecoveryReport(String stream, int partition, Path file, long validBytes, long truncatedBytes,
      long endOffset, int truncations) {
    this(stream, partition, file, validBytes, truncatedBytes, endOffset, truncations, 0, -1, -1);
  }
}
