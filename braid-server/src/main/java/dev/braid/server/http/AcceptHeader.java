package dev.braid.server.http;

import java.util.Locale;

/**
 * What an HTTP {@code Accept} header (RFC 9110, section 12.5.1) says of one media type: the quality
 * ({@code q}, 0 to 1) of the most specific media range that matches it ({@code type/subtype}, then
 * {@code type/*}, then {@code *}{@code /*}), 0 when none does. {@code q=0} means "not acceptable".
 * A malformed {@code q} counts as 1, as a range without one does.
 */
final class AcceptHeader {

  private AcceptHeader() {}

  /**
   * The quality {@code accept} gives {@code mediaType} (lower case, {@code type/subtype}); with
   * {@code explicitOnly}, only a range naming it exactly counts (wildcards give 0).
   */
  static double quality(String accept, String mediaType, boolean explicitOnly) {
    if (accept == null) {
      return 0;
    }
    String type = mediaType.substring(0, mediaType.indexOf('/'));
    int bestSpecificity = -1;
    double best = 0;
    for (String range : accept.split(",")) {
      String[] parts = range.split(";");
      String name = parts[0].trim().toLowerCase(Locale.ROOT);
      int specificity = name.equals(mediaType) ? 2 : explicitOnly ? -1 : name.equals(type + "/*") ? 1
          : name.equals("*/*") ? 0 : -1;
      if (specificity <= bestSpecificity) {
        continue;
      }
      bestSpecificity = specificity;
      best = q(parts);
    }
    return best;
  }

  private static double q(String[] parts) {
    for (int i = 1; i < parts.length; i++) {
      String p = parts[i].trim();
      if (p.length() > 2 && (p.charAt(0) == 'q' || p.charAt(0) == 'Q') && p.charAt(1) == '=') {
        try {
          double q = Double.parseDouble(p.substring(2).trim());
          return q >= 0 && q <= 1 ? q : 1;
        } catch (NumberFormatException e) {
          return 1;
        }
      }
    }
    return 1;
  }
}
