package dev.braid.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.braid.event.FieldType;
import dev.braid.log.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading a pipeline spec from YAML and validating it: a valid spec loads into its records, and
 * every problem is reported, all at once, as the file, the path inside it and what is wrong.
 */
class PipelineSpecTest {

  private static final String FILE = "braid.yaml";

  /** DESIGN.md's example, plus a filter, top_k and a kappa view. */
  private static final String DESIGN_EXAMPLE = """
      streams:
        transactions:
          partitions: 4
          key: user_id
          time: ts                      # event time field (epoch millis or ISO-8601)
          durability: fsync
          fields: {user_id: string, amount: double, merchant: string, country: string, ts: timestamp}
          rules: ["amount >= 0.0", "country in ['US','DE','FR','IN']"]
      views:
        spend_by_user:
          from: transactions
          filter: "amount > 0.0 && country != 'FR'"
          group_by: user_id
          window: {tumbling: 1h}
          aggregate:
            n: count
            total: sum(amount)
            biggest: max(amount)
            merchants: count_distinct(merchant)
            top_merchants: top_k(merchant, 5)
          batch: {every: 1h}
        by_country:
          from: transactions
          group_by: "merchant + ':' + country"
          aggregate: {n: count}
          mode: kappa
      """;

  // ---------------------------------------------------------------------------------------------
  // A valid spec
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldLoadTheDesignExampleIntoItsRecords() {
    PipelineSpec spec = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);

    assertThat(spec.source()).isEqualTo(FILE);
    StreamSpec tx = spec.stream("transactions");
    assertThat(tx.partitions()).isEqualTo(4);
    assertThat(tx.key()).isEqualTo("user_id");
    assertThat(tx.time()).isEqualTo("ts");
    assertThat(tx.durability()).isEqualTo(Durability.fsync());
    assertThat(tx.fields()).containsExactly(Map.entry("user_id", FieldType.STRING),
        Map.entry("amount", FieldType.DOUBLE), Map.entry("merchant", FieldType.STRING),
        Map.entry("country", FieldType.STRING), Map.entry("ts", FieldType.TIMESTAMP));
    assertThat(tx.rules()).containsExactly("amount >= 0.0", "country in ['US','DE','FR','IN']");
    assertThat(tx.schema().key().name()).isEqualTo("user_id");
    assertThat(tx.schema().time().name()).isEqualTo("ts");

    ViewSpec v = spec.view("spend_by_user");
    assertThat(v.from()).isEqualTo("transactions");
    assertThat(v.filter()).isEqualTo("amount > 0.0 && country != 'FR'");
    assertThat(v.groupBy()).isEqualTo("user_id");
    assertThat(v.window()).isEqualTo(WindowSpec.tumbling(Duration.ofHours(1)));
    assertThat(v.aggregates()).containsExactly(Map.entry("n", "count"), Map.entry("total", "sum(amount)"),
        Map.entry("biggest", "max(amount)"), Map.entry("merchants", "count_distinct(merchant)"),
        Map.entry("top_merchants", "top_k(merchant, 5)"));
    assertThat(v.batchEvery()).isEqualTo(Duration.ofHours(1));
    assertThat(v.mode()).isEqualTo(ViewSpec.Mode.LAMBDA);

