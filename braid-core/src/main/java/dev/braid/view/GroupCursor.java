package dev.braid.view;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A sorted source of groups that {@link RunMerger} merges: keys in {@link RunFileDescriptor} order
 * ((key hash, key bytes), each key once), each key's windows ascending. A batch cycle's spilled run
 * ({@link RunFile.Reader}) and a Delta's closed-window run ({@link BaseFile#cursor}) are both read
 * this way. The current key, window and state stay valid until the next call that moves; this
 * class holds them and checks the key order, subclasses read the bytes.
 *
 * <p>Not thread-safe; one thread reads a cursor.
 */
abstract class GroupCursor implements AutoCloseable {

  /** The current key is {@code key[0, keyLength)}, with {@link GroupTable#hash} {@code hash}. */
  byte[] key = new byte[64];
  int keyLength = -1;
  int hash;
  private byte[] previousKey = new byte[64];
  private int previousKeyLength = -1;
  private int previousHash;
  long window;
  /** The current window's serialized state is {@code state[0, stateLength)}. */
  byte[] state = new byte[256];
  int stateLength;
  private ByteBuffer stateBuffer = ByteBuffer.wrap(state);
  private final ByteBufferDataInput stateInput = new ByteBufferDataInput();

  /** Moves to the next key (skipping windows not read); false at the end. */
  abstract boolean nextKey() throws IOException;

  /** Moves to the next window of the current key; false when the key has no more. */
  abstract boolean nextWindow() throws IOException;

  final int hash() {
    return hash;
  }

  final byte[] key() {
    return key;
  }

  final int keyLength() {
    return keyLength;
  }

  final long window() {
    return window;
  }

  final byte[] state() {
    return state;
  }

  final int stateLength() {
    return stateLength;
  }

  /** The current window's state as input for {@link ViewProgram#readRow}. */
  final ByteBufferDataInput stateInput() {
    return stateInput.reset(stateBuffer, 0, stateLength);
  }

  /**
   * Keeps the current key as the previous one (to check the order without copying) and makes
   * {@link #key} a buffer of at least {@code len} bytes for the next.
   */
  final void startKey(int len) {
    byte[] swap = previousKey;
    previousKey = key;
    previousKeyLength = keyLength;
    previousHash = hash;
    key = swap.length >= len ? swap : new byte[Math.max(len, swap.length * 2)];
  }

  /** Whether the current key sorts strictly after the previous one (or is the first). */
  final boolean inKeyOrder() {
    return previousKeyLength < 0 || RunFileDescriptor.compareKeys(previousHash, previousKey, 0, previousKeyLength,
        hash, key, 0, keyLength) < 0;
  }

  /** Makes {@link #state} hold at least {@code len} bytes. */
  final void reserveState(int len) {
    if (state.length < len) {
      state = new byte[Math.max(len, state.length * 2)];
      stateBuffer = ByteBuffer.wrap(state);
    }
  }

  @Override
  public void close() throws IOException {}
}
