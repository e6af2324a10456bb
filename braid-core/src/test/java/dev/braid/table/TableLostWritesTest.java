package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import java.io.ByteArrayInputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table whose real-time writes log lost its tail below the current version's push cut (a power
 * loss under durability {@code os}): the table opens and serves, and writes that reuse the lost
 * offsets are applied, also after the next restart.
 */
class TableLostWritesTest {

  @TempDir
  Path dir;

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .table(TableSpec.builder("users").partitions(1).key("id").field("id", "string").field("tier", "string")
            .build())
        .build();
  }

  private static void put(Table t, String id, String tier) throws InterruptedException {
    assertThat(t.awaitApplied(t.put(id, Map.of("id", id, "tier", tier), null), 10_000)).isTrue();
  }

  private static Object tier(Table t, String id) {
    return t.get(id).values().get("tier");
  }

  @Test
  void shouldFollowWritesThatReuseTheOffsetsOfLostOnesAcrossRestarts() throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      for (int i = 0; i < 10; i++) {
        put(t, "w" + i, "before"); // offsets 0..9, each its own batch
      }
      byte[] rows = "{\"id\":\"k\",\"tier\":\"pushed\"}\n".getBytes(StandardCharsets.UTF_8);
      assertThat(t.push(new ByteArrayInputStream(rows), PushOptions.defaults("rows.jsonl")).state()).isEqualTo("done");
    }
    Path segment;
    try (Stream<Path> files = Files.list(dir.resolve("log/users" + TableSpec.WRITES_SUFFIX + "/p00000"))) {
      segment = files.filter(f -> f.toString().endsWith(".log")).findFirst().orElseThrow();
    }
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2); // the writes log now ends below the push's cut (10)
    }

    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      assertThat(tier(t, "k")).isEqualTo("pushed");
      put(t, "n1", "after"); // at an offset the lost writes had
      assertThat(tier(t, "n1")).isEqualTo("after");
    }
    try (Stream<Path> files = Files.list(dir.resolve("tables/users"))) {
      for (Path ckpt : files.filter(f -> f.toString().endsWith(".ckpt")).toList()) {
        Files.delete(ckpt); // as after a kill -9: the writes are replayed from the version's stored cut
      }
    }
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      assertThat(tier(t, "n1")).as("replayed after a restart").isEqualTo("after");
      assertThat(tier(t, "k")).isEqualTo("pushed");
      assertThat(t.get("w0").found()).as("a full push replaced the writes before it").isFalse();
    }
  }
}
