package com.example.diabetes.cli;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/**
 * JSON as the Python CLI prints it (json.dumps(value, indent=2)): keys in the order given,
 * floats as Python's repr (210.0, 1e-05: the shortest digits that read back the same),
 * non-ASCII escaped. Gson writes 210.0 but 1.0E-5 and, on Java 17, not always the shortest
 * digits, hence this small writer. Objects are Maps (in their iteration order), arrays Lists.
 */
final class PyJson {
  private PyJson() {}

  static String dumps(Object value) {
    var out = new StringBuilder();
    write(out, value, "");
    return out.toString();
  }

  /** Python's repr of a float. */
  static String pyFloat(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "Infinity" : "-Infinity";
    }
    if (v == 0) {
      return 1 / v < 0 ? "-0.0" : "0.0";
    }
    BigDecimal exact = new BigDecimal(Math.abs(v));
    BigDecimal shortest = exact;
    for (int digits = 1; digits <= 17; digits++) {
      BigDecimal rounded = exact.round(new MathContext(digits, RoundingMode.HALF_EVEN));
      if (Double.parseDouble(rounded.toString()) == Math.abs(v)) {
        shortest = rounded;
        break;
      }
    }
    shortest = shortest.stripTrailingZeros();
    String digits = shortest.unscaledValue().toString();
    int point = digits.length() - shortest.scale(); // value = 0.digits × 10^point
    String sign = v < 0 ? "-" : "";
    if (point <= -4 || point > 16) {
      int exponent = point - 1;
      String mantissa = digits.length() > 1 ? digits.charAt(0) + "." + digits.substring(1) : digits;
      return String.format(
          "%s%se%s%02d", sign, mantissa, exponent < 0 ? "-" : "+", Math.abs(exponent));
    }
    if (point <= 0) {
      return sign + "0." + "0".repeat(-point) + digits;
    }
    if (point >= digits.length()) {
      return sign + digits + "0".repeat(point - digits.length()) + ".0";
    }
    return sign + digits.substring(0, point) + "." + digits.substring(point);
  }

  /** A JSON string as json.dumps writes it (ensure_ascii). */
  static String pyString(String s) {
    var out = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c >= 0x20 && c < 0x7f) {
            out.append(c);
          } else {
            out.append(String.format("\\u%04x", (int) c));
          }
        }
      }
    }
    return out.append('"').toString();
  }

  private static void write(StringBuilder out, Object value, String indent) {
    String inner = indent + "  ";
    if (value == null) {
      out.append("null");
    } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
      out.append(value);
    } else if (value instanceof Double d) {
      out.append(pyFloat(d));
    } else if (value instanceof String s) {
      out.append(pyString(s));
    } else if (value instanceof List<?> list) {
      if (list.isEmpty()) {
        out.append("[]");
        return;
      }
      out.append("[\n");
      for (int i = 0; i < list.size(); i++) {
        out.append(i > 0 ? ",\n" : "").append(inner);
        write(out, list.get(i), inner);
      }
      out.append("\n").append(indent).append("]");
    } else if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append("{\n");
      boolean first = true;
      for (var entry : map.entrySet()) {
        out.append(first ? "" : ",\n").append(inner).append(pyString((String) entry.getKey()));
        out.append(": ");
        write(out, entry.getValue(), inner);
        first = false;
      }
      out.append("\n").append(indent).append("}");
    } else {
      throw new IllegalArgumentException("PyJson: unsupported " + value.getClass());
    }
  }
}
