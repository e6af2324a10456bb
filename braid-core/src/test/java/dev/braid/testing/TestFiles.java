package dev.braid.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Directory trees for tests that copy a data directory aside (a "crash image") and open the copy. */
public final class TestFiles {

  /** The log's lock file: copying it would copy nothing useful (the lock is held, not the file). */
  private static final String LOCK_FILE = "LOCK";

  private TestFiles() {}

  /** Copies every directory and file under {@code from} to {@code to} (created), except lock files. */
  public static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> walk = Files.walk(from)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else if (!p.getFileName().toString().equals(LOCK_FILE)) {
          Files.copy(p, target);
        }
      }
    }
  }

  /** Deletes {@code root} and everything under it; nothing if it does not exist. */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.delete(p);
      }
    }
  }
}
