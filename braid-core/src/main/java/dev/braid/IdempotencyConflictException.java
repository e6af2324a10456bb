package dev.braid;

import java.util.Objects;

/**
 * An ingest request whose {@code Idempotency-Key} an earlier request within the stream's dedup
 * window used for other events: a retry must send the same events in the same order. Nothing of the
 * request is ingested, so the events are neither dropped as duplicates of the earlier ones nor
 * appended beside them; the message names the key and the first event that differs.
 */
public final class IdempotencyConflictException extends RuntimeException {

  private final String stream;
  private final String key;

  public IdempotencyConflictException(String stream, String key, String difference) {
    this(stream, key, difference, false);
  }

  /**
   * @param rejectedNow the retry sends the same events, but one the earlier request stored is rejected
   *     now (the stream's rules changed in between), so the retry cannot be answered as that request was
   */
  public IdempotencyConflictException(String stream, String key, String difference, boolean rejectedNow) {
    super(rejectedNow
        ? String.format("Idempotency-Key '%s' of stream '%s' stored events that this request cannot be answered "
            + "for as before: %s (the event or the stream's rules changed since); nothing of this request was "
            + "ingested (send the events not yet stored under a new key)", key, stream, difference)
        : String.format("Idempotency-Key '%s' was used for other events within the dedup window of stream '%s': %s; "
            + "nothing of this request was ingested (a retry must send the same events in the same order; new events "
            + "need a new key)", key, stream, difference));
    this.stream = Objects.requireNonNull(stream);
    this.key = Objects.requireNonNull(key);
  }

  public String stream() {
    return stream;
  }

  public String key() {
    return key;
  }
}
