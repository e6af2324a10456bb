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

  /**
   * Deletes stream {@code name} with all its records, for a stream of data the engine derived and
   * no longer needs (the changes log of a dropped view); never for an event stream, which is the
   * master dataset. Nothing may read or append to the stream any more. Deleting a stream that does
   * not exist does nothing. A crash part way leaves the stream whole or gone.
   */
  void deleteStream(String name);

  /** Flushes and closes every stream; readers and streams must not be used afterwards. */
  @Override
  void close();
}
