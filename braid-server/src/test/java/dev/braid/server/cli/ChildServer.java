package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code braid server} in a child JVM on a loopback port of its choosing, for tests that stop it
 * with SIGTERM or kill it with SIGKILL ({@link Process#destroyForcibly()} on Unix).
 */
final class ChildServer implements AutoCloseable {

  final Process process;
  final String url;
  final Path stderr;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private ChildServer(Process process, String url, Path stderr) {
    this.process = process;
    this.url = url;
    this.stderr = stderr;
  }

  /** Starts the server and waits until its first line names its URL; {@code extra} are more options. */
  static ChildServer start(Path spec, Path data, Path stderr, String... extra) throws IOException {
    return start(List.of(), spec, data, stderr, extra);
  }

  /**
   * Starts the server as {@link #start(Path, Path, Path, String...)} does, under a file size limit of
   * {@code kib} KiB ({@code ulimit -f}, set by a shell that then execs the JVM).
   */
  static ChildServer startWithFileSizeLimit(long kib, Path spec, Path data, Path stderr, String... extra)
      throws IOException {
    return start(List.of("bash", "-c", "ulimit -S -f " + kib + " && exec \"$0\" \"$@\""), spec, data, stderr, extra);
  }

  private static ChildServer start(List<String> prefix, Path spec, Path data, Path stderr, String... extra)
      throws IOException {
    List<String> command = new ArrayList<>(prefix);
    command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Xmx256m",
        "-Dlogback.configurationFile=logback.xml", // the server's own logging (INFO), not the tests' (WARN)
        BraidCli.class.getName(), "server",
        "--spec", spec.toString(), "--data", data.toString(), "--port", "0"));
    command.addAll(List.of(extra));
    Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile())).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String first = out.readLine();
    Matcher m = Pattern.compile("listening on (http://\\S+)").matcher(first == null ? "" : first);
    if (!m.find()) {
      p.destroyForcibly();
      throw new AssertionError("first line " + first + "; stderr " + Files.readString(stderr));
    }
    Thread drain = new Thread(() -> { // keep reading stdout so the child never blocks on a full pipe
      try {
        while (out.readLine() != null) {
          // discard
        }
      } catch (IOException ignored) {
        // the child is gone
      }
    }, "child-server-stdout");
    drain.setDaemon(true);
    drain.start();
    return new ChildServer(p, m.group(1), stderr);
  }

  /** Waits until {@code /health} answers 200 (the engine has opened and caught up). */
  ChildServer awaitReady() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 200) {
        return this;
      }
      assertThat(process.isAlive()).as("server alive; stderr %s", Files.readString(stderr)).isTrue();
      assertThat(System.nanoTime()).as("server ready; last answer %s", r.body()).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  HttpResponse<String> send(String method, String path, String contentType, String body) throws Exception {
    return send(method, path, contentType, body, null);
  }

  /** Sends with an {@code Idempotency-Key} header when {@code idempotencyKey} is not null. */
  HttpResponse<String> send(String method, String path, String contentType, String body, String idempotencyKey)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(30));
    if (idempotencyKey != null) {
      b.header("Idempotency-Key", idempotencyKey);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** SIGKILL, then waits for the process to be gone. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).as("killed server exits").isTrue();
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }
}
