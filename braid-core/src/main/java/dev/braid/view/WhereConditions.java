package dev.braid.view;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import dev.braid.expr.Expressions.LongRange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code where} conditions of a view's aggregations, compiled to write an event's skip mask
 * ({@link ViewProgram.Scratch#skip}) at the least cost per event. Views often test few distinct
 * conditions many times: Nexmark's q15 has nine aggregations over three price ranges, each the
 * same three times. So:
 *
 * <ul>
 *   <li>conditions of the same text (stripped) are evaluated once, and the answer goes to every
 *       aggregation that has one of them: each distinct condition carries the <em>mask</em> of
 *       those aggregations, {@code words} longs laid out like the skip mask;
 *   <li>range conditions ({@link Expressions#range}) are grouped by field: the field is tested for
 *       null and read once per event, then compared with each distinct range in a plain loop over
 *       {@code long[]} bounds, with no call per condition;
 *   <li>any other condition is an {@link EventPredicate}, called once per event.
 * </ul>
 *
 * <p>The mask is what testing each aggregation's condition on its own would give; a condition that
 * throws throws from {@link #fill} (every distinct condition is tested, as each aggregation's was,
 * so an event throws exactly when one of its conditions does). Immutable and shared by all threads.
 */
final class WhereConditions {

  private final int words;

  // Range conditions. Field group g is field rangeField[g], whose ranges are rangeStart[g] up to
  // rangeStart[g + 1]; range r is [min[r], max[r]], taken by the aggregations of mask r of rangeMask.
  // nullMask g is the union of group g's masks: a null field fails every range of it.
  private final int[] rangeField;
  private final int[] rangeStart;
  private final long[] min;
  private final long[] max;
  private final long[] rangeMask;
  private final long[] nullMask;

  // Other conditions: predicate p is taken by the aggregations of mask p of predicateMask.
  private final EventPredicate[] predicates;
  private final long[] predicateMask;

  /**
   * @param conditions each aggregation's {@code where} condition, null where it has none
   * @return the compiled conditions, or null when no aggregation has one
   * @throws dev.braid.expr.ExpressionException when a condition is invalid or not boolean
   */
  static WhereConditions of(Expressions ex, String[] conditions) {
    int words = (conditions.length + 63) >>> 6;
    Map<String, long[]> byText = new LinkedHashMap<>();
    for (int i = 0; i < conditions.length; i++) {
      if (conditions[i] != null) {
        long[] mask = byText.computeIfAbsent(conditions[i].strip(), t -> new long[words]);
        mask[i >>> 6] |= 1L << i;
      }
    }
    if (byText.isEmpty()) {
      return null;
    }
    Map<EventSchema.Field, Map<LongRange, long[]>> ranges = new LinkedHashMap<>();
    List<EventPredicate> predicates = new ArrayList<>();
    List<long[]> predicateMasks = new ArrayList<>();
    for (Map.Entry<String, long[]> c : byText.entrySet()) {
      LongRange r = ex.range(c.getKey());
      if (r == null) {
        predicates.add(ex.predicate(c.getKey()));
        predicateMasks.add(c.getValue());
      } else {
        // different texts of the same range (x < 10, 10 > x) share one comparison too
        long[] mask = ranges.computeIfAbsent(r.field(), f -> new LinkedHashMap<>())
            .computeIfAbsent(r, k -> new long[words]);
        or(mask, 0, c.getValue(), 0, words);
      }
    }
    return new WhereConditions(words, ranges, predicates, predicateMasks);
  }

  private WhereConditions(int words, Map<EventSchema.Field, Map<LongRange, long[]>> ranges,
      List<EventPredicate> predicates, List<long[]> predicateMasks) {
    this.words = words;
    int n = 0;
    for (Map<LongRange, long[]> of : ranges.values()) {
      n += of.size();
    }
    this.rangeField = new int[ranges.size()];
    this.rangeStart = new int[ranges.size() + 1];
    this.min = new long[n];
    this.max = new long[n];
    this.rangeMask = new long[n * words];
    this.nullMask = new long[ranges.size() * words];
    int g = 0;
    int r = 0;
    for (Map.Entry<EventSchema.Field, Map<LongRange, long[]>> field : ranges.entrySet()) {
      rangeField[g] = field.getKey().index();
      rangeStart[g] = r;
      for (Map.Entry<LongRange, long[]> range : field.getValue().entrySet()) {
        min[r] = range.getKey().min();
        max[r] = range.getKey().max();
        System.arraycopy(range.getValue(), 0, rangeMask, r * words, words);
        or(nullMask, g * words, range.getValue(), 0, words);
        r++;
      }
      g++;
    }
    rangeStart[g] = r;
    this.predicates = predicates.toArray(new EventPredicate[0]);
    this.predicateMask = new long[predicates.size() * words];
    for (int i = 0; i < predicates.size(); i++) {
      System.arraycopy(predicateMasks.get(i), 0, predicateMask, i * words, words);
    }
  }

  /**
   * Sets {@code skip} (of {@code words} longs at least) to the aggregations whose condition rejects
   * event {@code e}, clearing every other bit. Allocates nothing; exceptions from a condition propagate.
   */
  void fill(EventReader e, long[] skip) {
    if (words == 1) {
      skip[0] = mask(e);
      return;
    }
    Arrays.fill(skip, 0L);
    for (int g = 0; g < rangeField.length; g++) {
      int f = rangeField[g];
      if (e.isNull(f)) {
        or(skip, 0, nullMask, g * words, words);
        continue;
      }
      long v = e.getLong(f);
      for (int r = rangeStart[g], end = rangeStart[g + 1]; r < end; r++) {
        if (v < min[r] || v > max[r]) {
          or(skip, 0, rangeMask, r * words, words);
        }
      }
    }
    for (int p = 0; p < predicates.length; p++) {
      if (!predicates[p].test(e)) {
        or(skip, 0, predicateMask, p * words, words);
      }
    }
  }

  /** {@link #fill} of a view of at most 64 aggregations, whose mask is one long: kept in a register. */
  private long mask(EventReader e) {
    long m = 0;
    for (int g = 0; g < rangeField.length; g++) {
      int f = rangeField[g];
      if (e.isNull(f)) {
        m |= nullMask[g];
        continue;
      }
      long v = e.getLong(f);
      for (int r = rangeStart[g], end = rangeStart[g + 1]; r < end; r++) {
        if (v < min[r] || v > max[r]) {
          m |= rangeMask[r];
        }
      }
    }
    for (int p = 0; p < predicates.length; p++) {
      if (!predicates[p].test(e)) {
        m |= predicateMask[p];
      }
    }
    return m;
  }

  /** How many distinct ranges are compared per event (for tests). */
  int ranges() {
    return min.length;
  }

  /** How many predicates are called per event (for tests). */
  int predicates() {
    return predicates.length;
  }

  private static void or(long[] into, int at, long[] from, int fromAt, int words) {
    for (int k = 0; k < words; k++) {
      into[at + k] |= from[fromAt + k];
    }
  }
}
