package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Smoke test of the ingest benchmark at tiny sizes, so that it cannot rot unnoticed (it did: its
 * check of the rebuilt dedup index missed the entries of the requests' idempotency keys): every
 * request is answered as new (the benchmark fails otherwise) and the rebuild finds every id.
 */
class IngestBenchmarkTest {

  @Test
  void shouldMeasureEveryModeAndRebuildEveryId(@TempDir Path dir) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.out;
    int code;
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      code = new CommandLine(new IngestBenchmark()).execute("--events", "20000", "--runs", "1", "--rebuild-ids",
          "2500", "--dir", dir.toString());
    } finally {
      System.setOut(original);
    }
    String out = buffer.toString(StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("no ids").contains("Idempotency-Key per request").contains("id field (id: txn)")
        .contains("dedup index rebuild: 2,500 ids in");
  }
}
