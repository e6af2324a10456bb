package dev.braid.table;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.event.FieldType;
import dev.braid.spec.TableFieldType;
import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads a push's input in parallel: the calling thread cuts the stream into chunks of whole lines,
 * {@code threads} workers parse them (one {@link PushFormat.Parser} and one {@link RowEncoder}
 * each) into encoded entries, and a consumer receives the chunks' entries in input order (so a
 * later line of the same key wins, and line numbers are exact). Buffers are pooled: parsing and
 * encoding allocate nothing per row for scalar fields.
 *
 * <p>An entry is laid out as {@link TableBase} stores it: key hash, key, last-write millis, row.
 */
final class PushLoader {

  static final int CHUNK = 4 << 20;
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long NEWLINES = 0x0a0a0a0a0a0a0a0aL;
  private static final long LOW7 = 0x7f7f7f7f7f7f7f7fL;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One parsed chunk, in input order. */
  static final class Chunk {
    final Bytes entries = new Bytes(CHUNK + (CHUNK >> 1));
    final List<long[]> badLines = new ArrayList<>(); // {local line}
    final List<String> badReasons = new ArrayList<>();
    int lines;
    long rows;
    long expired;
    long inputBytes;

    void clear() {
      entries.clear();
      badLines.clear();
      badReasons.clear();
      lines = 0;
      rows = 0;
      expired = 0;
      inputBytes = 0;
    }
  }

  /** Receives chunks in input order on one thread; returns false to stop the load. */
  interface Consumer {
    boolean accept(Chunk chunk, long firstLine) throws IOException;
  }

  private final TableLayout layout;
  private final PushFormat format;
  private final ExecutorService workers;
  private final int threads;
  private final long pushTime;
  private final long ttlCutoff;
  final AtomicLong bytesRead = new AtomicLong();

  PushLoader(TableLayout layout, PushFormat format, ExecutorService workers, int threads, long pushTime,
      long ttlCutoff) {
    this.layout = layout;
    this.format = format;
    this.workers = workers;
    this.threads = threads;
    this.pushTime = pushTime;
    this.ttlCutoff = ttlCutoff;
  }