    ViewSpec k = spec.view("by_country");
    assertThat(k.mode()).isEqualTo(ViewSpec.Mode.KAPPA);
    assertThat(k.window()).isNull();
    assertThat(k.batchEvery()).isNull();
    assertThat(k.filter()).isNull();
    assertThat(k.groupBy()).isEqualTo("merchant + ':' + country");
  }

  @Test
  void shouldApplyDefaultsForOptionalStreamSettings() {
    PipelineSpec spec = PipelineSpec.parse("""
        streams:
          clicks: {key: user, time: ingest, fields: {user: string, n: int, ok: bool, x: float}}
        """, FILE);

    StreamSpec s = spec.stream("clicks");
    assertThat(s.partitions()).isEqualTo(4);
    assertThat(s.time()).as("time: ingest means no event-time field").isNull();
    assertThat(s.durability()).isEqualTo(Durability.os());
    assertThat(s.rules()).isEmpty();
    assertThat(s.fields()).containsExactly(Map.entry("user", FieldType.STRING), Map.entry("n", FieldType.LONG),
        Map.entry("ok", FieldType.BOOLEAN), Map.entry("x", FieldType.DOUBLE));
    assertThat(spec.views()).isEmpty();
  }

  @Test
  void shouldLoadAFileAndNameItInErrors(@TempDir Path dir) throws Exception {
    Path good = dir.resolve("good.yaml");
    Files.writeString(good, DESIGN_EXAMPLE);
    assertThat(PipelineSpec.load(good).views()).containsOnlyKeys("spend_by_user", "by_country");

    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, DESIGN_EXAMPLE.replace("from: transactions", "from: transaction"));
    List<SpecError> errors = catchThrowableOfType(() -> PipelineSpec.load(bad), SpecException.class).errors();
    assertThat(errors).extracting(SpecError::source).containsOnly(bad.toString());
    assertThat(errors).extracting(SpecError::path)
        .containsExactly("views.spend_by_user.from", "views.by_country.from");
  }

  @Test
  void shouldReportAFileThatCannotBeRead(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("nope.yaml");
    SpecError e = onlyError(() -> PipelineSpec.load(missing));
    assertThat(e.source()).isEqualTo(missing.toString());
    assertThat(e.message()).isEqualTo("no such file");
    SpecError directory = onlyError(() -> PipelineSpec.load(dir));
    assertThat(directory.message()).isEqualTo("it is a directory; give the spec file (e.g. braid.yaml) in it");
    Path latin1 = dir.resolve("latin1.yaml");
    java.nio.file.Files.write(latin1, new byte[] {'s', 't', 'r', 'e', 'a', 'm', 's', ':', ' ', '#', (byte) 0xE9, '\n'});
    assertThat(onlyError(() -> PipelineSpec.load(latin1)).message())
        .isEqualTo("the file is not UTF-8 text; save it as UTF-8");
  }

  // ---------------------------------------------------------------------------------------------
  // One error at a time: each names the file, the path and what is wrong
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldRejectUnknownStreamInFromWithItsPath() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("from: transactions\n    filter", "from: payments\n    filter"));
    assertThat(e).isEqualTo(new SpecError(FILE, "views.spend_by_user.from",
        "unknown stream 'payments' (streams: transactions)"));
    assertThat(e.toString()).isEqualTo("braid.yaml: views.spend_by_user.from: unknown stream 'payments' "
        + "(streams: transactions)");
  }

  @Test
  void shouldRejectUnknownFieldInAnAggregateWithItsPath() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("total: sum(amount)", "total: sum(amont)"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.total");
    assertThat(e.message()).isEqualTo("unknown field 'amont' of stream 'transactions' "
        + "(fields: user_id, amount, merchant, country, ts)");
  }

  @Test
  void shouldRejectATypeTheAggregationCannotTake() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("total: sum(amount)", "total: sum(merchant)"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.total");
    assertThat(e.message()).contains("sum needs", "long", "double", "got string");
  }

  @Test
  void shouldRejectAnUnknownAggregationFunction() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("biggest: max(amount)", "biggest: maximum(amount)"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.biggest");
    assertThat(e.message()).startsWith("unknown aggregation 'maximum'; known: ").contains("max", "sum", "top_k");
  }

  @Test
  void shouldRejectAnAggregationThatDoesNotParse() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("biggest: max(amount)", "biggest: max(amount"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.biggest");
    assertThat(e.message()).contains("missing ')'");
  }

  @Test
  void shouldAcceptAnAggregationWithAWhereCondition() {
    PipelineSpec spec = PipelineSpec.parse(DESIGN_EXAMPLE.replace("biggest: max(amount)",
        "biggest: max(amount)\n      n_us: count where country == 'US'\n      big: sum(amount) where amount >= 100.0"),
        FILE);
    assertThat(spec.views().get("spend_by_user").aggregates())
        .containsEntry("n_us", "count where country == 'US'").containsEntry("big", "sum(amount) where amount >= 100.0");
  }

  @Test
  void shouldRejectAWhereConditionOverAnUnknownFieldWithItsPath() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("biggest: max(amount)", "biggest: max(amount) where price > 1.0"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.biggest");
    assertThat(e.message()).startsWith("where: invalid expression 'price > 1.0'")
        .contains("undeclared reference to 'price'");
  }

  @Test
  void shouldRejectANonBooleanWhereCondition() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("n: count\n", "n: count where amount * 2.0\n"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.n");
    assertThat(e.message()).isEqualTo("where: 'amount * 2.0' must be a boolean condition, but it is of type double");
  }

  @Test
  void shouldRejectAnEmptyWhereCondition() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("n: count\n", "n: count where\n"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.aggregate.n");
    assertThat(e.message()).contains("missing condition after 'where'");
  }

  @Test
  void shouldRejectAFilterWithASyntaxError() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("filter: \"amount > 0.0 && country != 'FR'\"",
        "filter: \"amount > \""));
    assertThat(e.path()).isEqualTo("views.spend_by_user.filter");
    assertThat(e.message()).startsWith("invalid expression 'amount > '").contains("column 10: mismatched input")
        .as("one line, without CEL's excerpt and caret").doesNotContain("\n").doesNotContain("|");
  }

  @Test
  void shouldRejectAFilterWithATypeError() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("filter: \"amount > 0.0 && country != 'FR'\"",
        "filter: \"amount > 'ten'\""));
    assertThat(e.path()).isEqualTo("views.spend_by_user.filter");
    assertThat(e.message()).contains("found no matching overload", "'_>_'", "(double, string)",
        "(timestamp, timestamp)").doesNotContain("google.protobuf");
  }

  @Test
  void shouldRejectAFilterOverAnUnknownField() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("filter: \"amount > 0.0 && country != 'FR'\"",
        "filter: \"price > 0.0\""));
    assertThat(e.path()).isEqualTo("views.spend_by_user.filter");
    assertThat(e.message()).contains("undeclared reference to 'price'");
  }

  @Test
  void shouldRejectANonBooleanFilter() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("filter: \"amount > 0.0 && country != 'FR'\"",
        "filter: \"amount * 2.0\""));
    assertThat(e.path()).isEqualTo("views.spend_by_user.filter");
    assertThat(e.message()).isEqualTo("'amount * 2.0' must be a boolean condition, but it is of type double");
  }

  @Test
  void shouldRejectABadRuleWithItsIndex() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("\"amount >= 0.0\"", "\"amount >= 'none'\""));
    assertThat(e.path()).isEqualTo("streams.transactions.rules[0]");
    assertThat(e.message()).contains("found no matching overload", "(double, string)");
  }

  /**
   * YAML 1.2's words: {@code no}, {@code yes}, {@code on} and {@code off} are text, so a field of
   * that name is grouped by and filtered on (YAML 1.1 read them as false and true: {@code group_by:
   * no} grouped every event under the constant false, and {@code filter: off} dropped every event,
   * with a spec that validated; found by the spec review).
   */
  @Test
  void shouldReadYesNoOnAndOffAsTextAsYaml12Does() {
    PipelineSpec spec = PipelineSpec.parse("""
        streams:
          ev: {key: k, fields: {k: string, no: string, yes: long, off: boolean}}
        views:
          a: {from: ev, group_by: no, aggregate: {n: count, s: sum(yes)}}
          b: {from: ev, group_by: k, filter: off, aggregate: {n: count}}
        """, FILE);
    assertThat(spec.view("a").groupBy()).isEqualTo("no");
    assertThat(spec.view("b").filter()).isEqualTo("off");
    assertThat(spec.stream("ev").key()).isEqualTo("k");
  }

  /**
   * A whole number with a leading 0 or a base prefix is refused, naming what YAML reads it as:
   * {@code partitions: 010} made 8 partitions, which the log keeps for good.
   */
  @Test
  void shouldRefuseANumberThatYamlReadsAsOctalOrHexadecimal() {
    assertThat(errors("""
        streams:
          ev: {partitions: 010, key: k, fields: {k: string}}
        views:
          a: {from: ev, group_by: k, aggregate: {n: count}, keep: 0x2}
        """)).extracting(SpecError::toString).containsExactly(
        FILE + ": streams.ev.partitions: '010' is read by YAML as an octal number, 8: write the number in decimal, "
            + "without a leading 0",
        FILE + ": views.a.keep: '0x2' is read by YAML as a hexadecimal number, 2: write the number in decimal, "
            + "without a leading 0");
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    assertThatThrownBy(() -> running.parseView("v", "{from: transactions, group_by: user_id, aggregate: {n: count}, "
        + "keep: 03}", "body", null)).as("a reprocess's definition too").isInstanceOf(SpecException.class)
        .hasMessageContaining("keep: '03' is read by YAML as an octal number, 3");
  }

  /** A YAML alias reads as its anchor's name: it is refused as an alias, not as a value of the wrong kind. */
  @Test
  void shouldRefuseAYamlAliasByName() {
    List<SpecError> all = errors("""
        streams:
          s:
            key: k
            fields: {k: string}
        views:
          v1: &common {from: s, group_by: k, aggregate: {n: count}}
          v2: *common
        """);
    assertThat(all).extracting(SpecError::toString).containsExactly(FILE + ": views.v2: a YAML alias (*common, line 7) "
        + "is not supported: write the value out in full");
    List<SpecError> scalar = errors("""
        streams:
          s:
            key: k
            partitions: &p 4
            fields: {k: string}
          t:
            key: k
            partitions: *p
            fields: {k: string}
        """);
    assertThat(scalar).extracting(SpecError::toString).containsExactly(FILE + ": streams.t.partitions: a YAML alias "
        + "(*p, line 8) is not supported: write the value out in full");
  }

  @Test
  void shouldRejectDuplicateYamlKeysWithTheirPathLineAndColumn() {
    SpecError e = onlyError("""
        streams:
          s:
            key: k
            fields: {k: string}
            key: k
        """);
    assertThat(e.source()).isEqualTo(FILE);
    assertThat(e.path()).isEqualTo("streams.s.key");
    assertThat(e.message()).isEqualTo("duplicate key 'key' (again at line 5, column 5): a spec names each key once");
    SpecError stream = onlyError("""
        streams:
          s:
            key: k
            fields: {k: string}
          s:
            key: k
            fields: {k: string}
        """);
    assertThat(stream.path()).isEqualTo("streams.s");
    assertThat(stream.message()).isEqualTo("duplicate stream 's' (again at line 5, column 3): a spec names each "
        + "stream once");
    // a stream named like a section: the kind comes from where the key is, not from the names
    SpecError named = onlyError("""
        streams:
          views:
            key: k
            fields: {k: string}
            key: k
        """);
    assertThat(named.path()).isEqualTo("streams.views.key");
    assertThat(named.message()).startsWith("duplicate key 'key'");

    // every duplicate, and the spec's other errors, in one run
    List<SpecError> all = errors("""
        streams:
          s:
            key: k
            fields: {k: string, k: long}
        views:
          v: {from: s, group_by: k, aggregate: {n: count, n: count}}
          w: {from: s, group_by: nope, aggregate: {n: count}}
        """);
    assertThat(all).extracting(SpecError::path).containsExactly("streams.s.fields.k", "views.v.aggregate.n",
        "views.w.group_by");
  }

  @Test
  void shouldRejectDuplicateAggregateNamesWithTheirPath() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("biggest: max(amount)", "n: max(amount)"));
    assertThat(e.path()).matches("views\\.\\w+\\.aggregate\\.n");
    assertThat(e.message()).startsWith("duplicate aggregate 'n' (again at line 18,").endsWith("a spec names each "
        + "aggregate once");
  }

  @Test
  void shouldRejectInvalidYamlWithPathLineAndColumn() {
    SpecError e = onlyError("""
        streams:
          s:
            key: [k
        """);
    assertThat(e.path()).isEqualTo("streams.s.key[0]");
    assertThat(e.message()).matches("(?s)not valid YAML at line 3, column \\d+: .*").contains("expected ',' or ']'");
    assertThat(e.message()).as("one line, without the YAML reader's excerpt of the text").doesNotContain("\n")
        .doesNotContain("in 'reader'");
  }

  @Test
  void shouldNameTheLineOfAMisindentedKeyInPlainWords() {
    SpecError e = onlyError("""
        streams:
          s:
            key: k
            fields:
              k: string
             x: long
        """);
    assertThat(e.message()).startsWith("not valid YAML at line 6, column ")
        .endsWith("(line 6 is indented unlike the keys before it: the keys of one mapping start in the same "
            + "column, and a value's keys further right than its own key)");
    // after a flow mapping the reader stops at the line before; the hint names the key's own line
    e = onlyError("""
        views:
          v:
            window: {tumbling: 1m}
             aggregate: {n: count}
        """);
    assertThat(e.message()).contains("(line 4 is indented unlike the keys before it");
    // stray text after a value is not an indentation problem
    e = onlyError("""
        views:
          v:
            aggregate: {n: count} extra
        """);
    assertThat(e.message()).doesNotContain("indented");
  }

  @Test
  void shouldRejectYamlNestedTooDeepSayingSoInItsOwnWords() {
    SpecError e = onlyError("views: " + "[".repeat(1500) + "]".repeat(1500) + "\n");
    assertThat(e.message()).matches("not valid YAML: it nests maps and lists more than \\d+ levels deep")
        .doesNotContain("StreamReadConstraints");
  }

  @Test
  void shouldRejectYamlThatBreaksBeforeAnyKeyWithLineAndColumnOnly() {
    SpecError e = onlyError("\"unclosed\n");
    assertThat(e.path()).matches("line \\d+, column \\d+");
    assertThat(e.message()).startsWith("not valid YAML: ");
  }

  @Test
  void shouldRejectWindowsOverAStreamThatLeavesItsTimeOutUnlessIngestTimeIsWritten() {
    String noTime = """
        streams:
          clicks: {partitions: 1, key: user, fields: {user: string, ts: timestamp}}
        views:
          per_minute: {from: clicks, group_by: user, window: {tumbling: 1m}, aggregate: {n: count}}
          total: {from: clicks, group_by: user, aggregate: {n: count}}
        """;
    assertThat(onlyError(noTime)).isEqualTo(new SpecError(FILE, "views.per_minute.window", "stream 'clicks' names no "
        + "event-time field, so these windows would follow arrival time; set `time:` on the stream to its timestamp "
        + "field (ts), or write `time: ingest` to window by arrival time"));
    assertThat(PipelineSpec.parse(noTime.replace("ts: timestamp}", "ts: timestamp}, time: ingest"), FILE)
        .streams().get("clicks").time()).as("arrival time, on purpose").isNull();
    assertThat(PipelineSpec.parse(noTime.replace("ts: timestamp}", "ts: timestamp}, time: ts"), FILE)
        .streams().get("clicks").time()).isEqualTo("ts");
  }

  @Test
  void shouldRejectIngestTimeOverAStreamWithAFieldNamedIngest() {
    String spec = """
        streams:
          clicks: {partitions: 1, key: user, time: ingest, fields: {user: string, ingest: timestamp}}
        """;
    assertThat(onlyError(spec)).isEqualTo(new SpecError(FILE, "streams.clicks.time", "'ingest' means the time each "
        + "event is ingested, but the stream also has a field named 'ingest', which it would leave aside: to take that "
        + "field's time, rename it (and time) to another name; to take the ingest time, rename the field"));
    assertThat(PipelineSpec.parse(spec.replace("ingest: timestamp", "arrived: timestamp"), FILE).streams()
        .get("clicks").time()).as("no such field: arrival time").isNull();
  }

  @Test
  void shouldRejectAViewNamedLikeAStream() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("by_country:", "transactions:"));
    assertThat(e).isEqualTo(new SpecError(FILE, "views.transactions",
        "a stream has the same name; names of streams and views must differ"));
  }

  @Test
  void shouldRejectBadWindowDurations() {
    assertThat(onlyError(window("0h")).message()).isEqualTo("duration '0h' must be positive");
    assertThat(onlyError(window("1.5h")).message()).startsWith("'1.5h' is not a duration");
    assertThat(onlyError(window("-1h")).message()).isEqualTo("duration '-1h' must not be negative");
    assertThat(onlyError(window("1 week")).message()).startsWith("'1 week' is not a duration");
    assertThat(onlyError(window("99999999999999999d")).message())
        .isEqualTo("duration '99999999999999999d' is too long");
    assertThat(onlyError(window("999999999999999999999999h")).message())
        .isEqualTo("duration '999999999999999999999999h' is too long");
  }

  @Test
  void shouldRejectAWindowThatIsNotTumbling() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("window: {tumbling: 1h}", "window: {sliding: 1h}"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.window");
    assertThat(e.message()).contains("{tumbling: <duration>}");
  }

  @Test
  void shouldRejectABadBatchSchedule() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("batch: {every: 1h}", "batch: {every: hourly}"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.batch.every");
    assertThat(e.message()).startsWith("'hourly' is not a duration");

    SpecError missing = onlyError(DESIGN_EXAMPLE.replace("batch: {every: 1h}", "batch: {cron: '0 * * * *'}"));
    assertThat(missing.path()).isEqualTo("views.spend_by_user.batch");
  }

  @Test
  void shouldRejectAKappaViewWithABatchSchedule() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("mode: kappa", "mode: kappa\n    batch: {every: 1d}"));
    assertThat(e.path()).isEqualTo("views.by_country.batch");
    assertThat(e.message()).contains("kappa view has no batch layer");
  }

  @Test
  void shouldRejectAnUnknownMode() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("mode: kappa", "mode: lambada"));
    assertThat(e).isEqualTo(new SpecError(FILE, "views.by_country.mode",
        "unknown mode 'lambada'; expected lambda or kappa"));
  }

  @Test
  void shouldRejectBadPartitions() {
    assertThat(onlyError(partitions("0"))).isEqualTo(new SpecError(FILE, "streams.transactions.partitions",
        "must be in 1..4096, got 0"));
    assertThat(onlyError(partitions("5000")).message()).isEqualTo("must be in 1..4096, got 5000");
    assertThat(onlyError(partitions("-2")).message()).isEqualTo("must be in 1..4096, got -2");
    assertThat(onlyError(partitions("four"))).isEqualTo(new SpecError(FILE, "streams.transactions.partitions",
        "must be a whole number, got \"four\""));
    assertThat(onlyError(partitions("2.5")).message()).isEqualTo("must be a whole number, got 2.5");
    assertThat(onlyError(partitions("99999999999")).message()).startsWith("must be a whole number");
  }

  @Test
  void shouldReadTheEventIdFieldAndTheDedupWindow() {
    PipelineSpec spec = PipelineSpec.parse(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n"
        + "    id: merchant\n    dedup_window: 2h"), FILE);
    StreamSpec s = spec.stream("transactions");
    assertThat(s.id()).isEqualTo("merchant");
    assertThat(s.dedupWindow()).isEqualTo(java.time.Duration.ofHours(2));
    assertThat(PipelineSpec.parse(DESIGN_EXAMPLE, FILE).stream("transactions").dedupWindow())
        .isEqualTo(java.time.Duration.ofHours(24));
  }

  @Test
  void shouldRejectAnIdFieldThatIsMissingOrNotAStringOrLongWithItsPath() {
    assertThat(onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    id: txn_id")))
        .isEqualTo(new SpecError(FILE, "streams.transactions.id", "'txn_id' is not a field (fields: user_id, amount, "
            + "merchant, country, ts)"));
    assertThat(onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    id: amount")))
        .isEqualTo(new SpecError(FILE, "streams.transactions.id", "'amount' is a double field; the event-id field "
            + "must be a string or long"));
  }

  @Test
  void shouldRejectABadDedupWindowWithItsPath() {
    assertThat(onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    dedup_window: 1 week")))
        .isEqualTo(new SpecError(FILE, "streams.transactions.dedup_window", "'1 week' is not a duration: use a number "
            + "and ms, s, m, h or d (e.g. 1h)"));
    assertThat(onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    dedup_window: 0s")))
        .isEqualTo(new SpecError(FILE, "streams.transactions.dedup_window", "duration '0s' must be positive"));
  }

  @Test
  void shouldRejectUnknownKeysSuchAsTypos() {
    SpecError e = onlyErrorIgnoring(DESIGN_EXAMPLE.replace("aggregate:\n", "agregate:\n"),
        "views.spend_by_user.aggregate");
    assertThat(e.path()).isEqualTo("views.spend_by_user.agregate");
    assertThat(e.message()).isEqualTo("unknown key; expected one of aggregate, allowed_lateness, batch, filter, "
        + "from, group_by, keep, mode, retain, window");

    SpecError s = onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durabilty: fsync"));
    assertThat(s.path()).isEqualTo("streams.transactions.durabilty");
    assertThat(s.message()).startsWith("unknown key; expected one of dedup_window, durability, fields, id, "
        + "idle_after, key, max_future, max_out_of_order, partitions, rules, time, time_unit");

    SpecError top = onlyError(DESIGN_EXAMPLE + "tabels:\n  t: {}\n");
    assertThat(top).isEqualTo(new SpecError(FILE, "tabels", "unknown section; expected streams, views or tables"));

    SpecError inWindow = onlyError(DESIGN_EXAMPLE.replace("{tumbling: 1h}", "{tumbling: 1h, slide: 5m}"));
    assertThat(inWindow.path()).isEqualTo("views.spend_by_user.window.slide");
  }

  @Test
  void shouldRejectAKeyFieldThatDoesNotExist() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("key: user_id", "key: user"));
    assertThat(e).isEqualTo(new SpecError(FILE, "streams.transactions.key",
        "'user' is not a field (fields: user_id, amount, merchant, country, ts)"));
  }

  @Test
  void shouldRejectATimeFieldThatDoesNotExist() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("time: ts ", "time: when "));
    assertThat(e.path()).isEqualTo("streams.transactions.time");
    assertThat(e.message()).startsWith("'when' is not a field");
  }

  @Test
  void shouldRejectATimeFieldOfTheWrongType() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("time: ts ", "time: amount "));
    assertThat(e).isEqualTo(new SpecError(FILE, "streams.transactions.time",
        "'amount' is a double field; the time field must be a timestamp or long"));
  }

  @Test
  void shouldAcceptALongTimeField() {
    PipelineSpec spec = PipelineSpec.parse("streams:\n  s: {key: k, time: t, fields: {k: string, t: long}}\n", FILE);
    assertThat(spec.stream("s").schema().time().type()).isEqualTo(FieldType.LONG);
  }

  @Test
  void shouldReportBadKeyAndBadTimeTogether() {
    List<SpecError> errors = errors(DESIGN_EXAMPLE.replace("key: user_id", "key: user")
        .replace("time: ts ", "time: merchant "));
    assertThat(errors).extracting(SpecError::path)
        .containsExactly("streams.transactions.key", "streams.transactions.time");
  }

  @Test
  void shouldRejectAMissingKeyOnce() {
    List<SpecError> errors = errors(DESIGN_EXAMPLE.replace("    key: user_id\n", ""));
    assertThat(errors).containsExactly(new SpecError(FILE, "streams.transactions.key", "is required"));
  }

  @Test
  void shouldRejectMissingOrEmptyFieldsOnce() {
    String noFields = "streams:\n  s: {key: k}\n";
    assertThat(errors(noFields)).containsExactly(new SpecError(FILE, "streams.s.fields",
        "is required: a mapping of field names to types"));
    assertThat(errors("streams:\n  s: {key: k, fields: [k]}\n")).extracting(SpecError::path)
        .containsExactly("streams.s.fields");
  }

  /**
   * The views of a stream that lost a field to a bad type are still checked, with the lost field
   * declared untyped: their own errors come in the same run, also in an expression that names the
   * lost field, and nothing that is only about the lost field's type is reported (it is unknown).
   */
  @Test
  void shouldCheckTheViewsOfAStreamWithABadFieldTypeInTheSameRun() {
    List<SpecError> all = errors("streams:\n  s: {key: k, fields: {k: string, n: long, tags: list<string>}}\n"
        + "views:\n  a:\n    from: s\n    group_by: k\n    filter: 'size(tags) > 0 && n > \"x\"'\n    aggregate:\n"
        + "      f: quantiles(k)\n      t: count(tags)\n      ok: sum(n)\n      w: count where size(tags) > 1\n"
        + "      u: sum(nope)\n      typo: summ(tags)\n      w2: count(tags) where tags == 1 && k > 1\n"
        + "      params: top_k(tags, 0)\n      extra: sum(tags, 3)\n      fine: top_k(tags, 3)\n"
        + "  b:\n    from: s\n    group_by: tags\n    filter: tags\n    aggregate: {c: count}\n"
        + "  c:\n    from: s\n    group_by: 'tags + 1 > 2.5'\n    filter: 'tags + 1'\n    aggregate: {c: count}\n");
    assertThat(all).extracting(SpecError::path).containsExactly("streams.s.fields.tags", "views.a.filter",
        "views.a.aggregate.f", "views.a.aggregate.u", "views.a.aggregate.typo", "views.a.aggregate.w2",
        "views.a.aggregate.params", "views.a.aggregate.extra", "views.c.filter");
    assertThat(all.get(1).message()).contains("'_>_'").contains("(int, string)");
    assertThat(all.get(3).message()).isEqualTo("unknown field 'nope' of stream 's' (fields: k, n; of an unknown "
        + "type: tags)");
    assertThat(all.get(4).message()).contains("summ");
    assertThat(all.get(5).message()).startsWith("where: ").contains("(string, int)");
    assertThat(all.get(8).message()).contains("must be a boolean condition");
    assertThat(all.get(6).message()).isEqualTo("top_k parameter k must be an integer from 1 to 1000, got '0'");
    assertThat(all.get(7).message()).isEqualTo("sum takes no parameters, got 1: ['3']");
  }

  @Test
  void shouldRejectAnUnknownFieldTypeWithoutCascadingErrors() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("amount: double", "amount: decimal"));
    assertThat(e).isEqualTo(new SpecError(FILE, "streams.transactions.fields.amount",
        "unknown type 'decimal': expected string, long, double, boolean or timestamp"));

    List<SpecError> both = errors(DESIGN_EXAMPLE.replace("amount: double", "amount: decimal")
        .replace("partitions: 4", "partitions: 0"));
    assertThat(both).extracting(SpecError::path)
        .containsExactly("streams.transactions.fields.amount", "streams.transactions.partitions");

    // the key and time fields of such a stream are still checked: they need names only
    List<SpecError> key = errors(DESIGN_EXAMPLE.replace("amount: double", "amount: decimal")
        .replace("key: user_id", "key: user"));
    assertThat(key).containsExactly(new SpecError(FILE, "streams.transactions.fields.amount",
        "unknown type 'decimal': expected string, long, double, boolean or timestamp"),
        new SpecError(FILE, "streams.transactions.key",
            "'user' is not a field (fields: user_id, merchant, country, ts, amount)"));
    assertThat(errors(DESIGN_EXAMPLE.replace("amount: double", "amount: decimal").replace("key: user_id", "key: amount")))
        .extracting(SpecError::path).as("a field with a bad type still exists").containsExactly(
            "streams.transactions.fields.amount");

    // and the types of its time and id fields, where those have a known type
    assertThat(errors("streams:\n  s: {key: k, time: name, id: amount, fields: {k: string, name: string, amount: "
        + "double, tags: \"set<strng>\"}}\n")).extracting(SpecError::path)
        .containsExactly("streams.s.fields.tags", "streams.s.time", "streams.s.id");

    // its rules are checked with the unread field untyped: one that uses it is otherwise checked too,
    // a typo in another is reported in the same run
    String rules = DESIGN_EXAMPLE.replace("amount: double", "amount: decimal")
        .replace("\"amount >= 0.0\", \"country in", "\"amount >= 0.0\", \"contry != ''\", "
            + "\"amount > 0.0 && country > 1\", \"country in");
    assertThat(rules).as("the example's rules").contains("contry");
    List<SpecError> ruleErrors = errors(rules);
    assertThat(ruleErrors).extracting(SpecError::path).containsExactly("streams.transactions.fields.amount",
        "streams.transactions.rules[1]", "streams.transactions.rules[2]");
    assertThat(ruleErrors.get(1).message()).contains("contry");
    assertThat(ruleErrors.get(2).message()).contains("(string, int)");
  }

  @Test
  void shouldRejectFieldNamesThatExpressionsCannotUse() {
    List<SpecError> errors = errors("streams:\n  s: {key: k, fields: {k: string, user-id: string, in: long}}\n");
    assertThat(errors).extracting(SpecError::path).containsExactly("streams.s.fields.user-id", "streams.s.fields.in");
    assertThat(errors.get(0).message()).startsWith("invalid field name");
  }

  /** A table field named _timestamp would be taken for a write's timestamp and dropped from the row. */
  @Test
  void shouldReserveTheWriteTimestampsNameInTables() {
    List<SpecError> errors = errors("tables:\n  t: {key: k, fields: {k: string, _timestamp: long, _ts: long}}\n");
    assertThat(errors).extracting(SpecError::path).containsExactly("tables.t.fields._timestamp");
    assertThat(errors.get(0).message()).isEqualTo("the name '_timestamp' is reserved: a write's body field of that "
        + "name gives the write's timestamp; name the field otherwise");
  }

  @Test
  void shouldRejectInvalidNamesOfStreamsViewsAndOutputs() {
    List<SpecError> errors = errors("""
        streams:
          my-stream: {key: k, fields: {k: string}}
        views:
          9lives:
            from: my-stream
            group_by: k
            aggregate: {n-1: count}
        """);
    assertThat(errors).extracting(SpecError::path)
        .containsExactly("streams.my-stream", "views.9lives", "views.9lives.aggregate.n-1");
  }

  @Test
  void shouldRejectAMissingFromGroupByAndAggregate() {
    List<SpecError> errors = errors("streams:\n  s: {key: k, fields: {k: string}}\nviews:\n  v: {filter: 'true'}\n");
    assertThat(errors).containsExactly(
        new SpecError(FILE, "views.v.from", "is required"),
        new SpecError(FILE, "views.v.group_by", "is required"),
        new SpecError(FILE, "views.v.aggregate",
            "is required: a mapping of output names to aggregations, e.g. {n: count}"));
  }

  @Test
  void shouldRejectAGroupByThatIsNeitherAFieldNorAnExpression() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("group_by: user_id", "group_by: user"));
    assertThat(e.path()).isEqualTo("views.spend_by_user.group_by");
    assertThat(e.message()).startsWith("neither a field of 'transactions' (fields: user_id, amount, merchant, country, "
        + "ts) nor a valid key expression").contains("undeclared reference to 'user'");
  }

  @Test
  void shouldRejectAGroupByExpressionThatHasNoKeyText() {
    SpecError e = onlyError(DESIGN_EXAMPLE.replace("group_by: user_id", "group_by: \"[user_id, merchant]\""));
    assertThat(e.path()).isEqualTo("views.spend_by_user.group_by");
    assertThat(e.message()).contains("cannot be a group key", "list(string)");
  }

  @Test
  void shouldRejectASpecThatIsEmptyOrNotAMapping() {
    assertThat(onlyError("")).isEqualTo(new SpecError(FILE, "", "the spec is empty; it needs `streams:`"));
    assertThat(onlyError("# nothing\n").message()).contains("empty");
    assertThat(onlyError("- a\n- b\n").message()).contains("must be a mapping");
    assertThat(onlyError("streams: [a]\n")).isEqualTo(new SpecError(FILE, "streams",
        "must be a mapping of stream names to streams"));
    assertThat(onlyError("streams:\n  s: 5\n").path()).isEqualTo("streams.s");
  }

  // ---------------------------------------------------------------------------------------------
  // Several errors at once
  // ---------------------------------------------------------------------------------------------

  @Test
  void shouldReportEveryErrorOfAFileAtOnce() {
    String yaml = """
        streams:
          transactions:
            partitions: 0
            key: user_id
            time: ts
            fields: {user_id: string, amount: double, merchant: string, ts: timestamp}
            rules: ["amount >= "]
        views:
          spend_by_user:
            from: transactions
            filter: "amount"
            group_by: user_id
            window: {tumbling: 0m}
            agregate: {n: count}
          totals:
            from: transactions
            group_by: merchant
            aggregate: {total: sum(merchant), n: countt, m: max(price)}
            batch: {every: never}
          orphan:
            from: payments
            group_by: x
            aggregate: {n: count}
        """;
    SpecException ex = catchThrowableOfType(() -> PipelineSpec.parse(yaml, FILE), SpecException.class);

    assertThat(ex.errors()).extracting(SpecError::path).containsExactlyInAnyOrder(
        "streams.transactions.partitions",
        "streams.transactions.rules[0]",
        "views.spend_by_user.agregate",
        "views.spend_by_user.window.tumbling",
        "views.spend_by_user.aggregate",
        "views.spend_by_user.filter",
        "views.totals.batch.every",
        "views.totals.aggregate.total",
        "views.totals.aggregate.n",
        "views.totals.aggregate.m",
        "views.orphan.from");
    assertThat(ex.errors()).extracting(SpecError::source).containsOnly(FILE);
    assertThat(ex.getMessage()).startsWith("invalid spec, 11 errors:\n  braid.yaml: ")
        .contains("braid.yaml: views.totals.aggregate.m: unknown field 'price'");
  }

  /** A bad key or time field does not hide the errors of the stream's rules and of the views on it. */
  @Test
  void shouldReportTheRulesAndViewsOfAStreamWhoseKeyAndTimeAreBad() {
    String yaml = """
        streams:
          sales:
            key: skuu
            time: store
            fields: {store: string, sku: string, qty: long, ts: timestamp}
            rules: ["qty >", "qtyy > 0", "qty > 0"]
        views:
          v1:
            from: sales
            group_by: store
            aggregate: {total: sum(amout), c: cnt, m: max(store), ok: sum(qty)}
          v2:
            from: sales
            group_by: "store +"
            window: {tumbling: 1h}
            aggregate: {n: count where qty >}
          fine:
            from: sales
            group_by: sku
            aggregate: {n: count}
        """;
    SpecException ex = catchThrowableOfType(() -> PipelineSpec.parse(yaml, FILE), SpecException.class);

    assertThat(ex.errors()).extracting(SpecError::path).containsExactlyInAnyOrder(
        "streams.sales.key",
        "streams.sales.time",
        "streams.sales.rules[0]",
        "streams.sales.rules[1]",
        "views.v1.aggregate.total",
        "views.v1.aggregate.c",
        "views.v1.aggregate.m",
        "views.v2.group_by",
        "views.v2.aggregate.n");
  }

  /** A call with a comma in a flow mapping is split by YAML: one error that says so and how to write it. */
  @Test
  void shouldExplainACallSplitAtItsCommaInAFlowMapping() {
    List<SpecError> errors = errors("""
        streams:
          s: {partitions: 1, key: k, fields: {k: string, v: long}}
        views:
          w: {from: s, group_by: k, aggregate: {n: count, t: top_k(k, 5)}}
          x: {from: s, group_by: k, aggregate: count}
          y: {from: s, group_by: k, aggregate: {n: }}
          z: {from: s, group_by: k, aggregate: {q: f(v, 0.5, 0.9), n: count}}
        """);
    assertThat(errors).extracting(e -> e.path() + ": " + e.message()).containsExactlyInAnyOrder(
        "views.w.aggregate.t: 'top_k(k, 5)' was split at its commas: in a YAML flow mapping {...} a comma ends an "
            + "entry; quote the call (t: 'top_k(k, 5)') or write the aggregates one per line",
        "views.z.aggregate.q: 'f(v, 0.5, 0.9)' was split at its commas: in a YAML flow mapping {...} a comma ends "
            + "an entry; quote the call (q: 'f(v, 0.5, 0.9)') or write the aggregates one per line",
        "views.x.aggregate: must be a mapping of output names to aggregations, e.g. {n: count}, got 'count'",
        "views.y.aggregate.n: needs a call such as count or sum(field), got nothing");

    // three calls split alike: their pieces share one key, which YAML keeps at its first place, so only
    // the first call is followed by its piece; each is named with the fix, and the piece is no error
    List<SpecError> three = errors("""
        streams:
          s: {partitions: 1, key: k, fields: {k: string, v: long}}
        views:
          a: {from: s, group_by: k, aggregate: {t1: top_k(k, 3), t2: top_k(v, 3), t3: top_k(k,3)}}
        """);
    assertThat(three).extracting(e -> e.path() + ": " + e.message()).containsExactly(
        "views.a.aggregate.t1: 'top_k(k, 3)' was split at its commas: in a YAML flow mapping {...} a comma ends an "
            + "entry; quote the call (t1: 'top_k(k, 3)') or write the aggregates one per line",
        "views.a.aggregate.t2: 'top_k(v' has no closing ')': if the call held a comma, in a YAML flow mapping {...} "
            + "the comma ended the entry; quote the call (t2: 'top_k(v, ...)') or write the aggregates one per line",
        "views.a.aggregate.t3: 'top_k(k' has no closing ')': if the call held a comma, in a YAML flow mapping {...} "
            + "the comma ended the entry; quote the call (t3: 'top_k(k, ...)') or write the aggregates one per line");
  }

  /**
   * A reprocess's definition without {@code mode} or {@code keep} takes the view's: leaving keep out
   * reset a {@code keep: 1} view to the default 2 backups (found by a black-box review).
   */
  @Test
  void shouldTakeModeAndKeepOfTheCurrentViewWhenADefinitionLeavesThemOut() {
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    ViewSpec current = ViewSpec.builder("spend_by_user").from("transactions").groupBy("user_id")
        .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).keep(1).build();
    String definition = "from: transactions\ngroup_by: user_id\naggregate: {n: count, s: sum(amount)}\n";
    ViewSpec parsed = running.parseView("spend_by_user", definition, "body", current);
    assertThat(parsed.mode()).isEqualTo(ViewSpec.Mode.KAPPA);
    assertThat(parsed.keep()).isEqualTo(1);
    assertThat(running.parseView("spend_by_user", definition + "keep: 4\n", "body", current).keep()).isEqualTo(4);
    assertThat(running.parseView("spend_by_user", definition, "body").keep()).as("no current view: the default")
        .isEqualTo(ViewSpec.DEFAULT_KEEP);
  }

  /**
   * A definition followed by anything (text after a JSON object's end, a second object or YAML
   * document) is refused, naming where the rest starts: the reader took the first value and dropped
   * the rest, so a truncated or concatenated reprocess body replaced a windowed view with a
   * definition without its window (found by a black-box review).
   */
  @Test
  void shouldRefuseADefinitionOrSpecWithMoreAfterIt() {
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    String json = "{\"from\":\"transactions\",\"group_by\":\"user_id\",\"aggregate\":{\"n\":\"count\"}}";
    assertThat(running.parseView("spend_by_user", json, "body").groupBy()).isEqualTo("user_id");
    for (String more : List.of(json + " trailing", json + "{\"x\":1}", json + ", garbage",
        "from: transactions\ngroup_by: user_id\naggregate: {n: count}\n---\nfrom: x\n")) {
      SpecException ex = catchThrowableOfType(() -> running.parseView("spend_by_user", more, "body"),
          SpecException.class);
      assertThat(ex).as(more).isNotNull();
      assertThat(ex.errors()).as(more).singleElement().satisfies(e -> {
        assertThat(e.source()).isEqualTo("body");
        assertThat(e.toString()).as(more).contains("there is more after the definition");
      });
    }
    SpecException twoDocs = catchThrowableOfType(() -> PipelineSpec.parse(DESIGN_EXAMPLE + "---\nstreams: {}\n", FILE),
        SpecException.class);
    assertThat(twoDocs.errors()).singleElement().satisfies(e -> assertThat(e.toString())
        .contains("there is more after the spec").contains("send one YAML document"));
  }

  /**
   * A definition sent alone names every error, as the same view in a spec file does: a duration the
   * reader refused hid the unknown group_by field and the unknown field of an aggregate (found by a
   * black-box review).
   */
  @Test
  void shouldNameEveryErrorOfADefinitionSentAlone() {
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    String bad = "{\"from\":\"transactions\",\"group_by\":\"gg\",\"window\":{\"tumbling\":\"10s\"},"
        + "\"allowed_lateness\":\"x\",\"aggregate\":{\"n\":\"sum(zz)\"}}";
    SpecException ex = catchThrowableOfType(() -> running.parseView("spend_by_user", bad, "body"), SpecException.class);
    assertThat(ex.errors()).extracting(SpecError::path)
        .containsExactlyInAnyOrder("allowed_lateness", "group_by", "aggregate.n");
  }

  /** A whole spec sent for one view: its stream must be the running one, or the view is not the one built. */
  @Test
  void shouldRefuseAWholeSpecForOneViewWhoseStreamDiffersFromTheRunningOne() {
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    ViewSpec same = running.parseView("spend_by_user", DESIGN_EXAMPLE, "new.yaml");
    assertThat(same).isEqualTo(running.views().get("spend_by_user"));
    String changed = DESIGN_EXAMPLE.replace("partitions: 4", "partitions: 16").replace("amount: double",
        "amount: long").replace("durability: fsync", "durability: fsync\n    max_out_of_order: 1h");
    assertThat(changed).isNotEqualTo(DESIGN_EXAMPLE);
    SpecException ex = catchThrowableOfType(() -> running.parseView("spend_by_user", changed, "new.yaml"),
        SpecException.class);
    assertThat(ex.errors()).singleElement().satisfies(e -> {
      assertThat(e.source()).isEqualTo("new.yaml");
      assertThat(e.path()).isEqualTo("streams.transactions");
      assertThat(e.message()).startsWith("differs from the stream the server runs (partitions 16, not 4; fields {")
          .contains("amount: long", "amount: double", "a reprocess changes only the view")
          .contains("max_out_of_order 1h, not ").doesNotContain("PT").doesNotContain("maxOutOfOrder");
    });
  }

  /** A spec file of tables only, sent for a view, is a whole spec without that view, not a view with bad keys. */
  @Test
  void shouldReadATablesOnlySpecSentForAViewAsAWholeSpec() {
    PipelineSpec running = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    SpecException ex = catchThrowableOfType(() -> running.parseView("spend_by_user",
        "tables:\n  t: {key: k, fields: {k: string}}\n", "t.yaml"), SpecException.class);
    assertThat(ex.errors()).extracting(e -> e.path() + ": " + e.message())
        .containsExactly("views.spend_by_user: the spec has no view 'spend_by_user'");
  }

  /** A map type in a flow mapping is split by YAML at its comma: one error that says how to write it. */
  @Test
  void shouldExplainAMapTypeSplitAtItsCommaInAFlowMapping() {
    List<SpecError> errors = errors("""
        tables:
          profiles:
            key: user_id
            fields: {user_id: string, limits: map<string, double>, tier: , tags: 'set<string>'}
        """);
    assertThat(errors).extracting(e -> e.path() + ": " + e.message()).containsExactly(
        "tables.profiles.fields.limits: 'map<string,double>' was split at its comma: in a YAML flow mapping {...} a "
            + "comma ends an entry; quote the type (limits: 'map<string,double>') or write the fields one per line",
        "tables.profiles.fields.tier: no type given: write the field's type after its name");
  }

  /**
   * A field type or a {@code fields} that is not a mapping of names to type names says what it got
   * (a list type was "unknown type ''", and a list of field names "is required").
   */
  @Test
  void shouldSayWhatAFieldsListOrAListTypeIs() {
    assertThat(errors("streams: {s: {key: u, fields: {u: [string]}}}\n")).extracting(e -> e.path() + ": "
        + e.message()).containsExactly("streams.s.fields.u: the type must be a name (string, long, ...), got a list");
    assertThat(errors("streams: {s: {key: u, fields: [u, ts]}}\n")).extracting(e -> e.path() + ": " + e.message())
        .containsExactly("streams.s.fields: must be a mapping of field names to types ({user: string, amount: "
            + "double}), got a list");
    assertThat(errors("tables: {t: {key: k, fields: {k: {type: string}}}}\n")).extracting(e -> e.path() + ": "
        + e.message()).containsExactly("tables.t.fields.k: the type must be a name (string, long, set<string>, ...), "
        + "got a mapping");
    assertThat(errors("tables: {t: {key: k, fields: k}}\n")).extracting(e -> e.path() + ": " + e.message())
        .containsExactly("tables.t.fields: must be a mapping of field names to types ({user: string, amount: double}), "
            + "got 'k'");
  }

  @Test
  void shouldSayOneErrorOnOneLine() {
    SpecException ex = catchThrowableOfType(
        () -> PipelineSpec.parse(DESIGN_EXAMPLE.replace("sum(amount)", "sum(merchant)"), FILE), SpecException.class);
    assertThat(ex.getMessage()).startsWith("invalid spec: braid.yaml: views.spend_by_user.aggregate.total: sum needs")
        .doesNotContain("\n");
  }

  // ---------------------------------------------------------------------------------------------
  // The Java builder validates the same way
  // ---------------------------------------------------------------------------------------------

  private static StreamSpec.Builder transactions() {
    return StreamSpec.builder("transactions").partitions(4).key("user_id").time("ts")
        .field("user_id", FieldType.STRING).field("amount", FieldType.DOUBLE).field("merchant", FieldType.STRING)
        .field("country", FieldType.STRING).field("ts", FieldType.TIMESTAMP)
        .rule("amount >= 0.0").rule("country in ['US','DE','FR','IN']");
  }

  private static ViewSpec.Builder spendByUser() {
    return ViewSpec.builder("spend_by_user").from("transactions").filter("amount > 0.0 && country != 'FR'")
        .groupBy("user_id").tumbling(Duration.ofHours(1)).aggregate("n", "count").aggregate("total", "sum(amount)")
        .aggregate("biggest", "max(amount)").aggregate("merchants", "count_distinct(merchant)")
        .aggregate("top_merchants", "top_k(merchant, 5)").batchEvery(Duration.ofHours(1));
  }

  @Test
  void shouldBuildInJavaTheSameSpecAsTheYaml() {
    PipelineSpec built = PipelineSpec.builder().stream(transactions().durability(Durability.fsync()).build())
        .view(spendByUser().build())
        .view(ViewSpec.builder("by_country").from("transactions").groupBy("merchant + ':' + country")
            .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).build())
        .build();
    PipelineSpec loaded = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);

    assertThat(built.source()).isEqualTo("java");
    assertThat(built.streams()).isEqualTo(loaded.streams());
    assertThat(built.views()).isEqualTo(loaded.views());
  }

  @Test
  void shouldValidateAJavaSpecLikeAYamlOne() {
    String yaml = DESIGN_EXAMPLE.replace("sum(amount)", "sum(merchant)").replace("max(amount)", "max(price)")
        .replace("filter: \"amount > 0.0 && country != 'FR'\"", "filter: \"amount\"")
        .replace("\"amount >= 0.0\"", "\"amount >= \"");
    List<SpecError> fromYaml = errors(yaml);
    List<SpecError> fromJava = catchThrowableOfType(() -> PipelineSpec.builder()
        .stream(StreamSpec.builder("transactions").partitions(4).key("user_id").time("ts")
            .field("user_id", FieldType.STRING).field("amount", FieldType.DOUBLE).field("merchant", FieldType.STRING)
            .field("country", FieldType.STRING).field("ts", FieldType.TIMESTAMP)
            .rule("amount >= ").rule("country in ['US','DE','FR','IN']").build())
        .view(ViewSpec.builder("spend_by_user").from("transactions").filter("amount").groupBy("user_id")
            .tumbling(Duration.ofHours(1)).aggregate("n", "count").aggregate("total", "sum(merchant)")
            .aggregate("biggest", "max(price)").aggregate("merchants", "count_distinct(merchant)")
            .aggregate("top_merchants", "top_k(merchant, 5)").batchEvery(Duration.ofHours(1)).build())
        .view(ViewSpec.builder("by_country").from("transactions").groupBy("merchant + ':' + country")
            .aggregate("n", "count").mode(ViewSpec.Mode.KAPPA).build())
        .build(), SpecException.class).errors();

    assertThat(fromYaml).hasSize(4);
    assertThat(fromJava).extracting(SpecError::source).containsOnly("java");
    assertThat(fromJava).extracting(SpecError::path, SpecError::message)
        .containsExactlyElementsOf(fromYaml.stream()
            .map(e -> org.assertj.core.groups.Tuple.tuple(e.path(), e.message())).toList());
  }

  @Test
  void shouldRejectAJavaSpecMissingWhatYamlRequires() {
    List<SpecError> errors = catchThrowableOfType(() -> PipelineSpec.builder()
        .stream(StreamSpec.builder("nokey").field("k", FieldType.STRING).build())
        .stream(StreamSpec.builder("nofields").key("k").build())
        .view(ViewSpec.builder("v").build())
        .build(), SpecException.class).errors();

    assertThat(errors).containsExactly(
        new SpecError("java", "streams.nokey.key", "is required"),
        new SpecError("java", "streams.nofields.fields", "is required: a mapping of field names to types"),
        new SpecError("java", "views.v.from", "is required"),
        new SpecError("java", "views.v.group_by", "is required"),
        new SpecError("java", "views.v.aggregate",
            "is required: a mapping of output names to aggregations, e.g. {n: count}"));
  }

  /** Durations over 10,000 years set through the Java builder are refused as a spec file's are (see Durations.MAX). */
  @Test
  void shouldRejectAJavaDurationOverTenThousandYears() {
    Duration tooLong = Duration.ofDays(106_751_990_000L);
    List<SpecError> errors = catchThrowableOfType(() -> PipelineSpec.builder()
        .stream(transactions().maxOutOfOrder(tooLong).build())
        .view(spendByUser().window(WindowSpec.tumbling(Duration.ofHours(1))).allowedLateness(tooLong).build())
        .build(), SpecException.class).errors();
    assertThat(errors).containsExactly(
        new SpecError("java", "streams.transactions.max_out_of_order", "must be at most 3652500d (10,000 years), got "
            + "106751990000d"),
        new SpecError("java", "views.spend_by_user.allowed_lateness", "must be at most 3652500d (10,000 years), got "
            + "106751990000d"));
    assertThatThrownBy(() -> WindowSpec.session(tooLong)).hasMessage("window gap must be at most 3652500d "
        + "(10,000 years), got 106751990000d");
    assertThat(onlyError(window("106751990000d")).message())
        .isEqualTo("duration '106751990000d' is too long: at most 3652500d (10,000 years)");
  }

  @Test
  void shouldRejectAJavaBatchScheduleThatIsNotPositive() {
    for (Duration every : List.of(Duration.ZERO, Duration.ofMinutes(-5), Duration.ofNanos(10),
        Duration.ofSeconds(Long.MAX_VALUE))) {
      List<SpecError> errors = catchThrowableOfType(() -> PipelineSpec.builder().stream(transactions().build())
          .view(spendByUser().batchEvery(every).build()).build(), SpecException.class).errors();
      assertThat(errors).as("every %s", every).extracting(SpecError::path)
          .containsExactly("views.spend_by_user.batch.every");
    }
  }

  @Test
  void shouldRejectAJavaKappaViewWithABatchSchedule() {
    assertThatThrownBy(() -> PipelineSpec.builder().stream(transactions().build())
        .view(spendByUser().mode(ViewSpec.Mode.KAPPA).build()).build())
        .isInstanceOf(SpecException.class).hasMessageContaining("views.spend_by_user.batch: a kappa view");
  }

  @Test
  void shouldSayThatAViewCannotReadATable() {
    assertThatThrownBy(() -> PipelineSpec.builder().stream(transactions().build())
        .table(TableSpec.builder("profiles").key("id").field("id", "string").build())
        .view(ViewSpec.builder("of_table").from("profiles").groupBy("id").aggregate("n", "count").build()).build())
        .isInstanceOf(SpecException.class).hasMessageContaining("views.of_table.from: 'profiles' is a table, and a "
            + "view reads a stream: a table is read by key (GET /v1/tables/profiles/rows/{key})");
  }

  @Test
  void shouldRefuseDuplicateNamesInTheBuilders() {
    assertThatThrownBy(() -> StreamSpec.builder("s").field("a", FieldType.STRING).field("a", FieldType.LONG))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("stream 's' already has a field 'a'");
    assertThatThrownBy(() -> TableSpec.builder("t").key("a").field("a", "string").field("a", "long"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("table 't' already has a field 'a'");
    assertThatThrownBy(() -> ViewSpec.builder("v").tumbling(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("view 'v', window: ");
    assertThatThrownBy(() -> TableSpec.builder("t").field("a", "strin"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("table 't', field 'a': unknown type 'strin'");
    assertThatThrownBy(() -> ViewSpec.builder("v").aggregate("n", "count").aggregate("n", "sum(x)"))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("view 'v' already has an aggregate 'n'");
    assertThatThrownBy(() -> PipelineSpec.builder().stream(transactions().build()).stream(transactions().build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("streams.transactions: duplicate stream 'transactions': a spec defines each stream once");
    assertThatThrownBy(() -> PipelineSpec.builder().view(spendByUser().build()).view(spendByUser().build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("views.spend_by_user: duplicate view 'spend_by_user': a spec defines each view once");
  }

  @Test
  void shouldReadEveryWindowKindTheWatermarkOptionsAndLatenessAndWriteThemBack() {
    String yaml = DESIGN_EXAMPLE.replace("time: ts                      # event time field (epoch millis or ISO-8601)",
        "time: ts\n    time_unit: s\n    max_out_of_order: 30s\n    idle_after: 2m\n    max_future: 1h")
        .replace("window: {tumbling: 1h}", "window: {hopping: {size: 1h, every: 5m}}\n    allowed_lateness: 10m")
        .replace("mode: kappa", "mode: kappa\n    window: {tumbling: 1m}\n    allowed_lateness: 0s");
    PipelineSpec spec = PipelineSpec.parse(yaml, FILE);
    StreamSpec s = spec.stream("transactions");
    assertThat(s.timeUnit()).isEqualTo(StreamSpec.TimeUnit.SECONDS);
    assertThat(s.maxOutOfOrder()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.idleAfter()).isEqualTo(Duration.ofMinutes(2));
    assertThat(s.maxFuture()).isEqualTo(Duration.ofHours(1));
    assertThat(PipelineSpec.parse(DESIGN_EXAMPLE, FILE).stream("transactions").maxFuture()).as("no limit").isNull();
    SpecError zero = onlyError(yaml.replace("max_future: 1h", "max_future: 0s"));
    assertThat(zero.path()).isEqualTo("streams.transactions.max_future");
    ViewSpec v = spec.views().get("spend_by_user");
    assertThat(v.window()).isEqualTo(WindowSpec.hopping(Duration.ofHours(1), Duration.ofMinutes(5)));
    assertThat(v.allowedLateness()).isEqualTo(Duration.ofMinutes(10));
    assertThat(spec.views().get("by_country").allowedLateness()).isEqualTo(Duration.ZERO);
    assertThat(spec.parseView("spend_by_user", PipelineSpec.viewDocument(v), "doc")).isEqualTo(v);
    for (String w : List.of("{session: {gap: 30m}}", "{tumbling: 1d, zone: Europe/Berlin}", "{tumbling: 15m}")) {
      ViewSpec x = PipelineSpec.parse(DESIGN_EXAMPLE.replace("{tumbling: 1h}", w), FILE).views().get("spend_by_user");
      assertThat(x.window().toString()).as(w).isEqualTo(w);
      assertThat(spec.parseView("spend_by_user", PipelineSpec.viewDocument(x), "doc")).as(w).isEqualTo(x);
    }
    assertThat(PipelineSpec.parse(DESIGN_EXAMPLE, FILE).stream("transactions").idleAfter())
        .isEqualTo(StreamSpec.DEFAULT_IDLE_AFTER);
    for (String utc : List.of("UTC", "Etc/UTC", "Z", "'+00:00'")) { // UTC by any name: hours are UTC's anyway
      String w = "{tumbling: 1h, zone: " + utc + "}";
      WindowSpec x = PipelineSpec.parse(DESIGN_EXAMPLE.replace("{tumbling: 1h}", w), FILE).views()
          .get("spend_by_user").window();
      assertThat(x.zoned()).as(w).isFalse();
      assertThat(x.start(1_700_000_123_456L)).as(w).isEqualTo(1_700_000_123_456L / 3_600_000L * 3_600_000L);
    }
  }

  @Test
  void shouldRejectBadEventTimeOptionsWithTheirPaths() {
    Map<String, String[]> cases = new LinkedHashMap<>();
    cases.put("{hopping: {size: 5m, every: 1h}}", new String[] {"views.spend_by_user.window.hopping.every",
        "every (1h) must not exceed size (5m)"});
    cases.put("{hopping: {size: 1h}}", new String[] {"views.spend_by_user.window.hopping", "{size: <duration>, every"});
    cases.put("{hopping: {size: 1d, every: 1s}}", new String[] {"views.spend_by_user.window.hopping.every",
        "size / every must be at most 1024"});
    cases.put("{session: {gap: soon}}", new String[] {"views.spend_by_user.window.session.gap", "'soon' is not a duration"});
    cases.put("{session: 30m}", new String[] {"views.spend_by_user.window.session", "{gap: <duration>}"});
    cases.put("{tumbling: 1h, zone: Mars/Olympus}", new String[] {"views.spend_by_user.window.zone",
        "unknown time zone 'Mars/Olympus'"});
    cases.put("{tumbling: 1h, zone: Europe/Berlin}", new String[] {"views.spend_by_user.window.zone",
        "size must be a whole number of days"});
    cases.put("{tumbling: 1h, session: {gap: 1m}}", new String[] {"views.spend_by_user.window",
        "has tumbling and session; a window has one kind"});
    cases.put("{session: {gap: 1m, size: 1h}}", new String[] {"views.spend_by_user.window.session.size",
        "unknown key"});
    cases.forEach((w, want) -> {
      SpecError e = onlyError(DESIGN_EXAMPLE.replace("{tumbling: 1h}", w));
      assertThat(e.path()).as(w).isEqualTo(want[0]);
      assertThat(e.message()).as(w).contains(want[1]);
    });
    SpecError unit = onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    time_unit: us"));
    assertThat(unit.path()).isEqualTo("streams.transactions.time_unit");
    assertThat(unit.message()).contains("expected ms (epoch milliseconds) or s (epoch seconds)");
    SpecError ooo = onlyError(DESIGN_EXAMPLE.replace("durability: fsync", "durability: fsync\n    max_out_of_order: x"));
    assertThat(ooo.path()).isEqualTo("streams.transactions.max_out_of_order");
    SpecError late = onlyError(DESIGN_EXAMPLE.replace("mode: kappa", "mode: kappa\n    allowed_lateness: 5m"));
    assertThat(late.path()).isEqualTo("views.by_country.allowed_lateness");
    assertThat(late.message()).contains("only a windowed view");
  }

  @Test
  void shouldRefuseAWindowThatIsNotAWholeNumberOfMillis() {
    assertThatThrownBy(() -> ViewSpec.builder("v").tumbling(Duration.ofNanos(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole number of milliseconds");
    assertThatThrownBy(() -> ViewSpec.builder("v").tumbling(Duration.ofNanos(1_500_000)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ViewSpec.builder("v").tumbling(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("positive");
    assertThatThrownBy(() -> ViewSpec.builder("v").tumbling(Duration.ofSeconds(Long.MAX_VALUE)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void shouldKeepTheBatchScheduleOutOfTheDefinition() {
    ViewSpec hourly = spendByUser().build();
    ViewSpec daily = spendByUser().batchEvery(Duration.ofDays(1)).build();
    assertThat(hourly.definition()).isEqualTo(daily.definition())
        .contains("window={tumbling: 1h}", "filter=amount > 0.0 && country != 'FR'");
    assertThat(spendByUser().filter(null).build().definition()).isNotEqualTo(hourly.definition());
  }

  @Test
  void shouldKeepSpecRecordsImmutable() {
    PipelineSpec spec = PipelineSpec.parse(DESIGN_EXAMPLE, FILE);
    assertThatThrownBy(() -> spec.streams().clear()).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> spec.stream("transactions").fields().clear())
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> spec.view("spend_by_user").aggregates().clear())
        .isInstanceOf(UnsupportedOperationException.class);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  private static String window(String duration) {
    return DESIGN_EXAMPLE.replace("{tumbling: 1h}", "{tumbling: " + duration + "}");
  }

  private static String partitions(String value) {
    return DESIGN_EXAMPLE.replace("partitions: 4", "partitions: " + value);
  }

  private static List<SpecError> errors(String yaml) {
    SpecException ex = catchThrowableOfType(() -> PipelineSpec.parse(yaml, FILE), SpecException.class);
    assertThat(ex).as("spec should be refused:\n%s", yaml).isNotNull();
    return ex.errors();
  }

  private static SpecError onlyError(String yaml) {
    List<SpecError> errors = errors(yaml);
    assertThat(errors).as("errors").hasSize(1);
    assertThat(errors.get(0).source()).isEqualTo(FILE);
    return errors.get(0);
  }

  /** The only error besides one at {@code ignoredPath} (which a typo also causes). */
  private static SpecError onlyErrorIgnoring(String yaml, String ignoredPath) {
    List<SpecError> errors = errors(yaml).stream().filter(e -> !e.path().equals(ignoredPath)).toList();
    assertThat(errors).as("errors").hasSize(1);
    return errors.get(0);
  }

  private static SpecError onlyError(org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    SpecException ex = catchThrowableOfType(call, SpecException.class);
    assertThat(ex).isNotNull();
    assertThat(ex.errors()).hasSize(1);
    return ex.errors().get(0);
  }
}
