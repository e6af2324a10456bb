package dev.braid.expr;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Encodes test events into readers that expressions can be evaluated on. */
final class ExprFixtures {

  private ExprFixtures() {}

  static Map<String, FieldType> fields(Object... nameTypePairs) {
    Map<String, FieldType> m = new LinkedHashMap<>();
    for (int i = 0; i < nameTypePairs.length; i += 2) {
      m.put((String) nameTypePairs[i], (FieldType) nameTypePairs[i + 1]);
    }
    return m;
  }

  /** A reader over the encoded form of {@code event}; fails the test if the encoder refuses it. */
  static EventReader read(EventSchema schema, Map<String, ?> event) {
    EventEncoder.Encoded out = new EventEncoder.Encoded();
    String error = new EventEncoder(schema).encode(event, 0, out);
    if (error != null) {
      throw new AssertionError("test event " + event + " refused: " + error);
    }
    byte[] bytes = Arrays.copyOf(out.value(), out.valueLength());
    return new EventReader(schema).wrap(ByteBuffer.wrap(bytes), 0, bytes.length);
  }

  /** A map literal that allows null values, from name/value pairs. */
  static Map<String, Object> event(Object... nameValuePairs) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < nameValuePairs.length; i += 2) {
      m.put((String) nameValuePairs[i], nameValuePairs[i + 1]);
    }
    return m;
  }
}
