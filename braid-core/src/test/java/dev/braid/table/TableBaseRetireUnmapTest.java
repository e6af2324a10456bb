package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.braid.Braid;
import dev.braid.log.Cut;
import dev.braid.log.MappedFile;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A closed table Base lets go of its mappings once the reads in progress end, and a push that
 * retires a version closes its Base: the file is neither mapped nor on disk afterwards, while reads
 * racing with the retirement still answer right. Mappings are checked in {@code /proc/self/maps}
 * (Linux).
 */
class TableBaseRetireUnmapTest {

  @TempDir
  Path dir;

  private static List<String> mapsLines(String fragment) throws IOException {
    return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains(fragment)).toList();
  }

  /** A Base of {@code keys} entries {@code k<i>}, each row holding the int {@code i}. */
  private static Path writeBase(Path file, int keys) throws IOException {
    Bytes e = new Bytes(256);
    try (TableBase.Writer w = new TableBase.Writer(file, Cut.zero(2), 1L, TableBasePropertyTest.layout(false))) {
      for (int i = 0; i < keys; i++) {
        e.clear();
        TableBasePropertyTest.entry(e, "k" + i, i);
        w.append(e.buf, 0, e.len);
      }
      w.finish();
    }
    return file;
  }

  @Test
  void shouldKeepTheMappingsForAReadInProgressAndReleaseThemAfter() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    Path file = writeBase(dir.resolve("v1.base"), 500);
    assertThat(mapsLines(file.toString())).as("the writer left its index mappings behind").isEmpty();
    TableBase base = TableBase.open(file, TableBasePropertyTest.layout(false));
    assertThat(mapsLines(file.toString())).as("the data region and the index (the kernel may list them as one)")
        .isNotEmpty();
    byte[] k = "k42".getBytes(StandardCharsets.UTF_8);
    Bytes.Reader reader = new Bytes.Reader();
    List<String> mappedInside = new ArrayList<>();

    Integer value = base.read(k, reader, (written, row) -> {
      base.close(); // while this read is in progress
      try {
        mappedInside.addAll(mapsLines(file.toString()));
      } catch (IOException ex) {
        throw new IllegalStateException(ex);
      }
      return row.b.getInt(row.pos); // still mapped: the row reads right
    });

    assertThat(value).isEqualTo(42);
    assertThat(mappedInside).as("mapped while the read ran").isNotEmpty();
    assertThat(mapsLines(file.toString())).as("unmapped once the read ended").isEmpty();
    assertThatThrownBy(() -> base.read(k, reader, (written, row) -> row.pos))
        .isInstanceOf(MappedFile.ClosedException.class).hasMessageContaining(file.toString());
    try (TableBase.Writer w = new TableBase.Writer(dir.resolve("v2.base"), Cut.zero(2), 1L, TableBasePropertyTest.layout(false))) {
      assertThatThrownBy(() -> base.copyRows(0, 2, new HashMap<String, Object>(), Long.MIN_VALUE, w, new Bytes(64),
          new long[3], () -> { })).isInstanceOf(MappedFile.ClosedException.class);
    }
    base.close(); // idempotent
  }

  @Test
  void shouldStoreNoRowForAWriteToARetiredVersionsDelta() throws Exception {
    Path file = writeBase(dir.resolve("v9.base"), 100);
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id")
        .field("id", "string").field("tier", "string").build()).build();
    try (Braid braid = Braid.open(dir.resolve("data"), spec)) {
      TableRuntime t = (TableRuntime) braid.table("users");
      TableBase base = TableBase.open(file, TableBasePropertyTest.layout(false));
      TableRuntime.Delta d = t.new Delta(base, Cut.zero(2));
      base.close(); // its version retired while a follower still held this Delta

      d.apply(0, "k7", 1L, 1L, 0L, Writes.DELETE, null);

      // A read that began before the swap finds no row here, looks in the Base and retries on the
      // current version; a row started empty would answer without the Base's fields.
      assertThat(d.rows[0]).as("rows stored for the retired version").isEmpty();
    }
  }

  @Test
  void shouldUnmapABaseThatOpenRefuses() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    Path file = writeBase(dir.resolve("v1.base"), 500);
    byte[] b = Files.readAllBytes(file);
    b[TableBase.HEADER + 16 + 40] ^= 0x10; // a byte of an entry: the body CRC fails
    Files.write(file, b);

    assertThatThrownBy(() -> TableBase.open(file, TableBasePropertyTest.layout(false))).hasMessageContaining("checksum");

    assertThat(mapsLines(file.toString())).as("a refused Base stays mapped").isEmpty();
  }

  @Test
  void shouldUnmapAndDeleteRetiredBasesWhileReadsRaceWithThePushes() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/self/maps")), "needs /proc/self/maps");
    int keys = 2_000;
    int pushes = 12;
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id")
        .field("id", "string").field("tier", "string").keep(0).build()).build();
    try (Braid braid = Braid.open(dir, spec)) {
      Table t = braid.table("users");
      t.push(rows(keys, 0), PushOptions.defaults("p0.jsonl"));
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong reads = new AtomicLong();
      List<Thread> readers = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        int seed = r;
        Thread th = new Thread(() -> {
          int last = 0; // a reader never sees an older push than it saw before
          try {
            for (int i = seed; !stop.get(); i += 7) {
              String key = "u" + (i % keys);
              TableRow row = t.get(key);
              assertThat(row.found()).as("key %s", key).isTrue();
              String tier = (String) row.values().get("tier");
              int push = Integer.parseInt(tier.substring(1));
              assertThat(push).as("key %s read push %d after push %d", key, push, last).isGreaterThanOrEqualTo(last);
              last = push;
              reads.incrementAndGet();
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        });
        th.start();
        readers.add(th);
      }
      for (int n = 1; n <= pushes; n++) {
        PushReport r = t.push(rows(keys, n), PushOptions.defaults("p" + n + ".jsonl"));
        assertThat(r.state()).isEqualTo("done");
      }
      stop.set(true);
      for (Thread th : readers) {
        th.join(30_000);
        assertThat(th.isAlive()).as("a reader still running").isFalse();
      }
      assertThat(failure.get()).as("a racing read failed").isNull();
      assertThat(reads.get()).isPositive();
      assertThat(t.get("u7").values().get("tier")).isEqualTo("p" + pushes);

      List<String> mapped = mapsLines(dir.toString()).stream().filter(l -> l.contains(".base")).toList();
      assertThat(mapped).as("no retired Base stays mapped").noneMatch(l -> l.contains("(deleted)"));
      assertThat(mapped.stream().map(l -> l.substring(l.indexOf('/'))).distinct())
          .as("only the current version's Base is mapped").hasSize(1);
      try (Stream<Path> files = Files.walk(dir)) {
        assertThat(files.filter(f -> f.getFileName().toString().endsWith(".base")))
            .as("only the current version's Base is on disk (keep: 0)").hasSize(1);
      }
    }
  }

  private static ByteArrayInputStream rows(int keys, int push) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < keys; i++) {
      b.append("{\"id\":\"u").append(i).append("\",\"tier\":\"p").append(push).append("\"}\n");
    }
    return new ByteArrayInputStream(b.toString().getBytes(StandardCharsets.UTF_8));
  }
}
