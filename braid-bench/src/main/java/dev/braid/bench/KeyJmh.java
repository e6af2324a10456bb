package dev.braid.bench;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.Expressions;
import dev.braid.expr.KeyBuffer;
import dev.braid.expr.KeyExtractor;
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
 * JMH micro-benchmark of one view's {@code group_by} on an encoded sale, in nanoseconds per key: a
 * plain field, concatenations of fields and literals, an int field's decimal text in a
 * concatenation, a conditional and a double's text (all direct code since 2026-12-02). Both layers
 * extract the key of every event a view reads.
 *
 * <p>Run with {@code ./braid bench jmh KeyJmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KeyJmh {

  @Param({"sku", "store + ':' + sku", "store + '/' + string(ts / 86400000)",
      "qty > 1 ? store : channel", "store + ':' + string(double(qty) * 1.5)"})
  public String groupBy;

  private KeyExtractor key;
  private EventReader event;
  private final KeyBuffer out = new KeyBuffer();

  @Setup
  public void setUp() {
    EventSchema schema = RuleJmh.salesSchema();
    key = new Expressions(schema).key(groupBy);
    event = RuleJmh.sale(schema);
  }

  @Benchmark
  public int extract() {
    return key.extract(event, out) ? out.length() : -1;
  }
}
