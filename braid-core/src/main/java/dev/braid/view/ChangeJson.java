package dev.braid.view;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.Map;

/**
 * The JSON of the changes feed's records and the 64-bit hash of a window's result, written with
 * one long-lived streaming generator into one reusable buffer: no tree, no serializer lookup and
 * no allocation per value for the types aggregations return ({@code Long}, {@code Double},
 * {@code String}, {@code Boolean}, null, and maps and lists of them). Any other value (a user's
 * aggregation may return one) is written by Jackson's data binding.
 *
 * <p>The hash is FNV-1a over the result's JSON bytes. The feed hashes live results when it
 * compares them with what it emitted, and the results it decodes from its own log when it
 * recovers; both go through {@link #hash}, and a result read back from its JSON is written the
 * same way again (longs stay longs, a double's {@link Double#toString} parses back to the same
 * double), so a result that did not change hashes the same across a restart.
 *
 * <p>Not thread-safe: one instance per feed, used under the feed's lock.
 */
final class ChangeJson {

  private static final JsonFactory FACTORY = new JsonFactoryBuilder().rootValueSeparator((String) null).build();
  /** Data binding for values of other types; also the generator's codec. */
  private static final ObjectMapper BINDING = new ObjectMapper(FACTORY);

  private final Buffer out = new Buffer();
  private final JsonGenerator g;

  ChangeJson() {
    try {
      g = FACTORY.createGenerator(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    g.setCodec(BINDING);
  }

  /** The hash of {@code values}' JSON (see the class comment), as {@link #record} computes it. */
  long hash(Map<String, Object> values) {
    out.reset();
    try {
      write(values);
      g.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return fnv(0, out.size());
  }

  /**
   * Writes one change event's record, its values the results of {@code p}'s aggregations over the
   * state row {@code longs}/{@code objects} (base 0); its bytes are {@code array()[0, size())}
   * until the next call. The field names and order are those {@link ChangeFeed} decodes. Returns
   * the hash of the values, equal to {@link #hash} of the same values as a map.
   */
  long record(boolean close, String key, long start, long end, boolean isFinal, long corrects, long version,
      long watermark, ViewProgram p, long[] longs, Object[] objects, ViewProgram.Scratch x) {
    out.reset();
    try {
      g.writeStartObject();
      g.writeStringField("kind", close ? "close" : "correction");
      g.writeStringField("key", key);
      g.writeNumberField("start", start);
      g.writeNumberField("end", end);
      g.writeStringField("state", isFinal ? "final" : "provisional");
      g.writeNumberField("corrects", corrects);
      g.writeNumberField("version", version);
      g.writeNumberField("watermark", watermark);
      g.writeFieldName("values");
      g.writeStartObject();
      g.flush();
      int from = out.size() - 1; // the values' '{', after the field name's ':'
      for (int i = 0, n = p.aggregationCount(); i < n; i++) {
        g.writeFieldName(p.name(i));
        write(p.result(i, longs, 0, objects, 0, x));
      }
      g.writeEndObject();
      g.flush();
      int to = out.size();
      g.writeEndObject();
      g.flush();
      return fnv(from, to);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private long fnv(int from, int to) {
    byte[] b = out.array();
    long h = 0xcbf29ce484222325L;
    for (int i = from; i < to; i++) {
      h = (h ^ (b[i] & 0xff)) * 0x100000001b3L;
    }
    return h;
  }

  /** The buffer of the last {@link #record}. */
  byte[] array() {
    return out.array();
  }

  /** The length of the last {@link #record}. */
  int size() {
    return out.size();
  }

  private void write(Object v) throws IOException {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
      g.writeNumber(((Number) v).longValue());
    } else if (v instanceof Double d) {
      g.writeNumber(d);
    } else if (v instanceof String s) {
      g.writeString(s);
    } else if (v instanceof Boolean b) {
      g.writeBoolean(b);
    } else if (v instanceof Map<?, ?> m) {
      g.writeStartObject();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        g.writeFieldName(String.valueOf(e.getKey()));
        write(e.getValue());
      }
      g.writeEndObject();
    } else if (v instanceof Collection<?> c) {
      g.writeStartArray();
      for (Object x : c) {
        write(x);
      }
      g.writeEndArray();
    } else {
      g.writeObject(v);
    }
  }

  /** A byte array output stream that lends its array instead of copying it. */
  private static final class Buffer extends ByteArrayOutputStream {
    Buffer() {
      super(1024);
    }

    byte[] array() {
      return buf;
    }
  }
}
