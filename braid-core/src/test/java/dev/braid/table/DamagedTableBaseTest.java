package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.UnavailableException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.TableSpec;
import dev.braid.spec.ViewSpec;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A current table version whose Base file is damaged between two runs (a flipped byte, or the file
 * cut short): only that table is refused, naming the file and the ways out, while streams and
 * views serve; the activation of a backup or a full push replaces the damaged version, which is
 * then {@code failed}, its file moved aside and kept.
 */
class DamagedTableBaseTest {

  private static final int ROWS = 300;

  @TempDir
  Path dir;

  private static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .table(TableSpec.builder("users").partitions(2).key("id").field("id", "string").field("tier", "string")
            .build())
        .build();
  }

  /** {@link #ROWS} rows {@code k0, k1, ...} of tier {@code tier}. */
  private static InputStream rows(String tier) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < ROWS; i++) {
      sb.append("{\"id\":\"k").append(i).append("\",\"tier\":\"").append(tier).append("\"}\n");
    }
    return new ByteArrayInputStream(sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static String tier(Table t, String key) {
    return (String) t.get(key).values().get("tier");
  }

  /**
   * Pushes a backup (tier {@code one}) and a current version (tier {@code two}), writes {@code w}
   * after both, ingests one click; returns the current version's Base file, damaged as {@code how}.
   */
  private Path damagedCurrentBase(String how) throws Exception {
    long current;
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      assertThat(t.push(rows("one"), PushOptions.defaults("one.jsonl")).state()).isEqualTo("done");
      current = t.push(rows("two"), PushOptions.defaults("two.jsonl")).version();
      assertThat(t.awaitApplied(t.put("w", Map.of("id", "w", "tier", "written"), null), 10_000)).isTrue();
      assertThat(b.ingest("clicks", List.of(Map.of("user", "ann", "ts", 1_700_000_000_000L))).accepted()).isOne();
    }
    Path base = dir.resolve("tables/users/v" + current + ".base");
    byte[] bytes = Files.readAllBytes(base);
    switch (how) {
      case "flipped" -> {
        bytes[bytes.length / 2] ^= 0x5A;
        Files.write(base, bytes);
      }
      case "truncated" -> Files.write(base, java.util.Arrays.copyOf(bytes, bytes.length / 2));
      default -> Files.delete(base);
    }
    return base;
  }

  private static VersionInfo version(Table t, long id) {
    return t.versions().stream().filter(v -> v.id() == id).findFirst().orElseThrow();
  }

  @ParameterizedTest(name = "Base {0}")
  @ValueSource(strings = {"flipped", "truncated", "deleted"})
  void shouldRefuseOnlyTheTableAndServeItAgainOnceABackupIsActivated(String how) throws Exception {
    Path base = damagedCurrentBase(how);

    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      long backup = t.versions().stream().filter(v -> v.state() == VersionState.BACKUP).mapToLong(VersionInfo::id)
          .max().orElseThrow(); // the newest backup, the one the refusal names
      assertThatThrownBy(() -> t.get("k1")).isInstanceOf(UnavailableException.class)
          .hasMessageContaining("table 'users' is unavailable")
          .hasMessageContaining((how.equals("deleted") ? "table Base " + base + " is missing"
              : "corrupt table Base " + base))
          .hasMessageContaining("braid push users FILE")
          .hasMessageContaining("braid activate users " + backup + " --table");
      assertThatThrownBy(() -> t.put("k1", Map.of("id", "k1", "tier", "x"), null))
          .as("a write").isInstanceOf(UnavailableException.class);
      assertThatThrownBy(() -> t.push(rows("x"), PushOptions.defaults("inc.jsonl").incremental(true)))
          .as("an incremental push").isInstanceOf(UnavailableException.class);
      assertThatThrownBy(() -> t.repush(true)).as("a repush").isInstanceOf(UnavailableException.class);
      assertThat(b.faults().unavailable()).containsOnlyKeys("users");
      assertThat(b.faults().unavailable().get("users")).contains(base.toString());
      assertThat(b.get("per_user", "ann").values()).as("the view serves").containsEntry("n", 1L);

      assertThat(t.activate(backup)).isEqualTo(backup);

      assertThat(tier(t, "k1")).isEqualTo("one");
      assertThat(tier(t, "w")).as("the writes since the backup's cut are replayed").isEqualTo("written");
      assertThat(b.faults().none()).isTrue();
      VersionInfo damaged = t.versions().get(t.versions().size() - 1);
      assertThat(damaged.state()).isEqualTo(VersionState.FAILED);
      assertThat(damaged.failure()).contains(base.toString()).contains("moved aside");
      assertThat(t.put("k2", Map.of("id", "k2", "tier", "later"), null)).as("writes are taken again").isNotNull();
    }
    Path aside = base.resolveSibling(base.getFileName() + ".corrupt");
    assertThat(Files.exists(aside)).as("moved aside, not deleted").isEqualTo(!how.equals("deleted"));
    assertThat(base).doesNotExist();
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(b.faults().none()).isTrue();
      assertThat(tier(b.table("users"), "k1")).isEqualTo("one");
      assertThat(Files.exists(aside)).as("kept across a restart").isEqualTo(!how.equals("deleted"));
    }
  }

  @Test
  void shouldServeAFullPushOfADamagedTable() throws Exception {
    Path base = damagedCurrentBase("flipped");

    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      assertThatThrownBy(() -> t.get("k1")).isInstanceOf(UnavailableException.class);

      PushReport r = t.push(rows("three"), PushOptions.defaults("three.jsonl"));

      assertThat(r.state()).as(String.valueOf(r.failure())).isEqualTo("done");
      assertThat(tier(t, "k1")).isEqualTo("three");
      assertThat(t.get("k1").asOf().version()).isEqualTo(r.version());
      assertThat(t.get("w").found()).as("a full push replaces every row written before its cut").isFalse();
      assertThat(b.faults().none()).isTrue();
      assertThat(version(t, r.version() - 1).state()).as("the damaged version").isEqualTo(VersionState.FAILED);
      assertThat(version(t, r.version() - 2).state()).as("the backup stays").isEqualTo(VersionState.BACKUP);
    }
    assertThat(base.resolveSibling(base.getFileName() + ".corrupt")).exists();
  }

  @Test
  void shouldRefuseToActivateABackupWithADamagedBaseAndKeepServingTheCurrentVersion() throws Exception {
    long backup;
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      backup = t.push(rows("one"), PushOptions.defaults("one.jsonl")).version();
      assertThat(t.push(rows("two"), PushOptions.defaults("two.jsonl")).state()).isEqualTo("done");
    }
    Path base = dir.resolve("tables/users/v" + backup + ".base");
    byte[] bytes = Files.readAllBytes(base);
    bytes[bytes.length / 2] ^= 0x5A;
    Files.write(base, bytes);

    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      assertThat(b.faults().none()).as("a backup's Base is read when it is activated").isTrue();

      assertThatThrownBy(() -> t.activate(backup)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("version " + backup + " of table 'users' cannot be activated")
          .hasMessageContaining("corrupt table Base " + base);

      assertThat(tier(t, "k1")).as("the current version serves on").isEqualTo("two");
      assertThat(version(t, backup).state()).isEqualTo(VersionState.BACKUP);
    }
  }
}
