package dev.braid.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A push's upload stream ({@link TableRoutes.Upload}) over a pipe whose writer sends nothing, as a
 * stalled upload: a close from another thread (a cancel) wakes the read that waits, and the
 * interrupt that woke it does not outlive the read on the reading thread (a pooled server thread).
 */
class UploadTest {

  @Test
  void shouldWakeAReadThatWaitsWhenClosedAndLeaveItsThreadUninterrupted() throws Exception {
    try (PipedOutputStream writer = new PipedOutputStream(); PipedInputStream body = new PipedInputStream(writer)) {
      TableRoutes.Upload upload = new TableRoutes.Upload(body, e -> new IOException("cut off", e));
      writer.write("{\"id\": \"a\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      AtomicReference<Throwable> failed = new AtomicReference<>();
      AtomicBoolean interruptedAfter = new AtomicBoolean(true);
      CompletableFuture<Integer> firstRead = new CompletableFuture<>();
      Thread reader = new Thread(() -> {
        byte[] b = new byte[64];
        try {
          firstRead.complete(upload.read(b, 0, b.length)); // what was sent
          upload.read(b, 0, b.length); // waits: nothing more comes
        } catch (IOException e) {
          failed.set(e);
        } finally {
          interruptedAfter.set(Thread.currentThread().isInterrupted());
        }
      });
      reader.start();
      assertThat(firstRead.get(10, TimeUnit.SECONDS)).isEqualTo(12);
      while (reader.getState() != Thread.State.TIMED_WAITING && reader.getState() != Thread.State.WAITING) {
        Thread.sleep(1); // until the second read waits in the pipe
      }
      upload.close();
      reader.join(10_000);
      assertThat(reader.isAlive()).as("the close woke the read").isFalse();
      assertThat(failed.get()).hasMessage("the push's upload was closed while a read waited for more of it: the "
          + "push was cancelled");
      assertThat(interruptedAfter.get()).as("the interrupt does not outlive the read").isFalse();
      assertThatThrownBy(() -> upload.read()).hasMessage("the push's upload was closed: the push was cancelled");
    }
  }

  /**
   * A close that comes while a read runs but does not wait (Jetty's blocking read consumes the
   * interrupt only when it waits): the read goes on to its answer, and the interrupt is cleared on its
   * way out rather than left on the server thread for whatever it runs next.
   */
  @Test
  void shouldClearTheInterruptOfACloseThatCameWhileAReadRanWithoutWaiting() throws Exception {
    java.util.concurrent.CountDownLatch inRead = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    java.io.InputStream busy = new java.io.InputStream() {
      @Override
      public int read() {
        inRead.countDown();
        while (closed.getCount() > 0) {
          Thread.onSpinWait(); // busy, never waiting: the interrupt stays pending
        }
        return 'y';
      }
    };
    TableRoutes.Upload upload = new TableRoutes.Upload(busy, e -> new IOException("cut off", e));
    AtomicReference<Object> got = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean(true);
    Thread reader = new Thread(() -> {
      try {
        got.set(upload.read());
      } catch (IOException e) {
        got.set(e);
      }
      interruptedAfter.set(Thread.currentThread().isInterrupted());
    });
    reader.start();
    assertThat(inRead.await(10, TimeUnit.SECONDS)).isTrue();
    upload.close();
    closed.countDown();
    reader.join(10_000);
    assertThat(got.get()).isEqualTo((int) 'y');
    assertThat(interruptedAfter.get()).as("the close's interrupt is cleared as the read leaves").isFalse();
  }

  /** A close while nothing reads interrupts nobody; a read's own failure is named as the route names it. */
  @Test
  void shouldInterruptNobodyWhenClosedBetweenReadsAndNameOtherFailuresAsTold() throws Exception {
    PipedOutputStream writer = new PipedOutputStream();
    PipedInputStream body = new PipedInputStream(writer);
    TableRoutes.Upload cut = new TableRoutes.Upload(body, e -> new IOException("cut off", e));
    writer.write('x');
    assertThat(cut.read()).isEqualTo('x');
    writer.close();
    body.close(); // the pipe itself fails the next read
    assertThatThrownBy(cut::read).hasMessage("cut off");

    TableRoutes.Upload idle = new TableRoutes.Upload(new java.io.ByteArrayInputStream(new byte[1]),
        e -> new IOException("cut off", e));
    Thread other = new Thread(() -> {
      try {
        idle.read();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    other.start();
    other.join(10_000); // it read and left
    idle.close();
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(other.isInterrupted()).isFalse();
  }
}
