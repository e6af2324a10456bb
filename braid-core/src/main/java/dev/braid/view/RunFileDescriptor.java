package dev.braid.view;

import java.util.Arrays;

/**
 * The binary layout of a sorted run: the groups of one spilled {@link GroupTable} (or of an
 * intermediate merge of runs), written by {@link RunFile.Writer} into a batch cycle's spill
 * directory ({@code views/<view>/v<id>.spill/}) and read back once by {@link RunMerger}. Runs are
 * temporary: they live for one batch cycle and are never fsynced; a crash leaves them to
 * {@code Engine.removeOrphans}.
 *
 * <p>All integers are big-endian. A run:
 *
 * <pre>
 *   0                   8         12        16
 *   +-------------------+---------+---------+
 *   | magic "BRAIDRUN"  | version | def.hash|   header: version 1; the view definition's hashCode
 *   +-------------------+---------+---------+
 *   then one record per key, in (key hash, key bytes) order (*):
 *   +---------+---------+-----------+---------+-------------------------------------------------+
 *   | key len | hash    | key bytes | windows | (long window | int state len | state) x windows |
 *   +---------+---------+-----------+---------+-------------------------------------------------+
 *     int       int       key len     int       windows in ascending order, each at most once;
 *                                               state in the aggregations' codec (ViewProgram.writeRow)
 *   then the trailer:
 *   +---------+-----------------+-----------------+---------+
 *   | -1      | key count       | group count     | CRC32C  |   CRC32C of every byte before it
 *   +---------+-----------------+-----------------+---------+
 *     int       long              long              int
 * </pre>
 *
 * (*) keys ordered by their {@link GroupTable#hash} as a signed int, then by their bytes compared
 * as unsigned, a shorter key before its extensions ({@link #compareKeys}). Every key occurs at most
 * once in a run, so a group {@code (key, window)} occurs at most once too, and merging runs in this
 * order visits each group's partial states together.
 *
 * <p>From {@code windows} on, a record is laid out exactly as a Base entry's window list (see
 * {@link BaseFile}); the merge copies the serialized state of a window found in one run only
 * without decoding it.
 */
final class RunFileDescriptor {

  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'R', 'U', 'N'};
  static final int VERSION = 1;

  static final int MAGIC_OFFSET = 0;
  static final int VERSION_OFFSET = 8;
  static final int DEFINITION_HASH_OFFSET = 12;
  static final int HEADER_LENGTH = 16;

  /** The key length field of a record; the trailer starts with {@link #END_OF_RECORDS} here. */
  static final int RECORD_KEY_LENGTH_OFFSET = 0;
  static final int RECORD_HASH_OFFSET = 4;
  static final int RECORD_KEY_OFFSET = 8;
  /** Bytes of a window's header: window start (8) and state length (4). */
  static final int WINDOW_HEADER_LENGTH = 12;

  static final int END_OF_RECORDS = -1;
  /** Marker, key count, group count, CRC32C. */
  static final int TRAILER_LENGTH = 4 + 8 + 8 + 4;

  private RunFileDescriptor() {}

  /** The order of records in a run: negative, zero or positive as key a sorts before, with or after key b. */
  static int compareKeys(int hashA, byte[] a, int offA, int lenA, int hashB, byte[] b, int offB, int lenB) {
    int c = Integer.compare(hashA, hashB);
    return c != 0 ? c : Arrays.compareUnsigned(a, offA, offA + lenA, b, offB, offB + lenB);
  }
}
