package dev.braid.table;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.base.ParserBase;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON lines: one object per line, fields by name. One Jackson parser reads a whole chunk (root
 * values back to back) and checks that each value begins and ends on its own line. A row that
 * breaks that, or has a syntax error, is bad, reported at the line where it began (a broken
 * object makes the parser read on into the next lines), and the parser restarts at the next line,
 * so every later line is read as its own row.
 */
final class JsonLinesFormat implements PushFormat {

  static final JsonLinesFormat INSTANCE = new JsonLinesFormat();
  private static final JsonFactory FACTORY = JsonFactory.builder()
      .enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION).build(); // duplicates: readFields, cheaper than Jackson's

  @Override
  public String name() {
    return "jsonl";
  }

  @Override
  public int headerLines() {
    return 0;
  }

  @Override
  public Parser parser(RowSink.Fields fields, String header) {
    Map<String, Integer> index = new java.util.HashMap<>();
    for (String n : fields.names()) {
      index.put(n, fields.index(n));
    }
    String known = String.join(", ", fields.names());
    return (buf, from, to, sink) -> {
      int start = from;
      int lineBase = 0; // lines of the chunk before `start`
      int[] row = new int[1]; // the line (from `start`, 1-based) of the row begun and not ended; 0 when none
      while (start < to) {
        int restartAfter; // restart at the line after this one (from `start`)
        row[0] = 0;
        try (JsonParser p = FACTORY.createParser(buf, start, to - start)) {
          restartAfter = parseFrom(p, index, known, sink, lineBase, row);
          if (restartAfter == 0) {
            return;
          }
        } catch (IOException e) {
          // A syntax error: the row it is in (where that row began: the parser may have read on into
          // later lines, taking them for part of it) is bad; parsing restarts at the line after it.
          int errLine = Math.max(1, errorLine(e));
          restartAfter = row[0] > 0 ? row[0] : errLine;
          if (row[0] == 0) {
            sink.begin(lineBase + errLine);
          }
          sink.fail("not valid JSON: " + message(e));
          sink.end();
        }
        int l = 0;
        while (start < to && l < restartAfter) { // past `restartAfter` lines
          if (buf[start++] == '\n') {
            l++;
          }
        }
        lineBase += restartAfter;
      }
    };
  }

  /** The line (from the parser's start) of a syntax error, or 0 when the exception has none. */
  private static int errorLine(IOException e) {
    return e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getLocation() != null
        ? jpe.getLocation().getLineNr() : 0;
  }

  private static String message(IOException e) {
    if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getOriginalMessage() != null) {
      return dev.braid.ingest.Ingestor.jsonError(jpe);
    }
    String m = e.getMessage();
    int nl = m == null ? -1 : m.indexOf('\n');
    m = nl < 0 ? m : m.substring(0, nl);
    int at = m == null ? -1 : m.indexOf(" at [Source");
    return at < 0 ? m : m.substring(0, at);
  }

  /**
   * Reads rows until the parser's input ends (returns 0) or a row breaks the one-object-per-line
   * rule without a syntax error (an object that ends on a later line, more JSON after an object on
   * its line): that row is bad, and the line number (from the parser's start) to restart after is
   * returned. {@code row[0]} is the line of the row begun and not yet ended, for the caller's
   * syntax errors.
   */
  private static int parseFrom(JsonParser p, Map<String, Integer> index, String known, RowSink sink, int lineBase,
      int[] row) throws IOException {
    JsonToken t = p.nextToken();
    while (t != null) {
      int line = lineOf(p);
      row[0] = line;
      sink.begin(lineBase + line);
      if (t != JsonToken.START_OBJECT) {
        sink.fail("expected a JSON object, got " + describe(t));
        p.skipChildren();
      } else {
        readFields(p, index, known, sink);
      }
      if (lineOf(p) != line) { // the value's last token: a row must end on its own line
        sink.fail("the JSON value on this line does not end on it (one object per line)");
        sink.end();
        row[0] = 0;
        return line;
      }
      try {
        t = p.nextToken();
      } catch (IOException e) {
        if (errorLine(e) > line) { // a syntax error on a later line: this row ended whole before it
          sink.end();
          row[0] = 0;
        }
        throw e;
      }
      if (t != null && lineOf(p) == line) {
        sink.fail("more JSON after the object on the same line (one object per line)");
        sink.end();
        row[0] = 0;
        return line;
      }
      sink.end();
      row[0] = 0;
    }
    return 0;
  }

  /** The line (from the parser's start) of the current token. */
  private static int lineOf(JsonParser p) {
    // ParserBase (every byte-array parser) has the line without building a location object.
    return p instanceof ParserBase b ? b.getTokenLineNr() : p.currentTokenLocation().getLineNr();
  }

  private static void readFields(JsonParser p, Map<String, Integer> index, String known, RowSink sink)
      throws IOException {
    JsonToken t;
    long seen = 0; // fields 0..63 met in this row; a field twice is refused, not "the last one wins"
    java.util.BitSet more = null; // fields from 64 on
    while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      Integer f = index.get(name);
      t = p.nextToken();
      if (f == null) {
        sink.fail("unknown field '" + name + "' (fields: " + known + ")");
        p.skipChildren();
        continue;
      }
      boolean twice;
      if (f < 64) {
        twice = (seen & (1L << f)) != 0;
        seen |= 1L << f;
      } else {
        more = more == null ? new java.util.BitSet() : more;
        twice = more.get(f);
        more.set(f);
      }
      if (twice) {
        sink.fail("the field '" + name + "' appears twice in one object");
        p.skipChildren();
        continue;
      }
      switch (t) {
        case VALUE_STRING:
          sink.string(f, p.getTextCharacters(), p.getTextOffset(), p.getTextLength());
          break;
        case VALUE_NUMBER_INT:
          if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            sink.fail("field '" + name + "': " + p.getText() + " is out of the long range");
          } else {
            sink.longValue(f, p.getLongValue());
          }
          break;
        case VALUE_NUMBER_FLOAT:
          sink.doubleValue(f, p.getDoubleValue());
          break;
        case VALUE_TRUE:
        case VALUE_FALSE:
          sink.booleanValue(f, t == JsonToken.VALUE_TRUE);
          break;
        case VALUE_NULL:
          sink.nullValue(f);
          break;
        case START_ARRAY:
        case START_OBJECT: {
          Object v = readCollection(p, t, name);
          if (v instanceof String reason) {
            sink.fail(reason);
          } else {
            sink.collection(f, v);
          }
          break;
        }
        default:
          sink.fail("field '" + name + "': unexpected " + describe(t));
      }
    }
  }

  /** A list or map of scalars; a String is the reason it is not one. */
  private static Object readCollection(JsonParser p, JsonToken start, String name) throws IOException {
    boolean array = start == JsonToken.START_ARRAY;
    List<Object> list = array ? new ArrayList<>() : null;
    Map<String, Object> map = array ? null : new LinkedHashMap<>();
    String reason = null;
    JsonToken t;
    String key = null;
    while ((t = p.nextToken()) != (array ? JsonToken.END_ARRAY : JsonToken.END_OBJECT)) {
      if (t == JsonToken.FIELD_NAME) {
        key = p.currentName();
        continue;
      }
      Object v;
      switch (t) {
        case VALUE_STRING:
          v = p.getText();
          break;
        case VALUE_NUMBER_INT:
          v = p.getLongValue();
          break;
        case VALUE_NUMBER_FLOAT:
          v = p.getDoubleValue();
          break;
        case VALUE_TRUE:
        case VALUE_FALSE:
          v = t == JsonToken.VALUE_TRUE;
          break;
        default:
          if (reason == null) {
            reason = "field '" + name + "': collections hold scalars only, got " + describe(t);
          }
          p.skipChildren();
          continue;
      }
      if (array) {
        list.add(v);
      } else {
        map.put(key, v);
      }
    }
    return reason != null ? reason : array ? list : map;
  }

  private static String describe(JsonToken t) {
    switch (t) {
      case START_ARRAY:
        return "a list";
      case START_OBJECT:
        return "an object";
      case VALUE_STRING:
        return "a string";
      case VALUE_NULL:
        return "null";
      default:
        return t.isNumeric() ? "a number" : t.isBoolean() ? "a boolean" : t.toString();
    }
  }
}
