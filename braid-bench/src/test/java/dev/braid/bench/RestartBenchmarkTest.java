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
 * Smoke test of the restart benchmark at tiny sizes: every restart restores the checkpoint (the
 * benchmark fails otherwise), every open answers as the naive recomputation does (exit code 2
 * otherwise), and the table is printed.
 */
class RestartBenchmarkTest {

  @Test
  void shouldRestartFromTheCheckpointAndAnswerAsTheNaiveRecomputation(@TempDir Path dir) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.out;
    int code;
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      code = new CommandLine(new RestartBenchmark()).execute("--events", "400000", "--checkpoint-age", "10000",
          "--keys", "3000", "--runs", "2", "--samples", "300", "--checkpoint-every-ms", "1", "--dir", dir.toString());
    } finally {
      System.setOut(original);
    }
    String out = buffer.toString(StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("restart to serving, without the replay").contains("(replayed 10,000 events")
        .contains("checkpoint overhead at the default interval").contains("300 sample keys equal after every open");
  }
}
