package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** Where a progress bar draws: a live bar only when standard error is a terminal, else plain lines. */
class ProgressTest {

  @Test
  void shouldTellTerminalsFromFilesAndPipes() {
    assertThat(Progress.isTerminalDevice("/dev/pts/3")).isTrue();
    assertThat(Progress.isTerminalDevice("/dev/tty1")).isTrue();
    assertThat(Progress.isTerminalDevice("/tmp/ingest.log")).isFalse();
    assertThat(Progress.isTerminalDevice("pipe:[123456]")).isFalse();
    assertThat(Progress.isTerminalDevice("/dev/null")).isFalse();
  }

  @Test
  void shouldWritePlainLinesWhenStandardErrorIsNotATerminal() throws Exception {
    // the test JVM's standard error is a pipe or a file, never a terminal
    assertThat(Progress.stderrIsTerminal()).isFalse();
    StringWriter err = new StringWriter();
    try (me.tongfei.progressbar.ProgressBar bar = Progress.bar("ingest sales", 10, "events", new PrintWriter(err))) {
      bar.stepBy(10);
    }
    assertThat(err.toString()).contains("ingest sales").doesNotContain("\r");
  }

  /**
   * The launcher says whether standard error is a terminal before its filter (on JDK 17 and 18) makes
   * it a pipe: on a terminal, `./braid demo` drew a new line each second instead of one live bar.
   */
  @Test
  void shouldBelieveTheLauncherAboutStandardError() {
    try {
      System.setProperty("braid.stderr.terminal", "true");
      assertThat(Progress.stderrIsTerminal()).isTrue();
      System.setProperty("braid.stderr.terminal", "false");
      assertThat(Progress.stderrIsTerminal()).isFalse();
    } finally {
      System.clearProperty("braid.stderr.terminal");
    }
  }
}
