package dev.braid.event;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;

/**
 * Converts one event, given as a JSON object or a Java map, into the stream's binary form (see
 * {@link EventDescriptor}), checking every field's type once, at ingest. A rejected event is a
 * value, not an exception: {@link #encode} returns the reason, naming the field and what is wrong.
 *
 * <p>Rules: every field of the event must be in the schema; the key field must be present and not
 * null; the time field (if the stream has one) must be present and valid; other fields may be
 * missing or null. Timestamps are epoch milliseconds or ISO-8601 text with an offset
 * ({@code 2026-11-22T10:15:30Z}). An event time must lie in the years 0000-9999
 * ({@link #MIN_EVENT_TIME}..{@link #MAX_EVENT_TIME}), so that every window holding it has a start and
 * an end a long can hold. A string must be Unicode text: an unpaired UTF-16 surrogate (which JSON's
 * {@code \uDFFF} escape can send) has no UTF-8 form and is refused. Not thread-safe: use one
 * encoder per thread.
 */
public final class EventEncoder {

  /** The earliest event time, 0000-01-01T00:00:00Z in epoch millis. */
  public static final long MIN_EVENT_TIME = -62_167_219_200_000L;
  /** The latest event time, 9999-12-31T23:59:59.999Z in epoch millis. */
  public static final long MAX_EVENT_TIME = 253_402_300_799_999L;

  /** The encoded event; its buffers are reused by the next {@link #encode}. */
  public static final class Encoded {
    byte[] key = new byte[0];
    byte[] value = new byte[256];
    int valueLength;
    long eventTime;

    public byte[] key() {
      return key;
    }

    public byte[] value() {
      return value;
    }

    public int valueLength() {
      return valueLength;
    }

    public long eventTime() {
      return eventTime;
    }
  }

  private final EventSchema schema;
  private final Object[] values;
  /** Whether the event being encoded gave its key field, or its time field, as null (not left out). */
  private boolean keySentNull;
  private boolean timeSentNull;
  private final byte[][] strings;
  /**
   * Per field, the number of the last {@link #tryEncode} event that gave it: a field given twice is
   * found without the parser's own duplicate detection (a set of names per object).
   */
  private final int[] seenIn;
  private int event;

  public EventEncoder(EventSchema schema) {
    this.schema = schema;
    this.values = new Object[schema.size()];
    this.strings = new byte[schema.size()][];
    this.seenIn = new int[schema.size()];
  }

  public EventSchema schema() {
    return schema;
  }

  /** Encodes a JSON object; returns null on success or the reason the event is rejected. */
  public String encode(JsonNode event, long ingestTime, Encoded out) {
    if (event == null || !event.isObject()) {
      return "an event must be a JSON object, got " + describe(event);
    }
    Arrays.fill(values, null);
    keySentNull = false;
    timeSentNull = false;
    for (Iterator<Map.Entry<String, JsonNode>> it = event.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      EventSchema.Field f = schema.find(e.getKey());
      if (f == null) {
        return unknownField(e.getKey());
      }
      Object v = fromJson(e.getValue());
      if (v instanceof Rejected r) {
        return "field '" + f.name() + "': expected " + f.type().specName() + ", got " + r.what;
      }
      values[f.index()] = v;
      if (v == null) {
        sentNull(f);
      }
    }
    return finish(ingestTime, out);
  }

