package dev.braid.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
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

  /** Off a terminal a line was cut at 100 characters: a long name and large counts lost the rate. */
  @Test
  void shouldWriteWholeLinesWithTheRateOffATerminal() throws Exception {
    StringWriter err = new StringWriter();
    try (me.tongfei.progressbar.ProgressBar bar = Progress.bar("ingest a_stream_with_a_rather_long_name_indeed",
        123_456_789_012L, "events", new PrintWriter(err))) {
      bar.stepBy(98_765_432_109L);
      Thread.sleep(1_200); // past the first line, so the rate is known
      bar.stepBy(1);
    }
    List<String> lines = err.toString().lines().toList();
    assertThat(lines).as("one line per count: the final render of an unchanged count is not repeated")
        .extracting(l -> l.substring(0, l.indexOf(", "))).doesNotHaveDuplicates();
    String last = lines.get(lines.size() - 1);
    assertThat(last).matches("ingest a_stream_with_a_rather_long_name_indeed: 98,765,432,110 of 123,456,789,012 events "
        + "\\(80 %\\), 0:00:0\\d, [0-9,]+ events/s, about 0:00:\\d\\d left");
  }

  /**
   * A reprocess's phase and lag are its bar's message while the count stands still (a batch
   * recompute): each change is a line; only a line that nothing but the clock changed is skipped.
   */
  @Test
  void shouldWriteALineWhenOnlyTheMessageChanges() throws Exception {
    StringWriter err = new StringWriter();
    try (me.tongfei.progressbar.ProgressBar bar = Progress.bar("reprocess v v5", 10, "events", new PrintWriter(err))) {
      bar.setExtraMessage("batch, lag 0");
      Thread.sleep(1_100);
      bar.setExtraMessage("catch-up, lag 10");
      Thread.sleep(1_100);
      Thread.sleep(1_100); // nothing changed: no line
      bar.stepTo(10);
      bar.setExtraMessage("current");
    }
    List<String> lines = err.toString().lines().toList();
    assertThat(lines).anyMatch(l -> l.endsWith(", batch, lag 0")).anyMatch(l -> l.endsWith(", catch-up, lag 10"))
        .anyMatch(l -> l.startsWith("reprocess v v5: 10 of 10 events (100 %), ") && l.endsWith(", current"));
    assertThat(lines.stream().filter(l -> l.contains("catch-up")).count()).as("not repeated each second").isOne();
  }

  /** A count in units of a scale is shown in those units, the rate too. */
  @Test
  void shouldShowScaledCountsInTheirUnit() {
    Progress.LineRenderer kib = new Progress.LineRenderer("KiB", 1024);
    StringWriter err = new StringWriter();
    try (me.tongfei.progressbar.ProgressBar bar = new me.tongfei.progressbar.ProgressBarBuilder().setTaskName("push t")
        .setInitialMax(-1).setRenderer(kib).setConsumer(new Progress.LineConsumer(new PrintWriter(err), 1000)).build()) {
      bar.stepBy(5 * 1024 * 1024);
    }
    assertThat(err.toString()).contains("push t: 5,120 KiB, 0:00:0");
  }

  /**
   * A bar drawn for work that began before it (`braid activate` finds a rollback replaying) counts its
   * rate from what moves while it is drawn: its first frame showed millions per second, the work done
   * before it counted as done in no time. Its clock counts the work's time.
   */
  @Test
  void shouldCountTheRateOfABarStartedPartWayFromWhatMovesWhileItIsDrawn() throws Exception {
    StringWriter err = new StringWriter();
    try (me.tongfei.progressbar.ProgressBar bar = Progress.bar("activate t v3", 10_000_000, "writes", 1,
        new PrintWriter(err), 5_000_000, java.time.Duration.ofSeconds(70))) {
      Thread.sleep(1_200);
      bar.stepTo(5_001_000);
    }
    List<String> lines = err.toString().lines().toList();
    String last = lines.get(lines.size() - 1);
    assertThat(last).startsWith("activate t v3: 5,001,000 of 10,000,000 writes (50 %), 0:01:1");
    long rate = Long.parseLong(last.replaceAll(".*, ([0-9,]+) writes/s.*", "$1").replace(",", ""));
    assertThat(rate).as(last).isBetween(1L, 1_000L); // 1,000 writes in 1.2 s or more
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
