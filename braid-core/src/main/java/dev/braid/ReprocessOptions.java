package dev.braid;

/**
 * How {@link Braid#reprocess} switches to the new version.
 *
 * @param hold when true the new version, once it has caught up, keeps following the log as
 *     {@code building} until {@link Braid#activate} makes it current; when false (the default) it
 *     becomes current as soon as it has caught up
 */
public record ReprocessOptions(boolean hold) {

  /** Switch automatically once the new version has caught up. */
  public static ReprocessOptions defaults() {
    return new ReprocessOptions(false);
  }

  /** Catch up, then wait for {@link Braid#activate}. */
  public static ReprocessOptions held() {
    return new ReprocessOptions(true);
  }
}