  /**
   * Encodes the JSON object {@code p} reads without building a tree, when it is an event that
   * {@link #encode(JsonNode, long, Encoded)} would accept: one object of fields the schema has, each
   * a string, a whole number in the long range, a finite double, a boolean or null, and nothing after
   * it. Returns true when it encoded the event into {@code out}; false for anything else (other
   * values, unknown fields, an event the checks reject, text the parser refuses), which the caller
   * then encodes through a tree, so that the reason a rejection gives is the tree path's own. Each
   * value becomes the Java value the tree path makes of it, so an accepted event's bytes are the same.
   *
   * <p>A field given twice is declined here, so {@code p} need not detect duplicates itself.
   *
   * @throws IOException when the parser refuses the text (malformed, past its limits): also a case
   *     for the tree path
   */
  public boolean tryEncode(JsonParser p, long ingestTime, Encoded out) throws IOException {
    if (p.nextToken() != JsonToken.START_OBJECT) {
      return false;
    }
    Arrays.fill(values, null);
    keySentNull = false;
    timeSentNull = false;
    if (++event == 0) { // wrapped: no field may look seen in this event
      Arrays.fill(seenIn, 0);
      event = 1;
    }
    JsonToken t;
    while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
      EventSchema.Field f = schema.find(p.currentName());
      if (f == null || seenIn[f.index()] == event) { // unknown, or given twice
        return false;
      }
      seenIn[f.index()] = event;
      Object v;
      switch (p.nextToken()) {
        case VALUE_STRING:
          v = p.getText();
          break;
        case VALUE_NUMBER_INT: {
          JsonParser.NumberType nt = p.getNumberType();
          if (nt != JsonParser.NumberType.INT && nt != JsonParser.NumberType.LONG) {
            return false; // a BigInteger: the tree path tells whether the field takes it
          }
          v = p.getLongValue();
          break;
        }
        case VALUE_NUMBER_FLOAT: {
          double d = p.getDoubleValue(); // as the tree's DoubleNode holds it
          if (!Double.isFinite(d)) {
            return false;
          }
          v = d;
          break;
        }
        case VALUE_TRUE:
          v = Boolean.TRUE;
          break;
        case VALUE_FALSE:
          v = Boolean.FALSE;
          break;
        case VALUE_NULL:
          v = null;
          break;
        default: // an object or an array
          return false;
      }
      values[f.index()] = v;
      if (v == null) {
        sentNull(f);
      }
    }
    return t == JsonToken.END_OBJECT && p.nextToken() == null && finish(ingestTime, out) == null;
  }

  /** Encodes a Java map of field values; returns null on success or the reason it is rejected. */
  public String encode(Map<String, ?> event, long ingestTime, Encoded out) {
    Arrays.fill(values, null);
    keySentNull = false;
    timeSentNull = false;
    if (event == null) {
      return "the event is null, not a map of field values";
    }
    // entries as Map<?, ?>: a raw map from untyped code may hold a key that is not a String
    for (Map.Entry<?, ?> e : ((Map<?, ?>) event).entrySet()) {
      if (!(e.getKey() instanceof String name)) {
        return e.getKey() == null ? "a field name is null"
            : "field name " + e.getKey() + " is a " + e.getKey().getClass().getName() + ", not a String";
      }
      EventSchema.Field f = schema.find(name);
      if (f == null) {
        return unknownField(name);
      }
      values[f.index()] = e.getValue();
      if (e.getValue() == null) {
        sentNull(f);
      }
    }
    return finish(ingestTime, out);
  }

  /** Notes that the event gave field {@code f} as null: the key or time field is then null, not missing. */
  private void sentNull(EventSchema.Field f) {
    keySentNull |= f == schema.key();
    timeSentNull |= f == schema.time();
  }

  private String unknownField(String name) {
    return String.format("unknown field '%s': stream '%s' has %s", name, schema.stream(),
        String.join(", ", schema.types().keySet()));
  }

  private record Rejected(String what) {}

  private static Object fromJson(JsonNode n) {
    if (n == null || n.isNull()) {
      return null;
    }
    if (n.isTextual()) {
      return n.textValue();
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    if (n.isIntegralNumber()) {
      return n.canConvertToLong() ? (Object) n.longValue() : n.bigIntegerValue();
    }
    if (n.isNumber()) {
      return n.isBigDecimal() ? n.decimalValue() : (Object) n.doubleValue();
    }
    return new Rejected(describe(n));
  }

  private static String describe(JsonNode n) {
    if (n == null || n.isMissingNode()) {
      return "nothing";
    }
    if (n.isObject()) {
      return "an object";
    }
    if (n.isArray()) {
      return "an array";
    }
    String text = n.toString();
    return (n.isTextual() ? "string " : n.isNumber() ? "number " : "") + (text.length() > 40 ? text.substring(0, 40) + "..." : text);
  }

  private static String describe(Object v) {
    if (v instanceof String s) {
      return "string \"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
    }
    if (v instanceof Number) {
      boolean taken = v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte
          || v instanceof Double || v instanceof Float || v instanceof BigDecimal || v instanceof BigInteger;
      // a Java caller's AtomicLong or LongAdder: name the class, which is what is refused
      return "number " + v + (taken ? "" : " (a " + v.getClass().getName() + ")");
    }
    if (v instanceof Boolean) {
      return "boolean " + v;
    }
    // say what a JSON user would call it, not a Java class name such as "ListN"
    if (v instanceof Map) {
      return "an object";
    }
    if (v instanceof java.util.Collection || v.getClass().isArray()) {
      return "an array";
    }
    return v.getClass().getSimpleName();
  }

  private String finish(long ingestTime, Encoded out) {
    int n = schema.size();
    // Coerce and type-check every value; strings are converted to UTF-8 once.
    int stringBytes = 0;
    for (int i = 0; i < n; i++) {
      strings[i] = null;
      Object v = values[i];
      EventSchema.Field f = schema.field(i);
      if (v == null) {
        if (f == schema.key() || f == schema.time()) {
          boolean key = f == schema.key();
          String what = (key ? "key field '" : "time field '") + f.name() + "'";
          return (key ? keySentNull : timeSentNull) ? what + " is null: every event needs its " + (key ? "key"
              : "event time") : "missing " + what;
        }
        continue;
      }
      long unit = schema.timeUnitMillis();
      Object c = coerce(f.type(), v, unit == 1 ? "epoch millis" : "epoch seconds");
      if (c instanceof Rejected r) {
        return "field '" + f.name() + "': " + r.what;
      }
      if (unit != 1 && (f.type() == FieldType.TIMESTAMP && v instanceof Number || f == schema.time()
          && f.type() == FieldType.LONG)) {
        // epoch seconds (time_unit: s): a timestamp is kept in millis; a long time field keeps its
        // value and only the event time is scaled (below)
        long x = (Long) c;
        if (x > Long.MAX_VALUE / unit || x < Long.MIN_VALUE / unit) {
          return "field '" + f.name() + "': timestamp " + v + " is out of range: epoch seconds times 1000 must fit in "
              + "a long";
        }
        if (f.type() == FieldType.TIMESTAMP) {
          c = x * unit;
        }
      }
      values[i] = c;
      if (f.type() == FieldType.STRING) {
        strings[i] = ((String) c).getBytes(StandardCharsets.UTF_8);
        stringBytes += strings[i].length;
      }
    }
    // a stream whose fields grew writes its events with their field count (EventDescriptor)
    boolean counted = schema.grown();
    int header = EventDescriptor.headerLength(counted);
    int slots = header + EventDescriptor.bitmapBytes(n);
    int fixedLength = slots + (n << 3);
    int total = fixedLength + stringBytes;
    if (out.value.length < total) {
      out.value = new byte[Math.max(total, out.value.length * 2)];
    }
    ByteBuffer b = ByteBuffer.wrap(out.value);
    Arrays.fill(out.value, 0, fixedLength, (byte) 0);
    if (counted) {
      b.put(0, EventDescriptor.VERSION_COUNTED).putShort(1, (short) n);
    } else {
      b.put(0, EventDescriptor.VERSION);
    }
    int stringPos = fixedLength;
    for (int i = 0; i < n; i++) {
      int slot = slots + (i << 3);
      Object v = values[i];
      if (v == null) {
        int at = header + (i >>> 3);
        b.put(at, (byte) (b.get(at) | (1 << (i & 7))));
        continue;
      }
      switch (schema.field(i).type()) {
        case STRING:
          b.putInt(slot, stringPos).putInt(slot + 4, strings[i].length);
          System.arraycopy(strings[i], 0, out.value, stringPos, strings[i].length);
          stringPos += strings[i].length;
          break;
        case DOUBLE:
          b.putLong(slot, Double.doubleToRawLongBits((Double) v));
          break;
        case BOOLEAN:
          b.putLong(slot, ((Boolean) v) ? 1 : 0);
          break;
        default:
          b.putLong(slot, (Long) v);
      }
    }
    out.valueLength = total;
    Object key = values[schema.key().index()];
    // -0.0 and 0.0 are equal numbers, so one key in one partition (as SQL groups them): 0.0's text
    out.key = strings[schema.key().index()] != null ? strings[schema.key().index()]
        : (key instanceof Double d && d == 0 ? "0.0" : String.valueOf(key)).getBytes(StandardCharsets.UTF_8);
    out.eventTime = schema.time() == null ? ingestTime
        : schema.time().type() == FieldType.LONG ? (Long) values[schema.time().index()] * schema.timeUnitMillis()
        : (Long) values[schema.time().index()];
    if (schema.time() != null && (out.eventTime < MIN_EVENT_TIME || out.eventTime > MAX_EVENT_TIME)) {
      return String.format("field '%s': event time %s is outside the years 0000-9999 that event time covers "
          + "(epoch millis %d to %d): windows of times beyond them would not fit in a long", schema.time().name(),
          values[schema.time().index()], MIN_EVENT_TIME, MAX_EVENT_TIME);
    }
    return null;
  }

  /**
   * Coerces a Java value to the field type's canonical Java value, or returns a {@link Rejected};
   * {@code epochNumbers} names what a number in a timestamp field is ({@code epoch millis}, or
   * {@code epoch seconds} with {@code time_unit: s}), for the rejection's advice.
   */
  static Object coerce(FieldType type, Object v, String epochNumbers) {
    switch (type) {
      case STRING: {
        if (!(v instanceof String str)) {
          return new Rejected("expected string, got " + describe(v));
        }
        String problem = notUnicode(str);
        return problem == null ? v : new Rejected(problem);
      }
      case BOOLEAN:
        return v instanceof Boolean ? v : new Rejected("expected boolean, got " + describe(v));
      case DOUBLE: {
        if (!(v instanceof Number)) {
          return new Rejected("expected double, got " + describe(v));
        }
        String problem = notFinite((Number) v);
        return problem == null ? ((Number) v).doubleValue() : new Rejected(problem);
      }
      case LONG:
        return toLong(v, "long");
      case TIMESTAMP: {
        if (v instanceof String s) {
          return parseTimestamp(s, epochNumbers);
        }
        if (v instanceof Instant i) {
          return toEpochMilli(i, v);
        }
        return toLong(v, "timestamp (" + epochNumbers + " or ISO-8601 text)");
      }
      default:
        throw new IllegalStateException("unhandled type " + type);
    }
  }

  /**
   * Why {@code n} cannot be a double field's value (as a double it is infinite or NaN), or null when
   * it can. A field holds finite numbers only: JSON has no others, and a read would give them back as
   * the strings {@code "Infinity"} and {@code "NaN"}. Streams and tables both refuse them.
   */
  public static String notFinite(Number n) {
    double d = n.doubleValue();
    if (Double.isInfinite(d)) { // JSON's 1e400 reads as Infinity: say what the sender wrote was wrong
      return "number " + n + " is out of the range of a double: a field holds finite numbers up to "
          + Double.MAX_VALUE + " in magnitude (in JSON, a number such as 1e400 reads as Infinity)";
    }
    return Double.isNaN(d) ? "number NaN is not a finite double" : null;
  }

  /**
   * Why {@code s} is not Unicode text (an unpaired UTF-16 surrogate, which UTF-8 has no encoding for:
   * {@link String#getBytes} would store '?' in its place, silently another string), or null when it is.
   */
  public static String notUnicode(String s) {
    int at = unpairedSurrogate(s);
    return at < 0 ? null : String.format("the string holds an unpaired UTF-16 surrogate (\\u%04X at character %d), "
        + "which is not Unicode text; send the pair, or the character itself", (int) s.charAt(at), at);
  }

  /** The index of the first surrogate char of {@code s} that is not half of a pair, or -1. */
  static int unpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return i;
        }
      }
    }
    return -1;
  }

  private static Object toLong(Object v, String expected) {
    if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
      return ((Number) v).longValue();
    }
    if (v instanceof BigInteger b) { // JSON's numbers past the long range come as these; a Java caller's may fit
      return b.bitLength() < Long.SIZE ? (Object) b.longValue() : new Rejected("number " + v + " does not fit in a long");
    }
    if (v instanceof Double || v instanceof Float) {
      double x = ((Number) v).doubleValue();
      if (Double.isNaN(x) || Double.isInfinite(x)) {
        // BigDecimal.valueOf would throw NumberFormatException out of encode
        return new Rejected(notFinite((Number) v));
      }
    }
    if (v instanceof Double || v instanceof Float || v instanceof BigDecimal) {
      BigDecimal d = v instanceof BigDecimal bd ? bd : BigDecimal.valueOf(((Number) v).doubleValue());
      try {
        return d.longValueExact();
      } catch (ArithmeticException e) {
        String plain = d.stripTrailingZeros().toPlainString(); // as sent: 1780308000.5, not 1.7803080005E9
        return new Rejected("expected " + expected + ", got number " + (plain.length() <= 40 ? plain : v)
            + " (not a whole number in range)");
      }
    }
    return new Rejected("expected " + expected + ", got " + describe(v));
  }

  /**
   * Epoch millis of {@code i}, or a {@link Rejected} when they do not fit in a long: ISO-8601 allows
   * years up to +-999999999, and {@link Instant#toEpochMilli} would throw out of encode.
   */
  private static Object toEpochMilli(Instant i, Object given) {
    try {
      return i.toEpochMilli();
    } catch (ArithmeticException e) {
      return new Rejected("timestamp " + given + " is out of range: epoch milliseconds must fit in a long");
    }
  }

  /**
   * Parses ISO-8601 text with an offset into epoch millis, or returns a {@link Rejected} that advises
   * {@code epochNumbers} (see {@link #coerce}) or ISO-8601.
   */
  static Object parseTimestamp(String s, String epochNumbers) {
    try {
      return toEpochMilli(Instant.parse(s), s);
    } catch (DateTimeParseException e) {
      try {
        return toEpochMilli(OffsetDateTime.parse(s).toInstant(), s);
      } catch (DateTimeParseException e2) {
        String shown = s.length() > 40 ? s.substring(0, 40) + "..." : s;
        if (s.matches("-?[0-9]+")) { // a number sent as text: say so, rather than that it is not epoch millis
          return new Rejected("'" + shown + "' is a number written as a string: send " + epochNumbers + " as a JSON "
              + "number (without quotes), or ISO-8601 text like 2026-11-22T10:15:30Z");
        }
        if (s.matches("[0-9]{5,}-.*")) { // ISO-8601 writes years past 9999 with a sign, and Braid takes none
          return new Rejected("'" + shown + "' is a time after the year 9999: an event time must lie in the years "
              + "0000-9999");
        }
        return new Rejected("'" + shown + "' is not a timestamp: use " + epochNumbers
            + " or ISO-8601 like 2026-11-22T10:15:30Z");
      }
    }
  }
}
