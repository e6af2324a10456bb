package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A read's rows by window start ({@link WindowRows}) behave as the {@code TreeMap<Long, Row>} they
 * replaced: over seeded random sequences of lookups and adds, in order, reversed and shuffled, few
 * (scanned) and many (indexed), with clears between (a reused read's next key, whose rows come
 * from the spares), a lookup finds what was added, and iteration after {@code sort} gives every
 * row once in ascending start order.
 */
class WindowRowsTest {

  static LongStream seeds() {
    return LongStream.range(0, 200);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFindAndOrderRowsAsATreeMapDoes(long seed) {
    Random rnd = new Random(seed);
    WindowRows<long[]> rows = new WindowRows<>();
    TreeMap<Long, long[]> model = new TreeMap<>();
    int distinct = 1 + rnd.nextInt(rnd.nextBoolean() ? WindowRows.SCAN + 2 : 3_000);
    int order = rnd.nextInt(3); // 0: ascending, 1: descending, 2: random
    int steps = 1 + rnd.nextInt(4 * distinct);
    for (int step = 0; step < steps; step++) {
      long start = switch (order) {
        case 0 -> 10_000L * (step * distinct / steps) - 5_000_000L;
        case 1 -> 10_000L * (distinct - step * distinct / steps);
        default -> rnd.nextInt(4) == 0 ? Long.MIN_VALUE + rnd.nextInt(3) : 1_000L * rnd.nextInt(distinct);
      };
      String at = "seed " + seed + ", step " + step + ", start " + start;
      int found = rows.find(start);
      long[] want = model.get(start);
      assertThat(found >= 0).as(at + ": found").isEqualTo(want != null);
      if (found >= 0) {
        assertThat(rows.row(found)).as(at).isSameAs(want);
        assertThat(rows.start(found)).as(at).isEqualTo(start);
      } else {
        long[] spare = rows.spare(); // a row held before a clear, as a reused read takes it
        long[] row = spare != null ? spare : new long[2];
        row[0] = start;
        row[1] = step;
        assertThat(model.values()).as(at + ": a spare row is none of the rows held").doesNotContain(row);
        rows.add(start, row);
        model.put(start, row);
      }
      if (rnd.nextInt(200) == 0) { // the next key's read, reusing this one's arrays and rows
        rows.clear();
        model.clear();
      }
      assertThat(rows.size()).as(at).isEqualTo(model.size());
      if (rnd.nextInt(50) == 0) { // sorting part way keeps every row findable
        assertOrdered(rows.sort(), model, at);
      }
    }
    assertOrdered(rows.sort(), model, "seed " + seed + " at the end");
    for (long start : model.keySet()) {
      assertThat(rows.row(rows.find(start))).as("seed " + seed + ": " + start + " after sorting")
          .isSameAs(model.get(start));
    }
  }

  private static void assertOrdered(WindowRows<long[]> rows, TreeMap<Long, long[]> model, String at) {
    List<Long> starts = new ArrayList<>();
    List<long[]> values = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      starts.add(rows.start(i));
      values.add(rows.row(i));
    }
    assertThat(starts).as(at + ": starts in order").containsExactlyElementsOf(model.keySet());
    List<long[]> want = new ArrayList<>();
    for (Map.Entry<Long, long[]> e : model.entrySet()) {
      want.add(e.getValue());
    }
    for (int i = 0; i < want.size(); i++) {
      assertThat(values.get(i)).as(at + ": row " + i).isSameAs(want.get(i));
    }
  }
}
