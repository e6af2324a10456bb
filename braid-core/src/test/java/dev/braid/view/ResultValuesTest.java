package dev.braid.view;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResultValuesTest {

  private static final String[] NAMES = {"n", "total", "low"};

  private static ResultValues values(Object... values) {
    return new ResultValues(NAMES, values);
  }

  private static Map<String, Object> linked(Object n, Object total, Object low) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", n);
    m.put("total", total);
    m.put("low", low);
    return m;
  }

  @Test
  void shouldBeEqualToAndHashAsTheSameEntriesInAnyMap() {
    ResultValues v = values(3L, 42L, null);
    assertEquals(linked(3L, 42L, null), v);
    assertEquals(v, linked(3L, 42L, null));
    assertEquals(new HashMap<>(linked(3L, 42L, null)), v);
    assertEquals(linked(3L, 42L, null).hashCode(), v.hashCode());
    assertEquals(linked(3L, 42L, null).toString(), v.toString());
    assertNotEquals(linked(3L, 41L, null), v);
    assertNotEquals(linked(3L, 42L, 1L), v);
  }

  @Test
  void shouldAnswerByNameAndKeepTheViewsOrder() {
    ResultValues v = values(3L, 42L, null);
    assertEquals(3, v.size());
    assertEquals(42L, v.get("total"));
    assertNull(v.get("low"));
    assertTrue(v.containsKey("low"), "a null result is still a result");
    assertFalse(v.containsKey("high"));
    assertNull(v.get("high"));
    assertNull(v.get(null));
    assertEquals(7L, v.getOrDefault("high", 7L));
    assertNull(v.getOrDefault("low", 7L), "a present null is not replaced by the default");
    assertEquals(List.of("n", "total", "low"), new ArrayList<>(v.keySet()));
    assertEquals(Arrays.asList(3L, 42L, null), new ArrayList<>(v.values()));
    assertTrue(v.containsValue(42L));
    assertTrue(v.containsValue(null));
    assertFalse(v.containsValue(41L));
    List<String> seen = new ArrayList<>();
    v.forEach((k, x) -> seen.add(k + "=" + x));
    assertEquals(List.of("n=3", "total=42", "low=null"), seen);
  }

  @Test
  void shouldRefuseChanges() {
    ResultValues v = values(3L, 42L, null);
    assertThrows(UnsupportedOperationException.class, () -> v.put("n", 4L));
    assertThrows(UnsupportedOperationException.class, () -> v.remove("n"));
    assertThrows(UnsupportedOperationException.class, v::clear);
    assertThrows(UnsupportedOperationException.class, () -> v.values().remove(3L));
    assertThrows(UnsupportedOperationException.class, () -> v.entrySet().iterator().next().setValue(1L));
    assertEquals(3L, v.get("n"));
  }

  @Test
  void shouldRefuseNamesAndValuesOfDifferentLengths() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ResultValues(NAMES, new Object[] {1L}));
    assertEquals("3 names for 1 values", e.getMessage());
  }
}
