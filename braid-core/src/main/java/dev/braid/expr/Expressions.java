package dev.braid.expr;

import dev.braid.event.EventReader;
import dev.braid.event.EventSchema;
import dev.braid.event.FieldType;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelConstant;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.types.CelType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerBuilder;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
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
 * a plain field reference; comparisons of a field with a literal ({@code ==, !=, <, <=, >, >=});
 * {@code field in [literals]}; and {@code &&}, {@code ||}, {@code !} over those. Anything else is
 * evaluated by the CEL runtime over the fields it references.
 *
 * <p>In expressions, timestamp fields are {@code int} epoch milliseconds. A null (missing) field
 * makes a comparison false, and makes a derived key null (the event is then not grouped).
 */
public final class Expressions {

  private final EventSchema schema;
  private final CelCompiler compiler;
  private final CelRuntime runtime;

  public Expressions(EventSchema schema) {
    this.schema = schema;
    CelCompilerBuilder b = CelCompilerFactory.standardCelCompilerBuilder()
        .setStandardMacros(CelStandardMacro.STANDARD_MACROS);
    for (EventSchema.Field f : schema.fields()) {
      b.addVar(f.name(), celType(f.type()));
    }
    this.compiler = b.build();
    this.runtime = CelRuntimeFactory.standardCelRuntimeBuilder().build();
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
      throw new ExpressionException(String.format("'%s' must be a boolean condition, but it is of type %s",
          text, ast.getResultType().name()));
    }
    EventPredicate direct = directPredicate(ast.getExpr());
    if (direct != null) {
      return direct;
    }
    CelProgram program = new CelProgram(text, ast);
    return e -> {
      Object r = program.eval(e);
      return r instanceof Boolean && (Boolean) r;
    };
  }

  /** Compiles a group-by key: a field name or any expression of string, int, double or bool type. */
  public KeyExtractor key(String text) {
    EventSchema.Field plain = schema.find(text.strip());
    if (plain != null) {
      return fieldKey(plain);
    }
    CelAbstractSyntaxTree ast = check(text);
    CelExpr expr = ast.getExpr();
    if (expr.exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT) {
      return fieldKey(schema.require(expr.ident().name()));
    }
    CelProgram program = new CelProgram(text, ast);
    return (e, out) -> {
      Object r = program.eval(e);
      if (r == null) {
        return false;
      }
      out.set(String.valueOf(r));
      return true;
    };
  }

  /** Whether {@code text} compiles to direct code (no CEL runtime per event). */
  public boolean isDirect(String text) {
    CelAbstractSyntaxTree ast = check(text);
    if (ast.getResultType().equals(SimpleType.BOOL)) {
      return directPredicate(ast.getExpr()) != null;
    }
    return ast.getExpr().exprKind().getKind() == CelExpr.ExprKind.Kind.IDENT;
  }

  /** Parses and type-checks; throws {@link ExpressionException} with CEL's message. */
  public CelAbstractSyntaxTree check(String text) {
    if (text == null || text.isBlank()) {
      throw new ExpressionException("empty expression");
    }
    CelValidationResult r = compiler.compile(text);
    if (r.hasError()) {
      throw new ExpressionException("invalid expression '" + text + "': " + r.getErrorString().strip());
    }
    try {
      return r.getAst();
    } catch (CelValidationException e) {
      throw new ExpressionException("invalid expression '" + text + "': " + e.getMessage());
    }
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
          out.set(Double.toString(e.getDouble(i)));
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

  private EventPredicate directPredicate(CelExpr expr) {
    switch (expr.exprKind().getKind()) {
      case IDENT: {
        EventSchema.Field f = schema.find(expr.ident().name());
        if (f == null || f.type() != FieldType.BOOLEAN) {
          return null;
        }
        int i = f.index();
        return e -> !e.isNull(i) && e.getBoolean(i);
      }
      case CONSTANT:
        if (expr.constant().getKind() == CelConstant.Kind.BOOLEAN_VALUE) {
          boolean v = expr.constant().booleanValue();
          return e -> v;
        }
        return null;
      case CALL:
        return directCall(expr.call());
      default:
        return null;
    }
  }

  private EventPredicate directCall(CelExpr.CelCall call) {
    List<CelExpr> args = call.args();
    switch (call.function()) {
      case "_&&_": {
        EventPredicate a = directPredicate(args.get(0));
        EventPredicate b = directPredicate(args.get(1));
        return a == null || b == null ? null : e -> a.test(e) && b.test(e);
      }
      case "_||_": {
        EventPredicate a = directPredicate(args.get(0));
        EventPredicate b = directPredicate(args.get(1));
        return a == null || b == null ? null : e -> a.test(e) || b.test(e);
      }
      case "!_": {
        EventPredicate a = directPredicate(args.get(0));
        return a == null ? null : e -> !a.test(e);
      }
      case "@in":
        return directIn(args.get(0), args.get(1));
      case "_==_":
      case "_!=_":
      case "_<_":
      case "_<=_":
      case "_>_":
      case "_>=_":
        return directComparison(call.function(), args.get(0), args.get(1));
      default:
        return null;
    }
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

  private EventPredicate directComparison(String op, CelExpr left, CelExpr right) {
    EventSchema.Field f = identField(left);
    Object c = constantValue(right);
    if (f == null || c == null) {
      f = identField(right);
      c = constantValue(left);
      op = flip(op);
    }
    if (f == null || c == null) {
      return null;
    }
    int i = f.index();
    switch (f.type()) {
      case STRING: {
        if (!(c instanceof String)) {
          return null;
        }
        byte[] lit = ((String) c).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String cmp = op;
        return e -> !e.isNull(i) && holds(cmp, compareBytes(e, i, lit));
      }
      case BOOLEAN: {
        if (!(c instanceof Boolean) || !(op.equals("_==_") || op.equals("_!=_"))) {
          return null;
        }
        boolean v = (Boolean) c;
        boolean eq = op.equals("_==_");
        return e -> !e.isNull(i) && ((e.getBoolean(i) == v) == eq);
      }
      case DOUBLE: {
        if (!(c instanceof Number)) {
          return null;
        }
        double v = ((Number) c).doubleValue();
        String cmp = op;
        return e -> !e.isNull(i) && holds(cmp, Double.compare(e.getDouble(i), v));
      }
      default: {
        if (c instanceof Long) {
          long v = (Long) c;
          String cmp = op;
          return e -> !e.isNull(i) && holds(cmp, Long.compare(e.getLong(i), v));
        }
        if (c instanceof Double) {
          double v = (Double) c;
          String cmp = op;
          return e -> !e.isNull(i) && holds(cmp, Double.compare((double) e.getLong(i), v));
        }
        return null;
      }
    }
  }

  private EventPredicate directIn(CelExpr element, CelExpr list) {
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
        lits.add(((String) v).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      byte[][] arr = lits.toArray(new byte[0][]);
      return e -> {
        if (e.isNull(i)) {
          return false;
        }
        for (byte[] lit : arr) {
          if (compareBytes(e, i, lit) == 0) {
            return true;
          }
        }
        return false;
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
          return false;
        }
        long v = e.getLong(i);
        for (long x : arr) {
          if (x == v) {
            return true;
          }
        }
        return false;
      };
    }
    return null;
  }

  private static boolean holds(String op, int cmp) {
    switch (op) {
      case "_==_":
        return cmp == 0;
      case "_!=_":
        return cmp != 0;
      case "_<_":
        return cmp < 0;
      case "_<=_":
        return cmp <= 0;
      case "_>_":
        return cmp > 0;
      default:
        return cmp >= 0;
    }
  }

  /** Compares a STRING field's UTF-8 bytes with {@code lit} (unsigned, as CEL compares by code point). */
  private static int compareBytes(EventReader e, int field, byte[] lit) {
    int off = e.stringOffset(field);
    int len = e.stringLength(field);
    java.nio.ByteBuffer b = e.buffer();
    int n = Math.min(len, lit.length);
    for (int k = 0; k < n; k++) {
      int d = (b.get(off + k) & 0xff) - (lit[k] & 0xff);
      if (d != 0) {
        return d;
      }
    }
    return len - lit.length;
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
      Set<String> names = new LinkedHashSet<>();
      collectIdents(ast.getExpr(), names);
      List<Integer> idx = new ArrayList<>();
      for (String n : names) {
        EventSchema.Field f = schema.find(n);
        if (f != null) {
          idx.add(f.index());
        }
      }
      this.fields = idx.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Evaluates over the referenced fields; null when one of them is null. Thread-safe. */
    Object eval(EventReader e) {
      Map<String, Object> activation = new HashMap<>(fields.length * 2);
      for (int i : fields) {
        Object v = e.get(i);
        if (v == null) {
          return null;
        }
        activation.put(schema.field(i).name(), v);
      }
      try {
        return program.eval(activation);
      } catch (CelEvaluationException ex) {
        throw new EvaluationException("expression '" + text + "' failed: " + ex.getMessage(), ex);
      }
    }
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
}
