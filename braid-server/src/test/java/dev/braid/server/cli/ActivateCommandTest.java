package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code braid activate} against a stand-in server whose answers take as long as a test needs: the progress polls
 * run beside the activation, so a slow poll never holds back the activation's answer.
 */
class ActivateCommandTest {

  @Test
  void shouldAnswerOnceTheActivationAnswersWhateverThePollsTake() throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.createContext("/v1/views/v/versions/2/activate", x -> {
      sleep(300);
      byte[] body = "{\"view\":\"v\",\"current\":2,\"versions\":[],\"activated\":2,\"alreadyCurrent\":false}"
          .getBytes(StandardCharsets.UTF_8);
      x.getResponseHeaders().add("Content-Type", "application/json");
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    server.createContext("/v1/views/v/versions", x -> {
      sleep(8_000); // a progress poll stuck behind a busy server
      byte[] body = "{\"view\":\"v\",\"versions\":[]}".getBytes(StandardCharsets.UTF_8);
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    server.start();
    try {
      CommandLine cli = BraidCli.commandLine();
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      cli.setOut(new PrintWriter(out, true));
      cli.setErr(new PrintWriter(err, true));
      long t0 = System.nanoTime();
      int exit = cli.execute("activate", "v", "2", "--url=http://127.0.0.1:" + server.getAddress().getPort(),
          "--poll-millis=20");
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertThat(exit).as(err.toString()).isZero();
      assertThat(out.toString()).containsPattern("view v: version 2 is current after [0-9.]+ s");
      assertThat(seconds).as("answered with the activation, not after the 8 s poll").isLessThan(6.0);
    } finally {
      server.stop(0);
    }
  }

  private static void sleep(long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