  /**
   * Loads {@code in} to its end (or until the consumer says stop); returns the number of header
   * lines read.
   *
   * @throws IllegalArgumentException when the format refuses the header
   */
  int load(InputStream in, Consumer consumer) throws IOException, InterruptedException {
    int inflight = threads * 2 + 1;
    BlockingQueue<byte[]> inputs = new ArrayBlockingQueue<>(inflight + 2);
    BlockingQueue<Chunk> outputs = new ArrayBlockingQueue<>(inflight + 2);
    for (int i = 0; i < inflight + 2; i++) {
      inputs.add(new byte[CHUNK]);
      outputs.add(new Chunk());
    }
    BlockingQueue<PushFormat.Parser> parsers = new ArrayBlockingQueue<>(threads);
    BlockingQueue<RowEncoder> encoders = new ArrayBlockingQueue<>(threads);
    byte[] buf = inputs.take();
    int have = 0;
    int headerLines = format.headerLines();
    String header = null;
    // header lines
    int consumed = 0;
    if (headerLines > 0) {
      have = fill(in, buf, 0);
      int at = 0;
      for (int l = 0; l < headerLines; l++) {
        while (at < have && buf[at] != '\n') {
          at++;
        }
        if (at >= have && have == buf.length) {
          throw new IllegalArgumentException("header line is longer than " + CHUNK + " bytes");
        }
        at = Math.min(have, at + 1);
      }
      header = new String(buf, 0, at, StandardCharsets.UTF_8);
      consumed = at;
      bytesRead.addAndGet(at); // the report's bytes are the file's
    }
    for (int i = 0; i < threads; i++) {
      parsers.add(format.parser(fieldsView(), header));
      encoders.add(new RowEncoder(layout, pushTime, ttlCutoff));
    }
    if (consumed > 0) {
      System.arraycopy(buf, consumed, buf, 0, have - consumed);
      have -= consumed;
    }
    BlockingQueue<Future<Chunk>> order = new ArrayBlockingQueue<>(inflight);
    final long[] lineBase = {headerLines}; // the drain's; read here after its join
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicReference<Throwable> consumerError =
        new java.util.concurrent.atomic.AtomicReference<>();
    // Once stopped (the consumer said so or threw, or a parse failed) the drain goes on taking the chunks
    // in flight without consuming them, and hands their buffers back, until the reader's end mark: a
    // reader blocked on a full queue or on a free chunk always wakes, and sees the stop at its next read.
    Thread drain = new Thread(() -> {
      try {
        while (true) {
          Future<Chunk> f = order.take();
          Chunk c;
          try {
            c = f.get();
          } catch (ExecutionException | java.util.concurrent.CancellationException e) {
            // a task that failed, or that a close's shutdownNow dropped before it ran (and cancelled)
            consumerError.compareAndSet(null, e instanceof ExecutionException ee ? ee.getCause() : e);
            stop.set(true);
            outputs.add(new Chunk()); // in place of the task's, which never comes back
            if (e instanceof java.util.concurrent.CancellationException) {
              inputs.add(new byte[CHUNK]); // nor does the buffer of a task that never ran
            }
            continue;
          }
          if (c == null) {
            return;
          }
          if (!stop.get()) {
            try {
              if (!consumer.accept(c, lineBase[0])) {
                stop.set(true);
              }
            } catch (Throwable t) {
              consumerError.compareAndSet(null, t);
              stop.set(true);
            }
          }
          lineBase[0] += c.lines;
          c.clear();
          outputs.add(c);
        }
      } catch (InterruptedException e) { // no one interrupts it; the reader's join would return regardless
        consumerError.compareAndSet(null, e);
        stop.set(true);
      }
    }, "braid-push-writer");
    drain.setDaemon(true);
    drain.start();
    boolean tooLong = false;
    try {
      boolean eof = false;
      while (!eof && !stop.get()) {
        int n = fill(in, buf, have);
        eof = n < buf.length;
        int cut = n;
        if (!eof) {
          cut = format.lastRecordEnd(buf, n) + 1;
          if (cut == 0) {
            tooLong = true; // its line number is known once the chunks before it are counted
            break;
          }
        }
        byte[] chunkBuf = buf;
        int chunkLen = cut;
        byte[] next = inputs.take();
        System.arraycopy(buf, cut, next, 0, n - cut);
        have = n - cut;
        buf = next;
        bytesRead.addAndGet(chunkLen);
        if (chunkLen == 0) {
          inputs.add(chunkBuf);
          continue;
        }
        Chunk out = outputs.take();
        out.inputBytes = chunkLen;
        order.put(workers.submit(() -> {
          PushFormat.Parser parser = null;
          RowEncoder enc = null;
          try { // interrupted while waiting for a parser (a close's shutdownNow), it still hands its buffer back
            parser = parsers.take();
            enc = encoders.take();
            enc.reset(out);
            parser.parse(chunkBuf, 0, chunkLen, enc);
            enc.finishChunk();
            out.lines = countLines(chunkBuf, chunkLen);
            return out;
          } finally {
            if (enc != null) {
              encoders.add(enc);
            }
            if (parser != null) {
              parsers.add(parser);
            }
            inputs.add(chunkBuf);
          }
        }));
      }
    } finally {
      order.put(java.util.concurrent.CompletableFuture.completedFuture(null));
      drain.join();
    }
    Throwable failed = consumerError.get();
    if (tooLong && failed == null) {
      throw new IllegalArgumentException("the row at line " + (lineBase[0] + 1) + " is longer than " + CHUNK
          + " bytes (a row must fit in " + (CHUNK >> 20) + " MiB)" + (format.name().equals("csv")
          ? "; in CSV a quote that opens a cell and is never closed makes the rest of the input one row" : ""));
    }
    if (failed instanceof IOException io) {
      throw io;
    }
    if (failed instanceof RuntimeException re) {
      throw re;
    }
    if (failed != null) {
      throw new IllegalStateException(failed);
    }
    return headerLines;
  }

  private PushFormat.RowSink.Fields fieldsView() {
    return new PushFormat.RowSink.Fields() {
      @Override
      public int index(String name) {
        return layout.index(name);
      }

      @Override
      public List<String> names() {
        return layout.fieldNames();
      }

      @Override
      public String keyName() {
        return layout.names[layout.keyIndex];
      }

      @Override
      public boolean isString(int field) {
        TableFieldType t = layout.types[field];
        return !t.isCollection() && t.element() == FieldType.STRING;
      }
    };
  }

  /** Lines in {@code b[0, len)}: its newlines, plus one for a last line without a newline. */
  static int countLines(byte[] b, int len) {
    int n = 0;
    int i = 0;
    // Eight bytes at a time: a byte of x is zero where b has '\n'. (x & 0x7f..) + 0x7f.. sets each
    // byte's high bit unless its low seven bits are zero; or-ing x itself in covers the high bit,
    // so exactly the zero bytes keep their high bit clear, and no carry crosses a byte.
    for (; i + 8 <= len; i += 8) {
      long x = (long) LONGS.get(b, i) ^ NEWLINES;
      long y = ~(((x & LOW7) + LOW7) | x | LOW7);
      n += Long.bitCount(y);
    }
    for (; i < len; i++) {
      if (b[i] == '\n') {
        n++;
      }
    }
    return len > 0 && b[len - 1] != '\n' ? n + 1 : n;
  }

