package dev.braid.log;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read-only mappings of one immutable file (a view's or a table's Base, a closed-window run),
 * shared by any number of concurrent reads and unmapped at once when the owner has
 * {@linkplain #close closed} it and the last read in progress has ended.
 *
 * <p>A read brackets every access to the mappings with {@link #retain()} and {@link #release()};
 * {@code retain} throws {@link ClosedException} once the file is closed, so a read either runs
 * against mapped memory or learns, before it touches anything, that the file was retired.
 *
 * <h2>Why unmap at all</h2>
 * Java unmaps a mapped buffer only when the GC collects it, and a retired version's Base can stay
 * referenced for a long time. A deleted file's disk blocks and page cache stay allocated while it
 * is mapped: the disk can fill up with deleted Bases, and every new Base is written to page-cache
 * pages taken fresh from free memory, which on this project's VMs costs 3-11 us per 4 KB page on
 * first touch (docs/PERFORMANCE.md, "Thirteenth session": a batch cycle's Base writes took 90-110 ms
 * instead of 13-20 ms). Unmapping while another thread reads the mapping would crash the JVM, hence
 * the count of reads in progress.
 */
public final class MappedFile {

  private static final Logger LOG = LoggerFactory.getLogger(MappedFile.class);

  private final Path file;
  private final List<ByteBuffer> mappings;
  /** Reads in progress, plus one for the owner's hold until {@link #close}; 0 once unmapped. */
  private final AtomicInteger users = new AtomicInteger(1);
  private final AtomicBoolean closed = new AtomicBoolean();

  /** Shares {@code mappings}, every one a mapping of {@code file} (named in errors). */
  public MappedFile(Path file, List<? extends ByteBuffer> mappings) {
    this.file = file;
    this.mappings = List.copyOf(mappings);
  }

  public Path file() {
    return file;
  }

  /** Counts a read of the mappings in; throws {@link ClosedException} once they are released. */
  public void retain() {
    while (true) {
      int n = users.get();
      if (n <= 0) {
        throw new ClosedException(file);
      }
      if (users.compareAndSet(n, n + 1)) {
        return;
      }
    }
  }

  /** Counts a read out (or the owner's hold); the last one out unmaps. */
  public void release() {
    while (true) {
      int n = users.get();
      if (n <= 0) {
        throw new IllegalStateException("more releases than retains of the mappings of " + file);
      }
      if (users.compareAndSet(n, n - 1)) {
        if (n == 1) {
          for (ByteBuffer m : mappings) {
            Unmapper.unmap(m);
          }
        }
        return;
      }
    }
  }

  /**
   * Gives up the owner's hold: the mappings are released once the reads in progress have ended,
   * and every later {@link #retain} throws {@link ClosedException}. Idempotent.
   */
  public void close() {
    if (closed.compareAndSet(false, true)) {
      release();
    }
  }

  /** Whether the owner has closed the file (its mappings may still serve reads in progress). */
  public boolean isClosed() {
    return closed.get();
  }

  /** A read of a file that was {@linkplain #close closed} before the read began. */
  public static final class ClosedException extends RuntimeException {
    ClosedException(Path file) {
      super(file + " is closed: its version was retired, its run merged into another, or the engine closed", null,
          false, false);
    }
  }

  /**
   * Releases a mapping at once, through the JDK's own cleaner ({@code sun.misc.Unsafe.invokeCleaner},
   * module {@code jdk.unsupported}). Where that is not available, the mapping is left to the GC.
   */
  private static final class Unmapper {
    private static final MethodHandle INVOKE_CLEANER = find();

    private static MethodHandle find() {
      try {
        Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
        Field f = unsafeClass.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        Object unsafe = f.get(null);
        return MethodHandles.lookup()
            .findVirtual(unsafeClass, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
            .bindTo(unsafe);
      } catch (ReflectiveOperationException | RuntimeException e) {
        LOG.info("retired Bases are unmapped by the GC, not at once: {}", e.toString());
        return null;
      }
    }

    static void unmap(ByteBuffer map) {
      if (INVOKE_CLEANER == null) {
        return;
      }
      try {
        INVOKE_CLEANER.invokeExact(map);
      } catch (Throwable e) {
        LOG.warn("could not unmap a Base; the GC will", e);
      }
    }
  }
}
