package dev.braid.view;

/**
 * The version catalog could not be written (a full disk, a read-only file system): what the write
 * was to record did not happen. The cause is the file system's error.
 */
public final class CatalogWriteException extends dev.braid.log.LogException {
  CatalogWriteException(String message, Throwable cause) {
    super(message, cause);
  }
}
