package dev.braid.agg;

import dev.braid.event.FieldType;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checks of a built-in aggregation's argument type and parameters, with messages that say what
 * the aggregation accepts, e.g. {@code "sum needs a long or double field, got string"}.
 */
final class Arguments {

  private Arguments() {}

  /** Returns {@code type} if it is one of {@code accepted}; otherwise throws naming them. */
  static FieldType requireField(String aggregation, FieldType type, Set<FieldType> accepted) {
    if (type == null || !accepted.contains(type)) {
      throw new IllegalArgumentException(String.format("%s needs %s field, got %s", aggregation,
          describe(accepted), type == null ? "none (write " + aggregation + "(field))" : type.specName()));
    }
    return type;
  }

  /** Requires some argument field, of any type. */
  static FieldType requireAnyField(String aggregation, FieldType type) {
    if (type == null) {
      throw new IllegalArgumentException(String.format(
          "%s needs a field of any type, got none (write %s(field))", aggregation, aggregation));
    }
    return type;
  }

  static void requireNoParameters(String aggregation, List<String> parameters) {
    if (!parameters.isEmpty()) {
      throw new IllegalArgumentException(String.format(
          "%s takes no parameters, got %d: %s", aggregation, parameters.size(), quoted(parameters)));
    }
  }

  /**
   * The only, optional, integer parameter of an aggregation: {@code fallback} when absent, else a
   * value in {@code [min, max]}.
   */
  static int optionalIntParameter(String aggregation, String parameter, List<String> parameters, int fallback,
      int min, int max) {
    if (parameters.size() > 1) {
      throw new IllegalArgumentException(String.format("%s takes at most one parameter (%s), got %d: %s",
          aggregation, parameter, parameters.size(), quoted(parameters)));
    }
    if (parameters.isEmpty()) {
      return fallback;
    }
    String text = parameters.get(0).strip();
    int value;
    try {
      value = Integer.parseInt(text);
    } catch (NumberFormatException e) {
      value = Integer.MIN_VALUE;
    }
    if (value < min || value > max) {
      throw new IllegalArgumentException(String.format("%s parameter %s must be an integer from %d to %d, got '%s'",
          aggregation, parameter, min, max, text));
    }
    return value;
  }

  private static String describe(Set<FieldType> types) {
    List<String> names = types.stream().sorted().map(FieldType::specName).collect(Collectors.toList());
    String list = names.size() == 1
        ? names.get(0)
        : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1);
    return (startsWithVowel(list) ? "an " : "a ") + list;
  }

  private static boolean startsWithVowel(String s) {
    return "aeiou".indexOf(s.toLowerCase(Locale.ROOT).charAt(0)) >= 0;
  }

  private static String quoted(List<String> parameters) {
    return parameters.stream().map(p -> "'" + p + "'").collect(Collectors.joining(", ", "[", "]"));
  }
}
