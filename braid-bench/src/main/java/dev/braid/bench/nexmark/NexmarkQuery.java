package dev.braid.bench.nexmark;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The Nexmark-style queries of the benchmark, all over bids. Each is defined here once, by what its
 * result rows are; every engine computes the same rows (see {@link NexmarkResult}) and
 * {@link NaiveNexmark} is the reference.
 *
 * <p>Days are UTC calendar days of the bid's event time ({@code yyyy-MM-dd}). The price ranges are
 * those of Nexmark's q15: rank 1 {@code price < 10,000}, rank 2 {@code 10,000 <= price < 1,000,000},
 * rank 3 {@code price >= 1,000,000} (cents; see {@link NexmarkGenerator#rank}). Windows are
 * epoch-aligned; a window is named by its start in epoch millis.
 *
 * <table>
 *   <caption>Queries</caption>
 *   <tr><th>query</th><th>row key</th><th>values</th></tr>
 *   <tr><td>Q5</td><td>{@code a=<auction, 12 digits>,w=<window start, 13 digits>}, hopping windows of
 *       10 s every 2 s</td><td>bids</td></tr>
 *   <tr><td>Q7</td><td>{@code w=<window start, 13 digits>}, tumbling 10 s windows</td><td>max_price</td></tr>
 *   <tr><td>Q15</td><td>{@code d=<day>}</td><td>bids, bids by range, distinct bidders (all and by
 *       range), distinct auctions (all and by range)</td></tr>
 *   <tr><td>Q16</td><td>{@code c=<channel>,d=<day>}</td><td>as Q15</td></tr>
 *   <tr><td>Q17</td><td>{@code a=<auction, 12 digits>,d=<day>}</td><td>bids, bids by range,
 *       min_price, max_price, sum_price, avg_price</td></tr>
 * </table>
 *
 * A row exists for every key with at least one bid; rows of windows or days without bids do not.
 * Keys sort as strings component by component: numbers are zero-padded, and the separator
 * {@code ,} sorts below every character a component has (letters, digits, {@code -}), so
 * {@code c=channel-1,d=...} comes before {@code c=channel-10,d=...}. So an engine that walks
 * channels (as strings), auctions, days or windows in ascending order emits its rows in key order.
 */
public enum NexmarkQuery {

  Q5("bids per auction in hopping windows (size 10 s, every 2 s)", exact("bids")),
  Q7("highest bid price per tumbling 10 s window", exact("max_price")),
  Q15("per day: bids, distinct bidders, distinct auctions, each also by price range", rankedCounts()),
  Q16("per channel per day: bids, distinct bidders, distinct auctions, each also by price range", rankedCounts()),
  Q17("per auction per day: bids, bids by price range, min, max, sum and avg of price", auctionStats());

  /** Q5's hopping window. */
  public static final long Q5_SIZE_MILLIS = 10_000;
  public static final long Q5_EVERY_MILLIS = 2_000;
  /** Q7's tumbling window. */
  public static final long Q7_SIZE_MILLIS = 10_000;
  public static final long DAY_MILLIS = 86_400_000L;

  /** How a value compares across engines. */
  public enum Kind {
    /** An exact integer: must be equal. */
    EXACT,
    /** A distinct count: exact or a sketch's estimate, equal within the engines' declared error. */
    DISTINCT,
    /** A floating-point average: equal within 1e-9 relative. */
    AVERAGE
  }

  /** One value of a row. */
  public record Field(String name, Kind kind) {}

  private final String description;
  private final List<Field> fields;
  private final List<Field> longFields;
  private final List<Field> doubleFields;

  NexmarkQuery(String description, List<Field> fields) {
    this.description = description;
    this.fields = List.copyOf(fields);
    this.longFields = fields.stream().filter(f -> f.kind() != Kind.AVERAGE).toList();
    this.doubleFields = fields.stream().filter(f -> f.kind() == Kind.AVERAGE).toList();
  }

  public String description() {
    return description;
  }

  /** Every value of a row, in order. */
  public List<Field> fields() {
    return fields;
  }

  /** The integer values of a row ({@link Kind#EXACT} and {@link Kind#DISTINCT}), as laid out in {@code Row.longs}. */
  public List<Field> longFields() {
    return longFields;
  }

  /** The floating-point values of a row ({@link Kind#AVERAGE}), as laid out in {@code Row.doubles}. */
  public List<Field> doubleFields() {
    return doubleFields;
  }

  /** Index of {@code name} among {@link #longFields()}; throws if it is not one. */
  public int longIndex(String name) {
    for (int i = 0; i < longFields.size(); i++) {
      if (longFields.get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalArgumentException(this + " has no integer value '" + name + "'");
  }

  /** The lower-case name used on the command line, e.g. {@code q17}. */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The query named {@code text} ({@code q17} or {@code Q17}).
   *
   * @throws IllegalArgumentException naming the valid queries
   */
  public static NexmarkQuery parse(String text) {
    for (NexmarkQuery q : values()) {
      if (q.name().equalsIgnoreCase(text.strip())) {
        return q;
      }
    }
    throw new IllegalArgumentException("unknown query '" + text + "'; valid: " + names());
  }

  /** The valid names, e.g. {@code q5, q7, q15, q16, q17}. */
  public static String names() {
    return Arrays.stream(values()).map(NexmarkQuery::cliName).collect(Collectors.joining(", "));
  }

  // ---------------------------------------------------------------------------------------------
  // Row keys: every engine builds them with these, so they match to the byte
  // ---------------------------------------------------------------------------------------------

  /** The UTC day of {@code millis}, {@code yyyy-MM-dd}. */
  public static String day(long millis) {
    return LocalDate.ofEpochDay(Math.floorDiv(millis, DAY_MILLIS)).toString();
  }

  public static String dayKey(String day) {
    return "d=" + day;
  }

  public static String channelDayKey(String channel, String day) {
    for (int i = 0; i < channel.length(); i++) {
      if (channel.charAt(i) <= ',') {
        throw new IllegalArgumentException("a channel in a row key must not hold characters up to ',': " + channel);
      }
    }
    return "c=" + channel + ",d=" + day;
  }

  public static String auctionDayKey(long auction, String day) {
    return "a=" + pad(auction, 12) + ",d=" + day;
  }

  public static String auctionWindowKey(long auction, long windowStart) {
    return "a=" + pad(auction, 12) + ",w=" + pad(windowStart, 13);
  }

  public static String windowKey(long windowStart) {
    return "w=" + pad(windowStart, 13);
  }

  private static String pad(long v, int digits) {
    if (v < 0) {
      throw new IllegalArgumentException("row keys hold non-negative numbers, got " + v);
    }
    String s = Long.toString(v);
    return s.length() >= digits ? s : "0".repeat(digits - s.length()) + s;
  }

  // ---------------------------------------------------------------------------------------------

  private static List<Field> exact(String name) {
    return List.of(new Field(name, Kind.EXACT));
  }

  /** Q15 and Q16: bids, bids_r1..3 exact; bidders, bidders_r1..3, auctions, auctions_r1..3 distinct. */
  private static List<Field> rankedCounts() {
    List<Field> f = new ArrayList<>();
    ranked(f, "bids", Kind.EXACT);
    ranked(f, "bidders", Kind.DISTINCT);
    ranked(f, "auctions", Kind.DISTINCT);
    return f;
  }

  private static List<Field> auctionStats() {
    List<Field> f = new ArrayList<>();
    ranked(f, "bids", Kind.EXACT);
    f.add(new Field("min_price", Kind.EXACT));
    f.add(new Field("max_price", Kind.EXACT));
    f.add(new Field("sum_price", Kind.EXACT));
    f.add(new Field("avg_price", Kind.AVERAGE));
    return f;
  }

  private static void ranked(List<Field> out, String name, Kind kind) {
    out.add(new Field(name, kind));
    for (int r = 1; r <= 3; r++) {
      out.add(new Field(name + "_r" + r, kind));
    }
  }
}
