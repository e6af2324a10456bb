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
          time: ts
          partitions: 2
          fields: {store: long, price: double, name: string, ts: timestamp}
        live: {key: store, time: ts, partitions: 1, fields: {store: long, ts: timestamp}}
      views:
        by_store: {from: sales, group_by: store, aggregate: {n: count}}
        by_price: {from: sales, group_by: price, aggregate: {n: count}}
        by_decade: {from: sales, group_by: "store / 10", aggregate: {n: count}}
        by_ts: {from: sales, group_by: ts, aggregate: {n: count}}
        by_name: {from: sales, group_by: name, aggregate: {n: count}}
        by_ratio: {from: sales, group_by: "price / 0.0", aggregate: {n: count}}
        by_unsigned: {from: sales, group_by: "uint(store < 0 ? 0 : store)", aggregate: {n: count}}
        per_second: {from: live, group_by: store, window: {tumbling: 1s}, allowed_lateness: 0s, aggregate: {n: count}}
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

  /** A double view's infinite and not-a-number groups are read by the names their keys have. */
  @Test
  void shouldReadTheInfiniteAndNotANumberGroupsOfADoubleKey(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      assertThat(braid.get("by_ratio", "Infinity").values().get("n")).isEqualTo(4L); // 2.5, 2.5, 3.0, 1.0 by 0.0
      assertThat(braid.get("by_ratio", " NaN ").values().get("n")).isEqualTo(1L); // -0.0 / 0.0
      assertThat(braid.get("by_ratio", "-Infinity").found()).isFalse();
    }
  }

  @Test
  void shouldReadAUnsignedKeyInAnyOfItsSpellings(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      assertThat(braid.get("by_unsigned", "070").key()).isEqualTo("70");
      assertThat(braid.get("by_unsigned", "+070").values().get("n")).isEqualTo(2L);
      assertThat(braid.get("by_unsigned", "00").values().get("n")).as("-5 and 0").isEqualTo(2L);
    }
  }

  /** The changes of one key follow the group a read of the same key reads (they matched no event for 070). */
  @Test
  void shouldFollowTheChangesOfALongKeyInAnyOfItsSpellings(@TempDir Path dir) throws Exception {
    try (Braid braid = opened(dir)) {
      braid.ingest("live", List.of(Map.of("store", 70L, "ts", 1000L), Map.of("store", 70L, "ts", 9000L)));
      assertThat(braid.groupKey("per_second", "070")).isEqualTo("70");
      assertThat(braid.groupKey("by_name", "070")).isEqualTo("070");
      java.util.concurrent.BlockingQueue<dev.braid.ChangeEvent> got = new java.util.concurrent.LinkedBlockingQueue<>();
      try (dev.braid.Subscription s = braid.subscribe("per_second", 0, "070", got::add)) {
        dev.braid.ChangeEvent first = got.poll(10, TimeUnit.SECONDS);
        assertThat(first).as("the window of store 70 at 1 s closed").isNotNull();
        assertThat(first.key()).isEqualTo("70");
      }
      assertThatThrownBy(() -> braid.subscribe("per_second", 0, "x70", e -> { }))
          .isInstanceOf(BadKeyException.class).hasMessageContaining("'x70' is not a whole number");
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
          .hasMessage("key of view 'by_store': 'u70' is not a whole number, and no group of the view can have it "
              + "(its group_by, store, is a long field)");
      assertThatThrownBy(() -> braid.get("by_ts", "2026-12-06")).isInstanceOf(BadKeyException.class)
          .hasMessageEndingWith("(its group_by, ts, is a timestamp field (epoch milliseconds))");
      assertThatThrownBy(() -> braid.get("by_store", "")).isInstanceOf(BadKeyException.class);
      assertThatThrownBy(() -> braid.get("by_store", "7.0")).isInstanceOf(BadKeyException.class);
      assertThatThrownBy(() -> braid.get("by_store", "99999999999999999999")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("past a long's range");
      assertThatThrownBy(() -> braid.get("by_price", "nan")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("'nan' is not a number");
      assertThatThrownBy(() -> braid.get("by_price", "1e999")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("past a double's range");
      assertThatThrownBy(() -> braid.get("by_unsigned", "-1")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("'-1' is not a whole number of 0 or more");
      assertThatThrownBy(() -> braid.get("by_unsigned", "18446744073709551616")).isInstanceOf(BadKeyException.class)
          .hasMessageContaining("past a uint's range");
      assertThatThrownBy(() -> braid.getAll("by_store", List.of("70", "x"))).isInstanceOf(BadKeyException.class)
          .hasMessageStartingWith("keys[1]: key of view 'by_store': 'x' is not a whole number")
          .hasCauseInstanceOf(BadKeyException.class);
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
