package com.example.diabetes.cli;

import com.example.diabetes.client.PredictionClient;
import com.example.diabetes.client.PredictionException;
import com.example.diabetes.client.Results.BatchPrediction;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * `batch FILE`: CSV (a header row of feature names) or JSON-lines records in, sent as feature
 * columns a call's worth at a time; predictions out as CSV, JSON lines or one JSON array, as
 * the Python CLI writes them.
 */
final class Batch {
  private Batch() {}

  /** One call's worth of records as columns. */
  private record Chunk(Map<String, double[]> columns, int count) {}

  static void run(PredictionClient client, Arguments args, PrintStream stdout)
      throws Arguments.UsageException, IOException {
    try (BufferedReader source = open(args.input)) {
      source.mark(4096);
      int first = source.read();
      if (first != '\uFEFF' && first != -1) {
        source.reset();
      }
      source.mark(4096);
      char[] head = new char[4096];
      int n = Math.max(source.read(head), 0);
      source.reset();
      String inputFormat =
          args.inputFormat != null ? args.inputFormat : inputFormatFor(args.input, new String(head, 0, n));
      String outputFormat = args.format != null ? args.format : outputFormatFor(args.output);
      Reader reader =
          inputFormat.equals("jsonl") ? new JsonLines(source) : new Csv(source);
      Path target = args.output == null || args.output.equals("-") ? null : Path.of(args.output);
      Path tmp =
          target == null
              ? null
              : Files.createTempFile(
                  target.toAbsolutePath().getParent(), "." + target.getFileName() + ".", "",
                  // What a new file gets under the usual umask (022); Java cannot read it.
                  PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
      Writer sink =
          tmp == null
              ? new BufferedWriter(new java.io.OutputStreamWriter(stdout, StandardCharsets.UTF_8))
              : Files.newBufferedWriter(tmp, StandardCharsets.UTF_8);
      boolean done = false;
      try {
        var writer = new ResultWriter(sink, outputFormat, args.intervals);
        int records = 0;
        Map<String, Integer> versions = new LinkedHashMap<>();
        String name = "";
        String version = "";
        Chunk chunk;
        while ((chunk = next(reader, args.input, client.maxRecordsPerCall())) != null) {
          BatchPrediction result;
          try {
            result = client.predictColumns(chunk.columns(), args.intervals);
          } catch (PredictionException failed) {
            throw PredictionException.of(failed.code(), failed.serverMessage(), records);
          }
          versions.putIfAbsent(result.modelVersion(), records);
          name = result.modelName();
          version = result.modelVersion();
          writer.write(result);
          records += chunk.count();
        }
        if (records == 0) {
          throw new Arguments.UsageException(display(args.input) + ": no records");
        }
        if (versions.size() > 1) {
          List<String> changes = new ArrayList<>();
          versions.forEach((v, i) -> changes.add("'" + v + "' from record " + i));
          throw PredictionException.of(
              Status.Code.ABORTED,
              "the served model changed during the run (" + String.join(", ", changes)
                  + "); run the batch again",
              0);
        }
        writer.close();
        sink.flush();
        if (tmp != null) {
          sink.close();
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        done = true;
        System.err.println(
            "predicted " + records + " records with " + name + " version " + version);
      } finally {
        if (tmp == null) {
          sink.flush();
        } else if (!done) {
          sink.close();
          Files.deleteIfExists(tmp);
        }
      }
    }
  }

  private static Chunk next(Reader reader, String input, int records)
      throws Arguments.UsageException, IOException {
    try {
      return reader.next(records);
    } catch (InputError wrong) {
      throw new Arguments.UsageException(display(input) + ": " + wrong.getMessage());
    }
  }

  private static BufferedReader open(String name) throws IOException {
    if (name.equals("-")) {
      return new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
    }
    try {
      return Files.newBufferedReader(Path.of(name), StandardCharsets.UTF_8);
    } catch (NoSuchFileException missing) {
      throw new IOException("[Errno 2] No such file or directory: '" + Arguments.quote(name) + "'");
    }
  }

  private static String display(String name) {
    return name.equals("-") ? "stdin" : name;
  }

  static String inputFormatFor(String name, String first) {
    String lower = name.toLowerCase();
    if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson") || lower.endsWith(".json")) {
      return "jsonl";
    }
    if (lower.endsWith(".csv")) {
      return "csv";
    }
    return first.stripLeading().startsWith("{") ? "jsonl" : "csv";
  }

  static String outputFormatFor(String name) {
    String lower = name == null ? "" : name.toLowerCase();
    if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) {
      return "jsonl";
    }
    return lower.endsWith(".json") ? "json" : "csv";
  }

