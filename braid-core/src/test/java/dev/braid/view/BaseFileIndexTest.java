package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Base's hash index finds every key it was written with, and no other, whatever order the keys
 * come in: among random keys, clusters of keys that share a home slot just below a boundary of the
 * ranges {@link BaseFile.Writer} places the index by (so they spill into the next range), and at
 * the last slots (so they wrap round to the front) and just below the middle slot, where the
 * writer's second half of the index begins (so they are set aside and placed last); and the index
 * built on two threads is the same, byte for byte, as the one built on one.
 */
class BaseFileIndexTest {

  /** Keys of a Base whose index has 4096 slots: 1025 to 2048 keys. */
  private static final int SLOTS = 4096;
  private static final int RANGE = 1024;

  static LongStream seeds() {
    return LongStream.range(0, 12 * Long.getLong("braid.soak", 1));
  }

  /** A view of {@code count} by a string key: the program the Base tests of this package write with. */
  static ViewProgram countProgram() {
    StreamSpec stream = StreamSpec.builder("tx").partitions(1).key("user").time("ts")
        .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build();
    return new ViewProgram(ViewSpec.builder("v").from("tx").groupBy("user").aggregate("n", "count").build(),
        stream.schema());
  }

  private static int home(byte[] key) {
    return GroupTable.hash(key, key.length) & (SLOTS - 1);
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void shouldFindEveryKeyOfAnIndexWhoseClustersCrossRangesAndWrap(long seed, @TempDir Path dir) throws Exception {
    Random rnd = new Random(seed);
    List<byte[]> keys = new ArrayList<>();
    List<byte[]> absent = new ArrayList<>();
    int random = 1100 + rnd.nextInt(700);
    int wrapping = 20 + rnd.nextInt(40);
    int crossing = 20 + rnd.nextInt(40);
    int boundary = RANGE * (1 + rnd.nextInt(SLOTS / RANGE - 1)); // 1024, 2048 or 3072
    int middle = 20 + rnd.nextInt(40); // the slot where the writer's second region begins
    for (int i = 0; keys.size() < random + wrapping + crossing + middle || absent.size() < 200; i++) {
      byte[] k = (seed + "-" + i).getBytes(StandardCharsets.UTF_8);
      int h = home(k);
      if (h >= SLOTS - 4 && wrapping > 0) {
        keys.add(k);
        wrapping--;
      } else if (h >= SLOTS / 2 - 4 && h < SLOTS / 2 && middle > 0) {
        keys.add(k);
        middle--;
      } else if (h >= boundary - 4 && h < boundary && crossing > 0) {
        keys.add(k);
        crossing--;
      } else if (random > 0 && rnd.nextInt(3) == 0) {
        keys.add(k);
        random--;
      } else if (absent.size() < 200) {
        absent.add(k);
      }
    }
    Collections.shuffle(keys, rnd);
    ViewProgram p = countProgram();
    long[] row = new long[p.longWidth];
    Path base = dir.resolve("v1.base");
    Path helped = dir.resolve("v2.base");
    ExecutorService helper = Executors.newSingleThreadExecutor();
    try {
      for (Path file : List.of(base, helped)) {
        try (BaseFile.Writer w = BaseFile.Writer.begin(file, p, Cut.of(keys.size()), 16)) {
          for (int i = 0; i < keys.size(); i++) {
            byte[] k = keys.get(i);
            w.beginKey(k, 0, k.length, GroupTable.hash(k, k.length));
            row[0] = i + 1;
            w.window(0L, row, 0, new Object[0], 0);
            w.endKey();
          }
          w.finish(file == helped ? helper : null);
        }
      }
    } finally {
      helper.shutdown();
    }
    assertThat(Files.readAllBytes(helped)).as("seed %d: the index built on two threads", seed)
        .isEqualTo(Files.readAllBytes(base));
    try (BaseFile f = BaseFile.open(base)) {
      for (int i = 0; i < keys.size(); i++) {
        byte[] k = keys.get(i);
        long[] found = {-1};
        assertThat(f.lookup(k, k.length, (window, buffer, offset, length) -> {
          long[] longs = new long[p.longWidth];
          p.readRow(new ByteBufferDataInput().reset(buffer, offset, offset + length), longs, 0, new Object[1], 0,
              p.scratch());
          found[0] = longs[0];
        })).as("seed %d, key %s (home slot %d)", seed, new String(k, StandardCharsets.UTF_8), home(k)).isTrue();
        assertThat(found[0]).as("seed %d, key %s", seed, new String(k, StandardCharsets.UTF_8)).isEqualTo(i + 1);
      }
      for (byte[] k : absent) {
        assertThat(f.lookup(k, k.length, (window, buffer, offset, length) -> { }))
            .as("seed %d, absent key %s", seed, new String(k, StandardCharsets.UTF_8)).isFalse();
      }
    }
  }

  /**
   * Tables of one slot range (a few keys) and of hundreds: on two threads, on one, and with a helper
   * that refuses the task (a pool shutting down), the same bytes, and every key found.
   */
  @ParameterizedTest(name = "{0} keys")
  @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2, 9, 300, 70_000})
  void shouldBuildTheSameIndexOnOneThreadOrTwoAtAnySize(int count, @TempDir Path dir) throws Exception {
    ViewProgram p = countProgram();
    long[] row = new long[p.longWidth];
    List<byte[]> keys = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      keys.add(("k" + i).getBytes(StandardCharsets.UTF_8));
    }
    ExecutorService helper = Executors.newSingleThreadExecutor();
    java.util.concurrent.Executor refusing = task -> {
      throw new java.util.concurrent.RejectedExecutionException("shutting down");
    };
    List<Path> files = List.of(dir.resolve("one.base"), dir.resolve("two.base"), dir.resolve("refused.base"));
    try {
      for (Path file : files) {
        try (BaseFile.Writer w = BaseFile.Writer.begin(file, p, Cut.of(count), 16)) {
          for (int i = 0; i < count; i++) {
            byte[] k = keys.get(i);
            w.beginKey(k, 0, k.length, GroupTable.hash(k, k.length));
            row[0] = i + 1;
            w.window(0L, row, 0, new Object[0], 0);
            w.endKey();
          }
          w.finish(file == files.get(0) ? null : file == files.get(1) ? helper : refusing);
        }
      }
    } finally {
      helper.shutdown();
    }
    byte[] one = Files.readAllBytes(files.get(0));
    assertThat(Files.readAllBytes(files.get(1))).as("two threads").isEqualTo(one);
    assertThat(Files.readAllBytes(files.get(2))).as("a helper that refused").isEqualTo(one);
    try (BaseFile f = BaseFile.open(files.get(1))) {
      for (byte[] k : keys) {
        assertThat(f.lookup(k, k.length, (window, buffer, offset, length) -> { }))
            .as("key %s", new String(k, StandardCharsets.UTF_8)).isTrue();
      }
    }
  }
}
