package dev.braid.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A child JVM's standard error reaches the parent's without the launcher's incubator warning, and nothing else lost. */
class ChildJvmTest {

  @Test
  void shouldRelayEveryLineButTheIncubatorWarning() {
    String stderr = "WARNING: Using incubator modules: jdk.incubator.foreign\n"
        + "Exception in thread \"main\" java.lang.IllegalStateException: broken\n"
        + "\tat dev.braid.Some.place(Some.java:1)\n"
        + "WARNING: something else\n";
    ByteArrayOutputStream to = new ByteArrayOutputStream();
    ChildJvm.relay(new ByteArrayInputStream(stderr.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(to, true, StandardCharsets.UTF_8));
    assertThat(to.toString(StandardCharsets.UTF_8).lines()).containsExactly(
        "Exception in thread \"main\" java.lang.IllegalStateException: broken",
        "\tat dev.braid.Some.place(Some.java:1)",
        "WARNING: something else");
  }

  @Test
  void shouldRelayARealChildsErrorsToThisJvmsStandardError() throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      List<String> cmd = new java.util.ArrayList<>();
      cmd.add(ProcessHandle.current().info().command().orElseThrow());
      cmd.addAll(ViewsBenchmark.childJvmOptions(""));
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "no.such.MainClass"));
      ChildJvm child = ChildJvm.start(cmd);
      assertThat(child.process().waitFor()).isNotZero();
      child.awaitOutput();
    } finally {
      System.setErr(original);
    }
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("no.such.MainClass")
        .doesNotContain("Using incubator modules");
  }
}
