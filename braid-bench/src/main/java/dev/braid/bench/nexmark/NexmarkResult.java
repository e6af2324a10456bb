package dev.braid.bench.nexmark;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;

/**
 * The engine-neutral result of one query: its rows in ascending key order (see {@link NexmarkQuery}
 * for the keys and values), and the relative standard error of the engine's distinct counts
 * (0 when they are exact). Every engine, in whatever JVM, produces one, and {@link #compare} says
 * whether two agree.
 *
 * <h2>File form</h2>
 * A child JVM hands its result to the harness as NDJSON (never Java serialization): a header line,
 * then one line per row in ascending key order, the values named as in {@link NexmarkQuery#fields()}.
 *
 * <pre>
 *   {"query":"Q17","engine":"braid","distinctRse":0.01625,"rows":2}
 *   {"k":"a=000000000002,d=2026-01-01","bids":7,"bids_r1":2,"bids_r2":3,"bids_r3":2,"min_price":188,...,"avg_price":8.5E5}
 *   {"k":"a=000000000003,d=2026-01-01",...}
 * </pre>
 *
 * {@link #compareFiles} compares two such files row by row without loading them, so results of
 * tens of millions of rows (Q5) compare in constant memory.
 *
 * <h2>Agreement</h2>
 * Rows must have the same keys. {@link NexmarkQuery.Kind#EXACT} values must be equal,
 * {@link NexmarkQuery.Kind#AVERAGE} ones equal within {@value #AVERAGE_RELATIVE_ERROR} relative, and
 * {@link NexmarkQuery.Kind#DISTINCT} ones within {@value #SIGMAS} standard errors of the two sides'
 * sketches together: {@code |a - e| <= floor(SIGMAS * (rse_e + rse_a) * e)}, so two exact engines
 * must be equal, and so must small counts (below 6 with lgK = 12 sketches, whose few values the
 * sketches count exactly). Six standard errors: a correct HLL estimate falls outside with a
 * probability of about 2e-9 per value (normal approximation), negligible over the 10^5 values of a
 * run, while a wrong count (a dropped range, a double-counted partition) is off by far more.
 *
 * <p>A count that is a few per cent off everywhere hides inside each value's bound, so the
 * distinct values of more than {@value #BIAS_FROM} also have to agree <em>on average</em>, column by
 * column (one wrong column must not hide among right ones): the mean of their relative errors
 * {@code (a - e) / e} over a column's {@code n} values must be within
 * {@code SIGMAS * (rse_e + rse_a) / sqrt(n) + } {@value #BIAS_SLACK} (the errors of a correct sketch are
 * independent across values, so their mean shrinks with {@code sqrt(n)}; the slack covers the
 * estimator's own small bias). An engine 8 % low on every count fails this over as few as 8 values.
 */
public final class NexmarkResult {

  public static final double AVERAGE_RELATIVE_ERROR = 1e-9;
  public static final double SIGMAS = 6;
  /** Distinct counts above this take part in the mean-error check (smaller ones are near exact anyway). */
  public static final long BIAS_FROM = 64;
  /** What the mean relative error of distinct counts may be beyond its sampling bound. */
  public static final double BIAS_SLACK = 0.005;

  /** One row: {@code longs} as {@link NexmarkQuery#longFields()}, {@code doubles} as {@link NexmarkQuery#doubleFields()}. */
  public record Row(String key, long[] longs, double[] doubles) {}

  /** What a result file's first line says. */
  public record Header(NexmarkQuery query, String engine, double distinctRse) {}

  /** Receives rows; the arrays may be reused by the caller after the call. */
  public interface RowSink {
    void row(String key, long[] longs, double[] doubles);
  }

  private final NexmarkQuery query;
  private final String engine;
  private final double distinctRse;
  private final List<Row> rows;

  private NexmarkResult(NexmarkQuery query, String engine, double distinctRse, List<Row> rows) {
    this.query = query;
    this.engine = engine;
    this.distinctRse = distinctRse;
    this.rows = rows;
  }

  public NexmarkQuery query() {
    return query;
  }

  public String engine() {
    return engine;
  }

  public double distinctRse() {
    return distinctRse;
  }

  /** The rows in ascending key order (unmodifiable). */
  public List<Row> rows() {
    return rows;
  }

