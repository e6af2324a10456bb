package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.spec.TableSpec;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link Writes#check} refuses a patch that adds (or puts) an element (an entry) and removes it: the element as a
 * remove would match it, whatever form each was written in; and lets every other patch through.
 */
class WritesCheckTest {

  private static final TableLayout LAYOUT = new TableLayout(TableSpec.builder("t").partitions(1).key("id")
      .field("id", "string").field("tags", "set<string>").field("ids", "set<long>").field("xs", "list<double>")
      .field("ys", "set<double>").field("at", "set<timestamp>").field("limits", "map<string,double>").build());

  private static void refused(Patch p, String message) {
    assertThatThrownBy(() -> Writes.check(LAYOUT, p)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void shouldRefuseAnElementAddedAndRemovedInOnePatch() {
    refused(Patch.builder().add("tags", "a").remove("tags", "b", "a").build(), "remove.tags: the patch also adds the "
        + "element 'a' of 'tags'");
    refused(Patch.builder().remove("ids", 7L).add("ids", 7).build(), "remove.ids: the patch also adds the element 7");
    refused(Patch.builder().add("ids", 7.0).remove("ids", 7L).build(), "the element 7 of 'ids'");
    refused(Patch.builder().add("xs", -0.0).remove("xs", 0.0).build(), "remove.xs: the patch also adds the element 0.0");
    refused(Patch.builder().add("xs", 0.0).remove("xs", -0.0).build(), "remove.xs");
    refused(Patch.builder().add("ys", -0.0).remove("ys", 0.0).build(), "remove.ys");
    refused(Patch.builder().add("at", "2026-12-07T00:00:00Z").remove("at", 1_796_601_600_000L).build(), "remove.at");
    refused(Patch.builder().put("limits", Map.of("x", 1.0)).remove("limits", "x").build(), "remove.limits: the "
        + "patch also puts the entry 'x' of 'limits'");
  }

  @Test
  void shouldLetOtherPatchesThrough() {
    assertThat(Writes.check(LAYOUT, Patch.builder().add("tags", "a").remove("tags", "b").build())).hasSize(2);
    assertThat(Writes.check(LAYOUT, Patch.builder().add("xs", 1.5).remove("xs", 1.25).build())).hasSize(2);
    assertThat(Writes.check(LAYOUT, Patch.builder().put("limits", Map.of("x", 1.0)).remove("limits", "y").build()))
        .hasSize(2);
    assertThat(Writes.check(LAYOUT, Patch.builder().add("tags", "a").remove("ids", 1L).build())).hasSize(2);
    assertThat(Writes.check(LAYOUT, Patch.builder().add("at", "2026-12-07T00:00:00Z").remove("at",
        1_796_601_600_001L).build())).hasSize(2);
  }
}
