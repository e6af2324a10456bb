package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.UnknownNameException;
import dev.braid.VersionInfo;
import dev.braid.VersionState;
import dev.braid.ViewResult;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CutSplitTest {

  static PipelineSpec spec() {
    return PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(1).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count").build())
        .build();
  }

  private static void click(Braid b, String user, long ts) {
    assertThat(b.ingest("clicks", List.of(Map.of("user", user, "ts", ts))).accepted()).isEqualTo(1);
  }

  /** Count of {@code key} in the current version's Base alone, read through the Base file. */
  private static long baseCount(Engine e, String key) throws Exception {
    Version v = ((ViewRuntimeAccess) () -> e).current("per_user");
    if (v.base == null) {
      return 0;
    }
    long[] n = new long[1];
    byte[] kb = key.getBytes(StandardCharsets.UTF_8);
    ViewProgram.Scratch x = v.program.scratch();
    v.base.lookup(kb, kb.length, (w, buf, off, len) -> {
      long[] longs = new long[Math.max(1, v.program.longWidth)];
      Object[] objects = new Object[Math.max(1, v.program.objectWidth)];
      v.program.readRow(x.stateInput.reset(buf, off, off + len), longs, 0, objects, 0, x);
      n[0] += (Long) v.program.result(longs, 0, objects, 0, x).get("n");
    });
    return n[0];
  }

  private static long deltaCount(Engine e, String key) {
    Version v = ((ViewRuntimeAccess) () -> e).current("per_user");
    GroupTable t = v.delta.partitions[0].table;
    byte[] kb = key.getBytes(StandardCharsets.UTF_8);
    int id = t.findKey(kb, kb.length, GroupTable.hash(kb, kb.length));
    if (id < 0) {
      return 0;
    }
    ViewProgram.Scratch x = v.program.scratch();
    int g = t.firstGroupOfKey(id);
    return (Long) v.program.result(t.longs, g * t.stride, t.objects, g * t.objectWidth, x).get("n");
  }

  /** Reaches the engine's view runtimes from this package. */
  interface ViewRuntimeAccess {
    Engine engine();

    default Version current(String view) throws IllegalStateException {
      try {
        java.lang.reflect.Field f = Engine.class.getDeclaredField("views");
        f.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<String, ViewRuntime> views = (Map<String, ViewRuntime>) f.get(engine());
        return views.get(view).current();
      } catch (ReflectiveOperationException ex) {
        throw new IllegalStateException(ex);
      }
    }
  }

  @Test
  void shouldSplitBaseAndDeltaExactlyAtTheCut(@TempDir Path dir) throws Exception {
    try (Engine e = (Engine) Braid.open(dir, spec())) {
      click(e, "alice", 1);
      click(e, "alice", 2); // offset 1 = C - 1
      long version = e.runBatch("per_user");
      List<VersionInfo> versions = e.versions("per_user");
      VersionInfo current = versions.stream().filter(v -> v.id() == version).findFirst().orElseThrow();
      assertThat(current.state()).isEqualTo(VersionState.CURRENT);
      assertThat(current.cut()).isEqualTo(Cut.of(2));
      assertThat(baseCount(e, "alice")).isEqualTo(2);
      assertThat(deltaCount(e, "alice")).isZero();

      click(e, "alice", 3); // offset 2 = C
      assertThat(e.awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(baseCount(e, "alice")).isEqualTo(2);
      assertThat(deltaCount(e, "alice")).isEqualTo(1);
      ViewResult r = e.get("per_user", "alice");
      assertThat(r.values().get("n")).isEqualTo(3L);
      assertThat(r.asOf().cut()).isEqualTo(Cut.of(2));
      assertThat(r.asOf().position()).isEqualTo(Cut.of(3));
      assertThat(r.asOf().version()).isEqualTo(version);
    }
  }

  @Test
  void shouldKeepTheOldVersionAsBackupAndComeBackAfterRestart(@TempDir Path dir) throws Exception {
    long version;
    try (Engine e = (Engine) Braid.open(dir, spec())) {
      click(e, "bob", 1);
      long first = e.versions("per_user").get(0).id();
      version = e.runBatch("per_user");
      click(e, "bob", 2);
      assertThat(e.versions("per_user")).extracting(VersionInfo::id, VersionInfo::state)
          .containsExactly(org.assertj.core.groups.Tuple.tuple(first, VersionState.BACKUP),
              org.assertj.core.groups.Tuple.tuple(version, VersionState.CURRENT));
    }
    try (Engine e = (Engine) Braid.open(dir, spec())) {
      ViewResult r = e.get("per_user", "bob");
      assertThat(r.asOf().version()).isEqualTo(version);
      assertThat(r.values().get("n")).isEqualTo(2L);
      assertThat(r.asOf().position()).isEqualTo(Cut.of(2));
    }
  }

  @Test
  void shouldAnswerAnUnseenKeyWithZerosAndNotFound(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      ViewResult r = b.get("per_user", "nobody");
      assertThat(r.found()).isFalse();
      assertThat(r.values()).containsEntry("n", 0L);
    }
  }

  @Test
  void shouldNameTheKnownViewsForAnUnknownOne(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> b.get("per_usr", "x")).isInstanceOf(UnknownNameException.class)
          .hasMessage("unknown view 'per_usr'; views are: per_user");
      assertThatThrownBy(() -> b.ingest("klicks", List.of())).isInstanceOf(UnknownNameException.class)
          .hasMessageContaining("unknown stream 'klicks'");
      assertThatThrownBy(() -> b.get("per_user", null)).isInstanceOf(NullPointerException.class)
          .hasMessage("the key read from view 'per_user' is null: keys are strings (the empty string is a key like "
              + "any other)");
      assertThatThrownBy(() -> b.getAll("per_user", java.util.Arrays.asList("a", null)))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("view 'per_user' is null");
    }
  }

  @Test
  void shouldRefuseASecondEngineOnTheSameDataDirectory(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      assertThatThrownBy(() -> Braid.open(dir, spec())).hasMessageContaining("is in use by another");
    }
  }
}
