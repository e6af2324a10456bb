package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code braid reprocess VIEW --spec FILE}: build a new version of a view with a new definition and
 * follow it with a progress bar until it is current (or held, or failed).
 */
@Command(name = "reprocess", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Rebuild a view with a new definition: a kappa view replays the log from its start, a lambda "
        + "view recomputes its base at the log's end and catches up. The new version becomes current once it has "
        + "caught up (reads switch atomically); the old one stays as a backup for `braid activate`."})
public final class ReprocessCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "VIEW")
  String view;

  @Option(names = "--spec", required = true, paramLabel = "FILE",
      description = "the new definition (YAML or JSON): the view as under `views:`, or a whole spec holding it")
  Path spec;

  @Option(names = "--hold", description = "once caught up, wait for `braid activate VIEW VERSION` instead of "
      + "switching")
  boolean hold;

  @Option(names = "--from", paramLabel = "START", description = "kappa views: replay the log from start (default), "
      + "end (only events from now on) or a cut such as [120,98]")
  String from;

  @Option(names = "--no-progress", description = "do not show a progress bar")
  boolean noProgress;

  @Option(names = "--no-wait", description = "return once the build has started")
  boolean noWait;

  @Option(names = "--poll-millis", defaultValue = "250", hidden = true)
  long pollMillis;

  /** States of a version that will never serve: the wait ends, and the command fails. */
  private static final java.util.Set<String> DROPPED = java.util.Set.of("failed", "discarded");

  @Override
  public Integer call() throws InterruptedException {
    String start = from == null ? "" : from.strip();
    if (start.equalsIgnoreCase("start") || start.equalsIgnoreCase("end")) {
      from = start.toLowerCase(java.util.Locale.ROOT);
    } else if (!start.isEmpty()) {
      try { // checked here so that the message names the option, not the query parameter it is sent as
        dev.braid.log.Cut.parseWithOrWithoutBrackets(start);
      } catch (IllegalArgumentException e) {
        throw new BraidCli.CommandFailedException("--from must be start, end or a cut such as [120,98] (one offset "
            + "per partition), got '" + from + "'", 2);
      }
    }
    byte[] body;
    try {
      body = Files.readAllBytes(spec);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new BraidCli.CommandFailedException("no such file: " + spec, 2);
    } catch (IOException e) {
      throw new BraidCli.CommandFailedException(java.nio.file.Files.isDirectory(spec) ? spec + " is a directory: give "
          + "the file with the view's new definition" : e instanceof java.nio.file.FileSystemException f
              ? BraidCli.describe(f) : "cannot read " + spec + ": " + e, 2);
    }
    try {
      java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(body));
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new BraidCli.CommandFailedException(spec + " is not UTF-8 text: give the view's new definition as YAML or "
          + "JSON in UTF-8", 2);
    }
    if (new String(body, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
      throw new BraidCli.CommandFailedException(spec + " is empty: give the view's new definition (as under views: "
          + "in a spec, e.g. from, group_by, aggregate) or a whole spec", 2);
    }
    BraidClient http = client.http();
    String path = "/v1/views/" + BraidClient.enc(view);
    List<String> query = new ArrayList<>();
    if (hold) {
      query.add("hold=true");
    }
    if (from != null) {
      query.add("from=" + java.net.URLEncoder.encode(from, java.nio.charset.StandardCharsets.UTF_8));
    }
    // from here on, Ctrl-C stops only this command's wait: the reprocess goes on in the server
    java.util.concurrent.atomic.AtomicLong building = new java.util.concurrent.atomic.AtomicLong(-1);
    InterruptNotice onSignal = new InterruptNotice(command.commandLine().getErr(), client.json, "reprocess", () ->
        building.get() < 0 ? "interrupted while asking for the reprocess of view " + view + "; if the server got the "
            + "request, a new version is building: `braid versions " + view + "` shows it"
        : "stopped following version " + building.get() + " of view " + view + ", which goes on building in the "
            + "server: `braid versions " + view + "` shows it");
    try {
      return reprocess(http, path, query, body, building);
    } finally {
      onSignal.close();
    }
  }

  private int reprocess(BraidClient http, String path, List<String> query, byte[] body,
      java.util.concurrent.atomic.AtomicLong building) throws InterruptedException {
    JsonNode started;
    try {
      started = http.post(path + "/reprocess" + (query.isEmpty() ? "" : "?" + String.join("&", query)),
          "application/yaml", body);
    } catch (BraidClient.ErrorAnswer e) {
      if (e.status == 400 && e.problem != null && e.problem.path("type").asText().endsWith("/invalid-definition")) {
        throw new BraidClient.ErrorAnswer(400, spec + ": " + e.getMessage(), e.problem); // name the file at fault
      }
      throw e;
    }
    long id = started.path("version").asLong();
    building.set(id);
    PrintWriter out = command.commandLine().getOut();
    if (noWait) {
      if (client.json) {
        out.println(started.toPrettyString());
      } else {
        out.printf("view %s: version %d is building; follow it with `braid versions %s`%n", view, id, view);
      }
      out.flush();
      return 0;
    }
    long t0 = System.nanoTime();
    ProgressBar bar = client.json || noProgress ? null : Progress.bar("reprocess " + view + " v" + id, -1, "events",
        command.commandLine().getErr());
    JsonNode versions;
    JsonNode mine;
    try {
      while (true) {
        try {
          versions = http.get(path + "/versions");
        } catch (BraidCli.CommandFailedException e) {
          if (e.exitCode() == 130) {
            throw e; // interrupted: the notice says the reprocess goes on
          }
          // the request to reprocess was taken: what the server says of this read does not apply to it
          String why = e instanceof BraidClient.ErrorAnswer a && a.status == 503
              ? "the server is stopping (or starting)" : e.getMessage();
          throw new BraidCli.CommandFailedException("lost the server while following version " + id + " of view "
              + view + " (" + why + "); the server took the reprocess before that, and a restart builds it again: "
              + "`braid versions " + view + "` shows it once the server is up", 1);
        }
        mine = null;
        for (JsonNode v : versions.path("versions")) {
          if (v.path("id").asLong() == id) {
            mine = v;
          }
        }
        if (mine == null) {
          throw new BraidCli.CommandFailedException("version " + id + " of view " + view + " disappeared", 1);
        }
        JsonNode p = mine.path("progress");
        if (bar != null && p.isObject()) {
          bar.maxHint(Math.max(1, p.path("eventsTotal").asLong()));
          bar.stepTo(p.path("eventsReplayed").asLong());
          bar.setExtraMessage(" " + p.path("phase").asText() + ", lag " + p.path("lag").asLong());
        }
        String state = mine.path("state").asText();
        if (bar != null && !p.isObject() && !state.equals("building") && !DROPPED.contains(state) && bar.getMax() > 0) {
          bar.stepTo(bar.getMax()); // caught up and swapped in: a version no longer building reports no progress
          bar.setExtraMessage(" " + state);
        }
        if (state.equals("current") || DROPPED.contains(state) || state.equals("backup") || state.equals("retired")
            || (state.equals("building") && p.path("phase").asText().equals("held"))) {
          break;
        }
        Thread.sleep(pollMillis);
      }
    } finally {
      if (bar != null) {
        bar.close();
      }
    }
    String state = mine.path("state").asText();
    if (state.equals("failed")) {
      throw new BraidCli.CommandFailedException("version " + id + " of view " + view + " failed: "
          + mine.path("failure").asText() + "; the current version keeps serving", 1);
    }
    if (state.equals("discarded")) {
      throw new BraidCli.CommandFailedException("version " + id + " of view " + view + " was discarded before "
          + "activation; the current version keeps serving", 1);
    }
    if (client.json) { // the new version and how it ended, then the view's versions (the list `braid versions` has)
      com.fasterxml.jackson.databind.node.ObjectNode o = BraidClient.JSON.createObjectNode();
      o.put("view", view);
      o.put("version", id);
      o.put("outcome", state.equals("building") ? "held" : state);
      o.set("versions", versions.path("versions"));
      out.println(o.toPrettyString());
    } else if (state.equals("building")) {
      out.printf("view %s: version %d has caught up and is held%s; make it current with `braid activate %s %d`%n",
          view, id, VersionsCommand.skippedText(mine.path("progress")), view, id);
    } else if (state.equals("current")) {
      out.printf("view %s: version %d is current after %.1f s (delta at %s)%n", view, id,
          (System.nanoTime() - t0) / 1e9, mine.path("position"));
      for (JsonNode v : http.get("/v1/status").path("views")) {
        long skipped = v.path("skippedEvents").asLong();
        if (v.path("name").asText().equals(view) && v.path("currentVersion").asLong() == id && skipped > 0) {
          out.printf("  %s (`braid status` counts them; the server log has the first)%n",
              VersionsCommand.leftOut(skipped));
        }
      }
    } else {
      out.printf("view %s: version %d was current and is now %s%n", view, id, state);
    }
    out.flush();
    return 0;
  }
}
