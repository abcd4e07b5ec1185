package com.example.diabetes.cli;

import com.example.diabetes.client.PredictionClient;
import com.example.diabetes.client.PredictionException;
import com.example.diabetes.client.Results.ModelInfo;
import com.example.diabetes.client.Results.Prediction;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * diabetes-client: the Python CLI's commands, flags, environment variables, JSON output and
 * exit codes (1: the call failed; 2: the command line or the input file is wrong).
 *
 * <pre>
 * diabetes-client predict --bmi 0.05 --bp 0.02
 * diabetes-client batch records.csv --output predictions.csv
 * diabetes-client health
 * diabetes-client info
 * DIABETES_TOKEN=... diabetes-client --target api.example.com:443 --tls predict --bmi 0.05
 * </pre>
 */
public final class Main {
  static final int EXIT_FAILED = 1;
  static final int EXIT_USAGE = 2;

  private static final String USAGE =
      """
      usage: diabetes-client [options] COMMAND [options]

      Call the diabetes progression prediction service over gRPC.

      commands:
        predict --FEATURE VALUE ...   predict one record given as flags; prints JSON
                                      (features: age, sex, bmi, bp, s1, s2, s3, s4, s5, s6)
        batch FILE                    predict a CSV or JSON-lines file of records (- = stdin)
              [--input-format csv|jsonl] [--output/-o FILE] [--format csv|jsonl|json]
              [--intervals] [--max-records-per-call N]
        health [--service NAME]       print the server's health; exit 1 unless SERVING
        info                          describe the served model (JSON)

      options (before or after the command):
        --target HOST:PORT     server address [DIABETES_TARGET, default 127.0.0.1:50051]
        --timeout SECONDS      seconds per call (default 30)
        --token JWT            bearer token sent with every call [DIABETES_TOKEN; prefer the variable]
        --tls, --no-tls        connect over TLS (on when --tls-ca is given) [DIABETES_TLS=1]
        --tls-ca FILE          PEM file of the CAs to trust; implies --tls [DIABETES_TLS_CA]
        --tls-server-name NAME name the server's certificate must carry [DIABETES_TLS_SERVER_NAME]
        --model NAME           the model to ask (default: the server's default) [DIABETES_MODEL_NAME]
        --version VERSION      a version or label: stable, canary [DIABETES_MODEL_VERSION]
      """;

  private Main() {}

  public static void main(String[] argv) {
    System.exit(run(argv));
  }

  static int run(String[] argv) {
    var out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    Arguments args;
    try {
      args = Arguments.parse(argv);
    } catch (Arguments.HelpException help) {
      System.out.print(USAGE);
      return 0;
    } catch (Arguments.UsageException wrong) {
      System.err.print(USAGE);
      error(wrong.getMessage());
      return EXIT_USAGE;
    }
    try (PredictionClient client = connect(args)) {
      int code = command(client, args, out);
      out.flush();
      return code;
    } catch (PredictionException failed) {
      out.flush();
      error(failed.getMessage() + " [server " + args.target + "]");
      return EXIT_FAILED;
    } catch (Arguments.UsageException | IllegalArgumentException | IOException wrong) {
      out.flush();
      error(wrong.getMessage());
      return EXIT_USAGE;
    }
  }

  static void error(String message) {
    System.err.println("diabetes-client: error: " + message);
  }

  private static PredictionClient connect(Arguments args) throws IOException {
    return PredictionClient.builder(args.target)
        .token(args.token)
        .tls(args.tls, args.tlsCa == null ? null : new File(args.tlsCa), args.tlsServerName)
        .model(args.model, args.version)
        .timeout(args.timeout)
        .maxRecordsPerCall(args.maxRecordsPerCall)
        .build();
  }

  private static int command(PredictionClient client, Arguments args, PrintStream out)
      throws Arguments.UsageException, IOException {
    switch (args.command) {
      case "predict" -> {
        if (args.record.isEmpty()) {
          throw new Arguments.UsageException(
              "give at least one feature, e.g. --bmi 0.05 ("
                  + String.join(", ", PredictionClient.FEATURES) + ")");
        }
        out.println(PyJson.dumps(predictionJson(client.predict(args.record))));
      }
      case "info" -> out.println(PyJson.dumps(modelInfoJson(client.info())));
      case "health" -> {
        String status = client.health(args.service);
        out.println(status);
        return status.equals("SERVING") ? 0 : EXIT_FAILED;
      }
      case "batch" -> Batch.run(client, args, out);
      default -> throw new IllegalStateException(args.command);
    }
    return 0;
  }

  static Map<String, Object> predictionJson(Prediction p) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("prediction", p.prediction());
    json.put("lower", p.lower());
    json.put("upper", p.upper());
    json.put("confidence", p.confidence());
    json.put("baseline", p.baseline());
    json.put("contributions", new TreeMap<>(p.contributions()));
    json.put("out_of_range_features", p.outOfRangeFeatures());
    json.put("model_version", p.modelVersion());
    json.put("model_name", p.modelName());
    return json;
  }

  static Map<String, Object> modelInfoJson(ModelInfo info) {
    List<Object> features = new ArrayList<>();
    for (var f : info.features()) {
      Map<String, Object> feature = new LinkedHashMap<>();
      feature.put("name", f.name());
      feature.put("coefficient", f.coefficient());
      feature.put("mean", f.mean());
      feature.put("std", f.std());
      feature.put("min", f.min());
      feature.put("max", f.max());
      features.add(feature);
    }
    List<Object> models = new ArrayList<>();
    for (var m : info.models()) {
      Map<String, Object> model = new LinkedHashMap<>();
      model.put("name", m.name());
      model.put("versions", m.versions());
      model.put("stable", m.stable());
      model.put("canary", m.canary());
      model.put("canary_percent", m.canaryPercent());
      model.put("is_default", m.isDefault());
      models.add(model);
    }
    Map<String, Object> limits = new LinkedHashMap<>();
    limits.put("max_batch_records", info.limits().maxBatchRecords());
    limits.put("batch_chunk_records", info.limits().batchChunkRecords());
    limits.put("max_receive_message_bytes", info.limits().maxReceiveMessageBytes());
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("name", info.name());
    json.put("version", info.version());
    json.put("features", features);
    json.put("intercept", info.intercept());
    json.put("baseline", info.baseline());
    json.put("metrics", new TreeMap<>(info.metrics()));
    json.put("interval_confidence", info.intervalConfidence());
    json.put("created_at", info.createdAt());
    json.put("checksum", info.checksum());
    json.put("limits", limits);
    json.put("n_train", info.nTrain());
    json.put("models", models);
    json.put("units", new TreeMap<>(info.units()));
    return json;
  }
}
