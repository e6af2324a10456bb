package dev.braid.server.cli;

import java.io.PrintWriter;
import java.util.function.Supplier;

/**
 * What a command leaves behind when Ctrl-C or SIGTERM stops it part way, said on standard error: a
 * shutdown hook armed while the command runs and disarmed ({@link #close}) when it ends by itself.
 * The JVM runs shutdown hooks on those signals while the command's own thread goes on, so the
 * message reads only what the command publishes for it (volatile fields, atomics).
 *
 * <p>Without it, a command stopped while the server works for it (a batch cycle, a reprocess, a
 * push) or while it follows a stream ended without a word, and the user could not tell whether the
 * work went on, or where to resume.
 */
final class InterruptNotice implements AutoCloseable {

  private final Thread hook;
  private volatile boolean fired;

  /**
   * Arms a notice: on a signal, {@code message} (evaluated then) is printed on {@code err} as
   * {@code braid: MESSAGE} on a line of its own, or with {@code json} as one JSON object
   * ({@link #jsonNotice}).
   */
  InterruptNotice(PrintWriter err, boolean json, String name, Supplier<String> message) {
    hook = new Thread(() -> {
      fired = true;
      String m = message.get();
      err.println(json ? jsonNotice(m) : "\nbraid: " + m);
      err.flush();
    }, "braid-" + name + "-interrupted");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /**
   * The notice as the one JSON object a failure prints, with {@code "interrupted": true} in place of
   * an exit code: a hook cannot tell Ctrl-C (exit code 130) from SIGTERM (143).
   */
  static String jsonNotice(String message) {
    com.fasterxml.jackson.databind.node.ObjectNode o = BraidClient.JSON.createObjectNode();
    o.put("error", message);
    o.put("interrupted", true);
    return o.toString();
  }

  /**
   * Thrown by a command that stops because its notice said what happened (a signal came before it
   * began what the notice says it did not): exit code 130, and nothing more is printed.
   */
  static final class Said extends BraidCli.CommandFailedException {
    Said() {
      super("interrupted", 130);
    }
  }

  /** Whether a signal has begun the JVM's shutdown and this notice is being printed. */
  boolean fired() {
    return fired;
  }

  /** Disarms the notice: the command ended by itself, and has said how. */
  @Override
  public void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // a signal came after all: the notice is being printed
    }
  }
}
