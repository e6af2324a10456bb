package dev.braid.bench;

import dev.braid.event.EventEncoder;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH micro-benchmark of one stream rule or filter on an encoded event, in nanoseconds per test:
 * the bundled retail example's rules (a plain field comparison and {@code total_cents == qty *
 * price_cents}, both compiled to direct code), a condition of two fields joined by {@code ||}, string
 * tests ({@code startsWith}, {@code contains}, {@code size}, {@code matches}), integer division,
 * double arithmetic and a conditional, all direct code since 2026-12-02. Ingest tests every rule
 * of a stream on every event, and a view's filter runs on every event the view reads.
 *
 * <p>Run with {@code ./braid bench jmh RuleJmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class RuleJmh {

  @Param({"qty > 0", "total_cents == qty * price_cents", "channel == 'web' || qty > 5", "channel.startsWith('w')",
      "sku.contains('42')", "size(sku) == 10", "sku.matches('^sku-0+42$')", "qty / 2 >= 1",
      "double(total_cents) * 1.1 > 2500.0", "qty > 1 ? channel == 'web' : price_cents > 1000"})
  public String rule;

  private EventPredicate predicate;
  private EventReader event;

  @Setup
  public void setUp() {
    EventSchema schema = salesSchema();
    predicate = new Expressions(schema).predicate(rule);
    event = sale(schema);
  }

  /** The bundled retail example's sales stream. */
  static EventSchema salesSchema() {
    Map<String, FieldType> fields = new LinkedHashMap<>();
    fields.put("store", FieldType.STRING);
    fields.put("sku", FieldType.STRING);
    fields.put("qty", FieldType.LONG);
    fields.put("price_cents", FieldType.LONG);
    fields.put("total_cents", FieldType.LONG);
    fields.put("channel", FieldType.STRING);
    fields.put("ts", FieldType.TIMESTAMP);
    return new EventSchema("sales", fields, "sku", "ts");
  }

  /** One encoded sale of {@link #salesSchema}. */
  static EventReader sale(EventSchema schema) {
    Map<String, Object> sale = new LinkedHashMap<>();
    sale.put("store", "S001");
    sale.put("sku", "sku-000042");
    sale.put("qty", 2L);
    sale.put("price_cents", 1299L);
    sale.put("total_cents", 2598L);
    sale.put("channel", "store");
    sale.put("ts", BenchRecords.BASE_EVENT_TIME);
    EventEncoder.Encoded encoded = new EventEncoder.Encoded();
    String rejected = new EventEncoder(schema).encode(sale, 0L, encoded);
    if (rejected != null) {
      throw new IllegalStateException("the benchmark's event is invalid: " + rejected);
    }
    byte[] value = Arrays.copyOf(encoded.value(), encoded.valueLength());
    return new EventReader(schema).wrap(ByteBuffer.wrap(value), 0, value.length);
  }

  @Benchmark
  public boolean test() {
    return predicate.test(event);
  }
}
