package dev.braid.log;

import java.nio.file.Path;

/** Runs the {@link Log} contract against the embedded {@link FileLog}. */
class FileLogContractTest extends LogContractTest {

  @Override
  protected Log openLog(Path dir) {
    return FileLog.open(dir);
  }
}
