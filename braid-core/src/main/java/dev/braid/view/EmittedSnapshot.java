package dev.braid.view;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * What a {@link ChangeFeed} emitted ({@link EmittedWindows}), saved so that a restart reads its
 * changes log only after the last record the save covers instead of from its start: the changes log
 * is kept whole, so reading all of it makes every start slower as the view's history grows.
 *
 * <h2>File</h2>
 * {@value #FILE} in the view's directory, replaced atomically: written to {@code ... .tmp}, fsynced,
 * renamed into place, the directory fsynced. Big-endian.
 *
 * <pre>
 *   +----------+-------+-------------+------------------+--------------------+----------------+-----------+
 *   | BRAIDEMW | fmt 1 | JSON format | last record's id | that record's hash | pruned horizon | key count |
 *   | 8 bytes  | int   | int         | long             | long               | long           | int       |
 *   +----------+-------+-------------+------------------+--------------------+----------------+-----------+
 *   keys, in interned-id order:  int length | UTF-8 bytes
 *   int entry count, then per entry: int key id | long window start | long event id | long hash
 *   trailer: int CRC32C of every byte before it
 * </pre>
 *
 * The file covers the changes log up to and including the record {@code last record's id}; the
 * hash is {@link BatchLayer#hash64} of that record's value. The entries' hashes are of the values'
 * JSON as {@link ChangeJson} writes it; the JSON format ({@link ChangeJson#FORMAT}) says which form,
 * and a file of another is refused (its hashes would all differ from the live results'). A restart uses the file only when it is
 * whole (its CRC matches and it ends right after the trailer) and the log still holds that record
 * with the same value: a log that lost its unsynced tail in a power loss, or a changes log made anew
 * under the same name, refuses it. A refused file is deleted (so that it cannot match a log that
 * grows back past it later) and the log is read whole.
 */
final class EmittedSnapshot {

  static final String FILE = "changes.emitted";
  static final byte[] MAGIC = {'B', 'R', 'A', 'I', 'D', 'E', 'M', 'W'};
  static final int FORMAT = 1;
  /** The bytes before the keys. */
  static final int HEADER_BYTES = 8 + 4 + 4 + 8 + 8 + 8;

  /** What a loaded file covers: the changes log up to {@code lastId}, pruned below {@code horizon}. */
  record Loaded(long lastId, long lastHash, long horizon, long windows) {}

  /** A file that cannot be used, and why. */
  static final class Refused extends Exception {
    Refused(String reason) {
      super(reason);
    }
  }

  private EmittedSnapshot() {}

  /** Saves {@code emitted}, which covers the changes log up to record {@code lastId} (value hash {@code lastHash}). */
  static long write(Path file, EmittedWindows emitted, long lastId, long lastHash, long horizon, int jsonFormat)
      throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    boolean done = false;
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      CheckedOutputStream checked = new CheckedOutputStream(Channels.newOutputStream(ch), new CRC32C());
      DataOutputStream out = new DataOutputStream(new BufferedOutputStream(checked, 1 << 16));
      out.write(MAGIC);
      out.writeInt(FORMAT);
      out.writeInt(jsonFormat);
      out.writeLong(lastId);
      out.writeLong(lastHash);
      out.writeLong(horizon);
      emitted.writeTo(out);
      out.flush();
      new DataOutputStream(Channels.newOutputStream(ch)).writeInt((int) checked.getChecksum().getValue());
      ch.force(true);
      done = true;
    } finally {
      if (!done) {
        Files.deleteIfExists(tmp);
      }
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
    return Files.size(file);
  }

  /**
   * The id of the last change {@code file} covers, read from its header; -1 when it cannot be read
   * or is not a file of emitted windows (too short, another magic).
   */
  static long lastId(Path file) {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 64))) {
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        return -1;
      }
      in.readInt(); // format
      in.readInt(); // JSON format
      return in.readLong();
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Loads {@code file} into {@code emitted} (cleared first). On a refusal {@code emitted} may hold
   * part of the file: the caller clears it by reading the log whole.
   */
  static Loaded read(Path file, EmittedWindows emitted, int jsonFormat) throws IOException, Refused {
    long size = Files.size(file);
    try (InputStream raw = Files.newInputStream(file)) {
      CheckedInputStream checked = new CheckedInputStream(new BufferedInputStream(raw, 1 << 16), new CRC32C());
      DataInputStream in = new DataInputStream(checked);
      byte[] magic = new byte[MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, MAGIC)) {
        throw new Refused("it is not a file of emitted windows (no " + new String(MAGIC, java.nio.charset.StandardCharsets.US_ASCII)
            + " at its start)");
      }
      int format = in.readInt();
      if (format != FORMAT) {
        throw new Refused("its format " + format + " is not " + FORMAT);
      }
      int json = in.readInt();
      if (json != jsonFormat) {
        throw new Refused("its hashes are of the changes' JSON format " + json + ", and this build writes format "
            + jsonFormat);
      }
      long lastId = in.readLong();
      long lastHash = in.readLong();
      long horizon = in.readLong();
      try {
        emitted.readFrom(in, size - HEADER_BYTES - 4);
      } catch (IllegalArgumentException e) {
        throw new Refused("it is damaged: " + e.getMessage());
      }
      Loaded loaded = new Loaded(lastId, lastHash, horizon, emitted.size());
      long crc = checked.getChecksum().getValue();
      int stored = in.readInt();
      if ((int) crc != stored) {
        throw new Refused("it fails its CRC");
      }
      if (in.read() != -1) {
        throw new Refused("it has bytes after its trailer");
      }
      return loaded;
    } catch (EOFException e) {
      throw new Refused("it ends early (" + size + " bytes)");
    }
  }
}
