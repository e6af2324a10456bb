package dev.braid.expr;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelConstant;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.types.CelType;
import dev.cel.common.types.CelTypes;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerBuilder;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import dev.cel.runtime.CelUnknownSet;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.IntStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles filters, rules and derived keys, written in CEL, against a stream's schema.
 *
 * <p>Every expression is parsed and type-checked by CEL ({@code dev.cel:cel}), so a bad expression
 * is refused with CEL's explanation before anything runs. A CEL evaluation costs ~400-500 ns, too
 * much per event, so the common shapes are then compiled to direct code over the encoded event:
 * a plain field reference; a constant key (one group for all events); comparisons of a field with
 * a literal ({@code ==, !=, <, <=, >, >=}); comparisons of integer arithmetic
 * ({@code +, -, *, /, %}) over int fields, literals and {@code size(string field)}; comparisons of
 * double arithmetic ({@code + - * /}, unary {@code -}) over double fields, literals and
 * {@code double()} of int or double terms; {@code field in [literals]}; {@code startsWith},
 * {@code endsWith}, {@code contains} and {@code matches} of a string field with a literal; and
 * {@code &&}, {@code ||}, {@code !} and {@code ?:} over those. Derived keys that concatenate
 * string fields, literals and {@code string()} of int or double terms
 * ({@code merchant + ':' + country}), are an int term or a direct condition ({@code true} or
 * {@code false}), or choose between such keys with a direct condition
 * ({@code vip ? merchant : country}), are direct too. Anything else is evaluated by the CEL runtime
 * over the fields it references.
 *
 * <p>In expressions, timestamp fields are {@code int} epoch milliseconds.
 *
 * <p>Null (missing) fields follow CEL's own three-valued logic, on both paths alike: a comparison,
 * {@code in} or any other operation that reads a null field is <em>unknown</em>; {@code !unknown}
 * is unknown; {@code unknown || true} is true and {@code unknown && false} is false (either order);
 * otherwise {@code &&} and {@code ||} with an unknown side are unknown. A condition that ends up
 * unknown does not hold: a filter drops the event, a rule rejects it. So with {@code country} null,
 * {@code country == 'US'}, {@code country != 'US'} and {@code !(country == 'US')} are all false,
 * while {@code country == 'US' || amount > 0.0} holds when {@code amount > 0.0} does. A derived key
 * that reads a null field is null and the event is not grouped (a null field on a branch of
 * {@code ?:} that is not taken is not read).
 *
 * <p>A condition that only bounds one int field ({@code price >= 10000 && price < 1000000}) can
 * also be had as a {@link LongRange}, for callers that test many conditions per event.
 *
 * <p>Strings compare as CEL-Java compares them, by UTF-16 code units ({@link String#compareTo}),
 * and doubles by IEEE-754 value ({@code -0.0 == 0.0}).
 */
public final class Expressions {

  private static final Set<CelType> KEY_TYPES =
      Set.of(SimpleType.STRING, SimpleType.INT, SimpleType.UINT, SimpleType.DOUBLE, SimpleType.BOOL);

  /**
   * CEL's options: comparisons of an int with a double ({@code amount > 100} on a double field,
   * {@code units < 2.5}) compare the numbers' values, as CEL's specification allows; without the
   * option the checker refuses them ("no matching overload for '_>_' applied to '(double, int)'"),
   * the most common mistake in a first spec. Equality stays within one type.
   */
  private static final dev.cel.common.CelOptions OPTIONS = dev.cel.common.CelOptions.current()
      .enableHeterogeneousNumericComparisons(true).build();

  private final EventSchema schema;
  private final CelCompiler compiler;
  private final CelRuntime runtime;

  /** Names declared with no type ({@link #Expressions(EventSchema, Set)}); empty for a stream that runs. */
  private final Set<String> untyped;

  public Expressions(EventSchema schema) {
    this(schema, Set.of());
  }

  /**
   * Expressions over {@code schema} for checking only: the {@code untyped} names are fields whose
   * declared type could not be read (a typo such as {@code n: lnog}). They are declared as CEL's
   * {@code dyn}, so an expression naming one is still type-checked everywhere else
   * ({@code g == 'a' && n > 'x'} with {@code g} untyped still reports the string compared with an
   * int), by {@link #checkCondition} and {@link #checkKey}.
   */
  public Expressions(EventSchema schema, Set<String> untyped) {
    this.schema = schema;
    this.untyped = Set.copyOf(untyped);
    CelCompilerBuilder b = CelCompilerFactory.standardCelCompilerBuilder()
        .setOptions(OPTIONS).setStandardMacros(CelStandardMacro.STANDARD_MACROS);
    for (EventSchema.Field f : schema.fields()) {
      b.addVar(f.name(), celType(f.type()));
    }
    for (String name : this.untyped) {
      if (schema.find(name) == null) {
        b.addVar(name, SimpleType.DYN);
      }
    }
    this.compiler = b.build();
    this.runtime = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(OPTIONS).build();
  }

  private static CelType celType(FieldType t) {
    switch (t) {
      case STRING:
        return SimpleType.STRING;
      case DOUBLE:
        return SimpleType.DOUBLE;
      case BOOLEAN:
        return SimpleType.BOOL;
      default:
        return SimpleType.INT;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Entry points
  // ---------------------------------------------------------------------------------------------

  /** Compiles a boolean expression; throws {@link ExpressionException} when it is invalid or not boolean. */
  public EventPredicate predicate(String text) {
    CelAbstractSyntaxTree ast = check(text);
    if (!ast.getResultType().equals(SimpleType.BOOL)) {
      throw notBoolean(text, ast.getResultType());
    }
    Condition direct = directCondition(ast.getExpr());
    if (direct != null && mayThrowArithmetic(ast.getExpr())) {
      // Integer overflow and division by zero are errors in CEL; the direct code throws ArithmeticException
      // there, and the runtime then evaluates the event, so that the error (or an && / || that absorbs
      // it) is CEL's own.
      EventPredicate cel = celPredicate(text, ast);
      return e -> {
        try {
          return direct.eval(e) == TRUE;
        } catch (ArithmeticException overflow) {
          return cel.test(e);
        }
      };
    }
    if (direct != null) {
      return e -> direct.eval(e) == TRUE;
    }
    return celPredicate(text, ast);
  }

  /**
   * Whether {@code expr} holds an arithmetic call, whose direct code may throw (see {@link #intTerm}).
   * Double arithmetic and a string {@code +} have the same names and never throw: their direct code
   * just gets a fallback it never uses.
   */
  private static boolean mayThrowArithmetic(CelExpr expr) {
    if (expr.exprKind().getKind() != CelExpr.ExprKind.Kind.CALL) {
      return false;
    }
    CelExpr.CelCall call = expr.call();
    if (ARITHMETIC.contains(call.function())) {
      return true;
    }
    for (CelExpr arg : call.args()) {
      if (mayThrowArithmetic(arg)) {
        return true;
      }
    }
    return false;
  }

  private static final Set<String> ARITHMETIC = Set.of("_+_", "_-_", "_*_", "_/_", "_%_", "-_");

  /**
   * A direct-compiled integer expression over LONG and TIMESTAMP fields (CEL ints), int literals and
   * string sizes with {@code +}, {@code -}, {@code *}, {@code /}, {@code %} and unary {@code -}. It
   * reads its fields without checking them for null (the comparison that uses it checks
   * {@link #fields} first) and throws {@link ArithmeticException} on overflow and on a zero divisor,
   * where CEL reports an error.
   */
  @FunctionalInterface
  private interface IntTerm {
    long eval(EventReader e);
  }

  /** An {@link IntTerm} and the fields it reads. */
  private record Term(IntTerm term, int[] fields) {}

  /** {@code expr} as a {@link Term}, or null when it is not one. */
  private Term intTerm(CelExpr expr) {
    switch (expr.exprKind().getKind()) {
      case IDENT: {
        EventSchema.Field f = schema.find(expr.ident().name());
        if (f == null || (f.type() != FieldType.LONG && f.type() != FieldType.TIMESTAMP)) {
          return null;
        }
        int i = f.index();
        return new Term(e -> e.getLong(i), new int[] {i});
      }
      case CONSTANT: {
        if (expr.constant().getKind() != CelConstant.Kind.INT64_VALUE) {
          return null;
        }
        long v = expr.constant().int64Value();
        return new Term(e -> v, new int[0]);
      }
      case CALL: {
        CelExpr.CelCall call = expr.call();
        List<CelExpr> args = call.args();
        if (call.function().equals("size")) {
          return sizeTerm(call);
        }
        if (call.function().equals("-_") && args.size() == 1) {
          Term a = intTerm(args.get(0));
          return a == null ? null : new Term(e -> Math.negateExact(a.term().eval(e)), a.fields());
        }
        if (!ARITHMETIC.contains(call.function()) || args.size() != 2) {
          return null;
        }
        Term a = intTerm(args.get(0));
        Term b = intTerm(args.get(1));
        if (a == null || b == null) {
          return null;
        }
        IntTerm x = a.term();
        IntTerm y = b.term();
        int[] fields = union(a.fields(), b.fields());
        return switch (call.function()) {
          case "_+_" -> new Term(e -> Math.addExact(x.eval(e), y.eval(e)), fields);
          case "_-_" -> new Term(e -> Math.subtractExact(x.eval(e), y.eval(e)), fields);
          case "_*_" -> new Term(e -> Math.multiplyExact(x.eval(e), y.eval(e)), fields);
          case "_/_" -> new Term(e -> divide(x.eval(e), y.eval(e)), fields);
          default -> new Term(e -> remainder(x.eval(e), y.eval(e)), fields);
        };
      }
      default:
        return null;
    }
  }

  /**
   * What the direct code throws for a zero divisor: the CEL runtime then evaluates the event and
   * reports its own error. One instance without a stack trace, since nothing reads it: an expression
   * that divides by zero on every event (a bad filter) once paid for a new one on each.
   */
  private static final ArithmeticException LEFT_TO_CEL = new ArithmeticException("left to the CEL runtime") {
    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  };

  /**
   * CEL's int division, which truncates toward zero as Java's does; a zero divisor and the one
   * quotient that overflows ({@code MIN / -1}) throw, so that the CEL runtime reports the event.
   */
  private static long divide(long a, long b) {
    if (b == 0 || (a == Long.MIN_VALUE && b == -1)) {
      throw LEFT_TO_CEL;
    }
    return a / b;
  }

  /**
   * CEL's int remainder: the sign of the dividend, as Java's {@code %} ({@code MIN % -1} is 0 in
   * both); a zero divisor throws.
   */
  private static long remainder(long a, long b) {
    if (b == 0) {
      throw LEFT_TO_CEL;
    }
    return a % b;
  }

  /**
   * {@code size(field)} or {@code field.size()} of a STRING field: its length in Unicode code points,
   * as CEL counts a string, i.e. its UTF-8 bytes that do not continue a character.
   */
  private Term sizeTerm(CelExpr.CelCall call) {
    List<CelExpr> args = call.args();
    CelExpr of = call.target().isPresent() && args.isEmpty() ? call.target().get()
        : call.target().isEmpty() && args.size() == 1 ? args.get(0) : null;
    EventSchema.Field f = of == null ? null : identField(of);
    if (f == null || f.type() != FieldType.STRING) {
      return null;
    }
    int i = f.index();
    return new Term(e -> {
      ByteBuffer buf = e.buffer();
      int off = e.stringOffset(i);
      int len = e.stringLength(i);
      long n = 0;
      for (int k = 0; k < len; k++) {
        n += (buf.get(off + k) & 0xC0) != 0x80 ? 1 : 0;
      }
      return n;
    }, new int[] {i});
  }

  /** Whether any of {@code fields} is null in the event: a term that reads it is unknown. */
  private static boolean anyNull(EventReader e, int[] fields) {
    for (int f : fields) {
      if (e.isNull(f)) {
        return true;
      }
    }
    return false;
  }

  /** The fields of {@code a} and of {@code b}, each once. */
  private static int[] union(int[] a, int[] b) {
    return IntStream.concat(Arrays.stream(a), Arrays.stream(b)).distinct()
        .toArray();
  }

  /**
   * {@code left op right} for two integer expressions, at least one with arithmetic or both
   * fields ({@code total_cents == qty * price_cents}, {@code a < b}); unknown when a field either
   * reads is null, as in CEL; null when it is not such a comparison.
   */
  private Condition intComparison(String op, CelExpr left, CelExpr right) {
    Term l = intTerm(left);
    Term r = intTerm(right);
    if (l == null || r == null) {
      return null;
    }
    IntTerm x = l.term();
    IntTerm y = r.term();
    int[] fields = union(l.fields(), r.fields());
    int cmp = comparison(op);
    return e -> {
      if (anyNull(e, fields)) {
        return UNKNOWN;
      }
      return of(holds(cmp, Long.compare(x.eval(e), y.eval(e))));
    };
  }

  /**
   * A direct-compiled double expression over DOUBLE fields, double literals and {@code double()} of
   * int terms, with {@code +}, {@code -}, {@code *}, {@code /} and unary {@code -}: IEEE-754
   * arithmetic, as CEL's (no errors: a division by zero is an infinity). Reads its fields without
   * checking them for null, like {@link IntTerm}.
   */
  @FunctionalInterface
  private interface DoubleTerm {
    double eval(EventReader e);
  }

  /** A {@link DoubleTerm} and the fields it reads. */
  private record DTerm(DoubleTerm term, int[] fields) {}

  /** {@code expr} as a {@link DTerm}, or null when it is not one. */
  private DTerm doubleTerm(CelExpr expr) {
    switch (expr.exprKind().getKind()) {
      case IDENT: {
        EventSchema.Field f = schema.find(expr.ident().name());
        if (f == null || f.type() != FieldType.DOUBLE) {
          return null;
        }
        int i = f.index();
        return new DTerm(e -> e.getDouble(i), new int[] {i});
      }
      case CONSTANT: {
        if (expr.constant().getKind() != CelConstant.Kind.DOUBLE_VALUE) {
          return null;
        }
        double v = expr.constant().doubleValue();
        return new DTerm(e -> v, new int[0]);
      }
      case CALL: {
        CelExpr.CelCall call = expr.call();
        List<CelExpr> args = call.args();
        if (call.target().isPresent()) {
          return null;
        }
        if (call.function().equals("double") && args.size() == 1) {
          Term t = intTerm(args.get(0));
          if (t == null) {
            return doubleTerm(args.get(0)); // double(a double) is the double
          }
          IntTerm x = t.term();
          return new DTerm(e -> (double) x.eval(e), t.fields());
        }
        if (call.function().equals("-_") && args.size() == 1) {
          DTerm a = doubleTerm(args.get(0));
          return a == null ? null : new DTerm(e -> -a.term().eval(e), a.fields());
        }
        if (args.size() != 2) {
          return null;
        }
        DTerm a = doubleTerm(args.get(0));
        DTerm b = a == null ? null : doubleTerm(args.get(1));
        if (b == null) {
          return null;
        }
        DoubleTerm x = a.term();
        DoubleTerm y = b.term();
        int[] fields = union(a.fields(), b.fields());
        return switch (call.function()) {
          case "_+_" -> new DTerm(e -> x.eval(e) + y.eval(e), fields);
          case "_-_" -> new DTerm(e -> x.eval(e) - y.eval(e), fields);
          case "_*_" -> new DTerm(e -> x.eval(e) * y.eval(e), fields);
          case "_/_" -> new DTerm(e -> x.eval(e) / y.eval(e), fields);
          default -> null;
        };
      }
      default:
        return null;
    }
  }

  /**
   * {@code left op right} for two double expressions ({@code amount * 1.1 > 100.0},
   * {@code double(qty) * price < total}): unknown when a field either reads is null; the comparison
   * Java's operators make on IEEE-754 values, which is CEL's (a NaN that arithmetic made is
   * unequal to everything and neither less nor greater); null when it is not such a comparison.
   */
  private Condition doubleComparison(String op, CelExpr left, CelExpr right) {
    DTerm l = doubleTerm(left);
    DTerm r = l == null ? null : doubleTerm(right);
    if (r == null) {
      return null;
    }
    DoubleTerm x = l.term();
    DoubleTerm y = r.term();
    int[] fields = union(l.fields(), r.fields());
    int cmp = comparison(op);
    return e -> {
      if (anyNull(e, fields)) {
        return UNKNOWN;
      }
      double a = x.eval(e);
      double b = y.eval(e);
      boolean holds = switch (cmp) {
        case EQ -> a == b;
        case NE -> a != b;
        case LT -> a < b;
        case LE -> a <= b;
        case GT -> a > b;
        default -> a >= b;
      };
      return of(holds);
    };
  }

  /**
   * The condition {@code text} as a range of one int field, or null when it is not one: a comparison
   * ({@code ==, <, <=, >, >=}) of a LONG or TIMESTAMP field with an int literal, on either side, or
   * an {@code &&} of such comparisons of the same field. {@code price >= 10000 && price < 1000000}
   * is {@code price} in {@code [10000, 999999]}. The range answers exactly what {@link #predicate}
   * answers: the condition holds when the field is not null and its value is in the range (a null
   * field makes every comparison unknown, so the condition does not hold). Lets a caller that tests
   * several conditions of one field read it once ({@code ViewProgram}'s {@code where} conditions).
   * Throws {@link ExpressionException} when {@code text} is invalid, as {@link #predicate} does.
   */
  public LongRange range(String text) {
    return rangeOf(check(text).getExpr());
  }

  /** The predicate evaluated by the CEL runtime even when it could be direct; for tests that compare the two. */
  EventPredicate celPredicate(String text) {
    return celPredicate(text, check(text));
  }

  private EventPredicate celPredicate(String text, CelAbstractSyntaxTree ast) {
    CelProgram program = new CelProgram(text, ast);
    return e -> {
      Object r = program.eval(e);
      return r instanceof Boolean && (Boolean) r;
    };
  }

  /**
   * Compiles a group-by key: a field name or any expression of string, int, uint, double or bool
   * type; throws {@link ExpressionException} for any other type (a list or map has no key text).
   */
  public KeyExtractor key(String text) {
    EventSchema.Field plain = schema.find(text.strip());
    if (plain != null) {
      return fieldKey(plain);
    }
    CelAbstractSyntaxTree ast = check(text);
    CelType type = ast.getResultType();
    if (!KEY_TYPES.contains(type)) {
      throw notAKey(text, type);
    }
    CelExpr expr = ast.getExpr();
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT) {
      return fieldKey(schema.require(expr.ident().name()));
    }
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.CONSTANT) {
      // one group for every event (group_by: "'all'"): the key text is the runtime's, computed once
      // (a constant reads no field, so no event is needed)
      Object v = new CelProgram(text, ast).eval(null);
      if (v != null) {
        return new KeyExtractor.Constant(keyText(v).getBytes(StandardCharsets.UTF_8));
      }
    }
    KeyExtractor direct = directKey(expr);
    if (direct == null) {
      return celKey(text, ast);
    }
    if (!mayThrowArithmetic(expr)) {
      return direct;
    }
    // an overflow or a zero divisor: the runtime evaluates the event and reports CEL's own error
    KeyExtractor cel = celKey(text, ast);
    return (e, out) -> {
      try {
        return direct.extract(e, out);
      } catch (ArithmeticException failed) {
        return cel.extract(e, out);
      }
    };
  }

  /** The form of a group key's text, by its type: what a read's key is brought to before it is looked up. */
  public enum KeyForm {
    /** Any text: a string key, or one of a type whose text has one spelling (bool, dyn). */
    TEXT,
    /** A decimal whole number, as a long or int expression writes its key ({@code 70}, never {@code 070}). */
    WHOLE_NUMBER,
    /** A decimal whole number from 0 to 2^64 - 1, as a uint expression writes its key. */
    UNSIGNED,
    /** A double's text, as {@link #keyText(double)} writes it ({@code 70.0}, never {@code 70} or {@code 7e1}). */
    DECIMAL
  }

  /** A group key's {@link KeyForm} and its type in words, for a refused key's message ({@code a long field}). */
  public record KeyShape(KeyForm form, String type) {}

  /** The {@link KeyShape} of group key {@code text}, compiled as {@link #key} compiles it (checked once). */
  public KeyShape keyShape(String text) {
    EventSchema.Field plain = schema.find(text.strip());
    CelAbstractSyntaxTree ast = plain == null ? check(text) : null;
    if (plain == null && ast.getExpr().exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT) {
      plain = schema.find(ast.getExpr().ident().name());
    }
    if (plain != null) {
      return switch (plain.type()) {
        case LONG -> new KeyShape(KeyForm.WHOLE_NUMBER, "a long field");
        case TIMESTAMP -> new KeyShape(KeyForm.WHOLE_NUMBER, "a timestamp field (epoch milliseconds)");
        case DOUBLE -> new KeyShape(KeyForm.DECIMAL, "a double field");
        case BOOLEAN -> new KeyShape(KeyForm.TEXT, "a boolean field");
        default -> new KeyShape(KeyForm.TEXT, "a string field");
      };
    }
    CelType type = ast.getResultType();
    KeyForm form = type.equals(SimpleType.INT) ? KeyForm.WHOLE_NUMBER : type.equals(SimpleType.UINT)
        ? KeyForm.UNSIGNED : type.equals(SimpleType.DOUBLE) ? KeyForm.DECIMAL : KeyForm.TEXT;
    return new KeyShape(form, "an expression of CEL type " + type.name());
  }

  /**
   * {@code key} in the form {@code form}'s keys are written in, so that a read finds the group of
   * the number it names: {@code 070}, {@code +70} and {@code 70} are the group {@code 70} of a long
   * key, {@code 70}, {@code 7e1} and {@code 70.0} the group {@code 70.0} of a double one (whose
   * groups {@code Infinity}, {@code -Infinity} and {@code NaN} are read by those names). Blanks
   * around the number are allowed, as in a table's key.
   *
   * @throws dev.braid.BadKeyException naming {@code what} and saying {@code why} the key must be a
   *     number when {@code key} is not one: no group of the view can have it
   */
  public static String canonicalKey(KeyForm form, String key, java.util.function.Supplier<String> what,
      java.util.function.Supplier<String> why) {
    switch (form) {
      case WHOLE_NUMBER -> {
        if (isPlainDecimal(key)) {
          return key;
        }
        Long n = dev.braid.table.CsvRecords.wholeNumber(key.strip());
        if (n == null) {
          throw badKey(what, key, dev.braid.table.CsvRecords.isWholeNumber(key.strip()) ? "past a long's range"
              : "not a whole number", why);
        }
        return Long.toString(n);
      }
      case UNSIGNED -> {
        String digits = key.strip();
        if (digits.startsWith("+")) {
          digits = digits.substring(1);
        }
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
          throw badKey(what, key, "not a whole number of 0 or more", why);
        }
        java.math.BigInteger n = new java.math.BigInteger(digits);
        if (n.bitLength() > 64) {
          throw badKey(what, key, "past a uint's range", why);
        }
        return n.toString();
      }
      case DECIMAL -> {
        String text = key.strip();
        if (text.equals("Infinity") || text.equals("-Infinity") || text.equals("NaN")) {
          return text; // a double's text too (an event's 1e308 * 10, or group_by price / 0.0)
        }
        double d = dev.braid.table.CsvRecords.decimal(text);
        if (Double.isNaN(d) || Double.isInfinite(d)) {
          throw badKey(what, key, Double.isNaN(d) ? "not a number" : "past a double's range (write Infinity for the "
              + "infinite group)", why);
        }
        return keyText(d);
      }
      default -> {
        return key;
      }
    }
  }

  private static dev.braid.BadKeyException badKey(java.util.function.Supplier<String> what, String key, String is,
      java.util.function.Supplier<String> why) {
    return new dev.braid.BadKeyException(what.get() + ": " + dev.braid.UnknownNameException.quoted(key) + " is " + is
        + ", and no group of the view can have it (" + why.get() + ")");
  }

  /** Whether {@code s} is a whole number as {@link Long#toString} writes one (the common read: no work to do). */
  private static boolean isPlainDecimal(String s) {
    int n = s.length();
    int i = n > 1 && s.charAt(0) == '-' ? 1 : 0;
    if (n == i || n - i > 18 || (s.charAt(i) == '0' && n - i > 1) || (i == 1 && s.charAt(1) == '0')) {
      return false; // empty, maybe past a long (parsed to see), a leading 0, or -0
    }
    for (; i < n; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  /**
   * A derived key as direct code, or null when it is not one of these shapes: a concatenation with
   * {@code +} of string fields, string literals and {@code string(...)} of int or double terms
   * ({@code merchant + ':' + string(store_id)}), an int term alone ({@code store_id / 100}), a
   * direct condition ({@code amount > 100.0}: {@code true} or {@code false}), or {@code c ? a : b}
   * of a direct condition and two such keys, fields or string, int or bool literals. The key text is
   * the one the CEL runtime's value has ({@code String.valueOf}: an int in decimal, a double as
   * {@link Double#toString}). A null field makes the key null, as an unknown makes it on the runtime.
   */
  private KeyExtractor directKey(CelExpr expr) {
    Condition condition = directCondition(expr); // non-null only for a boolean expression
    if (condition != null) {
      return (e, out) -> {
        int x = condition.eval(e);
        if (x == UNKNOWN) {
          return false;
        }
        byte[] text = x == TRUE ? TRUE_TEXT : FALSE_TEXT;
        out.set(text, 0, text.length);
        return true;
      };
    }
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.CALL && expr.call().function().equals("_?_:_")) {
      List<CelExpr> args = expr.call().args();
      Condition c = directCondition(args.get(0));
      KeyExtractor a = c == null ? null : branchKey(args.get(1));
      KeyExtractor b = a == null ? null : branchKey(args.get(2));
      if (b == null) {
        return null;
      }
      // an unknown condition makes the key unknown, so null; only the branch taken is read
      return (e, out) -> {
        int x = c.eval(e);
        return x != UNKNOWN && (x == TRUE ? a : b).extract(e, out);
      };
    }
    List<KeyPart> parts = new ArrayList<>();
    if (!stringParts(expr, parts)) {
      parts.clear();
      Term t = intTerm(expr);
      if (t == null) {
        return null;
      }
      parts.add(intPart(t));
    }
    KeyPart[] p = parts.toArray(new KeyPart[0]);
    return (e, out) -> {
      out.clear();
      for (KeyPart part : p) {
        if (!part.append(e, out)) {
          return false;
        }
      }
      return true;
    };
  }

  /** A boolean key's texts, as the CEL runtime's {@code String.valueOf} writes them; set without a per-event copy. */
  private static final byte[] TRUE_TEXT = {'t', 'r', 'u', 'e'};
  private static final byte[] FALSE_TEXT = {'f', 'a', 'l', 's', 'e'};

  /** A branch of a conditional key: a plain field, a literal, or a direct key. */
  private KeyExtractor branchKey(CelExpr expr) {
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT) {
      EventSchema.Field f = schema.find(expr.ident().name());
      return f == null ? null : fieldKey(f);
    }
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.CONSTANT) {
      Object v = constantValue(expr);
      return v instanceof String || v instanceof Long || v instanceof Boolean
          ? new KeyExtractor.Constant(String.valueOf(v).getBytes(StandardCharsets.UTF_8)) : null;
    }
    return directKey(expr);
  }

  /** One piece of a direct key's text; false when it reads a null field (the key is null). */
  @FunctionalInterface
  private interface KeyPart {
    boolean append(EventReader e, KeyBuffer out);
  }

  /** Adds the parts of string expression {@code expr} to {@code parts}; false when it is not a direct shape. */
  private boolean stringParts(CelExpr expr, List<KeyPart> parts) {
    switch (expr.exprKind().getKind()) {
      case IDENT: {
        EventSchema.Field f = schema.find(expr.ident().name());
        if (f == null || f.type() != FieldType.STRING) {
          return false;
        }
        int i = f.index();
        parts.add((e, out) -> {
          if (e.isNull(i)) {
            return false;
          }
          out.append(e.buffer(), e.stringOffset(i), e.stringLength(i));
          return true;
        });
        return true;
      }
      case CONSTANT: {
        if (!(constantValue(expr) instanceof String lit)) {
          return false;
        }
        byte[] b = lit.getBytes(StandardCharsets.UTF_8);
        parts.add((e, out) -> {
          out.append(b);
          return true;
        });
        return true;
      }
      case CALL: {
        CelExpr.CelCall call = expr.call();
        List<CelExpr> args = call.args();
        if (call.target().isPresent()) {
          return false;
        }
        if (call.function().equals("_+_") && args.size() == 2) {
          return stringParts(args.get(0), parts) && stringParts(args.get(1), parts);
        }
        if (call.function().equals("string") && args.size() == 1) {
          List<KeyPart> inner = new ArrayList<>();
          if (stringParts(args.get(0), inner)) {
            parts.addAll(inner);
            return true;
          }
          Term t = intTerm(args.get(0));
          if (t != null) {
            parts.add(intPart(t));
            return true;
          }
          DTerm d = doubleTerm(args.get(0));
          if (d != null) {
            parts.add(doublePart(d));
            return true;
          }
        }
        return false;
      }
      default:
        return false;
    }
  }

  /**
   * A double term's text as CEL's {@code string(double)} writes it ({@link Double#toString}); false
   * when a field is null.
   */
  private static KeyPart doublePart(DTerm t) {
    DoubleTerm term = t.term();
    int[] fields = t.fields();
    return (e, out) -> {
      if (anyNull(e, fields)) {
        return false;
      }
      out.appendAscii(Double.toString(term.eval(e)));
      return true;
    };
  }

  /** An int term's decimal text; null (false) when a field it reads is null. */
  private static KeyPart intPart(Term t) {
    IntTerm term = t.term();
    int[] fields = t.fields();
    return (e, out) -> {
      if (anyNull(e, fields)) {
        return false;
      }
      out.appendLong(term.eval(e));
      return true;
    };
  }

  /** The key evaluated by the CEL runtime even when it could be direct; for tests that compare the two. */
  KeyExtractor celKey(String text) {
    return celKey(text, check(text));
  }

  private KeyExtractor celKey(String text, CelAbstractSyntaxTree ast) {
    CelProgram program = new CelProgram(text, ast);
    return (e, out) -> {
      Object r = program.eval(e);
      if (r == null) {
        return false;
      }
      out.set(keyText(r));
      return true;
    };
  }

  /**
   * The text of key value {@code v}: {@code String.valueOf}, but -0.0 is 0.0's text, since the two
   * are equal numbers and so one group, as SQL's GROUP BY makes them (a string the expression made,
   * {@code string(-0.0)}, stays CEL's "-0.0").
   */
  static String keyText(Object v) {
    return v instanceof Double d ? keyText(d.doubleValue()) : String.valueOf(v);
  }

  /** {@link #keyText(Object)} of a double, without boxing it (a double field's key, once per event). */
  static String keyText(double d) {
    return d == 0 ? "0.0" : Double.toString(d);
  }

  /**
   * Checks a condition as {@link #predicate} does, without compiling it for events when it names an
   * untyped field (there is no code for a field of unknown type): a condition whose type comes out
   * {@code dyn} through such a field may be boolean, so it passes. Throws {@link ExpressionException}.
   */
  public void checkCondition(String text) {
    if (untyped.isEmpty()) {
      predicate(text); // the common case: nothing untyped, compiled as it will run (checked once)
      return;
    }
    CelAbstractSyntaxTree ast = check(text);
    if (!namesUntyped(ast)) {
      predicate(text);
    } else if (!ast.getResultType().equals(SimpleType.BOOL) && !ast.getResultType().equals(SimpleType.DYN)) {
      throw notBoolean(text, ast.getResultType());
    }
  }

  /** Checks a group key as {@link #key} does, in the way {@link #checkCondition} checks a condition. */
  public void checkKey(String text) {
    if (untyped.isEmpty()) {
      key(text);
      return;
    }
    if (untyped.contains(text.strip())) {
      return;
    }
    CelAbstractSyntaxTree ast = check(text);
    if (!namesUntyped(ast)) {
      key(text);
    } else if (!KEY_TYPES.contains(ast.getResultType()) && !ast.getResultType().equals(SimpleType.DYN)) {
      throw notAKey(text, ast.getResultType());
    }
  }

  private static ExpressionException notBoolean(String text, CelType type) {
    return new ExpressionException(String.format("'%s' must be a boolean condition, but it is of type %s",
        text, CelTypes.format(type)));
  }

  private static ExpressionException notAKey(String text, CelType type) {
    return new ExpressionException(String.format(
        "'%s' cannot be a group key: it is of type %s, and a key must be a string, int, uint, double or bool",
        text, CelTypes.format(type)));
  }

  private boolean namesUntyped(CelAbstractSyntaxTree ast) {
    if (untyped.isEmpty()) {
      return false;
    }
    Set<String> names = new LinkedHashSet<>();
    collectIdents(ast.getExpr(), names);
    return names.stream().anyMatch(untyped::contains);
  }

  /** Whether {@code text} compiles to direct code (no CEL runtime per event). */
  public boolean isDirect(String text) {
    CelAbstractSyntaxTree ast = check(text);
    if (ast.getResultType().equals(SimpleType.BOOL)) {
      return directCondition(ast.getExpr()) != null;
    }
    CelExpr.ExprKind.Kind kind = ast.getExpr().exprKind().getKind();
    return kind == CelExpr.ExprKind.Kind.IDENT || kind == CelExpr.ExprKind.Kind.CONSTANT
        || directKey(ast.getExpr()) != null;
  }

  /**
   * The schema fields that {@code text} reads, in the order they first appear. A condition that
   * does not hold may have failed only because one of them was null, so a caller names them when
   * it reports the failure (a rule that "failed" on an event without the field misleads).
   * Throws as {@link #check} does.
   */
  public List<EventSchema.Field> fieldsRead(String text) {
    return fieldsRead(check(text).getExpr());
  }

  private List<EventSchema.Field> fieldsRead(CelExpr expr) {
    Set<String> names = new LinkedHashSet<>();
    collectIdents(expr, names);
    List<EventSchema.Field> out = new ArrayList<>(names.size());
    for (String n : names) {
      EventSchema.Field f = schema.find(n);
      if (f != null) {
        out.add(f);
      }
    }
    return List.copyOf(out);
  }

  /** Parses and type-checks; throws {@link ExpressionException} with CEL's message. */
  public CelAbstractSyntaxTree check(String text) {
    if (text == null || text.isBlank()) {
      throw new ExpressionException("empty expression");
    }
    CelValidationResult r = compiler.compile(text);
    if (r.hasError()) {
      // CEL's parser lists the modulo token as it escapes it for a format string
      String message = oneLine(plainTypes(r.getErrorString().strip())).replace("'%%'", "'%'");
      if (message.contains("applied to '(double, int)'") || message.contains("applied to '(int, double)'")) {
        // comparisons of the two take either (OPTIONS); arithmetic and equality do not
        message += "; CEL does not mix int and double in arithmetic, == or !=: write a double literal with a point "
            + "(100.0) or convert with double(...) or int(...)";
      }
      // CEL's parser passes on Java's text for an integer literal past the 64-bit range
      message = message.replaceAll("For input string: \"(-?[0-9A-Fa-f]+)\"( under radix 16)?",
          "an integer literal ($1) is out of range (a CEL int is 64 bits: -9223372036854775808 to "
              + "9223372036854775807)");
      throw new ExpressionException("invalid expression '" + text + "': " + message);
    }
    CelAbstractSyntaxTree ast;
    try {
      ast = r.getAst();
    } catch (CelValidationException e) {
      throw new ExpressionException("invalid expression '" + text + "': " + e.getMessage());
    }
    checkPatterns(text, ast.getExpr());
    return ast;
  }

  /**
   * Refuses a {@code matches} whose literal pattern RE2 cannot compile (a backreference, say): CEL
   * accepts it when it checks types, and every event would then fail at run time.
   */
  private static void checkPatterns(String text, CelExpr e) {
    if (e.exprKind().getKind() != CelExpr.ExprKind.Kind.CALL) {
      return;
    }
    CelExpr.CelCall call = e.call();
    if (call.function().equals("matches")) {
      CelExpr pattern = call.args().get(call.args().size() - 1);
      if (constantValue(pattern) instanceof String p) {
        try {
          Pattern.compile(p);
        } catch (PatternSyntaxException refused) {
          throw new ExpressionException("invalid expression '" + text + "': '" + p + "' is not a regular expression "
              + "RE2 accepts (" + refused.getDescription() + "; RE2 has no backreferences or lookaround)");
        }
      }
    }
    call.target().ifPresent(t -> checkPatterns(text, t));
    call.args().forEach(a -> checkPatterns(text, a));
  }

  private static KeyExtractor fieldKey(EventSchema.Field f) {
    int i = f.index();
    switch (f.type()) {
      case STRING:
        return (e, out) -> {
          if (e.isNull(i)) {
            return false;
          }
          out.set(e.buffer(), e.stringOffset(i), e.stringLength(i));
          return true;
        };
      case DOUBLE:
        return (e, out) -> {
          if (e.isNull(i)) {
            return false;
          }
          out.set(keyText(e.getDouble(i)));
          return true;
        };
      case BOOLEAN:
        return (e, out) -> {
          if (e.isNull(i)) {
            return false;
          }
          out.set(e.getBoolean(i) ? "true" : "false");
          return true;
        };
      default:
        return (e, out) -> {
          if (e.isNull(i)) {
            return false;
          }
          out.setLong(e.getLong(i));
          return true;
        };
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Direct compilation of the common shapes
  // ---------------------------------------------------------------------------------------------

  /**
   * A direct-compiled condition in three-valued logic, so that it answers exactly what the CEL
   * runtime answers when a field is null (see the class comment): {@link #TRUE}, {@link #FALSE} or
   * {@link #UNKNOWN}. A two-valued "null makes a comparison false" would turn {@code !(x == 1)}
   * true where CEL says unknown.
   */
  @FunctionalInterface
  private interface Condition {
    int eval(EventReader e);
  }

  private static final int FALSE = 0;
  private static final int TRUE = 1;
  private static final int UNKNOWN = 2;

  private static int of(boolean b) {
    return b ? TRUE : FALSE;
  }

  private Condition directCondition(CelExpr expr) {
    switch (expr.exprKind().getKind()) {
      case IDENT: {
        EventSchema.Field f = schema.find(expr.ident().name());
        if (f == null || f.type() != FieldType.BOOLEAN) {
          return null;
        }
        int i = f.index();
        return e -> e.isNull(i) ? UNKNOWN : of(e.getBoolean(i));
      }
      case CONSTANT:
        if (expr.constant().getKind() == CelConstant.Kind.BOOLEAN_VALUE) {
          int v = of(expr.constant().booleanValue());
          return e -> v;
        }
        return null;
      case CALL:
        return directCall(expr.call());
      default:
        return null;
    }
  }

  private Condition directCall(CelExpr.CelCall call) {
    List<CelExpr> args = call.args();
    switch (call.function()) {
      case "_&&_": {
        Condition a = directCondition(args.get(0));
        Condition b = directCondition(args.get(1));
        if (a == null || b == null) {
          return null;
        }
        // false on either side wins, whatever the other side is (CEL's commutative &&)
        return e -> {
          int x = a.eval(e);
          if (x == FALSE) {
            return FALSE;
          }
          int y = b.eval(e);
          return y == FALSE ? FALSE : x == TRUE && y == TRUE ? TRUE : UNKNOWN;
        };
      }
      case "_||_": {
        Condition a = directCondition(args.get(0));
        Condition b = directCondition(args.get(1));
        if (a == null || b == null) {
          return null;
        }
        // true on either side wins, whatever the other side is (CEL's commutative ||)
        return e -> {
          int x = a.eval(e);
          if (x == TRUE) {
            return TRUE;
          }
          int y = b.eval(e);
          return y == TRUE ? TRUE : x == FALSE && y == FALSE ? FALSE : UNKNOWN;
        };
      }
      case "!_": {
        Condition a = directCondition(args.get(0));
        if (a == null) {
          return null;
        }
        return e -> {
          int x = a.eval(e);
          return x == UNKNOWN ? UNKNOWN : x ^ 1;
        };
      }
      case "@in":
        return directIn(args.get(0), args.get(1));
      case "_?_:_": {
        Condition c = directCondition(args.get(0));
        Condition a = directCondition(args.get(1));
        Condition b = directCondition(args.get(2));
        if (c == null || a == null || b == null) {
          return null;
        }
        // an unknown condition makes the result unknown; only the branch taken is evaluated
        return e -> {
          int x = c.eval(e);
          return x == UNKNOWN ? UNKNOWN : x == TRUE ? a.eval(e) : b.eval(e);
        };
      }
      case "_==_":
      case "_!=_":
      case "_<_":
      case "_<=_":
      case "_>_":
      case "_>=_":
        return directComparison(call.function(), args.get(0), args.get(1));
      case "startsWith":
      case "endsWith":
      case "contains":
      case "matches":
        return stringTest(call);
      default:
        return null;
    }
  }

  /**
   * {@code field.startsWith(lit)}, {@code endsWith}, {@code contains} or {@code matches} on a STRING
   * field with a string literal; null for any other shape. The first three compare the field's
   * UTF-8 bytes with the literal's: UTF-8 is self-synchronizing, so for the well-formed strings an
   * encoded event holds, a byte prefix, suffix or substring is exactly a prefix, suffix or substring
   * of characters, as CEL answers on Java strings (the encoder stores well-formed UTF-8, an unpaired
   * surrogate as {@code ?}, and CEL's parser refuses one in a literal). {@code matches} is CEL's RE2 search
   * ({@code com.google.re2j}, the library CEL-Java itself uses), compiled once instead of per event;
   * a literal pattern RE2 refuses never gets here ({@link #check} refuses the expression).
   */
  private Condition stringTest(CelExpr.CelCall call) {
    if (call.target().isEmpty() || call.args().size() != 1) {
      return null;
    }
    EventSchema.Field f = identField(call.target().get());
    if (f == null || f.type() != FieldType.STRING || !(constantValue(call.args().get(0)) instanceof String lit)) {
      return null;
    }
    int i = f.index();
    byte[] b = lit.getBytes(StandardCharsets.UTF_8);
    switch (call.function()) {
      case "startsWith":
        return e -> e.isNull(i) ? UNKNOWN : of(e.stringLength(i) >= b.length && bytesAt(e, i, 0, b));
      case "endsWith":
        return e -> {
          if (e.isNull(i)) {
            return UNKNOWN;
          }
          int len = e.stringLength(i);
          return of(len >= b.length && bytesAt(e, i, len - b.length, b));
        };
      case "contains":
        return e -> e.isNull(i) ? UNKNOWN : of(indexOf(e, i, b) >= 0);
      default: { // matches
        Pattern pattern = Pattern.compile(lit);
        return e -> e.isNull(i) ? UNKNOWN : of(pattern.matcher(e.getString(i)).find());
      }
    }
  }

  /** Whether string field {@code field}'s bytes from {@code at} begin with {@code lit} (which fits). */
  private static boolean bytesAt(EventReader e, int field, int at, byte[] lit) {
    ByteBuffer buf = e.buffer();
    int off = e.stringOffset(field) + at;
    for (int k = 0; k < lit.length; k++) {
      if (buf.get(off + k) != lit[k]) {
        return false;
      }
    }
    return true;
  }

  /** Where {@code lit} first occurs in string field {@code field}'s bytes, or -1. */
  private static int indexOf(EventReader e, int field, byte[] lit) {
    int last = e.stringLength(field) - lit.length;
    if (lit.length == 0) {
      return 0;
    }
    ByteBuffer buf = e.buffer();
    int off = e.stringOffset(field);
    byte first = lit[0];
    for (int at = 0; at <= last; at++) {
      if (buf.get(off + at) == first && bytesAt(e, field, at, lit)) {
        return at;
      }
    }
    return -1;
  }


  private EventSchema.Field identField(CelExpr e) {
    return e.exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT ? schema.find(e.ident().name()) : null;
  }

  private static Object constantValue(CelExpr e) {
    if (e.exprKind().getKind() != CelExpr.ExprKind.Kind.CONSTANT) {
      return null;
    }
    CelConstant c = e.constant();
    switch (c.getKind()) {
      case INT64_VALUE:
        return c.int64Value();
      case DOUBLE_VALUE:
        return c.doubleValue();
      case STRING_VALUE:
        return c.stringValue();
      case BOOLEAN_VALUE:
        return c.booleanValue();
      default:
        return null;
    }
  }

  private static String flip(String op) {
    switch (op) {
      case "_<_":
        return "_>_";
      case "_<=_":
        return "_>=_";
      case "_>_":
        return "_<_";
      case "_>=_":
        return "_<=_";
      default:
        return op;
    }
  }

  /** A comparison of a field with a literal, as {@code field op literal}: {@code op} a code of {@link #comparison}. */
  private record FieldComparison(int op, EventSchema.Field field, Object literal) {}

  /**
   * {@code left op right} as a field compared with a literal, whichever side the field is on (the
   * operator flipped when it is on the right); null when it is not such a comparison.
   */
  private FieldComparison fieldComparison(String op, CelExpr left, CelExpr right) {
    EventSchema.Field f = identField(left);
    Object c = constantValue(right);
    if (f == null || c == null) {
      f = identField(right);
      c = constantValue(left);
      op = flip(op);
    }
    return f == null || c == null ? null : new FieldComparison(comparison(op), f, c);
  }

  private Condition directComparison(String op, CelExpr left, CelExpr right) {
    FieldComparison fc = fieldComparison(op, left, right);
    if (fc == null) {
      Condition ints = intComparison(op, left, right);
      return ints != null ? ints : doubleComparison(op, left, right);
    }
    EventSchema.Field f = fc.field();
    Object c = fc.literal();
    int i = f.index();
    int cmp = fc.op();
    switch (f.type()) {
      case STRING: {
        if (!(c instanceof String)) {
          return null;
        }
        byte[] lit = ((String) c).getBytes(StandardCharsets.UTF_8);
        return e -> e.isNull(i) ? UNKNOWN : of(holds(cmp, compareBytes(e, i, lit)));
      }
      case BOOLEAN: {
        if (!(c instanceof Boolean) || !(cmp == EQ || cmp == NE)) {
          return null;
        }
        boolean v = (Boolean) c;
        boolean eq = cmp == EQ;
        return e -> e.isNull(i) ? UNKNOWN : of((e.getBoolean(i) == v) == eq);
      }
      case DOUBLE: {
        if (!(c instanceof Double)) {
          return null;
        }
        double v = (Double) c;
        return e -> e.isNull(i) ? UNKNOWN : of(holds(cmp, compareDoubles(e.getDouble(i), v)));
      }
      default: {
        // LONG and TIMESTAMP are CEL ints; CEL's checker refuses int against double, so only long literals
        if (!(c instanceof Long)) {
          return null;
        }
        long v = (Long) c;
        return e -> e.isNull(i) ? UNKNOWN : of(holds(cmp, Long.compare(e.getLong(i), v)));
      }
    }
  }

  /**
   * Compares by IEEE-754 value as CEL does, not by {@link Double#compare}, which orders -0.0 before
   * 0.0. Encoded events hold no NaN (the encoder refuses it) and a literal cannot be one.
   */
  private static int compareDoubles(double a, double b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  private Condition directIn(CelExpr element, CelExpr list) {
    EventSchema.Field f = identField(element);
    if (f == null || list.exprKind().getKind() != CelExpr.ExprKind.Kind.LIST) {
      return null;
    }
    List<Object> values = new ArrayList<>();
    for (CelExpr item : list.list().elements()) {
      Object v = constantValue(item);
      if (v == null) {
        return null;
      }
      values.add(v);
    }
    int i = f.index();
    if (f.type() == FieldType.STRING) {
      List<byte[]> lits = new ArrayList<>();
      for (Object v : values) {
        if (!(v instanceof String)) {
          return null;
        }
        lits.add(((String) v).getBytes(StandardCharsets.UTF_8));
      }
      byte[][] arr = lits.toArray(new byte[0][]);
      return e -> {
        if (e.isNull(i)) {
          return UNKNOWN;
        }
        for (byte[] lit : arr) {
          if (compareBytes(e, i, lit) == 0) {
            return TRUE;
          }
        }
        return FALSE;
      };
    }
    if (f.type() == FieldType.LONG || f.type() == FieldType.TIMESTAMP) {
      long[] arr = new long[values.size()];
      for (int k = 0; k < arr.length; k++) {
        if (!(values.get(k) instanceof Long)) {
          return null;
        }
        arr[k] = (Long) values.get(k);
      }
      return e -> {
        if (e.isNull(i)) {
          return UNKNOWN;
        }
        long v = e.getLong(i);
        for (long x : arr) {
          if (x == v) {
            return TRUE;
          }
        }
        return FALSE;
      };
    }
    return null;
  }

  // Comparison operators as ints, so an event's test switches on an int, not on the operator's name.
  private static final int EQ = 0;
  private static final int NE = 1;
  private static final int LT = 2;
  private static final int LE = 3;
  private static final int GT = 4;
  private static final int GE = 5;

  /** The code of comparison operator {@code op} ({@code _==_}, ... {@code _>=_}). */
  private static int comparison(String op) {
    return switch (op) {
      case "_==_" -> EQ;
      case "_!=_" -> NE;
      case "_<_" -> LT;
      case "_<=_" -> LE;
      case "_>_" -> GT;
      case "_>=_" -> GE;
      default -> throw new IllegalArgumentException("not a comparison: " + op);
    };
  }

  /** Whether comparison {@code op} (a code of {@link #comparison}) holds for {@code cmp} (negative, 0, positive). */
  private static boolean holds(int op, int cmp) {
    switch (op) {
      case EQ:
        return cmp == 0;
      case NE:
        return cmp != 0;
      case LT:
        return cmp < 0;
      case LE:
        return cmp <= 0;
      case GT:
        return cmp > 0;
      default:
        return cmp >= 0;
    }
  }

  /**
   * Compares a STRING field's UTF-8 bytes with {@code lit} in the order CEL-Java uses for strings,
   * UTF-16 code units ({@link String#compareTo}). Unsigned UTF-8 byte order is code point order,
   * which differs in one place: characters U+E000..U+FFFF (lead bytes 0xEE, 0xEF) sort after the
   * supplementary ones (lead bytes 0xF0..0xF4, surrogates 0xD800.. in UTF-16). The first differing
   * bytes are either both lead bytes (a character boundary) or both continuation bytes of
   * characters of the same length, so moving 0xEE and 0xEF above 0xF4 there is enough.
   */
  private static int compareBytes(EventReader e, int field, byte[] lit) {
    int off = e.stringOffset(field);
    int len = e.stringLength(field);
    ByteBuffer b = e.buffer();
    int n = Math.min(len, lit.length);
    for (int k = 0; k < n; k++) {
      int x = b.get(off + k) & 0xff;
      int y = lit[k] & 0xff;
      if (x != y) {
        return utf16Rank(x) - utf16Rank(y);
      }
    }
    return len - lit.length;
  }

  private static int utf16Rank(int utf8Byte) {
    return utf8Byte == 0xEE || utf8Byte == 0xEF ? utf8Byte + 8 : utf8Byte;
  }

  // ---------------------------------------------------------------------------------------------
  // Range conditions
  // ---------------------------------------------------------------------------------------------

  /**
   * A condition that holds when int {@code field} (LONG or TIMESTAMP) is not null and its value is in
   * the closed range {@code [min, max]}; see {@link #range}. An empty range ({@code x > 5 && x < 3},
   * {@code x > 9223372036854775807}) holds for no event and is always
   * {@code [Long.MAX_VALUE, Long.MIN_VALUE]}, so conditions that hold for the same values have equal ranges.
   */
  public record LongRange(EventSchema.Field field, long min, long max) {

    public LongRange {
      java.util.Objects.requireNonNull(field, "field");
      if (field.type() != FieldType.LONG && field.type() != FieldType.TIMESTAMP) {
        throw new IllegalArgumentException(String.format(
            "a range is of a LONG or TIMESTAMP field, but '%s' is %s", field.name(), field.type()));
      }
      if (min > max) {
        min = Long.MAX_VALUE;
        max = Long.MIN_VALUE;
      }
    }

    /** The range of a condition on {@code field} that never holds. */
    public static LongRange empty(EventSchema.Field field) {
      return new LongRange(field, Long.MAX_VALUE, Long.MIN_VALUE);
    }

    /** Whether the condition holds for no value of the field. */
    public boolean isEmpty() {
      return min > max;
    }

    /** Whether the condition holds when the field has (non-null) value {@code v}. */
    public boolean contains(long v) {
      return min <= v && v <= max;
    }

    /** The values in both ranges, which must be of the same field. */
    LongRange intersect(LongRange o) {
      return new LongRange(field, Math.max(min, o.min), Math.min(max, o.max));
    }
  }

  /**
   * {@code expr} as a range of one int field; null when it is not one. Without null fields {@code &&}
   * is plain conjunction, and a null field makes each side unknown and so the whole unknown: either
   * way the intersection of the sides' ranges.
   */
  private LongRange rangeOf(CelExpr expr) {
    if (expr.exprKind().getKind() != CelExpr.ExprKind.Kind.CALL) {
      return null;
    }
    CelExpr.CelCall call = expr.call();
    List<CelExpr> args = call.args();
    switch (call.function()) {
      case "_&&_": {
        LongRange a = rangeOf(args.get(0));
        LongRange b = a == null ? null : rangeOf(args.get(1));
        return b == null || !a.field().equals(b.field()) ? null : a.intersect(b);
      }
      case "_==_":
      case "_<_":
      case "_<=_":
      case "_>_":
      case "_>=_":
        break;
      default:
        return null; // != is two ranges
    }
    FieldComparison fc = fieldComparison(call.function(), args.get(0), args.get(1));
    if (fc == null || !(fc.literal() instanceof Long)
        || (fc.field().type() != FieldType.LONG && fc.field().type() != FieldType.TIMESTAMP)) {
      return null;
    }
    EventSchema.Field f = fc.field();
    long v = (Long) fc.literal();
    switch (fc.op()) {
      case EQ:
        return new LongRange(f, v, v);
      case LT: // v - 1 must not wrap: x < Long.MIN_VALUE holds for no x
        return v == Long.MIN_VALUE ? LongRange.empty(f) : new LongRange(f, Long.MIN_VALUE, v - 1);
      case LE:
        return new LongRange(f, Long.MIN_VALUE, v);
      case GT:
        return v == Long.MAX_VALUE ? LongRange.empty(f) : new LongRange(f, v + 1, Long.MAX_VALUE);
      default: // GE
        return new LongRange(f, v, Long.MAX_VALUE);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // CEL runtime fallback
  // ---------------------------------------------------------------------------------------------

  private final class CelProgram {
    private final String text;
    private final CelRuntime.Program program;
    private final int[] fields;

    CelProgram(String text, CelAbstractSyntaxTree ast) {
      this.text = text;
      try {
        this.program = runtime.createProgram(ast);
      } catch (CelEvaluationException e) {
        throw new ExpressionException("cannot plan expression '" + text + "': " + e.getMessage());
      }
      Map<String, Integer> byName = new HashMap<>();
      for (EventSchema.Field f : fieldsRead(ast.getExpr())) {
        byName.put(f.name(), f.index());
      }
      this.fieldByName = byName;
      this.fields = byName.values().stream().mapToInt(Integer::intValue).toArray();
    }

    /** The referenced fields by name, for the resolver of {@link #eval}. */
    private final Map<String, Integer> fieldByName;

    /**
     * Evaluates over the referenced fields; null when the result is unknown. A null field is left
     * out of the activation, so CEL treats it as unknown and its {@code &&}, {@code ||} and
     * {@code ?:} decide whether the result still is (returning null before evaluating would make
     * {@code x == 1 || y == 2} unknown although {@code y == 2} holds). Thread-safe.
     */
    Object eval(EventReader e) {
      Object r;
      try {
        // Fields are read as CEL asks for them: building a map per event for CEL to copy into its
        // own activation was most of the cost of a rule (docs/PERFORMANCE.md).
        r = program.eval(name -> {
          Integer i = fieldByName.get(name);
          return i == null ? java.util.Optional.empty() : java.util.Optional.ofNullable(e.get(i));
        });
      } catch (CelEvaluationException ex) {
        if (anyNull(e, fields)) {
          return null; // a null field reached an operation that reports absence as an error
        }
        throw new EvaluationException("expression '" + text + "' failed: " + reason(ex), ex);
      }
      return r instanceof CelUnknownSet ? null : r;
    }

  }

  /**
   * {@code ex}'s message, naming its root cause's class when that cause has no message of its own.
   * The JVM drops the message of an exception it throws often from compiled code ("/ by zero" of an
   * {@code ArithmeticException}) unless started with {@code -XX:-OmitStackTraceInFastThrow}, as
   * {@code ./braid} and the tests start it; CEL's message then ends in an empty cause.
   */
  static String reason(Throwable ex) {
    Throwable root = ex;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = String.valueOf(ex.getMessage());
    return root != ex && root.getMessage() == null ? m + root.getClass().getName() : m;
  }

  private static void collectIdents(CelExpr e, Set<String> out) {
    switch (e.exprKind().getKind()) {
      case IDENT:
        out.add(e.ident().name());
        break;
      case CALL:
        e.call().target().ifPresent(t -> collectIdents(t, out));
        e.call().args().forEach(a -> collectIdents(a, out));
        break;
      case LIST:
        e.list().elements().forEach(a -> collectIdents(a, out));
        break;
      case SELECT:
        collectIdents(e.select().operand(), out);
        break;
      case COMPREHENSION:
        collectIdents(e.comprehension().iterRange(), out);
        collectIdents(e.comprehension().accuInit(), out);
        collectIdents(e.comprehension().loopCondition(), out);
        collectIdents(e.comprehension().loopStep(), out);
        collectIdents(e.comprehension().result(), out);
        break;
      case MAP:
        e.map().entries().forEach(en -> {
          collectIdents(en.key(), out);
          collectIdents(en.value(), out);
        });
        break;
      default:
        break;
    }
  }

  /**
   * CEL's error text on one line: each error as {@code column C: message} ({@code line L, column C}
   * past the first line), joined by "; ", without the excerpt and caret lines CEL draws under it.
   */
  static String oneLine(String celError) {
    java.util.List<String> parts = new java.util.ArrayList<>();
    java.util.regex.Pattern at = java.util.regex.Pattern.compile("^ERROR: <input>:(\\d+):(\\d+): ");
    for (String line : celError.split("\\R")) {
      if (line.isBlank() || line.strip().startsWith("|")) {
        continue;
      }
      java.util.regex.Matcher m = at.matcher(line);
      parts.add(m.find() ? (m.group(1).equals("1") ? "column " + m.group(2) : "line " + m.group(1) + ", column "
          + m.group(2)) + ": " + line.substring(m.end()) : line.strip());
    }
    return String.join("; ", parts);
  }

  /** CEL's type names in an error as a spec writes them ({@code google.protobuf.Timestamp} is a timestamp). */
  static String plainTypes(String celError) {
    return celError.replace("google.protobuf.Timestamp", "timestamp").replace("google.protobuf.Duration", "duration");
  }
}
