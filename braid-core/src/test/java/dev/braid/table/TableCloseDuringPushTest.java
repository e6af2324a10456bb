package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing the engine while a push runs on a caller's thread: close waits for the push, the push
 * fails naming the close instead of building a version behind it, and the engine reopens on the
 * version that served before, with no file of the failed push left.
 */
class TableCloseDuringPushTest {

  @TempDir
  Path dir;

  static final PipelineSpec SPEC = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2)
      .key("id").field("id", "string").field("tier", "string").build()).build();

  static String rows(int keys, String tier) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < keys; i++) {
      b.append("{\"id\":\"u").append(i).append("\",\"tier\":\"").append(tier).append("\"}\n");
    }
    return b.toString();
  }

  @Test
  void shouldWaitForAPushInProgressAndFailItRatherThanSwapAfterClose() throws Exception {
    Braid braid = Braid.open(dir, SPEC);
    Table t = braid.table("users");
    assertThat(t.push(new ByteArrayInputStream(rows(300, "first").getBytes(StandardCharsets.UTF_8)),
        PushOptions.defaults("first.jsonl")).state()).isEqualTo("done");

    CountDownLatch reachedEnd = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    InputStream held = new AtEndStream(rows(300, "second"), () -> { // as a slow upload would, it waits at its end
      reachedEnd.countDown();
      release.await();
    });
    AtomicReference<Object> pushed = new AtomicReference<>();
    Thread pusher = new Thread(() -> {
      try {
        pushed.set(t.push(held, PushOptions.defaults("second.jsonl")));
      } catch (Throwable e) {
        pushed.set(e);
      }
    });
    pusher.start();
    assertThat(reachedEnd.await(30, TimeUnit.SECONDS)).as("the push read its rows").isTrue();

    Thread closer = new Thread(braid::close);
    closer.start();
    closer.join(500);
    assertThat(closer.isAlive()).as("close returned while a push was still reading its input").isTrue();

    release.countDown();
    pusher.join(60_000);
    closer.join(60_000);
    assertThat(pusher.isAlive()).isFalse();
    assertThat(closer.isAlive()).isFalse();
    assertThat(pushed.get()).isInstanceOf(PushReport.class);
    PushReport r = (PushReport) pushed.get();
    assertThat(r.state()).isEqualTo("failed");
    assertThat(r.failure()).contains("table 'users' was closed during push " + r.pushId());

    try (Braid again = Braid.open(dir, SPEC)) {
      assertThat(again.table("users").get("u7").values().get("tier")).isEqualTo("first");
      try (Stream<Path> files = Files.walk(dir)) {
        assertThat(files.filter(f -> f.getFileName().toString().endsWith(".base")))
            .as("the failed push's Base is gone").hasSize(1);
      }
    }
  }

  /** A push whose replay a close stopped says so in words, not with a Java class name. */
  @Test
  void shouldNameAReplayStoppedByACloseWithoutAClassName() {
    assertThat(TableRuntime.replayFailure(new IllegalStateException("table 'users' was closed during the replay of "
        + "version 5"))).isEqualTo("replay failed: table 'users' was closed during the replay of version 5");
    assertThat(TableRuntime.replayFailure(new InterruptedException()))
        .isEqualTo("replay interrupted (its thread was interrupted, as a stop does); send the push again");
    assertThat(TableRuntime.replayFailure(new IllegalStateException())).isEqualTo("replay failed: IllegalStateException");
  }

  @Test
  void shouldRefuseANewPushOnceClosed() throws Exception {
    Braid braid = Braid.open(dir, SPEC);
    Table t = braid.table("users");
    braid.close();
    ByteArrayInputStream in = new ByteArrayInputStream(rows(10, "x").getBytes(StandardCharsets.UTF_8));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> t.push(in, PushOptions.defaults("x.jsonl")))
        .isInstanceOf(IllegalStateException.class).hasMessage("table 'users' is closed");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> t.repush(true))
        .isInstanceOf(IllegalStateException.class).hasMessage("table 'users' is closed");
  }
}
