package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The C load generator against a server that counts what it is sent (the JDK's own HTTP server on
 * loopback): every answer is counted once, a status other than 200 is an error, the keys are the ones
 * asked for, and the open loop sends its rate.
 */
class NativeLoadGeneratorTest {

  @TempDir
  Path dir;

  private HttpServer server;
  private final AtomicLong answered = new AtomicLong();
  private final Set<String> paths = ConcurrentHashMap.newKeySet();
  private volatile int status = 200;
  private Path binary;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.createContext("/", exchange -> {
      paths.add(exchange.getRequestURI().getPath());
      byte[] body = "{\"found\":true}".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(status, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
      answered.incrementAndGet();
    });
    server.setExecutor(Executors.newFixedThreadPool(4));
    server.start();
    binary = NativeLoadGenerator.compile(dir);
  }

  @AfterEach
  void stop() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }

  private NativeLoadGenerator load(int keys, int connections) {
    return new NativeLoadGenerator(binary, dir, new InetSocketAddress("127.0.0.1", server.getAddress().getPort()),
        "/v1/views/v/keys/k", 4, keys, connections, 7, () -> 0L);
  }

  @Test
  void shouldCountEveryAnswerOnceAndAskForEveryKey() throws Exception {
    HttpLoadGenerator.Result r = load(5, 3).closedLoop(TimeUnit.MILLISECONDS.toNanos(400));

    assertThat(r.requests()).isPositive().isEqualTo(answered.get()).isEqualTo(r.latency().getTotalCount());
    assertThat(r.errors()).isZero();
    assertThat(paths).containsExactlyInAnyOrder("/v1/views/v/keys/k0000", "/v1/views/v/keys/k0001",
        "/v1/views/v/keys/k0002", "/v1/views/v/keys/k0003", "/v1/views/v/keys/k0004");
    assertThat(r.latency().getMaxValue()).isPositive();
  }

  @Test
  void shouldCountAnswersOtherThan200AsErrors() throws Exception {
    status = 404;
    HttpLoadGenerator.Result r = load(10, 2).closedLoop(TimeUnit.MILLISECONDS.toNanos(300));

    assertThat(r.requests()).isPositive();
    assertThat(r.errors()).isEqualTo(r.requests());
  }

  @Test
  void shouldSendTheOpenLoopsRateAndTimeEachRequestFromItsDueTime() throws Exception {
    HttpLoadGenerator.Result r = load(100, 4).openLoop(TimeUnit.SECONDS.toNanos(1), 500);

    // 500 requests are due in the second, and every one is sent, however late, and answered.
    assertThat(r.requests()).isEqualTo(500).isEqualTo(answered.get());
    assertThat(r.sendDelay().getTotalCount()).isEqualTo(500);
    assertThat(r.serviceTime().getTotalCount()).isEqualTo(500);
    // from due to answer is never shorter than from sending to answer
    assertThat(r.latency().getMaxValue()).isGreaterThanOrEqualTo(r.serviceTime().getMaxValue());
    assertThat(r.errors()).isZero();
  }

  @Test
  void shouldFailWithTheProgramsMessageWhenNothingListens() throws IOException {
    int port = server.getAddress().getPort();
    stop();
    NativeLoadGenerator gen = new NativeLoadGenerator(binary, dir, new InetSocketAddress("127.0.0.1", port),
        "/k", 2, 10, 1, 1, () -> 0L);

    assertThatThrownBy(() -> gen.closedLoop(TimeUnit.MILLISECONDS.toNanos(100)))
        .hasMessageContaining("braid-loadgen failed (exit 2)").hasMessageContaining("connect to 127.0.0.1");
  }
}
