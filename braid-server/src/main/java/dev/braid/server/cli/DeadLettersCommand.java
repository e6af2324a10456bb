package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid dead-letters STREAM}: the events a stream rejected, with why, a page at a time; with
 * {@code --late}, the events its windowed views left out for arriving after their window closed.
 */
@Command(name = "dead-letters", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"List the events a stream rejected and why (its dead-letter log), oldest first, a page at a time.",
        "With --late: the events its windowed views left out for arriving after their window closed plus "
            + "allowed_lateness (its late log)."})
public final class DeadLettersCommand implements Callable<Integer> {

  /** The widest an event is shown in the table; {@code --json} gives it whole. */
  static final int EVENT_WIDTH = 100;

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "STREAM")
  String stream;

  @Option(names = "--late", description = "list late events instead of rejected ones")
  boolean late;

  @Option(names = "--from", paramLabel = "OFFSET", description = "the first entry to list, by its offset in the log "
      + "(default: 0, the oldest; each page ends with the command for the next)")
  long from;

  @Option(names = "--limit", paramLabel = "N", description = "entries per page, 1 to 1000 (default: 100)")
  int limit = 100;

  @Override
  public Integer call() {
    if (from < 0) {
      throw new picocli.CommandLine.ParameterException(command.commandLine(), "--from must be 0 or more, got "
          + from);
    }
    if (limit < 1 || limit > 1000) {
      throw new picocli.CommandLine.ParameterException(command.commandLine(), "--limit must be 1 to 1000, got "
          + limit);
    }
    JsonNode r = client.http().get("/v1/streams/" + BraidClient.enc(stream) + (late ? "/late" : "/dead-letters")
        + "?from=" + from + "&limit=" + limit);
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    JsonNode entries = r.path(late ? "lateEvents" : "deadLetters");
    if (entries.isEmpty()) {
      out.println(from == 0 ? String.format("stream %s: no %s", stream, late ? "late events"
          : "rejected events") : String.format("stream %s: no %s from offset %,d on", stream, late ? "late events"
          : "rejected events", from));
      out.flush();
      return 0;
    }
    Table t = late ? new Table("offset", "view", "key", "event time", "watermark", "in the stream at", "current")
        : new Table("offset", "received", "index in request", "reason", "event");
    for (JsonNode e : entries) {
      if (late) {
        t.row(e.path("offset").asLong(), e.path("view").asText(), e.path("key").asText(),
            e.path("eventTime").asText(), e.path("watermark").asText(), "partition " + e.path("partition").asInt()
                + " offset " + e.path("eventOffset").asLong(), e.path("current").asBoolean() ? "yes" : "no");
      } else {
        String event = e.path("event").asText();
        boolean cut = event.length() > EVENT_WIDTH || e.path("truncated").asBoolean();
        String reason = e.path("reason").asText(); // it can quote the event: a long field name, a long number
        t.row(e.path("offset").asLong(), e.path("receivedAt").asText(), e.path("index").asInt(),
            reason.length() > 2 * EVENT_WIDTH ? reason.substring(0, 2 * EVENT_WIDTH) + "... (" + String.format(
                Locale.ROOT, "%,d", reason.length()) + " chars)" : reason,
            new Table.JsonText(cut ? event.substring(0, Math.min(event.length(), EVENT_WIDTH)) + "... ("
                + String.format(Locale.ROOT, "%,d", e.path("truncated").asBoolean() ? e.path("length").asLong()
                : event.length()) + " chars)" : event));
      }
    }
    t.print(out);
    long next = r.path("next").asLong();
    if (entries.size() == limit) {
      out.printf("more may follow: braid dead-letters %s%s --from %d%s%s%n", stream, late ? " --late" : "", next,
          limit == 100 ? "" : " --limit " + limit, client.urlOption());
    }
    if (late) {
      out.println("(current: recorded under the lateness rule of the view's current version, the late events its "
          + "status counts; every batch cycle folds late events into a lambda view's Base)");
    }
    out.flush();
    return 0;
  }
}
