package dev.braid.log;

import java.nio.file.Path;

/**
 * A child process for the lock tests. {@code OpenProbe <dir> probe} tries to open the log, prints
 * {@code OPENED} or {@code REFUSED <message>}, and exits. {@code OpenProbe <dir> hold} opens the
 * log, prints {@code OPENED}, and keeps it open until its standard input ends or it is killed.
 */
public final class OpenProbe {

  private OpenProbe() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    boolean hold = args.length > 1 && args[1].equals("hold");
    FileLog log;
    try {
      log = FileLog.open(dir);
    } catch (LogException e) {
      System.out.println("REFUSED " + e.getMessage());
      System.out.flush();
      return;
    }
    System.out.println("OPENED");
    System.out.flush();
    if (hold) {
      while (System.in.read() >= 0) {
        // wait for the parent to close our input
      }
    }
    log.close();
  }
}
