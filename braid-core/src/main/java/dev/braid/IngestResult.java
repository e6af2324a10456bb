package dev.braid;

import java.util.List;
import java.util.Map;

/**
 * The outcome of one ingest request. Good events are appended even when others are rejected.
 *
 * <p>With ids (the stream's {@code id} field, or the request's idempotency key), an event whose id
 * was already appended within the stream's dedup window is not appended again: it is acknowledged
 * with its original position and counted in {@code duplicates}. So a retried request gets the same
 * {@code accepted} and {@code positions} as its first attempt.
 *
 * @param accepted events acknowledged: appended by this request, or earlier (the duplicates)
 * @param positions per partition: the offsets of the acknowledged events, in request order; a
 *     duplicate has its original partition and offset (an id repeated inside one request appears
 *     twice)
 * @param rejections the events refused, each with its index in the request and the reason
 * @param duplicates of the accepted events, those not appended because their id already was
 * @param rejectedBefore of the rejected events, those an earlier request with the same idempotency key
 *     rejected and dead-lettered already (a retry): not dead-lettered again
 */
public record IngestResult(String stream, int accepted, Map<Integer, List<Long>> positions, List<Rejection> rejections,
    int duplicates, int rejectedBefore) {

  /** A result without duplicates. */
  public IngestResult(String stream, int accepted, Map<Integer, List<Long>> positions, List<Rejection> rejections) {
    this(stream, accepted, positions, rejections, 0, 0);
  }

  /** A result of which no rejected event was dead-lettered by an earlier request. */
  public IngestResult(String stream, int accepted, Map<Integer, List<Long>> positions, List<Rejection> rejections,
      int duplicates) {
    this(stream, accepted, positions, rejections, duplicates, 0);
  }

  /** One refused event. */
  public record Rejection(int index, String reason) {}
}
