package dev.braid.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.braid.event.FieldType;
import dev.braid.spec.TableFieldType;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code braid row TABLE KEY...}: rows of a table, and what each is as of. */
@Command(name = "row", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Read rows of a table (the pushed row with the real-time writes since the push applied).")
public final class RowCommand implements Callable<Integer> {

  @Spec
  CommandSpec command;

  @Mixin
  ClientOptions client;

  @Parameters(index = "0", paramLabel = "TABLE")
  String table;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "KEY")
  List<String> keys;

  @Override
  public Integer call() {
    BraidClient http = client.http();
    String base = "/v1/tables/" + BraidClient.enc(table) + "/rows";
    JsonNode r;
    if (keys.size() == 1 && !BraidClient.keyNeedsBody(keys.get(0))) {
      r = http.get(base + "/" + BraidClient.enc(keys.get(0)));
    } else { // several keys, or a key a URL path cannot name (empty, NUL, too long)
      com.fasterxml.jackson.databind.node.ObjectNode body = BraidClient.JSON.createObjectNode();
      keys.forEach(body.putArray("keys")::add);
      r = http.post(base + ":batchGet", "application/json", body.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
      if (keys.size() == 1) {
        r = r.path("rows").get(0); // answered as a read of one key is
      }
    }
    PrintWriter out = command.commandLine().getOut();
    if (client.json) {
      out.println(r.toPrettyString());
      out.flush();
      return 0;
    }
    JsonNode types = http.get("/v1/tables/" + BraidClient.enc(table)).path("fields"); // timestamps as ISO-8601
    for (JsonNode row : r.has("rows") ? r.path("rows") : BraidClient.JSON.createArrayNode().add(r)) {
      out.printf("%s[%s]%s%n", table, Table.visible(row.path("key").asText()), row.path("found").asBoolean() ? ""
          : "  (no such row: never written, deleted, or expired)");
      if (row.path("found").asBoolean()) {
        Table t = new Table("field", "value");
        for (Iterator<Map.Entry<String, JsonNode>> it = row.path("values").fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          t.row(e.getKey(), readable(e.getValue(), types.path(e.getKey()).asText()));
        }
        t.print(out);
      }
      JsonNode a = row.path("asOf");
      out.printf("as of version %d (push %s): pushed at cut %s, writes applied up to %s%n%n", a.path("version").asLong(),
          a.path("pushId").isNull() ? "none" : a.path("pushId").asText(), a.path("cut"), a.path("position"));
    }
    out.flush();
    return 0;
  }

  /**
   * A field's value for a person: text as it is, a timestamp (or a collection's timestamps) as
   * ISO-8601 rather than epoch millis, the rest as JSON. {@code type} is the field's type as the
   * table's description names it (empty when not known: a field the spec no longer has).
   */
  static String readable(JsonNode value, String type) {
    TableFieldType t;
    try {
      t = type.isEmpty() ? null : TableFieldType.parse(type);
    } catch (IllegalArgumentException e) {
      t = null; // a type this client does not know: shown as JSON
    }
    if (t == null || t.element() != FieldType.TIMESTAMP) {
      return value.isTextual() ? value.asText() : value.toString();
    }
    if (!t.isCollection()) {
      return QueryCommand.instant(value);
    }
    JsonNode shown = value.deepCopy();
    if (shown instanceof ObjectNode map) {
      map.fields().forEachRemaining(e -> e.setValue(TextNode.valueOf(QueryCommand.instant(e.getValue()))));
    } else if (shown instanceof ArrayNode list) {
      for (int i = 0; i < list.size(); i++) {
        list.set(i, TextNode.valueOf(QueryCommand.instant(list.get(i))));
      }
    }
    return shown.toString();
  }
}
