package dev.braid.view;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Merges sorted runs ({@link RunFileDescriptor}) into a {@link GroupSink}: a k-way merge with a
 * priority queue of run readers ordered by (key hash, key bytes) (a heap of primitive
 * {@code hash << 32 | reader} entries; key bytes are compared only between readers whose keys share
 * a hash), and within a key a merge of the runs' ascending windows. A group found in one run only is copied as serialized bytes; a group
 * found in several is decoded with {@link ViewProgram#readRow} and combined with
 * {@link ViewProgram#merge}, never by touching the bytes, so every aggregation keeps its own merge
 * semantics (sketch unions, order by time and position for first/last).
 *
 * <h2>Memory</h2>
 * Per open run: one read buffer and the largest key and state seen in it. More runs than the
 * fan-in are first merged, smallest first, into intermediate runs until the rest fit in one final
 * pass, so memory does not grow with the number of runs. Nothing grows with the number of keys;
 * the sink may ({@link BaseFile.Writer} keeps its hash index).
 *
 * <p>Not thread-safe; one thread runs a merge.
 */
final class RunMerger {

  static final int MIN_READ_BUFFER = 8 << 10;
  static final int MAX_READ_BUFFER = 64 << 10;
  static final int MAX_FAN_IN = 128;

  /** Where intermediate runs go. */
  @FunctionalInterface
  interface RunPaths {
    Path next() throws IOException;
  }

  private final ViewProgram program;
  private final int fanIn;
  private final int readBuffer;
  private int intermediateMerges;

  /** A merger whose open readers' buffers together stay within about {@code memoryBytes}. */
  RunMerger(ViewProgram program, long memoryBytes) {
    this.program = program;
    this.fanIn = (int) Math.max(2, Math.min(MAX_FAN_IN, memoryBytes / MIN_READ_BUFFER));
    this.readBuffer = (int) Math.max(MIN_READ_BUFFER, Math.min(MAX_READ_BUFFER, memoryBytes / fanIn));
  }

  int fanIn() {
    return fanIn;
  }

  /** Intermediate runs written so far (merges that did not go to the final sink). */
  int intermediateMerges() {
    return intermediateMerges;
  }

  /**
   * Merges all {@code runs} into {@code sink} (with intermediate passes when there are more than the
   * fan-in), deleting each run once it has been merged.
   */
  void mergeAll(List<RunFile> runs, GroupSink sink, RunPaths paths) throws IOException {
    PriorityQueue<RunFile> bySize = new PriorityQueue<>(Math.max(1, runs.size()),
        Comparator.comparingLong(RunFile::bytes));
    bySize.addAll(runs);
    while (bySize.size() > fanIn) {
      int k = Math.min(fanIn, bySize.size() - fanIn + 1); // each merge removes k - 1 runs
      List<RunFile> group = new ArrayList<>(k);
      for (int i = 0; i < k; i++) {
        group.add(bySize.poll());
      }
      try (RunFile.Writer w = new RunFile.Writer(paths.next(), program)) {
        merge(group, w);
        bySize.add(w.finish());
      }
      delete(group);
      intermediateMerges++;
    }
    List<RunFile> last = new ArrayList<>(bySize);
    merge(last, sink);
    delete(last);
  }

  private static void delete(List<RunFile> runs) throws IOException {
    for (RunFile r : runs) {
      Files.deleteIfExists(r.path());
    }
  }

  /** One pass: merges {@code runs} (at most the fan-in) into {@code sink}. */
  void merge(List<RunFile> runs, GroupSink sink) throws IOException {
    int definition = program.spec.definition().hashCode();
    int n = runs.size();
    GroupCursor[] readers = new GroupCursor[n];
    try {
      for (int i = 0; i < n; i++) {
        readers[i] = new RunFile.Reader(runs.get(i), readBuffer, definition);
      }
      merge(readers, sink);
    } finally {
      for (GroupCursor r : readers) {
        if (r != null) {
          r.close();
        }
      }
    }
  }

  /**
   * Merges the sorted {@code readers} (any {@link GroupCursor}s) into {@code sink}, group by group
   * as described above; the caller closes them.
   */
  void merge(GroupCursor[] readers, GroupSink sink) throws IOException {
    int n = readers.length;
    // The queue holds (key hash << 32 | reader index): ordered by hash with plain long compares;
    // readers whose keys share a hash are sorted out by their bytes when they come up together.
    LongHeap queue = new LongHeap(n);
    for (int i = 0; i < n; i++) {
      if (readers[i].nextKey()) {
        queue.push(entry(readers[i], i));
      }
    }
    int[] same = new int[Math.max(1, n)];
    GroupCursor[] sameReaders = new GroupCursor[Math.max(1, n)];
    boolean[] has = new boolean[Math.max(1, n)];
    Row acc = new Row(program);
    Row tmp = new Row(program);
    ViewProgram.Scratch x = program.scratch();
    while (!queue.isEmpty()) {
      long top = queue.pop();
      int hash = (int) (top >> 32);
      int k = 0;
      same[k++] = (int) top;
      while (!queue.isEmpty() && (int) (queue.peek() >> 32) == hash) {
        same[k++] = (int) queue.pop();
      }
      if (k > 1) {
        k = keepSmallestKey(readers, same, k, queue);
      }
      GroupCursor first = readers[same[0]];
      sink.beginKey(first.key(), 0, first.keyLength(), first.hash());
      if (k == 1) {
        while (first.nextWindow()) {
          sink.window(first.window(), first.state(), 0, first.stateLength());
        }
      } else {
        for (int i = 0; i < k; i++) {
          sameReaders[i] = readers[same[i]];
        }
        mergeWindows(sameReaders, has, k, sink, acc, tmp, x);
      }
      sink.endKey();
      for (int i = 0; i < k; i++) {
        GroupCursor r = readers[same[i]];
        if (r.nextKey()) {
          queue.push(entry(r, same[i]));
        }
        sameReaders[i] = null;
      }
    }
  }

  private static long entry(GroupCursor r, int index) {
    return ((long) r.hash() << 32) | index;
  }

  /**
   * Of {@code k} readers at keys with one hash, keeps those at the smallest key (first in
   * {@code same}) and puts the others back in the queue; returns how many it kept. Usually all are
   * at the same key; distinct keys here mean a 32-bit hash collision.
   */
  private static int keepSmallestKey(GroupCursor[] readers, int[] same, int k, LongHeap queue) {
    GroupCursor min = readers[same[0]];
    for (int i = 1; i < k; i++) {
      GroupCursor r = readers[same[i]];
      if (compare(r, min) < 0) {
        min = r;
      }
    }
    int kept = 0;
    for (int i = 0; i < k; i++) {
      GroupCursor r = readers[same[i]];
      if (compare(r, min) == 0) {
        same[kept++] = same[i];
      } else {
        queue.push(entry(r, same[i]));
      }
    }
    return kept;
  }

  private static int compare(GroupCursor a, GroupCursor b) {
    return RunFileDescriptor.compareKeys(a.hash(), a.key(), 0, a.keyLength(), b.hash(), b.key(), 0, b.keyLength());
  }

  /** Merges the ascending windows of one key found in {@code k} runs. */
  private void mergeWindows(GroupCursor[] same, boolean[] has, int k, GroupSink sink, Row acc, Row tmp,
      ViewProgram.Scratch x) throws IOException {
    for (int i = 0; i < k; i++) {
      has[i] = same[i].nextWindow();
    }
    while (true) {
      long min = 0;
      int holders = 0;
      int only = -1;
      for (int i = 0; i < k; i++) {
        if (has[i]) {
          long w = same[i].window();
          if (holders == 0 || w < min) {
            min = w;
            holders = 1;
            only = i;
          } else if (w == min) {
            holders++;
          }
        }
      }
      if (holders == 0) {
        return;
      }
      if (holders == 1) {
        GroupCursor r = same[only];
        sink.window(min, r.state(), 0, r.stateLength());
        has[only] = r.nextWindow();
        continue;
      }
      boolean first = true;
      for (int i = 0; i < k; i++) {
        if (has[i] && same[i].window() == min) {
          if (first) {
            program.readRow(same[i].stateInput(), acc.longs, 0, acc.objects, 0, x);
            first = false;
          } else {
            program.readRow(same[i].stateInput(), tmp.longs, 0, tmp.objects, 0, x);
            program.merge(acc.longs, 0, acc.objects, 0, tmp.longs, 0, tmp.objects, 0, x);
          }
          has[i] = same[i].nextWindow();
        }
      }
      sink.window(min, acc.longs, 0, acc.objects, 0);
    }
  }

  /** A binary min-heap of longs, allocation-free. */
  private static final class LongHeap {
    private final long[] heap;
    private int size;

    LongHeap(int capacity) {
      heap = new long[Math.max(1, capacity)];
    }

    boolean isEmpty() {
      return size == 0;
    }

    long peek() {
      return heap[0];
    }

    void push(long v) {
      int i = size++;
      while (i > 0) {
        int parent = (i - 1) >>> 1;
        long p = heap[parent];
        if (p <= v) {
          break;
        }
        heap[i] = p;
        i = parent;
      }
      heap[i] = v;
    }

    long pop() {
      long top = heap[0];
      long last = heap[--size];
      if (size > 0) {
        int i = 0;
        int half = size >>> 1;
        while (i < half) {
          int c = 2 * i + 1;
          long cv = heap[c];
          if (c + 1 < size && heap[c + 1] < cv) {
            c++;
            cv = heap[c];
          }
          if (last <= cv) {
            break;
          }
          heap[i] = cv;
          i = c;
        }
        heap[i] = last;
      }
      return top;
    }
  }

  /** One state row outside any table. */
  private static final class Row {
    final long[] longs;
    final Object[] objects;

    Row(ViewProgram p) {
      longs = new long[Math.max(1, p.longWidth)];
      objects = new Object[Math.max(1, p.objectWidth)];
    }
  }
}