  /** The input file is not a batch of records; the message names the line. */
  private static final class InputError extends Exception {
    private static final long serialVersionUID = 1L;

    InputError(String message) {
      super(message);
    }
  }

  private interface Reader {
    /** The next chunk of at most `records` records, or null at the end. */
    Chunk next(int records) throws InputError, IOException;
  }

  private static void checkNames(List<String> names, String where) throws InputError {
    if (names.isEmpty()) {
      throw new InputError(where + ": no features");
    }
    List<String> unknown = new ArrayList<>();
    for (String name : names) {
      if (!PredictionClient.FEATURES.contains(name)) {
        unknown.add("'" + Arguments.quote(name) + "'");
      }
    }
    if (!unknown.isEmpty()) {
      throw new InputError(
          where + ": unknown feature(s) " + String.join(", ", unknown) + "; the features are "
              + String.join(", ", PredictionClient.FEATURES));
    }
    if (new HashSet<>(names).size() != names.size()) {
      throw new InputError(where + ": a feature is named twice");
    }
  }

  private static Chunk chunk(List<String> names, double[][] columns, int count) {
    Map<String, double[]> arrays = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      arrays.put(names.get(i), Arrays.copyOf(columns[i], count));
    }
    return new Chunk(arrays, count);
  }

  private static final class Csv implements Reader {
    private final BufferedReader source;
    private List<String> names;
    private int line;

    Csv(BufferedReader source) {
      this.source = source;
    }

    @Override
    public Chunk next(int records) throws InputError, IOException {
      if (names == null) {
        String header = source.readLine();
        line = 1;
        if (header == null || header.isBlank()) {
          throw new InputError("line 1: expected a header row of feature names, e.g. bmi,bp");
        }
        names = new ArrayList<>();
        for (String name : fields(header)) {
          names.add(name.strip());
        }
        checkNames(names, "line 1 (the header)");
      }
      double[][] columns = new double[names.size()][Math.min(records, 1 << 16)];
      int count = 0;
      String text;
      while (count < records && (text = source.readLine()) != null) {
        line++;
        if (text.isBlank()) {
          continue;
        }
        List<String> values = fields(text);
        String where = "line " + line;
        if (values.size() != names.size()) {
          throw new InputError(where + ": " + values.size() + " values for " + names.size() + " columns");
        }
        if (count == columns[0].length) {
          for (int i = 0; i < columns.length; i++) {
            columns[i] = Arrays.copyOf(columns[i], Math.min(records, count * 2));
          }
        }
        for (int i = 0; i < values.size(); i++) {
          Double value = Arguments.parseFloat(values.get(i));
          if (value == null) {
            throw new InputError(
                where + ", column " + names.get(i) + ": '" + Arguments.quote(values.get(i))
                    + "' is not a number");
          }
          if (value.isNaN() || value.isInfinite()) {
            throw new InputError(
                where + ", column " + names.get(i) + ": " + PyJson.pyFloat(value)
                    + " is not a finite number");
          }
          columns[i][count] = value;
        }
        count++;
      }
      return count == 0 ? null : chunk(names, columns, count);
    }

    /** One CSV line's fields ("" quotes a quote inside a quoted field). */
    private static List<String> fields(String text) {
      List<String> fields = new ArrayList<>();
      if (text.indexOf('"') < 0) {
        fields.addAll(Arrays.asList(text.split(",", -1)));
        return fields;
      }
      var field = new StringBuilder();
      boolean quoted = false;
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (quoted && c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (c == '"') {
          quoted = !quoted;
        } else if (c == ',' && !quoted) {
          fields.add(field.toString());
          field.setLength(0);
        } else {
          field.append(c);
        }
      }
      fields.add(field.toString());
      return fields;
    }
  }

  private static final class JsonLines implements Reader {
    // One record is a few hundred bytes; a line longer than this is not one.
    private static final int MAX_LINE = 1 << 20;
    private final BufferedReader source;
    private List<String> names;
    private int line;

    JsonLines(BufferedReader source) {
      this.source = source;
    }

    @Override
    public Chunk next(int records) throws InputError, IOException {
      double[][] columns = null;
      int count = 0;
      String text;
      while (count < records && (text = source.readLine()) != null) {
        line++;
        if (text.isBlank()) {
          continue;
        }
        String where = "line " + line;
        if (text.length() > MAX_LINE) {
          throw new InputError(where + ": longer than " + MAX_LINE + " characters");
        }
        JsonElement parsed;
        try {
          parsed = JsonParser.parseString(text);
        } catch (RuntimeException notJson) {
          throw new InputError(where + ": not valid JSON");
        }
        if (!parsed.isJsonObject()) {
          throw new InputError(
              where + ": expected a JSON object of feature values, e.g. {\"bmi\": 0.06}");
        }
        JsonObject record = parsed.getAsJsonObject();
        if (names == null) {
          names = new ArrayList<>(record.keySet());
          checkNames(names, where);
        }
        if (!record.keySet().equals(new HashSet<>(names))) {
          throw new InputError(
              where + ": has features " + pyList(record.keySet()) + " but line 1 has "
                  + pyList(names) + "; every record needs the same features");
        }
        if (columns == null) {
          columns = new double[names.size()][Math.min(records, 1 << 16)];
        }
        if (count == columns[0].length) {
          for (int i = 0; i < columns.length; i++) {
            columns[i] = Arrays.copyOf(columns[i], Math.min(records, count * 2));
          }
        }
        for (int i = 0; i < names.size(); i++) {
          JsonElement value = record.get(names.get(i));
          boolean number = value.isJsonPrimitive() && value.getAsJsonPrimitive().isNumber();
          double v = number ? value.getAsDouble() : Double.NaN;
          if (!number || Double.isNaN(v) || Double.isInfinite(v)) {
            throw new InputError(
                where + ", " + names.get(i) + ": " + Arguments.quote(value.toString())
                    + " is not a finite number");
          }
          columns[i][count] = v;
        }
        count++;
      }
      return count == 0 ? null : chunk(names, columns, count);
    }

    private static String pyList(java.util.Collection<String> names) {
      List<String> quoted = new ArrayList<>();
      for (String name : new TreeSet<>(names)) {
        quoted.add("'" + Arguments.quote(name) + "'");
      }
      return "[" + String.join(", ", quoted) + "]";
    }
  }

  /** Writes predictions, chunk after chunk, as the Python CLI's ResultWriter. */
  private static final class ResultWriter {
    private final Writer sink;
    private final String format;
    private final boolean intervals;
    private int written;

    ResultWriter(Writer sink, String format, boolean intervals) {
      this.sink = sink;
      this.format = format;
      this.intervals = intervals;
    }

    void write(BatchPrediction result) throws IOException {
      var outOfRange = new HashSet<Integer>();
      for (int i : result.outOfRangeIndices()) {
        outOfRange.add(i);
      }
      double[] predictions = result.predictions();
      if (format.equals("csv") && written == 0) {
        sink.write(intervals ? "prediction,lower,upper,out_of_range\n" : "prediction,out_of_range\n");
      } else if (format.equals("json")) {
        sink.write(written == 0 ? "[\n" : ",\n");
      }
      for (int i = 0; i < predictions.length; i++) {
        String flag = outOfRange.contains(i) ? "true" : "false";
        String row;
        if (format.equals("csv")) {
          row = PyJson.pyFloat(predictions[i])
              + (intervals
                  ? "," + PyJson.pyFloat(result.lower()[i]) + "," + PyJson.pyFloat(result.upper()[i])
                  : "")
              + "," + flag;
        } else {
          row = "{\"prediction\": " + PyJson.pyFloat(predictions[i])
              + (intervals
                  ? ", \"lower\": " + PyJson.pyFloat(result.lower()[i]) + ", \"upper\": "
                      + PyJson.pyFloat(result.upper()[i])
                  : "")
              + ", \"out_of_range\": " + flag + "}";
        }
        sink.write(row);
        boolean last = i == predictions.length - 1;
        sink.write(format.equals("json") ? (last ? "" : ",\n") : "\n");
      }
      written += predictions.length;
    }

    void close() throws IOException {
      if (format.equals("json")) {
        sink.write(written > 0 ? "\n]\n" : "[]\n");
      }
    }
  }
}
