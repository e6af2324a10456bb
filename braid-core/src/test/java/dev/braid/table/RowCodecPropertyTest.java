package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.spec.TableSpec;
import dev.braid.testing.Soak;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The push's fast paths against the general ones over seeded random values: a collection encoded by
 * {@link RowCodec#encodeCollection} gives the bytes (or the error) of coercing it and encoding the
 * result, and {@link Bytes#putString(char[], int, int)} the bytes of {@code String.getBytes(UTF_8)}.
 */
class RowCodecPropertyTest {

  private static final TableLayout LAYOUT = new TableLayout(TableSpec.builder("t").partitions(1).key("id")
      .field("id", "string").field("tags", "set<string>").field("ids", "set<long>").field("xs", "set<double>")
      .field("flags", "set<boolean>").field("names", "list<string>").field("attrs", "map<string,long>").build());

  static Stream<Long> seeds() {
    return IntStream.range(0, (int) Soak.seeds(200)).mapToObj(i -> 11_000L + i);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldEncodeACollectionAsCoercingAndEncodingItDoes(long seed) {
    Random rnd = new Random(seed);
    for (int round = 0; round < 200; round++) {
      int f = 1 + rnd.nextInt(LAYOUT.size() - 1);
      Object raw = rnd.nextInt(20) == 0 ? "not a list" : list(rnd);
      String fast = encoded(() -> {
        Bytes b = new Bytes(16);
        RowCodec.encodeCollection(LAYOUT, f, raw, b);
        return b;
      });
      String general = encoded(() -> {
        Bytes b = new Bytes(16);
        RowCodec.encodeField(LAYOUT.types[f], RowCodec.coerce(LAYOUT, f, raw), b);
        return b;
      });
      assertThat(fast).as("seed %d, field %s, value %s", seed, LAYOUT.names[f], raw).isEqualTo(general);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldEncodeCharsAsStringGetBytesDoes(long seed) {
    Random rnd = new Random(seed);
    StringBuilder sb = new StringBuilder();
    int n = rnd.nextInt(60);
    for (int i = 0; i < n; i++) {
      switch (rnd.nextInt(6)) {
        case 0 -> sb.append((char) (0x80 + rnd.nextInt(0x780))); // two bytes
        case 1 -> sb.append((char) (0x800 + rnd.nextInt(0xd000))); // three bytes, below the surrogates
        case 2 -> sb.appendCodePoint(0x10000 + rnd.nextInt(0x10000)); // a surrogate pair, four bytes
        default -> sb.append((char) rnd.nextInt(0x80));
      }
    }
    String s = sb.toString();
    char[] c = ("xy" + s + "z").toCharArray();
    Bytes fast = new Bytes(4);
    fast.putString(c, 2, s.length());
    Bytes general = new Bytes(4);
    general.putString(s);
    assertThat(Arrays.copyOf(fast.buf, fast.len)).as("seed %d: %s", seed, s)
        .isEqualTo(Arrays.copyOf(general.buf, general.len));
    assertThat(new String(general.buf, general.len - s.getBytes(StandardCharsets.UTF_8).length,
        s.getBytes(StandardCharsets.UTF_8).length, StandardCharsets.UTF_8)).isEqualTo(s);
  }

  /** A list of a few elements from small pools of every kind, with repeats, nulls and now and then a list. */
  private static List<Object> list(Random rnd) {
    int n = rnd.nextInt(rnd.nextInt(10) == 0 ? 30 : 6);
    int kind = rnd.nextInt(5); // mostly one kind per list, as real data has
    List<Object> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int k = rnd.nextInt(8) == 0 ? rnd.nextInt(7) : kind;
      out.add(switch (k) {
        case 0 -> "s" + rnd.nextInt(4);
        case 1 -> (long) rnd.nextInt(4);
        case 2 -> rnd.nextInt(3) == 0 ? (Object) (rnd.nextInt(3) + 0.5) : (Object) (double) rnd.nextInt(3);
        case 3 -> rnd.nextBoolean();
        case 4 -> rnd.nextInt(4); // an Integer, as some callers pass
        case 5 -> rnd.nextInt(20) == 0 ? null : "t" + rnd.nextInt(3);
        default -> List.of("nested");
      });
    }
    return out;
  }

  private static String encoded(java.util.function.Supplier<Bytes> encode) {
    try {
      Bytes b = encode.get();
      return Arrays.toString(Arrays.copyOf(b.buf, b.len));
    } catch (IllegalArgumentException | ClassCastException e) {
      return e.getClass().getSimpleName() + ": " + e.getMessage();
    }
  }
}
