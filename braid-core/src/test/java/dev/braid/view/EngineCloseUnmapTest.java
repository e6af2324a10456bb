package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import dev.braid.table.PushOptions;
import dev.braid.table.Table;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing an engine unmaps the files it read through mappings: every version's Base (current and
 * backups), the closed-window runs of their Deltas, and tables' Bases; reads and pushes through the
 * closed engine, or a table handle taken before, fail saying so. Checked in {@code /proc/self/maps}.
 */
class EngineCloseUnmapTest {

  @TempDir
  Path dir;

  private static List<String> mapped(Path under) throws IOException {
    String prefix = under.toRealPath().toString();
    return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains(prefix)).toList();
  }

  @Test
  void shouldUnmapBasesRunsAndTableBasesOnClose() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    EventTimePropertyTest.Setup s = new EventTimePropertyTest.Setup(2, 1_000, 0, 0, 0, false);
    PipelineSpec events = EventTimePropertyTest.spec(s);
    PipelineSpec.Builder b = PipelineSpec.builder();
    events.streams().values().forEach(b::stream);
    events.views().values().forEach(b::view);
    PipelineSpec spec = b.table(TableSpec.builder("users").partitions(2).key("id").field("id", "string")
        .field("tier", "string").build()).build();
    Random rnd = new Random(3);
    long[] clock = {EventTimePropertyTest.T0};
    Engine engine = Engine.open(dir, spec, DeltaSpillPropertyTest.OPTIONS);
    Table users;
    try {
      List<EventTimePropertyTest.Ev> sent = new ArrayList<>();
      EventTimePropertyTest.ingest(engine, rnd, s, 400, clock, sent);
      assertThat(engine.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      engine.runBatch("tum");
      engine.runBatch("tum"); // a backup version with a Base of its own
      EventTimePropertyTest.ingest(engine, rnd, s, 400, clock, sent);
      assertThat(engine.awaitCaughtUp(30, TimeUnit.SECONDS)).isTrue();
      assertThat(engine.spillClosedWindows()).as("closed windows moved to runs").isPositive();
      users = engine.table("users");
      users.push(new ByteArrayInputStream("{\"id\":\"u1\",\"tier\":\"gold\"}\n".getBytes(StandardCharsets.UTF_8)),
          PushOptions.defaults("users.jsonl"));
      assertThat(users.get("u1").found()).isTrue();
      String key = sent.get(0).user();
      assertThat(engine.get("tum", key).found()).isTrue();

      List<String> open = mapped(dir);
      assertThat(open).as("a view Base mapped").anyMatch(l -> l.contains("/views/tum/") && l.contains(".base"));
      assertThat(open).as("a closed-window run mapped").anyMatch(l -> l.contains(".closed"));
      assertThat(open).as("a table Base mapped").anyMatch(l -> l.contains("/tables/users/"));
    } finally {
      engine.close();
    }

    assertThat(mapped(dir)).as("files of the data directory still mapped after close").isEmpty();
    assertThatThrownBy(() -> engine.get("tum", "u1")).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is closed");
    assertThatThrownBy(() -> engine.getAll("tum", List.of("u1"))).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is closed");
    assertThatThrownBy(() -> users.get("u1")).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("table 'users' is closed");
    assertThatThrownBy(() -> users.push(new ByteArrayInputStream(new byte[0]), PushOptions.defaults("late.jsonl")))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("table 'users' is closed");
    assertThatThrownBy(() -> users.repush(true)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("table 'users' is closed");
    assertThat(mapped(dir)).as("a push refused after close maps nothing").isEmpty();
    // these answered after close: no faults, a table's versions, and "the log in ... is closed"
    assertThatThrownBy(engine::faults).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    assertThatThrownBy(users::versions).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("table 'users' is closed");
    assertThatThrownBy(() -> engine.awaitCaughtUp(1, java.util.concurrent.TimeUnit.SECONDS))
        .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("Braid in ");
  }
}
