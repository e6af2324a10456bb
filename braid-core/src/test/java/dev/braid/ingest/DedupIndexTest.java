package dev.braid.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The dedup index on its own: the exact window, generations dropped whole, entries put out of time order. */
class DedupIndexTest {

  private static final long HOUR = 3_600_000L;

  private static long claim(DedupIndex index, long hi, long lo, long now, Object owner) throws InterruptedException {
    long[] out = new long[1];
    index.claim(new long[] {hi}, new long[] {lo}, 1, now, owner, out);
    return out[0];
  }

  @Test
  void shouldAnswerAnIdInsideTheWindowAndForgetItAfter() throws Exception {
    DedupIndex index = new DedupIndex(Duration.ofHours(1));
    index.put(1, 2, 3, 40, 10 * HOUR);
    Object me = new Object();
    long found = claim(index, 1, 2, 11 * HOUR, me);
    assertThat(DedupIndex.partition(found)).isEqualTo(3);
    assertThat(DedupIndex.offset(found)).isEqualTo(40);
    assertThat(claim(index, 1, 2, 11 * HOUR + 1, me)).as("one millisecond past the window").isEqualTo(DedupIndex.NEW);
    index.release(1, 2, me);
  }

  @Test
  void shouldDropWholeGenerationsOnceTheyAreOlderThanTheWindow() {
    DedupIndex index = new DedupIndex(Duration.ofHours(4));
    for (int i = 0; i < 1000; i++) {
      index.put(i, i, 0, i, 10 * HOUR + i);
    }
    assertThat(index.size()).isEqualTo(1000);
    index.put(99_999, 1, 0, 5000, 15 * HOUR);
    assertThat(index.size()).as("the old generation is gone").isEqualTo(1);
  }

  @Test
  void shouldKeepTheNewestEntryOfAnIdPutOutOfTimeOrder() throws Exception {
    DedupIndex index = new DedupIndex(Duration.ofHours(4));
    index.put(7, 7, 1, 500, 12 * HOUR); // a rebuild reads partition 1 first: newer generation
    index.put(7, 7, 0, 20, 10 * HOUR);  // then partition 0: an older generation is created behind it
    index.put(8, 8, 0, 21, 10 * HOUR);
    long found = claim(index, 7, 7, 12 * HOUR, new Object());
    assertThat(DedupIndex.offset(found)).isEqualTo(500);
    assertThat(DedupIndex.offset(claim(index, 8, 8, 12 * HOUR, new Object()))).isEqualTo(21);
  }

  @Test
  void shouldMakeASecondClaimOfAReservedIdWaitUntilTheFirstCommits() throws Exception {
    DedupIndex index = new DedupIndex(Duration.ofHours(1));
    Object first = new Object();
    assertThat(claim(index, 5, 5, HOUR, first)).isEqualTo(DedupIndex.NEW);
    long[] seen = new long[1];
    Thread second = new Thread(() -> {
      try {
        seen[0] = claim(index, 5, 5, HOUR, new Object());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    second.start();
    index.commit(5, 5, 1, 9, HOUR, first);
    second.join();
    assertThat(DedupIndex.offset(seen[0])).as("the waiting claim sees the committed position").isEqualTo(9);
  }
}
