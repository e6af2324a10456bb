package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.log.Cut;
import dev.braid.testing.Soak;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A table Base written from seeded random entries (keys drawn from a small pool, so many are pushed
 * several times) reads as a {@code Map} of each key's last entry: every key finds its last row, keys
 * never pushed find nothing, and the header counts the distinct keys. Small pushes put many keys on
 * one home slot and let clusters run past the last slot and wrap to the front, which is where
 * building the index in home order differs from inserting in input order.
 */
class TableBasePropertyTest {

  /** A table of three fields; {@code grown}: its first rows had two. */
  static TableLayout layout(boolean grown) {
    return new TableLayout(dev.braid.spec.TableSpec.builder("t").key("id").field("id", "string").field("a", "long")
        .field("b", "long").build(), grown ? 2 : 3);
  }

  static Stream<Long> seeds() {
    return IntStream.range(0, (int) Soak.seeds(300)).mapToObj(i -> 7_000L + i);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFindEveryKeysLastEntry(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    int entries = seed % 50 == 0 ? 20_000 + rnd.nextInt(20_000) : rnd.nextInt(120);
    int pool = 1 + rnd.nextInt(Math.max(1, entries + 1));
    Map<String, Integer> model = new LinkedHashMap<>();
    Bytes buf = new Bytes(1 << 16);
    Path file = dir.resolve("base");
    TableLayout layout = layout(seed % 2 == 0); // half the Bases of a table whose fields grew: format 2
    try (TableBase.Writer w = new TableBase.Writer(file, Cut.zero(2), 1L, layout)) {
      for (int i = 0; i < entries; i++) {
        String key = "k" + rnd.nextInt(pool) + (rnd.nextInt(10) == 0 ? "-long-enough-to-differ-after-sixteen-bytes" : "");
        model.remove(key); // keeps the model's order of last writes, which the test does not rely on
        model.put(key, i);
        entry(buf, key, i);
        if (rnd.nextInt(4) == 0 || i == entries - 1) { // one entry or several per append
          w.append(buf.buf, 0, buf.len);
          buf.clear();
        }
      }
      assertThat(w.finish()).as("seed %d: distinct keys", seed).isEqualTo(model.size());
    }
    TableBase base = TableBase.open(file, layout);
    assertThat(base.rows).as("seed %d", seed).isEqualTo(model.size());
    assertThat(base.fields).as("seed %d: the rows' field count", seed).isEqualTo(layout.size());
    Bytes.Reader reader = new Bytes.Reader();
    for (Map.Entry<String, Integer> e : model.entrySet()) {
      byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
      Integer value = base.read(k, reader, (written, row) -> row.b.getInt(row.pos));
      assertThat(value).as("seed %d: the row of key %s", seed, e.getKey()).isEqualTo(e.getValue());
    }
    for (int a = 0; a < 50; a++) {
      byte[] k = ("absent" + a).getBytes(StandardCharsets.UTF_8);
      Integer none = base.read(k, reader, (written, row) -> row.pos);
      assertThat(none).as("seed %d: absent key %d", seed, a).isNull();
    }
    base.close();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldCountLinesAsAByteLoopDoes(long seed) {
    Random rnd = new Random(seed);
    byte[] b = new byte[rnd.nextInt(300)];
    int newlineEvery = 1 + rnd.nextInt(40);
    for (int i = 0; i < b.length; i++) {
      b[i] = rnd.nextInt(newlineEvery) == 0 ? (byte) '\n' : (byte) rnd.nextInt(256);
    }
    int len = b.length == 0 ? 0 : rnd.nextInt(b.length + 1);
    int naive = 0;
    for (int i = 0; i < len; i++) {
      naive += b[i] == '\n' ? 1 : 0;
    }
    if (len > 0 && b[len - 1] != '\n') {
      naive++;
    }
    assertThat(PushLoader.countLines(b, len)).as("seed %d", seed).isEqualTo(naive);
  }

  /** An entry as {@link TableBase} stores it, with the row holding just {@code value}. */
  static void entry(Bytes e, String key, int value) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    e.putInt(TableBase.hash(k, 0, k.length));
    e.putInt(k.length);
    e.put(k, 0, k.length);
    e.putLong(0L);
    e.putInt(4);
    e.putInt(value);
  }
}
