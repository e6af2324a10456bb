package dev.braid.server.demo;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Seeded generator of card transactions for the fraud-detection example: the same seed gives the
 * same events. Users have a home country and a handful of favourite merchants; amounts are
 * log-normal (most small, a few large); about 1 in 2,000 events starts a burst: the same card used
 * five times within a minute, in several countries, for large amounts, which is what the
 * {@code spend_by_user_hourly} view makes visible.
 *
 * <pre>{@code {"user_id":"u-004512","amount":23.99,"merchant":"m-0412","country":"DE","ts":1736154000123}}</pre>
 */
public final class TransactionGenerator {

  public static final int USERS = 100_000;
  public static final int MERCHANTS = 5_000;
  private static final String[] COUNTRIES = {"US", "DE", "FR", "IN"};

  public static final double DEFAULT_MEAN_GAP_MILLIS = 10.0;

  private final SplittableRandom random;
  private final double meanGapMillis;
  private double clock;
  private double endMillis = Double.POSITIVE_INFINITY;
  private int burstLeft;
  private int burstUser;

  public TransactionGenerator(long seed, long startMillis) {
    this(seed, startMillis, DEFAULT_MEAN_GAP_MILLIS);
  }

  /** Events start at {@code startMillis} and are on average {@code meanGapMillis} apart in event time. */
  public TransactionGenerator(long seed, long startMillis, double meanGapMillis) {
    if (!(meanGapMillis >= 0)) {
      throw new IllegalArgumentException("the mean gap between events must be 0 or more ms, got " + meanGapMillis);
    }
    this.random = new SplittableRandom(seed);
    this.clock = startMillis;
    this.meanGapMillis = meanGapMillis;
  }
  /**
   * No event time past {@code endMillis}: a history that must end by now stays in the past, though
   * its exponential gaps sum to more than their mean (by minutes for a short history of a day).
   */
  public TransactionGenerator endingAt(long endMillis) {
    this.endMillis = endMillis;
    return this;
  }


  /** The next event as one line of JSON. */
  public String next() {
    // exponential gaps, up to the end if one is set
    clock = Math.min(clock - meanGapMillis * Math.log(1.0 - random.nextDouble()), endMillis);
    int user;
    String country;
    double amount;
    if (burstLeft > 0) {
      burstLeft--;
      user = burstUser;
      country = COUNTRIES[random.nextInt(COUNTRIES.length)];
      amount = 400 + random.nextInt(1600) + random.nextInt(100) / 100.0;
    } else {
      double u = random.nextDouble();
      user = (int) (USERS * u * u);
      country = COUNTRIES[user % COUNTRIES.length];
      amount = Math.round(Math.exp(3.0 + 1.1 * random.nextGaussian()) * 100) / 100.0;
      if (random.nextInt(2000) == 0) {
        burstLeft = 4;
        burstUser = user;
      }
    }
    int merchant = (user * 31 + random.nextInt(random.nextInt(10) == 0 ? MERCHANTS : 8)) % MERCHANTS;
    return String.format(Locale.ROOT, "{\"user_id\":\"u-%06d\",\"amount\":%.2f,\"merchant\":\"m-%04d\",\"country\":\"%s\","
        + "\"ts\":%d}", user, amount, merchant, country, (long) clock);
  }
}
