package dev.braid.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.StringJoiner;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * The DuckDB peer of the batch recompute, run in its own JVM: an in-memory database, the
 * benchmark's events loaded into a table {@code events(key VARCHAR, amount BIGINT, ts BIGINT)}
 * through the appender (not timed), then the same view as one statement, timed:
 *
 * <pre>
 *   CREATE OR REPLACE TABLE totals AS
 *     SELECT key, count(*) AS n, sum(amount)::BIGINT AS total FROM events GROUP BY key
 * </pre>
 *
 * The result is materialized as a table, as Braid's batch layer writes its Base; {@code threads} is
 * set to {@code --duckdb-threads}.
 */
final class DuckDbViewsRun {

  static final String QUERY = "CREATE OR REPLACE TABLE totals AS "
      + "SELECT key, count(*) AS n, sum(amount)::BIGINT AS total FROM events GROUP BY key";

  private final ViewsBenchmark o;
  private final ViewsBenchmark.Results out;

  DuckDbViewsRun(ViewsBenchmark options, ViewsBenchmark.Results out) {
    this.o = options;
    this.out = out;
  }

  void run() throws SQLException {
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
      s.execute("SET threads = " + o.duckdbThreads);
      s.execute("CREATE TABLE events (key VARCHAR, amount BIGINT, ts BIGINT)");
      long t0 = System.nanoTime();
      load(c.unwrap(DuckDBConnection.class), o.events, o.keys);
      o.progress("duckdb: loaded %,d events into a table in %.1f s (not timed)", o.events,
          (System.nanoTime() - t0) / 1e9);
      for (int r = 0; r < o.warmup + o.runs; r++) {
        boolean measured = r >= o.warmup;
        long cpu0 = BraidViewsRun.processCpuNanos();
        long q0 = System.nanoTime();
        s.execute(QUERY);
        long nanos = System.nanoTime() - q0;
        long cpu = BraidViewsRun.processCpuNanos() - cpu0;
        double rate = o.events / (nanos / 1e9);
        o.progress("duckdb %s %d: GROUP BY of %,d events into a table in %.0f ms: %.2f M events/s; the process used "
                + "%.0f ms of CPU: %.2f M events per CPU-second", measured ? "run" : "warm-up",
            measured ? r - o.warmup + 1 : r + 1, o.events, nanos / 1e6, rate / 1e6, cpu / 1e6,
            o.events / (cpu / 1e9) / 1e6);
        if (measured) {
          out.add("duckdb.rate", rate);
          out.add("duckdb.cpuRate", o.events / (cpu / 1e9));
        }
      }
      answers(s);
    }
  }

  static void load(DuckDBConnection c, long events, int keys) throws SQLException {
    try (DuckDBAppender a = c.createAppender(DuckDBConnection.DEFAULT_SCHEMA, "events")) {
      for (long i = 0; i < events; i++) {
        a.beginRow().append(ViewsEvents.keyString(ViewsEvents.keyIndex(i, keys))).append(ViewsEvents.amount(i))
            .append(ViewsEvents.eventTime(i)).endRow();
      }
    }
  }

  private void answers(Statement s) throws SQLException {
    StringJoiner in = new StringJoiner("','", "('", "')");
    int[] samples = ViewsEvents.sampleKeys(o.keys, o.samples);
    for (int k : samples) {
      in.add(ViewsEvents.keyString(k));
    }
    int found = 0;
    try (ResultSet rs = s.executeQuery("SELECT key, n, total FROM totals WHERE key IN " + in)) {
      while (rs.next()) {
        out.answer("duckdb", rs.getString(1), rs.getLong(2), rs.getLong(3));
        found++;
      }
    }
    // keys no event produced have no row: report them as (0, 0), as the other engines do
    if (found < samples.length) {
      for (int k : samples) {
        out.answerIfAbsent("duckdb", ViewsEvents.keyString(k), 0, 0);
      }
    }
  }
}
