package dev.braid.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Syncs a file that is written front to back, behind its writer, on a thread of its
 * own: once {@code every} bytes were written since the last sync started, the next {@link #written}
 * starts an {@code fdatasync} unless one is still running. RocksDB calls this {@code bytes_per_sync}.
 * Engine-internal: the Bases of tables and views use it; user code has no need for it.
 *
 * <h2>Why</h2>
 * The kernel starts writing dirty pages back only past a share of memory (gigabytes on the
 * development machine), so without it the final {@code fsync} of a file of some hundred megabytes
 * writes nearly all of it while the writer waits with nothing else to do. Synced behind, the file
 * goes to disk while the writer still produces it, and the final sync writes the last part.
 *
 * <p>Durability is unchanged: only the writer's final sync counts. Call {@link #await} before it,
 * which also reports the failure of a background sync: after a failed {@code fsync}, Linux may
 * report success for pages it dropped, so the file must not be trusted. Not thread-safe: callers
 * serialize their calls (one writer thread, or writers that take turns under a lock).
 */
public final class SyncBehind {

  private final FileChannel channel;
  private final long every;
  private final String threadName;
  /** The sync in flight or last run, and the bytes written when it started. */
  private Thread syncer;
  private long startedAt;
  private volatile IOException failure;

  /**
   * @param channel the file being written
   * @param every bytes written between two syncs started
   * @param threadName the name of the syncing threads
   */
  public SyncBehind(FileChannel channel, long every, String threadName) {
    this.channel = channel;
    this.every = every;
    this.threadName = threadName;
  }

  /** Tells that the file is written up to byte {@code end}; starts a sync if one is due and none runs. */
  public void written(long end) {
    if (end - startedAt < every || syncer != null && syncer.isAlive()) {
      return;
    }
    startedAt = end;
    syncer = new Thread(() -> {
      try {
        channel.force(false);
      } catch (IOException e) {
        failure = e;
      }
    }, threadName);
    syncer.setDaemon(true);
    syncer.start();
  }

  /**
   * Waits for the sync in flight, if any (an interrupt is kept for later, not lost), then throws
   * the failure of any sync so far, naming {@code file}.
   */
  public void await(Path file) throws IOException {
    if (syncer != null) {
      boolean interrupted = false;
      while (true) {
        try {
          syncer.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    if (failure != null) {
      throw new IOException("syncing " + file + " failed: " + failure.getMessage(), failure);
    }
  }
}
