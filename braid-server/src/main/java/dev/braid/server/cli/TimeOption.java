package dev.braid.server.cli;

import dev.braid.server.http.BraidServer;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * A command-line option that takes a time, read as the server reads one ({@link BraidServer#parseTime}):
 * epoch millis, an ISO-8601 instant, one with an offset, or a date (its midnight UTC). Every command
 * refuses a bad one before it sends anything, with the same words and a usage error (exit 2).
 */
final class TimeOption {

  private TimeOption() {}

  /**
   * {@code value} of {@code option} ({@code --since}) as epoch millis.
   *
   * @throws ParameterException naming the option when {@code value} is empty, not a time, or a time
   *     past what a long of milliseconds holds
   */
  static long parse(CommandLine command, String option, String value) {
    String why;
    try {
      Long t = value.isBlank() ? null : BraidServer.parseTime(value);
      if (t != null) {
        return t;
      }
      why = value.isBlank() ? "it is empty" : "got '" + value + "'";
    } catch (ArithmeticException e) {
      why = "'" + value + "' is out of range: epoch milliseconds must fit in a long";
    }
    throw new ParameterException(command, option + " must be epoch millis, ISO-8601 like 2026-11-22T10:00:00Z (or "
        + "2026-11-22T11:00:00+01:00) or a date (2026-11-22, its midnight UTC); " + why);
  }
}
