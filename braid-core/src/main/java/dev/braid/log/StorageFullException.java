package dev.braid.log;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An append failed because the device is full (or a quota is exhausted): {@link Kind#STORAGE_FULL}.
 * Nothing of the batch was published; append again once space is freed.
 */
public final class StorageFullException extends LogWriteException {
  StorageFullException(String stream, int partition, Path file, String operation, IOException cause) {
    super(stream, partition, file, operation, cause);
  }
}