  /** The row of {@code key}, or null. */
  public Row row(String key) {
    int lo = 0;
    int hi = rows.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = rows.get(mid).key().compareTo(key);
      if (c == 0) {
        return rows.get(mid);
      }
      if (c < 0) {
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return null;
  }

  /** Value {@code field} of the row of {@code key} (an integer value), or null when there is no such row. */
  public Long value(String key, String field) {
    Row r = row(key);
    return r == null ? null : r.longs()[query.longIndex(field)];
  }

  /** Collects rows in any order; {@link #result()} sorts them. A key may be given once only. */
  public static final class Collector implements RowSink {
    private final NexmarkQuery query;
    private final String engine;
    private final double distinctRse;
    private final List<Row> rows = new ArrayList<>();

    public Collector(NexmarkQuery query, String engine, double distinctRse) {
      this.query = query;
      this.engine = engine;
      this.distinctRse = distinctRse;
    }

    @Override
    public void row(String key, long[] longs, double[] doubles) {
      checkShape(query, key, longs, doubles);
      rows.add(new Row(key, longs.clone(), doubles.clone()));
    }

    public NexmarkResult result() {
      List<Row> sorted = new ArrayList<>(rows);
      sorted.sort(Comparator.comparing(Row::key));
      for (int i = 1; i < sorted.size(); i++) {
        if (sorted.get(i).key().equals(sorted.get(i - 1).key())) {
          throw new IllegalStateException(engine + " produced row " + sorted.get(i).key() + " twice");
        }
      }
      return new NexmarkResult(query, engine, distinctRse, java.util.Collections.unmodifiableList(sorted));
    }
  }

  private static void checkShape(NexmarkQuery query, String key, long[] longs, double[] doubles) {
    if (key == null || longs.length != query.longFields().size() || doubles.length != query.doubleFields().size()) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "a %s row has a key, %d integer and %d "
              + "floating-point values; got key %s, %d and %d", query, query.longFields().size(),
          query.doubleFields().size(), key, longs.length, doubles.length));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Files
  // ---------------------------------------------------------------------------------------------

  private static final JsonFactory JSON = new JsonFactory();

  /** Writes this result as NDJSON (see the class comment). */
  public void write(Path file) throws IOException {
    try (FileWriter w = new FileWriter(file, query, engine, distinctRse)) {
      for (Row r : rows) {
        w.row(r.key(), r.longs(), r.doubles());
      }
    }
  }

  /**
   * Writes rows to an NDJSON result file as they come, in ascending key order (a key out of order
   * throws, naming both keys: an engine must emit rows sorted). The header's row count is not known
   * up front, so the header has none; {@link Reader} counts.
   */
  public static final class FileWriter implements RowSink, Closeable {
    private final NexmarkQuery query;
    private final BufferedWriter out;
    private final JsonGenerator json;
    private final String engine;
    private String last;
    private long rows;

    public FileWriter(Path file, NexmarkQuery query, String engine, double distinctRse) throws IOException {
      this.query = query;
      this.engine = engine;
      this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
      this.json = JSON.createGenerator(out);
      json.setRootValueSeparator(null);
      json.writeStartObject();
      json.writeStringField("query", query.name());
      json.writeStringField("engine", engine);
      json.writeNumberField("distinctRse", distinctRse);
      json.writeEndObject();
      json.flush();
      out.write('\n');
    }

