package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke test of the ingest benchmark at tiny sizes, so that it cannot rot unnoticed (it did: its
 * check of the rebuilt dedup index missed the entries of the requests' idempotency keys): every
 * request is answered as new (the benchmark fails otherwise) and the rebuild finds every id.
 */
class IngestBenchmarkTest {

  @Test
  void shouldMeasureEveryModeAndRebuildEveryId(@TempDir Path dir) {
    BenchRun run = BenchRun.of(IngestBenchmark::new, "--events", "20000", "--runs", "1", "--rebuild-ids",
        "2500", "--dir", dir.toString());
    String out = run.out();
    assertThat(run.code()).as(out).isZero();
    assertThat(out).contains("no ids").contains("Idempotency-Key per request").contains("id field (id: txn)")
        .contains("dedup index rebuild: 2,500 ids in");
  }
}
