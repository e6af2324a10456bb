package dev.braid.bench.nexmark;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The engines the Nexmark harness knows, by name. Adding one is one line in the static block,
 * e.g. {@code register(FlinkNexmark.NAME, FlinkNexmark::new);}.
 */
public final class NexmarkEngines {

  private static final Map<String, Supplier<NexmarkEngine>> ENGINES = new LinkedHashMap<>();

  static {
    register(NaiveNexmark.NAME, NaiveEngine::new);
    register(BraidNexmark.NAME, BraidNexmark::new);
    register(DuckDbNexmark.NAME, DuckDbNexmark::new);
    register(FlinkNexmark.NAME, FlinkNexmark::new);
    register(KafkaStreamsNexmark.NAME, KafkaStreamsNexmark::new);
  }

  private NexmarkEngines() {}

  /** Registers an engine; throws if the name is taken. */
  static synchronized void register(String name, Supplier<NexmarkEngine> factory) {
    if (ENGINES.putIfAbsent(name, factory) != null) {
      throw new IllegalArgumentException("engine '" + name + "' is registered already");
    }
  }

  /** The registered names, in registration order ({@code naive} first). */
  public static synchronized List<String> names() {
    return List.copyOf(ENGINES.keySet());
  }

  /** Whether {@code name} is registered. */
  public static synchronized boolean has(String name) {
    return ENGINES.containsKey(name);
  }

  /**
   * A new instance of engine {@code name}.
   *
   * @throws IllegalArgumentException naming the valid engines
   */
  public static synchronized NexmarkEngine create(String name) {
    Supplier<NexmarkEngine> f = ENGINES.get(name);
    if (f == null) {
      throw new IllegalArgumentException(problem(name));
    }
    return f.get();
  }

  /** Why {@code name} cannot be run, or null when it can. */
  public static synchronized String problem(String name) {
    if (ENGINES.containsKey(name)) {
      return null;
    }
    Set<String> valid = new TreeSet<>(ENGINES.keySet());
    valid.remove(NaiveNexmark.NAME);
    return "unknown engine '" + name + "'; valid: " + String.join(", ", valid);
  }

  /** The reference as an engine, so the harness runs it in a child JVM like the others. */
  static final class NaiveEngine implements NexmarkEngine {
    @Override
    public List<String> modes() {
      return List.of("reference");
    }

    @Override
    public double distinctRse(String mode) {
      return 0;
    }

    @Override
    public Report run(Task task, NexmarkResult.RowSink result) {
      NexmarkGenerator g = new NexmarkGenerator(task.config());
      NaiveNexmark.emit(task.query(), sink -> g.forEachBid(0, task.events(), sink), result);
      return new Report(List.of(), Map.of());
    }
  }
}
