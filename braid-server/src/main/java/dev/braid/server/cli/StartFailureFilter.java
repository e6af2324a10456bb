package dev.braid.server.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;

/**
 * Drops Javalin's own {@code ERROR Failed to start Javalin} line. Javalin logs it, without the cause,
 * before it throws the failure, which {@code braid server} then reports itself in one sentence that
 * says what to do (a port taken by another process, an address that cannot be bound); the extra line
 * only made a new user look for a second problem.
 */
public final class StartFailureFilter extends Filter<ILoggingEvent> {

  @Override
  public FilterReply decide(ILoggingEvent event) {
    return event.getLoggerName().startsWith("io.javalin") && "Failed to start Javalin".equals(event.getMessage())
        ? FilterReply.DENY : FilterReply.NEUTRAL;
  }
}
