package dev.braid;

import dev.braid.log.Cut;
import java.util.List;

/** A snapshot of the engine for operators: streams and views with their positions and lag. */
public record Status(List<StreamStatus> streams, List<ViewStatus> views) {

  /** @param end the log's end offsets; @param events events held (sum over partitions) */
  public record StreamStatus(String name, int partitions, String durability, Cut end, long events) {}

  /**
   * @param lag events in the log that the current version's Delta has not folded yet
   * @param batchRunning whether a batch cycle is running, and its progress (events read of total)
   */
  public record ViewStatus(String name, String stream, String mode, long currentVersion, Cut cut, Cut position,
      long lag, long deltaKeys, long deltaBytes, long skippedEvents, boolean batchRunning, long batchEventsRead,
      long batchEventsTotal) {}
}