    @Override
    public void row(String key, long[] longs, double[] doubles) {
      checkShape(query, key, longs, doubles);
      if (last != null && last.compareTo(key) >= 0) {
        throw new IllegalStateException(engine + " emitted row " + key + " after " + last
            + ": rows must come in ascending key order, each once");
      }
      last = key;
      rows++;
      try {
        json.writeStartObject();
        json.writeStringField("k", key);
        List<NexmarkQuery.Field> lf = query.longFields();
        for (int i = 0; i < longs.length; i++) {
          json.writeNumberField(lf.get(i).name(), longs[i]);
        }
        List<NexmarkQuery.Field> df = query.doubleFields();
        for (int i = 0; i < doubles.length; i++) {
          json.writeNumberField(df.get(i).name(), doubles[i]);
        }
        json.writeEndObject();
        json.flush();
        out.write('\n');
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    public long rows() {
      return rows;
    }

    @Override
    public void close() throws IOException {
      json.close();
      out.close();
    }
  }

  /** Reads an NDJSON result file row by row (see the class comment). */
  public static final class Reader implements Iterator<Row>, Closeable {
    private final BufferedReader in;
    private final Path file;
    private final NexmarkQuery query;
    private final String engine;
    private final double distinctRse;
    private Row next;
    private long line = 1;

    public Reader(Path file) throws IOException {
      this.file = file;
      this.in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
      String header = in.readLine();
      if (header == null) {
        throw new IOException(file + " is empty: not a Nexmark result");
      }
      String q = null;
      String e = null;
      double rse = Double.NaN;
      try (JsonParser p = JSON.createParser(header)) {
        expect(p.nextToken() == JsonToken.START_OBJECT, "a header object");
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          p.nextToken();
          switch (name) {
            case "query" -> q = p.getText();
            case "engine" -> e = p.getText();
            case "distinctRse" -> rse = p.getDoubleValue();
            default -> p.skipChildren();
          }
        }
      }
      expect(q != null && e != null && !Double.isNaN(rse), "a header with query, engine and distinctRse");
      this.query = NexmarkQuery.parse(q);
      this.engine = e;
      this.distinctRse = rse;
      advance();
    }

    /** The file's header. */
    public Header header() {
      return new Header(query, engine, distinctRse);
    }

    @Override
    public boolean hasNext() {
      return next != null;
    }

    @Override
    public Row next() {
      if (next == null) {
        throw new NoSuchElementException();
      }
      Row r = next;
      advance();
      return r;
    }

    private void advance() {
      try {
        String text = in.readLine();
        line++;
        if (text == null) {
          next = null;
          return;
        }
        long[] longs = new long[query.longFields().size()];
        double[] doubles = new double[query.doubleFields().size()];
        String key = null;
        try (JsonParser p = JSON.createParser(text)) {
          expect(p.nextToken() == JsonToken.START_OBJECT, "a row object");
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            if (name.equals("k")) {
              key = p.getText();
            } else {
              boolean found = false;
              for (int i = 0; i < longs.length && !found; i++) {
                if (query.longFields().get(i).name().equals(name)) {
                  longs[i] = p.getLongValue();
                  found = true;
                }
              }
              for (int i = 0; i < doubles.length && !found; i++) {
                if (query.doubleFields().get(i).name().equals(name)) {
                  doubles[i] = p.getDoubleValue();
                  found = true;
                }
              }
              expect(found, "only values of " + query + ", not '" + name + "'");
            }
          }
        }
        expect(key != null, "a row key 'k'");
        next = new Row(key, longs, doubles);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private void expect(boolean ok, String what) throws IOException {
      if (!ok) {
        throw new IOException(file + " line " + line + ": expected " + what);
      }
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }

  /** Reads a whole result file into memory. */
  public static NexmarkResult read(Path file) throws IOException {
    try (Reader r = new Reader(file)) {
      List<Row> rows = new ArrayList<>();
      r.forEachRemaining(rows::add);
      Header h = r.header();
      return new NexmarkResult(h.query(), h.engine(), h.distinctRse(), java.util.Collections.unmodifiableList(rows));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Comparison
  // ---------------------------------------------------------------------------------------------

  /**
   * What a comparison found.
   *
   * @param differences how many rows differ (missing, extra or with a value out of bounds)
   * @param examples the first differences, each naming the row, the field, both values and the engine
   */
  public record Comparison(long rowsCompared, long differences, List<String> examples) {
    public boolean agree() {
      return differences == 0;
    }
  }

  /** Compares an engine's result with the expected one (see the class comment); reports up to 20 differences. */
  public static Comparison compare(NexmarkResult expected, NexmarkResult actual, String engineName) {
    if (expected.query != actual.query) {
      throw new IllegalArgumentException("cannot compare a " + expected.query + " result with a " + actual.query
          + " one");
    }
    return compare(expected.query, expected.rows.iterator(), expected.distinctRse, expected.engine,
        actual.rows.iterator(), actual.distinctRse, engineName, 20);
  }

  /** Compares two result files row by row, in constant memory; reports up to {@code maxExamples} differences. */
  public static Comparison compareFiles(Path expected, Path actual, String engineName, int maxExamples)
      throws IOException {
    try (Reader e = new Reader(expected); Reader a = new Reader(actual)) {
      Header eh = e.header();
      Header ah = a.header();
      if (eh.query() != ah.query()) {
        throw new IllegalArgumentException(expected + " is a " + eh.query() + " result, " + actual + " a "
            + ah.query() + " one");
      }
      return compare(eh.query(), e, eh.distinctRse(), eh.engine(), a, ah.distinctRse(), engineName, maxExamples);
    }
  }

  /**
   * Compares two row streams in ascending key order.
   *
   * @param expectedName what the expected side is called in messages (e.g. {@code naive})
   * @param actualName the engine under test, named in every difference
   */
  public static Comparison compare(NexmarkQuery query, Iterator<Row> expected, double expectedRse,
      String expectedName, Iterator<Row> actual, double actualRse, String actualName, int maxExamples) {
    List<String> examples = new ArrayList<>();
    long compared = 0;
    long differences = 0;
    // per long field: the sum of the relative errors of its large distinct counts, and their number
    double[] bias = new double[2 * query.longFields().size()];
    Row e = expected.hasNext() ? expected.next() : null;
    Row a = actual.hasNext() ? actual.next() : null;
    while (e != null || a != null) {
      int c = e == null ? 1 : a == null ? -1 : e.key().compareTo(a.key());
      String difference;
      if (c < 0) {
        difference = String.format(Locale.ROOT, "%s: row %s is missing (%s has it)", actualName, e.key(),
            expectedName);
        e = expected.hasNext() ? expected.next() : null;
      } else if (c > 0) {
        difference = String.format(Locale.ROOT, "%s: row %s is extra (%s has no such row)", actualName, a.key(),
            expectedName);
        a = actual.hasNext() ? actual.next() : null;
      } else {
        compared++;
        difference = compareRow(query, e, expectedRse, expectedName, a, actualRse, actualName, bias);
        e = expected.hasNext() ? expected.next() : null;
        a = actual.hasNext() ? actual.next() : null;
      }
      if (difference != null) {
        differences++;
        if (examples.size() < maxExamples) {
          examples.add(difference);
        }
      }
    }
    for (int f = query.longFields().size() - 1; f >= 0; f--) {
      String skew = meanError(bias[2 * f], (long) bias[2 * f + 1], query.longFields().get(f).name(),
          expectedRse + actualRse, expectedName, actualName);
      if (skew != null) { // the summary of many rows: first, where a reader looks
        differences++;
        examples.add(0, skew);
        if (examples.size() > Math.max(1, maxExamples)) {
          examples.remove(examples.size() - 1);
        }
      }
    }
    return new Comparison(compared, differences, List.copyOf(examples));
  }

  /** The mean-error check of the class comment: a difference, or null when the mean is within its bound. */
  private static String meanError(double sum, long n, String field, double rse, String expectedName,
      String actualName) {
    if (n == 0) {
      return null;
    }
    double mean = sum / n;
    double bound = SIGMAS * rse / Math.sqrt(n) + BIAS_SLACK;
    if (Math.abs(mean) <= bound) {
      return null;
    }
    return String.format(Locale.ROOT, "%s: distinct counts of %s are %.2f %% %s than %s's on average over %,d "
        + "values above %d (allowed %.2f %%): a systematic error, not a sketch's", actualName, field,
        Math.abs(mean) * 100, mean < 0 ? "lower" : "higher", expectedName, n, BIAS_FROM, bound * 100);
  }

  private static String compareRow(NexmarkQuery query, Row e, double expectedRse, String expectedName, Row a,
      double actualRse, String actualName, double[] bias) {
    List<NexmarkQuery.Field> lf = query.longFields();
    for (int i = 0; i < lf.size(); i++) {
      long want = e.longs()[i];
      long got = a.longs()[i];
      boolean distinct = lf.get(i).kind() == NexmarkQuery.Kind.DISTINCT;
      long allowed = distinct ? (long) Math.floor(SIGMAS * (expectedRse + actualRse) * Math.abs(want)) : 0;
      if (distinct && want > BIAS_FROM) {
        bias[2 * i] += (double) (got - want) / want;
        bias[2 * i + 1]++;
      }
      if (Math.abs(got - want) > allowed) {
        return String.format(Locale.ROOT, "%s: row %s field %s is %d, %s has %d%s", actualName, e.key(),
            lf.get(i).name(), got, expectedName, want, allowed == 0 ? "" : " (allowed difference " + allowed + ")");
      }
    }
    List<NexmarkQuery.Field> df = query.doubleFields();
    for (int i = 0; i < df.size(); i++) {
      double want = e.doubles()[i];
      double got = a.doubles()[i];
      double scale = Math.max(Math.abs(want), Math.abs(got));
      if (!(Math.abs(got - want) <= AVERAGE_RELATIVE_ERROR * scale)) {
        return String.format(Locale.ROOT, "%s: row %s field %s is %s, %s has %s (relative difference above %.0e)",
            actualName, e.key(), df.get(i).name(), got, expectedName, want, AVERAGE_RELATIVE_ERROR);
      }
    }
    return null;
  }
}