  private static int fill(InputStream in, byte[] buf, int from) throws IOException {
    int n = from;
    while (n < buf.length) {
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        break;
      }
      n += r;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // RowEncoder
  // ---------------------------------------------------------------------------------------------

  /** Checks each field against its type and encodes rows into a chunk's entries; one per thread. */
  static final class RowEncoder implements PushFormat.RowSink {
    private final TableLayout layout;
    private final long pushTime;
    private final long ttlCutoff;
    private final Bytes vals = new Bytes(4096);
    private final int[] start;
    private final int[] len;
    private final boolean[] set;
    private final Bytes keyBytes = new Bytes(64);
    private Chunk out;
    private String reason;
    private int line;
    private boolean open;

    RowEncoder(TableLayout layout, long pushTime, long ttlCutoff) {
      this.layout = layout;
      this.pushTime = pushTime;
      this.ttlCutoff = ttlCutoff;
      start = new int[layout.size()];
      len = new int[layout.size()];
      set = new boolean[layout.size()];
    }

    void reset(Chunk out) {
      this.out = out;
      open = false;
    }

    void finishChunk() {
      out = null;
    }

    @Override
    public void begin(int line) {
      this.line = line;
      reason = null;
      vals.clear();
      java.util.Arrays.fill(set, false);
      open = true;
    }

    private boolean take(int f) {
      if (reason != null) {
        return false;
      }
      if (set[f]) {
        fail("field '" + layout.names[f] + "' appears twice");
        return false;
      }
      set[f] = true;
      start[f] = vals.len;
      return true;
    }

    private void done(int f) {
      len[f] = vals.len - start[f];
    }

    private void mismatch(int f, String got) {
      set[f] = false;
      fail(layout.describe(f) + ": expected " + layout.types[f].specName() + ", got " + got);
    }

    private FieldType scalarType(int f) {
      TableFieldType t = layout.types[f];
      return t.isCollection() ? null : t.element();
    }

    @Override
    public void string(int f, char[] c, int off, int n) {
      if (!take(f)) {
        return;
      }
      FieldType t = scalarType(f);
      if (t == FieldType.STRING) {
        if (!vals.putString(c, off, n)) {
          set[f] = false;
          fail(layout.describe(f) + ": " + dev.braid.event.EventEncoder.notUnicode(new String(c, off, n)));
          return;
        }
      } else if (t == FieldType.TIMESTAMP) {
        try {
          vals.putLong(RowCodec.parseTimestamp(layout, f, new String(c, off, n)));
        } catch (IllegalArgumentException e) {
          set[f] = false;
          fail(e.getMessage());
          return;
        }
      } else {
        String s = new String(c, off, Math.min(n, 40));
        mismatch(f, "string \"" + s + (n > 40 ? "...\"" : "\""));
        return;
      }
      done(f);
    }

    @Override
    public void longValue(int f, long v) {
      if (!take(f)) {
        return;
      }
      FieldType t = scalarType(f);
      if (t == FieldType.LONG || t == FieldType.TIMESTAMP) {
        vals.putLong(v);
      } else if (t == FieldType.DOUBLE) {
        vals.putLong(Double.doubleToRawLongBits(v));
      } else {
        mismatch(f, "number " + v);
        return;
      }
      done(f);
    }

    @Override
    public void doubleValue(int f, double v) {
      if (!take(f)) {
        return;
      }
      FieldType t = scalarType(f);
      if (t == FieldType.DOUBLE) {
        String problem = dev.braid.event.EventEncoder.notFinite(v);
        if (problem != null) {
          set[f] = false;
          fail(layout.describe(f) + ": " + problem);
          return;
        }
        vals.putLong(Double.doubleToRawLongBits(v));
      } else if (t == FieldType.LONG && v == Math.rint(v) && Math.abs(v) < 9.007199254740992E15) {
        vals.putLong((long) v);
      } else {
        mismatch(f, "number " + v);
        return;
      }
      done(f);
    }

    @Override
    public void booleanValue(int f, boolean v) {
      if (!take(f)) {
        return;
      }
      if (scalarType(f) != FieldType.BOOLEAN) {
        mismatch(f, "boolean " + v);
        return;
      }
      vals.put((byte) (v ? 1 : 0));
      done(f);
    }

    @Override
    public void text(int f, String text) {
      TableFieldType t = layout.types[f];
      if (t.isCollection()) {
        Object v;
        try {
          v = JSON.readValue(text, Object.class);
        } catch (IOException e) {
          fail(layout.describe(f) + ": not JSON: " + text);
          return;
        }
        collection(f, v);
        return;
      }
      switch (t.element()) {
        case STRING:
          char[] c = text.toCharArray();
          string(f, c, 0, c.length);
          return;
        case LONG:
          Long l = CsvRecords.wholeNumber(text.strip());
          if (l != null) {
            longValue(f, l);
          } else if (take(f)) {
            mismatch(f, "'" + text + "'");
          }
          return;
        case TIMESTAMP:
          String ts = text.strip();
          Long millis = CsvRecords.wholeNumber(ts);
          if (millis != null) {
            longValue(f, millis);
          } else { // ISO-8601 text; the text path says what is wrong with anything else
            char[] tc = ts.toCharArray();
            string(f, tc, 0, tc.length);
          }
          return;
        case DOUBLE:
          String d = text.strip();
          double x = CsvRecords.decimal(d);
          if (x == x) {
            doubleValue(f, x);
          } else if (take(f)) {
            mismatch(f, "'" + text + "'");
          }
          return;
        default:
          String b = text.strip();
          if (b.equalsIgnoreCase("true") || b.equalsIgnoreCase("false")) {
            booleanValue(f, b.equalsIgnoreCase("true"));
          } else if (take(f)) {
            mismatch(f, "'" + text + "'");
          }
      }
    }

    @Override
    public void collection(int f, Object value) {
      if (!take(f)) {
        return;
      }
      TableFieldType t = layout.types[f];
      if (!t.isCollection()) {
        mismatch(f, value instanceof List ? "a list" : "an object");
        return;
      }
      try {
        RowCodec.encodeCollection(layout, f, value, vals);
      } catch (IllegalArgumentException e) {
        set[f] = false;
        fail(e.getMessage());
        return;
      }
      done(f);
    }

    @Override
    public void nullValue(int f) {
      if (take(f)) {
        set[f] = false; // absent
      }
    }

    @Override
    public void fail(String why) {
      if (reason == null) {
        reason = why;
      }
    }

    @Override
    public void end() {
      if (!open) {
        return;
      }
      open = false;
      int k = layout.keyIndex;
      if (reason == null && !set[k]) {
        reason = "missing the key field '" + layout.names[k] + "'";
      }
      if (reason != null) {
        out.badLines.add(new long[] {line});
        out.badReasons.add(reason);
        return;
      }
      long writtenAt = pushTime;
      if (layout.timeIndex >= 0 && set[layout.timeIndex]) {
        writtenAt = readLong(vals.buf, start[layout.timeIndex]);
        if (writtenAt < dev.braid.event.EventEncoder.MIN_EVENT_TIME
            || writtenAt > dev.braid.event.EventEncoder.MAX_EVENT_TIME) {
          // an incremental row is a write stamped with it: one far ahead would win over every later write, and
          // a pushed row so timed would never expire
          out.badLines.add(new long[] {line});
          out.badReasons.add("field '" + layout.names[layout.timeIndex] + "' (the table's time, a row's last-write "
              + "time): " + java.time.Instant.ofEpochMilli(writtenAt) + " (epoch milliseconds " + writtenAt
              + ") is out of range: it must lie in the years 0000-9999, as a write's timestamp does");
          return;
        }
      }
      if (writtenAt < ttlCutoff) {
        out.expired++;
        return;
      }
      keyBytes.clear();
      if (layout.types[k].element() == FieldType.LONG) {
        byte[] d = Long.toString(readLong(vals.buf, start[k])).getBytes(StandardCharsets.US_ASCII);
        keyBytes.put(d, 0, d.length);
      } else {
        int p = start[k];
        int n = 0;
        int shift = 0;
        while (true) {
          int b = vals.buf[p++] & 0xff;
          n |= (b & 0x7f) << shift;
          if ((b & 0x80) == 0) {
            break;
          }
          shift += 7;
        }
        keyBytes.put(vals.buf, p, n);
      }
      Bytes e = out.entries;
      e.putInt(TableBase.hash(keyBytes.buf, 0, keyBytes.len));
      e.putInt(keyBytes.len);
      e.put(keyBytes.buf, 0, keyBytes.len);
      e.putLong(writtenAt);
      int rowLenAt = e.len;
      e.putInt(0);
      int rowStart = e.len;
      int n = layout.size();
      int bm = RowCodec.bitmapBytes(n);
      e.ensure(bm);
      for (int i = 0; i < bm; i++) {
        e.buf[e.len + i] = 0;
      }
      int bmAt = e.len;
      e.len += bm;
      for (int f = 0; f < n; f++) {
        if (set[f]) {
          e.buf[bmAt + (f >>> 3)] |= (byte) (1 << (f & 7));
          e.put(vals.buf, start[f], len[f]);
        }
      }
      e.putIntAt(rowLenAt, e.len - rowStart);
      out.rows++;
    }

    private static long readLong(byte[] b, int p) {
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (b[p + i] & 0xff);
      }
      return v;
    }
  }
}
