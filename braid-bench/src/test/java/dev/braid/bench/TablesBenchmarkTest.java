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
 * Smoke test of the tables benchmark at tiny sizes: every push loads every row, the sample answers
 * equal the naive model (exit code 2 otherwise), and the table of figures is printed.
 */
class TablesBenchmarkTest {

  @Test
  void shouldPushReadAndRestartAndAnswerAsTheNaiveModel(@TempDir Path dir) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    PrintStream original = System.out;
    int code;
    System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      code = new CommandLine(new TablesBenchmark()).execute("--rows", "20000", "--runs", "1", "--samples", "200",
          "--reads", "20000", "--writes", "20", "--restart-writes", "2000", "--dir", dir.toString());
    } finally {
      System.setOut(original);
    }
    String out = buffer.toString(StandardCharsets.UTF_8);
    System.out.println(out);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("bulk push from JSON lines").contains("in-process read")
        .contains("real-time write visible in a read").contains("restart from a Delta checkpoint").contains("restart without one")
        .contains("sample keys and as many absent keys equal");
  }
}
