package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.Braid;
import dev.braid.log.Cut;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import dev.braid.testing.Soak;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.LongStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random histories of real-time PUT/PATCH/DELETE writes (timestamps out of order, with
 * ties), pushes of snapshots of the model taken at earlier cuts, repushes, and restarts; every read
 * equals the model: the pushed snapshot with the writes in {@code [cut, asOf.position)} applied in
 * (timestamp, offset) order. In the histories that grow, the table starts with its first three
 * fields and restarts add the others one at a time, so Bases, checkpoints and writes stored with
 * fewer fields are read, replayed, restored and repushed with more: the fields they lack are
 * absent, as in the model, where no write before a field existed could give it a value.
 */
class TableHistoryPropertyTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The table's fields: 12, so that a table grown from its first 3 has rows of one and of two bitmap bytes. */
  static final List<String> FIELDS = List.of("id", "name", "score", "tags", "items", "attrs", "p0", "p1", "p2", "p3",
      "p4", "p5");

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> histories() {
    return LongStream.range(1, 1 + Soak.seeds(8)).boxed().flatMap(seed -> java.util.stream.Stream.of(
        org.junit.jupiter.params.provider.Arguments.of(seed, false),
        org.junit.jupiter.params.provider.Arguments.of(seed, true)));
  }

  /** One write as the model knows it. */
  record W(String key, int partition, long offset, long ts, byte op, Object payload) {}

  /** The table with the first {@code fields} of {@link #FIELDS}. */
  static PipelineSpec spec(int fields) {
    List<String> types = List.of("string", "string", "long", "set<string>", "list<long>", "map<string,double>", "long",
        "long", "long", "long", "long", "long");
    TableSpec.Builder t = TableSpec.builder("profiles").partitions(2).key("id");
    for (int f = 0; f < fields; f++) {
      t.field(FIELDS.get(f), types.get(f));
    }
    return PipelineSpec.builder().table(t.build()).build();
  }

  @ParameterizedTest(name = "seed {0}, fields grow: {1}")
  @MethodSource("histories")
  void shouldEqualTheModelAfterEverySwapWriteAndRestart(long seed, boolean grow, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int fields = grow ? 3 : FIELDS.size();
    List<W> log = new ArrayList<>();
    Map<Long, Map<String, Map<String, Object>>> snapshots = new HashMap<>(); // version -> pushed rows
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      keys.add("k" + i);
    }
    Braid braid = Braid.open(dir, spec(fields));
    try {
      for (int step = 0; step < 160; step++) {
        Table t = braid.table("profiles");
        int what = rnd.nextInt(100);
        if (what < 75) {
          String key = keys.get(rnd.nextInt(keys.size()));
          long ts = 1000 + rnd.nextInt(60);
          WriteResult w;
          int kind = rnd.nextInt(10);
          if (kind < 4) {
            Map<String, Object> row = randomRow(rnd, key, fields);
            w = t.put(key, row, ts);
            log.add(new W(key, w.partition(), w.offset(), ts, Writes.PUT, row));
          } else if (kind < 8) {
            Patch p = randomPatch(rnd, fields);
            w = t.patch(key, p, ts);
            log.add(new W(key, w.partition(), w.offset(), ts, Writes.PATCH, p));
          } else {
            w = t.delete(key, ts);
            log.add(new W(key, w.partition(), w.offset(), ts, Writes.DELETE, null));
          }
        } else if (what < 85) {
          // push a snapshot of the model at an earlier cut
          Cut end = braid.log().stream("profiles.writes").end();
          long[] c = end.toArray();
          for (int p = 0; p < c.length; p++) {
            c[p] = c[p] == 0 ? 0 : c[p] - rnd.nextInt((int) Math.min(c[p], 8) + 1);
          }
          Cut cut = Cut.of(c);
          Map<String, Map<String, Object>> snap = model(Map.of(), log, Cut.zero(c.length), cut);
          StringBuilder body = new StringBuilder();
          for (Map<String, Object> row : snap.values()) {
            body.append(JSON.writeValueAsString(only(row, fields))).append('\n');
          }
          PushReport r = t.push(new ByteArrayInputStream(body.toString().getBytes(StandardCharsets.UTF_8)),
              PushOptions.defaults("snap.jsonl").sincePosition(cut).allowEmpty(true)); // a snapshot may be empty
          assertThat(r.state()).as("seed %d step %d: %s", seed, step, r).isEqualTo("done");
          snapshots.put(r.version(), snap);
          checkAll(braid, keys, log, snapshots, seed, step, fields);
        } else if (what < 87) {
          // a repush: the current version's own rows (its Base, perhaps stored with fewer fields, and
          // its Delta) as of its position, which becomes the new version's cut
          TableRow any = t.get(keys.get(0));
          Map<String, Map<String, Object>> before = snapshots.getOrDefault(any.asOf().version(), Map.of());
          PushReport r = t.repush(true);
          assertThat(r.state()).as("seed %d step %d: %s", seed, step, r).isEqualTo("done");
          Cut was = t.versions().stream().filter(v -> v.id() == any.asOf().version()).findFirst().orElseThrow().cut();
          snapshots.put(r.version(), model(before, log, was, r.cut()));
          checkAll(braid, keys, log, snapshots, seed, step, fields);
        } else if (what < 90) {
          Path ckptDir = dir.resolve("tables/profiles");
          byte[] older = null;
          String olderName = null;
          if (rnd.nextBoolean()) {
            // a crash after a checkpoint taken while writes go on: the restart must restore the older
            // checkpoint and replay the writes after it (close would write a newer one; put it back)
            ((dev.braid.view.Engine) braid).checkpointAll();
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(ckptDir)) {
              Path f = files.filter(x -> x.toString().endsWith(".ckpt")).findFirst().orElse(null);
              if (f != null) {
                older = java.nio.file.Files.readAllBytes(f);
                olderName = f.getFileName().toString();
              }
            }
            for (int i = 0; i < 3; i++) {
              String key = keys.get(rnd.nextInt(keys.size()));
              long ts = 1000 + rnd.nextInt(60);
              Patch p = randomPatch(rnd, fields);
              WriteResult w = t.patch(key, p, ts);
              log.add(new W(key, w.partition(), w.offset(), ts, Writes.PATCH, p));
            }
          }
          braid.close();
          if (older != null && java.nio.file.Files.exists(ckptDir.resolve(olderName))) {
            java.nio.file.Files.write(ckptDir.resolve(olderName), older);
          }
          if (grow && fields < FIELDS.size() && rnd.nextBoolean()) {
            fields = Math.min(FIELDS.size(), fields + 1 + rnd.nextInt(4)); // the restart adds fields at the end
          }
          braid = Braid.open(dir, spec(fields));
        } else {
          checkAll(braid, keys, log, snapshots, seed, step, fields);
        }
      }
      Table t = braid.table("profiles");
      Cut end = braid.log().stream("profiles.writes").end();
      for (int p = 0; p < end.partitions(); p++) {
        if (end.offset(p) > 0) {
          assertThat(t.awaitApplied(new WriteResult(p, end.offset(p) - 1, 0), 10_000)).isTrue();
        }
      }
      checkAll(braid, keys, log, snapshots, seed, -1, fields);
    } finally {
      braid.close();
    }
  }

  private static void checkAll(Braid braid, List<String> keys, List<W> log,
      Map<Long, Map<String, Map<String, Object>>> snapshots, long seed, int step, int fields) {
    for (String k : keys) {
      TableRow r = braid.table("profiles").get(k);
      Map<String, Map<String, Object>> snap = snapshots.getOrDefault(r.asOf().version(), Map.of());
      Map<String, Map<String, Object>> want = model(snap, log, r.asOf().cut(), r.asOf().position());
      Map<String, Object> expected = want.get(k);
      assertThat(r.found()).as("seed %d step %d key %s asOf %s", seed, step, k, r.asOf()).isEqualTo(expected != null);
      if (expected != null) {
        assertThat(r.values()).as("seed %d step %d key %s asOf %s, %d fields", seed, step, k, r.asOf(), fields)
            .isEqualTo(only(expected, fields));
      }
    }
  }

  /** The snapshot with the writes in [from, to) applied in (timestamp, offset) order. */
  static Map<String, Map<String, Object>> model(Map<String, Map<String, Object>> snapshot, List<W> log, Cut from,
      Cut to) {
    Map<String, Map<String, Object>> rows = new LinkedHashMap<>();
    snapshot.forEach((k, v) -> rows.put(k, normalize(v)));
    List<W> ws = new ArrayList<>();
    for (W w : log) {
      if (w.offset() >= from.offset(w.partition()) && w.offset() < to.offset(w.partition())) {
        ws.add(w);
      }
    }
    ws.sort(Comparator.comparingLong(W::ts).thenComparingLong(W::offset));
    for (W w : ws) {
      switch (w.op()) {
        case Writes.PUT: {
          @SuppressWarnings("unchecked")
          Map<String, Object> row = normalize((Map<String, Object>) w.payload());
          rows.put(w.key(), row);
          break;
        }
        case Writes.DELETE:
          rows.remove(w.key());
          break;
        default: {
          Map<String, Object> row = rows.computeIfAbsent(w.key(), k -> normalize(Map.of("id", k)));
          for (Patch.Op op : ((Patch) w.payload()).ops()) {
            applyOp(row, op);
          }
        }
      }
    }
    return rows;
  }

  @SuppressWarnings("unchecked")
  private static void applyOp(Map<String, Object> row, Patch.Op op) {
    String f = op.field();
    switch (op.kind()) {
      case SET:
        if (op.value() == null) {
          if (scalar(f)) {
            row.remove(f);
          } else {
            row.put(f, empty(f));
          }
        } else {
          row.put(f, canonical(f, op.value()));
        }
        break;
      case ADD:
        for (Object e : (List<?>) op.value()) {
          if (f.equals("tags")) {
            ((Set<Object>) row.get(f)).add(e);
          } else {
            ((List<Object>) row.get(f)).add(((Number) e).longValue());
          }
        }
        break;
      case REMOVE:
        for (Object e : (List<?>) op.value()) {
          if (f.equals("tags")) {
            ((Set<Object>) row.get(f)).remove(e);
          } else if (f.equals("items")) {
            ((List<Object>) row.get(f)).removeIf(x -> x.equals(((Number) e).longValue()));
          } else {
            ((Map<String, Object>) row.get(f)).remove(e);
          }
        }
        break;
      default:
        ((Map<String, Object>) row.get(f)).putAll((Map<String, Object>) canonical(f, op.value()));
    }
  }

  private static Object empty(String f) {
    return f.equals("tags") ? new LinkedHashSet<>() : f.equals("items") ? new ArrayList<>() : new LinkedHashMap<>();
  }

  @SuppressWarnings("unchecked")
  private static Object canonical(String f, Object v) {
    switch (f) {
      case "score", "p0", "p1", "p2", "p3", "p4", "p5":
        return ((Number) v).longValue();
      case "tags":
        return new LinkedHashSet<>((java.util.Collection<Object>) v);
      case "items": {
        List<Object> l = new ArrayList<>();
        for (Object e : (List<?>) v) {
          l.add(((Number) e).longValue());
        }
        return l;
      }
      case "attrs": {
        Map<String, Object> m = new LinkedHashMap<>();
        ((Map<String, Object>) v).forEach((k, x) -> m.put(k, ((Number) x).doubleValue()));
        return m;
      }
      default:
        return v;
    }
  }

  /** Whether {@code f} is a scalar field other than the key (absent when not set; a collection is empty). */
  private static boolean scalar(String f) {
    return f.equals("name") || f.equals("score") || f.startsWith("p");
  }

  /** {@code row}'s values of the first {@code fields} of {@link #FIELDS}. */
  private static Map<String, Object> only(Map<String, Object> row, int fields) {
    Map<String, Object> out = new LinkedHashMap<>(row);
    out.keySet().retainAll(FIELDS.subList(0, fields));
    return out;
  }

  private static Map<String, Object> normalize(Map<String, Object> row) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String f : FIELDS) {
      Object v = row.get(f);
      if (v == null) {
        if (!scalar(f) && !f.equals("id")) {
          out.put(f, empty(f));
        }
      } else {
        out.put(f, canonical(f, v));
      }
    }
    return out;
  }

  /** A random row of the table's first {@code fields}. */
  private static Map<String, Object> randomRow(Random rnd, String key, int fields) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("id", key);
    if (rnd.nextBoolean()) {
      row.put("name", "n" + rnd.nextInt(5));
    }
    if (rnd.nextBoolean()) {
      row.put("score", (long) rnd.nextInt(100));
    }
    if (rnd.nextBoolean()) {
      row.put("tags", List.of("t" + rnd.nextInt(4), "t" + rnd.nextInt(4)));
    }
    if (rnd.nextBoolean()) {
      row.put("items", List.of((long) rnd.nextInt(3), (long) rnd.nextInt(3)));
    }
    if (rnd.nextBoolean()) {
      row.put("attrs", Map.of("a" + rnd.nextInt(3), rnd.nextInt(10) / 2.0));
    }
    for (int i = 0; i < 6; i++) {
      if (rnd.nextInt(4) == 0) {
        row.put("p" + i, (long) rnd.nextInt(10));
      }
    }
    return only(row, fields);
  }

  /** A random patch of the table's first {@code fields}. */
  /**
   * Whether adding ({@code adding}) or removing {@code elements} of {@code field} would undo a change of the same
   * element earlier in the patch; if not, records them in {@code changed}.
   */
  private static boolean clash(Set<String> changed, String field, boolean adding, Object... elements) {
    for (Object e : elements) {
      if (changed.contains(field + (adding ? "-" : "+") + e)) {
        return true;
      }
    }
    for (Object e : elements) {
      changed.add(field + (adding ? "+" : "-") + e);
    }
    return false;
  }

  private static Patch randomPatch(Random rnd, int fields) {
    Patch.Builder b = Patch.builder();
    int n = 1 + rnd.nextInt(3);
    Set<String> used = new java.util.HashSet<>();
    Set<String> changed = new java.util.HashSet<>();
    for (int i = 0; i < n; i++) {
      int kind = rnd.nextInt(9);
      String padding = "p" + rnd.nextInt(6);
      String field = kind == 0 ? "name" : kind == 1 ? "score" : kind < 4 ? "tags" : kind < 6 ? "items" : kind < 8
          ? "attrs" : padding;
      if (FIELDS.indexOf(field) >= fields) {
        continue; // a field the table does not have yet
      }
      switch (kind) {
        case 0:
          if (used.add("name")) {
            b.set("name", rnd.nextInt(4) == 0 ? null : "p" + rnd.nextInt(5));
          }
          break;
        case 1:
          if (used.add("score")) {
            b.set("score", (long) rnd.nextInt(100));
          }
          break;
        case 2, 3: { // an element both added and removed in one patch is refused: the generator never sends one
          String e = "t" + rnd.nextInt(4);
          if (!clash(changed, "tags", kind == 2, e)) {
            if (kind == 2) {
              b.add("tags", e);
            } else {
              b.remove("tags", e);
            }
            used.add("tags");
          }
          break;
        }
        case 4: {
          long x = rnd.nextInt(3);
          long y = rnd.nextInt(3);
          if (!clash(changed, "items", true, x, y)) {
            b.add("items", x, y);
            used.add("items");
          }
          break;
        }
        case 5: {
          long x = rnd.nextInt(3);
          if (!clash(changed, "items", false, x)) {
            b.remove("items", x);
            used.add("items");
          }
          break;
        }
        case 6, 7: {
          String k = "a" + rnd.nextInt(3);
          if (!clash(changed, "attrs", kind == 6, k)) {
            if (kind == 6) {
              b.put("attrs", Map.of(k, (double) rnd.nextInt(9)));
            } else {
              b.remove("attrs", k);
            }
            used.add("attrs");
          }
          break;
        }
        default:
          if (used.add(padding)) {
            b.set(padding, rnd.nextInt(4) == 0 ? null : (Object) (long) rnd.nextInt(10));
          }
      }
    }
    if (used.isEmpty()) {
      b.set("score", 1L);
    }
    return b.build();
  }
}
