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
    super(String.format("Idempotency-Key '%s' was used for other events within the dedup window of stream '%s': %s; "
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
