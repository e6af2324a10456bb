package dev.braid;

import java.util.List;
import java.util.Map;

/**
 * The outcome of one ingest request. Good events are appended even when others are rejected.
 *
 * @param accepted events appended
 * @param positions per partition: the offsets of the accepted events, in request order
 * @param rejections the events refused, each with its index in the request and the reason
 */
public record IngestResult(String stream, int accepted, Map<Integer, List<Long>> positions, List<Rejection> rejections) {

  /** One refused event. */
  public record Rejection(int index, String reason) {}
}
