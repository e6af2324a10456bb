package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code braid activate VIEW VERSION}: switch in a held version, or roll back to a backup. The server
 * answers once the version is current; a rollback replays the log into the backup first, which can take
 * minutes, so while the answer is pending the command follows the version's progress with a bar.
 */
@Command(name = "activate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Make a version of a view current: a held reprocess, or a backup (rollback; it catches up "
        + "with the log first, with a progress bar). Returns once the version is current. One reprocess or "
        + "rollback runs at a time: while a reprocess is building or held, a rollback is refused until it is "
        + "activated or discarded. A rollback that a restart of the server interrupts is resumed by the server. "
        + "With --table, a backup version of a table (its real-time writes since its cut are replayed first, with a "
        + "progress bar)."})
public final class ActivateCommand extends VersionCommand {

  @Option(names = "--table", description = "VIEW names a table of the hybrid store")
  void table(boolean on) {
    table = on;
  }

  @Option(names = "--no-progress", description = "do not show a progress bar")
  boolean noProgress;

  @Option(names = "--poll-millis", defaultValue = "250", hidden = true)
  long pollMillis;

  @Override
  JsonNode send(BraidClient http, String path) {
    return http.post(path + "/activate", null, new byte[0]);
  }

  @Override
  public Integer call() {
    // from here on, Ctrl-C stops only this command's wait: the server goes on making the version current
    InterruptNotice onSignal = new InterruptNotice(command.commandLine().getErr(), client.json, "activate", () ->
        "stopped waiting for version " + version + " of " + (table ? "table " : "view ") + view + ", which the "
            + "server goes on making current if it got the request: `braid versions " + view + (table ? " --table"
            : "") + "` shows it");
    try {
      return super.call();
    } finally {
      onSignal.close();
    }
  }

  /**
   * Sends the activation and, while its answer is pending (a rollback replays first), draws a bar of the
   * version's progress from its view's versions list; an answer within the first poll draws nothing.
   */
  @Override
  JsonNode answer(BraidClient http, String path) {
    if (client.json || noProgress) {
      return send(http, path);
    }
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    Thread sender = new Thread(() -> {
      try {
        answer.complete(send(http, path));
      } catch (Throwable t) {
        answer.completeExceptionally(t);
      }
    }, "braid-activate");
    sender.setDaemon(true);
    sender.start();
    ProgressBar bar = null;
    CompletableFuture<JsonNode> poll = null; // on a thread of its own: a slow poll never holds back the answer
    try {
      while (true) {
        try {
          return answer.get(pollMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException pending) {
          JsonNode p = poll != null && poll.isDone() ? poll.getNow(null) : null;
          if (poll == null || poll.isDone()) {
            poll = CompletableFuture.supplyAsync(() -> progress(http));
          }
          if (p != null) {
            if (bar == null) {
              long done = p.path("eventsReplayed").asLong(); // replayed before this command looked
              // the rate counts the events read, not those a checkpoint restored, which took no replay
              long read = Math.max(0, done - p.path("eventsFromCheckpoint").asLong());
              double rate = p.path("eventsPerSecond").asDouble();
              java.time.Duration took = java.time.Duration.ofMillis(rate > 0 ? (long) (read * 1000 / rate) : 0);
              bar = Progress.bar("activate " + view + " v" + version, -1, table ? "writes" : "events", 1,
                  command.commandLine().getErr(), done, took);
            }
            bar.maxHint(Math.max(1, p.path("eventsTotal").asLong()));
            bar.stepTo(p.path("eventsReplayed").asLong());
            bar.setExtraMessage(" " + p.path("phase").asText() + ", lag " + p.path("lag").asLong());
          }
        } catch (ExecutionException e) {
          if (e.getCause() instanceof RuntimeException r) {
            throw r; // the server's refusal, or the connection's failure, as a plain request reports it
          }
          throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new BraidCli.CommandFailedException("interrupted while waiting for version " + version + " of "
              + (table ? "table " : "view ") + view + " to become current", 130);
        }
      }
    } finally {
      if (bar != null) {
        if (answer.isDone() && !answer.isCompletedExceptionally() && bar.getMax() > 0) {
          bar.stepTo(bar.getMax()); // caught up and switched in: a current version reports no progress
          bar.setExtraMessage(" current");
        }
        bar.close();
      }
    }
  }

  /** The version's progress while it builds (a rollback's replay), or null: none yet, or the list unavailable. */
  private JsonNode progress(BraidClient http) {
    try {
      for (JsonNode v : http.get((table ? "/v1/tables/" : "/v1/views/") + BraidClient.enc(view) + "/versions")
          .path("versions")) {
        if (v.path("id").asLong() == version && v.path("progress").isObject()) {
          return v.path("progress");
        }
      }
    } catch (RuntimeException unavailable) {
      // the bar is a courtesy: the activation's own answer says how it ended
    }
    return null;
  }

  @Override
  String summary(JsonNode answer, double seconds) {
    if (answer.path("alreadyCurrent").asBoolean()) {
      return String.format(Locale.ROOT, "%s %s: version %d was current already; nothing changed", table ? "table"
          : "view", view, version);
    }
    return String.format(Locale.ROOT, "%s %s: version %d is current after %.1f s", table ? "table" : "view", view, version, seconds);
  }
}
