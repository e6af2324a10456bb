package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.braid.Braid;
import dev.braid.agg.AccumulatorState;
import dev.braid.agg.AggInput;
import dev.braid.agg.Aggregation;
import dev.braid.agg.Aggregations;
import dev.braid.event.FieldType;
import dev.braid.log.Cut;
import dev.braid.log.MappedFile;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.StreamSpec;
import dev.braid.spec.ViewSpec;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A closed Base lets go of its mapping once the reads in progress end, and a retired version's
 * Base is closed: its file is neither mapped nor kept on disk afterwards, while reads racing with
 * the retirement still answer right. Mappings are checked in {@code /proc/self/maps} (Linux).
 */
class BaseRetireUnmapTest {

  @TempDir
  Path dir;

  private static List<String> mapsLines(String fragment) throws IOException {
    return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains(fragment)).toList();
  }

  private static Path writeBase(Path base, ViewProgram p, int keys) throws IOException {
    long[] row = new long[p.longWidth];
    List<byte[]> sorted = new ArrayList<>(); // in the order cursors check (RunFileDescriptor's)
    for (int i = 0; i < keys; i++) {
      sorted.add(String.format("user-%05d", i).getBytes(StandardCharsets.UTF_8));
    }
    sorted.sort((a, b) -> RunFileDescriptor.compareKeys(GroupTable.hash(a, a.length), a, 0, a.length,
        GroupTable.hash(b, b.length), b, 0, b.length));
    try (BaseFile.Writer w = BaseFile.Writer.begin(base, p, Cut.of(keys), keys)) {
      for (byte[] k : sorted) {
        int i = Integer.parseInt(new String(k, StandardCharsets.UTF_8).substring(5));
        w.beginKey(k, 0, k.length, GroupTable.hash(k, k.length));
        row[0] = i + 1;
        w.window(0L, row, 0, new Object[0], 0);
        w.endKey();
      }
      w.finish();
    }
    return base;
  }

  @Test
  void shouldKeepTheMappingForAReadInProgressAndReleaseItAfter() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    ViewProgram p = BaseFileIndexTest.countProgram();
    Path file = writeBase(dir.resolve("v1.base"), p, 200);
    BaseFile base = BaseFile.open(file);
    byte[] k = "user-00042".getBytes(StandardCharsets.UTF_8);
    long[] seen = {-1};

    boolean found = base.lookup(k, k.length, (window, buffer, offset, length) -> {
      base.close(); // while this read is in progress
      assertThat(mapsLines(file.toString())).as("still mapped inside the read").isNotEmpty();
      long[] longs = new long[p.longWidth];
      p.readRow(new ByteBufferDataInput().reset(buffer, offset, offset + length), longs, 0, new Object[1], 0,
          p.scratch());
      seen[0] = longs[0];
    });

    assertThat(found).isTrue();
    assertThat(seen[0]).isEqualTo(43);
    assertThat(mapsLines(file.toString())).as("unmapped once the read ended").isEmpty();
    assertThatThrownBy(() -> base.lookup(k, k.length, (w, b, o, l) -> { }))
        .isInstanceOf(MappedFile.ClosedException.class).hasMessageContaining(file.toString());
    assertThatThrownBy(() -> base.forEachKey((b, o, l) -> true)).isInstanceOf(MappedFile.ClosedException.class);
    base.close(); // again: nothing happens
  }

  @Test
  void shouldKeepTheMappingWhileACursorIsOpen() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    Path file = writeBase(dir.resolve("v1.base"), BaseFileIndexTest.countProgram(), 300);
    BaseFile base = BaseFile.open(file);
    GroupCursor c = base.cursor();
    base.close();

    int keys = 0;
    while (c.nextKey()) {
      while (c.nextWindow()) {
        assertThat(c.stateLength()).isPositive();
      }
      keys++;
    }

    assertThat(keys).isEqualTo(300);
    assertThat(mapsLines(file.toString())).as("mapped while the cursor is open").isNotEmpty();
    c.close();
    c.close();
    assertThat(mapsLines(file.toString())).as("unmapped once the cursor closed").isEmpty();
    assertThatThrownBy(base::cursor).isInstanceOf(MappedFile.ClosedException.class);
  }

  @Test
  void shouldUnmapABaseThatOpenRefuses() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    Path file = writeBase(dir.resolve("v1.base"), BaseFileIndexTest.countProgram(), 300);
    byte[] b = Files.readAllBytes(file);
    b[BaseFile.HEADER_LENGTH + 8 + 20] ^= 0x10; // a byte of an entry: the body CRC fails
    Files.write(file, b);

    assertThatThrownBy(() -> BaseFile.open(file)).hasMessageContaining("CRC");

    assertThat(mapsLines(file.toString())).as("a refused Base stays mapped").isEmpty();
  }

  @Test
  void shouldUnmapAndDeleteRetiredBasesWhileReadsRaceWithTheSwaps() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "count").keep(0).build())
        .build();
    int users = 300;
    try (Braid b = Braid.open(dir, spec)) {
      List<Map<String, Object>> events = new ArrayList<>();
      for (int i = 0; i < users * 5; i++) {
        events.add(Map.of("user", "user-" + (i % users), "ts", 1_700_000_000_000L + i));
      }
      assertThat(b.ingest("clicks", events).accepted()).isEqualTo(events.size());
      // every partition (waiting for one user's count waited for its partition only)
      assertThat(b.awaitCaughtUp(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong reads = new AtomicLong();
      List<Thread> readers = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        Random rnd = new Random(t);
        Thread r = new Thread(() -> {
          try {
            while (!stop.get()) {
              String user = "user-" + rnd.nextInt(users);
              Object n = b.get("per_user", user).values().get("n");
              if (!Long.valueOf(5).equals(n)) {
                throw new AssertionError(user + " read " + n + ", not 5");
              }
              reads.incrementAndGet();
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        });
        r.start();
        readers.add(r);
      }
      for (int cycle = 0; cycle < 12; cycle++) {
        b.runBatch("per_user");
      }
      stop.set(true);
      for (Thread r : readers) {
        r.join();
      }

      assertThat(failure.get()).as("a read failed").isNull();
      assertThat(reads.get()).isPositive();
      Path viewDir = dir.resolve("views").resolve("per_user");
      assertThat(mapsLines(viewDir.toString()).stream().filter(l -> l.contains(".base")).toList())
          .as("only the current version's Base is mapped").hasSize(1);
      try (var files = Files.list(viewDir)) {
        assertThat(files.filter(f -> f.getFileName().toString().endsWith(".base")).count())
            .as("Base files left on disk").isEqualTo(1);
      }
    }
  }

  /**
   * The built-in {@code count}, except that its {@link #read} can be held inside a Base lookup: the
   * reader thread named {@link #HELD_THREAD} signals {@link #inside} and waits for {@link #release}
   * in its next read.
   */
  static final class HeldCount implements Aggregation {
    static final String HELD_THREAD = "held-reader";
    static volatile CountDownLatch inside = new CountDownLatch(0);
    static volatile CountDownLatch release = new CountDownLatch(0);
    private final Aggregation count = Aggregations.create(Aggregations.parse("count"), FieldType.TIMESTAMP);

    @Override
    public int longSlots() {
      return count.longSlots();
    }

    @Override
    public void zero(AccumulatorState s) {
      count.zero(s);
    }

    @Override
    public void add(AccumulatorState s, AggInput in) {
      count.add(s, in);
    }

    @Override
    public void merge(AccumulatorState into, AccumulatorState from) {
      count.merge(into, from);
    }

    @Override
    public Object result(AccumulatorState s) {
      return count.result(s);
    }

    @Override
    public void write(AccumulatorState s, DataOutput out) throws IOException {
      count.write(s, out);
    }

    @Override
    public void read(AccumulatorState s, DataInput in) throws IOException {
      if (Thread.currentThread().getName().equals(HELD_THREAD) && inside.getCount() > 0) {
        inside.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      count.read(s, in); // from the mapping, after its version was retired meanwhile
    }
  }

  @Test
  void shouldKeepARetiredBaseMappedUntilTheReadInsideItEnds() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    try {
      Aggregations.register("test_held_count", (type, params) -> new HeldCount());
    } catch (IllegalArgumentException alreadyRegistered) {
      // another test of this JVM did
    }
    PipelineSpec spec = PipelineSpec.builder()
        .stream(StreamSpec.builder("clicks").partitions(2).key("user").time("ts")
            .field("user", FieldType.STRING).field("ts", FieldType.TIMESTAMP).build())
        .view(ViewSpec.builder("per_user").from("clicks").groupBy("user").aggregate("n", "test_held_count(ts)")
            .keep(0).build())
        .build();
    try (Braid b = Braid.open(dir, spec)) {
      List<Map<String, Object>> events = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        events.add(Map.of("user", "u1", "ts", 1_700_000_000_000L + i));
      }
      b.ingest("clicks", events);
      b.runBatch("per_user"); // version 2: all 7 in its Base
      assertThat(b.get("per_user", "u1").values().get("n")).isEqualTo(7L);
      Path viewDir = dir.resolve("views").resolve("per_user");
      String firstBase;
      try (var files = Files.list(viewDir)) {
        firstBase = files.filter(f -> f.getFileName().toString().endsWith(".base")).findFirst().orElseThrow()
            .toString();
      }
      HeldCount.inside = new CountDownLatch(1);
      HeldCount.release = new CountDownLatch(1);
      AtomicReference<Object> answer = new AtomicReference<>();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread reader = new Thread(() -> {
        try {
          answer.set(b.get("per_user", "u1").values().get("n"));
        } catch (Throwable e) {
          failure.set(e);
        }
      }, HeldCount.HELD_THREAD);
      reader.start();
      assertThat(HeldCount.inside.await(20, TimeUnit.SECONDS)).as("the read reached the Base").isTrue();

      ((Engine) b).runBatch("per_user", true); // version 3 current; version 2 retired (keep: 0) while the read is inside its Base

      assertThat(Files.exists(Path.of(firstBase))).as("the retired Base's file is deleted").isFalse();
      assertThat(mapsLines(firstBase)).as("but stays mapped while the read is inside it").isNotEmpty();
      HeldCount.release.countDown();
      reader.join(20_000);
      assertThat(failure.get()).isNull();
      assertThat(answer.get()).isEqualTo(7L);
      assertThat(mapsLines(firstBase)).as("unmapped once the read ended").isEmpty();
      assertThat(b.get("per_user", "u1").values().get("n")).isEqualTo(7L);
    } finally {
      HeldCount.release.countDown();
    }
  }
}
