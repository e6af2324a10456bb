package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.Braid;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.spec.ViewSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Java maps given to {@code ingest} that are not events (null, or with a field name that is not a
 * String, which untyped code can pass) are rejected one by one with a reason and dead-lettered; the
 * events beside them are taken (one such entry used to fail the whole request with a bare
 * NullPointerException or ClassCastException, and nothing of it was kept).
 */
class IngestJavaMapsTest {

  @Test
  @SuppressWarnings({"unchecked", "rawtypes"})
  void shouldRejectANullEventAndANonStringFieldNameAloneAndTakeTheOthers(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(2, ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      Map<String, Object> good = Map.of("user", "u1", "merchant", "m1", "qty", 4L, "ts", 1_700_000_000_000L);
      Map raw = new HashMap(good);
      raw.put(7, "x");
      Map<String, Object> nullName = new HashMap<>(good);
      nullName.put(null, "y");
      List<Map<String, ?>> events = new ArrayList<>();
      events.add(good);
      events.add(null);
      events.add(raw);
      events.add(nullName);
      events.add(good);
      IngestResult r = braid.ingest("tx", events);
      assertThat(r.rejections()).extracting(IngestResult.Rejection::index).containsExactly(1, 2, 3);
      assertThat(r.rejections().get(0).reason()).isEqualTo("the event is null, not a map of field values");
      assertThat(r.rejections().get(1).reason()).isEqualTo("field name 7 is a java.lang.Integer, not a String");
      assertThat(r.rejections().get(2).reason()).isEqualTo("a field name is null");
      assertThat(((Engine) braid).awaitCaughtUp(10, TimeUnit.SECONDS)).isTrue();
      assertThat(braid.get("stats", "u1").values().get("n")).isEqualTo(2L);
      List<DeadLetter> dead = braid.deadLetters("tx", 0, 10);
      assertThat(dead).extracting(DeadLetter::index).containsExactly(1, 2, 3);
      assertThat(dead.get(0).event()).isEqualTo("null");
    }
  }

  @Test
  void shouldShowAValueOfAJavaTypeThatIsNotJsonAsItsTextInTheDeadLetterLog(@TempDir Path dir) throws Exception {
    try (Braid braid = Braid.open(dir, ReprocessTest.spec(1, ReprocessTest.oldDefinition(ViewSpec.Mode.LAMBDA)))) {
      Map<String, Object> e = new java.util.LinkedHashMap<>();
      e.put("user", "u1");
      e.put("merchant", "m1");
      e.put("qty", 1L);
      e.put("ts", java.time.OffsetDateTime.parse("2026-12-04T10:00:00+01:00"));
      IngestResult r = braid.ingest("tx", List.of(e));
      assertThat(r.rejections()).extracting(IngestResult.Rejection::reason)
          .containsExactly("field 'ts': expected timestamp (epoch millis or ISO-8601 text), got OffsetDateTime");
      assertThat(braid.deadLetters("tx", 0, 10).get(0).event())
          .isEqualTo("{\"user\":\"u1\",\"merchant\":\"m1\",\"qty\":1,\"ts\":\"2026-12-04T10:00+01:00\"}");
    }
  }
}
