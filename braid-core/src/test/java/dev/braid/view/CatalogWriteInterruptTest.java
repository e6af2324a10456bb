package dev.braid.view;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A catalog write that an interrupt reaches (the close cancelling a scheduled batch cycle at its
 * commit point) is written all the same, its directory fsynced, and the interrupt kept for the
 * caller's next check. Here the interrupt is set as the write begins, which closes the write's
 * channel as one that lands during it does.
 */
class CatalogWriteInterruptTest {

  @Test
  void shouldWriteTheCatalogThroughAnInterruptAndKeepIt(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("catalog.json");
    Files.writeString(file, "old");
    boolean kept;
    Thread.currentThread().interrupt();
    try {
      VersionCatalog.replaceAtomically(file, "new".getBytes(StandardCharsets.UTF_8));
    } finally {
      kept = Thread.interrupted();
    }
    assertThat(Files.readString(file)).isEqualTo("new");
    assertThat(dir.resolve("catalog.json.tmp")).doesNotExist();
    assertThat(kept).as("the interrupt is the caller's").isTrue();
  }
}
