package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.braid.spec.TableSpec;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link PushLoader#load} ends, and says why, however its writer stops: the consumer throws (a cancel or a close
 * of the push), or a chunk's parse never runs (a close's {@code shutdownNow} dropped and cancelled it). Before,
 * either left the reader blocked for good on a full queue.
 */
class PushLoaderStopTest {

  private static final TableLayout LAYOUT = new TableLayout(TableSpec.builder("t").partitions(1).key("id")
      .field("id", "string").field("tier", "string").field("updated", "timestamp").build());

  private final ExecutorService real = Executors.newFixedThreadPool(2);

  @AfterEach
  void stop() {
    real.shutdownNow();
  }

  /** {@code chunks} loader chunks' worth of rows (of about 45 bytes), made as they are read. */
  private static InputStream rows(int chunks) {
    return TableCancelTest.manyRows((long) chunks * PushLoader.CHUNK / 45);
  }

  private PushLoader loader(ExecutorService workers) {
    return new PushLoader(LAYOUT, PushFormat.jsonLines(), workers, 2, 0, Long.MIN_VALUE);
  }

  @Test
  void shouldEndWhenTheConsumerThrows() {
    AtomicInteger consumed = new AtomicInteger();
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThatThrownBy(() -> loader(real).load(rows(12),
        (chunk, firstLine) -> {
          if (consumed.incrementAndGet() == 2) {
            throw new IllegalStateException("push p (version 2) was cancelled by request");
          }
          return true;
        })).isInstanceOf(IllegalStateException.class).hasMessage("push p (version 2) was cancelled by request"));
    assertThat(consumed).as("no chunk consumed after the one that threw").hasValue(2);
  }

  @Test
  void shouldEndWhenAChunksParseWasDroppedAndCancelled() {
    AtomicInteger submitted = new AtomicInteger();
    ExecutorService dropsTheThird = new AbstractExecutorService() {
      @Override
      public void execute(Runnable task) {
        if (submitted.incrementAndGet() == 3) {
          ((Future<?>) task).cancel(false); // as a close's shutdownNow leaves it: never run, cancelled
        } else {
          real.execute(task);
        }
      }

      @Override
      public void shutdown() {}

      @Override
      public List<Runnable> shutdownNow() {
        return List.of();
      }

      @Override
      public boolean isShutdown() {
        return false;
      }

      @Override
      public boolean isTerminated() {
        return false;
      }

      @Override
      public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
      }
    };
    AtomicLong rows = new AtomicLong();
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThatThrownBy(() -> loader(dropsTheThird)
        .load(rows(12), (chunk, firstLine) -> {
          rows.addAndGet(chunk.rows);
          return true;
        })).isInstanceOf(CancellationException.class));
    assertThat(rows.get()).as("the two chunks before the dropped one").isPositive();
  }
}
