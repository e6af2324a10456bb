package dev.braid.bench.nexmark;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * DuckDB (JDBC, in-memory database, {@code threads = parallelism}) as the batch peer: the bids are
 * written to a CSV file ({@link NexmarkEmitters#toCsv}, not measured), loaded into a table
 * {@code bids} with DuckDB's CSV reader (timed, reported as {@code loadSeconds}, not part of the
 * rate), and each measured run is one statement that materializes the query's result as a table,
 * as Braid's batch layer writes a Base:
 *
 * <pre>
 *   CREATE OR REPLACE TABLE result AS SELECT ... FROM bids GROUP BY ...
 * </pre>
 *
 * Price-range splits are {@code count(...) FILTER (WHERE ...)}, distinct counts
 * {@code count(DISTINCT ...)} (exact), days {@code ts // 86400000}, Q5's hopping windows an
 * {@code unnest} of the five window starts of each bid. Keys are formatted in Java when the
 * result is read (not measured), with {@link NexmarkQuery}'s key functions.
 */
final class DuckDbNexmark implements NexmarkEngine {

  static final String NAME = "duckdb";

  @Override
  public List<String> modes() {
    return List.of("batch");
  }

  @Override
  public double distinctRse(String mode) {
    return 0;
  }

  private static String ranked(String aggregate, String name) {
    String r1 = "price < " + NexmarkGenerator.RANK1_BELOW;
    String r2 = "price >= " + NexmarkGenerator.RANK1_BELOW + " AND price < " + NexmarkGenerator.RANK2_BELOW;
    String r3 = "price >= " + NexmarkGenerator.RANK2_BELOW;
    return aggregate + " AS " + name + ", " + aggregate + " FILTER (WHERE " + r1 + ") AS " + name + "_r1, "
        + aggregate + " FILTER (WHERE " + r2 + ") AS " + name + "_r2, " + aggregate + " FILTER (WHERE " + r3
        + ") AS " + name + "_r3";
  }

  /** The statement of {@code query}; its columns are the key parts, then the values in {@link NexmarkQuery} order. */
  static String sql(NexmarkQuery query) {
    String counts = ranked("count(*)", "bids") + ", " + ranked("count(DISTINCT bidder)", "bidders") + ", "
        + ranked("count(DISTINCT auction)", "auctions");
    String day = "ts // " + NexmarkQuery.DAY_MILLIS;
    String select = switch (query) {
      case Q15 -> "SELECT " + day + " AS day, " + counts + " FROM bids GROUP BY day";
      case Q16 -> "SELECT channel, " + day + " AS day, " + counts
          + " FROM bids GROUP BY channel, day";
      case Q17 -> "SELECT auction, " + day + " AS day, " + ranked("count(*)", "bids")
          + ", min(price) AS min_price, max(price) AS max_price, sum(price)::BIGINT AS sum_price, avg(price) AS avg_price"
          + " FROM bids GROUP BY auction, day";
      case Q5 -> {
        long every = NexmarkQuery.Q5_EVERY_MILLIS;
        long back = NexmarkQuery.Q5_SIZE_MILLIS - every;
        yield "SELECT auction, w, count(*) AS bids FROM (SELECT auction, unnest(generate_series((ts // " + every
            + ") * " + every + " - " + back + ", (ts // " + every + ") * " + every + ", " + every
            + ")) AS w FROM bids) GROUP BY auction, w";
      }
      case Q7 -> "SELECT (ts // " + NexmarkQuery.Q7_SIZE_MILLIS + ") * " + NexmarkQuery.Q7_SIZE_MILLIS
          + " AS w, max(price) AS max_price FROM bids GROUP BY w";
      default -> throw new IllegalStateException("no SQL for " + query);
    };
    return "CREATE OR REPLACE TABLE result AS " + select;
  }

  @Override
  public Report run(Task task, NexmarkResult.RowSink result) throws Exception {
    Path csv = task.workDir().resolve("bids.csv");
    long t0 = System.nanoTime();
    long bids = NexmarkEmitters.toCsv(new NexmarkGenerator(task.config()), 0, task.events(), csv);
    double writeSeconds = (System.nanoTime() - t0) / 1e9;
    task.progress().accept(String.format(Locale.ROOT, "duckdb: wrote %,d bids to %s in %.1f s (not measured)", bids,
        csv, writeSeconds));
    List<Measurement> runs = new ArrayList<>();
    try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
      s.execute("SET threads = " + task.parallelism());
      long l0 = System.nanoTime();
      s.execute("CREATE TABLE bids AS SELECT * FROM read_csv('" + csv.toString().replace("'", "''")
          + "', header = true, columns = {'auction': 'BIGINT', 'bidder': 'BIGINT', 'price': 'BIGINT', "
          + "'channel': 'VARCHAR', 'ts': 'BIGINT'})");
      double loadSeconds = (System.nanoTime() - l0) / 1e9;
      task.progress().accept(String.format(Locale.ROOT, "duckdb: loaded the CSV into a table in %.2f s "
          + "(reported apart, not in the rate)", loadSeconds));
      String sql = sql(task.query());
      for (int r = 0; r < task.warmup() + task.runs(); r++) {
        long cpu0 = NexmarkEngine.processCpuNanos();
        long q0 = System.nanoTime();
        s.execute(sql);
        long nanos = System.nanoTime() - q0;
        long cpu = NexmarkEngine.processCpuNanos() - cpu0;
        task.progress().accept(String.format(Locale.ROOT, "duckdb batch %s: %,d bids in %.0f ms, %.0f ms of CPU",
            r < task.warmup() ? "warm-up " + (r + 1) : "run " + (r - task.warmup() + 1), bids, nanos / 1e6,
            cpu / 1e6));
        if (r >= task.warmup()) {
          runs.add(new Measurement(nanos, cpu));
        }
      }
      read(s, task.query(), result);
      return new Report(runs, Map.of("loadSeconds", loadSeconds, "csvWriteSeconds", writeSeconds));
    }
  }

  private static void read(Statement s, NexmarkQuery query, NexmarkResult.RowSink out) throws SQLException {
    int longs = query.longFields().size();
    long[] v = new long[longs];
    double[] d = new double[query.doubleFields().size()];
    int keyColumns = query == NexmarkQuery.Q7 || query == NexmarkQuery.Q15 ? 1 : 2;
    // sorted here, not in the measured statement (Braid's batch layer does not sort its Base by key either)
    String order = switch (query) {
      case Q15 -> "day";
      case Q16 -> "channel, day";
      case Q17 -> "auction, day";
      case Q5 -> "auction, w";
      case Q7 -> "w";
      default -> throw new IllegalStateException("no reader for " + query);
    };
    try (ResultSet rs = s.executeQuery("SELECT * FROM result ORDER BY " + order)) {
      while (rs.next()) {
        for (int i = 0; i < longs; i++) {
          v[i] = rs.getLong(keyColumns + 1 + i);
        }
        for (int i = 0; i < d.length; i++) {
          d[i] = rs.getDouble(keyColumns + longs + 1 + i);
        }
        String key = switch (query) {
          case Q15 -> NexmarkQuery.dayKey(NexmarkQuery.day(rs.getLong(1) * NexmarkQuery.DAY_MILLIS));
          case Q16 -> NexmarkQuery.channelDayKey(rs.getString(1), NexmarkQuery.day(rs.getLong(2)
              * NexmarkQuery.DAY_MILLIS));
          case Q17 -> NexmarkQuery.auctionDayKey(rs.getLong(1), NexmarkQuery.day(rs.getLong(2)
              * NexmarkQuery.DAY_MILLIS));
          case Q5 -> NexmarkQuery.auctionWindowKey(rs.getLong(1), rs.getLong(2));
          case Q7 -> NexmarkQuery.windowKey(rs.getLong(1));
          default -> throw new IllegalStateException("no reader for " + query);
        };
        out.row(key, v, d);
      }
    }
  }
}
