package dev.braid.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.Braid;
import dev.braid.VersionState;
import dev.braid.log.Cut;
import dev.braid.spec.PipelineSpec;
import dev.braid.spec.TableSpec;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PushBadRowsTest {

  static PipelineSpec spec() {
    return PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id").field("id", "string")
        .field("age", "long").field("tags", "set<string>").field("seen", "timestamp").build()).build();
  }

  private static PushReport push(Braid b, String text, PushOptions o) {
    return b.table("users").push(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), o);
  }

  @Test
  void shouldReportEveryBadRowWithItsFileLineAndReason(@TempDir Path dir) {
    String input = String.join("\n",
        "{\"id\": \"a\", \"age\": 3}",
        "{\"id\": \"b\", \"age\": \"old\"}",
        "{\"id\": \"c\", \"agee\": 1}",
        "{\"age\": 4}",
        "{\"id\": \"d\", \"tags\": [\"x\", [1]]}",
        "{\"id\": \"e\", \"seen\": \"yesterday\"}",
        "{\"id\": \"f\" \"age\": 1}",
        "[1, 2]",
        "{\"id\": \"g\", \"age\": 1.5}",
        "{\"id\": \"i\", \"seen\": \"1796598000000\"}",
        "",
        "{\"id\": \"h\", \"age\": 5}") + "\n";
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, input, PushOptions.defaults("users.jsonl").maxBadRows("100"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.rows()).isEqualTo(2);
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
      assertThat(r.bad()).allSatisfy(x -> assertThat(x.file()).isEqualTo("users.jsonl"));
      List<String> reasons = r.bad().stream().map(PushReport.BadRow::reason).toList();
      assertThat(reasons.get(0)).contains("field 'age' (long): expected long, got string \"old\"");
      assertThat(reasons.get(1)).contains("unknown field 'agee'");
      assertThat(reasons.get(2)).contains("missing the key field 'id'");
      assertThat(reasons.get(3)).contains("collections hold scalars only");
      assertThat(reasons.get(4)).contains("'yesterday' is not an ISO-8601 instant");
      assertThat(reasons.get(5)).contains("not valid JSON");
      assertThat(reasons.get(6)).contains("expected a JSON object");
      assertThat(reasons.get(7)).contains("expected long, got number 1.5");
      assertThat(reasons.get(8)).contains("'1796598000000' is not an ISO-8601 instant (e.g. 2026-11-30T12:00:00Z); "
          + "epoch millis are a JSON number, without quotes");
      assertThat(b.table("users").get("h").values()).containsEntry("age", 5L);
    }
  }

  /**
   * A row whose time field lies past the years 0000-9999 is a bad row, in a full push and in an
   * incremental one: an incremental row is a write stamped with that time, and one far ahead would
   * win over every later write of the row (a real-time write so stamped is refused the same way).
   */
  @Test
  void shouldRefuseRowsWhoseTimeIsOutOfRange(@TempDir Path dir) {
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("tx").partitions(2).key("k")
        .field("k", "string").field("t", "timestamp").field("v", "string").time("t").build()).build();
    String input = String.join("\n",
        "{\"k\": \"max\", \"t\": 9223372036854775807, \"v\": \"a\"}",
        "{\"k\": \"y10k\", \"t\": 253402300800000, \"v\": \"a\"}",
        "{\"k\": \"early\", \"t\": -62167219200001, \"v\": \"a\"}",
        "{\"k\": \"last\", \"t\": 253402300799999, \"v\": \"a\"}",
        "{\"k\": \"now\", \"v\": \"a\"}",
        "{\"k\": \"iso\", \"t\": \"+12000-01-01T00:00:00Z\", \"v\": \"a\"}") + "\n";
    try (Braid b = Braid.open(dir, spec)) {
      for (boolean incremental : new boolean[] {false, true}) {
        PushReport r = b.table("tx").push(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
            PushOptions.defaults("tx.jsonl").incremental(incremental).maxBadRows("10"));
        assertThat(r.state()).as("incremental %s: %s", incremental, r).isEqualTo("done");
        assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(1L, 2L, 3L, 6L);
        assertThat(r.bad().get(0).reason()).contains("field 't' (the table's time, a row's last-write time): "
            + "+292278994-08-17T07:12:55.807Z (epoch milliseconds 9223372036854775807) is out of range: it must lie "
            + "in the years 0000-9999");
        // the time as the row gave it, in ISO form, not only as a number the row never held
        assertThat(r.bad().get(3).reason()).contains("+12000-01-01T00:00:00Z (epoch milliseconds");
      }
      assertThat(b.table("tx").get("max").found()).isFalse();
      assertThat(b.table("tx").get("last").found()).as("the last millisecond of 9999 is in range").isTrue();
      assertThat(b.table("tx").get("now").found()).isTrue();
    }
  }

  /**
   * A string with an unpaired UTF-16 surrogate (JSON's {@code \udfff} escape sends one) has no UTF-8
   * form: a push row, a set element, a map key or a real-time write holding one is refused by name,
   * not stored as some other string.
   */
  @Test
  void shouldRefuseStringsThatAreNotUnicodeText(@TempDir Path dir) {
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id")
        .field("id", "string").field("tags", "set<string>").field("attrs", "map<string, long>").build()).build();
    String input = String.join("\n",
        "{\"id\": \"a\\udfff\"}",
        "{\"id\": \"b\", \"tags\": [\"x\", \"\\ud83d\"]}",
        "{\"id\": \"c\", \"attrs\": {\"\\ud83dk\": 1}}",
        "{\"id\": \"d\\ud83d\\ude00\"}") + "\n";
    try (Braid b = Braid.open(dir, spec)) {
      PushReport r = push(b, input, PushOptions.defaults("users.jsonl").maxBadRows("100"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.rows()).isEqualTo(1);
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(1L, 2L, 3L);
      // a key of a map with half a pair is refused by the JSON parser itself ("Broken surrogate pair")
      assertThat(r.bad()).allSatisfy(x -> assertThat(x.reason()).containsIgnoringCase("surrogate"));
      assertThat(r.bad().get(1).reason()).contains("field 'tags'").contains("unpaired UTF-16 surrogate");
      assertThat(r.bad().get(0).reason()).contains("field 'id'").contains("\\uDFFF at character 1");
      assertThat(b.table("users").get("d\uD83D\uDE00").found()).isTrue();
      assertThat(b.table("users").get("a?").found()).isFalse();
      assertThatThrownBy(() -> b.table("users").put("e\uDFFF", java.util.Map.of("id", "e\uDFFF"), 1L))
          .hasMessageContaining("field 'id'").hasMessageContaining("unpaired UTF-16 surrogate (\\uDFFF at character 1)");
      assertThatThrownBy(() -> b.table("users").put("e", java.util.Map.of("id", "e", "attrs",
          java.util.Map.of("k\uD83D", 1L)), 1L)).hasMessageContaining("field 'attrs'")
          .hasMessageContaining("the key of an entry: the string holds an unpaired UTF-16 surrogate");
    }
  }

  /**
   * JSON lines are one object per line: a broken object does not take the next lines with it (the
   * parser read on into them), and a line with more after its object is bad as a whole, none of it
   * applied; each bad row is named by its own line.
   */
  @Test
  void shouldKeepEveryGoodLineAfterABrokenOneAndRefuseLinesWithMoreThanOneValue(@TempDir Path dir) {
    String input = String.join("\n",
        "{\"id\":\"a1\",\"age\":1}",
        "{\"id\":\"a2\",\"age\":",
        "{\"id\":\"a3\",\"age\":3}",
        "{\"id\":\"a4\",\"age\":4}",
        "{\"id\":\"g3\"} junk",
        "{\"id\":\"g1\"} {\"id\":\"g2\"}",
        "{\"id\":\"s1\",",
        "\"age\":9}",
        "{\"id\":\"a5\",\"age\":5}",
        "{\"id\":\"d1\",\"age\":1,\"age\":2}") + "\n";
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, input, PushOptions.defaults("lines.jsonl").maxBadRows("10"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(2L, 5L, 6L, 7L, 8L, 10L);
      assertThat(r.bad().get(5).reason()).contains("the field 'age' appears twice in one object");
      assertThat(r.bad().get(1).reason()).startsWith("not valid JSON: Unrecognized token 'junk'");
      assertThat(r.bad().get(2).reason()).contains("more JSON after the object on the same line");
      assertThat(r.rows()).isEqualTo(4);
      for (String id : List.of("a1", "a3", "a4", "a5")) {
        assertThat(b.table("users").get(id).found()).as(id).isTrue();
      }
      for (String id : List.of("a2", "g1", "g2", "g3", "s1", "d1")) {
        assertThat(b.table("users").get(id).found()).as(id).isFalse();
      }
    }
  }

  /**
   * A line that is not JSON right after a row: the row before it ended on its own line and is loaded
   * (or refused for its own reason), and only the broken line is bad. The parser meets the error
   * while looking for more on the row's line, so the row must be ended before the error is blamed.
   */
  @Test
  void shouldNotBlameABrokenLineOnTheRowBeforeIt(@TempDir Path dir) {
    String input = String.join("\n",
        "{\"id\":\"g1\",\"age\":1}",
        "{\"id\":\"g2\",\"age\":2}",
        "notjson",
        "{\"age\":3}",
        "also not json",
        "{\"id\":\"g3\",\"age\":3}") + "\n";
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, input, PushOptions.defaults("lines.jsonl").maxBadRows("3"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(3L, 4L, 5L);
      assertThat(r.bad().get(0).reason()).startsWith("not valid JSON: Unrecognized token 'notjson'");
      assertThat(r.bad().get(1).reason()).contains("missing the key field 'id'");
      assertThat(r.bad().get(2).reason()).startsWith("not valid JSON: Unrecognized token 'also'");
      assertThat(r.rows()).isEqualTo(3);
      for (String id : List.of("g1", "g2", "g3")) {
        assertThat(b.table("users").get(id).found()).as(id).isTrue();
      }
    }
  }

  @Test
  void shouldReportCsvBadRowsAndRefuseABadHeader(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, "id,age,tags\na,1,\"[\"\"x\"\"]\"\nb,x,\nc,2\n\"d,3,\n",
          PushOptions.defaults("u.csv").withFormat(PushFormat.csv()).maxBadRows("10"));
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(3L, 4L, 5L);
      assertThat(r.bad().get(0).reason()).contains("expected long, got 'x'");
      assertThat(r.bad().get(1).reason()).contains("expected 3 cells");
      assertThat(r.bad().get(2).reason()).contains("quoted cell (column 1) is never closed");
      assertThat(b.table("users").get("a").values()).containsEntry("tags", java.util.Set.of("x"));
      PushReport h = push(b, "id,nope\n", PushOptions.defaults("h.csv").withFormat(PushFormat.csv()));
      assertThat(h.state()).isEqualTo("failed");
      assertThat(h.failure()).contains("CSV header (line 1), column 2: unknown field 'nope'");
      PushReport noKey = push(b, "age,tags\n1,\n2,\n", PushOptions.defaults("k.csv").withFormat(PushFormat.csv()));
      assertThat(noKey.state()).isEqualTo("failed");
      assertThat(noKey.failure()).contains("CSV header (line 1) has no column for the key field 'id' (columns: age, tags)");
      assertThat(noKey.bad()).as("one failure, not a bad row per line").isEmpty();
    }
  }

  /**
   * An empty CSV cell is an absent value, except that a quoted one ({@code ""}) of a string field
   * is the empty string (as PostgreSQL reads CSV); a quoted empty cell of another type stays absent.
   */
  @Test
  void shouldReadAQuotedEmptyCellOfAStringFieldAsTheEmptyString(@TempDir Path dir) {
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id")
        .field("id", "string").field("name", "string").field("age", "long").field("tags", "set<string>").build())
        .build();
    try (Braid b = Braid.open(dir, spec)) {
      PushReport r = b.table("users").push(new ByteArrayInputStream(
              "id,name,age,tags\na,\"\",\"\",\"\"\nb,,,\nc,\"\"\"\",7,\n\"\",x,1,\n".getBytes(StandardCharsets.UTF_8)),
          PushOptions.defaults("e.csv").withFormat(PushFormat.csv()));
      assertThat(r.state()).as(r.toString()).isEqualTo("done");
      assertThat(r.bad()).isEmpty();
      Map<String, Object> a = b.table("users").get("a").values();
      assertThat(a).as("a quoted empty string cell").containsEntry("name", "");
      assertThat(a).as("a quoted empty long cell is absent").doesNotContainKey("age");
      assertThat(a).as("a quoted empty set cell is absent: empty").containsEntry("tags", java.util.Set.of());
      assertThat(b.table("users").get("b").values()).as("unquoted empty cells").doesNotContainKeys("name", "age");
      assertThat(b.table("users").get("c").values()).as("a quoted quote").containsEntry("name", "\"")
          .containsEntry("age", 7L);
      assertThat(b.table("users").get("").values()).as("the empty key, quoted").containsEntry("name", "x");
    }
  }

  /**
   * A double field holds finite numbers, as a stream's does: 1e400 (Infinity in JSON), and the CSV
   * cells NaN, Infinity, Java's 0x1p3 or 1d, are bad rows naming the field, and a real-time write of
   * one is refused; bytes that are not UTF-8 in a CSV row are a bad row naming the byte, not
   * stored as U+FFFD (JSON lines refused them already).
   */
  @Test
  void shouldRefuseDoublesThatAreNotFiniteNumbersAndCsvBytesThatAreNotUtf8(@TempDir Path dir) throws Exception {
    PipelineSpec spec = PipelineSpec.builder().table(TableSpec.builder("users").partitions(2).key("id")
        .field("id", "string").field("ratio", "double").field("limits", "map<string, double>").build()).build();
    try (Braid b = Braid.open(dir, spec)) {
      PushReport json = push(b, "{\"id\": \"a\", \"ratio\": 1e400}\n{\"id\": \"b\", \"limits\": {\"x\": -1e999}}\n"
          + "{\"id\": \"c\", \"ratio\": 2.5}\n", PushOptions.defaults("u.jsonl").maxBadRows("10"));
      assertThat(json.bad()).extracting(PushReport.BadRow::line).containsExactly(1L, 2L);
      assertThat(json.bad().get(0).reason()).contains("field 'ratio' (double): number Infinity is out of the range "
          + "of a double");
      assertThat(json.bad().get(1).reason()).contains("field 'limits'").contains("number -Infinity is out of the range");

      byte[] csv = "id,ratio\nd,NaN\ne,Infinity\nf,0x1p3\ng,1d\nh,-1.5e2\ni,\u00e9\n".getBytes(StandardCharsets.UTF_8);
      csv[csv.length - 3] = (byte) 0xff; // the first byte of é: i's cell is not UTF-8
      PushReport c = b.table("users").push(new ByteArrayInputStream(csv),
          PushOptions.defaults("u.csv").withFormat(PushFormat.csv()).incremental(true).maxBadRows("10"));
      assertThat(c.bad()).extracting(PushReport.BadRow::line).containsExactly(2L, 3L, 4L, 5L, 7L);
      assertThat(c.bad().subList(0, 4)).allSatisfy(r -> assertThat(r.reason()).contains("field 'ratio' (double): "
          + "expected double, got '"));
      assertThat(c.bad().get(4).reason()).isEqualTo("not UTF-8 text: byte 0xFF at byte 3 of the record");
      assertThat(c.bytes()).as("the file's bytes, its header too").isEqualTo(csv.length);
      awaitWrites(b); // an incremental push's rows are writes, applied by the table's follower
      assertThat(b.table("users").get("h").values()).containsEntry("ratio", -150.0);
      assertThat(b.table("users").get("i").found()).isFalse();

      assertThatThrownBy(() -> b.table("users").put("j", java.util.Map.of("ratio", Double.NaN), 1L))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("number NaN is not a finite double");
    }
  }

  /**
   * A whole number in a CSV cell is written with the digits 0-9, as in JSON and as {@code braid
   * ingest} sends a stream's CSV: another script's digits (Java's {@code Long.parseLong} takes them)
   * are a bad row naming the field; blanks around a number are not part of it.
   */
  @Test
  void shouldTakeOnlyAsciiDigitsAsAWholeNumber(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, "id,age,tags\na,\u0663,\nb, 12 ,\nc,+4,\n",
          PushOptions.defaults("digits.csv").withFormat(PushFormat.csv()).maxBadRows("10"));
      assertThat(r.state()).as(r.failure()).isEqualTo("done");
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(2L);
      assertThat(r.bad().get(0).reason()).contains("field 'age' (long): expected long, got '\u0663'");
      assertThat(b.table("users").get("b").values()).containsEntry("age", 12L);
      assertThat(b.table("users").get("c").values()).containsEntry("age", 4L);
    }
  }

  /**
   * A quote inside a cell that does not start with one is a character of that cell, as the cells are
   * split: it neither makes the lines after it part of its record (they were swallowed, a good row
   * among them, and the bad-row count understated) nor opens a quoted cell across chunks.
   */
  @Test
  void shouldTakeAQuoteInsideAnUnquotedCellAsText(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, "id,age,tags\nr1,1,\na\"b,2,\nr2,2,\nr\"3,3,\n\"r4\"x,4,\nr5,5,\"[\"\"c\"\",\"\"d\"\"]\"\n",
          PushOptions.defaults("q.csv").withFormat(PushFormat.csv()).maxBadRows("10"));
      assertThat(r.state()).as(r.failure()).isEqualTo("done");
      assertThat(r.rows()).isEqualTo(5);
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(6L);
      assertThat(r.bad().get(0).reason()).contains("text after a quoted cell");
      assertThat(b.table("users").get("a\"b").values()).containsEntry("age", 2L);
      assertThat(b.table("users").get("r2").values()).containsEntry("age", 2L);
      assertThat(b.table("users").get("r\"3").values()).containsEntry("age", 3L);
      assertThat(b.table("users").get("r5").values()).containsEntry("tags", java.util.Set.of("c", "d"));

      StringBuilder many = new StringBuilder("id,age,tags\n");
      int rows = 400_000; // about 9 MB: chunks end at record ends found with the same reading of quotes
      for (int i = 0; i < rows; i++) {
        many.append("k").append(i).append("\"x,").append(i).append(",\n");
      }
      PushReport big = push(b, many.toString(), PushOptions.defaults("many.csv").withFormat(PushFormat.csv()));
      assertThat(big.state()).as(big.failure()).isEqualTo("done");
      assertThat(big.rows()).isEqualTo(rows);
      assertThat(b.table("users").get("k" + (rows - 1) + "\"x").values()).containsEntry("age", (long) rows - 1);
    }
  }

  @Test
  void shouldEndARecordInQuotesOnlyInsideAQuotedCell() {
    assertThat(CsvRecords.endsInQuotes("a,\"b")).isTrue();
    assertThat(CsvRecords.endsInQuotes("a,\"b\"\"")).as("a doubled quote is a quote").isTrue();
    assertThat(CsvRecords.endsInQuotes("a,\"b\"\"c\"")).isFalse();
    assertThat(CsvRecords.endsInQuotes("a\"b,c")).as("a quote inside an unquoted cell").isFalse();
    assertThat(CsvRecords.endsInQuotes("a\"b,\"c")).isTrue();
    assertThat(CsvRecords.endsInQuotes("\"a\"b\"")).as("after the cell closed, quotes are text").isFalse();
    assertThat(CsvRecords.endsInQuotes("\"\"")).isFalse();
    assertThat(CsvRecords.endsInQuotes("a,b\n\"c")).as("a record after a whole one").isTrue();
  }

  /**
   * RFC 4180: a quoted cell holds line breaks, so a row can span lines; bad rows after it are named
   * by their own first line, and chunks (4 MiB) are cut only where a row ends, also in a push of
   * many such rows. A header that names a field twice is refused.
   */
  @Test
  void shouldReadCsvRowsWhoseQuotedCellsHoldLineBreaks(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, "id,age,tags\r\n\"a\nb\",1,\r\nc,x,\n\"d \"\"q\"\",\r\n e\",2,\nf,3\n",
          PushOptions.defaults("u.csv").withFormat(PushFormat.csv()).maxBadRows("10"));
      assertThat(r.state()).isEqualTo("done");
      assertThat(r.rows()).isEqualTo(2);
      assertThat(r.bad()).extracting(PushReport.BadRow::line).containsExactly(4L, 7L);
      assertThat(r.bad().get(0).reason()).contains("expected long, got 'x'");
      assertThat(r.bad().get(1).reason()).contains("expected 3 cells");
      assertThat(b.table("users").get("a\nb").values()).containsEntry("age", 1L);
      assertThat(b.table("users").get("d \"q\",\r\n e").values()).containsEntry("age", 2L);

      StringBuilder many = new StringBuilder("id,age,tags\n");
      int rows = 400_000; // about 11 MB: three chunks
      for (int i = 0; i < rows; i++) {
        many.append("\"k").append(i).append("\nline two, with a comma\",").append(i).append(",\n");
      }
      PushReport big = push(b, many.toString(), PushOptions.defaults("many.csv").withFormat(PushFormat.csv()));
      assertThat(big.state()).as(big.failure()).isEqualTo("done");
      assertThat(big.rows()).isEqualTo(rows);
      for (int i : new int[] {0, 150_001, rows - 1}) {
        assertThat(b.table("users").get("k" + i + "\nline two, with a comma").values()).containsEntry("age", (long) i);
      }

      PushReport twice = push(b, "id,age,id\n", PushOptions.defaults("h.csv").withFormat(PushFormat.csv()));
      assertThat(twice.state()).isEqualTo("failed");
      assertThat(twice.failure()).contains("CSV header (line 1) names field 'id' twice");
    }
  }

  @Test
  void shouldFailAPushOverTheBadRowLimitAndKeepServingTheCurrentVersion(@TempDir Path dir) throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(push(b, "{\"id\":\"a\",\"age\":1}\n", PushOptions.defaults("one.jsonl")).state()).isEqualTo("done");
      PushReport r = push(b, "{\"id\":\"a\",\"age\":2}\n{\"id\":1}\n{\"id\":\"c\"}\n{\"x\":1}\n",
          PushOptions.defaults("two.jsonl").maxBadRows("25%"));
      assertThat(r.state()).isEqualTo("failed");
      assertThat(r.failure()).contains("2 bad rows of 4 exceed the limit of 25% (maxBadRows; braid push "
          + "--max-bad-rows)").contains("two.jsonl:2:");
      assertThat(b.table("users").get("a").values()).containsEntry("age", 1L);
      assertThat(b.table("users").versions()).extracting(dev.braid.VersionInfo::state)
          .containsExactly(VersionState.BACKUP, VersionState.CURRENT, VersionState.FAILED);
      try (Stream<Path> files = Files.list(dir.resolve("tables/users"))) {
        assertThat(files.map(f -> f.getFileName().toString())).containsExactly("v2.base");
      }
    }
  }

  /**
   * Failed pushes and retired backups are listed up to the newest {@link VersionState#GONE_KEPT}
   * of them, as a view's are: older ones (and their pushes' reports) are forgotten, also after a
   * restart, so the catalog does not grow with every failed push.
   */
  @Test
  void shouldForgetAllButTheNewestFailedAndRetiredVersions(@TempDir Path dir) {
    List<String> failedPushes = new java.util.ArrayList<>();
    try (Braid b = Braid.open(dir, spec())) {
      for (int i = 0; i < 3; i++) { // with keep 1 (the default): one backup, the others retired
        assertThat(push(b, "{\"id\":\"a\",\"age\":" + i + "}\n", PushOptions.defaults("ok.jsonl")).state())
            .isEqualTo("done");
      }
      for (int i = 0; i < 12; i++) {
        PushReport r = push(b, "{\"id\":1}\n", PushOptions.defaults("bad" + i + ".jsonl"));
        assertThat(r.state()).isEqualTo("failed");
        failedPushes.add(r.pushId());
      }
      assertGoneKept(b.table("users"), failedPushes);
    }
    try (Braid again = Braid.open(dir, spec())) {
      assertGoneKept(again.table("users"), failedPushes);
      assertThat(again.table("users").get("a").values()).containsEntry("age", 2L);
    }
  }

  /** A catalog an older build wrote, listing every failed push, is trimmed at the next start and stored so. */
  @Test
  void shouldTrimACatalogThatListsEveryFailedPushAtStart(@TempDir Path dir) throws Exception {
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(push(b, "{\"id\":\"a\",\"age\":1}\n", PushOptions.defaults("ok.jsonl")).state()).isEqualTo("done");
      assertThat(push(b, "{\"id\":1}\n", PushOptions.defaults("bad.jsonl")).state()).isEqualTo("failed");
    }
    Path catalog = dir.resolve("catalog.json");
    ObjectMapper json = new ObjectMapper();
    ObjectNode root =
        (ObjectNode) json.readTree(catalog.toFile());
    ObjectNode users = (ObjectNode) root
        .path("tables").path("users");
    ArrayNode versions = (ArrayNode) users
        .path("versions");
    JsonNode failed = null;
    for (JsonNode v : versions) {
      failed = v.path("state").asText().equals("failed") ? v : failed;
    }
    assertThat(failed).as("the failed push's entry in " + root).isNotNull();
    long next = users.path("next").asLong();
    for (int i = 0; i < 11; i++) { // as a build before this one left them: one entry per failed push, for good
      ObjectNode copy = failed.deepCopy();
      copy.put("id", next + i);
      versions.add(copy);
    }
    users.put("next", next + 11);
    json.writeValue(catalog.toFile(), root);
    try (Braid again = Braid.open(dir, spec())) {
      assertThat(again.table("users").versions().stream().filter(v -> v.state().gone()).count())
          .isEqualTo(VersionState.GONE_KEPT);
      assertThat(again.table("users").get("a").values()).containsEntry("age", 1L);
    }
    long stored = 0;
    for (JsonNode v : json.readTree(catalog.toFile()).path("tables").path("users")
        .path("versions")) {
      stored += v.path("state").asText().equals("failed") ? 1 : 0;
    }
    assertThat(stored).as("the trimmed catalog was stored").isEqualTo(VersionState.GONE_KEPT);
  }

  private static void assertGoneKept(Table t, List<String> failedPushes) {
    List<dev.braid.VersionInfo> versions = t.versions();
    assertThat(versions.stream().filter(v -> v.state().gone()).count()).isEqualTo(VersionState.GONE_KEPT);
    assertThat(versions).extracting(dev.braid.VersionInfo::state).contains(VersionState.CURRENT, VersionState.BACKUP);
    assertThat(t.push(failedPushes.get(failedPushes.size() - 1)).state()).isEqualTo("failed");
    assertThatThrownBy(() -> t.push(failedPushes.get(0))).hasMessageContaining("unknown push");
  }

  @Test
  void shouldFailAPushWithALineLongerThanAChunkNamingTheLineAndKeepServing(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(push(b, "{\"id\":\"a\",\"age\":1}\n", PushOptions.defaults("one.jsonl")).state()).isEqualTo("done");
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < 50_000; i++) { // more than a chunk of lines before the long one
        text.append("{\"id\":\"k").append(i).append("\",\"age\":").append(i).append("}\n");
      }
      text.append("{\"id\":\"long\",\"tags\":[\"").append("x".repeat(PushLoader.CHUNK)).append("\"]}\n");
      text.append("{\"id\":\"after\"}\n");
      PushReport r = push(b, text.toString(), PushOptions.defaults("big.jsonl"));
      assertThat(r.state()).isEqualTo("failed");
      assertThat(r.failure()).contains("line 50001 is longer than " + PushLoader.CHUNK + " bytes");
      assertThat(b.table("users").get("a").values()).containsEntry("age", 1L);
      assertThat(b.table("users").get("k1").found()).isFalse();
    }
  }

  @Test
  void shouldRefuseAPushOfNoRowsUnlessAllowedToEmptyTheTable(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      assertThat(push(b, "{\"id\":\"a\",\"age\":1}\n", PushOptions.defaults("one.jsonl")).state()).isEqualTo("done");
      for (String empty : new String[] {"", "\n\n"}) {
        PushReport r = push(b, empty, PushOptions.defaults("empty.jsonl"));
        assertThat(r.state()).as("a push of '%s'", empty).isEqualTo("failed");
        assertThat(r.failure()).contains("the push holds no rows").contains("--allow-empty");
      }
      PushReport onlyBad = push(b, "{\"id\":\"x\",\"age\":\"old\"}\n", PushOptions.defaults("bad.jsonl").maxBadRows("5"));
      assertThat(onlyBad.failure()).contains("no rows (1 bad)");
      PushReport csv = push(b, "id,age\n", PushOptions.defaults("h.csv").withFormat(PushFormat.csv()));
      assertThat(csv.failure()).contains("the push holds no rows");
      assertThat(b.table("users").get("a").values()).as("still served").containsEntry("age", 1L);

      PushReport emptied = push(b, "", PushOptions.defaults("empty.jsonl").allowEmpty(true));
      assertThat(emptied.state()).isEqualTo("done");
      assertThat(b.table("users").get("a").found()).isFalse();
    }
  }

  @Test
  void shouldTakeACsvHeaderThatStartsWithAByteOrderMark(@TempDir Path dir) {
    try (Braid b = Braid.open(dir, spec())) {
      PushReport r = push(b, "\uFEFFid,age\na,7\n", PushOptions.defaults("excel.csv").withFormat(PushFormat.csv()));
      assertThat(r.state()).as("%s", r.failure()).isEqualTo("done");
      assertThat(b.table("users").get("a").values()).containsEntry("age", 7L);
    }
  }

  @Test
  void shouldRefuseAWriteLargerThanALogRecordNamingItsKeyAndSayWhatAnIncrementalPushApplied(@TempDir Path dir)
      throws Exception {
    StringBuilder tags = new StringBuilder("[");
    for (int i = 0; i < 150_000; i++) { // about 1.5 MB encoded: over the real-time log's 1 MiB records
      tags.append(i == 0 ? "" : ",").append("\"tag-").append(i).append('"');
    }
    String big = "{\"id\":\"big\",\"tags\":" + tags + "]}";
    try (Braid b = Braid.open(dir, spec())) {
      Table t = b.table("users");
      @SuppressWarnings("unchecked")
      java.util.Map<String, Object> row = new ObjectMapper().readValue(big, java.util.Map.class);
      assertThatThrownBy(() -> t.put("big", row, null)).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("row 'big' is").hasMessageContaining("a real-time write holds at most 1,048,576 bytes")
          .hasMessageContaining("only a full push of the whole table (which replaces every row)");

      PushReport inc = push(b, "{\"id\":\"a\",\"age\":1}\n" + big + "\n{\"id\":\"c\",\"age\":3}\n",
          PushOptions.defaults("inc.jsonl").incremental(true));
      assertThat(inc.state()).isEqualTo("failed");
      assertThat(inc.failure()).contains("row 'big' is").contains("1 row before it was applied as writes, none from it on");
      awaitWrites(b);
      assertThat(t.get("a").values()).containsEntry("age", 1L);
      assertThat(t.get("c").found()).isFalse();

      // a full push takes the same row: a Base row has no such limit
      assertThat(push(b, big + "\n", PushOptions.defaults("full.jsonl")).state()).isEqualTo("done");
      assertThat(t.get("big").found()).isTrue();
    }
  }

  @Test
  void shouldSayThatAnIncrementalPushStoppedByBadRowsAppliedNothingFromTheirChunkOn(@TempDir Path dir) throws Exception {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < 2_000; i++) {
      text.append("{\"id\":\"z").append(i).append("\",\"age\":").append(i == 1_500 ? "\"old\"" : i).append("}\n");
    }
    try (Braid b = Braid.open(dir, spec())) {
      PushReport inc = push(b, text.toString(), PushOptions.defaults("inc.jsonl").incremental(true));
      assertThat(inc.state()).isEqualTo("failed");
      assertThat(inc.failure()).startsWith("1 bad row exceeds the limit of 0 bad rows (maxBadRows; braid push "
          + "--max-bad-rows); first: inc.jsonl:1501:")
          .endsWith("; no row was applied");
      awaitWrites(b);
      assertThat(b.table("users").get("z0").found()).isFalse();
    }
  }

  @Test
  void shouldNameTheFirstLineAnIncrementalPushDidNotApply(@TempDir Path dir) throws Exception {
    StringBuilder text = new StringBuilder();
    int rows = 200_000; // about 6 MB: more than one chunk of 4 MiB, the bad row in the second
    for (int i = 0; i < rows; i++) {
      text.append("{\"id\":\"z").append(i).append("\",\"age\":").append(i == 190_000 ? "\"old\"" : i).append("}\n");
    }
    try (Braid b = Braid.open(dir, spec())) {
      PushReport inc = push(b, text.toString(), PushOptions.defaults("inc.jsonl").incremental(true));
      assertThat(inc.state()).isEqualTo("failed");
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("; ([0-9,]+) rows before it were applied as writes, "
          + "none from line ([0-9]+) on$").matcher(inc.failure());
      assertThat(m.find()).as(inc.failure()).isTrue();
      long applied = Long.parseLong(m.group(1).replace(",", ""));
      long firstNotApplied = Long.parseLong(m.group(2));
      assertThat(firstNotApplied).as("the line after the rows applied").isEqualTo(applied + 1).isLessThan(190_001);
      awaitWrites(b);
      assertThat(b.table("users").get("z" + (firstNotApplied - 2)).found()).as("line %d", firstNotApplied - 1).isTrue();
      assertThat(b.table("users").get("z" + (firstNotApplied - 1)).found()).as("line %d", firstNotApplied).isFalse();

      // with a percentage limit every row is read: the good ones were all applied
      PushReport pct = push(b, "{\"id\":\"p1\"}\n{\"id\":1}\n{\"id\":\"p2\"}\n{\"id\":2}\n",
          PushOptions.defaults("pct.jsonl").incremental(true).maxBadRows("10%"));
      assertThat(pct.failure()).startsWith("2 bad rows of 4 exceed the limit of 10% (maxBadRows; braid push "
          + "--max-bad-rows)")
          .endsWith("; all 2 good rows were applied as writes (with a percentage limit, the share of bad rows is "
              + "known only at the end)");
    }
  }

  @Test
  void shouldKeepPushReportsAcrossARestartAndCountABackupsRows(@TempDir Path dir) {
    PushReport first;
    PushReport second;
    try (Braid b = Braid.open(dir, spec())) {
      first = push(b, "{\"id\":\"a\",\"age\":1}\n{\"id\":\"b\",\"age\":\"old\"}\n",
          PushOptions.defaults("one.jsonl").maxBadRows("1"));
      assertThat(b.table("users").push(first.pushId())).isEqualTo(first);
      second = push(b, "{\"id\":\"a\",\"age\":1}\n{\"id\":\"b\",\"age\":2}\n{\"id\":\"c\",\"age\":3}\n",
          PushOptions.defaults("three.jsonl"));
    }
    try (Braid b = Braid.open(dir, spec())) {
      for (PushReport before : List.of(first, second)) {
        PushReport after = b.table("users").push(before.pushId());
        assertThat(after).usingRecursiveComparison().ignoringFields("seconds").as(before.pushId()).isEqualTo(before);
      }
      assertThat(b.table("users").push(first.pushId()).bad()).extracting(PushReport.BadRow::toString)
          .containsExactly("one.jsonl:2: field 'age' (long): expected long, got string \"old\"");
      assertThat(b.table("users").versions()).as("the backup's rows from its file, which is not open")
          .filteredOn(v -> v.state() != VersionState.RETIRED).extracting(dev.braid.VersionInfo::state,
              dev.braid.VersionInfo::baseKeys)
          .containsExactly(org.assertj.core.groups.Tuple.tuple(VersionState.BACKUP, 0L), // the empty table
              org.assertj.core.groups.Tuple.tuple(VersionState.BACKUP, 1L),
              org.assertj.core.groups.Tuple.tuple(VersionState.CURRENT, 3L));
      assertThatThrownBy(() -> b.table("users").push("users-99-x")).hasMessageStartingWith("unknown push 'users-99-x'; "
          + "pushes are: users-");
    }
  }

  /** Waits until the table has applied every write in its real-time log. */
  private static void awaitWrites(Braid b) throws InterruptedException {
    Cut end = b.log().stream("users.writes").end();
    for (int p = 0; p < end.partitions(); p++) {
      if (end.offset(p) > 0) {
        assertThat(b.table("users").awaitApplied(new WriteResult(p, end.offset(p) - 1, 0), 10_000)).isTrue();
      }
    }
  }
}
