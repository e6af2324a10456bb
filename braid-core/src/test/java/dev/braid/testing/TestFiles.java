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

  /**
   * Copies every directory and file under {@code from} to {@code to} (created), except lock files. A
   * file deleted while copying (a temporary file renamed into place by an engine still running, as
   * the changes feed's save does) was not there, as in a crash image taken at that moment.
   */
  public static void copyTree(Path from, Path to) throws IOException {
    copyTree(from, to, false);
  }

  /** As {@link #copyTree(Path, Path)}; {@code withLocks} copies the lock files too, as a crash leaves them. */
  public static void copyTree(Path from, Path to, boolean withLocks) throws IOException {
    Files.walkFileTree(from, new java.nio.file.SimpleFileVisitor<>() {
      @Override
      public java.nio.file.FileVisitResult preVisitDirectory(Path d, java.nio.file.attribute.BasicFileAttributes a)
          throws IOException {
        Files.createDirectories(to.resolve(from.relativize(d).toString()));
        return java.nio.file.FileVisitResult.CONTINUE;
      }

      @Override
      public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes a)
          throws IOException {
        if (withLocks || !f.getFileName().toString().equals(LOCK_FILE)) {
          try {
            Files.copy(f, to.resolve(from.relativize(f).toString()));
          } catch (java.nio.file.NoSuchFileException e) {
            // deleted after the walk listed it
          }
        }
        return java.nio.file.FileVisitResult.CONTINUE;
      }

      @Override
      public java.nio.file.FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
        if (e instanceof java.nio.file.NoSuchFileException) {
          return java.nio.file.FileVisitResult.CONTINUE; // deleted before the walk read its attributes
        }
        throw e;
      }
    });
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
