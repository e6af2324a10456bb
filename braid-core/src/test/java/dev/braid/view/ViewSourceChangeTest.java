package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.Braid;
import dev.braid.event.FieldType;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A spec that gives a view with versions another source stream or another mode is refused at
 * start, naming the view, both values and what to do, and nothing changes: the spec put back serves
 * the same answers. (A restart once compiled the recorded definition against the new stream and
 * replayed it from the old stream's offsets, and served a lambda Base as a kappa view.)
 */
class ViewSourceChangeTest {

  private static PipelineSpec spec(String from, ViewSpec.Mode mode) {
    PipelineSpec.Builder b = PipelineSpec.builder();
    for (String s : List.of("s", "s9")) {
      b.stream(StreamSpec.builder(s).partitions(2).key("k").field("k", FieldType.STRING).field("n", FieldType.LONG)
          .build());
    }
    return b.view(ViewSpec.builder("w").from(from).groupBy("k").aggregate("c", "count").aggregate("t", "sum(n)")
        .mode(mode).build()).build();
  }

  @Test
  void shouldRefuseAViewWhoseStreamOrModeChangedAndKeepItsData(@TempDir Path dir) throws Exception {
    PipelineSpec original = spec("s", ViewSpec.Mode.LAMBDA);
    try (Braid b = Braid.open(dir, original)) {
      assertThat(b.ingest("s", List.of(Map.of("k", "a", "n", 2L), Map.of("k", "a", "n", 3L))).rejections()).isEmpty();
      assertThat(b.ingest("s9", List.of(Map.of("k", "a", "n", 1000L))).rejections()).isEmpty();
      b.runBatch("w");
      assertThat(b.get("w", "a").values()).isEqualTo(Map.of("c", 2L, "t", 5L));
    }
    assertThatThrownBy(() -> Braid.open(dir, spec("s9", ViewSpec.Mode.LAMBDA)).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("view 'w' reads stream 's9' in the spec, but its versions were computed from stream "
            + "'s', and a view cannot change its stream: put back `from: s`, or give the new definition another view "
            + "name")
        .hasMessageContaining("Nothing in " + dir + " was changed.");
    // moved to a stream new in the spec: refused before that stream's logs are made
    PipelineSpec toNew = PipelineSpec.builder().stream(StreamSpec.builder("s").partitions(2).key("k")
            .field("k", FieldType.STRING).field("n", FieldType.LONG).build())
        .stream(StreamSpec.builder("fresh").partitions(4).key("k").field("k", FieldType.STRING)
            .field("n", FieldType.LONG).build())
        .view(ViewSpec.builder("w").from("fresh").groupBy("k").aggregate("c", "count").aggregate("t", "sum(n)").build())
        .build();
    try (java.util.stream.Stream<Path> before = java.nio.file.Files.walk(dir)) {
      List<Path> files = before.toList();
      assertThatThrownBy(() -> Braid.open(dir, toNew).close()).hasMessageContaining("view 'w' reads stream 'fresh'");
      try (java.util.stream.Stream<Path> after = java.nio.file.Files.walk(dir)) {
        assertThat(after.toList()).as("nothing made in the data directory").containsExactlyInAnyOrderElementsOf(files);
      }
    }
    assertThatThrownBy(() -> Braid.open(dir, spec("s", ViewSpec.Mode.KAPPA)).close())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("view 'w' is a kappa view in the spec, but its versions are lambda, and a view cannot "
            + "change its mode: put back `mode: lambda`");
    try (Braid b = Braid.open(dir, original)) {
      // a null name is named as null, not taken for a view or stream called "null"
      assertThatThrownBy(() -> b.get(null, "a")).isInstanceOf(NullPointerException.class)
          .hasMessage("the view name is null");
      assertThatThrownBy(() -> b.ingest(null, List.of())).isInstanceOf(NullPointerException.class)
          .hasMessage("the stream name is null");
      assertThatThrownBy(() -> b.ingest("s", null)).isInstanceOf(NullPointerException.class)
          .hasMessage("events (a list of maps of field values) is null");
      assertThat(((Engine) b).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(b.get("w", "a").values()).as("the spec put back serves what it did").isEqualTo(
          Map.of("c", 2L, "t", 5L));
      assertThat(b.lateEvents("s9", 0, 10)).as("nothing of s9 was replayed into the view").isEmpty();
    }
  }
}
