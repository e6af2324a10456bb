package dev.braid.expr;

/** An expression that does not compile or type-check, with CEL's explanation. */
public final class ExpressionException extends IllegalArgumentException {
  public ExpressionException(String message) {
    super(message);
  }
}
