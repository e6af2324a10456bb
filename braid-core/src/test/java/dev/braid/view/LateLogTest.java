package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.FileLog;
import dev.braid.log.StreamConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The late log records each late event once per view, on a real file log. */
class LateLogTest {

  @TempDir
  Path dir;

  private static LateLog.Pending late(String view, long offset) {
    return new LateLog.Pending(view, 1, offset, "k" + offset, 1_000 + offset, 5_000);
  }

  @Test
  void shouldRecordAnEventThatTwoDeltasOfAViewFoundLateOnce() {
    try (FileLog log = FileLog.open(dir)) {
      LateLog late = new LateLog(log.getOrCreateStream("s.late", StreamConfig.of(1)), 2, () -> 42L);
      // the old version's Delta and the new one's, catching up, fold the same chunk: both find 5 and 9
      // late; the new one started later in the chunk, so only the old one saw 3
      late.record(List.of(late("v", 3), late("v", 5), late("v", 9), late("w", 5), late("v", 5), late("v", 9)));
      late.record(List.of(late("v", 9), late("v", 11))); // the next chunk

      assertThat(late.read(0, 100)).extracting(e -> e.view() + "@" + e.eventOffset())
          .containsExactly("v@3", "v@5", "v@9", "w@5", "v@11");
      assertThat(late.count("v")).isEqualTo(4);
      assertThat(late.count("w")).isEqualTo(1);

      LateLog recovered = new LateLog(log.stream("s.late"), 2, () -> 43L);
      recovered.recover();
      assertThat(recovered.count("v")).isEqualTo(4);
      assertThat(recovered.isNew("v", 1, 11)).isFalse();
      assertThat(recovered.isNew("v", 1, 12)).isTrue();
    }
  }
}
