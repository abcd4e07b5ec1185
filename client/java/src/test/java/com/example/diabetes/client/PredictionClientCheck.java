package com.example.diabetes.client;

import com.google.gson.Gson;
import com.google.gson.reflect.TypeToken;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Against a running server (DIABETES_TARGET): one record, the records of DIABETES_RECORDS (a
 * JSON array) as records and as columns, an unknown model and a bad value. Exits 1 on a
 * failed check; DIABETES_RESULTS names a file for what came back, which
 * tests/integration/test_go_java_clients.py compares with the Python client's answers.
 *
 * <pre>
 * DIABETES_TARGET=127.0.0.1:50051 java -cp "$(cat client/java/build/classpath)" \
 *     client/java/src/test/java/com/example/diabetes/client/PredictionClientCheck.java
 * </pre>
 */
public final class PredictionClientCheck {
  private static int failures;

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.err.println("FAIL: " + what);
      failures++;
    }
  }

  private static PredictionClient connect(String model) throws Exception {
    String ca = System.getenv("DIABETES_TLS_CA");
    return PredictionClient.builder(System.getenv("DIABETES_TARGET"))
        .token(System.getenv("DIABETES_TOKEN"))
        .tls(false, ca == null ? null : new File(ca), null)
        .model(model, "")
        .build();
  }

  public static void main(String[] args) throws Exception {
    List<Map<String, Double>> records = List.of(Map.of("bmi", 0.0617), Map.of("bmi", -0.0515));
    String recordsPath = System.getenv("DIABETES_RECORDS");
    if (recordsPath != null) {
      records =
          new Gson()
              .fromJson(
                  Files.readString(Path.of(recordsPath)),
                  new TypeToken<List<Map<String, Double>>>() {}.getType());
    }
    Map<String, Object> results = new LinkedHashMap<>();
    try (var client = connect("")) {
      var prediction = client.predict(records.get(0));
      check(
          prediction.lower() < prediction.prediction()
              && prediction.prediction() < prediction.upper(),
          "the interval holds the prediction");
      results.put("predict", prediction.prediction());
      results.put("model_version", prediction.modelVersion());

      var byRecords = client.predictBatch(records, false);
      Map<String, double[]> columns = new LinkedHashMap<>();
      for (String name : records.get(0).keySet()) {
        columns.put(name, records.stream().mapToDouble(r -> r.get(name)).toArray());
      }
      var byColumns = client.predictColumns(columns, true);
      check(
          Arrays.equals(byRecords.predictions(), byColumns.predictions()),
          "records and columns get the same predictions");
      check(
          byColumns.lower().length == records.size() && byColumns.upper().length == records.size(),
          "an interval for every record");
      results.put("records", toList(byRecords.predictions()));
      results.put("columns", toList(byColumns.predictions()));
      results.put("batch_model_version", byColumns.modelVersion());

      try (var other = connect("no-such-model")) {
        other.predict(records.get(0));
        check(false, "an unknown model fails");
      } catch (PredictionException.ModelNotFound expected) {
        results.put("not_found", expected.getMessage());
      }
      try {
        client.predict(Map.of("bmi", Double.NaN));
        check(false, "a NaN fails");
      } catch (PredictionException.InvalidInput expected) {
        results.put("invalid", expected.getMessage());
      }
      results.put("info_version", client.info().version());
      results.put("health", client.health(PredictionClient.SERVICE));
    }
    String resultsPath = System.getenv("DIABETES_RESULTS");
    if (resultsPath != null) {
      Files.writeString(Path.of(resultsPath), new Gson().toJson(results));
    }
    System.out.println(failures == 0 ? "ok" : failures + " checks failed");
    System.exit(failures == 0 ? 0 : 1);
  }

  private static List<Double> toList(double[] values) {
    List<Double> list = new ArrayList<>(values.length);
    for (double v : values) {
      list.add(v);
    }
    return list;
  }
}
