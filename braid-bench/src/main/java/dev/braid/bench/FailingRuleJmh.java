package dev.braid.bench;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.expr.EvaluationException;
import dev.braid.expr.EventPredicate;
import dev.braid.expr.Expressions;
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
 * JMH micro-benchmark of a filter or rule that fails on the event, in microseconds per test: the
 * cost of an event a view skips and counts, or ingest rejects, because its expression throws (a
 * division by zero, a string that is no number). A spec whose filter fails on most events makes
 * its batch cycles and speed layer pay this per event. The direct code leaves a zero divisor to the
 * CEL runtime, which reports the error; the JVM runs with {@code -XX:-OmitStackTraceInFastThrow}, as
 * {@code ./braid} starts it, so every exception the runtime throws fills in its stack.
 *
 * <p>Run with {@code ./braid bench jmh FailingRuleJmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:-OmitStackTraceInFastThrow"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class FailingRuleJmh {

  @Param({"100 / (qty - qty) > 0", "qty > 1 && 100 / (qty - qty) > 0", "int(sku) > 0"})
  public String rule;

  private EventPredicate predicate;
  private EventReader event;

  @Setup
  public void setUp() {
    EventSchema schema = RuleJmh.salesSchema();
    predicate = new Expressions(schema).predicate(rule);
    event = RuleJmh.sale(schema);
    try {
      predicate.test(event);
    } catch (EvaluationException expected) {
      return;
    }
    throw new IllegalStateException("'" + rule + "' does not fail on the benchmark's event");
  }

  @Benchmark
  public Object test() {
    try {
      return predicate.test(event);
    } catch (EvaluationException e) {
      return e;
    }
  }
}
