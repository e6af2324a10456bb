package dev.braid.server.http;

import static dev.braid.server.http.BraidServerTest.assertProblem;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braid.spec.PipelineSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table routes over real HTTP on a loopback port: reads, writes, pushes, versions, and their problems. */
class TableHttpTest {

  static final String SPEC = """
      tables:
        users:
          partitions: 2
          key: id
          fields: {id: string, tier: string, score: long, tags: set<string>, limits: 'map<string,double>'}
      """;

  static final ObjectMapper JSON = new ObjectMapper();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @TempDir
  Path dir;

  BraidServer server;

  @BeforeEach
  void start() throws Exception {
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0).withMaxBodyBytes(4096)).awaitReady(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  HttpResponse<String> send(String method, String path, String contentType, String body, String... headers)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(60));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  /** Reads the row until its asOf position covers the write (writes apply within milliseconds). */
  JsonNode readAfter(String key, JsonNode write) throws Exception {
    return readAfterIn("users", key, write);
  }

  /** {@link #readAfter} of table {@code table}. */
  JsonNode readAfterIn(String table, String key, JsonNode write) throws Exception {
    for (int i = 0; i < 5000; i++) {
      JsonNode r = json(send("GET", "/v1/tables/" + table + "/rows/" + key, null, null));
      if (r.path("asOf").path("position").path(write.path("partition").asInt()).asLong() > write.path("offset")
          .asLong()) {
        return r;
      }
      Thread.sleep(2);
    }
    throw new AssertionError("write " + write + " was not applied");
  }

  /**
   * A table keyed by a long: a path key that is not a whole number is a 400 for reads too (a 500
   * before), and a write answers with the key of the row it wrote ({@code 070} is row {@code 70}).
   */
  @Test
  void shouldAnswerAKeyThatIsNotAWholeNumberWith400AndEchoTheRowsKey() throws Exception {
    server.close();
    server = BraidServer.start(PipelineSpec.parse("""
        tables:
          ids:
            key: id
            fields: {id: long, name: string}
        """, "ids.yaml"), dir.resolve("ids"), BraidServer.Config.defaults().withPort(0))
        .awaitReady(30, TimeUnit.SECONDS);
    for (String[] r : new String[][] {{"GET", "/v1/tables/ids/rows/abc"}, {"GET", "/v1/tables/ids/rows/7.0"},
        {"DELETE", "/v1/tables/ids/rows/1e2"}}) {
      HttpResponse<String> bad = send(r[0], r[1], null, null);
      assertThat(bad.statusCode()).as(r[1] + ": " + bad.body()).isEqualTo(400);
      assertThat(json(bad).path("type").asText()).isEqualTo("/problems/bad-key");
      assertThat(json(bad).path("detail").asText()).contains("the key field 'id' is a long");
    }
    HttpResponse<String> batch = send("POST", "/v1/tables/ids/rows:batchGet", "application/json",
        "{\"keys\": [\"70\", \"x\"]}");
    assertThat(batch.statusCode()).isEqualTo(400);
    assertThat(json(batch).path("detail").asText()).startsWith("keys[1]: table 'ids': key 'x'");
    JsonNode w = json(send("PUT", "/v1/tables/ids/rows/070", "application/json", "{\"name\": \"n\"}"));
    assertThat(w.path("key").asText()).as("the row's key").isEqualTo("70");
    assertThat(readAfterIn("ids", "%2B70", w).path("values").path("name").asText()).isEqualTo("n");
  }

  /**
   * A '/' after the key in a path is a 400 naming the encoded form, and nothing is written: the router
   * ignored a trailing '/', so PUT .../rows/u1/ wrote row u1, and a read of u1/ answered u1's row.
   * A key holding a '/' goes percent-encoded, for rows and views' keys alike.
   */
  @Test
  void shouldRefuseASlashAfterTheKeyAndTakeAnEncodedOne() throws Exception {
    for (String method : List.of("PUT", "PATCH", "GET", "DELETE")) {
      String body = method.equals("PUT") ? "{\"tier\": \"x\"}" : method.equals("PATCH") ? "{\"set\": {\"tier\": \"x\"}}"
          : null;
      HttpResponse<String> r = send(method, "/v1/tables/users/rows/u1/", body == null ? null : "application/json",
          body);
      assertThat(r.statusCode()).as(method + ": " + r.body()).isEqualTo(400);
      assertThat(json(r).path("type").asText()).isEqualTo("/problems/slash-in-key-path");
      assertThat(json(r).path("detail").asText()).isEqualTo("the path has a '/' after the key 'u1': a key holding '/' "
          + "is sent percent-encoded, as u1%2F for the key 'u1/'; nothing was read or written");
    }
    assertThat(json(send("GET", "/v1/views/any/keys/a/b", null, null)).path("detail").asText())
        .contains("as a%2Fb for the key 'a/b'");
    assertThat(json(send("GET", "/v1/tables/users/rows/a%20b+c/", null, null)).path("detail").asText())
        .as("the key decoded, the path as sent").isEqualTo("the path has a '/' after the key 'a b+c': a key holding "
            + "'/' is sent percent-encoded, as a%20b+c%2F for the key 'a b+c/'; nothing was read or written");
    JsonNode w = json(send("PUT", "/v1/tables/users/rows/a%2Fb", "application/json", "{\"tier\": \"y\"}"));
    assertThat(readAfter("a%2Fb", w).path("values").path("tier").asText()).isEqualTo("y");
    assertThat(json(send("GET", "/v1/tables/users/rows/u1", null, null)).path("found").asBoolean())
        .as("nothing written under u1").isFalse();
  }

  @Test
  void shouldServeRowsWrittenWithPutPatchAndDeleteWithTheirAsOf() throws Exception {
    HttpResponse<String> put = send("PUT", "/v1/tables/users/rows/u1", "application/json",
        "{\"id\": \"u1\", \"tier\": \"gold\", \"score\": 5, \"tags\": [\"a\"]}", "Braid-Timestamp", "100");
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    assertThat(json(put).path("timestamp").asLong()).isEqualTo(100);
    HttpResponse<String> patch = send("PATCH", "/v1/tables/users/rows/u1", "application/json",
        "{\"set\": {\"tier\": \"platinum\"}, \"add\": {\"tags\": [\"b\"]}, \"remove\": {\"tags\": [\"a\"]}, "
            + "\"put\": {\"limits\": {\"daily\": 500}}, \"_timestamp\": 200}");
    assertThat(patch.statusCode()).as(patch.body()).isEqualTo(200);
    // an older write loses to the newer ones whatever its arrival order
    JsonNode stale = json(send("PATCH", "/v1/tables/users/rows/u1?ts=150", "application/json",
        "{\"set\": {\"tier\": \"stale\"}}"));

    JsonNode r = readAfter("u1", stale);
    assertThat(r.path("found").asBoolean()).isTrue();
    assertThat(r.path("values").path("tier").asText()).isEqualTo("platinum");
    assertThat(r.path("values").path("tags").toString()).isEqualTo("[\"b\"]");
    assertThat(r.path("values").path("limits").path("daily").asDouble()).isEqualTo(500.0);
    assertThat(r.path("asOf").has("version")).isTrue();
    assertThat(r.path("asOf").has("pushId")).isTrue();
    assertThat(r.path("asOf").path("cut").size()).isEqualTo(2);

    JsonNode del = json(send("DELETE", "/v1/tables/users/rows/u1?ts=2026-01-01T00:00:00Z", null, null));
    assertThat(del.path("timestamp").asLong()).isEqualTo(java.time.Instant.parse("2026-01-01T00:00:00Z")
        .toEpochMilli());
    assertThat(readAfter("u1", del).path("found").asBoolean()).isFalse();

    // a DELETE's timestamp in its body, as a PUT's or PATCH's: an older one loses to the newer PUT
    JsonNode u3 = json(send("PUT", "/v1/tables/users/rows/u3?ts=2026-12-06T22:00:00Z", "application/json",
        "{\"tier\": \"kept\"}"));
    readAfter("u3", u3);
    JsonNode olderDelete = json(send("DELETE", "/v1/tables/users/rows/u3", "application/json",
        "{\"_timestamp\": \"2026-12-06T21:30:00Z\"}"));
    assertThat(olderDelete.path("timestamp").asLong()).isEqualTo(java.time.Instant.parse("2026-12-06T21:30:00Z")
        .toEpochMilli());
    assertThat(readAfter("u3", olderDelete).path("values").path("tier").asText()).isEqualTo("kept");
    assertProblem(send("DELETE", "/v1/tables/users/rows/u3", "application/json", "{\"bogus\": 1}"), 400,
        "a DELETE's body holds only _timestamp (the write's timestamp), not bogus; nothing was deleted");
    assertProblem(send("DELETE", "/v1/tables/users/rows/u3", "text/plain", "not json"), 415,
        "a DELETE's body, when it has one, is {\"_timestamp\": ...} as application/json");
    assertProblem(send("DELETE", "/v1/tables/users/rows/u3", "application/json", "not json"), 400,
        "the body is not valid JSON at line 1, column 1");
    assertThat(readAfter("u3", olderDelete).path("found").asBoolean()).as("nothing refused was deleted").isTrue();

    JsonNode w = json(send("PUT", "/v1/tables/users/rows/u2", "application/json", "{\"tier\": \"x\"}"));
    readAfter("u2", w);
    JsonNode batch = json(send("POST", "/v1/tables/users/rows:batchGet", "application/json",
        "{\"keys\": [\"u1\", \"u2\"]}"));
    assertThat(batch.path("rows").get(0).path("found").asBoolean()).isFalse();
    assertThat(batch.path("rows").get(1).path("values").path("tier").asText()).isEqualTo("x");
  }

  @Test
  void shouldAnswerProblemsThatNameWhatIsWrong() throws Exception {
    HttpResponse<String> r = send("GET", "/v1/tables/nope/rows/k", null, null);
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(json(r).path("detail").asText()).contains("nope").contains("users");

    r = send("PUT", "/v1/tables/users/rows/k", "application/json", "{\"tierr\": \"gold\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("type").asText()).isEqualTo("/problems/invalid-row");
    assertThat(json(r).path("detail").asText()).contains("tierr");

    r = send("PUT", "/v1/tables/users/rows/k", "application/json", "{\"score\": \"many\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("score");

    for (String[] call : new String[][] {{"PUT", "/v1/tables/users/rows/k"}, {"PATCH", "/v1/tables/users/rows/k"},
        {"POST", "/v1/tables/users/rows:batchGet"}}) {
      r = send(call[0], call[1], "application/json; charset=iso-8859-1", "{}");
      assertThat(r.statusCode()).as(call[0] + " " + call[1]).isEqualTo(415);
      assertThat(json(r).path("detail").asText()).contains("charset 'iso-8859-1' is not supported");
    }

    for (String[] call : new String[][] {{"PUT", "/v1/tables/users/rows/k"}, {"PATCH", "/v1/tables/users/rows/k"},
        {"POST", "/v1/tables/users/rows:batchGet"}}) {
      r = send(call[0], call[1], "application/x-www-form-urlencoded", "{}"); // curl -d without -H
      assertThat(r.statusCode()).as(call[0] + " " + call[1]).isEqualTo(415);
      assertThat(json(r).path("detail").asText()).contains("as application/json, not "
          + "'application/x-www-form-urlencoded'");
    }
    r = send("POST", "/v1/tables/users/rows:batchGet", "application/json", "{\"kes\": [\"a\"], \"keys\": [\"a\"]}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("unknown field 'kes'");
    r = send("PUT", "/v1/tables/users/rows/k", "application/json", "{\"limits\": {\"x\": 1e400}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("number Infinity is out of the range of a double");

    r = send("PATCH", "/v1/tables/users/rows/k", "application/json", "{\"append\": {\"tags\": [\"a\"]}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("type").asText()).isEqualTo("/problems/invalid-patch");
    assertThat(json(r).path("detail").asText()).contains("append");

    r = send("PATCH", "/v1/tables/users/rows/k", "application/json", "{\"add\": {\"tier\": [\"a\"]}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("tier");
    // the shape is checked before the field's type: the message says what each kind of op takes
    r = send("PATCH", "/v1/tables/users/rows/k", "application/json", "{\"add\": {\"limits\": {\"q\": 1}}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("patch.add.limits: must be a list of elements (add takes "
        + "the elements of a list or set field; put takes the entries of a map field");
    r = send("PATCH", "/v1/tables/users/rows/k", "application/json", "{\"put\": {\"tags\": [\"a\"]}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("patch.put.tags: must be an object of map entries (put "
        + "takes the entries of a map field; add and remove take the elements of a list or set field");

    // one patch has one time stamp: an element it adds (an entry it puts) and removes has no later change
    r = send("PATCH", "/v1/tables/users/rows/k", "application/json",
        "{\"put\": {\"limits\": {\"x\": 602}}, \"remove\": {\"limits\": [\"x\"]}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("remove.limits: the patch also puts the entry 'x' of "
        + "'limits', and one patch has one time stamp, so neither would be the later change; send them as two writes "
        + "(the later one wins)");
    r = send("PATCH", "/v1/tables/users/rows/k", "application/json",
        "{\"remove\": {\"tags\": [\"b\", \"a\"]}, \"add\": {\"tags\": [\"a\"]}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("remove.tags: the patch also adds the element 'a' of 'tags'");
    assertThat(json(send("GET", "/v1/tables/users/rows/k", null, null)).path("found").asBoolean())
        .as("a refused patch writes nothing").isFalse();

    r = send("PUT", "/v1/tables/users/rows/k?ts=yesterday", "application/json", "{\"tier\": \"a\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("ts").contains("yesterday");
    r = send("PUT", "/v1/tables/users/rows/k?ts=%2B1000000000-01-01T00:00:00Z", "application/json", "{\"tier\": \"a\"}");
    assertThat(r.statusCode()).isEqualTo(400); // a valid ISO-8601 instant whose epoch millis overflow a long
    assertThat(json(r).path("detail").asText()).contains("'+1000000000-01-01T00:00:00Z' is out of range");
    // a body field past a long wrapped (to a time far ahead, which then won over every later write of the row),
    // a timestamp past 9999 froze the row the same way, and an empty ts was ignored
    r = send("PUT", "/v1/tables/users/rows/k", "application/json", "{\"tier\": \"a\", \"_timestamp\": "
        + "99999999999999999999}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("_timestamp 99999999999999999999 is out of range");
    r = send("PUT", "/v1/tables/users/rows/k?ts=9223372036854775807", "application/json", "{\"tier\": \"a\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("the write's timestamp 9223372036854775807 is out of range: "
        + "it must lie in the years 0000-9999");
    r = send("DELETE", "/v1/tables/users/rows/k?ts=", null, null);
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("query parameter 'ts' is empty");
    // two timestamps that differ: the write's is not guessed (the same one twice is fine)
    assertProblem(send("PUT", "/v1/tables/users/rows/k?ts=100", "application/json", "{\"tier\": \"a\", "
        + "\"_timestamp\": 200}"), 400, "the write has two timestamps: query parameter 'ts' says 100 and body field "
        + "_timestamp says 200; give one; nothing was written");
    assertProblem(send("DELETE", "/v1/tables/users/rows/k?ts=1970-01-01T00:00:00.100Z", "application/json",
        "{\"_timestamp\": 300}"), 400, "body field _timestamp says 300");
    assertThat(json(send("GET", "/v1/tables/users/rows/k", null, null)).path("found").asBoolean())
        .as("nothing was written").isFalse();

    r = send("PUT", "/v1/tables/users/rows/k", "application/json", "{\"tier\": \"" + "x".repeat(5000) + "\"}");
    assertThat(r.statusCode()).isEqualTo(413);

    r = send("POST", "/v1/tables/users/pushes", "application/json", "{}");
    assertThat(r.statusCode()).isEqualTo(415);
    assertThat(json(r).path("detail").asText()).contains("text/csv");

    r = send("POST", "/v1/tables/users/pushes?maxBadRows=lots", "text/csv", "id\n");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("lots");
    // a misspelt ?incremental=true is refused, not taken for a full push that replaces every row
    r = send("POST", "/v1/tables/users/pushes?incremntal=true", "application/x-ndjson", "{\"id\": \"z\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).isEqualTo("unknown query parameter 'incremntal'; this endpoint takes "
        + "wait, source, incremental, allowEmpty, since, sincePosition, maxBadRows");
    r = send("POST", "/v1/tables/users/pushes?since=2999-01-01T00:00:00Z", "application/x-ndjson",
        "{\"id\": \"z\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("since 2999-01-01T00:00:00Z is in the future (it is ")
        .contains("give the time the pushed snapshot was taken");
    r = send("PUT", "/v1/tables/users/rows/z?tss=1", "application/json", "{\"id\": \"z\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("unknown query parameter 'tss'; this endpoint takes ts");

    r = send("POST", "/v1/tables/users/versions/9/activate", null, null);
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(json(r).path("type").asText()).isEqualTo("/problems/unknown-version");
    assertThat(json(r).path("detail").asText()).startsWith("unknown version 'users/9'; versions are: users/");

    r = send("POST", "/v1/tables/users/pushes?incremental=true&sincePosition=%5B1%5D", "application/x-ndjson",
        "{\"id\": \"z\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("an incremental push builds no version");
    r = send("POST", "/v1/tables/users/pushes?incremental=true&since=2026-11-30T00:00:00Z", "application/x-ndjson",
        "{\"id\": \"z\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(send("GET", "/v1/tables/users/rows/z", null, null)).path("found").asBoolean())
        .as("a refused push writes nothing").isFalse();
  }

  /** A DELETE of a table's version cancels its push or a rollback to it; with neither running, a 409 that says so. */
  @Test
  void shouldRefuseToCancelARollbackThatDoesNotRun() throws Exception {
    HttpResponse<String> r = send("POST", "/v1/tables/users/pushes", "application/x-ndjson",
        "{\"id\": \"u1\", \"tier\": \"t0\", \"score\": 1}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    long id = json(r).path("version").asLong();
    r = send("DELETE", "/v1/tables/users/versions/" + id, null, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
    assertThat(json(r).path("type").asText()).isEqualTo("/problems/cannot-cancel");
    assertThat(json(r).path("detail").asText()).isEqualTo("version " + id + " of table 'users' is current and "
        + "neither a push builds it nor a rollback to it runs: only a push that is building its version or a rollback "
        + "that is running (an activation of a backup) can be cancelled");
    r = send("DELETE", "/v1/tables/users/versions/77", null, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
    assertThat(json(r).path("detail").asText()).startsWith("unknown version 'users/77'");
    r = send("DELETE", "/v1/tables/users/versions/x", null, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(json(r).path("detail").asText()).contains("the version id");
  }

  /** An activation the catalog cannot record (a directory in the way of its temporary file) is a 500 that says nothing changed. */
  @Test
  void shouldRefuseAnActivationWhoseSwitchCannotBeRecorded() throws Exception {
    long[] ids = new long[2];
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> r = send("POST", "/v1/tables/users/pushes", "application/x-ndjson",
          "{\"id\": \"u1\", \"tier\": \"t" + i + "\", \"score\": 1}\n");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      ids[i] = json(r).path("version").asLong();
    }
    Path block = dir.resolve("catalog.json.tmp");
    Files.createDirectories(block);
    Files.writeString(block.resolve("in-the-way"), "x");

    HttpResponse<String> act = send("POST", "/v1/tables/users/versions/" + ids[0] + "/activate", null, null);
    assertThat(act.statusCode()).as(act.body()).isEqualTo(500);
    assertThat(json(act).path("detail").asText()).startsWith("version " + ids[0] + " of table 'users' was not "
        + "activated: cannot write the version catalog ").endsWith("; the current version is unchanged and serves, "
        + "and version " + ids[0] + " is still a backup");
    assertThat(json(send("GET", "/v1/tables/users/rows/u1", null, null)).path("values").path("tier").asText())
        .isEqualTo("t1");

    Files.delete(block.resolve("in-the-way"));
    Files.delete(block);
    act = send("POST", "/v1/tables/users/versions/" + ids[0] + "/activate", null, null);
    assertThat(act.statusCode()).as(act.body()).isEqualTo(200);
    assertThat(json(send("GET", "/v1/tables/users/rows/u1", null, null)).path("values").path("tier").asText())
        .isEqualTo("t0");
  }

  @Test
  void shouldPushJsonLinesAndCsvAndRollBack() throws Exception {
    StringBuilder ndjson = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      ndjson.append("{\"id\": \"u").append(i).append("\", \"tier\": \"one\", \"score\": ").append(i).append("}\n");
    }
    // larger than the server's body limit (4 KiB): pushes are streamed, not held
    HttpResponse<String> r = send("POST", "/v1/tables/users/pushes?source=one.jsonl", "application/x-ndjson",
        ndjson.toString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode first = json(r);
    assertThat(first.path("state").asText()).isEqualTo("done");
    assertThat(first.path("rows").asLong()).isEqualTo(2000);
    JsonNode row = json(send("GET", "/v1/tables/users/rows/u7", null, null));
    assertThat(row.path("values").path("score").asLong()).isEqualTo(7);
    assertThat(row.path("asOf").path("pushId").asText()).isEqualTo(first.path("pushId").asText());

    r = send("POST", "/v1/tables/users/pushes?wait=false&source=two.csv", "text/csv",
        "id,tier,score\nu7,two,70\nu8,two,80\n");
    assertThat(r.statusCode()).as(r.body()).isIn(200, 202);
    String location = r.statusCode() == 202 ? r.headers().firstValue("Location").orElseThrow()
        : "/v1/tables/users/pushes/" + json(r).path("pushId").asText();
    JsonNode report = null;
    for (int i = 0; i < 5000; i++) {
      report = json(send("GET", location, null, null));
      if (report.path("state").asText().equals("done")) {
        break;
      }
      Thread.sleep(2);
    }
    assertThat(report.path("state").asText()).isEqualTo("done");
    assertThat(json(send("GET", "/v1/tables/users/rows/u7", null, null)).path("values").path("tier").asText())
        .isEqualTo("two");
    assertThat(json(send("GET", "/v1/tables/users/rows/u9", null, null)).path("found").asBoolean()).isFalse();

    JsonNode versions = json(send("GET", "/v1/tables/users/versions", null, null));
    assertThat(versions.path("current").asLong()).isEqualTo(report.path("version").asLong());
    HttpResponse<String> act = send("POST", "/v1/tables/users/versions/" + first.path("version").asLong()
        + "/activate", null, null);
    assertThat(act.statusCode()).as(act.body()).isEqualTo(200);
    assertThat(json(act).path("current").asLong()).isEqualTo(first.path("version").asLong());
    assertThat(json(send("GET", "/v1/tables/users/rows/u9", null, null)).path("found").asBoolean()).isTrue();
    // a push's report says what its version is now, not what it was when the push ended
    assertThat(json(send("GET", location, null, null)).path("versionState").asText()).isEqualTo("backup");
    assertThat(json(send("GET", "/v1/tables/users/pushes/" + first.path("pushId").asText(), null, null))
        .path("versionState").asText()).isEqualTo("current");
    JsonNode status = json(send("GET", "/v1/status", null, null));
    assertThat(status.path("tables").get(0).path("name").asText()).isEqualTo("users");
    assertThat(status.path("tables").get(0).path("currentVersion").asLong())
        .isEqualTo(first.path("version").asLong());
    for (int i = 0; i < 2; i++) { // two more pushes retire the oldest versions, whose Bases are deleted
      assertThat(send("POST", "/v1/tables/users/pushes", "application/x-ndjson", "{\"id\": \"u" + i + "\"}\n")
          .statusCode()).isEqualTo(200);
    }
    JsonNode all = json(send("GET", "/v1/tables/users/versions", null, null)).path("versions");
    assertThat(all.findValues("state").stream().map(JsonNode::asText)).as(all.toString()).contains("retired");
    for (JsonNode v : all) {
      assertThat(v.path("baseKeys").isNull()).as("a gone version counts no Base keys: %s", v)
          .isEqualTo(v.path("state").asText().equals("retired"));
    }
  }

  @Test
  void shouldFailAPushWithBadRowsWithTheirLinesAndKeepTheCurrentVersion() throws Exception {
    send("POST", "/v1/tables/users/pushes", "application/x-ndjson", "{\"id\": \"a\", \"tier\": \"kept\"}\n");
    HttpResponse<String> r = send("POST", "/v1/tables/users/pushes?source=bad.jsonl&maxBadRows=1",
        "application/x-ndjson", "{\"id\": \"a\", \"tier\": \"new\"}\n{\"id\": \"b\", \"score\": \"x\"}\nnot json\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(422);
    JsonNode p = json(r);
    assertThat(p.path("type").asText()).isEqualTo("/problems/push-failed");
    assertThat(p.path("detail").asText()).contains("max-bad-rows");
    assertThat(p.path("report").path("bad").get(0).path("line").asLong()).isEqualTo(2);
    assertThat(p.path("report").path("bad").get(0).path("reason").asText()).contains("score");
    assertThat(p.path("report").path("bad").get(1).path("line").asLong()).isEqualTo(3);
    assertThat(json(send("GET", "/v1/tables/users/rows/a", null, null)).path("values").path("tier").asText())
        .isEqualTo("kept");

    r = send("POST", "/v1/tables/users/pushes?incremental=true", "application/x-ndjson",
        "{\"id\": \"c\", \"tier\": \"inc\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(json(r).path("rows").asLong()).isEqualTo(1);
    assertThat(json(r).has("distinctKeys")).as("an incremental push builds no Base to count keys in").isFalse();
  }

  /**
   * A restart whose spec adds fields after the table's recorded ones: rows pushed and written
   * before answer over HTTP without them (a scalar missing, a collection empty), the new fields can
   * be written and pushed, and a spec that inserts a field before recorded ones does not start.
   */
  @Test
  void shouldServeRowsStoredBeforeTheTableGrewAndTakeTheNewFields() throws Exception {
    HttpResponse<String> r = send("POST", "/v1/tables/users/pushes?source=one.jsonl", "application/x-ndjson",
        "{\"id\": \"p1\", \"tier\": \"gold\", \"tags\": [\"a\"]}\n");
    assertThat(json(r).path("state").asText()).as(r.body()).isEqualTo("done");
    readAfter("w1", json(send("PUT", "/v1/tables/users/rows/w1", "application/json", "{\"score\": 5}")));
    server.close();
    String grown = SPEC.replace("limits: 'map<string,double>'}",
        "limits: 'map<string,double>', region: string, seen: 'list<long>'}");
    server = BraidServer.start(PipelineSpec.parse(grown, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0).withMaxBodyBytes(4096)).awaitReady(30, TimeUnit.SECONDS);

    JsonNode p1 = json(send("GET", "/v1/tables/users/rows/p1", null, null)).path("values");
    assertThat(p1.path("tier").asText()).isEqualTo("gold");
    assertThat(p1.has("region")).as("a scalar added after the row was pushed is absent: %s", p1).isFalse();
    assertThat(p1.path("seen").isArray() && p1.path("seen").isEmpty()).as("a list added later is empty: %s", p1)
        .isTrue();
    JsonNode w = json(send("PATCH", "/v1/tables/users/rows/w1", "application/json",
        "{\"set\": {\"region\": \"eu\"}, \"add\": {\"seen\": [3, 4]}}"));
    JsonNode w1 = readAfter("w1", w).path("values");
    assertThat(w1.path("score").asLong()).as("written before the growth: %s", w1).isEqualTo(5);
    assertThat(w1.path("region").asText()).isEqualTo("eu");
    assertThat(w1.path("seen").toString()).isEqualTo("[3,4]");
    r = send("POST", "/v1/tables/users/pushes?source=two.csv", "text/csv", "id,tier,region\np2,silver,us\n");
    assertThat(json(r).path("state").asText()).as(r.body()).isEqualTo("done");
    assertThat(json(send("GET", "/v1/tables/users/rows/p2", null, null)).path("values").path("region").asText())
        .isEqualTo("us");
    server.close();

    String inserted = grown.replace("fields: {id: string,", "fields: {id: string, zone: string,");
    try (BraidServer refused = BraidServer.start(PipelineSpec.parse(inserted, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0))) {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> refused.awaitReady(30, TimeUnit.SECONDS))
          .hasStackTraceContaining("table 'users': field 'zone' (string) is new, and comes before recorded field "
              + "'seen'");
    }
    server = BraidServer.start(PipelineSpec.parse(grown, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0).withMaxBodyBytes(4096)).awaitReady(30, TimeUnit.SECONDS);
    assertThat(json(send("GET", "/v1/tables/users/rows/p2", null, null)).path("values").path("region").asText())
        .as("after a restart").isEqualTo("us");
  }

  /**
   * A push whose upload stalls while the server stops: the stop waits a short idle time for it, then
   * the push fails saying the server stopped, not that the client went away; the table keeps its rows.
   */
  @Test
  void shouldSayAPushCutOffByTheStopWasCutOffByIt() throws Exception {
    assertThat(send("POST", "/v1/tables/users/pushes", "application/x-ndjson", "{\"id\":\"a\",\"tier\":\"gold\"}\n")
        .statusCode()).isEqualTo(200);
    URI u = URI.create(server.url());
    try (java.net.Socket socket = new java.net.Socket(u.getHost(), u.getPort())) {
      socket.setSoTimeout(60_000);
      java.io.OutputStream out = socket.getOutputStream();
      String part = "{\"id\":\"b\",\"tier\":\"silver\"}\n";
      out.write(("POST /v1/tables/users/pushes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n"
          + "Content-Length: 100000\r\n\r\n" + part).getBytes(StandardCharsets.UTF_8));
      out.flush();
      for (int i = 0; !pushInProgress(); i++) {
        assertThat(i).as("the push is building its version").isLessThan(3000);
        Thread.sleep(10);
      }
      Thread stopper = new Thread(server::close);
      stopper.start();
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      stopper.join(60_000);
      assertThat(answer).startsWith("HTTP/1.1 422");
      assertThat(answer).contains("the server is stopping and the upload did not finish before it stopped waiting")
          .doesNotContain("client went away");
    }
    server = BraidServer.start(PipelineSpec.parse(SPEC, "test.yaml"), dir,
        BraidServer.Config.defaults().withPort(0).withMaxBodyBytes(4096)).awaitReady(30, TimeUnit.SECONDS);
    assertThat(json(send("GET", "/v1/tables/users/rows/a", null, null)).path("values").path("tier").asText())
        .isEqualTo("gold");
    assertThat(json(send("GET", "/v1/tables/users/rows/b", null, null)).path("found").asBoolean()).isFalse();
  }

  /**
   * A cancel of a push whose upload stalls wakes the read that waits for more of it: the cancel
   * answers at once, not after the connection's idle timeout (30 s, Jetty's default; the DELETE gives
   * up after 15), and the push's own request gets its answer, the push failed by the cancel. The
   * server goes on serving; that the interrupt does not outlive the read is {@link UploadTest}'s.
   */
  @Test
  void shouldCancelAPushWhoseUploadStalls() throws Exception {
    URI u = URI.create(server.url());
    try (java.net.Socket socket = new java.net.Socket(u.getHost(), u.getPort())) {
      socket.setSoTimeout(60_000);
      java.io.OutputStream out = socket.getOutputStream();
      out.write(("POST /v1/tables/users/pushes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n"
          + "Content-Length: 100000\r\n\r\n{\"id\":\"b\",\"tier\":\"silver\"}\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      for (int i = 0; !pushInProgress(); i++) {
        assertThat(i).as("the push is building its version").isLessThan(3000);
        Thread.sleep(10);
      }
      long id = 0;
      for (JsonNode v : json(send("GET", "/v1/tables/users/versions", null, null)).path("versions")) {
        id = v.path("state").asText().equals("building") ? v.path("id").asLong() : id;
      }
      HttpResponse<String> cancel = http.send(HttpRequest.newBuilder(URI.create(server.url()
          + "/v1/tables/users/versions/" + id)).timeout(Duration.ofSeconds(15)).DELETE().build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(cancel.statusCode()).as(cancel.body()).isEqualTo(200);
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 422").contains("(version " + id + ") was cancelled by request");
    }
    HttpResponse<String> r = send("POST", "/v1/tables/users/pushes", "application/x-ndjson",
        "{\"id\": \"c\", \"tier\": \"t\"}\n");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(json(send("GET", "/v1/tables/users/rows/c", null, null)).path("found").asBoolean()).isTrue();
  }

  /** Whether the versions list shows a push's version being built. */
  private boolean pushInProgress() throws Exception {
    return send("GET", "/v1/tables/users/versions", null, null).body().contains("\"building\"");
  }
}
