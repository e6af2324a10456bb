package dev.braid.server.http;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braid.AsOf;
import dev.braid.DeadLetter;
import dev.braid.IngestResult;
import dev.braid.Status;
import dev.braid.VersionInfo;
import dev.braid.ViewResult;
import dev.braid.log.Cut;
import java.util.List;
import java.util.Map;

/** The wire form of Braid's values: how each result, status and error looks in JSON. */
final class Json {

  /** Limits that keep a hostile body from costing unbounded memory or stack. */
  static final ObjectMapper MAPPER = new ObjectMapper();

  static {
    MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
        .maxNestingDepth(64).maxNumberLength(100).maxStringLength(16 << 20).build());
  }

  private Json() {}

  static ArrayNode cut(Cut c) {
    ArrayNode a = MAPPER.createArrayNode();
    if (c != null) {
      for (long x : c.toArray()) {
        a.add(x);
      }
    }
    return a;
  }

  static ObjectNode asOf(AsOf a) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("version", a.version());
    o.set("cut", cut(a.cut()));
    o.set("position", cut(a.position()));
    return o;
  }

  static ObjectNode result(ViewResult r) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("view", r.view());
    o.put("key", r.key());
    o.put("found", r.found());
    o.set("values", MAPPER.valueToTree(r.values()));
    if (!r.windows().isEmpty()) {
      ArrayNode ws = o.putArray("windows");
      for (ViewResult.WindowValue w : r.windows()) {
        ObjectNode wo = ws.addObject();
        wo.put("start", w.start());
        wo.put("end", w.end());
        wo.set("values", MAPPER.valueToTree(w.values()));
      }
    }
    o.set("asOf", asOf(r.asOf()));
    return o;
  }

  static ObjectNode ingest(IngestResult r, int[] lines) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("stream", r.stream());
    o.put("accepted", r.accepted());
    o.put("rejected", r.rejections().size());
    ObjectNode pos = o.putObject("positions");
    for (Map.Entry<Integer, List<Long>> e : r.positions().entrySet()) {
      ArrayNode a = pos.putArray(Integer.toString(e.getKey()));
      e.getValue().forEach(a::add);
    }
    ArrayNode rej = o.putArray("rejections");
    for (IngestResult.Rejection x : r.rejections()) {
      ObjectNode ro = rej.addObject();
      ro.put("index", x.index());
      if (lines != null) {
        ro.put("line", lines[x.index()]);
      }
      ro.put("reason", x.reason());
    }
    return o;
  }

  static ObjectNode version(VersionInfo v) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("id", v.id());
    o.put("state", v.state().label());
    o.set("cut", cut(v.cut()));
    if (v.position() != null) {
      o.set("position", cut(v.position()));
    } else {
      o.putNull("position");
    }
    o.put("baseKeys", v.baseKeys());
    o.put("createdAt", java.time.Instant.ofEpochMilli(v.createdAtMillis()).toString());
    o.put("definition", v.definition());
    if (v.failure() != null) {
      o.put("failure", v.failure());
    }
    return o;
  }

  static ObjectNode versions(String view, List<VersionInfo> versions) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("view", view);
    versions.stream().filter(v -> v.state() == dev.braid.VersionState.CURRENT).findFirst()
        .ifPresent(v -> o.put("current", v.id()));
    ArrayNode a = o.putArray("versions");
    versions.forEach(v -> a.add(version(v)));
    return o;
  }

  static ObjectNode status(Status s) {
    ObjectNode o = MAPPER.createObjectNode();
    ArrayNode streams = o.putArray("streams");
    for (Status.StreamStatus st : s.streams()) {
      ObjectNode so = streams.addObject();
      so.put("name", st.name());
      so.put("partitions", st.partitions());
      so.put("durability", st.durability());
      so.set("end", cut(st.end()));
      so.put("events", st.events());
    }
    ArrayNode views = o.putArray("views");
    for (Status.ViewStatus v : s.views()) {
      ObjectNode vo = views.addObject();
      vo.put("name", v.name());
      vo.put("stream", v.stream());
      vo.put("mode", v.mode());
      vo.put("currentVersion", v.currentVersion());
      vo.set("cut", cut(v.cut()));
      vo.set("position", cut(v.position()));
      vo.put("lag", v.lag());
      vo.put("deltaKeys", v.deltaKeys());
      vo.put("deltaBytes", v.deltaBytes());
      vo.put("skippedEvents", v.skippedEvents());
      if (v.batchRunning()) {
        ObjectNode b = vo.putObject("batch");
        b.put("eventsRead", v.batchEventsRead());
        b.put("eventsTotal", v.batchEventsTotal());
      }
    }
    return o;
  }

  static ObjectNode deadLetters(String stream, List<DeadLetter> letters, long next) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("stream", stream);
    ArrayNode a = o.putArray("deadLetters");
    for (DeadLetter d : letters) {
      ObjectNode x = a.addObject();
      x.put("offset", d.offset());
      x.put("receivedAt", java.time.Instant.ofEpochMilli(d.receivedAtMillis()).toString());
      x.put("index", d.index());
      x.put("reason", d.reason());
      x.put("event", d.event());
      if (d.truncated()) {
        x.put("truncated", true);
        x.put("length", d.length());
      }
    }
    o.put("next", next);
    return o;
  }

  static ObjectNode problem(Problem p, String instance) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("type", p.type());
    o.put("title", p.title());
    o.put("status", p.status());
    o.put("detail", p.detail());
    o.put("instance", instance);
    return o;
  }

  static JsonNode parse(byte[] body) throws java.io.IOException {
    return MAPPER.readTree(body);
  }
}
