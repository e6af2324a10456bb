package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The positions a swap compares: the speed layer takes the write locks of all of a partition's Deltas for a fold
 * batch and releases them one after the other, each with its position moved. Read under the locks, in the order the
 * Deltas were attached, the later one is never behind the earlier one; read without them it was, between two
 * releases, by the whole batch.
 */
class DeltaPositionLockTest {

  private static PartitionDelta delta(long from) {
    return new PartitionDelta(0, new GroupTable(2, 0, 16, (l, lb, o, ob) -> { }, false), from);
  }

  @Test
  void shouldNeverReadTheLaterDeltaBehindTheEarlierOneBetweenTheReleasesOfAFoldBatch() throws Exception {
    PartitionDelta current = delta(100); // attached first
    PartitionDelta next = delta(100);
    // a fold batch of records [100, 356): both write-locked, the current one moved and released first
    long a = current.lock.writeLock();
    long b = next.lock.writeLock();
    current.advance(356, 256);
    current.lock.unlockWrite(a);

    assertThat(current.position()).isEqualTo(356);
    assertThat(next.position()).as("read without the lock, between the releases: behind").isEqualTo(100);
    long old = current.positionLocked();
    CompletableFuture<Long> newer = CompletableFuture.supplyAsync(next::positionLocked);
    Thread.sleep(50);
    assertThat(newer).as("waits for the batch to release the later Delta").isNotDone();
    next.advance(356, 256);
    next.lock.unlockWrite(b);
    assertThat(newer.get(10, TimeUnit.SECONDS)).as("read under the lock").isGreaterThanOrEqualTo(old);
  }
}
