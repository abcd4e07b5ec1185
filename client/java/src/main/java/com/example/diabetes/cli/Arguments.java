package com.example.diabetes.cli;

import com.example.diabetes.client.PredictionClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The command line, as the Python CLI reads it: options before or after the command, in
 * --name VALUE or --name=VALUE form, with the same environment variables as defaults.
 */
final class Arguments {
  static final String DEFAULT_TARGET = "127.0.0.1:50051";
  private static final Set<String> COMMANDS = Set.of("predict", "batch", "health", "info");
  private static final Set<String> TRUE_WORDS = Set.of("1", "true", "yes", "on");

  /** A mistake in the command line or the input file (exit 2). */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  /** --help was asked for. */
  static final class HelpException extends Exception {
    private static final long serialVersionUID = 1L;
  }

  String command;
  String target = env("DIABETES_TARGET", DEFAULT_TARGET);
  String token = env("DIABETES_TOKEN", null);
  boolean tls = TRUE_WORDS.contains(env("DIABETES_TLS", ""));
  String tlsCa = env("DIABETES_TLS_CA", null);
  String tlsServerName = env("DIABETES_TLS_SERVER_NAME", null);
  String model = env("DIABETES_MODEL_NAME", "");
  String version = env("DIABETES_MODEL_VERSION", "");
  Duration timeout = Duration.ofSeconds(30);
  final Map<String, Double> record = new LinkedHashMap<>();
  String input;
  String inputFormat;
  String output;
  String format;
  boolean intervals;
  int maxRecordsPerCall = PredictionClient.DEFAULT_MAX_RECORDS_PER_CALL;
  String service = PredictionClient.SERVICE;

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  static String quote(String s) {
    return s.length() > 64 ? s.substring(0, 64) + "..." : s;
  }

  static Arguments parse(String[] argv) throws UsageException, HelpException {
    var args = new Arguments();
    List<String> positionals = new ArrayList<>();
    for (int i = 0; i < argv.length; i++) {
      String arg = argv[i];
      if (arg.equals("-h") || arg.equals("--help")) {
        throw new HelpException();
      }
      if (!arg.startsWith("-") || arg.equals("-") || isNumber(arg)) {
        positionals.add(arg);
        continue;
      }
      String name = arg;
      String value = null;
      int equals = arg.indexOf('=');
      if (equals > 0) {
        name = arg.substring(0, equals);
        value = arg.substring(equals + 1);
      }
      name = name.equals("-o") ? "output" : name.replaceFirst("^--", "");
      String command = positionals.isEmpty() ? "" : positionals.get(0);
      if (args.switchFlag(name, command)) {
        if (value != null) {
          throw new UsageException(
              "argument --" + name + ": ignored explicit argument '" + quote(value) + "'");
        }
        continue;
      }
      if (value == null) {
        if (i + 1 >= argv.length) {
          throw new UsageException("argument --" + name + ": expected one argument");
        }
        value = argv[++i];
      }
      args.valueFlag(name, value, command);
    }
    if (positionals.isEmpty()) {
      throw new UsageException("the following arguments are required: COMMAND");
    }
    args.command = positionals.remove(0);
    if (!COMMANDS.contains(args.command)) {
      throw new UsageException(
          "argument COMMAND: invalid choice: '" + quote(args.command)
              + "' (choose from 'predict', 'batch', 'health', 'info')");
    }
    if (args.command.equals("batch")) {
      if (positionals.isEmpty()) {
        throw new UsageException("the following arguments are required: input");
      }
      args.input = positionals.remove(0);
    }
    if (!positionals.isEmpty()) {
      throw new UsageException(
          "unrecognized arguments: " + quote(String.join(" ", positionals)));
    }
    return args;
  }

  private static boolean isNumber(String arg) {
    return parseFloat(arg) != null;
  }

  private boolean switchFlag(String name, String command) {
    switch (name) {
      case "tls" -> tls = true;
      case "no-tls" -> tls = false;
      case "intervals" -> {
        if (!command.equals("batch")) {
          return false;
        }
        intervals = true;
      }
      case "progress", "no-progress" -> {
        // Accepted for the Python CLI's sake; this CLI draws no progress bar.
        return command.equals("batch");
      }
      default -> {
        return false;
      }
    }
    return true;
  }

  private void valueFlag(String name, String value, String command) throws UsageException {
    switch (name) {
      case "target" -> target = value;
      case "token" -> token = value;
      case "tls-ca" -> tlsCa = value;
      case "tls-server-name" -> tlsServerName = value;
      case "model" -> model = value;
      case "version" -> version = value;
      case "timeout" -> {
        double seconds = number(name, value);
        if (!(seconds > 0)) {
          throw new UsageException("argument --timeout: invalid float value: '" + quote(value) + "'");
        }
        timeout = Duration.ofNanos((long) (seconds * 1e9));
      }
      default -> commandFlag(name, value, command);
    }
  }

  private void commandFlag(String name, String value, String command) throws UsageException {
    if (command.equals("predict") && PredictionClient.FEATURES.contains(name)) {
      record.put(name, number(name, value));
    } else if (command.equals("batch") && name.equals("input-format")) {
      inputFormat = choice(name, value, List.of("csv", "jsonl"));
    } else if (command.equals("batch") && name.equals("output")) {
      output = value;
    } else if (command.equals("batch") && name.equals("format")) {
      format = choice(name, value, List.of("csv", "jsonl", "json"));
    } else if (command.equals("batch") && name.equals("max-records-per-call")) {
      try {
        maxRecordsPerCall = Integer.parseInt(value);
      } catch (NumberFormatException notInt) {
        throw new UsageException(
            "argument --max-records-per-call: invalid int value: '" + quote(value) + "'");
      }
      if (maxRecordsPerCall < 1) {
        throw new UsageException(
            "max_records_per_call must be at least 1, got " + maxRecordsPerCall);
      }
    } else if (command.equals("health") && name.equals("service")) {
      service = value;
    } else {
      throw new UsageException("unrecognized arguments: --" + quote(name));
    }
  }

  private static double number(String name, String value) throws UsageException {
    Double number = parseFloat(value);
    if (number == null) {
      throw new UsageException(
          "argument --" + name + ": invalid float value: '" + quote(value) + "'");
    }
    return number;
  }

  private static final java.util.regex.Pattern DECIMAL =
      java.util.regex.Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
  private static final java.util.regex.Pattern SPECIAL =
      java.util.regex.Pattern.compile("(?i)([+-]?)(nan|inf|infinity)");

  /** A number as Python's float() reads one (nan and inf too); null if it is not one. */
  static Double parseFloat(String text) {
    String s = text.strip();
    if (DECIMAL.matcher(s).matches()) {
      return Double.parseDouble(s);
    }
    var special = SPECIAL.matcher(s);
    if (!special.matches()) {
      return null;
    }
    if (special.group(2).equalsIgnoreCase("nan")) {
      return Double.NaN;
    }
    return special.group(1).equals("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
  }

  private static String choice(String name, String value, List<String> choices)
      throws UsageException {
    if (!choices.contains(value)) {
      throw new UsageException(
          "argument --" + name + ": invalid choice: '" + quote(value) + "' (choose from '"
              + String.join("', '", choices) + "')");
    }
    return value;
  }
}
