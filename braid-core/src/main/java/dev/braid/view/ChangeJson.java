package dev.braid.view;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.agg.NumericFold;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Map;

/**
 * The JSON of the changes feed's records and the 64-bit hash of a window's result, written with
 * one long-lived streaming generator into one reusable buffer: no tree, no serializer lookup and
 * no allocation per value for the types aggregations return ({@code Long}, {@code Double},
 * {@code String}, {@code Boolean}, null, and maps and lists of them). Any other value (a user's
 * aggregation may return one) is written by Jackson's data binding.
 *
 * <p>The hash is {@link BatchLayer#hash64} of the result's JSON bytes (eight at a time: a byte-wise
 * FNV-1a was 7 % of the feed's CPU in a Nexmark Q17 replay). The feed hashes live results when it
 * compares them with what it emitted; when it recovers, it writes each record's values again from
 * the parser's tokens ({@link #hashCopy}) and hashes that. A result read back from its JSON is
 * written the same way again (longs stay longs, a double's shortest form parses back to the same
 * double), so a result that did not change hashes the same across a restart, also when the record
 * was written by an older build whose number forms differed.
 *
 * <p>Not thread-safe: one instance per feed, used under the feed's lock.
 */
final class ChangeJson {

  /**
   * Doubles through Jackson's fast writer (the shortest form that parses back to the same double,
   * as {@code Double.toString} promises): JDK 17's {@code Double.toString} was 3 % of the feed's CPU
   * with one {@code avg} per window.
   */
  private static final JsonFactory FACTORY = new JsonFactoryBuilder().rootValueSeparator((String) null)
      .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER).build();
  /** Data binding for values of other types; also the generator's codec. */
  private static final ObjectMapper BINDING = new ObjectMapper(FACTORY);

  private static final SerializedString VALUES = new SerializedString("values");
  private static final SerializedString KIND = new SerializedString("kind");
  private static final SerializedString KEY = new SerializedString("key");
  private static final SerializedString START = new SerializedString("start");
  private static final SerializedString END = new SerializedString("end");
  private static final SerializedString STATE = new SerializedString("state");
  private static final SerializedString CORRECTS = new SerializedString("corrects");
  private static final SerializedString VERSION = new SerializedString("version");
  private static final SerializedString WATERMARK = new SerializedString("watermark");
  private static final SerializedString CLOSE = new SerializedString("close");
  private static final SerializedString CORRECTION = new SerializedString("correction");
  private static final SerializedString RETRACT = new SerializedString("retract");
  private static final SerializedString FINAL = new SerializedString("final");
  private static final SerializedString PROVISIONAL = new SerializedString("provisional");

  /**
   * The form of the values' JSON that this class writes (their order, number forms, escapes): the
   * hashes the changes feed saves ({@link EmittedSnapshot}) are of this form, so a change to it must
   * raise this number, and a file saved under another is refused and the changes log read again.
   */
  static final int FORMAT = 1;

  private final Buffer out = new Buffer();
  /** {@link #out}'s array as a buffer, for {@link BatchLayer#hash64}; wrapped again when the array grows. */
  private ByteBuffer view = ByteBuffer.wrap(out.array());
  /** Replaced when a write fails half-way, so the next record starts from a clean state. */
  private JsonGenerator g;
  private ViewProgram namesOf;
  private SerializedString[] names;

  ChangeJson() {
    g = newGenerator();
  }

  private JsonGenerator newGenerator() {
    try {
      JsonGenerator generator = FACTORY.createGenerator(out);
      generator.setCodec(BINDING);
      return generator;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Drops a record whose writing failed (a value that data binding cannot write) and rethrows. */
  private RuntimeException failed(Exception e) {
    g = newGenerator();
    out.reset();
    return e instanceof RuntimeException r ? r : new UncheckedIOException((IOException) e);
  }

  /** The hash of {@code values}' JSON (see the class comment), as {@link #values} computes it. */
  long hash(Map<String, Object> values) {
    out.reset();
    try {
      write(values);
      g.flush();
    } catch (IOException | RuntimeException e) {
      throw failed(e);
    }
    return hashBytes(0, out.size());
  }

  /**
   * The hash of the JSON object {@code p} stands at the start of, as {@link #hash} of the same values
   * as a map gives: the object is written again token by token (a double in its shortest form, as
   * {@link #write} writes it) and its bytes hashed, with no map or tree in between. Leaves {@code p}
   * at the object's end.
   */
  long hashCopy(com.fasterxml.jackson.core.JsonParser p) throws IOException {
    out.reset();
    try {
      g.copyCurrentStructure(p);
      g.flush();
    } catch (IOException | RuntimeException e) {
      g = newGenerator();
      out.reset();
      throw e;
    }
    return hashBytes(0, out.size());
  }

  /**
   * Starts a change event's record with its values, the results of {@code p}'s aggregations over
   * the state row {@code longs}/{@code objects} (base 0), and returns their hash, equal to
   * {@link #hash} of the same values as a map. Then either {@link #finish} completes the record or
   * {@link #abandon} drops it: a pass that finds a window's result as it emitted it pays for its
   * values only. Values come first in the record so that the hash is known before anything else
   * is written; {@link ChangeFeed} decodes fields by name.
   */
  long values(ViewProgram p, long[] longs, Object[] objects, ViewProgram.Scratch x) {
    out.reset();
    SerializedString[] names = names(p);
    try {
      g.writeStartObject();
      g.writeFieldName(VALUES);
      g.writeStartObject();
      g.flush();
      int from = out.size() - 1; // the values' '{', after the field name's ':'
      for (int i = 0; i < names.length; i++) {
        g.writeFieldName(names[i]);
        // a long result straight from its slot, as write(Long) writes it: no box per value
        switch (p.resultForm(i)) {
          case NumericFold.RESULT_LONG -> g.writeNumber(longs[p.longSlot(i)]);
          case NumericFold.RESULT_LONG_IF_SEEN -> {
            int at = p.longSlot(i);
            if (longs[at] == 0) {
              g.writeNull();
            } else {
              g.writeNumber(longs[at + 1]);
            }
          }
          default -> write(p.result(i, longs, 0, objects, 0, x));
        }
      }
      g.writeEndObject();
      g.flush();
      return hashBytes(from, out.size());
    } catch (IOException | RuntimeException e) {
      throw failed(e);
    }
  }

  /**
   * Completes the record {@link #values} started; its bytes are {@code array()[0, size())} until
   * the next call. The field names are those {@link ChangeFeed} decodes.
   */
  void finish(dev.braid.ChangeEvent.Kind kind, String key, long start, long end, boolean isFinal, long corrects,
      long version, long watermark) {
    try {
      g.writeFieldName(KIND);
      g.writeString(switch (kind) {
        case CLOSE -> CLOSE;
        case CORRECTION -> CORRECTION;
        case RETRACT -> RETRACT;
      });
      g.writeFieldName(KEY);
      g.writeString(key);
      g.writeFieldName(START);
      g.writeNumber(start);
      g.writeFieldName(END);
      g.writeNumber(end);
      g.writeFieldName(STATE);
      g.writeString(isFinal ? FINAL : PROVISIONAL);
      g.writeFieldName(CORRECTS);
      g.writeNumber(corrects);
      g.writeFieldName(VERSION);
      g.writeNumber(version);
      g.writeFieldName(WATERMARK);
      g.writeNumber(watermark);
      g.writeEndObject();
      g.flush();
    } catch (IOException | RuntimeException e) {
      throw failed(e);
    }
  }

  /**
   * The record of a retraction: the {@code values} it withdraws (as the retracted event carried
   * them), then the fields {@link #finish} writes with kind {@code retract}.
   */
  void retraction(Map<String, Object> values, String key, long start, long end, boolean isFinal, long corrects,
      long version, long watermark) {
    out.reset();
    try {
      g.writeStartObject();
      g.writeFieldName(VALUES);
      write(values);
    } catch (IOException | RuntimeException e) {
      throw failed(e);
    }
    finish(dev.braid.ChangeEvent.Kind.RETRACT, key, start, end, isFinal, corrects, version, watermark);
  }

  /** Drops the record {@link #values} started (the generator is left between records again). */
  void abandon() {
    try {
      g.writeEndObject();
      g.flush();
    } catch (IOException | RuntimeException e) {
      throw failed(e);
    }
    out.reset();
  }

  /** The aggregation names of {@code p}, encoded once per program. */
  private SerializedString[] names(ViewProgram p) {
    if (p != namesOf) {
      SerializedString[] n = new SerializedString[p.aggregationCount()];
      for (int i = 0; i < n.length; i++) {
        n[i] = new SerializedString(p.name(i));
      }
      names = n;
      namesOf = p;
    }
    return names;
  }

  private long hashBytes(int from, int to) {
    if (view.array() != out.array()) { // the buffer grew
      view = ByteBuffer.wrap(out.array());
    }
    return BatchLayer.hash64(view, from, to - from);
  }

  /** The buffer of the last record {@link #finish}ed. */
  byte[] array() {
    return out.array();
  }

  /** The length of the last record {@link #finish}ed. */
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
