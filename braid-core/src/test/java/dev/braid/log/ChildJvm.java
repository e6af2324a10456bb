package dev.braid.log;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Starts a main class of the test class path in a child JVM, for tests that need a real process. */
final class ChildJvm {

  /** What {@link Process#exitValue()} reports for a process ended by SIGKILL: 128 + 9. */
  static final int KILLED_BY_SIGKILL = 137;

  private ChildJvm() {}

  /** Starts {@code main} with {@code args}; its standard error goes to {@code stderr}. */
  static Process start(Path stderr, Class<?> main, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add("-Xmx128m");
    command.add("-XX:TieredStopAtLevel=1"); // starts faster; the child runs for a second or two
    command.add(main.getName());
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectError(stderr.toFile()).start();
  }

  /**
   * Reads {@code in} until its end on a daemon thread and hands every complete line (without the
   * newline) to {@code lines}. A last line without a newline was cut short by a kill; it is
   * dropped, because the child never finished printing it.
   */
  static Thread readLines(InputStream in, Consumer<String> lines) {
    Thread t = new Thread(() -> {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try (in) {
        for (int n; (n = in.read(buf)) >= 0; ) {
          for (int i = 0; i < n; i++) {
            if (buf[i] == '\n') {
              lines.accept(line.toString(StandardCharsets.UTF_8));
              line.reset();
            } else {
              line.write(buf[i]);
            }
          }
        }
      } catch (IOException e) {
        // the pipe broke because the child was killed: the lines read so far are all there is
      }
    }, "child-stdout");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** The child's standard error, for failure messages. */
  static String stderrOf(Path stderr) {
    try {
      return Files.exists(stderr) ? Files.readString(stderr) : "";
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
