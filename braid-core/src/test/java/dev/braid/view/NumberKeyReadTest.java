package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.braid.BadKeyException;
import dev.braid.Braid;
import dev.braid.spec.PipelineSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A read of a view grouped by a number takes the key as the number it names: {@code 070} is the
 * group {@code 70} of a long key, as it is the row {@code 70} of a long-keyed table (before, it was
 * read as text and answered {@code found: false}), and text that no group can have is refused.
 */
class NumberKeyReadTest {

  private static final String SPEC = """
      streams:
        sales:
          key: store
          partitions: 2
          fields: {store: long, price: double, name: string, ts: timestamp}
      views:
        by_store: {from: sales, group_by: store, aggregate: {n: count}}
        by_price: {from: sales, group_by: price, aggregate: {n: count}}
        by_decade: {from: sales, group_by: "store / 10", aggregate: {n: count}}
        by_ts: {from: sales, group_by: ts, aggregate: {n: count}}
        by_name: {from: sales, group_by: name, aggregate: {n: count}}
      """;

  @Test
  void shouldReadAWholeNumberKeyInAnyOfItsSpellings(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      for (String k : List.of("70", "070", "+70", " 70 ", "0070")) {
        assertThat(braid.get("by_store", k).found()).as(k).isTrue();
        assertThat(braid.get("by_store", k).key()).as(k).isEqualTo("70");
        assertThat(braid.get("by_store", k).values().get("n")).as(k).isEqualTo(2L);
      }
      assertThat(braid.get("by_store", "-5").values().get("n")).isEqualTo(1L);
      assertThat(braid.get("by_store", "-05").key()).isEqualTo("-5");
      assertThat(braid.get("by_store", "-0").key()).isEqualTo("0");
      assertThat(braid.get("by_store", "71").found()).isFalse();
      assertThat(braid.get("by_decade", "07").values().get("n")).isEqualTo(3L); // 70, 70 and 75, by 10
      assertThat(braid.get("by_ts", "01000").values().get("n")).isEqualTo(1L);
    }
  }

  @Test
  void shouldReadADoubleKeyByItsValue(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      for (String k : List.of("2.5", "2.50", "25e-1", "+2.5")) {
        assertThat(braid.get("by_price", k).key()).as(k).isEqualTo("2.5");
        assertThat(braid.get("by_price", k).values().get("n")).as(k).isEqualTo(2L);
      }
      assertThat(braid.get("by_price", "3").key()).isEqualTo("3.0");
      assertThat(braid.get("by_price", "3").values().get("n")).isEqualTo(1L);
      assertThat(braid.get("by_price", "-0").key()).isEqualTo("0.0"); // -0.0 and 0.0 are one group
    }
  }

  @Test
  void shouldKeepATextKeyAsItIs(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      assertThat(braid.get("by_name", "070").found()).isTrue();
      assertThat(braid.get("by_name", "70").found()).isFalse();
    }
  }

  @Test
  void shouldRefuseAKeyThatNoGroupCanHaveNamingIt(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      assertThatThrownBy(() -> braid.get("by_store", "u70")).isInstanceOf(BadKeyException.class)
          .hasMessage("key of view 'by_store': 'u70' is not a whole number, and every key of this view is a long's "
              + "(its group_by is one)");
      assertThatThrownBy(() -> braid.get("by_store", "")).isInstanceOf(BadKeyException.class);
      assertThatThrownBy(() -> braid.get("by_store", "7.0")).isInstanceOf(BadKeyException.class);
      assertThatThrownBy(() -> braid.get("by_store", "99999999999999999999")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("past a long's range");
      assertThatThrownBy(() -> braid.get("by_price", "NaN")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("'NaN' is not a number");
      assertThatThrownBy(() -> braid.get("by_price", "1e999")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("past a double's range");
      assertThatThrownBy(() -> braid.getAll("by_store", List.of("70", "x"))).isInstanceOf(BadKeyException.class)
          .hasMessageStartingWith("keys[1]: key of view 'by_store': 'x' is not a whole number");
    }
  }

  private static Braid opened(Path dir) throws Exception {
    Braid braid = Braid.open(dir, PipelineSpec.parse(SPEC, "braid.yaml"));
    braid.ingest("sales", List.of(
        Map.of("store", 70L, "price", 2.5, "name", "070", "ts", 1000L),
        Map.of("store", 70L, "price", 2.5, "name", "x", "ts", 2000L),
        Map.of("store", 75L, "price", 3.0, "name", "x", "ts", 3000L),
        Map.of("store", -5L, "price", -0.0, "name", "x", "ts", 4000L),
        Map.of("store", 0L, "price", 1.0, "name", "x", "ts", 5000L)));
    assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
    return braid;
  }
}
