package dev.braid.log;

import java.util.List;

/**
 * The immutable, partitioned event log: Braid's ingest buffer and its master dataset. The embedded
 * implementation is {@link FileLog}; a Kafka-backed one satisfies the same contract.
 *
 * <p>Streams are created once with a {@link StreamConfig} and then opened by name. Implementations
 * are thread-safe.
 */
public interface Log extends AutoCloseable {

  /** Creates a stream; fails if a stream of that name exists. */
  LogStream createStream(String name, StreamConfig config);

  /** The existing stream {@code name}; throws {@link UnknownStreamException} if there is none. */
  LogStream stream(String name);

  /**
   * The stream {@code name}, created with {@code config} if missing. An existing stream must have
   * the same partition count (it cannot change); other settings of the existing stream win.
   */
  LogStream getOrCreateStream(String name, StreamConfig config);

  boolean hasStream(String name);

  /** Names of all streams, sorted. */
  List<String> streams();

  /** Flushes and closes every stream; readers and streams must not be used afterwards. */
  @Override
  void close();
}
