package dev.braid.view;

import java.io.IOException;

/**
 * Where the batch layer streams a view's groups, one key at a time: a Base file
 * ({@link BaseFile.Writer}) or a sorted run ({@link RunFile.Writer}).
 *
 * <p>Protocol: {@code beginKey}, then one {@code window} call per window of that key (each window at
 * most once per key), then {@code endKey}; repeat. A key must be given at most once per sink. A
 * window's state is given either as a row of the view's state arenas, which the sink serializes
 * with {@link ViewProgram#writeRow}, or already serialized in that codec (copied as is). Misuse
 * (a window outside a key, a key inside a key) throws {@link IllegalStateException}.
 *
 * <p>Not thread-safe; one thread writes a sink.
 */
interface GroupSink {

  /** Starts key {@code key[off, off + len)}, whose {@link GroupTable#hash} is {@code hash}. */
  void beginKey(byte[] key, int off, int len, int hash) throws IOException;

  /** Adds a window whose state is the row at the given bases of the arenas. */
  void window(long window, long[] longs, int longBase, Object[] objects, int objectBase) throws IOException;

  /** Adds a window whose state is already serialized in {@code state[off, off + len)}. */
  void window(long window, byte[] state, int off, int len) throws IOException;

  /** Ends the current key. */
  void endKey() throws IOException;
}
