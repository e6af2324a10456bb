package dev.braid.server.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** The messages {@link BraidServer} logs at INFO and above while a test's action runs. */
final class ServerLog {

  private ServerLog() {}

  /** An action that may throw, run while the log is captured. */
  interface Action {
    void run() throws Exception;
  }

  /** Runs {@code action} and returns what {@link BraidServer} logged meanwhile, formatted. */
  static List<String> during(Action action) throws Exception {
    Logger log = (Logger) LoggerFactory.getLogger(BraidServer.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    log.addAppender(logged);
    Level level = log.getLevel();
    log.setLevel(Level.INFO);
    try {
      action.run();
    } finally {
      log.setLevel(level);
      log.detachAppender(logged);
    }
    return logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }
}
