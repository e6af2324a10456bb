package dev.braid.server.demo;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Seeded generator of retail sales events: the same seed gives the same events, byte for byte.
 *
 * <p>An event is one sale line in one of 50 stores or the web shop: the key is the product id
 * ({@code sku-004512}, so all sales of a product share a partition and keep their order) and the
 * value is a small JSON object:
 *
 * <pre>{@code {"store":"S017","sku":"sku-004512","qty":2,"price_cents":1999,"total_cents":3998,"channel":"store","ts":1736154000123}}</pre>
 *
 * Product popularity is skewed (a few products sell a lot), quantities are mostly 1, and event time
 * advances by about 20 ms per event with 2 % of events arriving up to 5 s late, as tills that batch
 * their uploads do (the mean gap is a constructor argument: a live feed at {@code r} events/s uses
 * {@code 1000.0 / r} so event time follows the wall clock). {@link #next()} writes the event into
 * reused buffers and allocates nothing.
 */
public final class SalesEventGenerator {

  /** 2025-01-06T09:00:00Z, a Monday morning. */
  public static final long DEFAULT_START_MILLIS = 1_736_154_000_000L;
  public static final int PRODUCTS = 20_000;
  public static final int STORES = 50;
  public static final double DEFAULT_MEAN_GAP_MILLIS = 20.0;

  private static final byte[][] STORE_IDS = new byte[STORES + 1][];
  private static final byte[][] CHANNELS = {ascii("store"), ascii("web"), ascii("app")};

  static {
    for (int s = 0; s < STORE_IDS.length; s++) {
      STORE_IDS[s] = ascii(s == STORES ? "WEB" : String.format("S%03d", s + 1));
    }
  }

  private final SplittableRandom random;
  private final byte[][] productKeys = new byte[PRODUCTS][];
  private final int[] priceCents = new int[PRODUCTS];
  private final byte[] value = new byte[192];
  private int valueLength;
  private byte[] key;
  private final double meanGapMillis;
  private double clock;
  private double endMillis = Double.POSITIVE_INFINITY;
  private long eventTime;

  public SalesEventGenerator(long seed, long startMillis) {
    this(seed, startMillis, DEFAULT_MEAN_GAP_MILLIS);
  }

  /** Events start at {@code startMillis} and are on average {@code meanGapMillis} apart in event time. */
  public SalesEventGenerator(long seed, long startMillis, double meanGapMillis) {
    if (!(meanGapMillis >= 0)) {
      throw new IllegalArgumentException("the mean gap between events must be 0 or more ms, got " + meanGapMillis);
    }
    this.random = new SplittableRandom(seed);
    this.clock = startMillis;
    this.meanGapMillis = meanGapMillis;
    SplittableRandom catalog = new SplittableRandom(seed ^ 0x5DEECE66DL);
    for (int p = 0; p < PRODUCTS; p++) {
      productKeys[p] = ascii(String.format("sku-%06d", p));
      // Prices from 0.99 to about 250.00, most of them low, ending in 9.
      double u = catalog.nextDouble();
      priceCents[p] = (int) (99 + u * u * u * 25_000) / 10 * 10 + 9;
    }
  }
  /**
   * No event time past {@code endMillis}: a history that must end by now stays in the past, though
   * its exponential gaps sum to more than their mean (by minutes for a short history of a day).
   */
  public SalesEventGenerator endingAt(long endMillis) {
    this.endMillis = endMillis;
    return this;
  }


  /** Generates the next event; read it with {@link #key()}, {@link #value()} and {@link #eventTime()}. */
  public void next() {
    // exponential gaps, up to the end if one is set
    clock = Math.min(clock - meanGapMillis * Math.log(1.0 - random.nextDouble()), endMillis);
    long now = (long) clock;
    eventTime = random.nextInt(50) == 0 ? now - random.nextLong(5_000) : now;
    double u = random.nextDouble();
    int product = (int) (PRODUCTS * u * u * u);
    key = productKeys[product];
    int channel = random.nextInt(10) < 7 ? 0 : random.nextInt(10) < 7 ? 1 : 2;
    byte[] store = channel == 0 ? STORE_IDS[random.nextInt(STORES)] : STORE_IDS[STORES];
    int r = random.nextInt(100);
    int qty = r < 70 ? 1 : r < 90 ? 2 : r < 97 ? 3 : 4 + random.nextInt(9);

    int n = 0;
    n = put(n, "{\"store\":\"");
    n = put(n, store);
    n = put(n, "\",\"sku\":\"");
    n = put(n, key);
    n = put(n, "\",\"qty\":");
    n = put(n, qty);
    n = put(n, ",\"price_cents\":");
    n = put(n, priceCents[product]);
    n = put(n, ",\"total_cents\":");
    n = put(n, (long) qty * priceCents[product]);
    n = put(n, ",\"channel\":\"");
    n = put(n, CHANNELS[channel]);
    n = put(n, "\",\"ts\":");
    n = put(n, eventTime);
    value[n++] = '}';
    valueLength = n;
  }

  /** Generates the next event and returns its value as one line of JSON (allocates the string). */
  public String nextLine() {
    next();
    return new String(value, 0, valueLength, StandardCharsets.US_ASCII);
  }

  /** The current event's key; the array is shared by all events of the product, do not modify it. */
  public byte[] key() {
    return key;
  }

  /** The buffer holding the current event's value in {@code [0, valueLength())}; reused by {@link #next()}. */
  public byte[] value() {
    return value;
  }

  public int valueLength() {
    return valueLength;
  }

  /** Epoch milliseconds of the sale. */
  public long eventTime() {
    return eventTime;
  }

  // -------------------------------------------------------------------------------------------
  // ASCII writing into the value buffer (the constant strings are ASCII; no encoder needed)

  private int put(int at, String ascii) {
    for (int i = 0; i < ascii.length(); i++) {
      value[at + i] = (byte) ascii.charAt(i);
    }
    return at + ascii.length();
  }

  private int put(int at, byte[] bytes) {
    System.arraycopy(bytes, 0, value, at, bytes.length);
    return at + bytes.length;
  }

  private int put(int at, long number) {
    if (number < 0) {
      value[at++] = '-';
      number = -number;
    }
    int digits = 1;
    for (long t = number; t >= 10; t /= 10) {
      digits++;
    }
    for (int i = at + digits - 1; i >= at; i--) {
      value[i] = (byte) ('0' + number % 10);
      number /= 10;
    }
    return at + digits;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
