package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid changes VIEW}: a windowed view's changes stream, one line per change. Without
 * {@code --follow} it pages through what the stream holds now ({@code GET .../changes} as JSON) and
 * says where to resume; with it, it follows the server-sent events until Ctrl-C or the limit,
 * connecting again when the server restarts.
 */
@Command(name = "changes", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Print the changes stream of a windowed view: a window's result when the watermark closes it "
        + "(close), each later change of it (correction, naming the change it supersedes) and a window withdrawn "
        + "(retract: a late event merged its session into another, or a reprocess changed the windows).",
        "Prints what the stream holds now and exits; with --follow, keeps printing new changes until Ctrl-C. "
            + "--json prints one JSON object per change (NDJSON)."})
public final class ChangesCommand implements Callable<Integer> {

  private static final int PAGE = 1_000;

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Option(names = "--from", paramLabel = "ID", defaultValue = "0",
      description = "the first change id to print (default: ${DEFAULT-VALUE}, the first ever)")
  long from;

  @Option(names = "--key", paramLabel = "KEY", description = "only the changes of this key")
  String key;

  @Option(names = "--limit", paramLabel = "N", description = "stop after N changes")
  Long limit;

  @Option(names = {"-f", "--follow"}, description = "keep printing new changes as they come, until Ctrl-C")
  boolean follow;

  @Override
  public Integer call() {
    if (from < 0) {
      throw new CommandLine.ParameterException(command.commandLine(), "--from must be a change id (0 or more), got "
          + from);
    }
    if (limit != null && limit < 1) {
      throw new CommandLine.ParameterException(command.commandLine(), "--limit must be at least 1, got " + limit);
    }
    PrintWriter out = command.commandLine().getOut();
    BraidClient http = client.http();
    String base = "/v1/views/" + BraidClient.enc(view) + "/changes?" + (key == null ? "" : "key="
        + BraidClient.enc(key) + "&");
    // what was printed and where to go on, also for the notice on Ctrl-C (another thread)
    AtomicLong printed = new AtomicLong();
    AtomicLong next = new AtomicLong(from);
    InterruptNotice onSignal = new InterruptNotice(command.commandLine().getErr(), client.json, "changes",
        () -> String.format("interrupted after %d %s; --from %d goes on from here", printed.get(),
            printed.get() == 1 ? "change" : "changes", next.get()));
    try {
      return follow ? follow(http, base, out, printed, next) : page(http, base, out, printed, next);
    } finally {
      onSignal.close();
    }
  }

  /** Pages through what the stream holds now, from {@code next}, and says where to go on. */
  private int page(BraidClient http, String base, PrintWriter out, AtomicLong printed, AtomicLong next) {
    while (limit == null || printed.get() < limit) {
      int page = (int) Math.min(PAGE, limit == null ? PAGE : limit - printed.get());
      JsonNode r = http.get(base + "from=" + next.get() + "&limit=" + page);
      for (JsonNode e : r.path("events")) {
        print(out, e);
        next.set(e.path("id").asLong() + 1); // for a notice part way through the page
        printed.incrementAndGet();
      }
      next.set(r.path("next").asLong());
      if (r.path("caughtUp").asBoolean()) {
        break;
      }
      if (BraidCli.readerGone(out)) {
        return 0; // piped into `head`, which has its lines: no more pages
      }
    }
    if (!client.json) {
      out.printf("(%d %s; --from %d goes on from here, --follow waits for new ones)%n", printed.get(),
          printed.get() == 1 ? "change" : "changes", next.get());
    }
    out.flush();
    return 0;
  }

  /**
   * Follows the stream from {@code next}; when the server ends it or cannot be reached (a restart)
   * or answers that it is starting, connects again from the change after the last one printed, so a
   * restart neither skips nor repeats a change, for up to {@link BraidClient#UNAVAILABLE_PATIENCE}
   * without the server (a restart replays the log first). Says once per outage on standard error
   * that it waits (not with {@code --json}, whose standard error holds only a failure).
   */
  /** Whether the server has served the stream at all: from then on, an unknown host is an outage to wait out. */
  private boolean followed;

  private int follow(BraidClient http, String base, PrintWriter out, AtomicLong printed, AtomicLong next) {
    long outageSince = -1;
    long backoff = 250;
    while (true) {
      String why;
      long before = printed.get();
      long connected = System.nanoTime();
      try {
        boolean stopped = http.follow(base + "from=" + next.get(), e -> {
          followed = true;
          print(out, e);
          next.set(e.path("id").asLong() + 1);
          long n = printed.incrementAndGet();
          if (BraidCli.readerGone(out)) {
            return false; // piped into `head`, which has its lines: stop as at a limit
          }
          return limit == null || n < limit;
        });
        followed = true;
        if (stopped) {
          return 0;
        }
        why = "the server ended the changes stream of view '" + view + "' (did it stop?)";
        if (printed.get() > before || System.nanoTime() - connected > java.util.concurrent.TimeUnit.SECONDS.toNanos(1)) {
          outageSince = -1; // it served a while: what comes now is a new outage
        }
      } catch (BraidClient.Unreachable e) {
        if (e.unknownHost && !followed) {
          throw e; // a mistyped --url, not a restart to wait for
        }
        why = e.getMessage();
      } catch (BraidClient.ErrorAnswer e) {
        if (e.status != 503) {
          throw e;
        }
        why = e.getMessage();
      }
      long now = System.nanoTime();
      if (outageSince < 0) {
        outageSince = now;
        backoff = 250;
        if (!client.json) {
          PrintWriter err = command.commandLine().getErr();
          err.println("braid: " + why + "; connecting again to go on from change " + next.get() + ", for up to "
              + BraidClient.UNAVAILABLE_PATIENCE.toMinutes() + " minutes");
          err.flush();
        }
      } else if (now - outageSince > BraidClient.UNAVAILABLE_PATIENCE.toNanos()) {
        throw new BraidCli.CommandFailedException(why + "; gave up after " + BraidClient.UNAVAILABLE_PATIENCE
            .toMinutes() + " minutes; resume with --from " + next.get(), 1);
      }
      BraidClient.pause(backoff);
      backoff = Math.min(backoff * 2, 4_000);
    }
  }

  /** One change: its JSON (NDJSON) with {@code --json}, else one line for a person. */
  private void print(PrintWriter out, JsonNode e) {
    if (client.json) {
      out.println(e.toString());
    } else {
      StringBuilder values = new StringBuilder();
      for (Iterator<Map.Entry<String, JsonNode>> it = e.path("values").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> v = it.next();
        values.append(values.length() == 0 ? "" : " ").append(v.getKey()).append('=')
            .append(QueryCommand.readable(v.getValue()));
      }
      out.printf("#%-6d %-10s %s  [%s, %s)  %-11s %s%s%n", e.path("id").asLong(), e.path("kind").asText(),
          e.path("key").asText(), Instant.ofEpochMilli(e.path("start").asLong()),
          Instant.ofEpochMilli(e.path("end").asLong()), e.path("state").asText(), values,
          e.has("corrects") ? "  (" + (e.path("kind").asText().equals("retract") ? "withdraws" : "supersedes")
              + " #" + e.path("corrects").asLong() + ")" : "");
    }
    out.flush();
  }
}
