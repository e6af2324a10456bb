package dev.braid.server.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Drops, in the command line's logging, two lines that {@code braid server} reports itself: the
 * server's {@code Braid could not open data directory ...}, and Javalin's own
 * {@code ERROR Failed to start Javalin} line. Javalin logs it, without the cause,
 * before it throws the failure, which {@code braid server} then reports itself in one sentence that
 * says what to do (a port taken by another process, an address that cannot be bound); the extra line
 * only made a new user look for a second problem.
 */
public final class StartFailureFilter extends Filter<ILoggingEvent> {

  @Override
  public FilterReply decide(ILoggingEvent event) {
    boolean javalin = event.getLoggerName().startsWith("io.javalin")
        && "Failed to start Javalin".equals(event.getMessage());
    // The server's own line for a data directory it could not open: braid server prints the same
    // reason as its braid: error line, so on the command line it was said twice.
    boolean openFailed = event.getLoggerName().equals("dev.braid.server.http.BraidServer")
        && event.getMessage() != null && event.getMessage().startsWith("Braid could not open data directory");
    return javalin || openFailed ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
