package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint says its events were folded, and a restart replays only what comes after it: so the
 * records of the late events claimed below its positions must be in the late log before it is
 * written. A claimed event is recorded just after its Delta's lock is released, and a checkpoint
 * between the two, then a {@code kill -9}, lost the record for good (the crash review found views
 * missing events with no late-log entry). The checkpoint now waits for such claims, and is not
 * written while one stays unwritten.
 */
class LateClaimCheckpointTest {

  private static Status.Checkpoints checkpoints(Engine e) {
    return e.status().views().get(0).checkpoints();
  }

  @Test
  void shouldNotCheckpointPastALateEventWhoseRecordIsNotWritten(@TempDir Path dir) throws Exception {
    try (Engine e = Engine.open(dir, ClosedRunCheckpointTest.spec(),
        EngineOptions.defaults().withCheckpointEvery(Duration.ZERO))) {
      ClosedRunCheckpointTest.ingest(e);
      e.checkpointAll();
      Status.Checkpoints first = checkpoints(e);
      assertThat(first.written()).isEqualTo(1);

      // a claim as a speed-layer thread makes it under the Delta's lock, its record not yet written
      LateLog late = e.speedLayer("s").lateLog();
      LateLog.Pending pending = new LateLog.Pending("per_minute", "claimed", 0, 1_000_000, "u0", 1, 2);
      assertThat(late.claim(pending.view(), pending.rule(), pending.partition(), pending.offset())).isTrue();
      assertThat(e.ingest("s", List.of(Map.of("user", "u1", "ts", ClosedRunCheckpointTest.T + 600_000L)))
          .accepted()).isEqualTo(1);
      assertThat(e.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      e.checkpointAll(); // waits for the claim, then writes nothing
      assertThat(checkpoints(e).written()).as("no checkpoint past an unwritten late record").isEqualTo(1);
      assertThat(checkpoints(e).lastPosition()).isEqualTo(first.lastPosition());

      late.record(List.of(pending));
      e.checkpointAll();
      assertThat(checkpoints(e).written()).isEqualTo(2);
      assertThat(checkpoints(e).lastPosition().isAtOrAfter(first.lastPosition())).isTrue();
      assertThat(checkpoints(e).lastPosition()).isNotEqualTo(first.lastPosition());
    }
  }
}
