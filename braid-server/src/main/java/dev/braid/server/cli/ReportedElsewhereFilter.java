package dev.braid.server.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Drops, in the command line's logging, lines whose matter the server reports itself:
 * <ul>
 *   <li>the server's {@code Braid could not open data directory ...}, which {@code braid server}
 *       prints as its {@code braid: error} line;
 *   <li>Javalin's own {@code ERROR Failed to start Javalin}, logged without the cause before it
 *       throws the failure, which {@code braid server} reports in one sentence that says what to do
 *       (a port taken by another process, an address that cannot be bound); the extra line only made
 *       a new user look for a second problem;
 *   <li>Javalin's {@code ERROR Javalin failed to stop gracefully} with a stack trace, when requests
 *       outlast a stop's wait: the server says so in a warning that names the wait and goes on to
 *       close the engine.
 * </ul>
 */
public final class ReportedElsewhereFilter extends Filter<ILoggingEvent> {

  @Override
  public FilterReply decide(ILoggingEvent event) {
    boolean javalin = event.getLoggerName().startsWith("io.javalin")
        && ("Failed to start Javalin".equals(event.getMessage())
            || "Javalin failed to stop gracefully".equals(event.getMessage()));
    // The server's own line for a data directory it could not open: braid server prints the same
    // reason as its braid: error line, so on the command line it was said twice.
    boolean openFailed = event.getLoggerName().equals("dev.braid.server.http.BraidServer")
        && event.getMessage() != null && event.getMessage().startsWith("Braid could not open data directory");
    return javalin || openFailed ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
